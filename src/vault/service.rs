//! [`VaultService`]: the tree's answers (lookup, list, read) and its actions (mkdir, write on close, rename, rm).
//!
//! Reads come from the in-memory model under a short read lock. Actions
//! that change the store run in three steps: check and do the slow work
//! (parse, key generation, issuing) holding no lock; write the store under
//! the writer lock (one transaction); publish to the model under a brief
//! write lock. A reader therefore never waits for the disk, a key or a CA,
//! and sees a new version everywhere at once.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use super::attributes::{self, DISABLED};
use super::audit::AuditLog;
use super::backup::BackupKey;
use super::error::VaultError;
use super::load::{state_from_index, state_from_snapshot};
use super::model::{CertificateState, State, VaultState, Version};
use super::name::{CertificateName, VaultName};
use super::node::{Attr, CertificateFile, Kind, Node, VaultFile, VersionFile};
use super::order_runner::Orders;
use super::renewal::Renewals;
use super::settings::VaultSettings;
use super::side::SideFiles;
use crate::mail::Mailer;
use crate::store::Store;

/// The largest file certfs accepts from a writer (policy, tags, imports).
pub const MAX_WRITE_SIZE: usize = 1 << 20;

pub(super) const VERSIONS_DIR: &str = "versions";
/// The import drop-box of a vault.
pub(super) const IMPORT_DIR: &str = "import";
/// The merge drop-box of a certificate.
pub(super) const MERGE_DIR: &str = "merge";
/// The restore drop-box of a vault.
pub(super) const RESTORE_DIR: &str = "restore";
/// The configured issuers of a vault.
pub(super) const ISSUERS_DIR: &str = "issuers";
/// The soft-deleted certificates of a vault.
pub(super) const DELETED_DIR: &str = "deleted";

/// Directories whose listing changed because of an action; the adapter
/// drops the kernel's cached entries and attributes under them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The changed directories: each one whose attributes, listing or files
    /// changed. A directory removed other than by the `rmdir` or `rename`
    /// that returns these changes (a scheduled purge, say) is listed too,
    /// so its cached entry goes.
    pub dirs: Vec<Node>,
}

/// Who is told of changes made in the background.
pub type Listener = Box<dyn Fn(&Changes) + Send + Sync>;

/// The vault service. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct VaultService {
    pub(super) state: RwLock<State>,
    pub(super) side: RwLock<SideFiles>,
    pub(super) store: Mutex<Box<dyn Store>>,
    /// Seals and opens `backup.blob` files; without one, backups are refused.
    pub(super) backup_key: Option<BackupKey>,
    /// The CA orders the background worker follows.
    pub(super) orders: Arc<Orders>,
    /// The mount's owner (uid, gid).
    pub(super) owner: OnceLock<(u32, u32)>,
    /// Where actions and key reads are recorded (`--audit`).
    pub(super) audit: Option<AuditLog>,
    /// Whether users other than the owner may come in (`--allow-other`).
    pub(super) others: std::sync::atomic::AtomicBool,
    /// Wakes the renewal scheduler.
    pub(super) renewals: Arc<Renewals>,
    /// Where the tree is mounted (for hooks' `RENEWED_LINEAGE` and e-mails).
    pub(super) mount_path: OnceLock<std::path::PathBuf>,
    /// The service itself, for threads it starts (set by `into_shared`).
    pub(super) me: OnceLock<std::sync::Weak<VaultService>>,
    /// Told of changes made in the background (CA orders, purges), so the
    /// FUSE layer can drop what the kernel caches.
    listener: OnceLock<Listener>,
    /// Mails contacts (lifetime actions); without one, nothing is mailed.
    pub(super) mailer: Option<Arc<dyn Mailer>>,
    /// What other daemons sharing the store changed since the load, until
    /// [`VaultService::start_sync`] takes it.
    pub(super) hints: Mutex<Option<std::sync::mpsc::Receiver<crate::store::ChangeHint>>>,
}

pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

pub(super) fn to_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

