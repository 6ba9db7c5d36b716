//! `issuers/<name>.json`: Key Vault's IssuerBundle (plus certfs' `endpoint`, ACME and Internal settings), validated per provider.
//!
//! Secrets (`credentials.pwd`, `eab.hmac_key`,
//! `challenge.rfc2136.tsig_secret`) are stored but never read
//! back: a read shows them as `null`, and a write that leaves them `null`
//! or out keeps the stored value, so a file read, edited and written back
//! keeps its password.
//!
//! The stored document also remembers who wrote it (`writer`: uid, gid,
//! groups), never shown and never taken from what a user writes: the paths
//! it names (`ca_file`, `challenge.webroot`) are opened as that user.

mod challenge;

pub use challenge::{Challenge, MAX_PROPAGATION_TIMEOUT_S, Rfc2136, tsig_key};

use serde::{Deserialize, Serialize};

use super::contacts::is_email;
use super::error::VaultError;
use super::name::CertificateName;
use crate::as_user::Identity;
use crate::issuers::internal::CaSettings;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, RsaSize};

/// The prefix of an issuer's store key: `issuer/<name>`.
pub const DOCUMENT_PREFIX: &str = "issuer/";

/// The providers certfs accepts, as Key Vault and certfs spell them.
pub const PROVIDERS: [&str; 4] = ["DigiCert", "GlobalSign", "ACME", "Internal"];

/// An issuer's name: the rules of certificate names; `Self` and `Unknown` are Key Vault's own.
pub fn parse_name(file_name: &str) -> Result<CertificateName, VaultError> {
    let stem = file_name.strip_suffix(".json").ok_or_else(|| {
        VaultError::BadParameter(format!(
            "issuers/ holds <name>.json files; got '{file_name}'"
        ))
    })?;
    let name = CertificateName::parse(stem).map_err(|e| VaultError::BadParameter(e.0))?;
    if ["self", "unknown"].contains(&stem.to_ascii_lowercase().as_str()) {
        return Err(VaultError::BadParameter(format!(
            "'{stem}' is a built-in issuer of Key Vault and cannot be configured"
        )));
    }
    Ok(name)
}

/// `credentials`. `Debug` leaves out the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Account id (DigiCert, GlobalSign) or the ACME account's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// API key or password: stored, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
}

/// One administrator of `org_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminDetail {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `org_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgDetails {
    /// The organization's id at the CA (DigiCert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Administrators (GlobalSign needs one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_details: Vec<AdminDetail>,
    /// Key Vault's `zip` (it returns `0`): kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<u64>,
}

/// `attributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerAttributes {
    /// Whether new certificates may be ordered through the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Key Vault's `created` (seconds since 1970), as a copied bundle
    /// carries it: accepted and not kept.
    #[serde(default, skip_serializing)]
    pub created: Option<i64>,
    /// Key Vault's `updated`: accepted and not kept.
    #[serde(default, skip_serializing)]
    pub updated: Option<i64>,
}

/// ACME external account binding. `Debug` leaves out the HMAC key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eab {
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// HMAC key: stored, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_key: Option<String>,
}

/// The private CA of an `Internal` issuer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalCa {
    /// The CA's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The CA's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_months: Option<u32>,
    /// `RSA` or `EC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    /// `P-256`, `P-384` or `P-521` for EC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Instead of a root of its own: the CA certificate of the vault (its
    /// current version, with its key) to sign with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// `constraints` of an `Internal` issuer: what it may certify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// DNS names it certifies must be one of these or below one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted_dns_domains: Vec<String>,
    /// A longer validity is cut to this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_validity_days: Option<u32>,
}

/// `crl` of an `Internal` issuer: how long a CRL is valid, and the URL
/// written into every certificate it issues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlSettings {
    /// How long each CRL is valid (`next_update` − `this_update`), 1–8760; 168 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_hours: Option<u32>,
    /// The CRL distribution point (an http:// URL) of the certificates it issues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_point: Option<String>,
}

