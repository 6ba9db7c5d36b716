//! Certificate issuers: [`Issuer`]s sign at once; [`CertificateAuthority`]s take orders that complete later.
//!
//! The vault service picks an issuer by the policy's `issuer.name` and
//! calls it outside every lock, so a slow issuer never stalls file
//! operations.
//!
//! - `Self` ([`self_signed::SelfSigned`]) and `Internal` (a private CA kept in
//!   the vault) are [`Issuer`]s: the version is completed before `close`
//!   returns.
//! - DigiCert, GlobalSign and ACME are [`CertificateAuthority`]s: the vault's
//!   background worker submits the CSR, polls the order and completes or
//!   fails the version; no FUSE thread ever waits on the network.
//! - `Unknown` is no issuer at all: the user gets the CSR signed and merges.

pub mod acme;
pub mod digicert;
pub mod error;
pub mod globalsign;
pub mod http;
pub mod internal;
pub mod self_signed;

pub use error::IssuerError;

use std::fmt;

use crate::pki::key::PrivateKey;
use crate::pki::x509::CertificateSpec;

/// What to issue.
#[derive(Debug)]
pub struct IssueRequest<'a> {
    /// The certificate's name in its vault (for CA order names and logs).
    pub certificate_name: &'a str,
    /// Subject, SANs, key usage and validity.
    pub spec: &'a CertificateSpec,
    /// The key the certificate certifies (and, for `Self`, signs with).
    pub key: &'a PrivateKey,
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The leaf certificate, DER.
    pub leaf: Vec<u8>,
    /// The chain above the leaf, DER, the leaf's issuer first (empty when self-signed).
    pub chain: Vec<Vec<u8>>,
}

/// A certificate authority that signs at once.
pub trait Issuer: Send + Sync {
    /// The issuer's name as a policy names it (`Self`, or the name of an issuer file).
    fn name(&self) -> &str;

    /// Issues a certificate for `request`. May block (key generation, network):
    /// the caller must hold no lock that file operations need.
    fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, IssuerError>;
}

/// One order at a [`CertificateAuthority`]: everything the CA is told about
/// the certificate. The same order is passed to every call about it, so a
/// provider that needs the CSR late (ACME finalizes with it) has it.
#[derive(Debug, Clone)]
pub struct Order<'a> {
    /// The certificate's name in its vault (order comments, logs).
    pub certificate_name: &'a str,
    /// The PKCS#10 CSR, DER.
    pub csr_der: &'a [u8],
    /// Subject, SANs and validity, as the policy says.
    pub spec: &'a CertificateSpec,
    /// The policy's `issuer.cty`: the CA's product (`OV-SSL`, `EV-SSL`), if given.
    pub certificate_type: Option<&'a str>,
}

/// Where an order stands at the CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The CA has the order and has not issued yet.
    Pending {
        /// The CA's order id (`request_id` of `operation.json`).
        request_id: String,
        /// The CA's status, in words (`status_details` of `operation.json`).
        details: String,
    },
    /// The CA issued the certificate.
    Issued {
        /// The CA's order id.
        request_id: String,
        /// The certificate and its chain.
        issued: Issued,
    },
}

/// Why a call to a CA did not move the order on.
#[derive(Clone, PartialEq, Eq)]
pub enum CaError {
    /// The CA refused for good (bad CSR, denied, cancelled at the CA,
    /// wrong credentials): the operation fails with the CA's own words.
    Rejected {
        /// The CA's error code.
        code: String,
        /// The CA's message.
        message: String,
    },
    /// The CA could not be reached or asked us to slow down (connection
    /// refused, timeout, HTTP 429 or 5xx): the worker retries with backoff.
    Unavailable(String),
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaError::Rejected { code, message } => write!(f, "the CA refused ({code}): {message}"),
            CaError::Unavailable(m) => write!(f, "the CA is unavailable: {m}"),
        }
    }
}

impl fmt::Debug for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for CaError {}

/// A CA that takes orders and issues later (DigiCert, GlobalSign, ACME).
///
/// Every call may block on the network for up to the provider's timeout;
/// only the vault's background worker calls these, never a FUSE thread.
/// Calls must be idempotent enough to be retried after
/// [`CaError::Unavailable`].
pub trait CertificateAuthority: Send + Sync {
    /// The provider's name as issuer files spell it (`DigiCert`).
    fn provider(&self) -> &'static str;

    /// Places `order`. Returns the CA's order id, and the certificate when
    /// the CA issues at once.
    fn submit(&self, order: &Order<'_>) -> Result<Progress, CaError>;

    /// Asks where order `request_id` stands (and, for ACME, moves it on:
    /// answers challenges, finalizes, downloads).
    fn poll(&self, order: &Order<'_>, request_id: &str) -> Result<Progress, CaError>;

    /// Asks the CA to cancel order `request_id`, where its API can.
    fn cancel(&self, order: &Order<'_>, request_id: &str) -> Result<(), CaError>;

    /// Revokes the certificate `leaf` (DER) that this CA issued, with RFC
    /// 5280 reason code `reason`. A provider whose API cannot revoke
    /// refuses (the default).
    fn revoke(&self, leaf: &[u8], reason: u8) -> Result<(), CaError> {
        let _ = (leaf, reason);
        Err(CaError::Rejected {
            code: "NotSupported".into(),
            message: format!(
                "certfs cannot revoke through {}'s API; revoke the certificate with the CA itself",
                self.provider()
            ),
        })
    }
}

/// Small private state a provider keeps between calls and restarts (an
/// ACME account, an Internal CA's key and certificate), stored by the
/// vault beside the issuer's file. The value may hold secrets: it is never
/// shown in the mount.
pub trait IssuerMemory: Send + Sync {
    /// The stored value, if any.
    fn load(&self) -> Option<String>;
    /// Replaces the value. It cannot fail: the vault keeps what is saved
    /// and writes it to its store in the transaction that records what the
    /// call did (a refused write there refuses that whole step).
    fn save(&self, value: &str);
}

#[cfg(test)]
#[path = "revoke_tests.rs"]
mod revoke_tests;
