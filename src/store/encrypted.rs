//! `EncryptedStore`: a [`Store`] around any other that seals private keys and issuers' secret documents under the master key before they reach it.
//!
//! What is sealed (format and associated data: [`super::seal`]):
//!
//! - every version's private key ([`VersionRecord::key`]), bound to its
//!   vault, certificate and version id;
//! - documents whose key starts with one of [`SEALED_DOCUMENT_PREFIXES`]
//!   (`issuer/<name>`: passwords and API keys; `issuer-memory/<name>`: ACME
//!   account keys, an Internal CA's key), bound to their vault and key.
//!
//! Everything else (names, certificates, chains, policies, tags,
//! operations, other documents) passes through unchanged, so a stolen
//! database still shows which certificates exist, but not their keys.
//!
//! **Key check.** The store holds one extra value sealed under the master
//! key: the document [`KEY_CHECK_DOCUMENT`] of the reserved pseudo-vault
//! [`RESERVED_VAULT`] (a name no real vault can have). [`EncryptedStore::open`]
//! writes it into a store that has none, and refuses a store whose check
//! does not open ([`OpenError::WrongKey`]) before changing anything.
//! Daemons that open a store without a check at the same moment (a fleet
//! booted together on a new database) take turns through
//! [`Store::setup_guard`]: the first writes the check, the others are then
//! checked against it, so one key wins and another is refused. The
//! pseudo-vault never appears in [`Store::load`], and every write that
//! names it is refused as if it did not exist. Through the trait this needs
//! nothing of a backend but to accept `.certfs` as a vault name.
//!
//! **Migration.** A store written before encryption at rest holds clear
//! keys and documents (told apart from sealed ones by their first bytes).
//! [`EncryptedStore::open`] on a store without a key check re-seals each
//! clear value once, through the trait, one transaction per record, calls
//! [`Store::scrub`] so the clear bytes leave the backend's files (SQLite:
//! `secure_delete` and a WAL checkpoint), and only then writes the key
//! check: a crash midway resumes at the next open. Once the check exists,
//! a clear value where a sealed one belongs is refused by [`Store::load`]
//! (something wrote around certfs), so no key can be slipped in unsealed.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::master_key::MasterKey;
use super::seal::{self, Place, SealError};
use super::{
    CertificateReader, CertificateRecord, CertificateSnapshot, ChangeCallback, ChangeHint, Claim,
    DocumentRecord, Index, KeyBytes, Snapshot, Store, StoreError, VaultRecord, VersionListing,
    VersionRecord,
};

/// Document key prefixes whose values are sealed: issuer files
/// (`vault::issuers::DOCUMENT_PREFIX`) and issuers' private state
/// (`vault::issuer_memory::DOCUMENT_PREFIX`). Compared case-insensitively.
pub const SEALED_DOCUMENT_PREFIXES: [&str; 2] = ["issuer/", "issuer-memory/"];

/// The pseudo-vault that holds the key check; not a valid vault name.
pub const RESERVED_VAULT: &str = ".certfs";

/// The key check's document key in [`RESERVED_VAULT`].
pub const KEY_CHECK_DOCUMENT: &str = "master-key-check";

mod key_check;

use self::key_check::{KEY_CHECK_VALUE, check_any_sealed_value, check_key, key_check};

/// Why [`EncryptedStore::open`] refused a store.
#[derive(Debug)]
pub enum OpenError {
    /// The store was sealed under another master key.
    WrongKey,
    /// The underlying store failed, or holds a damaged sealed value.
    Store(StoreError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::WrongKey => f.write_str("the store was sealed with another master key"),
            OpenError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenError {
    /// The store error's own source: its words are this error's.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::WrongKey => None,
            OpenError::Store(e) => e.source(),
        }
    }
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> Self {
        OpenError::Store(e)
    }
}

