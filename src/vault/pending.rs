//! The pending version of a certificate (issuer `Unknown`): its CSR, the merge of the signed certificate, cancel and delete.
//!
//! A pending version holds a key and a CSR and does not replace the current
//! version: servers keep reading the old certificate until the merge.

use std::sync::Arc;

use super::certificate_state::PendingVersion;
use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::issued;
use super::model::{certificate, not_found, vault};
use super::name::{CertificateName, VaultName, VersionId};
use super::operation::{Operation, OperationError, Status, csr_pem, is_unknown, with_json};
use super::policy::Policy;
use super::records::{key_bytes, publish, record_for};
use super::service::VaultService;
use super::version::{Version, VersionBody};
use crate::pki::key::PrivateKey;
use crate::pki::{bundle, x509};
use crate::store::VersionRecord;

/// Key Vault's message when a merged certificate is not for the pending key.
pub const KEY_MISMATCH: &str = "The public key of the end-entity certificate in the specified X.509 certificate content \
     does not match the public part of the specified private key. Please check if certificate is valid";

impl VaultService {
    /// Stores the key as a pending version with an in-progress operation:
    /// for `issuer` `Unknown` the user gets its CSR signed and merges; for a
    /// configured CA the worker orders the certificate. Returns the version.
    pub(super) fn create_pending(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: Policy,
        key: PrivateKey,
        issuer: &str,
    ) -> Result<(Changes, VersionId), VaultError> {
        let spec = policy.certificate_spec();
        let csr = match policy.basic_constraints {
            c if c.ca => x509::ca_signing_request(&spec, &key, c.path_len)?,
            _ => x509::certificate_signing_request(&spec, &key)?,
        };
        let policy_json = policy.to_json();
        let mut tx = self.transaction();
        let t = now();
        self.refuse_while_pending(v, c)?;
        let (mut record, name) = record_for(&tx.model(), v, c, t)?;
        let id = VersionId::random();
        let mut operation =
            Operation::pending(v.as_str(), name.as_str(), issuer, &csr, id.as_str());
        if !is_unknown(issuer) {
            operation.status_details =
                format!("The certificate request is being submitted to issuer {issuer}.");
        }
        record.policy = policy_json.clone();
        record.operation = Some(operation.to_json());
        let version_record = VersionRecord {
            vault: record.vault.clone(),
            certificate: record.name.clone(),
            id: id.to_string(),
            created: t,
            updated: t,
            enabled: false,
            exportable: policy.key.exportable,
            certificate_der: None,
            chain_der: Vec::new(),
            key: Some(key_bytes(&key)),
        };
        tx.store().put_certificate(&record, Some(&version_record))?;
        let pending = PendingVersion {
            id: id.clone(),
            created: t,
            key,
            exportable: version_record.exportable,
            csr_pem: csr_pem(&csr),
        };
        publish(&mut tx.model_mut(), v, &name, &record, |cs| {
            cs.policy = Arc::new(policy);
            cs.operation = Some(with_json(operation));
            cs.pending = Some(Arc::new(pending));
        })?;
        if is_unknown(issuer) {
            log::info!("{v}/{name}: pending version {id} waits for a signed certificate in merge/");
        } else {
            log::info!("{v}/{name}: pending version {id} will be ordered from issuer {issuer}");
        }
        Ok((Changes::of_certificate(v, c), id))
    }

    /// A file dropped into `merge/`: completes the pending version with the
    /// certificate whose key is the pending key, and the rest as its chain.
    pub(super) fn merge(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let certificates = bundle::certificates_from_any(data)?;
        let version = {
            let st = self.model();
            let cs = certificate(&st, v, c)?;
            let op = cs
                .operation_in_progress()
                .filter(|_| cs.pending.is_some())
                .ok_or_else(|| {
                    VaultError::NotFound(format!("Pending certificate not found: {}", cs.name))
                })?;
            if !is_unknown(&op.issuer.name) {
                return Err(VaultError::Forbidden(format!(
                    "Merge is forbidden on pending object created with issuer other than Unknown: \
                     '{}' was ordered from issuer {}, which completes it",
                    cs.name, op.issuer.name
                )));
            }
            cs.pending.as_ref().map(|p| p.id.clone())
        };
        let version = version.ok_or_else(|| not_found(c.as_str()))?;
        self.complete_pending(
            v,
            c,
            &version,
            &certificates,
            "The certificate was merged.".into(),
            None,
        )
    }

