//! Persistence of vaults, certificates and versions behind the [`Store`] trait.
//!
//! The vault service loads what it shows at mount — everything
//! ([`Store::load`]), or, from a store that can read single certificates
//! on the side ([`Store::reader`]), only the [`Index`] of names and times,
//! reading each certificate the first time it is looked into — and then
//! writes each accepted action as **one transaction**. Names are
//! stored as the user wrote them and compared case-insensitively (ASCII).
//! Implementations: [`sqlite::SqliteStore`] (embedded, the default) and
//! [`postgres::PostgresStore`] (one database shared by a fleet of daemons);
//! [`location::StoreLocation`] names either and opens it. The trait speaks
//! only in the plain records below, so no engine type leaks out.
//! [`encrypted::EncryptedStore`] wraps any of them and seals private keys
//! and issuer secrets under the master key ([`master_key::MasterKey`])
//! before they reach it; a backend needs nothing for that beyond the trait
//! (it must accept the reserved vault name [`encrypted::RESERVED_VAULT`],
//! which holds the key check).

pub mod encrypted;
pub mod error;
pub mod location;
pub mod master_key;
mod pg_error;
pub mod postgres;
pub mod seal;
pub mod sqlite;

pub use error::{Cause, StoreError};
pub use location::{LocationError, StoreLocation};

/// Private key bytes (PKCS#8 DER) as stored: zeroed on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBytes(<elided>)")
    }
}

/// A vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// Name as created (case preserved).
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// A certificate's current metadata (not its versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Owning vault's name.
    pub vault: String,
    /// Certificate name as created (case preserved).
    pub name: String,
    /// The policy, as JSON text in the REST shape.
    pub policy: String,
    /// Tags, as a JSON object of strings.
    pub tags: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
    /// The pending or last certificate operation, as JSON text (Key Vault's
    /// CertificateOperation shape); `None` if the certificate never had one.
    /// Opaque to the store.
    pub operation: Option<String>,
    /// When the certificate was soft-deleted, Unix seconds; `None` while it is live.
    pub deleted: Option<i64>,
    /// When a soft-deleted certificate will be purged, Unix seconds.
    pub purge_at: Option<i64>,
}

/// One version of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Owning vault's name.
    pub vault: String,
    /// Owning certificate's name.
    pub certificate: String,
    /// 32 lower-case hex characters.
    pub id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
    /// Whether the version is enabled.
    pub enabled: bool,
    /// Whether its private key may be exported (`privkey.pem`, `bundle.pem`,
    /// `cert.pfx`); fixed by the policy when the version is made.
    pub exportable: bool,
    /// The leaf certificate, DER; `None` while the version is pending.
    pub certificate_der: Option<Vec<u8>>,
    /// The issuing chain without the leaf, DER, leaf's issuer first.
    pub chain_der: Vec<Vec<u8>>,
    /// The private key, PKCS#8 DER.
    pub key: Option<KeyBytes>,
}

/// A JSON document that belongs to a vault, by key: `vault` (settings), `contacts`, `issuer/<name>`.
///
/// `Debug` shows the value's length only: issuer secrets live in it.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// Owning vault's name.
    pub vault: String,
    /// The document's key, as first written (case preserved).
    pub key: String,
    /// The document, JSON text; opaque to the store.
    pub value: String,
}

impl std::fmt::Debug for DocumentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentRecord")
            .field("vault", &self.vault)
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .finish()
    }
}

/// Everything in a store, as loaded at mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// All vaults.
    pub vaults: Vec<VaultRecord>,
    /// All certificates of all vaults.
    pub certificates: Vec<CertificateRecord>,
    /// All versions of all certificates, oldest first within a certificate.
    pub versions: Vec<VersionRecord>,
    /// All documents of all vaults.
    pub documents: Vec<DocumentRecord>,
}

/// What listing and `stat` need of a certificate, without its policy,
/// tags, operation or versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Owning vault's name.
    pub vault: String,
    /// Certificate name as created (case preserved).
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
    /// When it was soft-deleted, Unix seconds; `None` while it is live.
    pub deleted: Option<i64>,
    /// When a soft-deleted certificate will be purged, Unix seconds.
    pub purge_at: Option<i64>,
    /// Whether it has a certificate operation (pending or last); those are
    /// read at mount, since work may be waiting on them.
    pub has_operation: bool,
}

/// What a service that reads certificates on demand loads at mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// All vaults.
    pub vaults: Vec<VaultRecord>,
    /// All certificates of all vaults, summarized.
    pub certificates: Vec<CertificateSummary>,
    /// All documents of all vaults.
    pub documents: Vec<DocumentRecord>,
}

