//! One completed version: what lists it (id, times, enabled) always in memory; its certificate, chain and key — its body — read when first needed.
//!
//! A certificate accumulates versions for years, and a backup or an
//! `rsync` of the mount touches every one. So a version read from a store
//! that can read single versions keeps only a weak link to its body: the
//! strong one is on the [`Shelf`], which keeps the bodies used most
//! recently within a bound and reads the others again from the store. A
//! version of a store without that (read whole at mount) holds its body.
//!
//! A body never changes once made, so a body read again is the same
//! version: its PEM and DER files are the same bytes. A PFX is encrypted
//! with fresh salts each time it is rendered (same size, other bytes),
//! which is why the adapter never lets the kernel keep its pages.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::RwLock;

use super::error::{Stored, VaultError};
use super::name::VersionId;
use super::node::VersionFile;
use super::shelf::{Kept, Place};
use crate::pki::key::PrivateKey;
use crate::pki::x509::{self, CertificateInfo};
use crate::store::{VersionListing, VersionRecord};

/// One completed version.
pub(crate) struct Version {
    pub id: VersionId,
    pub created: i64,
    /// Last change (of its attributes), Unix seconds.
    pub updated: AtomicI64,
    /// Whether it is enabled (`attributes.json` changes it).
    pub enabled: AtomicBool,
    /// Whether the key files are shown (`exportable` of the policy it was made under).
    pub exportable: bool,
    /// Whether it has a private key.
    pub has_key: bool,
    /// What the metrics and the scheduler need of its body, once known.
    facts: OnceLock<Facts>,
    body: BodySlot,
}

/// The facts of a version's body that every certificate's metrics and
/// renewal time need, kept with the version so that neither reads bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub not_before: i64,
    pub not_after: i64,
    /// Whether its key certifies its certificate (`None`: it has no key).
    pub key_matches: Option<bool>,
    /// Whether its chain links up to a self-signed root.
    pub chain_complete: bool,
}

/// A version's certificate, chain and key, with its files rendered on
/// demand. Its parts are boxed: the weak link a version keeps holds on to
/// the `Arc`'s allocation, which should be a few bytes, not the body.
pub(crate) struct VersionBody(Box<BodyParts>);

/// What a [`VersionBody`] holds.
pub(crate) struct BodyParts {
    pub leaf: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub key: Option<PrivateKey>,
    pub info: CertificateInfo,
    /// The certificate's name, for the PFX friendly name.
    pub friendly_name: String,
    /// The files, rendered on first use.
    pub(super) rendered: Rendered,
    /// Whether it was used since the shelf last looked at it.
    pub(super) used: AtomicBool,
}

impl Kept for VersionBody {
    fn take_used(&self) -> bool {
        self.used.swap(false, Ordering::Relaxed)
    }
}

impl std::ops::Deref for VersionBody {
    type Target = BodyParts;

    fn deref(&self) -> &BodyParts {
        &self.0
    }
}

/// The rendered files of a version, one slot per [`VersionFile`].
#[derive(Default)]
pub(crate) struct Rendered(pub(super) [OnceLock<RenderedFile>; VersionFile::ALL.len()]);

/// A rendered file's bytes, or why it cannot be rendered (boxed: slots
/// stay small, errors are rare).
pub(crate) type RenderedFile = Result<Arc<[u8]>, Box<VaultError>>;

enum BodySlot {
    /// Kept for as long as the version: there is no store to read it again from.
    Held(Arc<VersionBody>),
    /// Read again from the store through `shelf` once nothing holds it.
    Shelved {
        place: Arc<Place>,
        last: RwLock<Weak<VersionBody>>,
    },
}

impl VersionBody {
    /// The body of the stored version `v` of certificate `friendly_name`,
    /// with its key already read.
    pub fn new(
        v: &VersionRecord,
        key: Option<PrivateKey>,
        info: CertificateInfo,
        friendly_name: &str,
    ) -> Result<VersionBody, VaultError> {
        let leaf = v
            .certificate_der
            .clone()
            .ok_or_else(|| VaultError::unreadable(stored(v), "it has no certificate"))?;
        Ok(VersionBody(Box::new(BodyParts {
            leaf,
            chain: v.chain_der.clone(),
            key,
            info,
            friendly_name: friendly_name.to_owned(),
            rendered: Rendered::default(),
            // Only a use after it is read earns it a second round on the shelf.
            used: AtomicBool::new(false),
        })))
    }

    /// The body of the stored version `v`, its key and certificate read.
    pub fn from_record(v: &VersionRecord, friendly_name: &str) -> Result<VersionBody, VaultError> {
        let key = v
            .key
            .as_ref()
            .map(|k| PrivateKey::from_pkcs8_der(&k.0))
            .transpose()
            .map_err(|e| VaultError::unreadable_by(stored(v), "its key", e))?;
        let leaf = v
            .certificate_der
            .as_deref()
            .ok_or_else(|| VaultError::unreadable(stored(v), "it has no certificate"))?;
        let info = x509::inspect(leaf)
            .map_err(|e| VaultError::unreadable_by(stored(v), "its certificate", e))?;
        VersionBody::new(v, key, info, friendly_name)
    }

