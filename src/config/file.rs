//! The configuration file (`-c FILE`): TOML read with serde into the schema below, then checked
//! and compiled into the same [`Config`] the command line makes.
//!
//! The schema's names are the interface users write and tests depend on. Unknown keys and wrong
//! types are refused by serde (`deny_unknown_fields`) with the span `toml` reports; every other
//! problem (a missing root, a name two sites claim on one socket, a glob that does not parse,
//! a users file that cannot be read) is collected with the span of the value at fault, so one
//! run of `forkhttpd -t -c FILE` lists them all as `FILE:line:column: problem`.
//!
//! Relative paths in the file are relative to the file's own folder, so `-t` gives the same
//! answer from any working directory.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use toml::Spanned;

use super::{Config, KEEPALIVE_OFF, SiteConfig, parse_listen};
use crate::access_log::{self, Destination, Format, SinkId, Spec};
use crate::auth::{self, BasicAuth};
use crate::conn::{ConnLimits, Http2Limits};
use crate::fs::SiteOptions;
use crate::fs::mime::{self, Types};
use crate::fs::open::RootDir;
use crate::fs::rules::{HeaderRule, HeaderRules, Redirect, Rules, compile_glob, never_a_url_path};
use crate::http::Status;
use crate::http::parse::HeadLimits;
use crate::limits;
use crate::proxy_proto::Cidr;
use crate::vhost::{Route, parse_server_name};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    workers: Option<Spanned<usize>>,
    error_log: Option<Spanned<String>>,
    log_level: Option<Spanned<String>>,
    pid_file: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    #[serde(default)]
    limits: LimitsSchema,
    #[serde(default)]
    site: Vec<Spanned<SiteSchema>>,
    metrics: Option<MetricsSchema>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSchema {
    listen: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSchema {
    header_timeout: Option<Spanned<f64>>,
    keepalive_timeout: Option<Spanned<f64>>,
    send_timeout: Option<Spanned<f64>>,
    shutdown_timeout: Option<Spanned<f64>>,
    unhealthy_before_stop: Option<Spanned<f64>>,
    max_head_bytes: Option<Spanned<usize>>,
    max_headers: Option<Spanned<usize>>,
    max_body_bytes: Option<u64>,
    max_requests_per_connection: Option<Spanned<u32>>,
    max_connections: Option<Spanned<usize>>,
    http2_max_concurrent_streams: Option<Spanned<usize>>,
    http2_max_pending_resets: Option<Spanned<usize>>,
    http2_max_error_resets: Option<Spanned<usize>>,
    file_cache_bytes: Option<usize>,
    compress_cache_bytes: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSchema {
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    #[serde(default)]
    listen_tls: Vec<Spanned<String>>,
    https_redirect: Option<Spanned<bool>>,
    hsts: Option<Spanned<String>>,
    http2: Option<Spanned<bool>>,
    http2_cleartext: Option<Spanned<bool>>,
    proxy_protocol: Option<Spanned<bool>>,
    trusted_proxies: Option<Spanned<Vec<Spanned<String>>>>,
    tls: Option<TlsSchema>,
    #[serde(default)]
    server_names: Vec<Spanned<String>>,
    default: Option<Spanned<bool>>,
    root: Option<Spanned<String>>,
    index: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    listing: bool,
    listing_limit: Option<Spanned<usize>>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    compress: bool,
    cache_control: Option<Spanned<String>>,
    default_type: Option<Spanned<String>>,
    #[serde(default)]
    types: BTreeMap<Spanned<String>, Spanned<String>>,
    spa_fallback: Option<Spanned<String>>,
    health_path: Option<Spanned<String>>,
    #[serde(default)]
    health_log: bool,
    #[serde(default)]
    error_pages: BTreeMap<Spanned<String>, Spanned<String>>,
    access_log: Option<AccessLogSchema>,
    #[serde(default)]
    headers: Vec<HeaderRuleSchema>,
    #[serde(default)]
    redirects: Vec<RedirectSchema>,
    auth: Option<AuthSchema>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSchema {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    acme: Option<Spanned<AcmeSchema>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcmeSchema {
    email: Option<Spanned<String>>,
    directory: Option<Spanned<String>>,
    state: Spanned<String>,
    ca_root: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessLogSchema {
    path: Spanned<String>,
    format: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderRuleSchema {
    path: Spanned<String>,
    #[serde(default)]
    set: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    remove: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectSchema {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    prefix: bool,
    status: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSchema {
    realm: Spanned<String>,
    users_file: Spanned<String>,
    paths: Vec<Spanned<String>>,
}

/// Fields a header rule may not touch: the connection owns framing and persistence, and the
/// pipeline the coding and range of the body; a rule that changed them would break the
/// response rather than decorate it.
const RESERVED_FIELDS: [&str; 9] = [
    "content-length",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "connection",
    "date",
    "keep-alive",
    "upgrade",
    "trailer",
];

/// Everything wrong with a configuration file.
#[derive(Debug)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// Problems found so far, each placed at its span in the file.
struct Problems<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset and the problem's line.
    found: Vec<(usize, String)>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, problem: impl std::fmt::Display) {
        let (line, column) = line_column(self.text, span.start);
        let path = self.path.display();
        let text = format!("{path}:{line}:{column}: {problem}");
        self.found.push((span.start, text));
    }

    /// Everything found, in the order of the file.
    fn into_error(mut self) -> ConfigError {
        self.found.sort_by_key(|(offset, _)| *offset);
        ConfigError {
            problems: self.found.into_iter().map(|(_, text)| text).collect(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Reads, checks and compiles the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![format!("{}: cannot read: {e}", path.display())],
    })?;
    let mut problems = Problems {
        path,
        text: &text,
        found: Vec::new(),
    };
    let schema: FileSchema = match toml::from_str(&text) {
        Ok(schema) => schema,
        Err(e) => {
            let message = e.message().trim_end().replace('\n', " ");
            problems.at(e.span().unwrap_or(0..0), message);
            return Err(problems.into_error());
        }
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let base = parent.unwrap_or(Path::new("."));
    // Absolute, so the paths it makes mean the same after the master's working directory
    // changes, and read well in logs.
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let config = compile(schema, &base, path, &mut problems);
    if problems.found.is_empty() {
        Ok(config)
    } else {
        Err(problems.into_error())
    }
}

fn compile(schema: FileSchema, base: &Path, source: &Path, problems: &mut Problems) -> Config {
    let relative = |value: &str| base.join(value);
    let workers = match &schema.workers {
        Some(n) if !(1..=1024).contains(n.get_ref()) => {
            problems.at(n.span(), "workers must be between 1 and 1024");
            1
        }
        Some(n) => *n.get_ref(),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let log_file = match &schema.error_log {
        Some(value) if value.get_ref() == "stderr" => None,
        Some(value) if value.get_ref().is_empty() => {
            problems.at(value.span(), "error_log must be \"stderr\" or a path");
            None
        }
        Some(value) => Some(relative(value.get_ref())),
        None => None,
    };
    let log_level = match &schema.log_level {
        Some(value) => value.get_ref().parse().unwrap_or_else(|_| {
            problems.at(value.span(), "log_level must be error, warn, info or debug");
            tracing::Level::INFO
        }),
        None => tracing::Level::INFO,
    };
    let pid_file = schema.pid_file.as_ref().map(|p| relative(p.get_ref()));
    let user = compile_user(&schema, problems);
    let (conn, max_connections, shutdown_timeout, unhealthy_before_stop) =
        compile_limits(&schema.limits, problems);
    let compress_cache_bytes = schema
        .limits
        .compress_cache_bytes
        .unwrap_or(limits::COMPRESS_CACHE_BYTES);

    if schema.site.is_empty() {
        problems.at(
            0..0,
            "no [[site]]: the file must describe at least one site",
        );
    }
    let mut sockets = Sockets::default();
    let mut site_listeners: Vec<Vec<usize>> = Vec::new();
    let mut sites = Vec::new();
    let mut site_keys = Vec::new();
    let mut access_logs: Vec<Spec> = Vec::new();
    for (index, spanned) in schema.site.iter().enumerate() {
        let site = spanned.get_ref();
        if site.listen.is_empty() && site.listen_tls.is_empty() {
            problems.at(
                spanned.span(),
                "a site needs listen or listen_tls addresses",
            );
        }
        let mut mine = Vec::new();
        sockets.add(&site.listen, false, &mut mine, problems);
        sockets.add(&site.listen_tls, true, &mut mine, problems);
        let mut site_config = compile_site(
            index,
            site,
            SiteOptions::default(),
            &relative,
            &mut access_logs,
            problems,
        );
        site_keys.push(compile_tls(
            spanned,
            &sockets,
            &mine,
            &mut site_config,
            &relative,
            problems,
        ));
        sites.push(site_config);
        site_listeners.push(mine);
    }
    let routes = compile_routes(&schema.site, &site_listeners, sockets.addrs.len(), problems);
    let (http2, http2_cleartext) = compile_http2(&schema.site, &site_listeners, &sockets, problems);
    let proxy_protocol = compile_proxy_protocol(&schema.site, &site_listeners, &sockets, problems);
    let tls = sockets
        .tls
        .iter()
        .zip(&routes)
        .zip(&http2)
        .map(|((&tls, route), &http2)| {
            tls.then(|| crate::tls::server_config(route.clone(), site_keys.clone(), http2))
        })
        .collect();
    let metrics_listen = schema
        .metrics
        .as_ref()
        .and_then(|metrics| compile_metrics(metrics, &sockets, problems));
    let listen = sockets.addrs;

    Config {
        source: Some(source.to_path_buf()),
        compress_cache_bytes,
        listen,
        tls,
        http2_cleartext,
        proxy_protocol,
        sites,
        routes,
        access_logs,
        workers,
        file_cache_bytes: schema
            .limits
            .file_cache_bytes
            .unwrap_or(limits::FILE_CACHE_BYTES),
        conn,
        max_connections,
        shutdown_timeout,
        unhealthy_before_stop,
        pid_file,
        user,
        log_file,
        log_level,
        metrics_listen,
    }
}

/// `[metrics] listen`: one address, not one a site listens on (a scrape must not meet a site,
/// nor a client the metrics). Port 0 is a free port of its own, like a site's.
fn compile_metrics(
    schema: &MetricsSchema,
    sockets: &Sockets,
    problems: &mut Problems,
) -> Option<SocketAddr> {
    let span = schema.listen.span();
    let addrs = match parse_listen(schema.listen.get_ref()) {
        Ok(addrs) => addrs,
        Err(e) => {
            problems.at(span, format!("{e:#}"));
            return None;
        }
    };
    let [addr] = addrs[..] else {
        problems.at(
            span,
            format!(
                "{:?} stands for {} addresses; give one",
                schema.listen.get_ref(),
                addrs.len()
            ),
        );
        return None;
    };
    if addr.port() != 0 && sockets.addrs.contains(&addr) {
        problems.at(span, format!("{addr} is a site's listen address"));
        return None;
    }
    Some(addr)
}

/// `user` and `group`: looked up now, so a name the system does not know is placed.
fn compile_user(
    schema: &FileSchema,
    problems: &mut Problems,
) -> Option<crate::privileges::Account> {
    let Some(user) = &schema.user else {
        if let Some(group) = &schema.group {
            problems.at(group.span(), "group needs user");
        }
        return None;
    };
    let group = schema.group.as_ref();
    match crate::privileges::Account::lookup(user.get_ref(), group.map(|g| g.get_ref().as_str())) {
        Ok(account) => Some(account),
        Err(problem) => {
            let span = match group {
                Some(group) if problem.starts_with("no group") => group.span(),
                _ => user.span(),
            };
            problems.at(span, problem);
            None
        }
    }
}

fn compile_limits(
    schema: &LimitsSchema,
    problems: &mut Problems,
) -> (ConnLimits, usize, Duration, Duration) {
    // Unlike the timeouts, 0 is allowed (and the default): stop without announcing it.
    let unhealthy_before_stop = match &schema.unhealthy_before_stop {
        Some(v) if !(0.0..=86_400.0).contains(v.get_ref()) => {
            problems.at(
                v.span(),
                "unhealthy_before_stop must be between 0 and 86400 seconds",
            );
            Duration::ZERO
        }
        Some(v) => Duration::from_secs_f64(*v.get_ref()),
        None => Duration::ZERO,
    };
    // `zero`: what 0 means, where it means something (keep-alive's off switch).
    let mut seconds = |value: &Option<Spanned<f64>>,
                       name: &str,
                       default: Duration,
                       zero: Option<&str>| match value {
        Some(v) if *v.get_ref() == 0.0 && zero.is_some() => Duration::ZERO,
        Some(v) if !(*v.get_ref() > 0.0 && *v.get_ref() <= 86_400.0) => {
            let allowed = match zero {
                Some(meaning) => format!("between 0 ({meaning}) and 86400 seconds"),
                None => "more than 0 and at most 86400 seconds".to_owned(),
            };
            problems.at(v.span(), format!("{name} must be {allowed}"));
            default
        }
        Some(v) => Duration::from_secs_f64(*v.get_ref()),
        None => default,
    };
    let header_timeout = seconds(
        &schema.header_timeout,
        "header_timeout",
        limits::HEADER_TIMEOUT,
        None,
    );
    let keepalive_timeout = seconds(
        &schema.keepalive_timeout,
        "keepalive_timeout",
        limits::KEEPALIVE_TIMEOUT,
        Some(KEEPALIVE_OFF),
    );
    let send_timeout = seconds(
        &schema.send_timeout,
        "send_timeout",
        limits::SEND_TIMEOUT,
        None,
    );
    let shutdown_timeout = seconds(
        &schema.shutdown_timeout,
        "shutdown_timeout",
        limits::SHUTDOWN_TIMEOUT,
        None,
    );

    let mut bounded =
        |value: &Option<Spanned<usize>>, range: Range<usize>, name, default| match value {
            Some(v) if !range.contains(v.get_ref()) => {
                problems.at(
                    v.span(),
                    format!(
                        "{name} must be between {} and {}",
                        range.start,
                        range.end - 1
                    ),
                );
                default
            }
            Some(v) => *v.get_ref(),
            None => default,
        };
    let max_head_bytes = bounded(
        &schema.max_head_bytes,
        64..usize::MAX,
        "max_head_bytes",
        limits::MAX_HEAD_BYTES,
    );
    let max_headers = bounded(
        &schema.max_headers,
        1..limits::MAX_HEADERS_CEILING + 1,
        "max_headers",
        limits::MAX_HEADERS,
    );
    let max_connections = bounded(
        &schema.max_connections,
        1..u32::MAX as usize,
        "max_connections",
        limits::MAX_CONNECTIONS,
    );
    let http2 = Http2Limits {
        max_concurrent_streams: bounded(
            &schema.http2_max_concurrent_streams,
            1..1_000_001,
            "http2_max_concurrent_streams",
            limits::H2_MAX_CONCURRENT_STREAMS as usize,
        ) as u32,
        max_pending_resets: bounded(
            &schema.http2_max_pending_resets,
            1..1_000_001,
            "http2_max_pending_resets",
            limits::H2_MAX_PENDING_RESETS,
        ),
        max_error_resets: bounded(
            &schema.http2_max_error_resets,
            1..1_000_001,
            "http2_max_error_resets",
            limits::H2_MAX_LOCAL_ERROR_RESETS,
        ),
    };
    let max_requests = match &schema.max_requests_per_connection {
        Some(v) if *v.get_ref() == 0 => {
            problems.at(v.span(), "max_requests_per_connection must be at least 1");
            limits::MAX_REQUESTS_PER_CONNECTION
        }
        Some(v) => *v.get_ref(),
        None => limits::MAX_REQUESTS_PER_CONNECTION,
    };
    let conn = ConnLimits {
        head: HeadLimits {
            max_head_bytes,
            max_headers,
            max_body_bytes: schema.max_body_bytes.unwrap_or(limits::MAX_BODY_BYTES),
        },
        header_timeout,
        keepalive_timeout,
        send_timeout,
        max_requests,
        http2,
    };
    (
        conn,
        max_connections,
        shutdown_timeout,
        unhealthy_before_stop,
    )
}

fn compile_site(
    index: usize,
    site: &SiteSchema,
    mut options: SiteOptions,
    relative: &dyn Fn(&str) -> PathBuf,
    access_logs: &mut Vec<Spec>,
    problems: &mut Problems,
) -> SiteConfig {
    let name = site.server_names.first().map_or_else(
        || format!("site{}", index + 1),
        |n| n.get_ref().to_ascii_lowercase(),
    );
    let root = site.root.as_ref().and_then(|root| {
        let path = relative(root.get_ref());
        match RootDir::open(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                problems.at(root.span(), format!("cannot serve {}: {e}", path.display()));
                None
            }
        }
    });
    options.listing = site.listing;
    if let Some(limit) = &site.listing_limit {
        if *limit.get_ref() == 0 {
            problems.at(limit.span(), "listing_limit must be at least 1");
        } else if !site.listing {
            problems.at(
                limit.span(),
                "listing_limit without listing = true: no listing is served",
            );
        } else {
            options.listing_limit = *limit.get_ref();
        }
    }
    options.hidden = site.hidden;
    options.compress = site.compress;
    if let Some(value) = &site.cache_control {
        if header_value_ok(value.get_ref()) {
            options.cache_control = Some(value.get_ref().clone());
        } else {
            problems.at(
                value.span(),
                "cache_control must be a header value on one line",
            );
        }
    }
    options.types = compile_types(site, problems);
    if let Some(index) = &site.index {
        options.index = Vec::new();
        for name in index {
            let value = name.get_ref();
            if value.is_empty() || value.contains('/') || value == "." || value == ".." {
                problems.at(name.span(), "an index entry is a file name, without '/'");
            } else {
                options.index.push(value.clone());
            }
        }
        if index.is_empty() {
            problems.at(0..0, "index must name at least one file");
        }
    }
    if let Some(fallback) = &site.spa_fallback {
        match site_path(fallback.get_ref()) {
            Some(path) => options.spa_fallback = Some(path),
            None => problems.at(
                fallback.span(),
                "spa_fallback must be a path such as \"/index.html\"",
            ),
        }
    }
    for (status, page) in &site.error_pages {
        let code = status
            .get_ref()
            .parse::<u16>()
            .ok()
            .filter(|c| (400..=599).contains(c));
        let Some(code) = code else {
            problems.at(
                status.span(),
                "error_pages keys are statuses from 400 to 599",
            );
            continue;
        };
        match site_path(page.get_ref()) {
            Some(path) => options.error_pages.push((Status(code), path)),
            None => problems.at(
                page.span(),
                "an error page must be a path such as \"/404.html\"",
            ),
        }
    }
    options.rules = compile_rules(site, problems);
    let auth = site
        .auth
        .as_ref()
        .and_then(|auth| compile_auth(auth, relative, problems));
    let access_log = site
        .access_log
        .as_ref()
        .and_then(|log| compile_access_log(log, relative, access_logs, problems));
    let health = site
        .health_path
        .as_ref()
        .and_then(|path| match site_path(path.get_ref()) {
            Some(_) => Some(crate::vhost::HealthCheck {
                path: path.get_ref().clone(),
                log: site.health_log,
            }),
            None => {
                problems.at(
                    path.span(),
                    "health_path must be a path such as \"/healthz\"",
                );
                None
            }
        });
    SiteConfig {
        name,
        root,
        options,
        auth,
        access_log,
        health,
        https_socket: None,
        hsts: None,
        certificate: None,
        acme: None,
    }
}

/// `default_type` and `[site.types]`: media types, checked here and interned, so that every
/// response borrows its type.
fn compile_types(site: &SiteSchema, problems: &mut Problems) -> Types {
    const MEDIA_TYPE: &str = "must be a media type such as \"text/plain\"";
    let default = site.default_type.as_ref().and_then(|value| {
        if mime::is_media_type(value.get_ref()) {
            Some(intern(value.get_ref()))
        } else {
            problems.at(value.span(), format!("default_type {MEDIA_TYPE}"));
            None
        }
    });
    let mut overrides: Vec<(String, &'static str)> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (key, value) in &site.types {
        let extension = key.get_ref();
        let bad_key = extension.is_empty()
            || (extension.bytes()).any(|b| {
                matches!(b, b'.' | b'/' | b'\\') || b.is_ascii_whitespace() || b.is_ascii_control()
            });
        if bad_key {
            problems.at(
                key.span(),
                "types keys are extensions without the dot, such as \"md\"",
            );
            continue;
        }
        // Keys differ in case only: the later one in the file is the mistake.
        let lower = extension.to_ascii_lowercase();
        if let Some((_, other)) = seen.iter().find(|(seen, _)| *seen == lower) {
            let later = (*other).max(key.span().start);
            problems.at(
                later..later,
                format!("{lower:?} is in types twice: extensions are compared without case"),
            );
            continue;
        }
        seen.push((lower, key.span().start));
        if mime::is_media_type(value.get_ref()) {
            overrides.push((extension.clone(), intern(value.get_ref())));
        } else {
            problems.at(
                value.span(),
                format!("the type for {extension:?} {MEDIA_TYPE}"),
            );
        }
    }
    Types::new(overrides, default)
}

/// The listen sockets of a file: each address once, plain or TLS.
#[derive(Default)]
struct Sockets {
    addrs: Vec<SocketAddr>,
    tls: Vec<bool>,
}

impl Sockets {
    /// Adds a site's `entries` (plain or TLS) and notes their indices in `mine`. The same
    /// address in two sites is one socket they share (port 0 included: one free port, chosen
    /// once, per kind: `127.0.0.1:0` plain and TLS are two sockets); an address with a port
    /// cannot be both plain and TLS.
    fn add(
        &mut self,
        entries: &[Spanned<String>],
        tls: bool,
        mine: &mut Vec<usize>,
        problems: &mut Problems,
    ) {
        for entry in entries {
            let addrs = match parse_listen(entry.get_ref()) {
                Ok(addrs) => addrs,
                Err(e) => {
                    problems.at(entry.span(), format!("{e:#}"));
                    continue;
                }
            };
            for addr in addrs {
                let same = |at: &usize| {
                    self.addrs[*at] == addr && (addr.port() != 0 || self.tls[*at] == tls)
                };
                let at = match (0..self.addrs.len()).find(same) {
                    Some(at) if self.tls[at] != tls => {
                        problems.at(
                            entry.span(),
                            format!("{addr} is both a plain and a TLS address"),
                        );
                        continue;
                    }
                    Some(at) => at,
                    None => {
                        self.addrs.push(addr);
                        self.tls.push(tls);
                        self.addrs.len() - 1
                    }
                };
                if !mine.contains(&at) {
                    mine.push(at);
                }
            }
        }
    }
}

/// For each socket, whether it speaks HTTP/2: a TLS socket offers `h2` by ALPN unless its
/// sites say `http2 = false`; a plain socket takes the HTTP/2 preface if its sites say
/// `http2_cleartext = true`. Either way the protocol is settled before a request names a
/// site, so the sites of a socket must agree.
fn compile_http2(
    sites: &[Spanned<SiteSchema>],
    site_listeners: &[Vec<usize>],
    sockets: &Sockets,
    problems: &mut Problems,
) -> (Vec<bool>, Vec<bool>) {
    let mut chosen: Vec<Option<bool>> = vec![None; sockets.addrs.len()];
    for (spanned, listeners) in sites.iter().zip(site_listeners) {
        let site = spanned.get_ref();
        let http2 = site.http2.as_ref().is_none_or(|v| *v.get_ref());
        let cleartext = site.http2_cleartext.as_ref().is_some_and(|v| *v.get_ref());
        if cleartext && !http2 {
            let span = site
                .http2_cleartext
                .as_ref()
                .map_or(spanned.span(), Spanned::span);
            problems.at(
                span,
                "http2_cleartext needs http2, which this site turns off",
            );
        }
        for &socket in listeners {
            let (wanted, key, field) = if sockets.tls[socket] {
                (http2, "http2", &site.http2)
            } else {
                (cleartext, "http2_cleartext", &site.http2_cleartext)
            };
            match chosen[socket] {
                None => chosen[socket] = Some(wanted),
                Some(other) if other != wanted => {
                    let span = field.as_ref().map_or(spanned.span(), Spanned::span);
                    problems.at(
                        span,
                        format!(
                            "the sites on {} must agree on {key}: the protocol is chosen \
                             before a request names its site",
                            sockets.addrs[socket]
                        ),
                    );
                }
                Some(_) => {}
            }
        }
    }
    let tls = (chosen.iter().zip(&sockets.tls))
        .map(|(c, &tls)| tls && c.unwrap_or(true))
        .collect();
    let cleartext = (chosen.iter().zip(&sockets.tls))
        .map(|(c, &tls)| !tls && c.unwrap_or(false))
        .collect();
    (tls, cleartext)
}

/// For each socket, the proxies trusted to send a PROXY header on it, if its sites take one
/// (`proxy_protocol`, `trusted_proxies`). The header comes before TLS and before any request
/// names a site, so the sites of a socket must agree on both, as on `http2_cleartext`. Taking
/// the header with no proxy trusted would refuse every connection, and trusting proxies without
/// taking it would do nothing: both are mistakes in the file.
fn compile_proxy_protocol(
    sites: &[Spanned<SiteSchema>],
    site_listeners: &[Vec<usize>],
    sockets: &Sockets,
    problems: &mut Problems,
) -> Vec<Option<Rc<[Cidr]>>> {
    let mut chosen: Vec<Option<Option<Rc<[Cidr]>>>> = vec![None; sockets.addrs.len()];
    for (spanned, listeners) in sites.iter().zip(site_listeners) {
        let site = spanned.get_ref();
        let on = site.proxy_protocol.as_ref().is_some_and(|v| *v.get_ref());
        let mut trusted = Vec::new();
        if let Some(list) = &site.trusted_proxies {
            for entry in list.get_ref() {
                match Cidr::parse(entry.get_ref()) {
                    Ok(cidr) => trusted.push(cidr),
                    Err(e) => problems.at(entry.span(), e),
                }
            }
        }
        // Order and repeats do not matter when sites are compared.
        trusted.sort();
        trusted.dedup();
        let key_span =
            |key: &Option<Spanned<bool>>| key.as_ref().map_or(spanned.span(), Spanned::span);
        match (&site.proxy_protocol, &site.trusted_proxies) {
            (Some(flag), list) if on && list.as_ref().is_none_or(|l| l.get_ref().is_empty()) => {
                problems.at(
                    flag.span(),
                    "proxy_protocol needs trusted_proxies: the addresses (such as \"10.0.0.0/8\") \
                     of the proxies allowed to send the header; no other may connect",
                );
            }
            (_, Some(list)) if !on => problems.at(
                list.span(),
                "trusted_proxies without proxy_protocol = true: no header would be read",
            ),
            _ => {}
        }
        let wanted: Option<Rc<[Cidr]>> = on.then(|| trusted.into());
        for &socket in listeners {
            match &chosen[socket] {
                None => chosen[socket] = Some(wanted.clone()),
                Some(other) if *other != wanted => {
                    let (key, span) = if other.is_some() != wanted.is_some() {
                        ("proxy_protocol", key_span(&site.proxy_protocol))
                    } else {
                        let list = site.trusted_proxies.as_ref();
                        (
                            "trusted_proxies",
                            list.map_or(spanned.span(), Spanned::span),
                        )
                    };
                    problems.at(
                        span,
                        format!(
                            "the sites on {} must agree on {key}: the PROXY header is read \
                             before a request names its site",
                            sockets.addrs[socket]
                        ),
                    );
                }
                Some(_) => {}
            }
        }
    }
    chosen.into_iter().map(Option::flatten).collect()
}

/// A site's certificate and key, and its HTTPS policies (`https_redirect`, `hsts`).
fn compile_tls(
    spanned: &Spanned<SiteSchema>,
    sockets: &Sockets,
    mine: &[usize],
    site_config: &mut SiteConfig,
    relative: &dyn Fn(&str) -> PathBuf,
    problems: &mut Problems,
) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let site = spanned.get_ref();
    if let Some(flag) = &site.https_redirect
        && *flag.get_ref()
    {
        // The socket, not its configured port: port 0 is known only once bound.
        match mine.iter().copied().find(|&at| sockets.tls[at]) {
            Some(socket) => site_config.https_socket = Some(socket),
            None => problems.at(flag.span(), "https_redirect needs listen_tls"),
        }
    }
    if let Some(hsts) = &site.hsts {
        let value = hsts.get_ref();
        if !value.starts_with("max-age=") || !header_value_ok(value) {
            problems.at(
                hsts.span(),
                "hsts must be a Strict-Transport-Security value, e.g. \"max-age=63072000\"",
            );
        } else if site.listen_tls.is_empty() {
            problems.at(
                hsts.span(),
                "hsts needs listen_tls: it is sent on HTTPS answers only",
            );
        } else {
            site_config.hsts = Some(value.clone());
        }
    }
    match (&site.tls, site.listen_tls.is_empty()) {
        (None, false) => {
            problems.at(
                spanned.span(),
                "listen_tls needs [site.tls] with cert and key, or acme",
            );
            None
        }
        (Some(tls), true) => {
            problems.at(
                tls_span(tls).unwrap_or(spanned.span()),
                "[site.tls] without listen_tls: no address would use it",
            );
            None
        }
        (None, true) => None,
        (Some(tls), false) => match (&tls.cert, &tls.key, &tls.acme) {
            (Some(cert), Some(key), None) => {
                let (cert_path, key_path) = (relative(cert.get_ref()), relative(key.get_ref()));
                match crate::tls::load_key_pair(&cert_path, &key_path) {
                    Ok(pair) => {
                        site_config.certificate = crate::tls::expiry(&cert_path, &pair);
                        Some(pair)
                    }
                    Err(e) => {
                        problems.at(cert.span(), e);
                        None
                    }
                }
            }
            (None, None, Some(acme)) => compile_acme(site, acme, site_config, relative, problems),
            (_, _, Some(acme)) => {
                problems.at(
                    acme.span(),
                    "[site.tls] takes cert and key, or acme, not both",
                );
                None
            }
            _ => {
                problems.at(
                    tls_span(tls).unwrap_or(spanned.span()),
                    "[site.tls] needs both cert and key, or acme",
                );
                None
            }
        },
    }
}

fn tls_span(tls: &TlsSchema) -> Option<Range<usize>> {
    (tls.cert.as_ref().map(Spanned::span))
        .or_else(|| tls.key.as_ref().map(Spanned::span))
        .or_else(|| tls.acme.as_ref().map(Spanned::span))
}

/// A site whose certificate comes from an ACME CA: what the helper will order, and the
/// certificate it ordered before, if `state` holds one. None yet is not an error: the site
/// starts without it (its handshakes fail until then) and the helper orders one at once.
fn compile_acme(
    site: &SiteSchema,
    spanned: &Spanned<AcmeSchema>,
    site_config: &mut SiteConfig,
    relative: &dyn Fn(&str) -> PathBuf,
    problems: &mut Problems,
) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let acme = spanned.get_ref();
    let before = problems.found.len();
    if site.listen.is_empty() {
        problems.at(
            spanned.span(),
            "acme needs a plain listen address too: the CA checks \
             http://NAME/.well-known/acme-challenge/ (port 80 for a public CA)",
        );
    }
    if site.server_names.is_empty() {
        problems.at(
            spanned.span(),
            "acme needs server_names: they are the certificate's names",
        );
    }
    let mut names = Vec::new();
    for name in &site.server_names {
        match parse_server_name(name.get_ref()) {
            Ok((_, true)) => problems.at(
                name.span(),
                "acme cannot get a wildcard name: HTTP-01 validates one host at a time",
            ),
            Ok((lower, false)) if lower.parse::<std::net::Ipv4Addr>().is_ok() => problems.at(
                name.span(),
                "acme certificates here are for DNS names, not addresses",
            ),
            Ok((lower, false)) => names.push(lower),
            // `compile_routes` reports it.
            Err(_) => {}
        }
    }
    if let Some(email) = &acme.email {
        let value = email.get_ref();
        let plausible = value.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }) && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',');
        if !plausible {
            problems.at(
                email.span(),
                "email must be an address such as ops@example.com",
            );
        }
    }
    let directory = match &acme.directory {
        Some(directory) => {
            let value = directory.get_ref();
            if !value.starts_with("https://") || !header_value_ok(value) || value.contains(' ') {
                problems.at(directory.span(), "directory must be an https:// URL");
            }
            value.clone()
        }
        None => crate::acme::LETS_ENCRYPT.to_string(),
    };
    let state = relative(acme.state.get_ref());
    if state.exists() && !state.is_dir() {
        problems.at(
            acme.state.span(),
            format!("{} is not a folder", state.display()),
        );
    }
    let ca_root = acme.ca_root.as_ref().map(|root| {
        let path = relative(root.get_ref());
        if let Err(e) = CertificateDer::from_pem_file(&path) {
            problems.at(
                root.span(),
                format!("no certificate in {}: {e}", path.display()),
            );
        }
        path
    });
    if problems.found.len() > before || names.is_empty() {
        return None;
    }
    let certificate = crate::acme::store::certificate_path(&state, &directory, &names[0]);
    let pair = certificate
        .exists()
        .then(|| crate::tls::load_key_pair(&certificate, &certificate).ok())
        .flatten();
    if let Some(pair) = &pair {
        site_config.certificate = crate::tls::expiry(&certificate, pair);
    }
    site_config.acme = Some(crate::acme::Order {
        site: site_config.name.clone(),
        names,
        email: acme.email.as_ref().map(|email| email.get_ref().clone()),
        directory,
        ca_root,
        state,
        certificate,
    });
    pair
}

/// A path within the site, from the file's `/`-rooted form: `"/a/b.html"` to `a/b.html`.
fn site_path(value: &str) -> Option<String> {
    let rest = value.strip_prefix('/')?;
    let clean = !rest.is_empty()
        && rest
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        && !rest.contains(['\\', '\0']);
    clean.then(|| rest.to_string())
}

fn header_value_ok(value: &str) -> bool {
    !value.is_empty() && !value.bytes().any(|b| b.is_ascii_control() && b != b'\t')
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn compile_rules(site: &SiteSchema, problems: &mut Problems) -> Rules {
    let mut globs = globset::GlobSetBuilder::new();
    let mut rules = Vec::new();
    for rule in &site.headers {
        // A refused rule adds no glob: the configuration is refused then, so the rules'
        // numbers need not line up.
        if let Some(problem) = never_a_url_path(rule.path.get_ref()) {
            problems.at(rule.path.span(), format!("a rule's path {problem}"));
        } else {
            match compile_glob(rule.path.get_ref()) {
                Ok(glob) => {
                    globs.add(glob);
                }
                Err(e) => problems.at(rule.path.span(), format!("bad glob: {}", e.kind())),
            }
        }
        let mut compiled = HeaderRule::default();
        for (name, value) in &rule.set {
            if !header_name_ok(name.get_ref()) {
                problems.at(name.span(), "not a header field name");
            } else if RESERVED_FIELDS.contains(&name.get_ref().to_ascii_lowercase().as_str()) {
                problems.at(
                    name.span(),
                    "this field belongs to the connection; a rule cannot set it",
                );
            } else if !header_value_ok(value.get_ref()) {
                problems.at(value.span(), "a header value must be on one line");
            } else {
                compiled
                    .set
                    .push((intern(name.get_ref()), value.get_ref().clone()));
            }
        }
        for name in &rule.remove {
            if !header_name_ok(name.get_ref()) {
                problems.at(name.span(), "not a header field name");
            } else if RESERVED_FIELDS.contains(&name.get_ref().to_ascii_lowercase().as_str()) {
                problems.at(
                    name.span(),
                    "this field belongs to the connection; a rule cannot remove it",
                );
            } else {
                compiled.remove.push(name.get_ref().clone());
            }
        }
        rules.push(compiled);
    }
    let globs = globs.build().unwrap_or_else(|e| {
        problems.at(0..0, format!("header rules: {e}"));
        globset::GlobSet::empty()
    });
    let mut redirects = Vec::new();
    for redirect in &site.redirects {
        let from = redirect.from.get_ref();
        if !from.starts_with('/') || from.contains(['?', '#']) {
            problems.at(
                redirect.from.span(),
                "from must be a path starting with '/', without a query",
            );
        }
        let to = redirect.to.get_ref();
        if to.is_empty() || to.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            problems.at(
                redirect.to.span(),
                "to must be a URL or path without spaces",
            );
        }
        let status = match &redirect.status {
            None => Status::MOVED_PERMANENTLY,
            Some(s) if [301, 302, 303, 307, 308].contains(s.get_ref()) => Status(*s.get_ref()),
            Some(s) => {
                problems.at(s.span(), "status must be 301, 302, 303, 307 or 308");
                Status::MOVED_PERMANENTLY
            }
        };
        redirects.push(Redirect {
            from: from.clone(),
            prefix: redirect.prefix,
            to: to.clone(),
            status,
        });
    }
    Rules {
        headers: HeaderRules { globs, rules },
        redirects,
    }
}

fn compile_auth(
    schema: &AuthSchema,
    relative: &dyn Fn(&str) -> PathBuf,
    problems: &mut Problems,
) -> Option<Rc<BasicAuth>> {
    let realm = schema.realm.get_ref();
    let realm_ok = !realm.is_empty()
        && realm
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if !realm_ok {
        problems.at(
            schema.realm.span(),
            "realm must be printable ASCII without '\"' or '\\'",
        );
    }
    let users = match auth::read_users(&relative(schema.users_file.get_ref())) {
        Ok(users) => users,
        Err(e) => {
            problems.at(schema.users_file.span(), e);
            HashMap::new()
        }
    };
    let mut paths = globset::GlobSetBuilder::new();
    if schema.paths.is_empty() {
        problems.at(
            schema.realm.span(),
            "auth needs paths to protect, e.g. [\"/**\"]",
        );
    }
    for path in &schema.paths {
        match auth::path_globs(path.get_ref()) {
            Ok(globs) => {
                for glob in globs {
                    paths.add(glob);
                }
            }
            Err(e) => problems.at(path.span(), e),
        }
    }
    let paths = paths.build().ok()?;
    realm_ok.then(|| Rc::new(BasicAuth::new(realm.clone(), users, paths)))
}

fn compile_access_log(
    schema: &AccessLogSchema,
    relative: &dyn Fn(&str) -> PathBuf,
    access_logs: &mut Vec<Spec>,
    problems: &mut Problems,
) -> Option<SinkId> {
    let destination = match Destination::parse(schema.path.get_ref()) {
        Ok(Destination::File(path)) => Destination::File(relative(&path.to_string_lossy())),
        Ok(destination) => destination,
        Err(e) => {
            problems.at(schema.path.span(), e);
            return None;
        }
    };
    let format = match &schema.format {
        None => Format::Combined,
        Some(format) => match Format::parse(format.get_ref()) {
            Ok(format) => format,
            Err(e) => {
                problems.at(format.span(), e);
                return None;
            }
        },
    };
    let spec = Spec {
        destination,
        format,
    };
    if let Some(existing) = access_logs.iter().position(|s| *s == spec) {
        return Some(SinkId(existing as u16));
    }
    if let Err(e) = access_log::check(&spec) {
        problems.at(
            schema.path.span(),
            format!("cannot open the access log: {e}"),
        );
        return None;
    }
    access_logs.push(spec);
    Some(SinkId((access_logs.len() - 1) as u16))
}

/// One route per listen socket: the names of the sites on it, and its default site.
fn compile_routes(
    sites: &[Spanned<SiteSchema>],
    site_listeners: &[Vec<usize>],
    listeners: usize,
    problems: &mut Problems,
) -> Vec<Route> {
    let mut routes = vec![Route::default(); listeners];
    let mut has_default = vec![None::<usize>; listeners];
    let mut has_site = vec![false; listeners];
    for (index, site) in sites.iter().enumerate() {
        let site = site.get_ref();
        let mut names = Vec::new();
        for name in &site.server_names {
            match parse_server_name(name.get_ref()) {
                Ok(parsed) => names.push((parsed, name.span())),
                Err(e) => problems.at(name.span(), e),
            }
        }
        for &listener in &site_listeners[index] {
            let route = &mut routes[listener];
            if !has_site[listener] {
                // The first site on a socket answers names no site claims, unless one says
                // `default = true`.
                has_site[listener] = true;
                route.default = index;
            }
            if let Some(flag) = &site.default
                && *flag.get_ref()
            {
                if let Some(other) = has_default[listener] {
                    problems.at(
                        flag.span(),
                        format!("site {} is already the default on this address", other + 1),
                    );
                }
                has_default[listener] = Some(index);
                route.default = index;
            }
            for ((name, wildcard), span) in &names {
                let table = if *wildcard {
                    &mut route.wildcard
                } else {
                    &mut route.exact
                };
                if let Some(&other) = table.get(name) {
                    if other != index {
                        problems.at(
                            span.clone(),
                            format!(
                                "server name claimed by site {} on the same address",
                                other + 1
                            ),
                        );
                    }
                } else {
                    table.insert(name.clone(), index);
                }
            }
        }
    }
    // A site without names answers only as a default; one that is the default nowhere
    // could never answer, which is always a mistake in the file.
    for (index, site) in sites.iter().enumerate() {
        let named = !site.get_ref().server_names.is_empty();
        let listeners = &site_listeners[index];
        if !named && !listeners.is_empty() && !listeners.iter().any(|&l| routes[l].default == index)
        {
            problems.at(
                site.span(),
                format!(
                    "site {} has no server_names and is not the default on its addresses: \
                     no request could reach it",
                    index + 1
                ),
            );
        }
    }
    routes
}

/// A header name or media type from the configuration as the `&'static str` responses carry.
/// Interned, so a reload that names the same ones again leaks nothing more.
pub(super) fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}
