//! The master process: binds, forks the workers, and supervises them. The policy lives here;
//! `crate::process` holds the mechanism (fork, signal, reap) and `respawn.rs` the backoff rules.
//!
//! The master never serves a client and never starts a thread or an async runtime: it is a
//! single loop that waits on a signalfd (and on the next timer), then handles what arrived in a
//! fixed order:
//!
//! 1. reap: collect every exited child (workers, and the ACME helper when a site uses ACME);
//!    schedule replacements with backoff;
//! 2. terminate: TERM, INT or QUIT start a graceful stop (a second INT kills at once);
//! 3. reload: HUP forks a new generation, then tells the old one to drain;
//! 4. reopen: USR1 reopens the log file here and in every worker;
//! 5. timers: due respawns, and kills for workers past their drain deadline.

mod listen;
mod respawn;
mod signals;
mod systemd;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid};
use std::time::Instant;
use tracing::{error, info, warn};

use crate::config::{Config, SiteConfig};
use crate::fs::open::RootDir;
use crate::process::{self, Exit, Forked};
use crate::worker;
use respawn::{Backoff, Decision};
use signals::Signals;

/// Delay before retrying a fork that failed (out of memory or process slots).
const FORK_RETRY: Duration = Duration::from_secs(1);

/// Binds every address, forks the workers and supervises them until stopped.
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    check_roots(&config)?;
    prepare_user(&config)?;
    let inherited = systemd::inherited_sockets()?;
    let listeners = listen::bind_all(&config.listen, config.conn.header_timeout, inherited)?;
    let metrics_listener = bind_metrics(&config)?;
    let signals = Signals::open().context("cannot set up signal handling")?;
    let pid_file = PidFile::create(config.pid_file.clone())?;
    announce(&config, &listeners);
    announce_metrics(metrics_listener.as_ref());
    let workers = config.workers;
    let noun = if workers == 1 { "worker" } else { "workers" };
    info!("master pid {} started with {workers} {noun}", getpid());
    if let Some(account) = &config.user {
        info!(
            "workers run as user {} (uid {}, gid {})",
            account.user, account.uid, account.gid
        );
    }

    // Made once, before the first fork: every worker of every generation shares it.
    let instance = crate::shm::Instance::new();
    let metrics = crate::metrics::Registry::new();
    let mut master = Master {
        instance,
        metrics,
        metrics_listener,
        unhealthy_until: None,
        slots: (0..config.workers).map(|_| Slot::default()).collect(),
        acme: Slot::default(),
        config,
        listeners,
        signals: Some(signals),
        retiring: Vec::new(),
        stop: None,
        pid: getpid(),
    };
    let code = master.supervise();
    drop(pid_file);
    info!("master stopped");
    Ok(code)
}

/// Checks that the workers can become `user`, and gives them the log files they reopen on
/// SIGUSR1 (created now if missing). Nothing to do without `user`.
fn prepare_user(config: &Config) -> anyhow::Result<()> {
    let Some(account) = &config.user else {
        return Ok(());
    };
    account.reachable().map_err(anyhow::Error::msg)?;
    let access_logs = config
        .access_logs
        .iter()
        .filter_map(|spec| match &spec.destination {
            crate::access_log::Destination::File(path) => Some(path),
            _ => None,
        });
    for path in access_logs.chain(&config.log_file) {
        crate::privileges::give_file(path, account)
            .with_context(|| format!("cannot give the log file to user {:?}", account.user))?;
    }
    Ok(())
}

/// The `[metrics]` socket, bound like the sites' (before any worker exists), if configured.
fn bind_metrics(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = config.metrics_listen else {
        return Ok(None);
    };
    let listener = listen::bind(addr, config.conn.header_timeout)
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    Ok(Some(listener))
}

/// Where scrapes go: a line of its own, since no site answers there.
fn announce_metrics(listener: Option<&TcpListener>) {
    if let Some(addr) = listener.and_then(|l| l.local_addr().ok()) {
        info!("serving metrics on http://{addr}/metrics");
    }
}

