//! The entry points the FUSE adapter calls for a caller: each one authorizes (modes, owners, vault roles), acts, and writes the audit log.
//!
//! The plain methods ([`VaultService::write`], [`VaultService::mkdir`], ...)
//! act for the mount itself and trust their caller; these wrap them for a
//! request from a process, so no entry from the kernel skips a check.

use std::sync::Arc;

use super::access::{Caller, Want, is_secret};
use super::documents::writer_of;
use super::error::VaultError;
use super::node::{Attr, Node};
use super::service::{Changes, VaultService};

impl VaultService {
    /// `open` for reading: the file's bytes as they are now. Reads of key
    /// and secret files are audited, allowed or not.
    pub fn open_read(&self, caller: &Caller, node: &Node) -> Result<Arc<[u8]>, VaultError> {
        let result = self
            .authorize(caller, node, Want::Read)
            .and_then(|()| self.read(node));
        if is_secret(node) {
            self.audit(caller, node, None, "read", &result);
        }
        result
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

    /// `create`: a new file `name` in `dir` for writing.
    pub fn create_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
    ) -> Result<(Node, Attr), VaultError> {
        let result = self
            .authorize(caller, dir, Want::Write)
            .and_then(|()| self.create(dir, name))
            .and_then(|(node, attr)| {
                self.check_writer(&node, caller.uid, self.mount_owner().0)?;
                Ok((node, attr))
            });
        if result.is_err() {
            self.audit(caller, dir, Some(name), "create", &result);
        }
        result
    }

    /// The action of a closed file (see [`VaultService::write`]), audited.
    pub fn write_as(
        &self,
        caller: &Caller,
        node: &Node,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let result = self.write_by(&writer_of(caller), node, data);
        self.audit(caller, node, None, "write", &result);
        result
    }

    /// `truncate` of a file not open for writing.
    pub fn truncate_as(&self, caller: &Caller, node: &Node) -> Result<(), VaultError> {
        self.open_write(caller, node)?;
        self.truncate(node)
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
                let may_write = |target: &Node| {
                    self.check_writer(target, caller.uid, self.mount_owner().0)?;
                    self.authorize(caller, target, Want::Write)
                };
                let writer = writer_of(caller);
                self.rename(
                    &writer, dir, name, new_dir, new_name, no_replace, &may_write,
                )
            });
        self.audit(caller, new_dir, Some(new_name), "rename", &result);
        result
    }

    /// `access(2)`: whether `caller` may read (`R_OK`) or write (`W_OK`) `node`.
    pub fn access_as(
        &self,
        caller: &Caller,
        node: &Node,
        read: bool,
        write: bool,
    ) -> Result<(), VaultError> {
        if read {
            self.authorize(caller, node, Want::Read)?;
        }
        if write {
            self.authorize(caller, node, Want::Write)?;
        }
        Ok(())
    }
}
