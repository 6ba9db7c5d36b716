//! Rows and records: reading certificates, versions and chains from rows, and writing them inside a write transaction.

use std::collections::HashMap;

use postgres::Transaction;

use super::{fold, is_duplicate, is_foreign_key};
use crate::store::error::{Object, failed_on};
use crate::store::{CertificateRecord, KeyBytes, StoreError, VersionRecord};

/// The columns [`certificate_from_row`] reads, in its order.
pub(super) const CERTIFICATE_COLUMNS: &str =
    "vault, name, policy, tags, created, updated, operation, deleted, purge_at";

/// The columns [`version_from_row`] reads, in its order.
pub(super) const VERSION_COLUMNS: &str =
    "id, vault, certificate, created, updated, enabled, exportable, certificate_der, key";

/// A certificate from a row of [`CERTIFICATE_COLUMNS`].
pub(super) fn certificate_from_row(row: &postgres::Row) -> CertificateRecord {
    CertificateRecord {
        vault: row.get(0),
        name: row.get(1),
        policy: row.get(2),
        tags: row.get(3),
        created: row.get(4),
        updated: row.get(5),
        operation: row.get(6),
        deleted: row.get(7),
        purge_at: row.get(8),
    }
}

/// Chains by version id from rows of `(version_id, der)` in position order.
pub(super) fn chains_from_rows(rows: Vec<postgres::Row>) -> HashMap<String, Vec<Vec<u8>>> {
    let mut chains: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for row in rows {
        chains.entry(row.get(0)).or_default().push(row.get(1));
    }
    chains
}

/// A version from a row of [`VERSION_COLUMNS`], taking its chain from `chains`.
pub(super) fn version_from_row(
    row: &postgres::Row,
    chains: &mut HashMap<String, Vec<Vec<u8>>>,
) -> VersionRecord {
    let id: String = row.get(0);
    VersionRecord {
        vault: row.get(1),
        certificate: row.get(2),
        created: row.get(3),
        updated: row.get(4),
        enabled: row.get(5),
        exportable: row.get(6),
        certificate_der: row.get(7),
        chain_der: chains.remove(&id).unwrap_or_default(),
        // Straight from the row into zeroizing memory.
        key: row
            .get::<_, Option<Vec<u8>>>(8)
            .map(|key| KeyBytes(zeroize::Zeroizing::new(key))),
        id,
    }
}

/// The stored spelling of vault `name`; `NotFound` if it is absent.
pub(super) fn stored_vault(tx: &mut Transaction<'_>, name: &str) -> Result<String, StoreError> {
    tx.query_opt(
        "SELECT name FROM vaults WHERE name_key = $1",
        &[&fold(name)],
    )
    .map_err(failed_on("cannot read", Object::Vault(name)))?
    .map(|row| row.get(0))
    .ok_or_else(|| StoreError::NotFound(format!("vault {name}")))
}

/// Inserts `certificate` or replaces the stored one (matched by vault and
/// name, any case: `policy`, `tags`, `updated`, `operation`, `deleted` and
/// `purge_at` change, the name and `created` stay). Returns the stored
/// spellings of the vault and certificate names. `NotFound` if the vault
/// is absent.
pub(super) fn upsert_certificate(
    tx: &mut Transaction<'_>,
    certificate: &CertificateRecord,
) -> Result<(String, String), StoreError> {
    let vault = stored_vault(tx, &certificate.vault)?;
    let existing: Option<String> = tx
        .query_opt(
            "SELECT name FROM certificates WHERE vault_key = $1 AND name_key = $2",
            &[&fold(&vault), &fold(&certificate.name)],
        )
        .map_err(failed_on(
            "cannot read",
            Object::Certificate(&vault, &certificate.name),
        ))?
        .map(|row| row.get(0));

    let name =
        match existing {
            Some(name) => {
                tx.execute(
                    "UPDATE certificates
                 SET policy = $3, tags = $4, updated = $5, operation = $6, deleted = $7,
                     purge_at = $8
                 WHERE vault_key = $1 AND name_key = $2",
                    &[
                        &fold(&vault),
                        &fold(&name),
                        &certificate.policy,
                        &certificate.tags,
                        &certificate.updated,
                        &certificate.operation.as_deref(),
                        &certificate.deleted,
                        &certificate.purge_at,
                    ],
                )
                .map_err(failed_on(
                    "cannot update",
                    Object::Certificate(&vault, &name),
                ))?;
                name
            }
            None => {
                tx.execute(
                "INSERT INTO certificates (vault, name, policy, tags, created, updated, operation,
                                           deleted, purge_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &vault,
                    &certificate.name,
                    &certificate.policy,
                    &certificate.tags,
                    &certificate.created,
                    &certificate.updated,
                    &certificate.operation.as_deref(),
                    &certificate.deleted,
                    &certificate.purge_at,
                ],
            )
            .map_err(|e| {
                if is_foreign_key(&e) {
                    StoreError::NotFound(format!("vault {}", certificate.vault))
                } else {
                    failed_on("cannot insert", Object::Certificate(&vault, &certificate.name))(e)
                }
            })?;
                certificate.name.clone()
            }
        };
    Ok((vault, name))
}

