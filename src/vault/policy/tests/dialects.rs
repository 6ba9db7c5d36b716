//! Both JSON dialects: the az default verbatim, every field in each shape, nulls, tolerated keys, mixing and wrong types.

use super::super::messages;
use super::super::{ActionType, ContentType, KeyType, LifetimeAction, Trigger};
use super::{AZ_DEFAULT, CLI_FULL, REST_FULL, ok, refused, rest};
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, RsaSize};
use crate::pki::x509::KeyUsage;

#[test]
fn az_default_policy_parses_verbatim() {
    let p = ok(AZ_DEFAULT);
    assert_eq!(p.key.kty, KeyType::Rsa { hsm: false });
    assert_eq!(p.key.spec, KeySpec::Rsa(RsaSize::B2048));
    assert!(p.key.exportable);
    assert!(p.key.reuse_key);
    assert_eq!(p.content_type, ContentType::Pkcs12);
    let subject = p.subject.as_ref().map(|s| s.text.as_str());
    assert_eq!(subject, Some("CN=CLIGetDefaultPolicy"));
    assert_eq!(
        p.key_usage,
        [
            KeyUsage::CrlSign,
            KeyUsage::DataEncipherment,
            KeyUsage::DigitalSignature,
            KeyUsage::KeyEncipherment,
            KeyUsage::KeyAgreement,
            KeyUsage::KeyCertSign,
        ]
    );
    assert_eq!(p.ekus, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert_eq!(p.validity_months, 12);
    assert_eq!(
        p.lifetime_actions,
        [LifetimeAction {
            trigger: Trigger::DaysBeforeExpiry(90),
            action: ActionType::AutoRenew,
        }]
    );
    assert_eq!(p.issuer.name, "Self");
    assert_eq!(p.issuer.cert_type, None);
    assert_eq!(p.issuer.cert_transparency, None);
    assert!(p.sans.is_empty());
}

#[test]
fn rest_shape_reads_every_field() {
    let p = ok(REST_FULL);
    assert_eq!(p.key.kty, KeyType::Ec { hsm: true });
    assert_eq!(p.key.spec, KeySpec::Ec(Curve::P384));
    assert!(!p.key.exportable);
    assert!(p.key.reuse_key);
    assert_eq!(p.content_type, ContentType::Pem);
    let subject = p.subject.as_ref().map(|s| s.text.as_str());
    assert_eq!(subject, Some("CN=www.contoso.com, O=Contoso"));
    assert_eq!(p.sans.dns_names, ["www.contoso.com", "contoso.com"]);
    assert_eq!(p.sans.emails, ["admin@contoso.com"]);
    assert_eq!(p.sans.upns, ["svc@contoso.com"]);
    let ips: Vec<String> = p.sans.ip_addresses.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, ["192.0.2.7", "2001:db8::1"]);
    assert_eq!(p.sans.uris, ["https://contoso.com/id"]);
    assert_eq!(p.ekus, ["1.3.6.1.5.5.7.3.1"]);
    assert_eq!(
        p.key_usage,
        [KeyUsage::DigitalSignature, KeyUsage::KeyAgreement]
    );
    assert_eq!(p.validity_months, 24);
    assert_eq!(
        p.lifetime_actions,
        [LifetimeAction {
            trigger: Trigger::DaysBeforeExpiry(30),
            action: ActionType::EmailContacts,
        }]
    );
    assert_eq!(p.issuer.name, "DigiCert-OV");
    assert_eq!(p.issuer.cert_type.as_deref(), Some("OV-SSL"));
    assert_eq!(p.issuer.cert_transparency, Some(true));
}

#[test]
fn cli_shape_reads_to_the_same_policy() {
    assert_eq!(ok(CLI_FULL), ok(REST_FULL));
}

