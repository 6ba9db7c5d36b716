//! Every default and every rule, each asserting the exact message from `messages`.

use super::super::messages;
use super::super::{ActionType, ContentType, KeyType, LifetimeAction, Policy, Trigger};
use super::{ok, refused, rest};
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, RsaSize};
use crate::pki::x509::KeyUsage;

fn key(props: &str) -> String {
    rest("", &format!(r#", "key_props": {{{props}}}"#))
}

fn action(entry: &str) -> String {
    rest(
        r#", "validity_months": 10"#,
        &format!(r#", "lifetime_actions": [{entry}]"#),
    )
}

#[test]
fn every_default_for_a_subject_only_policy() {
    let p = ok(&rest("", ""));
    assert_eq!(p.key.kty, KeyType::Rsa { hsm: false });
    assert_eq!(p.key.spec, KeySpec::Rsa(RsaSize::B2048));
    assert!(p.key.exportable);
    assert!(!p.key.reuse_key);
    assert_eq!(p.content_type, ContentType::Pkcs12);
    assert!(p.sans.is_empty());
    assert_eq!(p.ekus, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert_eq!(
        p.key_usage,
        [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
    );
    assert_eq!(p.validity_months, 12);
    assert_eq!(p.issuer.name, "Unknown");
    assert_eq!(p.issuer.cert_type, None);
    assert_eq!(p.issuer.cert_transparency, None);
    assert_eq!(
        p.lifetime_actions,
        [LifetimeAction {
            trigger: Trigger::LifetimePercentage(80),
            action: ActionType::EmailContacts,
        }]
    );
}

#[test]
fn default_action_is_autorenew_for_self_and_configured_issuers() {
    for (name, normalised) in [
        ("Self", "Self"),
        ("self", "Self"),
        ("My-DigiCert", "My-DigiCert"),
    ] {
        let p = ok(&rest("", &format!(r#", "issuer": {{"name": "{name}"}}"#)));
        assert_eq!(p.issuer.name, normalised);
        assert_eq!(
            p.lifetime_actions,
            [LifetimeAction {
                trigger: Trigger::LifetimePercentage(80),
                action: ActionType::AutoRenew,
            }],
            "{name}"
        );
    }
}

#[test]
fn ec_defaults_to_p256_and_digital_signature_only() {
    let p = ok(&key(r#""kty": "EC""#));
    assert_eq!(p.key.spec, KeySpec::Ec(Curve::P256));
    assert_eq!(p.key_usage, [KeyUsage::DigitalSignature]);
}

#[test]
fn key_sizes_and_curves() {
    let rsa = |size: u64| {
        ok(&key(&format!(r#""kty": "RSA", "key_size": {size}"#)))
            .key
            .spec
    };
    assert_eq!(rsa(3072), KeySpec::Rsa(RsaSize::B3072));
    assert_eq!(rsa(4096), KeySpec::Rsa(RsaSize::B4096));
    let ec = |props: &str| ok(&key(props)).key.spec;
    assert_eq!(
        ec(r#""kty": "EC", "key_size": 384"#),
        KeySpec::Ec(Curve::P384)
    );
    assert_eq!(
        ec(r#""kty": "EC", "key_size": 521, "crv": "P-521""#),
        KeySpec::Ec(Curve::P521)
    );
    assert_eq!(
        ec(r#""kty": "EC", "crv": "P-384""#),
        KeySpec::Ec(Curve::P384)
    );
}

#[test]
fn key_refusals() {
    let cases = [
        (
            r#""kty": "RSA", "key_size": 1024"#,
            messages::rsa_key_size("key_props.key_size", 1024),
        ),
        (
            r#""key_size": 256"#,
            messages::rsa_key_size("key_props.key_size", 256),
        ),
        (
            r#""kty": "RSA", "crv": "P-256""#,
            messages::curve_for_rsa("key_props.crv"),
        ),
        (
            r#""kty": "EC", "crv": "P-256", "key_size": 384"#,
            messages::ec_key_size("key_props.key_size", 384, "P-256", 256),
        ),
        (
            r#""kty": "EC", "key_size": 2048"#,
            messages::ec_key_size_unknown("key_props.key_size", 2048),
        ),
        (
            r#""kty": "EC", "crv": "P-256K""#,
            messages::SECP256K1.to_string(),
        ),
        (
            r#""kty": "EC", "crv": "p-256k""#,
            messages::SECP256K1.to_string(),
        ),
        (
            r#""kty": "EC", "crv": "Ed25519""#,
            messages::unsupported_curve("key_props.crv", "Ed25519"),
        ),
        (
            r#""kty": "oct""#,
            messages::unsupported_kty("key_props.kty", "oct"),
        ),
        (
            r#""kty": """#,
            messages::unsupported_kty("key_props.kty", ""),
        ),
    ];
    for (props, want) in cases {
        assert_eq!(refused(&key(props)), want, "{props}");
    }
    assert!(messages::SECP256K1.contains("secp256k1 is not supported"));
}

#[test]
fn content_type_refusal() {
    let msg = refused(&rest(
        "",
        r#", "secret_props": {"contentType": "application/json"}"#,
    ));
    assert_eq!(
        msg,
        messages::content_type("secret_props.contentType", "application/json")
    );
}

#[test]
fn a_subject_or_sans_is_required() {
    for text in [
        r#"{"key_props": {"kty": "RSA"}}"#,
        r#"{"x509_props": {}}"#,
        r#"{"x509_props": {"subject": "", "sans": {"dns_names": [], "emails": []}}}"#,
        r#"{"x509_props": {"subject": "   "}}"#,
    ] {
        assert_eq!(refused(text), messages::SUBJECT_OR_SANS_REQUIRED, "{text}");
    }
}

#[test]
fn sans_alone_are_enough_and_give_an_empty_subject_name() {
    let p = ok(r#"{"x509_props": {"subject": "", "sans": {"dns_names": ["example.com"]}}}"#);
    assert_eq!(p.subject, None);
    assert_eq!(
        p.certificate_spec().subject,
        DistinguishedName { rdns: vec![] }
    );
    let p = ok(r#"{"x509_props": {"sans": {"ip_addresses": ["10.0.0.1"]}}}"#);
    assert_eq!(p.sans.ip_addresses.len(), 1);
}

#[test]
fn subject_length_limit_counts_characters() {
    // needs DN parse: a 200-character CN must be accepted by it.
    let at_limit = format!("CN={}", "é".repeat(197));
    assert_eq!(at_limit.chars().count(), 200);
    ok(&format!(r#"{{"x509_props": {{"subject": "{at_limit}"}}}}"#));
    let over = format!("CN={}", "a".repeat(198));
    let msg = refused(&format!(r#"{{"x509_props": {{"subject": "{over}"}}}}"#));
    assert_eq!(msg, messages::subject_too_long("x509_props.subject", 201));
}

#[test]
fn an_invalid_subject_carries_the_parsers_reason() {
    // needs DN parse: the reason is the parser's own.
    for subject in ["CN=a, OU=\\\"unterminated", "XX=bad", "CN="] {
        let json = format!(r#"{{"x509_props": {{"subject": "{subject}"}}}}"#);
        let text: String = serde_json::from_str::<serde_json::Value>(&json).expect("test JSON")
            ["x509_props"]["subject"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let reason = DistinguishedName::parse(&text).expect_err("the DN parser refuses it");
        let msg = refused(&json);
        assert_eq!(msg, messages::invalid_subject(&reason));
        assert!(
            msg.starts_with("The subject name provided is not a valid X500 name: "),
            "{msg}"
        );
    }
}

#[test]
fn at_most_one_lifetime_action() {
    let two =
        r#"{"trigger": {"lifetime_percentage": 50}}, {"trigger": {"days_before_expiry": 10}}"#;
    assert_eq!(refused(&action(two)), messages::AT_MOST_ONE_ACTION);
    assert!(messages::AT_MOST_ONE_ACTION.contains("only one lifetime action is allowed"));
}

#[test]
fn lifetime_percentage_is_1_to_99() {
    for ok_value in [1, 99] {
        let p = ok(&action(&format!(
            r#"{{"trigger": {{"lifetime_percentage": {ok_value}}}}}"#
        )));
        assert_eq!(
            p.lifetime_actions[0].trigger,
            Trigger::LifetimePercentage(ok_value)
        );
    }
    for bad_value in [0u64, 100, 256, 4_294_967_297] {
        let msg = refused(&action(&format!(
            r#"{{"trigger": {{"lifetime_percentage": {bad_value}}}}}"#
        )));
        let path = "lifetime_actions[0].trigger.lifetime_percentage";
        assert_eq!(msg, messages::lifetime_percentage(path, bad_value));
    }
}

#[test]
fn days_before_expiry_is_1_to_27_times_validity() {
    // validity_months is 10 in `action`: at most 270 days.
    let p = ok(&action(r#"{"trigger": {"days_before_expiry": 270}}"#));
    assert_eq!(
        p.lifetime_actions[0].trigger,
        Trigger::DaysBeforeExpiry(270)
    );
    for bad_value in [0u64, 271, 4_294_967_296] {
        let msg = refused(&action(&format!(
            r#"{{"trigger": {{"days_before_expiry": {bad_value}}}}}"#
        )));
        let path = "lifetime_actions[0].trigger.days_before_expiry";
        assert_eq!(msg, messages::days_before_expiry(path, bad_value, 10));
    }
    // Against the default validity (12 months: 324 days).
    let msg = refused(&rest(
        "",
        r#", "lifetime_actions": [{"trigger": {"days_before_expiry": 325}}]"#,
    ));
    assert!(msg.contains("between 1 and 324"), "{msg}");
}

#[test]
fn a_trigger_has_one_kind() {
    let msg = refused(&action(
        r#"{"trigger": {"lifetime_percentage": 50, "days_before_expiry": 10}}"#,
    ));
    assert_eq!(msg, messages::trigger_both("lifetime_actions[0].trigger"));
}

#[test]
fn missing_trigger_or_action_takes_the_default() {
    let p = ok(&action(r#"{"action": {"action_type": "EmailContacts"}}"#));
    assert_eq!(
        p.lifetime_actions[0].trigger,
        Trigger::LifetimePercentage(80)
    );
    let p = ok(&action(r#"{"trigger": {"days_before_expiry": 5}}"#));
    assert_eq!(p.lifetime_actions[0].action, ActionType::EmailContacts);
    let p = ok(&action(r#"{"trigger": {}, "action": {}}"#));
    assert_eq!(
        p.lifetime_actions,
        [LifetimeAction {
            trigger: Trigger::LifetimePercentage(80),
            action: ActionType::EmailContacts,
        }]
    );
}

#[test]
fn an_empty_action_list_means_no_actions() {
    assert!(
        ok(&rest("", r#", "lifetime_actions": []"#))
            .lifetime_actions
            .is_empty()
    );
}

#[test]
fn unknown_action_type() {
    let msg = refused(&action(r#"{"action": {"action_type": "Renew"}}"#));
    assert_eq!(
        msg,
        messages::unknown_action("lifetime_actions[0].action.action_type", "Renew")
    );
}

#[test]
fn autorenew_with_unknown_issuer_is_accepted() {
    let p = ok(&rest(
        "",
        r#", "issuer": {"name": "Unknown"}, "lifetime_actions": [{"action": {"action_type": "AutoRenew"}}]"#,
    ));
    assert_eq!(p.lifetime_actions[0].action, ActionType::AutoRenew);
}

#[test]
fn ec_keys_cannot_have_key_encipherment() {
    let text = rest(
        r#", "key_usage": ["digitalSignature", "keyEncipherment"]"#,
        r#", "key_props": {"kty": "EC"}"#,
    );
    assert_eq!(refused(&text), messages::EC_KEY_ENCIPHERMENT);
    let rsa = rest(r#", "key_usage": ["keyEncipherment"]"#, "");
    assert_eq!(ok(&rsa).key_usage, [KeyUsage::KeyEncipherment]);
}

#[test]
fn validity_is_1_to_1200_months() {
    for ok_value in [1u32, 1200] {
        let p = ok(&rest(&format!(r#", "validity_months": {ok_value}"#), ""));
        assert_eq!(p.validity_months, ok_value);
    }
    for bad_value in [0u64, 1201, 4_294_967_297] {
        let msg = refused(&rest(&format!(r#", "validity_months": {bad_value}"#), ""));
        assert_eq!(
            msg,
            messages::validity_months("x509_props.validity_months", bad_value)
        );
    }
}

#[test]
fn issuer_names() {
    let long_ok = "a".repeat(127);
    assert_eq!(
        ok(&rest(
            "",
            &format!(r#", "issuer": {{"name": "{long_ok}"}}"#)
        ))
        .issuer
        .name,
        long_ok
    );
    let too_long = "a".repeat(128);
    for bad_name in ["", "my issuer", "digi_cert", "zoë", too_long.as_str()] {
        let msg = refused(&rest(
            "",
            &format!(r#", "issuer": {{"name": "{bad_name}"}}"#),
        ));
        assert_eq!(msg, messages::invalid_issuer_name("issuer.name", bad_name));
    }
    let p = ok(&rest("", r#", "issuer": {"name": "Self", "cty": ""}"#));
    assert_eq!(p.issuer.cert_type, None);
}

#[test]
fn key_usage_and_eku_refusals_and_duplicates() {
    let msg = refused(&rest(
        r#", "key_usage": ["digitalSignature", "signing"]"#,
        "",
    ));
    assert_eq!(
        msg,
        messages::unknown_key_usage("x509_props.key_usage[1]", "signing")
    );
    for bad_eku in ["serverAuth", "1", "3.1.2", "1..2", "1.2.x", ""] {
        let msg = refused(&rest(&format!(r#", "ekus": ["{bad_eku}"]"#), ""));
        assert_eq!(msg, messages::invalid_eku("x509_props.ekus[0]", bad_eku));
    }
    let p = ok(&rest(
        r#", "ekus": ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.2", "2.25.1"], "key_usage": ["cRLSign", "crlsign"]"#,
        "",
    ));
    assert_eq!(p.ekus, ["1.3.6.1.5.5.7.3.2", "2.25.1"]);
    assert_eq!(p.key_usage, [KeyUsage::CrlSign]);
}

#[test]
fn san_syntax_refusals() {
    type Message = fn(&str, &str) -> String;
    // (field, a valid first entry, the refused second entry, its message)
    let cases: [(&str, &str, &str, Message); 8] = [
        (
            "dns_names",
            "a.example",
            "exa mple.com",
            messages::invalid_dns_name,
        ),
        ("dns_names", "a.example", "", messages::invalid_dns_name),
        (
            "emails",
            "a@example.com",
            "admin.contoso.com",
            messages::invalid_email,
        ),
        ("emails", "a@example.com", "a@b@c", messages::invalid_email),
        ("upns", "svc@example.com", "svc", messages::invalid_upn),
        (
            "ip_addresses",
            "10.0.0.1",
            "300.1.1.1",
            messages::invalid_ip,
        ),
        ("ip_addresses", "::1", "example.com", messages::invalid_ip),
        ("uris", "urn:x:y", "contoso.com/path", messages::invalid_uri),
    ];
    for (field, good, bad, message) in cases {
        let text = rest(
            &format!(r#", "sans": {{"{field}": ["{good}", "{bad}"]}}"#),
            "",
        );
        let path = format!("x509_props.sans.{field}[1]");
        assert_eq!(refused(&text), message(&path, bad), "{text}");
    }
}

#[test]
fn certificate_spec_maps_every_field() {
    // needs DN parse: the subject is the parser's result.
    let p = ok(super::REST_FULL);
    let spec = p.certificate_spec();
    let subject = DistinguishedName::parse("CN=www.contoso.com, O=Contoso").expect("valid DN");
    assert_eq!(spec.subject, subject);
    assert_eq!(spec.sans, p.sans);
    assert_eq!(
        spec.key_usage,
        [KeyUsage::DigitalSignature, KeyUsage::KeyAgreement]
    );
    assert_eq!(spec.extended_key_usage, ["1.3.6.1.5.5.7.3.1"]);
    assert_eq!(spec.validity_months, 24);
}

#[test]
fn over_a_base_what_is_left_out_is_the_bases_and_what_is_written_wins() {
    let base = Policy::parse(super::REST_FULL.as_bytes()).unwrap();
    // Nothing written: the base itself.
    assert_eq!(Policy::parse_over(b"{}", &base), Ok(base.clone()));
    // A validity and a key size of the same family: those change, the rest stays.
    let over = Policy::parse_over(
        br#"{"x509_props": {"validity_months": 3}, "key_props": {"crv": "P-521"}}"#,
        &base,
    )
    .unwrap();
    assert_eq!(over.validity_months, 3);
    assert_eq!(over.key.spec, KeySpec::Ec(Curve::P521));
    assert_eq!(over.subject, base.subject);
    assert_eq!(over.sans, base.sans);
    assert_eq!(over.content_type, base.content_type);
    assert_eq!(over.lifetime_actions, base.lifetime_actions);
    // Another family: its own defaults, not the base's curve or key usage.
    let rsa = Policy::parse_over(br#"{"key_props": {"kty": "RSA"}}"#, &base).unwrap();
    assert_eq!(rsa.key.spec, KeySpec::Rsa(RsaSize::B2048));
    // A subject alone keeps the base's SANs; another issuer gets its own default action.
    let named = Policy::parse_over(
        br#"{"x509_props": {"subject": "CN=other"}, "issuer": {"name": "Self"}}"#,
        &base,
    )
    .unwrap();
    assert_eq!(named.subject.as_ref().unwrap().text, "CN=other");
    assert_eq!(named.sans, base.sans);
    assert_eq!(
        named.lifetime_actions,
        Policy::parse(br#"{"x509_props": {"subject": "CN=x"}, "issuer": {"name": "Self"}}"#)
            .unwrap()
            .lifetime_actions
    );
    // The rules still hold over a base.
    assert!(Policy::parse_over(br#"{"x509_props": {"validity_months": 0}}"#, &base).is_err());
}
