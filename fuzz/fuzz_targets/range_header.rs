//! The Range evaluator: whatever the header, the ranges are sorted, disjoint, inside the
//! representation, at most MAX_RANGES, and never add up to more than its length.
#![no_main]

use forkhttpd::fs::range::{Ranges, evaluate};
use forkhttpd::limits::MAX_RANGES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u64, &str)| {
    let (len, header) = input;
    let len = len % (1 << 40);
    if let Ranges::Partial(ranges) = evaluate(header, len) {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
        let mut total = 0u64;
        for pair in ranges.windows(2) {
            assert!(pair[0].last + 1 < pair[1].first, "sorted and not adjacent");
        }
        for range in &ranges {
            assert!(range.first <= range.last && range.last < len);
            total += range.size();
        }
        assert!(total <= len);
    }
});
