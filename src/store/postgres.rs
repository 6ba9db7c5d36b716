//! The PostgreSQL store: one database shared by a fleet of certfs daemons, same schema and semantics as SQLite, change notification.
//!
//! Why the synchronous `postgres` crate: the vault calls its store under a
//! `Mutex`, one short transaction per user action, from FUSE threads that
//! block anyway; the blocking client (a thin wrapper that runs
//! `tokio-postgres` on a private current-thread runtime) fits that as is,
//! needs no async runtime in the rest of certfs, and is the maintained
//! client of the `rust-postgres` project.
//!
//! Transport: TCP or a unix socket, with TLS as libpq's URL parameters
//! ask (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`; see [`tls`]),
//! through `tokio-postgres-rustls` on rustls with aws-lc-rs, the TLS stack
//! the rest of certfs uses. Every connection (the store's, the watch's,
//! the claims', the setup guard's) is made by [`connect::connect`].
//!
//! Semantics: exactly those of [`super::sqlite::SqliteStore`] (whose docs
//! list what the trait leaves open), checked by the same contract suite:
//! names compare case-insensitively (ASCII) and keep their first spelling,
//! each trait method is one transaction, and `load` orders its records as
//! SQLite does. Writers from all daemons are serialized by one
//! transaction-level advisory lock ([`WRITE_LOCK`]), the way SQLite's
//! `BEGIN IMMEDIATE` serializes writers on one file, so every
//! read-then-write inside a method sees the latest commits and two
//! daemons cannot interleave. `load` reads in one `REPEATABLE READ READ
//! ONLY` transaction: a consistent snapshot that does not block writers.
//!
//! Background work once: [`Store::claim`] takes a session-level advisory
//! lock per piece of work on a connection of its own (see [`claims`]).
//!
//! Change notification: each write sends `NOTIFY certfs_changes,
//! '<payload>'` in its own transaction (PostgreSQL delivers it at commit,
//! never for a rollback); [`Store::watch`] listens on a second connection
//! (see [`watch`]).
//!
//! Secrets: the password is never logged nor put in an error
//! ([`PostgresUrl`] shows URLs without it); engine errors are reduced to
//! PostgreSQL's message and SQLSTATE, never its `DETAIL`, which may quote
//! a row's values (a key).

mod claims;
mod connect;
mod migrations;
mod rows;
mod snapshot;
pub(super) mod tls;
mod watch;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, Transaction};

pub use self::connect::{PostgresUrl, UrlError};
use self::rows::{
    check_belongs, insert_chain, insert_version, stored_vault, upsert_certificate,
    version_not_found,
};
pub use self::tls::{RootCerts, SslMode, TlsError, TlsSettings};
use self::watch::{Watcher, notify};
use super::error::{Object, failed_on};
pub use super::pg_error::PgError;
use super::{
    CertificateRecord, CertificateSnapshot, ChangeCallback, ChangeHint, Claim, Snapshot, Store,
    StoreError, VaultRecord, VersionRecord,
};

/// The advisory lock key (`pg_advisory_xact_lock`) every write transaction
/// takes first: `"CRFSWRIT"` as a big-endian integer.
pub const WRITE_LOCK: i64 = 0x4352_4653_5752_4954;

/// How long the liveness check before each call may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] in a PostgreSQL database.
///
/// A lost connection is re-established at the start of the next call; a
/// call that was under way when it was lost, or that cannot reconnect,
/// fails with an error whose [`StoreError::is_unavailable`] is true and
/// changes nothing.
pub struct PostgresStore {
    url: PostgresUrl,
    conn: Mutex<Client>,
    /// The backend pid of `conn`, so the watcher can skip our own writes.
    own_pid: Arc<AtomicI32>,
    watcher: Mutex<Option<Watcher>>,
    /// The session holding this store's claims (see [`claims`]).
    claims: Arc<Mutex<claims::ClaimSession>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The schema version this build creates and understands (the row of
    /// `certfs_schema` once opened).
    pub const SCHEMA_VERSION: u32 = migrations::SCHEMA_VERSION;

    /// The channel of change notifications.
    pub const CHANNEL: &'static str = watch::CHANNEL;

    /// Connects to the database `url` names and migrates its schema. A
    /// database whose schema is newer than this build, or that holds
    /// another application's tables of certfs's names, is refused.
    ///
    /// Errors are `Unavailable` with a message naming the URL (without its
    /// password) and the cause.
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let unavailable = |cause: String| StoreError::Unavailable(format!("{url}: {cause}"));
        let mut client =
            connect::connect(url).map_err(|e| unavailable(format!("cannot connect: {e}")))?;
        connect::migrate(&mut client).map_err(|e| unavailable(e.to_string()))?;
        let pid = connect::backend_pid(&mut client)
            .map_err(|e| unavailable(format!("cannot read the session's id: {e}")))?;
        log::debug!("opened store {url}");
        Ok(PostgresStore {
            url: url.clone(),
            conn: Mutex::new(client),
            own_pid: Arc::new(AtomicI32::new(pid)),
            watcher: Mutex::new(None),
            claims: Arc::default(),
        })
    }

