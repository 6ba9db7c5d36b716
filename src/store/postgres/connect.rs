//! Reaching PostgreSQL: the connection URL (parsed, shown without its password), the transport (TLS as the URL's libpq parameters say), schema migration.
//!
//! The `postgres` crate parses libpq's URL syntax but knows only
//! `sslmode=disable|prefer|require` and no certificate files: the TLS
//! parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) are taken
//! out of the URL first and kept as [`TlsSettings`] (see [`super::tls`]),
//! and the crate gets the rest.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode as PgSslMode};
use postgres::{Client, Config, NoTls};

use super::PgError;
use super::migrations::{MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION, TABLES, VERSION_TABLE};
use super::tls::{SslMode, TlsError, TlsSettings};

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed `postgres://` (or `postgresql://`) URL, libpq's syntax: user,
/// password, hosts (a host starting with `/`, percent-encoded in the URL's
/// host part or given as `?host=/run/postgresql`, is a unix socket
/// directory), ports, database and parameters such as `connect_timeout`
/// and `application_name`.
///
/// `Display` and `Debug` never show the password: they rebuild a URL from
/// the parsed user, hosts, ports and database only.
#[derive(Clone)]
pub struct PostgresUrl {
    config: Box<Config>,
    tls: TlsSettings,
}

impl PostgresUrl {
    /// The connection settings, with certfs's defaults filled in.
    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    /// The TLS parameters.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }
}

/// Why a text is not a [`PostgresUrl`]. Never repeats the text: it may
/// hold a password.
#[derive(Debug)]
pub enum UrlError {
    /// It does not start with `postgres://` or `postgresql://`.
    Scheme,
    /// A second `@` before the database: an unencoded `@` in the password.
    SecondAt,
    /// The `postgres` crate refused it (its message names the option, never a value).
    Invalid(PgError),
    /// A TLS parameter is refused.
    Tls(TlsError),
    /// A parameter is not valid percent-encoded UTF-8.
    Encoding,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Scheme => {
                f.write_str("a PostgreSQL URL starts with postgres:// or postgresql://")
            }
            UrlError::SecondAt => f.write_str(
                "the URL has a second '@' before its database: write an '@' in a \
                 user name or password as %40",
            ),
            UrlError::Invalid(e) => write!(f, "not a valid PostgreSQL URL: {e}"),
            UrlError::Tls(e) => write!(f, "not a valid PostgreSQL URL: {e}"),
            UrlError::Encoding => {
                f.write_str("not a valid PostgreSQL URL: a parameter is not valid percent-encoding")
            }
        }
    }
}

impl Error for UrlError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            UrlError::Invalid(e) => Some(e),
            UrlError::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl FromStr for PostgresUrl {
    type Err = UrlError;

    /// Parses `text`; errors describe the problem without repeating the URL.
    fn from_str(text: &str) -> Result<Self, UrlError> {
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(UrlError::Scheme);
        }
        // The crate ends the user and password at the first '@': a second
        // one before the host means an unencoded '@' in the password, and
        // the password's tail would be taken (and shown) as the host.
        let after_scheme = &text[text.find("://").map_or(0, |i| i + 3)..];
        if let Some((_, rest)) = after_scheme.split_once('@') {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            if host.contains('@') {
                return Err(UrlError::SecondAt);
            }
        }
        let (rest, tls) = take_tls_parameters(text)?;
        // The crate's messages name the offending option, never a value.
        let mut config = Config::from_str(&rest).map_err(|e| UrlError::Invalid(e.into()))?;
        let unix_only = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| matches!(h, Host::Unix(_)));
        config.ssl_mode(match tls.mode {
            // libpq ignores sslmode over a unix socket.
            _ if unix_only => PgSslMode::Disable,
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("certfs");
        }
        Ok(PostgresUrl {
            config: Box::new(config),
            tls,
        })
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.write_str("postgres://")?;
        if let Some(user) = c.get_user() {
            write!(f, "{}@", encode(user))?;
        }
        let ports = c.get_ports();
        for (i, host) in c.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) if name.contains(':') => write!(f, "[{name}]")?,
                Host::Tcp(name) => f.write_str(name)?,
                Host::Unix(path) => f.write_str(&encode(&path.to_string_lossy()))?,
            }
            // One port for all hosts, or one per host.
            let port = if ports.len() == 1 {
                ports.first()
            } else {
                ports.get(i)
            };
            if let Some(port) = port {
                write!(f, ":{port}")?;
            }
        }
        if c.get_hosts().is_empty() {
            if let Some(port) = ports.first() {
                write!(f, ":{port}")?;
            }
        }
        if let Some(db) = c.get_dbname() {
            write!(f, "/{}", encode(db))?;
        }
        if self.tls.explicit && self.tls.mode != SslMode::Prefer {
            write!(f, "?sslmode={}", self.tls.mode.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// Percent-encodes what would break a URL's structure (`/`, `@`, `:`, ...).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Takes libpq's TLS parameters out of the query of URL `text`: the URL
/// without them, and the settings they make.
fn take_tls_parameters(text: &str) -> Result<(String, TlsSettings), UrlError> {
    let mut tls = TlsSettings::default();
    let Some((base, query)) = text.split_once('?') else {
        return Ok((text.to_owned(), tls));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key)?, decode(value)?);
        if !tls.take(&key, &value).map_err(UrlError::Tls)? {
            kept.push(pair);
        }
    }
    tls.finish().map_err(UrlError::Tls)?;
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, tls))
}

