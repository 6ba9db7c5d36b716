//! Opening the SQLite file: checks on the path, file modes, pragmas, and schema migration.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::migrations::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use super::{BUSY_TIMEOUT, MIN_DATABASE_SIZE, SIDE_FILES};

/// Does all of [`SqliteStore::open`]; the error is the cause, without the path.
pub(super) fn open_connection(path: &Path) -> Result<Connection, String> {
    check_parent(path)?;

    // SQLite's unix VFS reports a 1-byte file as empty (an old OS X
    // workaround) and would write its schema over it. No database is
    // smaller than one 512-byte page, so any smaller non-empty file is
    // someone else's: refuse it before SQLite sees it.
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_file() && (1..MIN_DATABASE_SIZE).contains(&meta.len()) {
            return Err(format!(
                "not a SQLite database (too small: {} bytes)",
                meta.len()
            ));
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
        .map_err(|e| format!("cannot open the database file: {e}"))?;

    // No SQLITE_OPEN_URI: a path starting with "file:" is a path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(cause)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(cause)?;

    // Identify the file before writing anything to it: the first read of
    // the header is where a non-database fails ("file is not a database").
    let version = user_version(&conn)?;
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(cause)?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(format!(
            "not a certfs database (SQLite application_id {application_id:#010x})"
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(newer(version));
    }
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(cause)?;
        if objects > 0 {
            return Err(
                "not a certfs database (an unversioned SQLite database with tables of its own)"
                    .into(),
            );
        }
    }

    // Tighten before WAL mode creates the -wal and -shm files, which
    // SQLite gives the database file's mode.
    make_private(path);

    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(cause)?;
    if !mode.eq_ignore_ascii_case("wal") {
        // E.g. a file system without shared memory support; the rollback
        // journal is as safe, only slower with concurrent readers.
        log::warn!(
            "{}: SQLite refused WAL mode, using journal mode {mode}",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(cause)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(cause)?;
    conn.pragma_update(None, "secure_delete", true)
        .map_err(cause)?;
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .map_err(cause)?;
    if !foreign_keys {
        return Err("this SQLite build does not enforce foreign keys".into());
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
fn check_parent(path: &Path) -> Result<(), String> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let what = || format!("parent directory {}", parent.display());
    match fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", what())),
        Err(e) => return Err(format!("{}: {e}", what())),
    }
    fs::read_dir(parent).map_err(|e| format!("{} is not readable: {e}", what()))?;
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
fn migrate(conn: &mut Connection) -> Result<(), String> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(cause)?;
        let version = user_version(&tx)?;
        if version > SCHEMA_VERSION {
            return Err(newer(version));
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            return tx.commit().map_err(cause);
        };
        let next = version + 1;
        tx.execute_batch(migration)
            .map_err(|e| format!("schema migration to version {next} failed: {e}"))?;
        tx.pragma_update(None, "user_version", next)
            .map_err(cause)?;
        tx.commit().map_err(cause)?;
        log::info!("store schema migrated to version {next}");
    }
}

/// The database's `PRAGMA user_version`.
fn user_version(conn: &Connection) -> Result<u32, String> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(cause)?;
    u32::try_from(version).map_err(|_| format!("unknown schema version {version}"))
}

/// The message for a database from a newer certfs.
fn newer(version: u32) -> String {
    format!("schema version {version} is newer than this certfs supports ({SCHEMA_VERSION})")
}

/// Describes an engine error met while opening.
fn cause(e: rusqlite::Error) -> String {
    e.to_string()
}
