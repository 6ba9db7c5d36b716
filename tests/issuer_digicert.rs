//! DigiCert end to end through the mount: an issuer file, a policy naming it, and the background worker ordering from the stand-in until `operation.json` completes (or fails, or is cancelled), nginx serving the result.

#[path = "common/ca.rs"]
#[allow(dead_code)]
mod ca;
#[path = "common/ca_digicert.rs"]
mod ca_digicert;
mod common;

use std::fs;

use ca::StandIn;
use ca_digicert::{API_KEY, DigiCertStandIn, ORG_ID};
use common::nginx::{Nginx, require_nginx};
use common::operations::{operation, wait_operation, wait_request_id, wait_status};
use common::{Mount, ec_policy, sh_ok};
use serde_json::{Value, json};

/// A mount with vault `prod` and issuer `digi` pointing at a DigiCert stand-in.
fn setup(ca: &DigiCertStandIn) -> Mount {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let issuer = json!({
        "provider": "DigiCert",
        "credentials": {"account_id": "123456", "pwd": API_KEY},
        "org_details": {"id": ORG_ID},
        "endpoint": ca.base_url(),
    });
    fs::write(m.path("prod/issuers/digi.json"), issuer.to_string()).unwrap();
    m
}

/// The issue's policy for `host`, with an EC key (fast) and issuer `digi`, OV-SSL.
fn policy(host: &str) -> String {
    json!({
        "key_props": {"kty": "EC", "crv": "P-256", "exportable": true},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 12},
        "issuer": {"name": "digi", "cty": "OV-SSL"},
        "lifetime_actions": [{"trigger": {"days_before_expiry": 60}, "action": {"action_type": "AutoRenew"}}],
    })
    .to_string()
}

/// The stand-in's orders for `host`.
fn orders_for(ca: &DigiCertStandIn, host: &str) -> Vec<Value> {
    ca.orders()
        .into_iter()
        .filter(|o| o["common_name"] == host)
        .collect()
}

#[test]
fn an_order_completes_without_user_action_and_nginx_serves_the_chain_digicert_signed() {
    let ca = DigiCertStandIn::start();
    let m = setup(&ca);
    let host = "shop.contoso.com";
    ca.hold_orders(host);
    fs::create_dir(m.path("prod/shop")).unwrap();
    fs::write(m.path("prod/shop/policy.json"), policy(host)).unwrap();

    // In progress, with DigiCert's order id, while the CA validates.
    let request_id = wait_request_id(&m, "shop");
    let op = operation(&m, "shop");
    assert_eq!(op["issuer"]["name"], "digi");
    assert!(op["error"].is_null(), "{op:#}");
    let orders = orders_for(&ca, host);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["id"].to_string(), request_id);
    assert_eq!(orders[0]["product"], "ssl_basic", "OV-SSL orders Basic OV");

    // DigiCert issues: the worker completes the version by itself.
    ca.script(host, json!({"mode": "issue", "polls": 1}));
    let op = wait_status(&m, "shop", "completed");
    assert_eq!(op["request_id"], request_id.as_str());
    let root = ca.root_pem();
    let verify = sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/shop/fullchain.pem prod/shop/cert.pem",
            root.display()
        ),
    );
    assert!(verify.trim().ends_with("OK"), "{verify}");
    let fullchain = fs::read_to_string(m.path("prod/shop/fullchain.pem")).unwrap();
    assert!(
        fullchain.matches("BEGIN CERTIFICATE").count() >= 2,
        "leaf and intermediate at least: {fullchain}"
    );
    let text = sh_ok(&m.mnt, "openssl x509 -in prod/shop/cert.pem -noout -text");
    assert!(text.contains("DNS:shop.contoso.com"), "{text}");
    assert!(text.contains("Stand-in DigiCert Test"), "{text}");

    if require_nginx().is_none() {
        return;
    }
    let nginx = Nginx::start(&m.root.path().join("nginx"), &m.path("prod/shop"));
    let port = nginx.port;
    let served = sh_ok(
        &m.mnt,
        &format!(
            "curl -sS --fail --max-time 20 --cacert {} --resolve {host}:{port}:127.0.0.1 https://{host}:{port}/",
            root.display()
        ),
    );
    assert_eq!(
        served,
        "served by nginx from certfs\n",
        "{}",
        nginx.error_log()
    );
}

