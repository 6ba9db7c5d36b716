//! The entry points the FUSE adapter calls for a caller: each one authorizes (modes, owners, vault roles), acts, and writes the audit log.
//!
//! The plain methods ([`VaultService::write`], [`VaultService::mkdir`], ...)
//! act for the mount itself and trust their caller; these wrap them for a
//! request from a process, so no entry from the kernel skips a check.

use std::sync::Arc;

use super::access::{Caller, Want};
use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::node::{Attr, Entry, Node};
use super::open_file::Pending;
use super::rename::Move;
use super::service::VaultService;

impl VaultService {
    /// `open` for reading: the file's bytes as they are now. Reads of key
    /// and secret files are audited, allowed or not.
    pub fn open_read(&self, caller: &Caller, node: &Node) -> Result<Arc<[u8]>, VaultError> {
        let result = self
            .authorize(caller, node, Want::Read)
            .and_then(|()| self.read(node));
        if self.is_secret(node) {
            self.audit(caller, node, None, "read", &result);
        }
        if let (
            Ok(_),
            Node::VersionFile {
                vault,
                cert,
                version,
                file,
                ..
            },
        ) = (&result, node)
            && file.holds_key()
        {
            self.consumers()
                .record(vault, cert, version, caller.pid, now());
        }
        result
    }

    /// `lookup` of `name` in `dir`: a certificate folder must let `caller` in.
    pub fn lookup_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
    ) -> Result<(Node, Attr), VaultError> {
        self.authorize_search(caller, dir)?;
        self.lookup(dir, name)
    }

    /// `opendir`: what `dir` lists, if `caller` may list it.
    pub fn readdir_as(&self, caller: &Caller, dir: &Node) -> Result<Vec<Entry>, VaultError> {
        self.authorize(caller, dir, Want::Read)?;
        self.readdir(dir)
    }

    /// `open` for writing: whether `caller` may write `node` (a refusal
    /// leaves `<name>.error` beside it).
    pub fn open_write(&self, caller: &Caller, node: &Node) -> Result<(), VaultError> {
        let result = self.check_writable(node).and_then(|()| {
            self.check_writer(node, caller.uid, self.mount_owner().0)?;
            self.authorize(caller, node, Want::Write)
        });
        if let Err(e @ VaultError::Forbidden(_)) = &result {
            self.report(node, &Err::<(), _>(e.clone()));
            self.audit(caller, node, None, "open for writing", &result);
        }
        result
    }

    /// `create`: a new file `name` in `dir` for writing, `mode` as asked
    /// (less the umask).
    pub fn create_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
        mode: u16,
    ) -> Result<(Node, Attr), VaultError> {
        // A name that exists is opened, not made: its own rules apply
        // (a scratch file's owner and mode), as for open(O_WRONLY).
        let existed = self.child(dir, name).is_ok();
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.create(dir, name, caller, mode))
            .and_then(|(node, attr)| {
                self.check_writer(&node, caller.uid, self.mount_owner().0)?;
                if existed {
                    self.authorize(caller, &node, Want::Write)?;
                }
                Ok((node, attr))
            });
        if result.is_err() {
            self.audit(caller, dir, Some(name), "create", &result);
        }
        result
    }

    /// The action of a closed file (see [`VaultService::write`]), audited:
    /// `pending.caller` opened it; users who wrote through the handle
    /// besides are writers of a scratch file's bytes too.
    pub fn write_as(&self, pending: &Pending) -> Result<Changes, VaultError> {
        let Pending {
            node,
            data,
            caller,
            also,
            side_id,
        } = pending;
        let result = self.write_into(caller, node, *side_id, data);
        if let (Node::Side(dir, name), Ok(_)) = (node, &result) {
            let mut side = self.scratch();
            for writer in also {
                side.add_writer(dir, name, *side_id, writer);
            }
        }
        self.audit(caller, node, None, "write", &result);
        result
    }

    /// `truncate` of a file not open for writing.
    pub fn truncate_as(&self, caller: &Caller, node: &Node) -> Result<(), VaultError> {
        self.open_write(caller, node)?;
        self.truncate(caller, node)
    }

    /// `mkdir`.
    pub fn mkdir_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
    ) -> Result<(Node, Attr), VaultError> {
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.mkdir(dir, name));
        self.audit(caller, dir, Some(name), "mkdir", &result);
        result
    }

    /// `rmdir` (a certificate: soft delete; a deleted one: purge).
    pub fn rmdir_as(&self, caller: &Caller, dir: &Node, name: &str) -> Result<Changes, VaultError> {
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.rmdir(dir, name));
        self.audit(caller, dir, Some(name), "rmdir", &result);
        result
    }

    /// `unlink`.
    pub fn unlink_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
    ) -> Result<Changes, VaultError> {
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.unlink(dir, name));
        self.audit(caller, dir, Some(name), "unlink", &result);
        result
    }

    /// `rename` (a recovery, an editor's save, ...).
    pub fn rename_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
        new_dir: &Node,
        new_name: &str,
        no_replace: bool,
    ) -> Result<Changes, VaultError> {
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.authorize(caller, new_dir, Want::Write))
            .and_then(|()| {
                // A rename onto an existing file writes it (how `sed -i` and
                // rsync save): the file's own rules apply, as to `open` for
                // writing, checked on the file rename itself resolved.
                let may_write = |who: &Caller, target: &Node| {
                    self.check_writer(target, who.uid, self.mount_owner().0)?;
                    self.authorize(who, target, Want::Write)
                };
                let mv = Move {
                    dir,
                    name,
                    new_dir,
                    new_name,
                    no_replace,
                };
                self.rename(&mv, caller, &may_write)
            });
        self.audit(caller, new_dir, Some(new_name), "rename", &result);
        result
    }

    /// `access(2)`: whether `caller` may read (`R_OK`), write (`W_OK`) or
    /// search (`X_OK` on a folder, as `chdir` asks) `node`.
    pub fn access_as(
        &self,
        caller: &Caller,
        node: &Node,
        read: bool,
        write: bool,
        search: bool,
    ) -> Result<(), VaultError> {
        if search && node.is_dir() {
            self.authorize_search(caller, node)?;
        }
        if read {
            self.authorize(caller, node, Want::Read)?;
        }
        if write {
            self.authorize(caller, node, Want::Write)?;
        }
        Ok(())
    }
}