    /// The URL of the database, as shown (without a password).
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// Starts the one write transaction of a trait method, holding
    /// [`WRITE_LOCK`] until it ends.
    fn write_transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        let client = self.conn.get_mut();
        revive(&self.url, &self.own_pid, client)?;
        let mut tx = client
            .transaction()
            .map_err(backend("cannot begin a transaction"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(backend("cannot take the write lock"))?;
        Ok(tx)
    }
}

/// Reconnects `client` if its connection was lost (the server restarted,
/// an administrator ended the session, the network failed), and records
/// the new session's backend pid in `own_pid`. A live connection is
/// checked with an empty query first: the blocking client only learns of a
/// loss when it next talks to the server, and a transaction that failed
/// half-way for that reason would fail the user's action for nothing.
fn revive(url: &PostgresUrl, own_pid: &AtomicI32, client: &mut Client) -> Result<(), StoreError> {
    if !client.is_closed() && client.is_valid(PROBE_TIMEOUT).is_ok() {
        return Ok(());
    }
    // Whatever stops a new connection (the server down, the role refused),
    // the store is unavailable until one can be made.
    let lost = |e: PgError| StoreError::Unavailable(format!("{url}: cannot reconnect: {e}"));
    let mut fresh = connect::connect(url).map_err(lost)?;
    let pid = connect::backend_pid(&mut fresh).map_err(lost)?;
    own_pid.store(pid, Ordering::SeqCst);
    *client = fresh;
    log::warn!("store {url}: the connection was lost; reconnected");
    Ok(())
}

/// Maps an unexpected engine error to `Backend`.
fn backend(what: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |e| StoreError::backend(what, e)
}

/// Whether `e` is a PRIMARY KEY or UNIQUE violation.
fn is_duplicate(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Whether `e` is a FOREIGN KEY violation.
fn is_foreign_key(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// A name as the schema's `*_key` columns hold it: ASCII upper case folded
/// to lower case, nothing else changed (the columns' `translate`).
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Commits `tx`.
fn commit(tx: Transaction<'_>, what: &'static str, object: Object<'_>) -> Result<(), StoreError> {
    tx.commit().map_err(failed_on(what, object))
}

impl Store for PostgresStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let read = backend("cannot read the store");
        let mut client = self.conn.lock();
        revive(&self.url, &self.own_pid, &mut client)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(&read)?;

        let snapshot = snapshot::everything(&mut tx).map_err(&read)?;
        tx.commit().map_err(&read)?;
        Ok(snapshot)
    }

    /// Reads only the certificate's rows, in one `REPEATABLE READ` snapshot.
    fn load_certificate(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<CertificateSnapshot>, StoreError> {
        let read = failed_on("cannot read", Object::Certificate(vault, name));
        let mut client = self.conn.lock();
        revive(&self.url, &self.own_pid, &mut client)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(&read)?;
        let found = snapshot::certificate(&mut tx, vault, name).map_err(&read)?;
        tx.commit().map_err(&read)?;
        Ok(found)
    }

    fn create_vault(&mut self, vault: &VaultRecord) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO vaults (name, created) VALUES ($1, $2)",
            &[&vault.name, &vault.created],
        )
        .map_err(|e| {
            if is_duplicate(&e) {
                StoreError::Conflict(format!("vault {}", vault.name))
            } else {
                failed_on("cannot create", Object::Vault(&vault.name))(e)
            }
        })?;
        notify(
            &mut tx,
            &ChangeHint::Vault {
                vault: vault.name.clone(),
            },
        )?;
        commit(tx, "cannot commit", Object::Vault(&vault.name))
    }

    fn delete_vault(&mut self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let vault = stored_vault(&mut tx, name)?;
        let occupied = tx
            .query_opt(
                "SELECT 1 FROM certificates WHERE vault_key = $1 LIMIT 1",
                &[&fold(name)],
            )
            .map_err(failed_on("cannot read", Object::Vault(name)))?
            .is_some();
        if occupied {
            return Err(StoreError::NotEmpty(format!("vault {name}")));
        }
        tx.execute("DELETE FROM documents WHERE vault_key = $1", &[&fold(name)])
            .map_err(failed_on(
                "cannot delete the documents of",
                Object::Vault(name),
            ))?;
        tx.execute("DELETE FROM vaults WHERE name_key = $1", &[&fold(name)])
            .map_err(|e| {
                if is_foreign_key(&e) {
                    StoreError::NotEmpty(format!("vault {name}"))
                } else {
                    failed_on("cannot delete", Object::Vault(name))(e)
                }
            })?;
        notify(&mut tx, &ChangeHint::Vault { vault })?;
        commit(tx, "cannot commit the deletion of", Object::Vault(name))
    }

