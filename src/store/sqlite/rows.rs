//! Writing a certificate's rows in one SQLite transaction: the vault's stored spelling, the certificate upserted, its versions and their chains.

use rusqlite::OptionalExtension;

use super::super::error::{Object, failed_on};
use super::super::{CertificateRecord, StoreError, VersionRecord};
use super::{is_duplicate, is_foreign_key};

/// The stored spelling of vault `name`; `NotFound` if it is absent.
pub(super) fn stored_vault(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
) -> Result<String, StoreError> {
    tx.query_row("SELECT name FROM vaults WHERE name = ?1", [name], |row| {
        row.get(0)
    })
    .optional()
    .map_err(failed_on("cannot read", Object::Vault(name)))?
    .ok_or_else(|| StoreError::NotFound(format!("vault {name}")))
}

/// Inserts `certificate` or replaces the stored one (matched by vault and
/// name, any case: `policy`, `tags`, `updated`, `operation`, `deleted` and
/// `purge_at` change, the name and `created` stay). Returns the stored spellings of the vault and
/// certificate names. `NotFound` if the vault is absent.
pub(super) fn upsert_certificate(
    tx: &rusqlite::Transaction<'_>,
    certificate: &CertificateRecord,
) -> Result<(String, String), StoreError> {
    let vault = stored_vault(tx, &certificate.vault)?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT name FROM certificates WHERE vault = ?1 AND name = ?2",
            (&vault, &certificate.name),
            |row| row.get(0),
        )
        .optional()
        .map_err(failed_on(
            "cannot read",
            Object::Certificate(&vault, &certificate.name),
        ))?;

    let name =
        match existing {
            Some(name) => {
                tx.execute(
                    "UPDATE certificates
                 SET policy = ?3, tags = ?4, updated = ?5, operation = ?6, deleted = ?7,
                     purge_at = ?8
                 WHERE vault = ?1 AND name = ?2",
                    (
                        &vault,
                        &name,
                        &certificate.policy,
                        &certificate.tags,
                        certificate.updated,
                        certificate.operation.as_deref(),
                        certificate.deleted,
                        certificate.purge_at,
                    ),
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
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                (
                    &vault,
                    &certificate.name,
                    &certificate.policy,
                    &certificate.tags,
                    certificate.created,
                    certificate.updated,
                    certificate.operation.as_deref(),
                    certificate.deleted,
                    certificate.purge_at,
                ),
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
    tx: &rusqlite::Transaction<'_>,
    vault: &str,
    name: &str,
    version: &VersionRecord,
) -> Result<(), StoreError> {
    check_belongs(version, vault, name)?;
    let seq: i64 = tx
        .query_row(
            "SELECT coalesce(max(seq), 0) + 1 FROM versions
             WHERE vault = ?1 AND certificate = ?2",
            (vault, name),
            |row| row.get(0),
        )
        .map_err(failed_on(
            "cannot number the new version of",
            Object::Certificate(vault, name),
        ))?;
    tx.execute(
        "INSERT INTO versions (id, vault, certificate, seq, created, updated, enabled,
                               certificate_der, key, exportable)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        (
            &version.id,
            vault,
            name,
            seq,
            version.created,
            version.updated,
            version.enabled,
            version.certificate_der.as_deref(),
            version.key.as_ref().map(|key| key.0.as_slice()),
            version.exportable,
        ),
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
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    chain: &[Vec<u8>],
) -> Result<(), StoreError> {
    let failed = |e| StoreError::backend(format!("cannot insert the chain of version {id}"), e);
    let mut insert = tx
        .prepare("INSERT INTO chain (version_id, position, der) VALUES (?1, ?2, ?3)")
        .map_err(failed)?;
    for (position, der) in chain.iter().enumerate() {
        let position = i64::try_from(position)
            .map_err(|_| StoreError::Failed("the chain is too long".into()))?;
        insert
            .execute((id, position, der.as_slice()))
            .map_err(failed)?;
    }
    Ok(())
}
