//! Reading in one snapshot transaction: every record (`Store::load`), or one certificate with its versions (`Store::load_certificate`).

use postgres::Transaction;

use super::super::{CertificateSnapshot, DocumentRecord, Snapshot, VaultRecord};
use super::fold;
use super::rows::{
    CERTIFICATE_COLUMNS, VERSION_COLUMNS, certificate_from_row, chains_from_rows, version_from_row,
};

/// Every record of the store, ordered as `Store::load` promises.
pub(super) fn everything(tx: &mut Transaction<'_>) -> Result<Snapshot, postgres::Error> {
    let vaults = tx
        .query("SELECT name, created FROM vaults ORDER BY name_key", &[])?
        .iter()
        .map(|row| VaultRecord {
            name: row.get(0),
            created: row.get(1),
        })
        .collect();

    let certificates = tx
        .query(
            &format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY vault_key, name_key"),
            &[],
        )?
        .iter()
        .map(certificate_from_row)
        .collect();

    let mut chains = chains_from_rows(tx.query(
        "SELECT version_id, der FROM chain ORDER BY version_id, position",
        &[],
    )?);
    let versions = tx
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM versions
                     ORDER BY vault_key, certificate_key, seq"
            ),
            &[],
        )?
        .iter()
        .map(|row| version_from_row(row, &mut chains))
        .collect();

    let documents = tx
        .query(
            "SELECT vault, key, value FROM documents ORDER BY vault_key, key_key",
            &[],
        )?
        .iter()
        .map(|row| DocumentRecord {
            vault: row.get(0),
            key: row.get(1),
            value: row.get(2),
        })
        .collect();

    Ok(Snapshot {
        vaults,
        certificates,
        versions,
        documents,
    })
}

/// The certificate `vault`/`name` (any case) with its versions, oldest first.
pub(super) fn certificate(
    tx: &mut Transaction<'_>,
    vault: &str,
    name: &str,
) -> Result<Option<CertificateSnapshot>, postgres::Error> {
    let keys: [&(dyn postgres::types::ToSql + Sync); 2] = [&fold(vault), &fold(name)];
    let Some(certificate) = tx
        .query_opt(
            &format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                     WHERE vault_key = $1 AND name_key = $2"
            ),
            &keys,
        )?
        .as_ref()
        .map(certificate_from_row)
    else {
        return Ok(None);
    };
    let mut chains = chains_from_rows(tx.query(
        "SELECT c.version_id, c.der FROM chain c JOIN versions v ON v.id = c.version_id
                 WHERE v.vault_key = $1 AND v.certificate_key = $2
                 ORDER BY c.version_id, c.position",
        &keys,
    )?);
    let versions = tx
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM versions
                     WHERE vault_key = $1 AND certificate_key = $2 ORDER BY seq"
            ),
            &keys,
        )?
        .iter()
        .map(|row| version_from_row(row, &mut chains))
        .collect();
    Ok(Some(CertificateSnapshot {
        certificate,
        versions,
    }))
}
