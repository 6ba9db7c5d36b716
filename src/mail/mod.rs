//! E-mail to certificate contacts: the [`Mailer`] trait, a [`Mail`], [`MailError`], and where the parts live.
//!
//! The vault tells its contacts about expiring certificates and renewals
//! that need them (SPEC §7). It hands a [`Mail`] to a [`Mailer`]; the one
//! real mailer is [`SmtpMailer`], built at mount from a [`MailConfig`]
//! (`--smtp` and friends). The texts come from [`message`], as plain
//! functions of plain values. This layer knows nothing of vaults, files or
//! FUSE.

pub mod config;
pub mod message;
pub mod smtp;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use config::{MailConfig, MailOptions, Security, SmtpServer};
pub use message::{delivery_failed_notice, expiry_notice, renewal_needed_notice};
pub use smtp::SmtpMailer;

/// One plain-text (UTF-8) message to one or more recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipients' addresses (`ops@contoso.com` or `Ops <ops@contoso.com>`).
    pub to: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The text of the message.
    pub body: String,
}

impl Mail {
    /// A mail to `to` with a `(subject, body)` pair such as
    /// [`expiry_notice`] returns.
    pub fn new(to: Vec<String>, (subject, body): (String, String)) -> Mail {
        Mail { to, subject, body }
    }
}

/// Sends mail. Shared between threads behind an `Arc<dyn Mailer>`.
pub trait Mailer: Send + Sync {
    /// Sends `mail` to all its recipients, or says why not. Blocks for at
    /// most the configured timeout per step of the conversation.
    fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Why mail was not sent, or why the mail settings are unusable. Never
/// holds a password.
#[derive(Debug)]
pub enum MailError {
    /// The mail settings given at mount are unusable (a bad `--smtp` URL,
    /// an unreadable password file, a bad sender address).
    Config(String),
    /// A file the mail settings name cannot be read: `what` it is (the
    /// SMTP password file, the SMTP CA file), its path and the OS's error.
    File {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// An address of the message is not an e-mail address; nothing was sent.
    Address(String),
    /// The server answered with a refusal; `message` is its own words.
    /// 4xx codes are temporary (try again later), 5xx permanent.
    Refused {
        /// The SMTP reply code (`550`, `451`, `535`, ...).
        code: u16,
        /// The server's text.
        message: String,
    },
    /// No conversation or a broken one: the server cannot be reached, did
    /// not answer in time, the TLS handshake or STARTTLS failed, or the
    /// connection dropped. Worth trying again later.
    Unavailable(String),
}

impl MailError {
    /// Whether trying again later may succeed (no answer, or a 4xx reply).
    pub fn is_temporary(&self) -> bool {
        match self {
            MailError::Unavailable(_) => true,
            MailError::Refused { code, .. } => (400..500).contains(code),
            MailError::Config(_) | MailError::File { .. } | MailError::Address(_) => false,
        }
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Config(m) => f.write_str(m),
            MailError::File { what, path, source } => {
                write!(f, "cannot read the {what} {}: {source}", path.display())
            }
            MailError::Address(m) => write!(f, "bad e-mail address: {m}"),
            MailError::Refused { code, message } => {
                write!(f, "the SMTP server refused ({code}): {message}")
            }
            MailError::Unavailable(m) => write!(f, "the SMTP server is unavailable: {m}"),
        }
    }
}

impl std::error::Error for MailError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MailError::File { source, .. } => Some(source),
            _ => None,
        }
    }
}
