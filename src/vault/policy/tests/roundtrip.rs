//! `to_json`: the exact REST text, determinism, and `parse(to_json(p)) == p` for policies of every kind.

use super::super::{KeyProperties, KeyType, Policy};
use super::{AZ_DEFAULT, CLI_FULL, REST_FULL, ok, rest};
use crate::pki::key::{Curve, KeySpec};

const DEFAULT_REST_TEXT: &str = r#"{
  "key_props": {
    "kty": "RSA",
    "key_size": 2048,
    "exportable": true,
    "reuse_key": false
  },
  "secret_props": {
    "contentType": "application/x-pkcs12"
  },
  "x509_props": {
    "subject": "CN=example.com",
    "ekus": [
      "1.3.6.1.5.5.7.3.1",
      "1.3.6.1.5.5.7.3.2"
    ],
    "key_usage": [
      "digitalSignature",
      "keyEncipherment"
    ],
    "validity_months": 12,
    "basic_constraints": {
      "ca": false
    }
  },
  "lifetime_actions": [
    {
      "trigger": {
        "lifetime_percentage": 80
      },
      "action": {
        "action_type": "EmailContacts"
      }
    }
  ],
  "issuer": {
    "name": "Unknown"
  }
}
"#;

#[test]
fn defaults_are_written_out_in_the_rest_shape() {
    assert_eq!(ok(&rest("", "")).to_json(), DEFAULT_REST_TEXT);
}

#[test]
fn the_az_default_is_written_in_the_rest_shape() {
    let text = ok(AZ_DEFAULT).to_json();
    let v: serde_json::Value = serde_json::from_str(&text).expect("to_json writes JSON");
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "issuer",
            "key_props",
            "lifetime_actions",
            "secret_props",
            "x509_props"
        ]
    );
    assert_eq!(v["key_props"]["reuse_key"], true);
    assert_eq!(
        v["lifetime_actions"][0]["trigger"]["days_before_expiry"],
        90
    );
    assert_eq!(
        v["lifetime_actions"][0]["action"]["action_type"],
        "AutoRenew"
    );
    assert_eq!(v["x509_props"]["key_usage"][0], "cRLSign");
    assert_eq!(v["issuer"], serde_json::json!({"name": "Self"}));
    assert!(text.ends_with("}\n"));
}

#[test]
fn every_field_is_written_with_key_vault_spellings() {
    let v: serde_json::Value = serde_json::from_str(&ok(REST_FULL).to_json()).expect("JSON");
    let want = serde_json::json!({
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
            "validity_months": 24,
            "basic_constraints": {"ca": false}
        },
        "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "EmailContacts"}}],
        "issuer": {"name": "DigiCert-OV", "cty": "OV-SSL", "cert_transparency": true}
    });
    assert_eq!(v, want);
}

