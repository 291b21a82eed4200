//! Start-up errors: one clear line, exit code 1, nothing left running.

mod support;

use std::net::TcpListener;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(args)
        .output()
        .expect("run forkhttpd")
}

fn one_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].starts_with("forkhttpd: error: "), "{stderr}");
    stderr
}

#[test]
fn missing_root_is_one_line_and_exit_1() {
    let output = run(&["-l", "127.0.0.1:0", "/nonexistent/forkhttpd-root"]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_error_line(&output);
    assert!(line.contains("/nonexistent/forkhttpd-root"), "{line}");
    assert!(line.contains("No such file or directory"), "{line}");
}

#[test]
fn a_negative_keepalive_timeout_is_refused_with_what_zero_means() {
    let output = run(&["-l", "127.0.0.1:0", "--keepalive-timeout=-1", "."]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_error_line(&output);
    assert!(
        line.contains("between 0 (keep-alive off) and 86400 seconds"),
        "{line}"
    );
}

#[test]
fn root_that_is_a_file_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let output = run(&["-l", "127.0.0.1:0", file.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("Not a directory"));
}

#[test]
fn port_in_use_is_one_line_exit_1_and_nothing_left_running() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    // The free address is bound first: it must be released again when the second one fails.
    let output = run(&[
        "-w",
        "2",
        "-l",
        &format!("127.0.0.1:{free_port}"),
        "-l",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let line = one_error_line(&output);
    assert!(
        line.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{line}"
    );
    assert!(line.contains("Address already in use"), "{line}");
    // The process has exited (output() waited for it) and forked nothing: the first port is
    // free again, which it would not be if any worker held it.
    assert!(TcpListener::bind(("127.0.0.1", free_port)).is_ok());
}

#[test]
fn bad_flags_are_refused() {
    let output = run(&["-w", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("--workers"));
    let output = run(&["-l", "not-an-address"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("not-an-address"));
}

#[test]
fn help_shows_examples_and_version_prints() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Examples:") && text.contains("--listen") && text.contains("--workers"));
    let version = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("forkhttpd {}", env!("CARGO_PKG_VERSION"))
    );
}
