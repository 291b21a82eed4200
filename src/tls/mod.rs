//! TLS with rustls: certificates loaded by the master, chosen per handshake by SNI, and one
//! ticket key schedule for every worker (`tickets.rs`).
//!
//! The master builds one `rustls::ServerConfig` per TLS listen socket before it forks: the
//! certificates and keys of the sites on that socket, and a resolver that picks one by the
//! ClientHello's server name with the same rules as `vhost::Route` (exact, then the longest
//! wildcard, then the socket's default site). Workers inherit the configurations through fork,
//! so keys are read once, by the master, before any privilege could be dropped; a reload reads
//! them again, and a pair that does not load refuses the reload and leaves the old one serving.
//!
//! The crypto provider is ring: it builds with only a C compiler, which a fresh machine has,
//! where aws-lc-rs may need cmake.

pub mod tickets;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::vhost::Route;

/// The ALPN protocols offered, most preferred first: HTTP/2 where the socket's sites allow it.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate's file and the end of its validity, for the warning before it expires.
#[derive(Clone, Debug)]
pub struct Expiry {
    pub cert: std::path::PathBuf,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
}

/// A certificate expiring within this many days is warned about at start and at each reload.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

impl Expiry {
    /// Whole days left from `now` (Unix seconds); negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

/// When the server's certificate in `pair` stops being valid.
pub fn expiry(cert: &Path, pair: &CertifiedKey) -> Option<Expiry> {
    let end_entity = pair.cert.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(end_entity.as_ref()).ok()?;
    Some(Expiry {
        cert: cert.to_path_buf(),
        not_after: parsed.validity().not_after.timestamp(),
    })
}

/// Reads a PEM certificate chain and its private key (PKCS#8, SEC1 or PKCS#1; ECDSA, Ed25519
/// or RSA) and checks that they belong together. The error is one clause naming the file.
pub fn load_key_pair(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let pair = CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
        format!(
            "{} and {} do not make a pair: {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(Arc::new(pair))
}

/// Picks the certificate of the site a ClientHello names, as `Route` picks the site.
#[derive(Debug)]
pub struct SniResolver {
    route: Route,
    /// By site index; every site on the socket has one (checked when the file loads).
    keys: Vec<Option<Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let site = self.route.select(hello.server_name());
        self.keys
            .get(site)
            .and_then(Clone::clone)
            .or_else(|| self.keys.get(self.route.default).and_then(Clone::clone))
    }
}

/// The rustls configuration of one TLS socket: `route` its sites, `keys` their certificates
/// by site index, `http2` whether it offers `h2`.
pub fn server_config(
    route: Route,
    keys: Vec<Option<Arc<CertifiedKey>>>,
    http2: bool,
) -> Arc<ServerConfig> {
    let resolver = Arc::new(SniResolver { route, keys });
    // The provider's defaults: its cipher suites (all with forward secrecy) and key exchanges.
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let mut config = builder.with_no_client_auth().with_cert_resolver(resolver);
    config.alpn_protocols = ALPN
        .iter()
        .filter(|&&p| http2 || p != b"h2")
        .map(|p| p.to_vec())
        .collect();
    // The provider's order (AEADs with forward secrecy, the strongest first), not whatever a
    // client lists first: a server that follows the client can be talked down.
    config.ignore_client_order = true;
    if let Some(ticketer) = tickets::SharedTicketer::new() {
        config.ticketer = Arc::new(ticketer);
        // TLS 1.3 resumes by ticket; its stateful cache would be per worker and so miss.
        config.send_tls13_tickets = 1;
    }
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Arc::new(config)
}
