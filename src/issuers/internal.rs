//! The `Internal` issuer: a private root CA, kept in the vault, that signs certificates at once.
//!
//! The CA is made when its issuer file is first written and lives in the
//! issuer's [`super::IssuerMemory`] as JSON: the CA key (PKCS#8, base64)
//! and its certificate (DER, base64). Leaves carry the policy's subject,
//! SANs, key usage, EKUs and validity (never past the CA's own end), with
//! the CA certificate as their chain.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{IssueRequest, Issued, Issuer, IssuerError};
use crate::pki::PkiError;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{KeySpec, PrivateKey};
use crate::pki::x509::{self, CertificateSpec, SubjectAltNames};

/// What the CA looks like when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSettings {
    /// The CA's subject (`CN=Corp Root CA`).
    pub subject: DistinguishedName,
    /// Its validity.
    pub validity_months: u32,
    /// Its key.
    pub key: KeySpec,
}

/// A private CA: key and self-signed certificate. `Debug` elides the key.
#[derive(Debug)]
pub struct InternalCa {
    name: String,
    key: PrivateKey,
    certificate: Vec<u8>,
    distribution_point: Option<String>,
}

/// How the CA is kept in the issuer's memory.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    certificate: String,
}

impl InternalCa {
    /// Makes a new CA for the issuer `name` (key generation: may take a second for RSA).
    pub fn create(name: &str, settings: &CaSettings) -> Result<Self, IssuerError> {
        let key = PrivateKey::generate(settings.key)?;
        let spec = CertificateSpec {
            subject: settings.subject.clone(),
            sans: SubjectAltNames::default(),
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
            validity_months: settings.validity_months,
        };
        let certificate = x509::certificate_authority(&spec, &key)?;
        Ok(InternalCa {
            name: name.to_owned(),
            key,
            certificate,
            distribution_point: None,
        })
    }

    /// The CA of issuer `name` as [`InternalCa::to_memory`] wrote it.
    pub fn from_memory(name: &str, text: &str) -> Result<Self, IssuerError> {
        let broken = |what: &str| {
            IssuerError::Pki(PkiError::Malformed(format!(
                "the stored CA of issuer {name} is unreadable ({what})"
            )))
        };
        let stored: Stored = serde_json::from_str(text).map_err(|_| broken("not JSON"))?;
        let key_der = Zeroizing::new(
            STANDARD
                .decode(stored.key.as_bytes())
                .map_err(|_| broken("key"))?,
        );
        let certificate = STANDARD
            .decode(stored.certificate.as_bytes())
            .map_err(|_| broken("certificate"))?;
        let key = PrivateKey::from_pkcs8_der(&key_der).map_err(|_| broken("key"))?;
        let info = x509::inspect(&certificate).map_err(|_| broken("certificate"))?;
        if info.public_key_der != key.public_key_der() {
            return Err(broken("key and certificate do not match"));
        }
        Ok(InternalCa {
            name: name.to_owned(),
            key,
            certificate,
            distribution_point: None,
        })
    }

    /// The CA as its issuer's memory keeps it (holds the CA key: never log it).
    pub fn to_memory(&self) -> Zeroizing<String> {
        let stored = Stored {
            key: STANDARD.encode(self.key.pkcs8_der()),
            certificate: STANDARD.encode(&self.certificate),
        };
        Zeroizing::new(serde_json::to_string(&stored).unwrap_or_default())
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// The CA's key (signs its CRL).
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The CA writing `url` as the CRL distribution point of what it issues.
    pub fn with_distribution_point(mut self, url: Option<&str>) -> Self {
        self.distribution_point = url.map(str::to_owned);
        self
    }
}

impl Issuer for InternalCa {
    fn name(&self) -> &str {
        &self.name
    }

    fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, IssuerError> {
        let leaf = x509::signed_by_ca(
            request.spec,
            request.key,
            &self.certificate,
            &self.key,
            self.distribution_point.as_deref(),
        )?;
        Ok(Issued {
            leaf,
            chain: vec![self.certificate.clone()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::key::Curve;

    fn settings() -> CaSettings {
        CaSettings {
            subject: DistinguishedName::parse("CN=Test Root CA, O=\"Contoso, Inc.\"").unwrap(),
            validity_months: 12,
            key: KeySpec::Ec(Curve::P256),
        }
    }

    #[test]
    fn the_ca_survives_its_memory_and_keeps_its_key_out_of_debug() {
        let ca = InternalCa::create("corp", &settings()).unwrap();
        let text = ca.to_memory();
        let back = InternalCa::from_memory("corp", &text).unwrap();
        assert_eq!(back.certificate_der(), ca.certificate_der());
        assert!(!format!("{back:?}").contains(&*STANDARD.encode(ca.key.pkcs8_der())));
        let info = x509::inspect(ca.certificate_der()).unwrap();
        assert_eq!(info.subject, info.issuer, "a root is self-issued");
        assert_eq!(info.subject, "CN=Test Root CA, O=\"Contoso, Inc.\"");
    }

    #[test]
    fn a_broken_memory_is_an_error_not_a_panic() {
        let ca = InternalCa::create("corp", &settings()).unwrap();
        let other = InternalCa::create("corp", &settings()).unwrap();
        let mixed = serde_json::json!({
            "key": STANDARD.encode(other.key.pkcs8_der()),
            "certificate": STANDARD.encode(ca.certificate_der()),
        })
        .to_string();
        for bad in [
            "",
            "{}",
            "garbage",
            r#"{"key":"!!","certificate":""}"#,
            r#"{"key":"","certificate":""}"#,
            &mixed,
        ] {
            let e = InternalCa::from_memory("corp", bad).unwrap_err();
            assert!(e.to_string().contains("stored CA of issuer corp"), "{e}");
        }
    }
}
