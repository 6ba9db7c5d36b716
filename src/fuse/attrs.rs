//! What the kernel is told about a node: its `FileAttr`, its file type, how long it may cache entry, attributes and a reader's bytes, and the [`Cache`] lock that keeps those caches right.
//!
//! Directories and the immutable files of a version are cached for
//! [`LONG`] (entries and attributes), since everything that changes them
//! is invalidated explicitly. Files whose bytes change in place keep
//! [`SHORT`]. A certificate's top-level names, which switch to the next
//! version's nodes, are cached for [`LONG`] too when a switch drops every
//! cached name at once (an epoch, see [`super::epoch`]); without that,
//! they are looked up at every path walk, so that a new version shows in
//! all of them at once. Names that come and go with other actions
//! (reports, `status.json`, ...) are never cached by name.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fuser::{FileAttr, FileType, FopenFlags, INodeNo};
use parking_lot::RwLock;

use super::epoch::Epochs;
use super::names::Names;
use crate::vault::{Attr, Kind};

/// How long the kernel may cache what only changes with an invalidation:
/// directories, and the files of a version whose bytes never change.
pub(super) const LONG: Duration = Duration::from_secs(3600);

/// How long the kernel may cache the attributes of a file whose bytes
/// change in place (`policy.json`, `attributes.json`, reports, ...) and the
/// entries of other files: changes to them are invalidated too, this only
/// bounds anything missed.
/// [`ttls`] of an entry found in a directory whose names the kernel may
/// (`shared`) or may not keep for every user (`VaultService::names_shared`).
pub(super) fn lookup_ttls(attr: &Attr, at_once: bool, shared: bool) -> (Duration, Duration) {
    let (entry, attr_ttl) = ttls(attr, at_once);
    (if shared { entry } else { Duration::ZERO }, attr_ttl)
}

pub(super) const SHORT: Duration = Duration::from_secs(1);

/// How the kernel may cache the bytes of a file with `attr` opened for reading.
pub(super) fn open_flags(attr: &Attr) -> FopenFlags {
    // Immutable bytes may stay in the page cache. Files that change
    // (policy.json, reports) bypass it, so a read never stops at a size
    // the kernel cached before the change.
    let keep = if attr.immutable {
        FopenFlags::FOPEN_KEEP_CACHE
    } else {
        FopenFlags::FOPEN_DIRECT_IO
    };
    // A reader's close has nothing to act on: no FLUSH round trip.
    keep | FopenFlags::FOPEN_NOFLUSH
}

/// The kernel-cache lifetimes (entry, attributes) of a node with `attr`;
/// `at_once`: whether a switch of version drops every cached name at once.
pub(super) fn ttls(attr: &Attr, at_once: bool) -> (Duration, Duration) {
    // A name that may name another node at any moment is looked up at
    // every path walk. A certificate's top-level name switches to the next
    // version's node: without a switch that drops every cached name at
    // once, the kernel would drop them one at a time, and a cached one
    // could show the old version's key beside the new version's
    // certificate. The nodes' attributes never change.
    let uncached = attr.switches || (attr.current && !at_once);
    let entry = |long| if uncached { Duration::ZERO } else { long };
    match (attr.kind, attr.immutable) {
        (Kind::Directory, _) if attr.switches => (Duration::ZERO, SHORT),
        (Kind::Directory, _) | (Kind::File, true) => (entry(LONG), LONG),
        (Kind::File, false) => (entry(SHORT), SHORT),
    }
}

/// What keeps kernel caches right while entries are handed out.
pub(super) struct Cache {
    /// Held (shared) while an entry is computed and replied; invalidation
    /// takes it exclusively once, so replies computed before a change are
    /// in the kernel before their invalidation is.
    pub(super) replies: RwLock<()>,
    /// Bumped by every invalidation: a directory listing made before one
    /// hands out entries the kernel must not cache.
    pub(super) generation: AtomicU64,
    /// Names the kernel may keep: found (at once?) and missing.
    pub(super) names: Names,
}

