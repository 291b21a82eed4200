//! HTTP Basic authentication (RFC 7617) for the paths of a site that the configuration file
//! protects, checked by the connection before the response cache is asked: a cached answer is
//! never served to a request that has not passed.
//!
//! Credentials come only from an htpasswd file of bcrypt hashes, read when the configuration
//! loads; never from the command line, where `ps` shows them to every user (darkhttpd's
//! CVE-2024-23771), and never compared with a plain `==`, whose time tells how much of a guess
//! was right (its CVE-2024-23770). bcrypt is slow on purpose, so each worker remembers the
//! credentials it has verified, as a keyed digest compared in constant time: a user's browser
//! costs one bcrypt per worker, not one per request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use base64::Engine;
use globset::{Candidate, GlobSet};

use crate::http::{Response, Status};

/// Verified credentials a worker remembers, per site; past this the memory is cleared and
/// refilled, one bcrypt per user again.
const VERIFIED_MAX: usize = 4096;

/// The Basic authentication of one site.
#[derive(Debug)]
pub struct BasicAuth {
    /// Quoted into `WWW-Authenticate`; checked at load to need no escaping.
    realm: String,
    /// User name to bcrypt hash.
    users: HashMap<String, String>,
    /// A hash of a random password at the users' cost, checked for an unknown user so that
    /// the answer takes as long as for a known one and does not tell which names exist.
    dummy: String,
    paths: GlobSet,
    /// User name to the keyed digest of the password verified for it, in this worker.
    verified: RefCell<HashMap<String, blake3::Hash>>,
    /// The key of those digests, random per process, so a digest is not a password hash an
    /// attacker could have precomputed.
    key: [u8; 32],
}

/// The globs that a pattern in `paths` stands for. Auth is a boundary, so a pattern covers
/// what a user may mean by it, and more when in doubt:
///
/// - it must be a URL path, starting with `/` (else the error says so);
/// - `*` and `?` cross `/` (`/private/*.txt` takes in `/private/a/b.txt`), as in Caddy;
/// - a folder is protected with everything beneath it, however it is written: `/private`,
///   `/private/`, `/private/*` and `/private/**` all cover `/private`, `/private/` and every
///   path beneath.
pub fn path_globs(pattern: &str) -> Result<Vec<globset::Glob>, String> {
    if let Some(problem) = crate::fs::rules::never_a_url_path(pattern) {
        return Err(format!("an auth path {problem}"));
    }
    let folder = pattern
        .strip_suffix("/**")
        .or_else(|| pattern.strip_suffix("/*"))
        .or_else(|| pattern.strip_suffix('/'))
        .unwrap_or(pattern);
    let mut globs = Vec::new();
    for glob in [folder.to_string(), format!("{folder}/*")] {
        let glob = globset::GlobBuilder::new(if glob.is_empty() { "/" } else { &glob })
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("bad glob: {}", e.kind()))?;
        globs.push(glob);
    }
    Ok(globs)
}

/// The outcome of a check.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Answer 401 with a challenge.
    Denied,
}

impl BasicAuth {
    pub fn new(realm: String, users: HashMap<String, String>, paths: GlobSet) -> BasicAuth {
        let key = process_key();
        // With no users there is nothing to hide the cost of: the cheapest hash will do.
        let cost = users
            .values()
            .filter_map(|hash| hash.get(4..6)?.parse().ok())
            .max()
            .unwrap_or(4);
        let dummy = bcrypt::hash(blake3::hash(&key).to_hex().as_str(), cost)
            .unwrap_or_else(|_| String::new());
        BasicAuth {
            realm,
            users,
            dummy,
            paths,
            verified: RefCell::new(HashMap::new()),
            key,
        }
    }

    /// Whether the decoded `path` is protected.
    pub fn protects(&self, path: &[u8]) -> bool {
        self.paths
            .is_match_candidate(&Candidate::new(OsStr::from_bytes(path)))
    }

    /// Checks the request's `Authorization` field.
    pub fn check(&self, authorization: Option<&[u8]>) -> Verdict {
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return Verdict::Denied;
        };
        let digest = blake3::keyed_hash(&self.key, password.as_bytes());
        // `blake3::Hash` compares in constant time.
        if self.verified.borrow().get(&user) == Some(&digest) {
            return Verdict::Allowed;
        }
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        if !(bcrypt::verify(&password, hash).unwrap_or(false) && known) {
            return Verdict::Denied;
        }
        let mut verified = self.verified.borrow_mut();
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(user, digest);
        Verdict::Allowed
    }

    /// The 401 answer, with the challenge that makes a browser ask for a password.
    pub fn challenge(&self) -> Response {
        Response::error(Status::UNAUTHORIZED).with_header(
            "WWW-Authenticate",
            format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm),
        )
    }
}

/// The user name in an `Authorization: Basic` field, for the access log: as sent, whether or
/// not the password is right (nginx's `$remote_user`).
pub fn basic_user(authorization: &[u8]) -> Option<String> {
    basic_credentials(authorization).map(|(user, _)| user)
}

