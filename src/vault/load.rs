//! Turning the store's records into the in-memory model: everything at mount, or the index at mount and each certificate on first use.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::access::{self, Perm, Perms};
use super::catalog::{Certificates, Loader, Summary};
use super::certificate_state::{CertificateState, PendingVersion};
use super::contacts::{self, Contacts};
use super::error::{Stored, VaultError};
use super::hooks::{self, Hooks};
use super::issuer_file::{self, IssuerBundle};
use super::issuer_memory;
use super::ledger::{self, Ledger};
use super::model::{IssuerMemoryText, State, VaultState};
use super::name::{CertificateName, VaultName, VersionId};
use super::operation::Operation;
use super::operation::{csr_pem, with_json};
use super::policy::Policy;
use super::run_log::RunLog;
use super::settings::{self, VaultSettings};
use super::shelf::{KEPT, Place, Shelf};
use super::status;
use super::tags;
use super::version::{Version, VersionBody};
use super::version_list::VersionList;
use crate::pki::key::PrivateKey;
use crate::store::{
    CertificateReader, CertificateRecord, DocumentRecord, Index, Snapshot, VaultRecord,
    VersionRecord,
};
use zeroize::Zeroizing;

/// `key` without `prefix` (compared case-insensitively), if it starts with it.
fn strip_prefix_ci<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|p| &key[p.len()..])
}

/// What vault documents hold for single certificates (their run logs and
/// hooks), by vault and certificate.
#[derive(Default)]
struct CertificateDocuments {
    run_logs: BTreeMap<(VaultName, CertificateName), RunLog>,
    hook_sets: BTreeMap<(VaultName, CertificateName), Hooks>,
    perm_sets: BTreeMap<(VaultName, CertificateName), Perms>,
}

impl CertificateDocuments {
    /// Gives `cs`, of vault `vault`, what its documents hold.
    fn attach(&self, vault: &VaultName, cs: &mut CertificateState) {
        let key = (vault.clone(), cs.name.clone());
        if let Some(log) = self.run_logs.get(&key) {
            cs.run_log = log.clone();
        }
        if let Some(perms) = self.perm_sets.get(&key) {
            cs.perms = perms.clone();
        }
        if let Some(parsed) = self.hook_sets.get(&key) {
            cs.hooks = parsed.clone().into();
        }
    }
}

/// The stored certificate `c`, as an error names it.
fn certificate_of(c: &CertificateRecord) -> Stored {
    Stored::Certificate {
        vault: c.vault.clone(),
        certificate: c.name.clone(),
    }
}

/// The stored document `key` of vault `vault`, as an error names it.
fn document_of(vault: &VaultName, key: &str) -> Stored {
    Stored::Document {
        vault: vault.to_string(),
        key: key.to_owned(),
    }
}

/// The stored version `v`, as an error names it.
fn version_of(v: &VersionRecord) -> Stored {
    Stored::Version {
        vault: v.vault.clone(),
        certificate: v.certificate.clone(),
        version: v.id.clone(),
    }
}

/// The model from the store's index: every vault and document, every
/// certificate's name and times; each certificate is read through
/// `reader` when first used, except those with an operation (work may be
/// waiting on them), which are read now.
pub(super) fn state_from_index(
    index: Index,
    reader: Box<dyn CertificateReader>,
) -> Result<State, VaultError> {
    let (mut state, documents) = vaults_and_documents(index.vaults, index.documents)?;
    // A directory's stored mode shows in stat, which reads no certificate.
    let directories: BTreeMap<(VaultName, CertificateName), Perm> = documents
        .perm_sets
        .iter()
        .filter_map(|(key, perms)| Some((key.clone(), *perms.get(access::DIRECTORY)?)))
        .collect();
    let loader: Arc<dyn Loader> = Arc::new(StoreLoader {
        shelf: Arc::new(Shelf::new(reader, KEPT)),
        documents,
    });
    for vs in state.vaults.values_mut() {
        vs.certificates = Certificates::lazy(vs.name.clone(), loader.clone());
        vs.deleted = Certificates::lazy(vs.name.clone(), loader.clone());
    }
    for c in index.certificates {
        let object = || Stored::Certificate {
            vault: c.vault.clone(),
            certificate: c.name.clone(),
        };
        let vault = VaultName::parse(&c.vault)
            .map_err(|e| VaultError::unreadable_by(object(), "its vault's name", e))?;
        let name = CertificateName::parse(&c.name)
            .map_err(|e| VaultError::unreadable_by(object(), "its name", e))?;
        let vs = state
            .vaults
            .get_mut(&vault)
            .ok_or_else(|| VaultError::unreadable(object(), "its vault is not stored"))?;
        let home = if c.deleted.is_some() {
            &mut vs.deleted
        } else {
            &mut vs.certificates
        };
        home.add_unread(
            name.clone(),
            Summary {
                updated: c.updated,
                deleted: c.deleted,
                purge_at: c.purge_at,
                directory: directories.get(&(vault.clone(), name.clone())).copied(),
            },
        );
        if c.has_operation && home.get(&name).is_none() {
            return Err(VaultError::unreadable(object(), "it cannot be read"));
        }
    }
    Ok(state)
}

