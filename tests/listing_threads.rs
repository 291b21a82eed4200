//! Listings built off the worker's thread, through the real binary: the answer that comes later
//! over HTTP/1.1 (plain, TLS, pipelined, HEAD) and HTTP/2 (cleartext and TLS) with everything a
//! response gets (header rules, HSTS, Date, the access log line, the error page of a 503 when
//! the listing threads are busy); a small file answered while ten large listings are still
//! being built; `listing_limit` and its note; kept pages that still show entries added,
//! removed and renamed at once; links inside the root described, links out of it left out.

mod support;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scraper::{Html, Selector};
use support::{
    Authority, Client, H2Request, Server, TLS13, config_problems, connect_tls, exchange_h2,
    exchange_h2c, get, json, wait_lines, write_file,
};

/// A folder for many files: in memory where the machine has `/dev/shm`, where making tens of
/// thousands of files takes a fraction of a second instead of seconds.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("forkhttpd-")
            .tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// `count` empty files with a camera's names in `dir`.
fn fill(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        std::fs::File::create(dir.join(format!("IMG_20241201_{i:06}.jpg"))).unwrap();
    }
}

/// The hrefs of a listing's entries, in page order, without `../`.
fn entry_links(body: &[u8]) -> Vec<String> {
    let html = Html::parse_document(&String::from_utf8_lossy(body));
    let selector = Selector::parse("tbody a[href]").unwrap();
    html.select(&selector)
        .map(|a| a.attr("href").unwrap().to_owned())
        .filter(|href| href != "../")
        .collect()
}

const CONFIG: &str = r#"workers = 1
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
http2_cleartext = true
server_names = ["a.test"]
root = "www"
listing = true
compress = true
hsts = "max-age=600"
access_log = { path = "access.log", format = "json" }
[site.tls]
cert = "a.pem"
key = "a.key"
[[site.headers]]
path = "/files/"
set = { "X-Listing" = "yes", "Cache-Control" = "no-store" }
"#;

struct Sites {
    dir: tempfile::TempDir,
    ca: Authority,
    server: Server,
}

impl Sites {
    fn start() -> Sites {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        ca.leaf(&["a.test"]).write(dir.path(), "a");
        write_file(dir.path(), "www/one.txt", "one");
        write_file(dir.path(), "www/two.txt", "two");
        for i in 0..40 {
            write_file(
                dir.path(),
                &format!("www/files/file{i}.txt"),
                &"x".repeat(i),
            );
        }
        let file = write_file(dir.path(), "site.toml", CONFIG);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        Sites { dir, ca, server }
    }

    fn plain(&self) -> std::net::SocketAddr {
        self.server.addrs[0]
    }

    fn tls(&self) -> std::net::SocketAddr {
        self.server.addrs[1]
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }
}