impl Index {
    /// The index of everything in `snapshot`.
    pub fn of(snapshot: &Snapshot) -> Index {
        Index {
            vaults: snapshot.vaults.clone(),
            certificates: snapshot
                .certificates
                .iter()
                .map(|c| CertificateSummary {
                    vault: c.vault.clone(),
                    name: c.name.clone(),
                    created: c.created,
                    updated: c.updated,
                    deleted: c.deleted,
                    purge_at: c.purge_at,
                    has_operation: c.operation.is_some(),
                })
                .collect(),
            documents: snapshot.documents.clone(),
        }
    }
}

/// Reads single certificates on its own connection, while the store it
/// came from writes on another thread. It sees every committed write.
///
/// What it reads does not grow with a certificate's history: the versions
/// that show a certificate now ([`CertificateReader::certificate_head`]),
/// the list of all versions without their certificates or keys, and one
/// version at a time.
pub trait CertificateReader: Send {
    /// Certificate `name` of `vault` (names in any case) with the versions
    /// that show it now, oldest first, as [`Store::load`] would give them:
    /// its newest version (complete or pending), its newest completed
    /// version and its newest enabled completed version (each once);
    /// `None` if there is no such certificate.
    fn certificate_head(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(CertificateRecord, Vec<VersionRecord>)>, StoreError>;

    /// Every version of certificate `name` of `vault`, oldest first, as a
    /// listing (no certificate, chain or key); empty if there is no such
    /// certificate.
    fn version_list(&self, vault: &str, name: &str) -> Result<Vec<VersionListing>, StoreError>;

    /// Version `id` of certificate `name` of `vault`, whole, as
    /// [`Store::load`] would give it; `None` if there is none.
    fn version(
        &self,
        vault: &str,
        name: &str,
        id: &str,
    ) -> Result<Option<VersionRecord>, StoreError>;
}

/// A version as [`CertificateReader::version_list`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionListing {
    /// 32 lower-case hex characters.
    pub id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
    /// Whether the version is enabled.
    pub enabled: bool,
    /// Whether its private key may be exported.
    pub exportable: bool,
    /// Whether it has its certificate (is not pending).
    pub completed: bool,
    /// Whether it has a private key.
    pub has_key: bool,
}

impl VersionListing {
    /// How `version` is listed.
    pub fn of(version: &VersionRecord) -> VersionListing {
        VersionListing {
            id: version.id.clone(),
            created: version.created,
            updated: version.updated,
            enabled: version.enabled,
            exportable: version.exportable,
            completed: version.certificate_der.is_some(),
            has_key: version.key.is_some(),
        }
    }
}

/// One certificate with all its versions (oldest first), as
/// [`Store::load_certificate`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSnapshot {
    /// The certificate.
    pub certificate: CertificateRecord,
    /// Its versions, oldest first.
    pub versions: Vec<VersionRecord>,
}

/// What another process changed in a shared store, as told by
/// [`Store::watch`]. A hint, not the change itself: the receiver reloads
/// what it names from the store. Hints may repeat and may name something
/// that changed again since (or no longer exists); a receiver treats each
/// as "look again".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeHint {
    /// The vault itself was created or deleted (its certificates and
    /// documents are unchanged unless told separately).
    Vault {
        /// The vault's name as the writer spelled it (compare case-insensitively).
        vault: String,
    },
    /// A certificate changed: its record, or any of its versions (added,
    /// completed, updated, removed), or it was restored or purged.
    Certificate {
        /// The vault's name as the writer spelled it.
        vault: String,
        /// The certificate's name as the writer spelled it.
        certificate: String,
    },
    /// A vault document (`vault`, `contacts`, `issuer/<name>`, ...) was set or removed.
    Document {
        /// The vault's name as the writer spelled it.
        vault: String,
        /// The document's key as the writer spelled it.
        key: String,
    },
    /// Changes may have been missed (the watch was interrupted, e.g. the
    /// connection to the database was lost and is back): reload everything.
    Everything,
}

/// Proof that this process holds a claim on a piece of background work
/// ([`Store::claim`]). Dropping it releases the claim.
pub trait Claim: Send + Sync {
    /// Whether the claim still holds. `false` once the store lost the
    /// session that held it: another process may have claimed the work
    /// since, so its holder must not record an outcome without claiming
    /// again. Always `true` for a store only this process uses.
    fn is_held(&self) -> bool;
}

/// The claim of a store that no other process shares: always held.
#[derive(Debug)]
pub struct SoleClaim;

impl Claim for SoleClaim {
    fn is_held(&self) -> bool {
        true
    }
}

/// The callback [`Store::watch`] calls, on a thread of the store's own.
pub type ChangeCallback = Box<dyn Fn(ChangeHint) + Send + Sync>;

/// Durable storage for the vault service. Every method is atomic: it
/// commits whole or changes nothing, also if the process dies midway.
pub trait Store: Send {
    /// Reads the whole store.
    fn load(&self) -> Result<Snapshot, StoreError>;