/// Reads certificates through a store's reader.
struct StoreLoader {
    shelf: Arc<Shelf>,
    /// As of mount. A certificate is read once and changed in memory from
    /// then on, so these are never stale when used.
    documents: CertificateDocuments,
}

impl Loader for StoreLoader {
    fn load(
        &self,
        vault: &VaultName,
        name: &CertificateName,
    ) -> Result<Option<CertificateState>, VaultError> {
        let Some((c, head)) = self.shelf.head(vault, name)? else {
            return Ok(None);
        };
        let place = self.place(vault, name).ok_or_else(|| {
            VaultError::Internal("a store loader without a place for versions".into())
        })?;
        let mut cs = certificate_with_versions(&c, head, Some(&place))?;
        if cs.name.as_str() == name.as_str() {
            // The catalog's own text: one copy per certificate.
            cs.name = name.clone();
        }
        self.documents.attach(vault, &mut cs);
        Ok(Some(cs))
    }

    fn place(&self, vault: &VaultName, name: &CertificateName) -> Option<Arc<Place>> {
        Some(Arc::new(Place {
            shelf: self.shelf.clone(),
            vault: vault.clone(),
            certificate: name.clone(),
        }))
    }

    fn due(&self, vault: &VaultName, name: &CertificateName) -> Result<Option<i64>, VaultError> {
        let Some((c, head)) = self.shelf.head(vault, name)? else {
            return Ok(None);
        };
        let policy = Policy::parse_stored(c.policy.as_bytes())
            .map_err(|e| VaultError::unreadable_by(certificate_of(&c), "its policy", e))?;
        let (Some(action), Some(leaf)) = (
            policy.lifetime_actions.first(),
            head.iter().rev().find_map(|v| v.certificate_der.as_ref()),
        ) else {
            return Ok(None);
        };
        let info = crate::pki::x509::inspect(leaf).map_err(|e| {
            VaultError::unreadable_by(certificate_of(&c), "its current certificate", e)
        })?;
        Ok(Some(status::due_between(
            action,
            info.not_before,
            info.not_after,
        )))
    }
}

/// Certificate `c` with its `versions` (oldest first), as the model holds
/// it: all of them (`place`: `None`), or its head, the others stored at
/// `place`.
pub(super) fn certificate_with_versions(
    c: &CertificateRecord,
    versions: Vec<VersionRecord>,
    place: Option<&Arc<Place>>,
) -> Result<CertificateState, VaultError> {
    let mut cs = certificate_from_record(c)?;
    let mut completed = Vec::with_capacity(versions.len());
    for v in versions {
        if v.certificate_der.is_none() {
            let operation = cs.operation.as_deref().map(|(op, _)| op);
            cs.pending = pending_from_record(&v, operation)?.map(Arc::new);
        } else if let Some(version) = version_from_record(&v, cs.name.as_str(), place)? {
            completed.push(Arc::new(version));
        }
    }
    cs.versions = match place {
        Some(place) => VersionList::head(completed, place.clone()),
        None => VersionList::whole(completed),
    };
    Ok(cs)
}

