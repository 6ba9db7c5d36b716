//! [`Names`]: what the kernel may keep of names, found or not — whether a switch of version can drop every cached name at once, and which missing names it keeps, so that one that appears is dropped.
//!
//! A missing name is answered as an entry without inode (a negative
//! entry) that the kernel keeps for [`MISSING`]; the table below remembers
//! it, and every change to its directory checks whether it exists now
//! (`Offload::invalidate`). The table is bounded: when it is full of
//! names younger than [`MISSING`], missing names are answered uncached.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fuser::Errno;
use parking_lot::Mutex;

use super::epoch::Epochs;

/// How long the kernel may keep a missing name. Every change that makes
/// a name appear drops it; this bounds how long one that was missed could
/// stay hidden.
pub(super) const MISSING: Duration = Duration::from_secs(60);

/// How many missing names the kernel may keep at a time.
const MISSING_CAP: usize = 100_000;

/// See the module documentation.
pub(super) struct Names {
    epochs: Arc<OnceLock<Epochs>>,
    missing: Mutex<Missing>,
}

/// Missing names handed out, by directory inode, with when.
#[derive(Default)]
struct Missing {
    by_dir: HashMap<u64, HashMap<String, Instant>>,
    count: usize,
}

impl Names {
    /// Names whose switches are sent through `epochs` once it is set.
    pub(super) fn new(epochs: Arc<OnceLock<Epochs>>) -> Self {
        Names {
            epochs,
            missing: Mutex::default(),
        }
    }

    /// Whether a switch drops every cached name at once, so that a
    /// certificate's top-level names may be cached.
    pub(super) fn at_once(&self) -> bool {
        self.epochs.get().is_some()
    }

    /// Records that the kernel keeps `name` in directory `parent` as
    /// missing; false (the name must not be cached) when the table is full,
    /// or for a report (`<name>.error`): one appears as the answer to a
    /// refused action and is read right after it, before the drop of the
    /// missing entry (on the invalidation lane, after the reply) could land.
    pub(super) fn keep_missing(&self, parent: u64, name: &str) -> bool {
        if crate::vault::is_report(name) {
            return false;
        }
        let mut missing = self.missing.lock();
        if missing.count >= MISSING_CAP {
            missing.prune(Instant::now());
            if missing.count >= MISSING_CAP {
                return false;
            }
        }
        let names = missing.by_dir.entry(parent).or_default();
        let new = names.insert(name.to_owned(), Instant::now()).is_none();
        missing.count += usize::from(new);
        true
    }

    /// The missing names the kernel may keep in directory `parent`.
    pub(super) fn missing_in(&self, parent: u64) -> Vec<String> {
        let missing = self.missing.lock();
        let cutoff = Instant::now().checked_sub(MISSING);
        missing.by_dir.get(&parent).map_or_else(Vec::new, |names| {
            names
                .iter()
                .filter(|(_, at)| cutoff.is_none_or(|c| **at > c))
                .map(|(name, _)| name.clone())
                .collect()
        })
    }

    /// Forgets missing `name` in `parent` (its entry was dropped).
    pub(super) fn found(&self, parent: u64, name: &str) {
        let mut missing = self.missing.lock();
        let Some(names) = missing.by_dir.get_mut(&parent) else {
            return;
        };
        let removed = names.remove(name).is_some();
        if names.is_empty() {
            missing.by_dir.remove(&parent);
        }
        missing.count -= usize::from(removed);
    }

    /// Forgets every missing name in `parent` (the directory is gone).
    pub(super) fn forget_dir(&self, parent: u64) {
        let mut missing = self.missing.lock();
        if let Some(names) = missing.by_dir.remove(&parent) {
            missing.count -= names.len();
        }
    }
}

impl Missing {
    /// Drops names the kernel no longer keeps (handed out over [`MISSING`] ago).
    fn prune(&mut self, now: Instant) {
        let Some(cutoff) = now.checked_sub(MISSING) else {
            return;
        };
        let mut count = 0;
        self.by_dir.retain(|_, names| {
            names.retain(|_, at| *at > cutoff);
            count += names.len();
            !names.is_empty()
        });
        self.count = count;
    }
}

/// A name the kernel asks for as certfs' names are spelled.
pub(super) fn name_str(name: &OsStr) -> Result<&str, Errno> {
    // certfs names are ASCII; other bytes can name nothing here.
    name.to_str().ok_or(Errno::ENOENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_are_kept_per_directory_until_found() {
        let names = Names::new(Arc::new(OnceLock::new()));
        assert!(!names.at_once());
        assert!(names.keep_missing(7, "cert.pem.sctl"));
        assert!(names.keep_missing(7, "cert.pem.ocsp"));
        assert!(names.keep_missing(7, "cert.pem.sctl"));
        assert!(names.keep_missing(8, "x"));
        let mut in7 = names.missing_in(7);
        in7.sort();
        assert_eq!(in7, ["cert.pem.ocsp", "cert.pem.sctl"]);
        names.found(7, "cert.pem.sctl");
        assert_eq!(names.missing_in(7), ["cert.pem.ocsp"]);
        names.forget_dir(8);
        assert!(names.missing_in(8).is_empty());
        assert_eq!(names.missing.lock().count, 1);
    }

    #[test]
    fn a_full_table_keeps_no_more_names() {
        let names = Names::new(Arc::new(OnceLock::new()));
        for i in 0..MISSING_CAP {
            assert!(names.keep_missing(1, &i.to_string()));
        }
        assert!(
            !names.keep_missing(2, "new"),
            "full of names the kernel keeps"
        );
        assert!(names.missing_in(2).is_empty());
        names.found(1, "0");
        assert!(names.keep_missing(2, "new"));
    }
}
