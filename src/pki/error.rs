//! The PKI layer's error type.

use std::fmt;

/// What went wrong while making, parsing or exporting keys and certificates.
///
/// Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiError {
    /// A subject or other X.500 name could not be parsed; the text says why.
    InvalidName(String),
    /// A key type, size or curve that certfs cannot generate.
    UnsupportedKey(String),
    /// Bytes that should have been a key, certificate or container were not.
    Malformed(String),
    /// The crypto backend failed (key generation, signing, encoding).
    Crypto(String),
    /// The password of a protected container (PKCS#12) is wrong: its
    /// integrity check or decryption failed. The text says which.
    WrongPassword(String),
}

impl PkiError {
    /// The explanation alone, without the kind prefix that `Display` adds
    /// (for nesting one error's reason in another's message).
    pub fn message(&self) -> &str {
        match self {
            PkiError::InvalidName(m)
            | PkiError::UnsupportedKey(m)
            | PkiError::Malformed(m)
            | PkiError::Crypto(m)
            | PkiError::WrongPassword(m) => m,
        }
    }
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::InvalidName(m) => write!(f, "invalid name: {m}"),
            PkiError::UnsupportedKey(m) => write!(f, "unsupported key: {m}"),
            PkiError::Malformed(m) => write!(f, "malformed input: {m}"),
            PkiError::Crypto(m) => write!(f, "crypto failure: {m}"),
            PkiError::WrongPassword(m) => write!(f, "wrong password: {m}"),
        }
    }
}

impl std::error::Error for PkiError {}
