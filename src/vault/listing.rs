//! What a directory lists: the entries of every directory of the tree, in a stable order.

use super::certificate_state::CertificateState;
use super::error::VaultError;
use super::model::{certificate, deleted, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::{CertificateFile, DeletedFile, Entry, Kind, Node, VaultFile, VersionFile};
use super::pki_nodes;
use super::read::vault_file;
use super::service::{
    DELETED_DIR, IMPORT_DIR, ISSUERS_DIR, LIVE_DIR, LIVE_FILES, MERGE_DIR, METRICS_FILE,
    RESTORE_DIR, VERSIONS_DIR, VaultService,
};
use super::version::Version;

impl VaultService {
    /// The entries of directory `dir`, in a stable order.
    pub fn readdir(&self, dir: &Node) -> Result<Vec<Entry>, VaultError> {
        let mut out = Vec::new();
        {
            let st = self.model();
            let entry = |name: &str, node: Node, kind: Kind| Entry {
                name: name.to_owned(),
                node,
                kind,
            };
            match dir {
                Node::Root => {
                    out.push(entry(METRICS_FILE, Node::Metrics, Kind::File));
                    out.push(entry(LIVE_DIR, Node::Live, Kind::Directory));
                    for vs in st.vaults.values() {
                        out.push(entry(
                            vs.name.as_str(),
                            Node::Vault(vs.name.clone()),
                            Kind::Directory,
                        ));
                    }
                }
                Node::Live => {
                    for vs in st.vaults.values() {
                        for cs in vs.certificates.values().filter(|cs| cs.current().is_some()) {
                            out.push(entry(
                                &format!("{}.{}", vs.name, cs.name),
                                Node::LiveCertificate(vs.name.clone(), cs.name.clone()),
                                Kind::Directory,
                            ));
                        }
                    }
                }
                Node::LiveCertificate(v, c) => {
                    let cs = certificate(&st, v, c)?;
                    if let Some(current) = cs.current() {
                        for file in LIVE_FILES.into_iter().filter(|f| cs.shows(current, *f)) {
                            let node = Node::VersionFile {
                                vault: v.clone(),
                                cert: c.clone(),
                                version: current.id.clone(),
                                file,
                                current: true,
                            };
                            out.push(entry(file.file_name(), node, Kind::File));
                        }
                    }
                }
                Node::Vault(v) => {
                    let vs = vault(&st, v)?;
                    out.push(entry(
                        IMPORT_DIR,
                        Node::Import(vs.name.clone()),
                        Kind::Directory,
                    ));
                    out.push(entry(
                        DELETED_DIR,
                        Node::Deleted(vs.name.clone()),
                        Kind::Directory,
                    ));
                    out.push(entry(
                        ISSUERS_DIR,
                        Node::Issuers(vs.name.clone()),
                        Kind::Directory,
                    ));
                    out.push(entry(
                        RESTORE_DIR,
                        Node::Restore(vs.name.clone()),
                        Kind::Directory,
                    ));
                    for file in VaultFile::ALL
                        .into_iter()
                        .filter(|f| vault_file(vs, *f).is_some())
                    {
                        out.push(entry(
                            file.file_name(),
                            Node::VaultFile(vs.name.clone(), file),
                            Kind::File,
                        ));
                    }
                    let names = vs.certificates.keys().chain(vs.drafts.iter());
                    for c in names {
                        out.push(entry(
                            c.as_str(),
                            Node::Certificate(vs.name.clone(), c.clone()),
                            Kind::Directory,
                        ));
                    }
                }
                Node::Certificate(v, c) => {
                    let vs = vault(&st, v)?;
                    if let Some(cs) = vs.certificates.get(c) {
                        // operation.json comes last: removing it removes
                        // request.csr and the pending version, and `rm -r`
                        // gives up on a directory when a file it listed is
                        // gone by the time it gets there.
                        let files = CertificateFile::ALL
                            .into_iter()
                            .filter(|f| cs.has_file(*f) && *f != CertificateFile::Operation);
                        for file in files {
                            out.push(entry(
                                file.file_name(),
                                Node::CertificateFile(v.clone(), c.clone(), file),
                                Kind::File,
                            ));
                        }
                        out.push(entry(
                            MERGE_DIR,
                            Node::Merge(v.clone(), c.clone()),
                            Kind::Directory,
                        ));
                        out.push(entry(
                            VERSIONS_DIR,
                            Node::Versions(v.clone(), c.clone()),
                            Kind::Directory,
                        ));
                        if let Some(current) = cs.current() {
                            version_entries(cs, current, true, v, c, &mut out);
                        }
                        if cs.has_file(CertificateFile::Operation) {
                            let node = Node::CertificateFile(
                                v.clone(),
                                c.clone(),
                                CertificateFile::Operation,
                            );
                            out.push(entry(
                                CertificateFile::Operation.file_name(),
                                node,
                                Kind::File,
                            ));
                        }
                    } else if !vs.drafts.contains(c) {
                        return Err(not_found(c.as_str()));
                    }
                }
                Node::Versions(v, c) => {
                    for version in certificate(&st, v, c)?.versions.all()? {
                        let node = Node::Version(v.clone(), c.clone(), version.id.clone());
                        out.push(entry(version.id.as_str(), node, Kind::Directory));
                    }
                }
                Node::Version(v, c, id) => {
                    let cs = certificate(&st, v, c)?;
                    let version = cs.version(id)?.ok_or_else(|| not_found(id.as_str()))?;
                    version_entries(cs, version, false, v, c, &mut out);
                }
                Node::Issuers(v) => {
                    let vs = vault(&st, v)?;
                    // An issuer's CA view before its file: removing the file
                    // removes the view (`rm -r` must not find it gone).
                    for (name, memory) in &vs.issuer_memory {
                        if memory.ca_pem.is_some() {
                            let node = Node::IssuerCa(vs.name.clone(), name.clone());
                            out.push(entry(&format!("{name}.pem"), node, Kind::File));
                        }
                    }
                    for (name, node, kind) in pki_nodes::issuers_entries(vs) {
                        out.push(entry(&name, node, kind));
                    }
                    for name in vs.issuers.keys() {
                        let node = Node::IssuerFile(vs.name.clone(), name.clone());
                        out.push(entry(&format!("{name}.json"), node, Kind::File));
                    }
                }
                Node::SignDir(v, _) => {
                    vault(&st, v)?;
                }
                Node::IssuerDir(v, _) | Node::IssuedDir(v, _) | Node::RevokedDir(v, _) => {
                    let vs = vault(&st, v)?;
                    if !vs.issuers.keys().any(|i| Some(i) == issuer_of(dir)) {
                        return Err(not_found("issuer"));
                    }
                    for (name, node, kind) in pki_nodes::entries(vs, dir) {
                        out.push(entry(&name, node, kind));
                    }
                }
                Node::Deleted(v) => {
                    let vs = vault(&st, v)?;
                    for c in vs.deleted.keys() {
                        let node = Node::DeletedCertificate(vs.name.clone(), c.clone());
                        out.push(entry(c.as_str(), node, Kind::Directory));
                    }
                }
                Node::DeletedCertificate(v, c) => {
                    let cs = deleted(&st, v, c)?;
                    for file in DeletedFile::ALL {
                        if cs.deleted_file(v, file).is_some() {
                            let node = Node::DeletedFile(v.clone(), c.clone(), file);
                            out.push(entry(file.file_name(), node, Kind::File));
                        }
                    }
                }
                // Drop-boxes list only what was dropped (side files, below).
                Node::Import(_) | Node::Merge(..) | Node::Restore(_) => {}
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
                | Node::Side(..) => {
                    return Err(VaultError::NotDirectory("not a directory".into()));
                }
            }
        }
        let side = self.side_files();
        for (name, _) in side.list(dir) {
            out.push(Entry {
                name: name.clone(),
                node: Node::Side(Box::new(dir.clone()), name.clone()),
                kind: Kind::File,
            });
        }
        Ok(out)
    }
}

pub(super) fn version_entries(
    cs: &CertificateState,
    version: &Version,
    current: bool,
    v: &VaultName,
    c: &CertificateName,
    out: &mut Vec<Entry>,
) {
    for file in VersionFile::ALL {
        if cs.shows(version, file) {
            out.push(Entry {
                name: file.file_name().to_owned(),
                node: Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: version.id.clone(),
                    file,
                    current,
                },
                kind: Kind::File,
            });
        }
    }
}

/// The issuer a PKI folder belongs to.
fn issuer_of(dir: &Node) -> Option<&CertificateName> {
    match dir {
        Node::IssuerDir(_, i) | Node::IssuedDir(_, i) | Node::RevokedDir(_, i) => Some(i),
        _ => None,
    }
}
