//! A directory whose files switch all at once, laid out as Kubernetes' atomic writer does: `..data` links to a timestamped directory holding the files, each visible name links through `..data`.
//!
//! A switch writes every file into a new hidden directory
//! (`..2026_12_07_11_10_57.123456789`), then points `..data` at it with one
//! `rename(2)` of a new link over the old one, so a path walk through a
//! visible name (`privkey.pem` → `..data/privkey.pem`) sees all the old
//! files or all the new ones, never a mix of versions and never a partial
//! file; a file already open keeps its bytes. Visible names are added
//! after the swap and those the new set lacks removed. The directory the
//! swap replaced stays until the next switch, so a reader that resolved
//! `..data` just before the swap still finds its files; older ones go.
//!
//! Nothing here knows what the files are; modes and owners are given.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The link that names the current timestamped directory.
pub const DATA_LINK: &str = "..data";
/// The new link before it is renamed over [`DATA_LINK`].
const DATA_TMP: &str = "..data_tmp";

/// One file of the set: its name, bytes, mode, and owner (`None`: the writer's).
#[derive(Clone)]
pub struct FileSpec {
    /// The visible name (one path component, not starting with `..`).
    pub name: String,
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// The permission bits.
    pub mode: u32,
    /// The owner, if not the writer.
    pub uid: Option<u32>,
    /// The group, if not the writer's.
    pub gid: Option<u32>,
    /// Whether [`shows`] needs the same bytes on disk; `false` for a file
    /// whose every rendering differs (a PKCS#12 with a random salt) and
    /// that the other files of the set identify.
    pub compare_bytes: bool,
}

impl std::fmt::Debug for FileSpec {
    // The bytes may be a private key: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSpec")
            .field("name", &self.name)
            .field("len", &self.bytes.len())
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish()
    }
}

/// The mode and owner of the directory itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirSpec {
    /// The permission bits.
    pub mode: u32,
    /// The owner, if not the writer.
    pub uid: Option<u32>,
    /// The group, if not the writer's.
    pub gid: Option<u32>,
}

/// A file-system step that failed: what was being done, where, and why.
#[derive(Debug)]
pub struct AtomicDirError {
    /// What was being done ("write", "swap `..data` in", ...).
    pub doing: &'static str,
    /// The path it was done to.
    pub path: PathBuf,
    /// The system's error.
    pub source: io::Error,
}

impl std::fmt::Display for AtomicDirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.doing,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for AtomicDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn fail<'a>(doing: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AtomicDirError + 'a {
    move |source| AtomicDirError {
        doing,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `dir` is laid out by this module (it has a `..data` link).
pub fn is_atomic_dir(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(DATA_LINK)).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether `dir` shows exactly `files` now (names, bytes, modes, owners)
/// and has the mode and owner `spec` says: nothing to switch.
pub fn shows(dir: &Path, spec: &DirSpec, files: &[FileSpec]) -> bool {
    let Ok(meta) = fs::metadata(dir) else {
        return false;
    };
    if !owned_as(&meta, spec.mode, spec.uid, spec.gid, None) {
        return false;
    }
    let Ok(target) = fs::read_link(dir.join(DATA_LINK)) else {
        return false;
    };
    let data = dir.join(&target);
    let Ok(data_meta) = fs::metadata(&data) else {
        return false;
    };
    let mut names: Vec<OsString> = match fs::read_dir(&data) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect(),
        Err(_) => return false,
    };
    names.sort();
    let mut wanted: Vec<OsString> = files.iter().map(|f| OsString::from(&f.name)).collect();
    wanted.sort();
    if names != wanted {
        return false;
    }
    files.iter().all(|f| {
        let linked =
            fs::read_link(dir.join(&f.name)).is_ok_and(|t| t == Path::new(DATA_LINK).join(&f.name));
        let path = data.join(&f.name);
        linked
            && fs::metadata(&path)
                .is_ok_and(|m| owned_as(&m, f.mode, f.uid, f.gid, Some(&data_meta)))
            && (!f.compare_bytes || read_all(&path).is_ok_and(|bytes| bytes[..] == f.bytes[..]))
    })
}

/// Whether `meta` has `mode` and the owner asked for (the writer's,
/// as `writer` shows it, where `None` is asked).
fn owned_as(
    meta: &fs::Metadata,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    writer: Option<&fs::Metadata>,
) -> bool {
    let uid_ok = match (uid, writer) {
        (Some(uid), _) => meta.uid() == uid,
        (None, Some(w)) => meta.uid() == w.uid(),
        (None, None) => true,
    };
    let gid_ok = match (gid, writer) {
        (Some(gid), _) => meta.gid() == gid,
        (None, Some(w)) => meta.gid() == w.gid(),
        (None, None) => true,
    };
    meta.mode() & 0o7777 == mode && uid_ok && gid_ok
}

fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Makes `dir` show `files`, all at once (see the module documentation);
/// creates `dir` (and its parents, mode 0755) if missing.
pub fn write(dir: &Path, spec: &DirSpec, files: &[FileSpec]) -> Result<(), AtomicDirError> {
    if let Some(parent) = dir.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(fail("create", parent))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail("create", dir)(e)),
    }
    set_owner_and_mode(dir, spec.mode, spec.uid, spec.gid)?;
    let old = fs::read_link(dir.join(DATA_LINK)).ok();
    let (name, data) = new_data_dir(dir)?;
    let written = files
        .iter()
        .try_for_each(|file| write_file(&data.join(&file.name), file));
    if let Err(e) = written {
        // Nothing was switched: what `..data` names stays whole.
        let _ = fs::remove_dir_all(&data);
        return Err(e);
    }
    // Durable before it is named: after a crash of the machine `..data`
    // names whole files, the old set or the new one.
    sync_dir(&data)?;
    // The swap: a new link renamed over the old one.
    let tmp = dir.join(DATA_TMP);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&name, &tmp).map_err(fail("link", &tmp))?;
    fs::rename(&tmp, dir.join(DATA_LINK)).map_err(fail("swap `..data` in", dir))?;
    for file in files {
        link_visible(dir, &file.name)?;
    }
    sync_dir(dir)?;
    // Names the old set had and the new one lacks.
    if let Some(old) = &old
        && let Ok(entries) = fs::read_dir(dir.join(old))
    {
        for entry in entries.flatten() {
            let gone = entry.file_name();
            if !files.iter().any(|f| OsString::from(&f.name) == gone) {
                remove_link(&dir.join(&gone))?;
            }
        }
    }
    let keep = [Some(name), old.map(PathBuf::into_os_string)];
    remove_data_dirs(dir, &keep)
}

