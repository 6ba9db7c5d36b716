//! [`Offload`]: work off the kernel's request path. Actions run on a bounded pool; dropping the kernel's stale cache entries (and the replies that must follow it) on a lane of their own.
//!
//! Two queues, because invalidating a kernel cache entry waits for the
//! directory's lock, which the kernel holds while a request on that
//! directory (a `rename`, a `create`, a `lookup`) waits for its reply:
//!
//! - **actions** (the write behind a close, a release's write, a rename)
//!   run on a fixed pool whose queue is bounded: when it is full, the
//!   request thread that submits waits. Its jobs never wait on the
//!   kernel, so it always drains; a slow action (an RSA 4096 key) holds
//!   one of its threads and nothing else.
//! - **invalidations** run on the lane. The lane's queue is not bounded on
//!   purpose: a full lane would make the pool, or a request thread, wait
//!   for the lane, which may be waiting for a directory lock held by a
//!   request that needs the pool or a request thread to be answered — a
//!   deadlock. Its entries are produced only by requests already answered
//!   or in flight and by the pool (whose own queue is bounded), one each.

use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use fuser::{Errno, INodeNo, Notifier, ReplyEmpty};

use super::attrs::Cache;
use super::error::errno;
use super::inodes::Inodes;
use super::pool::Pool;
use crate::vault::{Caller, Changes, Kind, Node, Pending, VaultError, VaultService};

/// How many jobs may wait for a thread of the action pool, per thread.
const QUEUED_PER_THREAD: usize = 16;

/// The threads of the action pool when not told: as many as the
/// kernel's request threads by default, and more on a larger machine.
pub(super) fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (2 * cores).max(4)
}

/// What work off the request path needs: the vault, to act; the inodes,
/// notifier and reply cache, to drop what the kernel cached; the queues.
pub(super) struct Offload {
    pub(super) vault: Arc<VaultService>,
    pub(super) inodes: Arc<Inodes>,
    pub(super) notifier: Arc<OnceLock<Notifier>>,
    pub(super) cache: Arc<Cache>,
    actions: Pool,
    lane: Pool,
}

/// A write done on the pool: how it ended, and what of the kernel's
/// caches it made stale.
pub(super) struct Written {
    node: Node,
    result: Result<Changes, VaultError>,
}

impl Written {
    /// What the close that acted reports.
    pub(super) fn outcome(&self) -> Result<(), VaultError> {
        self.result.as_ref().map(|_| ()).map_err(Clone::clone)
    }
}

/// A `rename` to do: `from` and `to` are (directory inode, directory, name).
pub(super) struct Rename {
    pub(super) caller: Caller,
    pub(super) from: (u64, Node, String),
    pub(super) to: (u64, Node, String),
    pub(super) no_replace: bool,
}

