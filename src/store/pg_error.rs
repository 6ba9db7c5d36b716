//! PostgreSQL's errors as the store keeps them: the server's message and SQLSTATE, never its `DETAIL`.

use std::error::Error;
use std::fmt;

use postgres::error::SqlState;

/// A PostgreSQL error without data. For an error the server sent, its
/// message and SQLSTATE: its `DETAIL` (and so the `postgres::Error`, whose
/// `Display` and `Debug` show it) may quote a row's values, such as a key,
/// and is dropped. Any other error (I/O, a closed connection, a bad
/// setting, which the crate names without its value) is kept whole.
pub struct PgError(Inner);

enum Inner {
    Server {
        code: SqlState,
        message: String,
    },
    Client(postgres::Error),
    /// The TLS settings could not be used (a file missing or refused).
    Tls(super::postgres::tls::TlsError),
}

impl PgError {
    /// The SQLSTATE of an error the server sent.
    pub fn code(&self) -> Option<&SqlState> {
        match &self.0 {
            Inner::Server { code, .. } => Some(code),
            Inner::Client(_) | Inner::Tls(_) => None,
        }
    }
}

impl From<super::postgres::tls::TlsError> for PgError {
    fn from(e: super::postgres::tls::TlsError) -> Self {
        PgError(Inner::Tls(e))
    }
}

impl PgError {
    /// Whether the error means the connection is gone or could not be
    /// made (the server is down or restarting, the network failed): the
    /// store is unavailable, and a later call may succeed. A server's
    /// refusal of a statement is not.
    pub fn is_connection_lost(&self) -> bool {
        match &self.0 {
            // Class 08: connection exception; 57P01..57P03: the server is
            // shutting down, crashed, or not accepting connections yet.
            Inner::Server { code, .. } => {
                code.code().starts_with("08") || matches!(code.code(), "57P01" | "57P02" | "57P03")
            }
            Inner::Client(e) => {
                e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>())
            }
            Inner::Tls(_) => false,
        }
    }
}

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> Self {
        PgError(match e.as_db_error() {
            Some(db) => Inner::Server {
                code: db.code().clone(),
                message: db.message().to_owned(),
            },
            None => Inner::Client(e),
        })
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Server { code, message } => write!(f, "{message} (SQLSTATE {})", code.code()),
            Inner::Client(e) => {
                // The crate's own words are terse ("error connecting to
                // server"): the reason is in its source.
                write!(f, "{e}")?;
                if let Some(source) = e.source() {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            Inner::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Debug for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Server { code, message } => f
                .debug_struct("PgError")
                .field("code", &code.code())
                .field("message", message)
                .finish(),
            Inner::Client(e) => f.debug_tuple("PgError").field(e).finish(),
            Inner::Tls(e) => f.debug_tuple("PgError").field(e).finish(),
        }
    }
}

impl Error for PgError {
    /// The client's error, for one the server did not send; none for a
    /// server's error, whose words are all in this one's message.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.0 {
            Inner::Server { .. } => None,
            Inner::Client(e) => Some(e),
            Inner::Tls(e) => Some(e),
        }
    }
}
