//! Binding the listen sockets, all of them before any worker exists, so that a port that is
//! taken fails the start with nothing left running.
//!
//! The workers inherit these sockets through fork and the master keeps its copies open for its
//! whole life. Connections therefore queue in one kernel backlog per address that outlives any
//! worker: during a reload, old workers stop accepting and new ones pick the queue up, and no
//! connection is refused or dropped. (SO_REUSEPORT gives each worker its own queue instead, and
//! closing one drops the connections queued on it.)

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};

use crate::limits::LISTEN_BACKLOG;

pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server must be able to bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `[::]:80` and `0.0.0.0:80` may both be listed; keep the families apart.
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Binds every address or none.
pub fn bind_all(addrs: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    addrs
        .iter()
        .map(|&addr| bind(addr).with_context(|| format!("cannot listen on {addr}")))
        .collect()
}
