//! The path resolver: whatever the target, a resolved path has no empty, `.` or `..` segment,
//! no segment holding `/`, `\` or NUL, and its re-encoded form starts with exactly one `/`.
#![no_main]

use forkhttpd::fs::path::{resolve, split_target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &str| {
    let Ok(split) = split_target(target) else {
        return;
    };
    let Ok(resolved) = resolve(split.path) else {
        return;
    };
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
