//! ACME end to end through the mount against a real pebble: `issuers/le.json`, a policy naming `le`, and the background worker ordering, answering http-01 (from a webroot a real nginx serves, or from certfs' own listener), finalizing and downloading until `operation.json` completes, fails with pebble's words, or is cancelled; nginx then serves the certificate.

#[path = "common/ca.rs"]
#[allow(dead_code)]
mod ca;
#[path = "common/ca_acme.rs"]
#[allow(dead_code)]
mod ca_acme;
mod common;
#[path = "common/pebble.rs"]
mod pebble;
#[path = "common/webroot_nginx.rs"]
mod webroot_nginx;

use std::fs;
use std::path::{Path, PathBuf};

use ca_acme::{Memory, listener, settings};
use certfs::issuers::acme::Acme;
use certfs::issuers::{CaError, CertificateAuthority, Order};
use common::nginx::Nginx;
use common::operations::{operation, wait_in_progress, wait_status};
use common::{Mount, sh_ok};
use pebble::{EAB_HMAC, EAB_KID, Pebble};
use serde_json::json;
use webroot_nginx::WebrootNginx;

/// How http-01 is answered in a test.
enum Answer<'a> {
    /// Files in this webroot.
    Webroot(&'a Path),
    /// certfs' own listener on pebble's http port.
    Listener,
}

/// A mount with vault `prod` and issuer `le` pointing at `pebble`.
fn setup(pebble: &Pebble, answer: Answer<'_>) -> Mount {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let challenge = match answer {
        Answer::Webroot(dir) => json!({"type": "http-01", "webroot": dir}),
        Answer::Listener => {
            json!({"type": "http-01", "listen": format!("127.0.0.1:{}", pebble.http_port)})
        }
    };
    let issuer = json!({
        "provider": "ACME",
        "endpoint": pebble.directory_url(),
        "credentials": {"account_id": "ops@certfs.test"},
        "eab": {"kid": EAB_KID, "hmac_key": EAB_HMAC},
        "challenge": challenge,
        "ca_file": pebble.tls_ca(),
    });
    fs::write(m.path("prod/issuers/le.json"), issuer.to_string()).unwrap();
    let shown = fs::read_to_string(m.path("prod/issuers/le.json")).unwrap();
    assert!(
        !shown.contains(EAB_HMAC),
        "the HMAC key is never read back: {shown}"
    );
    m
}

/// A policy for `hosts` (the first is the CN) through issuer `le`, with an EC key.
fn policy(hosts: &[&str]) -> String {
    json!({
        "key_props": {"kty": "EC", "crv": "P-256", "exportable": true},
        "x509_props": {"subject": format!("CN={}", hosts[0]), "sans": {"dns_names": hosts}, "validity_months": 3},
        "issuer": {"name": "le"},
        "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "AutoRenew"}}],
    })
    .to_string()
}

/// `openssl verify` of the mounted chain against pebble's current root.
fn assert_verifies(m: &Mount, cert: &str, root: &Path) {
    let out = sh_ok(
        &m.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/{cert}/fullchain.pem prod/{cert}/cert.pem",
            root.display()
        ),
    );
    assert!(out.trim().ends_with("OK"), "{out}");
}

/// Makes the webroot unusable: `.well-known` is a file, so no challenge
/// directory can be made there (even by root). The worker keeps retrying.
fn block_webroot(webroot: &Path) {
    fs::create_dir_all(webroot).unwrap();
    fs::write(webroot.join(".well-known"), "not a directory").unwrap();
}

fn unblock_webroot(webroot: &Path) {
    fs::remove_file(webroot.join(".well-known")).unwrap();
}

