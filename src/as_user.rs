//! Opening paths a document names as the user who wrote it: a short-lived thread with that user's fsuid, fsgid and groups, regular files and directories only, never blocking, reads bounded.
//!
//! certfs usually runs as root, and a path in a document (`ca_file`,
//! `challenge.webroot`, `pidfile`) is chosen by whoever wrote the document.
//! Opened as root, it would let that user read any file, learn whether a
//! root-only file exists, hang a daemon thread on a FIFO or make root write
//! where the user may not. Every operation here therefore:
//!
//! - runs as an [`Identity`] (uid, gid, supplementary groups): on a thread of
//!   its own that sets `setfsgid`, its groups with the raw `SYS_setgroups`
//!   syscall (glibc's `setgroups` changes every thread of the process) and
//!   `setfsuid`, does the one operation and ends. Setting a nonzero fsuid
//!   also drops root's file capabilities for that thread, so the kernel
//!   checks modes exactly as for the user. When the identity is the
//!   daemon's own user (or root, for a daemon that is not root: it may do
//!   less than root, never more) nothing is switched; a daemon that is not
//!   root cannot act as anybody else and says so
//!   ([`AsUserError::CannotSwitch`]);
//! - looks before it opens (`stat` as the user, which the user could do
//!   too), so a FIFO or a device is refused without being opened, and checks
//!   again with `fstat` on what it opened (`O_NONBLOCK`, `O_NOCTTY`);
//! - reads at most a bound ([`MAX_READ`] unless told less), refusing larger;
//! - says "no such file, or that user may not read it" for a path that is
//!   missing and for one the user may not reach alike, so the answer tells
//!   nothing about files the user cannot see.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod error;
pub use error::{AsUserError, Expected};

/// The most bytes read from a file a document names (a CA bundle, a pidfile).
pub const MAX_READ: u64 = 1 << 20;

/// A Unix user's credentials for file access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<u32>,
}

impl Identity {
    /// The daemon's own user: its effective uid and gid and its
    /// supplementary groups (the mount's owner).
    pub fn daemon() -> Identity {
        // SAFETY: geteuid and getegid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Identity {
            uid,
            gid,
            groups: own_groups(),
        }
    }
}

/// The process's supplementary groups (none if they cannot be read).
fn own_groups() -> Vec<u32> {
    // SAFETY: with size 0, getgroups only returns how many groups there are.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let Ok(len) = usize::try_from(count) else {
        return Vec::new();
    };
    let mut groups: Vec<libc::gid_t> = vec![0; len];
    // SAFETY: `groups` has room for `count` entries, as getgroups is told.
    let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    match usize::try_from(got) {
        Ok(n) => {
            groups.truncate(n);
            groups
        }
        Err(_) => Vec::new(),
    }
}

/// Reads the regular file `path` as `who`, at most `limit` bytes (larger is refused).
pub fn read_file(who: &Identity, path: &Path, limit: u64) -> Result<Vec<u8>, AsUserError> {
    run_as(who, || {
        let meta = stat(who, path, Expected::File)?;
        check_kind(path, &meta, Expected::File)?;
        if meta.len() > limit {
            return Err(AsUserError::TooLarge {
                path: path.to_owned(),
                limit,
            });
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| unreachable_or_failed(who, path, Expected::File, "read", e))?;
        // What was opened may not be what was looked at.
        let meta = file.metadata().map_err(|e| failed(who, path, "read", e))?;
        check_kind(path, &meta, Expected::File)?;
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| failed(who, path, "read", e))?;
        if bytes.len() as u64 > limit {
            return Err(AsUserError::TooLarge {
                path: path.to_owned(),
                limit,
            });
        }
        Ok(bytes)
    })
}

/// Whether `who` could create `below` (relative, such as
/// `.well-known/acme-challenge`) and files in it inside the directory
/// `root`: `root` is a directory the user may open, and the deepest
/// directory of `root/below` that exists already is one the user may
/// write into. Nothing is created.
pub fn check_may_create(who: &Identity, root: &Path, below: &Path) -> Result<(), AsUserError> {
    run_as(who, || {
        let meta = stat(who, root, Expected::Directory)?;
        check_kind(root, &meta, Expected::Directory)?;
        // A directory the user may not open looks like a missing one.
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(root)
            .map_err(|e| unreachable_or_failed(who, root, Expected::Directory, "open", e))?;
        drop(opened);
        let mut deepest = root.to_path_buf();
        for part in below.components() {
            let next = deepest.join(part);
            match fs::metadata(&next) {
                Ok(m) if m.is_dir() => deepest = next,
                // Missing (made later), or in the way: the directory above decides.
                _ => break,
            }
        }
        may_write(who, &deepest)
    })
}

