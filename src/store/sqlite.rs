//! The embedded SQLite store: one database file, WAL, schema version in `user_version`, migrations.
//!
//! Durability: the connection runs in WAL mode with `synchronous = FULL`.
//! WAL alone (with `NORMAL`) already survives the process being killed at
//! any point, because a transaction is in the WAL file (in the OS page
//! cache) before `COMMIT` returns. What `NORMAL` gives up is a **power loss
//! or kernel crash**: the last transactions before it can roll back (the
//! database stays consistent, but they are gone). In certfs a committed
//! transaction may be the only copy of a freshly generated private key whose
//! certificate a CA has already issued (and possibly billed), so losing it is
//! not acceptable; writes are rare (user actions, renewals), so the one
//! extra `fsync` of the WAL per commit that `FULL` costs does not matter.
//!
//! Confidentiality: the file holds private keys. It is created with mode
//! 0600, tightened to 0600 if it was looser, and SQLite creates its `-wal`
//! and `-shm` files with the mode of the database file (they are tightened
//! too, should they pre-date that). `secure_delete` overwrites freed pages,
//! so a purged key does not linger in the file's free list.

mod migrations;
mod open;
mod reader;
mod rows;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, ffi};

use self::migrations::SCHEMA_VERSION;
use self::open::open_connection;
use self::rows::{
    check_belongs, insert_chain, insert_version, stored_vault, upsert_certificate,
    version_not_found,
};
use super::error::{Object, failed_on};
use super::{
    CertificateReader, CertificateRecord, DocumentRecord, Index, KeyBytes, Snapshot, Store,
    StoreError, VaultRecord, VersionRecord,
};
pub use reader::SqliteReader;

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The size of the smallest non-empty SQLite database (one 512-byte page).
const MIN_DATABASE_SIZE: u64 = 512;

/// Suffixes of the files SQLite keeps beside the database.
const SIDE_FILES: &[&str] = &["-wal", "-shm", "-journal"];

/// A [`Store`] in one SQLite file.
///
/// Behaviour beyond the trait's wording, which every store shares (the
/// contract suite in `tests/store_contract.rs` checks it):
///
/// - Names keep the spelling they were **first created** with. A
///   [`Store::put_certificate`] that matches an existing certificate in
///   another case updates it and keeps the stored name; records that name a
///   vault in another case are stored under the vault's stored name.
/// - Updating a certificate replaces `policy`, `tags`, `updated`,
///   `operation`, `deleted` and `purge_at`; `created` stays as first stored.
/// - A version passed to `put_certificate` or [`Store::update_version`] must
///   belong to the certificate passed with it (same vault and name, any
///   case), otherwise `Failed`.
/// - [`Store::update_version`] and [`Store::delete_version`] find a version
///   by id **and** certificate: an id of another certificate's version is
///   `NotFound`, and that version is not touched.
/// - A version keeps its place among its certificate's versions when
///   updated; deleting one leaves the others' order as it was.
/// - Document keys, like names, keep the spelling they were first written
///   with; a document written under the vault's name in another case is
///   stored under the vault's stored name.
/// - [`Store::load`] orders vaults by name, certificates by vault and name
///   (case-insensitively), versions by certificate, then oldest first, and
///   documents by vault and key.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this build creates and understands (the
    /// database's `PRAGMA user_version` once opened).
    pub const SCHEMA_VERSION: u32 = SCHEMA_VERSION;

    /// Opens (creating if needed) the database at `path`, enables WAL and
    /// foreign keys, and migrates the schema. A database whose schema is
    /// newer than this build is refused with `Unavailable`.
    ///
    /// Also `Unavailable`, with a message naming `path` and the cause: the
    /// parent directory is missing or unreadable, the file cannot be opened
    /// read-write, or it is not a certfs SQLite database.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(path)
            .map_err(|cause| StoreError::Unavailable(format!("{}: {cause}", path.display())))?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        log::debug!("opened store {}", path.display());
        Ok(store)
    }

    /// Starts the one write transaction of a trait method. `IMMEDIATE`
    /// takes the write lock at once, so two writers queue on
    /// `busy_timeout` instead of failing at their first write.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("cannot begin a transaction"))
    }
}

/// The extended result code of a failed constraint, if `e` is one.
fn constraint(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation =>
        {
            Some(failure.extended_code)
        }
        _ => None,
    }
}

/// Whether `e` is a PRIMARY KEY or UNIQUE violation.
fn is_duplicate(e: &rusqlite::Error) -> bool {
    matches!(
        constraint(e),
        Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE)
    )
}

