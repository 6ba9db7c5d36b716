//! Renewal across a fleet of six daemons: certificates due on every daemon at once are renewed exactly once each (one version, one CA order), also when the daemon that imported them, or the one following the CA's order, is killed with `kill -9` in the middle.

#[path = "common/ca.rs"]
#[allow(dead_code)]
mod ca;
#[path = "common/ca_digicert.rs"]
mod ca_digicert;
mod common;

use std::fs;
use std::path::Path;

use ca::StandIn;
use ca_digicert::{API_KEY, DigiCertStandIn, ORG_ID};
use common::postgres::PgServer;
use common::{Mount, sh_ok, wait_until};
use serde_json::json;

/// Daemons in the fleet.
const DAEMONS: usize = 6;
/// Certificates due at once.
const DUE: usize = 8;

/// An RSA-4096 key and a self-signed certificate for `cn` valid `days`
/// days, as one PEM: renewing it makes a new RSA-4096 key, slow enough
/// that a daemon killed right after the imports is in the middle of it.
fn expiring_pem(dir: &Path, cn: &str, days: u32) -> Vec<u8> {
    sh_ok(
        dir,
        &format!(
            "openssl req -x509 -newkey rsa:4096 -nodes \
             -keyout {cn}.key -out {cn}.crt -days {days} -subj /CN={cn} 2>/dev/null"
        ),
    );
    let mut pem = fs::read(dir.join(format!("{cn}.key"))).unwrap();
    pem.extend(fs::read(dir.join(format!("{cn}.crt"))).unwrap());
    pem
}

