//! The store's records of the model's objects: what a change writes.

use super::certificate_state::CertificateState;
use super::name::VaultName;
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
        policy: String::from_utf8_lossy(&cs.policy_json).into_owned(),
        tags: String::from_utf8_lossy(&cs.tags_json).into_owned(),
        created: cs.created,
        updated: cs.updated,
        operation: cs.operation.as_ref().map(|(op, _)| op.to_json()),
        deleted: cs.deleted,
        purge_at: cs.purge_at,
    }
}
