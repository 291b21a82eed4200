//! Files that change under a running server: every answer after a change completed carries
//! the new bytes, with their own ETag, at once (no reload, no revalidation period), over
//! HTTP/1.1 and HTTP/2, on one worker and on two. Each check asks several times on new
//! connections, so that each worker's caches are asked, and compares at the bytes a client
//! sees: the body, and the ETag against the hash of that very body.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use support::{H2Request, Server, exchange_h2c, write_file};

/// Requests per check, each on its own connection: enough that two workers both answer.
const ASKS: usize = 6;

/// What a client saw.
#[derive(Debug)]
struct Seen {
    status: u16,
    fields: HashMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Copy, Debug)]
enum Protocol {
    Http1,
    H2c,
}

/// A server with one site on a socket that speaks HTTP/1.1 and cleartext HTTP/2.
struct Lab {
    // Dropped in this order: the server, then the file system under it, then the folder.
    server: Server,
    _coarse: Option<CoarseFileSystem>,
    dir: tempfile::TempDir,
}

/// An ext2 image with 128-byte inodes, loop-mounted: its times are whole seconds, so two writes
/// in one second leave a file's version as it was (the case the racy rule exists for).
struct CoarseFileSystem {
    mounted: PathBuf,
}

impl CoarseFileSystem {
    /// Mounted at `at`, or `None` (and why, on stderr) where this machine cannot (not root, no
    /// loop devices).
    fn mount(at: &Path, image: &Path) -> Option<CoarseFileSystem> {
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        let image_arg = image.to_str().unwrap();
        let ok = std::fs::File::create(image)
            .and_then(|f| f.set_len(16 << 20))
            .is_ok()
            && run("mkfs.ext2", &["-q", "-F", "-I", "128", image_arg])
            && run("mount", &["-o", "loop", image_arg, at.to_str().unwrap()]);
        if !ok {
            eprintln!(
                "no loop-mounted ext2 here (needs root and mkfs.ext2): the coarse case is skipped"
            );
            return None;
        }
        Some(CoarseFileSystem {
            mounted: at.to_path_buf(),
        })
    }
}

impl Drop for CoarseFileSystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l", self.mounted.to_str().unwrap()])
            .status();
    }
}

impl Lab {
    fn start(workers: usize) -> Lab {
        Lab::start_with(workers, "", |_| {})
    }

    /// `site_keys` go in the site's table; `prepare` fills the folder before the start.
    fn start_with(workers: usize, site_keys: &str, prepare: impl FnOnce(&Path)) -> Lab {
        Lab::start_on(workers, site_keys, false, prepare).unwrap()
    }

    /// As `start_with`, the root on a file system with one-second times if `coarse` (`None`
    /// where none can be mounted).
    fn start_on(
        workers: usize,
        site_keys: &str,
        coarse: bool,
        prepare: impl FnOnce(&Path),
    ) -> Option<Lab> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("www")).unwrap();
        let coarse = match coarse {
            true => Some(CoarseFileSystem::mount(
                &dir.path().join("www"),
                &dir.path().join("ext2.img"),
            )?),
            false => None,
        };
        prepare(dir.path());
        let config = format!(
            "workers = {workers}\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n\
             http2_cleartext = true\nlisting = true\n{site_keys}\n"
        );
        let file = write_file(dir.path(), "site.toml", &config);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        Some(Lab {
            server,
            _coarse: coarse,
            dir,
        })
    }

    fn www(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn ask(&self, protocol: Protocol, path: &str, fields: &[(&str, &str)]) -> Seen {
        match protocol {
            Protocol::Http1 => {
                let extra: String = fields
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}\r\n"))
                    .collect();
                let seen = support::get_with(self.addr(), path, &extra);
                Seen {
                    status: seen.status,
                    fields: seen
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                        .collect(),
                    body: seen.body,
                }
            }
            Protocol::H2c => {
                let request = H2Request {
                    method: "GET",
                    path,
                    authority: "localhost",
                    fields,
                };
                let seen = exchange_h2c(self.addr(), &[request]).remove(0);
                Seen {
                    status: seen.status,
                    fields: seen
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                        .collect(),
                    body: seen.body,
                }
            }
        }
    }

    /// Asks for `path` `ASKS` times by each protocol and checks every answer is `expected`,
    /// with the ETag of those bytes (when it has one; small files always do).
    fn assert_serves(&self, path: &str, expected: &[u8], why: &str) {
        for protocol in [Protocol::Http1, Protocol::H2c] {
            for ask in 0..ASKS {
                let seen = self.ask(protocol, path, &[]);
                assert_eq!(seen.status, 200, "{why}: {protocol:?} #{ask}");
                assert!(
                    seen.body == expected,
                    "{why}: {protocol:?} #{ask} got {} bytes, not the {} expected: {:?}",
                    seen.body.len(),
                    expected.len(),
                    String::from_utf8_lossy(&seen.body[..seen.body.len().min(40)])
                );
                if let Some(tag) = seen.field("etag") {
                    assert_eq!(tag, tag_of(expected), "{why}: {protocol:?} #{ask}: tag");
                } else {
                    assert!(
                        expected.len() > 64 * 1024,
                        "{why}: a small file has an ETag"
                    );
                }
            }
        }
    }

    fn assert_status(&self, path: &str, status: u16, why: &str) {
        for protocol in [Protocol::Http1, Protocol::H2c] {
            for ask in 0..ASKS {
                let seen = self.ask(protocol, path, &[]);
                assert_eq!(seen.status, status, "{why}: {protocol:?} #{ask}");
            }
        }
    }
}