/// Replies to a request whose answer is only success or an error.
pub(super) fn reply_empty(reply: ReplyEmpty, result: Result<(), VaultError>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

impl Offload {
    /// Queues of `threads` threads each, acting on `vault`; from now on
    /// what the vault announces is dropped from the kernel's caches too.
    pub(super) fn start(
        vault: Arc<VaultService>,
        inodes: Arc<Inodes>,
        notifier: Arc<OnceLock<Notifier>>,
        cache: Arc<Cache>,
        threads: usize,
    ) -> Arc<Self> {
        let threads = threads.max(1);
        let this = Arc::new(Offload {
            vault,
            inodes,
            notifier,
            cache,
            actions: Pool::bounded("certfs-action", threads, threads * QUEUED_PER_THREAD),
            lane: Pool::unbounded("certfs-inval", threads),
        });
        this.listen();
        this
    }

    /// Drops the kernel's caches of what the vault changes by itself
    /// (scheduled purges, CA orders, renewals, other daemons), on the
    /// thread that announces it. The listener holds this weakly: the vault
    /// holds the listener.
    fn listen(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        self.vault.set_listener(Box::new(move |changes| {
            if let Some(this) = this.upgrade() {
                this.invalidate(changes);
            }
        }));
    }

    /// Runs `job` on the action pool (waits while its queue is full).
    pub(super) fn act(self: &Arc<Self>, job: impl FnOnce(&Arc<Offload>) + Send + 'static) {
        let this = self.clone();
        self.actions.submit(move || job(&this));
    }

    /// Runs `job` on the invalidation lane.
    pub(super) fn later(self: &Arc<Self>, job: impl FnOnce(&Offload) + Send + 'static) {
        let this = self.clone();
        self.lane.submit(move || job(&this));
    }

    /// The action of a closed file (on the calling thread, one of the pool's).
    pub(super) fn write(&self, pending: &Pending) -> Written {
        Written {
            node: pending.node.clone(),
            result: self.vault.write_as(pending),
        }
    }

    /// `rename` (on the calling thread, one of the pool's), then its
    /// reply; the kernel holds both directories' locks until the reply, so
    /// what it cached is dropped after, on the lane.
    pub(super) fn rename(self: &Arc<Self>, rename: Rename, reply: ReplyEmpty) {
        let Rename {
            caller,
            from: (parent, dir, name),
            to: (new_parent, new_dir, new_name),
            no_replace,
        } = rename;
        let source = self.vault.lookup(&dir, &name).ok();
        let source = source.and_then(|(n, _)| self.inodes.get(&n));
        let result = (self.vault).rename_as(&caller, &dir, &name, &new_dir, &new_name, no_replace);
        match result {
            Ok(changes) => {
                // The kernel now believes the source inode lives at the new
                // name: make that inode show what the vault has there.
                if let (Some(ino), Ok((node, _))) = (source, self.vault.lookup(&new_dir, &new_name))
                {
                    (self.inodes).renamed(ino, parent, &name, new_parent, &new_name, &node);
                }
                reply.ok();
                self.later(move |this| this.invalidate(&changes));
            }
            Err(e) => {
                reply.error(errno(&e));
                // A refused rename onto a real file leaves its `.error` report.
                self.later(move |this| {
                    this.invalidate_dir(parent);
                    this.invalidate_dir(new_parent);
                });
            }
        }
    }

    /// Replies to an `unlink` or `rmdir` in `parent`, then drops what the
    /// kernel cached of the changed directories (of `parent` after a
    /// refusal, which leaves a report there) — on the lane, since the
    /// kernel may still hold the directory's lock.
    pub(super) fn reply_removed(
        self: &Arc<Self>,
        parent: INodeNo,
        result: Result<Changes, Errno>,
        reply: ReplyEmpty,
    ) {
        match result {
            Ok(changes) => {
                reply.ok();
                if !changes.dirs.is_empty() {
                    self.later(move |o| o.invalidate(&changes));
                }
            }
            Err(e) => {
                reply.error(e);
                self.later(move |o| o.invalidate_dir(parent.0));
            }
        }
    }

    /// After `written`, on the lane: drops what it made stale, then runs
    /// `then` with its outcome (a close's reply, which must come after).
    pub(super) fn settle(
        self: &Arc<Self>,
        written: Written,
        then: impl FnOnce(Result<(), VaultError>) + Send + 'static,
    ) {
        self.later(move |this| {
            match &written.result {
                Ok(changes) => this.invalidate(changes),
                Err(_) => this.forget_refused(&written.node),
            }
            then(written.outcome());
        });
    }

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
                // The kernel drops what it kept under the directory with it.
                self.cache.names.forget_dir(ino);
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
        // Names the kernel keeps as missing that exist now. A directory
        // the kernel holds by that name already (its own mkdir, or a
        // lookup since) stays: a process may work in it, and dropping its
        // entry would leave that process outside the tree.
        for name in self.cache.names.missing_in(parent) {
            let Ok((node, attr)) = self.vault.lookup(dir, &name) else {
                continue;
            };
            self.cache.names.found(parent, &name);
            let held = attr.kind == Kind::Directory
                && (self.inodes.child(parent, &name))
                    .is_some_and(|ino| self.inodes.node(ino).as_ref() == Some(&node));
            if !held {
                let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
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
            let report = crate::vault::error_name(&name);
            let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
            let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&report));
            self.cache.names.found(parent, &report);
            if let Some(report_ino) = self.inodes.child(parent, &report) {
                let _ = notifier.inval_inode(INodeNo(report_ino), 0, 0);
            }
            let _ = notifier.inval_inode(INodeNo(parent), 0, 0);
        }
    }
}