/// The lines tests and operators read: each socket with the sites on it, and each site's root.
fn announce(config: &Config, listeners: &[TcpListener]) {
    for (index, listener) in listeners.iter().enumerate() {
        let Ok(addr) = listener.local_addr() else {
            continue;
        };
        let scheme = if config.tls[index].is_some() {
            "https"
        } else {
            "http"
        };
        if config.source.is_none() {
            info!("listening on {scheme}://{addr}/");
            continue;
        }
        let route = &config.routes[index];
        let mut names: Vec<&str> = config
            .sites
            .iter()
            .enumerate()
            .filter(|(site, _)| {
                *site == route.default
                    || route
                        .exact
                        .values()
                        .chain(route.wildcard.values())
                        .any(|s| s == site)
            })
            .map(|(_, site)| site.name.as_str())
            .collect();
        names.dedup();
        info!("listening on {scheme}://{addr}/ for {}", names.join(", "));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for certificate in config
        .sites
        .iter()
        .filter_map(|site| site.certificate.as_ref())
    {
        let days = certificate.days_left(now);
        if days < 0 {
            error!("certificate {} has expired", certificate.cert.display());
        } else if days < crate::tls::EXPIRY_WARNING_DAYS {
            warn!(
                "certificate {} expires in {days} days",
                certificate.cert.display()
            );
        }
    }
    for site in &config.sites {
        if let Some(order) = &site.acme
            && site.certificate.is_none()
        {
            info!(
                "site {}: no certificate yet; the acme helper orders one from {}",
                site.name, order.directory
            );
        }
    }
    for site in &config.sites {
        let prefix = if config.source.is_some() {
            format!("site {}: ", site.name)
        } else {
            String::new()
        };
        match &site.root {
            Some(root) => info!("{prefix}serving {}", root.display()),
            None => info!("{prefix}serving the built-in welcome site"),
        }
    }
}

/// What `-t` checks beyond loading: that every root opens (a configuration file's loader has
/// checked that already; the command line's has not).
pub fn check(config: &Config) -> anyhow::Result<()> {
    check_roots(config)
}

fn check_roots(config: &Config) -> anyhow::Result<()> {
    config.sites.iter().try_for_each(check_root)
}

fn check_root(site: &SiteConfig) -> anyhow::Result<()> {
    let Some(root) = &site.root else {
        return Ok(());
    };
    let dir = RootDir::open(root).with_context(|| format!("cannot serve {}", root.display()))?;
    // A root that answers `/` with 404 is nearly always a mistake (the wrong folder, a build
    // that has not run), and a load balancer's `GET /` health check would mark the server down.
    let has_index = site.options.index.iter().any(|name| {
        dir.open_beneath(name.as_bytes())
            .is_ok_and(|index| index.meta.is_file())
    });
    let spa = site.options.spa_fallback.is_some();
    if !has_index && !site.options.listing && !spa {
        warn!(
            "{} has no {} and listing is off (--listing, or listing = true): / answers 404",
            dir.path().display(),
            site.options.index.join(" or ")
        );
    }
    Ok(())
}

/// A listen socket's address and whether it is a TLS socket.
type Socket = (SocketAddr, bool);

/// One worker position. A slot keeps its number across respawns and reloads.
#[derive(Default)]
struct Slot {
    pid: Option<Pid>,
    started: Option<Instant>,
    backoff: Backoff,
    /// A replacement is due at this time.
    respawn_at: Option<Instant>,
    /// Given up on: its workers kept failing, or cannot run the configuration.
    given_up: bool,
}

/// Which child a pid is, for log lines.
#[derive(Clone, Copy)]
enum Role {
    /// The worker in this slot (counted from 0).
    Worker(usize),
    Acme,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Worker(id) => write!(f, "worker {}", id + 1),
            Role::Acme => f.write_str("acme helper"),
        }
    }
}

/// A child of an earlier generation, draining after a reload.
struct Retiring {
    role: Role,
    pid: Pid,
    /// Killed if still alive by then.
    deadline: Instant,
    killed: bool,
}

/// A graceful stop in progress.
struct Stop {
    deadline: Instant,
    killed: bool,
}

struct Master {
    config: Config,
    /// The master's copies of the listen sockets, kept open so connections queue in the kernel
    /// whichever workers are alive. Closed when a stop begins.
    listeners: Vec<TcpListener>,
    /// `Option` so a forked child can close it: the signalfd belongs to the master.
    signals: Option<Signals>,
    slots: Vec<Slot>,
    /// The ACME helper, when a site's certificate comes from ACME.
    acme: Slot,
    retiring: Vec<Retiring>,
    stop: Option<Stop>,
    pid: Pid,
    /// What every worker of every generation shares with the master.
    instance: crate::shm::Instance,
    /// The metrics counters, and who counts where.
    metrics: crate::metrics::Registry,
    /// The `[metrics]` socket, kept like the sites' sockets.
    metrics_listener: Option<TcpListener>,
    /// A graceful stop announced to health checks, which begins at this time.
    unhealthy_until: Option<Instant>,
}

