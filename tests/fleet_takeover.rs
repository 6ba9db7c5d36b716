//! Background work of a daemon that loses its database connection: the CA order it follows is taken over and completed by another daemon of the fleet, once, and the cut-off daemon catches up when it can log in again.

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
use std::path::Path;

use common::postgres::PgServer;
use common::{Mount, sh_ok, wait_until};
use pebble::{EAB_HMAC, EAB_KID, Pebble};
use serde_json::{Value, json};
use webroot_nginx::WebrootNginx;

/// The roles the two daemons log in as (B's may do everything A's owns).
const ROLE_A: &str = "certfs_takeover_a";
const ROLE_B: &str = "certfs_takeover_b";

fn json_of(m: &Mount, rel: &str) -> Value {
    serde_json::from_slice(&fs::read(m.path(rel)).unwrap()).unwrap()
}

/// Ends every session of `role` and keeps it from logging in again.
fn cut_off(server: &PgServer, role: &str) {
    let mut admin = server.admin();
    admin
        .batch_execute(&format!("ALTER ROLE {role} NOLOGIN"))
        .unwrap();
    wait_until("the role's sessions ended", || {
        let ended: i64 = admin
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid)
                 FROM pg_stat_activity WHERE usename = $1) AS t",
                &[&role],
            )
            .unwrap()
            .get(0);
        ended == 0
    });
}

#[test]
fn an_order_whose_daemon_loses_the_database_is_completed_by_the_other() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let _web = WebrootNginx::start(&webroot, pebble.http_port, None);
    // The webroot cannot take the answer yet: the order stays pending at pebble.
    fs::create_dir_all(&webroot).unwrap();
    fs::write(webroot.join(".well-known"), "not a directory").unwrap();

    let server = PgServer::shared();
    let db = server.create_user_with_database(ROLE_A, "pw-takeover-a");
    server
        .admin()
        .batch_execute(&format!("CREATE ROLE {ROLE_B} LOGIN SUPERUSER"))
        .unwrap();
    let url = server.url(&db);
    let as_role =
        |role: &str| url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let keys = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(keys.path(), 0x77);
    let a = Mount::start_with_args(&["--store", &as_role(ROLE_A), "--key-file", &key_file]);
    let b = Mount::start_with_args(&["--store", &as_role(ROLE_B), "--key-file", &key_file]);
    let logs = || format!("A:\n{}\nB:\n{}", a.logs(), b.logs());

    fs::create_dir(a.path("prod")).unwrap();
    let issuer = json!({
        "provider": "ACME",
        "endpoint": pebble.directory_url(),
        "credentials": {"account_id": "ops@certfs.test"},
        "eab": {"kid": EAB_KID, "hmac_key": EAB_HMAC},
        "challenge": {"type": "http-01", "webroot": webroot},
        "ca_file": pebble.tls_ca(),
    });
    fs::write(a.path("prod/issuers/le.json"), issuer.to_string()).unwrap();
    let host = "shop.certfs.test";
    let policy = json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 3},
        "issuer": {"name": "le"},
    });
    fs::create_dir(a.path("prod/shop")).unwrap();
    fs::write(a.path("prod/shop/policy.json"), policy.to_string()).unwrap();

    // The order waits for its challenge, followed by one of the two.
    let follows = "prod/shop: this server follows the order";
    let leaves = "order/prod/shop: another server has it";
    let mut request_id = String::new();
    let mut follows_a = false;
    wait_until(
        "the order followed by one daemon, left by the other",
        || {
            let (la, lb) = (a.logs(), b.logs());
            follows_a = la.contains(follows) && lb.contains(leaves);
            let one = follows_a || (lb.contains(follows) && la.contains(leaves));
            let Ok(text) = fs::read_to_string(b.path("prod/shop/operation.json")) else {
                return false;
            };
            let op: Value = serde_json::from_str(&text).unwrap();
            if let Some(id) = op["request_id"].as_str() {
                request_id = id.to_owned();
            }
            one && op["status_details"]
                .as_str()
                .is_some_and(|d| d.contains("acme-challenge"))
        },
    );
    let (cut, cut_role, survivor) = if follows_a {
        (&a, ROLE_A, &b)
    } else {
        (&b, ROLE_B, &a)
    };

    // The follower loses the database (alive, but its sessions ended and
    // refused); the webroot works again. The other takes the order over.
    cut_off(server, cut_role);
    fs::remove_file(webroot.join(".well-known")).unwrap();
    wait_until("the survivor completing the order", || {
        let op = json_of(survivor, "prod/shop/operation.json");
        assert_ne!(op["status"], "failed", "{op:#}\n{}", logs());
        op["status"] == "completed"
    });
    let op = json_of(survivor, "prod/shop/operation.json");
    assert_eq!(
        op["request_id"],
        request_id.as_str(),
        "the same order: {op:#}"
    );
    let out = sh_ok(
        &survivor.mnt,
        &format!(
            "openssl verify -CAfile {} -untrusted prod/shop/fullchain.pem prod/shop/cert.pem",
            pebble.root_pem().display()
        ),
    );
    assert!(out.trim().ends_with("OK"), "{out}");

    // Back on the database, the cut-off daemon shows what the other did,
    // without a remount; the certificate was made once.
    server
        .admin()
        .batch_execute(&format!("ALTER ROLE {cut_role} LOGIN"))
        .unwrap();
    let done = fs::read(survivor.path("prod/shop/fullchain.pem")).unwrap();
    wait_until("the completed certificate on the cut-off daemon", || {
        fs::read(cut.path("prod/shop/fullchain.pem")).ok() == Some(done.clone())
    });
    let versions: i64 = server
        .connect(&db)
        .query_one("SELECT count(*) FROM versions", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 1, "{}", logs());
    assert!(Path::new(&cut.path("prod/shop/cert.pem")).exists());
}
