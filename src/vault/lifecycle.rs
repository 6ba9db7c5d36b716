//! Soft delete, recover and purge of certificates, and the vault settings (`vault.json`) that govern them.
//!
//! `rmdir prod/web` (the last step of `rm -r prod/web`) moves the
//! certificate to `prod/deleted/web/` with all its versions; its name
//! cannot be reused until it is recovered (`mv prod/deleted/web prod/web`)
//! or purged (`rm -r prod/deleted/web`, or by itself once the retention of
//! `vault.json` has passed).

use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::hooks;
use super::model::{State, deleted, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::records::{record_for, record_of};
use super::service::Transaction;
use super::settings::{self, VaultSettings};

/// Key Vault's refusal to reuse the name of a soft-deleted certificate.
pub(super) fn refuse_deleted_name(
    st: &State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<(), VaultError> {
    match vault(st, v)?.deleted.get_key_value(c) {
        Some((name, _)) => Err(deleted_but_recoverable(name)),
        None => Ok(()),
    }
}

/// Key Vault's `ObjectIsDeletedButRecoverable` refusal.
pub(super) fn deleted_but_recoverable(name: &CertificateName) -> VaultError {
    VaultError::AlreadyExists(format!(
        "Certificate {name} is currently in a deleted but recoverable state, and its name cannot be reused; \
         in this state, the certificate can only be recovered or purged."
    ))
}

/// Soft-deletes certificate `c`: it moves to `deleted/` with all its versions.
pub(super) fn soft_delete(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
) -> Result<Changes, VaultError> {
    let t = now();
    let (mut record, name) = record_for(&tx.model(), v, c, t)?;
    let retention = {
        let st = tx.model();
        vault(&st, v)?.settings.retention_seconds()
    };
    record.deleted = Some(t);
    record.purge_at = Some(t + retention);
    tx.store().put_certificate(&record, None)?;
    let mut st = tx.model_mut();
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    let mut cs = vs
        .certificates
        .remove(c)
        .ok_or_else(|| not_found(c.as_str()))?;
    cs.deleted = record.deleted;
    cs.purge_at = record.purge_at;
    cs.updated = t;
    vs.deleted.insert(cs.name.clone(), cs);
    drop(st);
    // Scratch files and reports of the certificate go with it.
    tx.side().remove_dirs_where(
        |dir| matches!(dir, Node::Certificate(dv, dc) | Node::Merge(dv, dc) if dv == v && dc == c),
    );
    log::info!("{v}/{name}: deleted; recoverable until {}", t + retention);
    Ok(Changes {
        dirs: vec![Node::Vault(v.clone()), Node::Deleted(v.clone())],
    })
}

/// Recovers the soft-deleted certificate `c` with all its versions.
pub(super) fn recover(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
) -> Result<Changes, VaultError> {
    let record = {
        let st = tx.model();
        if let Some(holder) = vault(&st, v)?
            .certificates
            .get_key_value(c)
            .map(|(k, _)| k)
            .or_else(|| vault(&st, v).ok()?.drafts.get(c))
        {
            return Err(VaultError::AlreadyExists(format!(
                "{holder} exists: a deleted certificate is recovered only while its name is free"
            )));
        }
        let cs = deleted(&st, v, c)?;
        let mut record = record_of(&vault(&st, v)?.name, cs);
        record.deleted = None;
        record.purge_at = None;
        record.updated = now();
        record
    };
    tx.store().put_certificate(&record, None)?;
    let mut st = tx.model_mut();
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    let mut cs = vs.deleted.remove(c).ok_or_else(|| not_found(c.as_str()))?;
    cs.deleted = None;
    cs.purge_at = None;
    cs.updated = record.updated;
    log::info!("{v}/{}: recovered", cs.name);
    let name = cs.name.clone();
    vs.certificates.insert(name.clone(), cs);
    Ok(Changes {
        // The recovered directory's inode showed the deleted files until now.
        dirs: vec![
            Node::Vault(v.clone()),
            Node::Deleted(v.clone()),
            Node::Certificate(v.clone(), name),
        ],
    })
}

/// Purges the soft-deleted certificate `c` for good, unless purge
/// protection holds it until its retention ends (`at` is now).
pub(super) fn purge(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
    at: i64,
) -> Result<Changes, VaultError> {
    purge_if(tx, v, c, at, false)
}

/// [`purge`]; when `scheduled`, only if its purge date
/// has come (checked in the transaction: it may have been
/// recovered and deleted again since the schedule was read).
pub(super) fn purge_if(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
    at: i64,
    scheduled: bool,
) -> Result<Changes, VaultError> {
    let name = {
        let st = tx.model();
        let vs = vault(&st, v)?;
        let cs = deleted(&st, v, c)?;
        if scheduled && cs.purge_at.is_none_or(|p| p > at) {
            return Ok(Changes::default());
        }
        if vs.settings.purge_protection && cs.purge_at.is_some_and(|p| at < p) {
            return Err(VaultError::Forbidden(format!(
                "Operation \"purge\" is not allowed because purge protection is enabled for this vault. \
                 certfs will purge {} by itself after the retention period has passed.",
                cs.name
            )));
        }
        cs.name.clone()
    };
    // Its run log and hooks first: left behind by a crash, they would
    // attach to a new certificate of the same name.
    for prefix in [
        super::run_log::DOCUMENT_PREFIX,
        hooks::DOCUMENT_PREFIX,
        super::access::DOCUMENT_PREFIX,
    ] {
        tx.store()
            .put_document(v.as_str(), &format!("{prefix}{name}"), None)?;
    }
    tx.store().delete_certificate(v.as_str(), name.as_str())?;
    if let Some(vs) = tx.model_mut().vaults.get_mut(v) {
        vs.deleted.remove(c);
    }
    tx.service().consumers().forget(v, c);
    log::info!("{v}/{name}: purged");
    Ok(Changes {
        // The purged directory goes too (the kernel knows when an rmdir did it).
        dirs: vec![
            Node::Deleted(v.clone()),
            Node::DeletedCertificate(v.clone(), name),
        ],
    })
}

/// A write to `vault.json`.
pub(super) fn write_settings(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    data: &[u8],
) -> Result<Changes, VaultError> {
    let current = {
        let st = tx.model();
        vault(&st, v)?.settings.clone()
    };
    let next = VaultSettings::parse_update(data, &current)?;
    tx.store()
        .put_document(v.as_str(), settings::DOCUMENT_KEY, Some(&next.to_json()))?;
    let mut st = tx.model_mut();
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    log::info!(
        "vault {v}: soft-delete retention {} days, purge protection {}, access {:?}",
        next.retention_days,
        if next.purge_protection { "on" } else { "off" },
        next.access
    );
    vs.settings = next;
    Ok(Changes {
        dirs: vec![Node::Vault(v.clone())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::vault::VaultService;
    use crate::vault::node::{CertificateFile, VaultFile};

    const POLICY: &[u8] =
        br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web"},"issuer":{"name":"Self"}}"#;

    fn service(db: &std::path::Path) -> VaultService {
        VaultService::open(Box::new(SqliteStore::open(db).unwrap())).unwrap()
    }

    #[test]
    fn deleted_certificates_are_purged_by_themselves_after_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("certfs.db");
        let vault_name = VaultName::parse("prod").unwrap();
        let cert = CertificateName::parse("web").unwrap();
        {
            let s = service(&db);
            s.mkdir(&Node::Root, "prod").unwrap();
            s.mkdir(&Node::Vault(vault_name.clone()), "web").unwrap();
            let policy =
                Node::CertificateFile(vault_name.clone(), cert.clone(), CertificateFile::Policy);
            s.write(&policy, POLICY).unwrap();
            s.write(
                &Node::VaultFile(vault_name.clone(), VaultFile::Settings),
                br#"{"soft_delete_retention_days": 7}"#,
            )
            .unwrap();
            s.rmdir(&Node::Vault(vault_name.clone()), "web").unwrap();
            let t = now();
            assert_eq!(
                s.purge_expired(t + 6 * 86_400),
                0,
                "still within the retention"
            );
            assert!(s.lookup(&Node::Deleted(vault_name.clone()), "web").is_ok());
        }
        // A restart does not lose the schedule; past it, the purge happens,
        // and is announced (the adapter drops what the kernel cached of it).
        let s = service(&db);
        let announced = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let heard = announced.clone();
        s.set_listener(Box::new(move |changes| {
            heard.lock().extend(changes.dirs.clone())
        }));
        assert!(s.lookup(&Node::Deleted(vault_name.clone()), "web").is_ok());
        assert_eq!(s.purge_expired(now() + 7 * 86_400 + 60), 1);
        assert!(s.lookup(&Node::Deleted(vault_name.clone()), "web").is_err());
        assert_eq!(
            *announced.lock(),
            vec![
                Node::Deleted(vault_name.clone()),
                Node::DeletedCertificate(vault_name.clone(), cert.clone())
            ]
        );
        drop(s);
        let s = service(&db);
        assert!(
            s.lookup(&Node::Deleted(vault_name.clone()), "web").is_err(),
            "purged in the store"
        );
        // The name is free again.
        s.mkdir(&Node::Vault(vault_name), "web").unwrap();
    }

    #[test]
    fn purge_protection_holds_until_the_retention_ends() {
        let dir = tempfile::tempdir().unwrap();
        let s = service(&dir.path().join("certfs.db"));
        let v = VaultName::parse("prod").unwrap();
        let c = CertificateName::parse("web").unwrap();
        s.mkdir(&Node::Root, "prod").unwrap();
        s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
        s.write(
            &Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy),
            POLICY,
        )
        .unwrap();
        s.write(
            &Node::VaultFile(v.clone(), VaultFile::Settings),
            br#"{"purge_protection": true}"#,
        )
        .unwrap();
        s.rmdir(&Node::Vault(v.clone()), "web").unwrap();
        let err = s.change(|tx| purge(tx, &v, &c, now())).unwrap_err();
        assert!(matches!(err, VaultError::Forbidden(_)), "{err}");
        assert_eq!(
            s.purge_expired(now() + 90 * 86_400 + 60),
            1,
            "the scheduled purge still happens"
        );
    }
}