/// Writes `bytes` whole to `dir/name` as `who` (a temporary file, then a
/// rename), mode `mode`; `dir` and its missing parents are made 0755.
/// `name` is a plain file name (no `/`, not `.` or `..`). Returns the
/// file's path.
pub fn write_file(
    who: &Identity,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<PathBuf, AsUserError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(failed(
            who,
            &dir.join(name),
            "write",
            io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name"),
        ));
    }
    run_as(who, || {
        match fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
        {
            Ok(()) => {}
            Err(e) if is_denied(&e) => {
                return Err(AsUserError::NotWritable {
                    path: dir.to_owned(),
                    uid: who.uid,
                    source: e,
                });
            }
            Err(e) => return Err(failed(who, dir, "create", e)),
        }
        let meta = stat(who, dir, Expected::Directory)?;
        check_kind(dir, &meta, Expected::Directory)?;
        let path = dir.join(name);
        let temporary = dir.join(format!(".{name}.certfs-tmp"));
        let written = write_new(who, &temporary, bytes, mode).and_then(|()| {
            fs::rename(&temporary, &path).map_err(|e| failed(who, &path, "write", e))
        });
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map(|()| path)
    })
}

/// The temporary file of [`write_file`]: never follows a link, never
/// blocks on a FIFO, must be a regular file once open.
fn write_new(who: &Identity, path: &Path, bytes: &[u8], mode: u32) -> Result<(), AsUserError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e {
            e if is_denied(&e) => AsUserError::NotWritable {
                path: path.parent().unwrap_or(path).to_owned(),
                uid: who.uid,
                source: e,
            },
            e => failed(who, path, "write", e),
        })?;
    let meta = file.metadata().map_err(|e| failed(who, path, "write", e))?;
    check_kind(path, &meta, Expected::File)?;
    file.write_all(bytes)
        .map_err(|e| failed(who, path, "write", e))?;
    // The umask may have taken bits away.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| failed(who, path, "write", e))?;
    file.sync_all().map_err(|e| failed(who, path, "write", e))
}

/// Removes the file `path` as `who`; a file already gone is fine.
pub fn remove_file(who: &Identity, path: &Path) -> Result<(), AsUserError> {
    run_as(who, || match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(who, path, "remove", e)),
    })
}

/// `stat` as the user: a missing path and one the user may not reach are alike.
fn stat(who: &Identity, path: &Path, expected: Expected) -> Result<fs::Metadata, AsUserError> {
    fs::metadata(path).map_err(|e| unreachable_or_failed(who, path, expected, "open", e))
}

/// Whether the user may create entries in the directory `dir`, asked of
/// the kernel with the thread's own (fs) credentials: `faccessat2` with
/// `AT_EACCESS` (plain `access` would ask for the real uid, root).
fn may_write(who: &Identity, dir: &Path) -> Result<(), AsUserError> {
    let c_path =
        CString::new(dir.as_os_str().as_bytes()).map_err(|_| AsUserError::Unreachable {
            path: dir.to_owned(),
            uid: who.uid,
            expected: Expected::Directory,
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
    // SAFETY: a NUL-terminated path that outlives the call, and plain integer flags.
    let answer = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            libc::c_long::from(libc::AT_FDCWD),
            c_path.as_ptr(),
            libc::c_long::from(libc::W_OK | libc::X_OK),
            libc::c_long::from(libc::AT_EACCESS),
        )
    };
    if answer == 0 {
        return Ok(());
    }
    let mut e = io::Error::last_os_error();
    // Kernels before 5.8 lack faccessat2 (ENOSYS), and some container
    // filters refuse it (EPERM): then the directory's mode bits decide,
    // read as the user, as the kernel would for a plain mode.
    if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
        match fs::metadata(dir) {
            Ok(meta) if mode_lets_in(who, &meta) => return Ok(()),
            Ok(_) => e = io::Error::from_raw_os_error(libc::EACCES),
            Err(stat) => e = stat,
        }
    }
    if is_denied(&e) {
        Err(AsUserError::NotWritable {
            path: dir.to_owned(),
            uid: who.uid,
            source: e,
        })
    } else {
        Err(failed(who, dir, "check", e))
    }
}

/// Whether the mode of directory `meta` lets `who` create files in it
/// (write and search), owner, group or other bits as they apply; root may.
fn mode_lets_in(who: &Identity, meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode();
    let bits = if who.uid == 0 {
        return true;
    } else if meta.uid() == who.uid {
        mode >> 6
    } else if meta.gid() == who.gid || who.groups.contains(&meta.gid()) {
        mode >> 3
    } else {
        mode
    };
    bits & 0o3 == 0o3
}

