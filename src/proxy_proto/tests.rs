//! The PROXY header parser on every shape of input: valid headers of both versions, each cut
//! short at every byte (always `Incomplete`, never a verdict on bytes not yet seen), each way of
//! being malformed, and arbitrary bytes (never a panic, and the prefix property the connection
//! relies on).

use super::*;
use proptest::prelude::*;

fn done(header_len: usize, source: Option<&str>) -> Parsed {
    Parsed::Done {
        header_len,
        source: source.map(|s| s.parse().unwrap()),
    }
}

fn invalid(input: &[u8]) -> bool {
    matches!(parse(input), Parsed::Invalid(_))
}

/// A version 2 header: command, family and protocol byte, the address block and TLVs.
fn v2(command: u8, family_protocol: u8, block: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.push(0x20 | command);
    header.push(family_protocol);
    header.extend_from_slice(&(block.len() as u16).to_be_bytes());
    header.extend_from_slice(block);
    header
}

/// The address block of TCP over IPv4: 192.0.2.7:51000 to 10.0.0.1:443.
fn inet_block() -> Vec<u8> {
    let mut block = vec![192, 0, 2, 7, 10, 0, 0, 1];
    block.extend_from_slice(&51000u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    block
}

/// The address block of TCP over IPv6: [2001:db8::7]:51000 to [2001:db8::1]:443.
fn inet6_block() -> Vec<u8> {
    let src: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut block = src.octets().to_vec();
    block.extend_from_slice(&dst.octets());
    block.extend_from_slice(&51000u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    block
}

/// Two TLVs as AWS and HAProxy send them: a VPC endpoint ID (type 0xEA) and an ALPN (0x01).
fn tlvs() -> Vec<u8> {
    let mut tlvs = vec![0xea, 0x00, 0x17, 0x01];
    tlvs.extend_from_slice(b"vpce-08d2bf15fac5001c9");
    tlvs.extend_from_slice(&[0x01, 0x00, 0x02]);
    tlvs.extend_from_slice(b"h2");
    tlvs
}

/// Valid headers of every kind, each with the answer it gets.
fn valid() -> Vec<(Vec<u8>, Parsed)> {
    let v1_tcp4 = b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\r\n".to_vec();
    let v1_tcp6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n".to_vec();
    let v1_unknown = b"PROXY UNKNOWN\r\n".to_vec();
    let v1_unknown_rest = b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".to_vec();
    let v1_longest = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        .to_vec();
    let mut v1_padded = b"PROXY UNKNOWN ".to_vec();
    v1_padded.resize(V1_MAX_LEN - 2, b'x');
    v1_padded.extend_from_slice(b"\r\n");
    let mut with_tlvs = inet_block();
    with_tlvs.extend_from_slice(&tlvs());
    let mut unix = vec![0u8; 216];
    unix[..9].copy_from_slice(b"/run/sock");
    let (l4, l6) = (v1_tcp4.len(), v1_tcp6.len());
    vec![
        (v1_tcp4, done(l4, Some("192.0.2.7:51000"))),
        (v1_tcp6, done(l6, Some("[2001:db8::7]:51000"))),
        (v1_unknown, done(15, None)),
        (v1_unknown_rest, done(35, None)),
        (
            v1_longest,
            done(104, Some("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")),
        ),
        (v1_padded, done(V1_MAX_LEN, None)),
        (
            b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n".to_vec(),
            done(44, Some("0.0.0.0:0")),
        ),
        (
            v2(CMD_PROXY, 0x11, &inet_block()),
            done(28, Some("192.0.2.7:51000")),
        ),
        (
            v2(CMD_PROXY, 0x21, &inet6_block()),
            done(52, Some("[2001:db8::7]:51000")),
        ),
        (
            v2(CMD_PROXY, 0x11, &with_tlvs),
            done(16 + with_tlvs.len(), Some("192.0.2.7:51000")),
        ),
        // LOCAL: whatever follows is ignored, family and protocol included.
        (v2(CMD_LOCAL, 0x00, &[]), done(16, None)),
        (v2(CMD_LOCAL, 0x12, &[1, 2, 3]), done(19, None)),
        (v2(CMD_LOCAL, 0xff, &[]), done(16, None)),
        // Families without an IP address keep the socket's peer.
        (v2(CMD_PROXY, 0x00, &[9, 9, 9]), done(19, None)),
        (v2(CMD_PROXY, 0x31, &unix), done(16 + 216, None)),
        (v2(CMD_PROXY, 0x10, &inet_block()), done(28, None)),
        // The longest allowed.
        (
            v2(CMD_LOCAL, 0x00, &[0; limits::PROXY_V2_MAX_PAYLOAD]),
            done(MAX_LEN, None),
        ),
    ]
}

#[test]
fn valid_headers_of_both_versions() {
    for (header, expected) in valid() {
        assert_eq!(parse(&header), expected, "{:?}", header.escape_ascii());
    }
}

#[test]
fn bytes_after_the_header_are_not_part_of_it() {
    for (header, expected) in valid() {
        for after in [
            &b"GET / HTTP/1.1\r\n"[..],
            &[0x16, 0x03, 0x01],
            b"\r\n",
            b"P",
        ] {
            let glued = [&header[..], after].concat();
            assert_eq!(parse(&glued), expected, "{:?}", glued.escape_ascii());
        }
    }
}

#[test]
fn every_truncation_of_a_valid_header_is_incomplete() {
    for (header, _) in valid() {
        for cut in 0..header.len() {
            let answer = parse(&header[..cut]);
            assert!(
                matches!(answer, Parsed::Incomplete(_)),
                "{:?} cut at {cut}: {answer:?}",
                header.escape_ascii()
            );
            // Version 2 knows how many more bytes it needs: exactly the rest once the length
            // is in, at least the fixed part before.
            if header[0] == b'\r' && cut > 0 {
                let needed = if cut < 16 {
                    16 - cut
                } else {
                    header.len() - cut
                };
                assert_eq!(answer, Parsed::Incomplete(Some(needed)), "cut at {cut}");
            }
        }
    }
}

#[test]
fn malformed_version_1_lines_are_refused() {
    let bad: &[&[u8]] = &[
        b"PROXY  TCP4 192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY TCP4  192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443 \r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443 80\r\n",
        b"PROXY TCP4 2001:db8::7 10.0.0.1 51000 443\r\n",
        b"PROXY TCP6 192.0.2.7 2001:db8::1 51000 443\r\n",
        b"PROXY TCP6 2001:db8::7 192.0.2.7 51000 443\r\n",
        b"PROXY TCP6 fe80::1%eth0 2001:db8::1 51000 443\r\n",
        b"PROXY TCP4 192.0.2.07 10.0.0.1 51000 443\r\n",
        b"PROXY TCP4 192.0.2 10.0.0.1 51000 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 65536 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 051000 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 0443 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 +443 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 -1 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 4a3 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 99999999999999999999 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1  443\r\n",
        b"PROXY TCP4\r\n",
        b"PROXY tcp4 192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY TCP5 192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY UDP4 192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY UNKNOWNX\r\n",
        b"PROXY \r\n",
        b"PROXY\r\n",
        b"proxy TCP4 192.0.2.7 10.0.0.1 51000 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\r\r\n",
        b"PROXY TCP4 192.0.2.7\t10.0.0.1 51000 443\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\0\r\n",
        b"PROXY UNKNOWN \xff\r\n",
    ];
    for line in bad {
        assert!(invalid(line), "{:?}", line.escape_ascii());
    }
}

#[test]
fn a_bad_version_1_start_is_refused_before_its_end() {
    for start in [
        &b"PROXY X"[..],
        b"PROXY TCP4X",
        b"PROXY TCP ",
        b"PROXY UNKNOWN\n",
        b"PROXX",
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01",
        b"PRI * HTTP/2.0",
    ] {
        assert!(invalid(start), "{:?}", start.escape_ascii());
    }
}

#[test]
fn a_version_1_line_past_107_bytes_is_refused() {
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(V1_MAX_LEN - 1, b'x');
    long.extend_from_slice(b"\r\n");
    assert_eq!(long.len(), V1_MAX_LEN + 1);
    assert!(invalid(&long));
    // Refused at 107 bytes without a CRLF, without waiting for the 108th.
    assert!(invalid(&long[..V1_MAX_LEN]));
    assert_eq!(parse(&long[..V1_MAX_LEN - 1]), Parsed::Incomplete(None));
    // A CR as the 107th byte leaves no room for its LF.
    assert!(invalid(
        &long[..V1_MAX_LEN - 1]
            .iter()
            .chain(b"\r")
            .copied()
            .collect::<Vec<_>>()
    ));
}

#[test]
fn malformed_version_2_headers_are_refused() {
    let block = inet_block();
    let mut bad = Vec::new();
    // Each byte of the signature changed.
    for at in 0..V2_SIGNATURE.len() {
        let mut header = v2(CMD_PROXY, 0x11, &block);
        header[at] ^= 0x40;
        bad.push(header);
    }
    // Versions 1 and 3, commands 2 and 15.
    for byte in [0x11, 0x31, 0x22, 0x2f] {
        let mut header = v2(CMD_PROXY, 0x11, &block);
        header[12] = byte;
        bad.push(header);
    }
    // Families past AF_UNIX, datagrams, unknown transports.
    for family_protocol in [0x41, 0xf1, 0x12, 0x22, 0x32, 0x02, 0x13, 0x1f] {
        bad.push(v2(CMD_PROXY, family_protocol, &inet6_block()));
    }
    // Address blocks shorter than the family's addresses.
    bad.push(v2(CMD_PROXY, 0x11, &block[..11]));
    bad.push(v2(CMD_PROXY, 0x21, &inet6_block()[..35]));
    bad.push(v2(CMD_PROXY, 0x31, &[0; 215]));
    // TLVs that run past the length, or are cut in their own header.
    for tail in [&[0x01, 0x00, 0x03, b'h', b'2'][..], &[0x01, 0x00], &[0x04]] {
        bad.push(v2(CMD_PROXY, 0x11, &[&block[..], tail].concat()));
    }
    for header in &bad {
        assert!(invalid(header), "{:?}", header.escape_ascii());
    }
}

#[test]
fn a_bad_version_2_fixed_part_is_refused_at_once() {
    // Without waiting for the address block: the byte that decides is enough.
    let mut header = v2(CMD_PROXY, 0x41, &inet_block());
    assert!(invalid(&header[..14]));
    header[13] = 0x12;
    assert!(invalid(&header[..14]));
    header[12] = 0x11;
    assert!(invalid(&header[..13]));
    // A length past the limit is refused when the length arrives.
    let mut long = v2(CMD_LOCAL, 0x00, &[]);
    long[14..16].copy_from_slice(&((limits::PROXY_V2_MAX_PAYLOAD + 1) as u16).to_be_bytes());
    assert!(invalid(&long));
    long[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert!(invalid(&long));
    // LOCAL's family and protocol are not looked at.
    let local = v2(CMD_LOCAL, 0x41, &[]);
    assert_eq!(parse(&local[..14]), Parsed::Incomplete(Some(2)));
}

#[test]
fn trusted_ranges_parse_and_match() {
    let range = |text: &str| Cidr::parse(text).unwrap();
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    assert!(range("10.0.0.0/8").contains(ip("10.255.0.1")));
    assert!(!range("10.0.0.0/8").contains(ip("11.0.0.1")));
    assert!(range("127.0.0.1").contains(ip("127.0.0.1")));
    assert!(!range("127.0.0.1").contains(ip("127.0.0.2")));
    assert!(range("0.0.0.0/0").contains(ip("203.0.113.9")));
    assert!(!range("0.0.0.0/0").contains(ip("::1")));
    assert!(range("::/0").contains(ip("2001:db8::1")));
    assert!(range("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
    assert!(!range("2001:db8::/32").contains(ip("2001:db9::1")));
    assert!(range("::1/128").contains(ip("::1")));
    // An IPv4 peer seen through an IPv6 socket is still the IPv4 address.
    assert!(range("192.0.2.0/24").contains(ip("::ffff:192.0.2.9")));
    assert_eq!(range("10.0.0.0/8").to_string(), "10.0.0.0/8");
    assert_eq!(range("::1").to_string(), "::1/128");
    for bad in [
        "10.0.0.1/8",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/08x",
        "10.0.0.0/8/8",
        "10.0.0.0 /8",
        "example.com",
        "",
        "::ffff:10.0.0.0/104",
        "fe80::1%eth0",
    ] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
}

/// Checks what the connection relies on, for `input` and every prefix of it: each prefix's
/// answer agrees with the whole's (a verdict once given never changes; `Incomplete` only while
/// the header extends past the prefix), and a header is never longer than `MAX_LEN`.
pub(crate) fn check_prefixes(input: &[u8]) {
    let whole = parse(input);
    if let Parsed::Done { header_len, .. } = whole {
        assert!(header_len <= input.len() && header_len <= MAX_LEN);
    }
    for cut in 0..input.len() {
        match parse(&input[..cut]) {
            Parsed::Incomplete(needed) => {
                if let Parsed::Done { header_len, .. } = whole {
                    assert!(
                        header_len > cut,
                        "Incomplete at {cut}, but the header ends there"
                    );
                    assert!(needed.is_none_or(|n| cut + n <= header_len));
                }
            }
            // A refusal may name another reason once more bytes show more faults.
            Parsed::Invalid(_) => assert!(
                matches!(whole, Parsed::Invalid(_)),
                "refused at {cut}, not whole: {:?}",
                input.escape_ascii()
            ),
            done => assert_eq!(done, whole, "at {cut} of {:?}", input.escape_ascii()),
        }
    }
}

#[test]
fn verdicts_never_change_as_bytes_arrive() {
    for (header, _) in valid() {
        check_prefixes(&[&header[..], b"GET / HTTP/1.1\r\n"].concat());
    }
    // Found by the fuzz target: a bad protocol word was refused until its line's CR arrived,
    // then taken as incomplete.
    check_prefixes(b"PROXY UNKLOWN\r");
    check_prefixes(b"PROXY TCP4X\r");
    // (The longest version 2 header, all zeros after its fixed part, would only take long.)
    for (header, _) in valid().into_iter().filter(|(h, _)| h.len() < 300) {
        for (at, &byte) in header.iter().enumerate() {
            // Each byte of each valid header replaced by each byte that matters to the parser.
            for replacement in [b' ', b'\r', b'\n', b'0', b'X', 0, 0xff, byte ^ 1] {
                let mut changed = header.clone();
                changed[at] = replacement;
                check_prefixes(&changed);
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_keep_the_prefix_property(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        check_prefixes(&bytes);
    }

    #[test]
    fn mutated_headers_keep_the_prefix_property(
        pick in 0usize..17,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (mut header, _) = valid().swap_remove(pick);
        let at = at.index(header.len());
        header[at] = byte;
        check_prefixes(&header);
    }
}
