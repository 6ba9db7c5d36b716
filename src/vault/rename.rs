//! `rename`: an editor's save onto a file of certfs, a copy of one to a scratch name, a move between folders, a drop into a drop-box, a recovery — never a way to place bytes where their writers could not have written them.

use super::access::Caller;
use super::actions::is_drop;
use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::lifecycle;
use super::model::not_found;
use super::node::{CertificateFile, Node, VaultFile};
use super::pki_nodes::serial_of;
use super::protection::{guard_of_dir, guard_of_file};
use super::service::VaultService;
use super::side::{self, SideFile};

/// What a `rename` asks: `dir/name` to `new_dir/new_name`, and whether an
/// existing target is refused (`RENAME_NOREPLACE`).
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// The folder renamed from.
    pub dir: &'a Node,
    /// The name renamed.
    pub name: &'a str,
    /// The folder renamed into.
    pub new_dir: &'a Node,
    /// The new name.
    pub new_name: &'a str,
    /// Refuse a target that exists.
    pub no_replace: bool,
}

impl VaultService {
    /// `rename` by `renamer`. A side file renamed onto a writable file of
    /// certfs (`policy.json`, `tags.json`, `attributes.json`, ...) is written
    /// to it (how `sed -i`, rsync and some editors save); such a file renamed
    /// to a side name is copied there (how vim makes its backup), as
    /// protected as it was, and stays in place; side files move freely
    /// within and between writable directories, and into a drop-box they
    /// act. `may_write(who, target)` is asked about the file or folder a
    /// rename writes, as rename resolved it, for the renamer and for every
    /// user who wrote the renamed file: a rename never lets anyone place
    /// bytes where they could not have written them (`hooks.json` being the
    /// owner's).
    pub fn rename(
        &self,
        mv: &Move<'_>,
        renamer: &Caller,
        may_write: &dyn Fn(&Caller, &Node) -> Result<(), VaultError>,
    ) -> Result<Changes, VaultError> {
        let &Move {
            dir,
            name,
            new_dir,
            new_name,
            ..
        } = mv;
        let renamed = self.rename_node(mv, renamer, may_write);
        // Done: an old report on either name (a refused purge of what was
        // just recovered, say) is over, as after any accepted action.
        // Refused: the reason goes beside the target, unless it is only that
        // certfs made the file (no report for EPERM on its own files).
        if let Err(VaultError::NotPermitted(_)) = renamed {
            return renamed;
        }
        let from_side = side::is_report(name) || self.is_side_dir(dir);
        let renamed = if from_side || renamed.is_err() {
            renamed
        } else {
            self.reported(dir, name, renamed)
        };
        self.reported(new_dir, new_name, renamed)
    }

    /// Whether files in `dir` are side files only (drop-boxes): their
    /// reports outlive them.
    fn is_side_dir(&self, dir: &Node) -> bool {
        matches!(
            dir,
            Node::Import(_) | Node::Merge(..) | Node::Restore(_) | Node::SignDir(..)
        )
    }