#[test]
fn parse_of_to_json_gives_the_same_policy() {
    let sources = [
        AZ_DEFAULT.to_string(),
        REST_FULL.to_string(),
        CLI_FULL.to_string(),
        rest("", ""),
        rest(
            r#", "ekus": [], "key_usage": []"#,
            r#", "lifetime_actions": []"#,
        ),
        rest(
            "",
            r#", "key_props": {"kty": "rsa-hsm", "key_size": 4096}, "issuer": {"name": "self"}"#,
        ),
        rest("", r#", "key_props": {"kty": "EC", "key_size": 521}"#),
        r#"{"x509_props": {"sans": {"dns_names": ["a.example"], "uris": ["urn:a:b"]}}}"#
            .to_string(),
        r#"{"x509_props": {"subject": "", "sans": {"ip_addresses": ["::ffff:10.0.0.1"]}}}"#
            .to_string(),
        // needs DN parse: quoting and escaping kept verbatim.
        r#"{"x509_props": {"subject": "CN=a, OU=\"Docs, Contoso\", OU=Docs\\, B"}}"#.to_string(),
        rest(
            r#", "validity_months": 1"#,
            r#", "lifetime_actions": [{"trigger": {"days_before_expiry": 27}}]"#,
        ),
        rest(
            "",
            r#", "issuer": {"name": "Corp-CA", "cert_transparency": false}"#,
        ),
    ];
    for source in &sources {
        let policy = ok(source);
        let text = policy.to_json();
        assert_eq!(ok(&text), policy, "{text}");
        assert_eq!(ok(&text).to_json(), text, "to_json is deterministic");
        assert!(text.ends_with("\n") && !text.ends_with("\n\n"));
    }
}

#[test]
fn subject_text_is_kept_as_written() {
    // needs DN parse: spaces around separators are accepted.
    let p = ok(
        r#"{"x509_props": {"subject": "CN = learn.microsoft.com ,  O = Microsoft Corporation"}}"#,
    );
    assert!(
        p.to_json()
            .contains(r#""subject": "CN = learn.microsoft.com ,  O = Microsoft Corporation""#)
    );
}

#[test]
fn kty_follows_the_key_that_will_be_made() {
    let mut policy = ok(&rest("", r#", "key_props": {"kty": "RSA-HSM"}"#));
    policy.key = KeyProperties {
        kty: KeyType::Rsa { hsm: true },
        spec: KeySpec::Ec(Curve::P256),
        ..policy.key
    };
    policy.key_usage.clear();
    let text = policy.to_json();
    assert!(text.contains(r#""kty": "EC-HSM""#), "{text}");
    let back: Policy = ok(&text);
    assert_eq!(back.key.spec, KeySpec::Ec(Curve::P256));
    assert_eq!(back.key.kty, KeyType::Ec { hsm: true });
}

/// A policy as Key Vault's `GET …/certificates/{name}/policy` returns it.
const KEY_VAULT_GET: &str = r#"{"id":"https://myvault.vault.azure.net/certificates/web/policy","key_props":{"exportable":true,"kty":"RSA","key_size":2048,"reuse_key":false},"secret_props":{"contentType":"application/x-pkcs12"},"x509_props":{"subject":"CN=*.microsoft.com","sans":{},"ekus":["1.3.6.1.5.5.7.3.1","1.3.6.1.5.5.7.3.2"],"key_usage":["digitalSignature","keyEncipherment"],"validity_months":12,"basic_constraints":{"ca":false}},"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"AutoRenew"}}],"issuer":{"name":"Self"},"attributes":{"enabled":true,"created":1609459200,"updated":1609459200}}"#;

#[test]
fn a_policy_as_key_vault_returns_it_parses_and_reads_back_its_basic_constraints() {
    let p = ok(KEY_VAULT_GET);
    assert!(!p.basic_constraints.ca);
    let v: serde_json::Value = serde_json::from_str(&p.to_json()).expect("JSON");
    assert_eq!(
        v["x509_props"]["basic_constraints"],
        serde_json::json!({"ca": false})
    );
    assert_eq!(ok(&p.to_json()), p);
}

#[test]
fn a_ca_policy_keeps_its_path_length() {
    let p = ok(
        r#"{"x509_props":{"subject":"CN=Issuing CA","basic_constraints":{"ca":true,"path_len":0}}}"#,
    );
    assert!(p.basic_constraints.ca);
    assert_eq!(p.basic_constraints.path_len, Some(0));
    let v: serde_json::Value = serde_json::from_str(&p.to_json()).expect("JSON");
    assert_eq!(
        v["x509_props"]["basic_constraints"],
        serde_json::json!({"ca": true, "path_len": 0})
    );
    assert_eq!(ok(&p.to_json()), p);
    let cli = ok(
        r#"{"x509CertificateProperties":{"subject":"CN=Issuing CA","basicConstraints":{"ca":true,"pathLen":0}}}"#,
    );
    assert_eq!(cli.basic_constraints, p.basic_constraints);
}