fn check_kind(path: &Path, meta: &fs::Metadata, expected: Expected) -> Result<(), AsUserError> {
    let kind = meta.file_type();
    let fits = match expected {
        Expected::File => kind.is_file(),
        Expected::Directory => kind.is_dir(),
    };
    if fits {
        return Ok(());
    }
    let found = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "something else"
    };
    Err(AsUserError::WrongKind {
        path: path.to_owned(),
        expected,
        found,
    })
}

/// Errors that mean "missing, or not for this user" (alike on purpose).
fn is_unreachable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENOENT
                | libc::EACCES
                | libc::EPERM
                | libc::ENOTDIR
                | libc::ELOOP
                | libc::ENAMETOOLONG
        )
    ) || e.kind() == io::ErrorKind::InvalidInput
}

fn is_denied(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
}

fn unreachable_or_failed(
    who: &Identity,
    path: &Path,
    expected: Expected,
    action: &'static str,
    e: io::Error,
) -> AsUserError {
    if is_unreachable(&e) {
        AsUserError::Unreachable {
            path: path.to_owned(),
            uid: who.uid,
            expected,
            source: e,
        }
    } else {
        failed(who, path, action, e)
    }
}

fn failed(who: &Identity, path: &Path, action: &'static str, source: io::Error) -> AsUserError {
    AsUserError::Failed {
        path: path.to_owned(),
        uid: who.uid,
        action,
        source,
    }
}

/// Runs `operation` with `who`'s file credentials: in place when `who` is
/// the daemon's own user, else on a thread of its own that takes them on
/// and ends with the operation (so no other thread ever has them).
fn run_as<T: Send>(
    who: &Identity,
    operation: impl FnOnce() -> Result<T, AsUserError> + Send,
) -> Result<T, AsUserError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let daemon_uid = unsafe { libc::geteuid() };
    // Root's paths on a daemon that is not root: the daemon's own user may
    // do less than root, never more.
    if who.uid == daemon_uid || who.uid == 0 {
        return operation();
    }
    if daemon_uid != 0 {
        return Err(AsUserError::CannotSwitch {
            uid: who.uid,
            daemon_uid,
        });
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name(format!("as-user-{}", who.uid))
            .spawn_scoped(scope, || {
                become_user(who)?;
                operation()
            })
            .map_err(|source| AsUserError::Credentials {
                uid: who.uid,
                source,
            })?;
        thread.join().unwrap_or_else(|_| {
            Err(AsUserError::Credentials {
                uid: who.uid,
                source: io::Error::other("the thread acting as the user panicked"),
            })
        })
    })
}

/// Gives the calling thread (only) `who`'s fsgid, groups and fsuid.
fn become_user(who: &Identity) -> Result<(), AsUserError> {
    let fail = |source: io::Error| AsUserError::Credentials {
        uid: who.uid,
        source,
    };
    // SAFETY: setfsgid takes an integer and touches no memory; it changes
    // the calling thread's credentials only (a raw syscall).
    unsafe { libc::syscall(libc::SYS_setfsgid, libc::c_long::from(who.gid)) };
    // setfsgid reports the previous value; asking with an invalid id (-1)
    // changes nothing and says what is set now.
    // SAFETY: as above.
    let fsgid = unsafe { libc::syscall(libc::SYS_setfsgid, libc::c_long::from(u32::MAX)) };
    if fsgid != i64::from(who.gid) {
        return Err(fail(io::Error::other("setfsgid was refused")));
    }
    let groups: Vec<libc::gid_t> = who.groups.clone();
    let count = libc::c_long::try_from(groups.len())
        .map_err(|_| fail(io::Error::other("too many groups")))?;
    // SAFETY: the raw syscall, not glibc's wrapper (which would change every
    // thread of the process); `groups` holds `count` gids and outlives the call.
    let set = unsafe { libc::syscall(libc::SYS_setgroups, count, groups.as_ptr()) };
    if set != 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    // SAFETY: as for setfsgid. A nonzero fsuid also clears root's file
    // capabilities (DAC override) from this thread's effective set.
    unsafe { libc::syscall(libc::SYS_setfsuid, libc::c_long::from(who.uid)) };
    // SAFETY: as above.
    let fsuid = unsafe { libc::syscall(libc::SYS_setfsuid, libc::c_long::from(u32::MAX)) };
    if fsuid != i64::from(who.uid) {
        return Err(fail(io::Error::other("setfsuid was refused")));
    }
    Ok(())
}

#[cfg(test)]
#[path = "as_user_tests.rs"]
mod tests;
