//! Who may do what: Unix modes and owners of certificate files (persisted `chmod`/`chown`), and the roles of `vault.json`'s `access`.
//!
//! Only a mount with `--allow-other` lets other users in; then certfs
//! (not the kernel) decides every open, create and change, so that a
//! vault's roles can grant more than one mode word can say. A request is
//! allowed when the caller is root or the mount's owner, when a role of
//! the vault allows it, or when the file's mode does, for its owner, its
//! group or others, as on any Unix filesystem.
//!
//! `chmod`, `chown` and `chgrp` on a certificate's key and secret files
//! (`privkey.pem`, `bundle.pem`, `cert.pfx`) and on its directory are
//! stored per certificate and file name, so they hold for every version,
//! in `versions/` and `live/` too, and survive renewals and remounts. On
//! other files they are accepted and change nothing (copying tools set the
//! mode of what they write).

use super::access::{Caller, DIRECTORY, DOCUMENT_PREFIX, Want};
use super::changes::Changes;
use super::error::VaultError;
use super::model::{certificate, not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::{Attr, Node};
use super::protection::{folder_of, guard_of_dir, is_secret, is_vault_config};
use super::service::VaultService;

/// The file `node` names for stored modes: its certificate and the name
/// (`.` for the directory), for the files whose modes may change.
fn perm_target(node: &Node) -> Option<(&VaultName, &CertificateName, &'static str)> {
    match node {
        Node::VersionFile {
            vault, cert, file, ..
        } if file.holds_key() => Some((vault, cert, file.file_name())),
        Node::Certificate(v, c) | Node::DeletedCertificate(v, c) => Some((v, c, DIRECTORY)),
        _ => None,
    }
}

/// The permission bit a request needs, as in a mode's `rwx` triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bit {
    Read = 4,
    Write = 2,
    Search = 1,
}

impl From<Want> for Bit {
    fn from(want: Want) -> Bit {
        match want {
            Want::Read => Bit::Read,
            Want::Write => Bit::Write,
        }
    }
}

/// What a caller holds in a vault: its roles.
struct Roles {
    manage: bool,
    read_keys: bool,
    read_certificates: bool,
}

impl Roles {
    fn any(&self) -> bool {
        self.manage || self.read_keys || self.read_certificates
    }
}

impl VaultService {
    /// The mount's owner as a caller (the writer of what the mount itself writes).
    pub(crate) fn owner_caller(&self) -> Caller {
        let (uid, gid) = self.mount_owner();
        Caller {
            uid,
            gid,
            pid: std::process::id(),
            groups: Vec::new(),
        }
    }

    /// Whether `caller` is root or the mount's owner, or the mount lets no
    /// one else in: then the kernel has checked all there is to check.
    fn privileged(&self, caller: &Caller) -> bool {
        caller.uid == 0 || caller.uid == self.mount_owner().0 || !self.lets_others_in()
    }

    /// The roles `caller` holds in the vault of `node`.
    fn roles(&self, caller: &Caller, node: &Node) -> Roles {
        let groups = caller.all_groups();
        let access = node
            .vault()
            .and_then(|v| {
                let st = self.model();
                vault(&st, v).ok().map(|vs| vs.settings.access.clone())
            })
            .unwrap_or_default();
        Roles {
            manage: access.manage.contains(caller.uid, &groups),
            read_keys: access.read_keys.contains(caller.uid, &groups),
            read_certificates: access.read_certificates.contains(caller.uid, &groups),
        }
    }

