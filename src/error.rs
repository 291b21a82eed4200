//! The one table from error kinds to the status a client gets and the level it is logged at.
//!
//! A client's mistake is logged at debug (a public server sees them constantly); a fault of the
//! server or its host at error.

use std::io;

use tracing::Level;

use crate::http::{ParseError, Status};

/// Why a connection answers with an error of its own instead of passing a request to the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The request head or body broke a rule or a limit.
    Parse(ParseError),
    /// The client took longer than the header timeout to send a head or a piece of body.
    Timeout,
}

/// The status and log level for a rejected request. Every cause is the client's (a public
/// server sees them constantly), hence debug.
pub(crate) fn rejection(rejection: Rejection) -> (Status, Level) {
    let status = match rejection {
        Rejection::Parse(ParseError::Malformed(_)) => Status::BAD_REQUEST,
        Rejection::Parse(ParseError::RequestLineTooLong) => Status::URI_TOO_LONG,
        Rejection::Parse(ParseError::HeadTooLarge) => Status::HEADER_FIELDS_TOO_LARGE,
        Rejection::Parse(ParseError::VersionNotSupported) => Status::VERSION_NOT_SUPPORTED,
        Rejection::Parse(ParseError::TransferCodingNotImplemented) => Status::NOT_IMPLEMENTED,
        Rejection::Parse(ParseError::BodyTooLarge) => Status::CONTENT_TOO_LARGE,
        Rejection::Parse(ParseError::ExpectationFailed) => Status::EXPECTATION_FAILED,
        Rejection::Timeout => Status::REQUEST_TIMEOUT,
    };
    (status, Level::DEBUG)
}

/// The status and log level for a failed open or read of a file the client asked for, as nginx's
/// static module maps errno.
pub(crate) fn file_error(error: &io::Error) -> (Status, Level) {
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
    fn rejections_are_the_clients_fault() {
        let table = [
            (Rejection::Parse(ParseError::Malformed("x")), 400),
            (Rejection::Parse(ParseError::RequestLineTooLong), 414),
            (Rejection::Parse(ParseError::HeadTooLarge), 431),
            (Rejection::Parse(ParseError::VersionNotSupported), 505),
            (
                Rejection::Parse(ParseError::TransferCodingNotImplemented),
                501,
            ),
            (Rejection::Parse(ParseError::BodyTooLarge), 413),
            (Rejection::Parse(ParseError::ExpectationFailed), 417),
            (Rejection::Timeout, 408),
        ];
        for (cause, code) in table {
            let (status, level) = rejection(cause);
            assert_eq!(status.code(), code, "{cause:?}");
            assert_eq!(level, Level::DEBUG, "{cause:?}");
        }
    }

    #[test]
    fn errno_table() {
        let status = |errno| file_error(&io::Error::from_raw_os_error(errno)).0;
        assert_eq!(status(libc::ENOENT), Status::NOT_FOUND);
        assert_eq!(status(libc::EXDEV), Status::NOT_FOUND);
        assert_eq!(status(libc::EACCES), Status::FORBIDDEN);
        assert_eq!(status(libc::EIO), Status::INTERNAL_SERVER_ERROR);
    }
}