/// A [`Store`] that seals secrets under a [`MasterKey`] before passing
/// records to the store it wraps, and opens them in [`Store::load`].
pub struct EncryptedStore {
    inner: Box<dyn Store>,
    /// Shared with the readers it makes.
    key: Arc<MasterKey>,
}

impl fmt::Debug for EncryptedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedStore").finish_non_exhaustive()
    }
}

/// Whether `name` is the reserved pseudo-vault (any case).
fn reserved(name: &str) -> bool {
    name.eq_ignore_ascii_case(RESERVED_VAULT)
}

/// Whether the document `key` holds secrets and is sealed.
pub fn is_sealed_document(key: &str) -> bool {
    SEALED_DOCUMENT_PREFIXES.iter().any(|prefix| {
        key.len() >= prefix.len()
            && key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })
}

fn version_place(v: &VersionRecord) -> Place<'_> {
    Place::VersionKey {
        vault: &v.vault,
        certificate: &v.certificate,
        version: &v.id,
    }
}

fn refused_vault(name: &str) -> StoreError {
    StoreError::NotFound(format!("vault {name}"))
}

fn sealing_failed(place: &Place<'_>, e: SealError) -> StoreError {
    StoreError::backend(format!("cannot seal {place}"), e)
}

fn stored_in_clear(place: &Place<'_>) -> StoreError {
    StoreError::Failed(format!(
        "{place} is stored in clear in a sealed store (written by something other than certfs?)"
    ))
}

fn opening_failed(place: &Place<'_>, e: SealError) -> StoreError {
    StoreError::backend(format!("{place} cannot be opened"), e)
}

impl EncryptedStore {
    /// Wraps `inner` under `key`: checks the key against the store's key
    /// check; a store without one has its clear private keys and secret
    /// documents (from before encryption) sealed, then gets its check.
    ///
    /// `WrongKey` if the store's key check, or (without one) a sealed
    /// value, does not open under `key`; the store is then unchanged.
    pub fn open(inner: Box<dyn Store>, key: MasterKey) -> Result<Self, OpenError> {
        let key = Arc::new(key);
        // The index has the documents: a sealed store's check is found
        // without reading every certificate and key.
        if let Some(value) = key_check(&*inner)? {
            return check_key(inner, key, &value);
        }
        // No check yet: a new store, one from before encryption at rest,
        // or one whose first sealing was cut short. Daemons starting
        // together on it set it up one at a time: the first seals what is
        // clear and writes the check, the others find that check.
        let setup = inner.setup_guard()?;
        if let Some(value) = key_check(&*inner)? {
            drop(setup);
            return check_key(inner, key, &value);
        }
        // Seal what is clear, then write the check, which ends accepting
        // clear values.
        let raw = inner.load()?;
        check_any_sealed_value(&raw, &key)?;
        let has_vault = raw.vaults.iter().any(|v| reserved(&v.name));
        let mut store = EncryptedStore { inner, key };
        store.seal_clear_records(raw)?;
        store.write_key_check(has_vault)?;
        drop(setup);
        Ok(store)
    }

    /// Writes the key check (and the pseudo-vault that holds it, unless it exists).
    fn write_key_check(&mut self, has_vault: bool) -> Result<(), StoreError> {
        if !has_vault {
            self.inner.create_vault(&VaultRecord {
                name: RESERVED_VAULT.into(),
                created: now(),
            })?;
        }
        let value = seal::seal_text(&self.key, &Place::KeyCheck, KEY_CHECK_VALUE)
            .map_err(|e| sealing_failed(&Place::KeyCheck, e))?;
        self.inner
            .put_document(RESERVED_VAULT, KEY_CHECK_DOCUMENT, Some(&value))
    }