/// Removes what [`write`] made in `dir` (visible links, `..data`, the
/// timestamped directories), then `dir` itself if nothing else is left.
pub fn remove(dir: &Path) -> Result<(), AtomicDirError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail("list", dir)(e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Only links into `..data`: anything else in it is not ours.
        if fs::read_link(&path).is_ok_and(|t| t.starts_with(DATA_LINK)) {
            remove_link(&path)?;
        }
    }
    remove_link(&dir.join(DATA_LINK))?;
    remove_link(&dir.join(DATA_TMP))?;
    remove_data_dirs(dir, &[])?;
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail("remove", dir)(e)),
    }
}

/// A new, empty timestamped directory in `dir`: its name and path.
fn new_data_dir(dir: &Path) -> Result<(OsString, PathBuf), AtomicDirError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = time::OffsetDateTime::now_utc();
    loop {
        let name = format!(
            "..{:04}_{:02}_{:02}_{:02}_{:02}_{:02}.{:09}{}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(&name);
        match fs::DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {
                // The umask may have taken bits away.
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .map_err(fail("chmod", &path))?;
                return Ok((name.into(), path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail("create", &path)(e)),
        }
    }
}

/// Writes one new file with its mode and owner set before any byte.
fn write_file(path: &Path, spec: &FileSpec) -> Result<(), AtomicDirError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail("create", path))?;
    if spec.uid.is_some() || spec.gid.is_some() {
        std::os::unix::fs::fchown(&file, spec.uid, spec.gid).map_err(fail("chown", path))?;
    }
    file.set_permissions(fs::Permissions::from_mode(spec.mode))
        .map_err(fail("chmod", path))?;
    file.write_all(&spec.bytes).map_err(fail("write", path))?;
    file.sync_all().map_err(fail("sync", path))?;
    Ok(())
}

/// Makes what a directory names durable (its entries, after a rename).
fn sync_dir(path: &Path) -> Result<(), AtomicDirError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(fail("sync", path))
}

fn set_owner_and_mode(
    path: &Path,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), AtomicDirError> {
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid).map_err(fail("chown", path))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(fail("chmod", path))
}

/// Makes `dir/name` a link to `..data/name` (replacing anything else there).
fn link_visible(dir: &Path, name: &str) -> Result<(), AtomicDirError> {
    let path = dir.join(name);
    let target = Path::new(DATA_LINK).join(name);
    if fs::read_link(&path).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let tmp = dir.join(format!("..link_{name}"));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp).map_err(fail("link", &tmp))?;
    fs::rename(&tmp, &path).map_err(fail("link", &path))
}

fn remove_link(path: &Path) -> Result<(), AtomicDirError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(fail("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Removes the timestamped directories of `dir` but those in `keep`.
fn remove_data_dirs(dir: &Path, keep: &[Option<OsString>]) -> Result<(), AtomicDirError> {
    let entries = fs::read_dir(dir).map_err(fail("list", dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let hidden = name.to_string_lossy().starts_with("..");
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if hidden && is_dir && !keep.iter().flatten().any(|k| *k == name) {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(fail("remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "atomic_dir_tests.rs"]
mod tests;
