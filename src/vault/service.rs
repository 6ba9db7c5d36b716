//! [`VaultService`]: the state behind the tree (model, scratch files, store) and the one way to change it, a [`Transaction`].
//!
//! Its fields are private to this module. Reads take the model under a
//! short read lock ([`VaultService::model`]). Actions that change the
//! store run in three steps: check and do the slow work (parse, key
//! generation, issuing) holding no lock; then, in one [`Transaction`],
//! write the store under the writer lock and publish to the model under a
//! brief write lock; on commit, what follows a switch of version runs
//! (`service/switch.rs`). A reader therefore never waits for the disk, a
//! key or a CA, and sees a new version everywhere at once. The locks are
//! taken here and in `service/transaction.rs` only, always in one order:
//! writer (store), then model, then scratch files.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::access::Caller;
use super::audit::AuditLog;
use super::backup::BackupKey;
use super::changes::{Changes, Listener, SwitchHook};
use super::consumers::Consumers;
use super::error::VaultError;
use super::load::{state_from_index, state_from_snapshot};
use super::model::State;
use super::name::{CertificateName, VaultName};
use super::node::{Node, VersionFile};
use super::order_book::Orders;
use super::renewal_alarm::Renewals;
use super::serving_copy::ServingCopy;
use super::side::SideFiles;
use crate::mail::Mailer;
use crate::store::Store;
pub(crate) use transaction::Transaction;

mod switch;
mod transaction;

pub(crate) use switch::update_run_log;

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

