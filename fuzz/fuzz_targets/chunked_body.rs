//! The chunked body decoder: fed the same bytes whole or in two pieces split anywhere, it
//! consumes the same number and reaches the same verdict, and never panics.
#![no_main]

use forkhttpd::http::body::BodyDecoder;
use forkhttpd::http::parse::Framing;
use libfuzzer_sys::fuzz_target;

const MAX: u64 = 1 << 20;

fuzz_target!(|input: (u16, &[u8])| {
    let (split, data) = input;
    let whole = BodyDecoder::new(Framing::Chunked).consume(data, MAX);

    let split = (split as usize).min(data.len());
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let pieces = (|| -> Result<(usize, bool), forkhttpd::http::ParseError> {
        let first = decoder.consume(&data[..split], MAX)?;
        if first.done {
            return Ok((first.consumed, true));
        }
        let rest = [&data[first.consumed..split], &data[split..]].concat();
        let second = decoder.consume(&rest, MAX)?;
        Ok((first.consumed + second.consumed, second.done))
    })();
    match (whole, pieces) {
        (Ok(whole), Ok((consumed, done))) => {
            assert!(whole.consumed <= data.len());
            if whole.done {
                assert_eq!((consumed, done), (whole.consumed, true));
            }
        }
        (Err(_), Err(_)) => {}
        // The whole input may fail on bytes past the point where the pieces stopped early.
        (Err(_), Ok((_, done))) => assert!(!done),
        (Ok(whole), Err(_)) => assert!(!whole.done),
    }
});