pub(super) fn dir_attr(mtime: i64) -> Attr {
    Attr {
        kind: Kind::Directory,
        size: 0,
        mode: 0o755,
        mtime: to_time(mtime),
        immutable: false,
        switches: false,
        owner: None,
    }
}

pub(super) fn file_attr(size: usize, mode: u16, mtime: i64, immutable: bool) -> Attr {
    Attr {
        kind: Kind::File,
        size: size as u64,
        mode,
        mtime: to_time(mtime),
        immutable,
        switches: false,
        owner: None,
    }
}

pub(super) fn not_found(what: &str) -> VaultError {
    VaultError::NotFound(format!("{what} not found"))
}

impl VaultService {
    /// Opens the service on `store`: loads its index (names and times)
    /// and reads each certificate when first used, or, from a store without
    /// a reader, loads everything.
    pub fn open(store: Box<dyn Store>) -> Result<Self, VaultError> {
        // Listen before reading: what other daemons commit from now on is
        // told, and applied once [`VaultService::start_sync`] runs.
        let (tx, hints) = std::sync::mpsc::channel();
        store.watch(Box::new(move |hint| {
            // The receiver is gone only when the service is.
            let _ = tx.send(hint);
        }))?;
        let state = match store.reader()? {
            Some(reader) => state_from_index(store.load_index()?, reader)?,
            None => state_from_snapshot(store.load()?)?,
        };
        Ok(VaultService {
            state: RwLock::new(state),
            side: RwLock::new(SideFiles::default()),
            store: Mutex::new(store),
            backup_key: None,
            orders: Arc::default(),
            owner: OnceLock::new(),
            audit: None,
            others: std::sync::atomic::AtomicBool::new(false),
            renewals: Arc::default(),
            mount_path: OnceLock::new(),
            me: OnceLock::new(),
            listener: OnceLock::new(),
            mailer: None,
            hints: Mutex::new(Some(hints)),
        })
    }

    /// The service with `key` for `backup.blob` and `restore/`.
    pub fn with_backup_key(mut self, key: BackupKey) -> Self {
        self.backup_key = Some(key);
        self
    }

    /// The service with `mailer` for e-mail to the vaults' contacts.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The service behind an `Arc`, able to start background threads of its own (hooks).
    pub fn into_shared(self) -> Arc<Self> {
        let shared = Arc::new(self);
        let _ = shared.me.set(Arc::downgrade(&shared));
        shared
    }

    /// Sets where the tree is mounted (once), for hooks and e-mails.
    pub fn set_mount_path(&self, path: std::path::PathBuf) {
        let _ = self.mount_path.set(path);
    }

    /// Sets who is told of changes made in the background (once).
    pub fn set_listener(&self, listener: Listener) {
        let _ = self.listener.set(listener);
    }

    /// Tells the listener of a change made in the background.
    pub(super) fn announce(&self, changes: &Changes) {
        if let Some(listener) = self.listener.get() {
            listener(changes);
        }
    }

    // ----- reading the tree -------------------------------------------------