/// The ETag forkhttpd gives these bytes: BLAKE3, 128 bits in hex, quoted.
fn tag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(bytes).to_hex()[..32])
}

/// Contents of one length that differ at every byte, so a mix of two is seen.
fn content(letter: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| letter + (i % 7) as u8).collect()
}

/// Out of the racy window (`fs/version.rs`: 50 ms on these file systems), so that what is
/// served is kept, and a cached answer is what the next check meets.
fn settle() {
    std::thread::sleep(Duration::from_millis(120));
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// Rewrites `path` in place (same inode) and gives it its old mtime back, as `cp -p`,
/// `touch -r`, rsync and reproducible builds do.
fn rewrite_keeping_mtime(path: &Path, bytes: &[u8]) {
    let before = mtime(path);
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before).unwrap();
    assert_eq!(mtime(path), before);
}

fn each_worker_count(check: impl Fn(usize)) {
    for workers in [1, 2] {
        check(workers);
    }
}

#[test]
fn a_rewrite_that_keeps_size_and_mtime_is_seen_at_once() {
    each_worker_count(|workers| {
        let (old, new) = (content(b'a', 1024), content(b'A', 1024));
        let (big_old, big_new) = (content(b'a', 100 * 1024), content(b'A', 100 * 1024));
        let lab = Lab::start_with(workers, "", |dir| {
            std::fs::write(dir.join("www/page.txt"), &old).unwrap();
            std::fs::write(dir.join("www/big.bin"), &big_old).unwrap();
        });
        settle();
        lab.assert_serves("/page.txt", &old, "before");
        lab.assert_serves("/big.bin", &big_old, "before");
        rewrite_keeping_mtime(&lab.www().join("page.txt"), &new);
        rewrite_keeping_mtime(&lab.www().join("big.bin"), &big_new);
        lab.assert_serves("/page.txt", &new, "after the rewrite");
        lab.assert_serves("/big.bin", &big_new, "after the rewrite");
        settle();
        lab.assert_serves("/page.txt", &new, "settled");
        // A Range of the same URL agrees with the whole.
        for protocol in [Protocol::Http1, Protocol::H2c] {
            let part = lab.ask(protocol, "/page.txt", &[("range", "bytes=0-9")]);
            assert_eq!(part.status, 206);
            assert_eq!(part.body, &new[..10]);
        }
    });
}

