//! [`AsUserError`]: why a path a document names could not be used as its writer, in words that never tell a missing file from one the user may not see.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What a path was expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A regular file.
    File,
    /// A directory.
    Directory,
}

/// Why a path could not be used as a user.
#[derive(Debug)]
pub enum AsUserError {
    /// The path does not exist, or the user may not reach it: the same
    /// words for both, so the answer says nothing of files the user cannot see.
    Unreachable {
        /// The path as given.
        path: PathBuf,
        /// Whom it was opened as.
        uid: u32,
        /// What it should have been.
        expected: Expected,
        /// The system's error (which tells the two apart: for logs only).
        source: io::Error,
    },
    /// The path is something else than expected (a FIFO, a device, a directory, ...).
    WrongKind {
        /// The path as given.
        path: PathBuf,
        /// What it should have been.
        expected: Expected,
        /// What it is, in words ("a FIFO").
        found: &'static str,
    },
    /// A file larger than the most that is read.
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// The bound, in bytes.
        limit: u64,
    },
    /// A directory the user may not create files in.
    NotWritable {
        /// The directory.
        path: PathBuf,
        /// Whom it was checked as.
        uid: u32,
        /// The system's error.
        source: io::Error,
    },
    /// Any other failure of an operation (a full disk, a read-only filesystem).
    Failed {
        /// The path.
        path: PathBuf,
        /// Whom it was done as.
        uid: u32,
        /// What was done ("write", "remove").
        action: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The daemon is not root and cannot act as another user.
    CannotSwitch {
        /// The user asked for.
        uid: u32,
        /// The daemon's own user.
        daemon_uid: u32,
    },
    /// Taking on the user's credentials failed (or no thread could be started).
    Credentials {
        /// The user asked for.
        uid: u32,
        /// The system's error.
        source: io::Error,
    },
}

impl fmt::Display for AsUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsUserError::Unreachable {
                path,
                uid,
                expected: Expected::File,
                ..
            } => write!(
                f,
                "cannot open {} as user {uid}: no such file, or that user may not read it",
                path.display()
            ),
            AsUserError::Unreachable {
                path,
                uid,
                expected: Expected::Directory,
                ..
            } => write!(
                f,
                "cannot open {} as user {uid}: no such directory, or that user may not open it",
                path.display()
            ),
            AsUserError::WrongKind {
                path,
                expected: Expected::File,
                found,
            } => write!(
                f,
                "{} is not a regular file (it is {found})",
                path.display()
            ),
            AsUserError::WrongKind {
                path,
                expected: Expected::Directory,
                found,
            } => write!(f, "{} is not a directory (it is {found})", path.display()),
            AsUserError::TooLarge { path, limit } => write!(
                f,
                "{} is larger than {limit} bytes, the most certfs reads",
                path.display()
            ),
            AsUserError::NotWritable { path, uid, .. } => {
                write!(f, "user {uid} may not create files in {}", path.display())
            }
            AsUserError::Failed {
                path,
                uid,
                action,
                source,
            } => write!(
                f,
                "cannot {action} {} as user {uid}: {source}",
                path.display()
            ),
            AsUserError::CannotSwitch { uid, daemon_uid } => write!(
                f,
                "certfs runs as user {daemon_uid} and cannot open files as user {uid} \
                 (only a daemon running as root can act as another user)"
            ),
            AsUserError::Credentials { uid, source } => {
                write!(f, "cannot act as user {uid}: {source}")
            }
        }
    }
}

impl std::error::Error for AsUserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AsUserError::Unreachable { source, .. }
            | AsUserError::NotWritable { source, .. }
            | AsUserError::Failed { source, .. }
            | AsUserError::Credentials { source, .. } => Some(source),
            AsUserError::WrongKind { .. }
            | AsUserError::TooLarge { .. }
            | AsUserError::CannotSwitch { .. } => None,
        }
    }
}