/// Percent-decodes a URL parameter.
fn decode(text: &str) -> Result<String, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or(UrlError::Encoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError::Encoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Encoding)
}

/// Opens one connection, with TLS as the URL says.
pub(super) fn connect(url: &PostgresUrl) -> Result<Client, PgError> {
    if url.config().get_ssl_mode() == PgSslMode::Disable {
        return Ok(url.config().connect(NoTls)?);
    }
    let tls = url.tls().connector()?;
    Ok(url.config().connect(tls)?)
}

/// The backend process id of `client`'s session (notifications name it).
pub(super) fn backend_pid(client: &mut Client) -> Result<i32, PgError> {
    Ok(client.query_one("SELECT pg_backend_pid()", &[])?.get(0))
}

/// Why a database could not be brought to [`SCHEMA_VERSION`].
#[derive(Debug)]
pub(super) enum MigrateError {
    /// A statement failed while `doing` something.
    Engine {
        doing: &'static str,
        source: PgError,
    },
    /// Another application's database: it has a table of certfs's names.
    Foreign { table: &'static str },
    /// The version row holds a negative number.
    UnknownVersion(i32),
    /// A newer certfs's database.
    Newer(u32),
    /// Migration `to` failed.
    Migration { to: u32, source: PgError },
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::Engine { doing, source } => write!(f, "{doing}: {source}"),
            MigrateError::Foreign { table } => write!(
                f,
                "not a certfs database (it has a table {table} but no certfs_schema)"
            ),
            MigrateError::UnknownVersion(version) => write!(f, "unknown schema version {version}"),
            MigrateError::Newer(version) => write!(
                f,
                "schema version {version} is newer than this certfs supports ({SCHEMA_VERSION})"
            ),
            MigrateError::Migration { to, source } => {
                write!(f, "schema migration to version {to} failed: {source}")
            }
        }
    }
}

