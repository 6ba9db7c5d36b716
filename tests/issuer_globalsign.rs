//! GlobalSign through the mount, against the GCC stand-in: an order completes by itself and nginx serves it; refused, down then up, cancelled, resumed after a restart; other files answer while GlobalSign is slow.

#[allow(dead_code)]
#[path = "common/ca.rs"]
mod ca;
#[path = "common/ca_globalsign.rs"]
mod ca_globalsign;
mod common;

use std::fs;
use std::time::{Duration, Instant};

use ca::StandIn;
use ca_globalsign::{GlobalSignStandIn, PASSWORD, USER};
use common::nginx::{Nginx, curl_trusting, require_nginx};
use common::operations::{operation, status, wait_operation};
use common::{Mount, ec_policy, sh_ok};
use serde_json::{Value, json};

/// `prod/issuers/gs.json`: Key Vault's GlobalSign IssuerBundle with the stand-in as `endpoint`.
fn issuer_json(server: &GlobalSignStandIn) -> String {
    json!({
        "provider": "GlobalSign",
        "credentials": {"account_id": USER, "pwd": PASSWORD},
        "org_details": {"admin_details": [{
            "first_name": "Ada", "last_name": "Lovelace",
            "email": "ada@certfs.test", "phone": "+44 20 7946 0000"
        }]},
        "endpoint": server.url()
    })
    .to_string()
}

fn policy(cn: &str) -> String {
    json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={cn}"), "sans": {"dns_names": [cn]}, "validity_months": 12},
        "issuer": {"name": "gs", "cty": "OV-SSL"}
    })
    .to_string()
}

/// A mount with vault `prod` and issuer `gs` pointing at `server`.
fn vault_with_gs(server: &GlobalSignStandIn) -> Mount {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/issuers/gs.json"), issuer_json(server)).unwrap();
    m
}

/// Orders certificate `name` for `cn` through `gs`; returns how long the write took.
fn order(m: &Mount, name: &str, cn: &str) -> Duration {
    fs::create_dir(m.path(&format!("prod/{name}"))).unwrap();
    let start = Instant::now();
    fs::write(m.path(&format!("prod/{name}/policy.json")), policy(cn)).unwrap();
    start.elapsed()
}

fn placed(op: &Value) -> bool {
    status(op) == "inProgress"
        && op["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("CEAP"))
}

#[test]
fn a_globalsign_order_completes_by_itself_and_nginx_serves_it() {
    let server = GlobalSignStandIn::start();
    let m = vault_with_gs(&server);
    server.set_rule("web.example.com", r#"{"mode":"issue","polls":3}"#);
    order(&m, "web", "web.example.com");
    let first = operation(&m, "web");
    assert_eq!(status(&first), "inProgress", "{first:#}");
    assert_eq!(first["issuer"]["name"], "gs");
    let pending = wait_operation(&m, "web", "the GlobalSign order id", placed);
    assert!(
        pending["status_details"]
            .as_str()
            .unwrap()
            .contains("GlobalSign"),
        "{pending:#}"
    );
    let request_id = pending["request_id"].as_str().unwrap().to_owned();
    let done = wait_operation(&m, "web", "completed", |op| status(op) == "completed");
    assert_eq!(done["request_id"], request_id.as_str());
    assert!(done.get("error").is_none_or(Value::is_null), "{done:#}");
    let root = server.root_pem();
    let root = root.display();
    sh_ok(
        &m.mnt,
        &format!("openssl verify -CAfile {root} -untrusted prod/web/chain.pem prod/web/cert.pem"),
    );
    sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {root} -untrusted prod/web/fullchain.pem prod/web/fullchain.pem"
        ),
    );
    let text = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -text");
    assert!(text.contains("DNS:web.example.com"), "{text}");
    assert!(text.contains("stand-in GlobalSign"), "{text}");
    let a = sh_ok(&m.mnt, "openssl pkey -in prod/web/privkey.pem -pubout");
    let b = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -pubkey");
    assert_eq!(a, b);
    // What GlobalSign was told.
    let stored = server.order(&request_id);
    assert_eq!(stored["product"], "PV_SHA2");
    assert_eq!(stored["contact"]["LastName"], "Lovelace");
    // The policy's 12 months, capped by SC-081 (at most 200 days).
    assert!(
        (1..=6).contains(&stored["months"].as_u64().unwrap()),
        "{stored}"
    );
    // The password (markup and quotes in it) reached GlobalSign, and nowhere else.
    assert!(!m.logs().contains(PASSWORD));
    assert!(
        !fs::read_to_string(m.path("prod/issuers/gs.json"))
            .unwrap()
            .contains("s3cret")
    );
    if require_nginx().is_none() {
        return;
    }
    let prefix = m.root.path().join("nginx");
    let nginx = Nginx::start(&prefix, &m.path("prod/web"));
    let body = curl_trusting(&m.mnt, nginx.port, &server.root_pem());
    assert_eq!(body, "served by nginx from certfs\n");
}

