//! A site's rules from the configuration file: redirects, checked once the path is decoded and
//! before any file is looked up, and response header rules, applied to the pipeline's answer.
//!
//! Both match the decoded, normalised path (`/a b/` for `/a%20b/./`), never the raw target, so
//! an encoded or dot-segment spelling of a path cannot slip past a rule written for it. The
//! rules are compiled when the configuration loads: a header rule lookup is one `GlobSet`
//! match whatever the number of rules.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use globset::{Candidate, GlobSet};
use percent_encoding::{AsciiSet, percent_encode};

use crate::fs::path::{PATH_SEGMENT, Resolved};
use crate::http::{Response, Status};

/// What a path keeps unencoded in a `Location` built from it: a segment's set, less `/`.
const PATH: &AsciiSet = &PATH_SEGMENT.remove(b'/');

/// Statuses whose responses header rules change; as nginx's `add_header`, so that an error
/// page never takes a rule meant for the files under a path (a `404` cached for a year).
const RULE_STATUSES: [u16; 9] = [200, 204, 206, 301, 302, 303, 304, 307, 308];

/// The rules of one site.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub headers: HeaderRules,
    pub redirects: Vec<Redirect>,
}

/// Header rules: the first whose glob matches the path applies.
#[derive(Clone, Debug, Default)]
pub struct HeaderRules {
    pub globs: GlobSet,
    pub rules: Vec<HeaderRule>,
}