impl Error for MigrateError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            MigrateError::Engine { source, .. } | MigrateError::Migration { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// The `map_err` of a statement that failed while `doing` something.
fn failed(doing: &'static str) -> impl Fn(postgres::Error) -> MigrateError {
    move |e| MigrateError::Engine {
        doing,
        source: e.into(),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`]: creates the version table on
/// a new database, then applies the missing migrations, each in its own
/// transaction with the version bump, under an advisory lock so that
/// daemons starting together migrate once. Refuses a database from a newer
/// certfs, and one that has tables of certfs's names but no version table
/// (another application's).
pub(super) fn migrate(client: &mut Client) -> Result<(), MigrateError> {
    loop {
        let mut tx = client
            .transaction()
            .map_err(failed("cannot begin the migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(failed("cannot take the migration lock"))?;
        let versioned: bool = tx
            .query_one("SELECT to_regclass('certfs_schema') IS NOT NULL", &[])
            .map_err(failed("cannot look for the schema version table"))?
            .get(0);
        if !versioned {
            for &table in TABLES {
                let taken: bool = tx
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                    .map_err(failed("cannot look for certfs's tables"))?
                    .get(0);
                if taken {
                    return Err(MigrateError::Foreign { table });
                }
            }
            tx.batch_execute(VERSION_TABLE)
                .map_err(failed("cannot create the schema version table"))?;
        }
        let version: i32 = tx
            .query_one("SELECT version FROM certfs_schema", &[])
            .map_err(failed("cannot read the schema version"))?
            .get(0);
        let version = u32::try_from(version).map_err(|_| MigrateError::UnknownVersion(version))?;
        if version > SCHEMA_VERSION {
            return Err(MigrateError::Newer(version));
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            return tx
                .commit()
                .map_err(failed("cannot commit the schema check"));
        };
        let next = version + 1;
        tx.batch_execute(migration)
            .map_err(|e| MigrateError::Migration {
                to: next,
                source: e.into(),
            })?;
        const { assert!(SCHEMA_VERSION <= i32::MAX as u32) };
        // `next` is at most SCHEMA_VERSION, which an i32 holds (above).
        let stored = i32::try_from(next).unwrap_or(i32::MAX);
        tx.execute("UPDATE certfs_schema SET version = $1", &[&stored])
            .map_err(failed("cannot record the schema version"))?;
        tx.commit()
            .map_err(failed("cannot commit the schema migration"))?;
        log::info!("store schema migrated to version {next}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        url.parse::<PostgresUrl>().expect("parses").to_string()
    }

    #[test]
    fn display_drops_the_password() {
        let url: PostgresUrl = "postgres://certfs:s3cret@db.example:5433/vaults"
            .parse()
            .unwrap();
        assert!(url.has_password());
        assert_eq!(url.to_string(), "postgres://certfs@db.example:5433/vaults");
        assert!(!format!("{url:?}").contains("s3cret"));
        let query = shown("postgres://certfs@db.example/vaults?password=s3cret&connect_timeout=3");
        assert_eq!(query, "postgres://certfs@db.example:5432/vaults");
    }

    #[test]
    fn unix_socket_hosts_are_shown_encoded() {
        assert_eq!(
            shown("postgres://me@%2Frun%2Fpostgresql/db"),
            "postgres://me@%2Frun%2Fpostgresql:5432/db"
        );
        assert_eq!(
            shown("postgresql:///db?host=/tmp/s&port=5999&user=me"),
            "postgres://me@%2Ftmp%2Fs:5999/db"
        );
    }

    #[test]
    fn several_hosts_and_ipv6() {
        assert_eq!(shown("postgres://u@a:1,b:2/d"), "postgres://u@a:1,b:2/d");
        assert_eq!(
            shown("postgres://u@[::1]:5432/d"),
            "postgres://u@[::1]:5432/d"
        );
    }

    #[test]
    fn tls_parameters_are_taken_and_other_schemes_refused() {
        let url: PostgresUrl =
            "postgres://u@db.example/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3"
                .parse()
                .unwrap();
        assert_eq!(url.tls().mode, SslMode::VerifyFull);
        assert_eq!(
            url.tls().root,
            Some(super::super::tls::RootCerts::File("/etc/ca.pem".into()))
        );
        assert_eq!(url.config().get_ssl_mode(), PgSslMode::Require);
        assert_eq!(
            url.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(
            url.to_string(),
            "postgres://u@db.example:5432/d?sslmode=verify-full"
        );
        let plain: PostgresUrl = "postgres://u@h/d?sslmode=disable".parse().unwrap();
        assert_eq!(plain.config().get_ssl_mode(), PgSslMode::Disable);
        let default: PostgresUrl = "postgres://u@h/d".parse().unwrap();
        assert_eq!(default.tls().mode, SslMode::Prefer);
        assert_eq!(default.config().get_ssl_mode(), PgSslMode::Prefer);
        let err = "postgres://u@h/d?sslmode=allow"
            .parse::<PostgresUrl>()
            .unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
        assert!("mysql://u@h/d".parse::<PostgresUrl>().is_err());
    }

    #[test]
    fn a_unix_socket_runs_without_tls_whatever_the_mode() {
        let url: PostgresUrl = "postgres://u@%2Frun%2Fpostgresql/d?sslmode=verify-full"
            .parse()
            .unwrap();
        assert_eq!(url.config().get_ssl_mode(), PgSslMode::Disable);
    }

    #[test]
    fn an_unencoded_at_in_the_password_is_refused_unshown() {
        let err = "postgres://u:p@ss-word@db/d"
            .parse::<PostgresUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("%40") && !err.contains("ss-word"), "{err}");
        let url: PostgresUrl = "postgres://u:p%40ss-word@db/d".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://u@db:5432/d");
        // An '@' after the host belongs to the parameters.
        assert!(
            "postgres://u@db/d?application_name=a@b"
                .parse::<PostgresUrl>()
                .is_ok()
        );
    }

    #[test]
    fn parse_errors_do_not_repeat_the_password() {
        let err = "postgres://u:hunter2@h/d?port=notanumber"
            .parse::<PostgresUrl>()
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(matches!(err, UrlError::Invalid(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    }
}