#[test]
fn a_listing_comes_later_over_every_protocol_with_all_a_response_gets() {
    let sites = Sites::start();
    let plain = get(sites.plain(), "/files/");
    assert_eq!(plain.status, 200);
    assert_eq!(entry_links(&plain.body).len(), 40);
    assert_eq!(plain.header("x-listing"), Some("yes"), "the header rule");
    assert_eq!(plain.header("cache-control"), Some("no-store"));
    assert!(plain.header("date").is_some());
    assert_eq!(plain.header("strict-transport-security"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    let mut client = Client::connect(sites.plain());
    client.send(b"HEAD /files/ HTTP/1.1\r\nHost: a.test\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(plain.body.len().to_string().as_str())
    );
    // No body after the head: the next answer on the connection is the next request's.
    assert_eq!(client.get("/one.txt").text(), "one");

    let config = Arc::new(sites.ca.client(&[TLS13]));
    let mut tls = connect_tls(sites.tls(), "a.test", &config);
    let secure = tls.get_from("a.test", "/files/");
    assert_eq!(secure.status, 200);
    assert_eq!(secure.body, plain.body);
    assert_eq!(
        secure.header("strict-transport-security"),
        Some("max-age=600")
    );
    assert_eq!(secure.header("x-listing"), Some("yes"));

    let gzip = [("accept-encoding", "gzip")];
    let requests = [
        H2Request::get("a.test", "/files/"),
        H2Request {
            method: "HEAD",
            ..H2Request::get("a.test", "/files/")
        },
        H2Request {
            fields: &gzip,
            ..H2Request::get("a.test", "/files/")
        },
        H2Request::get("a.test", "/one.txt"),
    ];
    for (answers, over_tls) in [
        (
            exchange_h2(sites.tls(), "a.test", &sites.ca.client(&[TLS13]), &requests),
            true,
        ),
        (exchange_h2c(sites.plain(), &requests), false),
    ] {
        assert_eq!(answers[0].status, 200);
        assert_eq!(answers[0].body, plain.body, "over TLS: {over_tls}");
        assert_eq!(answers[0].header("x-listing"), Some("yes"));
        assert!(answers[0].header("date").is_some());
        assert_eq!(
            answers[0].header("strict-transport-security").is_some(),
            over_tls
        );
        assert_eq!(answers[1].status, 200);
        assert!(answers[1].body.is_empty());
        assert_eq!(answers[2].header("content-encoding"), Some("gzip"));
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&answers[2].body[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain.body);
        assert_eq!(answers[3].body, b"one");
    }

    // One access log line per answer, with its status and the body bytes that went out.
    let lines = wait_lines(&sites.log(), 12);
    let listings: Vec<_> = (lines.iter().map(|l| json(l)))
        .filter(|l| l["target"] == "/files/")
        .collect();
    assert_eq!(listings.len(), 9, "{lines:?}");
    for line in &listings {
        assert_eq!(line["status"], 200, "{line}");
    }
    let full = plain.body.len() as u64;
    let bytes: Vec<u64> = listings
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .collect();
    // GET over HTTP/1.1, TLS, h2 and h2c; gzip over h2 and h2c; three HEADs.
    assert_eq!(bytes.iter().filter(|b| **b == full).count(), 4, "{bytes:?}");
    assert_eq!(
        bytes.iter().filter(|b| **b == 0).count(),
        3,
        "HEADs: {bytes:?}"
    );
    assert_eq!(
        bytes.iter().filter(|b| (1..full).contains(*b)).count(),
        2,
        "{bytes:?}"
    );
}

#[test]
fn pipelined_listings_keep_their_order() {
    let sites = Sites::start();
    let mut client = Client::connect(sites.plain());
    client.send(
        b"GET /one.txt HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /files/ HTTP/1.1\r\nHost: a.test\r\n\r\n\
          HEAD /files/ HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /files/?sort=size&order=desc HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /two.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
    );
    assert_eq!(client.response().text(), "one");
    let listing = client.response();
    assert_eq!(entry_links(&listing.body)[0], "./file0.txt");
    assert_eq!(client.head_response().status, 200);
    let by_size = client.response();
    assert_eq!(entry_links(&by_size.body)[0], "./file39.txt");
    assert_eq!(client.response().text(), "two");
    // Over TLS too.
    let config = Arc::new(sites.ca.client(&[TLS13]));
    let mut tls = connect_tls(sites.tls(), "a.test", &config);
    tls.send(
        b"GET /files/ HTTP/1.1\r\nHost: a.test\r\n\r\nGET /two.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
    );
    assert_eq!(tls.response().body, listing.body);
    assert_eq!(tls.response().text(), "two");
}

/// Whether the server has sent anything on `stream` yet, without waiting.
fn has_answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let answered = match stream.peek(&mut [0u8; 1]) {
        Ok(n) => n > 0,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("peek: {e}"),
    };
    stream.set_nonblocking(false).unwrap();
    answered
}

/// Entries in the folder the stall tests list: enough that building one listing takes far
/// longer than answering a small file, even in a debug build on a fast machine.
const HUGE: usize = 60_000;

/// The note on such a folder's page: the default limit shows 10,000 of them.
const LEFT_OUT: &str = "The first 10,000 of 60,000 entries in this order; 50,000 more left out.";

#[test]
fn a_small_file_is_answered_while_ten_listings_are_being_built() {
    let dir = scratch();
    fill(&dir.path().join("huge"), HUGE);
    std::fs::write(dir.path().join("small.txt"), "ten bytes\n").unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--listing", "--log-level", "debug", &root]);
    let mut listings: Vec<Client> = (0..10)
        .map(|i| {
            let mut client = Client::connect(server.addr());
            // Ten pages, none kept: each is built.
            let query = ["name", "size", "date"][i % 3];
            let order = if i < 5 { "asc" } else { "desc" };
            client.send(
                format!("GET /huge/?sort={query}&order={order}&n={i} HTTP/1.1\r\nHost: t\r\n\r\n")
                    .as_bytes(),
            );
            client
        })
        .collect();
    // All ten have reached the worker and wait for the listing threads.
    server.wait_for_count("listing queued", 10);
    let small = get(server.addr(), "/small.txt");
    assert_eq!(small.text(), "ten bytes\n");
    for (i, listing) in listings.iter().enumerate() {
        assert!(
            !has_answered(&listing.stream),
            "listing {i} was answered before the small file"
        );
    }
    for listing in &mut listings {
        let response = listing.response();
        assert_eq!(response.status, 200);
        assert!(response.text().contains(LEFT_OUT), "{}", response.head);
    }
    // One stat per entry and no open: the files are no links.
    let built = server.wait_for("listing built");
    assert!(built.contains(&format!("stats={HUGE}")), "{built}");
    assert!(built.contains("opens=0"), "{built}");
}

/// The six orders a listing can be asked in, as queries: six pages of one folder.
const ORDERS: [&str; 6] = [
    "sort=name&order=asc",
    "sort=name&order=desc",
    "sort=size&order=asc",
    "sort=size&order=desc",
    "sort=date&order=asc",
    "sort=date&order=desc",
];

#[test]
fn a_full_listing_queue_answers_503_with_the_sites_page() {
    let dir = scratch();
    // Thirty different pages (five folders, six orders each): requests for the same page wait
    // for one build, so only different pages fill the queue.
    for folder in 0..5 {
        fill(&dir.path().join(format!("www/huge{folder}")), HUGE / 5);
    }
    write_file(dir.path(), "www/busy.html", "come back soon");
    let config = write_file(
        dir.path(),
        "site.toml",
        "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\nlisting = true\n\
         error_pages = { 503 = \"/busy.html\" }\n",
    );
    let server = Server::start_exact(&["-c", config.to_str().unwrap()]);
    // More than the two threads and their queue of sixteen take; the worker reads every request
    // long before the first of these pages is built.
    let mut clients: Vec<Client> = (0..30)
        .map(|i| {
            let mut client = Client::connect(server.addr());
            let (folder, order) = (i / 6, ORDERS[i % 6]);
            client
                .send(format!("GET /huge{folder}/?{order} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            client
        })
        .collect();
    let (mut built, mut busy) = (0, 0);
    for client in &mut clients {
        let response = client.response();
        match response.status {
            200 => {
                assert!(
                    response
                        .text()
                        .contains("The first 10,000 of 12,000 entries"),
                    "{}",
                    response.head
                );
                built += 1;
            }
            503 => {
                assert_eq!(response.header("retry-after"), Some("1"));
                assert_eq!(response.text(), "come back soon");
                busy += 1;
            }
            other => panic!("status {other}"),
        }
    }
    assert!(busy >= 1, "{built} built, none refused");
    assert!(built >= 2, "{built} built, {busy} refused");
    server.wait_for("answering 503");
}

#[test]
fn requests_for_a_page_being_built_wait_for_that_build() {
    let dir = scratch();
    fill(&dir.path().join("huge"), HUGE);
    let root = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--listing", "--log-level", "debug", &root]);
    // The same page ten times (a query the listing ignores tells them apart in the log), then
    // another order of it.
    let mut clients: Vec<Client> = (0..11)
        .map(|i| {
            let mut client = Client::connect(server.addr());
            let query = if i < 10 {
                format!("n={i}")
            } else {
                ORDERS[1].to_string()
            };
            client.send(format!("GET /huge/?{query} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            client
        })
        .collect();
    server.wait_for_count("listing queued", 11);
    let pages: Vec<String> = clients.iter_mut().map(|c| c.response().text()).collect();
    for page in &pages {
        assert!(page.contains(LEFT_OUT));
    }
    assert!(pages[..10].iter().all(|page| page == &pages[0]));
    assert_ne!(pages[10], pages[0], "another order is another page");
    // Two builds: the first page and the other order; nine requests waited for the first.
    server.wait_for_count("listing built", 2);
    let lines = server.lines();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("listing built"), 2, "{lines:#?}");
    assert_eq!(
        count("listing queued behind the same build"),
        9,
        "{lines:#?}"
    );
}

#[test]
fn the_limit_shows_the_first_entries_in_the_order_asked_and_says_how_many_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..25 {
        std::fs::write(dir.path().join(format!("f{i}")), "x".repeat(i)).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--listing", "--listing-limit", "10", &root]);
    let page = get(server.addr(), "/");
    let links = entry_links(&page.body);
    assert_eq!(
        links,
        [
            "./sub/", "./f0", "./f1", "./f2", "./f3", "./f4", "./f5", "./f6", "./f7", "./f8"
        ]
    );
    assert!(
        page.text()
            .contains("The first 10 of 26 entries in this order; 16 more left out."),
        "{}",
        page.text()
    );
    let by_size = entry_links(&get(server.addr(), "/?sort=size&order=desc").body);
    assert_eq!(by_size[..3], ["./sub/", "./f24", "./f23"]);
    assert_eq!(by_size.len(), 10);
    // Under the limit, no note.
    let server = Server::start(&["--listing", "--listing-limit", "26", &root]);
    let page = get(server.addr(), "/");
    assert_eq!(entry_links(&page.body).len(), 26);
    assert!(!page.text().contains("left out"));
}

#[test]
fn listing_limit_mistakes_are_placed() {
    let text = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\nlisting = true\n\
                listing_limit = 0\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n\
                listing_limit = 500\n";
    let (file, lines, _dir) = config_problems(text);
    support::assert_placed(
        &file,
        &lines,
        text,
        "0\n",
        "listing_limit must be at least 1",
    );
    support::assert_placed(
        &file,
        &lines,
        text,
        "500",
        "listing_limit without listing = true",
    );
    let text = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\nlisting = true\n\
                listing_limit = -3\n";
    let (file, lines, _dir) = config_problems(text);
    support::assert_placed(&file, &lines, text, "-3", "");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    for args in [
        &["-t", "--listing", "--listing-limit", "0", root][..],
        &["-t", "--listing-limit", "5", root],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.code().unwrap_or(0) > 0, "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("listing-limit"), "{args:?}: {stderr}");
    }
}

#[test]
fn kept_pages_show_every_change_to_their_folder_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("a.jpg"), "a").unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--listing", "--log-level", "debug", &root]);
    let page = || get(server.addr(), "/photos/").text();
    let names = || entry_links(page().as_bytes());
    let mut kept = 0;
    // The page was served from the listing cache: what follows tests a kept page.
    let mut served_kept = || {
        kept += 1;
        server.wait_for_count("listing served as kept", kept);
    };

    assert_eq!(names(), ["./a.jpg"]);
    assert_eq!(names(), ["./a.jpg"]);
    served_kept();
    std::fs::write(folder.join("b.jpg"), "b").unwrap();
    assert_eq!(names(), ["./a.jpg", "./b.jpg"], "added");

    assert_eq!(names(), ["./a.jpg", "./b.jpg"]);
    served_kept();
    std::fs::rename(folder.join("a.jpg"), folder.join("c.jpg")).unwrap();
    assert_eq!(names(), ["./b.jpg", "./c.jpg"], "renamed");

    assert_eq!(names(), ["./b.jpg", "./c.jpg"]);
    served_kept();
    std::fs::remove_file(folder.join("b.jpg")).unwrap();
    assert_eq!(names(), ["./c.jpg"], "removed");

    // A file written in place changes no entry of the folder, only the file's size and date,
    // which its row shows; the same with its date set back as it was (`cp -p`).
    assert!(page().contains("1 B"));
    served_kept();
    let file = folder.join("c.jpg");
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, vec![b'c'; 1536]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let shown = page();
    assert!(
        shown.contains("1.5 KiB") && !shown.contains("1 B"),
        "{shown}"
    );

    // A folder on the way replaced: the page of the new one.
    assert!(page().contains("1.5 KiB"));
    served_kept();
    std::fs::rename(&folder, dir.path().join("old")).unwrap();
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("new.jpg"), "new").unwrap();
    assert_eq!(names(), ["./new.jpg"], "made again");
}

#[test]
fn links_inside_the_root_are_described_and_links_outside_left_out() {
    let site = support::Site::new();
    let root = site.root();
    std::fs::create_dir(root.join("links")).unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, root.join("links").join(name)).unwrap()
    };
    link(Path::new("../hello.txt"), "in.txt");
    link(&root.join("data.bin"), "abs-in.bin");
    link(Path::new("../sub"), "dir-in");
    link(Path::new("../../secret.txt"), "out.txt");
    link(Path::new("../../outside"), "dir-out");
    link(Path::new("/etc/passwd"), "abs-out");
    link(Path::new("missing"), "dangling");
    let server = Server::start(&["--listing", &site.root_arg()]);
    let page = get(server.addr(), "/links/");
    assert_eq!(page.status, 200);
    assert_eq!(
        entry_links(&page.body),
        ["./dir-in/", "./abs-in.bin", "./in.txt"]
    );
    let text = page.text();
    assert!(text.contains("200.0 KiB"), "the target's size: {text}");
    assert!(text.contains("13 B"), "hello.txt's size: {text}");
    assert!(
        !text.contains("secret") && !text.contains("passwd"),
        "{text}"
    );
}