#[derive(Default)]
struct Received {
    terminate: bool,
    interrupts: u32,
    reload: bool,
    reopen: bool,
}

impl Master {
    fn supervise(&mut self) -> ExitCode {
        for id in 0..self.slots.len() {
            self.spawn(id);
        }
        self.spawn_acme();
        // The sockets already queue connections, so the workers need not be up yet.
        systemd::notify(&format!(
            "READY=1\nMAINPID={}\nSTATUS={}",
            self.pid,
            self.serving()
        ));
        loop {
            let timeout = self
                .next_timer()
                .map(|at| at.saturating_duration_since(Instant::now()));
            let mut received = Received::default();
            let Some(signals) = self.signals.as_mut() else {
                return ExitCode::FAILURE;
            };
            for signal in signals.wait(timeout) {
                match signal {
                    Signal::SIGTERM | Signal::SIGQUIT => received.terminate = true,
                    Signal::SIGINT => received.interrupts += 1,
                    Signal::SIGHUP => received.reload = true,
                    Signal::SIGUSR1 => received.reopen = true,
                    _ => {}
                }
            }

            self.reap();
            if received.terminate || received.interrupts > 0 {
                self.terminate(received.interrupts);
            }
            if received.reload {
                self.reload();
            }
            if received.reopen {
                self.reopen_logs();
            }
            self.run_timers();

            if self.stop.is_some() && self.live_pids().is_empty() {
                return ExitCode::SUCCESS;
            }
            if self.stop.is_none()
                && self.slots.iter().all(|s| s.given_up)
                && self.live_pids().is_empty()
            {
                error!("no worker could be kept running; the master exits");
                return ExitCode::FAILURE;
            }
        }
    }

    fn spawn(&mut self, id: usize) {
        let names = self.config.sites.iter().map(|site| site.name.as_str());
        let metrics = self.metrics.plan(id + 1, names);
        match process::fork() {
            Ok(Forked::Parent(pid)) => {
                self.metrics.forked(&metrics, pid);
                let slot = &mut self.slots[id];
                slot.pid = Some(pid);
                slot.started = Some(Instant::now());
                slot.respawn_at = None;
            }
            Ok(Forked::Child) => {
                if !process::die_with_parent(self.pid) {
                    std::process::exit(0);
                }
                if let Some(account) = &self.config.user
                    && let Err(e) = crate::privileges::drop_to(account, self.pid)
                {
                    error!("worker {}: {e}", id + 1);
                    std::process::exit(worker::EXIT_FATAL);
                }
                drop(self.signals.take());
                let listeners = std::mem::take(&mut self.listeners);
                let metrics = metrics.with_listener(self.metrics_listener.take());
                let code = worker::run(id + 1, &self.config, listeners, self.instance, metrics);
                std::process::exit(code);
            }
            Err(e) => {
                self.metrics.fork_failed(&metrics);
                error!("cannot fork worker {}: {e}; retrying", id + 1);
                self.slots[id].respawn_at = Some(Instant::now() + FORK_RETRY);
            }
        }
    }

    /// Forks the ACME helper if a site needs it (`acme::run` is its life).
    fn spawn_acme(&mut self) {
        let orders: Vec<crate::acme::Order> = self.acme_orders();
        if orders.is_empty() {
            return;
        }
        match process::fork() {
            Ok(Forked::Parent(pid)) => {
                self.acme.pid = Some(pid);
                self.acme.started = Some(Instant::now());
                self.acme.respawn_at = None;
            }
            Ok(Forked::Child) => {
                if !process::die_with_parent(self.pid) {
                    std::process::exit(0);
                }
                drop(self.signals.take());
                // The helper serves nothing: the listen sockets stay with the master and workers.
                drop(std::mem::take(&mut self.listeners));
                drop(self.metrics_listener.take());
                let code = crate::acme::run(&orders, self.pid, self.config.log_file.as_deref());
                std::process::exit(code);
            }
            Err(e) => {
                error!("cannot fork the acme helper: {e}; retrying");
                self.acme.respawn_at = Some(Instant::now() + FORK_RETRY);
            }
        }
    }

    fn acme_orders(&self) -> Vec<crate::acme::Order> {
        let sites = self.config.sites.iter();
        sites.filter_map(|site| site.acme.clone()).collect()
    }