#[derive(Clone, Debug, Default)]
pub struct HeaderRule {
    /// Fields set (replacing any the pipeline made), names interned at load.
    pub set: Vec<(&'static str, String)>,
    /// Fields removed, by name.
    pub remove: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Redirect {
    /// A decoded path, starting with `/`.
    pub from: String,
    /// `from` is a prefix: the rest of the path is appended to `to`.
    pub prefix: bool,
    pub to: String,
    pub status: Status,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.redirects.is_empty() && self.headers.rules.is_empty()
    }

    /// The redirect for this path, if a rule names it. The query is kept.
    pub fn redirect(&self, resolved: &Resolved, query: Option<&str>) -> Option<Response> {
        if self.redirects.is_empty() {
            return None;
        }
        let path = resolved.decoded();
        let rule = self.redirects.iter().find(|rule| {
            if rule.prefix {
                path.starts_with(rule.from.as_bytes())
            } else {
                path == rule.from.as_bytes()
            }
        })?;
        let mut location = rule.to.clone();
        if rule.prefix {
            // Percent-encoded again: the rest came decoded, and a `Location` must be a URL.
            location.extend(percent_encode(&path[rule.from.len()..], PATH));
        }
        if let Some(query) = query {
            location.push(if rule.to.contains('?') { '&' } else { '?' });
            location.push_str(query);
        }
        Some(Response::error(rule.status).with_header("Location", location))
    }

    /// Applies the first header rule whose glob matches the path, if the status takes rules.
    /// `served` is the file that answered, relative to the root, when it is not the path (a
    /// directory's index, the SPA fallback): a rule for either applies, the earlier first.
    pub fn apply_headers(
        &self,
        resolved: &Resolved,
        served: Option<&[u8]>,
        response: &mut Response,
    ) {
        if self.headers.rules.is_empty() || !RULE_STATUSES.contains(&response.status.code()) {
            return;
        }
        let mut first = self.headers.first_match(&resolved.decoded());
        if let Some(served) = served {
            let mut path = vec![b'/'];
            path.extend_from_slice(served);
            let as_index = self.headers.first_match(&path);
            first = match (first, as_index) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let Some(rule) = first.map(|i| &self.headers.rules[i]) else {
            return;
        };
        response.headers.retain(|(name, _)| {
            !rule.remove.iter().any(|r| r.eq_ignore_ascii_case(name))
                && !rule.set.iter().any(|(s, _)| s.eq_ignore_ascii_case(name))
        });
        for (name, value) in &rule.set {
            response.headers.push((name, Cow::Owned(value.clone())));
        }
    }
}

impl HeaderRules {
    fn first_match(&self, path: &[u8]) -> Option<usize> {
        let candidate = Candidate::new(OsStr::from_bytes(path));
        self.globs.matches_candidate(&candidate).into_iter().min()
    }
}

/// Why `pattern`, a glob of URL paths in the configuration, could never match a request's
/// path, which is decoded and normalised (`fs/path.rs`): it starts with `/` and has no empty,
/// `.` or `..` segment. `None` when it could. The words follow "an auth path" or "a rule's
/// path".
pub fn never_a_url_path(pattern: &str) -> Option<String> {
    if !pattern.starts_with('/') {
        let meant = if pattern.starts_with("**") {
            format!("/{pattern}")
        } else if pattern.starts_with('*') {
            format!("/**/{pattern}")
        } else {
            format!("/{}", pattern.trim_start_matches("./"))
        };
        return Some(format!(
            "is a URL path and starts with \"/\" (did you mean \"{meant}\"?)"
        ));
    }
    let dots = pattern
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if pattern.contains("//") || dots {
        return Some(
            "never matches: request paths have no empty, \".\" or \"..\" segments".to_string(),
        );
    }
    None
}

/// Compiles a header rule's glob: `*` and `?` stay within a segment, `**` crosses them, as in
/// a shell with globstar.
pub fn compile_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::path::resolve;

    fn rules() -> Rules {
        let mut globs = globset::GlobSetBuilder::new();
        for pattern in ["/assets/**", "/**/*.html", "/*"] {
            globs.add(compile_glob(pattern).unwrap());
        }
        let rule = |value: &str| HeaderRule {
            set: vec![("Cache-Control", value.to_string())],
            remove: vec!["last-modified".into()],
        };
        Rules {
            headers: HeaderRules {
                globs: globs.build().unwrap(),
                rules: vec![rule("immutable"), rule("no-cache"), rule("top")],
            },
            redirects: vec![
                Redirect {
                    from: "/old/".into(),
                    prefix: true,
                    to: "https://example.com/new/".into(),
                    status: Status::PERMANENT_REDIRECT,
                },
                Redirect {
                    from: "/gone".into(),
                    prefix: false,
                    to: "/here?x=1".into(),
                    status: Status::FOUND,
                },
            ],
        }
    }

    fn header_after(path: &str, status: Status) -> Vec<(String, String)> {
        let mut response = Response::error(status)
            .with_header("Last-Modified", "x")
            .with_header("cache-control", "old");
        let resolved = resolve(path).unwrap();
        // As the file pipeline says: a directory's URL is served by its index.
        let index = resolved
            .trailing_slash
            .then(|| resolved.child(b"index.html"));
        rules().apply_headers(&resolved, index.as_deref(), &mut response);
        let mut fields: Vec<_> = response
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        fields.retain(|(n, _)| n != "Content-Type");
        fields
    }

    #[test]
    fn first_matching_rule_wins_on_the_decoded_path() {
        let set = |v: &str| vec![("Cache-Control".to_string(), v.to_string())];
        assert_eq!(
            header_after("/assets/a/b.html", Status::OK),
            set("immutable")
        );
        assert_eq!(header_after("/%61ssets/x", Status::OK), set("immutable"));
        assert_eq!(header_after("/docs/x.html", Status::OK), set("no-cache"));
        // A directory's URL matches as its index file too.
        assert_eq!(header_after("/docs/", Status::OK), set("no-cache"));
        assert_eq!(header_after("/top.txt", Status::OK), set("top"));
        // `*` does not cross segments.
        let untouched = vec![
            ("Last-Modified".to_string(), "x".to_string()),
            ("cache-control".to_string(), "old".to_string()),
        ];
        assert_eq!(header_after("/docs/x.txt", Status::OK), untouched);
        // Errors keep their fields: a rule for files must not make a 404 immutable.
        assert_eq!(header_after("/assets/x", Status::NOT_FOUND), untouched);
    }

    #[test]
    fn redirects_keep_the_query_and_encode_the_rest() {
        let redirect = |path: &str, query| {
            let response = rules().redirect(&resolve(path).unwrap(), query)?;
            let location = response
                .headers
                .iter()
                .find(|(n, _)| *n == "Location")
                .map(|(_, v)| v.to_string());
            Some((response.status.code(), location.unwrap()))
        };
        assert_eq!(
            redirect("/old/a%20b/c", Some("q=1")),
            Some((308, "https://example.com/new/a%20b/c?q=1".into()))
        );
        assert_eq!(
            redirect("/gone", Some("y")),
            Some((302, "/here?x=1&y".into()))
        );
        assert_eq!(redirect("/gone/", None), None);
        assert_eq!(redirect("/old", None), None);
        assert_eq!(
            redirect("/x/../old/", None),
            Some((308, "https://example.com/new/".into()))
        );
    }
}