#[test]
fn a_resumed_download_of_a_changed_file_gets_the_whole_new_file() {
    each_worker_count(|workers| {
        let (old, new) = (content(b'a', 100 * 1024), content(b'A', 100 * 1024));
        let lab = Lab::start_with(workers, "", |dir| {
            std::fs::write(dir.join("www/f.bin"), &old).unwrap();
        });
        settle();
        let first = lab.ask(Protocol::Http1, "/f.bin", &[]);
        let old_tag = first.field("etag").unwrap().to_owned();
        let old_date = first.field("last-modified").unwrap().to_owned();
        assert_eq!(old_tag, tag_of(&old));
        rewrite_keeping_mtime(&lab.www().join("f.bin"), &new);
        for protocol in [Protocol::Http1, Protocol::H2c] {
            for validator in [old_tag.as_str(), old_date.as_str()] {
                for _ in 0..ASKS {
                    let fields = [("range", "bytes=51200-"), ("if-range", validator)];
                    let seen = lab.ask(protocol, "/f.bin", &fields);
                    assert_eq!(seen.status, 200, "{protocol:?} If-Range {validator}");
                    assert_eq!(seen.body, new, "{protocol:?} If-Range {validator}");
                }
            }
        }
        // The new tag does resume.
        settle();
        let tag = tag_of(&new);
        let seen = lab.ask(
            Protocol::Http1,
            "/f.bin",
            &[("range", "bytes=51200-"), ("if-range", tag.as_str())],
        );
        if seen.field("etag").is_some() {
            assert_eq!(seen.status, 206);
            assert_eq!(seen.body, &new[51200..]);
        }
        // An old tag is not a match for If-None-Match either.
        let seen = lab.ask(Protocol::Http1, "/f.bin", &[("if-none-match", &old_tag)]);
        assert_eq!(seen.status, 200);
    });
}

#[test]
fn a_date_proves_nothing_once_a_rewrite_set_the_mtime_back() {
    let (old, new) = (content(b'a', 1024), content(b'A', 1024));
    let lab = Lab::start_with(1, "", |dir| {
        std::fs::write(dir.join("www/f.txt"), &old).unwrap();
    });
    settle();
    let date = lab
        .ask(Protocol::Http1, "/f.txt", &[])
        .field("last-modified")
        .unwrap()
        .to_owned();
    let since = [("if-modified-since", date.as_str())];
    assert_eq!(
        lab.ask(Protocol::Http1, "/f.txt", &since).status,
        304,
        "unchanged"
    );
    // Dates have whole seconds: the rewrite's change time must fall in a later one.
    std::thread::sleep(Duration::from_millis(1_100));
    rewrite_keeping_mtime(&lab.www().join("f.txt"), &new);
    for protocol in [Protocol::Http1, Protocol::H2c] {
        let seen = lab.ask(protocol, "/f.txt", &since);
        assert_eq!(seen.status, 200, "{protocol:?} If-Modified-Since");
        assert_eq!(seen.body, new, "{protocol:?} If-Modified-Since");
        let unmodified = [("if-unmodified-since", date.as_str())];
        let seen = lab.ask(protocol, "/f.txt", &unmodified);
        assert_eq!(seen.status, 412, "{protocol:?} If-Unmodified-Since");
    }
}

#[test]
fn renames_truncations_deletes_and_replacements_are_seen_at_once() {
    each_worker_count(|workers| {
        let lab = Lab::start_with(workers, "", |dir| {
            std::fs::write(dir.join("www/f.txt"), content(b'a', 2000)).unwrap();
        });
        let path = lab.www().join("f.txt");
        settle();
        lab.assert_serves("/f.txt", &content(b'a', 2000), "before");

        // Rename over: the usual atomic deploy of one file.
        std::fs::write(lab.www().join(".f.txt.tmp"), content(b'b', 2000)).unwrap();
        std::fs::rename(lab.www().join(".f.txt.tmp"), &path).unwrap();
        lab.assert_serves("/f.txt", &content(b'b', 2000), "renamed over");
        settle();
        lab.assert_serves("/f.txt", &content(b'b', 2000), "renamed over, settled");

        // Truncated to half, then to nothing.
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_len(1000).unwrap();
        lab.assert_serves("/f.txt", &content(b'b', 1000), "truncated to half");
        settle();
        file.set_len(0).unwrap();
        lab.assert_serves("/f.txt", b"", "truncated to 0");
        settle();
        std::fs::write(&path, content(b'c', 2000)).unwrap();
        lab.assert_serves("/f.txt", &content(b'c', 2000), "written again");
        settle();

        // Deleted.
        std::fs::remove_file(&path).unwrap();
        lab.assert_status("/f.txt", 404, "deleted");
        settle();
        lab.assert_status("/f.txt", 404, "deleted, settled");

        // Made again where a 404 was cached.
        std::fs::write(&path, content(b'd', 2000)).unwrap();
        lab.assert_serves("/f.txt", &content(b'd', 2000), "made again");
        settle();

        // Replaced by a folder: its URL now redirects to the folder's.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        lab.assert_status("/f.txt", 301, "replaced by a folder");
        settle();

        // Replaced by a symbolic link to another file.
        std::fs::remove_dir(&path).unwrap();
        std::fs::write(lab.www().join("other.txt"), content(b'e', 2000)).unwrap();
        std::os::unix::fs::symlink("other.txt", &path).unwrap();
        lab.assert_serves("/f.txt", &content(b'e', 2000), "replaced by a link");
        settle();
        lab.assert_serves("/f.txt", &content(b'e', 2000), "a link, settled");
        // The link's target edited in place.
        std::fs::write(lab.www().join("other.txt"), content(b'f', 2000)).unwrap();
        lab.assert_serves("/f.txt", &content(b'f', 2000), "the link's target edited");
    });
}

