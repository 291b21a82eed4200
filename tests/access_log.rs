//! The access log (`--access-log FILE`, `--access-log-format combined|json`, a site's
//! `access_log` in a configuration file): one line per response, in nginx's combined format or
//! as JSON, whatever the response was (errors, timeouts, aborted downloads, pipelined requests),
//! none for a connection that sent nothing.
//!
//! Workers buffer lines and write them at least once a second and before they exit, so tests
//! either poll the file (`support::eventually`) or stop the server gracefully and then read it.
//! Elsewhere: escaping (`access_log_escaping.rs`), a configuration file's sites
//! (`access_log_sites.rs`), syslog (`access_log_syslog.rs`), SIGUSR1 and SIGTERM
//! (`signal_usr1_access_log.rs`, `signal_term_access_log.rs`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::{
    Client, JSON_KEYS, Response, Site, WAIT, basic_auth, combined, exchange, get_with, json,
    start_logging, stop_and_read, wait_lines,
};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The days that the Date fields of `responses` name, spelled by `spell(day, month, year)`.
/// The log and the Date field read the same clock, so a line stamped between two responses
/// names the day of one of them, even across midnight.
fn days(responses: [&Response; 2], spell: impl Fn(&str, &str, &str) -> String) -> Vec<String> {
    responses
        .iter()
        .map(|response| {
            // `Wed, 02 Dec 2026 01:40:45 GMT`
            let date = response.header("date").expect("a Date field");
            let words: Vec<&str> = date.split(' ').collect();
            spell(words[1], words[2], words[3])
        })
        .collect()
}

#[test]
fn combined_lines_are_nginx_s_for_200_304_404_and_head() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let server = start_logging(&site.root_arg(), &log, "combined", &[]);
    let ok = get_with(
        server.addr(),
        "/hello.txt?q=1",
        "Referer: http://example.com/from\r\nUser-Agent: probe/1.0\r\n",
    );
    assert_eq!(ok.status, 200);
    let etag = ok.header("etag").expect("an ETag").to_owned();
    let not_modified = get_with(
        server.addr(),
        "/hello.txt",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(not_modified.status, 304);
    let missing = get_with(server.addr(), "/missing.txt", "");
    assert_eq!(missing.status, 404);
    let mut client = Client::connect(server.addr());
    client.send(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.head_response().status, 200);
    drop(client);

    let lines = stop_and_read(server, &log);
    assert_eq!(
        lines.len(),
        4,
        "one line per response:\n{}",
        lines.join("\n")
    );
    let first = combined(&lines[0]);
    // Byte for byte nginx's layout, the time aside.
    let expected = format!(
        "127.0.0.1 - - [{}] \"GET /hello.txt?q=1 HTTP/1.1\" 200 13 \"http://example.com/from\" \
         \"probe/1.0\"",
        first.time
    );
    assert_eq!(lines[0], expected);
    assert_eq!(first.peer, "127.0.0.1");
    assert_eq!(first.user, "-");
    assert_eq!(first.request, "GET /hello.txt?q=1 HTTP/1.1");
    assert_eq!((first.status, first.bytes), (200, 13), "hello, world\\n");
    assert_eq!(first.referer, "http://example.com/from");
    assert_eq!(first.user_agent, "probe/1.0");

    let second = combined(&lines[1]);
    assert_eq!(second.request, "GET /hello.txt HTTP/1.1");
    // `02/Dec/2026:01:40:45 +0000`, in UTC.
    let days = days([&ok, &not_modified], |d, m, y| format!("{d}/{m}/{y}:"));
    assert!(
        days.iter().any(|day| second.time.starts_with(day)),
        "{} is not {days:?}",
        second.time
    );
    assert!(second.time.ends_with(" +0000"), "{}", second.time);
    assert_eq!(second.time.len(), "02/Dec/2026:01:40:45 +0000".len());
    assert_eq!((second.status, second.bytes), (304, 0));
    assert_eq!(
        (second.referer.as_str(), second.user_agent.as_str()),
        ("-", "-")
    );

    let third = combined(&lines[2]);
    assert_eq!(third.request, "GET /missing.txt HTTP/1.1");
    assert_eq!(third.status, 404);
    assert_eq!(third.bytes, missing.body.len() as u64);

    let fourth = combined(&lines[3]);
    assert_eq!(fourth.request, "HEAD /hello.txt HTTP/1.1");
    assert_eq!(
        (fourth.status, fourth.bytes),
        (200, 0),
        "HEAD sends no body"
    );
}

