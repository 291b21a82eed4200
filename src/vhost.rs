//! Which site answers a request: one [`Route`] per listen socket, built when the configuration
//! loads, maps the request's authority to one of the sites on that socket.
//!
//! The authority is `Request::authority()`: the absolute-form target's if there is one, else
//! `Host` (RFC 9112 §3.2.2). The port is ignored, case does not matter, and one trailing dot is
//! dropped (`Example.COM.:80` is `example.com`). Exact names are tried first, then wildcards
//! from the longest suffix down (`*.example.org` answers `a.example.org` and
//! `a.b.example.org`, not `example.org`, as nginx's), and a name no site claims gets the
//! socket's default site. Each lookup is a hash probe per label at most.
//!
//! A [`VirtualHost`] is a site as a worker runs it: its files, and the policies the connection
//! applies before the response cache is asked (authentication) and after (its access log).

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::access_log::SinkId;
use crate::auth::{BasicAuth, Verdict};
use crate::cache::{Outgoing, ResponseCache};
use crate::fs::Site;
use crate::fs::path;
use crate::http::{Method, Request, Response, Status};

/// One site in a worker.
#[derive(Debug)]
pub(crate) struct VirtualHost {
    /// For the access log.
    pub name: String,
    pub files: Site,
    pub auth: Option<Rc<BasicAuth>>,
    pub access_log: Option<SinkId>,
    /// `https_redirect`: plain requests get a 308 to HTTPS on this port.
    pub https_port: Option<u16>,
    /// `Strict-Transport-Security: ...\r\n`, added to the site's answers over TLS.
    pub hsts_line: Option<Rc<[u8]>>,
    /// Where the ACME helper leaves the answers to its HTTP-01 challenges, for an ACME site.
    pub acme_challenges: Option<PathBuf>,
    /// `health_path`, and the instance's stop flag it reports.
    pub health: Option<(HealthCheck, crate::shm::StopFlag)>,
}

/// A site's health check for load balancers (`health_path`, `health_log`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Matched exactly against the request's path (the query is ignored).
    pub path: String,
    /// Whether health checks are written to the site's access log.
    pub log: bool,
}

impl VirtualHost {
    /// The answer to `request`, this site being number `index` of the worker's (the response
    /// cache keeps each site's answers apart). A protected path is checked before the cache is
    /// asked, so a cached answer never reaches a request that has not passed.
    pub fn answer(
        &self,
        index: usize,
        cache: &ResponseCache,
        request: &Request<'_, '_>,
        secure: bool,
    ) -> Outgoing {
        // First of all: a balancer asks over plain HTTP or HTTPS, without credentials, and
        // must learn that the instance is stopping, not where its pages are.
        if let Some((_, stopping)) = &self.health
            && self.is_health_check(request)
        {
            return Outgoing::Built(health_answer(stopping.is_set()));
        }
        // Before the redirect to HTTPS, Basic auth and the cache: the CA asks over plain HTTP,
        // with no credentials, and each token is asked for once or a few times.
        if !secure
            && let Some(folder) = &self.acme_challenges
            && matches!(request.method, Method::Get | Method::Head)
            && let Ok(target) = path::split_target(request.target)
            && let Some(answer) = crate::acme::challenge::answer(folder, target.path)
        {
            return Outgoing::Built(answer);
        }
        if !secure
            && let Some(port) = self.https_port
            && let Some(redirect) = https_redirect(request, port)
        {
            return Outgoing::Built(redirect);
        }
        if let Some(auth) = &self.auth
            && let Some(denied) = self.check_auth(auth, request)
        {
            return Outgoing::Built(denied);
        }
        cache.serve(index, &self.files, request)
    }

    /// Whether `request` is this site's health check (GET or HEAD of `health_path`).
    pub fn is_health_check(&self, request: &Request<'_, '_>) -> bool {
        self.health.as_ref().is_some_and(|(check, _)| {
            matches!(request.method, Method::Get | Method::Head)
                && path::split_target(request.target).is_ok_and(|t| t.path == check.path)
        })
    }

    /// Where `request` is logged: the site's access log, except for health checks unless
    /// `health_log` asks for them (a balancer checks every second or so, on every instance).
    pub fn log_sink(&self, request: &Request<'_, '_>) -> Option<SinkId> {
        let sink = self.access_log?;
        match &self.health {
            Some((check, _)) if !check.log && self.is_health_check(request) => None,
            _ => Some(sink),
        }
    }

    /// The value of `Strict-Transport-Security` this site sends over TLS, if any.
    pub fn hsts_value(&self) -> Option<&str> {
        let line = std::str::from_utf8(self.hsts_line.as_deref()?).ok()?;
        line.strip_prefix("Strict-Transport-Security: ")?
            .strip_suffix("\r\n")
    }

    fn check_auth(&self, auth: &BasicAuth, request: &Request<'_, '_>) -> Option<Response> {
        // Matched on the decoded path, as the file pipeline will resolve it, so that no
        // spelling of a protected path (`/%70rivate`, `/x/../private`) escapes the rule. A
        // target that does not resolve is left to the pipeline, which refuses it.
        let target = path::split_target(request.target).ok()?;
        let resolved = path::resolve(target.path).ok()?;
        if !auth.protects(&resolved.decoded()) {
            return None;
        }
        match auth.check(request.header("authorization")) {
            Verdict::Allowed => None,
            Verdict::Denied => {
                let challenge = auth.challenge();
                Some(match self.files.error_page(challenge.status) {
                    Some(page) => page.carrying(challenge).response,
                    None => challenge,
                })
            }
        }
    }
}