#[test]
fn folders_on_the_way_and_index_files_are_followed() {
    let lab = Lab::start_with(2, "", |dir| {
        std::fs::create_dir_all(dir.join("www/docs/v1")).unwrap();
        std::fs::write(dir.join("www/docs/v1/page.txt"), "one").unwrap();
        std::fs::write(dir.join("www/docs/index.html"), "index one").unwrap();
    });
    settle();
    lab.assert_serves("/docs/v1/page.txt", b"one", "before");
    lab.assert_serves("/docs/", b"index one", "before");
    // The folder on the way swapped by renames.
    let docs = lab.www().join("docs");
    std::fs::create_dir_all(lab.www().join("next/v1")).unwrap();
    std::fs::write(lab.www().join("next/v1/page.txt"), "two").unwrap();
    std::fs::write(lab.www().join("next/index.html"), "index two").unwrap();
    std::fs::rename(&docs, lab.www().join("old")).unwrap();
    std::fs::rename(lab.www().join("next"), &docs).unwrap();
    lab.assert_serves("/docs/v1/page.txt", b"two", "a folder on the way replaced");
    lab.assert_serves("/docs/", b"index two", "the index's folder replaced");
    settle();
    // A precompressed sibling appears: a client that takes gzip now gets it.
    let gz = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"two").unwrap();
        encoder.finish().unwrap()
    };
    let before = lab.ask(
        Protocol::Http1,
        "/docs/v1/page.txt",
        &[("accept-encoding", "gzip")],
    );
    assert_eq!(before.field("content-encoding"), None);
    std::fs::write(docs.join("v1/page.txt.gz"), &gz).unwrap();
    for _ in 0..ASKS {
        let seen = lab.ask(
            Protocol::Http1,
            "/docs/v1/page.txt",
            &[("accept-encoding", "gzip")],
        );
        assert_eq!(seen.field("content-encoding"), Some("gzip"));
        assert_eq!(seen.body, gz);
    }
}

#[test]
fn a_rewrite_racing_the_hash_never_leaves_a_wrong_tag() {
    for coarse in [false, true] {
        let Some(lab) = Lab::start_on(1, "", coarse, |dir| {
            std::fs::write(dir.join("www/hot.txt"), content(b'a', 4096)).unwrap();
        }) else {
            continue;
        };
        hammer(&lab, coarse);
    }
}