#[test]
fn json_lines_have_every_key_in_order_with_typed_values() {
    let site = Site::new();
    let log = site.dir.path().join("access.json");
    let server = start_logging(&site.root_arg(), &log, "json", &[]);
    // Basic credentials on a path no rule protects: the user is still logged, as nginx does.
    let headers = format!(
        "{}Referer: http://example.com/\r\nUser-Agent: probe/2.0\r\n",
        basic_auth("alice", "wonderland")
    );
    let ok = get_with(server.addr(), "/hello.txt?x=%41", &headers);
    assert_eq!(ok.status, 200);
    let etag = ok.header("etag").unwrap().to_owned();
    let etag_header = format!("If-None-Match: {etag}\r\n");
    let not_modified = get_with(server.addr(), "/hello.txt", &etag_header);
    assert_eq!(not_modified.status, 304);
    let missing = get_with(server.addr(), "/missing.txt", "");
    assert_eq!(missing.status, 404);
    let old = exchange(server.addr(), b"GET /page.html HTTP/1.0\r\n\r\n");
    assert_eq!(old.status, 200);

    let lines = wait_lines(&log, 4);
    assert_eq!(lines.len(), 4, "{}", lines.join("\n"));
    for line in &lines {
        let value = json(line);
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), JSON_KEYS.len(), "{line}");
        // serde_json sorts keys, so the order is read from the raw line.
        let positions: Vec<usize> = JSON_KEYS
            .iter()
            .map(|key| line.find(&format!("\"{key}\":")).expect(key))
            .collect();
        assert!(positions.is_sorted(), "keys out of order: {line}");
        assert!(
            value["status"].is_u64() && value["bytes"].is_u64(),
            "{line}"
        );
        assert!(value["duration_us"].is_u64(), "{line}");
        assert_eq!(value["client"], "127.0.0.1");
        assert_eq!(value["site"], "default");
    }

    let first = json(&lines[0]);
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["target"], "/hello.txt?x=%41", "the target as sent");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytes"], 13);
    assert_eq!(first["user"], "alice");
    assert_eq!(first["referer"], "http://example.com/");
    assert_eq!(first["user_agent"], "probe/2.0");

    let second = json(&lines[1]);
    // `2026-12-02T01:40:45.123Z`, in UTC, to the millisecond.
    let time = second["time"].as_str().expect("time is a string");
    let days = days([&ok, &not_modified], |d, m, y| {
        let month = MONTHS.iter().position(|name| *name == m).unwrap() + 1;
        format!("{y}-{month:02}-{d}T")
    });
    assert!(
        days.iter().any(|day| time.starts_with(day)),
        "{time} is not {days:?}"
    );
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    assert_eq!(&time[19..20], ".", "milliseconds: {time}");
    assert_eq!(
        (second["status"].as_u64(), second["bytes"].as_u64()),
        (Some(304), Some(0))
    );
    for missing_field in ["user", "referer", "user_agent"] {
        assert!(second[missing_field].is_null(), "{}", lines[1]);
    }

    let third = json(&lines[2]);
    assert_eq!(third["target"], "/missing.txt");
    assert_eq!(third["status"], 404);
    assert_eq!(third["bytes"], missing.body.len() as u64);

    let fourth = json(&lines[3]);
    assert_eq!(fourth["protocol"], "HTTP/1.0");
    assert_eq!(fourth["target"], "/page.html");
    assert_eq!(fourth["bytes"], old.body.len() as u64);
}

