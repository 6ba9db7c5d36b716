//! Opening the SQLite file: checks on the path, file modes, pragmas, and schema migration.

use std::error::Error;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::migrations::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use super::{BUSY_TIMEOUT, MIN_DATABASE_SIZE, SIDE_FILES};

/// Why a SQLite file could not be opened as a store. Names the parent
/// directory where that is the trouble, never the file itself (the caller
/// puts its path in front).
#[derive(Debug)]
pub(super) enum OpenError {
    /// The parent directory cannot be looked at (missing, no permission).
    ParentMissing { dir: PathBuf, source: io::Error },
    /// The parent is something other than a directory.
    ParentNotDirectory(PathBuf),
    /// The parent directory cannot be listed.
    ParentUnreadable { dir: PathBuf, source: io::Error },
    /// A non-empty file smaller than any SQLite database.
    TooSmall(u64),
    /// The file cannot be opened (or created) for reading and writing.
    File(io::Error),
    /// SQLite failed while the store was `doing` something.
    Sqlite {
        doing: &'static str,
        source: rusqlite::Error,
    },
    /// Another application's database, by its `application_id`.
    ForeignApplication(i32),
    /// An unversioned database with tables of its own.
    ForeignTables,
    /// A schema version that is not a `u32`.
    UnknownVersion(i64),
    /// A newer certfs's database.
    Newer(u32),
    /// SQLite was built without foreign key support.
    NoForeignKeys,
    /// Migration `to` failed.
    Migration { to: u32, source: rusqlite::Error },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::ParentMissing { dir, source } => {
                write!(f, "parent directory {}: {source}", dir.display())
            }
            OpenError::ParentNotDirectory(dir) => {
                write!(f, "parent directory {} is not a directory", dir.display())
            }
            OpenError::ParentUnreadable { dir, source } => {
                write!(
                    f,
                    "parent directory {} is not readable: {source}",
                    dir.display()
                )
            }
            OpenError::TooSmall(len) => {
                write!(f, "not a SQLite database (too small: {len} bytes)")
            }
            OpenError::File(e) => write!(f, "cannot open the database file: {e}"),
            OpenError::Sqlite { doing, source } => write!(f, "{doing}: {source}"),
            OpenError::ForeignApplication(id) => {
                write!(
                    f,
                    "not a certfs database (SQLite application_id {id:#010x})"
                )
            }
            OpenError::ForeignTables => f.write_str(
                "not a certfs database (an unversioned SQLite database with tables of its own)",
            ),
            OpenError::UnknownVersion(version) => write!(f, "unknown schema version {version}"),
            OpenError::Newer(version) => write!(
                f,
                "schema version {version} is newer than this certfs supports ({SCHEMA_VERSION})"
            ),
            OpenError::NoForeignKeys => {
                f.write_str("this SQLite build does not enforce foreign keys")
            }
            OpenError::Migration { to, source } => {
                write!(f, "schema migration to version {to} failed: {source}")
            }
        }
    }
}

impl Error for OpenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            OpenError::ParentMissing { source, .. }
            | OpenError::ParentUnreadable { source, .. }
            | OpenError::File(source) => Some(source),
            OpenError::Sqlite { source, .. } | OpenError::Migration { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The `map_err` of a SQLite call that failed while `doing` something.
fn failed(doing: &'static str) -> impl Fn(rusqlite::Error) -> OpenError {
    move |source| OpenError::Sqlite { doing, source }
}

/// Does all of [`SqliteStore::open`]; the error is the cause, without the path.
pub(super) fn open_connection(path: &Path) -> Result<Connection, OpenError> {
    check_parent(path)?;

    // SQLite's unix VFS reports a 1-byte file as empty (an old OS X
    // workaround) and would write its schema over it. No database is
    // smaller than one 512-byte page, so any smaller non-empty file is
    // someone else's: refuse it before SQLite sees it.
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_file() && (1..MIN_DATABASE_SIZE).contains(&meta.len()) {
            return Err(OpenError::TooSmall(meta.len()));
        }
    }

    // Create the file ourselves so that it never exists with a looser mode;
    // this also fails clearly (EACCES, EISDIR) where SQLite would fall back
    // to read-only or say only "unable to open database file".
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(OpenError::File)?;

    // No SQLITE_OPEN_URI: a path starting with "file:" is a path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(failed("cannot open the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(failed("cannot set the busy timeout"))?;

    // Identify the file before writing anything to it: the first read of
    // the header is where a non-database fails ("file is not a database").
    let version = user_version(&conn)?;
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(failed("cannot read the application id"))?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(OpenError::ForeignApplication(application_id));
    }
    if version > SCHEMA_VERSION {
        return Err(OpenError::Newer(version));
    }
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(failed("cannot list the database's tables"))?;
        if objects > 0 {
            return Err(OpenError::ForeignTables);
        }
    }

    // Tighten before WAL mode creates the -wal and -shm files, which
    // SQLite gives the database file's mode.
    make_private(path);

    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(failed("cannot set the journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // E.g. a file system without shared memory support; the rollback
        // journal is as safe, only slower with concurrent readers.
        log::warn!(
            "{}: SQLite refused WAL mode, using journal mode {mode}",
            path.display()
        );
    }
    let setting = failed("cannot set the connection's pragmas");
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&setting)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(&setting)?;
    conn.pragma_update(None, "secure_delete", true)
        .map_err(&setting)?;
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .map_err(&setting)?;
    if !foreign_keys {
        return Err(OpenError::NoForeignKeys);
    }

    if version < SCHEMA_VERSION {
        migrate(&mut conn)?;
    }
    for suffix in SIDE_FILES {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        make_private(Path::new(&side));
    }
    Ok(conn)
}

