//! What /proc says about the server's processes and sockets: children and their states, which
//! process holds a socket, resident memory.

/// Children of `pid` from /proc, with their state letter (R, S, Z, ...).
pub(crate) fn children_with_state(pid: u32) -> Vec<(u32, char)> {
    let mut children = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let parent = fields.next().and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            children.push((child, state));
        }
    }
    children.sort();
    children
}

pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    children_with_state(pid)
        .into_iter()
        .filter(|(_, s)| *s != 'Z')
        .map(|(p, _)| p)
        .collect()
}

pub(crate) fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Which of `candidates` holds the server side of the loopback TCP connection from
/// `client_port` to `server_port` (found through /proc/net/tcp inodes).
pub(crate) fn owner_of_connection(
    server_port: u16,
    client_port: u16,
    candidates: &[u32],
) -> Option<u32> {
    let inode = socket_inode(|local, remote, _| local == server_port && remote == client_port)?;
    candidates
        .iter()
        .copied()
        .find(|&pid| holds_socket(pid, &inode))
}

/// The inode of the IPv4 socket listening on `port`.
pub(crate) fn listening_socket_inode(port: u16) -> Option<String> {
    const LISTEN: &str = "0A";
    socket_inode(|local, _, state| local == port && state == LISTEN)
}

/// The inode of the first socket in /proc/net/tcp whose local port, remote port and state
/// (hex, as the kernel writes it) satisfy `wanted`.
fn socket_inode(wanted: impl Fn(u16, u16, &str) -> bool) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
        wanted(port(fields[1])?, port(fields[2])?, fields[3]).then(|| fields[9].to_owned())
    })
}

/// Whether process `pid` has the socket with this inode among its descriptors.
pub(crate) fn holds_socket(pid: u32, inode: &str) -> bool {
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.to_string_lossy() == wanted)
        })
    })
}

/// A worker's resident memory in KiB, from /proc.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
