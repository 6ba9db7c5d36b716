//! Open file and directory handles by number: a read snapshot, a file open for writing (the vault's [`OpenFile`]), or a directory listing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use fuser::{Errno, FopenFlags};

use super::attrs::open_flags;
use super::error::errno;
use super::listing::Listing;
use crate::vault::{Caller, Kind, Node, OpenFile, VaultService};

/// `open` for reading: a snapshot of `node`'s bytes as a new handle in
/// `handles`, and how the kernel may cache them.
pub(super) fn open_read(
    vault: &VaultService,
    handles: &Handles,
    caller: &Caller,
    node: &Node,
) -> Result<(u64, FopenFlags), Errno> {
    let attr = vault.getattr(node).map_err(|e| errno(&e))?;
    if attr.kind == Kind::Directory {
        return Err(Errno::EISDIR);
    }
    let data = vault.open_read(caller, node).map_err(|e| errno(&e))?;
    Ok((handles.insert(Handle::Read(data)), open_flags(&attr)))
}

/// One open handle.
pub enum Handle {
    /// Opened for reading: the bytes as they were at `open` (an open file keeps its version).
    Read(Arc<[u8]>),
    /// Opened for writing (or reading and writing): when its bytes act is the vault's rule.
    Write(Box<Mutex<OpenFile>>),
    /// An open directory: its entries as they were at `opendir`.
    Dir(Listing),
}

/// All open handles, by number.
pub struct Handles {
    next: AtomicU64,
    open: RwLock<HashMap<u64, Arc<Handle>>>,
}

impl Handles {
    /// No handles.
    pub fn new() -> Self {
        Handles {
            next: AtomicU64::new(1),
            open: RwLock::new(HashMap::new()),
        }
    }

    /// Registers `handle`; returns its number.
    pub fn insert(&self, handle: Handle) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.write().insert(fh, Arc::new(handle));
        fh
    }

    /// The handle `fh`.
    pub fn get(&self, fh: u64) -> Option<Arc<Handle>> {
        self.open.read().get(&fh).cloned()
    }

    /// Forgets `fh`; returns it.
    pub fn remove(&self, fh: u64) -> Option<Arc<Handle>> {
        self.open.write().remove(&fh)
    }
}

impl Default for Handles {
    fn default() -> Self {
        Self::new()
    }
}
