//! Health checks for load balancers: `health_path` answers `200 ok` from every worker, before
//! redirects and authentication, without an access log line unless `health_log` asks; a
//! graceful stop with `unhealthy_before_stop` first answers them `503` while the site is still
//! served, so that a balancer takes the instance out before its sockets close.

mod support;

use std::path::Path;

use support::{
    SIGTERM, Server, assert_placed, config_problems, eventually, get, get_with, wait_lines,
    write_file,
};

fn config(dir: &Path, extra_site: &str, extra_limits: &str) -> std::path::PathBuf {
    write_file(dir, "www/index.html", "home\n");
    let hash = bcrypt::hash("pw", 4).unwrap();
    write_file(dir, "htpasswd", &format!("ann:{hash}\n"));
    write_file(
        dir,
        "forkhttpd.toml",
        &format!(
            "workers = 2\n[limits]\n{extra_limits}\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n\
             health_path = \"/healthz\"\naccess_log = {{ path = \"access.log\" }}\n{extra_site}\n\
             [site.auth]\nrealm = \"r\"\nusers_file = \"htpasswd\"\npaths = [\"/**\"]\n"
        ),
    )
}

#[test]
fn health_checks_answer_before_auth_and_stay_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "", "");
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    for _ in 0..6 {
        let response = get(server.addr(), "/healthz");
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "ok\n");
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
    let with_query = get_with(server.addr(), "/healthz?probe=1", "");
    assert_eq!(with_query.status, 200, "the query does not matter");
    // Everything else is behind the site's authentication, as before.
    assert_eq!(get(server.addr(), "/").status, 401);
    assert_eq!(get(server.addr(), "/healthz/more").status, 401);
    let lines = support::stop_and_read(server, &dir.path().join("access.log"));
    assert_eq!(lines.len(), 2, "only the two other requests: {lines:?}");
    assert!(
        lines.iter().all(|line| !line.contains("/healthz ")),
        "{lines:?}"
    );
}

#[test]
fn health_log_writes_them_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "health_log = true", "");
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    assert_eq!(get(server.addr(), "/healthz").status, 200);
    let lines = wait_lines(&dir.path().join("access.log"), 1);
    assert!(
        lines[0].contains("\"GET /healthz HTTP/1.1\" 200 3"),
        "{lines:?}"
    );
}

#[test]
fn a_stop_first_answers_health_checks_503_while_still_serving() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough never to end by itself here: a second TERM goes on with the stop.
    let file = config(dir.path(), "", "unhealthy_before_stop = 600");
    let mut server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    assert_eq!(get(server.addr(), "/healthz").status, 200);
    server.signal(SIGTERM);
    server.wait_for("health checks answer 503 for 600s, then the workers drain");
    // Every worker, on new connections: the sockets are still open.
    for _ in 0..6 {
        let response = get(server.addr(), "/healthz");
        assert_eq!(response.status, 503);
        assert_eq!(response.text(), "stopping\n");
        assert_eq!(
            get(server.addr(), "/").status,
            401,
            "the site is still served"
        );
    }
    server.signal(SIGTERM);
    server.wait_for("stopping gracefully");
    assert!(server.wait_exit().success());
    assert!(eventually(
        || std::net::TcpStream::connect(server.addr()).is_err()
    ));
}

#[test]
fn a_health_path_that_is_no_path_is_placed() {
    let text = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nhealth_path = \"healthz\"\n";
    let (file, lines, _dir) = config_problems(text);
    let words = "health_path must be a path such as \"/healthz\"";
    assert_placed(&file, &lines, text, "\"healthz\"", words);
}
