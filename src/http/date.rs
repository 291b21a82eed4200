//! The `Date` header value (RFC 9110 §6.6.1, IMF-fixdate), formatted at most once a second per
//! worker instead of once per request.

use std::cell::RefCell;
use std::time::{Duration, UNIX_EPOCH};

struct Cached {
    /// Unix second the text was formatted for.
    second: u64,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`: always 29 ASCII bytes.
    text: String,
}

thread_local! {
    // Each worker is single-threaded, so this is one cache per worker and no lock.
    static CACHE: RefCell<Cached> = const { RefCell::new(Cached { second: u64::MAX, text: String::new() }) };
}

/// Calls `f` with the current IMF-fixdate.
pub(crate) fn with_now<R>(f: impl FnOnce(&str) -> R) -> R {
    let second = crate::clock::unix_seconds();
    CACHE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.second != second {
            cached.second = second;
            cached.text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
        }
        f(&cached.text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_imf_fixdate() {
        let text = with_now(str::to_owned);
        assert_eq!(text.len(), 29);
        assert!(text.ends_with(" GMT"));
        assert!(httpdate::parse_http_date(&text).is_ok());
    }
}
