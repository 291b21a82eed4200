//! The configuration file as its author meets it: `forkhttpd -t -c FILE` says the file is valid
//! or lists every problem as `FILE:line:column: problem`; starting from a bad file exits 1 with
//! nothing left running; `-c` does not mix with the site options of the command line; the
//! example file and the README's usage table show every key and flag there is.

mod support;

use support::{place_of, write_file};

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(args)
        .output()
        .expect("run forkhttpd")
}

fn check(file: &Path) -> Output {
    run(&["-t", "-c", file.to_str().unwrap()])
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The problem lines of a failed check: each must be `forkhttpd: error: FILE:line:column: ...`.
fn problems(output: &Output, file: &Path) -> Vec<String> {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    let prefix = format!("forkhttpd: error: {}:", file.display());
    let text = stderr(output);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "no problem listed");
    for line in &lines {
        assert!(line.starts_with(&prefix), "not placed in the file: {line}");
    }
    lines
}

fn line_at<'a>(lines: &'a [String], file: &Path, place: &str) -> &'a str {
    let wanted = format!("{}:{place}: ", file.display());
    lines
        .iter()
        .find(|line| line.contains(&wanted))
        .unwrap_or_else(|| panic!("no problem at {place} in:\n{}", lines.join("\n")))
}

#[test]
fn a_good_file_is_valid_from_any_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let hash = bcrypt::hash("pw", 4).unwrap();
    write_file(dir.path(), "htpasswd", &format!("ann:{hash}\n"));
    let file = write_file(
        dir.path(),
        "site.toml",
        r#"
workers = 2
log_level = "warn"
[limits]
header_timeout = 5
max_connections = 100
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test", "*.b.test"]
default = true
root = "www"
index = ["index.html"]
cache_control = "no-cache"
spa_fallback = "/index.html"
error_pages = { 404 = "/404.html" }
access_log = { path = "access.log", format = "json" }
[[site.headers]]
path = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable" }
remove = ["Last-Modified"]
[[site.redirects]]
from = "/old/"
to = "https://example.com/new/"
prefix = true
status = 308
[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["/private/**"]
"#,
    );
    // Relative paths ("www", "htpasswd", "access.log") are the file's folder's, wherever the
    // check runs from.
    let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim_end(),
        format!("forkhttpd: {} is valid", file.display())
    );
}

#[test]
fn an_unknown_key_is_placed_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let text = "workers = 1\n[[site]]\n  lisen = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "site.toml", text);
    let lines = problems(&check(&file), &file);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = line_at(&lines, &file, &place_of(text, "lisen"));
    assert!(line.contains("unknown field `lisen`"), "{line}");
}

#[test]
fn a_wrong_type_is_placed_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let text = "workers = \"four\"\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "site.toml", text);
    let lines = problems(&check(&file), &file);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = line_at(&lines, &file, &place_of(text, "\"four\""));
    assert!(line.contains("invalid type"), "{line}");
}

#[test]
fn every_problem_in_one_file_is_listed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    write_file(
        dir.path(),
        "htpasswd",
        "ann:$apr1$abc$0123456789abcdefghijkl\n",
    );
    let text = r#"workers = 1

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "no-such-folder"
access_log = { path = "access.log", format = "xml" }

[[site.headers]]
path = "/a/[b"
set = { "X-A" = "1" }

[[site.redirects]]
from = "/old"
to = "/new"
status = 305

[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["/private/**"]

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["A.Test"]
root = "www"
"#;
    let file = write_file(dir.path(), "site.toml", text);
    let lines = problems(&check(&file), &file);
    let expected = [
        (
            place_of(text, "\"no-such-folder\""),
            "No such file or directory",
        ),
        (place_of(text, "\"xml\""), "xml"),
        (place_of(text, "\"/a/[b\""), "glob"),
        (
            place_of(text, "305"),
            "status must be 301, 302, 303, 307 or 308",
        ),
        (place_of(text, "\"htpasswd\""), "not bcrypt"),
        (place_of(text, "\"A.Test\""), "claimed by site 1"),
    ];
    for (place, words) in &expected {
        let line = line_at(&lines, &file, place);
        assert!(line.contains(words), "{line} should say {words:?}");
    }
    assert_eq!(lines.len(), expected.len(), "{}", lines.join("\n"));
}