/// `Basic base64(user:password)`; the scheme is case-insensitive (RFC 9110 §11.1).
fn basic_credentials(authorization: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(authorization).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Reads an htpasswd file: `user:hash` lines, blank lines and `#` comments ignored. Only
/// bcrypt hashes are taken: the others htpasswd can make (MD5-crypt, SHA-1, crypt, plain text)
/// are fast to guess from a leaked file. An error names the line.
pub fn read_users(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
    let mut users = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", path.display(), number + 1);
        let Some((user, hash)) = line.split_once(':') else {
            return Err(format!("{}: expected user:hash", at()));
        };
        if user.is_empty() {
            return Err(format!("{}: empty user name", at()));
        }
        if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$"))
            || bcrypt::verify("", hash).is_err()
        {
            return Err(format!(
                "{}: the hash of {user:?} is not bcrypt; make one with `htpasswd -B`",
                at()
            ));
        }
        if users.insert(user.to_string(), hash.to_string()).is_some() {
            return Err(format!("{}: {user:?} is listed twice", at()));
        }
    }
    Ok(users)
}

/// 32 random bytes from the kernel; zeros if it has none, which only weakens the keyed
/// digests back to plain ones.
fn process_key() -> [u8; 32] {
    use std::io::Read;
    let mut key = [0u8; 32];
    if let Ok(mut random) = std::fs::File::open("/dev/urandom") {
        let _ = random.read_exact(&mut key);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        let mut users = HashMap::new();
        users.insert("ann".to_string(), bcrypt::hash("secret", 4).unwrap());
        let mut paths = globset::GlobSetBuilder::new();
        path_globs("/private/**")
            .unwrap()
            .into_iter()
            .for_each(|glob| {
                paths.add(glob);
            });
        BasicAuth::new("staff".into(), users, paths.build().unwrap())
    }

    fn basic(credentials: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        format!("Basic {token}").into_bytes()
    }

    #[test]
    fn right_and_wrong_credentials() {
        let auth = auth();
        assert_eq!(auth.check(None), Verdict::Denied);
        assert_eq!(auth.check(Some(&basic("ann:wrong"))), Verdict::Denied);
        assert_eq!(auth.check(Some(&basic("bob:secret"))), Verdict::Denied);
        assert_eq!(auth.check(Some(b"Bearer x")), Verdict::Denied);
        assert_eq!(auth.check(Some(b"Basic !!!")), Verdict::Denied);
        assert_eq!(auth.check(Some(&basic("ann:secret"))), Verdict::Allowed);
        // Remembered, and the memory does not let another password in.
        assert_eq!(auth.check(Some(&basic("ann:secret"))), Verdict::Allowed);
        assert_eq!(auth.check(Some(&basic("ann:secreT"))), Verdict::Denied);
        let lower = basic("ann:secret").to_ascii_lowercase();
        assert_eq!(auth.check(Some(&lower)), Verdict::Denied);
        let scheme = format!(
            "bAsIc {}",
            &String::from_utf8(basic("ann:secret")).unwrap()[6..]
        );
        assert_eq!(auth.check(Some(scheme.as_bytes())), Verdict::Allowed);
    }

    #[test]
    fn protected_paths() {
        let auth = auth();
        assert!(auth.protects(b"/private/a"));
        assert!(auth.protects(b"/private/a/b"));
        assert!(!auth.protects(b"/public"));
        assert!(!auth.protects(b"/privatex"));
    }

    fn covered(pattern: &str, path: &str) -> bool {
        let mut set = globset::GlobSetBuilder::new();
        for glob in path_globs(pattern).unwrap() {
            set.add(glob);
        }
        let set = set.build().unwrap();
        set.is_match_candidate(&Candidate::new(OsStr::new(path)))
    }

    #[test]
    fn a_pattern_covers_its_folder_and_everything_beneath() {
        for pattern in ["/private", "/private/", "/private/*", "/private/**"] {
            for path in [
                "/private",
                "/private/",
                "/private/s.txt",
                "/private/sub/d.txt",
            ] {
                assert!(covered(pattern, path), "{pattern} covers {path}");
            }
            for path in ["/", "/privatex", "/public/private/s.txt", "/p.txt"] {
                assert!(!covered(pattern, path), "{pattern} leaves {path}");
            }
        }
        for pattern in ["/", "/*", "/**"] {
            for path in ["/", "/a", "/a/b/c.txt"] {
                assert!(covered(pattern, path), "{pattern} covers {path}");
            }
        }
        // A `*` crosses folders.
        assert!(covered("/private/*.txt", "/private/sub/d.txt"));
        assert!(!covered("/private/*.txt", "/private/d.html"));
        assert!(covered("/secret.txt", "/secret.txt"));
    }

    #[test]
    fn a_pattern_is_a_url_path() {
        for (pattern, meant) in [
            ("private/**", "/private/**"),
            ("*.html", "/**/*.html"),
            ("./x", "/x"),
        ] {
            let error = path_globs(pattern).unwrap_err();
            assert!(error.contains("starts with \"/\""), "{error}");
            assert!(error.contains(&format!("\"{meant}\"")), "{error}");
        }
    }

    #[test]
    fn users_file_takes_only_bcrypt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("# staff\n\nann:{hash}\n")).unwrap();
        assert_eq!(read_users(&path).unwrap().len(), 1);
        std::fs::write(&path, "ann:$apr1$abc$def\n").unwrap();
        let error = read_users(&path).unwrap_err();
        assert!(
            error.contains(":1:") && error.contains("htpasswd -B"),
            "{error}"
        );
        std::fs::write(&path, format!("ann:{hash}\nann:{hash}\n")).unwrap();
        assert!(read_users(&path).unwrap_err().contains("twice"));
        assert!(basic_user(&basic("ann:x")) == Some("ann".into()));
    }
}
