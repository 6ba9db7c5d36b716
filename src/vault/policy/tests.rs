//! Tests of `Policy`: dialects, defaults and rules, round trip, and hostile input.
//!
//! Almost every policy here has a subject, so these tests need a working
//! `DistinguishedName::parse` (implemented in the pki layer). Tests that
//! depend on *what* the parser accepts or says are marked `// needs DN parse`;
//! they compare against the parser's own result instead of hard-coding it.

mod dialects;
mod garbage;
mod roundtrip;
mod rules;

use super::messages::BAD_PARAMETER;
use super::{Policy, PolicyError};

/// The policy `az keyvault certificate get-default-policy` prints, verbatim.
const AZ_DEFAULT: &str = r#"{"issuerParameters":{"certificateTransparency":null,"certificateType":null,"name":"Self"},"keyProperties":{"curve":null,"exportable":true,"keySize":2048,"keyType":"RSA","reuseKey":true},"lifetimeActions":[{"action":{"actionType":"AutoRenew"},"trigger":{"daysBeforeExpiry":90}}],"secretProperties":{"contentType":"application/x-pkcs12"},"x509CertificateProperties":{"keyUsage":["cRLSign","dataEncipherment","digitalSignature","keyEncipherment","keyAgreement","keyCertSign"],"subject":"CN=CLIGetDefaultPolicy","validityInMonths":12}}"#;

/// A REST policy that sets every field.
const REST_FULL: &str = r#"{
  "id": "https://myvault.vault.azure.net/certificates/web/policy",
  "key_props": {"kty": "EC-HSM", "key_size": 384, "crv": "P-384", "exportable": false, "reuse_key": true},
  "secret_props": {"contentType": "application/x-pem-file"},
  "x509_props": {
    "subject": "CN=www.contoso.com, O=Contoso",
    "sans": {
      "dns_names": ["www.contoso.com", "contoso.com"],
      "emails": ["admin@contoso.com"],
      "upns": ["svc@contoso.com"],
      "ip_addresses": ["192.0.2.7", "2001:db8::1"],
      "uris": ["https://contoso.com/id"]
    },
    "ekus": ["1.3.6.1.5.5.7.3.1"],
    "key_usage": ["digitalSignature", "keyAgreement"],
    "validity_months": 24
  },
  "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "EmailContacts"}}],
  "issuer": {"name": "DigiCert-OV", "cty": "OV-SSL", "cert_transparency": true},
  "attributes": {"enabled": true, "created": 1482188947, "updated": 1482188947}
}"#;

/// [`REST_FULL`] in the az CLI / SDK shape.
const CLI_FULL: &str = r#"{
  "id": "https://myvault.vault.azure.net/certificates/web/policy",
  "keyProperties": {"keyType": "EC-HSM", "keySize": 384, "curve": "P-384", "exportable": false, "reuseKey": true},
  "secretProperties": {"contentType": "application/x-pem-file"},
  "x509CertificateProperties": {
    "subject": "CN=www.contoso.com, O=Contoso",
    "subjectAlternativeNames": {
      "dnsNames": ["www.contoso.com", "contoso.com"],
      "emails": ["admin@contoso.com"],
      "upns": ["svc@contoso.com"],
      "ipAddresses": ["192.0.2.7", "2001:db8::1"],
      "uris": ["https://contoso.com/id"]
    },
    "ekus": ["1.3.6.1.5.5.7.3.1"],
    "keyUsage": ["digitalSignature", "keyAgreement"],
    "validityInMonths": 24
  },
  "lifetimeActions": [{"action": {"actionType": "EmailContacts"}, "trigger": {"daysBeforeExpiry": 30}}],
  "issuerParameters": {"name": "DigiCert-OV", "certificateType": "OV-SSL", "certificateTransparency": true},
  "attributes": {"enabled": true, "created": null, "recoveryLevel": "Recoverable+Purgeable"}
}"#;

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(text.as_bytes())
}

/// Parses or fails the test with the refusal.
fn ok(text: &str) -> Policy {
    match parse(text) {
        Ok(p) => p,
        Err(e) => panic!("refused: {e:?}\n{text}"),
    }
}

/// The message of a refusal (checking Key Vault's code), or fails the test.
fn refused(text: &str) -> String {
    refused_bytes(text.as_bytes())
}

fn refused_bytes(bytes: &[u8]) -> String {
    match Policy::parse(bytes) {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => {
            assert_eq!(e.code, BAD_PARAMETER);
            e.message
        }
    }
}

/// A REST policy with subject `CN=example.com` and `x509_extra` /
/// `top_extra` spliced in (each a comma-led list of members, or empty).
fn rest(x509_extra: &str, top_extra: &str) -> String {
    format!(r#"{{"x509_props": {{"subject": "CN=example.com"{x509_extra}}}{top_extra}}}"#)
}
