//! The serving copy (`certfs mount --export DIR`): every certificate's current files under `DIR/<vault>/<cert>/`, switched all at once, left in place when the daemon dies.
//!
//! Each certificate with a completed version gets the files the mount
//! shows at the top of its folder — `cert.pem`, `cert.cer`, `chain.pem`,
//! `fullchain.pem`, and, for an exportable key of an enabled version,
//! `privkey.pem`, `bundle.pem`, `cert.pfx` — laid out by
//! [`crate::atomic_dir`] (Kubernetes' atomic writer: `..data` swapped by
//! one `rename`). Modes and owners are the mount's: key files 0600 and
//! certificate files 0444, the certificate directory 0755, each as a
//! stored `chmod`/`chown` changed it; files belong to the daemon's user
//! unless one was given.
//!
//! When it is written: at mount, before the tree is served, the copy is
//! reconciled with the store (missing certificates added, stale ones
//! switched, those gone removed; what certfs did not make is left alone);
//! then after every change to the model, in the follow-ups of its
//! [`Transaction`](super::service::Transaction), before the hooks of a
//! switch start — so a hook's reload reads the new files from the copy
//! too. A fleet's changes come through the same transactions. A write
//! that fails (a full disk, permissions) is logged, counted in
//! `metrics.prom`, retried at the next change, and never fails the
//! change itself nor the mount.
//!
//! `DIR` must be empty or be a serving copy already (it holds
//! [`MARKER`]): certfs removes what it made there, and refuses a directory
//! of something else rather than mix with it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::access::{DIRECTORY, Perm};
use super::certificate_state::CertificateState;
use super::name::{CertificateName, VaultName, VersionId};
use super::node::VersionFile;
use crate::atomic_dir::{self, AtomicDirError, DirSpec, FileSpec};

/// The file that says a directory is a serving copy of certfs.
pub const MARKER: &str = ".certfs-serving-copy";

/// Whether `file` is in a certificate's copy: every version file but
/// `attributes.json` (which changes in place, and is no server's file).
fn in_copy(file: VersionFile) -> bool {
    file != VersionFile::Attributes
}

