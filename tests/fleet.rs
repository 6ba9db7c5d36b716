//! A fleet: two certfs daemons on two mountpoints sharing one real PostgreSQL database. What one server changes shows on the other with its kernel caches dropped, hooks run on both, a renewal due on both happens once, and a CA order whose daemon is killed is completed by the other.

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
use std::time::Duration;

use common::postgres::PgServer;
use common::{Mount, certificates_in, ec_policy, sh_ok};
use pebble::{EAB_HMAC, EAB_KID, Pebble};
use serde_json::{Value, json};
use webroot_nginx::WebrootNginx;

/// Two daemons on one new database of the shared PostgreSQL server, with
/// the fleet's one master key.
struct Fleet {
    a: Mount,
    b: Mount,
    db: String,
    _keys: tempfile::TempDir,
}

impl Fleet {
    fn start() -> Fleet {
        let server = PgServer::shared();
        let db = server.create_database();
        let url = server.url(&db);
        let keys = tempfile::tempdir().unwrap();
        let key_file = common::master_key_file(keys.path(), 0x5a);
        let args = ["--store", url.as_str(), "--key-file", key_file.as_str()];
        let a = Mount::start_with_args(&args);
        let b = Mount::start_with_args(&args);
        Fleet {
            a,
            b,
            db,
            _keys: keys,
        }
    }

    /// One number from the database.
    fn count(&self, sql: &str) -> i64 {
        PgServer::shared()
            .connect(&self.db)
            .query_one(sql, &[])
            .unwrap()
            .get(0)
    }
}

/// Waits until `check` holds, with both daemons' logs on a hang; how long
/// it took.
fn wait_until(what: &str, logs: &dyn Fn() -> String, check: impl FnMut() -> bool) -> Duration {
    common::wait_until_with(what, logs, check)
}

fn read(m: &Mount, rel: &str) -> Option<Vec<u8>> {
    fs::read(m.path(rel)).ok()
}