/// Fails with `Failed` unless `version` names the certificate `name` of
/// `vault` (any case): a caller passing mismatched records is a bug.
pub(super) fn check_belongs(
    version: &VersionRecord,
    vault: &str,
    name: &str,
) -> Result<(), StoreError> {
    if version.vault.eq_ignore_ascii_case(vault) && version.certificate.eq_ignore_ascii_case(name) {
        Ok(())
    } else {
        Err(StoreError::Failed(
            "the version belongs to another certificate than the one given with it".into(),
        ))
    }
}

/// `NotFound` for a version `id` that `vault`/`name` does not have.
pub(super) fn version_not_found(id: &str, vault: &str, name: &str) -> StoreError {
    StoreError::NotFound(format!("version {id} of certificate {vault}/{name}"))
}

/// Appends `version` to certificate `name` of `vault` (stored names), with its chain.
pub(super) fn insert_version(
    tx: &mut Transaction<'_>,
    vault: &str,
    name: &str,
    version: &VersionRecord,
) -> Result<(), StoreError> {
    check_belongs(version, vault, name)?;
    let seq: i64 = tx
        .query_one(
            "SELECT coalesce(max(seq), 0) + 1 FROM versions
             WHERE vault_key = $1 AND certificate_key = $2",
            &[&fold(vault), &fold(name)],
        )
        .map_err(failed_on(
            "cannot number the new version of",
            Object::Certificate(vault, name),
        ))?
        .get(0);
    tx.execute(
        "INSERT INTO versions (id, vault, certificate, seq, created, updated, enabled,
                               certificate_der, key, exportable)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &version.id,
            &vault,
            &name,
            &seq,
            &version.created,
            &version.updated,
            &version.enabled,
            &version.certificate_der.as_deref(),
            &version.key.as_ref().map(|key| key.0.as_slice()),
            &version.exportable,
        ],
    )
    .map_err(|e| {
        if is_duplicate(&e) {
            StoreError::Conflict(format!("version {}", version.id))
        } else {
            failed_on("cannot insert", Object::Version(&version.id, vault, name))(e)
        }
    })?;
    insert_chain(tx, &version.id, &version.chain_der)
}

/// Inserts the chain rows of version `id`, position 0 first.
pub(super) fn insert_chain(
    tx: &mut Transaction<'_>,
    id: &str,
    chain: &[Vec<u8>],
) -> Result<(), StoreError> {
    if chain.is_empty() {
        return Ok(());
    }
    let failed = |e| StoreError::backend(format!("cannot insert the chain of version {id}"), e);
    let insert = tx
        .prepare("INSERT INTO chain (version_id, position, der) VALUES ($1, $2, $3)")
        .map_err(failed)?;
    for (position, der) in chain.iter().enumerate() {
        let position = i32::try_from(position)
            .map_err(|_| StoreError::Failed("the chain is too long".into()))?;
        tx.execute(&insert, &[&id, &position, &der.as_slice()])
            .map_err(failed)?;
    }
    Ok(())
}
