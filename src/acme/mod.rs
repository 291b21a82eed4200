//! ACME (RFC 8555): certificates without a human, for the sites whose `[site.tls]` says
//! `acme = { ... }`.
//!
//! The work happens in a helper process the master forks and supervises like a worker (the
//! master itself has no runtime). The helper, on its own tokio runtime with `instant-acme`:
//!
//! 1. looks at each site's certificate in `state` (`store.rs` has the layout) and decides, with
//!    the CA's renewal information when it offers some, whether to order one (`schedule.rs`);
//! 2. orders it: an HTTP-01 challenge per name, whose key authorization it leaves in
//!    `state/http-01/TOKEN` for the workers to answer (`challenge.rs`), then a CSR for a fresh
//!    ECDSA P-256 key, then the chain, written with the key as one file, atomically;
//! 3. after a pass that installed a certificate, sends the master SIGHUP: the master reads the
//!    configuration and certificates again and replaces its workers without losing a
//!    connection, as for any reload;
//! 4. sleeps until the next renewal (at most [`schedule::RECHECK`]); a failure is logged and
//!    retried with backoff while the old certificate keeps serving.
//!
//! The workers never talk to the helper, and the master knows only to keep it running: the
//! files are the interface.

pub mod challenge;
pub mod schedule;
pub mod store;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, CertificateIdentifier, ChallengeType,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use rustls_pki_types::CertificateDer;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, error, info, warn};

use schedule::{Held, Plan, Retry};

/// The directory used when a site names none: Let's Encrypt's production service.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How long the helper waits for the CA to validate the challenges, and then to issue.
const POLL_SECONDS: u64 = 180;
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(500))
    .backoff(1.5)
    .timeout(Duration::from_secs(POLL_SECONDS));

/// One attempt at one site, from the first request to the CA to the installed file, is given
/// up after this long: a CA that stops answering must not stall the other sites.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(600);

/// Exit code of a helper that cannot start its runtime; the master respawns it with backoff.
const EXIT_RESPAWN: i32 = 1;

/// What a site asks of its CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// For log lines: the site's name.
    pub site: String,
    /// Its server names, lowercase: the certificate's names.
    pub names: Vec<String>,
    pub email: Option<String>,
    /// The CA's directory URL.
    pub directory: String,
    /// A PEM root the directory's HTTPS certificate chains to, for a private CA.
    pub ca_root: Option<PathBuf>,
    pub state: PathBuf,
    /// `state/ISSUER/NAME.pem`: the chain and its key. The master reads it at each reload.
    pub certificate: PathBuf,
}

/// The helper process: runs until the master stops it (SIGTERM, whose default action is fine:
/// every file is replaced atomically) and returns an exit code if it cannot.
pub fn run(orders: &[Order], master: Pid, log_file: Option<&Path>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("acme helper: cannot start its runtime: {e}");
            return EXIT_RESPAWN;
        }
    };
    runtime.block_on(supervise(orders, master, log_file))
}

async fn supervise(orders: &[Order], master: Pid, log_file: Option<&Path>) -> i32 {
    let Ok(mut reopen) = signal(SignalKind::from_raw(crate::process::REOPEN as i32)) else {
        error!("acme helper: cannot handle {}", crate::process::REOPEN);
        return EXIT_RESPAWN;
    };
    // Its handler first: a reopen sent meanwhile waits for it.
    crate::process::unblock_signals();
    let mut next_at = vec![0i64; orders.len()];
    let mut retries = vec![Retry::default(); orders.len()];
    loop {
        let now = unix_now();
        let mut installed = false;
        for (at, (order, retry)) in next_at.iter_mut().zip(orders.iter().zip(&mut retries)) {
            if *at > now {
                continue;
            }
            match tokio::time::timeout(ATTEMPT_LIMIT, attend(order)).await {
                Ok(Ok(outcome)) => {
                    retry.succeeded();
                    installed |= outcome.installed;
                    *at = outcome.renew_at;
                }
                Ok(Err(e)) => {
                    let delay = retry.after_failure();
                    error!(
                        "acme: site {}: {e:#}; the current certificate, if any, keeps serving; \
                         next attempt in {}s",
                        order.site,
                        delay.as_secs()
                    );
                    *at = now + delay.as_secs() as i64;
                }
                Err(_) => {
                    let delay = retry.after_failure();
                    error!(
                        "acme: site {}: no answer from {} within {}s; next attempt in {}s",
                        order.site,
                        order.directory,
                        ATTEMPT_LIMIT.as_secs(),
                        delay.as_secs()
                    );
                    *at = now + delay.as_secs() as i64;
                }
            }
        }
        if installed {
            info!("acme: new certificates installed; asking the master to reload");
            crate::process::send(master, Signal::SIGHUP);
        }
        let now = unix_now();
        let wake = next_at
            .iter()
            .copied()
            .min()
            .unwrap_or(i64::MAX)
            .min(now + schedule::RECHECK.as_secs() as i64);
        let pause = Duration::from_secs(wake.saturating_sub(now).max(1) as u64);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = reopen.recv() => {
                if let Some(path) = log_file
                    && let Err(e) = crate::log::reopen(path)
                {
                    error!("acme helper: cannot reopen log file {}: {e}", path.display());
                }
            }
        }
    }
}