fn versions(m: &Mount, cert: &str) -> usize {
    fs::read_dir(m.path(&format!("prod/{cert}/versions")))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn json_of(m: &Mount, rel: &str) -> Value {
    serde_json::from_slice(&fs::read(m.path(rel)).unwrap()).unwrap()
}

#[test]
fn what_one_server_changes_shows_on_the_other_with_its_caches_dropped() {
    let f = Fleet::start();
    let (a, b) = (&f.a, &f.b);
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());

    // A vault made on A.
    assert!(!b.path("prod").exists(), "no vault yet (and B looked)");
    fs::create_dir(a.path("prod")).unwrap();
    wait_until("the vault on B", &logs, || b.path("prod").is_dir());

    // A certificate made on A, after B looked for it (a cached miss).
    assert!(!b.path("prod/web").exists());
    fs::create_dir(a.path("prod/web")).unwrap();
    fs::write(a.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let first = read(a, "prod/web/fullchain.pem").unwrap();
    let took = wait_until("the certificate on B", &logs, || {
        read(b, "prod/web/fullchain.pem").as_ref() == Some(&first)
    });
    eprintln!("a new certificate showed on the other server after {took:?}");
    assert_eq!(
        read(b, "prod/web/privkey.pem"),
        read(a, "prod/web/privkey.pem")
    );
    assert_eq!(certificates_in(&b.path("prod")), ["web"]);

    // A new version made on A while B holds the old one in its caches.
    let cached = sh_ok(
        &b.mnt,
        "cat prod/web/fullchain.pem; stat -c %s prod/web/cert.pem",
    );
    assert!(cached.contains("BEGIN CERTIFICATE"));
    fs::write(a.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let second = read(a, "prod/web/fullchain.pem").unwrap();
    assert_ne!(first, second);
    let took = wait_until("the new version on B", &logs, || {
        read(b, "prod/web/fullchain.pem").as_ref() == Some(&second)
    });
    eprintln!("a new version showed on the other server after {took:?}");
    assert_eq!(versions(b, "web"), 2);
    // The key read on B is the one of the new certificate.
    let pubkeys = sh_ok(
        &b.mnt,
        "openssl x509 -in prod/web/cert.pem -noout -pubkey; openssl pkey -in prod/web/privkey.pem -pubout",
    );
    let (cert_key, key_key) = pubkeys.split_at(pubkeys.len() / 2);
    assert_eq!(cert_key, key_key, "B serves a matching pair");

    // Tags and contacts (a vault document) written on B show on A.
    fs::write(b.path("prod/web/tags.json"), r#"{"env":"prod"}"#).unwrap();
    wait_until("the tags on A", &logs, || {
        json_of(a, "prod/web/tags.json")["env"] == "prod"
    });
    let contacts = r#"{"contacts":[{"email":"ops@example.com"}]}"#;
    fs::write(b.path("prod/contacts.json"), contacts).unwrap();
    wait_until("the contacts on A", &logs, || {
        fs::read_to_string(a.path("prod/contacts.json"))
            .is_ok_and(|t| t.contains("ops@example.com"))
    });

    // A certificate made on B shows on A; a soft delete on A shows on B.
    fs::create_dir(b.path("prod/api")).unwrap();
    fs::write(b.path("prod/api/policy.json"), ec_policy("api.example.com")).unwrap();
    wait_until("api on A", &logs, || a.path("prod/api/cert.pem").exists());
    assert_eq!(certificates_in(&a.path("prod")), ["api", "web"]);
    fs::remove_dir_all(a.path("prod/web")).unwrap();
    wait_until("web deleted on B", &logs, || {
        !b.path("prod/web").exists() && b.path("prod/deleted/web/deleted.json").exists()
    });
    assert_eq!(certificates_in(&b.path("prod")), ["api"]);
    // Recovered on B, it is back on A with both versions.
    fs::rename(b.path("prod/deleted/web"), b.path("prod/web")).unwrap();
    wait_until("web recovered on A", &logs, || versions(a, "web") == 2);
    assert_eq!(read(a, "prod/web/fullchain.pem"), Some(second));
    assert_eq!(
        f.count("SELECT count(*) FROM versions"),
        3,
        "each version stored once"
    );

    // A vault removed on B (made there, seen on A first) goes on A.
    fs::create_dir(b.path("stage")).unwrap();
    wait_until("the new vault on A", &logs, || a.path("stage").is_dir());
    fs::remove_dir(b.path("stage")).unwrap();
    wait_until("the vault gone on A", &logs, || !a.path("stage").exists());
    assert!(sh_ok(&a.mnt, "ls").lines().all(|l| l != "stage"));
    assert_eq!(certificates_in(&a.path("prod")), ["api", "web"]);
}

#[test]
fn a_new_version_runs_the_hooks_on_every_server() {
    let f = Fleet::start();
    let (a, b) = (&f.a, &f.b);
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());
    fs::create_dir_all(a.path("prod/web")).unwrap();
    fs::write(a.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let out = a.root.path().join("hooks.log");
    let hooks = json!({
        "command": ["sh", "-c", format!(
            "echo \"$RENEWED_LINEAGE $(openssl x509 -in \"$RENEWED_LINEAGE/cert.pem\" -noout -serial)\" >> {}",
            out.display()
        )]
    });
    fs::write(a.path("prod/web/hooks.json"), hooks.to_string()).unwrap();
    wait_until("the hooks on B", &logs, || {
        fs::read_to_string(b.path("prod/web/hooks.json"))
            .is_ok_and(|t| t.contains("RENEWED_LINEAGE"))
    });

    // Renewals on A, then B, then A: each runs the hook on A and on B,
    // each with its own lineage, each seeing the new certificate through
    // its own mount, and never twice. A server reads the notifications of
    // the store in order, so its hook for the next version shows it took
    // in its own echo of the one before and ran nothing for it.
    let lineage = |m: &Mount| m.mnt.canonicalize().unwrap().join("prod/web");
    let mut expected = Vec::new();
    for writer in [a, b, a] {
        fs::write(
            writer.path("prod/web/policy.json"),
            ec_policy("web.example.com"),
        )
        .unwrap();
        let serial = sh_ok(
            &writer.mnt,
            "openssl x509 -in prod/web/cert.pem -noout -serial",
        );
        for m in [a, b] {
            expected.push(format!("{} {}", lineage(m).display(), serial.trim()));
        }
        wait_until("the hook on both servers", &logs, || {
            fs::read_to_string(&out).is_ok_and(|t| t.lines().count() >= expected.len())
        });
    }
    let mut lines: Vec<String> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    expected.sort();
    assert_eq!(lines, expected, "once per server, with the new certificate");
}

/// A key and a self-signed certificate for `cn` valid `days` days, as one PEM.
fn expiring_pem(dir: &Path, cn: &str, days: u32) -> Vec<u8> {
    sh_ok(
        dir,
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout {cn}.key -out {cn}.crt -days {days} -subj /CN={cn} 2>/dev/null"
        ),
    );
    let mut pem = fs::read(dir.join(format!("{cn}.key"))).unwrap();
    pem.extend(fs::read(dir.join(format!("{cn}.crt"))).unwrap());
    pem
}

#[test]
fn a_renewal_due_on_both_servers_happens_once() {
    let f = Fleet::start();
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());
    fs::create_dir(f.a.path("prod")).unwrap();
    wait_until("the vault on B", &logs, || f.b.path("prod").is_dir());
    let policy = |cn: &str| {
        json!({
            "key_props": {"kty": "EC", "crv": "P-256"},
            "x509_props": {"subject": format!("CN={cn}"), "validity_months": 12},
            "issuer": {"name": "Self"},
            "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "AutoRenew"}}],
        })
        .to_string()
    };
    // Certificates that expire in 2 days, imported through both servers in
    // turn: each is due at once on both.
    let names: Vec<String> = (0..8).map(|i| format!("site{i}")).collect();
    let work = tempfile::tempdir().unwrap();
    for (i, name) in names.iter().enumerate() {
        let m = if i % 2 == 0 { &f.a } else { &f.b };
        fs::write(
            m.path(&format!("prod/import/{name}.policy.json")),
            policy(&format!("{name}.example.com")),
        )
        .unwrap();
        let pem = expiring_pem(work.path(), &format!("{name}.example.com"), 2);
        fs::write(m.path(&format!("prod/import/{name}.pem")), pem).unwrap();
    }
    for name in &names {
        wait_until("the renewal on both servers", &logs, || {
            versions(&f.a, name) == 2 && versions(&f.b, name) == 2
        });
    }
    // Both schedulers look again; nothing renews twice.
    f.a.renewal_pass();
    f.b.renewal_pass();
    for name in &names {
        assert_eq!(versions(&f.a, name), 2, "{name} on A\n{}", logs());
        assert_eq!(versions(&f.b, name), 2, "{name} on B\n{}", logs());
        let status = json_of(&f.b, &format!("prod/{name}/status.json"));
        assert_eq!(status["last_renewal"]["outcome"], "succeeded", "{status}");
        assert!(status["days_left"].as_i64().unwrap() > 300, "{status}");
    }
    assert_eq!(
        f.count("SELECT count(*) FROM versions"),
        2 * names.len() as i64,
        "one renewal per certificate across the fleet"
    );
}

#[test]
fn an_order_whose_daemon_is_killed_is_completed_by_the_other() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let _web = WebrootNginx::start(&webroot, pebble.http_port, None);
    // The webroot cannot take the answer yet: the order stays pending at pebble.
    fs::create_dir_all(&webroot).unwrap();
    fs::write(webroot.join(".well-known"), "not a directory").unwrap();

    let mut f = Fleet::start();
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());
    let request_id = order_on_a_seen_on_b(&f, &pebble, &webroot, "shop", &logs);

    // One daemon follows the order (the first to claim it); the other
    // leaves it alone while that one lives.
    let follows_a = follower(&f, "shop", &logs);
    let Fleet { a, b, .. } = &mut f;
    let (dead, survivor) = if follows_a { (a, &*b) } else { (b, &*a) };

    // It dies mid-order; the webroot works again. The other takes the order over.
    dead.kill9();
    fs::remove_file(webroot.join(".well-known")).unwrap();
    let logs = || survivor.logs();
    wait_until("the survivor completing the order", &logs, || {
        let op = json_of(survivor, "prod/shop/operation.json");
        assert_ne!(op["status"], "failed", "{op:#}");
        op["status"] == "completed"
    });
    assert!(
        survivor
            .logs()
            .contains("prod/shop: this server follows the order"),
        "the survivor claimed the order once the other was gone\n{}",
        survivor.logs()
    );
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

    // The killed one, back, shows what the survivor did.
    let done = read(survivor, "prod/shop/fullchain.pem");
    dead.remount();
    assert_eq!(read(dead, "prod/shop/fullchain.pem"), done);
    assert_eq!(f.count("SELECT count(*) FROM versions"), 1);
}