    /// Whether `caller` may `want` on `node`: `EACCES` (`Forbidden`) if not.
    ///
    /// Root and the mount's owner may do anything. Anyone else needs a
    /// role of the vault that allows it, or a mode that does, and the
    /// certificate folder's mode must let them in (a role does). A side
    /// file is its owner's, with its mode, whatever the roles, and never
    /// less protected than what it holds or came from ([`Guard`]).
    pub fn authorize(&self, caller: &Caller, node: &Node, want: Want) -> Result<(), VaultError> {
        if self.privileged(caller) {
            return Ok(());
        }
        let roles = self.roles(caller, node);
        let allowed = self.enters_folder(caller, node, &roles)?
            && match node {
                Node::Side(dir, name) => self.side_allows(caller, dir, name, want, &roles)?,
                _ => self.file_allows(caller, node, want, &roles)?,
            };
        if allowed {
            return Ok(());
        }
        if let Node::Side(..) = node {
            let attr = self.getattr(node)?;
            let (uid, _) = attr.owner.unwrap_or(self.mount_owner());
            return Err(VaultError::Forbidden(format!(
                "Access denied: user {} may not {} this file: it is user {uid}'s, mode {:04o}{}",
                caller.uid,
                match want {
                    Want::Read => "read",
                    Want::Write => "write",
                },
                attr.mode,
                if self.is_secret(node) {
                    ", and it holds a secret (its owner and the read_keys role read it)"
                } else {
                    ""
                }
            )));
        }
        Err(VaultError::Forbidden(format!(
            "Access denied: user {} has no {} permission here; the mount's owner can grant it with \
             chmod/chgrp or in vault.json's access",
            caller.uid,
            match (want, self.is_secret(node)) {
                (Want::Write, _) => "manage",
                (Want::Read, true) => "read_keys",
                (Want::Read, false) => "read_certificates",
            }
        )))
    }

    /// `lookup` of a name in `dir`, and `chdir`: whether `caller` may
    /// search `dir` (a certificate folder's `x` bit, or a role).
    pub fn authorize_search(&self, caller: &Caller, dir: &Node) -> Result<(), VaultError> {
        if self.privileged(caller) {
            return Ok(());
        }
        let roles = self.roles(caller, dir);
        let Some((folder, _)) = folder_of(dir) else {
            return Ok(());
        };
        if roles.any() || self.folder_allows(caller, &folder, Bit::Search) {
            return Ok(());
        }
        Err(VaultError::Forbidden(format!(
            "Access denied: the certificate's folder lets user {} in only with a role of \
             vault.json's access",
            caller.uid
        )))
    }

    /// Whether the kernel may keep the names found in `dir` for every
    /// user. Without `--allow-other` only the mount's owner reaches
    /// certfs; with it, a kept name would let another user's path walk
    /// past [`Self::authorize_search`], so only where every user may
    /// search: outside certificate folders, or in one whose mode gives `x`
    /// to its owner, group and others.
    pub fn names_shared(&self, dir: &Node) -> bool {
        if !self.lets_others_in() {
            return true;
        }
        let Some((folder, _)) = folder_of(dir) else {
            return true;
        };
        let mut attr = super::node::dir_attr(0);
        self.apply_perms(&folder, &mut attr);
        attr.mode & 0o111 == 0o111
    }

    /// Whether the certificate folder holding `node` lets `caller` reach
    /// it: its `x` bit (its `r` bit to list the folder itself), or any role
    /// of the vault.
    fn enters_folder(
        &self,
        caller: &Caller,
        node: &Node,
        roles: &Roles,
    ) -> Result<bool, VaultError> {
        let Some((folder, is_folder)) = folder_of(node) else {
            return Ok(true);
        };
        if roles.any() || is_folder {
            // The folder's own `r`/`w` bits are its file mode (below).
            return Ok(true);
        }
        Ok(self.folder_allows(caller, &folder, Bit::Search))
    }

    /// Whether the mode of certificate folder `c` gives `caller` `bit`.
    fn folder_allows(&self, caller: &Caller, folder: &Node, bit: Bit) -> bool {
        let mut attr = super::node::dir_attr(0);
        self.apply_perms(folder, &mut attr);
        mode_allows(&attr, caller, bit, self.mount_owner())
    }

    /// A file or folder of certfs: a role that covers it, or its mode
    /// (not for a vault's settings and issuers, which are roles only).
    fn file_allows(
        &self,
        caller: &Caller,
        node: &Node,
        want: Want,
        roles: &Roles,
    ) -> Result<bool, VaultError> {
        let granted = match want {
            Want::Write => roles.manage,
            Want::Read if is_secret(node) => roles.manage || roles.read_keys,
            Want::Read => roles.any(),
        };
        if granted {
            return Ok(true);
        }
        if is_vault_config(node) {
            return Ok(false);
        }
        let mut attr = self.getattr(node)?;
        if let Node::LiveCertificate(v, c) = node {
            // The view of a certificate folder has the folder's mode.
            self.apply_perms(&Node::Certificate(v.clone(), c.clone()), &mut attr);
        }
        Ok(mode_allows(&attr, caller, want.into(), self.mount_owner()))
    }