#[test]
fn starting_from_a_bad_file_exits_1_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let text = format!(
        "workers = 2\n[[site]]\nlisten = [\"127.0.0.1:{port}\"]\nroot = \"www\"\n\
         [[site.redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstatus = 200\n"
    );
    let file = write_file(dir.path(), "site.toml", &text);
    let output = run(&["-c", file.to_str().unwrap()]);
    let lines = problems(&output, &file);
    line_at(&lines, &file, &place_of(&text, "200"));
    // output() waited for the process: had it bound the port or forked a worker, the port
    // would still be taken.
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn a_port_in_use_fails_the_start_and_frees_the_ports_already_bound() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    let text = format!(
        "workers = 2\n[[site]]\nlisten = [\"127.0.0.1:{free_port}\"]\nroot = \"www\"\n\
         [[site]]\nlisten = [\"127.0.0.1:{taken_port}\"]\nroot = \"www\"\n"
    );
    let file = write_file(dir.path(), "site.toml", &text);
    assert_eq!(
        check(&file).status.code(),
        Some(0),
        "the file itself is good"
    );
    let output = run(&["-c", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("cannot listen on 127.0.0.1:{taken_port}")),
        "{text}"
    );
    assert!(TcpListener::bind(("127.0.0.1", free_port)).is_ok());
}

#[test]
fn a_config_file_does_not_mix_with_site_options() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let file = write_file(
        dir.path(),
        "site.toml",
        "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n",
    );
    let file = file.to_str().unwrap();
    for extra in [&["-l", "127.0.0.1:0"][..], &["-w", "2"], &["/srv"]] {
        let mut args = vec!["-c", file];
        args.extend(extra);
        let output = run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("cannot be used with"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn the_example_file_in_the_repository_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/forkhttpd.toml");
    let output = check(&example);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("is valid"), "{}", stderr(&output));
}

