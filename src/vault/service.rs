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
use super::issuers;
use super::load::{state_from_index, state_from_snapshot};
use super::model::{CertificateState, State, VaultState, Version};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::{Attr, CertificateFile, DeletedFile, Kind, Node, VaultFile, VersionFile};
use super::renewal::Renewals;
use super::settings::VaultSettings;
use super::side::{self, SideFiles};
use super::worker::Orders;
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

    /// The child `name` of directory `dir`.
    pub fn lookup(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        let node = self.child(dir, name)?;
        let attr = self.getattr(&node)?;
        Ok((node, attr))
    }

    pub(super) fn child(&self, dir: &Node, name: &str) -> Result<Node, VaultError> {
        if self.side.read().get(dir, name).is_some() {
            return Ok(Node::Side(Box::new(dir.clone()), name.to_owned()));
        }
        let st = self.state.read();
        let missing = || not_found(name);
        match dir {
            Node::Root => {
                if name == METRICS_FILE {
                    return Ok(Node::Metrics);
                }
                if name == LIVE_DIR {
                    return Ok(Node::Live);
                }
                let vault = VaultName::parse(name).map_err(|_| missing())?;
                let vs = st.vaults.get(&vault).ok_or_else(missing)?;
                Ok(Node::Vault(vs.name.clone()))
            }
            Node::Live => {
                let (v, c) = name.split_once('.').ok_or_else(missing)?;
                let v = VaultName::parse(v).map_err(|_| missing())?;
                let c = CertificateName::parse(c).map_err(|_| missing())?;
                let vs = st.vaults.get(&v).ok_or_else(missing)?;
                let cs = vs.certificates.get(&c).ok_or_else(missing)?;
                cs.current().ok_or_else(missing)?;
                Ok(Node::LiveCertificate(vs.name.clone(), cs.name.clone()))
            }
            Node::LiveCertificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                let current = cs.current().ok_or_else(missing)?;
                let file = LIVE_FILES
                    .into_iter()
                    .find(|f| f.file_name() == name)
                    .filter(|f| cs.shows(current, *f))
                    .ok_or_else(missing)?;
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: current.id.clone(),
                    file,
                    current: true,
                })
            }
            Node::Vault(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                if name == IMPORT_DIR {
                    return Ok(Node::Import(vs.name.clone()));
                }
                if name == DELETED_DIR {
                    return Ok(Node::Deleted(vs.name.clone()));
                }
                if name == ISSUERS_DIR {
                    return Ok(Node::Issuers(vs.name.clone()));
                }
                if name == RESTORE_DIR {
                    return Ok(Node::Restore(vs.name.clone()));
                }
                if let Some(file) = VaultFile::from_name(name) {
                    if file == VaultFile::Contacts && vs.contacts.is_none() {
                        return Err(missing());
                    }
                    return Ok(Node::VaultFile(vs.name.clone(), file));
                }
                let cert = CertificateName::parse(name).map_err(|_| missing())?;
                if let Some(stored) = vs.certificates.key(&cert) {
                    return Ok(Node::Certificate(vs.name.clone(), stored.clone()));
                }
                let draft = vs.drafts.get(&cert).ok_or_else(missing)?;
                Ok(Node::Certificate(vs.name.clone(), draft.clone()))
            }
            Node::Certificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                if name == VERSIONS_DIR {
                    return Ok(Node::Versions(v.clone(), c.clone()));
                }
                if name == MERGE_DIR {
                    return Ok(Node::Merge(v.clone(), c.clone()));
                }
                if let Some(file) = CertificateFile::from_name(name) {
                    if !cs.has_file(file) {
                        return Err(missing());
                    }
                    return Ok(Node::CertificateFile(v.clone(), c.clone(), file));
                }
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                let current = cs.current().ok_or_else(missing)?;
                if !cs.shows(current, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: current.id.clone(),
                    file,
                    current: true,
                })
            }
            Node::Versions(v, c) => {
                let cs = certificate(&st, v, c)?;
                let id = VersionId::parse(name).map_err(|_| missing())?;
                let version = cs.version(&id).ok_or_else(missing)?;
                Ok(Node::Version(v.clone(), c.clone(), version.id.clone()))
            }
            Node::Version(v, c, id) => {
                let cs = certificate(&st, v, c)?;
                let version = cs.version(id).ok_or_else(missing)?;
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                if !cs.shows(version, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: id.clone(),
                    file,
                    current: false,
                })
            }
            Node::Issuers(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                if let Some(stem) = name.strip_suffix(".pem") {
                    let issuer = CertificateName::parse(stem).map_err(|_| missing())?;
                    let (issuer, _) = vs
                        .issuer_memory
                        .get_key_value(&issuer)
                        .filter(|(_, m)| m.ca_pem.is_some())
                        .ok_or_else(missing)?;
                    return Ok(Node::IssuerCa(vs.name.clone(), issuer.clone()));
                }
                let issuer = issuers::parse_name(name).map_err(|_| missing())?;
                let (issuer, _) = vs.issuers.get_key_value(&issuer).ok_or_else(missing)?;
                Ok(Node::IssuerFile(vs.name.clone(), issuer.clone()))
            }
            Node::Deleted(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                let cert = CertificateName::parse(name).map_err(|_| missing())?;
                let name = vs.deleted.key(&cert).ok_or_else(missing)?;
                Ok(Node::DeletedCertificate(vs.name.clone(), name.clone()))
            }
            Node::DeletedCertificate(v, c) => {
                let cs = deleted(&st, v, c)?;
                let file = DeletedFile::from_name(name).ok_or_else(missing)?;
                cs.deleted_file(v, file).ok_or_else(missing)?;
                Ok(Node::DeletedFile(v.clone(), c.clone(), file))
            }
            // Drop-boxes hold only what was dropped (side files, found above).
            Node::Import(_) | Node::Merge(..) | Node::Restore(_) => Err(missing()),
            Node::VersionFile { .. }
            | Node::CertificateFile(..)
            | Node::VaultFile(..)
            | Node::IssuerFile(..)
            | Node::IssuerCa(..)
            | Node::Metrics
            | Node::DeletedFile(..)
            | Node::Side(..) => Err(VaultError::NotDirectory(format!(
                "{name}: parent is not a directory"
            ))),
        }
    }

    /// What `stat` shows for `node`, with stored modes and owners.
    pub fn getattr(&self, node: &Node) -> Result<Attr, VaultError> {
        let mut attr = self.base_attr(node)?;
        self.apply_perms(node, &mut attr);
        Ok(attr)
    }

    /// What `stat` shows for `node` before stored modes and owners.
    fn base_attr(&self, node: &Node) -> Result<Attr, VaultError> {
        if let Node::Side(dir, name) = node {
            let side = self.side.read();
            let f = side.get(dir, name).ok_or_else(|| not_found(name))?;
            let mut attr = file_attr(f.data.len(), f.mode, f.mtime, false);
            attr.owner = Some(f.owner);
            // A report comes and goes with the action it is about (a later
            // mkdir, write or rmdir of the name clears it): never cached by name.
            attr.switches = name.ends_with(side::ERROR_SUFFIX);
            return Ok(attr);
        }
        let st = self.state.read();
        match node {
            Node::Root | Node::Live => Ok(dir_attr(0)),
            Node::LiveCertificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                let current = cs.current().ok_or_else(|| not_found(c.as_str()))?;
                let mut attr = dir_attr(current.created);
                // Follows the current version: its listing must not stay cached.
                attr.switches = true;
                Ok(attr)
            }
            Node::Metrics => {
                drop(st);
                let mut attr = file_attr(self.metrics_bytes().len(), 0o444, now(), false);
                attr.switches = true;
                Ok(attr)
            }
            Node::CertificateFile(v, c, CertificateFile::Status) => {
                let updated = certificate(&st, v, c)?.updated;
                drop(st);
                let mut attr = file_attr(self.status_bytes(v, c)?.len(), 0o444, updated, false);
                attr.switches = true;
                Ok(attr)
            }
            Node::Vault(v) | Node::Import(v) | Node::Restore(v) => {
                Ok(dir_attr(vault(&st, v)?.created))
            }
            Node::Merge(v, c) => Ok(dir_attr(certificate(&st, v, c)?.updated)),
            Node::Deleted(v) => Ok(dir_attr(vault(&st, v)?.created)),
            Node::DeletedCertificate(v, c) => {
                let summary = vault(&st, v)?
                    .deleted
                    .summary(c)
                    .ok_or_else(|| not_found(c.as_str()))?;
                Ok(dir_attr(summary.deleted.unwrap_or(summary.updated)))
            }
            Node::DeletedFile(v, c, file) => {
                let cs = deleted(&st, v, c)?;
                let bytes = cs
                    .deleted_file(v, *file)
                    .ok_or_else(|| not_found(file.file_name()))?;
                let mut attr =
                    file_attr(bytes.len(), 0o444, cs.deleted.unwrap_or(cs.updated), false);
                // Once recovered, the directory shows the live certificate:
                // these names must not stay cached.
                attr.switches = true;
                Ok(attr)
            }
            Node::VaultFile(v, file) => {
                let vs = vault(&st, v)?;
                // contacts.json exists only once written (size 0 while it is being created).
                let size = vault_file(vs, *file).map(|b| b.len()).unwrap_or(0);
                Ok(file_attr(size, 0o644, vs.created, false))
            }
            Node::Issuers(v) => Ok(dir_attr(vault(&st, v)?.created)),
            Node::IssuerFile(v, name) => {
                let vs = vault(&st, v)?;
                // Holds account ids and (hidden) secrets: the owner's only.
                let size = vs.issuers.get(name).map(|b| b.to_json().len()).unwrap_or(0);
                Ok(file_attr(size, 0o600, vs.created, false))
            }
            Node::IssuerCa(v, name) => {
                let vs = vault(&st, v)?;
                let size = issuer_ca_pem(vs, name).map(|b| b.len()).unwrap_or(0);
                // Goes when its issuer file is removed (an unlink of another
                // name) and comes back as a new CA when it is written again:
                // neither its name nor its bytes may stay cached.
                let mut attr = file_attr(size, 0o444, vs.created, false);
                attr.switches = true;
                Ok(attr)
            }
            Node::Certificate(v, c) => {
                let vs = vault(&st, v)?;
                // Stat of a certificate directory reads nothing from the store.
                match vs.certificates.summary(c) {
                    Some(summary) => Ok(dir_attr(summary.updated)),
                    None if vs.drafts.contains(c) => Ok(dir_attr(vs.created)),
                    None => Err(not_found(c.as_str())),
                }
            }
            Node::Versions(v, c) => Ok(dir_attr(certificate(&st, v, c)?.updated)),
            Node::Version(v, c, id) => {
                let version = certificate(&st, v, c)?
                    .version(id)
                    .ok_or_else(|| not_found(id.as_str()))?;
                Ok(dir_attr(version.created))
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                current,
            } => {
                let settings = vault(&st, v)?.settings.clone();
                let version = certificate(&st, v, c)?
                    .version(version)
                    .ok_or_else(|| not_found(file.file_name()))?
                    .clone();
                drop(st);
                let bytes = version_file(&version, *file, &settings)?;
                let (mode, immutable) = match file {
                    VersionFile::Attributes => (0o644, false),
                    f if f.holds_key() => (0o600, true),
                    _ => (0o444, true),
                };
                let mut attr = file_attr(bytes.len(), mode, version.created, immutable);
                attr.switches = *current;
                Ok(attr)
            }
            Node::CertificateFile(v, c, CertificateFile::Backup) => {
                let updated = certificate(&st, v, c)?.updated;
                drop(st);
                let size = self.backup_blob(v, c)?.len();
                Ok(file_attr(size, 0o400, updated, false))
            }
            Node::CertificateFile(v, c, file) => {
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => {
                        let bytes = cs
                            .file_bytes(*file)
                            .ok_or_else(|| not_found(file.file_name()))?;
                        let mode = match file {
                            CertificateFile::Request => 0o444,
                            // Only the mount's owner runs commands as the daemon.
                            CertificateFile::Hooks => 0o600,
                            _ => 0o644,
                        };
                        Ok(file_attr(bytes.len(), mode, cs.updated, false))
                    }
                    // The policy of a draft exists only while someone writes it.
                    None if vs.drafts.contains(c) && *file == CertificateFile::Policy => {
                        Ok(file_attr(0, 0o644, vs.created, false))
                    }
                    None => Err(not_found(file.file_name())),
                }
            }
            Node::Side(..) => unreachable!("handled above"),
        }
    }

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
fn issuer_ca_pem(vs: &super::model::VaultState, name: &CertificateName) -> Option<Arc<[u8]>> {
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
fn version_file(
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
