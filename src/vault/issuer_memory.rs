//! Issuers' private state (an ACME account, an Internal CA's key and certificate): stored beside the issuer file, handed to providers as an [`IssuerMemory`].
//!
//! A provider reads and saves through a [`MemoryCell`] while no lock is
//! held; what it saved is stored afterwards, in a transaction
//! (`documents.rs`). The state may hold keys: it is never shown in the mount (only an
//! Internal CA's certificate is, as `issuers/<name>.pem`) and never logged.

use std::sync::Arc;

use parking_lot::Mutex;
use zeroize::Zeroizing;

use super::model::{IssuerMemoryText, State, VaultState, vault};
use super::name::{CertificateName, VaultName};
use crate::issuers::IssuerMemory;
use crate::issuers::internal::InternalCa;
use crate::pki::pem;

/// The prefix of an issuer's private state in the store: `issuer-memory/<name>`.
pub const DOCUMENT_PREFIX: &str = "issuer-memory/";

/// One issuer's memory during a provider call: what was stored, and what
/// the provider saved since.
pub(super) struct MemoryCell {
    stored: Option<Arc<Zeroizing<String>>>,
    saved: Mutex<Option<Zeroizing<String>>>,
}

impl IssuerMemory for Arc<MemoryCell> {
    fn load(&self) -> Option<String> {
        if let Some(saved) = self.saved.lock().as_ref() {
            return Some(saved.to_string());
        }
        self.stored.as_ref().map(|s| s.to_string())
    }

    fn save(&self, value: &str) {
        *self.saved.lock() = Some(Zeroizing::new(value.to_owned()));
    }
}

impl MemoryCell {
    /// What the provider saved during the call, if anything.
    pub(super) fn take_saved(&self) -> Option<Zeroizing<String>> {
        self.saved.lock().take()
    }
}

/// The stored form of `text`, with the CA certificate it shows if it is an Internal CA.
pub(super) fn memory_text(name: &CertificateName, text: Zeroizing<String>) -> IssuerMemoryText {
    let ca_pem = InternalCa::from_memory(name.as_str(), &text)
        .ok()
        .map(|ca| {
            let chain: String = ca
                .issuing_chain()
                .iter()
                .map(|c| pem::encode("CERTIFICATE", c))
                .collect();
            Arc::from(chain.into_bytes())
        });
    IssuerMemoryText {
        text: Arc::new(text),
        ca_pem,
    }
}

/// The memory of issuer `name` of vault `v` in `st`, for one provider call.
pub(super) fn memory_cell(st: &State, v: &VaultName, name: &CertificateName) -> Arc<MemoryCell> {
    let stored = vault(st, v)
        .ok()
        .and_then(|vs| vs.issuer_memory.get(name))
        .map(|m| m.text.clone());
    Arc::new(MemoryCell {
        stored,
        saved: Mutex::new(None),
    })
}

/// Whether issuer `name` of `vs` has stored memory.
pub(super) fn has_memory(vs: &VaultState, name: &CertificateName) -> bool {
    vs.issuer_memory.contains_key(name)
}

#[cfg(test)]
mod tests {
    /// Encryption at rest (`store::encrypted`) seals the documents under
    /// these prefixes; the two lists must stay in step.
    #[test]
    fn issuer_documents_are_those_the_store_seals() {
        assert_eq!(
            crate::store::encrypted::SEALED_DOCUMENT_PREFIXES,
            [
                super::super::issuer_file::DOCUMENT_PREFIX,
                super::DOCUMENT_PREFIX
            ]
        );
    }
}
