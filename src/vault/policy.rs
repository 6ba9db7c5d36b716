//! Key Vault's CertificatePolicy: both JSON dialects in, typed policy with Key Vault's defaults and rules, REST shape out.

use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec};
use crate::pki::x509::{CertificateSpec, KeyUsage, SubjectAltNames};

/// A policy rejected by Key Vault's rules: `code` is Key Vault's error code
/// (`BadParameter`), `message` its wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Key Vault error code.
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
}

/// Key Vault's `kty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `RSA` (or `RSA-HSM`, stored as a software key)
    Rsa {
        /// Whether the policy said `RSA-HSM`.
        hsm: bool,
    },
    /// `EC` (or `EC-HSM`, stored as a software key)
    Ec {
        /// Whether the policy said `EC-HSM`.
        hsm: bool,
    },
}

/// `key_props`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProperties {
    /// Key type.
    pub kty: KeyType,
    /// The key to generate, resolved from kty, key_size and crv.
    pub spec: KeySpec,
    /// Whether the private key may leave the vault (privkey.pem, cert.pfx, bundle.pem).
    pub exportable: bool,
    /// Whether renewals keep the key.
    pub reuse_key: bool,
}

/// `secret_props.contentType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `application/x-pkcs12`
    Pkcs12,
    /// `application/x-pem-file`
    Pem,
}

/// A subject as written and as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The text as the user wrote it (read back verbatim).
    pub text: String,
    /// The parsed name.
    pub name: DistinguishedName,
}

/// When a lifetime action fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `lifetime_percentage` 1–99
    LifetimePercentage(u8),
    /// `days_before_expiry` 1 to 27 × validity_months
    DaysBeforeExpiry(u32),
}

/// What a lifetime action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionType {
    /// `AutoRenew`
    AutoRenew,
    /// `EmailContacts`
    EmailContacts,
}

/// One entry of `lifetime_actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeAction {
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: ActionType,
}

/// `issuer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerParameters {
    /// `Self`, `Unknown`, or the name of an issuer in the vault's `issuers/`.
    pub name: String,
    /// `cty`: the certificate type to order from a CA (`OV-SSL`, ...).
    pub cert_type: Option<String>,
    /// `cert_transparency`.
    pub cert_transparency: Option<bool>,
}

/// A complete, validated policy (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Key properties.
    pub key: KeyProperties,
    /// Secret content type.
    pub content_type: ContentType,
    /// Subject, if given (a subject or SANs is required).
    pub subject: Option<Subject>,
    /// Subject alternative names.
    pub sans: SubjectAltNames,
    /// Extended key usages, dotted OIDs.
    pub ekus: Vec<String>,
    /// Key usages.
    pub key_usage: Vec<KeyUsage>,
    /// Validity in months.
    pub validity_months: u32,
    /// At most one lifetime action.
    pub lifetime_actions: Vec<LifetimeAction>,
    /// Issuer parameters.
    pub issuer: IssuerParameters,
}

impl Policy {
    /// Parses either dialect (REST snake_case or az/SDK camelCase), fills
    /// Key Vault's defaults and applies its rules.
    pub fn parse(_json: &[u8]) -> Result<Policy, PolicyError> {
        unimplemented!()
    }

    /// The full policy in the REST shape, pretty-printed, ending in `\n`.
    pub fn to_json(&self) -> String {
        unimplemented!()
    }

    /// What a certificate issued under this policy should say.
    pub fn certificate_spec(&self) -> CertificateSpec {
        unimplemented!()
    }
}

#[allow(dead_code)]
fn _uses(_: Curve) {}
