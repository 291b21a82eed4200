//! The request-head parser on arbitrary bytes: never panics, never claims more bytes than it
//! was given, and gives the same answer for the head alone as for the head with more behind it.
//! An accepted request has a valid authority, if any.
#![no_main]

use forkhttpd::http::parse::{HeadLimits, header_slots, parse};
use forkhttpd::http::target::is_valid_authority;
use forkhttpd::limits::{MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_HEADERS};
use libfuzzer_sys::fuzz_target;

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: MAX_HEAD_BYTES,
    max_headers: MAX_HEADERS,
    max_body_bytes: MAX_BODY_BYTES,
};

fuzz_target!(|data: &[u8]| {
    let mut slots = header_slots();
    let Ok(Some((request, head_len))) = parse(data, &mut slots, &LIMITS) else {
        return;
    };
    assert!(head_len <= data.len());
    if let Some(authority) = request.authority() {
        assert!(is_valid_authority(authority.as_bytes()), "{authority:?}");
    }
    let framing = request.framing;
    let keep_alive = request.keep_alive;
    let authority = request.authority();
    let mut again = header_slots();
    let (alone, alone_len) = parse(&data[..head_len], &mut again, &LIMITS)
        .unwrap()
        .unwrap();
    assert_eq!(
        (alone.framing, alone.keep_alive, alone.authority(), alone_len),
        (framing, keep_alive, authority, head_len)
    );
});
