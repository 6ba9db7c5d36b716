//! [`CertFs`]: the `fuser::Filesystem` callbacks. Each one maps inodes and handles, asks the vault service, and replies.
//!
//! Nothing here knows what a certificate is, nor when a write acts (the
//! vault's [`OpenFile`] says). Work that may be slow (the action behind a
//! `close`, a `rename` onto a real file) runs on [`Offload`]'s bounded
//! pool, which replies when done, so the kernel's other requests keep
//! flowing; kernel caches are invalidated on its lane, after the reply of
//! any request that may hold the same kernel locks.
//!
//! Kernel caching (lifetimes in [`super::attrs`]): what may be cached
//! long is invalidated explicitly, by a file operation's [`Changes`] or by
//! what the vault does in the background (it announces those). A lookup
//! that raced with a change cannot leave a stale entry behind:
//! invalidation first waits for replies in flight ([`Cache`]).

use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;

use fuser::{
    Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner,
    Notifier, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};

use super::attrs::{Cache, SHORT, file_attr, lookup_ttls, missing_attr, ttls};
use super::caller::{caller_of, process_of};
use super::counts::{Counts, Op};
use super::epoch::Epochs;
use super::error::errno;
use super::handles::{Handle, Handles, open_read};
use super::init::negotiate;
use super::inodes::Inodes;
use super::listing::{Lister, Listing};
use super::names::{MISSING, name_str};
use super::offload::{Offload, Rename, reply_empty};
use crate::vault::{Caller, Node, VaultService, window};

/// The filesystem handed to fuser.
pub struct CertFs {
    vault: Arc<VaultService>,
    inodes: Arc<Inodes>,
    handles: Handles,
    offload: Arc<Offload>,
    cache: Arc<Cache>,
    counts: Arc<Counts>,
    uid: u32,
    gid: u32,
    /// Runs once the kernel's requests have ended, before fuser's clean-up.
    pub(super) end: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl CertFs {
    /// A filesystem showing `vault`, owned by `uid`/`gid`, with `threads`
    /// threads for work off the request path. `notifier` is filled in once
    /// the session exists, for cache invalidation, and `epochs` if the
    /// kernel can drop every cached name at once (the vault's switches of
    /// version then do).
    pub fn new(
        vault: Arc<VaultService>,
        uid: u32,
        gid: u32,
        kernel: (Arc<OnceLock<Notifier>>, Arc<OnceLock<Epochs>>),
        threads: usize,
    ) -> Self {
        let (notifier, epochs) = kernel;
        vault.set_switch_hook(Epochs::hook(epochs.clone()));
        let (inodes, cache) = (Arc::new(Inodes::new()), Arc::new(Cache::new(epochs)));
        let (v, i, c) = (vault.clone(), inodes.clone(), cache.clone());
        let offload = Offload::start(v, i, notifier, c, threads);
        CertFs {
            vault,
            inodes,
            handles: Handles::new(),
            offload,
            cache,
            counts: Arc::default(),
            uid,
            gid,
            end: None,
        }
    }

    /// The requests this filesystem answered, by kind.
    pub fn counts(&self) -> Arc<Counts> {
        self.counts.clone()
    }

    /// Who owns a node that has no owner of its own: the mount's owner.
    fn owner(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    fn node(&self, ino: INodeNo) -> Result<Node, Errno> {
        self.inodes.node(ino.0).ok_or(Errno::ENOENT)
    }

    /// Who made `req` (supplementary groups only when others may come in).
    fn caller(&self, req: &Request) -> Caller {
        caller_of(req, self.uid != req.uid() && req.uid() != 0)
    }
}

impl Filesystem for CertFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        negotiate(config);
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.counts.add(Op::Lookup);
        // Computed and replied before any invalidation of a change it may miss.
        let _replying = self.cache.replies.read();
        let names = &self.cache.names;
        let result = (|| {
            let dir = self.node(parent)?;
            let name = name_str(name)?;
            match self.vault.lookup_as(&self.caller(req), &dir, name) {
                Ok((node, attr)) => {
                    let ino = self.inodes.intern(parent.0, name, &node);
                    let attr_out = file_attr(self.owner(), ino, &attr);
                    let shared = self.vault.names_shared(&dir);
                    Ok((attr_out, lookup_ttls(&attr, names.at_once(), shared)))
                }
                // Kept as missing (an entry without inode) while there is room.
                Err(e) if errno(&e) == Errno::ENOENT && names.keep_missing(parent.0, name) => {
                    Ok((missing_attr(), (MISSING, Duration::ZERO)))
                }
                Err(e) => Err(errno(&e)),
            }
        })();
        match result {
            Ok((attr, (entry_ttl, attr_ttl))) => {
                reply.entry_with_ttls(&attr_ttl, &entry_ttl, &attr, Generation(0))
            }
            Err(e) => reply.error(e),
        }
    }

