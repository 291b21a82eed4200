//! The PROXY protocol header (HAProxy's `proxy-protocol.txt`, versions 1 and 2): the first
//! bytes a load balancer sends on a connection it passes on, naming the client it took the
//! connection from. Pure: bytes in, a verdict out; no I/O. `conn::proxied` reads the header off
//! the socket with this, before TLS or HTTP start, and only from the addresses a socket's sites
//! trust ([`Cidr`], from `trusted_proxies`).
//!
//! - Version 1 is one text line, `PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT\r\n`, at most 107
//!   bytes. Read strictly: single spaces, addresses of the line's family (`std`'s parsers, which
//!   refuse IPv4 octets with leading zeros and IPv6 zone ids), ports of one to five digits
//!   without a sign or leading zero, printable ASCII only. After `UNKNOWN` the rest of the line
//!   is ignored, as the specification says.
//! - Version 2 is binary: the 12-byte signature, version and command, family and protocol, a
//!   big-endian length, then the addresses and TLVs. `LOCAL` (a proxy's own health check) and
//!   the families without an IP address (`AF_UNSPEC`, `AF_UNIX`) keep the socket's own peer
//!   address; datagram protocols are refused, since a TCP connection cannot carry one. TLVs are
//!   walked only to check that each fits in the length, and otherwise skipped: nothing here uses
//!   them, and the CRC32C TLV is not verified. The length is capped at
//!   [`limits::PROXY_V2_MAX_PAYLOAD`].
//!
//! The one property the connection relies on: when `parse` answers `Incomplete` for some bytes,
//! every one of them belongs to the header, which ends further on. So what was seen can be
//! consumed from the socket, and the header read without ever taking a byte that follows it (a
//! TLS ClientHello, a request). The unit tests and the `proxy_header` fuzz target check it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::limits;

/// Longest version 1 header, CRLF included (the specification's bound).
pub const V1_MAX_LEN: usize = 107;

/// What every version 2 header starts with: chosen to be invalid as the start of any text
/// protocol (it has a NUL, and `QUIT` on a line of its own ends an SMTP or FTP session).
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The fixed part of a version 2 header: signature, version and command, family and protocol,
/// length.
const V2_FIXED_LEN: usize = 16;

/// Longest header of either version.
pub const MAX_LEN: usize = V2_FIXED_LEN + limits::PROXY_V2_MAX_PAYLOAD;

const V1_PREFIX: &[u8] = b"PROXY ";

/// The protocols a version 1 line may name.
const V1_PROTOCOLS: [&[u8]; 3] = [b"TCP4", b"TCP6", b"UNKNOWN"];

/// Version 2's commands (the low half of byte 12; the high half is the version, 2).
const CMD_LOCAL: u8 = 0x0;
const CMD_PROXY: u8 = 0x1;

/// Version 2's address families (the high half of byte 13) and the address block each needs:
/// source and destination address, then, for IP, source and destination port.
const AF_UNSPEC: u8 = 0x0;
const AF_INET: u8 = 0x1;
const AF_INET6: u8 = 0x2;
const AF_UNIX: u8 = 0x3;
const ADDRESS_BYTES: [usize; 4] = [0, 4 + 4 + 2 + 2, 16 + 16 + 2 + 2, 108 + 108];

/// Version 2's transport protocols (the low half of byte 13).
const PROTO_STREAM: u8 = 0x1;
const PROTO_DGRAM: u8 = 0x2;

/// What the bytes at the front of a connection come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The header goes on past these bytes (all of which belong to it): at least this many
    /// more are needed, when that is known (version 2 knows; version 1 ends at its CRLF).
    Incomplete(Option<usize>),
    /// A whole header of `header_len` bytes. `source` is the client the proxy names; `None`
    /// (version 1 `UNKNOWN`, version 2 `LOCAL`, a family without an IP address) means the
    /// connection is what it seems, and the socket's own peer address stands.
    Done {
        header_len: usize,
        source: Option<SocketAddr>,
    },
    /// Not a header this server takes; the reason is for the debug log.
    Invalid(&'static str),
}

/// Reads the PROXY header at the front of `input`, of either version.
pub fn parse(input: &[u8]) -> Parsed {
    match input.first() {
        None => Parsed::Incomplete(None),
        Some(b'P') => parse_v1(input),
        Some(b'\r') => parse_v2(input),
        Some(_) => Parsed::Invalid("no PROXY header"),
    }
}

