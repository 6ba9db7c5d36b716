//! Turning the store's records into the in-memory model, at mount.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64};

use super::error::VaultError;
use super::model::{CertificateState, PendingVersion, Version};
use super::name::{CertificateName, VersionId};
use super::operation::Operation;
use super::pending::{csr_pem, with_json};
use super::policy::Policy;
use super::tags;
use crate::pki::key::PrivateKey;
use crate::pki::x509::{self, CertificateInfo};
use crate::store::{CertificateRecord, VersionRecord};

pub(super) fn certificate_from_record(
    c: &CertificateRecord,
) -> Result<CertificateState, VaultError> {
    let name = CertificateName::parse(&c.name)
        .map_err(|e| VaultError::Internal(format!("stored certificate name: {e}")))?;
    let policy = Policy::parse(c.policy.as_bytes())
        .map_err(|e| VaultError::Internal(format!("stored policy of {}: {}", c.name, e.message)))?;
    let tags = tags::parse(c.tags.as_bytes())?;
    Ok(CertificateState {
        name,
        policy_json: Arc::from(policy.to_json().into_bytes()),
        policy: Arc::new(policy),
        tags_json: Arc::from(tags::to_json(&tags).into_bytes()),
        tags,
        created: c.created,
        updated: c.updated,
        versions: Vec::new(),
        operation: c
            .operation
            .as_deref()
            .map(Operation::from_json)
            .transpose()?
            .map(with_json),
        pending: None,
        deleted: c.deleted,
        purge_at: c.purge_at,
    })
}

/// A completed version from its record; pending versions (no certificate yet) are not shown.
pub(super) fn version_from_record(
    v: &VersionRecord,
    friendly_name: &str,
) -> Result<Option<Version>, VaultError> {
    let Some(leaf) = &v.certificate_der else {
        return Ok(None);
    };
    let (id, key) = id_and_key(v)?;
    let info = x509::inspect(leaf)
        .map_err(|e| VaultError::Internal(format!("stored certificate {id}: {e}")))?;
    version_from_parts(v, key, info, friendly_name).map(Some)
}

/// The model of the completed version `v` (its certificate is there), with
/// its key and the facts of its certificate already at hand.
pub(super) fn version_from_parts(
    v: &VersionRecord,
    key: Option<PrivateKey>,
    info: CertificateInfo,
    friendly_name: &str,
) -> Result<Version, VaultError> {
    let id =
        VersionId::parse(&v.id).map_err(|e| VaultError::Internal(format!("version id: {e}")))?;
    let leaf = v
        .certificate_der
        .clone()
        .ok_or_else(|| VaultError::Internal(format!("version {id} has no certificate")))?;
    Ok(Version {
        id,
        created: v.created,
        updated: AtomicI64::new(v.updated),
        enabled: AtomicBool::new(v.enabled),
        exportable: v.exportable,
        leaf,
        chain: v.chain_der.clone(),
        key,
        info,
        friendly_name: friendly_name.to_owned(),
        rendered: Default::default(),
    })
}

/// The pending version of a record without a certificate, if the
/// certificate's in-progress operation is waiting for it (its CSR is there).
pub(super) fn pending_from_record(
    v: &VersionRecord,
    operation: Option<&Operation>,
) -> Result<Option<PendingVersion>, VaultError> {
    let Some(op) = operation.filter(|op| op.is_pending() && op.version == v.id) else {
        log::warn!(
            "version {} has no certificate and no operation waits for it; it is not shown",
            v.id
        );
        return Ok(None);
    };
    let (id, key) = id_and_key(v)?;
    let key =
        key.ok_or_else(|| VaultError::Internal(format!("pending version {id} has no key")))?;
    let csr = op.csr_der()?;
    Ok(Some(PendingVersion {
        id,
        created: v.created,
        key,
        exportable: v.exportable,
        csr_pem: csr_pem(&csr),
    }))
}

/// The id and key of a stored version.
fn id_and_key(v: &VersionRecord) -> Result<(VersionId, Option<PrivateKey>), VaultError> {
    let id = VersionId::parse(&v.id)
        .map_err(|e| VaultError::Internal(format!("stored version id: {e}")))?;
    let key = v
        .key
        .as_ref()
        .map(|k| PrivateKey::from_pkcs8_der(&k.0))
        .transpose()
        .map_err(|e| VaultError::Internal(format!("stored key of version {id}: {e}")))?;
    Ok((id, key))
}
