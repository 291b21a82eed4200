//! Workers as an unprivileged user (`user = "nobody"`): the master stays root, every worker runs
//! as the user with no way back, files are served and logged, and the access log is reopened
//! after a rotation although the workers could not create it themselves. Needs root (CI runs
//! as root); as anyone else the test says so and checks nothing.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::unistd::{User, geteuid};
use support::{
    SIGUSR1, Server, assert_placed, config_problems, eventually, get, wait_lines, write_file,
};

/// The `Uid:`, `Gid:`, `Groups:` and `NoNewPrivs:` lines of `/proc/PID/status`.
fn identity(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .filter(|line| {
            ["Uid:", "Gid:", "Groups:", "NoNewPrivs:"]
                .iter()
                .any(|k| line.starts_with(k))
        })
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn open_to_all(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn workers_run_as_nobody_and_still_serve_and_log() {
    if !geteuid().is_root() {
        eprintln!("not root: privilege drop cannot be tested here");
        return;
    }
    let nobody = User::from_name("nobody").unwrap().expect("a nobody user");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let dir = tempfile::tempdir().unwrap();
    open_to_all(dir.path());
    let www = dir.path().join("www");
    write_file(&www, "index.html", "served as nobody\n");
    open_to_all(&www);
    // Readable by root alone: a worker that still had root would serve it.
    let secret = write_file(&www, "secret.html", "root only\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    open_to_all(&logs);
    let access_log = logs.join("access.log");
    let config = write_file(
        dir.path(),
        "forkhttpd.toml",
        &format!(
            "workers = 2\nuser = \"nobody\"\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = {:?}\naccess_log = {{ path = {:?} }}\n",
            www, access_log
        ),
    );
    let server = Server::start_exact(&["-c", config.to_str().unwrap()]);
    server.wait_for(&format!(
        "workers run as user nobody (uid {uid}, gid {gid})"
    ));

    let master = identity(server.pid());
    assert!(master.contains(&"Uid: 0 0 0 0".to_owned()), "{master:?}");
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2);
    for pid in &workers {
        let worker = identity(*pid);
        for expected in [
            format!("Uid: {uid} {uid} {uid} {uid}"),
            format!("Gid: {gid} {gid} {gid} {gid}"),
            format!("Groups: {gid}"),
            "NoNewPrivs: 1".to_owned(),
        ] {
            assert!(
                worker.contains(&expected),
                "worker {pid}: {worker:?}, not {expected}"
            );
        }
    }

    let response = get(server.addr(), "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "served as nobody\n");
    assert_eq!(get(server.addr(), "/secret.html").status, 403);
    wait_lines(&access_log, 2);
    assert_eq!(std::fs::metadata(&access_log).unwrap().uid(), uid);

    // logrotate moves the log away; the master creates the new one for the workers.
    std::fs::rename(&access_log, logs.join("access.log.1")).unwrap();
    server.signal(SIGUSR1);
    assert!(eventually(|| {
        get(server.addr(), "/");
        access_log.exists() && !support::lines_in(&access_log).is_empty()
    }));
    let meta = std::fs::metadata(&access_log).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (uid, 0o640));
    assert!(
        !server
            .lines()
            .iter()
            .any(|line| line.contains("cannot reopen"))
    );
}

#[test]
fn an_unknown_user_is_placed_in_the_file() {
    let text = "user = \"forkhttpd-no-such-user\"\n[[site]]\nlisten = [\"127.0.0.1:0\"]\n";
    let (file, lines, _dir) = config_problems(text);
    let words = "no user \"forkhttpd-no-such-user\" on this system";
    assert_placed(&file, &lines, text, "\"forkhttpd-no-such-user\"", words);
}