    /// Reads the index: vaults, documents and a summary of every
    /// certificate, in [`Store::load`]'s order. By default made from `load`.
    fn load_index(&self) -> Result<Index, StoreError> {
        Ok(Index::of(&self.load()?))
    }

    /// A reader of single certificates, for a service that loads only the
    /// index at mount; `None` (the default) if this store has none, and the
    /// service then loads everything.
    fn reader(&self) -> Result<Option<Box<dyn CertificateReader>>, StoreError> {
        Ok(None)
    }

    /// Adds a vault; `Conflict` if one with the same name (any case) exists.
    fn create_vault(&mut self, vault: &VaultRecord) -> Result<(), StoreError>;

    /// Removes an empty vault together with its documents; `NotFound` if
    /// absent, `NotEmpty` if it holds certificates (live or soft-deleted).
    /// A vault that holds only documents is empty.
    fn delete_vault(&mut self, name: &str) -> Result<(), StoreError>;

    /// Inserts or replaces `certificate` (matched by vault and name, any
    /// case) and, when given, adds `version` to it, in one transaction.
    /// Replacing keeps the stored name and `created` and overwrites
    /// `policy`, `tags`, `updated`, `operation`, `deleted` and `purge_at`.
    ///
    /// Errors, each leaving the store as it was: `NotFound` if the vault is
    /// absent, `Conflict` if the version id exists (in any certificate),
    /// `Failed` if `version` names another certificate than `certificate`.
    fn put_certificate(
        &mut self,
        certificate: &CertificateRecord,
        version: Option<&VersionRecord>,
    ) -> Result<(), StoreError>;

