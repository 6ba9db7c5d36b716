//! ACME dns-01 end to end through the mount: a real BIND takes the TXT records by RFC 2136 update signed with TSIG, and a real pebble (`-dnsserver` at that BIND) looks them up itself; single names, a wildcard with its apex, CNAME delegation, a wrong key, a cancel mid-order, and wildcards refused for an http-01 issuer.

#[path = "common/bind.rs"]
mod bind;
mod common;
#[path = "common/pebble_bind.rs"]
mod pebble_bind;

use std::fs;

use bind::{Bind, KEY_NAME};
use common::operations::{wait_in_progress, wait_status};
use common::{Mount, sh_err, sh_ok, wait_until};
use pebble_bind::{EAB_HMAC, EAB_KID, PebbleOnDns};
use serde_json::json;

/// A mount with vault `prod` and issuer `le` answering dns-01 through `bind` with `secret`.
fn setup(pebble: &PebbleOnDns, bind: &Bind, secret: &str) -> Mount {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let issuer = json!({
        "provider": "ACME",
        "endpoint": pebble.directory_url(),
        "credentials": {"account_id": "ops@certfs.test"},
        "eab": {"kid": EAB_KID, "hmac_key": EAB_HMAC},
        "challenge": {
            "type": "dns-01",
            "propagation_timeout_s": 30,
            "rfc2136": {
                "server": bind.address(),
                "tsig_key_name": KEY_NAME,
                "tsig_algorithm": "hmac-sha256",
                "tsig_secret": secret,
            },
        },
        "ca_file": pebble.tls_ca(),
    });
    fs::write(m.path("prod/issuers/le.json"), issuer.to_string()).unwrap();
    let shown = fs::read_to_string(m.path("prod/issuers/le.json")).unwrap();
    assert!(
        !shown.contains(secret),
        "the TSIG secret is never read back: {shown}"
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert!(
        shown["challenge"]["rfc2136"]["tsig_secret"].is_null(),
        "{shown:#}"
    );
    assert_eq!(shown["challenge"]["rfc2136"]["tsig_key_name"], KEY_NAME);
    m
}

/// A policy for `sans` with subject `cn` through issuer `le`.
fn policy(cn: &str, sans: &[&str]) -> String {
    json!({
        "key_props": {"kty": "EC", "crv": "P-256", "exportable": true},
        "x509_props": {"subject": format!("CN={cn}"), "sans": {"dns_names": sans}, "validity_months": 3},
        "issuer": {"name": "le"},
    })
    .to_string()
}

/// Orders `sans` as certificate `cert`, waits for completion and returns the certificate's text.
fn issue(m: &Mount, cert: &str, cn: &str, sans: &[&str]) -> String {
    fs::create_dir(m.path(&format!("prod/{cert}"))).unwrap();
    fs::write(
        m.path(&format!("prod/{cert}/policy.json")),
        policy(cn, sans),
    )
    .unwrap();
    issue_waited(m, cert)
}

/// Waits until `cert`'s operation completes; returns the certificate's text.
fn issue_waited(m: &Mount, cert: &str) -> String {
    let op = wait_status(m, cert, "completed");
    assert!(op["error"].is_null(), "{op:#}");
    sh_ok(
        &m.mnt,
        &format!("openssl x509 -in prod/{cert}/cert.pem -noout -text"),
    )
}

#[test]
fn a_single_name_is_validated_by_pebble_through_bind_and_its_record_removed() {
    let bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), false);
    let m = setup(&pebble, &bind, &bind.secret);
    let text = issue(&m, "www", "www.example.test", &["www.example.test"]);
    assert!(text.contains("DNS:www.example.test"), "{text}");
    assert!(text.contains("Pebble Intermediate CA"), "{text}");
    assert_eq!(
        bind.txt_values("_acme-challenge.www.example.test"),
        Vec::<String>::new(),
        "the record is removed once the order is issued"
    );
    assert!(
        !m.logs().contains(&bind.secret),
        "the TSIG secret is never logged"
    );
}

#[test]
fn a_wildcard_and_its_apex_share_one_record_name_and_are_both_validated() {
    let bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), false);
    let m = setup(&pebble, &bind, &bind.secret);
    let text = issue(
        &m,
        "wild",
        "example.test",
        &["*.example.test", "example.test"],
    );
    assert!(text.contains("DNS:*.example.test"), "{text}");
    assert!(text.contains("DNS:example.test"), "{text}");
    assert_eq!(
        bind.txt_values("_acme-challenge.example.test"),
        Vec::<String>::new()
    );
}

