//! Key Vault's rules: turns what a document says ([`Raw`]) into a complete, valid [`Policy`] or the first reason it is not.
//!
//! Fields are checked in the order a policy is read: key, secret, subject and
//! SANs, EKUs and key usage, validity, issuer, lifetime actions (the last
//! two depend on validity and issuer). Every refusal carries Key Vault's
//! `BadParameter` code and a message from [`super::messages`].

use crate::pki::dn::DistinguishedName;
use crate::pki::key::{KeySpec, RsaSize};
use crate::pki::x509::KeyUsage;

use super::json::Field;
use super::messages::{self, bad};
use super::wire::{Raw, RawAction};
use super::{
    BasicConstraints, ContentType, DnsNames, IssuerParameters, KeyProperties, KeyType,
    LifetimeAction, Policy, PolicyError, Subject, Trigger, defaults, names, sans,
};

/// Validity bounds in months.
const VALIDITY_MIN: u64 = 1;
const VALIDITY_MAX: u64 = 1200;
/// `days_before_expiry` may be at most this many days per month of validity.
const DAYS_PER_MONTH: u64 = 27;
/// Issuer names: 1-127 characters `[0-9A-Za-z-]`, like certificate names.
const ISSUER_NAME_MAX: usize = 127;

/// Applies the defaults and the rules. What the document leaves out comes
/// from `base` when there is one (the policy derived from an imported
/// certificate), else from Key Vault's defaults.
pub(super) fn build(raw: Raw, base: Option<&Policy>, dns: DnsNames) -> Result<Policy, PolicyError> {
    let key = key_properties(&raw, base)?;
    let content_type = match (&raw.content_type, base) {
        (None, Some(b)) => b.content_type,
        (field, _) => content_type(field.as_ref())?,
    };
    let mut subject = subject(raw.subject.as_ref())?;
    let mut sans = sans::check(&raw.sans, dns)?;
    if let Some(b) = base {
        if raw.subject.is_none() {
            subject = b.subject.clone();
        }
        if sans.is_empty() {
            sans = b.sans.clone();
        }
    }
    if subject.is_none() && sans.is_empty() {
        return Err(bad(messages::SUBJECT_OR_SANS_REQUIRED));
    }
    let ekus = match (&raw.ekus, base) {
        (None, Some(b)) => b.ekus.clone(),
        (fields, _) => ekus(fields.as_deref())?,
    };
    let key_usage = match (&raw.key_usage, base) {
        (None, Some(b)) if same_family(key.kty, b.key.kty) => b.key_usage.clone(),
        (fields, _) => key_usage(fields.as_deref(), key.kty)?,
    };
    let validity_months = match (&raw.validity_months, base) {
        (None, Some(b)) => b.validity_months,
        (field, _) => validity(field.as_ref())?,
    };
    let basic_constraints = match (raw.ca.is_none() && raw.path_len.is_none(), base) {
        (true, Some(b)) => b.basic_constraints,
        _ => basic_constraints(&raw)?,
    };
    let issuer = match (raw.issuer_name.is_none() && raw.cty.is_none(), base) {
        (true, Some(b)) => b.issuer.clone(),
        _ => issuer(&raw)?,
    };
    // The base's actions go with the base's issuer: another issuer gets its own default.
    let lifetime_actions = match (&raw.lifetime_actions, base) {
        (None, Some(b)) if b.issuer.name == issuer.name => b.lifetime_actions.clone(),
        _ => lifetime_actions(&raw, &issuer.name, validity_months)?,
    };
    Ok(Policy {
        key,
        content_type,
        subject,
        sans,
        ekus,
        key_usage,
        validity_months,
        basic_constraints,
        lifetime_actions,
        issuer,
    })
}

fn key_properties(raw: &Raw, base: Option<&Policy>) -> Result<KeyProperties, PolicyError> {
    let kty = match (&raw.kty, base) {
        (None, Some(b)) => b.key.kty,
        (None, None) => defaults::KEY_TYPE,
        (Some(f), _) => names::parse_kty(&f.value)
            .ok_or_else(|| bad(messages::unsupported_kty(&f.path, &f.value)))?,
    };
    let spec = match (kty, base) {
        // The base's key when the document names no size or curve of its own.
        (kty, Some(b))
            if raw.key_size.is_none() && raw.crv.is_none() && same_family(kty, b.key.kty) =>
        {
            b.key.spec
        }
        (KeyType::Rsa { .. }, _) => KeySpec::Rsa(rsa_size(raw)?),
        (KeyType::Ec { .. }, _) => KeySpec::Ec(curve(raw)?),
    };
    let (exportable, reuse_key) = base.map_or((defaults::EXPORTABLE, defaults::REUSE_KEY), |b| {
        (b.key.exportable, b.key.reuse_key)
    });
    Ok(KeyProperties {
        kty,
        spec,
        exportable: raw.exportable.unwrap_or(exportable),
        reuse_key: raw.reuse_key.unwrap_or(reuse_key),
    })
}

