//! SIGTERM while listings are being built on the listing threads: a worker that drains neither
//! drops them nor hangs on them. Each is answered whole, with `Connection: close`, then the
//! worker and the master exit 0.

mod support;

use support::{Client, SIGTERM, Server};

#[test]
fn listings_in_flight_are_answered_before_the_worker_stops() {
    // In memory where there is /dev/shm: tens of thousands of files are made in a moment.
    let dir = match tempfile::tempdir_in("/dev/shm") {
        Ok(dir) => dir,
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let folder = dir.path().join("many");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..30_000 {
        std::fs::File::create(folder.join(format!("IMG_20241201_{i:06}.jpg"))).unwrap();
    }
    let root = dir.path().to_string_lossy().into_owned();
    let mut server = Server::start(&["--listing", "--log-level", "debug", &root]);
    let mut clients: Vec<Client> = (0..6)
        .map(|i| {
            let mut client = Client::connect(server.addr());
            client.send(format!("GET /many/?n={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            client
        })
        .collect();
    server.wait_for_count("listing queued", 6);
    server.signal(SIGTERM);
    server.wait_for("stopping gracefully");
    let mut closing = 0;
    for client in &mut clients {
        let response = client.response();
        assert_eq!(response.status, 200);
        assert!(
            response
                .text()
                .contains("The first 10,000 of 30,000 entries"),
            "{}",
            response.head
        );
        // Built after the drain began: the answer says it closes. (One done before the worker
        // heard of the stop is a keep-alive answer, and its idle connection closes anyway.)
        if response.header("connection") == Some("close") {
            closing += 1;
        }
        assert!(client.is_closed());
    }
    assert!(closing > 0, "every listing was done before the drain began");
    assert_eq!(server.wait_exit().code(), Some(0));
}
