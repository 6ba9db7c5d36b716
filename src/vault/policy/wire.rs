//! The two JSON dialects of a policy, REST snake_case and az CLI/SDK camelCase, read into one raw form.
//!
//! The dialect is chosen by the top-level keys: `key_props`, `secret_props`,
//! `x509_props`, `lifetime_actions` and `issuer` say REST; `keyProperties`,
//! `secretProperties`, `x509CertificateProperties`, `lifetimeActions` and
//! `issuerParameters` say CLI. A document with keys of both is refused, and
//! so is a nested key in the other dialect's spelling (`key_props.keyType`).
//! `attributes` and `id`, which both shapes carry when a policy is copied
//! from Key Vault's output, are accepted and ignored. Keys are matched
//! exactly (case-sensitively); a near miss gets a "did you mean" hint.
//!
//! [`Raw`] holds what the document says and nothing more: no defaults, no
//! rules. Those are in [`super::rules`].

use serde_json::{Map, Value};

use super::PolicyError;
use super::json::{Dialect, Field, Key, Kind, Obj};
use super::messages::{self, bad};

const KEY_PROPS: Key = Key::new("key_props", "keyProperties");
const SECRET_PROPS: Key = Key::new("secret_props", "secretProperties");
const X509_PROPS: Key = Key::new("x509_props", "x509CertificateProperties");
const LIFETIME_ACTIONS: Key = Key::new("lifetime_actions", "lifetimeActions");
const ISSUER: Key = Key::new("issuer", "issuerParameters");
const ATTRIBUTES: Key = Key::same("attributes");
const ID: Key = Key::same("id");
const TOP: &[Key] = &[
    KEY_PROPS,
    SECRET_PROPS,
    X509_PROPS,
    LIFETIME_ACTIONS,
    ISSUER,
    ATTRIBUTES,
    ID,
];

const KTY: Key = Key::new("kty", "keyType");
const KEY_SIZE: Key = Key::new("key_size", "keySize");
const CRV: Key = Key::new("crv", "curve");
const EXPORTABLE: Key = Key::same("exportable");
const REUSE_KEY: Key = Key::new("reuse_key", "reuseKey");
const KEY_SCHEMA: &[Key] = &[KTY, KEY_SIZE, CRV, EXPORTABLE, REUSE_KEY];

const CONTENT_TYPE: Key = Key::same("contentType");
const SECRET_SCHEMA: &[Key] = &[CONTENT_TYPE];

const SUBJECT: Key = Key::same("subject");
const SANS: Key = Key::new("sans", "subjectAlternativeNames");
const EKUS: Key = Key::same("ekus");
const KEY_USAGE: Key = Key::new("key_usage", "keyUsage");
const VALIDITY: Key = Key::new("validity_months", "validityInMonths");
const BASIC_CONSTRAINTS: Key = Key::new("basic_constraints", "basicConstraints");
const X509_SCHEMA: &[Key] = &[SUBJECT, SANS, EKUS, KEY_USAGE, VALIDITY, BASIC_CONSTRAINTS];

const CA: Key = Key::same("ca");
const PATH_LEN: Key = Key::new("path_len", "pathLen");
const BASIC_CONSTRAINTS_SCHEMA: &[Key] = &[CA, PATH_LEN];

const DNS_NAMES: Key = Key::new("dns_names", "dnsNames");
const EMAILS: Key = Key::same("emails");
const UPNS: Key = Key::same("upns");
const IP_ADDRESSES: Key = Key::new("ip_addresses", "ipAddresses");
const URIS: Key = Key::same("uris");
const SANS_SCHEMA: &[Key] = &[DNS_NAMES, EMAILS, UPNS, IP_ADDRESSES, URIS];

const TRIGGER: Key = Key::same("trigger");
const ACTION: Key = Key::same("action");
const ACTION_SCHEMA: &[Key] = &[TRIGGER, ACTION];
const PERCENTAGE: Key = Key::new("lifetime_percentage", "lifetimePercentage");
const DAYS: Key = Key::new("days_before_expiry", "daysBeforeExpiry");
const TRIGGER_SCHEMA: &[Key] = &[PERCENTAGE, DAYS];
const ACTION_TYPE: Key = Key::new("action_type", "actionType");
const ACTION_TYPE_SCHEMA: &[Key] = &[ACTION_TYPE];

const NAME: Key = Key::same("name");
const CTY: Key = Key::new("cty", "certificateType");
const TRANSPARENCY: Key = Key::new("cert_transparency", "certificateTransparency");
const ISSUER_SCHEMA: &[Key] = &[NAME, CTY, TRANSPARENCY];

/// Subject alternative names as written.
#[derive(Debug, Default)]
pub(super) struct RawSans {
    pub dns_names: Vec<Field<String>>,
    pub emails: Vec<Field<String>>,
    pub upns: Vec<Field<String>>,
    pub ip_addresses: Vec<Field<String>>,
    pub uris: Vec<Field<String>>,
}

/// One lifetime action as written.
#[derive(Debug)]
pub(super) struct RawAction {
    /// Path of the trigger object, for "not both" messages.
    pub trigger_path: String,
    pub lifetime_percentage: Option<Field<u64>>,
    pub days_before_expiry: Option<Field<u64>>,
    pub action_type: Option<Field<String>>,
}