    /// A side file: its owner and mode decide, within its [`Guard`].
    fn side_allows(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
        want: Want,
        roles: &Roles,
    ) -> Result<bool, VaultError> {
        let (guard, owner) = {
            let side = self.side_files();
            let file = side.get(dir, name).ok_or_else(|| not_found(name))?;
            (file.guard.with(guard_of_dir(dir)), file.owner)
        };
        let guarded = match want {
            _ if guard.managers && !roles.manage => false,
            Want::Write => !guard.owner_only,
            Want::Read => !guard.secret || roles.manage || roles.read_keys || caller.uid == owner.0,
        };
        if !guarded {
            return Ok(false);
        }
        let attr = self.getattr(&Node::Side(Box::new(dir.clone()), name.to_owned()))?;
        Ok(mode_allows(&attr, caller, want.into(), self.mount_owner()))
    }

    /// Whether `node` holds a private key or a secret (key reads are audited).
    pub(crate) fn is_secret(&self, node: &Node) -> bool {
        match node {
            Node::Side(dir, name) => {
                guard_of_dir(dir).secret
                    || self
                        .side_files()
                        .get(dir, name)
                        .is_some_and(|f| f.guard.secret)
            }
            _ => is_secret(node),
        }
    }

    /// `chmod`/`chown`/`chgrp` on `node` by `caller`: stored for a
    /// certificate's key and secret files and its directory. Only root and
    /// the mount's owner change owners; the file's owner may change its mode.
    pub fn set_permissions(
        &self,
        caller: &Caller,
        node: &Node,
        mode: Option<u16>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<Changes, VaultError> {
        let attr = self.getattr(node)?;
        let (owner, owner_gid) = self.mount_owner();
        let file_uid = attr.owner.map(|(u, _)| u).unwrap_or(owner);
        let file_gid = attr.owner.map(|(_, g)| g).unwrap_or(owner_gid);
        let unchanged = mode.is_none_or(|m| m & 0o7777 == attr.mode)
            && uid.is_none_or(|u| u == file_uid)
            && gid.is_none_or(|g| g == file_gid);
        if unchanged {
            return Ok(Changes::default());
        }
        if let Node::Side(dir, name) = node {
            return self.set_side_permissions(caller, dir, name, mode, uid, gid, attr);
        }
        let target = perm_target(node).filter(|_| !matches!(node, Node::DeletedCertificate(..)));
        let Some((v, c, file)) = target else {
            // Copying tools set the mode of what they write (Rust's fs::copy,
            // Python's shutil.copy): accepted, with no effect, as before; a
            // deleted certificate's folder keeps the mode it had.
            log::debug!(
                "mode/owner change ignored: certfs keeps them only for a certificate's key and \
                 secret files and its directory"
            );
            return Ok(Changes::default());
        };
        let privileged = caller.uid == 0 || caller.uid == owner;
        if (uid.is_some_and(|u| u != file_uid) || gid.is_some_and(|g| g != file_gid)) && !privileged
        {
            return Err(VaultError::NotPermitted(
                "only root and the mount's owner change owners".into(),
            ));
        }
        if !privileged && caller.uid != file_uid {
            return Err(VaultError::NotPermitted(
                "only the file's owner changes its mode".into(),
            ));
        }
        let mut tx = self.transaction();
        let (name, mut perms) = {
            let st = tx.model();
            let cs = certificate(&st, v, c)?;
            (cs.name.clone(), cs.perms.clone())
        };
        let entry = perms.entry(file.to_owned()).or_default();
        if let Some(m) = mode {
            entry.mode = Some(m & 0o777);
        }
        if let Some(u) = uid {
            entry.uid = Some(u);
        }
        if let Some(g) = gid {
            entry.gid = Some(g);
        }
        let text = serde_json::to_string(&perms).unwrap_or_default();
        tx.store()
            .put_document(v.as_str(), &format!("{DOCUMENT_PREFIX}{name}"), Some(&text))?;
        let mut st = tx.model_mut();
        if let Some(cs) = st
            .vaults
            .get_mut(v)
            .and_then(|vs| vs.certificates.get_mut(c))
        {
            cs.perms = perms;
        }
        if file == DIRECTORY {
            // Names the kernel keeps inside the folder were judged by its
            // old mode (see `names_shared`): all are looked up again.
            self.switching();
        }
        log::info!(
            "{v}/{name}/{file}: mode/owner changed by user {}",
            caller.uid
        );
        Ok(Changes {
            dirs: vec![
                Node::Certificate(v.clone(), c.clone()),
                Node::LiveCertificate(v.clone(), c.clone()),
                Node::Vault(v.clone()),
            ],
        })
    }

    /// `chmod`/`chown` of a side file: as on any file system, its owner
    /// changes its mode, root and the mount's owner change anything.
    #[allow(clippy::too_many_arguments)]
    fn set_side_permissions(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
        mode: Option<u16>,
        uid: Option<u32>,
        gid: Option<u32>,
        attr: Attr,
    ) -> Result<Changes, VaultError> {
        let (file_uid, file_gid) = attr.owner.unwrap_or(self.mount_owner());
        let privileged = caller.uid == 0 || caller.uid == self.mount_owner().0;
        if !privileged {
            if uid.is_some_and(|u| u != file_uid) || gid.is_some_and(|g| g != file_gid) {
                return Err(VaultError::NotPermitted(
                    "only root and the mount's owner change owners".into(),
                ));
            }
            if caller.uid != file_uid {
                return Err(VaultError::NotPermitted(
                    "only the file's owner changes its mode".into(),
                ));
            }
        }
        let owner = (uid.unwrap_or(file_uid), gid.unwrap_or(file_gid));
        if !self.scratch().set_perm(dir, name, mode, owner) {
            return Err(not_found(name));
        }
        Ok(Changes {
            dirs: vec![dir.clone()],
        })
    }

    /// Applies stored modes and owners to the `attr` of `node`.
    pub(super) fn apply_perms(&self, node: &Node, attr: &mut Attr) {
        let Some((v, c, file)) = perm_target(node) else {
            return;
        };
        let st = self.model();
        let perm = if file == DIRECTORY {
            // Without reading the certificate: stat of a vault's
            // certificate directories reads none of them. A deleted
            // certificate's folder keeps the mode it had.
            let certificates = |vs: &super::model::VaultState| match node {
                Node::DeletedCertificate(..) => vs.deleted.summary(c),
                _ => vs.certificates.summary(c),
            };
            vault(&st, v)
                .ok()
                .and_then(certificates)
                .and_then(|s| s.directory)
        } else {
            certificate(&st, v, c)
                .ok()
                .and_then(|cs| cs.perms.get(file).copied())
        };
        if let Some(perm) = perm {
            if let Some(mode) = perm.mode {
                attr.mode = mode;
            }
            if perm.uid.is_some() || perm.gid.is_some() {
                let (owner, group) = self.mount_owner();
                attr.owner = Some((perm.uid.unwrap_or(owner), perm.gid.unwrap_or(group)));
            }
        }
    }
}

/// Whether the mode of `attr` gives `caller` `bit` (owner, group, other bits).
fn mode_allows(attr: &Attr, caller: &Caller, bit: Bit, default_owner: (u32, u32)) -> bool {
    let (uid, gid) = attr.owner.unwrap_or(default_owner);
    let bits = if caller.uid == uid {
        attr.mode >> 6
    } else if caller.in_group(gid) {
        attr.mode >> 3
    } else {
        attr.mode
    };
    bits & bit as u16 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::node::Kind;

    fn attr(mode: u16, owner: Option<(u32, u32)>) -> Attr {
        Attr {
            kind: Kind::File,
            size: 0,
            mode,
            mtime: std::time::UNIX_EPOCH,
            immutable: false,
            switches: false,
            current: false,
            owner,
        }
    }

    fn caller(uid: u32, gid: u32, groups: &[u32]) -> Caller {
        Caller {
            uid,
            gid,
            pid: 1,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn modes_are_read_for_owner_group_and_others() {
        let key = attr(0o640, Some((0, 118)));
        assert!(mode_allows(&key, &caller(0, 0, &[]), Bit::Read, (0, 0)));
        assert!(mode_allows(
            &key,
            &caller(33, 33, &[118]),
            Bit::Read,
            (0, 0)
        ));
        assert!(!mode_allows(&key, &caller(33, 33, &[]), Bit::Read, (0, 0)));
        assert!(!mode_allows(
            &key,
            &caller(33, 118, &[]),
            Bit::Write,
            (0, 0)
        ));
        let cert = attr(0o444, None);
        assert!(mode_allows(
            &cert,
            &caller(1000, 1000, &[]),
            Bit::Read,
            (0, 0)
        ));
        assert!(!mode_allows(
            &cert,
            &caller(1000, 1000, &[]),
            Bit::Write,
            (0, 0)
        ));
    }
}