/// Fails unless `path`'s parent is an existing, readable directory.
fn check_parent(path: &Path) -> Result<(), OpenError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let dir = || parent.to_path_buf();
    match fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(OpenError::ParentNotDirectory(dir())),
        Err(source) => return Err(OpenError::ParentMissing { dir: dir(), source }),
    }
    fs::read_dir(parent).map_err(|source| OpenError::ParentUnreadable { dir: dir(), source })?;
    Ok(())
}

/// Sets `path` to mode 0600 if it exists and grants anything to group or
/// others. A failure (say, the file belongs to someone else) is logged,
/// not fatal: the store still works, and the log says what to fix.
fn make_private(path: &Path) {
    let Ok(meta) = fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o077 == 0 {
        return;
    }
    if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
        log::warn!(
            "{} holds private keys but cannot be made mode 0600: {e}",
            path.display()
        );
    }
}

/// Applies the migrations the database lacks, each in its own immediate
/// transaction that also bumps `user_version`. The version is re-read
/// under the write lock, so two processes opening the same new file at
/// once do not both migrate.
fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("cannot begin the migration"))?;
        let version = user_version(&tx)?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::Newer(version));
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            return tx
                .commit()
                .map_err(failed("cannot commit the schema check"));
        };
        let next = version + 1;
        tx.execute_batch(migration)
            .map_err(|source| OpenError::Migration { to: next, source })?;
        tx.pragma_update(None, "user_version", next)
            .map_err(failed("cannot record the schema version"))?;
        tx.commit()
            .map_err(failed("cannot commit the schema migration"))?;
        log::info!("store schema migrated to version {next}");
    }
}

/// The database's `PRAGMA user_version`. The first read of the file: a
/// file that is not a database fails here ("file is not a database").
fn user_version(conn: &Connection) -> Result<u32, OpenError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(failed("cannot read the schema version"))?;
    u32::try_from(version).map_err(|_| OpenError::UnknownVersion(version))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn temp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("certfs.db");
        (dir, path)
    }

    #[test]
    fn a_garbage_file_keeps_sqlites_error_as_source() {
        let (_dir, path) = temp();
        fs::write(&path, vec![b'x'; 4096]).expect("write");
        let err = open_connection(&path).expect_err("garbage is refused");
        assert!(
            matches!(
                err,
                OpenError::Sqlite {
                    doing: "cannot read the schema version",
                    ..
                }
            ),
            "{err:?}"
        );
        let source = err.source().expect("a source");
        let sqlite = source
            .downcast_ref::<rusqlite::Error>()
            .expect("SQLite's error");
        assert_eq!(
            sqlite.sqlite_error_code(),
            Some(rusqlite::ErrorCode::NotADatabase)
        );
        assert_eq!(
            err.to_string(),
            format!("cannot read the schema version: {sqlite}")
        );
    }

    #[test]
    fn a_directory_as_the_file_keeps_the_io_error_as_source() {
        let (_dir, path) = temp();
        fs::create_dir(&path).expect("mkdir");
        let err = open_connection(&path).expect_err("a directory is refused");
        let io = err
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the I/O error");
        assert_eq!(io.kind(), io::ErrorKind::IsADirectory, "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot open the database file: "),
            "{err}"
        );
    }

    #[test]
    fn a_missing_parent_is_named_and_its_io_error_kept() {
        let (dir, _) = temp();
        let parent = dir.path().join("missing");
        let err = open_connection(&parent.join("certfs.db")).expect_err("refused");
        match &err {
            OpenError::ParentMissing { dir, source } => {
                assert_eq!(dir, &parent);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.source().is_some_and(|s| s.is::<io::Error>()));
        assert!(
            err.to_string().contains(&parent.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn refusals_without_an_engine_error_have_no_source() {
        let (_dir, path) = temp();
        fs::write(&path, b"tiny").expect("write");
        let err = open_connection(&path).expect_err("too small");
        assert!(matches!(err, OpenError::TooSmall(4)), "{err:?}");
        assert!(err.source().is_none());
        assert_eq!(
            err.to_string(),
            "not a SQLite database (too small: 4 bytes)"
        );
    }

    #[test]
    fn a_failed_migration_names_its_version_and_keeps_the_cause() {
        let (_dir, path) = temp();
        let mut conn = open_connection(&path).expect("a new store");
        // Back to version 0 with the tables still there: migration 1 fails
        // on its first CREATE TABLE.
        conn.pragma_update(None, "user_version", 0)
            .expect("set version");
        let err = migrate(&mut conn).expect_err("tables exist");
        assert!(matches!(err, OpenError::Migration { to: 1, .. }), "{err:?}");
        assert!(err.source().is_some_and(|s| s.is::<rusqlite::Error>()));
        assert!(
            err.to_string()
                .contains("schema migration to version 1 failed: "),
            "{err}"
        );
    }
}