/// Everything the document says, nothing filled in.
#[derive(Debug, Default)]
pub(super) struct Raw {
    pub kty: Option<Field<String>>,
    pub key_size: Option<Field<u64>>,
    pub crv: Option<Field<String>>,
    pub exportable: Option<bool>,
    pub reuse_key: Option<bool>,
    pub content_type: Option<Field<String>>,
    pub subject: Option<Field<String>>,
    pub sans: RawSans,
    pub ekus: Option<Vec<Field<String>>>,
    pub key_usage: Option<Vec<Field<String>>>,
    pub validity_months: Option<Field<u64>>,
    /// `basic_constraints.ca`.
    pub ca: Option<bool>,
    /// `basic_constraints.path_len`.
    pub path_len: Option<Field<u64>>,
    /// The array's path and its entries.
    pub lifetime_actions: Option<Field<Vec<RawAction>>>,
    pub issuer_name: Option<Field<String>>,
    pub cty: Option<Field<String>>,
    pub cert_transparency: Option<bool>,
}

/// Reads a policy object in either dialect.
pub(super) fn read(root: &Map<String, Value>) -> Result<Raw, PolicyError> {
    let (dialect, chosen_by) = detect(root)?;
    let top = Obj::root(root, dialect, chosen_by);
    top.check_keys(TOP)?;
    top.ignored(ATTRIBUTES, Kind::Object)?;
    top.ignored(ID, Kind::String)?;

    let mut raw = Raw::default();
    if let Some(key) = top.object(KEY_PROPS)? {
        key.check_keys(KEY_SCHEMA)?;
        raw.kty = key.string(KTY)?;
        raw.key_size = key.uint(KEY_SIZE)?;
        raw.crv = key.string(CRV)?;
        raw.exportable = key.boolean(EXPORTABLE)?;
        raw.reuse_key = key.boolean(REUSE_KEY)?;
    }
    if let Some(secret) = top.object(SECRET_PROPS)? {
        secret.check_keys(SECRET_SCHEMA)?;
        raw.content_type = secret.string(CONTENT_TYPE)?;
    }
    if let Some(x509) = top.object(X509_PROPS)? {
        read_x509(&x509, &mut raw)?;
    }
    if let Some(actions) = top.objects(LIFETIME_ACTIONS)? {
        let mut out = Vec::with_capacity(actions.value.len());
        for action in &actions.value {
            out.push(read_action(action)?);
        }
        raw.lifetime_actions = Some(Field {
            path: actions.path,
            value: out,
        });
    }
    if let Some(issuer) = top.object(ISSUER)? {
        issuer.check_keys(ISSUER_SCHEMA)?;
        raw.issuer_name = issuer.string(NAME)?;
        raw.cty = issuer.string(CTY)?;
        raw.cert_transparency = issuer.boolean(TRANSPARENCY)?;
    }
    Ok(raw)
}

/// Picks the dialect from the top-level keys; refuses a document with both.
fn detect(root: &Map<String, Value>) -> Result<(Dialect, &'static str), PolicyError> {
    let rest = TOP
        .iter()
        .find(|k| k.rest != k.cli && root.contains_key(k.rest));
    let cli = TOP
        .iter()
        .find(|k| k.rest != k.cli && root.contains_key(k.cli));
    match (rest, cli) {
        (Some(r), Some(c)) => Err(bad(messages::mixed_dialects(r.rest, c.cli))),
        (None, Some(c)) => Ok((Dialect::Cli, c.cli)),
        (Some(r), None) => Ok((Dialect::Rest, r.rest)),
        (None, None) => Ok((Dialect::Rest, "")),
    }
}

fn read_x509(x509: &Obj<'_>, raw: &mut Raw) -> Result<(), PolicyError> {
    x509.check_keys(X509_SCHEMA)?;
    raw.subject = x509.string(SUBJECT)?;
    raw.ekus = x509.strings(EKUS)?;
    raw.key_usage = x509.strings(KEY_USAGE)?;
    raw.validity_months = x509.uint(VALIDITY)?;
    if let Some(constraints) = x509.object(BASIC_CONSTRAINTS)? {
        constraints.check_keys(BASIC_CONSTRAINTS_SCHEMA)?;
        raw.ca = constraints.boolean(CA)?;
        raw.path_len = constraints.uint(PATH_LEN)?;
    }
    if let Some(sans) = x509.object(SANS)? {
        sans.check_keys(SANS_SCHEMA)?;
        raw.sans = RawSans {
            dns_names: sans.strings(DNS_NAMES)?.unwrap_or_default(),
            emails: sans.strings(EMAILS)?.unwrap_or_default(),
            upns: sans.strings(UPNS)?.unwrap_or_default(),
            ip_addresses: sans.strings(IP_ADDRESSES)?.unwrap_or_default(),
            uris: sans.strings(URIS)?.unwrap_or_default(),
        };
    }
    Ok(())
}

fn read_action(entry: &Obj<'_>) -> Result<RawAction, PolicyError> {
    entry.check_keys(ACTION_SCHEMA)?;
    let mut raw = RawAction {
        trigger_path: format!("{}.{}", entry.path(), TRIGGER.rest),
        lifetime_percentage: None,
        days_before_expiry: None,
        action_type: None,
    };
    if let Some(trigger) = entry.object(TRIGGER)? {
        trigger.check_keys(TRIGGER_SCHEMA)?;
        raw.lifetime_percentage = trigger.uint(PERCENTAGE)?;
        raw.days_before_expiry = trigger.uint(DAYS)?;
    }
    if let Some(action) = entry.object(ACTION)? {
        action.check_keys(ACTION_TYPE_SCHEMA)?;
        raw.action_type = action.string(ACTION_TYPE)?;
    }
    Ok(raw)
}
