//! The request-head parser on arbitrary bytes: never panics, never claims more bytes than it
//! was given, and gives the same answer for the head alone as for the head with more behind it.
#![no_main]

use forkhttpd::http::parse::{HeadLimits, header_slots, parse};
use libfuzzer_sys::fuzz_target;

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 8192,
    max_headers: 100,
    max_body_bytes: 1 << 20,
};

fuzz_target!(|data: &[u8]| {
    let mut slots = header_slots();
    let Ok(Some((request, head_len))) = parse(data, &mut slots, &LIMITS) else {
        return;
    };
    assert!(head_len <= data.len());
    let framing = request.framing;
    let keep_alive = request.keep_alive;
    let mut again = header_slots();
    let (alone, alone_len) = parse(&data[..head_len], &mut again, &LIMITS)
        .unwrap()
        .unwrap();
    assert_eq!(
        (alone.framing, alone.keep_alive, alone_len),
        (framing, keep_alive, head_len)
    );
});