/// 200 requests while a writer rewrites the file in two halves, so that reads between them see
/// a mix; then the file settles, and what is served must be it, under its own tag.
fn hammer(lab: &Lab, coarse: bool) {
    let path = lab.www().join("hot.txt");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::os::unix::fs::FileExt;
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            let mut round = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && round < 1_000_000 {
                let letter = if round % 2 == 0 { b'A' } else { b'a' };
                let bytes = content(letter, 4096);
                file.write_all_at(&bytes[..2048], 0).unwrap();
                file.write_all_at(&bytes[2048..], 2048).unwrap();
                round += 1;
            }
        })
    };
    for round in 0..200 {
        let protocol = if round % 2 == 0 {
            Protocol::Http1
        } else {
            Protocol::H2c
        };
        let seen = lab.ask(protocol, "/hot.txt", &[]);
        assert_eq!(seen.status, 200);
        if let Some(tag) = seen.field("etag") {
            assert_eq!(
                tag,
                tag_of(&seen.body),
                "coarse {coarse}, round {round}: a tag travels with its bytes"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    // Once the writes stop, the file is one version, and that is what is served and tagged,
    // also to a client revalidating with a tag it saw during the storm.
    let last = std::fs::read(&path).unwrap();
    lab.assert_serves("/hot.txt", &last, "after the storm");
    let other = if last[0] == b'A' {
        content(b'a', 4096)
    } else {
        content(b'A', 4096)
    };
    let seen = lab.ask(
        Protocol::Http1,
        "/hot.txt",
        &[("if-none-match", &tag_of(&other))],
    );
    assert_eq!(seen.status, 200);
    let seen = lab.ask(
        Protocol::Http1,
        "/hot.txt",
        &[("if-none-match", &tag_of(&last))],
    );
    assert_eq!(seen.status, 304);
}

#[test]
fn a_second_write_within_the_same_second_is_seen_on_a_coarse_file_system() {
    for workers in [1, 2] {
        let Some(lab) = Lab::start_on(workers, "", true, |_| {}) else {
            return;
        };
        let path = lab.www().join("same.txt");
        let ctime = |path: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path).unwrap().ctime()
        };
        // Up to a few tries: the two writes must fall in one second of the file system's clock.
        let mut tried = 0;
        loop {
            tried += 1;
            std::fs::write(&path, content(b'a', 1000)).unwrap();
            let first = ctime(&path);
            lab.assert_serves("/same.txt", &content(b'a', 1000), "the first write");
            std::fs::write(&path, content(b'A', 1000)).unwrap();
            if ctime(&path) != first {
                assert!(tried < 5, "never two writes in one second");
                std::fs::remove_file(&path).unwrap();
                continue;
            }
            lab.assert_serves(
                "/same.txt",
                &content(b'A', 1000),
                "a second write, same second",
            );
            for protocol in [Protocol::Http1, Protocol::H2c] {
                let old = tag_of(&content(b'a', 1000));
                let seen = lab.ask(protocol, "/same.txt", &[("if-none-match", &old)]);
                assert_eq!(seen.status, 200, "{protocol:?}: the old tag is not current");
            }
            break;
        }
    }
}

#[test]
fn the_root_follows_its_path_across_a_symlink_swap_and_a_new_folder() {
    each_worker_count(|workers| {
        let lab = Lab::start_with(workers, "", |dir| {
            for release in ["r1", "r2"] {
                std::fs::create_dir_all(dir.join(release)).unwrap();
                std::fs::write(dir.join(release).join("v.txt"), release).unwrap();
            }
            std::fs::remove_dir(dir.join("www")).unwrap();
            std::os::unix::fs::symlink("r1", dir.join("www")).unwrap();
        });
        let base = lab.dir.path();
        settle();
        lab.assert_serves("/v.txt", b"r1", "release 1");
        lab.assert_status("/only-in-r2.txt", 404, "release 1");
        // The usual deploy: a new link renamed over the old one.
        std::fs::write(base.join("r2/only-in-r2.txt"), "new").unwrap();
        std::os::unix::fs::symlink("r2", base.join("www.next")).unwrap();
        std::fs::rename(base.join("www.next"), base.join("www")).unwrap();
        lab.assert_serves("/v.txt", b"r2", "release 2");
        lab.assert_serves("/only-in-r2.txt", b"new", "release 2");
        settle();
        // `ln -sfn`: unlinked, then made.
        std::fs::remove_file(base.join("www")).unwrap();
        std::os::unix::fs::symlink("r1", base.join("www")).unwrap();
        lab.assert_serves("/v.txt", b"r1", "back to release 1");
        settle();

        // A plain folder deleted and made again, as `rm -rf dist && build` does.
        std::fs::remove_file(base.join("www")).unwrap();
        lab.assert_status("/v.txt", 404, "no root");
        std::fs::create_dir(base.join("www")).unwrap();
        std::fs::write(base.join("www/v.txt"), "rebuilt").unwrap();
        lab.assert_serves("/v.txt", b"rebuilt", "the root made again");
        settle();
        std::fs::remove_dir_all(base.join("www")).unwrap();
        std::fs::create_dir(base.join("www")).unwrap();
        std::fs::write(base.join("www/v.txt"), "rebuilt twice").unwrap();
        lab.assert_serves("/v.txt", b"rebuilt twice", "the root made again, twice");
    });
    let lab = Lab::start(1);
    std::fs::remove_dir(lab.www()).unwrap();
    lab.assert_status("/", 404, "a missing root");
    lab.server.wait_for("the root cannot be opened");
}