/// The vaults, with their documents, and no certificates yet; what the
/// documents hold for single certificates.
fn vaults_and_documents(
    vaults: Vec<VaultRecord>,
    documents: Vec<DocumentRecord>,
) -> Result<(State, CertificateDocuments), VaultError> {
    let mut state = State::default();
    for v in vaults {
        let name = VaultName::parse(&v.name)
            .map_err(|e| VaultError::unreadable_by(Stored::Vault(v.name.clone()), "its name", e))?;
        state
            .vaults
            .insert(name.clone(), VaultState::new(name, v.created));
    }
    // Run logs and hooks belong to certificates, which are loaded after.
    let mut run_logs = BTreeMap::new();
    let mut hook_sets = BTreeMap::new();
    let mut perm_sets = BTreeMap::new();
    for d in documents {
        let object = || Stored::Document {
            vault: d.vault.clone(),
            key: d.key.clone(),
        };
        let vault = VaultName::parse(&d.vault)
            .map_err(|e| VaultError::unreadable_by(object(), "its vault's name", e))?;
        let vs = state
            .vaults
            .get_mut(&vault)
            .ok_or_else(|| VaultError::unreadable(object(), "its vault is not stored"))?;
        // A document this certfs cannot read is skipped (and said): one bad
        // setting must not keep every certificate from being served.
        let skip =
            |e: VaultError| log::error!("vault {vault}: stored {} skipped: {}", d.key, e.message());
        let slot = match DocumentSlot::of(&vault, &d.key) {
            Ok(Some(slot)) => slot,
            Ok(None) => {
                log::warn!("vault {vault}: unknown stored document {}", d.key);
                continue;
            }
            Err(e) => {
                skip(e);
                continue;
            }
        };
        match slot.read(&vault, &d.key, d.value) {
            Ok(StoredDocument::Settings(settings)) => vs.settings = settings,
            Ok(StoredDocument::Contacts(parsed)) => vs.contacts = Some(parsed),
            Ok(StoredDocument::RunLog(name, log)) => {
                run_logs.insert((vault.clone(), name), log);
            }
            Ok(StoredDocument::Perms(name, perms)) => {
                perm_sets.insert((vault.clone(), name), perms);
            }
            Ok(StoredDocument::Hooks(name, parsed)) => {
                hook_sets.insert((vault.clone(), name), parsed);
            }
            Ok(StoredDocument::IssuerMemory(name, text)) => {
                vs.issuer_memory.insert(name, text);
            }
            Ok(StoredDocument::Issuer(name, bundle)) => {
                vs.issuers.insert(name, *bundle);
            }
            Ok(StoredDocument::Ledger(name, ledger)) => {
                vs.ledgers.insert(name, ledger);
            }
            Err(e) => skip(e),
        }
    }
    Ok((
        state,
        CertificateDocuments {
            run_logs,
            hook_sets,
            perm_sets,
        },
    ))
}

/// What a vault document's key names: a setting of the vault, or a
/// document of one certificate or issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DocumentSlot {
    /// `vault.json`.
    Settings,
    /// `contacts.json`.
    Contacts,
    /// A certificate's run log (`status.json`).
    RunLog(CertificateName),
    /// A certificate's stored modes and owners.
    Perms(CertificateName),
    /// A certificate's `hooks.json`.
    Hooks(CertificateName),
    /// An issuer's private state.
    IssuerMemory(CertificateName),
    /// `issuers/<name>.json`.
    Issuer(CertificateName),
    /// What an issuer issued and revoked.
    Ledger(CertificateName),
}

/// A stored vault document, read.
pub(super) enum StoredDocument {
    Settings(VaultSettings),
    Contacts(Contacts),
    RunLog(CertificateName, RunLog),
    Perms(CertificateName, Perms),
    Hooks(CertificateName, Hooks),
    IssuerMemory(CertificateName, IssuerMemoryText),
    Issuer(CertificateName, Box<IssuerBundle>),
    Ledger(CertificateName, Ledger),
}

impl DocumentSlot {
    /// What the stored key `key` of vault `vault` names (in any case);
    /// `None` for a key this certfs does not know.
    pub(super) fn of(vault: &VaultName, key: &str) -> Result<Option<DocumentSlot>, VaultError> {
        let named = |name: &str, slot: fn(CertificateName) -> DocumentSlot| {
            CertificateName::parse(name)
                .map(|n| Some(slot(n)))
                .map_err(|e| VaultError::unreadable_by(document_of(vault, key), "its name", e))
        };
        if key.eq_ignore_ascii_case(settings::DOCUMENT_KEY) {
            Ok(Some(DocumentSlot::Settings))
        } else if key.eq_ignore_ascii_case(contacts::DOCUMENT_KEY) {
            Ok(Some(DocumentSlot::Contacts))
        } else if let Some(name) = strip_prefix_ci(key, super::run_log::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::RunLog)
        } else if let Some(name) = strip_prefix_ci(key, access::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::Perms)
        } else if let Some(name) = strip_prefix_ci(key, hooks::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::Hooks)
        } else if let Some(name) = strip_prefix_ci(key, issuer_memory::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::IssuerMemory)
        } else if let Some(name) = strip_prefix_ci(key, issuer_file::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::Issuer)
        } else if let Some(name) = strip_prefix_ci(key, ledger::DOCUMENT_PREFIX) {
            named(name, DocumentSlot::Ledger)
        } else {
            Ok(None)
        }
    }

    /// The document in this slot whose stored value is `value`; `vault`
    /// and `key` say where it is stored (for an error).
    pub(super) fn read(
        self,
        vault: &VaultName,
        key: &str,
        value: String,
    ) -> Result<StoredDocument, VaultError> {
        let unreadable =
            |e: VaultError| VaultError::unreadable_by(document_of(vault, key), "its content", e);
        let garbled =
            || VaultError::unreadable(document_of(vault, key), "it is no JSON certfs wrote");
        Ok(match self {
            DocumentSlot::Settings => {
                StoredDocument::Settings(VaultSettings::from_stored(&value).map_err(unreadable)?)
            }
            DocumentSlot::Contacts => {
                StoredDocument::Contacts(Contacts::parse(value.as_bytes()).map_err(unreadable)?)
            }
            DocumentSlot::RunLog(name) => {
                StoredDocument::RunLog(name, RunLog::from_stored(&value).ok_or_else(garbled)?)
            }
            DocumentSlot::Perms(name) => {
                StoredDocument::Perms(name, access::perms_from_stored(&value).ok_or_else(garbled)?)
            }
            DocumentSlot::Hooks(name) => {
                StoredDocument::Hooks(name, Hooks::parse(value.as_bytes()).map_err(unreadable)?)
            }
            DocumentSlot::IssuerMemory(name) => {
                let text = issuer_memory::memory_text(&name, Zeroizing::new(value));
                StoredDocument::IssuerMemory(name, text)
            }
            DocumentSlot::Issuer(name) => StoredDocument::Issuer(
                name,
                Box::new(IssuerBundle::from_stored(&value).map_err(unreadable)?),
            ),
            DocumentSlot::Ledger(name) => {
                StoredDocument::Ledger(name, Ledger::from_stored(&value).ok_or_else(garbled)?)
            }
        })
    }
}