    // fuser's default `batch_forget` calls this for each node.
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.counts.add(Op::Forget);
        self.inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        self.counts.add(Op::Getattr);
        let result = (|| {
            let node = self.node(ino)?;
            let mut attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            if let Some(Handle::Write(file)) = fh.and_then(|fh| self.handles.get(fh.0)).as_deref() {
                attr.size = file.lock().len();
            }
            Ok((file_attr(self.owner(), ino.0, &attr), ttls(&attr, false).1))
        })();
        match result {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // Times are certfs' own (changing them is accepted and has no
        // effect); modes and owners of key files and certificate
        // directories are kept, others refused unless unchanged.
        let result = (|| {
            let node = self.node(ino)?;
            let caller = self.caller(req);
            if mode.is_some() || uid.is_some() || gid.is_some() {
                let mode = mode.map(|m| (m & 0o7777) as u16);
                let changes = self
                    .vault
                    .set_permissions(&caller, &node, mode, uid, gid)
                    .map_err(|e| errno(&e))?;
                self.offload.later(move |o| o.invalidate(&changes));
            }
            let mut attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            let handle = fh.and_then(|fh| self.handles.get(fh.0));
            if let Some(Handle::Write(file)) = handle.as_deref() {
                let mut file = file.lock();
                if let Some(size) = size {
                    file.written_by(caller.uid, || caller.clone());
                    file.set_len(size).map_err(|e| errno(&e))?;
                }
                attr.size = file.len();
            } else if let Some(size) = size {
                self.vault
                    .set_len_as(&caller, &node, size)
                    .map_err(|e| errno(&e))?;
                attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            }
            Ok((file_attr(self.owner(), ino.0, &attr), ttls(&attr, false).1))
        })();
        match result {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let result = (|| {
            let dir = self.node(parent)?;
            let name = name_str(name).map_err(|_| Errno::EINVAL)?;
            let (node, attr) = self
                .vault
                .mkdir_as(&self.caller(req), &dir, name)
                .map_err(|e| errno(&e))?;
            let ino = self.inodes.intern(parent.0, name, &node);
            Ok((file_attr(self.owner(), ino, &attr), ttls(&attr, false)))
        })();
        match result {
            Ok((attr, (entry_ttl, attr_ttl))) => {
                reply.entry_with_ttls(&attr_ttl, &entry_ttl, &attr, Generation(0))
            }
            Err(e) => reply.error(e),
        }
        // A refused mkdir leaves `<name>.error` beside it, a good one clears it.
        self.offload.later(move |o| o.invalidate_dir(parent.0));
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.node(parent).and_then(|dir| {
            self.vault
                .unlink_as(&self.caller(req), &dir, name_str(name)?)
                .map_err(|e| errno(&e))
        });
        self.offload.reply_removed(parent, result, reply);
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.node(parent).and_then(|dir| {
            self.vault
                .rmdir_as(&self.caller(req), &dir, name_str(name)?)
                .map_err(|e| errno(&e))
        });
        self.offload.reply_removed(parent, result, reply);
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let (dir, new_dir) = match (self.node(parent), self.node(newparent)) {
            (Ok(d), Ok(n)) => (d, n),
            _ => return reply.error(Errno::ENOENT),
        };
        let (Ok(name), Ok(new_name)) = (name_str(name), name_str(newname)) else {
            return reply.error(Errno::EINVAL);
        };
        let rename = Rename {
            caller: self.caller(req),
            from: (parent.0, dir, name.to_owned()),
            to: (newparent.0, new_dir, new_name.to_owned()),
            no_replace: flags.contains(RenameFlags::RENAME_NOREPLACE),
        };
        // A rename onto policy.json creates a version: not on a kernel thread.
        self.offload.act(move |o| o.rename(rename, reply));
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.counts.add(Op::Open);
        let node = match self.node(ino) {
            Ok(node) => node,
            Err(e) => return reply.error(e),
        };
        let caller = self.caller(req);
        if flags.acc_mode() == OpenAccMode::O_RDONLY {
            return match open_read(&self.vault, &self.handles, &caller, &node) {
                Ok((fh, flags)) => reply.opened(FileHandle(fh), flags),
                Err(e) => reply.error(e),
            };
        }
        let truncate = flags.0 & libc::O_TRUNC != 0;
        let reads = flags.acc_mode() == OpenAccMode::O_RDWR;
        let opener = process_of(req.pid());
        match self
            .vault
            .open_file_as(&caller, &node, opener, truncate, reads)
        {
            Ok(file) => {
                let fh = self
                    .handles
                    .insert(Handle::Write(Box::new(Mutex::new(file))));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            // A refusal may have left `<name>.error` beside the file: what
            // the kernel cached of it goes before the reply.
            Err(e) => self.offload.later(move |o| {
                o.forget_refused(&node);
                reply.error(errno(&e));
            }),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let result = (|| {
            let dir = self.node(parent)?;
            let name = name_str(name).map_err(|_| Errno::EINVAL)?;
            let caller = self.caller(req);
            let mode = (mode & !umask & 0o777) as u16;
            let (node, attr, file) = self
                .vault
                .create_file_as(&caller, &dir, name, mode, process_of(req.pid()))
                .map_err(|e| errno(&e))?;
            let ino = self.inodes.intern(parent.0, name, &node);
            let fh = self
                .handles
                .insert(Handle::Write(Box::new(Mutex::new(file))));
            let mut attr = file_attr(self.owner(), ino, &attr);
            attr.size = 0;
            Ok((attr, fh))
        })();
        match result {
            // What is being written is not what the file will hold.
            Ok((attr, fh)) => reply.created(
                &SHORT,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.counts.add(Op::Read);
        match self.handles.get(fh.0).as_deref() {
            Some(Handle::Read(data)) => reply.data(window(data, offset, size)),
            Some(Handle::Write(file)) => reply.data(file.lock().read_at(offset, size)),
            Some(Handle::Dir(_)) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::EBADF),
        }
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let Handle::Write(file) = &*handle else {
            return reply.error(Errno::EBADF);
        };
        let mut file = file.lock();
        file.written_by(req.uid(), || self.caller(req));
        match file.write_at(offset, data) {
            Ok(taken) => reply.written(taken as u32),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.counts.add(Op::Flush);
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.ok();
        };
        let Handle::Write(file) = &*handle else {
            return reply.ok();
        };
        // Whether this close acts is the file's rule (the opener's, on
        // written bytes); if not, it reports the last action's outcome.
        let pending = file.lock().on_flush(process_of(req.pid()));
        let Some(pending) = pending else {
            return reply_empty(reply, file.lock().outcome());
        };
        // The action (a new version, maybe an RSA key) runs off the kernel's
        // threads, and without the file's lock, which reads and writes on
        // the same file need. The reply follows the invalidation, so what
        // the writer reads next is what it made.
        self.offload.act(move |o| {
            let written = o.write(&pending);
            if let Handle::Write(file) = &*handle {
                file.lock().record(written.outcome());
            }
            o.settle(written, move |outcome| reply_empty(reply, outcome));
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.counts.add(Op::Release);
        let handle = self.handles.remove(fh.0);
        reply.ok();
        // Whatever no close acted on acts now; the outcome is in the
        // `.error` report and the log.
        let Some(handle) = handle else { return };
        let Handle::Write(file) = &*handle else {
            return;
        };
        let pending = file.lock().on_release();
        if let Some(pending) = pending {
            self.offload.act(move |o| {
                let written = o.write(&pending);
                o.settle(written, |_| {});
            });
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Nothing is stored before close; every commit is already durable.
        reply.ok();
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.counts.add(Op::Listing);
        let result = (|| {
            let node = self.node(ino)?;
            let generation = self.cache.generation.load(Ordering::SeqCst);
            let entries = self
                .vault
                .readdir_as(&self.caller(req), &node)
                .map_err(|e| errno(&e))?;
            let listing = Listing {
                generation,
                entries,
            };
            Ok(self.handles.insert(Handle::Dir(listing)))
        })();
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.counts.add(Op::Listing);
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let Handle::Dir(listing) = &*handle else {
            return reply.error(Errno::ENOTDIR);
        };
        listing.fill(ino, offset, &self.inodes, &mut reply);
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        self.counts.add(Op::Listing);
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let Handle::Dir(listing) = &*handle else {
            return reply.error(Errno::ENOTDIR);
        };
        let _replying = self.cache.replies.read();
        let fresh = self.cache.generation.load(Ordering::SeqCst) == listing.generation
            && self
                .node(ino)
                .is_ok_and(|dir| self.vault.names_shared(&dir));
        let lister = Lister {
            vault: &self.vault,
            inodes: &self.inodes,
            owner: self.owner(),
        };
        listing.fill_plus(ino, offset, fresh, &lister, &mut reply);
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.counts.add(Op::Listing);
        self.handles.remove(fh.0);
        reply.ok();
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: fuser::AccessFlags, reply: ReplyEmpty) {
        self.counts.add(Op::Other);
        let result = self.node(ino).and_then(|node| {
            let read = mask.contains(fuser::AccessFlags::R_OK);
            let write = mask.contains(fuser::AccessFlags::W_OK);
            let search = mask.contains(fuser::AccessFlags::X_OK);
            self.vault
                .access_as(&self.caller(req), &node, read, write, search)
                .map_err(|e| errno(&e))
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn destroy(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }

    super::fixed_answers::fixed_answers!();
}
