//! The store's records of the model's objects: what a change writes, and how the model takes it once stored.

use std::collections::BTreeMap;

use super::certificate_state::CertificateState;
use super::error::VaultError;
use super::load::certificate_from_record;
use super::model::{State, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::tags;
use crate::pki::key::PrivateKey;
use crate::store::{CertificateRecord, KeyBytes};

/// The key as the store keeps it.
pub(crate) fn key_bytes(key: &PrivateKey) -> KeyBytes {
    KeyBytes(zeroize::Zeroizing::new(key.pkcs8_der().to_vec()))
}

/// The stored record of `cs`, a certificate (live or deleted) of the vault
/// named `vault`, as it is now.
pub(crate) fn record_of(vault: &VaultName, cs: &CertificateState) -> CertificateRecord {
    CertificateRecord {
        vault: vault.to_string(),
        name: cs.name.to_string(),
        policy: cs.policy.to_json(),
        tags: super::tags::to_json(&cs.tags),
        created: cs.created,
        updated: cs.updated,
        operation: cs.operation.as_deref().map(|(op, _)| op.to_json()),
        deleted: cs.deleted,
        purge_at: cs.purge_at,
    }
}

/// The stored record of certificate `c` as it is now, with `updated` set
/// to `t` — or a new record if `c` is a draft.
pub(crate) fn record_for(
    st: &State,
    v: &VaultName,
    c: &CertificateName,
    t: i64,
) -> Result<(CertificateRecord, CertificateName), VaultError> {
    let vs = vault(st, v)?;
    if let Some(cs) = vs.certificates.get(c) {
        let mut record = record_of(&vs.name, cs);
        record.updated = t;
        return Ok((record, cs.name.clone()));
    }
    let name = vs
        .drafts
        .get(c)
        .cloned()
        .ok_or_else(|| not_found(c.as_str()))?;
    let record = CertificateRecord {
        vault: vs.name.to_string(),
        name: name.to_string(),
        policy: String::new(),
        tags: tags::to_json(&BTreeMap::new()),
        created: t,
        updated: t,
        operation: None,
        deleted: None,
        purge_at: None,
    };
    Ok((record, name))
}

/// Publishes a stored change: the certificate (made from `record` if it
/// was a draft) gets `record`'s update time, then `change`. Call
/// after the store accepted the change.
pub(crate) fn publish(
    st: &mut State,
    v: &VaultName,
    name: &CertificateName,
    record: &CertificateRecord,
    change: impl FnOnce(&mut CertificateState),
) -> Result<(), VaultError> {
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    vs.drafts.remove(name);
    if !vs.certificates.contains_key(name) {
        vs.certificates
            .insert(name.clone(), certificate_from_record(record)?);
    }
    let cs = vs
        .certificates
        .get_mut(name)
        .ok_or_else(|| not_found(name.as_str()))?;
    cs.updated = record.updated;
    change(cs);
    Ok(())
}