/// Which daemon follows order `cert` (true: A), once one says it does and
/// the other that another server has it.
fn follower(f: &Fleet, cert: &str, logs: &dyn Fn() -> String) -> bool {
    let follows = format!("prod/{cert}: this server follows the order");
    let leaves = format!("order/prod/{cert}: another server has it");
    let mut follows_a = false;
    wait_until(
        "one daemon following the order, the other leaving it",
        logs,
        || {
            let (a, b) = (f.a.logs(), f.b.logs());
            follows_a = a.contains(&follows) && b.contains(&leaves);
            follows_a || (b.contains(&follows) && a.contains(&leaves))
        },
    );
    follows_a
}

/// Makes vault `prod` with ACME issuer `le` (pebble, http-01 through
/// `webroot`) on A, and certificate `name` ordered from it (by whichever
/// daemon claims the order first); waits until B shows the operation
/// waiting for the challenge, with the CA's order id, and returns that id.
fn order_on_a_seen_on_b(
    f: &Fleet,
    pebble: &Pebble,
    webroot: &Path,
    name: &str,
    logs: &dyn Fn() -> String,
) -> String {
    fs::create_dir(f.a.path("prod")).unwrap();
    write_acme_issuer(&f.a, pebble, webroot);
    let policy = acme_policy(&format!("{name}.certfs.test"));
    fs::create_dir(f.a.path(&format!("prod/{name}"))).unwrap();
    fs::write(f.a.path(&format!("prod/{name}/policy.json")), policy).unwrap();
    let mut request_id = String::new();
    wait_until("the order's id on B", logs, || {
        let Ok(text) = fs::read_to_string(f.b.path(&format!("prod/{name}/operation.json"))) else {
            return false;
        };
        let op: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(op["status"], "inProgress", "{op:#}");
        let waiting = op["status_details"]
            .as_str()
            .is_some_and(|d| d.contains("acme-challenge"));
        if let (true, Some(id)) = (waiting, op["request_id"].as_str()) {
            request_id = id.to_owned();
        }
        !request_id.is_empty()
    });
    request_id
}

