//! Reading on demand: the mount-time [`Index`] and [`SqliteReader`], which reads single certificates on a connection of its own.
//!
//! With these the vault service mounts a store of 100,000 certificates by
//! reading names and times only (one pass over the certificates table),
//! and reads a certificate's policy, versions and keys the first time it is
//! looked into. The reader's connection is separate from the writer's, so a
//! read never waits for the writer's lock, and in WAL mode it sees every
//! committed transaction.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{BUSY_TIMEOUT, backend};
use crate::store::error::{Object, failed_on};
use crate::store::{
    CertificateReader, CertificateRecord, CertificateSummary, DocumentRecord, Index, KeyBytes,
    StoreError, VaultRecord, VersionListing, VersionRecord,
};

/// Reads the index in one read transaction (a consistent snapshot that does
/// not hold up writers), in the order `load` gives.
pub(super) fn load_index(conn: &Connection) -> Result<Index, StoreError> {
    let read = backend("cannot read the store");
    let tx = conn.unchecked_transaction().map_err(&read)?;
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
            "SELECT vault, name, created, updated, deleted, purge_at, operation IS NOT NULL
             FROM certificates ORDER BY vault, name",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(CertificateSummary {
                    vault: row.get(0)?,
                    name: row.get(1)?,
                    created: row.get(2)?,
                    updated: row.get(3)?,
                    deleted: row.get(4)?,
                    purge_at: row.get(5)?,
                    has_operation: row.get(6)?,
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
    Ok(Index {
        vaults,
        certificates,
        documents,
    })
}

/// Reads single certificates of the store at a path, on its own connection.
pub struct SqliteReader {
    conn: Connection,
}

impl SqliteReader {
    /// A reader of the (existing, migrated) store at `path`.
    pub(super) fn open(path: &Path) -> Result<SqliteReader, StoreError> {
        let unavailable =
            |e| StoreError::backend(format!("cannot open a reader of {}", path.display()), e);
        // No SQLITE_OPEN_URI: a path starting with "file:" is a path.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(unavailable)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(unavailable)?;
        Ok(SqliteReader { conn })
    }
}

/// The columns of a whole version row, in the order [`version_row`] reads them.
const VERSION_COLUMNS: &str =
    "id, vault, certificate, created, updated, enabled, certificate_der, key, exportable";

/// A version row of [`VERSION_COLUMNS`], its chain still empty.
fn version_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        id: row.get(0)?,
        vault: row.get(1)?,
        certificate: row.get(2)?,
        created: row.get(3)?,
        updated: row.get(4)?,
        enabled: row.get(5)?,
        certificate_der: row.get(6)?,
        chain_der: Vec::new(),
        // Straight from SQLite's buffer into zeroizing memory.
        key: row
            .get::<_, Option<Vec<u8>>>(7)?
            .map(|key| KeyBytes(zeroize::Zeroizing::new(key))),
        exportable: row.get(8)?,
    })
}

/// Version `id` of certificate `name` of `vault`, with its chain, read in
/// the transaction `tx`.
fn whole_version(
    tx: &rusqlite::Transaction<'_>,
    vault: &str,
    name: &str,
    id: &str,
) -> rusqlite::Result<Option<VersionRecord>> {
    let version = tx
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions
             WHERE id = ?1 AND vault = ?2 AND certificate = ?3"
        ))?
        .query_row((id, vault, name), version_row)
        .optional()?;
    let Some(mut version) = version else {
        return Ok(None);
    };
    version.chain_der = tx
        .prepare_cached("SELECT der FROM chain WHERE version_id = ?1 ORDER BY position")?
        .query_map([id], |row| row.get(0))?
        .collect::<Result<Vec<Vec<u8>>, _>>()?;
    Ok(Some(version))
}

impl CertificateReader for SqliteReader {
    fn certificate_head(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(CertificateRecord, Vec<VersionRecord>)>, StoreError> {
        let read = failed_on("cannot read", Object::Certificate(vault, name));
        // One read transaction: the certificate and its versions as of one commit.
        let tx = self.conn.unchecked_transaction().map_err(&read)?;
        let certificate = tx
            .prepare_cached(
                "SELECT vault, name, policy, tags, created, updated, operation, deleted, purge_at
                 FROM certificates WHERE vault = ?1 AND name = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row((vault, name), |row| {
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
                })
                .optional()
            })
            .map_err(&read)?;
        let Some(certificate) = certificate else {
            tx.commit().map_err(&read)?;
            return Ok(None);
        };
        // Each walks the (vault, certificate, seq) index from the newest
        // and stops at the first row that qualifies.
        let mut head: Vec<(i64, String)> = Vec::with_capacity(3);
        for condition in [
            "",
            "AND certificate_der IS NOT NULL",
            "AND certificate_der IS NOT NULL AND enabled = 1",
        ] {
            let newest = tx
                .prepare_cached(&format!(
                    "SELECT seq, id FROM versions WHERE vault = ?1 AND certificate = ?2
                     {condition} ORDER BY seq DESC LIMIT 1"
                ))
                .and_then(|mut stmt| {
                    stmt.query_row((&certificate.vault, &certificate.name), |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()
                })
                .map_err(&read)?;
            if let Some(found) = newest.filter(|found| !head.contains(found)) {
                head.push(found);
            }
        }
        head.sort();
        let mut versions = Vec::with_capacity(head.len());
        for (_, id) in head {
            if let Some(version) =
                whole_version(&tx, &certificate.vault, &certificate.name, &id).map_err(&read)?
            {
                versions.push(version);
            }
        }
        tx.commit().map_err(&read)?;
        Ok(Some((certificate, versions)))
    }

    fn version_list(&self, vault: &str, name: &str) -> Result<Vec<VersionListing>, StoreError> {
        let read = failed_on(
            "cannot list the versions of",
            Object::Certificate(vault, name),
        );
        self.conn
            .prepare_cached(
                "SELECT id, created, updated, enabled, exportable,
                        certificate_der IS NOT NULL, key IS NOT NULL
                 FROM versions WHERE vault = ?1 AND certificate = ?2 ORDER BY seq",
            )
            .and_then(|mut stmt| {
                stmt.query_map((vault, name), |row| {
                    Ok(VersionListing {
                        id: row.get(0)?,
                        created: row.get(1)?,
                        updated: row.get(2)?,
                        enabled: row.get(3)?,
                        exportable: row.get(4)?,
                        completed: row.get(5)?,
                        has_key: row.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(&read)
    }

    fn version(
        &self,
        vault: &str,
        name: &str,
        id: &str,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let read = failed_on("cannot read", Object::Version(id, vault, name));
        let tx = self.conn.unchecked_transaction().map_err(&read)?;
        let version = whole_version(&tx, vault, name, id).map_err(&read)?;
        tx.commit().map_err(&read)?;
        Ok(version)
    }
}