    /// Whether `store` (not wrapped) already holds a key check or any
    /// sealed value, i.e. was sealed under some master key before.
    pub fn is_sealed(store: &dyn Store) -> Result<bool, StoreError> {
        let index = store.load_index()?;
        if index
            .documents
            .iter()
            .any(|d| reserved(&d.vault) && d.key.eq_ignore_ascii_case(KEY_CHECK_DOCUMENT))
        {
            return Ok(true);
        }
        let raw = store.load()?;
        let sealed = raw.documents.iter().any(|d| {
            (reserved(&d.vault) && d.key.eq_ignore_ascii_case(KEY_CHECK_DOCUMENT))
                || (is_sealed_document(&d.key) && seal::is_sealed_text(&d.value))
        }) || raw
            .versions
            .iter()
            .any(|v| v.key.as_ref().is_some_and(|k| seal::is_sealed(&k.0)));
        Ok(sealed)
    }

    /// Re-seals the clear private keys and secret documents of `raw` (as
    /// loaded from the wrapped store), one record per transaction.
    fn seal_clear_records(&mut self, raw: Snapshot) -> Result<(), StoreError> {
        let mut keys = 0;
        for v in &raw.versions {
            if v.key.as_ref().is_none_or(|k| seal::is_sealed(&k.0)) {
                continue;
            }
            let certificate = raw
                .certificates
                .iter()
                .find(|c| {
                    c.vault.eq_ignore_ascii_case(&v.vault)
                        && c.name.eq_ignore_ascii_case(&v.certificate)
                })
                .ok_or_else(|| {
                    StoreError::Failed(format!(
                        "version {} names certificate {}/{}, which is not in the store",
                        v.id, v.vault, v.certificate
                    ))
                })?;
            self.update_version(certificate, v)?;
            keys += 1;
        }
        let mut documents = 0;
        for d in &raw.documents {
            if !reserved(&d.vault) && is_sealed_document(&d.key) && !seal::is_sealed_text(&d.value)
            {
                self.put_document(&d.vault, &d.key, Some(&d.value))?;
                documents += 1;
            }
        }
        for d in raw.documents {
            drop(Zeroizing::new(d.value));
        }
        if keys + documents > 0 {
            self.inner.scrub()?;
            log::info!(
                "sealed {keys} private key(s) and {documents} issuer document(s) that were stored in clear"
            );
        }
        Ok(())
    }

    /// `v` with its key sealed for its place.
    fn sealed_version(&self, v: &VersionRecord) -> Result<VersionRecord, StoreError> {
        let key = match &v.key {
            None => None,
            Some(k) => {
                let place = version_place(v);
                let sealed =
                    seal::seal(&self.key, &place, &k.0).map_err(|e| sealing_failed(&place, e))?;
                Some(KeyBytes(Zeroizing::new(sealed)))
            }
        };
        Ok(VersionRecord {
            vault: v.vault.clone(),
            certificate: v.certificate.clone(),
            id: v.id.clone(),
            created: v.created,
            updated: v.updated,
            enabled: v.enabled,
            exportable: v.exportable,
            certificate_der: v.certificate_der.clone(),
            chain_der: v.chain_der.clone(),
            key,
        })
    }

    /// Opens the sealed values of `snapshot` in place. A clear value where
    /// a sealed one belongs is an error: after [`EncryptedStore::open`]
    /// only something writing around certfs can have put it there.
    fn open_snapshot(&self, snapshot: &mut Snapshot) -> Result<(), StoreError> {
        open_versions(&self.key, &mut snapshot.versions)?;
        self.open_documents(&mut snapshot.documents)
    }

    /// Opens the sealed documents among `documents` in place.
    fn open_documents(&self, documents: &mut [DocumentRecord]) -> Result<(), StoreError> {
        for d in documents {
            if !is_sealed_document(&d.key) {
                continue;
            }
            let place = Place::Document {
                vault: &d.vault,
                key: &d.key,
            };
            if !seal::is_sealed_text(&d.value) {
                return Err(stored_in_clear(&place));
            }
            let mut plain = seal::open_text(&self.key, &place, &d.value)
                .map_err(|e| opening_failed(&place, e))?;
            d.value = std::mem::take(&mut *plain);
        }
        Ok(())
    }
}

