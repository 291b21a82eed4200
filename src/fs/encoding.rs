//! Content codings (RFC 9110 §8.4, §12.5.3): reading `Accept-Encoding` and ranking what we can
//! send by the client's q-values.

/// The codings forkhttpd can send, in the order it prefers them at equal q (smallest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
    Identity,
}

impl Coding {
    pub const ALL: [Coding; 4] = [Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity];

    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }

    /// The file name suffix of a precompressed sibling.
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The client's q-values, in thousandths, per coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    q: [u16; 4],
}

/// Reads an `Accept-Encoding` value. Without the field, only identity is sent: a client that
/// says nothing may not understand any coding.
pub fn parse(header: Option<&str>) -> Accepted {
    parse_lines(header.map(str::as_bytes).into_iter())
}

/// Reads every `Accept-Encoding` field line as one list (RFC 9110 §5.3): `gzip` and `br` on two
/// lines accept what `gzip, br` on one does. No line at all: only identity; a line that is not
/// UTF-8 adds nothing. Always inlined: a request without the field (most of them) then costs
/// the lookup alone, with no call.
#[inline(always)]
pub fn parse_lines<'a>(mut lines: impl Iterator<Item = &'a [u8]>) -> Accepted {
    // Most requests without the field end here, before any state is set up.
    let Some(first) = lines.next() else {
        return Accepted::IDENTITY_ONLY;
    };
    let mut tally = Tally::default();
    tally.add(first);
    for line in lines {
        tally.add(line);
    }
    tally.finish()
}

/// The q-values named so far, over every line of the field.
#[derive(Default)]
struct Tally {
    explicit: [Option<u16>; 4],
    star: Option<u16>,
}

impl Tally {
    /// Adds the elements of one field line; a later element for the same coding wins.
    fn add(&mut self, line: &[u8]) {
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        for element in line.split(',') {
            let mut params = element.split(';');
            let name = params.next().unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let mut q = 1000;
            for param in params {
                if let Some((key, value)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    match parse_q(value.trim()) {
                        Some(value) => q = value,
                        None => q = 0,
                    }
                }
            }
            // Compared in place: lowercasing a copy would allocate per coding, per request.
            let is = |token: &str| name.eq_ignore_ascii_case(token);
            let coding = if is("br") {
                Some(Coding::Br)
            } else if is("zstd") {
                Some(Coding::Zstd)
            } else if is("gzip") || is("x-gzip") {
                Some(Coding::Gzip)
            } else if is("identity") {
                Some(Coding::Identity)
            } else {
                if name == "*" {
                    self.star = Some(q);
                }
                None
            };
            if let Some(coding) = coding {
                self.explicit[coding.index()] = Some(q);
            }
        }
    }

    fn finish(self) -> Accepted {
        let Tally { explicit, star } = self;
        let mut q = [0u16; 4];
        for coding in Coding::ALL {
            // Identity is acceptable unless excluded, by name or by "*;q=0" (§12.5.3).
            let default = if coding == Coding::Identity {
                star.unwrap_or(1000).max(1)
            } else {
                star.unwrap_or(0)
            };
            let default = if coding == Coding::Identity && star == Some(0) {
                0
            } else {
                default
            };
            q[coding.index()] = explicit[coding.index()].unwrap_or(default);
        }
        Accepted { q }
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths.
fn parse_q(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "0.5" is 500 thousandths: the digits, then zeros to three places.
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl Accepted {
    /// What a request without `Accept-Encoding` gets, as most requests from tools do.
    const IDENTITY_ONLY: Accepted = Accepted { q: [0, 0, 0, 1000] };

    pub fn q(&self, coding: Coding) -> u16 {
        self.q[coding.index()]
    }

    /// Acceptable codings, best first: by q, then by our order (compressed before identity).
    /// Identity is always last-resort available, even when excluded: a representation the
    /// client said it does not want beats no answer, as most servers do.
    pub fn ranked(&self) -> Vec<Coding> {
        let (codings, count) = self.ranked_array();
        codings[..count].to_vec()
    }

    /// `ranked` without allocating: the codings, and how many of them count.
    pub fn ranked_array(&self) -> ([Coding; 4], usize) {
        let mut ranked = [Coding::Identity; 4];
        let mut count = 0;
        for coding in Coding::ALL {
            if self.q(coding) > 0 {
                ranked[count] = coding;
                count += 1;
            }
        }
        // Stable: equal q keeps our order.
        ranked[..count].sort_by_key(|&c| std::cmp::Reverse(self.q(c)));
        if !ranked[..count].contains(&Coding::Identity) {
            ranked[count] = Coding::Identity;
            count += 1;
        }
        (ranked, count)
    }

    /// A small value that is equal for two requests exactly when they rank the codings alike,
    /// and so get the same representation of any file.
    pub fn variant(&self) -> u16 {
        let (ranked, count) = self.ranked_array();
        ranked[..count]
            .iter()
            .fold(0u16, |key, &coding| key * 5 + coding.index() as u16 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_brotli_first() {
        let accepted = parse(Some("gzip, deflate, br, zstd"));
        assert_eq!(
            accepted.ranked(),
            vec![Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity]
        );
    }

    #[test]
    fn q_values_decide() {
        let accepted = parse(Some("br;q=0.5, gzip;q=0.9, zstd;q=0"));
        assert_eq!(
            accepted.ranked(),
            vec![Coding::Identity, Coding::Gzip, Coding::Br]
        );
        let accepted = parse(Some("br;q=0.5, gzip;q=0.9, identity;q=0.1"));
        assert_eq!(
            accepted.ranked(),
            vec![Coding::Gzip, Coding::Br, Coding::Identity]
        );
    }

    #[test]
    fn identity_exclusion_is_understood() {
        let accepted = parse(Some("gzip, identity;q=0"));
        assert_eq!(accepted.q(Coding::Identity), 0);
        assert_eq!(accepted.ranked(), vec![Coding::Gzip, Coding::Identity]);
        assert_eq!(parse(Some("*;q=0")).q(Coding::Identity), 0);
        assert_eq!(parse(Some("*")).q(Coding::Br), 1000);
    }

    #[test]
    fn variants_differ_by_ranking_only() {
        assert_eq!(
            parse(Some("gzip, br")).variant(),
            parse(Some("br, gzip;q=1.0")).variant()
        );
        // Identity keeps its implicit q=1 and now outranks the others: another variant.
        assert_ne!(
            parse(Some("gzip, br")).variant(),
            parse(Some("br;q=0.9, gzip;q=0.9")).variant()
        );
        assert_ne!(parse(Some("gzip")).variant(), parse(Some("br")).variant());
        assert_eq!(parse(None).variant(), parse(Some("identity")).variant());
    }

    #[test]
    fn no_header_means_identity_only() {
        assert_eq!(parse(None).ranked(), vec![Coding::Identity]);
        assert_eq!(parse(Some("")).ranked(), vec![Coding::Identity]);
        // The shortcut for a missing field agrees with reading an empty one.
        assert_eq!(parse(None), parse(Some("")));
        assert_eq!(
            parse_lines([&b"br;q=0.5"[..], b"", b"gzip;q=0.9, identity;q=0"].into_iter()),
            parse(Some("br;q=0.5, gzip;q=0.9, identity;q=0"))
        );
    }

    #[test]
    fn q_syntax() {
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.001"), Some(1));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.0001"), None);
        assert_eq!(parse(Some("gzip;q=2")).q(Coding::Gzip), 0);
    }
}
