//! Key Vault's CertificatePolicy: both JSON dialects in, typed policy with Key Vault's defaults and rules, REST shape out.
//!
//! [`Policy::parse`] reads `policy.json` in three steps, one module each:
//! `json` reads JSON with paths for messages, `wire` knows the two
//! dialects and reads them into one raw form, `rules` fills in
//! [`defaults`] and applies Key Vault's rules (with `sans` for SAN
//! syntax). `names` holds Key Vault's spellings of enum values and
//! `output` writes the REST shape back. Every message is in [`messages`].
//!
//! Decisions where Key Vault's behaviour is not documented:
//! - `null` anywhere means absent; an explicit empty list (`"ekus": []`,
//!   `"key_usage": []`, `"lifetime_actions": []`) means "none", not "default".
//! - Unknown keys are refused at every level, not only at the top, naming
//!   the field and suggesting the right spelling of near misses.
//! - Numbers must be whole: `12.0` is refused like `12.5`.
//! - An empty subject counts as no subject; a UTF-8 byte order mark is skipped.
//! - EC keys: without `crv`, the curve follows `key_size` (384 → P-384);
//!   without either, P-256. `crv` with an RSA key is refused.
//! - EC keys get digitalSignature alone as default key usage (see
//!   [`defaults::key_usage`]).
//! - Duplicates in `ekus` and `key_usage` are dropped (order kept); SANs are
//!   kept as written.
//! - `AutoRenew` with issuer `Unknown` is accepted: certfs renews it by
//!   making a pending version with a new CSR (SPEC §7).
//! - Messages are Key Vault's where its wording is known ("At most one
//!   action is allowed", "The subject name provided is not a valid X500
//!   name"), otherwise certfs' own, always naming the field as written.

mod json;
mod names;
mod output;
mod rules;
mod sans;
mod wire;

pub mod defaults;
pub mod messages;

#[cfg(test)]
mod tests;

use crate::pki::dn::DistinguishedName;
use crate::pki::key::KeySpec;
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

impl std::fmt::Display for PolicyError {
    /// `BadParameter: <message>`, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PolicyError {}

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

impl KeyType {
    /// Whether the policy asked for an HSM (`RSA-HSM`, `EC-HSM`): certfs has
    /// none and keeps such keys in software, as any other (and says so).
    pub fn asks_for_hsm(self) -> bool {
        matches!(self, KeyType::Rsa { hsm: true } | KeyType::Ec { hsm: true })
    }
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

/// `x509_props.basic_constraints`: whether the certificate is a CA, and
/// how many CAs may follow it. Key Vault writes `{"ca": false}` in every
/// policy; certfs makes a CA certificate's CSR from `ca: true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BasicConstraints {
    /// `ca`.
    pub ca: bool,
    /// `path_len`: at most this many CAs below it (only with `ca`).
    pub path_len: Option<u8>,
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
    /// Basic constraints (CA or not).
    pub basic_constraints: BasicConstraints,
    /// At most one lifetime action.
    pub lifetime_actions: Vec<LifetimeAction>,
    /// Issuer parameters.
    pub issuer: IssuerParameters,
}

pub(crate) use sans::is_dns_name;

/// Which rule DNS names in SANs are held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DnsNames {
    /// What is written now: letters, digits, hyphens, dots, an optional leading `*.`.
    Strict,
    /// What the store holds: the rule it was written under.
    AsStored,
}

/// The largest `policy.json` accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

impl Policy {
    /// Parses either dialect (REST snake_case or az/SDK camelCase), fills
    /// Key Vault's defaults and applies its rules.
    ///
    /// Refuses (never panics on) input over [`MAX_POLICY_BYTES`], non-UTF-8,
    /// empty or non-JSON text, JSON that is not an object, mixed dialects,
    /// unknown keys, wrong JSON types and anything Key Vault's rules refuse;
    /// the error's message says which field and why.
    pub fn parse(json: &[u8]) -> Result<Policy, PolicyError> {
        rules::build(wire::read(&Self::document(json)?)?, None, DnsNames::Strict)
    }

    /// Parses a policy the store holds, as [`Policy::parse`] does, except
    /// that DNS names are held only to the looser rule of the certfs that
    /// may have stored them (ASCII without spaces): a certificate made
    /// before the stricter rule still loads, and is refused only when
    /// someone writes its policy again.
    pub fn parse_stored(json: &[u8]) -> Result<Policy, PolicyError> {
        rules::build(
            wire::read(&Self::document(json)?)?,
            None,
            DnsNames::AsStored,
        )
    }

    /// Parses a policy written for an import (`import/<name>.policy.json`)
    /// as [`Policy::parse`] does, except that what it leaves out is taken
    /// from `base`, the policy derived from the imported certificate and key
    /// (key type and size, content type, subject and SANs, ...), not from
    /// the defaults of a new certificate.
    pub fn parse_over(json: &[u8], base: &Policy) -> Result<Policy, PolicyError> {
        rules::build(
            wire::read(&Self::document(json)?)?,
            Some(base),
            DnsNames::Strict,
        )
    }

    /// The JSON object a policy document holds.
    fn document(json: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, PolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(messages::bad(messages::TOO_LARGE));
        }
        let text = std::str::from_utf8(json).map_err(|_| messages::bad(messages::NOT_UTF8))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(messages::bad(messages::EMPTY));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| messages::bad(messages::not_json(&e)))?;
        match value {
            serde_json::Value::Object(root) => Ok(root),
            _ => Err(messages::bad(messages::NOT_OBJECT)),
        }
    }

    /// The full policy in the REST shape, pretty-printed, ending in `\n`.
    ///
    /// Deterministic (fixed key order), with every default written out and
    /// the subject as the user wrote it; `Policy::parse` of the text gives
    /// back an equal policy.
    pub fn to_json(&self) -> String {
        output::to_json(self)
    }

    /// What a certificate issued under this policy should say. A policy
    /// without a subject (SANs only) gets an empty subject name.
    pub fn certificate_spec(&self) -> CertificateSpec {
        CertificateSpec {
            subject: self
                .subject
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or(DistinguishedName { rdns: Vec::new() }),
            sans: self.sans.clone(),
            key_usage: self.key_usage.clone(),
            extended_key_usage: self.ekus.clone(),
            validity_months: self.validity_months,
        }
    }
}
