//! The fields of an X.509 certificate as plain values: key usage, subject alternative names, what a certificate is made from ([`CertificateSpec`]) and what is read from one ([`CertificateInfo`]).
//!
//! Both directions use them: [`super::x509`] builds certificates from them
//! and [`super::x509_read`] reads them from DER.

use std::net::IpAddr;

use super::dn::DistinguishedName;
/// OID of Microsoft's user principal name otherName (`1.3.6.1.4.1.311.20.2.3`).
pub const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

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
    /// Subject as one-line text the way Key Vault shows it
    /// (`CN=x, O="Contoso, Inc."`), which `DistinguishedName::parse` reads back.
    pub subject: String,
    /// Issuer, in the same form as `subject`.
    pub issuer: String,
    /// DER SubjectPublicKeyInfo (compare with [`super::key::PrivateKey::public_key_der`]).
    pub public_key_der: Vec<u8>,
}