/// What one look at a site came to.
struct Outcome {
    /// A new certificate was written.
    installed: bool,
    /// When to look again.
    renew_at: i64,
}

/// Looks at one site's certificate and orders a new one if it is due.
async fn attend(order: &Order) -> anyhow::Result<Outcome> {
    let held = read_held(order);
    let now = unix_now();
    let wanted = &order.names;
    let plan_without_ari = schedule::plan(held.as_ref().map(|h| &h.0), wanted, None, 0.0, now);
    // The CA's renewal window, when it has one and a certificate is held that may not be due.
    let mut account = None;
    let mut window = None;
    if let (Some((_, end_entity)), Plan::RenewAt(_)) = (&held, plan_without_ari) {
        match renewal_window(order, end_entity).await {
            Ok((found, window_found)) => {
                account = Some(found);
                window = window_found;
            }
            Err(e) => debug!("acme: site {}: no renewal information: {e:#}", order.site),
        }
    }
    let plan = schedule::plan(
        held.as_ref().map(|h| &h.0),
        wanted,
        window,
        random_fraction(),
        now,
    );
    let reason = match plan {
        Plan::RenewAt(at) => {
            let at_time = UNIX_EPOCH + Duration::from_secs(at.max(0) as u64);
            debug!(
                "acme: site {}: certificate good until renewal at {}",
                order.site,
                httpdate::fmt_http_date(at_time)
            );
            return Ok(Outcome {
                installed: false,
                renew_at: at,
            });
        }
        Plan::OrderNow(reason) => reason,
    };
    info!(
        "acme: site {}: ordering a certificate for {} from {}: {reason}",
        order.site,
        order.names.join(", "),
        order.directory
    );
    let account = match account {
        Some(account) => account,
        None => open_account(order).await?,
    };
    issue(order, &account).await?;
    let Some((new, _)) = read_held(order) else {
        bail!("the certificate just written does not load");
    };
    let until = UNIX_EPOCH + Duration::from_secs(new.not_after.max(0) as u64);
    info!(
        "acme: site {}: certificate installed in {}, valid until {}",
        order.site,
        order.certificate.display(),
        httpdate::fmt_http_date(until)
    );
    let renew_at = match schedule::plan(Some(&new), wanted, None, 0.0, unix_now()) {
        Plan::RenewAt(at) => at,
        // A CA that issues certificates already due would otherwise be asked again at once.
        Plan::OrderNow(_) => unix_now() + schedule::MAX_RETRY.as_secs() as i64,
    };
    Ok(Outcome {
        installed: true,
        renew_at,
    })
}