/// A 400 (no Host), a 413 (Content-Length over --max-body-bytes) and a 408 (a head never
/// finished): each answered, each logged once, by the default site, with its first line as sent.
fn rejections_are_logged(format: &str) -> Vec<(Response, String)> {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let extra = ["--header-timeout", "1", "--max-body-bytes", "1000"];
    let server = start_logging(&site.root_arg(), &log, format, &extra);

    let bad = exchange(server.addr(), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(bad.status, 400);
    let large = exchange(
        server.addr(),
        b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n",
    );
    assert_eq!(large.status, 413);
    let mut slow = Client::connect(server.addr());
    slow.send(b"GET /slow.txt HTTP/1.1\r\nHost: t\r\n");
    let timeout = slow.response();
    assert_eq!(timeout.status, 408);
    assert!(slow.is_closed());

    let lines = stop_and_read(server, &log);
    assert_eq!(
        lines.len(),
        3,
        "one line per rejection:\n{}",
        lines.join("\n")
    );
    [bad, large, timeout].into_iter().zip(lines).collect()
}

#[test]
fn rejected_requests_get_a_combined_line_with_their_first_line_as_sent() {
    let expected = [
        ("GET / HTTP/1.1", 400),
        ("POST /hello.txt HTTP/1.1", 413),
        ("GET /slow.txt HTTP/1.1", 408),
    ];
    for ((response, line), (request, status)) in
        rejections_are_logged("combined").iter().zip(expected)
    {
        let logged = combined(line);
        assert_eq!(logged.request, request, "{line}");
        assert_eq!(logged.status, status, "{line}");
        assert_eq!(logged.bytes, response.body.len() as u64, "{line}");
        assert_eq!(logged.peer, "127.0.0.1");
    }
}

#[test]
fn rejected_requests_get_a_json_line() {
    for ((response, line), status) in rejections_are_logged("json").iter().zip([400, 413, 408]) {
        let logged = json(line);
        assert_eq!(logged["status"], status, "{line}");
        assert_eq!(logged["bytes"], response.body.len() as u64, "{line}");
        assert_eq!(logged["site"], "default");
        assert_eq!(logged["client"], "127.0.0.1");
        // The request line's parts, as sent, though the head was refused.
        let request = match status {
            400 => ["GET", "/", "HTTP/1.1"],
            413 => ["POST", "/hello.txt", "HTTP/1.1"],
            _ => ["GET", "/slow.txt", "HTTP/1.1"],
        };
        for (field, sent) in ["method", "target", "protocol"].into_iter().zip(request) {
            assert_eq!(logged[field], sent, "{line}");
        }
    }
}

#[test]
fn an_aborted_download_logs_the_body_bytes_that_went_out() {
    let site = Site::new();
    let size: u64 = 64 << 20;
    let big = std::fs::File::create(site.root().join("big.bin")).unwrap();
    big.set_len(size).unwrap(); // sparse: 64 MiB of zeros at no cost
    drop(big);
    let log = site.dir.path().join("access.log");
    // The client resets the connection; the send timeout would end the send otherwise.
    let server = start_logging(&site.root_arg(), &log, "combined", &["--send-timeout", "2"]);

    // A small receive window, so the server has sent little beyond what the client read.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&server.addr().into()).unwrap();
    let mut stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut received = vec![0u8; 1 << 20];
    stream.read_exact(&mut received).unwrap();
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(received.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body_received = (received.len() - head_end) as u64;
    // Closing with unread bytes resets the connection: the server's next send fails.
    drop(stream);

    let lines = wait_lines(&log, 1);
    assert_eq!(lines.len(), 1, "{}", lines.join("\n"));
    let line = combined(&lines[0]);
    assert_eq!(line.request, "GET /big.bin HTTP/1.1");
    assert_eq!(line.status, 200, "the status that was sent");
    assert!(
        line.bytes >= body_received && line.bytes < size,
        "{} body bytes logged; the client got {body_received} of {size}",
        line.bytes
    );
}

#[test]
fn pipelined_requests_get_one_line_each_in_order() {
    let site = Site::new();
    let log = site.dir.path().join("access.json");
    let server = start_logging(&site.root_arg(), &log, "json", &[]);
    let mut client = Client::connect(server.addr());
    client.send(
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /missing.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(client.response().status, 200);
    assert_eq!(client.response().status, 404);
    assert_eq!(client.head_response().status, 200);
    assert!(client.is_closed());

    let lines = stop_and_read(server, &log);
    let logged: Vec<(String, String, u64)> = lines
        .iter()
        .map(|line| {
            let value = json(line);
            let text = |key: &str| value[key].as_str().unwrap_or("?").to_owned();
            (
                text("method"),
                text("target"),
                value["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("GET", "/hello.txt", 200),
        ("GET", "/missing.txt", 404),
        ("HEAD", "/page.html", 200),
    ]
    .map(|(m, t, s)| (m.to_owned(), t.to_owned(), s));
    assert_eq!(logged, expected, "{}", lines.join("\n"));
}

#[test]
fn a_connection_that_sends_nothing_gets_no_line() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let server = start_logging(
        &site.root_arg(),
        &log,
        "combined",
        &["--header-timeout", "1"],
    );
    // One closes at once; one waits until the server gives up on it, which it does silently.
    drop(TcpStream::connect(server.addr()).unwrap());
    let mut idle = Client::connect(server.addr());
    assert!(idle.is_closed(), "closed without a response (no 408)");
    assert_eq!(support::get(server.addr(), "/hello.txt").status, 200);

    let lines = stop_and_read(server, &log);
    assert_eq!(lines.len(), 1, "only the request:\n{}", lines.join("\n"));
    assert_eq!(combined(&lines[0]).request, "GET /hello.txt HTTP/1.1");
}

#[test]
fn with_two_workers_lines_are_whole_and_none_is_lost() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let server = start_logging(&site.root_arg(), &log, "json", &["-w", "2"]);
    let requests = 200;
    for n in 0..requests {
        let path = format!("/hello.txt?n={n}");
        assert_eq!(support::get(server.addr(), &path).status, 200);
    }
    let lines = stop_and_read(server, &log);
    assert_eq!(lines.len(), requests);
    let mut targets: Vec<String> = lines
        .iter()
        .map(|line| json(line)["target"].as_str().unwrap().to_owned())
        .collect();
    targets.sort();
    let mut expected: Vec<String> = (0..requests).map(|n| format!("/hello.txt?n={n}")).collect();
    expected.sort();
    assert_eq!(targets, expected);
}
