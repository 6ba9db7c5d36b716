//! Reaching PostgreSQL: the connection URL (parsed, shown without its password), the plain-text transport, schema migration.
//!
//! **TLS is off.** Connections use the `postgres` crate's `NoTls`: the
//! default `sslmode=prefer` quietly runs without TLS, `sslmode=disable`
//! too, and `sslmode=require` is refused with a clear message rather than
//! failing mid-handshake. Traffic (including private keys, as stored) is
//! therefore in clear on the wire: connect over the server's unix socket,
//! over loopback, or over a network you trust (a private VLAN, WireGuard,
//! an SSH tunnel). TLS support is a transport choice added here later
//! (`postgres-openssl` or `postgres-native-tls`), nothing else changes.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

use super::PgError;
use super::migrations::{MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION, TABLES, VERSION_TABLE};

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
}

impl PostgresUrl {
    /// The connection settings, with certfs's defaults filled in.
    pub(super) fn config(&self) -> &Config {
        &self.config
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
    /// `sslmode` asks for TLS, which certfs does not speak to PostgreSQL.
    Tls,
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
            UrlError::Tls => f.write_str(
                "sslmode=require asks for TLS, which certfs does not speak to PostgreSQL yet: \
                 connect over a unix socket, loopback or a trusted network, with sslmode=disable \
                 or prefer",
            ),
        }
    }
}

impl Error for UrlError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            UrlError::Invalid(e) => Some(e),
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
        // The crate's messages name the offending option, never a value.
        let mut config = Config::from_str(text).map_err(|e| UrlError::Invalid(e.into()))?;
        if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
            return Err(UrlError::Tls);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("certfs");
        }
        Ok(PostgresUrl {
            config: Box::new(config),
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

/// Opens one connection (no TLS, see the module docs).
pub(super) fn connect(url: &PostgresUrl) -> Result<Client, PgError> {
    Ok(url.config().connect(NoTls)?)
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
    fn tls_required_is_refused_and_other_schemes_too() {
        let err = "postgres://u@h/d?sslmode=require"
            .parse::<PostgresUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS"), "{err}");
        assert!(
            "postgres://u@h/d?sslmode=disable"
                .parse::<PostgresUrl>()
                .is_ok()
        );
        assert!("mysql://u@h/d".parse::<PostgresUrl>().is_err());
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