    /// Replaces `certificate` as [`Store::put_certificate`] does and, in the
    /// same transaction, the stored fields of its existing version
    /// `version.id`: `certificate_der`, `chain_der` (the whole chain),
    /// `key`, `enabled` and `updated`. The version keeps its `created` and
    /// its place among the certificate's versions. Completes a pending
    /// version (merge) and changes a version's attributes.
    ///
    /// Atomic: on any error neither the certificate nor the version changes.
    /// Errors: `NotFound` if the vault is absent, or if no version with that
    /// id belongs to `certificate` (none at all, or one of another
    /// certificate, which stays untouched); `Failed` if `version` names
    /// another certificate than `certificate`.
    fn update_version(
        &mut self,
        certificate: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<(), StoreError>;

    /// Removes the version `id` of `certificate`, with its chain, and
    /// replaces `certificate` as [`Store::put_certificate`] does, in one
    /// transaction. The other versions keep their order. Drops a pending
    /// version together with recording its operation as deleted.
    ///
    /// Atomic: on any error neither the certificate nor any version changes.
    /// Errors: `NotFound` if the vault is absent, or if no version `id`
    /// belongs to `certificate` (none at all, or one of another
    /// certificate, which stays untouched).
    fn delete_version(
        &mut self,
        certificate: &CertificateRecord,
        id: &str,
    ) -> Result<(), StoreError>;

    /// Adds `certificate` with all its `versions` (oldest first), as a
    /// restore does, in one transaction. `Conflict` if a certificate of
    /// that name (any case) exists in the vault or a version id is taken;
    /// `NotFound` if the vault is absent.
    fn restore_certificate(
        &mut self,
        certificate: &CertificateRecord,
        versions: &[VersionRecord],
    ) -> Result<(), StoreError>;

    /// Purges certificate `name` of `vault` (any case): removes it with all
    /// its versions and their chains, in one transaction. The name and the
    /// version ids are free again afterwards.
    ///
    /// Errors, each leaving the store as it was: `NotFound` if the vault or
    /// the certificate is absent.
    fn delete_certificate(&mut self, vault: &str, name: &str) -> Result<(), StoreError>;

    /// Sets (Some) or removes (None) document `key` of `vault`, in one transaction. Keys compare
    /// case-insensitively (ASCII) and keep the case first written. `NotFound` if the vault is absent;
    /// removing an absent document is not an error.
    fn put_document(
        &mut self,
        vault: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Reads certificate `name` of `vault` (both any case) with its
    /// versions, in one consistent read; `None` if either is absent. What
    /// a daemon re-reads after a [`ChangeHint::Certificate`]: the records
    /// equal those [`Store::load`] returns for that certificate.
    ///
    /// The default filters [`Store::load`]; stores may read less.
    fn load_certificate(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<CertificateSnapshot>, StoreError> {
        let snapshot = self.load()?;
        let Some(certificate) = snapshot
            .certificates
            .into_iter()
            .find(|c| c.vault.eq_ignore_ascii_case(vault) && c.name.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let versions = snapshot
            .versions
            .into_iter()
            .filter(|v| {
                v.vault.eq_ignore_ascii_case(vault) && v.certificate.eq_ignore_ascii_case(name)
            })
            .collect();
        Ok(Some(CertificateSnapshot {
            certificate,
            versions,
        }))
    }

    /// The value of vault `vault`'s document `key` (both compared
    /// case-insensitively), as [`Store::load`] gives it; `None` if there is
    /// none. What a daemon re-reads after a [`ChangeHint::Document`].
    ///
    /// The default searches [`Store::load_index`]; stores may read less.
    fn load_document(&self, vault: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .load_index()?
            .documents
            .into_iter()
            .find(|d| d.vault.eq_ignore_ascii_case(vault) && d.key.eq_ignore_ascii_case(key))
            .map(|d| d.value))
    }

    /// Vault `name` (compared case-insensitively) as [`Store::load`] gives
    /// it; `None` if there is none. What a daemon re-reads after a
    /// [`ChangeHint::Vault`].
    ///
    /// The default searches [`Store::load_index`]; stores may read less.
    fn load_vault(&self, name: &str) -> Result<Option<VaultRecord>, StoreError> {
        Ok(self
            .load_index()?
            .vaults
            .into_iter()
            .find(|v| v.name.eq_ignore_ascii_case(name)))
    }

    /// Whether other processes may write this store too (a database that
    /// several daemons share): a holder of a fresh [`Store::claim`] must
    /// then re-read what it is about to act on. `false` by default.
    fn shared(&self) -> bool {
        false
    }

    /// Claims the background work named `work` for this process, so that
    /// of several daemons sharing the store only one does it: `Ok(None)` if
    /// another holder (another process, or an earlier claim through this
    /// store that is still held) has it. Names are compared exactly; use one
    /// spelling per piece of work, e.g. `renew/<vault>/<certificate>/<version>`
    /// or `order/<vault>/<certificate>` with names in lower case.
    ///
    /// A claim lasts until its guard is dropped, or until the process dies
    /// or loses its connection to the store: the work is then free for
    /// another daemon to claim and take over ([`Claim::is_held`] tells the
    /// old holder). Claiming does not wait and writes nothing.
    ///
    /// The default grants every claim ([`SoleClaim`]): a store that only
    /// this process uses has nobody to share work with.
    /// [`postgres::PostgresStore`] holds session-level advisory locks on a
    /// connection of its own.
    fn claim(&self, work: &str) -> Result<Option<Box<dyn Claim>>, StoreError> {
        let _ = work;
        Ok(Some(Box::new(SoleClaim)))
    }

    /// Waits until no other process is setting this store up, and keeps
    /// others waiting until the guard is dropped: what
    /// [`encrypted::EncryptedStore::open`] holds while it writes the
    /// store's own records (the master key check) into a store that has
    /// none, so daemons starting together on a new database write them
    /// once. The guard also ends when the process dies or loses its
    /// connection.
    ///
    /// The default waits for nothing: only this process opens the store.
    /// [`postgres::PostgresStore`] takes a session-level advisory lock on
    /// a connection of its own.
    fn setup_guard(&self) -> Result<Box<dyn Claim>, StoreError> {
        Ok(Box::new(SoleClaim))
    }

    /// Starts telling `on_change` about changes that **other processes**
    /// commit to this store (several daemons sharing one database); a
    /// store's own writes are not reported back to it, the caller made
    /// them. `on_change` runs on a thread the store owns, once per
    /// committed change, shortly after the commit; it must return quickly
    /// (hand the hint to a queue or take a short lock) and may read the
    /// store through the caller's own handle.
    ///
    /// Once `watch` returns `Ok`, every later commit by another process is
    /// reported. If the store loses track (its connection drops), it
    /// re-establishes the watch by itself and reports
    /// [`ChangeHint::Everything`]. Calling `watch` again replaces the
    /// previous callback. The watch ends when the store is dropped.
    ///
    /// The default does nothing and returns `Ok`: a store that only this
    /// process writes (SQLite) has nothing to report.
    /// [`postgres::PostgresStore`] reports through PostgreSQL's
    /// `LISTEN`/`NOTIFY`.
    fn watch(&self, on_change: ChangeCallback) -> Result<(), StoreError> {
        drop(on_change);
        Ok(())
    }

    /// Makes values that were overwritten or removed unrecoverable from the
    /// store's own files, as far as the engine allows. Called after
    /// records were rewritten to drop secrets (encryption at rest re-seals
    /// clear keys of an older store). The default does nothing.
    ///
    /// SQLite: with `secure_delete` on, freed space is zeroed in the page
    /// images written to the WAL; this checkpoints the WAL into the
    /// database and truncates it, so the old pages leave the file at once.
    /// PostgreSQL: `VACUUM` of the rewritten tables, which frees the dead
    /// row versions (it cannot reach WAL archives, replicas or backups).
    fn scrub(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
