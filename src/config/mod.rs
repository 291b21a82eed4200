//! The command line or the configuration file, turned into a validated [`Config`] that the
//! master and every worker get whole. Defaults are the named constants of `limits.rs`.
//!
//! The command line describes one site (`from_cli`); `-c FILE` describes many (`file.rs`).
//! Both make the same value, so nothing past this module knows where it came from.

mod file;

pub use file::ConfigError;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::access_log::{self, Destination, Format, SinkId, Spec};
use crate::auth::BasicAuth;
use crate::conn::{ConnLimits, Http2Limits};
use crate::fs::SiteOptions;
use crate::fs::mime::{self, Types};
use crate::http::parse::HeadLimits;
use crate::limits;
use crate::proxy_proto::Cidr;
use crate::vhost::Route;

/// Addresses served when no `--listen` is given.
pub const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:8000", "127.0.0.1:8080"];

const EXAMPLES: &str = "\
Examples:
  forkhttpd                          the built-in welcome site on 127.0.0.1:8000 and :8080
  forkhttpd ./site                   serve ./site on the same addresses
  forkhttpd -l 8080 ./site           serve on port 8080 of every IPv4 interface
  forkhttpd -l [::1]:8443 -l 127.0.0.1:8443 ./site
  forkhttpd -w 4 --listing /srv/files
  forkhttpd -c /etc/forkhttpd.toml   sites, rules and logs from a configuration file
  forkhttpd -t -c /etc/forkhttpd.toml   check the file and exit

Signals to the master: TERM or INT stop gracefully (a second INT stops at once),
HUP reloads with new workers and no downtime, USR1 reopens the log file.";

#[derive(Parser, Debug)]
#[command(name = "forkhttpd", version, about = "A prefork static web server: HTTP/1.1 and HTTP/2, plain and over TLS", after_help = EXAMPLES)]
pub struct Cli {
    /// Read sites, limits and logs from this TOML file instead of the options below.
    #[arg(short = 'c', long = "config", value_name = "FILE", conflicts_with_all = SITE_ARGS)]
    pub config: Option<PathBuf>,

    /// Check the configuration (the file, or the options) and exit: 0 if it is good, else 1
    /// with each problem on its own line.
    #[arg(short = 't', long = "test")]
    pub test: bool,

    /// Folder to serve. Without it, the built-in welcome site is served.
    pub root: Option<PathBuf>,

    /// Address to listen on: PORT (every IPv4 interface), HOST:PORT or [V6]:PORT. Repeatable.
    /// [default: 127.0.0.1:8000 and 127.0.0.1:8080]
    #[arg(short, long = "listen", value_name = "ADDR")]
    pub listen: Vec<String>,

    /// Worker processes [default: the number of CPUs]
    #[arg(short, long, value_name = "N")]
    pub workers: Option<usize>,

    /// Show an HTML listing for directories that have no index.html.
    #[arg(long)]
    pub listing: bool,

    /// Most entries on a listing page; a larger folder shows its first N in the order asked
    /// for, and says how many were left out.
    #[arg(long, value_name = "N", default_value_t = limits::LISTING_LIMIT, requires = "listing")]
    pub listing_limit: usize,

    /// Serve dotfiles and dot-directories (otherwise 404, except /.well-known/).
    #[arg(long)]
    pub hidden: bool,

    /// Compress text, JavaScript, JSON, SVG, XML and WASM files of 1 KiB to 8 MiB on the fly
    /// (brotli, zstd or gzip, as the client prefers); each result is cached.
    #[arg(long)]
    pub compress: bool,

    /// Memory per worker for the compressed copies made by --compress.
    #[arg(long, value_name = "BYTES", default_value_t = limits::COMPRESS_CACHE_BYTES)]
    pub compress_cache_bytes: usize,

    /// Memory per worker for small responses kept ready to send (files up to 64 KiB, 404
    /// pages); 0 turns the cache off. Entries are checked against the file once a second.
    #[arg(long, value_name = "BYTES", default_value_t = limits::FILE_CACHE_BYTES)]
    pub file_cache_bytes: usize,

