//! Side files: editors' scratch files and `.error` reports, kept in memory beside the real files.
//!
//! Editors and tools write temporary files next to the file they change
//! (`.policy.json.swp`, `4913`, `policy.json~`, `sedXXXXXX`,
//! `.policy.json.XXXXXX`). certfs keeps any such file of a writable
//! directory in memory, never acts on it, and forgets it at unmount; only a
//! `rename` onto a real file name turns its content into an action. A
//! rejected action leaves its reason in `<name>.error` beside the file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::node::Node;

/// The suffix of error reports.
pub const ERROR_SUFFIX: &str = ".error";

/// One side file.
#[derive(Clone)]
pub(crate) struct SideFile {
    pub data: Arc<[u8]>,
    pub mtime: i64,
}

/// All side files, by directory, then name (case-sensitive, as on Linux).
#[derive(Default)]
pub(crate) struct SideFiles {
    dirs: HashMap<Node, BTreeMap<String, SideFile>>,
}

impl SideFiles {
    /// The file `name` in `dir`.
    pub fn get(&self, dir: &Node, name: &str) -> Option<&SideFile> {
        self.dirs.get(dir)?.get(name)
    }

    /// The side files of `dir`, by name.
    pub fn list(&self, dir: &Node) -> impl Iterator<Item = (&String, &SideFile)> {
        self.dirs.get(dir).into_iter().flatten()
    }

    /// Creates or replaces `name` in `dir`.
    pub fn put(&mut self, dir: &Node, name: &str, data: Arc<[u8]>, mtime: i64) {
        self.dirs
            .entry(dir.clone())
            .or_default()
            .insert(name.to_owned(), SideFile { data, mtime });
    }

    /// Replaces the content of `name` in `dir` if it still exists; returns whether it did.
    pub fn update(&mut self, dir: &Node, name: &str, data: Arc<[u8]>, mtime: i64) -> bool {
        match self.dirs.get_mut(dir).and_then(|files| files.get_mut(name)) {
            Some(file) => {
                *file = SideFile { data, mtime };
                true
            }
            None => false,
        }
    }

    /// Removes `name` from `dir`; returns what was there.
    pub fn remove(&mut self, dir: &Node, name: &str) -> Option<SideFile> {
        let files = self.dirs.get_mut(dir)?;
        let removed = files.remove(name);
        if files.is_empty() {
            self.dirs.remove(dir);
        }
        removed
    }

    /// Forgets every side file in any directory `gone` says went away.
    pub fn remove_dirs_where(&mut self, gone: impl Fn(&Node) -> bool) {
        self.dirs.retain(|dir, _| !gone(dir));
    }

    /// Whether `dir` holds a side file of the user's (reports are certfs'
    /// own: they do not keep a folder from going).
    pub fn has_user_files(&self, dir: &Node) -> bool {
        self.dirs
            .get(dir)
            .is_some_and(|d| d.keys().any(|name| !name.ends_with(ERROR_SUFFIX)))
    }

    /// Removes the report `error_name` in `dir`, whatever the case of its
    /// name (names are case-insensitive); true if there was one.
    pub fn remove_report(&mut self, dir: &Node, error_name: &str) -> bool {
        let Some(files) = self.dirs.get_mut(dir) else {
            return false;
        };
        let before = files.len();
        files.retain(|name, _| !name.eq_ignore_ascii_case(error_name));
        let removed = files.len() != before;
        if files.is_empty() {
            self.dirs.remove(dir);
        }
        removed
    }
}

/// The name of the error report for `name`.
pub fn error_name(name: &str) -> String {
    format!("{name}{ERROR_SUFFIX}")
}

/// Whether `name` is an editor's or tool's temporary file, or a report:
/// hidden files (`.x`, rsync's `.x.XXXXXX`, vim's `.x.swp`), backups
/// (`x~`), emacs' `#x#`, vim's probe of whether it may write the folder
/// (`4913`, then `5036`, ...: digits only) and `.error` reports. In
/// drop-boxes such names are kept, never acted on.
pub fn is_scratch(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(ERROR_SUFFIX)
        || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
}
