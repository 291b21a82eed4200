//! When the ACME helper orders a certificate, and how long it waits after a failure: the
//! policy, free of clocks and I/O so it is tested with made-up times (Unix seconds).
//!
//! A certificate is renewed at two thirds of its lifetime (day 60 of Let's Encrypt's 90), or
//! earlier if the CA's renewal information (ARI, RFC 9773) suggests a window that starts sooner:
//! the helper then picks a uniformly random moment in that window, as the RFC asks, so a fleet
//! does not renew all at once. A certificate that is missing, expired or no longer covers every
//! server name of its site is ordered at once.

use std::time::Duration;

/// The first pause after a failed order; it doubles with each failure in a row.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);

/// The longest pause between attempts: failures are retried at least this often, and a CA's
/// limits (Let's Encrypt's: 5 failed validations per name per hour) are respected.
pub const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);

/// The longest the helper sleeps without looking again at a valid certificate: its ARI window
/// can move (a CA that revokes certificates early moves it to now).
pub const RECHECK: Duration = Duration::from_secs(12 * 3600);

/// What the helper knows of a certificate it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub not_before: i64,
    pub not_after: i64,
    /// Its DNS names, lowercase.
    pub names: Vec<String>,
}

/// What to do about a site's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Order one now, for this reason (it goes in the log).
    OrderNow(&'static str),
    /// The certificate is good until this time.
    RenewAt(i64),
}

/// The plan for a site that wants `wanted` (lowercase names) and holds `held`, given the CA's
/// suggested window `ari` if it has one, at `now`. `pick` in `[0, 1)` is the random point of
/// the window.
pub fn plan(
    held: Option<&Held>,
    wanted: &[String],
    ari: Option<(i64, i64)>,
    pick: f64,
    now: i64,
) -> Plan {
    let Some(held) = held else {
        return Plan::OrderNow("there is no certificate yet");
    };
    if !wanted.iter().all(|name| held.names.contains(name)) {
        return Plan::OrderNow("the certificate does not cover every server name");
    }
    if now >= held.not_after {
        return Plan::OrderNow("the certificate has expired");
    }
    let lifetime = held.not_after - held.not_before;
    let mut at = held.not_before + lifetime * 2 / 3;
    if let Some((start, end)) = ari
        && end >= start
    {
        let span = (end - start) as f64;
        at = at.min(start + (span * pick.clamp(0.0, 1.0)) as i64);
    }
    if at <= now {
        Plan::OrderNow("renewal is due")
    } else {
        Plan::RenewAt(at)
    }
}

/// Failures in a row for one site, and the pause they earn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Retry {
    failures: u32,
}

impl Retry {
    /// Records a failure and gives the pause before the next attempt.
    pub fn after_failure(&mut self) -> Duration {
        let delay = FIRST_RETRY
            .checked_mul(1 << self.failures.min(16))
            .map_or(MAX_RETRY, |delay| delay.min(MAX_RETRY));
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn held(names: &[&str]) -> Held {
        Held {
            not_before: 0,
            not_after: 90 * DAY,
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn wanted(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn missing_mismatched_and_expired_certificates_are_ordered_now() {
        let want = wanted(&["a.test", "b.test"]);
        assert!(matches!(plan(None, &want, None, 0.0, 0), Plan::OrderNow(_)));
        let only_a = held(&["a.test"]);
        assert!(matches!(
            plan(Some(&only_a), &want, None, 0.0, DAY),
            Plan::OrderNow(_)
        ));
        let both = held(&["b.test", "a.test", "c.test"]);
        assert!(matches!(
            plan(Some(&both), &want, None, 0.0, 91 * DAY),
            Plan::OrderNow(_)
        ));
    }

    #[test]
    fn renewal_comes_at_two_thirds_of_the_lifetime() {
        let want = wanted(&["a.test"]);
        let cert = held(&["a.test"]);
        assert_eq!(
            plan(Some(&cert), &want, None, 0.5, DAY),
            Plan::RenewAt(60 * DAY)
        );
        assert!(matches!(
            plan(Some(&cert), &want, None, 0.5, 60 * DAY),
            Plan::OrderNow(_)
        ));
    }

    #[test]
    fn an_earlier_ari_window_wins_at_its_random_point() {
        let want = wanted(&["a.test"]);
        let cert = held(&["a.test"]);
        let window = Some((30 * DAY, 32 * DAY));
        assert_eq!(
            plan(Some(&cert), &want, window, 0.5, DAY),
            Plan::RenewAt(31 * DAY)
        );
        // A window after two thirds does not delay the renewal.
        let late = Some((80 * DAY, 85 * DAY));
        assert_eq!(
            plan(Some(&cert), &want, late, 0.5, DAY),
            Plan::RenewAt(60 * DAY)
        );
        // A window in the past (the CA revoked early) means now.
        let past = Some((0, DAY));
        assert!(matches!(
            plan(Some(&cert), &want, past, 0.9, 2 * DAY),
            Plan::OrderNow(_)
        ));
    }

    #[test]
    fn retries_double_up_to_the_cap_and_reset_on_success() {
        let mut retry = Retry::default();
        assert_eq!(retry.after_failure(), Duration::from_secs(60));
        assert_eq!(retry.after_failure(), Duration::from_secs(120));
        assert_eq!(retry.after_failure(), Duration::from_secs(240));
        for _ in 0..40 {
            assert!(retry.after_failure() <= MAX_RETRY);
        }
        assert_eq!(retry.after_failure(), MAX_RETRY);
        retry.succeeded();
        assert_eq!(retry.after_failure(), FIRST_RETRY);
    }
}