    /// Cache-Control header for files, e.g. "public, max-age=3600".
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,

    /// Content-Type for files with no extension or one no table knows, other than a project's
    /// text files (README, LICENSE, Makefile...), e.g. "text/plain; charset=utf-8".
    /// [default: application/octet-stream]
    #[arg(long, value_name = "TYPE")]
    pub default_type: Option<String>,

    /// Seconds a client has to send a whole request head.
    #[arg(long, value_name = "SECS", default_value_t = limits::HEADER_TIMEOUT.as_secs_f64())]
    pub header_timeout: f64,

    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, value_name = "SECS", default_value_t = limits::KEEPALIVE_TIMEOUT.as_secs_f64())]
    pub keepalive_timeout: f64,

    /// Seconds a write may wait for a client that does not read.
    #[arg(long, value_name = "SECS", default_value_t = limits::SEND_TIMEOUT.as_secs_f64())]
    pub send_timeout: f64,

    /// Largest request head in bytes (request line and headers).
    #[arg(long, value_name = "BYTES", default_value_t = limits::MAX_HEAD_BYTES)]
    pub max_head_bytes: usize,

    /// Most header fields in a request (at most 512).
    #[arg(long, value_name = "N", default_value_t = limits::MAX_HEADERS)]
    pub max_headers: usize,

    /// Largest request body read (and discarded) before answering 413.
    #[arg(long, value_name = "BYTES", default_value_t = limits::MAX_BODY_BYTES)]
    pub max_body_bytes: u64,

    /// Requests served on one connection before it is closed.
    #[arg(long, value_name = "N", default_value_t = limits::MAX_REQUESTS_PER_CONNECTION)]
    pub max_requests_per_connection: u32,

    /// Open connections per worker; at the limit the worker stops accepting.
    #[arg(long, value_name = "N", default_value_t = limits::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Seconds a graceful stop may take before remaining workers are killed.
    #[arg(long, value_name = "SECS", default_value_t = limits::SHUTDOWN_TIMEOUT.as_secs_f64())]
    pub shutdown_timeout: f64,

    /// Write the master's pid to this file; removed on exit.
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,

    /// Append the log to this file instead of stderr; reopened on SIGUSR1.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Least severe level logged: error, warn, info or debug.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: tracing::Level,

    /// Run the workers as this user (the master, started as root, binds and opens files first).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The workers' group with --user [default: the user's own group].
    #[arg(long, value_name = "NAME", requires = "user")]
    pub group: Option<String>,

    /// Write an access log line per response: to a file PATH, to `stdout`, or to
    /// `syslog+udp://HOST:PORT`.
    #[arg(long, value_name = "DEST")]
    pub access_log: Option<String>,

    /// Serve HTTPS on this address too (or only, without --listen): PORT, HOST:PORT or
    /// [V6]:PORT. Repeatable. Needs --cert and --key.
    #[arg(long = "tls-listen", value_name = "ADDR")]
    pub tls_listen: Vec<String>,

    /// PEM certificate chain for --tls-listen, the server's certificate first.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// PEM private key for --cert (PKCS#8, SEC1 or PKCS#1).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Every connection starts with a PROXY protocol header (version 1 or 2) from a proxy in
    /// front, naming the client; the access log shows that client. Needs --trusted-proxy.
    #[arg(long, requires = "trusted_proxies")]
    pub proxy_protocol: bool,

    /// A proxy allowed to connect and send the PROXY header: ADDRESS or ADDRESS/PREFIX, IPv4
    /// or IPv6. Repeatable. Any other peer is closed without an answer.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        requires = "proxy_protocol"
    )]
    pub trusted_proxies: Vec<String>,

    /// Format of the access log: combined (nginx's default) or json.
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "combined",
        requires = "access_log"
    )]
    pub access_log_format: String,
}