#[test]
fn a_cancel_written_on_one_server_is_done_by_the_server_that_follows_the_order() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    // No answer can be served: the order stays pending at pebble.
    fs::create_dir_all(&webroot).unwrap();
    fs::write(webroot.join(".well-known"), "not a directory").unwrap();
    let f = Fleet::start();
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());
    order_on_a_seen_on_b(&f, &pebble, &webroot, "gone", &logs);

    // Cancelled on the daemon that does not follow the order: the other
    // one asks the CA.
    let follows_a = follower(&f, "gone", &logs);
    let (follower, other) = if follows_a {
        (&f.a, &f.b)
    } else {
        (&f.b, &f.a)
    };
    fs::write(
        other.path("prod/gone/operation.json"),
        r#"{"cancellation_requested": true}"#,
    )
    .unwrap();
    for m in [&f.a, &f.b] {
        wait_until("the cancellation on both servers", &logs, || {
            json_of(m, "prod/gone/operation.json")["status"] == "cancelled"
        });
    }
    let op = json_of(other, "prod/gone/operation.json");
    assert_eq!(
        op["status_details"], "ACME cancelled the order.",
        "pebble was asked and agreed: {op:#}"
    );
    assert!(
        !other.logs().contains("deactivated the authorization"),
        "the daemon that follows the order asked the CA, not the other\n{}",
        logs()
    );
    assert!(
        follower.logs().contains("deactivated the authorization"),
        "{}",
        logs()
    );
}