fn challenge_files(webroot: &Path) -> Vec<String> {
    fs::read_dir(webroot.join(".well-known/acme-challenge"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_order_completes_without_user_action_through_an_nginx_webroot_and_nginx_serves_it() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let web = WebrootNginx::start(&webroot, pebble.http_port, None);
    let m = setup(&pebble, Answer::Webroot(&webroot));
    let hosts = ["shop.certfs.test", "www.shop.certfs.test"];
    fs::create_dir(m.path("prod/shop")).unwrap();
    fs::write(m.path("prod/shop/policy.json"), policy(&hosts)).unwrap();
    // At once: in progress, issuer le (the worker's first poll comes later).
    let op = operation(&m, "shop");
    assert_eq!(op["status"], "inProgress", "{op:#}");
    assert_eq!(op["issuer"]["name"], "le");

    // The order's URL at pebble is the request id.
    let op = wait_in_progress(&m, "shop", |op| op["request_id"].is_string());
    let request_id = op["request_id"].as_str().unwrap().to_owned();
    let order_base = format!("https://127.0.0.1:{}/my-order/", pebble.port);
    assert!(request_id.starts_with(&order_base), "{op:#}");

    let op = wait_status(&m, "shop", "completed");
    assert_eq!(op["request_id"], request_id.as_str(), "{op:#}");
    assert!(op["error"].is_null(), "{op:#}");
    let root = pebble.root_pem();
    assert_verifies(&m, "shop", &root);
    let fullchain = fs::read_to_string(m.path("prod/shop/fullchain.pem")).unwrap();
    assert!(
        fullchain.matches("BEGIN CERTIFICATE").count() >= 2,
        "{fullchain}"
    );
    let text = sh_ok(&m.mnt, "openssl x509 -in prod/shop/cert.pem -noout -text");
    for host in hosts {
        assert!(text.contains(&format!("DNS:{host}")), "{text}");
    }
    assert!(text.contains("Pebble Intermediate CA"), "{text}");

    // Pebble validated both names through nginx, and the answers are gone.
    let log = web.access_log();
    let served = log
        .lines()
        .filter(|l| l.contains("GET /.well-known/acme-challenge/") && l.contains("\" 200 "))
        .count();
    assert!(served >= 2, "nginx served no challenge answer:\n{log}");
    assert_eq!(challenge_files(&webroot), Vec::<String>::new());

    // nginx serves the issued certificate straight from the mount.
    let tls = Nginx::start(&m.root.path().join("nginx"), &m.path("prod/shop"));
    let port = tls.port;
    let host = hosts[0];
    let page = sh_ok(
        &m.mnt,
        &format!(
            "curl -sS --fail --max-time 20 --cacert {} --resolve {host}:{port}:127.0.0.1 https://{host}:{port}/",
            root.display()
        ),
    );
    assert_eq!(page, "served by nginx from certfs\n", "{}", tls.error_log());
}

#[test]
fn a_failed_validation_fails_the_operation_with_pebbles_problem() {
    let pebble = Pebble::start(true);
    let m = setup(&pebble, Answer::Listener);
    // Pebble's DNS sends this name to 127.0.0.2, where nothing answers.
    let host = "moved.certfs.test";
    pebble.resolve(host, "127.0.0.2");
    fs::create_dir(m.path("prod/moved")).unwrap();
    fs::write(m.path("prod/moved/policy.json"), policy(&[host])).unwrap();
    let op = wait_status(&m, "moved", "failed");
    assert_eq!(
        op["error"]["code"], "urn:ietf:params:acme:error:connection",
        "{op:#}"
    );
    let message = op["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("connection refused"), "{op:#}");
    assert!(message.contains(host), "{op:#}");
    assert!(!m.path("prod/moved/cert.pem").exists() || op["target"].is_null());
}

#[test]
fn the_built_in_listener_answers_and_pebble_down_then_up_is_retried_until_it_completes() {
    let mut pebble = Pebble::start(true);
    let m = setup(&pebble, Answer::Listener);
    pebble.down();
    fs::create_dir(m.path("prod/later")).unwrap();
    fs::write(
        m.path("prod/later/policy.json"),
        policy(&["later.certfs.test"]),
    )
    .unwrap();
    // The worker cannot reach pebble: in progress, no order, and why.
    let op = wait_in_progress(&m, "later", |op| {
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be reached"))
    });
    assert!(op["request_id"].is_null(), "{op:#}");
    pebble.up();
    let op = wait_status(&m, "later", "completed");
    assert!(op["request_id"].is_string(), "{op:#}");
    assert_verifies(&m, "later", &pebble.root_pem());
    assert!(
        pebble
            .log()
            .contains("Attempting to validate w/ HTTP: http://later.certfs.test:"),
        "pebble validated through certfs' listener:\n{}",
        pebble.log()
    );
}

#[test]
fn a_restart_mid_operation_resumes_the_same_order() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let _web = WebrootNginx::start(&webroot, pebble.http_port, None);
    // The webroot cannot take the answer yet: the order stays pending at pebble.
    block_webroot(&webroot);
    let mut m = setup(&pebble, Answer::Webroot(&webroot));
    fs::create_dir(m.path("prod/resume")).unwrap();
    fs::write(
        m.path("prod/resume/policy.json"),
        policy(&["resume.certfs.test"]),
    )
    .unwrap();
    let op = wait_in_progress(&m, "resume", |op| {
        op["request_id"].is_string()
            && op["status_details"]
                .as_str()
                .is_some_and(|d| d.contains("acme-challenge"))
    });
    let request_id = op["request_id"].as_str().unwrap().to_owned();
    m.stop();
    unblock_webroot(&webroot);
    m.remount();
    let op = wait_status(&m, "resume", "completed");
    assert_eq!(
        op["request_id"],
        request_id.as_str(),
        "the same order: {op:#}"
    );
    assert_verifies(&m, "resume", &pebble.root_pem());
}

#[test]
fn first_orders_at_once_through_a_new_issuer_register_one_account() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let _web = WebrootNginx::start(&webroot, pebble.http_port, None);
    let m = setup(&pebble, Answer::Webroot(&webroot));
    // Four creates at once through an issuer with no account yet.
    let names: Vec<String> = (0..4).map(|i| format!("many{i}")).collect();
    let copies: Vec<(PathBuf, PathBuf)> = names
        .iter()
        .map(|name| {
            fs::create_dir(m.path(&format!("prod/{name}"))).unwrap();
            let file = m.root.path().join(format!("{name}.json"));
            fs::write(&file, policy(&[&format!("{name}.certfs.test")])).unwrap();
            (file, m.path(&format!("prod/{name}/policy.json")))
        })
        .collect();
    common::cp_at_once(&copies);
    for name in &names {
        wait_status(&m, name, "completed");
    }
    assert_eq!(
        m.logs().matches("acme: registered account").count(),
        1,
        "one account, used by every order\n{}",
        m.logs()
    );
}

/// The ACME account the vault keeps for issuer `name` (the store's
/// document; never shown in the mount), read from the SQLite file.
fn stored_account(m: &Mount, name: &str) -> String {
    // Issuer memories are sealed under the master key: read them through the store.
    let sqlite = certfs::store::sqlite::SqliteStore::open(&m.data.join("certfs.db")).unwrap();
    let key = certfs::store::master_key::MasterKey::load(&m.data.join("master.key")).unwrap();
    let store = certfs::store::encrypted::EncryptedStore::open(Box::new(sqlite), key).unwrap();
    use certfs::store::Store;
    let wanted = format!("issuer-memory/{name}");
    store
        .load()
        .unwrap()
        .documents
        .into_iter()
        .find(|d| d.key.eq_ignore_ascii_case(&wanted))
        .map(|d| d.value)
        .expect("the issuer's stored account")
}

#[test]
fn a_cancel_deactivates_the_order_at_pebble_and_the_operation_is_cancelled() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot: PathBuf = site.path().join("html");
    block_webroot(&webroot);
    let m = setup(&pebble, Answer::Webroot(&webroot));
    let host = "cancel.certfs.test";
    fs::create_dir(m.path("prod/cancel")).unwrap();
    fs::write(m.path("prod/cancel/policy.json"), policy(&[host])).unwrap();
    let op = wait_in_progress(&m, "cancel", |op| op["request_id"].is_string());
    let request_id = op["request_id"].as_str().unwrap().to_owned();
    fs::write(
        m.path("prod/cancel/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    let op = wait_status(&m, "cancel", "cancelled");
    assert!(
        op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("ACME cancelled")),
        "{op:#}"
    );

    // At pebble, with the vault's own account: the order can no longer be
    // validated (its authorization was deactivated).
    let memory = Memory::default();
    *memory.0.lock().unwrap() = Some(stored_account(&m, "le"));
    let ca = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(memory),
    )
    .unwrap();
    let spec = certfs::pki::x509::CertificateSpec {
        subject: certfs::pki::dn::DistinguishedName::parse(&format!("CN={host}")).unwrap(),
        sans: Default::default(),
        key_usage: vec![],
        extended_key_usage: vec![],
        validity_months: 3,
    };
    let order = Order {
        certificate_name: "cancel",
        csr_der: b"",
        spec: &spec,
        certificate_type: None,
    };
    match ca.poll(&order, &request_id) {
        Err(CaError::Rejected { message, .. }) => {
            assert!(message.contains("deactivated"), "{message}")
        }
        other => panic!("the cancelled order must be dead at pebble, got {other:?}"),
    }
    assert!(
        !pebble.log().contains(&format!("http://{host}:")),
        "pebble never validated the cancelled order:\n{}",
        pebble.log()
    );
}