#[test]
fn test_mode_checks_the_command_line_s_root_too() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let output = run(&["-t", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot serve"),
        "{}",
        stderr(&output)
    );
    let output = run(&["-t", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn paths_that_could_match_no_url_path_are_placed_problems() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let hash = bcrypt::hash("pw", 4).unwrap();
    write_file(dir.path(), "htpasswd", &format!("ann:{hash}\n"));
    let text = r#"workers = 1
[[site]]
listen = ["127.0.0.1:0"]
root = "www"

[[site.headers]]
path = "*.html"
set = { "X-A" = "1" }

[[site.headers]]
path = "index.html"
set = { "X-A" = "1" }

[[site.headers]]
path = "/docs/../x"
set = { "X-A" = "1" }

[[site.headers]]
path = "/**/*.html"
set = { "X-A" = "1" }

[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["private/**", "/ok/**", "/a//b"]
"#;
    let file = write_file(dir.path(), "site.toml", text);
    let lines = problems(&check(&file), &file);
    let expected = [
        (place_of(text, "\"*.html\""), "did you mean \"/**/*.html\"?"),
        (
            place_of(text, "\"index.html\""),
            "did you mean \"/index.html\"?",
        ),
        (place_of(text, "\"/docs/../x\""), "never matches"),
        (
            place_of(text, "\"private/**\""),
            "did you mean \"/private/**\"?",
        ),
        (place_of(text, "\"/a//b\""), "never matches"),
    ];
    for (place, words) in &expected {
        let line = line_at(&lines, &file, place);
        assert!(line.contains(words), "{line} should say {words:?}");
    }
    assert_eq!(lines.len(), expected.len(), "{}", lines.join("\n"));
}

#[test]
fn keepalive_timeout_zero_is_keep_alive_off_and_other_timeouts_must_be_above_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let good =
        "[limits]\nkeepalive_timeout = 0\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "good.toml", good);
    let output = check(&file);
    assert!(output.status.success(), "{}", stderr(&output));

    let text = "[limits]\nkeepalive_timeout = -1.0\nheader_timeout = 0\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "bad.toml", text);
    let lines = problems(&check(&file), &file);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let keepalive = line_at(&lines, &file, &place_of(text, "-1.0"));
    assert!(
        keepalive
            .contains("keepalive_timeout must be between 0 (keep-alive off) and 86400 seconds"),
        "{keepalive}"
    );
    let header = line_at(&lines, &file, &place_of(text, "0\n["));
    assert!(
        header.contains("header_timeout must be more than 0 and at most 86400 seconds"),
        "{header}"
    );
}

// The documentation against the program: every key the file accepts is shown in
// `examples/forkhttpd.toml` (which says it has every key), and every command-line flag is in the
// README's usage table. The keys come from the program itself: a file with an unknown key is
// refused with the list of keys its table accepts.

fn repository_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The keys `-t` says the table opened by `header` accepts (none: the top level).
fn keys_of(header: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let site = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \".\"\n";
    let text = match header {
        "" => "not_a_key = 1\n".to_owned(),
        "[[site]]" => format!("{site}not_a_key = 1\n"),
        header if header.starts_with("[site.") || header.starts_with("[[site.") => {
            format!("{site}{header}\nnot_a_key = 1\n")
        }
        header => format!("{header}\nnot_a_key = 1\n"),
    };
    let file = write_file(dir.path(), "keys.toml", &text);
    let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let expected = stderr
        .split_once("unknown field `not_a_key`, expected ")
        .unwrap_or_else(|| panic!("no list of keys for {header:?}: {stderr}"))
        .1;
    let keys: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(!keys.is_empty(), "{stderr}");
    keys
}

/// Whether `example` sets `key` (maybe commented out) in the table `header` opens, or opens a
/// table of that name.
fn shows(example: &str, header: &str, key: &str) -> bool {
    let tables = [format!("[{key}]"), format!("[[{key}]]")];
    let named = header.trim_matches(['[', ']']);
    let nested = [format!("[{named}.{key}]"), format!("[[{named}.{key}]]")];
    let mut inside = header.is_empty();
    for line in example.lines() {
        let line = line.trim_start().trim_start_matches('#').trim_start();
        if line.starts_with('[') {
            let opened = line.split_whitespace().next().unwrap_or("");
            if tables.iter().chain(&nested).any(|t| t == opened) {
                return true;
            }
            inside = opened == header;
            continue;
        }
        let written = line.split('=').next().unwrap_or("").trim();
        let inline = line.contains(&format!("{key} = {{")) || line.contains(&format!(" {key} = "));
        if (inside && written == key) || inline {
            return true;
        }
    }
    false
}

#[test]
fn the_example_configuration_shows_every_key() {
    let example = repository_file("examples/forkhttpd.toml");
    let tables = [
        "",
        "[limits]",
        "[metrics]",
        "[[site]]",
        "[site.tls]",
        "[site.tls.acme]",
        "[site.auth]",
        "[[site.headers]]",
        "[[site.redirects]]",
        "[site.access_log]",
    ];
    let mut missing = Vec::new();
    for header in tables {
        for key in keys_of(header) {
            if !shows(&example, header, &key) {
                missing.push(format!("{header} {key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "examples/forkhttpd.toml lacks: {missing:?}"
    );
}

#[test]
fn the_readme_usage_table_has_every_flag() {
    let readme = repository_file("README.md");
    let usage = readme
        .split_once("## Usage")
        .expect("a usage section")
        .1
        .split("\n## ")
        .next()
        .unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let flags: Vec<&str> = help
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .filter_map(|line| line.split(['<', ' ']).find(|word| word.starts_with("--")))
        .map(|flag| flag.trim_end_matches(','))
        .filter(|flag| !matches!(*flag, "--help" | "--version"))
        .collect();
    assert!(flags.len() > 20, "{help}");
    let rows: Vec<&str> = usage
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    let missing: Vec<&&str> = flags
        .iter()
        .filter(|flag| {
            !rows.iter().any(|row| {
                row.split('|')
                    .nth(1)
                    .is_some_and(|first| first.split(['`', ',', ' ']).any(|word| word == **flag))
            })
        })
        .collect();
    assert!(missing.is_empty(), "README usage table lacks {missing:?}");
}