    fn put_certificate(
        &mut self,
        certificate: &CertificateRecord,
        version: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&mut tx, certificate)?;
        if let Some(version) = version {
            insert_version(&mut tx, &vault, &name, version)?;
        }
        notify(&mut tx, &certificate_hint(vault, name))?;
        commit(
            tx,
            "cannot commit",
            Object::Certificate(&certificate.vault, &certificate.name),
        )
    }

    fn restore_certificate(
        &mut self,
        certificate: &CertificateRecord,
        versions: &[VersionRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let exists: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM certificates WHERE vault_key = $1 AND name_key = $2)",
                &[&fold(&certificate.vault), &fold(&certificate.name)],
            )
            .map_err(failed_on(
                "cannot read",
                Object::Certificate(&certificate.vault, &certificate.name),
            ))?
            .get(0);
        if exists {
            return Err(StoreError::Conflict(format!(
                "certificate {} in vault {}",
                certificate.name, certificate.vault
            )));
        }
        let (vault, name) = upsert_certificate(&mut tx, certificate)?;
        for version in versions {
            insert_version(&mut tx, &vault, &name, version)?;
        }
        notify(&mut tx, &certificate_hint(vault, name))?;
        commit(
            tx,
            "cannot commit the restored",
            Object::Certificate(&certificate.vault, &certificate.name),
        )
    }

    fn update_version(
        &mut self,
        certificate: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&mut tx, certificate)?;
        check_belongs(version, &vault, &name)?;
        // `id` alone is the key; the vault and certificate conditions make
        // a version of another certificate "not found" here.
        let updated = tx
            .execute(
                "UPDATE versions
                 SET updated = $4, enabled = $5, certificate_der = $6, key = $7, exportable = $8
                 WHERE id = $1 AND vault_key = $2 AND certificate_key = $3",
                &[
                    &version.id,
                    &fold(&vault),
                    &fold(&name),
                    &version.updated,
                    &version.enabled,
                    &version.certificate_der.as_deref(),
                    &version.key.as_ref().map(|key| key.0.as_slice()),
                    &version.exportable,
                ],
            )
            .map_err(failed_on(
                "cannot update",
                Object::Version(&version.id, &vault, &name),
            ))?;
        if updated == 0 {
            return Err(version_not_found(&version.id, &vault, &name));
        }
        tx.execute("DELETE FROM chain WHERE version_id = $1", &[&version.id])
            .map_err(failed_on(
                "cannot replace the chain of",
                Object::Version(&version.id, &vault, &name),
            ))?;
        insert_chain(&mut tx, &version.id, &version.chain_der)?;
        notify(&mut tx, &certificate_hint(vault, name))?;
        commit(
            tx,
            "cannot commit the update of",
            Object::Version(&version.id, &certificate.vault, &certificate.name),
        )
    }

    fn delete_version(
        &mut self,
        certificate: &CertificateRecord,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&mut tx, certificate)?;
        // The chain rows go with the version (ON DELETE CASCADE).
        let deleted = tx
            .execute(
                "DELETE FROM versions WHERE id = $1 AND vault_key = $2 AND certificate_key = $3",
                &[&id, &fold(&vault), &fold(&name)],
            )
            .map_err(failed_on(
                "cannot delete",
                Object::Version(id, &vault, &name),
            ))?;
        if deleted == 0 {
            return Err(version_not_found(id, &vault, &name));
        }
        notify(&mut tx, &certificate_hint(vault, name))?;
        commit(
            tx,
            "cannot commit the deletion of",
            Object::Version(id, &certificate.vault, &certificate.name),
        )
    }

    fn delete_certificate(&mut self, vault: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let vault = stored_vault(&mut tx, vault)?;
        let keys: [&(dyn postgres::types::ToSql + Sync); 2] = [&fold(&vault), &fold(name)];
        let stored: String = tx
            .query_opt(
                "SELECT name FROM certificates WHERE vault_key = $1 AND name_key = $2",
                &keys,
            )
            .map_err(failed_on("cannot read", Object::Certificate(&vault, name)))?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {vault}/{name}")))?
            .get(0);
        // The chain rows go with their versions (ON DELETE CASCADE).
        tx.execute(
            "DELETE FROM versions WHERE vault_key = $1 AND certificate_key = $2",
            &keys,
        )
        .map_err(failed_on(
            "cannot delete the versions of",
            Object::Certificate(&vault, name),
        ))?;
        tx.execute(
            "DELETE FROM certificates WHERE vault_key = $1 AND name_key = $2",
            &keys,
        )
        .map_err(failed_on(
            "cannot delete",
            Object::Certificate(&vault, name),
        ))?;
        notify(&mut tx, &certificate_hint(vault.clone(), stored))?;
        commit(
            tx,
            "cannot commit the deletion of",
            Object::Certificate(&vault, name),
        )
    }

    fn put_document(
        &mut self,
        vault: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction()?;
        let vault = stored_vault(&mut tx, vault)?;
        match value {
            // The conflict target keeps the row, and with it the key's
            // first spelling.
            Some(value) => tx
                .execute(
                    "INSERT INTO documents (vault, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (vault_key, key_key) DO UPDATE SET value = excluded.value",
                    &[&vault, &key, &value],
                )
                .map_err(failed_on("cannot write", Object::Document(&vault, key)))?,
            None => tx
                .execute(
                    "DELETE FROM documents WHERE vault_key = $1 AND key_key = $2",
                    &[&fold(&vault), &fold(key)],
                )
                .map_err(failed_on("cannot delete", Object::Document(&vault, key)))?,
        };
        notify(
            &mut tx,
            &ChangeHint::Document {
                vault: vault.clone(),
                key: key.to_owned(),
            },
        )?;
        commit(tx, "cannot commit", Object::Document(&vault, key))
    }

    /// `VACUUM` of the tables whose rows hold keys and secrets, so the
    /// dead row versions of overwritten values are freed (their space is
    /// reused; PostgreSQL does not zero it, and WAL archives, replicas and
    /// backups keep what they got).
    fn scrub(&mut self) -> Result<(), StoreError> {
        let client = self.conn.get_mut();
        revive(&self.url, &self.own_pid, client)?;
        // VACUUM cannot run in a transaction: one statement on its own.
        client
            .batch_execute("VACUUM versions, documents")
            .map_err(backend("cannot vacuum the store"))
    }

    /// One row, by the folded keys.
    fn load_vault(&self, name: &str) -> Result<Option<VaultRecord>, StoreError> {
        let mut client = self.conn.lock();
        revive(&self.url, &self.own_pid, &mut client)?;
        let row = client
            .query_opt(
                "SELECT name, created FROM vaults WHERE name_key = $1",
                &[&fold(name)],
            )
            .map_err(failed_on("cannot read", Object::Vault(name)))?;
        Ok(row.map(|r| VaultRecord {
            name: r.get(0),
            created: r.get(1),
        }))
    }

    fn load_document(&self, vault: &str, key: &str) -> Result<Option<String>, StoreError> {
        let mut client = self.conn.lock();
        revive(&self.url, &self.own_pid, &mut client)?;
        let row = client
            .query_opt(
                "SELECT value FROM documents WHERE vault_key = $1 AND key_key = $2",
                &[&fold(vault), &fold(key)],
            )
            .map_err(failed_on("cannot read", Object::Document(vault, key)))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Every daemon pointed at the database writes it.
    fn shared(&self) -> bool {
        true
    }

    /// A session-level advisory lock on a connection kept for claims (see
    /// [`claims`]): released by dropping the claim, or by PostgreSQL when
    /// this daemon's session ends, so another daemon can take over.
    fn claim(&self, work: &str) -> Result<Option<Box<dyn Claim>>, StoreError> {
        claims::claim(&self.claims, &self.url, work)
    }

    /// A session-level advisory lock ([`claims::SETUP_LOCK`]) on a
    /// connection of its own, waited for.
    fn setup_guard(&self) -> Result<Box<dyn Claim>, StoreError> {
        claims::setup_guard(&self.url)
    }

    /// Listens on [`PostgresStore::CHANNEL`] on a connection of its own,
    /// from a thread of its own (see [`watch`]); notifications sent by
    /// this store's own connection are skipped.
    fn watch(&self, on_change: ChangeCallback) -> Result<(), StoreError> {
        let mut slot = self.watcher.lock();
        // Stop the previous watcher first: one callback at a time.
        drop(slot.take());
        let watcher = Watcher::start(self.url.clone(), Arc::clone(&self.own_pid), on_change)?;
        *slot = Some(watcher);
        Ok(())
    }
}

/// The hint for a change to certificate `name` of `vault`.
fn certificate_hint(vault: String, certificate: String) -> ChangeHint {
    ChangeHint::Certificate { vault, certificate }
}
