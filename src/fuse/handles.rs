//! Open file and directory handles: a read snapshot, a write buffer acted on at close, or a directory listing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fuser::{Errno, FileType};
use parking_lot::{Mutex, RwLock};

use crate::vault::Node;

/// A file opened for writing: bytes are buffered and handed to the vault on the first `flush` after a change.
pub struct WriteBuffer {
    /// What is being written.
    pub node: Node,
    /// The bytes so far.
    pub data: Vec<u8>,
    /// Changed since the last commit (written, truncated or newly created).
    pub dirty: bool,
    /// Changed by `write` or `ftruncate` since the last commit, not only by
    /// `O_TRUNC` or creation (a shell opens with `O_TRUNC` and closes a
    /// duplicate before the command it starts writes anything).
    pub written: bool,
    /// The process (thread group id) that opened the file: its `close` is the one that acts.
    pub opener: u32,
    /// Who opened it (for the audit log).
    pub caller: crate::vault::Caller,
    /// The errno of the last commit, returned again by later `flush`es.
    pub outcome: Result<(), Errno>,
}

/// One open handle.
pub enum Handle {
    /// Opened for reading: the bytes as they were at `open` (an open file keeps its version).
    Read(Arc<[u8]>),
    /// Opened for writing (or reading and writing).
    Write(Mutex<WriteBuffer>),
    /// An open directory: its entries as they were at `opendir`.
    Dir(Vec<(u64, FileType, String)>),
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