/// The options that describe what `-c FILE` describes instead.
const SITE_ARGS: [&str; 32] = [
    "tls_listen",
    "proxy_protocol",
    "trusted_proxies",
    "cert",
    "key",
    "root",
    "listen",
    "workers",
    "listing",
    "listing_limit",
    "hidden",
    "compress",
    "compress_cache_bytes",
    "file_cache_bytes",
    "cache_control",
    "default_type",
    "header_timeout",
    "keepalive_timeout",
    "send_timeout",
    "max_head_bytes",
    "max_headers",
    "max_body_bytes",
    "max_requests_per_connection",
    "max_connections",
    "shutdown_timeout",
    "pid_file",
    "log_file",
    "log_level",
    "user",
    "group",
    "access_log",
    "access_log_format",
];

/// Everything the server needs, checked.
#[derive(Debug)]
pub struct Config {
    /// The configuration file this came from; SIGHUP reads it again.
    pub source: Option<PathBuf>,
    /// Every listen socket, once each.
    pub listen: Vec<SocketAddr>,
    /// For each listen socket, in the same order, its TLS configuration if it is a TLS socket.
    pub(crate) tls: Vec<Option<Arc<rustls::ServerConfig>>>,
    /// For each listen socket, in the same order, whether a plain one takes HTTP/2 with prior
    /// knowledge (`http2_cleartext`).
    pub(crate) http2_cleartext: Vec<bool>,
    /// For each listen socket, in the same order, the proxies trusted to send a PROXY header
    /// on it, if its sites take one (`proxy_protocol`); no other peer may connect there.
    pub(crate) proxy_protocol: Vec<Option<Rc<[Cidr]>>>,
    pub sites: Vec<SiteConfig>,
    /// For each listen socket, in the same order, which site answers which name.
    pub(crate) routes: Vec<Route>,
    /// Every access log destination, once each; sites name theirs by index.
    pub(crate) access_logs: Vec<Spec>,
    pub workers: usize,
    /// Memory for the response cache, per worker; 0 turns it off.
    pub file_cache_bytes: usize,
    /// Memory for compressed copies of files, per worker.
    pub compress_cache_bytes: usize,
    pub conn: ConnLimits,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    /// How long a graceful stop first answers health checks with `503` while it still serves.
    pub unhealthy_before_stop: Duration,
    pub pid_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub log_level: tracing::Level,
    /// Who the workers run as (`user`, `group`); `None`: as the master.
    pub user: Option<crate::privileges::Account>,
    /// `[metrics] listen`: where `GET /metrics` is answered; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// One site: what it serves, and the policies around it.
#[derive(Debug)]
pub struct SiteConfig {
    /// For logs: its first server name, or `siteN`.
    pub name: String,
    /// `None`: the built-in welcome site.
    pub root: Option<PathBuf>,
    pub options: SiteOptions,
    pub(crate) auth: Option<Rc<BasicAuth>>,
    pub(crate) access_log: Option<SinkId>,
    /// `health_path`: answered `200`, or `503` once the instance is stopping.
    pub(crate) health: Option<crate::vhost::HealthCheck>,
    /// `https_redirect`: plain requests are redirected to HTTPS on the port of this socket
    /// (an index into `Config::listen`).
    pub https_socket: Option<usize>,
    /// `Strict-Transport-Security` for its HTTPS answers.
    pub hsts: Option<String>,
    /// Its certificate's file and expiry, when it has one.
    pub certificate: Option<crate::tls::Expiry>,
    /// What the ACME helper orders for it (`acme = { ... }` in `[site.tls]`).
    pub acme: Option<crate::acme::Order>,
}

impl Config {
    /// The configuration the command line asks for: its file if it names one.
    pub fn load(cli: Cli) -> anyhow::Result<Config> {
        match &cli.config {
            Some(path) => Ok(file::load(path)?),
            None => Config::from_cli(cli),
        }
    }

    /// Reads the configuration file again, for a reload.
    pub fn reload(&self) -> Option<Result<Config, ConfigError>> {
        self.source.as_deref().map(file::load)
    }

