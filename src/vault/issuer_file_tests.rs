//! Tests of issuer files: secrets kept and hidden, validation per provider.

use super::*;

const DIGI: &[u8] = br#"{"provider":"DigiCert","credentials":{"account_id":"123456","pwd":"s3cr3t-api-key"},"org_details":{"id":"7890"}}"#;

#[test]
fn secrets_are_kept_but_never_shown() {
    let b = IssuerBundle::parse_update(DIGI, None).unwrap();
    let shown = b.to_json();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("\"pwd\": null"), "{shown}");
    // Read, edited, written back: the password stays.
    let edited = shown.replace("7890", "7891");
    let b2 = IssuerBundle::parse_update(edited.as_bytes(), Some(&b)).unwrap();
    assert_eq!(
        b2.credentials.unwrap().pwd.as_deref(),
        Some("s3cr3t-api-key")
    );
    assert!(IssuerBundle::from_stored(&b.to_stored()).unwrap() == b);
}

#[test]
fn the_writer_is_stored_but_never_shown_nor_taken_from_a_write() {
    let mut b = IssuerBundle::parse_update(DIGI, None).unwrap();
    assert_eq!(b.writer, None);
    b.writer = Some(Identity {
        uid: 1004,
        gid: 1005,
        groups: vec![27],
    });
    let stored = b.to_stored();
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        value["writer"],
        serde_json::json!({"uid": 1004, "gid": 1005, "groups": [27]})
    );
    assert_eq!(IssuerBundle::from_stored(&stored).unwrap(), b);
    assert!(!b.to_json().contains("1004"), "{}", b.to_json());
    // Stored before writers were kept: none.
    let old = IssuerBundle::parse_update(DIGI, None).unwrap().to_stored();
    assert_eq!(IssuerBundle::from_stored(&old).unwrap().writer, None);
    // A user cannot claim to be somebody else.
    let claimed = br#"{"provider":"ACME","endpoint":"https://a/d","writer":{"uid":0,"gid":0}}"#;
    let err = IssuerBundle::parse_update(claimed, None).unwrap_err();
    assert!(err.message().contains("writer"), "{err}");
}