/// `200 ok`, or `503 stopping` once a graceful stop has begun, so that a load balancer takes
/// the instance out while it still serves. Never cached anywhere.
fn health_answer(stopping: bool) -> Response {
    let (status, body): (Status, &'static [u8]) = if stopping {
        (Status::SERVICE_UNAVAILABLE, b"stopping\n")
    } else {
        (Status::OK, b"ok\n")
    };
    Response::new(status, crate::http::Body::Static(body))
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_header("Cache-Control", "no-store")
}

/// The `308` that sends a plain request to the same URL over HTTPS, on `port` (left out when
/// it is 443). Not for ACME's HTTP-01 challenges, which must be answered over plain HTTP, nor
/// for a request without a host name to put in the URL.
fn https_redirect(request: &Request<'_, '_>, port: u16) -> Option<Response> {
    let target = path::split_target(request.target).ok()?;
    if target.path.starts_with(crate::acme::challenge::PREFIX) {
        return None;
    }
    let host = host_of(request.authority()?)?;
    let mut location = format!("https://{host}");
    if port != 443 {
        location.push_str(&format!(":{port}"));
    }
    location.push_str(target.path);
    if let Some(query) = target.query {
        location.push('?');
        location.push_str(query);
    }
    Some(Response::error(Status::PERMANENT_REDIRECT).with_header("Location", location))
}

/// The sites on one listen socket, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// Lowercase name to site index.
    pub exact: HashMap<String, usize>,
    /// Lowercase suffix with its leading dot (`.example.org` for `*.example.org`) to site.
    pub wildcard: HashMap<String, usize>,
    /// The site for a name no site claims, and for requests without one.
    pub default: usize,
}

impl Route {
    /// Whether the socket has one site whatever the name: the request's authority need not be
    /// looked at.
    pub fn is_single(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    /// The index of the site for `authority`.
    pub fn select(&self, authority: Option<&str>) -> usize {
        if self.is_single() {
            return self.default;
        }
        let Some(host) = authority.and_then(host_of) else {
            return self.default;
        };
        // Lowercased on the stack: a host name is at most 253 bytes (RFC 1035), and a longer
        // authority names no configured site.
        let mut buffer = [0u8; 256];
        let Some(lower) = buffer.get_mut(..host.len()) else {
            return self.default;
        };
        lower.copy_from_slice(host.as_bytes());
        lower.make_ascii_lowercase();
        let Ok(host) = std::str::from_utf8(lower) else {
            return self.default;
        };
        if let Some(&site) = self.exact.get(host) {
            return site;
        }
        let mut rest = host;
        while let Some(dot) = rest.find('.') {
            let suffix = &rest[dot..];
            if let Some(&site) = self.wildcard.get(suffix) {
                return site;
            }
            rest = &suffix[1..];
        }
        self.default
    }
}

/// The host of an authority that `http::target` validated: without its port, without one
/// trailing dot. An IPv6 literal keeps its brackets.
fn host_of(authority: &str) -> Option<&str> {
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// Checks a configured server name and gives its lookup form: `Ok((name, wildcard))` with the
/// name lowercased and the wildcard's suffix starting with its dot.
pub fn parse_server_name(name: &str) -> Result<(String, bool), String> {
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower).to_string();
    let (label_part, wildcard) = match lower.strip_prefix("*.") {
        Some(rest) => (rest, true),
        None => (lower.as_str(), false),
    };
    let valid = !label_part.is_empty()
        && label_part.len() <= 253
        && label_part.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(format!(
            "{name:?} is not a host name (letters, digits, '-' and '.', or '*.' then one)"
        ));
    }
    if wildcard {
        Ok((format!(".{label_part}"), true))
    } else {
        Ok((lower, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        let mut route = Route {
            default: 9,
            ..Route::default()
        };
        route.exact.insert("example.com".into(), 1);
        route.exact.insert("www.example.com".into(), 2);
        route.exact.insert("[::1]".into(), 6);
        route.wildcard.insert(".example.org".into(), 3);
        route.wildcard.insert(".deep.example.org".into(), 4);
        route
    }

    #[test]
    fn exact_then_longest_wildcard_then_default() {
        let route = route();
        assert_eq!(route.select(Some("example.com")), 1);
        assert_eq!(route.select(Some("Example.COM.:8080")), 1);
        assert_eq!(route.select(Some("www.example.com")), 2);
        assert_eq!(route.select(Some("a.example.org")), 3);
        assert_eq!(route.select(Some("a.b.example.org")), 3);
        assert_eq!(route.select(Some("x.deep.example.org")), 4);
        assert_eq!(route.select(Some("example.org")), 9);
        assert_eq!(route.select(Some("other.net")), 9);
        assert_eq!(route.select(Some("[::1]:80")), 6);
        assert_eq!(route.select(None), 9);
        assert_eq!(route.select(Some("example.com..")), 9);
    }

    #[test]
    fn server_names() {
        assert_eq!(
            parse_server_name("Example.com."),
            Ok(("example.com".into(), false))
        );
        assert_eq!(
            parse_server_name("*.Example.org"),
            Ok((".example.org".into(), true))
        );
        for bad in [
            "", "*", "*.", "a..b", "a b", "a*.b", "exa/mple", "a.*.b", "*.*.a",
        ] {
            assert!(parse_server_name(bad).is_err(), "{bad}");
        }
    }
}