/// An issuer: Key Vault's IssuerBundle and certfs' additions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerBundle {
    /// Key Vault's `id` (the issuer's URL), as a copied bundle carries it:
    /// accepted and not kept.
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    /// `DigiCert`, `GlobalSign`, `ACME` or `Internal`.
    pub provider: String,
    /// Account and secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// Organization and administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_details: Option<OrgDetails>,
    /// Enabled or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<IssuerAttributes>,
    /// Overrides the provider's base URL; the directory URL for ACME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// ACME external account binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab: Option<Eab>,
    /// ACME challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// PEM bundle to trust for the ACME directory's TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The private CA of an Internal issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<InternalCa>,
    /// The CRL of an Internal issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<CrlSettings>,
    /// What an Internal issuer may certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
    /// Who wrote the file: the paths it names are opened as this user.
    /// Stored (see [`IssuerBundle::to_stored`]), never read from a write
    /// nor shown; `None` for a document stored before certfs kept it.
    #[serde(skip)]
    pub writer: Option<Identity>,
}

/// The stored document's key for [`IssuerBundle::writer`].
const WRITER: &str = "writer";

impl IssuerBundle {
    /// Parses a write to an issuer file over what was stored (`previous`):
    /// secrets left `null` or out keep their stored value. Validates per provider.
    pub fn parse_update(bytes: &[u8], previous: Option<&IssuerBundle>) -> Result<Self, VaultError> {
        let mut bundle: IssuerBundle = serde_json::from_slice(bytes).map_err(|e| {
            // serde's words may quote a value (a password): keep only field names.
            let text = e.to_string();
            let reason = if text.starts_with("unknown field") || text.starts_with("missing field") {
                text
            } else {
                format!(
                    "a field has the wrong type or value (line {}, column {})",
                    e.line(),
                    e.column()
                )
            };
            VaultError::BadParameter(format!(
                "The issuer file is not a valid IssuerBundle: {reason}"
            ))
        })?;
        bundle.provider = PROVIDERS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(&bundle.provider))
            .ok_or_else(|| {
                VaultError::BadParameter(format!(
                    "Unknown provider '{}': use one of {}",
                    bundle.provider.chars().take(40).collect::<String>(),
                    PROVIDERS.join(", ")
                ))
            })?
            .to_string();
        // What Key Vault adds to a bundle it returns is not kept.
        bundle.id = None;
        if let Some(attributes) = bundle.attributes.as_mut() {
            attributes.created = None;
            attributes.updated = None;
        }
        if let Some(previous) = previous {
            keep_secret(
                &mut bundle.credentials,
                &previous.credentials,
                |c| &mut c.pwd,
                |c| &c.pwd,
            );
            keep_secret(
                &mut bundle.eab,
                &previous.eab,
                |e| &mut e.hmac_key,
                |e| &e.hmac_key,
            );
            let mut dns = bundle.challenge.as_mut().and_then(|c| c.rfc2136.take());
            keep_secret(
                &mut dns,
                &previous.challenge.as_ref().and_then(|c| c.rfc2136.clone()),
                |r| &mut r.tsig_secret,
                |r| &r.tsig_secret,
            );
            if let Some(challenge) = bundle.challenge.as_mut() {
                challenge.rfc2136 = dns;
            }
        }
        bundle.validate()?;
        Ok(bundle)
    }

    /// The paths the issuer names, which are opened as its writer:
    /// `ca_file` and `challenge.webroot`.
    pub fn paths(&self) -> (Option<&str>, Option<&str>) {
        (
            self.ca_file.as_deref(),
            self.challenge.as_ref().and_then(|c| c.webroot.as_deref()),
        )
    }

    /// Whether the issuer names any path.
    pub fn names_paths(&self) -> bool {
        self.paths() != (None, None)
    }

    /// Reads the stored document (with its writer, when it has one).
    pub fn from_stored(text: &str) -> Result<Self, VaultError> {
        let unreadable = |e: serde_json::Error| {
            VaultError::Internal(format!(
                "stored issuer: {} (line {}, column {})",
                match e.classify() {
                    serde_json::error::Category::Data => "a field has the wrong type or value",
                    _ => "not JSON",
                },
                e.line(),
                e.column()
            ))
        };
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(unreadable)?;
        let writer = value
            .as_object_mut()
            .and_then(|o| o.remove(WRITER))
            .map(serde_json::from_value::<Identity>)
            .transpose()
            .map_err(unreadable)?;
        let mut bundle: IssuerBundle = serde_json::from_value(value).map_err(unreadable)?;
        bundle.writer = writer;
        Ok(bundle)
    }

    /// The stored text, secrets and writer included.
    pub fn to_stored(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let (Some(writer), Some(object)) = (&self.writer, value.as_object_mut()) {
            object.insert(
                WRITER.to_owned(),
                serde_json::to_value(writer).unwrap_or_default(),
            );
        }
        value.to_string()
    }

    /// What a read shows: everything but the secrets, which show as `null`.
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(pwd) = value.pointer_mut("/credentials/pwd") {
            *pwd = serde_json::Value::Null;
        }
        if let Some(key) = value.pointer_mut("/eab/hmac_key") {
            *key = serde_json::Value::Null;
        }
        if let Some(secret) = value.pointer_mut("/challenge/rfc2136/tsig_secret") {
            *secret = serde_json::Value::Null;
        }
        super::pretty_json(&value)
    }

    /// Whether new certificates may be ordered through it.
    pub fn enabled(&self) -> bool {
        self.attributes
            .as_ref()
            .and_then(|a| a.enabled)
            .unwrap_or(true)
    }

    /// For an `Internal` issuer named `name`: the CA its `ca` settings
    /// describe, with defaults (`CN=<name> Root CA`, 120 months, EC P-384;
    /// RSA 4096 when `kty` is RSA). `None` for other providers.
    pub fn internal_ca_settings(&self, name: &str) -> Result<Option<CaSettings>, VaultError> {
        if self.provider != "Internal" || self.ca_certificate().is_some() {
            return Ok(None);
        }
        let ca = self.ca.clone().unwrap_or_default();
        let subject = ca.subject.unwrap_or_else(|| format!("CN={name} Root CA"));
        let subject = DistinguishedName::parse(&subject).map_err(|e| {
            VaultError::BadParameter(format!("ca.subject is not a valid X500 name: {e}"))
        })?;
        let key = match (ca.kty.as_deref(), ca.crv.as_deref()) {
            (Some("RSA"), _) => KeySpec::Rsa(RsaSize::B4096),
            (_, Some("P-256")) => KeySpec::Ec(Curve::P256),
            (_, Some("P-521")) => KeySpec::Ec(Curve::P521),
            _ => KeySpec::Ec(Curve::P384),
        };
        Ok(Some(CaSettings {
            subject,
            validity_months: ca.validity_months.unwrap_or(120),
            key,
            permitted_dns_domains: self.internal_constraints().permitted_dns_domains,
        }))
    }

    /// The CA certificate of the vault an Internal issuer signs with, when
    /// it has no root of its own (`ca.certificate`).
    pub fn ca_certificate(&self) -> Option<&str> {
        self.ca.as_ref().and_then(|c| c.certificate.as_deref())
    }

    /// The constraints of an Internal issuer (none when it names none).
    pub fn internal_constraints(&self) -> Constraints {
        self.constraints.clone().unwrap_or_default()
    }

    /// How long each CRL of an Internal issuer is valid, in seconds (168 hours by default).
    pub fn crl_validity_seconds(&self) -> i64 {
        let hours = self
            .crl
            .as_ref()
            .and_then(|c| c.validity_hours)
            .unwrap_or(168);
        i64::from(hours) * 3600
    }

    /// The CRL distribution point written into the certificates an Internal issuer issues.
    pub fn crl_distribution_point(&self) -> Option<&str> {
        self.crl
            .as_ref()
            .and_then(|c| c.distribution_point.as_deref())
    }

    fn validate(&self) -> Result<(), VaultError> {
        let need = |what: &str| {
            VaultError::BadParameter(format!("A {} issuer needs {what}", self.provider))
        };
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let credentials = self.credentials.clone().unwrap_or_default();
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(VaultError::BadParameter(format!(
                    "endpoint must be an http:// or https:// URL; got '{}'",
                    endpoint.chars().take(80).collect::<String>()
                )));
            }
        }
        match self.provider.as_str() {
            "DigiCert" => {
                if !present(&credentials.account_id) || !present(&credentials.pwd) {
                    return Err(need(
                        "credentials.account_id and credentials.pwd (the API key)",
                    ));
                }
                if !self.org_details.as_ref().is_some_and(|o| present(&o.id)) {
                    return Err(need("org_details.id (the organization id)"));
                }
            }
            "GlobalSign" => {
                if !present(&credentials.account_id) || !present(&credentials.pwd) {
                    return Err(need("credentials.account_id and credentials.pwd"));
                }
                let admin = self
                    .org_details
                    .as_ref()
                    .and_then(|o| o.admin_details.first())
                    .ok_or_else(|| need("org_details.admin_details with an administrator"))?;
                if !(present(&admin.first_name)
                    && present(&admin.last_name)
                    && present(&admin.phone))
                {
                    return Err(need(
                        "the administrator's first_name, last_name, email and phone",
                    ));
                }
                if !admin.email.as_deref().is_some_and(is_email) {
                    return Err(need("a valid e-mail address for the administrator"));
                }
            }
            "ACME" => {
                if self.endpoint.is_none() {
                    return Err(need("endpoint: the ACME directory URL"));
                }
                if let Some(account) = &credentials.account_id {
                    if !is_email(account) {
                        return Err(need(
                            "credentials.account_id as the account's e-mail address",
                        ));
                    }
                }
                if let Some(eab) = &self.eab {
                    if !present(&eab.kid) || !present(&eab.hmac_key) {
                        return Err(need(
                            "both eab.kid and eab.hmac_key for external account binding",
                        ));
                    }
                }
                if self.ca_file.as_deref().is_some_and(|f| !f.starts_with('/')) {
                    return Err(need("ca_file as an absolute path to a PEM bundle"));
                }
                if let Some(challenge) = &self.challenge {
                    challenge::validate(challenge)?;
                }
            }
            _ => {
                if let Some(c) = &self.constraints {
                    if c.max_validity_days
                        .is_some_and(|d| !(1..=36_500).contains(&d))
                    {
                        return Err(need("constraints.max_validity_days between 1 and 36500"));
                    }
                    if let Some(bad) = c
                        .permitted_dns_domains
                        .iter()
                        .find(|d| !crate::vault::policy::is_dns_name(d) || d.starts_with('*'))
                    {
                        return Err(VaultError::BadParameter(format!(
                            "constraints.permitted_dns_domains: `{}` is not a DNS domain",
                            bad.chars().take(80).collect::<String>()
                        )));
                    }
                }
                if let Some(crl) = &self.crl {
                    if crl.validity_hours.is_some_and(|h| !(1..=8760).contains(&h)) {
                        return Err(need("crl.validity_hours between 1 and 8760"));
                    }
                    if let Some(url) = &crl.distribution_point {
                        let ascii = url.bytes().all(|b| b.is_ascii_graphic());
                        if !(ascii && (url.starts_with("http://") || url.starts_with("https://"))) {
                            return Err(need(
                                "crl.distribution_point as an http:// URL without spaces",
                            ));
                        }
                    }
                }
                if let Some(ca) = &self.ca {
                    let own_root = ca.subject.is_some()
                        || ca.validity_months.is_some()
                        || ca.kty.is_some()
                        || ca.crv.is_some();
                    if let Some(cert) = &ca.certificate {
                        if own_root {
                            return Err(need(
                                "either ca.certificate or settings of its own root (subject, validity_months, kty, crv), not both",
                            ));
                        }
                        CertificateName::parse(cert).map_err(|e| {
                            VaultError::BadParameter(format!("ca.certificate: {}", e.0))
                        })?;
                    }
                    if let Some(subject) = &ca.subject {
                        DistinguishedName::parse(subject).map_err(|e| {
                            VaultError::BadParameter(format!(
                                "ca.subject is not a valid X500 name: {e}"
                            ))
                        })?;
                    }
                    if ca.validity_months.is_some_and(|m| !(1..=1200).contains(&m)) {
                        return Err(need("ca.validity_months between 1 and 1200"));
                    }
                    match (ca.kty.as_deref(), ca.crv.as_deref()) {
                        (None | Some("RSA"), None) => {}
                        (None | Some("EC"), Some("P-256" | "P-384" | "P-521")) => {}
                        (Some("EC"), None) => {}
                        _ => {
                            return Err(need(
                                "ca.kty RSA or EC, and ca.crv P-256, P-384 or P-521 for EC",
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("pwd", &self.pwd.as_ref().map(|_| "<elided>"))
            .finish()
    }
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<elided>"))
            .finish()
    }
}

/// Keeps a stored secret when a write leaves it out.
fn keep_secret<T: Clone + Default>(
    new: &mut Option<T>,
    old: &Option<T>,
    field: impl Fn(&mut T) -> &mut Option<String>,
    read: impl Fn(&T) -> &Option<String>,
) {
    let Some(old_secret) = old.as_ref().and_then(|o| read(o).clone()) else {
        return;
    };
    if let Some(new) = new.as_mut() {
        let slot = field(new);
        if slot.is_none() {
            *slot = Some(old_secret);
        }
    }
}

#[cfg(test)]
#[path = "issuer_file_tests.rs"]
mod tests;
