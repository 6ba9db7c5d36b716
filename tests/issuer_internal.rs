//! The Internal issuer through the mount: writing `issuers/<name>.json` makes a private CA, `issuers/<name>.pem` shows it, and policies naming it are issued at once with a chain that verifies.

mod common;

use std::fs;

use common::nginx::{Nginx, curl_trusting, require_nginx};
use common::{Mount, sh_err, sh_ok};

const CORP: &str = r#"{"provider": "Internal", "ca": {"subject": "CN=Corp Root CA, O=\"Contoso, Inc.\"", "validity_months": 120, "kty": "EC", "crv": "P-384"}}"#;

fn policy(cn: &str, issuer: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},
 "x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}","www.{cn}"]}},"ekus":["1.3.6.1.5.5.7.3.1"],"validity_months":6}},
 "issuer":{{"name":"{issuer}"}}}}"#
    )
}

fn vault_with_corp(m: &Mount) {
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/issuers/corp.json"), CORP).unwrap();
}

#[test]
fn writing_an_internal_issuer_makes_a_private_root_shown_as_pem() {
    let m = Mount::start();
    vault_with_corp(&m);
    let listing = sh_ok(&m.mnt, "ls prod/issuers");
    assert_eq!(listing, "corp\ncorp.crl\ncorp.json\ncorp.pem\n");
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/issuers/corp.pem -noout -text -nameopt RFC2253",
    );
    assert!(
        text.contains("Subject: O=Contoso\\, Inc.,CN=Corp Root CA"),
        "{text}"
    );
    assert!(
        text.contains("Issuer: O=Contoso\\, Inc.,CN=Corp Root CA"),
        "{text}"
    );
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign"), "{text}");
    assert!(text.contains("NIST CURVE: P-384"), "{text}");
    // 120 months.
    let dates = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/issuers/corp.pem -noout -enddate",
    );
    let year: i32 = dates.trim().rsplit(' ').nth(1).unwrap().parse().unwrap();
    let this_year: i32 = sh_ok(&m.mnt, "date -u +%Y").trim().parse().unwrap();
    assert_eq!(year, this_year + 10, "{dates}");
    // Read-only, and no key anywhere in the issuer's files.
    let mode = sh_ok(&m.mnt, "stat -c %a prod/issuers/corp.pem");
    assert_eq!(mode.trim(), "444");
    let err = sh_err(&m.mnt, "echo x > prod/issuers/corp.pem");
    assert!(
        err.contains("not permitted") || err.contains("denied"),
        "{err}"
    );
    let json = fs::read_to_string(m.path("prod/issuers/corp.json")).unwrap();
    let pem = fs::read_to_string(m.path("prod/issuers/corp.pem")).unwrap();
    assert!(!json.contains("PRIVATE") && !pem.contains("PRIVATE"));
    assert!(!m.logs().contains("PRIVATE KEY"));
}

#[test]
fn a_policy_naming_the_internal_issuer_is_issued_at_once_and_verifies() {
    let m = Mount::start();
    vault_with_corp(&m);
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        policy("web.example.com", "corp"),
    )
    .unwrap();
    // Completed before close returned: no operation pending, files present.
    assert!(!m.path("prod/web/request.csr").exists());
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile prod/issuers/corp.pem prod/web/cert.pem",
    );
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile prod/issuers/corp.pem -untrusted prod/web/chain.pem prod/web/fullchain.pem",
    );
    assert_eq!(
        fs::read(m.path("prod/web/chain.pem")).unwrap(),
        fs::read(m.path("prod/issuers/corp.pem")).unwrap()
    );
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/web/cert.pem -noout -text -nameopt RFC2253",
    );
    assert!(text.contains("Subject: CN=web.example.com"), "{text}");
    assert!(
        text.contains("Issuer: O=Contoso\\, Inc.,CN=Corp Root CA"),
        "{text}"
    );
    assert!(
        text.contains("DNS:web.example.com, DNS:www.web.example.com"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("Authority Key Identifier"), "{text}");
    // The key matches the certificate.
    let a = sh_ok(&m.mnt, "openssl pkey -in prod/web/privkey.pem -pubout");
    let b = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -pubkey");
    assert_eq!(a, b);
    // policy.json names the issuer.
    let stored: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/web/policy.json")).unwrap()).unwrap();
    assert_eq!(stored["issuer"]["name"], "corp");
}

