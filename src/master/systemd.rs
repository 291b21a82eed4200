//! What the master says to systemd, and the sockets systemd hands it. Both are plain system
//! calls in the master (no thread, no runtime), and both do nothing outside systemd: without
//! `NOTIFY_SOCKET` there is no one to tell, and without `LISTEN_PID` naming this process every
//! address is bound as usual.
//!
//! - **Readiness** (`sd_notify(3)`): `READY=1` once the workers are forked (the listen sockets
//!   already queue connections, so none is refused meanwhile); around a reload `RELOADING=1`
//!   with `MONOTONIC_USEC`, then `READY=1` again whether the new configuration was taken or
//!   refused, as `Type=notify-reload` expects; `STOPPING=1` when a stop begins. A `STATUS=`
//!   line says what happened, for `systemctl status`.
//! - **Socket activation** (`sd_listen_fds(3)`): the descriptors from 3 on are listening TCP
//!   sockets bound by systemd. Each replaces the bind of the configured address it is bound to;
//!   an address with none is bound as usual. A descriptor that is no listening TCP socket, or
//!   whose address no site listens on, is a start-up error: a unit and a configuration that
//!   disagree should not half-start.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;

use anyhow::{Context, bail};
use tracing::debug;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to the service manager, if there is
/// one. Best effort: systemd that cannot be told is logged at debug, never an error, as a server
/// run by hand has no `NOTIFY_SOCKET` at all.
pub(crate) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = notify_to(path.as_encoded_bytes(), state) {
        debug!("cannot notify the service manager at {path:?}: {e}");
    }
}

/// Sends `state` to the datagram socket at `path`; a leading '@' names one in the abstract
/// namespace.
fn notify_to(path: &[u8], state: &str) -> std::io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    let address = match path.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)?
        }
        None => {
            use std::os::unix::ffi::OsStrExt;
            std::os::unix::net::SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?
        }
    };
    socket.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}

/// `RELOADING=1` with the time it began, as `Type=notify-reload` requires.
pub(crate) fn notify_reloading() {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000
    });
    notify(&format!(
        "RELOADING=1\nMONOTONIC_USEC={now}\nSTATUS=reloading"
    ));
}

/// One socket systemd passed, with the name the unit gave it (`FileDescriptorName=`).
pub(crate) struct Inherited {
    pub listener: TcpListener,
    pub address: SocketAddr,
    pub name: String,
}

/// The listening sockets systemd passed to this process, if it passed any; the variables are
/// removed from the environment so that nothing forked later takes them for its own.
pub(crate) fn inherited_sockets() -> anyhow::Result<Vec<Inherited>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: the master is single-threaded (it starts no thread), so nothing reads the
        // environment while it changes.
        unsafe { std::env::remove_var(variable) };
    }
    let (Some(pid), Some(count)) = (pid, count) else {
        return Ok(Vec::new());
    };
    // Meant for another process (a shell that exec'd something else first): not ours.
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(Vec::new());
    }
    let count: RawFd = count
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=1024).contains(n))
        .with_context(|| format!("LISTEN_FDS={count:?} is not a count of descriptors"))?;
    let names: Vec<&str> = names
        .as_deref()
        .map_or(Vec::new(), |n| n.split(':').collect());
    (0..count)
        .map(|index| {
            let fd = LISTEN_FDS_START + index;
            let name = names.get(index as usize).copied().unwrap_or("unknown");
            let listener = listening_tcp(fd).with_context(|| {
                format!("socket activation: descriptor {fd} ({name}) is not a listening TCP socket")
            })?;
            let address = listener.local_addr()?;
            Ok(Inherited {
                listener,
                address,
                name: name.to_owned(),
            })
        })
        .collect()
}

/// Takes descriptor `fd` as a listening TCP socket, after checking that it is one.
fn listening_tcp(fd: RawFd) -> anyhow::Result<TcpListener> {
    use nix::sys::socket::{SockType, getsockopt, sockopt};
    // SAFETY: `fcntl(F_GETFD)` only asks whether `fd` is open; it changes nothing.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        bail!("it is not open");
    }
    // SAFETY: `fd` is open (checked above), was passed to this process to own (LISTEN_FDS),
    // and nothing else in the process refers to it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    if getsockopt(&owned, sockopt::SockType)? != SockType::Stream
        || !getsockopt(&owned, sockopt::AcceptConn)?
    {
        bail!("it is not a listening stream socket");
    }
    // Not inherited by anything the master might ever exec; forked workers keep it.
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    let listener = TcpListener::from(owned);
    // A unix socket has no IP address to give: it is not for us.
    listener
        .local_addr()
        .context("it is not an IPv4 or IPv6 socket")?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_datagram_socket() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("forkhttpd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let receiver = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str().as_bytes(), "READY=1\nSTATUS=serving").unwrap();
        let mut buffer = [0u8; 256];
        let n = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1\nSTATUS=serving");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn notify_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("forkhttpd-notify-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let receiver = UnixDatagram::bind_addr(&address).unwrap();
        notify_to(format!("@{name}").as_bytes(), "STOPPING=1").unwrap();
        let mut buffer = [0u8; 64];
        let n = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"STOPPING=1");
    }
}