    fn reap(&mut self) {
        for (pid, exit) in process::reap() {
            self.metrics.reaped(pid);
            if let Some(index) = self.retiring.iter().position(|r| r.pid == pid) {
                let retired = self.retiring.swap_remove(index);
                info!("{} pid {pid} exited ({exit}), old generation", retired.role);
                continue;
            }
            if self.acme.pid == Some(pid) {
                self.acme_exited(pid, exit);
                continue;
            }
            let Some(id) = self.slots.iter().position(|s| s.pid == Some(pid)) else {
                continue;
            };
            let stopping = self.stop.is_some();
            let slot = &mut self.slots[id];
            slot.pid = None;
            if stopping {
                info!("worker {} pid {pid} exited ({exit})", id + 1);
                continue;
            }
            let ran_for = slot.started.map_or(Duration::ZERO, |t| t.elapsed());
            let fatal = exit == Exit::Code(worker::EXIT_FATAL);
            match slot.backoff.on_exit(ran_for, fatal) {
                Decision::RespawnAfter(delay) => {
                    warn!("worker {} pid {pid} exited ({exit}); respawning", id + 1);
                    self.metrics.restarting();
                    slot.respawn_at = Some(Instant::now() + delay);
                }
                Decision::GiveUp => {
                    error!(
                        "worker {} pid {pid} exited ({exit}) right after starting, {} times in a row; \
                         not respawning it",
                        id + 1,
                        respawn::MAX_QUICK_FAILURES
                    );
                    slot.given_up = true;
                }
                Decision::Fatal => {
                    error!(
                        "worker {} pid {pid} cannot run this configuration ({exit}); not respawning it",
                        id + 1
                    );
                    slot.given_up = true;
                }
            }
        }
    }

    /// The ACME helper runs until stopped: any exit is a failure, respawned with the workers'
    /// backoff (a helper that cannot even start is given up on, loudly).
    fn acme_exited(&mut self, pid: Pid, exit: Exit) {
        let helper = &mut self.acme;
        helper.pid = None;
        if self.stop.is_some() {
            info!("acme helper pid {pid} exited ({exit})");
            return;
        }
        let ran_for = helper.started.map_or(Duration::ZERO, |t| t.elapsed());
        match helper.backoff.on_exit(ran_for, false) {
            Decision::RespawnAfter(delay) => {
                warn!("acme helper pid {pid} exited ({exit}); respawning");
                helper.respawn_at = Some(Instant::now() + delay);
            }
            Decision::GiveUp | Decision::Fatal => {
                error!(
                    "acme helper pid {pid} exited ({exit}) right after starting, {} times in a \
                     row; not respawning it: certificates will not be renewed",
                    respawn::MAX_QUICK_FAILURES
                );
                helper.given_up = true;
            }
        }
    }

    fn terminate(&mut self, interrupts: u32) {
        let repeated = self.stop.is_some();
        if repeated || interrupts > 1 {
            if interrupts > 0 {
                warn!("interrupted again: killing the workers now");
                self.kill_all();
            }
            return;
        }
        let delay = self.config.unhealthy_before_stop;
        if interrupts == 0 && !delay.is_zero() && self.unhealthy_until.is_none() {
            // Health checks answer 503 from now on, while everything else is still served.
            if let Some(flag) = &self.instance.stopping {
                flag.set();
            }
            info!("stopping: health checks answer 503 for {delay:?}, then the workers drain");
            systemd::notify("STOPPING=1\nSTATUS=taken out of service, then stopping");
            self.unhealthy_until = Some(Instant::now() + delay);
            return;
        }
        self.begin_stop();
    }

    /// The graceful stop proper: the sockets close and the workers drain.
    fn begin_stop(&mut self) {
        self.unhealthy_until = None;
        if let Some(flag) = &self.instance.stopping {
            flag.set();
        }
        info!(
            "stopping gracefully: workers finish their requests (at most {:?})",
            self.config.shutdown_timeout
        );
        systemd::notify("STOPPING=1\nSTATUS=stopping gracefully");
        self.stop = Some(Stop {
            deadline: Instant::now() + self.config.shutdown_timeout,
            killed: false,
        });
        // New connections are refused from now on instead of waiting in a backlog nobody reads.
        self.listeners.clear();
        self.metrics_listener = None;
        for slot in &mut self.slots {
            slot.respawn_at = None;
        }
        self.acme.respawn_at = None;
        for pid in self.live_pids() {
            process::send(pid, Signal::SIGTERM);
        }
    }