#[test]
fn each_provider_needs_its_fields() {
    for (bad, word) in [
        (&br#"{"provider":"DigiCert","credentials":{"account_id":"1","pwd":"k"}}"#[..], "org_details.id"),
        (br#"{"provider":"DigiCert","org_details":{"id":"1"}}"#, "API key"),
        (br#"{"provider":"GlobalSign","credentials":{"account_id":"1","pwd":"p"}}"#, "administrator"),
        (
            br#"{"provider":"GlobalSign","credentials":{"account_id":"1","pwd":"p"},"org_details":{"admin_details":[{"first_name":"A","last_name":"B","email":"bad","phone":"1"}]}}"#,
            "e-mail",
        ),
        (br#"{"provider":"ACME"}"#, "directory URL"),
        (br#"{"provider":"ACME","endpoint":"ftp://x"}"#, "http"),
        (br#"{"provider":"ACME","endpoint":"https://acme.test/dir","eab":{"kid":"k"}}"#, "hmac_key"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"http-01","listen":"port 80"}}"#, "0.0.0.0:80"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"http-01","webroot":"www"}}"#, "absolute"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"http-01","webroot":"/w","listen":"[::]:80"}}"#, "not both"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01"}}"#, "challenge.rfc2136 {server"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"tls-alpn-01"}}"#, "http-01 or dns-01"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"http-01","rfc2136":{}}}"#, "only with challenge.type dns-01"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","webroot":"/w","rfc2136":{}}}"#, "only with challenge.type http-01"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","rfc2136":{"server":"ns1","tsig_key_name":"k.","tsig_algorithm":"hmac-sha256","tsig_secret":"c2VjcmV0"}}}"#, "192.0.2.53:53"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","rfc2136":{"server":"127.0.0.1:53","tsig_algorithm":"hmac-sha256","tsig_secret":"c2VjcmV0"}}}"#, "tsig_key_name"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","rfc2136":{"server":"127.0.0.1:53","tsig_key_name":"k.","tsig_algorithm":"hmac-md5","tsig_secret":"c2VjcmV0"}}}"#, "hmac-sha256 or hmac-sha512"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","rfc2136":{"server":"127.0.0.1:53","tsig_key_name":"k.","tsig_algorithm":"hmac-sha256","tsig_secret":"not base64!"}}}"#, "tsig_secret"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","propagation_timeout_s":0,"rfc2136":{"server":"127.0.0.1:53","tsig_key_name":"k.","tsig_algorithm":"hmac-sha256","tsig_secret":"c2VjcmV0"}}}"#, "propagation_timeout_s between 1 and 3600"),
        (br#"{"provider":"ACME","endpoint":"https://a/d","ca_file":"ca.pem"}"#, "absolute"),
        (br#"{"provider":"Internal","ca":{"subject":"XX=1"}}"#, "X500"),
        (br#"{"provider":"Internal","ca":{"kty":"EC","crv":"P-256K"}}"#, "P-256"),
        (br#"{"provider":"Venafi"}"#, "Unknown provider"),
        (br#"{"provider":"ACME","endpoint":"https://a/b","colour":1}"#, "colour"),
        (b"garbage", "IssuerBundle"),
    ] {
        let err = IssuerBundle::parse_update(bad, None).unwrap_err();
        assert!(err.message().contains(word), "{word}: {err}");
    }
}

#[test]
fn good_bundles_of_every_provider_parse() {
    for good in [
        DIGI,
        br#"{"provider":"globalsign","credentials":{"account_id":"1","pwd":"p"},"org_details":{"admin_details":[{"first_name":"A","last_name":"B","email":"a@b.co","phone":"+1 555"}]}}"#,
        br#"{"provider":"ACME","endpoint":"https://acme.test/dir","credentials":{"account_id":"ops@contoso.com"},"eab":{"kid":"k","hmac_key":"h"},"challenge":{"type":"http-01","webroot":"/var/www"}}"#,
        br#"{"provider":"ACME","endpoint":"https://acme.test/dir","challenge":{"type":"http-01","listen":"[::]:8080"},"ca_file":"/etc/ssl/ca.pem"}"#,
        br#"{"provider":"Internal","ca":{"subject":"CN=Corp Root CA","validity_months":120,"kty":"EC","crv":"P-384"}}"#,
        br#"{"provider":"Internal"}"#,
    ] {
        let b = IssuerBundle::parse_update(good, None).unwrap();
        assert!(PROVIDERS.contains(&b.provider.as_str()));
        assert!(b.enabled());
    }
}

#[test]
fn secrets_stay_out_of_debug_and_error_messages() {
    let b = IssuerBundle::parse_update(DIGI, None).unwrap();
    assert!(!format!("{b:?}").contains("s3cr3t"));
    let err = IssuerBundle::parse_update(
        br#"{"provider":"DigiCert","credentials":{"pwd":12345678}}"#,
        None,
    )
    .unwrap_err();
    assert!(!err.message().contains("12345678"), "{err}");
}

#[test]
fn names_follow_the_rules() {
    assert_eq!(parse_name("digi.json").unwrap().as_str(), "digi");
    for bad in ["digi", "Self.json", "unknown.json", "a_b.json", ".json"] {
        assert!(parse_name(bad).is_err(), "{bad}");
    }
}

const DNS01: &[u8] = br#"{"provider":"ACME","endpoint":"https://acme.test/dir","challenge":{"type":"dns-01","propagation_timeout_s":60,"rfc2136":{"server":"192.0.2.53:53","tsig_key_name":"certfs.","tsig_algorithm":"hmac-sha512","tsig_secret":"dHNpZy1zZWNyZXQtYnl0ZXM="}}}"#;

#[test]
fn the_tsig_secret_is_kept_but_never_shown() {
    let b = IssuerBundle::parse_update(DNS01, None).unwrap();
    let shown = b.to_json();
    assert!(!shown.contains("dHNpZy1zZWNyZXQtYnl0ZXM="), "{shown}");
    assert!(shown.contains("\"tsig_secret\": null"), "{shown}");
    assert!(shown.contains("\"tsig_key_name\": \"certfs.\""), "{shown}");
    assert!(!format!("{b:?}").contains("dHNpZy1zZWNyZXQtYnl0ZXM="));
    // Written back as read (secret null): the stored secret stays.
    let again = IssuerBundle::parse_update(shown.as_bytes(), Some(&b)).unwrap();
    let dns = again.challenge.unwrap().rfc2136.unwrap();
    assert_eq!(dns.tsig_secret.as_deref(), Some("dHNpZy1zZWNyZXQtYnl0ZXM="));
    assert_eq!(&tsig_key(&dns).unwrap()[..], b"tsig-secret-bytes");
    // And the stored document keeps it (sealed by the store).
    assert!(b.to_stored().contains("dHNpZy1zZWNyZXQtYnl0ZXM="));
}

/// An IssuerBundle as Key Vault's `GET /certificates/issuers/{name}` returns it.
const KEY_VAULT_GET: &[u8] = br#"{"id":"https://myvault.vault.azure.net/certificates/issuers/globalsign01","provider":"GlobalSign","credentials":{"account_id":"keyvaultuser"},"org_details":{"zip":0,"admin_details":[{"first_name":"John","last_name":"Doe","email":"admin@contoso.com","phone":"4255555555"}]},"attributes":{"enabled":true,"created":1493938289,"updated":1493938289}}"#;

#[test]
fn a_bundle_as_key_vault_returns_it_is_accepted_as_it_is() {
    let previous = IssuerBundle::parse_update(
        br#"{"provider":"GlobalSign","credentials":{"account_id":"keyvaultuser","pwd":"p"},"org_details":{"admin_details":[{"first_name":"John","last_name":"Doe","email":"admin@contoso.com","phone":"4255555555"}]}}"#,
        None,
    )
    .unwrap();
    let b = IssuerBundle::parse_update(KEY_VAULT_GET, Some(&previous)).unwrap();
    assert_eq!(b.org_details.as_ref().and_then(|o| o.zip), Some(0));
    assert!(b.enabled());
    let shown = b.to_json();
    assert!(!shown.contains("myvault"), "{shown}");
    assert!(!shown.contains("1493938289"), "{shown}");
    assert!(shown.contains("\"zip\": 0"), "{shown}");
    // Read back and written again: the same bundle.
    assert_eq!(
        IssuerBundle::parse_update(shown.as_bytes(), Some(&b)).unwrap(),
        b
    );
    // Its parts keep their types.
    for bad in [
        &br#"{"provider":"Internal","id":7}"#[..],
        br#"{"provider":"Internal","org_details":{"zip":"x"}}"#,
        br#"{"provider":"Internal","attributes":{"created":"yesterday"}}"#,
    ] {
        assert!(IssuerBundle::parse_update(bad, None).is_err());
    }
}

#[test]
fn crl_settings_are_checked() {
    let good = IssuerBundle::parse_update(
        br#"{"provider":"Internal","crl":{"validity_hours":24,"distribution_point":"http://pki.example.test/corp.crl"}}"#,
        None,
    )
    .unwrap();
    assert_eq!(good.crl_validity_seconds(), 86_400);
    assert_eq!(
        good.crl_distribution_point(),
        Some("http://pki.example.test/corp.crl")
    );
    let default = IssuerBundle::parse_update(br#"{"provider":"Internal"}"#, None).unwrap();
    assert_eq!(default.crl_validity_seconds(), 168 * 3600);
    for (bad, word) in [
        (
            &br#"{"provider":"Internal","crl":{"validity_hours":0}}"#[..],
            "validity_hours",
        ),
        (
            br#"{"provider":"Internal","crl":{"validity_hours":9000}}"#,
            "validity_hours",
        ),
        (
            br#"{"provider":"Internal","crl":{"distribution_point":"ldap://x"}}"#,
            "distribution_point",
        ),
        (
            br#"{"provider":"Internal","crl":{"distribution_point":"http://a b"}}"#,
            "distribution_point",
        ),
        (
            br#"{"provider":"Internal","crl":{"url":"http://a"}}"#,
            "url",
        ),
    ] {
        let err = IssuerBundle::parse_update(bad, None).unwrap_err();
        assert!(err.message().contains(word), "{word}: {err}");
    }
}

#[test]
fn a_vault_ca_certificate_excludes_settings_of_an_own_root() {
    let b = IssuerBundle::parse_update(
        br#"{"provider":"Internal","ca":{"certificate":"inter"}}"#,
        None,
    )
    .unwrap();
    assert_eq!(b.ca_certificate(), Some("inter"));
    assert_eq!(
        b.internal_ca_settings("issuing").unwrap(),
        None,
        "no root of its own"
    );
    for (bad, word) in [
        (
            &br#"{"provider":"Internal","ca":{"certificate":"inter","subject":"CN=x"}}"#[..],
            "not both",
        ),
        (
            br#"{"provider":"Internal","ca":{"certificate":"a_b"}}"#,
            "ca.certificate",
        ),
        (
            br#"{"provider":"Internal","ca":{"certificate":7}}"#,
            "wrong type",
        ),
        (
            br#"{"provider":"Internal","constraints":{"permitted_dns_domains":["*.x.test"]}}"#,
            "not a DNS domain",
        ),
        (
            br#"{"provider":"Internal","constraints":{"permitted_dns_domains":["a b"]}}"#,
            "not a DNS domain",
        ),
        (
            br#"{"provider":"Internal","constraints":{"max_validity_days":0}}"#,
            "max_validity_days",
        ),
    ] {
        let err = IssuerBundle::parse_update(bad, None).unwrap_err();
        assert!(err.message().contains(word), "{word}: {err}");
    }
}