#[test]
fn subject_is_parsed_with_the_dn_parser() {
    // needs DN parse: compares with the parser's own result.
    let text = r#"CN=www.contosoHRApp.com, OU=\"Docs, Contoso\", DC=Contoso"#;
    let p = ok(&format!(r#"{{"x509_props": {{"subject": "{text}"}}}}"#));
    let subject = p.subject.as_ref().map(|s| (s.text.as_str(), &s.name));
    let expected =
        DistinguishedName::parse(r#"CN=www.contosoHRApp.com, OU="Docs, Contoso", DC=Contoso"#);
    assert_eq!(
        subject,
        Some((
            r#"CN=www.contosoHRApp.com, OU="Docs, Contoso", DC=Contoso"#,
            &expected.expect("the DN parser accepts Key Vault's documented example")
        ))
    );
}

#[test]
fn key_vault_rest_sample_with_empty_lists_and_attributes() {
    // Key Vault's UpdateCertificatePolicy sample request body.
    let p = ok(r#"{
      "key_props": {"exportable": true, "kty": "RSA", "key_size": 2048, "reuse_key": false},
      "secret_props": {"contentType": "application/x-pkcs12"},
      "x509_props": {"subject": "CN=KeyVaultTest", "ekus": [], "key_usage": [], "validity_months": 297},
      "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "EmailContacts"}}],
      "issuer": {"name": "Self"},
      "attributes": {"enabled": true}
    }"#);
    assert!(p.ekus.is_empty());
    assert!(p.key_usage.is_empty());
    assert_eq!(p.validity_months, 297);
    assert_eq!(p.issuer.name, "Self");
}

#[test]
fn null_anywhere_means_absent() {
    let with_nulls = ok(r#"{
      "id": null, "attributes": null,
      "key_props": {"kty": null, "key_size": null, "crv": null, "exportable": null, "reuse_key": null},
      "secret_props": {"contentType": null},
      "x509_props": {"subject": "CN=example.com", "sans": {"dns_names": null, "emails": [null]},
                     "ekus": null, "key_usage": null, "validity_months": null},
      "lifetime_actions": null,
      "issuer": {"name": null, "cty": null, "cert_transparency": null}
    }"#);
    assert_eq!(with_nulls, ok(&rest("", "")));
    let null_parts = ok(r#"{"key_props": null, "secret_props": null, "issuer": null,
        "x509_props": {"subject": "CN=example.com", "sans": null}, "lifetime_actions": [null]}"#);
    assert!(null_parts.lifetime_actions.is_empty());
    assert_eq!(null_parts.issuer.name, "Unknown");
}

#[test]
fn enum_values_match_case_insensitively() {
    let p = ok(&rest(
        r#", "key_usage": ["DIGITALSIGNATURE", "keyagreement", "CRLSIGN"]"#,
        r#", "key_props": {"kty": "ec-hsm", "crv": "p-521"},
           "secret_props": {"contentType": "Application/X-PEM-File"},
           "lifetime_actions": [{"action": {"action_type": "autorenew"}}],
           "issuer": {"name": "SELF"}"#,
    ));
    assert_eq!(p.key.kty, KeyType::Ec { hsm: true });
    assert_eq!(p.key.spec, KeySpec::Ec(Curve::P521));
    assert_eq!(p.content_type, ContentType::Pem);
    assert_eq!(
        p.key_usage,
        [
            KeyUsage::DigitalSignature,
            KeyUsage::KeyAgreement,
            KeyUsage::CrlSign
        ]
    );
    assert_eq!(p.lifetime_actions[0].action, ActionType::AutoRenew);
    assert_eq!(p.issuer.name, "Self");
    let unknown = ok(&rest(
        "",
        r#", "issuer": {"name": "uNkNoWn"}, "key_props": {"kty": "rsa-HSM"}"#,
    ));
    assert_eq!(unknown.issuer.name, "Unknown");
    assert_eq!(unknown.key.kty, KeyType::Rsa { hsm: true });
}

#[test]
fn mixed_dialects_are_refused() {
    let msg = refused(
        r#"{"key_props": {"kty": "RSA"}, "x509CertificateProperties": {"subject": "CN=a"}}"#,
    );
    assert_eq!(
        msg,
        messages::mixed_dialects("key_props", "x509CertificateProperties")
    );
    assert!(msg.contains("mixes the REST shape"), "{msg}");
}

#[test]
fn a_nested_key_of_the_other_dialect_is_refused() {
    let msg = refused(&rest("", r#", "key_props": {"keyType": "RSA"}"#));
    let (rest_shape, cli_shape) = (messages::REST_SHAPE, messages::CLI_SHAPE);
    assert_eq!(
        msg,
        messages::other_dialect_key(
            "key_props.keyType",
            "kty",
            rest_shape,
            cli_shape,
            "key_props"
        )
    );
    assert!(msg.contains("spelled as in the az CLI/SDK shape"), "{msg}");
    let msg =
        refused(r#"{"x509CertificateProperties": {"subject": "CN=a", "validity_months": 3}}"#);
    assert_eq!(
        msg,
        messages::other_dialect_key(
            "x509CertificateProperties.validity_months",
            "validityInMonths",
            cli_shape,
            rest_shape,
            "x509CertificateProperties"
        )
    );
    let msg = refused(r#"{"lifetimeActions": [{"action": {"action_type": "AutoRenew"}}]}"#);
    assert!(
        msg.starts_with("`lifetimeActions[0].action.action_type` is spelled as in the REST shape"),
        "{msg}"
    );
}

#[test]
fn unknown_keys_are_refused_and_named() {
    let msg = refused(&rest("", r#", "tags": {"a": "b"}"#));
    assert!(
        msg.starts_with("Unknown field `tags`; expected one of: key_props,"),
        "{msg}"
    );
    let msg = refused(r#"{"x509_props": {"subject": "CN=a", "validity_in_months": 3}}"#);
    assert_eq!(
        msg,
        messages::unknown_field(
            "x509_props.validity_in_months",
            &[],
            Some("validity_months")
        )
    );
    let msg = refused(r#"{"Key_Props": {}, "x509_props": {"subject": "CN=a"}}"#);
    assert_eq!(
        msg,
        messages::unknown_field("Key_Props", &[], Some("key_props"))
    );
    let msg = refused(&rest("", r#", "lifetime_actions": [{"when": {}}]"#));
    assert!(
        msg.starts_with("Unknown field `lifetime_actions[0].when`"),
        "{msg}"
    );
}

#[test]
fn wrong_json_types_are_refused_naming_the_field() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            r#", "key_props": {"kty": 1}"#,
            "key_props.kty",
            "a string",
            "a number",
        ),
        (
            r#", "key_props": {"exportable": "true"}"#,
            "key_props.exportable",
            "true or false",
            "a string",
        ),
        (
            r#", "key_props": {"key_size": "2048"}"#,
            "key_props.key_size",
            "a number",
            "a string",
        ),
        (r#", "key_props": []"#, "key_props", "an object", "an array"),
        (
            r#", "lifetime_actions": {}"#,
            "lifetime_actions",
            "an array",
            "an object",
        ),
        (
            r#", "lifetime_actions": ["AutoRenew"]"#,
            "lifetime_actions[0]",
            "an object",
            "a string",
        ),
        (r#", "issuer": "Self""#, "issuer", "an object", "a string"),
        (
            r#", "issuer": {"cert_transparency": 1}"#,
            "issuer.cert_transparency",
            "true or false",
            "a number",
        ),
        (
            r#", "attributes": []"#,
            "attributes",
            "an object",
            "an array",
        ),
        (r#", "id": 7"#, "id", "a string", "a number"),
    ];
    for (top, path, want, found) in cases {
        assert_eq!(
            refused(&rest("", top)),
            messages::wrong_type(path, want, found),
            "{top}"
        );
    }
    let x509: &[(&str, &str, &str, &str)] = &[
        (
            r#", "ekus": "1.2.3""#,
            "x509_props.ekus",
            "an array",
            "a string",
        ),
        (
            r#", "key_usage": [true]"#,
            "x509_props.key_usage[0]",
            "a string",
            "a boolean",
        ),
        (
            r#", "validity_months": "12""#,
            "x509_props.validity_months",
            "a number",
            "a string",
        ),
        (
            r#", "sans": ["a.com"]"#,
            "x509_props.sans",
            "an object",
            "an array",
        ),
        (
            r#", "sans": {"dns_names": "a.com"}"#,
            "x509_props.sans.dns_names",
            "an array",
            "a string",
        ),
    ];
    for (extra, path, want, found) in x509 {
        assert_eq!(
            refused(&rest(extra, "")),
            messages::wrong_type(path, want, found),
            "{extra}"
        );
    }
    let msg = refused(r#"{"x509CertificateProperties": {"subject": ["CN=a"]}}"#);
    assert_eq!(
        msg,
        messages::wrong_type("x509CertificateProperties.subject", "a string", "an array")
    );
}

#[test]
fn errors_display_code_and_message() {
    let err = super::parse("[]").expect_err("not an object");
    assert_eq!(
        err.to_string(),
        format!("BadParameter: {}", messages::NOT_OBJECT)
    );
}

#[test]
fn shared_keys_alone_choose_no_dialect_and_still_need_a_subject() {
    assert_eq!(
        refused(r#"{"id": "x", "attributes": {}}"#),
        messages::SUBJECT_OR_SANS_REQUIRED
    );
    assert_eq!(refused("{}"), messages::SUBJECT_OR_SANS_REQUIRED);
}
