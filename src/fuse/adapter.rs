//! [`CertFs`]: the `fuser::Filesystem` callbacks. Each one maps inodes and handles, asks the vault service, and replies.
//!
//! Nothing here knows what a certificate is. Work that may be slow (the
//! action behind a `close`, a `rename` onto a real file) runs on its own
//! thread, which replies when done, so the kernel's other requests keep
//! flowing; kernel caches are invalidated after the reply, never while a
//! request that may hold the same kernel locks is waiting on us.
//!
//! Kernel caching (lifetimes in [`super::attrs`]): what may be cached
//! long is invalidated explicitly, by a file operation's [`Changes`] or by
//! what the vault does in the background (it announces those). A lookup
//! that raced with a change cannot leave a stale entry behind:
//! invalidation first waits for replies in flight ([`Cache`]).

use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use fuser::{
    Errno, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, Notifier, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};

use super::attrs::{Cache, SHORT, file_attr, file_type, ttls};
use super::caller::{caller_of, process_of};
use super::error::errno;
use super::handles::{Handle, Handles, Listing, WriteBuffer};
use super::inodes::{Inodes, ROOT_INO};
use super::worker::{Worker, commit};
use crate::vault::{Caller, Changes, Kind, MAX_WRITE_SIZE, Node, VaultService};

/// The filesystem handed to fuser.
pub struct CertFs {
    vault: Arc<VaultService>,
    inodes: Arc<Inodes>,
    handles: Handles,
    notifier: Arc<OnceLock<Notifier>>,
    cache: Arc<Cache>,
    uid: u32,
    gid: u32,
}

impl CertFs {
    /// A filesystem showing `vault`, owned by `uid`/`gid`. `notifier` is
    /// filled in once the session exists, for cache invalidation.
    pub fn new(
        vault: Arc<VaultService>,
        uid: u32,
        gid: u32,
        notifier: Arc<OnceLock<Notifier>>,
    ) -> Self {
        let fs = CertFs {
            vault,
            inodes: Arc::new(Inodes::new()),
            handles: Handles::new(),
            notifier,
            cache: Arc::new(Cache::default()),
            uid,
            gid,
        };
        // What the vault changes by itself (scheduled purges, CA orders,
        // renewals) leaves the kernel's caches the same way. The listener
        // holds the vault weakly: the vault holds the listener.
        let (vault, inodes, notifier, cache) = (
            Arc::downgrade(&fs.vault),
            fs.inodes.clone(),
            fs.notifier.clone(),
            fs.cache.clone(),
        );
        fs.vault.set_listener(Box::new(move |changes| {
            let Some(vault) = Weak::upgrade(&vault) else {
                return;
            };
            let worker = Worker {
                vault,
                inodes: inodes.clone(),
                notifier: notifier.clone(),
                cache: cache.clone(),
            };
            worker.invalidate(changes);
        }));
        fs
    }