/// A file that shrinks while its body is on the way: the client gets a prefix of what was
/// promised and then the end of the connection (HTTP/1.1) or of the stream (HTTP/2), never
/// padding and never bytes of another length, over all four ways in: plain, TLS, h2c, h2.
#[test]
fn a_body_that_shrinks_while_sent_is_cut_short() {
    let ca = support::Authority::new();
    let dir = tempfile::tempdir().unwrap();
    ca.leaf(&["a.test"]).write(dir.path(), "a");
    std::fs::create_dir(dir.path().join("www")).unwrap();
    let len = 16 << 20;
    let original = support::pattern(len);
    let config = "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n\
                  server_names = [\"a.test\"]\nroot = \"www\"\nhttp2_cleartext = true\n\
                  [site.tls]\ncert = \"a.pem\"\nkey = \"a.key\"\n";
    let file = write_file(dir.path(), "site.toml", config);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let (plain, tls) = (server.addrs[0], server.addrs[1]);
    let path = dir.path().join("www/big.bin");
    let client_config = Arc::new(ca.client(&[support::TLS13]));

    // A socket with a small receive buffer, so the server is held up after a little.
    let small_socket = |addr: SocketAddr| {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        socket.connect(&addr.into()).unwrap();
        let stream: std::net::TcpStream = socket.into();
        stream.set_read_timeout(Some(support::WAIT)).unwrap();
        stream
    };
    let check = |way: &str, received: &[u8]| {
        assert!(
            received.len() < len,
            "{way}: cut short, not {} bytes",
            received.len()
        );
        assert!(
            received.len() >= 32 * 1024,
            "{way}: the first bytes went out"
        );
        assert!(
            received == &original[..received.len()],
            "{way}: only the file's own bytes"
        );
    };
    let http1 = |stream: &mut dyn ReadWrite, way: &str| {
        std::fs::write(&path, &original).unwrap();
        stream
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
            .unwrap();
        let mut received = vec![0u8; 64 * 1024];
        stream.read_exact(&mut received).unwrap();
        truncate(&path, len / 2);
        // To the end of the connection (a read error counts: TLS without close_notify).
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        received.extend_from_slice(&rest);
        let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&received[..head_end]).to_string();
        assert!(
            head.contains(&format!("Content-Length: {len}\r\n")),
            "{way}: {head}"
        );
        check(way, &received[head_end..]);
    };

    http1(&mut small_socket(plain), "plain HTTP/1.1");
    let mut tls_stream = {
        let mut socket = small_socket(tls);
        let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
        let mut conn = rustls::ClientConnection::new(client_config.clone(), name).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut socket).unwrap();
        }
        rustls::StreamOwned::new(conn, socket)
    };
    http1(&mut tls_stream, "HTTP/1.1 over TLS");

    for (way, addr) in [("h2c", plain), ("h2 over TLS", tls)] {
        std::fs::write(&path, &original).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let received = runtime.block_on(async {
            let tcp = tokio::net::TcpStream::from_std({
                let s = small_socket(addr);
                s.set_nonblocking(true).unwrap();
                s
            })
            .unwrap();
            let io: Box<dyn AsyncIo> = if way == "h2c" {
                Box::new(tcp)
            } else {
                let mut config = (*client_config).clone();
                config.alpn_protocols = vec![b"h2".to_vec()];
                let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
                let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                Box::new(connector.connect(name, tcp).await.unwrap())
            };
            let (client, connection) = h2::client::handshake(io).await.unwrap();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut client = client.ready().await.unwrap();
            let request = http::Request::get("http://a.test/big.bin")
                .body(())
                .unwrap();
            let (response, _) = client.send_request(request, true).unwrap();
            let mut body = response.await.unwrap().into_body();
            // Half a window, not released: the server soon waits for more window.
            let mut received = Vec::new();
            while received.len() < 32 * 1024 {
                let chunk = body.data().await.unwrap().unwrap();
                received.extend_from_slice(&chunk);
            }
            truncate(&path, len / 2);
            let _ = body.flow_control().release_capacity(received.len());
            let ended = loop {
                match body.data().await {
                    Some(Ok(chunk)) => {
                        let _ = body.flow_control().release_capacity(chunk.len());
                        received.extend_from_slice(&chunk);
                    }
                    Some(Err(e)) => break Some(e),
                    None => break None,
                }
            };
            let reset = ended.and_then(|e| e.reason());
            assert!(reset.is_some(), "{way}: the stream is reset, not ended");
            received
        });
        check(way, &received);
    }
}

/// Cuts the file at `path` to `len` bytes, in place.
fn truncate(path: &Path, len: usize) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_len(len as u64).unwrap();
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}
trait AsyncIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AsyncIo for T {}