    pub fn from_cli(cli: Cli) -> anyhow::Result<Config> {
        // With --tls-listen alone, no plain address is bound.
        let listen_args: Vec<&str> = if cli.listen.is_empty() && cli.tls_listen.is_empty() {
            DEFAULT_LISTEN.to_vec()
        } else {
            cli.listen.iter().map(String::as_str).collect()
        };
        let mut listen = Vec::new();
        let mut tls = Vec::new();
        let mut cli_expiry = None;
        let tls_config = match (&cli.cert, &cli.key, cli.tls_listen.is_empty()) {
            (Some(cert), Some(key), false) => {
                let pair = crate::tls::load_key_pair(cert, key).map_err(anyhow::Error::msg)?;
                cli_expiry = crate::tls::expiry(cert, &pair);
                Some(crate::tls::server_config(
                    Route::default(),
                    vec![Some(pair)],
                    true,
                ))
            }
            (_, _, false) => bail!("--tls-listen needs --cert and --key"),
            (None, None, true) => None,
            (_, _, true) => bail!("--cert and --key need --tls-listen"),
        };
        let plain = listen_args.into_iter().map(|arg| (arg, false));
        let secure = cli.tls_listen.iter().map(|arg| (arg.as_str(), true));
        for (arg, is_tls) in plain.chain(secure) {
            for addr in parse_listen(arg)? {
                match listen.iter().position(|a| *a == addr) {
                    // Port 0 asks for any free port: two of them are two listeners.
                    Some(_) if addr.port() == 0 => {}
                    Some(at) if tls[at] == is_tls => continue,
                    Some(_) => bail!("{addr} cannot be both a plain and a TLS address"),
                    None => {}
                }
                listen.push(addr);
                tls.push(is_tls);
            }
        }
        let tls: Vec<_> = tls
            .into_iter()
            .map(|on| if on { tls_config.clone() } else { None })
            .collect();
        let workers = match cli.workers {
            Some(0) => bail!("--workers must be at least 1"),
            Some(n) if n > 1024 => bail!("--workers must be at most 1024"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if cli.max_headers == 0 || cli.max_headers > limits::MAX_HEADERS_CEILING {
            bail!(
                "--max-headers must be between 1 and {}",
                limits::MAX_HEADERS_CEILING
            );
        }
        if cli.max_head_bytes < 64 {
            bail!("--max-head-bytes must be at least 64");
        }
        if cli.max_connections == 0 || cli.max_connections > u32::MAX as usize {
            bail!("--max-connections must be at least 1");
        }
        if let Some(value) = &cli.cache_control
            && (value.is_empty() || value.bytes().any(|b| b.is_ascii_control()))
        {
            bail!("--cache-control must be a non-empty header value without control characters");
        }
        let default_type = match &cli.default_type {
            Some(value) if !mime::is_media_type(value) => {
                bail!("--default-type must be a media type such as \"text/plain\"")
            }
            Some(value) => Some(file::intern(value)),
            None => None,
        };
        if cli.listing_limit == 0 {
            bail!("--listing-limit must be at least 1");
        }
        if cli.max_requests_per_connection == 0 {
            bail!("--max-requests-per-connection must be at least 1");
        }
        let trusted: Vec<Cidr> = (cli.trusted_proxies.iter())
            .map(|text| {
                Cidr::parse(text).map_err(|e| anyhow::anyhow!("--trusted-proxy {text}: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let trusted: Option<Rc<[Cidr]>> = cli.proxy_protocol.then(|| trusted.into());
        let mut access_logs = Vec::new();
        if let Some(destination) = &cli.access_log {
            let destination = Destination::parse(destination)
                .map_err(|e| anyhow::anyhow!("--access-log: {e}"))?;
            let format = Format::parse(&cli.access_log_format)
                .map_err(|e| anyhow::anyhow!("--access-log-format: {e}"))?;
            let spec = Spec {
                destination,
                format,
            };
            access_log::check(&spec).context("cannot open the access log")?;
            access_logs.push(spec);
        }
        let site = SiteConfig {
            name: "default".into(),
            root: cli.root,
            options: SiteOptions {
                listing: cli.listing,
                listing_limit: cli.listing_limit,
                hidden: cli.hidden,
                compress: cli.compress,
                cache_control: cli.cache_control,
                types: Types::new(Vec::new(), default_type),
                ..SiteOptions::default()
            },
            auth: None,
            access_log: (!access_logs.is_empty()).then_some(SinkId(0)),
            health: None,
            https_socket: None,
            hsts: None,
            certificate: cli_expiry,
            acme: None,
        };
        Ok(Config {
            source: None,
            routes: vec![Route::default(); listen.len()],
            http2_cleartext: vec![false; listen.len()],
            proxy_protocol: vec![trusted; listen.len()],
            listen,
            tls,
            sites: vec![site],
            access_logs,
            workers,
            file_cache_bytes: cli.file_cache_bytes,
            compress_cache_bytes: cli.compress_cache_bytes,
            conn: ConnLimits {
                head: HeadLimits {
                    max_head_bytes: cli.max_head_bytes,
                    max_headers: cli.max_headers,
                    max_body_bytes: cli.max_body_bytes,
                },
                header_timeout: seconds("--header-timeout", cli.header_timeout)?,
                // 0 is allowed here alone: keep-alive off.
                keepalive_timeout: match cli.keepalive_timeout {
                    secs if (0.0..=86_400.0).contains(&secs) => Duration::from_secs_f64(secs),
                    _ => bail!(
                        "--keepalive-timeout must be between 0 ({KEEPALIVE_OFF}) and 86400 seconds"
                    ),
                },
                send_timeout: seconds("--send-timeout", cli.send_timeout)?,
                max_requests: cli.max_requests_per_connection,
                http2: Http2Limits::default(),
            },
            max_connections: cli.max_connections,
            shutdown_timeout: seconds("--shutdown-timeout", cli.shutdown_timeout)?,
            unhealthy_before_stop: Duration::ZERO,
            pid_file: cli.pid_file,
            log_file: cli.log_file,
            log_level: cli.log_level,
            user: cli
                .user
                .as_deref()
                .map(|user| crate::privileges::Account::lookup(user, cli.group.as_deref()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--user: {e}"))?,
            metrics_listen: None,
        })
    }
}

/// What `keepalive_timeout = 0` means, in the message refusing a value out of range.
pub(crate) const KEEPALIVE_OFF: &str = "keep-alive off";

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value > 0.0 && value <= 86_400.0) {
        bail!("{flag} must be more than 0 and at most 86400 seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

/// `PORT`, `HOST:PORT` or `[V6]:PORT`. A host name may stand for several addresses.
pub fn parse_listen(arg: &str) -> anyhow::Result<Vec<SocketAddr>> {
    if let Ok(port) = arg.parse::<u16>() {
        return Ok(vec![SocketAddr::from(([0, 0, 0, 0], port))]);
    }
    if let Ok(addr) = arg.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if !arg.contains(':') {
        bail!("invalid listen address {arg:?}: expected PORT, HOST:PORT or [V6]:PORT");
    }
    let addrs: Vec<SocketAddr> = arg
        .to_socket_addrs()
        .with_context(|| format!("invalid listen address {arg:?}"))?
        .collect();
    if addrs.is_empty() {
        bail!("listen address {arg:?} resolves to nothing");
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("8000").unwrap(),
            vec!["0.0.0.0:8000".parse().unwrap()]
        );
        assert_eq!(
            parse_listen("127.0.0.1:1").unwrap(),
            vec!["127.0.0.1:1".parse().unwrap()]
        );
        assert_eq!(
            parse_listen("[::1]:80").unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert!(parse_listen("nonsense").is_err());
        assert!(parse_listen("70000").is_err());
    }

    #[test]
    fn defaults() {
        let config = Config::from_cli(Cli::parse_from(["forkhttpd"])).unwrap();
        assert_eq!(config.listen.len(), 2);
        assert!(config.workers >= 1);
        assert_eq!(config.conn.head.max_head_bytes, limits::MAX_HEAD_BYTES);
        assert!(Config::from_cli(Cli::parse_from(["forkhttpd", "-w", "0"])).is_err());
    }
}
