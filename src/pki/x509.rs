//! X.509 certificates: building self-signed ones from a [`CertificateSpec`] and reading facts from DER.

use std::net::IpAddr;

use super::PkiError;
use super::dn::DistinguishedName;
use super::key::PrivateKey;

/// Key usage bits, named as Key Vault names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// digitalSignature
    DigitalSignature,
    /// nonRepudiation
    NonRepudiation,
    /// keyEncipherment
    KeyEncipherment,
    /// dataEncipherment
    DataEncipherment,
    /// keyAgreement
    KeyAgreement,
    /// keyCertSign
    KeyCertSign,
    /// cRLSign
    CrlSign,
    /// encipherOnly
    EncipherOnly,
    /// decipherOnly
    DecipherOnly,
}

/// Subject alternative names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    /// dNSName entries
    pub dns_names: Vec<String>,
    /// rfc822Name entries
    pub emails: Vec<String>,
    /// Microsoft UPN otherName entries (OID 1.3.6.1.4.1.311.20.2.3, UTF8String)
    pub upns: Vec<String>,
    /// iPAddress entries
    pub ip_addresses: Vec<IpAddr>,
    /// uniformResourceIdentifier entries
    pub uris: Vec<String>,
}

impl SubjectAltNames {
    /// True when there is no name of any kind.
    pub fn is_empty(&self) -> bool {
        self.dns_names.is_empty()
            && self.emails.is_empty()
            && self.upns.is_empty()
            && self.ip_addresses.is_empty()
            && self.uris.is_empty()
    }
}

/// What a certificate (or CSR) should say.
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    /// The subject; may be empty when SANs are given.
    pub subject: DistinguishedName,
    /// Subject alternative names.
    pub sans: SubjectAltNames,
    /// Key usage bits (critical extension when non-empty).
    pub key_usage: Vec<KeyUsage>,
    /// Extended key usage OIDs, dotted (`1.3.6.1.5.5.7.3.1`).
    pub extended_key_usage: Vec<String>,
    /// Validity from now, in months (not before = now − 5 minutes for clock skew).
    pub validity_months: u32,
}

/// Facts read from a DER certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Serial number, upper-case hex.
    pub serial_hex: String,
    /// SHA-1 of the DER, upper-case hex (Key Vault's `x5t` thumbprint).
    pub sha1_thumbprint_hex: String,
    /// Subject as OpenSSL-style one-line text.
    pub subject: String,
    /// Issuer as OpenSSL-style one-line text.
    pub issuer: String,
    /// DER SubjectPublicKeyInfo (compare with [`PrivateKey::public_key_der`]).
    pub public_key_der: Vec<u8>,
}

/// Builds a self-signed certificate for `spec`, signed by `key` (SHA-256
/// for RSA and P-256, SHA-384 for P-384, SHA-512 for P-521), with a random
/// positive 16-byte serial, basic constraints CA:false, subject key
/// identifier. Returns DER.
pub fn self_signed(_spec: &CertificateSpec, _key: &PrivateKey) -> Result<Vec<u8>, PkiError> {
    unimplemented!()
}

/// Reads the facts of a DER certificate; any garbage gives `Malformed`.
pub fn inspect(_der: &[u8]) -> Result<CertificateInfo, PkiError> {
    unimplemented!()
}
