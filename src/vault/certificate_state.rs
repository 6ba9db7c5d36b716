//! One certificate in memory: its policy, operation, pending version and its list of completed versions.
//!
//! Completed versions are [`super::version::Version`]s in a
//! [`VersionList`]: the ones that show the certificate now at hand, the
//! others read from the store when asked for.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::access::Perms;
use super::error::VaultError;
use super::hooks::CertificateHooks;
use super::name::{CertificateName, VaultName, VersionId};
use super::node::{CertificateFile, DeletedFile, VersionFile};
use super::operation::Operation;
use super::policy::Policy;
use super::run_log::RunLog;
use super::version::Version;
use super::version_list::VersionList;
use crate::pki::key::PrivateKey;

/// One certificate.
pub(crate) struct CertificateState {
    pub name: CertificateName,
    pub policy: Arc<Policy>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
    /// Completed versions, oldest first.
    pub versions: VersionList,
    /// The pending or last certificate operation, and its `operation.json`.
    pub operation: Option<Box<(Operation, Arc<[u8]>)>>,
    /// The version an in-progress operation will complete.
    pub pending: Option<Arc<PendingVersion>>,
    /// When it was soft-deleted (`None`: live).
    pub deleted: Option<i64>,
    /// When a soft-deleted certificate is purged.
    pub purge_at: Option<i64>,
    /// How the last lifetime action and hook went.
    pub run_log: RunLog,
    /// `hooks.json`.
    pub hooks: CertificateHooks,
    /// Stored modes and owners of its key files and directory.
    pub perms: Perms,
}

/// A version waiting for its certificate: the key and the CSR made for it.
pub(crate) struct PendingVersion {
    pub id: VersionId,
    pub created: i64,
    pub key: PrivateKey,
    /// Whether the key may be exported once completed.
    pub exportable: bool,
    /// `request.csr`: the CSR, PEM.
    pub csr_pem: Arc<[u8]>,
}

impl CertificateState {
    /// The version the top-level files show (see [`VersionList::current`]).
    pub fn current(&self) -> Option<&Arc<Version>> {
        self.versions.current()
    }

    /// A version by id (listing the versions from the store the first time).
    pub fn version(&self, id: &VersionId) -> Result<Option<&Arc<Version>>, VaultError> {
        self.versions.get(id)
    }

    /// Whether the certificate file `file` exists now.
    pub fn has_file(&self, file: CertificateFile) -> bool {
        match file {
            CertificateFile::Policy
            | CertificateFile::Tags
            | CertificateFile::Backup
            | CertificateFile::Status
            | CertificateFile::Hooks => true,
            CertificateFile::Operation => self.operation.is_some(),
            CertificateFile::Request => self.pending.is_some(),
        }
    }

    /// The bytes of the certificate file `file`, if it exists now.
    pub fn file_bytes(&self, file: CertificateFile) -> Option<Arc<[u8]>> {
        match file {
            // Rendered on each read: a touched certificate of a big store
            // keeps its parsed documents only.
            CertificateFile::Policy => Some(Arc::from(self.policy.to_json().into_bytes())),
            CertificateFile::Tags => Some(Arc::from(super::tags::to_json(&self.tags).into_bytes())),
            // Sealed by the service, which holds the backup key; made from
            // the clock on each read.
            CertificateFile::Backup | CertificateFile::Status => None,
            CertificateFile::Hooks => Some(Arc::from(self.hooks.to_json().into_bytes())),
            CertificateFile::Operation => self.operation.as_deref().map(|(_, json)| json.clone()),
            CertificateFile::Request => self.pending.as_ref().map(|p| p.csr_pem.clone()),
        }
    }

    /// The bytes of `file` of a soft-deleted certificate in vault `vault`.
    pub fn deleted_file(&self, vault: &VaultName, file: DeletedFile) -> Option<Arc<[u8]>> {
        match file {
            DeletedFile::Info => {
                let value = serde_json::json!({
                    "id": format!("{vault}/{}", self.name),
                    "recoveryId": format!("{vault}/deleted/{}", self.name),
                    "deletedDate": self.deleted,
                    "scheduledPurgeDate": self.purge_at,
                });
                Some(Arc::from(super::pretty_json(&value).into_bytes()))
            }
            DeletedFile::Policy => Some(Arc::from(self.policy.to_json().into_bytes())),
            DeletedFile::CertPem => self.current()?.file(VersionFile::CertPem).ok(),
            DeletedFile::CertCer => self.current()?.file(VersionFile::CertCer).ok(),
        }
    }

    /// The operation in progress, if any (it blocks new creates and imports).
    pub fn operation_in_progress(&self) -> Option<&Operation> {
        self.operation
            .as_deref()
            .map(|(op, _)| op)
            .filter(|op| op.is_pending())
    }

    /// Whether `file` of a version is shown: key files only for exportable keys.
    pub fn shows(&self, version: &Version, file: VersionFile) -> bool {
        !file.holds_key() || (version.exportable && version.has_key)
    }
}
