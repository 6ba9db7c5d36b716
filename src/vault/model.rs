//! The in-memory model the service answers from: vaults, certificates and versions, loaded from the store at mount.
//!
//! File operations read this model under a short read lock and never wait
//! for the store, key generation or a CA. The files of a version are
//! rendered once, on first use, and kept: their bytes (and so their sizes)
//! never change, which is what lets the kernel cache them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use super::error::VaultError;
use super::export;
use super::name::{CertificateName, VaultName, VersionId};
use super::node::VersionFile;
use super::policy::Policy;
use crate::pki::key::PrivateKey;
use crate::pki::x509::CertificateInfo;

/// Everything the mount shows.
#[derive(Default)]
pub(crate) struct State {
    pub vaults: BTreeMap<VaultName, VaultState>,
}

/// One vault.
pub(crate) struct VaultState {
    pub name: VaultName,
    pub created: i64,
    pub certificates: BTreeMap<CertificateName, CertificateState>,
    /// Directories made with `mkdir` whose policy has not been written yet (not persisted).
    pub drafts: BTreeSet<CertificateName>,
}

/// One certificate.
pub(crate) struct CertificateState {
    pub name: CertificateName,
    pub policy: Arc<Policy>,
    /// `policy.json` as read back.
    pub policy_json: Arc<[u8]>,
    pub tags: BTreeMap<String, String>,
    /// `tags.json` as read back.
    pub tags_json: Arc<[u8]>,
    pub created: i64,
    pub updated: i64,
    /// The pending or last certificate operation, JSON text as stored.
    pub operation: Option<String>,
    /// Oldest first.
    pub versions: Vec<Arc<Version>>,
}

impl CertificateState {
    /// The version the top-level files show: the newest completed, enabled one.
    pub fn current(&self) -> Option<&Arc<Version>> {
        self.versions.iter().rev().find(|v| v.enabled)
    }

    /// A version by id.
    pub fn version(&self, id: &VersionId) -> Option<&Arc<Version>> {
        self.versions.iter().find(|v| &v.id == id)
    }

    /// Whether `file` of a version is shown: key files only for exportable keys.
    pub fn shows(&self, version: &Version, file: VersionFile) -> bool {
        !file.holds_key() || (self.policy.key.exportable && version.key.is_some())
    }
}

/// One completed version: certificate, chain and key, with its files rendered on demand.
pub(crate) struct Version {
    pub id: VersionId,
    pub created: i64,
    pub updated: i64,
    pub enabled: bool,
    pub leaf: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub key: Option<PrivateKey>,
    pub info: CertificateInfo,
    /// The certificate's name, for the PFX friendly name.
    pub friendly_name: String,
    rendered: [OnceLock<Result<Arc<[u8]>, VaultError>>; VersionFile::ALL.len()],
}

impl Version {
    /// A version from its parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: VersionId,
        created: i64,
        updated: i64,
        enabled: bool,
        leaf: Vec<u8>,
        chain: Vec<Vec<u8>>,
        key: Option<PrivateKey>,
        info: CertificateInfo,
        friendly_name: String,
    ) -> Self {
        Version {
            id,
            created,
            updated,
            enabled,
            leaf,
            chain,
            key,
            info,
            friendly_name,
            rendered: Default::default(),
        }
    }

    /// The bytes of `file`, rendered once and then shared.
    pub fn file(&self, file: VersionFile) -> Result<Arc<[u8]>, VaultError> {
        let slot = VersionFile::ALL
            .iter()
            .position(|f| *f == file)
            .map(|i| &self.rendered[i]);
        match slot {
            Some(slot) => slot
                .get_or_init(|| export::render(self, file).map(Arc::from))
                .clone(),
            None => Err(VaultError::Internal(format!("no slot for {file:?}"))),
        }
    }
}