/// Why `--export DIR` cannot be used.
#[derive(Debug)]
pub enum ExportDirError {
    /// `DIR` exists and is not a directory.
    NotADirectory(PathBuf),
    /// `DIR` holds files and no [`MARKER`]: not a serving copy of certfs.
    Foreign(PathBuf),
    /// `DIR` is another user's, or group or others may write in it: they
    /// could plant links that the copy's chown and chmod would follow.
    OpenToOthers(PathBuf),
    /// `DIR` cannot be created, listed or written.
    Io {
        /// What was being done.
        doing: &'static str,
        /// The path.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

impl std::fmt::Display for ExportDirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportDirError::NotADirectory(p) => {
                write!(f, "--export {} is not a directory", p.display())
            }
            ExportDirError::OpenToOthers(p) => write!(
                f,
                "--export {} must be certfs' user's and writable by it alone \
                 (chown it, and chmod go-w it: a tmpfs is 1777 unless mounted with mode=0755)",
                p.display()
            ),
            ExportDirError::Foreign(p) => write!(
                f,
                "--export {} holds files certfs did not write (no {MARKER}): \
                 give an empty directory, or one certfs exported to before",
                p.display()
            ),
            ExportDirError::Io {
                doing,
                path,
                source,
            } => {
                write!(f, "--export: cannot {doing} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ExportDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportDirError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What one certificate's copy was last written from (to tell, after a
/// change, whether it must switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Written {
    /// The certificate's last update.
    pub(super) updated: i64,
    /// What its files show; `None`: it has no completed version (no copy).
    shown: Option<Shown>,
}

impl Written {
    /// Whether `cs` still shows what was written (allocates nothing: it
    /// runs for every certificate read so far after each change).
    pub(super) fn still(&self, cs: &CertificateState) -> bool {
        if self.updated != cs.updated {
            return false;
        }
        match (&self.shown, cs.current()) {
            (None, None) => true,
            (Some(shown), Some(version)) => {
                shown.version == version.id
                    && shown.keys == keys_shown(cs, version)
                    && shown.perms == perms(cs)
            }
            _ => false,
        }
    }
}

/// What a certificate's copy shows: which version, whether its key files,
/// under which stored modes and owners.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    version: VersionId,
    keys: bool,
    perms: [Option<Perm>; 4],
}

/// What was last written of each certificate, by vault and name (looked
/// up by reference: the pass after each change clones nothing).
#[derive(Default)]
pub(super) struct Record(BTreeMap<VaultName, BTreeMap<CertificateName, Written>>);

impl Record {
    /// What was written of `c` in vault `v`.
    pub(super) fn get(&self, v: &VaultName, c: &CertificateName) -> Option<&Written> {
        self.0.get(v)?.get(c)
    }

    /// The certificates of vault `v` written.
    pub(super) fn vault(&self, v: &VaultName) -> Option<&BTreeMap<CertificateName, Written>> {
        self.0.get(v)
    }

    fn insert(&mut self, (v, c): Key, written: Written) {
        self.0.entry(v).or_default().insert(c, written);
    }

    /// Forgets `key`'s record (it is written again at the next change).
    pub(super) fn remove(&mut self, (v, c): &Key) {
        if let Some(certs) = self.0.get_mut(v) {
            certs.remove(c);
            if certs.is_empty() {
                self.0.remove(v);
            }
        }
    }

    /// Every certificate written.
    pub(super) fn keys(&self) -> impl Iterator<Item = (&VaultName, &CertificateName)> {
        self.0
            .iter()
            .flat_map(|(v, certs)| certs.keys().map(move |c| (v, c)))
    }

    /// How many certificates were written.
    pub(super) fn len(&self) -> usize {
        self.0.values().map(BTreeMap::len).sum()
    }
}

/// What a certificate's copy must show, read from the model.
pub(super) struct Wanted {
    pub(super) written: Written,
    dir: DirSpec,
    files: Vec<(VersionFile, Arc<super::version::Version>, u32, Perm)>,
}

/// A certificate: its vault and name.
pub(super) type Key = (VaultName, CertificateName);

/// The serving copy: where it is, what was written, what failed.
pub struct ServingCopy {
    pub(super) root: PathBuf,
    /// Held for every write of the copy, so follow-ups of concurrent
    /// changes write one after another, each what the model holds then.
    pub(super) written: Mutex<Record>,
    /// Certificates whose copy is not current, with the last error.
    failing: Mutex<BTreeMap<Key, String>>,
    /// Writes that failed since the mount.
    failures: AtomicU64,
}

impl ServingCopy {
    /// The serving copy in `root`: created if missing, refused if it is
    /// not a directory, holds files of something else, or cannot be written.
    pub fn open(root: &Path) -> Result<ServingCopy, ExportDirError> {
        use std::os::unix::fs::DirBuilderExt;
        let io = |doing, path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportDirError::Io {
                doing,
                path,
                source,
            }
        };
        match std::fs::metadata(root) {
            Ok(meta) if !meta.is_dir() => return Err(ExportDirError::NotADirectory(root.into())),
            Ok(meta) => {
                use std::os::unix::fs::MetadataExt;
                if meta.uid() != effective_uid() || meta.mode() & 0o022 != 0 {
                    return Err(ExportDirError::OpenToOthers(root.into()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(root)
                .map_err(io("create", root))?,
            Err(e) => return Err(io("open", root)(e)),
        }
        let marker = root.join(MARKER);
        if !marker.exists() {
            let mut entries = std::fs::read_dir(root).map_err(io("list", root))?;
            if entries.next().is_some() {
                return Err(ExportDirError::Foreign(root.into()));
            }
        }
        // Written at each mount: proves the directory takes writes now.
        std::fs::write(
            &marker,
            "certfs serving copy (certfs mount --export): written by certfs, do not edit\n",
        )
        .map_err(io("write", &marker))?;
        // Absolute: a daemon's working directory is not the caller's.
        let root = std::fs::canonicalize(root).map_err(io("open", root))?;
        Ok(ServingCopy {
            root,
            written: Mutex::new(Record::default()),
            failing: Mutex::new(BTreeMap::new()),
            failures: AtomicU64::new(0),
        })
    }

    fn dir_of(&self, v: &str, c: &str) -> PathBuf {
        self.root.join(v).join(c)
    }

    /// How many certificates' copies are not current (their last write failed).
    pub(super) fn failing(&self) -> usize {
        self.failing.lock().len()
    }

    /// `metrics.prom` lines of the copy.
    pub(super) fn metrics(&self) -> String {
        let failing = self.failing();
        let failures = self.failures.load(Ordering::Relaxed);
        format!(
            "# HELP certfs_serving_copy_failing Certificates whose serving copy (--export) is not current: its last write failed.\n\
             # TYPE certfs_serving_copy_failing gauge\n\
             certfs_serving_copy_failing {failing}\n\
             # HELP certfs_serving_copy_write_failures_total Writes of the serving copy that failed since the mount.\n\
             # TYPE certfs_serving_copy_write_failures_total counter\n\
             certfs_serving_copy_write_failures_total {failures}\n"
        )
    }

    pub(super) fn failed(&self, key: &Key, e: &dyn std::fmt::Display) {
        let (v, c) = key;
        log::error!("{v}/{c}: the serving copy is not current: {e}");
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.failing.lock().insert(key.clone(), e.to_string());
    }

    fn succeeded(&self, key: &Key) {
        if self.failing.lock().remove(key).is_some() {
            let (v, c) = key;
            log::info!("{v}/{c}: the serving copy is current again");
        }
    }

    /// Writes (or removes) the copy of `key` as `wanted` says, unless the
    /// disk shows it already; records the outcome.
    pub(super) fn put(&self, written: &mut Record, key: Key, wanted: Option<Wanted>) {
        let dir = self.dir_of(key.0.as_str(), key.1.as_str());
        let outcome = match &wanted {
            Some(w) if w.written.shown.is_some() => {
                render(w).and_then(|files| self.switch(&dir, &w.dir, &files))
            }
            _ => atomic_dir::remove(&dir),
        };
        match outcome {
            Ok(()) => {
                self.succeeded(&key);
                self.remove_empty_vault(key.0.as_str());
                match wanted {
                    Some(w) => written.insert(key, w.written),
                    None => written.remove(&key),
                };
            }
            Err(e) => {
                // Not recorded as written: the next change tries again.
                written.remove(&key);
                self.failed(&key, &e);
            }
        }
    }

    fn switch(&self, dir: &Path, spec: &DirSpec, files: &[FileSpec]) -> Result<(), AtomicDirError> {
        if atomic_dir::shows(dir, spec, files) {
            return Ok(());
        }
        atomic_dir::write(dir, spec, files)
    }

    /// Removes `DIR/<vault>` once nothing is left in it.
    fn remove_empty_vault(&self, v: &str) {
        let _ = std::fs::remove_dir(self.root.join(v));
    }
}

/// The bytes of each file `wanted` names.
fn render(wanted: &Wanted) -> Result<Vec<FileSpec>, AtomicDirError> {
    wanted
        .files
        .iter()
        .map(|(file, version, mode, perm)| {
            let bytes = version.file(*file).map_err(|e| AtomicDirError {
                doing: "render",
                path: PathBuf::from(file.file_name()),
                source: io::Error::other(e.to_string()),
            })?;
            Ok(FileSpec {
                name: file.file_name().into(),
                bytes,
                mode: *mode,
                uid: perm.uid,
                gid: perm.gid,
                // Salted anew at each rendering; `cert.pem` and
                // `privkey.pem` say whether it is the same version.
                compare_bytes: *file != VersionFile::CertPfx,
            })
        })
        .collect()
}

/// What the copy of `cs` (live in its vault) must show.
pub(super) fn wanted(cs: &CertificateState) -> Wanted {
    let dir_perm = cs.perms.get(DIRECTORY).copied().unwrap_or_default();
    let dir = DirSpec {
        mode: u32::from(dir_perm.mode.unwrap_or(0o755)),
        uid: dir_perm.uid,
        gid: dir_perm.gid,
    };
    let Some(version) = cs.current() else {
        return Wanted {
            written: Written {
                updated: cs.updated,
                shown: None,
            },
            dir,
            files: Vec::new(),
        };
    };
    let keys = keys_shown(cs, version);
    let files = VersionFile::ALL
        .into_iter()
        .filter(|f| in_copy(*f) && (!f.holds_key() || keys))
        .map(|f| {
            let perm = perm_of(cs, f);
            let default = if f.holds_key() { 0o600 } else { 0o444 };
            let mode = u32::from(perm.mode.unwrap_or(default));
            (f, version.clone(), mode, perm)
        })
        .collect();
    Wanted {
        written: Written {
            updated: cs.updated,
            shown: Some(shown(cs, version, keys)),
        },
        dir,
        files,
    }
}

/// Whether the key files of `version` are given: an exportable key, an
/// enabled version (a disabled one's key is refused in the mount too).
fn keys_shown(cs: &CertificateState, version: &super::version::Version) -> bool {
    cs.shows(version, VersionFile::PrivkeyPem) && version.enabled.load(Ordering::Acquire)
}

fn perm_of(cs: &CertificateState, file: VersionFile) -> Perm {
    if file.holds_key() {
        cs.perms.get(file.file_name()).copied().unwrap_or_default()
    } else {
        Perm::default()
    }
}

fn shown(cs: &CertificateState, version: &super::version::Version, keys: bool) -> Shown {
    Shown {
        version: version.id.clone(),
        keys,
        perms: perms(cs),
    }
}

/// The stored modes and owners the copy of `cs` follows: its directory's
/// and its key files'.
fn perms(cs: &CertificateState) -> [Option<Perm>; 4] {
    [
        cs.perms.get(DIRECTORY).copied(),
        cs.perms.get(VersionFile::PrivkeyPem.file_name()).copied(),
        cs.perms.get(VersionFile::BundlePem.file_name()).copied(),
        cs.perms.get(VersionFile::CertPfx.file_name()).copied(),
    ]
}

#[cfg(test)]
#[path = "serving_copy_tests.rs"]
mod tests;

/// This process's effective user.
#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}
