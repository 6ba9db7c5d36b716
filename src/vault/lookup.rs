//! What a name in a folder of the tree is: the node behind each name certfs shows (vaults, certificates, their files and folders, views, side files).

use super::error::VaultError;
use super::issuer_file;
use super::model::{certificate, deleted, not_found};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::{Attr, CertificateFile, DeletedFile, Node, VaultFile, VersionFile};
use super::pki_nodes;
use super::service::{
    DELETED_DIR, IMPORT_DIR, ISSUERS_DIR, LIVE_DIR, LIVE_FILES, MERGE_DIR, METRICS_FILE,
    RESTORE_DIR, VERSIONS_DIR, VaultService,
};

impl VaultService {
    /// The child `name` of directory `dir`.
    pub fn lookup(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        let node = self.child(dir, name)?;
        let attr = self.getattr(&node)?;
        Ok((node, attr))
    }

    pub(super) fn child(&self, dir: &Node, name: &str) -> Result<Node, VaultError> {
        if self.side_files().get(dir, name).is_some() {
            return Ok(Node::Side(Box::new(dir.clone()), name.to_owned()));
        }
        let st = self.model();
        let missing = || not_found(name);
        match dir {
            Node::Root => {
                if name == METRICS_FILE {
                    return Ok(Node::Metrics);
                }
                if name == LIVE_DIR {
                    return Ok(Node::Live);
                }
                let vault = VaultName::parse(name).map_err(|_| missing())?;
                let vs = st.vaults.get(&vault).ok_or_else(missing)?;
                Ok(Node::Vault(vs.name.clone()))
            }
            Node::Live => {
                let (v, c) = name.split_once('.').ok_or_else(missing)?;
                let v = VaultName::parse(v).map_err(|_| missing())?;
                let c = CertificateName::parse(c).map_err(|_| missing())?;
                let vs = st.vaults.get(&v).ok_or_else(missing)?;
                let cs = vs.certificates.get(&c).ok_or_else(missing)?;
                cs.current().ok_or_else(missing)?;
                Ok(Node::LiveCertificate(vs.name.clone(), cs.name.clone()))
            }
            Node::LiveCertificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                let current = cs.current().ok_or_else(missing)?;
                let file = LIVE_FILES
                    .into_iter()
                    .find(|f| f.file_name() == name)
                    .filter(|f| cs.shows(current, *f))
                    .ok_or_else(missing)?;
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: current.id.clone(),
                    file,
                    current: true,
                })
            }
            Node::Vault(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                if name == IMPORT_DIR {
                    return Ok(Node::Import(vs.name.clone()));
                }
                if name == DELETED_DIR {
                    return Ok(Node::Deleted(vs.name.clone()));
                }
                if name == ISSUERS_DIR {
                    return Ok(Node::Issuers(vs.name.clone()));
                }
                if name == RESTORE_DIR {
                    return Ok(Node::Restore(vs.name.clone()));
                }
                if let Some(file) = VaultFile::from_name(name) {
                    if file == VaultFile::Contacts && vs.contacts.is_none() {
                        return Err(missing());
                    }
                    return Ok(Node::VaultFile(vs.name.clone(), file));
                }
                let cert = CertificateName::parse(name).map_err(|_| missing())?;
                if let Some(stored) = vs.certificates.key(&cert) {
                    return Ok(Node::Certificate(vs.name.clone(), stored.clone()));
                }
                let draft = vs.drafts.get(&cert).ok_or_else(missing)?;
                Ok(Node::Certificate(vs.name.clone(), draft.clone()))
            }
            Node::Certificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                if name == VERSIONS_DIR {
                    return Ok(Node::Versions(v.clone(), c.clone()));
                }
                if name == MERGE_DIR {
                    return Ok(Node::Merge(v.clone(), c.clone()));
                }
                if let Some(file) = CertificateFile::from_name(name) {
                    if !cs.has_file(file) {
                        return Err(missing());
                    }
                    return Ok(Node::CertificateFile(v.clone(), c.clone(), file));
                }
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                let current = cs.current().ok_or_else(missing)?;
                if !cs.shows(current, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: current.id.clone(),
                    file,
                    current: true,
                })
            }
            Node::Versions(v, c) => {
                let cs = certificate(&st, v, c)?;
                let id = VersionId::parse(name).map_err(|_| missing())?;
                let version = cs.version(&id)?.ok_or_else(missing)?;
                Ok(Node::Version(v.clone(), c.clone(), version.id.clone()))
            }
            Node::Version(v, c, id) => {
                let cs = certificate(&st, v, c)?;
                let version = cs.version(id)?.ok_or_else(missing)?;
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                if !cs.shows(version, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: id.clone(),
                    file,
                    current: false,
                })
            }
            Node::Issuers(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                if let Some(node) = pki_nodes::issuers_child(vs, name) {
                    return Ok(node);
                }
                if let Some(stem) = name.strip_suffix(".pem") {
                    let issuer = CertificateName::parse(stem).map_err(|_| missing())?;
                    let (issuer, _) = vs
                        .issuer_memory
                        .get_key_value(&issuer)
                        .filter(|(_, m)| m.ca_pem.is_some())
                        .ok_or_else(missing)?;
                    return Ok(Node::IssuerCa(vs.name.clone(), issuer.clone()));
                }
                let issuer = issuer_file::parse_name(name).map_err(|_| missing())?;
                let (issuer, _) = vs.issuers.get_key_value(&issuer).ok_or_else(missing)?;
                Ok(Node::IssuerFile(vs.name.clone(), issuer.clone()))
            }
            Node::Deleted(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                let cert = CertificateName::parse(name).map_err(|_| missing())?;
                let name = vs.deleted.key(&cert).ok_or_else(missing)?;
                Ok(Node::DeletedCertificate(vs.name.clone(), name.clone()))
            }
            Node::DeletedCertificate(v, c) => {
                let cs = deleted(&st, v, c)?;
                let file = DeletedFile::from_name(name).ok_or_else(missing)?;
                cs.deleted_file(v, file).ok_or_else(missing)?;
                Ok(Node::DeletedFile(v.clone(), c.clone(), file))
            }
            Node::IssuerDir(v, _) | Node::IssuedDir(v, _) | Node::RevokedDir(v, _) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                pki_nodes::child(vs, dir, name).ok_or_else(missing)
            }
            // Drop-boxes hold only what was dropped (side files, found above).
            Node::SignDir(..) | Node::Import(_) | Node::Merge(..) | Node::Restore(_) => {
                Err(missing())
            }
            Node::VersionFile { .. }
            | Node::CertificateFile(..)
            | Node::VaultFile(..)
            | Node::IssuerFile(..)
            | Node::IssuerCa(..)
            | Node::IssuerCrl(..)
            | Node::IssuedCert(..)
            | Node::RevokedCert(..)
            | Node::Metrics
            | Node::DeletedFile(..)
            | Node::Side(..) => Err(VaultError::NotDirectory(format!(
                "{name}: parent is not a directory"
            ))),
        }
    }
}
