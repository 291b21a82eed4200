//! The path resolver: whatever the target, a resolved path has no empty, `.` or `..` segment,
//! no segment holding `/`, `\` or NUL, and its re-encoded form starts with exactly one `/`.
//! A target that splits has no fragment; a path that resolves has only valid `%XX`.
#![no_main]

use forkhttpd::fs::path::{resolve, split_target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &str| {
    let Ok(split) = split_target(target) else {
        return;
    };
    assert!(!target.contains('#'));
    let Ok(resolved) = resolve(split.path) else {
        return;
    };
    let path = split.path.as_bytes();
    for (at, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'%') {
        assert!(path.len() > at + 2 && path[at + 1..at + 3].iter().all(u8::is_ascii_hexdigit));
    }
    for segment in &resolved.segments {
        assert!(!segment.is_empty());
        assert!(segment != b"." && segment != b"..");
        assert!(!segment.iter().any(|&b| b == b'/' || b == b'\\' || b == 0));
    }
    let encoded = resolved.encoded();
    assert!(encoded.starts_with('/') && !encoded.starts_with("//"));
    assert!(!encoded.contains('\\'));
    // Resolving the encoded form again changes nothing.
    assert_eq!(resolve(&encoded).unwrap().segments, resolved.segments);
});
