//! Writes to a vault's own documents: `contacts.json`, `issuers/<name>.json` (set, replace, `rm`) and the issuers' private state.

use super::access::Caller;
use super::changes::Changes;
use super::connect::check_paths;
use super::contacts::{self, Contacts};
use super::error::VaultError;
use super::issued;
use super::issuer_file::{self, IssuerBundle};
use super::issuer_memory::{self, MemoryCell, has_memory, memory_text};
use super::model::{VaultState, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::service::{Transaction, VaultService};
use zeroize::Zeroizing;

use crate::as_user::Identity;
use crate::issuers::IssuerError;
use crate::issuers::internal::InternalCa;
use crate::pki::key::PrivateKey;

/// Whom a document `caller` writes remembers as its writer (the paths it
/// names are opened as this user): the caller's uid, gid and groups.
pub(super) fn writer_of(caller: &Caller) -> Identity {
    Identity {
        uid: caller.uid,
        gid: caller.gid,
        groups: caller.groups.clone(),
    }
}

impl VaultService {
    /// A write to `issuers/<name>.json` by `writer`: sets or replaces the
    /// issuer, which remembers `writer`; the paths it names are checked
    /// as `writer` first.
    pub(super) fn write_issuer(
        &self,
        writer: &Identity,
        v: &VaultName,
        name: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        // An Internal issuer's CA is made when its file is first written:
        // the key is generated before the writer lock is taken.
        let (new_ca, parsed, vault_ca) = {
            let st = self.model();
            let vs = vault(&st, v)?;
            let previous = vs.issuers.get(name);
            let bundle = IssuerBundle::parse_update(data, previous)?;
            let new_ca = match bundle.internal_ca_settings(name.as_str())? {
                Some(settings) if !has_memory(vs, name) => Some(settings),
                _ => None,
            };
            let vault_ca = match bundle.ca_certificate() {
                Some(c) => Some(ca_of_certificate(vs, name, c)?),
                None => None,
            };
            (new_ca, bundle, vault_ca)
        };
        // Files are looked at holding no lock (they never block, but take a thread).
        check_paths(&parsed, writer)?;
        let new_ca = new_ca
            .map(|settings| InternalCa::create(name.as_str(), &settings))
            .transpose()
            .map_err(|e| VaultError::BadParameter(format!("The private CA cannot be made: {e}")))?;
        let mut tx = self.transaction();
        let (previous, stored_name, has_ca) = {
            let st = tx.model();
            let vs = vault(&st, v)?;
            let has_ca = has_memory(vs, name);
            match vs.issuers.get_key_value(name) {
                Some((n, b)) => (Some(b.clone()), n.clone(), has_ca),
                None => (None, name.clone(), has_ca),
            }
        };
        let mut bundle = IssuerBundle::parse_update(data, previous.as_ref())?;
        // Paths are opened as whoever chose them: a write that keeps
        // another user's paths (root rotating a password with sed -i)
        // keeps that user as the writer.
        bundle.writer = match previous {
            Some(p) if p.writer.is_some() && p.names_paths() && p.paths() == bundle.paths() => {
                p.writer
            }
            _ => Some(writer.clone()),
        };
        if let Some(ca) = new_ca.filter(|_| !has_ca) {
            put_memory(&mut tx, v, &stored_name, ca.to_memory())?;
            log::info!("vault {v}: issuer {stored_name} has a new private CA");
        }
        if let Some(ca) = vault_ca {
            // Taken anew at every write: after its certificate is renewed,
            // writing the issuer file again makes it sign with the new one.
            put_memory(&mut tx, v, &stored_name, ca.to_memory())?;
            log::info!("vault {v}: issuer {stored_name} signs with a CA certificate of the vault");
        }
        let key = format!("{}{stored_name}", issuer_file::DOCUMENT_PREFIX);
        tx.store()
            .put_document(v.as_str(), &key, Some(&bundle.to_stored()))?;
        let provider = bundle.provider.clone();
        let mut st = tx.model_mut();
        let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
        vs.issuers.insert(stored_name.clone(), bundle);
        log::info!("vault {v}: issuer {stored_name} ({provider}) set");
        Ok(Changes {
            dirs: vec![Node::Issuers(v.clone())],
        })
    }

    /// Stores what a provider saved in `cell` during a call, if anything.
    pub(super) fn keep_memory(
        &self,
        v: &VaultName,
        name: &CertificateName,
        cell: &MemoryCell,
    ) -> Result<(), VaultError> {
        let Some(text) = cell.take_saved() else {
            return Ok(());
        };
        put_memory(&mut self.transaction(), v, name, text)
    }
}

/// The CA that the current version of certificate `c` of `vs` is, for issuer `issuer`.
fn ca_of_certificate(
    vs: &VaultState,
    issuer: &CertificateName,
    c: &str,
) -> Result<InternalCa, VaultError> {
    let refuse = |why: &str| {
        VaultError::BadParameter(format!(
            "ca.certificate: {c} cannot be issuer {issuer}'s CA: {why}"
        ))
    };
    let name = CertificateName::parse(c).map_err(|e| refuse(&e.0))?;
    let cs = vs
        .certificates
        .get(&name)
        .ok_or_else(|| refuse("no such certificate in this vault"))?;
    let current = cs.current().ok_or_else(|| {
        refuse("it has no completed version (merge its signed certificate first)")
    })?;
    let current = current.body()?;
    let key = current
        .key
        .as_ref()
        .ok_or_else(|| refuse("its key is not in the vault"))?;
    let key = PrivateKey::from_pkcs8_der(key.pkcs8_der())?;
    InternalCa::from_certificate(
        issuer.as_str(),
        key,
        current.leaf.clone(),
        current.chain.clone(),
    )
    .map_err(|e| match e {
        IssuerError::Rejected(why) => refuse(&why),
        IssuerError::Pki(p) => VaultError::from(p),
    })
}

/// A write to `contacts.json`.
pub(super) fn write_contacts(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    data: &[u8],
) -> Result<Changes, VaultError> {
    let contacts = Contacts::parse(data)?;
    tx.store().put_document(
        v.as_str(),
        contacts::DOCUMENT_KEY,
        Some(&contacts.to_json()),
    )?;
    let mut st = tx.model_mut();
    st.vaults
        .get_mut(v)
        .ok_or_else(|| not_found(v.as_str()))?
        .contacts = Some(contacts);
    log::info!("vault {v}: contacts set");
    Ok(Changes {
        dirs: vec![Node::Vault(v.clone())],
    })
}

/// `rm contacts.json`.
pub(super) fn delete_contacts(
    tx: &mut Transaction<'_>,
    v: &VaultName,
) -> Result<Changes, VaultError> {
    tx.store()
        .put_document(v.as_str(), contacts::DOCUMENT_KEY, None)?;
    let mut st = tx.model_mut();
    st.vaults
        .get_mut(v)
        .ok_or_else(|| not_found(v.as_str()))?
        .contacts = None;
    log::info!("vault {v}: contacts deleted");
    Ok(Changes {
        dirs: vec![Node::Vault(v.clone())],
    })
}

/// `rm issuers/<name>.json`.
pub(super) fn delete_issuer(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
) -> Result<Changes, VaultError> {
    let stored_name = {
        let st = tx.model();
        let vs = vault(&st, v)?;
        vs.issuers
            .get_key_value(name)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| not_found(&format!("{name}.json")))?
    };
    tx.store().put_document(
        v.as_str(),
        &format!("{}{stored_name}", issuer_file::DOCUMENT_PREFIX),
        None,
    )?;
    // The issuer's private state (an ACME account, an Internal CA's key)
    // goes with it: writing the file again makes a new one.
    drop_memory(tx, v, &stored_name)?;
    // So does what it issued and revoked (its folder in issuers/).
    issued::drop_ledger(tx, v, &stored_name)?;
    let mut st = tx.model_mut();
    st.vaults
        .get_mut(v)
        .ok_or_else(|| not_found(v.as_str()))?
        .issuers
        .remove(name);
    log::info!("vault {v}: issuer {stored_name} deleted");
    Ok(Changes {
        dirs: vec![Node::Issuers(v.clone())],
    })
}

/// Stores `text` as the memory of issuer `name` and shows it.
fn put_memory(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
    text: Zeroizing<String>,
) -> Result<(), VaultError> {
    let key = format!("{}{name}", issuer_memory::DOCUMENT_PREFIX);
    tx.store().put_document(v.as_str(), &key, Some(&text))?;
    let mut st = tx.model_mut();
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    vs.issuer_memory
        .insert(name.clone(), memory_text(name, text));
    Ok(())
}

/// Forgets the memory of issuer `name`.
fn drop_memory(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
) -> Result<(), VaultError> {
    let key = format!("{}{name}", issuer_memory::DOCUMENT_PREFIX);
    tx.store().put_document(v.as_str(), &key, None)?;
    if let Some(vs) = tx.model_mut().vaults.get_mut(v) {
        vs.issuer_memory.remove(name);
    }
    Ok(())
}