#[test]
fn first_orders_through_a_new_acme_issuer_on_both_servers_register_one_account() {
    let pebble = Pebble::start(true);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    fs::create_dir_all(&webroot).unwrap();
    let _web = WebrootNginx::start(&webroot, pebble.http_port, None);
    let f = Fleet::start();
    let logs = || format!("A:\n{}\nB:\n{}", f.a.logs(), f.b.logs());
    fs::create_dir(f.a.path("prod")).unwrap();
    write_acme_issuer(&f.a, &pebble, &webroot);
    wait_until("the issuer on B", &logs, || {
        f.b.path("prod/issuers/le.json").exists()
    });
    // The issuer has no account yet: each server's first order would make one.
    let names: Vec<String> = (0..4).map(|i| format!("first{i}")).collect();
    for name in &names {
        for m in [&f.a, &f.b] {
            fs::create_dir(m.path(&format!("prod/{name}{}", short(m, &f)))).unwrap();
        }
    }
    let copies: Vec<(PathBuf, PathBuf)> = names
        .iter()
        .flat_map(|name| [(&f.a, name), (&f.b, name)])
        .map(|(m, name)| {
            let dir = format!("prod/{name}{}", short(m, &f));
            let file = m.root.path().join(format!("{name}.json"));
            let policy = acme_policy(&format!("{name}{}.certfs.test", short(m, &f)));
            fs::write(&file, policy).unwrap();
            (file, m.path(&format!("{dir}/policy.json")))
        })
        .collect();
    common::cp_at_once(&copies);
    for name in &names {
        for m in [&f.a, &f.b] {
            let dir = format!("prod/{name}{}", short(m, &f));
            wait_until("every first order completing", &logs, || {
                let op = json_of(m, &format!("{dir}/operation.json"));
                assert_ne!(op["status"], "failed", "{dir}: {op:#}\n{}", logs());
                op["status"] == "completed"
            });
        }
    }
    let registered = f.a.logs().matches("acme: registered account").count()
        + f.b.logs().matches("acme: registered account").count();
    assert_eq!(registered, 1, "one account for the fleet\n{}", logs());
}

/// "a" or "b": which fleet member `m` is.
fn short(m: &Mount, f: &Fleet) -> &'static str {
    if std::ptr::eq(m, &f.a) { "a" } else { "b" }
}

/// Writes issuer `le` of vault `prod` through `m`: ACME at `pebble`,
/// http-01 answered from files in `webroot`.
fn write_acme_issuer(m: &Mount, pebble: &Pebble, webroot: &Path) {
    let issuer = json!({
        "provider": "ACME",
        "endpoint": pebble.directory_url(),
        "credentials": {"account_id": "ops@certfs.test"},
        "eab": {"kid": EAB_KID, "hmac_key": EAB_HMAC},
        "challenge": {"type": "http-01", "webroot": webroot},
        "ca_file": pebble.tls_ca(),
    });
    fs::write(m.path("prod/issuers/le.json"), issuer.to_string()).unwrap();
}

/// A policy for `host` (its CN and only SAN) through issuer `le`, EC P-256.
fn acme_policy(host: &str) -> String {
    json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 3},
        "issuer": {"name": "le"},
    })
    .to_string()
}