fn parse_v1(input: &[u8]) -> Parsed {
    let seen = input.len().min(V1_PREFIX.len());
    if input[..seen] != V1_PREFIX[..seen] {
        return Parsed::Invalid("no PROXY header");
    }
    let window = &input[..input.len().min(V1_MAX_LEN)];
    // The line is printable ASCII up to its CR; anything else (a bare LF, a NUL, a tab) is
    // refused where it stands.
    let Some(end) = window.iter().position(|b| !(b' '..=b'~').contains(b)) else {
        if window.len() == V1_MAX_LEN {
            return Parsed::Invalid("version 1 header longer than 107 bytes");
        }
        return match v1_protocol_so_far(&window[seen..]) {
            true => Parsed::Incomplete(None),
            false => Parsed::Invalid("version 1 protocol is not TCP4, TCP6 or UNKNOWN"),
        };
    };
    if window[end] != b'\r' {
        return Parsed::Invalid("control byte in a version 1 header");
    }
    // The CRLF counts towards the 107 bytes.
    if end + 2 > V1_MAX_LEN {
        return Parsed::Invalid("version 1 header longer than 107 bytes");
    }
    match input.get(end + 1) {
        None if v1_protocol_so_far(&window[seen..end]) => Parsed::Incomplete(Some(1)),
        None => Parsed::Invalid("version 1 protocol is not TCP4, TCP6 or UNKNOWN"),
        Some(b'\n') => parse_v1_line(&input[V1_PREFIX.len()..end], end + 2),
        Some(_) => Parsed::Invalid("CR without LF in a version 1 header"),
    }
}

/// Whether the start of a version 1 line that has not ended yet can still be a protocol this
/// server takes: a complete first word must be one, an incomplete one the start of one.
fn v1_protocol_so_far(rest: &[u8]) -> bool {
    match rest.iter().position(|&b| b == b' ') {
        Some(space) => V1_PROTOCOLS.contains(&&rest[..space]),
        None => V1_PROTOCOLS.iter().any(|p| p.starts_with(rest)),
    }
}

/// The words of a whole version 1 line, between `PROXY ` and CRLF.
fn parse_v1_line(line: &[u8], header_len: usize) -> Parsed {
    let mut words = line.split(|&b| b == b' ');
    let family = words.next();
    if family == Some(b"UNKNOWN") {
        // "the receiver must ignore anything presented before the CRLF is found"
        return Parsed::Done {
            header_len,
            source: None,
        };
    }
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return Parsed::Invalid("version 1 line is not PROTOCOL SRC DST SPORT DPORT");
    };
    let v6 = match family {
        Some(b"TCP4") => false,
        Some(b"TCP6") => true,
        _ => return Parsed::Invalid("version 1 protocol is not TCP4, TCP6 or UNKNOWN"),
    };
    // Both addresses must be valid and of the family, though only the source is used.
    let address = |word: &[u8]| -> Option<IpAddr> {
        let text = std::str::from_utf8(word).ok()?;
        match v6 {
            false => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            true => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        }
    };
    let (Some(source), Some(_)) = (address(src), address(dst)) else {
        return Parsed::Invalid("version 1 address is not one of its protocol's family");
    };
    let (Some(port), Some(_)) = (v1_port(sport), v1_port(dport)) else {
        return Parsed::Invalid("version 1 port is not a number from 0 to 65535");
    };
    Parsed::Done {
        header_len,
        source: Some(SocketAddr::new(source, port)),
    }
}

/// A port as version 1 writes it: decimal digits only, no leading zero, at most 65535.
fn v1_port(word: &[u8]) -> Option<u16> {
    let digits = !word.is_empty() && word.len() <= 5 && word.iter().all(u8::is_ascii_digit);
    if !digits || (word.len() > 1 && word[0] == b'0') {
        return None;
    }
    let value = word.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(value).ok()
}

