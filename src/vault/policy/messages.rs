//! Every message a rejected policy can carry, in one place, worded the way Key Vault words them.
//!
//! Fixed texts are constants; texts that name a field or a value are small
//! functions. `path` is always the field as the user spelled it, in the
//! dialect they wrote (`x509_props.validity_months` or
//! `x509CertificateProperties.validityInMonths`), so the message points at
//! the line to fix. The tests compare against these same items.

use crate::pki::PkiError;

use super::PolicyError;

/// Key Vault's error code for a request it refuses because of its content.
pub const BAD_PARAMETER: &str = "BadParameter";

/// A [`PolicyError`] with Key Vault's `BadParameter` code.
pub(super) fn bad(message: impl Into<String>) -> PolicyError {
    PolicyError {
        code: BAD_PARAMETER,
        message: message.into(),
    }
}

/// Input over the size limit.
pub const TOO_LARGE: &str =
    "The policy is larger than 1 MiB; a certificate policy is a small JSON object.";
/// Input that is not UTF-8.
pub const NOT_UTF8: &str = "The policy is not UTF-8 text; write it as a JSON object.";
/// Input with nothing but white space.
pub const EMPTY: &str = "The policy is empty; write a JSON object such as {\"x509_props\": {\"subject\": \"CN=example.com\"}}.";
/// Valid JSON that is not an object.
pub const NOT_OBJECT: &str = "The policy must be a JSON object.";
/// Neither a subject nor a subject alternative name.
pub const SUBJECT_OR_SANS_REQUIRED: &str =
    "The policy must have a subject or at least one subject alternative name.";
/// Key Vault's own wording for a subject that is not an X.500 name.
pub const INVALID_X500_NAME: &str = "The subject name provided is not a valid X500 name";
/// Key Vault's own wording for more than one lifetime action.
pub const AT_MOST_ONE_ACTION: &str =
    "At most one action is allowed: only one lifetime action is allowed in a policy.";
/// `keyEncipherment` asked for an EC key.
pub const EC_KEY_ENCIPHERMENT: &str = "EC keys cannot have the keyEncipherment key usage; use digitalSignature (and keyAgreement) for EC keys.";
/// The curve Key Vault lists but certfs does not generate.
pub const SECP256K1: &str = "Curve P-256K: secp256k1 is not supported; use P-256, P-384 or P-521.";

/// The most characters a subject may have.
pub const SUBJECT_MAX_CHARS: usize = 200;

/// The longest excerpt of a user's value that a message quotes.
const SHOWN_MAX_CHARS: usize = 80;

/// `value` as quoted in a message: cut at [`SHOWN_MAX_CHARS`] characters
/// (with `…`), so a huge value does not make a huge message. PEM text is
/// never quoted: a key pasted into the wrong field must not reach the log
/// or the `.error` file, not even its first line.
fn shown(value: &str) -> String {
    if value.contains("-----BEGIN") {
        return "(PEM text, not shown)".to_string();
    }
    match value.char_indices().nth(SHOWN_MAX_CHARS) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

/// Text that is not JSON at all (serde_json's reason, with line and column).
pub fn not_json(reason: &serde_json::Error) -> String {
    format!("The policy is not valid JSON: {reason}.")
}

/// Keys of both dialects in one document.
pub fn mixed_dialects(rest_key: &str, cli_key: &str) -> String {
    format!(
        "The policy mixes {REST_SHAPE} (`{rest_key}`) with {CLI_SHAPE} (`{cli_key}`); write the whole policy in one shape."
    )
}

/// What [`mixed_dialects`] and [`other_dialect_key`] call the REST wire shape.
pub const REST_SHAPE: &str = "the REST shape";
/// What [`mixed_dialects`] and [`other_dialect_key`] call the az CLI / SDK shape.
pub const CLI_SHAPE: &str = "the az CLI/SDK shape";

/// A nested key spelled as in the other dialect than the document's:
/// `shape` is the document's ([`REST_SHAPE`] or [`CLI_SHAPE`]), `other` the
/// one the key belongs to, `chosen_by` the top-level key that chose `shape`.
pub fn other_dialect_key(
    path: &str,
    ours: &str,
    shape: &str,
    other: &str,
    chosen_by: &str,
) -> String {
    format!(
        "`{path}` is spelled as in {other}, but this policy is in {shape} (it has `{chosen_by}`), where it is `{ours}`; write the whole policy in one shape."
    )
}

/// A key no dialect knows.
pub fn unknown_field(path: &str, allowed: &[&str], hint: Option<&str>) -> String {
    let path = shown(path);
    match hint {
        Some(h) => format!("Unknown field `{path}`; did you mean `{h}`?"),
        None => format!(
            "Unknown field `{path}`; expected one of: {}.",
            allowed.join(", ")
        ),
    }
}

/// A value of the wrong JSON type.
pub fn wrong_type(path: &str, expected: &str, found: &str) -> String {
    format!("`{path}` must be {expected}, not {found}.")
}

/// A negative number where a count is expected.
pub fn negative(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` must not be negative (it is {value}).")
}

/// A number far too large for any count.
pub fn too_large(path: &str, value: &str) -> String {
    format!("`{path}` is far too large (it is {value}).")
}

/// A fraction where a whole number is expected.
pub fn not_integer(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` must be a whole number (it is {value}).")
}

/// A subject over [`SUBJECT_MAX_CHARS`].
pub fn subject_too_long(path: &str, chars: usize) -> String {
    format!(
        "`{path}` is {chars} characters long; a subject may have at most {SUBJECT_MAX_CHARS} characters."
    )
}

/// A subject that [`DistinguishedName::parse`](crate::pki::dn::DistinguishedName::parse) refused.
pub fn invalid_subject(reason: &PkiError) -> String {
    let reason = match reason {
        PkiError::InvalidName(m) => m.clone(),
        other => other.to_string(),
    };
    format!("{INVALID_X500_NAME}: {reason}")
}

/// `kty` that is neither RSA nor EC.
pub fn unsupported_kty(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}'; the key type must be RSA, RSA-HSM, EC or EC-HSM.")
}

