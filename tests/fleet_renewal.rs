//! Renewal across a fleet of six daemons: certificates due on every daemon at once are renewed exactly once each, also when the daemon that imported them, and is renewing them, is killed with `kill -9` in the middle.

mod common;

use std::fs;
use std::path::Path;

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
