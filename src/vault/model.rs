//! The in-memory model the service answers from: vaults, certificates and versions, loaded from the store at mount.
//!
//! File operations read this model under a short read lock and never wait
//! for key generation or a CA, nor for the store once a certificate has
//! been read (a store with a reader gives only names and times at mount;
//! see [`Certificates`]). One certificate is a [`CertificateState`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::catalog::Certificates;
use super::certificate_state::CertificateState;
use super::contacts::Contacts;
use super::error::VaultError;
use super::issuer_file::IssuerBundle;
use super::ledger::{CrlCache, Ledger};
use super::name::{CertificateName, VaultName};
use super::settings::VaultSettings;

/// Everything the mount shows.
#[derive(Default)]
pub(crate) struct State {
    pub vaults: BTreeMap<VaultName, VaultState>,
}

/// One vault.
pub(crate) struct VaultState {
    pub name: VaultName,
    pub created: i64,
    pub certificates: Certificates,
    /// Directories made with `mkdir` whose policy has not been written yet (not persisted).
    pub drafts: BTreeSet<CertificateName>,
    /// Soft-deleted certificates, recoverable until purged.
    pub deleted: Certificates,
    /// `vault.json`.
    pub settings: VaultSettings,
    /// `contacts.json`, once written.
    pub contacts: Option<Contacts>,
    /// `issuers/<name>.json`.
    pub issuers: BTreeMap<CertificateName, IssuerBundle>,
    /// Private state of issuers (ACME accounts, Internal CAs), by issuer name.
    pub issuer_memory: BTreeMap<CertificateName, IssuerMemoryText>,
    /// What each issuer issued and revoked, by issuer name.
    pub ledgers: BTreeMap<CertificateName, Ledger>,
    /// Each Internal issuer's CRL as last signed.
    pub crls: CrlCache,
}

/// An issuer's private state as stored (may hold keys: never shown, never
/// logged), and what the mount shows of it: an Internal CA's certificate.
pub(crate) struct IssuerMemoryText {
    pub text: Arc<zeroize::Zeroizing<String>>,
    /// `issuers/<name>.pem`, for an Internal issuer.
    pub ca_pem: Option<Arc<[u8]>>,
}

impl VaultState {
    /// An empty vault.
    pub fn new(name: VaultName, created: i64) -> Self {
        VaultState {
            name,
            created,
            certificates: Certificates::new(),
            drafts: BTreeSet::new(),
            deleted: Certificates::new(),
            settings: VaultSettings::default(),
            contacts: None,
            issuers: BTreeMap::new(),
            issuer_memory: BTreeMap::new(),
            ledgers: BTreeMap::new(),
            crls: CrlCache::default(),
        }
    }

    /// The certificate, draft or deleted certificate that holds `name`, if any.
    pub fn holder_of(&self, name: &CertificateName) -> Option<&CertificateName> {
        self.certificates
            .key(name)
            .or_else(|| self.drafts.get(name))
            .or_else(|| self.deleted.key(name))
    }
}

/// What a lookup answers when `what` is not there.
pub(crate) fn not_found(what: &str) -> VaultError {
    VaultError::NotFound(format!("{what} not found"))
}

/// Vault `v`.
pub(crate) fn vault<'a>(st: &'a State, v: &VaultName) -> Result<&'a VaultState, VaultError> {
    st.vaults.get(v).ok_or_else(|| not_found(v.as_str()))
}

/// The soft-deleted certificate `c` of vault `v`.
pub(crate) fn deleted<'a>(
    st: &'a State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<&'a CertificateState, VaultError> {
    vault(st, v)?
        .deleted
        .get(c)
        .ok_or_else(|| not_found(c.as_str()))
}

/// The certificate `c` of vault `v`.
pub(crate) fn certificate<'a>(
    st: &'a State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<&'a CertificateState, VaultError> {
    vault(st, v)?
        .certificates
        .get(c)
        .ok_or_else(|| not_found(c.as_str()))
}