/// The vault service. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct VaultService {
    /// The model; written only by a [`Transaction`].
    state: RwLock<State>,
    /// Scratch files and reports; changed by a [`Transaction`] or a scratch write.
    side: RwLock<SideFiles>,
    /// The store behind the writer lock: a [`Transaction`] holds it.
    store: Mutex<Box<dyn Store>>,
    /// Seals and opens `backup.blob` files; without one, backups are refused.
    backup_key: Option<BackupKey>,
    /// The CA orders the background worker follows.
    orders: Arc<Orders>,
    /// The mount's owner (uid, gid).
    owner: OnceLock<(u32, u32)>,
    /// Where actions and key reads are recorded (`--audit`).
    audit: Option<AuditLog>,
    /// Whether users other than the owner may come in (`--allow-other`).
    others: std::sync::atomic::AtomicBool,
    /// Wakes the renewal scheduler.
    renewals: Arc<Renewals>,
    /// Who opened each certificate's key (this machine's processes).
    consumers: Consumers,
    /// Where the tree is mounted (for hooks' `RENEWED_LINEAGE` and e-mails).
    mount_path: OnceLock<std::path::PathBuf>,
    /// The service itself, for threads it starts (set by `into_shared`).
    me: OnceLock<std::sync::Weak<VaultService>>,
    /// Told of changes made in the background (CA orders, purges), so the
    /// FUSE layer can drop what the kernel caches.
    listener: OnceLock<Listener>,
    /// Told of each switch of version while the model's write lock is held.
    switch_hook: OnceLock<SwitchHook>,
    /// Mails contacts (lifetime actions); without one, nothing is mailed.
    mailer: Option<Arc<dyn Mailer>>,
    /// What other daemons sharing the store changed since the load, until
    /// [`VaultService::start_sync`] takes it.
    hints: Mutex<Option<std::sync::mpsc::Receiver<crate::store::ChangeHint>>>,
    /// The serving copy (`--export`), once reconciled.
    serving_copy: OnceLock<Arc<ServingCopy>>,
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
            consumers: Consumers::default(),
            mount_path: OnceLock::new(),
            me: OnceLock::new(),
            listener: OnceLock::new(),
            switch_hook: OnceLock::new(),
            mailer: None,
            hints: Mutex::new(Some(hints)),
            serving_copy: OnceLock::new(),
        })
    }

    /// The service with `key` for `backup.blob` and `restore/`.
    pub fn with_backup_key(mut self, key: BackupKey) -> Self {
        self.backup_key = Some(key);
        self
    }

    /// The service with an audit log.
    pub fn with_audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Records `action` by `caller` on `node` in the audit log, if there is one.
    pub fn audit<T>(
        &self,
        caller: &Caller,
        node: &Node,
        name: Option<&str>,
        action: &str,
        outcome: &Result<T, VaultError>,
    ) {
        if let Some(log) = &self.audit {
            log.record(caller, node, name, action, outcome);
        }
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

    /// Sets who is told of each switch of version (once); see [`SwitchHook`].
    pub fn set_switch_hook(&self, hook: SwitchHook) {
        let _ = self.switch_hook.set(hook);
    }

    /// Tells the switch hook that top-level names of a certificate lead to
    /// another version from now on. Call it with the model's write lock
    /// held, in the same hold that made the switch.
    pub(crate) fn switching(&self) {
        if let Some(hook) = self.switch_hook.get() {
            hook();
        }
    }

    /// Tells the listener of a change made in the background.
    pub(super) fn announce(&self, changes: &Changes) {
        if let Some(listener) = self.listener.get() {
            listener(changes);
        }
    }

    // ----- the state, for the actions ---------------------------------------

    /// The model, under a short read lock: hold it only to look, never
    /// across slow work or a store call.
    pub(super) fn model(&self) -> RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// The scratch files and reports, to look.
    pub(super) fn side_files(&self) -> RwLockReadGuard<'_, SideFiles> {
        self.side.read()
    }

    /// The scratch files and reports, to change what no store write goes
    /// with (an editor's temporary file, a `.error` report). A change that
    /// also writes the store takes them through its [`Transaction`].
    pub(super) fn scratch(&self) -> RwLockWriteGuard<'_, SideFiles> {
        self.side.write()
    }

    /// Begins a change: takes the writer lock, which it holds until commit.
    pub(super) fn transaction(&self) -> Transaction<'_> {
        Transaction::begin(self, self.store.lock())
    }

    /// Runs `change` in a transaction of its own and commits it.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut Transaction<'_>) -> R) -> R {
        let mut tx = self.transaction();
        let outcome = change(&mut tx);
        tx.commit();
        outcome
    }

    /// Whether no transaction holds the writer lock now (tests of what
    /// runs after one ends).
    #[cfg(test)]
    pub(super) fn writer_is_free(&self) -> bool {
        self.store.try_lock().is_some()
    }

    /// Seals and opens `backup.blob` files, if the mount has a master key.
    pub(super) fn backup_key(&self) -> Option<&BackupKey> {
        self.backup_key.as_ref()
    }

    /// The CA orders the background worker follows.
    pub(super) fn orders(&self) -> &Arc<Orders> {
        &self.orders
    }

    /// What wakes the renewal scheduler.
    pub(super) fn renewals(&self) -> &Arc<Renewals> {
        &self.renewals
    }

    /// Who opened each certificate's key.
    pub(super) fn consumers(&self) -> &Consumers {
        &self.consumers
    }

    /// Who mails the vaults' contacts, if anyone.
    pub(super) fn mailer(&self) -> Option<&Arc<dyn Mailer>> {
        self.mailer.as_ref()
    }

    /// The service behind its `Arc`, for threads it starts; `None` if it
    /// is not shared ([`VaultService::into_shared`]).
    pub(super) fn shared(&self) -> Option<Arc<VaultService>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    /// What other daemons sharing the store changed since the load (once).
    pub(super) fn take_hints(&self) -> Option<std::sync::mpsc::Receiver<crate::store::ChangeHint>> {
        self.hints.lock().take()
    }

    /// Keeps `copy` current from now on (once).
    pub(super) fn set_serving_copy(&self, copy: Arc<ServingCopy>) {
        let _ = self.serving_copy.set(copy);
    }

    /// The serving copy (`--export`), if the mount has one.
    pub(super) fn serving_copy(&self) -> Option<&Arc<ServingCopy>> {
        self.serving_copy.get()
    }

    /// Sets the mount's owner and whether other users may come in (`--allow-other`).
    pub fn set_mount_owner(&self, uid: u32, gid: u32, others: bool) {
        let _ = self.owner.set((uid, gid));
        self.others.store(others, Ordering::Release);
    }

    /// The mount's owner (uid, gid).
    pub fn mount_owner(&self) -> (u32, u32) {
        self.owner.get().copied().unwrap_or((0, 0))
    }

    /// Whether users other than the owner may come in (`--allow-other`).
    pub(super) fn lets_others_in(&self) -> bool {
        self.others.load(Ordering::Acquire)
    }

    /// The certificate's directory in the mount (certbot's `RENEWED_LINEAGE`).
    pub(super) fn lineage(&self, v: &VaultName, c: &CertificateName) -> String {
        let base = self
            .mount_path
            .get()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{base}/{v}/{c}")
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