/// Both RSA or both EC (an `-HSM` variant is its family).
fn same_family(a: KeyType, b: KeyType) -> bool {
    matches!(
        (a, b),
        (KeyType::Rsa { .. }, KeyType::Rsa { .. }) | (KeyType::Ec { .. }, KeyType::Ec { .. })
    )
}

fn rsa_size(raw: &Raw) -> Result<RsaSize, PolicyError> {
    if let Some(crv) = &raw.crv {
        return Err(bad(messages::curve_for_rsa(&crv.path)));
    }
    match &raw.key_size {
        None => Ok(defaults::RSA_SIZE),
        Some(f) => match f.value {
            2048 => Ok(RsaSize::B2048),
            3072 => Ok(RsaSize::B3072),
            4096 => Ok(RsaSize::B4096),
            other => Err(bad(messages::rsa_key_size(&f.path, other))),
        },
    }
}

/// The curve from `crv`; without `crv`, from `key_size` (384 means P-384);
/// without either, P-256. A `key_size` given with `crv` must match it.
fn curve(raw: &Raw) -> Result<crate::pki::key::Curve, PolicyError> {
    let curve = match (&raw.crv, &raw.key_size) {
        (Some(f), _) => {
            if f.value.eq_ignore_ascii_case(names::SECP256K1_NAME) {
                return Err(bad(messages::SECP256K1));
            }
            names::parse_curve(&f.value)
                .ok_or_else(|| bad(messages::unsupported_curve(&f.path, &f.value)))?
        }
        (None, Some(size)) => names::curve_of_bits(size.value)
            .ok_or_else(|| bad(messages::ec_key_size_unknown(&size.path, size.value)))?,
        (None, None) => defaults::CURVE,
    };
    if let Some(size) = &raw.key_size {
        let bits = names::curve_bits(curve);
        if size.value != bits {
            return Err(bad(messages::ec_key_size(
                &size.path,
                size.value,
                names::curve_name(curve),
                bits,
            )));
        }
    }
    Ok(curve)
}

fn content_type(field: Option<&Field<String>>) -> Result<ContentType, PolicyError> {
    match field {
        None => Ok(defaults::CONTENT_TYPE),
        Some(f) => names::parse_content_type(&f.value)
            .ok_or_else(|| bad(messages::content_type(&f.path, &f.value))),
    }
}

/// An empty (or all-blank) subject counts as no subject, as the SDKs send
/// `""` when only SANs are given. Otherwise the text is kept verbatim.
fn subject(field: Option<&Field<String>>) -> Result<Option<Subject>, PolicyError> {
    let Some(f) = field else {
        return Ok(None);
    };
    if f.value.trim().is_empty() {
        return Ok(None);
    }
    let chars = f.value.chars().count();
    if chars > messages::SUBJECT_MAX_CHARS {
        return Err(bad(messages::subject_too_long(&f.path, chars)));
    }
    let name =
        DistinguishedName::parse(&f.value).map_err(|e| bad(messages::invalid_subject(&e)))?;
    Ok(Some(Subject {
        text: f.value.clone(),
        name,
    }))
}

/// Dotted OIDs; duplicates are dropped, the order is kept.
fn ekus(fields: Option<&[Field<String>]>) -> Result<Vec<String>, PolicyError> {
    let Some(fields) = fields else {
        return Ok(defaults::ekus());
    };
    let mut out: Vec<String> = Vec::with_capacity(fields.len());
    for f in fields {
        if !is_dotted_oid(&f.value) {
            return Err(bad(messages::invalid_eku(&f.path, &f.value)));
        }
        if !out.contains(&f.value) {
            out.push(f.value.clone());
        }
    }
    Ok(out)
}

/// `0.x`, `1.x` or `2.x` with at least two arcs of decimal digits.
fn is_dotted_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && matches!(arcs[0], "0" | "1" | "2")
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
}

/// Names matched case-insensitively; duplicates dropped, order kept.
fn key_usage(fields: Option<&[Field<String>]>, kty: KeyType) -> Result<Vec<KeyUsage>, PolicyError> {
    let usages = match fields {
        None => defaults::key_usage(kty),
        Some(fields) => {
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                let usage = names::parse_key_usage(&f.value)
                    .ok_or_else(|| bad(messages::unknown_key_usage(&f.path, &f.value)))?;
                if !out.contains(&usage) {
                    out.push(usage);
                }
            }
            out
        }
    };
    if matches!(kty, KeyType::Ec { .. }) && usages.contains(&KeyUsage::KeyEncipherment) {
        return Err(bad(messages::EC_KEY_ENCIPHERMENT));
    }
    Ok(usages)
}