    /// Completes pending version `version` of `c` with the certificate of
    /// `certificates` whose key is the pending key, the others that chain
    /// up from it as its chain (left out otherwise). `details` and
    /// `request_id` go into the completed operation.
    pub(super) fn complete_pending(
        &self,
        v: &VaultName,
        c: &CertificateName,
        version: &VersionId,
        certificates: &[Vec<u8>],
        details: String,
        request_id: Option<String>,
    ) -> Result<Changes, VaultError> {
        let pending = {
            let st = self.model();
            let cs = certificate(&st, v, c)?;
            cs.pending
                .clone()
                .filter(|p| &p.id == version && cs.operation_in_progress().is_some())
                .ok_or_else(|| {
                    VaultError::NotFound(format!("Pending certificate not found: {}", cs.name))
                })?
        };
        let (leaf, chain) = x509::leaf_and_chain(&pending.key.public_key_der(), certificates)
            .map_err(|_| VaultError::BadParameter(KEY_MISMATCH.into()))?;
        let info = x509::inspect(&leaf)?;

        let mut tx = self.transaction();
        let t = now();
        let (mut record, name) = record_for(&tx.model(), v, c, t)?;
        let mut operation = {
            let st = tx.model();
            let cs = certificate(&st, v, c)?;
            match (&cs.pending, cs.operation_in_progress()) {
                (Some(p), Some(op)) if p.id == pending.id => op.clone(),
                _ => {
                    return Err(VaultError::NotFound(format!(
                        "Pending certificate not found: {name}"
                    )));
                }
            }
        };
        operation.status = Status::Completed;
        operation.status_details = details;
        if request_id.is_some() {
            operation.request_id = request_id;
        }
        operation.target = Some(format!("{v}/{name}/{}", pending.id));
        record.operation = Some(operation.to_json());
        issued::record_issued(
            &mut tx,
            v,
            &operation.issuer.name,
            &leaf,
            Some((&name, &pending.id)),
            t,
        )?;
        let version_record = VersionRecord {
            vault: record.vault.clone(),
            certificate: record.name.clone(),
            id: pending.id.to_string(),
            created: pending.created,
            updated: t,
            enabled: true,
            exportable: pending.exportable,
            certificate_der: Some(leaf),
            chain_der: chain,
            key: Some(key_bytes(&pending.key)),
        };
        tx.store().update_version(&record, &version_record)?;
        let key = PrivateKey::from_pkcs8_der(pending.key.pkcs8_der())?;
        let place = vault(&tx.model(), v)?.certificates.place(&name);
        let body = VersionBody::new(&version_record, Some(key), info, name.as_str())?;
        let version = Version::with_body(&version_record, body, place.as_ref())?;
        publish(&mut tx.model_mut(), v, &name, &record, |cs| {
            cs.pending = None;
            cs.operation = Some(with_json(operation));
            // A first version moves no name the kernel could have cached.
            if !cs.versions.is_empty() {
                self.switching();
            }
            cs.versions.push(Arc::new(version));
        })?;
        log::info!("{v}/{name}: version {} completed", pending.id);
        tx.switched(v, &name, &pending.id);
        tx.commit();
        Ok(Changes::of_certificate(v, c))
    }

    /// `{"cancellation_requested": true}` written to `operation.json`: the
    /// operation becomes `cancelled` and its pending version is dropped.
    pub(super) fn cancel_operation(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Changes, VaultError> {
        if let Some(changes) = self.request_order_cancel(v, c)? {
            return Ok(changes);
        }
        self.end_operation(v, c, None, |op| {
            op.cancellation_requested = true;
            op.status = Status::Cancelled;
            op.status_details = "The certificate operation was cancelled.".into();
            op.error = Some(OperationError {
                code: "Cancelled".into(),
                message: "The user cancelled the certificate operation.".into(),
            });
            Some(op.clone())
        })
    }

    /// Ends the certificate's operation: `next` gives what `operation.json`
    /// shows afterwards (`None`: no operation). A pending version is
    /// dropped. With `expect`, only the operation of that pending version
    /// is ended (`NotFound` otherwise).
    pub(super) fn end_operation(
        &self,
        v: &VaultName,
        c: &CertificateName,
        expect: Option<&VersionId>,
        next: impl FnOnce(&mut Operation) -> Option<Operation>,
    ) -> Result<Changes, VaultError> {
        let mut tx = self.transaction();
        let (mut record, name) = record_for(&tx.model(), v, c, now())?;
        let (mut operation, pending) = {
            let st = tx.model();
            let cs = certificate(&st, v, c)?;
            let op = cs.operation.as_deref().map(|(op, _)| op.clone());
            (
                op.ok_or_else(|| not_found("operation.json"))?,
                cs.pending.clone(),
            )
        };
        if let Some(expected) = expect {
            if !(operation.is_pending() && operation.version == expected.as_str()) {
                return Err(not_found("operation.json"));
            }
        }
        let was_pending = operation.is_pending();
        let after = next(&mut operation);
        if after.is_some() && !was_pending {
            return Err(VaultError::Forbidden(
                "Pending status must be in progress to allow update.".into(),
            ));
        }
        record.operation = after.as_ref().map(Operation::to_json);
        match &pending {
            Some(p) if was_pending => tx.store().delete_version(&record, p.id.as_str())?,
            _ => tx.store().put_certificate(&record, None)?,
        }
        publish(&mut tx.model_mut(), v, &name, &record, |cs| {
            if was_pending {
                cs.pending = None;
            }
            cs.operation = after.map(with_json);
        })?;
        Ok(Changes::of_certificate(v, c))
    }
}
