//! What the start-up log tells an operator: the worker count in plain English, and a warning
//! when `/` is going to answer 404.

mod support;

use support::{Server, get};

fn start(root: &std::path::Path, extra: &[&str]) -> Server {
    let root = root.to_str().unwrap();
    let mut args = extra.to_vec();
    args.push(root);
    Server::start(&args)
}

fn has_line(server: &Server, needle: &str) -> bool {
    server.lines().iter().any(|line| line.contains(needle))
}

#[test]
fn start_line_counts_one_worker_in_the_singular() {
    let server = Server::start(&["-w", "1"]);
    assert!(has_line(&server, "started with 1 worker"));
    assert!(!has_line(&server, "1 workers"), "{:?}", server.lines());
    let server = Server::start(&["-w", "2"]);
    assert!(has_line(&server, "started with 2 workers"));
}

#[test]
fn root_without_index_warns_that_slash_is_404() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "n").unwrap();
    let server = start(dir.path(), &[]);
    let warning = server
        .lines()
        .into_iter()
        .find(|line| line.contains("has no index.html"))
        .expect("a warning about the missing index");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("--listing"), "{warning}");
    assert_eq!(get(server.addr(), "/").status, 404, "the warning is true");
}

#[test]
fn no_warning_with_an_index_or_a_listing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--listing"]);
    assert_eq!(get(server.addr(), "/").status, 200);
    assert!(!has_line(&server, "has no index.html"));
    drop(server);

    std::fs::write(dir.path().join("index.html"), "home").unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(get(server.addr(), "/").status, 200);
    assert!(!has_line(&server, "has no index.html"));
}
