//! The one table from error kinds to the status a client gets and the level it is logged at.
//!
//! A client's mistake is logged at debug (a public server sees them constantly); a fault of the
//! server or its host at error.

use std::io;

use tracing::Level;

use crate::http::{ParseError, Status};

/// The status and log level for a request that could not be read.
pub fn parse_error(error: ParseError) -> (Status, Level) {
    let status = match error {
        ParseError::Malformed(_) => Status::BAD_REQUEST,
        ParseError::RequestLineTooLong => Status::URI_TOO_LONG,
        ParseError::HeadTooLarge => Status::HEADER_FIELDS_TOO_LARGE,
        ParseError::VersionNotSupported => Status::VERSION_NOT_SUPPORTED,
        ParseError::TransferCodingNotImplemented => Status::NOT_IMPLEMENTED,
        ParseError::BodyTooLarge => Status::CONTENT_TOO_LARGE,
        ParseError::ExpectationFailed => Status::EXPECTATION_FAILED,
    };
    (status, Level::DEBUG)
}

/// The status and log level for a failed open or read of a file the client asked for, as nginx's
/// static module maps errno.
pub fn file_error(error: &io::Error) -> (Status, Level) {
    match error.raw_os_error() {
        // Not there, a file used as a directory, a name too long, a symlink that escapes the root
        // or loops: all simply "not found" to the client.
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::EXDEV | libc::ELOOP) => {
            (Status::NOT_FOUND, Level::DEBUG)
        }
        Some(libc::EACCES | libc::EPERM) => (Status::FORBIDDEN, Level::DEBUG),
        _ => (Status::INTERNAL_SERVER_ERROR, Level::ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_table() {
        let status = |errno| file_error(&io::Error::from_raw_os_error(errno)).0;
        assert_eq!(status(libc::ENOENT), Status::NOT_FOUND);
        assert_eq!(status(libc::EXDEV), Status::NOT_FOUND);
        assert_eq!(status(libc::EACCES), Status::FORBIDDEN);
        assert_eq!(status(libc::EIO), Status::INTERNAL_SERVER_ERROR);
    }
}