    /// Who owns a node that has no owner of its own: the mount's owner.
    fn owner(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    fn node(&self, ino: INodeNo) -> Result<Node, Errno> {
        self.inodes.node(ino.0).ok_or(Errno::ENOENT)
    }

    /// Replies to an `unlink` or `rmdir` in `parent`, then drops what the
    /// kernel cached of the changed directories (of `parent` after a
    /// refusal, which leaves a report there) — from another thread, since
    /// the kernel may still hold the directory's lock.
    fn reply_removed(&self, parent: INodeNo, result: Result<Changes, Errno>, reply: ReplyEmpty) {
        match result {
            Ok(changes) => {
                reply.ok();
                if !changes.dirs.is_empty() {
                    let worker = self.worker();
                    std::thread::spawn(move || worker.invalidate(&changes));
                }
            }
            Err(e) => {
                reply.error(e);
                let worker = self.worker();
                std::thread::spawn(move || worker.invalidate_dir(parent.0));
            }
        }
    }

    /// Who made `req` (supplementary groups only when others may come in).
    fn caller(&self, req: &Request) -> Caller {
        caller_of(req, self.uid != req.uid() && req.uid() != 0)
    }

    /// A state that outlives one callback, for work moved to another thread.
    fn worker(&self) -> Worker {
        Worker {
            vault: self.vault.clone(),
            inodes: self.inodes.clone(),
            notifier: self.notifier.clone(),
            cache: self.cache.clone(),
        }
    }
}

fn name_str(name: &OsStr) -> Result<&str, Errno> {
    // certfs names are ASCII; other bytes can name nothing here.
    name.to_str().ok_or(Errno::ENOENT)
}

/// The part of `data` a read of `size` bytes at `offset` returns.
fn window(data: &[u8], offset: u64, size: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = start.saturating_add(size as usize).min(data.len());
    &data[start..end]
}

impl Filesystem for CertFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // open(O_TRUNC) must reach us as a flag, not as a separate truncate:
        // truncating policy.json alone is no action.
        if let Err(missing) = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC) {
            log::warn!("kernel lacks {missing:?}; O_TRUNC opens may misbehave");
        }
        // Listings hand out attributes with the names (`ls -l` needs no
        // lookup per entry), when the kernel sees they are wanted; lookups
        // in one directory run in parallel. Both are only speed.
        let speed = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_READDIRPLUS_AUTO
            | InitFlags::FUSE_PARALLEL_DIROPS;
        if let Err(missing) = config.add_capabilities(speed) {
            log::info!("kernel lacks {missing:?}: listings and lookups are slower");
        }
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        // Computed and replied before any invalidation of a change it may miss.
        let _replying = self.cache.replies.read();
        let result = (|| {
            let dir = self.node(parent)?;
            let name = name_str(name)?;
            let (node, attr) = self
                .vault
                .lookup_as(&self.caller(req), &dir, name)
                .map_err(|e| errno(&e))?;
            let ino = self.inodes.intern(parent.0, name, &node);
            Ok((file_attr(self.owner(), ino, &attr), ttls(&attr)))
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
        self.inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = (|| {
            let node = self.node(ino)?;
            let mut attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            if let Some(Handle::Write(buf)) = fh.and_then(|fh| self.handles.get(fh.0)).as_deref() {
                attr.size = buf.lock().data.len() as u64;
            }
            Ok((file_attr(self.owner(), ino.0, &attr), ttls(&attr).1))
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
                let worker = self.worker();
                std::thread::spawn(move || worker.invalidate(&changes));
            }
            let mut attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            let handle = fh.and_then(|fh| self.handles.get(fh.0));
            if let Some(Handle::Write(buf)) = handle.as_deref() {
                let mut buf = buf.lock();
                if let Some(size) = size {
                    let size = usize::try_from(size).map_err(|_| Errno::EFBIG)?;
                    if size > MAX_WRITE_SIZE {
                        return Err(Errno::EFBIG);
                    }
                    buf.data.resize(size, 0);
                    buf.dirty = true;
                    buf.written = true;
                }
                attr.size = buf.data.len() as u64;
            } else if let Some(size) = size {
                if size != 0 {
                    return Err(Errno::EINVAL);
                }
                self.vault
                    .truncate_as(&caller, &node)
                    .map_err(|e| errno(&e))?;
                attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
            }
            Ok((file_attr(self.owner(), ino.0, &attr), ttls(&attr).1))
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
            Ok((file_attr(self.owner(), ino, &attr), ttls(&attr)))
        })();
        match result {
            Ok((attr, (entry_ttl, attr_ttl))) => {
                reply.entry_with_ttls(&attr_ttl, &entry_ttl, &attr, Generation(0))
            }
            Err(e) => reply.error(e),
        }
        // A refused mkdir leaves `<name>.error` beside it; one that worked
        // clears an old one.
        let worker = self.worker();
        std::thread::spawn(move || worker.invalidate_dir(parent.0));
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.node(parent).and_then(|dir| {
            self.vault
                .unlink_as(&self.caller(req), &dir, name_str(name)?)
                .map_err(|e| errno(&e))
        });
        self.reply_removed(parent, result, reply);
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.node(parent).and_then(|dir| {
            self.vault
                .rmdir_as(&self.caller(req), &dir, name_str(name)?)
                .map_err(|e| errno(&e))
        });
        self.reply_removed(parent, result, reply);
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
        let (name, new_name) = (name.to_owned(), new_name.to_owned());
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let caller = self.caller(req);
        let worker = self.worker();
        // A rename onto policy.json creates a version: not on a kernel thread.
        std::thread::spawn(move || {
            let source = worker
                .vault
                .lookup(&dir, &name)
                .ok()
                .and_then(|(n, _)| worker.inodes.get(&n));
            match worker
                .vault
                .rename_as(&caller, &dir, &name, &new_dir, &new_name, no_replace)
            {
                Ok(changes) => {
                    // The kernel now believes the source inode lives at the new
                    // name: make that inode show what the vault has there.
                    if let (Some(ino), Ok((node, _))) =
                        (source, worker.vault.lookup(&new_dir, &new_name))
                    {
                        worker
                            .inodes
                            .renamed(ino, parent.0, &name, newparent.0, &new_name, &node);
                    }
                    reply.ok();
                    worker.invalidate(&changes);
                }
                Err(e) => {
                    reply.error(errno(&e));
                    // A refused rename onto a real file leaves its `.error` report.
                    worker.invalidate_dir(parent.0);
                    worker.invalidate_dir(newparent.0);
                }
            }
        });
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = (|| {
            let node = self.node(ino)?;
            let caller = self.caller(req);
            if flags.acc_mode() == OpenAccMode::O_RDONLY {
                let attr = self.vault.getattr(&node).map_err(|e| errno(&e))?;
                if attr.kind == Kind::Directory {
                    return Err(Errno::EISDIR);
                }
                let data = self
                    .vault
                    .open_read(&caller, &node)
                    .map_err(|e| errno(&e))?;
                // Immutable bytes may stay in the page cache. Files that change
                // (policy.json, reports) bypass it, so a read never stops at a
                // size the kernel cached before the change.
                let keep = if attr.immutable {
                    FopenFlags::FOPEN_KEEP_CACHE
                } else {
                    FopenFlags::FOPEN_DIRECT_IO
                };
                // A reader's close has nothing to act on: no FLUSH round trip.
                let flags = keep | FopenFlags::FOPEN_NOFLUSH;
                return Ok((self.handles.insert(Handle::Read(data)), flags));
            }
            if let Err(e) = self.vault.open_write(&caller, &node) {
                // A refusal may have left `<name>.error` beside the file.
                self.worker().forget_refused(&node);
                return Err(errno(&e));
            }
            let truncate = flags.0 & libc::O_TRUNC != 0;
            let data = if truncate {
                Vec::new()
            } else {
                self.vault.read(&node).map_err(|e| errno(&e))?.to_vec()
            };
            let buffer = WriteBuffer {
                node,
                data,
                dirty: truncate,
                written: false,
                opener: process_of(req.pid()),
                caller,
                outcome: Ok(()),
            };
            Ok((
                self.handles
                    .insert(Handle::Write(parking_lot::Mutex::new(buffer))),
                FopenFlags::empty(),
            ))
        })();
        match result {
            Ok((fh, flags)) => reply.opened(FileHandle(fh), flags),
            Err(e) => reply.error(e),
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
            let (node, attr) = self
                .vault
                .create_as(&caller, &dir, name, (mode & !umask & 0o777) as u16)
                .map_err(|e| errno(&e))?;
            let ino = self.inodes.intern(parent.0, name, &node);
            let buffer = WriteBuffer {
                node,
                data: Vec::new(),
                dirty: true,
                written: false,
                opener: process_of(req.pid()),
                caller,
                outcome: Ok(()),
            };
            let fh = self
                .handles
                .insert(Handle::Write(parking_lot::Mutex::new(buffer)));
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
        match self.handles.get(fh.0).as_deref() {
            Some(Handle::Read(data)) => reply.data(window(data, offset, size)),
            Some(Handle::Write(buf)) => reply.data(window(&buf.lock().data, offset, size)),
            Some(Handle::Dir(_)) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::EBADF),
        }
    }

    fn write(
        &self,
        _req: &Request,
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
        let Handle::Write(buf) = &*handle else {
            return reply.error(Errno::EBADF);
        };
        let mut buf = buf.lock();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        // Keep one byte past the limit so the vault can say the file is too large.
        if end > MAX_WRITE_SIZE + 1 {
            buf.dirty = true;
            buf.written = true;
            buf.data.resize(MAX_WRITE_SIZE + 1, 0);
            return reply.error(Errno::EFBIG);
        }
        if buf.data.len() < end {
            buf.data.resize(end, 0);
        }
        buf.data[start..end].copy_from_slice(data);
        buf.dirty = true;
        buf.written = true;
        reply.written(data.len() as u32);
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.ok();
        };
        let Handle::Write(_) = &*handle else {
            return reply.ok();
        };
        let caller = process_of(req.pid());
        let worker = self.worker();
        // The action (a new version, maybe an RSA key) runs off the kernel's
        // threads, and without the buffer's lock, which reads and writes on
        // the same file need.
        std::thread::spawn(move || {
            let Handle::Write(buf) = &*handle else {
                return reply.ok();
            };
            // Only the opener's close acts, and only on written bytes: other
            // processes sharing the file (`{ cat a; cat b; } > f`) and a
            // close before anything was written (`cmd > f` closes a dup
            // first) do not. Whatever is left acts at release.
            let action = {
                let mut b = buf.lock();
                (b.dirty && b.written && caller == b.opener).then(|| {
                    b.dirty = false;
                    b.written = false;
                    (b.node.clone(), b.data.clone(), b.caller.clone())
                })
            };
            if let Some((node, data, who)) = action {
                let outcome = commit(&worker, &who, &node, &data);
                buf.lock().outcome = outcome;
            }
            let outcome = buf.lock().outcome;
            match outcome {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
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
        let handle = self.handles.remove(fh.0);
        reply.ok();
        // Whatever no close acted on (nothing written before the opener's
        // close, another thread's close, a writer that died) acts now; the
        // outcome is in the `.error` report and the log.
        let Some(handle) = handle else { return };
        let Handle::Write(buf) = &*handle else { return };
        let action = {
            let mut b = buf.lock();
            b.dirty.then(|| {
                b.dirty = false;
                (
                    b.node.clone(),
                    std::mem::take(&mut b.data),
                    b.caller.clone(),
                )
            })
        };
        if let Some((node, data, who)) = action {
            let worker = self.worker();
            std::thread::spawn(move || {
                let _ = commit(&worker, &who, &node, &data);
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
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let Handle::Dir(listing) = &*handle else {
            return reply.error(Errno::ENOTDIR);
        };
        // Entries 0 and 1 are `.` and `..`; offsets count from there.
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for i in skip..listing.entries.len() + 2 {
            let next = (i + 1) as u64;
            let full = match i {
                0 => reply.add(ino, next, FileType::Directory, "."),
                1 => reply.add(INodeNo(ROOT_INO), next, FileType::Directory, ".."),
                _ => {
                    let e = &listing.entries[i - 2];
                    let child = self.inodes.number(&e.node);
                    reply.add(INodeNo(child), next, file_type(e.kind), &e.name)
                }
            };
            if full {
                break;
            }
        }
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
        let Some(handle) = self.handles.get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let Handle::Dir(listing) = &*handle else {
            return reply.error(Errno::ENOTDIR);
        };
        let _replying = self.cache.replies.read();
        // A listing older than a change may name what is gone or switched:
        // its entries are handed out, but not for the kernel to keep.
        let fresh = self.cache.generation.load(Ordering::SeqCst) == listing.generation;
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for i in skip..listing.entries.len() + 2 {
            let next = (i + 1) as u64;
            // `.` and `..` count no lookup in the kernel.
            let full = match i {
                0 | 1 => {
                    let (node, at) = if i == 0 {
                        (self.node(ino).ok(), ino.0)
                    } else {
                        (Some(Node::Root), ROOT_INO)
                    };
                    let Some(attr) = node.and_then(|n| self.vault.getattr(&n).ok()) else {
                        continue;
                    };
                    let name = if i == 0 { "." } else { ".." };
                    let attr = file_attr(self.owner(), at, &attr);
                    reply.add(
                        INodeNo(at),
                        next,
                        name,
                        &Duration::ZERO,
                        &attr,
                        Generation(0),
                    )
                }
                _ => {
                    let e = &listing.entries[i - 2];
                    // Gone since the listing was made: left out.
                    let Ok(attr) = self.vault.getattr(&e.node) else {
                        continue;
                    };
                    // One lifetime for both here: the shorter.
                    let ttl = if fresh {
                        let (entry_ttl, attr_ttl) = ttls(&attr);
                        entry_ttl.min(attr_ttl)
                    } else {
                        Duration::ZERO
                    };
                    // Counted as a lookup only once it is in the reply.
                    !self.inodes.intern_if(ino.0, &e.name, &e.node, |child| {
                        !reply.add(
                            INodeNo(child),
                            next,
                            &e.name,
                            &ttl,
                            &file_attr(self.owner(), child, &attr),
                            Generation(0),
                        )
                    })
                }
            };
            if full {
                break;
            }
        }
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
        self.handles.remove(fh.0);
        reply.ok();
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: fuser::AccessFlags, reply: ReplyEmpty) {
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

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: fuser::ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }
}
