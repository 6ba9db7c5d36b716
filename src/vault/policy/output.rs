//! The policy written back in Key Vault's REST shape, as `policy.json` reads: every default filled in, fixed key order.
//!
//! Key order follows Key Vault's own responses: `key_props`, `secret_props`,
//! `x509_props`, `lifetime_actions`, `issuer`. Optional parts are left out
//! when empty: `subject` when there is none, `sans` and each of its lists
//! when empty, `crv` for RSA keys, `cty` and `cert_transparency` when unset.
//! `basic_constraints` is always written (`{"ca": false}` as Key Vault does).
//! Lists that have a default (`ekus`, `key_usage`, `lifetime_actions`) are
//! always written, even empty, because an empty list means "none" when read
//! back (see [`super::defaults`]).

use serde::Serialize;

use crate::pki::key::{KeySpec, RsaSize};
use crate::pki::x509::SubjectAltNames;

use super::{KeyType, Policy, Trigger, names};

#[derive(Serialize)]
struct Wire<'a> {
    key_props: KeyProps,
    secret_props: SecretProps,
    x509_props: X509Props<'a>,
    lifetime_actions: Vec<Action>,
    issuer: Issuer<'a>,
}

#[derive(Serialize)]
struct KeyProps {
    kty: &'static str,
    key_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'static str>,
    exportable: bool,
    reuse_key: bool,
}

#[derive(Serialize)]
struct SecretProps {
    #[serde(rename = "contentType")]
    content_type: &'static str,
}

#[derive(Serialize)]
struct X509Props<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sans: Option<Sans<'a>>,
    ekus: &'a [String],
    key_usage: Vec<&'static str>,
    validity_months: u32,
    basic_constraints: BasicConstraintsWire,
}

#[derive(Serialize)]
struct BasicConstraintsWire {
    ca: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_len: Option<u8>,
}

#[derive(Serialize)]
struct Sans<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dns_names: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    emails: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    upns: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ip_addresses: Vec<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    uris: &'a [String],
}

#[derive(Serialize)]
struct Action {
    trigger: TriggerWire,
    action: ActionWire,
}

#[derive(Serialize)]
struct TriggerWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime_percentage: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days_before_expiry: Option<u32>,
}

#[derive(Serialize)]
struct ActionWire {
    action_type: &'static str,
}

#[derive(Serialize)]
struct Issuer<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_transparency: Option<bool>,
}

/// `policy` in the REST shape, pretty-printed with two-space indents, ending in `\n`.
pub(super) fn to_json(policy: &Policy) -> String {
    let wire = Wire {
        key_props: key_props(policy),
        secret_props: SecretProps {
            content_type: names::content_type_name(policy.content_type),
        },
        x509_props: X509Props {
            subject: policy.subject.as_ref().map(|s| s.text.as_str()),
            sans: sans(&policy.sans),
            ekus: &policy.ekus,
            key_usage: policy
                .key_usage
                .iter()
                .map(|u| names::key_usage_name(*u))
                .collect(),
            validity_months: policy.validity_months,
            basic_constraints: BasicConstraintsWire {
                ca: policy.basic_constraints.ca,
                path_len: policy.basic_constraints.path_len,
            },
        },
        lifetime_actions: policy
            .lifetime_actions
            .iter()
            .map(|a| Action {
                trigger: match a.trigger {
                    Trigger::LifetimePercentage(p) => TriggerWire {
                        lifetime_percentage: Some(p),
                        days_before_expiry: None,
                    },
                    Trigger::DaysBeforeExpiry(d) => TriggerWire {
                        lifetime_percentage: None,
                        days_before_expiry: Some(d),
                    },
                },
                action: ActionWire {
                    action_type: names::action_name(a.action),
                },
            })
            .collect(),
        issuer: Issuer {
            name: &policy.issuer.name,
            cty: policy.issuer.cert_type.as_deref(),
            cert_transparency: policy.issuer.cert_transparency,
        },
    };
    // Infallible: the value holds only strings, integers, booleans and
    // sequences under fixed string keys, written into a Vec.
    let mut text = serde_json::to_string_pretty(&wire)
        .expect("serialising plain strings, numbers and booleans cannot fail");
    text.push('\n');
    text
}

/// `kty` follows the key that will be generated (`spec`); `kty` only adds
/// the `-HSM` suffix, so a hand-built policy whose two disagree still reads
/// back as the key it would make.
fn key_props(policy: &Policy) -> KeyProps {
    let hsm = match policy.key.kty {
        KeyType::Rsa { hsm } | KeyType::Ec { hsm } => hsm,
    };
    let (kty, key_size, crv) = match policy.key.spec {
        KeySpec::Rsa(size) => (
            KeyType::Rsa { hsm },
            match size {
                RsaSize::B2048 => 2048,
                RsaSize::B3072 => 3072,
                RsaSize::B4096 => 4096,
            },
            None,
        ),
        KeySpec::Ec(curve) => (
            KeyType::Ec { hsm },
            names::curve_bits(curve),
            Some(names::curve_name(curve)),
        ),
    };
    KeyProps {
        kty: names::kty_name(kty),
        key_size,
        crv,
        exportable: policy.key.exportable,
        reuse_key: policy.key.reuse_key,
    }
}

fn sans(sans: &SubjectAltNames) -> Option<Sans<'_>> {
    if sans.is_empty() {
        return None;
    }
    Some(Sans {
        dns_names: &sans.dns_names,
        emails: &sans.emails,
        upns: &sans.upns,
        ip_addresses: sans.ip_addresses.iter().map(|ip| ip.to_string()).collect(),
        uris: &sans.uris,
    })
}