fn validity(field: Option<&Field<u64>>) -> Result<u32, PolicyError> {
    let Some(f) = field else {
        return Ok(defaults::VALIDITY_MONTHS);
    };
    if !(VALIDITY_MIN..=VALIDITY_MAX).contains(&f.value) {
        return Err(bad(messages::validity_months(&f.path, f.value)));
    }
    u32::try_from(f.value).map_err(|_| bad(messages::validity_months(&f.path, f.value)))
}

/// `basic_constraints`: Key Vault writes `{"ca": false}` in every policy;
/// `path_len` only makes sense beside `ca: true`.
fn basic_constraints(raw: &Raw) -> Result<BasicConstraints, PolicyError> {
    let ca = raw.ca.unwrap_or(false);
    let path_len = match &raw.path_len {
        None => None,
        Some(f) if !ca => return Err(bad(messages::path_len_without_ca(&f.path))),
        Some(f) => {
            Some(u8::try_from(f.value).map_err(|_| bad(messages::path_len(&f.path, f.value)))?)
        }
    };
    Ok(BasicConstraints { ca, path_len })
}

/// `Self` and `Unknown` in any case are normalised to Key Vault's spelling;
/// any other name must be a valid issuer name and keeps its case (whether
/// that issuer exists in the vault is checked when the policy is used).
fn issuer(raw: &Raw) -> Result<IssuerParameters, PolicyError> {
    let name = match &raw.issuer_name {
        None => defaults::ISSUER.to_string(),
        Some(f) => {
            if f.value.eq_ignore_ascii_case(defaults::ISSUER_SELF) {
                defaults::ISSUER_SELF.to_string()
            } else if f.value.eq_ignore_ascii_case(defaults::ISSUER_UNKNOWN) {
                defaults::ISSUER_UNKNOWN.to_string()
            } else if is_issuer_name(&f.value) {
                f.value.clone()
            } else {
                return Err(bad(messages::invalid_issuer_name(&f.path, &f.value)));
            }
        }
    };
    Ok(IssuerParameters {
        name,
        cert_type: raw
            .cty
            .as_ref()
            .filter(|f| !f.value.is_empty())
            .map(|f| f.value.clone()),
        cert_transparency: raw.cert_transparency,
    })
}

fn is_issuer_name(s: &str) -> bool {
    (1..=ISSUER_NAME_MAX).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Absent: the default action. Present: at most one entry; a missing
/// trigger means 80 % of the lifetime, a missing action the issuer's default.
///
/// `AutoRenew` is accepted for `Unknown`: certfs then makes a pending
/// version with a new CSR and mails the contacts (SPEC §7). Whether Key
/// Vault refuses it could not be confirmed, so certfs does not.
fn lifetime_actions(
    raw: &Raw,
    issuer: &str,
    validity_months: u32,
) -> Result<Vec<LifetimeAction>, PolicyError> {
    let Some(list) = &raw.lifetime_actions else {
        return Ok(defaults::lifetime_actions(issuer));
    };
    if list.value.len() > 1 {
        return Err(bad(messages::AT_MOST_ONE_ACTION));
    }
    list.value
        .iter()
        .map(|a| lifetime_action(a, issuer, validity_months))
        .collect()
}

fn lifetime_action(
    raw: &RawAction,
    issuer: &str,
    validity_months: u32,
) -> Result<LifetimeAction, PolicyError> {
    let trigger = match (&raw.lifetime_percentage, &raw.days_before_expiry) {
        (Some(_), Some(_)) => return Err(bad(messages::trigger_both(&raw.trigger_path))),
        (Some(p), None) => match u8::try_from(p.value) {
            Ok(v @ 1..=99) => Trigger::LifetimePercentage(v),
            _ => return Err(bad(messages::lifetime_percentage(&p.path, p.value))),
        },
        (None, Some(d)) => {
            let max = u64::from(validity_months) * DAYS_PER_MONTH;
            match u32::try_from(d.value) {
                Ok(v) if d.value >= 1 && d.value <= max => Trigger::DaysBeforeExpiry(v),
                _ => {
                    return Err(bad(messages::days_before_expiry(
                        &d.path,
                        d.value,
                        validity_months,
                    )));
                }
            }
        }
        (None, None) => Trigger::LifetimePercentage(defaults::LIFETIME_PERCENTAGE),
    };
    let action = match &raw.action_type {
        None => defaults::action(issuer),
        Some(f) => names::parse_action(&f.value)
            .ok_or_else(|| bad(messages::unknown_action(&f.path, &f.value)))?,
    };
    Ok(LifetimeAction { trigger, action })
}