/// The whole model from what the store holds.
pub(super) fn state_from_snapshot(snapshot: Snapshot) -> Result<State, VaultError> {
    let (mut state, documents) = vaults_and_documents(snapshot.vaults, snapshot.documents)?;
    for c in snapshot.certificates {
        let mut cert = certificate_from_record(&c)?;
        let vault = VaultName::parse(&c.vault)
            .map_err(|e| VaultError::unreadable_by(certificate_of(&c), "its vault's name", e))?;
        documents.attach(&vault, &mut cert);
        let vs = state
            .vaults
            .get_mut(&vault)
            .ok_or_else(|| VaultError::unreadable(certificate_of(&c), "its vault is not stored"))?;
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
            return Err(VaultError::unreadable(
                version_of(&v),
                "its vault or certificate name",
            ));
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
            .ok_or_else(|| {
                VaultError::unreadable(version_of(&v), "its certificate is not stored")
            })?;
        if v.certificate_der.is_none() {
            let operation = owner.operation.as_deref().map(|(op, _)| op);
            owner.pending = pending_from_record(&v, operation)?.map(Arc::new);
        } else if let Some(version) = version_from_record(&v, owner.name.as_str(), None)? {
            owner.versions.push(Arc::new(version));
        }
    }
    Ok(state)
}

pub(super) fn certificate_from_record(
    c: &CertificateRecord,
) -> Result<CertificateState, VaultError> {
    let name = CertificateName::parse(&c.name)
        .map_err(|e| VaultError::unreadable_by(certificate_of(c), "its name", e))?;
    let policy = Policy::parse_stored(c.policy.as_bytes())
        .map_err(|e| VaultError::unreadable_by(certificate_of(c), "its policy", e))?;
    let tags = tags::parse(c.tags.as_bytes())?;
    Ok(CertificateState {
        name,
        policy: Arc::new(policy),
        tags,
        created: c.created,
        updated: c.updated,
        versions: VersionList::default(),
        operation: c
            .operation
            .as_deref()
            .map(Operation::from_json)
            .transpose()
            .map_err(|e| VaultError::unreadable_by(certificate_of(c), "its operation", e))?
            .map(with_json),
        pending: None,
        deleted: c.deleted,
        purge_at: c.purge_at,
        run_log: RunLog::default(),
        hooks: Default::default(),
        perms: Default::default(),
    })
}

/// A completed version from its record, held (`place`: `None`) or
/// shelved for `place`; pending versions (no certificate yet) are not shown.
pub(super) fn version_from_record(
    v: &VersionRecord,
    friendly_name: &str,
    place: Option<&Arc<Place>>,
) -> Result<Option<Version>, VaultError> {
    if v.certificate_der.is_none() {
        return Ok(None);
    }
    let body = VersionBody::from_record(v, friendly_name)?;
    Version::with_body(v, body, place).map(Some)
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
    let key = key.ok_or_else(|| {
        VaultError::unreadable(version_of(v), format!("pending version {id} has no key"))
    })?;
    let csr = op
        .csr_der()
        .map_err(|e| VaultError::unreadable_by(version_of(v), "its operation's CSR", e))?;
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
        .map_err(|e| VaultError::unreadable_by(version_of(v), "its id", e))?;
    let key = v
        .key
        .as_ref()
        .map(|k| PrivateKey::from_pkcs8_der(&k.0))
        .transpose()
        .map_err(|e| VaultError::unreadable_by(version_of(v), "its key", e))?;
    Ok((id, key))
}

#[cfg(test)]
mod tests;
