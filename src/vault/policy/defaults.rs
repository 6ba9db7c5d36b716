//! Key Vault's defaults for whatever a policy leaves out (SPEC §1).
//!
//! A field that is absent or `null` takes the default below. An empty array
//! that is written out (`"ekus": []`, `"key_usage": []`,
//! `"lifetime_actions": []`) is taken at its word and means "none", so that
//! a policy read back from `policy.json` parses to the same policy.

use crate::pki::key::{Curve, RsaSize};
use crate::pki::x509::KeyUsage;

use super::{ActionType, ContentType, KeyType, LifetimeAction, Trigger};

/// Key type when `kty` is absent.
pub const KEY_TYPE: KeyType = KeyType::Rsa { hsm: false };
/// RSA modulus when `key_size` is absent.
pub const RSA_SIZE: RsaSize = RsaSize::B2048;
/// EC curve when neither `crv` nor `key_size` is given.
pub const CURVE: Curve = Curve::P256;
/// Private keys may be exported unless the policy says otherwise.
pub const EXPORTABLE: bool = true;
/// Renewals make a new key unless the policy says otherwise.
pub const REUSE_KEY: bool = false;
/// The secret is PKCS#12 unless the policy says otherwise.
pub const CONTENT_TYPE: ContentType = ContentType::Pkcs12;
/// `1.3.6.1.5.5.7.3.1`, TLS Web Server Authentication.
pub const EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
/// `1.3.6.1.5.5.7.3.2`, TLS Web Client Authentication.
pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// Validity when `validity_months` is absent.
pub const VALIDITY_MONTHS: u32 = 12;
/// Issuer when the policy names none: the user gets the CSR signed.
pub const ISSUER: &str = "Unknown";
/// The built-in self-signing issuer, as Key Vault spells it.
pub const ISSUER_SELF: &str = "Self";
/// The built-in "sign it elsewhere" issuer, as Key Vault spells it.
pub const ISSUER_UNKNOWN: &str = "Unknown";
/// The lifetime percentage of the default lifetime action, and of a
/// lifetime action whose trigger is left out.
pub const LIFETIME_PERCENTAGE: u8 = 80;

/// serverAuth and clientAuth.
pub fn ekus() -> Vec<String> {
    vec![EKU_SERVER_AUTH.to_string(), EKU_CLIENT_AUTH.to_string()]
}

/// Key usage when `key_usage` is absent.
///
/// RSA: digitalSignature + keyEncipherment, as Key Vault. EC:
/// **digitalSignature only** (a certfs decision; SPEC §1 names only the RSA
/// default): an EC key cannot encrypt a key and certfs refuses
/// `keyEncipherment` for EC keys, so the RSA default would make every EC
/// policy without an explicit `key_usage` invalid. This is also what Key
/// Vault is observed to give EC certificates.
pub fn key_usage(kty: KeyType) -> Vec<KeyUsage> {
    match kty {
        KeyType::Rsa { .. } => vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment],
        KeyType::Ec { .. } => vec![KeyUsage::DigitalSignature],
    }
}

/// What a lifetime action does when the policy does not say: `EmailContacts`
/// for `Unknown` (certfs cannot get the CSR signed on its own), `AutoRenew`
/// for `Self` and for configured issuers. `issuer` is the normalised name.
pub fn action(issuer: &str) -> ActionType {
    if issuer == ISSUER_UNKNOWN {
        ActionType::EmailContacts
    } else {
        ActionType::AutoRenew
    }
}

/// The one lifetime action a policy without `lifetime_actions` gets: at
/// 80 % of the lifetime, [`action`] for its issuer.
pub fn lifetime_actions(issuer: &str) -> Vec<LifetimeAction> {
    vec![LifetimeAction {
        trigger: Trigger::LifetimePercentage(LIFETIME_PERCENTAGE),
        action: action(issuer),
    }]
}