/// Opens the private keys of `versions` in place; a clear one is an error.
fn open_versions(key: &MasterKey, versions: &mut [VersionRecord]) -> Result<(), StoreError> {
    for v in versions {
        let Some(k) = v.key.as_ref() else {
            continue;
        };
        let place = version_place(v);
        if !seal::is_sealed(&k.0) {
            return Err(stored_in_clear(&place));
        }
        let plain = seal::open(key, &place, &k.0).map_err(|e| opening_failed(&place, e))?;
        v.key = Some(KeyBytes(plain));
    }
    Ok(())
}

/// The wrapped store's reader, opening the private keys it reads.
struct OpeningReader {
    inner: Box<dyn CertificateReader>,
    key: Arc<MasterKey>,
}

impl CertificateReader for OpeningReader {
    fn certificate_head(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<(CertificateRecord, Vec<VersionRecord>)>, StoreError> {
        if reserved(vault) {
            return Ok(None);
        }
        let Some((certificate, mut versions)) = self.inner.certificate_head(vault, name)? else {
            return Ok(None);
        };
        open_versions(&self.key, &mut versions)?;
        Ok(Some((certificate, versions)))
    }

    fn version_list(&self, vault: &str, name: &str) -> Result<Vec<VersionListing>, StoreError> {
        if reserved(vault) {
            return Ok(Vec::new());
        }
        self.inner.version_list(vault, name)
    }

    fn version(
        &self,
        vault: &str,
        name: &str,
        id: &str,
    ) -> Result<Option<VersionRecord>, StoreError> {
        if reserved(vault) {
            return Ok(None);
        }
        let Some(version) = self.inner.version(vault, name, id)? else {
            return Ok(None);
        };
        let mut one = [version];
        open_versions(&self.key, &mut one)?;
        let [version] = one;
        Ok(Some(version))
    }
}

/// Now, Unix seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store for EncryptedStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let mut snapshot = self.inner.load()?;
        snapshot.vaults.retain(|v| !reserved(&v.name));
        snapshot.documents.retain(|d| !reserved(&d.vault));
        self.open_snapshot(&mut snapshot)?;
        Ok(snapshot)
    }

    /// The wrapped store's index without the pseudo-vault, its secret
    /// documents opened.
    fn load_index(&self) -> Result<Index, StoreError> {
        let mut index = self.inner.load_index()?;
        index.vaults.retain(|v| !reserved(&v.name));
        index.certificates.retain(|c| !reserved(&c.vault));
        index.documents.retain(|d| !reserved(&d.vault));
        self.open_documents(&mut index.documents)?;
        Ok(index)
    }

    /// The wrapped store's reader, opening the keys it reads.
    fn reader(&self) -> Result<Option<Box<dyn CertificateReader>>, StoreError> {
        Ok(self.inner.reader()?.map(|inner| {
            Box::new(OpeningReader {
                inner,
                key: self.key.clone(),
            }) as Box<dyn CertificateReader>
        }))
    }

    fn create_vault(&mut self, vault: &VaultRecord) -> Result<(), StoreError> {
        if reserved(&vault.name) {
            return Err(StoreError::Conflict(format!("vault {}", vault.name)));
        }
        self.inner.create_vault(vault)
    }

    fn delete_vault(&mut self, name: &str) -> Result<(), StoreError> {
        if reserved(name) {
            return Err(refused_vault(name));
        }
        self.inner.delete_vault(name)
    }

    fn put_certificate(
        &mut self,
        certificate: &CertificateRecord,
        version: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        if reserved(&certificate.vault) {
            return Err(refused_vault(&certificate.vault));
        }
        let sealed = version.map(|v| self.sealed_version(v)).transpose()?;
        self.inner.put_certificate(certificate, sealed.as_ref())
    }

    fn update_version(
        &mut self,
        certificate: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<(), StoreError> {
        if reserved(&certificate.vault) {
            return Err(refused_vault(&certificate.vault));
        }
        let sealed = self.sealed_version(version)?;
        self.inner.update_version(certificate, &sealed)
    }

    fn delete_version(
        &mut self,
        certificate: &CertificateRecord,
        id: &str,
    ) -> Result<(), StoreError> {
        if reserved(&certificate.vault) {
            return Err(refused_vault(&certificate.vault));
        }
        self.inner.delete_version(certificate, id)
    }

    fn restore_certificate(
        &mut self,
        certificate: &CertificateRecord,
        versions: &[VersionRecord],
    ) -> Result<(), StoreError> {
        if reserved(&certificate.vault) {
            return Err(refused_vault(&certificate.vault));
        }
        let sealed = versions
            .iter()
            .map(|v| self.sealed_version(v))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.restore_certificate(certificate, &sealed)
    }

    fn delete_certificate(&mut self, vault: &str, name: &str) -> Result<(), StoreError> {
        if reserved(vault) {
            return Err(refused_vault(vault));
        }
        self.inner.delete_certificate(vault, name)
    }

    fn put_document(
        &mut self,
        vault: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        if reserved(vault) {
            return Err(refused_vault(vault));
        }
        match value {
            Some(text) if is_sealed_document(key) => {
                let place = Place::Document { vault, key };
                let sealed = seal::seal_text(&self.key, &place, text)
                    .map_err(|e| sealing_failed(&place, e))?;
                self.inner.put_document(vault, key, Some(&sealed))
            }
            _ => self.inner.put_document(vault, key, value),
        }
    }

    fn scrub(&mut self) -> Result<(), StoreError> {
        self.inner.scrub()
    }

    /// The inner store's read of one certificate, its versions' keys opened.
    fn load_certificate(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<CertificateSnapshot>, StoreError> {
        if reserved(vault) {
            return Ok(None);
        }
        let Some(mut one) = self.inner.load_certificate(vault, name)? else {
            return Ok(None);
        };
        let mut opened = Snapshot {
            versions: std::mem::take(&mut one.versions),
            ..Snapshot::default()
        };
        self.open_snapshot(&mut opened)?;
        one.versions = opened.versions;
        Ok(Some(one))
    }

    /// The wrapped store's vault (never the one that holds the key check).
    fn load_vault(&self, name: &str) -> Result<Option<VaultRecord>, StoreError> {
        if reserved(name) {
            return Ok(None);
        }
        self.inner.load_vault(name)
    }

    /// The wrapped store's document, opened if it is a sealed one.
    fn load_document(&self, vault: &str, key: &str) -> Result<Option<String>, StoreError> {
        if reserved(vault) {
            return Ok(None);
        }
        let Some(value) = self.inner.load_document(vault, key)? else {
            return Ok(None);
        };
        let mut one = [DocumentRecord {
            vault: vault.to_owned(),
            key: key.to_owned(),
            value,
        }];
        self.open_documents(&mut one)?;
        let [d] = one;
        Ok(Some(d.value))
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    /// The inner store's claims: sealing has nothing to do with them.
    fn claim(&self, work: &str) -> Result<Option<Box<dyn Claim>>, StoreError> {
        self.inner.claim(work)
    }

    fn setup_guard(&self) -> Result<Box<dyn Claim>, StoreError> {
        self.inner.setup_guard()
    }

    /// The inner store's watch, without hints about the reserved vault
    /// (the key check), which [`EncryptedStore::load`] does not show either.
    fn watch(&self, on_change: ChangeCallback) -> Result<(), StoreError> {
        self.inner.watch(Box::new(move |hint| {
            let vault = match &hint {
                ChangeHint::Vault { vault }
                | ChangeHint::Certificate { vault, .. }
                | ChangeHint::Document { vault, .. } => Some(vault.as_str()),
                ChangeHint::Everything => None,
            };
            if !vault.is_some_and(reserved) {
                on_change(hint);
            }
        }))
    }
}

#[cfg(test)]
#[path = "encrypted_tests.rs"]
mod tests;
