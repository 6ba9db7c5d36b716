//! Directory listings: the entries an `opendir` saw, handed to the kernel from an offset by `readdir` and `readdirplus` (with attributes).

use std::time::Duration;

use fuser::{FileType, Generation, INodeNo, ReplyDirectory, ReplyDirectoryPlus};

use super::attrs::{file_attr, file_type, ttls};
use super::inodes::{Inodes, ROOT_INO};
use crate::vault::{Entry, Node, VaultService};

/// A directory's entries as they were at `opendir` (without `.` and `..`).
pub struct Listing {
    /// The adapter's invalidation count when it was made: a listing older
    /// than a change may name what is gone.
    pub generation: u64,
    /// The entries.
    pub entries: Vec<Entry>,
}

/// What a listing's attributes are read from.
pub(super) struct Lister<'a> {
    pub(super) vault: &'a VaultService,
    pub(super) inodes: &'a Inodes,
    /// Who owns a node that has no owner of its own.
    pub(super) owner: (u32, u32),
}

impl Listing {
    /// Fills a `readdir` reply for directory `ino` from `offset`. Entries
    /// 0 and 1 are `.` and `..`; offsets count from there.
    pub(super) fn fill(
        &self,
        ino: INodeNo,
        offset: u64,
        inodes: &Inodes,
        reply: &mut ReplyDirectory,
    ) {
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for i in skip..self.entries.len() + 2 {
            let next = (i + 1) as u64;
            let full = match i {
                0 => reply.add(ino, next, FileType::Directory, "."),
                1 => reply.add(INodeNo(ROOT_INO), next, FileType::Directory, ".."),
                _ => {
                    let e = &self.entries[i - 2];
                    let child = inodes.number(&e.node);
                    reply.add(INodeNo(child), next, file_type(e.kind), &e.name)
                }
            };
            if full {
                break;
            }
        }
    }

    /// Fills a `readdirplus` reply for directory `ino` from `offset`, with
    /// each entry's attributes. A listing that is not `fresh` (older than
    /// a change) may name what is gone or switched: its entries are handed
    /// out, but not for the kernel to keep.
    pub(super) fn fill_plus(
        &self,
        ino: INodeNo,
        offset: u64,
        fresh: bool,
        at: &Lister,
        reply: &mut ReplyDirectoryPlus,
    ) {
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for i in skip..self.entries.len() + 2 {
            let next = (i + 1) as u64;
            // `.` and `..` count no lookup in the kernel.
            let full = match i {
                0 | 1 => {
                    let (node, number) = if i == 0 {
                        (at.inodes.node(ino.0), ino.0)
                    } else {
                        (Some(Node::Root), ROOT_INO)
                    };
                    let Some(attr) = node.and_then(|n| at.vault.getattr(&n).ok()) else {
                        continue;
                    };
                    let name = if i == 0 { "." } else { ".." };
                    let attr = file_attr(at.owner, number, &attr);
                    reply.add(
                        INodeNo(number),
                        next,
                        name,
                        &Duration::ZERO,
                        &attr,
                        Generation(0),
                    )
                }
                _ => {
                    let e = &self.entries[i - 2];
                    // Gone since the listing was made: left out.
                    let Ok(attr) = at.vault.getattr(&e.node) else {
                        continue;
                    };
                    // One lifetime for both here: the shorter.
                    // A top-level name of a certificate is not kept from a
                    // listing: one made before a switch may name the old
                    // version after the kernel dropped every cached name.
                    let ttl = if fresh && !attr.current {
                        let (entry_ttl, attr_ttl) = ttls(&attr, false);
                        entry_ttl.min(attr_ttl)
                    } else {
                        Duration::ZERO
                    };
                    // Counted as a lookup only once it is in the reply.
                    !at.inodes.intern_if(ino.0, &e.name, &e.node, |child| {
                        !reply.add(
                            INodeNo(child),
                            next,
                            &e.name,
                            &ttl,
                            &file_attr(at.owner, child, &attr),
                            Generation(0),
                        )
                    })
                }
            };
            if full {
                break;
            }
        }
    }
}
