//! The issuer layer's error type.

use std::fmt;

use crate::pki::PkiError;

/// Why an issuer did not issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerError {
    /// The issuer refused the request; the text is the CA's own words.
    Rejected(String),
    /// Making the certificate failed in the PKI layer.
    Pki(PkiError),
}

impl fmt::Display for IssuerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerError::Rejected(m) => write!(f, "the issuer refused: {m}"),
            IssuerError::Pki(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for IssuerError {}

impl From<PkiError> for IssuerError {
    fn from(e: PkiError) -> Self {
        IssuerError::Pki(e)
    }
}
