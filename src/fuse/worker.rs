//! [`Worker`]: what a thread off the kernel's request path needs to act on the vault and then drop the kernel's stale cache entries.

use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use fuser::{Errno, INodeNo, Notifier};

use super::attrs::Cache;
use super::error::errno;
use super::inodes::Inodes;
use crate::vault::{Caller, Changes, Node, VaultService};

/// What a background thread needs to act and then invalidate caches.
pub(super) struct Worker {
    pub(super) vault: Arc<VaultService>,
    pub(super) inodes: Arc<Inodes>,
    pub(super) notifier: Arc<OnceLock<Notifier>>,
    pub(super) cache: Arc<Cache>,
}

impl Worker {
    /// Waits until every entry computed before now has been replied, so
    /// that invalidations sent next reach the kernel after them.
    fn barrier(&self) {
        self.cache.generation.fetch_add(1, Ordering::SeqCst);
        drop(self.cache.replies.write());
    }

    /// Drops what the kernel cached of each changed directory: its
    /// attributes and listing, the files in it that changed, and the
    /// directory itself if it is gone (other than by the kernel's own
    /// `rmdir` or `rename`, which drop their entries themselves).
    pub(super) fn invalidate(&self, changes: &Changes) {
        self.barrier();
        let Some(notifier) = self.notifier.get() else {
            return;
        };
        for dir in &changes.dirs {
            let Some(ino) = self.inodes.get(dir) else {
                continue;
            };
            if self.vault.getattr(dir).is_err() {
                // Errors only mean the kernel had nothing cached.
                for (parent, name) in self.inodes.names_of(ino) {
                    let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
                }
                continue;
            }
            self.refresh_dir(notifier, ino, dir);
        }
    }

    /// Drops the kernel's cached attributes of directory `parent` and what
    /// changed among the files in it.
    pub(super) fn invalidate_dir(&self, parent: u64) {
        self.barrier();
        let (Some(notifier), Some(dir)) = (self.notifier.get(), self.inodes.node(parent)) else {
            return;
        };
        self.refresh_dir(notifier, parent, &dir);
    }

    fn refresh_dir(&self, notifier: &Notifier, parent: u64, dir: &Node) {
        // A directory's subdirectories keep their nodes for life (a name
        // under a directory always means the same directory node); one that
        // changed or went is a change of its own. Files are few per
        // directory: each is checked. Errors only mean the kernel had
        // nothing cached.
        for (name, child) in self.inodes.files(parent) {
            let now = self.vault.lookup(dir, &name).ok();
            let same = now
                .as_ref()
                .is_some_and(|(node, _)| self.inodes.node(child).as_ref() == Some(node));
            if !same {
                // Gone, or the name now means another node (a new version).
                let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
            }
            // An immutable file's bytes and size never change: keep its
            // page cache. A dropped or scratch file changes only by its own
            // writes, which the kernel makes (a drop-box may hold thousands).
            let kept = now
                .as_ref()
                .is_some_and(|(node, attr)| attr.immutable || matches!(node, Node::Side(..)));
            if !(same && kept) {
                let _ = notifier.inval_inode(INodeNo(child), 0, 0);
            }
        }
        let _ = notifier.inval_inode(INodeNo(parent), 0, 0);
    }

    /// After a refused write: drops what the kernel caches of the file
    /// `node` (the writer's size and bytes; the entry of a draft's
    /// `policy.json`, which does not exist) and of its directory, where the
    /// `.error` report changed.
    ///
    /// Only those entries: nothing else in the directory changed, and
    /// dropping every entry of a drop-box holding thousands of reports on
    /// each refusal made a storm of bad files quadratic.
    pub(super) fn forget_refused(&self, node: &Node) {
        let Some(ino) = self.inodes.get(node) else {
            return;
        };
        let Some(notifier) = self.notifier.get() else {
            return;
        };
        // Errors only mean the kernel had nothing cached.
        let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
        for (parent, name) in self.inodes.names_of(ino) {
            let report = format!("{name}.error");
            let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
            let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&report));
            if let Some(report_ino) = self.inodes.child(parent, &report) {
                let _ = notifier.inval_inode(INodeNo(report_ino), 0, 0);
            }
            let _ = notifier.inval_inode(INodeNo(parent), 0, 0);
        }
    }
}

pub(super) fn commit(
    worker: &Worker,
    caller: &Caller,
    node: &Node,
    data: &[u8],
) -> Result<(), Errno> {
    match worker.vault.write_as(caller, node, data) {
        Ok(changes) => {
            worker.invalidate(&changes);
            Ok(())
        }
        Err(e) => {
            worker.forget_refused(node);
            Err(errno(&e))
        }
    }
}
