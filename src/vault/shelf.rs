//! The shelf: versions' bodies read from the store on demand, those used most recently kept within a bound.
//!
//! Reading a certificate at first use reads only the versions that show
//! it now ([`CertificateReader::certificate_head`]); its older versions are
//! listed when something lists or names them, and each one's body is read
//! when something opens it. The shelf keeps at most [`KEPT`] bodies alive
//! (second-chance order: a body used since the shelf last looked stays for
//! another round), so memory does not grow with history nor with how many
//! certificates a backup walks through. A body something still holds (a
//! transaction, a switch) stays readable through its version's weak link
//! until that ends.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

use super::error::{Stored, VaultError};
use super::name::{CertificateName, VaultName, VersionId};
use crate::store::{CertificateReader, CertificateRecord, VersionListing, VersionRecord};

/// How many bodies the shelf keeps alive: the current versions of a few
/// thousand certificates a server loads at once, and then some.
pub(crate) const KEPT: usize = 4096;

/// What the shelf keeps alive: a version's body, which says whether it
/// was used since the shelf last looked (and forgets it, saying so).
pub(crate) trait Kept: Send + Sync {
    /// Whether it was used since the last call.
    fn take_used(&self) -> bool;
}

/// Reads single certificates and versions from the store, and keeps the
/// bodies read most recently.
pub(crate) struct Shelf {
    reader: Mutex<Box<dyn CertificateReader>>,
    kept: Mutex<VecDeque<Arc<dyn Kept>>>,
    capacity: usize,
}

/// Where a certificate's versions are stored: what a version needs to read
/// its body again.
pub(crate) struct Place {
    pub shelf: Arc<Shelf>,
    pub vault: VaultName,
    pub certificate: CertificateName,
}

impl Shelf {
    /// A shelf reading through `reader`, keeping at most `capacity` bodies.
    pub fn new(reader: Box<dyn CertificateReader>, capacity: usize) -> Shelf {
        Shelf {
            reader: Mutex::new(reader),
            kept: Mutex::new(VecDeque::with_capacity(capacity.min(KEPT))),
            capacity: capacity.max(1),
        }
    }

    /// Certificate `name` of `vault` with the versions that show it now
    /// (see [`CertificateReader::certificate_head`]).
    pub fn head(
        &self,
        vault: &VaultName,
        name: &CertificateName,
    ) -> Result<Option<(CertificateRecord, Vec<VersionRecord>)>, VaultError> {
        Ok(self
            .reader
            .lock()
            .certificate_head(vault.as_str(), name.as_str())?)
    }

    /// Keeps `body` alive among the most recently used, letting go of the
    /// least recently used one beyond the bound.
    pub fn keep(&self, body: Arc<dyn Kept>) {
        let mut kept = self.kept.lock();
        kept.push_back(body);
        // Each body used since the last look goes round once more; at most
        // one full round, then the oldest goes regardless.
        let mut looked = 0;
        while kept.len() > self.capacity {
            let Some(oldest) = kept.pop_front() else {
                break;
            };
            if looked < kept.len() && oldest.take_used() {
                kept.push_back(oldest);
                looked += 1;
            }
        }
    }

    /// How many bodies the shelf keeps alive now.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.kept.lock().len()
    }
}

impl Place {
    /// The stored version `id` of this certificate, as an error names it.
    fn stored(&self, id: &VersionId) -> Stored {
        Stored::Version {
            vault: self.vault.to_string(),
            certificate: self.certificate.to_string(),
            version: id.to_string(),
        }
    }

    /// The stored record of version `id`, whole.
    pub fn version(&self, id: &VersionId) -> Result<VersionRecord, VaultError> {
        self.shelf
            .reader
            .lock()
            .version(self.vault.as_str(), self.certificate.as_str(), id.as_str())?
            .ok_or_else(|| VaultError::unreadable(self.stored(id), "it is no longer stored"))
    }

    /// Every version of this certificate, oldest first, as listed (no
    /// certificate, chain or key).
    pub fn list(&self) -> Result<Vec<VersionListing>, VaultError> {
        Ok(self
            .shelf
            .reader
            .lock()
            .version_list(self.vault.as_str(), self.certificate.as_str())?)
    }
}

#[cfg(test)]
mod tests;
