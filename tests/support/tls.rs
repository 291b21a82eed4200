//! TLS for tests, with Rust libraries only: a certificate authority made at run time (rcgen),
//! leaf certificates signed by it, their keys in each PEM form a server reads (PKCS#8, SEC1,
//! PKCS#1), and a rustls client whose connections the raw HTTP `Client` speaks over.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, ServerName};

use super::{Client, WAIT, write_file};

/// A TLS connection from the test to the server.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// The protocol versions, as `Authority::client` takes them.
pub(crate) const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;
pub(crate) const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;

/// A certificate authority that exists for one test: its clients trust it and nothing else.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub cert: CertificateDer<'static>,
}

impl Authority {
    pub(crate) fn new() -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "forkhttpd test authority");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap().der().clone();
        Authority {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// A certificate for `names` with a new ECDSA P-256 key.
    pub(crate) fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with_key(names, KeyPair::generate().unwrap())
    }

    /// A certificate for `names` with the given key.
    pub(crate) fn leaf_with_key(&self, names: &[&str], key: KeyPair) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            pem: cert.pem(),
            der: cert.der().clone(),
            key,
        }
    }

    /// A client that trusts this authority, offers ALPN `http/1.1` and speaks `versions`.
    pub(crate) fn client(&self, versions: &[&'static SupportedProtocolVersion]) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

/// A leaf certificate and its key.
pub(crate) struct Leaf {
    /// The certificate as PEM, as the server reads it.
    pub pem: String,
    /// The certificate as the client receives it.
    pub der: CertificateDer<'static>,
    key: KeyPair,
}

impl Leaf {
    /// The key as PKCS#8 (`PRIVATE KEY`).
    pub(crate) fn pkcs8_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The key in its algorithm's own form, taken out of its PKCS#8 envelope and written with
    /// `label`: SEC1 (`EC PRIVATE KEY`) for an ECDSA key, PKCS#1 (`RSA PRIVATE KEY`) for RSA.
    pub(crate) fn inner_key_pem(&self, label: &str) -> String {
        pem(label, pkcs8_inner(self.key.serialized_der()))
    }

    /// Writes `NAME.pem` (the certificate) and `NAME.key` (PKCS#8) into `dir`; returns their
    /// paths.
    pub(crate) fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        (
            write_file(dir, &format!("{name}.pem"), &self.pem),
            write_file(dir, &format!("{name}.key"), &self.pkcs8_pem()),
        )
    }
}

/// A 2048-bit RSA key in PKCS#8, made once with `openssl genpkey -algorithm RSA` for these
/// tests alone (ring signs with RSA keys but does not make them). It protects nothing.
pub(crate) const TEST_RSA_KEY: &str = include_str!("test-rsa.key");

/// The private key inside a PKCS#8 `PrivateKeyInfo` (RFC 5208): the contents of its OCTET
/// STRING, which is the SEC1 or PKCS#1 structure.
fn pkcs8_inner(der: &[u8]) -> &[u8] {
    let (tag, info, _) = der_item(der);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (tag, _version, rest) = der_item(info);
    assert_eq!(tag, 0x02, "version");
    let (tag, _algorithm, rest) = der_item(rest);
    assert_eq!(tag, 0x30, "algorithm");
    let (tag, key, _) = der_item(rest);
    assert_eq!(tag, 0x04, "privateKey is an OCTET STRING");
    key
}

/// One DER item at the front of `bytes`: its tag, its contents and what follows it.
fn der_item(bytes: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (bytes[0], bytes[1]);
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let len = bytes[2..2 + count]
            .iter()
            .fold(0usize, |len, b| len << 8 | usize::from(*b));
        (len, 2 + count)
    };
    (tag, &bytes[start..start + len], &bytes[start + len..])
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Connects to `addr` over TLS, asking for (and verifying) `name`, and completes the handshake,
/// so the connection's certificates and resumption are known before any request.
pub(crate) fn connect_tls(
    addr: SocketAddr,
    name: &str,
    config: &Arc<ClientConfig>,
) -> Client<TlsStream> {
    try_connect_tls(addr, name, config).unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"))
}

/// As `connect_tls`, with the handshake's error returned.
pub(crate) fn try_connect_tls(
    addr: SocketAddr,
    name: &str,
    config: &Arc<ClientConfig>,
) -> std::io::Result<Client<TlsStream>> {
    try_connect_tls_after(addr, b"", name, config)
}

/// As `try_connect_tls`, with `first` sent in the clear before the handshake (a PROXY header,
/// as a load balancer in front would send it).
pub(crate) fn try_connect_tls_after(
    addr: SocketAddr,
    first: &[u8],
    name: &str,
    config: &Arc<ClientConfig>,
) -> std::io::Result<Client<TlsStream>> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(WAIT))?;
    socket.set_write_timeout(Some(WAIT))?;
    std::io::Write::write_all(&mut socket, first)?;
    let server_name = ServerName::try_from(name.to_owned()).expect("a server name");
    let mut conn = ClientConnection::new(config.clone(), server_name).expect("a TLS client");
    while conn.is_handshaking() {
        conn.complete_io(&mut socket)?;
    }
    Ok(Client::over(StreamOwned::new(conn, socket)))
}

impl Client<TlsStream> {
    /// The certificate the server presented (the first of its chain).
    pub(crate) fn server_cert(&self) -> CertificateDer<'static> {
        self.stream.conn.peer_certificates().expect("a certificate")[0].clone()
    }

    /// Sends `GET path` for `host` and reads the response.
    pub(crate) fn get_from(&mut self, host: &str, path: &str) -> super::Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        self.response()
    }
}
