//! Certificate issuers behind one trait: given a key and what the certificate should say, produce the certificate.
//!
//! The vault service picks an issuer by the policy's `issuer.name` and
//! calls it outside every lock, so a slow issuer never stalls file
//! operations. `Self` ([`self_signed::SelfSigned`]) is built in; the CSR
//! flow (`Unknown`) and the CAs of `issuers/` (DigiCert, GlobalSign, ACME,
//! Internal) implement this trait in their own modules.

pub mod error;
pub mod self_signed;

pub use error::IssuerError;

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

/// A certificate authority certfs can ask for a certificate.
pub trait Issuer: Send + Sync {
    /// The issuer's name as a policy names it (`Self`, or the name of an issuer file).
    fn name(&self) -> &str;

    /// Issues a certificate for `request`. May block (key generation, network):
    /// the caller must hold no lock that file operations need.
    fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, IssuerError>;
}
