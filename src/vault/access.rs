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

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use super::name::{CertificateName, VaultName};
use super::node::{Attr, CertificateFile, Node, VaultFile};
use super::service::{Changes, VaultService, certificate, vault};

/// The prefix of a certificate's stored modes and owners: `perm/<name>`.
pub const DOCUMENT_PREFIX: &str = "perm/";

/// The name under which a certificate directory's own mode is stored.
pub(crate) const DIRECTORY: &str = ".";

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Process id (for the audit log).
    pub pid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Caller {
    /// The daemon itself (background work: renewals, CA orders).
    pub fn daemon() -> Self {
        Caller {
            uid: 0,
            gid: 0,
            pid: std::process::id(),
            groups: Vec::new(),
        }
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    fn all_groups(&self) -> Vec<u32> {
        let mut all = self.groups.clone();
        all.push(self.gid);
        all
    }
}

/// What a request wants to do with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Read a file.
    Read,
    /// Write a file (or create, remove or rename in a directory).
    Write,
}

/// A stored mode and owner of one file of a certificate; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Perm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u16>,
}

/// The stored modes of a certificate's files, by file name.
pub(crate) type Perms = BTreeMap<String, Perm>;

/// Parses a stored `perm/<name>` document.
pub(crate) fn perms_from_stored(text: &str) -> Option<Perms> {
    serde_json::from_str(text).ok()
}

/// The file `node` names for stored modes: its certificate and the name
/// (`.` for the directory), for the files whose modes may change.
fn perm_target(node: &Node) -> Option<(&VaultName, &CertificateName, &'static str)> {
    match node {
        Node::VersionFile {
            vault, cert, file, ..
        } if file.holds_key() => Some((vault, cert, file.file_name())),
        Node::Certificate(v, c) => Some((v, c, DIRECTORY)),
        _ => None,
    }
}

/// Whether `node` holds a private key or a secret (a role must allow keys).
pub(crate) fn is_secret(node: &Node) -> bool {
    match node {
        Node::VersionFile { file, .. } => file.holds_key(),
        Node::CertificateFile(_, _, CertificateFile::Backup) => true,
        // What waits in import/ or restore/ (a PFX or PEM with its key, a
        // password, a backup blob) is as secret as what it becomes.
        Node::Side(dir, _) => matches!(**dir, Node::Import(_) | Node::Restore(_)),
        _ => false,
    }
}

/// Whether `node` is a vault's settings or issuers (managers only, whatever the mode says).
fn is_vault_config(node: &Node) -> bool {
    match node {
        Node::VaultFile(_, VaultFile::Settings) | Node::IssuerFile(..) | Node::Issuers(_) => true,
        // An editor's swap or backup file of an issuer holds its secrets too.
        Node::Side(dir, _) => matches!(**dir, Node::Issuers(_)),
        _ => false,
    }
}

impl VaultService {
    /// Sets the mount's owner and whether other users may come in (`--allow-other`).
    pub fn set_mount_owner(&self, uid: u32, gid: u32, others: bool) {
        let _ = self.owner.set((uid, gid));
        self.others.store(others, Ordering::Release);
    }

    /// The mount's owner (uid, gid).
    pub fn mount_owner(&self) -> (u32, u32) {
        self.owner.get().copied().unwrap_or((0, 0))
    }

    /// Whether `caller` may `want` on `node`: `EACCES` (`Forbidden`) if not.
    pub fn authorize(&self, caller: &Caller, node: &Node, want: Want) -> Result<(), VaultError> {
        let (owner, _) = self.mount_owner();
        if caller.uid == 0 || caller.uid == owner || !self.others.load(Ordering::Acquire) {
            return Ok(());
        }
        let groups = caller.all_groups();
        let access = node
            .vault()
            .and_then(|v| {
                let st = self.state.read();
                vault(&st, v).ok().map(|vs| vs.settings.access.clone())
            })
            .unwrap_or_default();
        let manager = access.manage.contains(caller.uid, &groups);
        let granted = match want {
            Want::Write => manager,
            // What an editor keeps beside an issuer file (`.digi.json.swp`,
            // `digi.json~`) holds the issuer's secrets as typed.
            Want::Read if matches!(node, Node::Side(dir, _) if matches!(**dir, Node::Issuers(_))) => {
                manager
            }
            Want::Read if is_secret(node) => {
                manager || access.read_keys.contains(caller.uid, &groups)
            }
            Want::Read => {
                manager
                    || access.read_keys.contains(caller.uid, &groups)
                    || access.read_certificates.contains(caller.uid, &groups)
            }
        };
        if granted {
            return Ok(());
        }
        if !is_vault_config(node) {
            let attr = self.getattr(node)?;
            if mode_allows(&attr, caller, want, (owner, self.mount_owner().1)) {
                return Ok(());
            }
        }
        Err(VaultError::Forbidden(format!(
            "Access denied: user {} has no {} permission here; the mount's owner can grant it with \
             chmod/chgrp or in vault.json's access",
            caller.uid,
            match (want, is_secret(node)) {
                (Want::Write, _) => "manage",
                (Want::Read, true) => "read_keys",
                (Want::Read, false) => "read_certificates",
            }
        )))
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
        let Some((v, c, file)) = perm_target(node) else {
            // Copying tools set the mode of what they write (Rust's fs::copy,
            // Python's shutil.copy): accepted, with no effect, as before.
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
        let mut store = self.store.lock();
        let (name, mut perms) = {
            let st = self.state.read();
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
        store.put_document(v.as_str(), &format!("{DOCUMENT_PREFIX}{name}"), Some(&text))?;
        let mut st = self.state.write();
        if let Some(cs) = st
            .vaults
            .get_mut(v)
            .and_then(|vs| vs.certificates.get_mut(c))
        {
            cs.perms = perms;
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

    /// Applies stored modes and owners to the `attr` of `node`.
    pub(super) fn apply_perms(&self, node: &Node, attr: &mut Attr) {
        let Some((v, c, file)) = perm_target(node) else {
            return;
        };
        let st = self.state.read();
        let perm = if file == DIRECTORY {
            // Without reading the certificate: stat of a vault's
            // certificate directories reads none of them.
            vault(&st, v)
                .ok()
                .and_then(|vs| vs.certificates.summary(c))
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

/// Whether the mode of `attr` lets `caller` `want` it (owner, group, other bits).
fn mode_allows(attr: &Attr, caller: &Caller, want: Want, default_owner: (u32, u32)) -> bool {
    let (uid, gid) = attr.owner.unwrap_or(default_owner);
    let bits = if caller.uid == uid {
        attr.mode >> 6
    } else if caller.in_group(gid) {
        attr.mode >> 3
    } else {
        attr.mode
    };
    match want {
        Want::Read => bits & 0o4 != 0,
        Want::Write => bits & 0o2 != 0,
    }
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
        assert!(mode_allows(&key, &caller(0, 0, &[]), Want::Read, (0, 0)));
        assert!(mode_allows(
            &key,
            &caller(33, 33, &[118]),
            Want::Read,
            (0, 0)
        ));
        assert!(!mode_allows(&key, &caller(33, 33, &[]), Want::Read, (0, 0)));
        assert!(!mode_allows(
            &key,
            &caller(33, 118, &[]),
            Want::Write,
            (0, 0)
        ));
        let cert = attr(0o444, None);
        assert!(mode_allows(
            &cert,
            &caller(1000, 1000, &[]),
            Want::Read,
            (0, 0)
        ));
        assert!(!mode_allows(
            &cert,
            &caller(1000, 1000, &[]),
            Want::Write,
            (0, 0)
        ));
    }
}
