//! What a read of a file gets: the bytes of each kind of file of the tree, as one snapshot.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::attributes::{self, DISABLED};
use super::certificate_state::CertificateState;
use super::clock::now;
use super::error::VaultError;
use super::model::{VaultState, certificate, deleted, not_found, vault};
use super::name::CertificateName;
use super::name::VaultName;
use super::node::{CertificateFile, Node, VaultFile, VersionFile};
use super::pki_nodes;
use super::service::VaultService;
use super::settings::VaultSettings;
use super::status;
use super::version::Version;

impl VaultService {
    /// `status.json` of `c`, now.
    pub(super) fn status_bytes(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Arc<[u8]>, VaultError> {
        let st = self.model();
        let cs = certificate(&st, v, c)?;
        let consumers = self.consumers().living(v, &cs.name);
        Ok(Arc::from(
            status::status_json(cs, &consumers, now()).into_bytes(),
        ))
    }

    /// `metrics.prom`, now.
    pub(super) fn metrics_bytes(&self) -> Arc<[u8]> {
        let st = self.model();
        let all = st.vaults.values().flat_map(|vs| {
            vs.certificates
                .values()
                .map(move |cs| (vs.name.as_str(), cs))
        });
        let consumers = |vault: &str, cs: &CertificateState| {
            VaultName::parse(vault)
                .map(|v| self.consumers().living(&v, &cs.name))
                .unwrap_or_default()
        };
        let mut text = status::metrics(all, consumers, now());
        text.push_str(&status::daemon_metrics(self.last_renewal_pass()));
        if let Some(copy) = self.serving_copy() {
            text.push_str(&copy.metrics());
        }
        Arc::from(text.into_bytes())
    }

    /// The bytes of file `node`, as one snapshot (an open file keeps it).
    pub fn read(&self, node: &Node) -> Result<Arc<[u8]>, VaultError> {
        match node {
            Node::Metrics => Ok(self.metrics_bytes()),
            Node::CertificateFile(v, c, CertificateFile::Status) => self.status_bytes(v, c),
            Node::Side(dir, name) => {
                let side = self.side_files();
                Ok(side
                    .get(dir, name)
                    .ok_or_else(|| not_found(name))?
                    .data
                    .clone())
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                ..
            } => {
                let (version, settings) = {
                    let st = self.model();
                    let cs = certificate(&st, v, c)?;
                    let version = cs
                        .version(version)?
                        .ok_or_else(|| not_found(file.file_name()))?;
                    if !cs.shows(version, *file) {
                        return Err(not_found(file.file_name()));
                    }
                    (version.clone(), vault(&st, v)?.settings.clone())
                };
                if file.holds_key() && !version.enabled.load(Ordering::Acquire) {
                    return Err(VaultError::Forbidden(DISABLED.into()));
                }
                version_file(&version, *file, &settings)
            }
            Node::CertificateFile(v, c, CertificateFile::Backup) => self.backup_blob(v, c),
            Node::CertificateFile(v, c, file) => {
                let st = self.model();
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => cs
                        .file_bytes(*file)
                        .ok_or_else(|| not_found(file.file_name())),
                    None if vs.drafts.contains(c) => Ok(Arc::from(&b""[..])),
                    None => Err(not_found(file.file_name())),
                }
            }
            Node::VaultFile(v, file) => {
                let st = self.model();
                // Absent contacts read as empty while being created.
                Ok(vault_file(vault(&st, v)?, *file).unwrap_or_else(|| Arc::from(&b""[..])))
            }
            Node::IssuerCa(v, name) => {
                let st = self.model();
                issuer_ca_pem(vault(&st, v)?, name).ok_or_else(|| not_found(&format!("{name}.pem")))
            }
            Node::IssuedCert(v, ..) | Node::RevokedCert(v, ..) | Node::IssuerCrl(v, _) => {
                let st = self.model();
                pki_nodes::bytes(vault(&st, v)?, node)
                    .map(|(bytes, _)| bytes)
                    .ok_or_else(|| not_found("the certificate"))
            }
            Node::IssuerFile(v, name) => {
                let st = self.model();
                let vs = vault(&st, v)?;
                let text = vs
                    .issuers
                    .get(name)
                    .map(|b| b.to_json())
                    .unwrap_or_default();
                Ok(Arc::from(text.into_bytes()))
            }
            Node::DeletedFile(v, c, file) => {
                let st = self.model();
                deleted(&st, v, c)?
                    .deleted_file(v, *file)
                    .ok_or_else(|| not_found(file.file_name()))
            }
            _ => Err(VaultError::IsDirectory("is a directory".into())),
        }
    }
}

/// `issuers/<name>.pem` of an Internal issuer.
pub(super) fn issuer_ca_pem(vs: &VaultState, name: &CertificateName) -> Option<Arc<[u8]>> {
    vs.issuer_memory.get(name)?.ca_pem.clone()
}

/// The bytes of the vault file `file`, if it exists.
pub(super) fn vault_file(vs: &VaultState, file: VaultFile) -> Option<Arc<[u8]>> {
    match file {
        VaultFile::Settings => Some(Arc::from(vs.settings.to_json().into_bytes())),
        VaultFile::Contacts => vs
            .contacts
            .as_ref()
            .map(|c| Arc::from(c.to_json().into_bytes())),
    }
}

/// The bytes of `file` of `version`, in a vault with `settings`.
pub(super) fn version_file(
    version: &Version,
    file: VersionFile,
    settings: &VaultSettings,
) -> Result<Arc<[u8]>, VaultError> {
    match file {
        // The one file whose bytes change (enabled, updated, the vault's recovery level).
        VersionFile::Attributes => Ok(Arc::from(
            attributes::render(version, settings)?.into_bytes(),
        )),
        _ => version.file(file),
    }
}