fn versions(m: &Mount, cert: &str) -> usize {
    fs::read_dir(m.path(&format!("prod/{cert}/versions")))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn certificates_due_on_six_daemons_renew_once_also_when_the_renewer_is_killed() {
    let server = PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    let work = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(work.path(), 0x52);
    let mut fleet: Vec<Mount> = (0..DAEMONS)
        .map(|_| Mount::start_with_args(&["--store", &url, "--key-file", &key_file]))
        .collect();
    fs::create_dir(fleet[0].path("prod")).unwrap();
    for m in &fleet[1..] {
        wait_until("the vault on every daemon", || m.path("prod").is_dir());
    }
    let policy = |cn: &str| {
        json!({
            "key_props": {"kty": "RSA", "key_size": 4096},
            "x509_props": {"subject": format!("CN={cn}"), "validity_months": 12},
            "issuer": {"name": "Self"},
            "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "AutoRenew"}}],
        })
        .to_string()
    };
    // Certificates that expire in 2 days, imported through daemon 0: each
    // is due at once on every daemon, and daemon 0 starts on them first.
    let names: Vec<String> = (0..DUE).map(|i| format!("due{i}")).collect();
    let pems: Vec<Vec<u8>> = names
        .iter()
        .map(|n| expiring_pem(work.path(), &format!("{n}.example.com"), 2))
        .collect();
    for (name, pem) in names.iter().zip(&pems) {
        let m = &fleet[0];
        fs::write(
            m.path(&format!("prod/import/{name}.policy.json")),
            policy(&format!("{name}.example.com")),
        )
        .unwrap();
        fs::write(m.path(&format!("prod/import/{name}.pem")), pem).unwrap();
    }
    // Daemon 0 dies while it renews them.
    let count = |sql: &str| -> i64 { server.connect(&db).query_one(sql, &[]).unwrap().get(0) };
    fleet[0].kill9();
    eprintln!(
        "renewals stored when daemon 0 was killed: {} of {DUE}",
        count("SELECT count(*) FROM versions") - DUE as i64
    );
    let survivors = &fleet[1..];
    for name in &names {
        for m in survivors {
            wait_until("the renewal on every surviving daemon", || {
                versions(m, name) == 2
            });
        }
    }
    for name in &names {
        let status = common::json_file(&survivors[0].path(&format!("prod/{name}/status.json")));
        assert_eq!(status["last_renewal"]["outcome"], "succeeded", "{status}");
    }
    let stored: i64 = server
        .connect(&db)
        .query_one("SELECT count(*) FROM versions", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        2 * DUE as i64,
        "one renewal per certificate across the fleet"
    );
    // The killed daemon, back, shows the same.
    fleet[0].remount();
    for name in &names {
        assert_eq!(versions(&fleet[0], name), 2, "{name}");
    }
}

#[test]
fn a_renewal_through_a_ca_is_one_order_also_when_the_daemon_following_it_is_killed() {
    let ca = DigiCertStandIn::start();
    let server = PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    let work = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(work.path(), 0x53);
    let mut fleet: Vec<Mount> = (0..DAEMONS)
        .map(|_| Mount::start_with_args(&["--store", &url, "--key-file", &key_file]))
        .collect();
    fs::create_dir(fleet[0].path("prod")).unwrap();
    let issuer = json!({
        "provider": "DigiCert",
        "credentials": {"account_id": "123456", "pwd": API_KEY},
        "org_details": {"id": ORG_ID},
        "endpoint": ca.base_url(),
    });
    fs::write(fleet[0].path("prod/issuers/digi.json"), issuer.to_string()).unwrap();
    for m in &fleet[1..] {
        wait_until("the issuer on every daemon", || {
            m.path("prod/issuers/digi.json").exists()
        });
    }
    // A certificate that expires in 2 days, renewed through DigiCert, which
    // holds the order until told to issue it.
    let host = "fleet.contoso.com";
    ca.hold_orders(host);
    let policy = json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 12},
        "issuer": {"name": "digi", "cty": "OV-SSL"},
        "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "AutoRenew"}}],
    });
    let pem = sh_ok(
        work.path(),
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout site.key -out site.crt -days 2 -subj /CN={host} 2>/dev/null && cat site.key site.crt"
        ),
    );
    fs::write(
        fleet[0].path("prod/import/site.policy.json"),
        policy.to_string(),
    )
    .unwrap();
    fs::write(fleet[0].path("prod/import/site.pem"), pem).unwrap();

    // The order is placed and recorded; one daemon follows it.
    let follows = "prod/site: this server follows the order";
    let follower = common::wait_for("a daemon following the order", || {
        fleet.iter().position(|m| m.logs().contains(follows))
    });
    let request_id = common::wait_for("the order's id on every daemon", || {
        let ids: Vec<serde_json::Value> = fleet
            .iter()
            .map(|m| {
                fs::read(m.path("prod/site/operation.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .map(|op| op["request_id"].clone())
                    .unwrap_or_default()
            })
            .collect();
        (ids[0].is_string() && ids.iter().all(|id| id == &ids[0])).then(|| ids[0].clone())
    });

    // It dies mid-order; DigiCert then issues. Another daemon takes the
    // order over and completes it: the same order, one new version.
    fleet[follower].kill9();
    ca.script(host, json!({"mode": "issue", "polls": 1}));
    let survivors: Vec<&Mount> = fleet
        .iter()
        .enumerate()
        .filter_map(|(i, m)| (i != follower).then_some(m))
        .collect();
    for m in &survivors {
        wait_until("the renewal on every surviving daemon", || {
            versions(m, "site") == 2
        });
    }
    let op = common::json_file(&survivors[0].path("prod/site/operation.json"));
    assert_eq!(op["status"], "completed", "{op:#}");
    assert_eq!(op["request_id"], request_id, "the same order: {op:#}");
    let orders: Vec<_> = ca
        .orders()
        .into_iter()
        .filter(|o| o["common_name"] == host)
        .collect();
    assert_eq!(orders.len(), 1, "one CA order across the fleet: {orders:?}");
    let stored: i64 = server
        .connect(&db)
        .query_one("SELECT count(*) FROM versions", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, 2, "one new version across the fleet");
    // Every scheduler looks again: nothing renews twice.
    for m in &survivors {
        m.renewal_pass();
    }
    assert_eq!(ca.orders().len(), 1);
    for m in &survivors {
        assert_eq!(versions(m, "site"), 2);
    }
}