    fn kill_all(&mut self) {
        for pid in self.live_pids() {
            process::send(pid, Signal::SIGKILL);
        }
        if let Some(stop) = &mut self.stop {
            stop.killed = true;
        }
    }

    /// Reloads, telling systemd when it begins and that the server is ready again after it,
    /// whether the new configuration was taken or refused.
    fn reload(&mut self) {
        if self.stop.is_some() || self.unhealthy_until.is_some() {
            return;
        }
        systemd::notify_reloading();
        let status = match self.start_generation() {
            Ok(()) => self.serving(),
            Err(()) => format!("{}; the last reload was refused", self.serving()),
        };
        systemd::notify(&format!("READY=1\nSTATUS={status}"));
    }

    /// What `systemctl status` shows while the server runs.
    fn serving(&self) -> String {
        let workers = self.slots.len();
        let noun = if workers == 1 { "worker" } else { "workers" };
        format!("serving with {workers} {noun}")
    }

    /// Starts a new generation of workers, then lets the old one drain. The listen sockets stay
    /// open in the master throughout, so no connection is refused while the two overlap. An
    /// error (logged here) leaves the running generation as it was.
    fn start_generation(&mut self) -> Result<(), ()> {
        let orders_before = self.acme_orders();
        if let Some(loaded) = self.config.reload() {
            match loaded {
                Ok(config) => {
                    if let Err(e) = self.adopt(config) {
                        error!("reload refused, the workers keep running: {e:#}");
                        return Err(());
                    }
                }
                Err(problems) => {
                    for problem in &problems.problems {
                        error!("{problem}");
                    }
                    error!(
                        "reload refused, the workers keep running: the configuration has errors"
                    );
                    return Err(());
                }
            }
        }
        if let Err(e) = check_roots(&self.config) {
            error!("reload refused, the workers keep running: {e:#}");
            return Err(());
        }
        let deadline = Instant::now() + self.config.shutdown_timeout;
        let mut old = Vec::new();
        for (id, slot) in self.slots.iter_mut().enumerate() {
            if let Some(pid) = slot.pid.take() {
                old.push(Retiring {
                    role: Role::Worker(id),
                    pid,
                    deadline,
                    killed: false,
                });
            }
            *slot = Slot::default();
        }
        // A new worker count takes effect with the new generation.
        self.slots.resize_with(self.config.workers, Slot::default);
        info!(
            "reloading: starting {} new workers, {} old ones drain",
            self.slots.len(),
            old.len()
        );
        self.metrics.reloaded();
        for id in 0..self.slots.len() {
            self.spawn(id);
        }
        // The helper goes on through a reload it asked for (it has nothing new to do); a
        // configuration with other ACME sites gets a new one.
        if self.acme_orders() != orders_before || self.acme.given_up {
            if let Some(pid) = self.acme.pid.take() {
                old.push(Retiring {
                    role: Role::Acme,
                    pid,
                    deadline,
                    killed: false,
                });
            }
            self.acme = Slot::default();
            self.spawn_acme();
        }
        for retiring in &old {
            process::send(retiring.pid, Signal::SIGTERM);
        }
        self.retiring.extend(old);
        Ok(())
    }