/// A curve name that is not one of Key Vault's.
pub fn unsupported_curve(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}'; the curve must be P-256, P-384 or P-521.")
}

/// A curve given for an RSA key.
pub fn curve_for_rsa(path: &str) -> String {
    format!("`{path}` is only valid for EC keys; remove it or set the key type to EC.")
}

/// An RSA size Key Vault does not offer.
pub fn rsa_key_size(path: &str, value: u64) -> String {
    format!("`{path}` is {value}; RSA keys must be 2048, 3072 or 4096 bits.")
}

/// An EC key size that is not the curve's.
pub fn ec_key_size(path: &str, value: u64, curve: &str, bits: u64) -> String {
    format!("`{path}` is {value}, which does not match curve {curve} ({bits} bits).")
}

/// An EC key size that belongs to no curve.
pub fn ec_key_size_unknown(path: &str, value: u64) -> String {
    format!("`{path}` is {value}; EC keys are 256 (P-256), 384 (P-384) or 521 (P-521) bits.")
}

/// A secret content type other than PKCS#12 or PEM.
pub fn content_type(path: &str, value: &str) -> String {
    let value = shown(value);
    format!(
        "`{path}` is '{value}'; the content type must be application/x-pkcs12 or application/x-pem-file."
    )
}

/// `validity_months` out of 1..=1200.
pub fn validity_months(path: &str, value: u64) -> String {
    format!("`{path}` is {value}; the validity must be between 1 and 1200 months.")
}

/// `basic_constraints.path_len` on a certificate that is not a CA.
pub fn path_len_without_ca(path: &str) -> String {
    format!("`{path}` limits the CAs below a CA certificate; it needs `ca: true` beside it.")
}

/// `basic_constraints.path_len` out of 0..=255.
pub fn path_len(path: &str, value: u64) -> String {
    format!("`{path}` is {value}; a path length must be between 0 and 255.")
}

/// A key usage name Key Vault does not know.
pub fn unknown_key_usage(path: &str, value: &str) -> String {
    let value = shown(value);
    format!(
        "`{path}` is '{value}'; key usages are digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly and decipherOnly."
    )
}

/// An EKU that is not a dotted OID.
pub fn invalid_eku(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}', which is not a dotted OID such as 1.3.6.1.5.5.7.3.1.")
}

/// An issuer name that is neither built in nor a valid issuer name.
pub fn invalid_issuer_name(path: &str, value: &str) -> String {
    let value = shown(value);
    format!(
        "`{path}` is '{value}'; the issuer must be Self, Unknown or the name of an issuer: 1-127 characters 0-9, a-z, A-Z and -."
    )
}

/// `lifetime_percentage` out of 1..=99.
pub fn lifetime_percentage(path: &str, value: u64) -> String {
    format!("`{path}` is {value}; the lifetime percentage must be between 1 and 99.")
}

/// `days_before_expiry` out of 1..=27 × validity_months.
pub fn days_before_expiry(path: &str, value: u64, validity_months: u32) -> String {
    let max = u64::from(validity_months) * 27;
    format!(
        "`{path}` is {value}; days before expiry must be between 1 and {max} (27 × validity_months, which is {validity_months})."
    )
}

/// A trigger with both kinds set.
pub fn trigger_both(path: &str) -> String {
    format!("`{path}` must have either a lifetime percentage or days before expiry, not both.")
}

/// An action type Key Vault does not know.
pub fn unknown_action(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}'; the action type must be AutoRenew or EmailContacts.")
}

/// A DNS name that is empty, not ASCII or holds white space.
pub fn invalid_dns_name(path: &str, value: &str) -> String {
    let value = shown(value);
    format!(
        "`{path}` is '{value}', which is not a DNS name (letters, digits, hyphens and dots, an optional leading '*.', labels of at most 63 and names of at most 253 characters)."
    )
}

/// An e-mail address without exactly one `@` between two non-empty parts.
pub fn invalid_email(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}', which is not an e-mail address (local part, one @, domain).")
}

/// An empty user principal name.
pub fn invalid_upn(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}', which is not a user principal name (name@domain).")
}

/// Text that is not an IPv4 or IPv6 address.
pub fn invalid_ip(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}', which is not an IPv4 or IPv6 address.")
}

/// A URI without a scheme (or with white space).
pub fn invalid_uri(path: &str, value: &str) -> String {
    let value = shown(value);
    format!("`{path}` is '{value}', which is not a URI with a scheme such as https://example.com/.")
}
