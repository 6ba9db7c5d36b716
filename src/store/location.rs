//! Where the store is: `--store`'s URL parsed into a typed value (`sqlite:///path` or `postgres://...`) that opens its backend.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::postgres::{PostgresStore, PostgresUrl, UrlError};
use super::sqlite::SqliteStore;
use super::{Store, StoreError};

/// A store's location: a SQLite file or a PostgreSQL database.
///
/// Parsed from `sqlite://PATH` (so `sqlite:///var/lib/certfs/certfs.db`
/// for an absolute path; the path is taken literally, without
/// percent-decoding) or `postgres://` / `postgresql://` URLs in libpq's
/// syntax (see [`PostgresUrl`]). `Display` shows the location without a
/// password, fit for logs and error messages.
#[derive(Clone, Debug)]
pub enum StoreLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

impl StoreLocation {
    /// The default store: `certfs.db` in directory `data`.
    pub fn in_data_dir(data: &Path) -> Self {
        StoreLocation::Sqlite(data.join("certfs.db"))
    }

    /// Opens the store (creating or migrating its schema as needed).
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            StoreLocation::Postgres(url) => Box::new(PostgresStore::open(url)?),
        })
    }
}

/// Why a text is not a [`StoreLocation`]. Never repeats the text: it may
/// hold a password.
#[derive(Debug)]
pub enum LocationError {
    /// `sqlite://` without a path.
    NoPath,
    /// Neither `sqlite://` nor a PostgreSQL URL.
    UnknownScheme,
    /// A PostgreSQL URL that does not parse.
    Postgres(UrlError),
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationError::NoPath => {
                f.write_str("a SQLite store URL names a file: sqlite:///path/certfs.db")
            }
            LocationError::UnknownScheme => f.write_str(
                "unknown store URL: use sqlite:///path/certfs.db or postgres://user@host/database",
            ),
            // The URL error says what is wrong; this one adds nothing.
            LocationError::Postgres(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for LocationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LocationError::Postgres(e) => e.source(),
            _ => None,
        }
    }
}

impl FromStr for StoreLocation {
    type Err = LocationError;

    /// Parses a store URL; errors never repeat the text (it may hold a password).
    fn from_str(text: &str) -> Result<Self, LocationError> {
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(LocationError::NoPath);
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return text
                .parse()
                .map(StoreLocation::Postgres)
                .map_err(LocationError::Postgres);
        }
        Err(LocationError::UnknownScheme)
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreLocation::Postgres(url) => url.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_a_path() {
        let location: StoreLocation = "sqlite:///var/lib/certfs/certfs.db".parse().unwrap();
        match &location {
            StoreLocation::Sqlite(path) => assert_eq!(path, Path::new("/var/lib/certfs/certfs.db")),
            other => panic!("{other:?}"),
        }
        assert_eq!(location.to_string(), "sqlite:///var/lib/certfs/certfs.db");
        assert!("sqlite://".parse::<StoreLocation>().is_err());
    }

    #[test]
    fn postgres_urls_are_shown_without_password() {
        for text in [
            "postgres://certfs:pw-123@db/certfs",
            "postgresql://certfs:pw-123@db/certfs",
        ] {
            let location: StoreLocation = text.parse().unwrap();
            assert!(matches!(location, StoreLocation::Postgres(_)));
            assert_eq!(location.to_string(), "postgres://certfs@db:5432/certfs");
            assert!(!format!("{location:?}").contains("pw-123"));
        }
    }

    #[test]
    fn other_schemes_are_refused_without_echo() {
        for text in ["mysql://u:pw-123@h/d", "/var/lib/certfs.db", "file:///x"] {
            let err = text.parse::<StoreLocation>().unwrap_err().to_string();
            assert!(
                err.contains("sqlite://") && !err.contains("pw-123"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_bad_postgres_url_keeps_the_crate_error_as_source() {
        let err = "postgres://u:pw-123@h/d?port=notanumber"
            .parse::<StoreLocation>()
            .unwrap_err();
        assert!(
            matches!(err, LocationError::Postgres(UrlError::Invalid(_))),
            "{err:?}"
        );
        let source = std::error::Error::source(&err).expect("a source");
        assert!(source.is::<super::super::postgres::PgError>(), "{source:?}");
        let shown = format!("{err} {err:?} {source} {source:?}");
        assert!(!shown.contains("pw-123"), "{shown}");
        assert!(shown.contains("port"), "names the option: {shown}");
    }
}
