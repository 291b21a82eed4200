//! Session tickets that every worker can open: resumption works whichever worker accepts a
//! client's next connection.
//!
//! rustls's own ticketer makes its keys at random in each process, and makes new ones at random
//! when it rotates, so workers forked from one master would agree only until the first
//! rotation. Here the key of each period is derived from one secret the master draws before it
//! forks (HMAC-SHA256 of the period number), so every worker computes the same key for the same
//! period without talking to the others. A ticket is sealed with ChaCha20-Poly1305 under the
//! key of the period it was made in, and opened in that period or the next: keys rotate every
//! [`PERIOD`], and a ticket lives at most two periods.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

/// How long one ticket key is used to make tickets; it still opens them for one period more.
pub const PERIOD_SECS: u64 = 6 * 60 * 60;

/// The master's secret, drawn once per master (the first time a configuration with TLS loads,
/// before any fork) and kept across reloads, so tickets outlive a reload too.
static SECRET: OnceLock<[u8; 32]> = OnceLock::new();

/// The ticketer every TLS listener of a master uses.
#[derive(Debug)]
pub struct SharedTicketer {
    secret: hmac::Key,
    random: SystemRandom,
}

impl SharedTicketer {
    /// The ticketer for this master's secret; draws the secret on first use. `None` if the
    /// system has no randomness to give, and then tickets are simply not offered.
    pub fn new() -> Option<SharedTicketer> {
        let random = SystemRandom::new();
        let secret = match SECRET.get() {
            Some(secret) => *secret,
            None => {
                let mut secret = [0u8; 32];
                random.fill(&mut secret).ok()?;
                *SECRET.get_or_init(|| secret)
            }
        };
        Some(SharedTicketer {
            secret: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            random,
        })
    }

    fn key(&self, period: u64) -> Option<LessSafeKey> {
        let tag = hmac::sign(&self.secret, &period.to_be_bytes());
        let bytes = &tag.as_ref()[..CHACHA20_POLY1305.key_len()];
        Some(LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?,
        ))
    }

    fn seal_at(&self, period: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.key(period)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        // period (8 bytes) | nonce | ciphertext and tag; the period is authenticated too.
        let mut ticket = Vec::with_capacity(8 + NONCE_LEN + plain.len() + 16);
        ticket.extend_from_slice(&period.to_be_bytes());
        ticket.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        let aad = Aad::from(period.to_be_bytes());
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut sealed)
            .ok()?;
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    fn open_at(&self, now: u64, ticket: &[u8]) -> Option<Vec<u8>> {
        let (period, rest) = ticket.split_first_chunk::<8>()?;
        let period = u64::from_be_bytes(*period);
        if period != now && period.checked_add(1) != Some(now) {
            return None;
        }
        let (nonce, sealed) = rest.split_first_chunk::<NONCE_LEN>()?;
        let key = self.key(period)?;
        let mut sealed = sealed.to_vec();
        let aad = Aad::from(period.to_be_bytes());
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(*nonce), aad, &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn current_period() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now / PERIOD_SECS
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        PERIOD_SECS as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal_at(current_period(), plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.open_at(current_period(), cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_open_in_their_period_and_the_next_only() {
        let ticketer = SharedTicketer::new().unwrap();
        let ticket = ticketer.seal_at(100, b"session state").unwrap();
        assert_eq!(ticketer.open_at(100, &ticket).unwrap(), b"session state");
        assert_eq!(ticketer.open_at(101, &ticket).unwrap(), b"session state");
        assert!(ticketer.open_at(102, &ticket).is_none());
        assert!(ticketer.open_at(99, &ticket).is_none());
    }

    #[test]
    fn another_ticketer_of_the_same_master_opens_them() {
        // As two workers forked from one master: the secret is the process's.
        let (a, b) = (
            SharedTicketer::new().unwrap(),
            SharedTicketer::new().unwrap(),
        );
        let ticket = a.seal_at(7, b"x").unwrap();
        assert_eq!(b.open_at(7, &ticket).unwrap(), b"x");
    }

    #[test]
    fn tampered_or_short_tickets_are_refused() {
        let ticketer = SharedTicketer::new().unwrap();
        let ticket = ticketer.seal_at(5, b"state").unwrap();
        for i in 0..ticket.len() {
            let mut bad = ticket.clone();
            bad[i] ^= 1;
            assert!(ticketer.open_at(5, &bad).is_none(), "byte {i}");
        }
        for len in 0..ticket.len() {
            assert!(ticketer.open_at(5, &ticket[..len]).is_none());
        }
    }
}
