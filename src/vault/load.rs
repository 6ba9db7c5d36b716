//! Turning the store's records into the in-memory model, at mount.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64};

use super::access;
use super::contacts::{self, Contacts};
use super::error::VaultError;
use super::hooks::{self, Hooks};
use super::issuer_memory;
use super::issuers::{self, IssuerBundle};
use super::model::{CertificateState, PendingVersion, State, VaultState, Version};
use super::name::{CertificateName, VaultName, VersionId};
use super::operation::Operation;
use super::pending::{csr_pem, with_json};
use super::policy::Policy;
use super::settings::{self, VaultSettings};
use super::status::{self, RunLog};
use super::tags;
use crate::pki::key::PrivateKey;
use crate::pki::x509::{self, CertificateInfo};
use crate::store::{CertificateRecord, Snapshot, VersionRecord};
use zeroize::Zeroizing;

/// `key` without `prefix` (compared case-insensitively), if it starts with it.
fn strip_prefix_ci<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|p| &key[p.len()..])
}

/// The whole model from what the store holds.
pub(super) fn state_from_snapshot(snapshot: Snapshot) -> Result<State, VaultError> {
    let bad = |what: String| VaultError::Internal(format!("stored {what}"));
    let mut state = State::default();
    for v in snapshot.vaults {
        let name = VaultName::parse(&v.name).map_err(|e| bad(format!("vault name: {e}")))?;
        state
            .vaults
            .insert(name.clone(), VaultState::new(name, v.created));
    }
    // Run logs and hooks belong to certificates, which are loaded after.
    let mut run_logs = BTreeMap::new();
    let mut hook_sets = BTreeMap::new();
    let mut perm_sets = BTreeMap::new();
    for d in snapshot.documents {
        let vault = VaultName::parse(&d.vault).map_err(|e| bad(format!("vault name: {e}")))?;
        let vs = state
            .vaults
            .get_mut(&vault)
            .ok_or_else(|| bad(format!("document {} has no vault", d.key)))?;
        // A document this certfs cannot read is skipped (and said): one bad
        // setting must not keep every certificate from being served.
        let skip =
            |e: VaultError| log::error!("vault {vault}: stored {} skipped: {}", d.key, e.message());
        if d.key.eq_ignore_ascii_case(settings::DOCUMENT_KEY) {
            match VaultSettings::from_stored(&d.value) {
                Ok(settings) => vs.settings = settings,
                Err(e) => skip(e),
            }
        } else if d.key.eq_ignore_ascii_case(contacts::DOCUMENT_KEY) {
            match Contacts::parse(d.value.as_bytes()) {
                Ok(parsed) => vs.contacts = Some(parsed),
                Err(e) => skip(e),
            }
        } else if let Some(name) = strip_prefix_ci(&d.key, status::DOCUMENT_PREFIX) {
            match (CertificateName::parse(name), RunLog::from_stored(&d.value)) {
                (Ok(name), Some(log)) => {
                    run_logs.insert((vault.clone(), name), log);
                }
                _ => skip(VaultError::Internal("unreadable run log".into())),
            }
        } else if let Some(name) = strip_prefix_ci(&d.key, access::DOCUMENT_PREFIX) {
            match (
                CertificateName::parse(name),
                access::perms_from_stored(&d.value),
            ) {
                (Ok(name), Some(perms)) => {
                    perm_sets.insert((vault.clone(), name), perms);
                }
                _ => skip(VaultError::Internal("unreadable modes".into())),
            }
        } else if let Some(name) = strip_prefix_ci(&d.key, hooks::DOCUMENT_PREFIX) {
            match (
                CertificateName::parse(name),
                Hooks::parse(d.value.as_bytes()),
            ) {
                (Ok(name), Ok(parsed)) => {
                    hook_sets.insert((vault.clone(), name), parsed);
                }
                (Err(e), _) => skip(VaultError::Internal(e.0)),
                (_, Err(e)) => skip(e),
            }
        } else if let Some(name) = d
            .key
            .get(..issuer_memory::DOCUMENT_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(issuer_memory::DOCUMENT_PREFIX))
            .map(|p| &d.key[p.len()..])
        {
            match CertificateName::parse(name) {
                Ok(name) => {
                    let text = issuer_memory::memory_text(&name, Zeroizing::new(d.value));
                    vs.issuer_memory.insert(name, text);
                }
                Err(e) => skip(VaultError::Internal(e.0)),
            }
        } else if let Some(name) = d
            .key
            .get(..issuers::DOCUMENT_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(issuers::DOCUMENT_PREFIX))
            .map(|p| &d.key[p.len()..])
        {
            match (
                CertificateName::parse(name),
                IssuerBundle::from_stored(&d.value),
            ) {
                (Ok(name), Ok(bundle)) => {
                    vs.issuers.insert(name, bundle);
                }
                (Err(e), _) => skip(VaultError::Internal(e.0)),
                (_, Err(e)) => skip(e),
            }
        } else {
            log::warn!("vault {vault}: unknown stored document {}", d.key);
        }
    }
    for c in snapshot.certificates {
        let mut cert = certificate_from_record(&c)?;
        let vault = VaultName::parse(&c.vault).map_err(|e| bad(format!("vault name: {e}")))?;
        let key = (vault.clone(), cert.name.clone());
        if let Some(log) = run_logs.remove(&key) {
            cert.run_log = log;
        }
        if let Some(perms) = perm_sets.remove(&key) {
            cert.perms = perms;
        }
        if let Some(parsed) = hook_sets.remove(&key) {
            cert.hooks_json = Arc::from(parsed.to_json().into_bytes());
            cert.hooks = parsed;
        }
        let vs = state
            .vaults
            .get_mut(&vault)
            .ok_or_else(|| bad(format!("certificate {} has no vault", c.name)))?;
        let home = if cert.deleted.is_some() {
            &mut vs.deleted
        } else {
            &mut vs.certificates
        };
        home.insert(cert.name.clone(), cert);
    }
    for v in snapshot.versions {
        let (Ok(vault), Ok(cert)) = (
            VaultName::parse(&v.vault),
            CertificateName::parse(&v.certificate),
        ) else {
            return Err(bad(format!("version {} has a bad owner", v.id)));
        };
        let owner = state
            .vaults
            .get_mut(&vault)
            .and_then(|vs| {
                if vs.certificates.contains_key(&cert) {
                    vs.certificates.get_mut(&cert)
                } else {
                    vs.deleted.get_mut(&cert)
                }
            })
            .ok_or_else(|| bad(format!("version {} has no certificate", v.id)))?;
        if v.certificate_der.is_none() {
            let operation = owner.operation.as_ref().map(|(op, _)| op);
            owner.pending = pending_from_record(&v, operation)?.map(Arc::new);
        } else if let Some(version) = version_from_record(&v, owner.name.as_str())? {
            owner.versions.push(Arc::new(version));
        }
    }
    Ok(state)
}

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
        run_log: RunLog::default(),
        hooks: Hooks::default(),
        hooks_json: Arc::from(Hooks::default().to_json().into_bytes()),
        perms: Default::default(),
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
