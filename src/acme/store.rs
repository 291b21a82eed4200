//! The ACME helper's files under a site's `state` folder, and the one way they are written.
//!
//! ```text
//! state/
//!   http-01/TOKEN                  key authorizations while a challenge is open (workers read)
//!   ISSUER/account.json            the account's key and URL, 0600
//!   ISSUER/NAME.pem                the certificate chain, then its private key, 0600
//! ```
//!
//! `ISSUER` is the directory URL made into a file name (`acme-v02.api.letsencrypt.org-directory`),
//! so a staging and a production account never mix. The certificate and its key are one file so
//! that a reload, whenever it comes, reads a chain and the key that goes with it: two files
//! replaced one after the other could be read between the two renames.
//!
//! Every file is written whole to a temporary name in the same folder, synced, and renamed over
//! the old one; then the folder is synced. A crash leaves either the old file or the new one.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The folder under `state` for the accounts and certificates of one ACME directory.
pub fn issuer_folder(directory: &str) -> String {
    let rest = directory
        .strip_prefix("https://")
        .or_else(|| directory.strip_prefix("http://"))
        .unwrap_or(directory);
    let mut name: String = rest
        .trim_end_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // Never `.`, `..` or hidden.
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

/// Where a site's certificate lives: `state/ISSUER/NAME.pem`.
pub fn certificate_path(state: &Path, directory: &str, first_name: &str) -> PathBuf {
    state
        .join(issuer_folder(directory))
        .join(format!("{first_name}.pem"))
}

/// Where the key authorizations of open HTTP-01 challenges live.
pub fn challenge_folder(state: &Path) -> PathBuf {
    state.join("http-01")
}

/// Creates `path` and its parents with `mode`. `state` and `http-01` are 0755 (workers read
/// the challenges, which are public by design); an issuer's folder, with the keys, is 0700.
pub fn create_folder(path: &Path, mode: u32) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(mode).create(path)
}

/// Replaces `path` with `bytes` so that no reader ever sees a part of them: write a temporary
/// file beside it (created with `mode`), sync it, rename it over `path`, sync the folder.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(".tmp");
    let temporary = folder.join(temporary_name);
    let _ = fs::remove_file(&temporary);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        File::open(folder)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn issuer_folders_are_plain_names() {
        assert_eq!(
            issuer_folder("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org-directory"
        );
        assert_eq!(
            issuer_folder("https://127.0.0.1:14000/dir/"),
            "127.0.0.1-14000-dir"
        );
        assert_eq!(issuer_folder("https://../x"), "_..-x");
        assert_eq!(issuer_folder(""), "_");
    }

    #[test]
    fn writes_replace_whole_files_with_the_mode_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pem");
        write_atomically(&path, b"one", 0o600).unwrap();
        write_atomically(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.pem"], "no temporary file is left behind");
    }

    #[test]
    fn a_write_into_a_missing_folder_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/a.pem");
        assert!(write_atomically(&path, b"x", 0o600).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn folders_get_the_mode_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/issuer");
        create_folder(&path, 0o700).unwrap();
        for folder in [dir.path().join("state"), path] {
            let mode = fs::metadata(folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
    }
}
