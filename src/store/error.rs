//! The store layer's error type: what went wrong, what it is about, and the engine error under it.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::io;

use super::pg_error::PgError;
use super::seal::SealError;

/// What went wrong in the store. Messages and `Debug` never contain key
/// material, passwords or row values.
#[derive(Debug)]
pub enum StoreError {
    /// The named object does not exist.
    NotFound(String),
    /// An object with that name or id already exists.
    Conflict(String),
    /// The object still has children.
    NotEmpty(String),
    /// The store cannot be opened (missing directory, permissions, newer
    /// schema, another application's database, an unreachable server). The
    /// message names the store (a URL without its password) and the cause.
    Unavailable(String),
    /// The engine failed while the store was `doing` something.
    Backend {
        /// What the store was doing, as "cannot ..." words naming the object.
        doing: Cow<'static, str>,
        /// The engine's error.
        source: Cause,
    },
    /// The store failed with no engine error to show: a sealed value is
    /// damaged or in clear, records contradict each other, another
    /// connection held up a checkpoint.
    Failed(String),
}

impl StoreError {
    /// A `Backend` error: the engine's `source` while `doing` something.
    pub fn backend(doing: impl Into<Cow<'static, str>>, source: impl Into<Cause>) -> Self {
        StoreError::Backend {
            doing: doing.into(),
            source: source.into(),
        }
    }
}

/// A stored object, as a `Backend` error names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Object<'a> {
    /// A vault, by name.
    Vault(&'a str),
    /// A certificate: vault and name.
    Certificate(&'a str, &'a str),
    /// A version: id, vault and certificate.
    Version(&'a str, &'a str, &'a str),
    /// A document: vault and key.
    Document(&'a str, &'a str),
}

impl fmt::Display for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Vault(name) => write!(f, "vault {name}"),
            Object::Certificate(vault, name) => write!(f, "certificate {vault}/{name}"),
            Object::Version(id, vault, name) => {
                write!(f, "version {id} of certificate {vault}/{name}")
            }
            Object::Document(vault, key) => write!(f, "document {key} of vault {vault}"),
        }
    }
}

/// The `map_err` of an engine call that failed while doing `what` to
/// `object` ("cannot update" + "certificate prod/web"); the words are made
/// only on failure.
pub(crate) fn failed_on<'a, E: Into<Cause>>(
    what: &'static str,
    object: Object<'a>,
) -> impl Fn(E) -> StoreError + 'a {
    move |e| StoreError::backend(format!("{what} {object}"), e)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(m) => write!(f, "not found: {m}"),
            StoreError::Conflict(m) => write!(f, "already exists: {m}"),
            StoreError::NotEmpty(m) => write!(f, "not empty: {m}"),
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            // The cause's words are part of the message: most callers show
            // one line, and `source()` still hands out the typed cause.
            StoreError::Backend { doing, source } => write!(f, "store failure: {doing}: {source}"),
            StoreError::Failed(m) => write!(f, "store failure: {m}"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Backend { source, .. } => Some(source.as_error()),
            _ => None,
        }
    }
}

/// The engine error under a [`StoreError::Backend`].
#[derive(Debug)]
pub enum Cause {
    /// SQLite's error (its messages name tables and columns, never values).
    Sqlite(rusqlite::Error),
    /// PostgreSQL's error, without the server's `DETAIL` (see [`PgError`]).
    Postgres(PgError),
    /// Sealing or opening a private key or secret document failed.
    Seal(SealError),
    /// The operating system refused (a thread, a file).
    Io(io::Error),
}

impl Cause {
    /// The error itself, as `source()` hands it out.
    fn as_error(&self) -> &(dyn Error + 'static) {
        match self {
            Cause::Sqlite(e) => e,
            Cause::Postgres(e) => e,
            Cause::Seal(e) => e,
            Cause::Io(e) => e,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
    }
}

impl From<rusqlite::Error> for Cause {
    fn from(e: rusqlite::Error) -> Self {
        Cause::Sqlite(e)
    }
}

impl From<postgres::Error> for Cause {
    fn from(e: postgres::Error) -> Self {
        Cause::Postgres(PgError::from(e))
    }
}

impl From<PgError> for Cause {
    fn from(e: PgError) -> Self {
        Cause::Postgres(e)
    }
}

impl From<SealError> for Cause {
    fn from(e: SealError) -> Self {
        Cause::Seal(e)
    }
}

impl From<io::Error> for Cause {
    fn from(e: io::Error) -> Self {
        Cause::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn an_engine_failure_names_what_was_done_and_keeps_the_engines_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("certfs.db");
        let store = SqliteStore::open(&path).expect("a new store");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch("DROP TABLE chain"))
            .expect("drop a table behind the store's back");
        let err = store.load().expect_err("the table is gone");
        let StoreError::Backend { doing, source } = &err else {
            panic!("expected Backend, got {err:?}");
        };
        assert_eq!(doing, "cannot read the store");
        assert!(matches!(source, Cause::Sqlite(_)), "{source:?}");
        let sqlite = err
            .source()
            .and_then(|s| s.downcast_ref::<rusqlite::Error>())
            .expect("SQLite's error as source");
        assert!(
            sqlite.to_string().contains("no such table: chain"),
            "{sqlite}"
        );
        assert_eq!(
            err.to_string(),
            format!("store failure: cannot read the store: {sqlite}")
        );
    }

    #[test]
    fn a_failed_write_names_the_object() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("certfs.db");
        let mut store = SqliteStore::open(&path).expect("a new store");
        store
            .create_vault(&crate::store::VaultRecord {
                name: "prod".into(),
                created: 1,
            })
            .expect("a vault");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch("DROP TABLE documents"))
            .expect("drop a table behind the store's back");
        let err = store
            .put_document("PROD", "contacts", Some("{}"))
            .expect_err("the table is gone");
        let StoreError::Backend { doing, .. } = &err else {
            panic!("expected Backend, got {err:?}");
        };
        assert_eq!(doing, "cannot write document contacts of vault prod");
        assert!(err.source().is_some_and(|s| s.is::<rusqlite::Error>()));
    }

    #[test]
    fn errors_without_an_engine_error_have_no_source() {
        for err in [
            StoreError::NotFound("vault prod".into()),
            StoreError::Unavailable("sqlite:///x: parent directory / is not readable".into()),
            StoreError::Failed("the chain is too long".into()),
        ] {
            assert!(err.source().is_none(), "{err:?}");
        }
        assert_eq!(
            StoreError::Failed("the chain is too long".into()).to_string(),
            "store failure: the chain is too long"
        );
    }

    #[test]
    fn io_and_seal_causes_are_the_source() {
        let err = StoreError::backend(
            "cannot start the watch thread",
            io::Error::from(io::ErrorKind::OutOfMemory),
        );
        assert!(err.source().is_some_and(|s| s.is::<io::Error>()), "{err:?}");
        let err = StoreError::backend("cannot seal the key", SealError::NoRandom);
        assert!(err.source().is_some_and(|s| s.is::<SealError>()), "{err:?}");
        assert_eq!(
            err.to_string(),
            "store failure: cannot seal the key: no random numbers for a nonce"
        );
    }
}
