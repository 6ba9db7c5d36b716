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
use std::sync::atomic::{AtomicU64, Ordering};

use super::access::Caller;
use super::node::Node;

/// The suffix of error reports.
pub const ERROR_SUFFIX: &str = ".error";

/// What a side file is as protected as, beyond its own mode: what it
/// holds or where it came from, so a copy or a move of a protected file
/// never makes it more readable or writable than the original.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Guard {
    /// Holds a private key or a secret (a copy of `privkey.pem`, a PFX or
    /// password waiting in `import/`): read only by its owner or with a
    /// role that reads keys.
    pub secret: bool,
    /// A vault's settings or an issuer's (its API keys): read and written
    /// only with the `manage` role.
    pub managers: bool,
    /// `hooks.json`'s commands: written only by the mount's owner or root.
    pub owner_only: bool,
}

impl Guard {
    /// Both guards at once (a guard once gained is never lost).
    pub fn with(self, other: Guard) -> Guard {
        Guard {
            secret: self.secret || other.secret,
            managers: self.managers || other.managers,
            owner_only: self.owner_only || other.owner_only,
        }
    }
}

/// One side file: its bytes, who owns it with which mode, who wrote its
/// bytes, and what it is as protected as.
#[derive(Clone)]
pub(crate) struct SideFile {
    pub data: Arc<[u8]>,
    pub mtime: i64,
    /// Owner and group: whoever created it (a report: the mount's owner).
    pub owner: (u32, u32),
    /// Permission bits, as its creator asked (open's mode less the umask, then `chmod`).
    pub mode: u16,
    /// Every user who wrote or truncated it, once each: a rename onto a
    /// protected document is checked against each of them.
    pub writers: Vec<Caller>,
    pub guard: Guard,
    /// Which file this is, for its whole life (a rename keeps it): a
    /// handle opened on a file that was removed, and a new file made under
    /// its name, never write into the new one.
    pub id: u64,
}

/// The next side file's [`SideFile::id`].
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl SideFile {
    /// A new, empty file of `owner` with `mode`.
    pub fn new(owner: (u32, u32), mode: u16, guard: Guard, mtime: i64) -> Self {
        SideFile {
            data: Arc::from(&b""[..]),
            mtime,
            owner,
            mode: mode & 0o777,
            writers: Vec::new(),
            guard,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A file holding `data` from the start (a report; a copy of a file of certfs).
    pub fn holding(
        data: Arc<[u8]>,
        owner: (u32, u32),
        mode: u16,
        guard: Guard,
        mtime: i64,
    ) -> Self {
        SideFile {
            data,
            ..SideFile::new(owner, mode, guard, mtime)
        }
    }

    /// Records that `writer` gave the file its bytes now.
    fn written_by(&mut self, writer: &Caller, data: Arc<[u8]>, secret: bool, mtime: i64) {
        self.data = data;
        self.mtime = mtime;
        self.guard.secret |= secret;
        self.add_writer(writer);
    }

    /// Adds `writer` to the writers, once per user.
    fn add_writer(&mut self, writer: &Caller) {
        if !self.writers.iter().any(|w| w.uid == writer.uid) {
            self.writers.push(writer.clone());
        }
    }
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
    pub fn put(&mut self, dir: &Node, name: &str, file: SideFile) {
        self.dirs
            .entry(dir.clone())
            .or_default()
            .insert(name.to_owned(), file);
    }

    /// `writer` gave `name` in `dir` the bytes `data` (`secret` when they
    /// hold a key), if it is still file `id` (any file for `None`); false
    /// if that file is gone (removed while open).
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        dir: &Node,
        name: &str,
        id: Option<u64>,
        writer: &Caller,
        data: Arc<[u8]>,
        secret: bool,
        mtime: i64,
    ) -> bool {
        let file = self.dirs.get_mut(dir).and_then(|files| files.get_mut(name));
        match file.filter(|f| id.is_none_or(|id| f.id == id)) {
            Some(file) => {
                file.written_by(writer, data, secret, mtime);
                true
            }
            None => false,
        }
    }

    /// The [`SideFile::id`] of `name` in `dir`, if it is there.
    pub fn id(&self, dir: &Node, name: &str) -> Option<u64> {
        self.get(dir, name).map(|f| f.id)
    }

    /// Adds `writer` to the writers of `name` in `dir`, if it is still file
    /// `id` (bytes they wrote through another user's descriptor).
    pub fn add_writer(&mut self, dir: &Node, name: &str, id: Option<u64>, writer: &Caller) {
        let file = self.dirs.get_mut(dir).and_then(|files| files.get_mut(name));
        if let Some(file) = file.filter(|f| id.is_none_or(|id| f.id == id)) {
            file.add_writer(writer);
        }
    }

    /// Sets the mode and owner of `name` in `dir`; false if it is gone.
    pub fn set_perm(
        &mut self,
        dir: &Node,
        name: &str,
        mode: Option<u16>,
        owner: (u32, u32),
    ) -> bool {
        match self.dirs.get_mut(dir).and_then(|files| files.get_mut(name)) {
            Some(file) => {
                if let Some(mode) = mode {
                    file.mode = mode & 0o777;
                }
                file.owner = owner;
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

/// The longest file name (bytes), as on Linux file systems (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The name of the error report for `name`: `<name>.error`, the name cut
/// (at a character boundary) so that the report's name fits in
/// [`NAME_MAX`] bytes.
pub fn error_name(name: &str) -> String {
    let mut end = name.len().min(NAME_MAX - ERROR_SUFFIX.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ERROR_SUFFIX}", &name[..end])
}

/// Whether `name` is a report's (`.error`): those are certfs' own to write.
pub fn is_report(name: &str) -> bool {
    name.ends_with(ERROR_SUFFIX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_fit_in_name_max_and_cut_at_a_character() {
        assert_eq!(error_name("policy.json"), "policy.json.error");
        let long = "a".repeat(300);
        assert_eq!(error_name(&long).len(), NAME_MAX);
        // A name of 2-byte characters is cut before a whole character.
        let wide = "é".repeat(200);
        let report = error_name(&wide);
        assert!(report.len() <= NAME_MAX && report.ends_with(ERROR_SUFFIX));
        assert!(report.starts_with("éé"));
    }

    #[test]
    fn writers_are_kept_once_each_and_a_secret_stays_one() {
        let dir = Node::Root;
        let mut side = SideFiles::default();
        side.put(&dir, "x", SideFile::new((0, 0), 0o644, Guard::default(), 0));
        let who = |uid| Caller {
            uid,
            gid: uid,
            pid: 1,
            groups: Vec::new(),
        };
        assert!(side.write(&dir, "x", None, &who(7), Arc::from(&b"key"[..]), true, 1));
        assert!(side.write(&dir, "x", None, &who(7), Arc::from(&b"a"[..]), false, 2));
        assert!(side.write(&dir, "x", None, &who(8), Arc::from(&b"b"[..]), false, 3));
        let file = side.get(&dir, "x").unwrap();
        let uids: Vec<u32> = file.writers.iter().map(|w| w.uid).collect();
        assert_eq!(uids, [7, 8]);
        assert!(file.guard.secret, "once a key was in it, it is a secret");
        assert!(!side.write(&dir, "gone", None, &who(7), Arc::from(&b""[..]), false, 4));
    }
}