    fn rename_node(
        &self,
        mv: &Move<'_>,
        renamer: &Caller,
        may_write: &dyn Fn(&Caller, &Node) -> Result<(), VaultError>,
    ) -> Result<Changes, VaultError> {
        let &Move {
            dir,
            name,
            new_dir,
            new_name,
            no_replace,
        } = mv;
        let from = match (dir, self.child(dir, name)) {
            (Node::IssuedDir(v, i), Err(VaultError::NotFound(_))) => {
                let e = self.not_issued(v, i, name);
                log::warn!("rename of {name} in {v}/issuers/{i}/issued: {e}");
                return Err(e);
            }
            (_, found) => found?,
        };
        let to = self.child(new_dir, new_name).ok();
        if no_replace && to.is_some() {
            return Err(VaultError::AlreadyExists(format!("{new_name} exists")));
        }
        if side::is_report(new_name) {
            return Err(VaultError::NotPermitted(format!(
                "{new_name}: names ending in {} are certfs' reports of refused actions",
                side::ERROR_SUFFIX
            )));
        }
        // The renamed side file as one snapshot: its bytes and who wrote them.
        let moved = match &from {
            Node::Side(..) => Some(
                self.side_files()
                    .get(dir, name)
                    .cloned()
                    .ok_or_else(|| not_found(name))?,
            ),
            _ => None,
        };
        // Everyone whose bytes a rename places must have been able to write them there.
        let writers = moved
            .as_ref()
            .map(|f| f.writers.clone())
            .unwrap_or_default();
        let all_may_write = |target: &Node| -> Result<(), VaultError> {
            may_write(renamer, target)?;
            for writer in &writers {
                may_write(writer, target).map_err(|_| {
                    VaultError::Forbidden(format!(
                        "{name} was written by user {}, who may not write {new_name}: \
                         the rename would place their bytes there",
                        writer.uid
                    ))
                })?;
            }
            Ok(())
        };
        // Whose write the rename is: the bytes' one writer when there is
        // one (the paths an issuer file names are then opened as that user,
        // not as whoever renamed it), else the renamer. Bytes of several
        // users make no issuer file: its paths are opened as one writer.
        let author = |target: &Node| -> Result<&Caller, VaultError> {
            match writers.as_slice() {
                [] => Ok(renamer),
                [one] => Ok(one),
                _ if matches!(target, Node::IssuerFile(..)) => {
                    let uids: Vec<u32> = writers.iter().map(|w| w.uid).collect();
                    Err(VaultError::Forbidden(format!(
                        "{name} was written by several users ({uids:?}): write {new_name} directly"
                    )))
                }
                _ => Ok(renamer),
            }
        };
        match (&from, &to, moved) {
            // Onto a writable file of certfs (policy.json, tags.json, attributes.json, ...).
            (Node::Side(..), Some(target), Some(file))
                if !matches!(target, Node::Side(..)) && self.check_writable(target).is_ok() =>
            {
                all_may_write(target)?;
                let changes = self.write_by(author(target)?, target, &file.data)?;
                self.scratch().remove(dir, name);
                Ok(changes)
            }
            (Node::Side(..), Some(Node::Side(..)) | None, Some(file)) => {
                // A name that makes a document when created (a draft's
                // policy.json, contacts.json, a new issuers/<name>.json):
                // the rename writes it, as rsync's and editors' saves do.
                let draft_policy = to.is_none() && makes_document(new_dir, new_name);
                let target = if draft_policy {
                    self.create(new_dir, new_name, renamer, file.mode)?.0
                } else {
                    if to.is_none() {
                        self.check_side_dir(new_dir, new_name)?;
                    }
                    Node::Side(Box::new(new_dir.clone()), new_name.to_owned())
                };
                all_may_write(if draft_policy { &target } else { new_dir })?;
                let moved = SideFile {
                    guard: file.guard.with(guard_of_dir(new_dir)),
                    ..file
                };
                if draft_policy || is_drop(&target) {
                    // Renaming onto a new document or into a drop-box acts, as a write would.
                    let data = moved.data.clone();
                    if let Node::Side(..) = target {
                        self.scratch().put(new_dir, new_name, moved);
                    }
                    let changes = self.write_by(author(&target)?, &target, &data)?;
                    self.scratch().remove(dir, name);
                    return Ok(changes);
                }
                // The file as it is now moves (a chmod since the snapshot
                // stays), unless someone new wrote it meanwhile: their
                // rights to the new place were not checked.
                let mut side = self.scratch();
                let current = side.remove(dir, name).ok_or_else(|| not_found(name))?;
                if current.writers.len() != moved.writers.len() {
                    side.put(dir, name, current);
                    return Err(VaultError::Conflict(format!(
                        "{name} was written while it was being renamed: rename it again"
                    )));
                }
                let guard = current.guard.with(moved.guard);
                side.put(new_dir, new_name, SideFile { guard, ..current });
                Ok(Changes::default())
            }
            // A writable file of certfs to a scratch name: copied (vim's
            // backup), with the original's owner, mode and protection.
            (real, None | Some(Node::Side(..)), None) if self.check_writable(real).is_ok() => {
                self.check_side_dir(new_dir, new_name)?;
                let attr = self.getattr(real)?;
                let data = self.read(&from)?;
                let copy = SideFile::holding(
                    data,
                    attr.owner.unwrap_or(self.mount_owner()),
                    attr.mode,
                    guard_of_file(real).with(guard_of_dir(new_dir)),
                    now(),
                );
                self.scratch().put(new_dir, new_name, copy);
                Ok(Changes::default())
            }
            // `mv issuers/<i>/issued/<SERIAL>.pem issuers/<i>/revoked/`: revoke.
            (Node::IssuedCert(v, i, serial), None, _)
                if *new_dir == Node::RevokedDir(v.clone(), i.clone())
                    && serial_of(new_name).as_ref() == Some(serial) =>
            {
                may_write(renamer, new_dir)?;
                self.revoke(v, i, serial)
            }
            (Node::IssuedCert(..), _, _) => Err(VaultError::BadParameter(format!(
                "{name} is revoked by moving it into its issuer's revoked/ under the same name"
            ))),
            (Node::RevokedCert(..), _, _) => Err(VaultError::BadParameter(format!(
                "{name} is revoked: a revocation cannot be undone"
            ))),
            // `mv prod/deleted/web prod/web`: recover.
            (Node::DeletedCertificate(v, c), None, _)
                if *new_dir == Node::Vault(v.clone()) && c.as_str().eq_ignore_ascii_case(new_name) =>
            {
                self.change(|tx| lifecycle::recover(tx, v, c))
            }
            (Node::DeletedCertificate(..), _, _) => Err(VaultError::BadParameter(
                "A deleted certificate is recovered under its own name: mv <vault>/deleted/NAME <vault>/NAME".into(),
            )),
            (n, _, _) if n.is_dir() => Err(VaultError::NotPermitted(
                "vaults and certificates cannot be renamed (Key Vault names are fixed)".into(),
            )),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} cannot be renamed to {new_name}"
            ))),
        }
    }
}

/// Whether creating `name` in `dir` makes a document of certfs rather
/// than a scratch file (see `VaultService::create`).
fn makes_document(dir: &Node, name: &str) -> bool {
    match dir {
        Node::Certificate(..) => name == CertificateFile::Policy.file_name(),
        Node::Vault(_) => name == VaultFile::Contacts.file_name(),
        Node::Issuers(_) => name.ends_with(".json") && !side::is_scratch(name),
        _ => false,
    }
}
