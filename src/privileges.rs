//! Running the workers as an unprivileged user (`user`, `group`): the master binds, reads keys
//! and creates the log files as root, then each worker gives root up for good right after its
//! fork, before it opens a site's root or serves a byte. A file the user cannot read is then a
//! file the server cannot serve.
//!
//! The order is the one that leaves no way back: supplementary groups first (they need root),
//! then the group, then the user (after which nothing else can be changed), then a check that
//! root really cannot be regained. `PR_SET_NO_NEW_PRIVS` keeps an exec'd set-uid program from
//! giving privileges back, and the parent-death signal is set again because changing the uid
//! clears it (prctl(2)).
//!
//! The log files the workers reopen on SIGUSR1 stay theirs to reopen: the master creates each
//! one (after logrotate moved the old one away) and gives it to the user before it signals them.

use std::path::Path;

use nix::unistd::{Gid, Group, Pid, Uid, User, geteuid, setgroups, setresgid, setresuid};

/// Who the workers become.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl Account {
    /// Looks `user` up, with `group` (or the user's own group when `None`).
    pub fn lookup(user: &str, group: Option<&str>) -> Result<Account, String> {
        let entry = User::from_name(user)
            .map_err(|e| format!("cannot look user {user:?} up: {e}"))?
            .ok_or_else(|| format!("no user {user:?} on this system"))?;
        let gid = match group {
            None => entry.gid,
            Some(name) => {
                Group::from_name(name)
                    .map_err(|e| format!("cannot look group {name:?} up: {e}"))?
                    .ok_or_else(|| format!("no group {name:?} on this system"))?
                    .gid
            }
        };
        Ok(Account {
            user: user.to_owned(),
            uid: entry.uid,
            gid,
        })
    }

    /// Whether this process can become the account: as root, or already being it.
    pub fn reachable(&self) -> Result<(), String> {
        if geteuid().is_root() || geteuid() == self.uid {
            return Ok(());
        }
        Err(format!(
            "user = {:?} needs the server to start as root (it runs as uid {})",
            self.user,
            geteuid()
        ))
    }
}

/// In a freshly forked worker: becomes `account` for good, and dies with `master` again.
pub fn drop_to(account: &Account, master: Pid) -> Result<(), String> {
    if geteuid().is_root() {
        let fail = |step: &str, e: nix::Error| format!("cannot drop privileges ({step}): {e}");
        setgroups(&[account.gid]).map_err(|e| fail("setgroups", e))?;
        setresgid(account.gid, account.gid, account.gid).map_err(|e| fail("setresgid", e))?;
        setresuid(account.uid, account.uid, account.uid).map_err(|e| fail("setresuid", e))?;
        if !account.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err("root could be regained after dropping privileges".into());
        }
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    if !crate::process::die_with_parent(master) {
        return Err("the master is gone".into());
    }
    Ok(())
}

/// In the master: creates the log file at `path` if it is missing and gives it to `account`,
/// so that workers running as the account can open it again on SIGUSR1.
pub fn give_file(path: &Path, account: &Account) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    std::os::unix::fs::fchown(
        &file,
        Some(account.uid.as_raw()),
        Some(account.gid.as_raw()),
    )
    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_root_and_refuses_strangers() {
        let root = Account::lookup("root", None).unwrap();
        assert_eq!((root.uid.as_raw(), root.gid.as_raw()), (0, 0));
        let error = Account::lookup("forkhttpd-no-such-user", None).unwrap_err();
        assert_eq!(error, "no user \"forkhttpd-no-such-user\" on this system");
        let error = Account::lookup("root", Some("forkhttpd-no-such-group")).unwrap_err();
        assert_eq!(error, "no group \"forkhttpd-no-such-group\" on this system");
    }
}