#[test]
fn the_private_ca_survives_remount_and_rewrites_but_not_deletion() {
    let mut m = Mount::start();
    vault_with_corp(&m);
    let root = fs::read(m.path("prod/issuers/corp.pem")).unwrap();
    // Editing the file (here: a new validity) keeps the CA.
    fs::write(m.path("prod/issuers/corp.json"), CORP.replace("120", "60")).unwrap();
    assert_eq!(fs::read(m.path("prod/issuers/corp.pem")).unwrap(), root);
    m.remount();
    assert_eq!(fs::read(m.path("prod/issuers/corp.pem")).unwrap(), root);
    fs::create_dir(m.path("prod/api")).unwrap();
    fs::write(
        m.path("prod/api/policy.json"),
        policy("api.example.com", "corp"),
    )
    .unwrap();
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile prod/issuers/corp.pem prod/api/cert.pem",
    );
    // rm, then write again: a new CA.
    fs::remove_file(m.path("prod/issuers/corp.json")).unwrap();
    assert!(!m.path("prod/issuers/corp.pem").exists());
    fs::write(m.path("prod/issuers/corp.json"), CORP).unwrap();
    assert_ne!(fs::read(m.path("prod/issuers/corp.pem")).unwrap(), root);
}

#[test]
fn a_disabled_internal_issuer_refuses_new_certificates() {
    let m = Mount::start();
    vault_with_corp(&m);
    fs::write(
        m.path("prod/issuers/corp.json"),
        CORP.replace(
            "{\"provider\"",
            "{\"attributes\": {\"enabled\": false}, \"provider\"",
        ),
    )
    .unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    let err = sh_err(
        &m.mnt,
        &format!(
            "cat > prod/web/policy.json <<'J'\n{}\nJ",
            policy("web.example.com", "corp")
        ),
    );
    assert!(
        err.contains("denied") || err.contains("not permitted"),
        "{err}"
    );
    let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
    assert!(report.contains("Issuer corp is disabled"), "{report}");
    assert!(!m.path("prod/web/cert.pem").exists());
}

#[test]
fn an_rsa_internal_ca_with_defaults_signs_rsa_and_ec_certificates() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(
        m.path("prod/issuers/lab.json"),
        r#"{"provider": "Internal", "ca": {"kty": "RSA"}}"#,
    )
    .unwrap();
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/issuers/lab.pem -noout -text -nameopt RFC2253",
    );
    assert!(text.contains("Subject: CN=lab Root CA"), "{text}");
    assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
    fs::create_dir(m.path("prod/ec")).unwrap();
    fs::write(
        m.path("prod/ec/policy.json"),
        policy("ec.example.com", "lab"),
    )
    .unwrap();
    fs::create_dir(m.path("prod/rsa")).unwrap();
    fs::write(
        m.path("prod/rsa/policy.json"),
        r#"{"x509_props":{"subject":"CN=rsa.example.com"},"issuer":{"name":"lab"}}"#,
    )
    .unwrap();
    for cert in ["ec", "rsa"] {
        sh_ok(
            &m.mnt,
            &format!("openssl verify -CAfile prod/issuers/lab.pem prod/{cert}/cert.pem"),
        );
    }
}

#[test]
fn nginx_serves_an_internal_certificate_that_curl_trusts_through_the_private_root() {
    if require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    vault_with_corp(&m);
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        policy("web.example.com", "corp"),
    )
    .unwrap();
    let prefix = m.root.path().join("nginx");
    let nginx = Nginx::start(&prefix, &m.path("prod/web"));
    let body = curl_trusting(&m.mnt, nginx.port, &m.path("prod/issuers/corp.pem"));
    assert_eq!(body, "served by nginx from certfs\n");
}