    /// What [`Facts`] says of this body.
    fn facts(&self) -> Facts {
        Facts {
            not_before: self.info.not_before,
            not_after: self.info.not_after,
            key_matches: self
                .key
                .as_ref()
                .map(|k| k.public_key_der() == self.info.public_key_der),
            chain_complete: chain_complete(&self.info, &self.chain),
        }
    }
}

/// Whether the chain links up from a leaf of `info` (each certificate
/// issued by the next, by name) and ends in a self-signed root.
fn chain_complete(info: &CertificateInfo, chain: &[Vec<u8>]) -> bool {
    let mut issuer = info.issuer.clone();
    let mut subject = info.subject.clone();
    for der in chain {
        let Ok(info) = x509::inspect(der) else {
            return false;
        };
        if info.subject != issuer {
            return false;
        }
        subject = info.subject;
        issuer = info.issuer;
    }
    issuer == subject
}

/// The stored version `v`, as an error names it.
fn stored(v: &VersionRecord) -> Stored {
    Stored::Version {
        vault: v.vault.clone(),
        certificate: v.certificate.clone(),
        version: v.id.clone(),
    }
}

impl Version {
    /// The completed version `v` with its body at hand, held (`place`:
    /// `None`) or shelved for `place`.
    pub fn with_body(
        v: &VersionRecord,
        body: VersionBody,
        place: Option<&Arc<Place>>,
    ) -> Result<Version, VaultError> {
        let id = VersionId::parse(&v.id)
            .map_err(|e| VaultError::unreadable_by(stored(v), "its id", e))?;
        let body = Arc::new(body);
        let facts = OnceLock::from(body.facts());
        let slot = match place {
            None => BodySlot::Held(body),
            Some(place) => {
                let last = RwLock::new(Arc::downgrade(&body));
                place.shelf.keep(body);
                BodySlot::Shelved {
                    place: place.clone(),
                    last,
                }
            }
        };
        Ok(Version {
            id,
            created: v.created,
            updated: AtomicI64::new(v.updated),
            enabled: AtomicBool::new(v.enabled),
            exportable: v.exportable,
            has_key: v.key.is_some(),
            facts,
            body: slot,
        })
    }

    /// The completed version listed as `v`, its body read from the store
    /// of `place` when first needed; `None` for a pending one.
    pub fn listed(v: &VersionListing, place: &Arc<Place>) -> Result<Option<Version>, VaultError> {
        if !v.completed {
            return Ok(None);
        }
        let id = VersionId::parse(&v.id).map_err(|e| {
            VaultError::unreadable_by(
                Stored::Version {
                    vault: place.vault.to_string(),
                    certificate: place.certificate.to_string(),
                    version: v.id.clone(),
                },
                "its id",
                e,
            )
        })?;
        Ok(Some(Version {
            id,
            created: v.created,
            updated: AtomicI64::new(v.updated),
            enabled: AtomicBool::new(v.enabled),
            exportable: v.exportable,
            has_key: v.has_key,
            facts: OnceLock::new(),
            body: BodySlot::Shelved {
                place: place.clone(),
                last: RwLock::new(Weak::new()),
            },
        }))
    }

    /// Its certificate, chain and key: in memory, or read from the store.
    pub fn body(&self) -> Result<Arc<VersionBody>, VaultError> {
        match &self.body {
            BodySlot::Held(body) => Ok(body.clone()),
            BodySlot::Shelved { place, last } => {
                if let Some(body) = last.read().upgrade() {
                    body.used.store(true, Ordering::Relaxed);
                    return Ok(body);
                }
                let record = place.version(&self.id)?;
                let body = Arc::new(VersionBody::from_record(
                    &record,
                    place.certificate.as_str(),
                )?);
                place.shelf.keep(body.clone());
                let _ = self.facts.set(body.facts());
                *last.write() = Arc::downgrade(&body);
                Ok(body)
            }
        }
    }

    /// Where its body is read again from, if it is not held.
    pub fn place(&self) -> Option<&Arc<Place>> {
        match &self.body {
            BodySlot::Held(_) => None,
            BodySlot::Shelved { place, .. } => Some(place),
        }
    }

    /// Whether its body is in memory now (test only).
    #[cfg(test)]
    pub fn body_in_memory(&self) -> bool {
        match &self.body {
            BodySlot::Held(_) => true,
            BodySlot::Shelved { last, .. } => last.read().strong_count() > 0,
        }
    }

    /// What the metrics and the scheduler need of its body.
    pub fn facts(&self) -> Result<Facts, VaultError> {
        if let Some(facts) = self.facts.get() {
            return Ok(*facts);
        }
        let facts = self.body()?.facts();
        let _ = self.facts.set(facts);
        Ok(facts)
    }
}
