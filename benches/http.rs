//! Micro-benchmarks of the request path's pure parts: parsing a head, framing a chunked body,
//! encoding a response head, and serving a cached response. `cargo bench`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use forkhttpd::http::body::BodyDecoder;
use forkhttpd::http::encode::{Persistence, write_head};
use forkhttpd::http::parse::{Framing, HeadLimits, header_slots, parse};
use forkhttpd::http::{Body, Response, Status};

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 8192,
    max_headers: 100,
    max_body_bytes: 1 << 20,
};

/// What a browser sends for a page.
const BROWSER_HEAD: &[u8] = b"GET /assets/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/\r\nConnection: keep-alive\r\nSec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\nIf-None-Match: \"0123456789abcdef\"\r\n\r\n";

/// What wrk sends.
const MINIMAL_HEAD: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

fn parse_heads(c: &mut Criterion) {
    c.bench_function("parse browser head", |b| {
        b.iter(|| {
            let mut slots = header_slots();
            let parsed = parse(black_box(BROWSER_HEAD), &mut slots, &LIMITS)
                .unwrap()
                .unwrap();
            black_box(parsed.1)
        })
    });
    c.bench_function("parse minimal head", |b| {
        b.iter(|| {
            let mut slots = header_slots();
            let parsed = parse(black_box(MINIMAL_HEAD), &mut slots, &LIMITS)
                .unwrap()
                .unwrap();
            black_box(parsed.1)
        })
    });
}

fn frame_chunked(c: &mut Criterion) {
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 1024]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    c.bench_function("frame 64 KiB chunked body", |b| {
        b.iter(|| {
            let mut decoder = BodyDecoder::new(Framing::Chunked);
            black_box(decoder.consume(black_box(&body), 1 << 20).unwrap())
        })
    });
}

fn encode_heads(c: &mut Criterion) {
    let response = Response::new(Status::OK, Body::Static(&[0; 1024]))
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("ETag", "\"0123456789abcdef0123456789abcdef\"")
        .with_header("Last-Modified", "Thu, 26 Nov 2026 15:08:00 GMT")
        .with_header("Accept-Ranges", "bytes")
        .with_header("X-Content-Type-Options", "nosniff");
    let mut out = Vec::with_capacity(1024);
    c.bench_function("encode response head", |b| {
        b.iter(|| {
            out.clear();
            write_head(&mut out, black_box(&response), Persistence::KeepAlive);
            black_box(out.len())
        })
    });
}

fn serve_cached(c: &mut Criterion) {
    let config =
        forkhttpd::config::Config::from_cli(clap::Parser::parse_from(["forkhttpd"])).unwrap();
    let options = config.sites[0].options.clone();
    let caches = forkhttpd::fs::FileCaches::new(config.compress_cache_bytes, None);
    let site = forkhttpd::fs::Site::open(None, options, &caches).unwrap();
    let cache = forkhttpd::cache::ResponseCache::new(config.file_cache_bytes);
    let mut slots = header_slots();
    let (request, _) = parse(MINIMAL_HEAD, &mut slots, &LIMITS).unwrap().unwrap();
    c.bench_function("serve from the response cache", |b| {
        b.iter(|| black_box(cache.serve(0, &site, black_box(&request))))
    });
}

criterion_group!(
    benches,
    parse_heads,
    frame_chunked,
    encode_heads,
    serve_cached
);
criterion_main!(benches);
