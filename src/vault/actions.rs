//! File actions of the vault service: create, write on close, truncate, mkdir, rmdir, unlink and rename.
//!
//! Every refused action changes nothing and leaves its reason in
//! `<name>.error` beside the file (see [`super::side`]).

use std::sync::Arc;

use super::access::Caller;
use super::changes::Changes;
use super::clock::now;
use super::documents::{self, writer_of};
use super::error::VaultError;
use super::lifecycle::{self, deleted_but_recoverable};
use super::model::VaultState;
use super::model::{not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::dir_attr;
use super::node::{Attr, CertificateFile, Node, VaultFile, VersionFile};
use super::protection::{guard_of_dir, holds_secret};
use super::service::{
    DELETED_DIR, IMPORT_DIR, ISSUERS_DIR, LIVE_DIR, MAX_WRITE_SIZE, MERGE_DIR, RESTORE_DIR,
    VERSIONS_DIR, VaultService,
};
use super::side::{self, SideFile};
use super::{attributes, certificate_write};
use super::{import, issuer_file, operation};
use crate::store::VaultRecord;

/// What a file dropped into a drop-box does.
enum DropAction<'a> {
    /// A backup blob to restore.
    Restore(&'a VaultName),
    /// A signed certificate for the pending version.
    Merge(&'a VaultName, &'a CertificateName),
    /// A PFX or PEM to import, by its file name.
    Import(&'a VaultName, &'a str),
    /// A CSR for an Internal issuer to sign, by its file name.
    Sign(&'a VaultName, &'a CertificateName, &'a str),
}

/// Whether a write to `node` acts: a file dropped into a drop-box.
pub(super) fn is_drop(node: &Node) -> bool {
    drop_action(node).is_some()
}

/// The action a write to `node` triggers, if it is a file dropped into a drop-box.
fn drop_action(node: &Node) -> Option<DropAction<'_>> {
    let Node::Side(dir, name) = node else {
        return None;
    };
    match &**dir {
        Node::Merge(v, c) if !side::is_scratch(name) => Some(DropAction::Merge(v, c)),
        Node::Import(v) if import::is_import(name) => Some(DropAction::Import(v, name)),
        Node::Restore(v) if !side::is_scratch(name) => Some(DropAction::Restore(v)),
        Node::SignDir(v, i) if name.ends_with(".csr") && !side::is_scratch(name) => {
            Some(DropAction::Sign(v, i, name))
        }
        _ => None,
    }
}

impl VaultService {
    /// Checks that `node` may be opened for writing.
    pub fn check_writable(&self, node: &Node) -> Result<(), VaultError> {
        match node {
            Node::CertificateFile(_, _, CertificateFile::Request) => Err(VaultError::NotPermitted(
                "request.csr is read-only: it is the pending operation's CSR".into(),
            )),
            Node::CertificateFile(_, _, CertificateFile::Status) => Err(VaultError::NotPermitted(
                "status.json is read-only: certfs writes it as renewals and hooks run".into(),
            )),
            Node::Metrics => Err(VaultError::NotPermitted(
                "metrics.prom is read-only: certfs makes it from every certificate".into(),
            )),
            Node::CertificateFile(_, _, CertificateFile::Backup) => Err(VaultError::NotPermitted(
                "backup.blob is read-only: to restore, write a blob into the vault's restore/"
                    .into(),
            )),
            Node::Side(_, name) if side::is_report(name) => Err(VaultError::NotPermitted(format!(
                "{name} is a report certfs writes about a refused action; it can be removed, not written"
            ))),
            Node::Side(..)
            | Node::CertificateFile(..)
            | Node::VaultFile(..)
            | Node::IssuerFile(..)
            | Node::VersionFile {
                file: VersionFile::Attributes,
                ..
            } => self.getattr(node).map(|_| ()),
            Node::IssuerCa(_, name) => Err(VaultError::NotPermitted(format!(
                "issuers/{name}.pem is read-only: it is the Internal issuer's CA certificate"
            ))),
            Node::IssuerCrl(_, name) => Err(VaultError::NotPermitted(format!(
                "issuers/{name}.crl is read-only: certfs signs it from what was revoked"
            ))),
            Node::IssuedCert(..) | Node::RevokedCert(..) => Err(VaultError::NotPermitted(
                "a record of an issued certificate is read-only".into(),
            )),
            Node::VersionFile { file, .. } => Err(VaultError::NotPermitted(format!(
                "{} is read-only: it is made from the certificate's version",
                file.file_name()
            ))),
            _ => Err(VaultError::IsDirectory("is a directory".into())),
        }
    }

    /// Checks that the user `uid` may write `node` on a mount owned by
    /// `owner`: `hooks.json` runs commands as the daemon's user, so only
    /// the owner (or root) writes it.
    pub fn check_writer(&self, node: &Node, uid: u32, owner: u32) -> Result<(), VaultError> {
        match node {
            Node::CertificateFile(_, _, CertificateFile::Hooks) if uid != owner && uid != 0 => {
                Err(VaultError::Forbidden(
                    "hooks.json runs commands as certfs' user: only the mount's owner may write it"
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Creates the new file `name` in `dir` for writing (`O_CREAT`); a
    /// scratch file is `creator`'s, with `mode` (open's mode less the umask).
    pub fn create(
        &self,
        dir: &Node,
        name: &str,
        creator: &Caller,
        mode: u16,
    ) -> Result<(Node, Attr), VaultError> {
        if let Ok(node) = self.child(dir, name) {
            self.check_writable(&node)?;
            let attr = self.getattr(&node)?;
            return Ok((node, attr));
        }
        let node = match dir {
            Node::Certificate(v, c) if name == CertificateFile::Policy.file_name() => {
                Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy)
            }
            Node::Vault(v) if name == VaultFile::Contacts.file_name() => {
                Node::VaultFile(v.clone(), VaultFile::Contacts)
            }
            Node::Issuers(v) if name.ends_with(".json") && !side::is_scratch(name) => {
                Node::IssuerFile(v.clone(), issuer_file::parse_name(name)?)
            }
            _ => {
                self.check_side_dir(dir, name)?;
                let file =
                    SideFile::new((creator.uid, creator.gid), mode, guard_of_dir(dir), now());
                self.scratch().put(dir, name, file);
                Node::Side(Box::new(dir.clone()), name.to_owned())
            }
        };
        let attr = self.getattr(&node)?;
        Ok((node, attr))
    }

    /// Whether `dir` may hold the side file `name` (reports are certfs' own).
    pub(super) fn check_side_dir(&self, dir: &Node, name: &str) -> Result<(), VaultError> {
        if side::is_report(name) {
            return Err(VaultError::NotPermitted(format!(
                "{name}: names ending in {} are certfs' reports of refused actions",
                side::ERROR_SUFFIX
            )));
        }
        match dir {
            Node::Import(_) | Node::Merge(..) | Node::Issuers(_) | Node::Restore(_) => {
                self.getattr(dir).map(|_| ())
            }
            // revoked/<SERIAL>.reason, written before the mv that revokes
            // (an editor's scratch names too); a `.pem` there is certfs'
            // own record of a revocation, never a user's file.
            Node::RevokedDir(..) if name.ends_with(".pem") && !side::is_scratch(name) => {
                Err(VaultError::NotPermitted(format!(
                    "{name}: revoked/ lists what was revoked (mv issued/<SERIAL>.pem revoked/); \
                     only <SERIAL>.reason may be written here"
                )))
            }
            // CSRs and what they become in sign/.
            Node::RevokedDir(..) | Node::SignDir(..) => self.getattr(dir).map(|_| ()),
            Node::Vault(_) | Node::Certificate(..) => {
                self.getattr(dir)?;
                let reserved = [
                    VERSIONS_DIR,
                    MERGE_DIR,
                    IMPORT_DIR,
                    ISSUERS_DIR,
                    RESTORE_DIR,
                    DELETED_DIR,
                ]
                .contains(&name)
                    || CertificateFile::from_name(name).is_some()
                    || VaultFile::from_name(name).is_some();
                if reserved || VersionFile::from_name(name).is_some() {
                    return Err(VaultError::NotPermitted(format!(
                        "{name} is made by certfs"
                    )));
                }
                Ok(())
            }
            Node::Root => Err(VaultError::NotPermitted(
                "only vault directories can be made at the mount root (mkdir NAME)".into(),
            )),
            _ => Err(VaultError::NotPermitted(
                "this directory is read-only".into(),
            )),
        }
    }

    /// The close-time action of the mount's owner: `data` was written to
    /// `node` (see [`Self::write_by`]).
    pub fn write(&self, node: &Node, data: &[u8]) -> Result<Changes, VaultError> {
        self.write_by(&self.owner_caller(), node, data)
    }

    /// The close-time action: `writer` wrote `data` to `node`. On refusal
    /// the reason is also left in `<name>.error` beside the file.
    pub fn write_by(
        &self,
        writer: &Caller,
        node: &Node,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        self.write_into(writer, node, None, data)
    }

    /// [`Self::write_by`] into scratch file `side_id` (the one a handle
    /// opened) when `node` is one: another file made under its name since
    /// takes nothing.
    pub(super) fn write_into(
        &self,
        writer: &Caller,
        node: &Node,
        side_id: Option<u64>,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let drop_box = drop_action(node);
        if let Node::Side(dir, name) = node {
            // A file removed while open (vim unlinks its swap file, then
            // closes it) takes no bytes and does nothing, as on any filesystem.
            if drop_box.is_none() {
                let secret = holds_secret(data);
                self.scratch()
                    .write(dir, name, side_id, writer, Arc::from(data), secret, now());
                return Ok(Changes::default());
            }
            let present = self.side_files().id(dir, name);
            if present.is_none() || side_id.is_some_and(|id| present != Some(id)) {
                return Ok(Changes::default());
            }
        }
        let result = if data.len() > MAX_WRITE_SIZE {
            // The writer's bytes past the limit were never kept: say the limit, not a size.
            Err(VaultError::TooLarge(format!(
                "The file is larger than {MAX_WRITE_SIZE} bytes (1 MiB), the most certfs accepts"
            )))
        } else {
            match (node, drop_box) {
                (_, Some(DropAction::Merge(v, c))) => self.merge(v, c, data),
                (_, Some(DropAction::Import(v, name))) => self.import(v, name, data),
                (_, Some(DropAction::Restore(v))) => self.restore(v, data),
                (_, Some(DropAction::Sign(v, i, name))) => self.sign_csr(writer, v, i, name, data),
                (Node::CertificateFile(v, c, CertificateFile::Policy), None) => {
                    self.write_policy(v, c, data)
                }
                (
                    Node::VersionFile {
                        vault,
                        cert,
                        version,
                        file: VersionFile::Attributes,
                        ..
                    },
                    None,
                ) => self.change(|tx| attributes::write_attributes(tx, vault, cert, version, data)),
                (Node::VaultFile(v, VaultFile::Settings), None) => {
                    self.change(|tx| lifecycle::write_settings(tx, v, data))
                }
                (Node::VaultFile(v, VaultFile::Contacts), None) => {
                    self.change(|tx| documents::write_contacts(tx, v, data))
                }
                (Node::IssuerFile(v, name), None) => {
                    self.write_issuer(&writer_of(writer), v, name, data)
                }
                (Node::CertificateFile(v, c, CertificateFile::Tags), None) => {
                    self.change(|tx| certificate_write::write_tags(tx, v, c, data))
                }
                (Node::CertificateFile(v, c, CertificateFile::Operation), None) => {
                    operation::parse_update(data)?;
                    self.cancel_operation(v, c)
                }
                (Node::CertificateFile(v, c, CertificateFile::Hooks), None) => {
                    self.write_hooks(v, c, data)
                }
                _ => Err(VaultError::NotPermitted("this file is read-only".into())),
            }
        };
        if let Node::Side(dir, name) = node {
            // A dropped file goes away, acted on or refused: it may hold a
            // private key, and its `.error` says what happened.
            self.scratch().remove(dir, name);
        }
        self.report(node, &result);
        result
    }

    /// Empties the side file `node` (`truncate` without an open handle) for `writer`.
    pub fn truncate(&self, writer: &Caller, node: &Node) -> Result<(), VaultError> {
        match node {
            Node::Side(dir, name) => {
                let emptied = self.scratch().write(
                    dir,
                    name,
                    None,
                    writer,
                    Arc::from(&b""[..]),
                    false,
                    now(),
                );
                emptied.then_some(()).ok_or_else(|| not_found(name))
            }
            // Truncating a real file only takes effect with the write that follows.
            Node::CertificateFile(..) => self.getattr(node).map(|_| ()),
            _ => self.check_writable(node),
        }
    }

    /// `mkdir`: a vault at the root, a draft certificate in a vault.
    pub fn mkdir(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        let result = self.mkdir_inner(dir, name);
        if let Err(e) = &result {
            log::warn!("mkdir {name}: {e}");
        }
        self.report_in(dir, name, result.as_ref().map(|_| ()));
        result
    }

    fn mkdir_inner(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        if self.side_files().get(dir, name).is_some() {
            return Err(VaultError::AlreadyExists(format!("{name} exists")));
        }
        match dir {
            Node::Root => {
                if name.eq_ignore_ascii_case(LIVE_DIR) {
                    return Err(VaultError::AlreadyExists(format!(
                        "{LIVE_DIR} is reserved: it is the certbot-compatible view of every certificate"
                    )));
                }
                let name = VaultName::parse(name).map_err(|e| VaultError::BadParameter(e.0))?;
                let t = now();
                let mut tx = self.transaction();
                if let Some(existing) = tx.model().vaults.get(&name) {
                    return Err(VaultError::AlreadyExists(format!(
                        "A vault named {} exists",
                        existing.name
                    )));
                }
                tx.store().create_vault(&VaultRecord {
                    name: name.to_string(),
                    created: t,
                })?;
                tx.model_mut()
                    .vaults
                    .insert(name.clone(), VaultState::new(name.clone(), t));
                log::info!("vault {name} created");
                Ok((Node::Vault(name), dir_attr(t)))
            }
            Node::Vault(v) => {
                let cert =
                    CertificateName::parse(name).map_err(|e| VaultError::BadParameter(e.0))?;
                // Drafts change in a transaction too, so no create,
                // import or restore of the same name is half-way meanwhile.
                let mut tx = self.transaction();
                let mut st = tx.model_mut();
                let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
                if let Some((name, _)) = vs.deleted.get_key_value(&cert) {
                    return Err(deleted_but_recoverable(name));
                }
                if let Some(existing) = vs.holder_of(&cert) {
                    return Err(VaultError::AlreadyExists(format!(
                        "A certificate named {existing} exists"
                    )));
                }
                vs.drafts.insert(cert.clone());
                Ok((
                    Node::Certificate(vs.name.clone(), cert),
                    dir_attr(vs.created),
                ))
            }
            _ => Err(VaultError::NotPermitted(
                "directories are made at the root (vaults) and in vaults (certificates)".into(),
            )),
        }
    }

    /// `rmdir`: an empty vault; a draft; a certificate, which is soft-deleted
    /// (the last step of `rm -r prod/web`); a deleted certificate, which is
    /// purged. The directories certfs makes inside a certificate or vault
    /// (`versions/`, `merge/`, `import/`, ...) "go" without effect, so that
    /// `rm -r` works.
    pub fn rmdir(&self, dir: &Node, name: &str) -> Result<Changes, VaultError> {
        let result = self.rmdir_inner(dir, name);
        if let Err(e) = &result {
            log::warn!("rmdir {name}: {e}");
        }
        self.reported(dir, name, result)
    }

    fn rmdir_inner(&self, dir: &Node, name: &str) -> Result<Changes, VaultError> {
        let node = self.child(dir, name)?;
        let holds_files = self.side_files().has_user_files(&node);
        match &node {
            Node::Vault(v) => {
                if holds_files {
                    return Err(VaultError::NotEmpty(format!(
                        "{name} holds files; remove them first"
                    )));
                }
                let mut tx = self.transaction();
                {
                    let st = tx.model();
                    let vs = vault(&st, v)?;
                    if !vs.certificates.is_empty()
                        || !vs.drafts.is_empty()
                        || !vs.deleted.is_empty()
                    {
                        return Err(VaultError::NotEmpty(format!(
                            "Vault {v} still holds certificates (deleted ones too, until purged)"
                        )));
                    }
                    // Issuers (an Internal one holds its CA's key) and
                    // contacts are the user's, as files in the folder are:
                    // rmdir removes them with nothing else, rm -r does.
                    if let Some(issuer) = vs.issuers.keys().next() {
                        return Err(VaultError::NotEmpty(format!(
                            "Vault {v} still holds issuer {issuer}: remove issuers/{issuer}.json first"
                        )));
                    }
                    if vs.contacts.is_some() {
                        return Err(VaultError::NotEmpty(format!(
                            "Vault {v} still holds its contacts: remove contacts.json first"
                        )));
                    }
                }
                tx.store().delete_vault(v.as_str())?;
                // Scratch files, reports, and passwords left in import/ go with the vault.
                tx.side().remove_dirs_where(|dir| dir.vault() == Some(v));
                tx.model_mut().vaults.remove(v);
                log::info!("vault {v} removed");
                Ok(Changes::default())
            }
            Node::Certificate(v, c) => {
                // In one transaction: a policy write that found the draft
                // finishes first, and then this is a certificate, not a draft.
                let mut tx = self.transaction();
                if vault(&tx.model(), v)?.certificates.contains_key(c) {
                    return lifecycle::soft_delete(&mut tx, v, c);
                }
                if holds_files {
                    return Err(VaultError::NotEmpty(format!(
                        "{name} holds files; remove them first"
                    )));
                }
                let mut st = tx.model_mut();
                let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
                vs.drafts.remove(c);
                drop(st);
                // Its reports go with it.
                tx.side().remove_dirs_where(|d| *d == node);
                Ok(Changes::default())
            }
            Node::DeletedCertificate(v, c) => self.change(|tx| lifecycle::purge(tx, v, c, now())),
            // Directories certfs makes: nothing to remove.
            Node::Versions(..)
            | Node::Version(..)
            | Node::Merge(..)
            | Node::Import(_)
            | Node::Issuers(_)
            | Node::IssuerDir(..)
            | Node::IssuedDir(..)
            | Node::RevokedDir(..)
            | Node::SignDir(..)
            | Node::Restore(_)
            | Node::Deleted(_) => Ok(Changes::default()),
            Node::Side(..) => Err(VaultError::NotDirectory(format!(
                "{name} is not a directory"
            ))),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} is made by certfs"
            ))),
        }
    }

    /// `unlink`: side files and error reports; `operation.json` deletes the operation.
    pub fn unlink(&self, dir: &Node, name: &str) -> Result<Changes, VaultError> {
        let node = self.child(dir, name)?;
        let side = matches!(node, Node::Side(..));
        let result = self.unlink_node(node, name);
        if let Err(e) = &result {
            log::warn!("unlink {name}: {e}");
        }
        // A removed side file keeps its report (it says why the file was refused).
        if side {
            return result;
        }
        self.reported(dir, name, result)
    }

    fn unlink_node(&self, node: Node, name: &str) -> Result<Changes, VaultError> {
        match node {
            Node::Side(dir, name) => {
                self.scratch().remove(&dir, &name);
                Ok(Changes::default())
            }
            Node::CertificateFile(v, c, CertificateFile::Operation) => {
                self.delete_operation(&v, &c)
            }
            Node::VaultFile(v, VaultFile::Contacts) => {
                self.change(|tx| documents::delete_contacts(tx, &v))
            }
            Node::IssuerFile(v, issuer) => {
                self.change(|tx| documents::delete_issuer(tx, &v, &issuer))
            }
            n if n.is_dir() => Err(VaultError::IsDirectory(format!("{name} is a directory"))),
            // The files of a certificate are views of it: removing one removes
            // nothing (`rm -r prod/web` then deletes the certificate itself).
            Node::CertificateFile(..)
            | Node::VersionFile { .. }
            | Node::DeletedFile(..)
            | Node::IssuerCa(..)
            | Node::IssuerCrl(..)
            | Node::VaultFile(_, VaultFile::Settings) => {
                log::debug!("unlink of {name}: a view of its certificate; nothing removed");
                Ok(Changes::default())
            }
            Node::IssuedCert(..) | Node::RevokedCert(..) => Err(VaultError::NotPermitted(format!(
                "{name} is a record of the issuer: it cannot be removed on its own \
                 (revoke it with mv into revoked/; the folder goes with its issuer's .json)"
            ))),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} is made by certfs and cannot be removed"
            ))),
        }
    }
}
