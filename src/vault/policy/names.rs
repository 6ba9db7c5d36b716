//! Key Vault's spellings of the policy's enumerated values, both ways: matched case-insensitively in, canonical out.

use crate::pki::key::Curve;
use crate::pki::x509::KeyUsage;

use super::{ActionType, ContentType, KeyType};

const KEY_TYPES: &[(KeyType, &str)] = &[
    (KeyType::Rsa { hsm: false }, "RSA"),
    (KeyType::Rsa { hsm: true }, "RSA-HSM"),
    (KeyType::Ec { hsm: false }, "EC"),
    (KeyType::Ec { hsm: true }, "EC-HSM"),
];

/// Curves with their Key Vault name and their size in bits (`key_size`).
const CURVES: &[(Curve, &str, u64)] = &[
    (Curve::P256, "P-256", 256),
    (Curve::P384, "P-384", 384),
    (Curve::P521, "P-521", 521),
];

/// The curve Key Vault lists that certfs refuses.
pub(super) const SECP256K1_NAME: &str = "P-256K";

const CONTENT_TYPES: &[(ContentType, &str)] = &[
    (ContentType::Pkcs12, "application/x-pkcs12"),
    (ContentType::Pem, "application/x-pem-file"),
];

const KEY_USAGES: &[(KeyUsage, &str)] = &[
    (KeyUsage::DigitalSignature, "digitalSignature"),
    (KeyUsage::NonRepudiation, "nonRepudiation"),
    (KeyUsage::KeyEncipherment, "keyEncipherment"),
    (KeyUsage::DataEncipherment, "dataEncipherment"),
    (KeyUsage::KeyAgreement, "keyAgreement"),
    (KeyUsage::KeyCertSign, "keyCertSign"),
    (KeyUsage::CrlSign, "cRLSign"),
    (KeyUsage::EncipherOnly, "encipherOnly"),
    (KeyUsage::DecipherOnly, "decipherOnly"),
];

const ACTIONS: &[(ActionType, &str)] = &[
    (ActionType::AutoRenew, "AutoRenew"),
    (ActionType::EmailContacts, "EmailContacts"),
];

fn find<T: Copy>(table: &[(T, &str)], text: &str) -> Option<T> {
    table
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(text))
        .map(|(value, _)| *value)
}

fn name_of<T: PartialEq>(table: &[(T, &'static str)], value: &T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| v == value)
        .map_or("", |(_, name)| *name)
}

/// `RSA`, `rsa-hsm`, `Ec`...
pub(super) fn parse_kty(text: &str) -> Option<KeyType> {
    find(KEY_TYPES, text)
}

/// `RSA`, `RSA-HSM`, `EC` or `EC-HSM`.
pub(super) fn kty_name(kty: KeyType) -> &'static str {
    name_of(KEY_TYPES, &kty)
}

/// `P-256`, `p-384`, `P-521` (not `P-256K`, see [`SECP256K1_NAME`]).
pub(super) fn parse_curve(text: &str) -> Option<Curve> {
    CURVES
        .iter()
        .find(|(_, name, _)| name.eq_ignore_ascii_case(text))
        .map(|(c, _, _)| *c)
}

/// The curve of an EC `key_size`.
pub(super) fn curve_of_bits(bits: u64) -> Option<Curve> {
    CURVES
        .iter()
        .find(|(_, _, b)| *b == bits)
        .map(|(c, _, _)| *c)
}

/// `P-256`, `P-384` or `P-521`.
pub(super) fn curve_name(curve: Curve) -> &'static str {
    CURVES
        .iter()
        .find(|(c, _, _)| *c == curve)
        .map_or("", |(_, name, _)| *name)
}

/// 256, 384 or 521.
pub(super) fn curve_bits(curve: Curve) -> u64 {
    CURVES
        .iter()
        .find(|(c, _, _)| *c == curve)
        .map_or(0, |(_, _, bits)| *bits)
}

/// `application/x-pkcs12` or `application/x-pem-file`, any case.
pub(super) fn parse_content_type(text: &str) -> Option<ContentType> {
    find(CONTENT_TYPES, text)
}

/// The MIME type of a content type.
pub(super) fn content_type_name(ct: ContentType) -> &'static str {
    name_of(CONTENT_TYPES, &ct)
}

/// `digitalSignature`, `DIGITALSIGNATURE`, `crlsign`...
pub(super) fn parse_key_usage(text: &str) -> Option<KeyUsage> {
    find(KEY_USAGES, text)
}

/// Key Vault's camelCase name of a key usage.
pub(super) fn key_usage_name(usage: KeyUsage) -> &'static str {
    name_of(KEY_USAGES, &usage)
}

/// `AutoRenew` or `EmailContacts`, any case.
pub(super) fn parse_action(text: &str) -> Option<ActionType> {
    find(ACTIONS, text)
}

/// `AutoRenew` or `EmailContacts`.
pub(super) fn action_name(action: ActionType) -> &'static str {
    name_of(ACTIONS, &action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_value_in_any_case() {
        for (v, n) in KEY_TYPES {
            assert_eq!(parse_kty(&n.to_lowercase()), Some(*v));
            assert_eq!(kty_name(*v), *n);
        }
        for (c, n, bits) in CURVES {
            assert_eq!(parse_curve(&n.to_lowercase()), Some(*c));
            assert_eq!(curve_name(*c), *n);
            assert_eq!(curve_bits(*c), *bits);
            assert_eq!(curve_of_bits(*bits), Some(*c));
        }
        for (v, n) in CONTENT_TYPES {
            assert_eq!(parse_content_type(&n.to_uppercase()), Some(*v));
            assert_eq!(content_type_name(*v), *n);
        }
        for (v, n) in KEY_USAGES {
            assert_eq!(parse_key_usage(&n.to_uppercase()), Some(*v));
            assert_eq!(key_usage_name(*v), *n);
        }
        for (v, n) in ACTIONS {
            assert_eq!(parse_action(&n.to_lowercase()), Some(*v));
            assert_eq!(action_name(*v), *n);
        }
    }

    #[test]
    fn near_misses_are_not_names() {
        assert_eq!(parse_kty("RSA-2048"), None);
        assert_eq!(parse_kty("oct"), None);
        assert_eq!(parse_curve(SECP256K1_NAME), None);
        assert_eq!(parse_curve("P256"), None);
        assert_eq!(curve_of_bits(255), None);
        assert_eq!(parse_key_usage("digital_signature"), None);
        assert_eq!(parse_action("Renew"), None);
        assert_eq!(parse_content_type("application/pkcs12"), None);
    }
}