#[test]
fn a_refused_order_fails_with_globalsigns_words() {
    let server = GlobalSignStandIn::start();
    let m = vault_with_gs(&server);
    let host = server.host_name("refused");
    let message = server.refuse_orders(&host);
    order(&m, "refused", &host);
    let failed = wait_operation(&m, "refused", "failed", |op| status(op) == "failed");
    assert_eq!(failed["error"]["code"], "-9450", "{failed:#}");
    assert_eq!(failed["error"]["message"], message.as_str(), "{failed:#}");
    assert!(!m.path("prod/refused/cert.pem").exists());
}

#[test]
fn with_globalsign_down_then_up_the_order_completes() {
    let mut server = GlobalSignStandIn::start();
    let m = vault_with_gs(&server);
    server.go_down();
    let host = server.host_name("later");
    order(&m, "later", &host);
    let waiting = wait_operation(&m, "later", "a retry", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be reached"))
    });
    assert_eq!(status(&waiting), "inProgress");
    server.come_up();
    wait_operation(&m, "later", "completed", |op| status(op) == "completed");
    sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/later/chain.pem prod/later/cert.pem",
            server.root_pem().display()
        ),
    );
}

#[test]
fn cancelling_asks_globalsign_to_cancel_the_order() {
    let server = GlobalSignStandIn::start();
    let m = vault_with_gs(&server);
    let host = server.host_name("cancel");
    server.hold_orders(&host);
    order(&m, "held", &host);
    let pending = wait_operation(&m, "held", "the GlobalSign order id", placed);
    let request_id = pending["request_id"].as_str().unwrap().to_owned();
    fs::write(
        m.path("prod/held/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    let cancelled = wait_operation(&m, "held", "cancelled", |op| status(op) == "cancelled");
    assert_eq!(cancelled["request_id"], request_id.as_str());
    assert!(
        server
            .calls()
            .iter()
            .any(|c| c["operation"] == "ModifyMSSLOrder"
                && c["modify_operation"] == "CANCEL"
                && c["order_id"] == request_id.as_str()),
        "{:#?}",
        server.calls()
    );
    assert_eq!(
        server.order(&request_id)["status"],
        "3",
        "cancelled before issue"
    );
}

#[test]
fn restarting_certfs_mid_order_resumes_it() {
    let server = GlobalSignStandIn::start();
    let mut m = vault_with_gs(&server);
    let host = server.host_name("resume");
    server.hold_orders(&host);
    order(&m, "resume", &host);
    let pending = wait_operation(&m, "resume", "the GlobalSign order id", placed);
    let request_id = pending["request_id"].as_str().unwrap().to_owned();
    m.stop();
    // GlobalSign approves while certfs is down.
    server.set_rule(&host, r#"{"mode":"issue","polls":0}"#);
    m.remount();
    let done = wait_operation(&m, "resume", "completed", |op| status(op) == "completed");
    assert_eq!(done["request_id"], request_id.as_str());
    let orders = server
        .calls()
        .iter()
        .filter(|c| c["operation"] == "PVOrder")
        .count();
    assert_eq!(orders, 1, "the order was followed, not placed again");
    sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/resume/chain.pem prod/resume/cert.pem",
            server.root_pem().display()
        ),
    );
}

#[test]
fn other_certificates_answer_while_globalsign_is_slow() {
    let server = GlobalSignStandIn::start();
    let m = vault_with_gs(&server);
    fs::create_dir(m.path("prod/other")).unwrap();
    fs::write(
        m.path("prod/other/policy.json"),
        ec_policy("other.example.com"),
    )
    .unwrap();
    let host = server.host_name("slow");
    server.set_rule(&host, r#"{"mode":"issue","polls":1,"delay_ms":4000}"#);
    let write = order(&m, "slow", &host);
    // Wait until the worker is inside the slow PVOrder.
    let start = Instant::now();
    while !server.calls().iter().any(|c| c["operation"] == "PVOrder") {
        assert!(start.elapsed() < Duration::from_secs(30), "no PVOrder");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let listing = sh_ok(&m.mnt, "ls prod");
    let ls = t.elapsed();
    let t = Instant::now();
    let cert = fs::read_to_string(m.path("prod/other/cert.pem")).unwrap();
    let cat = t.elapsed();
    let t = Instant::now();
    let op = operation(&m, "slow");
    let op_read = t.elapsed();
    eprintln!(
        "while GlobalSign takes 4 s: policy write {write:?}, ls {ls:?}, cat cert.pem {cat:?}, cat operation.json {op_read:?}"
    );
    assert!(
        listing.contains("other") && listing.contains("slow"),
        "{listing}"
    );
    assert!(cert.contains("BEGIN CERTIFICATE"));
    assert_eq!(status(&op), "inProgress");
    // Hang detectors, far above the milliseconds these take.
    for (what, took) in [
        ("write", write),
        ("ls", ls),
        ("cat", cat),
        ("operation", op_read),
    ] {
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    }
    wait_operation(&m, "slow", "completed", |op| status(op) == "completed");
}
