//! Writes to a vault's own documents: `contacts.json` and `issuers/<name>.json` (set, replace, `rm`).

use super::contacts::{self, Contacts};
use super::error::VaultError;
use super::issuers::{self, IssuerBundle};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::service::{Changes, VaultService, not_found, vault};

impl VaultService {
    /// A write to `contacts.json`.
    pub(super) fn write_contacts(&self, v: &VaultName, data: &[u8]) -> Result<Changes, VaultError> {
        let contacts = Contacts::parse(data)?;
        let mut store = self.store.lock();
        store.put_document(
            v.as_str(),
            contacts::DOCUMENT_KEY,
            Some(&contacts.to_json()),
        )?;
        let mut st = self.state.write();
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
    pub(super) fn delete_contacts(&self, v: &VaultName) -> Result<Changes, VaultError> {
        let mut store = self.store.lock();
        store.put_document(v.as_str(), contacts::DOCUMENT_KEY, None)?;
        let mut st = self.state.write();
        st.vaults
            .get_mut(v)
            .ok_or_else(|| not_found(v.as_str()))?
            .contacts = None;
        log::info!("vault {v}: contacts deleted");
        Ok(Changes {
            dirs: vec![Node::Vault(v.clone())],
        })
    }

    /// A write to `issuers/<name>.json`: sets or replaces the issuer.
    pub(super) fn write_issuer(
        &self,
        v: &VaultName,
        name: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let mut store = self.store.lock();
        let (previous, stored_name) = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            match vs.issuers.get_key_value(name) {
                Some((n, b)) => (Some(b.clone()), n.clone()),
                None => (None, name.clone()),
            }
        };
        let bundle = IssuerBundle::parse_update(data, previous.as_ref())?;
        let key = format!("{}{stored_name}", issuers::DOCUMENT_PREFIX);
        store.put_document(v.as_str(), &key, Some(&bundle.to_stored()))?;
        let provider = bundle.provider.clone();
        let mut st = self.state.write();
        let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
        vs.issuers.insert(stored_name.clone(), bundle);
        log::info!("vault {v}: issuer {stored_name} ({provider}) set");
        Ok(Changes {
            dirs: vec![Node::Issuers(v.clone())],
        })
    }

    /// `rm issuers/<name>.json`.
    pub(super) fn delete_issuer(
        &self,
        v: &VaultName,
        name: &CertificateName,
    ) -> Result<Changes, VaultError> {
        let mut store = self.store.lock();
        let stored_name = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            vs.issuers
                .get_key_value(name)
                .map(|(n, _)| n.clone())
                .ok_or_else(|| not_found(&format!("{name}.json")))?
        };
        store.put_document(
            v.as_str(),
            &format!("{}{stored_name}", issuers::DOCUMENT_PREFIX),
            None,
        )?;
        let mut st = self.state.write();
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
}