    /// Makes a freshly read configuration the current one: binds the addresses it adds (all
    /// or none), keeps the sockets of the addresses it keeps (so their queues are never
    /// closed), and sizes the worker slots. On an error nothing has changed.
    fn adopt(&mut self, config: Config) -> anyhow::Result<()> {
        check_roots(&config)?;
        prepare_user(&config)?;
        // The `[metrics]` socket is kept if its address is, else bound first: a failure then
        // leaves everything as it was.
        let keep_metrics = config.metrics_listen.is_some()
            && config.metrics_listen == self.config.metrics_listen
            && self.metrics_listener.is_some();
        let new_metrics = if keep_metrics {
            None
        } else {
            bind_metrics(&config)?
        };
        // A socket is known by its address and kind: `127.0.0.1:0` may be a plain and a TLS
        // socket at once, with two different ports, and each must stay what it was.
        let kinds = |config: &Config| -> Vec<Socket> {
            let tls = config.tls.iter().map(Option::is_some);
            config.listen.iter().copied().zip(tls).collect()
        };
        let same = |(old, old_tls): Socket, (new, new_tls): Socket| {
            old == new && (new.port() != 0 || old_tls == new_tls)
        };
        let old_kinds = kinds(&self.config);
        let mut kept: Vec<(Socket, TcpListener)> = old_kinds
            .iter()
            .copied()
            .zip(std::mem::take(&mut self.listeners))
            .collect();
        let mut listeners = Vec::with_capacity(config.listen.len());
        for socket in kinds(&config) {
            let addr = socket.0;
            let found = match kept.iter().position(|(old, _)| same(*old, socket)) {
                Some(at) => Ok(kept.swap_remove(at).1),
                None => listen::bind(addr, config.conn.header_timeout)
                    .with_context(|| format!("cannot listen on {addr}")),
            };
            match found {
                Ok(listener) => listeners.push((socket, listener)),
                Err(e) => {
                    // Put every socket back where it was.
                    kept.extend(listeners);
                    self.listeners = old_kinds
                        .iter()
                        .filter_map(|&socket| {
                            let at = kept.iter().position(|(old, _)| *old == socket)?;
                            Some(kept.swap_remove(at).1)
                        })
                        .collect();
                    return Err(e);
                }
            }
        }
        for ((addr, _), _) in &kept {
            info!("no longer listening on {addr}");
        }
        if config.pid_file != self.config.pid_file
            || config.log_file != self.config.log_file
            || config.log_level != self.config.log_level
        {
            warn!("pid_file, error_log and log_level take effect on restart, not on reload");
        }
        self.listeners = listeners.into_iter().map(|(_, socket)| socket).collect();
        announce(&config, &self.listeners);
        if !keep_metrics {
            let old = self.metrics_listener.as_ref();
            if let Some(addr) = old.and_then(|listener| listener.local_addr().ok()) {
                info!("metrics no longer served on {addr}");
            }
            self.metrics_listener = new_metrics;
        }
        announce_metrics(self.metrics_listener.as_ref());
        self.config = config;
        Ok(())
    }

    fn reopen_logs(&mut self) {
        if let Some(path) = &self.config.log_file {
            match crate::log::reopen(path) {
                Ok(()) => info!("log file reopened"),
                // The old file stays this process's stderr, so this line still lands somewhere.
                Err(e) => error!("cannot reopen log file {}: {e}", path.display()),
            }
        }
        // Files logrotate moved away are created again here, for workers that cannot.
        if let Err(e) = prepare_user(&self.config) {
            error!("{e:#}");
        }
        for pid in self.live_pids() {
            process::send(pid, process::REOPEN);
        }
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        if self.unhealthy_until.is_some_and(|at| at <= now) {
            self.begin_stop();
        }
        if let Some(stop) = &self.stop
            && !stop.killed
            && now >= stop.deadline
        {
            warn!("shutdown timeout: killing the workers that are still draining");
            self.kill_all();
        }
        for retiring in &mut self.retiring {
            if !retiring.killed && now >= retiring.deadline {
                warn!(
                    "old {} pid {} still draining at its deadline: killing it",
                    retiring.role, retiring.pid
                );
                process::send(retiring.pid, Signal::SIGKILL);
                retiring.killed = true;
            }
        }
        if self.stop.is_none() {
            let due: Vec<usize> = (0..self.slots.len())
                .filter(|&id| self.slots[id].respawn_at.is_some_and(|at| at <= now))
                .collect();
            for id in due {
                self.spawn(id);
            }
            if self.acme.respawn_at.is_some_and(|at| at <= now) {
                self.spawn_acme();
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let stop = self.stop.as_ref().filter(|s| !s.killed).map(|s| s.deadline);
        let stop = stop.or(self.unhealthy_until);
        let retiring = self
            .retiring
            .iter()
            .filter(|r| !r.killed)
            .map(|r| r.deadline);
        let respawns = self
            .slots
            .iter()
            .chain([&self.acme])
            .filter_map(|s| s.respawn_at);
        stop.into_iter().chain(retiring).chain(respawns).min()
    }

    fn live_pids(&self) -> Vec<Pid> {
        let current = self.slots.iter().chain([&self.acme]).filter_map(|s| s.pid);
        current.chain(self.retiring.iter().map(|r| r.pid)).collect()
    }
}

/// The `--pid-file`, removed when the master ends.
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn create(path: Option<PathBuf>) -> anyhow::Result<PidFile> {
        if let Some(path) = &path {
            std::fs::write(path, format!("{}\n", std::process::id()))
                .with_context(|| format!("cannot write pid file {}", path.display()))?;
        }
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