impl Cache {
    /// The caches of a mount whose switches go through `epochs` once set.
    pub(super) fn new(epochs: Arc<OnceLock<Epochs>>) -> Self {
        Cache {
            replies: RwLock::default(),
            generation: AtomicU64::default(),
            names: Names::new(epochs),
        }
    }
}

/// The kernel's file type for a node of `kind`.
pub(super) fn file_type(kind: Kind) -> FileType {
    match kind {
        Kind::Directory => FileType::Directory,
        Kind::File => FileType::RegularFile,
    }
}

/// What a lookup of a missing name answers for the kernel to keep: an
/// entry without inode (its attributes are not read).
pub(super) fn missing_attr() -> FileAttr {
    let never = std::time::UNIX_EPOCH;
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: never,
        mtime: never,
        ctime: never,
        crtime: never,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

/// The attributes of inode `ino` with the vault's `attr`; a node without an
/// owner of its own belongs to `owner` (the mount's owner).
pub(super) fn file_attr(owner: (u32, u32), ino: u64, attr: &Attr) -> FileAttr {
    let kind = file_type(attr.kind);
    let (uid, gid) = attr.owner.unwrap_or(owner);
    FileAttr {
        ino: INodeNo(ino),
        size: attr.size,
        blocks: attr.size.div_ceil(512),
        atime: attr.mtime,
        mtime: attr.mtime,
        ctime: attr.mtime,
        crtime: attr.mtime,
        kind,
        perm: attr.mode,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid,
        gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn attr(kind: Kind, immutable: bool, switches: bool) -> Attr {
        Attr {
            kind,
            size: 1000,
            mode: 0o640,
            mtime: SystemTime::UNIX_EPOCH,
            owner: None,
            immutable,
            switches,
            current: false,
        }
    }

    #[test]
    fn switching_names_are_never_cached_and_immutable_files_long() {
        for at_once in [false, true] {
            let ttl = |a: &Attr| ttls(a, at_once);
            assert_eq!(ttl(&attr(Kind::File, true, true)), (Duration::ZERO, LONG));
            assert_eq!(ttl(&attr(Kind::File, true, false)), (LONG, LONG));
            assert_eq!(ttl(&attr(Kind::File, false, false)), (SHORT, SHORT));
            assert_eq!(ttl(&attr(Kind::File, false, true)), (Duration::ZERO, SHORT));
            assert_eq!(ttl(&attr(Kind::Directory, false, false)), (LONG, LONG));
            assert_eq!(
                ttl(&attr(Kind::Directory, false, true)),
                (Duration::ZERO, SHORT)
            );
        }
    }

    #[test]
    fn top_level_names_are_cached_only_when_a_switch_drops_all_at_once() {
        let mut current = attr(Kind::File, true, false);
        current.current = true;
        assert_eq!(ttls(&current, false), (Duration::ZERO, LONG));
        assert_eq!(ttls(&current, true), (LONG, LONG));
        // attributes.json of the current version changes in place.
        current.immutable = false;
        assert_eq!(ttls(&current, true), (SHORT, SHORT));
    }

    #[test]
    fn a_node_without_an_owner_belongs_to_the_mounts_owner() {
        let mut a = attr(Kind::File, true, false);
        let f = file_attr((1000, 1001), 7, &a);
        assert_eq!((f.uid, f.gid, f.blocks, f.nlink), (1000, 1001, 2, 1));
        assert_eq!(f.kind, FileType::RegularFile);
        a.owner = Some((0, 33));
        let f = file_attr((1000, 1001), 7, &a);
        assert_eq!((f.uid, f.gid), (0, 33));
        let d = file_attr((1, 1), 8, &attr(Kind::Directory, false, false));
        assert_eq!((d.kind, d.nlink), (FileType::Directory, 2));
    }
}