/// The site's certificate as the master would load it: a chain and a key that pair. A file
/// that does not load counts as none, so a new one is ordered.
fn read_held(order: &Order) -> Option<(Held, CertificateDer<'static>)> {
    if !order.certificate.exists() {
        return None;
    }
    let pair = match crate::tls::load_key_pair(&order.certificate, &order.certificate) {
        Ok(pair) => pair,
        Err(e) => {
            warn!("acme: site {}: {e}; ordering a new one", order.site);
            return None;
        }
    };
    let end_entity = pair.cert.first()?.clone().into_owned();
    let (_, parsed) = x509_parser::parse_x509_certificate(end_entity.as_ref()).ok()?;
    let names = match parsed.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => {
                    Some(dns.to_ascii_lowercase())
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let held = Held {
        not_before: parsed.validity().not_before.timestamp(),
        not_after: parsed.validity().not_after.timestamp(),
        names,
    };
    Some((held, end_entity))
}

/// The CA's suggested renewal window (RFC 9773) for `end_entity`, in Unix seconds.
async fn renewal_window(
    order: &Order,
    end_entity: &CertificateDer<'_>,
) -> anyhow::Result<(Account, Option<(i64, i64)>)> {
    let account = open_account(order).await?;
    let id = CertificateIdentifier::try_from(end_entity).map_err(|e| anyhow!(e))?;
    let window = match account.renewal_info(&id).await {
        Ok((info, _)) => Some((
            info.suggested_window.start.unix_timestamp(),
            info.suggested_window.end.unix_timestamp(),
        )),
        Err(instant_acme::Error::Unsupported(_)) => None,
        Err(e) => return Err(e).context("cannot fetch renewal information"),
    };
    Ok((account, window))
}

/// The account for the site's CA: the one in `state`, or a new one (stored 0600).
async fn open_account(order: &Order) -> anyhow::Result<Account> {
    let folder = order.state.join(store::issuer_folder(&order.directory));
    let path = folder.join("account.json");
    let builder = match &order.ca_root {
        Some(root) => Account::builder_with_root(root),
        None => Account::builder(),
    }
    .context("cannot set up the HTTPS client for the CA")?;
    match std::fs::read(&path) {
        Ok(bytes) => {
            let credentials: AccountCredentials = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not an ACME account", path.display()))?;
            builder
                .from_credentials(credentials)
                .await
                .with_context(|| format!("cannot reach {}", order.directory))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let contact = order.email.as_ref().map(|email| format!("mailto:{email}"));
            let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
            let new = NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            };
            let (account, credentials) = builder
                .create(&new, order.directory.clone(), None)
                .await
                .with_context(|| format!("cannot create an account at {}", order.directory))?;
            store::create_folder(&order.state, 0o755)
                .and_then(|()| store::create_folder(&folder, 0o700))
                .and_then(|()| {
                    let json = serde_json::to_vec(&credentials)?;
                    store::write_atomically(&path, &json, 0o600)
                })
                .with_context(|| format!("cannot store the account in {}", path.display()))?;
            info!("acme: account created at {}", order.directory);
            Ok(account)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Orders a certificate for the site's names, answers the HTTP-01 challenges, and installs the
/// chain with its new key.
async fn issue(order: &Order, account: &Account) -> anyhow::Result<()> {
    let identifiers: Vec<Identifier> = order.names.iter().cloned().map(Identifier::Dns).collect();
    let mut pending = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("the CA refused the order")?;
    let folder = store::challenge_folder(&order.state);
    store::create_folder(&folder, 0o755)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut tokens = Vec::new();
    let validated = async {
        let mut authorizations = pending.authorizations();
        while let Some(result) = authorizations.next().await {
            let mut authorization = result?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => bail!(
                    "the authorization for {} is {status:?}",
                    authorization.identifier()
                ),
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| anyhow!("the CA offers no http-01 challenge"))?;
            if !challenge::token_ok(&challenge.token) {
                bail!("the CA sent a challenge token that is not base64url");
            }
            let path = folder.join(&challenge.token);
            let answer = challenge.key_authorization();
            store::write_atomically(&path, answer.as_str().as_bytes(), 0o644)
                .with_context(|| format!("cannot write {}", path.display()))?;
            tokens.push(path);
            let name = challenge.identifier().to_string();
            challenge
                .set_ready()
                .await
                .with_context(|| format!("validation failed: {name}"))?;
        }
        match pending
            .poll_ready(&POLL)
            .await
            .context("validation failed")?
        {
            OrderStatus::Ready => Ok(()),
            OrderStatus::Invalid => bail!("validation failed: {}", why_invalid(&mut pending).await),
            status => bail!("the order is still {status:?} after {}s", POLL_SECONDS),
        }
    }
    .await;
    for token in &tokens {
        let _ = std::fs::remove_file(token);
    }
    validated?;
    let key = pending.finalize().await.context("finalizing the order")?;
    let mut pem = pending
        .poll_certificate(&POLL)
        .await
        .context("fetching the certificate")?;
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem.push_str(&key);
    let issuer = order.certificate.parent().unwrap_or(&order.state);
    store::create_folder(issuer, 0o700)
        .and_then(|()| store::write_atomically(&order.certificate, pem.as_bytes(), 0o600))
        .with_context(|| format!("cannot write {}", order.certificate.display()))
}

/// The CA's reasons for refusing the challenges, from the authorizations' error documents.
async fn why_invalid(order: &mut instant_acme::Order) -> String {
    let mut reasons = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        if let Ok(state) = authorization.refresh().await {
            for challenge in &state.challenges {
                if let Some(problem) = &challenge.error {
                    reasons.push(format!("{}: {problem}", state.identifier()));
                }
            }
        }
    }
    if reasons.is_empty() {
        "the CA marked the order invalid".to_string()
    } else {
        reasons.join("; ")
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A uniformly random number in `[0, 1)`, for the point of an ARI window.
fn random_fraction() -> f64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