fn parse_v2(input: &[u8]) -> Parsed {
    let seen = input.len().min(V2_SIGNATURE.len());
    if input[..seen] != V2_SIGNATURE[..seen] {
        return Parsed::Invalid("no PROXY header");
    }
    // Each byte of the fixed part is checked as soon as it is there, so a bad one is refused
    // without waiting for the rest.
    let command = match input.get(12) {
        None => None,
        Some(&byte) if byte >> 4 != 2 => return Parsed::Invalid("PROXY version other than 2"),
        Some(&byte) if !matches!(byte & 0xf, CMD_LOCAL | CMD_PROXY) => {
            return Parsed::Invalid("PROXY command other than LOCAL and PROXY");
        }
        Some(&byte) => Some(byte & 0xf),
    };
    // What LOCAL sends after the fixed part is to be ignored whole: only PROXY's is read.
    let proxied = command == Some(CMD_PROXY);
    let (family, protocol) = match input.get(13) {
        Some(&byte) => (byte >> 4, byte & 0xf),
        None => (AF_UNSPEC, 0),
    };
    if proxied && input.len() > 13 {
        if family > AF_UNIX {
            return Parsed::Invalid("PROXY address family unknown");
        }
        if protocol == PROTO_DGRAM {
            return Parsed::Invalid("PROXY header for a datagram protocol");
        }
        if protocol > PROTO_DGRAM {
            return Parsed::Invalid("PROXY transport protocol unknown");
        }
    }
    let Some(&[high, low]) = input.get(14..V2_FIXED_LEN) else {
        return Parsed::Incomplete(Some(V2_FIXED_LEN - input.len()));
    };
    let len = usize::from(u16::from_be_bytes([high, low]));
    if len > limits::PROXY_V2_MAX_PAYLOAD {
        return Parsed::Invalid("PROXY header longer than the limit");
    }
    let address_bytes = if proxied {
        ADDRESS_BYTES[usize::from(family)]
    } else {
        0
    };
    if len < address_bytes {
        return Parsed::Invalid("PROXY length shorter than its family's addresses");
    }
    let header_len = V2_FIXED_LEN + len;
    let Some(block) = input.get(V2_FIXED_LEN..header_len) else {
        return Parsed::Incomplete(Some(header_len - input.len()));
    };
    if proxied && family != AF_UNSPEC && !tlvs_fit(&block[address_bytes..]) {
        return Parsed::Invalid("PROXY TLV runs past the header's length");
    }
    let source = match (proxied, family, protocol) {
        (true, AF_INET, PROTO_STREAM) => {
            let ip: [u8; 4] = block[..4].try_into().unwrap_or_default();
            let port = u16::from_be_bytes([block[8], block[9]]);
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        (true, AF_INET6, PROTO_STREAM) => {
            let ip: [u8; 16] = block[..16].try_into().unwrap_or_default();
            let port = u16::from_be_bytes([block[32], block[33]]);
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        // LOCAL, AF_UNSPEC, AF_UNIX, or an unspecified transport: the socket's peer stands.
        _ => None,
    };
    Parsed::Done { header_len, source }
}

/// Whether `tlvs` is a whole number of TLVs (a type byte, a big-endian length, the value).
fn tlvs_fit(mut tlvs: &[u8]) -> bool {
    // Each turn takes at least three bytes, so this ends.
    while !tlvs.is_empty() {
        let Some(&[_kind, high, low]) = tlvs.get(..3) else {
            return false;
        };
        let len = 3 + usize::from(u16::from_be_bytes([high, low]));
        let Some(rest) = tlvs.get(len..) else {
            return false;
        };
        tlvs = rest;
    }
    true
}

/// A range of addresses, `10.0.0.0/8` or `2001:db8::/32` (a bare address is a range of one):
/// the proxies a socket's sites trust to send the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Reads `ADDRESS[/PREFIX]`. Bits set past the prefix are refused rather than dropped:
    /// `10.0.0.1/8` is more likely a typo for `/32` than a way to write `10.0.0.0/8`.
    pub fn parse(text: &str) -> Result<Cidr, &'static str> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| "not an address or a range such as 10.0.0.0/8 or fd00::/8")?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&p| p <= bits).ok_or(
                    "the prefix length is more than the address has bits (32 for IPv4, 128 for IPv6)",
                )?
            }
            Some(_) => return Err("the prefix length after '/' must be a number"),
        };
        if network.to_canonical() != network {
            return Err(
                "write an IPv4 range as IPv4 (10.0.0.0/8), not as IPv6 (::ffff:10.0.0.0/104)",
            );
        }
        let cidr = Cidr { network, prefix };
        if cidr.masked(network) != Some(network) {
            return Err("the address has bits set past the prefix length");
        }
        Ok(cidr)
    }

    /// Whether `addr` is in the range. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is
    /// the IPv4 address it stands for.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.masked(addr.to_canonical()) == Some(self.network)
    }

    /// `addr` with the bits past the prefix cleared, if it is of the range's family.
    fn masked(&self, addr: IpAddr) -> Option<IpAddr> {
        let prefix = u32::from(self.prefix);
        match (self.network, addr) {
            (IpAddr::V4(_), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                Some(IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask)))
            }
            (IpAddr::V6(_), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                Some(IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask)))
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests;
