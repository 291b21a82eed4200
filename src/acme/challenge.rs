//! HTTP-01 answers, in a worker: `GET /.well-known/acme-challenge/TOKEN` on a plain listener of
//! an ACME site answers the key authorization the helper left in `state/http-01/TOKEN`
//! (RFC 8555 §8.3). The files are the only link between the helper and the workers: no socket,
//! no shared memory, and nothing to keep in step across a reload.
//!
//! A token is checked before it names a file (base64url only, so it cannot leave the folder),
//! and a token with no file falls through to the site's own files, so a site that answers its
//! challenges some other way still can.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::http::{Body, Response, Status};

/// Where challenges are asked for.
pub const PREFIX: &str = "/.well-known/acme-challenge/";

/// A key authorization is a token and a thumbprint: well under this.
const MAX_ANSWER: u64 = 1024;

/// Whether `token` may name a file: base64url characters only (RFC 8555 §8.3 requires them),
/// so no `/`, no `.` and nothing hidden.
pub fn token_ok(token: &str) -> bool {
    (1..=255).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The answer to a request for `path` (undecoded: tokens have nothing to decode) if it is an
/// open challenge in `folder`.
pub fn answer(folder: &Path, path: &str) -> Option<Response> {
    let token = path.strip_prefix(PREFIX)?;
    if !token_ok(token) {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(folder.join(token))
        .ok()?;
    let mut body = Vec::new();
    file.take(MAX_ANSWER).read_to_end(&mut body).ok()?;
    Some(
        Response::new(Status::OK, Body::Bytes(body))
            .with_header("Content-Type", "text/plain")
            .with_header("Cache-Control", "no-store"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_only() {
        assert!(token_ok("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
        assert!(token_ok("a-b_c"));
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a.b",
            "%2e",
            "a b",
            &"a".repeat(256),
        ] {
            assert!(!token_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_open_challenge_is_answered_and_others_fall_through() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "tok.thumb").unwrap();
        let response = answer(dir.path(), "/.well-known/acme-challenge/tok").unwrap();
        assert_eq!(response.status, Status::OK);
        assert!(matches!(&response.body, Body::Bytes(b) if b == b"tok.thumb"));
        assert!(answer(dir.path(), "/.well-known/acme-challenge/other").is_none());
        assert!(answer(dir.path(), "/.well-known/acme-challenge/../tok").is_none());
        assert!(answer(dir.path(), "/tok").is_none());
    }
}
