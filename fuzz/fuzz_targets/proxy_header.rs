//! The PROXY header parser: whatever the bytes, it never panics, a header it accepts lies
//! within the input and the length limits, and each prefix of the input gets an answer that
//! agrees with the whole's. That last is what lets a connection read the header off a socket
//! without taking a byte past it: `Incomplete` only while the header goes on past what was seen.
#![no_main]

use forkhttpd::proxy_proto::{MAX_LEN, Parsed, V1_MAX_LEN, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let whole = parse(input);
    if let Parsed::Done { header_len, .. } = whole {
        assert!(header_len <= input.len() && header_len <= MAX_LEN);
        if input[0] == b'P' {
            assert!(header_len <= V1_MAX_LEN);
        }
    }
    for cut in 0..input.len().min(MAX_LEN + 1) {
        match parse(&input[..cut]) {
            Parsed::Incomplete(needed) => {
                if let Parsed::Done { header_len, .. } = whole {
                    assert!(header_len > cut, "Incomplete at {cut}, where the header ended");
                    assert!(needed.is_none_or(|n| cut + n <= header_len));
                }
            }
            Parsed::Invalid(_) => assert!(matches!(whole, Parsed::Invalid(_))),
            done => assert_eq!(done, whole),
        }
    }
});