    /// The bytes of file `node`, as one snapshot (an open file keeps it).
    pub fn read(&self, node: &Node) -> Result<Arc<[u8]>, VaultError> {
        match node {
            Node::Metrics => Ok(self.metrics_bytes()),
            Node::CertificateFile(v, c, CertificateFile::Status) => self.status_bytes(v, c),
            Node::Side(dir, name) => {
                let side = self.side.read();
                Ok(side
                    .get(dir, name)
                    .ok_or_else(|| not_found(name))?
                    .data
                    .clone())
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                ..
            } => {
                let (version, settings) = {
                    let st = self.state.read();
                    let cs = certificate(&st, v, c)?;
                    let version = cs
                        .version(version)
                        .ok_or_else(|| not_found(file.file_name()))?;
                    if !cs.shows(version, *file) {
                        return Err(not_found(file.file_name()));
                    }
                    (version.clone(), vault(&st, v)?.settings.clone())
                };
                if file.holds_key() && !version.enabled.load(Ordering::Acquire) {
                    return Err(VaultError::Forbidden(DISABLED.into()));
                }
                version_file(&version, *file, &settings)
            }
            Node::CertificateFile(v, c, CertificateFile::Backup) => self.backup_blob(v, c),
            Node::CertificateFile(v, c, file) => {
                let st = self.state.read();
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => cs
                        .file_bytes(*file)
                        .ok_or_else(|| not_found(file.file_name())),
                    None if vs.drafts.contains(c) => Ok(Arc::from(&b""[..])),
                    None => Err(not_found(file.file_name())),
                }
            }
            Node::VaultFile(v, file) => {
                let st = self.state.read();
                // Absent contacts read as empty while being created.
                Ok(vault_file(vault(&st, v)?, *file).unwrap_or_else(|| Arc::from(&b""[..])))
            }
            Node::IssuerCa(v, name) => {
                let st = self.state.read();
                issuer_ca_pem(vault(&st, v)?, name).ok_or_else(|| not_found(&format!("{name}.pem")))
            }
            Node::IssuerFile(v, name) => {
                let st = self.state.read();
                let vs = vault(&st, v)?;
                let text = vs
                    .issuers
                    .get(name)
                    .map(|b| b.to_json())
                    .unwrap_or_default();
                Ok(Arc::from(text.into_bytes()))
            }
            Node::DeletedFile(v, c, file) => {
                let st = self.state.read();
                deleted(&st, v, c)?
                    .deleted_file(v, *file)
                    .ok_or_else(|| not_found(file.file_name()))
            }
            _ => Err(VaultError::IsDirectory("is a directory".into())),
        }
    }
}

/// `metrics.prom` at the mount root.
pub const METRICS_FILE: &str = "metrics.prom";
/// `live/` at the mount root.
pub const LIVE_DIR: &str = "live";
/// The files of `live/<vault>.<cert>/`, as certbot lays them out.
pub(super) const LIVE_FILES: [VersionFile; 4] = [
    VersionFile::CertPem,
    VersionFile::ChainPem,
    VersionFile::FullchainPem,
    VersionFile::PrivkeyPem,
];

/// `issuers/<name>.pem` of an Internal issuer.
pub(super) fn issuer_ca_pem(
    vs: &super::model::VaultState,
    name: &CertificateName,
) -> Option<Arc<[u8]>> {
    vs.issuer_memory.get(name)?.ca_pem.clone()
}

pub(super) fn vault<'a>(st: &'a State, v: &VaultName) -> Result<&'a VaultState, VaultError> {
    st.vaults.get(v).ok_or_else(|| not_found(v.as_str()))
}

/// The bytes of the vault file `file`, if it exists.
pub(super) fn vault_file(vs: &VaultState, file: VaultFile) -> Option<Arc<[u8]>> {
    match file {
        VaultFile::Settings => Some(Arc::from(vs.settings.to_json().into_bytes())),
        VaultFile::Contacts => vs
            .contacts
            .as_ref()
            .map(|c| Arc::from(c.to_json().into_bytes())),
    }
}

/// The bytes of `file` of `version`, in a vault with `settings`.
pub(super) fn version_file(
    version: &Version,
    file: VersionFile,
    settings: &VaultSettings,
) -> Result<Arc<[u8]>, VaultError> {
    match file {
        // The one file whose bytes change (enabled, updated, the vault's recovery level).
        VersionFile::Attributes => Ok(Arc::from(
            attributes::render(version, settings).into_bytes(),
        )),
        _ => version.file(file),
    }
}

/// The soft-deleted certificate `c` of vault `v`.
pub(super) fn deleted<'a>(
    st: &'a State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<&'a CertificateState, VaultError> {
    vault(st, v)?
        .deleted
        .get(c)
        .ok_or_else(|| not_found(c.as_str()))
}

pub(super) fn certificate<'a>(
    st: &'a State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<&'a CertificateState, VaultError> {
    vault(st, v)?
        .certificates
        .get(c)
        .ok_or_else(|| not_found(c.as_str()))
}