#[test]
fn a_cname_at_acme_challenge_is_followed_into_the_delegated_zone() {
    let bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), false);
    let m = setup(&pebble, &bind, &bind.secret);
    // locked.test takes no updates: only the delegated zone can hold its record.
    let text = issue(
        &m,
        "delegated",
        "app.example.test",
        &["app.example.test", "locked.test"],
    );
    assert!(text.contains("DNS:app.example.test"), "{text}");
    assert!(text.contains("DNS:locked.test"), "{text}");
    for name in ["app.acme-delegated.test", "locked.acme-delegated.test"] {
        assert_eq!(bind.txt_values(name), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn a_wrong_tsig_secret_fails_the_operation_with_the_servers_refusal() {
    let bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), false);
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc=";
    let m = setup(&pebble, &bind, wrong);
    fs::create_dir(m.path("prod/www")).unwrap();
    fs::write(
        m.path("prod/www/policy.json"),
        policy("www.example.test", &["www.example.test"]),
    )
    .unwrap();
    let op = wait_status(&m, "www", "failed");
    assert_eq!(op["error"]["code"], "challengeNotPublished", "{op:#}");
    let message = op["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("the DNS server {} refused", bind.address())),
        "{op:#}"
    );
    assert!(message.contains("NOTAUTH"), "{op:#}");
    assert!(message.contains("TSIG"), "{op:#}");
    assert!(!message.contains(wrong), "{op:#}");
    assert!(!m.logs().contains(wrong), "the TSIG secret is never logged");
}

#[test]
fn a_cancel_mid_order_removes_the_published_records() {
    let bind = Bind::start();
    // pebble sleeps before validating: the order stays pending, records published.
    let pebble = PebbleOnDns::start(&bind.address(), true);
    let m = setup(&pebble, &bind, &bind.secret);
    fs::create_dir(m.path("prod/held")).unwrap();
    fs::write(
        m.path("prod/held/policy.json"),
        policy(
            "held.example.test",
            &["held.example.test", "*.held.example.test"],
        ),
    )
    .unwrap();
    wait_until("both records in BIND", || {
        bind.txt_values("_acme-challenge.held.example.test").len() == 2
    });
    wait_in_progress(&m, "held", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("validate dns-01"))
    });
    fs::write(
        m.path("prod/held/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    let op = wait_status(&m, "held", "cancelled");
    assert_eq!(op["status_details"], "ACME cancelled the order.", "{op:#}");
    assert_eq!(
        bind.txt_values("_acme-challenge.held.example.test"),
        Vec::<String>::new(),
        "the cancel removed the records:\n{}",
        m.logs()
    );
}

#[test]
fn a_wildcard_policy_for_an_http01_issuer_is_refused_at_write() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let issuer = json!({
        "provider": "ACME",
        "endpoint": "https://127.0.0.1:1/dir",
        "challenge": {"type": "http-01", "listen": "127.0.0.1:0"},
    });
    fs::write(m.path("prod/issuers/web.json"), issuer.to_string()).unwrap();
    fs::create_dir(m.path("prod/wild")).unwrap();
    let src = m.root.path().join("policy.json");
    fs::write(
        &src,
        policy("example.test", &["*.example.test", "example.test"]).replace("\"le\"", "\"web\""),
    )
    .unwrap();
    sh_err(
        &m.mnt,
        &format!("cp {} prod/wild/policy.json", src.display()),
    );
    let why = fs::read_to_string(m.path("prod/wild/policy.json.error")).unwrap();
    assert!(why.contains("'*.example.test'"), "{why}");
    assert!(why.contains("only by dns-01"), "{why}");
    assert!(!m.path("prod/wild/cert.pem").exists());
}

#[test]
fn a_dns_server_down_is_retried_and_the_order_completes_once_it_is_back() {
    let mut bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), false);
    let m = setup(&pebble, &bind, &bind.secret);
    bind.down();
    fs::create_dir(m.path("prod/later")).unwrap();
    fs::write(
        m.path("prod/later/policy.json"),
        policy("later.example.test", &["later.example.test"]),
    )
    .unwrap();
    let op = wait_in_progress(&m, "later", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be reached"))
    });
    let details = op["status_details"].as_str().unwrap();
    assert!(
        details.contains(&format!("the DNS server {}", bind.address())),
        "{op:#}"
    );
    bind.up();
    issue_waited(&m, "later");
    assert_eq!(
        bind.txt_values("_acme-challenge.later.example.test"),
        Vec::<String>::new()
    );
}

#[test]
fn a_daemon_restarted_mid_order_resumes_it_and_removes_the_records_at_the_end() {
    let bind = Bind::start();
    let pebble = PebbleOnDns::start(&bind.address(), true);
    let mut m = setup(&pebble, &bind, &bind.secret);
    fs::create_dir(m.path("prod/held")).unwrap();
    fs::write(
        m.path("prod/held/policy.json"),
        policy("held.example.test", &["held.example.test"]),
    )
    .unwrap();
    wait_until("the record in BIND", || {
        bind.txt_values("_acme-challenge.held.example.test").len() == 1
    });
    m.kill9();
    m.remount();
    // The restarted daemon follows the order again (and publishes again).
    wait_in_progress(&m, "held", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("validate dns-01"))
    });
    fs::write(
        m.path("prod/held/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    wait_status(&m, "held", "cancelled");
    assert_eq!(
        bind.txt_values("_acme-challenge.held.example.test"),
        Vec::<String>::new(),
        "the records of the order followed before the restart are removed:\n{}",
        m.logs()
    );
}
