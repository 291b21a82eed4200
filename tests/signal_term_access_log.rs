//! SIGTERM and the access log: a worker writes the lines it buffered before it exits, so a
//! graceful stop loses none, not even the last request's.

mod support;

use support::{Client, SIGTERM, Site, combined, lines_in, start_logging};

#[test]
fn lines_buffered_at_a_graceful_stop_are_written() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let mut server = start_logging(&site.root_arg(), &log, "combined", &["-w", "2"]);
    // Both on one keep-alive connection each, still open when the stop comes: the drain
    // closes them, and their lines must still be written.
    let mut first = Client::connect(server.addr());
    let mut second = Client::connect(server.addr());
    assert_eq!(first.get("/hello.txt?1").status, 200);
    assert_eq!(second.get("/hello.txt?2").status, 200);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));

    let mut requests: Vec<String> = lines_in(&log)
        .iter()
        .map(|line| combined(line).request)
        .collect();
    requests.sort();
    assert_eq!(
        requests,
        ["GET /hello.txt?1 HTTP/1.1", "GET /hello.txt?2 HTTP/1.1"]
    );
    assert!(first.is_closed() && second.is_closed());
}