/// Whether `e` is a FOREIGN KEY violation.
fn is_foreign_key(e: &rusqlite::Error) -> bool {
    constraint(e) == Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Maps an unexpected engine error to `Backend`. SQLite's messages name
/// tables and columns, never bound values, so no data (let alone key
/// bytes) reaches the message.
fn backend(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(what, e)
}

impl Store for SqliteStore {
    /// Reads everything in one deferred (read) transaction: in WAL mode
    /// that is a consistent snapshot which does not hold up writers, and it
    /// needs only `&self`.
    fn load(&self) -> Result<Snapshot, StoreError> {
        let read = backend("cannot read the store");
        let tx = self.conn.unchecked_transaction().map_err(&read)?;

        let vaults = tx
            .prepare("SELECT name, created FROM vaults ORDER BY name")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(VaultRecord {
                        name: row.get(0)?,
                        created: row.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(&read)?;

        let certificates = tx
            .prepare(
                "SELECT vault, name, policy, tags, created, updated, operation, deleted, purge_at
                 FROM certificates ORDER BY vault, name",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(CertificateRecord {
                        vault: row.get(0)?,
                        name: row.get(1)?,
                        policy: row.get(2)?,
                        tags: row.get(3)?,
                        created: row.get(4)?,
                        updated: row.get(5)?,
                        operation: row.get(6)?,
                        deleted: row.get(7)?,
                        purge_at: row.get(8)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(&read)?;

        let mut chains: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        {
            let mut stmt = tx
                .prepare("SELECT version_id, der FROM chain ORDER BY version_id, position")
                .map_err(&read)?;
            let mut rows = stmt.query([]).map_err(&read)?;
            while let Some(row) = rows.next().map_err(&read)? {
                let id: String = row.get(0).map_err(&read)?;
                let der: Vec<u8> = row.get(1).map_err(&read)?;
                chains.entry(id).or_default().push(der);
            }
        }

        let versions = tx
            .prepare(
                "SELECT id, vault, certificate, created, updated, enabled, certificate_der, key,
                        exportable
                 FROM versions ORDER BY vault, certificate, seq",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    let id: String = row.get(0)?;
                    let chain_der = chains.remove(&id).unwrap_or_default();
                    Ok(VersionRecord {
                        vault: row.get(1)?,
                        certificate: row.get(2)?,
                        created: row.get(3)?,
                        updated: row.get(4)?,
                        enabled: row.get(5)?,
                        exportable: row.get(8)?,
                        certificate_der: row.get(6)?,
                        chain_der,
                        // Straight from SQLite's buffer into zeroizing memory.
                        key: row
                            .get::<_, Option<Vec<u8>>>(7)?
                            .map(|key| KeyBytes(zeroize::Zeroizing::new(key))),
                        id,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(&read)?;

        let documents = tx
            .prepare("SELECT vault, key, value FROM documents ORDER BY vault, key")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(DocumentRecord {
                        vault: row.get(0)?,
                        key: row.get(1)?,
                        value: row.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(&read)?;

        tx.commit().map_err(&read)?;
        Ok(Snapshot {
            vaults,
            certificates,
            versions,
            documents,
        })
    }

    /// One pass over the certificates table that reads no policy, tags,
    /// version or key.
    fn load_index(&self) -> Result<Index, StoreError> {
        reader::load_index(&self.conn)
    }

    /// A [`SqliteReader`] on a connection of its own.
    fn reader(&self) -> Result<Option<Box<dyn CertificateReader>>, StoreError> {
        Ok(Some(Box::new(SqliteReader::open(&self.path)?)))
    }

    fn create_vault(&mut self, vault: &VaultRecord) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO vaults (name, created) VALUES (?1, ?2)",
            (&vault.name, vault.created),
        )
        .map_err(|e| {
            if is_duplicate(&e) {
                StoreError::Conflict(format!("vault {}", vault.name))
            } else {
                failed_on("cannot create", Object::Vault(&vault.name))(e)
            }
        })?;
        tx.commit()
            .map_err(failed_on("cannot commit", Object::Vault(&vault.name)))
    }

    fn delete_vault(&mut self, name: &str) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let read = failed_on("cannot read", Object::Vault(name));
        let exists = tx
            .query_row("SELECT 1 FROM vaults WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map_err(&read)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("vault {name}")));
        }
        let occupied = tx
            .query_row(
                "SELECT 1 FROM certificates WHERE vault = ?1 LIMIT 1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map_err(&read)?
            .is_some();
        if occupied {
            return Err(StoreError::NotEmpty(format!("vault {name}")));
        }
        tx.execute("DELETE FROM documents WHERE vault = ?1", [name])
            .map_err(failed_on(
                "cannot delete the documents of",
                Object::Vault(name),
            ))?;
        tx.execute("DELETE FROM vaults WHERE name = ?1", [name])
            .map_err(|e| {
                if is_foreign_key(&e) {
                    StoreError::NotEmpty(format!("vault {name}"))
                } else {
                    failed_on("cannot delete", Object::Vault(name))(e)
                }
            })?;
        tx.commit().map_err(failed_on(
            "cannot commit the deletion of",
            Object::Vault(name),
        ))
    }

    fn put_certificate(
        &mut self,
        certificate: &CertificateRecord,
        version: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&tx, certificate)?;
        if let Some(version) = version {
            insert_version(&tx, &vault, &name, version)?;
        }
        tx.commit().map_err(failed_on(
            "cannot commit",
            Object::Certificate(&vault, &name),
        ))
    }

    fn restore_certificate(
        &mut self,
        certificate: &CertificateRecord,
        versions: &[VersionRecord],
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM certificates WHERE vault = ?1 AND name = ?2)",
                (&certificate.vault, &certificate.name),
                |row| row.get(0),
            )
            .map_err(failed_on(
                "cannot read",
                Object::Certificate(&certificate.vault, &certificate.name),
            ))?;
        if exists {
            return Err(StoreError::Conflict(format!(
                "certificate {} in vault {}",
                certificate.name, certificate.vault
            )));
        }
        let (vault, name) = upsert_certificate(&tx, certificate)?;
        for version in versions {
            insert_version(&tx, &vault, &name, version)?;
        }
        tx.commit().map_err(failed_on(
            "cannot commit the restored",
            Object::Certificate(&vault, &name),
        ))
    }

    fn update_version(
        &mut self,
        certificate: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&tx, certificate)?;
        check_belongs(version, &vault, &name)?;
        // `id` alone is the key; the vault and certificate conditions make
        // a version of another certificate "not found" here.
        let updated = tx
            .execute(
                "UPDATE versions
                 SET updated = ?4, enabled = ?5, certificate_der = ?6, key = ?7, exportable = ?8
                 WHERE id = ?1 AND vault = ?2 AND certificate = ?3",
                (
                    &version.id,
                    &vault,
                    &name,
                    version.updated,
                    version.enabled,
                    version.certificate_der.as_deref(),
                    version.key.as_ref().map(|key| key.0.as_slice()),
                    version.exportable,
                ),
            )
            .map_err(failed_on(
                "cannot update",
                Object::Version(&version.id, &vault, &name),
            ))?;
        if updated == 0 {
            return Err(version_not_found(&version.id, &vault, &name));
        }
        tx.execute("DELETE FROM chain WHERE version_id = ?1", [&version.id])
            .map_err(failed_on(
                "cannot replace the chain of",
                Object::Version(&version.id, &vault, &name),
            ))?;
        insert_chain(&tx, &version.id, &version.chain_der)?;
        tx.commit().map_err(failed_on(
            "cannot commit the update of",
            Object::Version(&version.id, &vault, &name),
        ))
    }

    fn delete_version(
        &mut self,
        certificate: &CertificateRecord,
        id: &str,
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let (vault, name) = upsert_certificate(&tx, certificate)?;
        // The chain rows go with the version (ON DELETE CASCADE).
        let deleted = tx
            .execute(
                "DELETE FROM versions WHERE id = ?1 AND vault = ?2 AND certificate = ?3",
                (id, &vault, &name),
            )
            .map_err(failed_on(
                "cannot delete",
                Object::Version(id, &vault, &name),
            ))?;
        if deleted == 0 {
            return Err(version_not_found(id, &vault, &name));
        }
        tx.commit().map_err(failed_on(
            "cannot commit the deletion of",
            Object::Version(id, &vault, &name),
        ))
    }

    fn delete_certificate(&mut self, vault: &str, name: &str) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let vault = stored_vault(&tx, vault)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM certificates WHERE vault = ?1 AND name = ?2",
                (&vault, name),
                |_| Ok(()),
            )
            .optional()
            .map_err(failed_on("cannot read", Object::Certificate(&vault, name)))?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("certificate {vault}/{name}")));
        }
        // The chain rows go with their versions (ON DELETE CASCADE).
        tx.execute(
            "DELETE FROM versions WHERE vault = ?1 AND certificate = ?2",
            (&vault, name),
        )
        .map_err(failed_on(
            "cannot delete the versions of",
            Object::Certificate(&vault, name),
        ))?;
        tx.execute(
            "DELETE FROM certificates WHERE vault = ?1 AND name = ?2",
            (&vault, name),
        )
        .map_err(failed_on(
            "cannot delete",
            Object::Certificate(&vault, name),
        ))?;
        tx.commit().map_err(failed_on(
            "cannot commit the deletion of",
            Object::Certificate(&vault, name),
        ))
    }

    fn put_document(
        &mut self,
        vault: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let vault = stored_vault(&tx, vault)?;
        match value {
            // The conflict target keeps the row, and with it the key's
            // first spelling.
            Some(value) => tx
                .execute(
                    "INSERT INTO documents (vault, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (vault, key) DO UPDATE SET value = excluded.value",
                    (&vault, key, value),
                )
                .map_err(failed_on("cannot write", Object::Document(&vault, key)))?,
            None => tx
                .execute(
                    "DELETE FROM documents WHERE vault = ?1 AND key = ?2",
                    (&vault, key),
                )
                .map_err(failed_on("cannot delete", Object::Document(&vault, key)))?,
        };
        tx.commit()
            .map_err(failed_on("cannot commit", Object::Document(&vault, key)))
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: the WAL, whose page images have
    /// freed space zeroed (`secure_delete`), overwrites the database's old
    /// pages, and the WAL file is emptied. `Failed` if another connection
    /// kept the checkpoint from completing.
    fn scrub(&mut self) -> Result<(), StoreError> {
        let (busy, _, _): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(backend("cannot checkpoint the WAL"))?;
        if busy != 0 {
            return Err(StoreError::Failed(
                "cannot checkpoint the WAL: another connection is using the database".into(),
            ));
        }
        Ok(())
    }
}
