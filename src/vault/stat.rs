//! What `stat` shows of a node: kind, size, mode, owner, time, and whether the kernel may cache it.

use super::clock::now;
use super::error::VaultError;
use super::model::{certificate, deleted, not_found, vault};
use super::node::{Attr, CertificateFile, Node, VersionFile};
use super::node::{dir_attr, file_attr};
use super::pki_nodes;
use super::read::{issuer_ca_pem, vault_file, version_file};
use super::service::VaultService;
use super::side;

impl VaultService {
    /// What `stat` shows for `node`, with stored modes and owners.
    pub fn getattr(&self, node: &Node) -> Result<Attr, VaultError> {
        let mut attr = self.base_attr(node)?;
        self.apply_perms(node, &mut attr);
        Ok(attr)
    }

    /// What `stat` shows for `node` before stored modes and owners.
    fn base_attr(&self, node: &Node) -> Result<Attr, VaultError> {
        if let Node::Side(dir, name) = node {
            let side = self.side_files();
            let f = side.get(dir, name).ok_or_else(|| not_found(name))?;
            let mut attr = file_attr(f.data.len(), f.mode, f.mtime, false);
            attr.owner = Some(f.owner);
            // A report comes and goes with the action it is about (a later
            // mkdir, write or rmdir of the name clears it): never cached by name.
            attr.switches = name.ends_with(side::ERROR_SUFFIX);
            return Ok(attr);
        }
        let st = self.model();
        match node {
            Node::Root | Node::Live => Ok(dir_attr(0)),
            Node::LiveCertificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                let current = cs.current().ok_or_else(|| not_found(c.as_str()))?;
                let mut attr = dir_attr(current.created);
                // Follows the current version: its listing must not stay cached.
                attr.switches = true;
                Ok(attr)
            }
            Node::Metrics => {
                drop(st);
                let mut attr = file_attr(self.metrics_bytes().len(), 0o444, now(), false);
                attr.switches = true;
                Ok(attr)
            }
            Node::CertificateFile(v, c, CertificateFile::Status) => {
                let updated = certificate(&st, v, c)?.updated;
                drop(st);
                let mut attr = file_attr(self.status_bytes(v, c)?.len(), 0o444, updated, false);
                attr.switches = true;
                Ok(attr)
            }
            Node::Vault(v) | Node::Import(v) | Node::Restore(v) => {
                Ok(dir_attr(vault(&st, v)?.created))
            }
            Node::Merge(v, c) => Ok(dir_attr(certificate(&st, v, c)?.updated)),
            Node::Deleted(v) => Ok(dir_attr(vault(&st, v)?.created)),
            Node::DeletedCertificate(v, c) => {
                let summary = vault(&st, v)?
                    .deleted
                    .summary(c)
                    .ok_or_else(|| not_found(c.as_str()))?;
                Ok(dir_attr(summary.deleted.unwrap_or(summary.updated)))
            }
            Node::DeletedFile(v, c, file) => {
                let cs = deleted(&st, v, c)?;
                let bytes = cs
                    .deleted_file(v, *file)
                    .ok_or_else(|| not_found(file.file_name()))?;
                let mut attr =
                    file_attr(bytes.len(), 0o444, cs.deleted.unwrap_or(cs.updated), false);
                // Once recovered, the directory shows the live certificate:
                // these names must not stay cached.
                attr.switches = true;
                Ok(attr)
            }
            Node::VaultFile(v, file) => {
                let vs = vault(&st, v)?;
                // contacts.json exists only once written (size 0 while it is being created).
                let size = vault_file(vs, *file).map(|b| b.len()).unwrap_or(0);
                Ok(file_attr(size, 0o644, vs.created, false))
            }
            Node::Issuers(v) => Ok(dir_attr(vault(&st, v)?.created)),
            Node::IssuerDir(v, i)
            | Node::IssuedDir(v, i)
            | Node::RevokedDir(v, i)
            | Node::SignDir(v, i) => {
                let vs = vault(&st, v)?;
                if !vs.issuers.contains_key(i) {
                    return Err(not_found(i.as_str()));
                }
                // Lists what is issued and revoked as it happens.
                let mut attr = dir_attr(vs.created);
                attr.switches = true;
                Ok(attr)
            }
            Node::IssuedCert(v, ..) | Node::RevokedCert(v, ..) | Node::IssuerCrl(v, _) => {
                let vs = vault(&st, v)?;
                let (bytes, at) =
                    pki_nodes::bytes(vs, node).ok_or_else(|| not_found("the certificate"))?;
                // Moves to revoked/ (and the CRL is signed anew): never cached by name.
                let mut attr = file_attr(bytes.len(), 0o444, at, false);
                attr.switches = true;
                Ok(attr)
            }
            Node::IssuerFile(v, name) => {
                let vs = vault(&st, v)?;
                // Holds account ids and (hidden) secrets: the owner's only.
                let size = vs.issuers.get(name).map(|b| b.to_json().len()).unwrap_or(0);
                Ok(file_attr(size, 0o600, vs.created, false))
            }
            Node::IssuerCa(v, name) => {
                let vs = vault(&st, v)?;
                let size = issuer_ca_pem(vs, name).map(|b| b.len()).unwrap_or(0);
                // Goes when its issuer file is removed (an unlink of another
                // name) and comes back as a new CA when it is written again:
                // neither its name nor its bytes may stay cached.
                let mut attr = file_attr(size, 0o444, vs.created, false);
                attr.switches = true;
                Ok(attr)
            }
            Node::Certificate(v, c) => {
                let vs = vault(&st, v)?;
                // Stat of a certificate directory reads nothing from the store.
                match vs.certificates.summary(c) {
                    Some(summary) => Ok(dir_attr(summary.updated)),
                    None if vs.drafts.contains(c) => Ok(dir_attr(vs.created)),
                    None => Err(not_found(c.as_str())),
                }
            }
            Node::Versions(v, c) => Ok(dir_attr(certificate(&st, v, c)?.updated)),
            Node::Version(v, c, id) => {
                let version = certificate(&st, v, c)?
                    .version(id)?
                    .ok_or_else(|| not_found(id.as_str()))?;
                Ok(dir_attr(version.created))
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                current,
            } => {
                let settings = vault(&st, v)?.settings.clone();
                let version = certificate(&st, v, c)?
                    .version(version)?
                    .ok_or_else(|| not_found(file.file_name()))?
                    .clone();
                drop(st);
                let bytes = version_file(&version, *file, &settings)?;
                let (mode, immutable) = match file {
                    VersionFile::Attributes => (0o644, false),
                    // Encrypted with fresh salts each time a body read again
                    // renders it: same size, other bytes (see `version`).
                    VersionFile::CertPfx => (0o600, false),
                    f if f.holds_key() => (0o600, true),
                    _ => (0o444, true),
                };
                let mut attr = file_attr(bytes.len(), mode, version.created, immutable);
                attr.current = *current;
                Ok(attr)
            }
            Node::CertificateFile(v, c, CertificateFile::Backup) => {
                let updated = certificate(&st, v, c)?.updated;
                drop(st);
                let size = self.backup_blob(v, c)?.len();
                Ok(file_attr(size, 0o400, updated, false))
            }
            Node::CertificateFile(v, c, file) => {
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => {
                        let bytes = cs
                            .file_bytes(*file)
                            .ok_or_else(|| not_found(file.file_name()))?;
                        let mode = match file {
                            CertificateFile::Request => 0o444,
                            // Only the mount's owner runs commands as the daemon.
                            CertificateFile::Hooks => 0o600,
                            _ => 0o644,
                        };
                        Ok(file_attr(bytes.len(), mode, cs.updated, false))
                    }
                    // The policy of a draft exists only while someone writes it.
                    None if vs.drafts.contains(c) && *file == CertificateFile::Policy => {
                        Ok(file_attr(0, 0o644, vs.created, false))
                    }
                    None => Err(not_found(file.file_name())),
                }
            }
            Node::Side(..) => unreachable!("handled above"),
        }
    }
}
