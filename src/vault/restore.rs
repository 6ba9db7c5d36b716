//! `backup.blob` and `restore/`: a certificate with all its versions out as one sealed blob, and back in.
//!
//! The blob's format and encryption are in [`super::backup`]; this module
//! gathers what goes into it and restores what comes out, as Key Vault's
//! BackupCertificate and RestoreCertificate do. A restore needs the name
//! to be free in the vault, and the same backup key (`backup.key` in the
//! store directory) as the mount that made the blob.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::backup;
use super::certificate_state::CertificateState;
use super::changes::Changes;
use super::error::VaultError;
use super::lifecycle::deleted_but_recoverable;
use super::load::{certificate_from_record, pending_from_record, version_from_record};
use super::model::{certificate, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::records::{key_bytes, record_of};
use super::service::VaultService;
use crate::store::{StoreError, VersionRecord};

impl VaultService {
    /// The `backup.blob` of certificate `c`: sealed anew on every call (a
    /// fresh nonce), always of the same size for the same certificate.
    pub(super) fn backup_blob(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Arc<[u8]>, VaultError> {
        let key = self.backup_key().ok_or_else(|| {
            VaultError::Forbidden("This mount has no backup key: backups are not available".into())
        })?;
        let (record, versions) = {
            let st = self.model();
            let vs = vault(&st, v)?;
            let cs = certificate(&st, v, c)?;
            (record_of(&vs.name, cs), version_records(&vs.name, cs)?)
        };
        Ok(Arc::from(backup::seal(key, &record, &versions)?))
    }

    /// A blob dropped into `restore/`: its certificate comes back, with every version, under its own name.
    pub(super) fn restore(&self, v: &VaultName, data: &[u8]) -> Result<Changes, VaultError> {
        let key = self.backup_key().ok_or_else(|| {
            VaultError::Forbidden("This mount has no backup key: restores are not available".into())
        })?;
        let (mut record, mut versions) = backup::open(key, data)?;
        let name = CertificateName::parse(&record.name)
            .map_err(|e| VaultError::BadParameter(format!("The backup's certificate name: {e}")))?;
        let mut tx = self.transaction();
        let place = {
            let st = tx.model();
            let vs = vault(&st, v)?;
            if let Some((deleted, _)) = vs.deleted.get_key_value(&name) {
                return Err(deleted_but_recoverable(deleted));
            }
            if let Some(existing) = vs.holder_of(&name) {
                return Err(VaultError::AlreadyExists(format!(
                    "Certificate {existing} already exists in vault {v}; a restore needs the name to be free."
                )));
            }
            record.vault = vs.name.to_string();
            vs.certificates.place(&name)
        };
        for version in &mut versions {
            version.vault = record.vault.clone();
        }
        // Everything is checked before the store is touched, so publishing cannot fail after it.
        let mut cs = certificate_from_record(&record)?;
        let operation = cs.operation.as_deref().map(|(op, _)| op.clone());
        for version in &versions {
            if version.certificate_der.is_none() {
                cs.pending = pending_from_record(version, operation.as_ref())?.map(Arc::new);
            } else if let Some(restored) =
                version_from_record(version, cs.name.as_str(), place.as_ref())?
            {
                cs.versions.push(Arc::new(restored));
            }
        }
        tx.store().restore_certificate(&record, &versions).map_err(|e| match e {
            StoreError::Conflict(_) => VaultError::AlreadyExists(format!(
                "The versions of {} are already in this store (the certificate it was backed up from, \
                 live or deleted, in this or another vault): restore it into another store, or purge the original first.",
                record.name
            )),
            other => other.into(),
        })?;
        let mut st = tx.model_mut();
        let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
        log::info!("{v}/{}: restored with {} versions", cs.name, versions.len());
        let restored = cs.name.clone();
        vs.drafts.remove(&restored);
        vs.certificates.insert(restored.clone(), cs);
        let mut changes = Changes::of_certificate(v, &restored);
        changes.dirs.push(Node::Restore(v.clone()));
        Ok(changes)
    }
}

/// Every version of `cs` as the store keeps it, oldest first, the pending one last.
fn version_records(
    vault: &VaultName,
    cs: &CertificateState,
) -> Result<Vec<VersionRecord>, VaultError> {
    let mut out = Vec::new();
    for version in cs.versions.all()? {
        let body = version.body()?;
        out.push(VersionRecord {
            vault: vault.to_string(),
            certificate: cs.name.to_string(),
            id: version.id.to_string(),
            created: version.created,
            updated: version.updated.load(Ordering::Acquire),
            enabled: version.enabled.load(Ordering::Acquire),
            exportable: version.exportable,
            certificate_der: Some(body.leaf.clone()),
            chain_der: body.chain.clone(),
            key: body.key.as_ref().map(key_bytes),
        });
    }
    if let Some(pending) = &cs.pending {
        out.push(VersionRecord {
            vault: vault.to_string(),
            certificate: cs.name.to_string(),
            id: pending.id.to_string(),
            created: pending.created,
            updated: pending.created,
            enabled: false,
            exportable: pending.exportable,
            certificate_der: None,
            chain_der: Vec::new(),
            key: Some(key_bytes(&pending.key)),
        });
    }
    Ok(out)
}