#[test]
fn a_refusal_fails_the_operation_with_digicerts_words() {
    let ca = DigiCertStandIn::start();
    let m = setup(&ca);
    let host = "refused.contoso.com";
    let words = ca.refuse_orders(host);
    fs::create_dir(m.path("prod/refused")).unwrap();
    fs::write(m.path("prod/refused/policy.json"), policy(host)).unwrap();
    let op = wait_status(&m, "refused", "failed");
    let message = op["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&words), "{op:#}");
    assert_eq!(op["error"]["code"], "rejected", "{op:#}");
    assert!(!m.path("prod/refused/cert.pem").exists() || op["target"].is_null());
}

#[test]
fn a_ca_that_is_down_is_retried_until_it_comes_back() {
    let mut ca = DigiCertStandIn::start();
    let m = setup(&ca);
    let host = "later.contoso.com";
    ca.go_down();
    fs::create_dir(m.path("prod/later")).unwrap();
    fs::write(m.path("prod/later/policy.json"), policy(host)).unwrap();
    // The worker tries and fails to reach DigiCert: still in progress, no
    // order id, and operation.json says it retries.
    let op = wait_operation(&m, "later", "a retry", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be reached"))
    });
    assert_eq!(op["status"], "inProgress", "{op:#}");
    assert!(op["request_id"].is_null(), "{op:#}");
    ca.come_up();
    let op = wait_status(&m, "later", "completed");
    assert!(op["request_id"].is_string(), "{op:#}");
    assert_eq!(orders_for(&ca, host).len(), 1);
}

#[test]
fn a_cancel_reaches_digicert_and_the_operation_is_cancelled() {
    let ca = DigiCertStandIn::start();
    let m = setup(&ca);
    let host = "cancel.contoso.com";
    ca.hold_orders(host);
    fs::create_dir(m.path("prod/cancel")).unwrap();
    fs::write(m.path("prod/cancel/policy.json"), policy(host)).unwrap();
    let request_id = wait_request_id(&m, "cancel");
    fs::write(
        m.path("prod/cancel/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    let op = wait_status(&m, "cancel", "cancelled");
    assert_eq!(op["cancellation_requested"], true);
    let orders = common::wait_for("DigiCert to see the cancel", || {
        let orders = orders_for(&ca, host);
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0]["id"].to_string(), request_id);
        (orders[0]["status"] == "canceled").then_some(orders)
    });
    assert!(orders[0]["cancel_note"].is_string(), "{orders:?}");
}

#[test]
fn a_restart_mid_operation_resumes_the_same_order() {
    let ca = DigiCertStandIn::start();
    let mut m = setup(&ca);
    let host = "resume.contoso.com";
    ca.hold_orders(host);
    fs::create_dir(m.path("prod/resume")).unwrap();
    fs::write(m.path("prod/resume/policy.json"), policy(host)).unwrap();
    let request_id = wait_request_id(&m, "resume");
    m.stop();
    ca.script(host, json!({"mode": "issue", "polls": 1}));
    m.remount();
    let op = wait_status(&m, "resume", "completed");
    assert_eq!(op["request_id"], request_id.as_str(), "the same order");
    assert_eq!(orders_for(&ca, host).len(), 1, "no second order");
    sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/resume/fullchain.pem prod/resume/cert.pem",
            ca.root_pem().display()
        ),
    );
}

#[test]
fn a_slow_ca_never_stalls_close_ls_or_cat() {
    let ca = DigiCertStandIn::start();
    let m = setup(&ca);
    fs::create_dir(m.path("prod/other")).unwrap();
    fs::write(
        m.path("prod/other/policy.json"),
        ec_policy("other.contoso.com"),
    )
    .unwrap();
    let other_pem = fs::read(m.path("prod/other/cert.pem")).unwrap();

    // Every call about this host is held a minute before DigiCert answers.
    let host = "slow.contoso.com";
    ca.script(host, json!({"mode": "hold", "delay": 60}));
    fs::create_dir(m.path("prod/slow")).unwrap();
    fs::write(m.path("prod/slow/policy.json"), policy(host)).unwrap();
    // The close returned before DigiCert answered: no order id yet ...
    let op = operation(&m, "slow");
    assert_eq!(op["status"], "inProgress", "{op:#}");
    assert!(op["request_id"].is_null(), "{op:#}");
    // ... while the order call is on its way to DigiCert, held there.
    common::wait_until("the order call held by DigiCert", || ca.held_calls() > 0);
    fs::read_dir(m.path("prod")).unwrap().count();
    assert_eq!(fs::read(m.path("prod/other/cert.pem")).unwrap(), other_pem);
    fs::read_dir(m.path("prod/slow")).unwrap().count();
    let op = operation(&m, "slow");
    assert!(op["request_id"].is_null(), "{op:#}");
    // Everything above was answered while DigiCert still held the order.
    assert!(
        ca.held_calls() > 0,
        "DigiCert answered before the reads were done"
    );
}

#[test]
fn a_held_order_stays_open_across_unchanged_polls() {
    // Regression: the worker took an unchanged poll answer ("pending" twice)
    // for a withdrawn operation and cancelled the order at the CA.
    let ca = DigiCertStandIn::start();
    let m = setup(&ca);
    let host = "patient.contoso.com";
    ca.hold_orders(host);
    fs::create_dir(m.path("prod/patient")).unwrap();
    fs::write(m.path("prod/patient/policy.json"), policy(host)).unwrap();
    wait_request_id(&m, "patient");
    common::wait_until("three polls of the held order", || {
        orders_for(&ca, host)[0]["polls"].as_u64().unwrap_or(0) >= 3
    });
    let orders = orders_for(&ca, host);
    assert_ne!(orders[0]["status"], "canceled", "{orders:?}");
    assert_eq!(operation(&m, "patient")["status"], "inProgress");
    ca.script(host, json!({"mode": "issue", "polls": 1}));
    wait_status(&m, "patient", "completed");
}
