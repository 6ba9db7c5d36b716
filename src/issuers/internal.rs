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
use crate::pki::csr::SigningRequest;
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
    /// Written as a name constraint into its certificate (none: unconstrained).
    pub permitted_dns_domains: Vec<String>,
}

/// What an Internal CA holds every certificate it issues to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuingRules {
    /// The CRL distribution point written into each certificate.
    pub distribution_point: Option<String>,
    /// DNS names must be one of these or below one (none: any).
    pub permitted_dns_domains: Vec<String>,
    /// A longer validity is cut to this many days.
    pub max_validity_days: Option<u32>,
}

impl IssuingRules {
    /// Refuses `names` outside the permitted domains.
    pub fn check_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), IssuerError> {
        if self.permitted_dns_domains.is_empty() {
            return Ok(());
        }
        for name in names {
            let host = name.strip_prefix("*.").unwrap_or(name).to_ascii_lowercase();
            let inside = self.permitted_dns_domains.iter().any(|d| {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                host == d || host.ends_with(&format!(".{d}"))
            });
            if !inside {
                return Err(IssuerError::Rejected(format!(
                    "The name {name} is outside the issuer's constraints: it may certify names in {} only",
                    self.permitted_dns_domains.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn leaf_options(&self) -> x509::LeafOptions<'_> {
        x509::LeafOptions {
            distribution_point: self.distribution_point.as_deref(),
            max_validity_days: self.max_validity_days,
        }
    }
}

/// A private CA: key and self-signed certificate. `Debug` elides the key.
#[derive(Debug)]
pub struct InternalCa {
    name: String,
    key: PrivateKey,
    certificate: Vec<u8>,
    /// The chain above the CA (empty for a root).
    chain: Vec<Vec<u8>>,
    rules: IssuingRules,
}

/// How the CA is kept in the issuer's memory.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    certificate: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    chain: Vec<String>,
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
        let certificate =
            x509::constrained_authority(&spec, &key, &settings.permitted_dns_domains)?;
        Ok(InternalCa {
            name: name.to_owned(),
            key,
            certificate,
            chain: Vec::new(),
            rules: IssuingRules::default(),
        })
    }

    /// The CA of issuer `name` that a CA certificate of the vault is: its
    /// `certificate` (DER, basic constraints CA:true, key usage allowing
    /// certificate signing), its `key`, and the `chain` above it.
    pub fn from_certificate(
        name: &str,
        key: PrivateKey,
        certificate: Vec<u8>,
        chain: Vec<Vec<u8>>,
    ) -> Result<Self, IssuerError> {
        let refuse = |why: &str| IssuerError::Rejected(why.to_owned());
        if !x509::is_ca(&certificate) {
            return Err(refuse(
                "it is not a CA certificate (basic constraints CA:true)",
            ));
        }
        let spec = x509::certificate_spec(&certificate)?;
        if !spec.key_usage.is_empty()
            && !spec
                .key_usage
                .contains(&crate::pki::x509::KeyUsage::KeyCertSign)
        {
            return Err(refuse(
                "its key usage does not allow signing certificates (keyCertSign)",
            ));
        }
        if x509::inspect(&certificate)?.public_key_der != key.public_key_der() {
            return Err(refuse("its key does not match it"));
        }
        Ok(InternalCa {
            name: name.to_owned(),
            key,
            certificate,
            chain,
            rules: IssuingRules::default(),
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
        let chain = stored
            .chain
            .iter()
            .map(|c| STANDARD.decode(c.as_bytes()).map_err(|_| broken("chain")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InternalCa {
            name: name.to_owned(),
            key,
            certificate,
            chain,
            rules: IssuingRules::default(),
        })
    }

    /// The CA as its issuer's memory keeps it (holds the CA key: never log it).
    pub fn to_memory(&self) -> Zeroizing<String> {
        let stored = Stored {
            key: STANDARD.encode(self.key.pkcs8_der()),
            certificate: STANDARD.encode(&self.certificate),
            chain: self.chain.iter().map(|c| STANDARD.encode(c)).collect(),
        };
        Zeroizing::new(serde_json::to_string(&stored).unwrap_or_default())
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// What a leaf it issues chains through: the CA certificate, then the chain above it.
    pub fn issuing_chain(&self) -> Vec<Vec<u8>> {
        std::iter::once(self.certificate.clone())
            .chain(self.chain.iter().cloned())
            .collect()
    }

    /// The CA's key (signs its CRL).
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The CA holding what it issues to `rules`.
    pub fn with_rules(mut self, rules: IssuingRules) -> Self {
        self.rules = rules;
        self
    }

    /// Signs someone else's CSR (its signature and key checked already),
    /// for `validity_months` (cut to the rules' limit), within the rules.
    pub fn sign_request(
        &self,
        request: &SigningRequest,
        validity_months: u32,
    ) -> Result<Issued, IssuerError> {
        self.rules.check_names(request.names())?;
        let leaf = x509::sign_request(
            request,
            validity_months,
            &self.certificate,
            &self.key,
            &self.rules.leaf_options(),
        )?;
        Ok(Issued {
            leaf,
            chain: self.issuing_chain(),
        })
    }
}

impl Issuer for InternalCa {
    fn name(&self) -> &str {
        &self.name
    }

    fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, IssuerError> {
        let spec = request.spec;
        let cn = spec
            .subject
            .common_name()
            .filter(|cn| crate::pki::dns_name::common_name_is_a_host(cn));
        let names = spec.sans.dns_names.iter().map(String::as_str).chain(cn);
        self.rules.check_names(names)?;
        let leaf = x509::signed_by_ca(
            spec,
            request.key,
            &self.certificate,
            &self.key,
            &self.rules.leaf_options(),
        )?;
        Ok(Issued {
            leaf,
            chain: self.issuing_chain(),
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
            permitted_dns_domains: Vec::new(),
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

    #[test]
    fn names_outside_the_permitted_domains_are_refused() {
        let rules = IssuingRules {
            permitted_dns_domains: vec!["example.test".into(), ".corp.test".into()],
            ..IssuingRules::default()
        };
        for inside in [
            "example.test",
            "a.example.test",
            "*.b.example.test",
            "X.CORP.test",
        ] {
            rules.check_names([inside]).unwrap();
        }
        for outside in [
            "example.com",
            "badexample.test",
            "example.test.evil",
            "test",
            "",
            "*.test",
        ] {
            let e = rules.check_names([outside]).unwrap_err();
            assert!(e.to_string().contains("outside"), "{outside}: {e}");
        }
        IssuingRules::default()
            .check_names(["anything.example.com"])
            .unwrap();
    }
}
