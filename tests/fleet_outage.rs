//! A fleet through database outages: a daemon cut off from PostgreSQL serves reads from memory, refuses writes with EAGAIN and a `.error` saying the store is unavailable, changes nothing, and once it reconnects by itself reads what the others changed meanwhile; the same when the server is stopped and started.

mod common;

use std::fs;
use std::path::Path;

use common::postgres::PgServer;
use common::{Mount, ec_policy, sh_err, sh_ok, wait_until};

/// The role daemon A logs in as (the database's owner); B is the superuser.
const ROLE_A: &str = "certfs_a";

fn read(m: &Mount, rel: &str) -> Option<Vec<u8>> {
    fs::read(m.path(rel)).ok()
}

fn versions(m: &Mount, cert: &str) -> usize {
    fs::read_dir(m.path(&format!("prod/{cert}/versions")))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `cp` of a new policy onto `prod/<cert>/policy.json`: the write acts at close.
fn write_policy(dir: &Path, m: &Mount, cert: &str) -> String {
    let policy = dir.join(format!("{cert}.json"));
    fs::write(&policy, ec_policy(&format!("{cert}.example.com"))).unwrap();
    format!(
        "cp {} {}",
        policy.display(),
        m.path(&format!("prod/{cert}/policy.json")).display()
    )
}

/// What `sql` counts in database `db`.
fn count(server: &PgServer, db: &str, sql: &str) -> i64 {
    server.connect(db).query_one(sql, &[]).unwrap().get(0)
}

/// A write on `m` fails with EAGAIN, leaves a `.error` saying the store is
/// unavailable, and adds no version to `cert` (on the mount or in the database).
fn assert_write_is_refused(server: &PgServer, db: &str, m: &Mount, work: &Path, cert: &str) {
    let before = versions(m, cert);
    let stderr = sh_err(work, &write_policy(work, m, cert));
    assert!(
        stderr.contains("Resource temporarily unavailable"),
        "EAGAIN at close: {stderr}\n{}",
        m.logs()
    );
    let report = fs::read_to_string(m.path(&format!("prod/{cert}/policy.json.error"))).unwrap();
    assert!(
        report.contains("ServiceUnavailable") && report.contains("the store is unavailable"),
        "{report}"
    );
    assert_eq!(versions(m, cert), before, "nothing half-written");
    if server_is_up(server) {
        let stored = count(
            server,
            db,
            &format!("SELECT count(*) FROM versions WHERE certificate = '{cert}'"),
        );
        assert_eq!(stored as usize, before, "nothing written to the database");
    }
}

/// Whether the server accepts connections.
fn server_is_up(server: &PgServer) -> bool {
    postgres::Client::connect(
        &format!(
            "host={} port={} user=postgres dbname=postgres connect_timeout=5",
            server.socket_dir().display(),
            server.port()
        ),
        postgres::NoTls,
    )
    .is_ok()
}

#[test]
fn a_daemon_cut_off_reads_from_memory_refuses_writes_and_catches_up() {
    let mut server = PgServer::start();
    let db = server.create_user_with_database(ROLE_A, "pw-a-5150");
    let url_b = server.url(&db);
    let url_a = url_b.replacen("postgres://postgres@", &format!("postgres://{ROLE_A}@"), 1);
    let work = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(work.path(), 0x61);
    let a = Mount::start_with_args(&["--store", &url_a, "--key-file", &key_file]);
    let b = Mount::start_with_args(&["--store", &url_b, "--key-file", &key_file]);
    let logs = || format!("A:\n{}\nB:\n{}", a.logs(), b.logs());

    fs::create_dir(a.path("prod")).unwrap();
    fs::create_dir(a.path("prod/web")).unwrap();
    sh_ok(work.path(), &write_policy(work.path(), &a, "web"));
    let key = read(&a, "prod/web/privkey.pem").unwrap();
    wait_until("web on B", || {
        read(&b, "prod/web/privkey.pem") == Some(key.clone())
    });

    // A loses its sessions and cannot log in again; B goes on.
    let mut admin = server.admin();
    admin
        .batch_execute(&format!("ALTER ROLE {ROLE_A} NOLOGIN"))
        .unwrap();
    wait_until("A's sessions ended", || {
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{ROLE_A}'"
            ))
            .unwrap();
        count(
            &server,
            &db,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE_A}'"),
        ) == 0
    });
    // Reads on A go on from memory.
    assert_eq!(read(&a, "prod/web/privkey.pem"), Some(key.clone()));
    assert_eq!(versions(&a, "web"), 1);
    assert_write_is_refused(&server, &db, &a, work.path(), "web");

    // Meanwhile B makes a certificate.
    fs::create_dir(b.path("prod/api")).unwrap();
    sh_ok(work.path(), &write_policy(work.path(), &b, "api"));
    let api = read(&b, "prod/api/fullchain.pem").unwrap();

    // A may log in again: it reconnects by itself and reads what B did.
    admin
        .batch_execute(&format!("ALTER ROLE {ROLE_A} LOGIN"))
        .unwrap();
    wait_until("B's certificate on A after the reconnection", || {
        read(&a, "prod/api/fullchain.pem") == Some(api.clone())
    });
    // The refused write, again: accepted now, and its report gone.
    sh_ok(work.path(), &write_policy(work.path(), &a, "web"));
    assert_eq!(versions(&a, "web"), 2, "{}", logs());
    assert!(!a.path("prod/web/policy.json.error").exists());
    wait_until("A's new version on B", || versions(&b, "web") == 2);

    // The whole server stopped: both serve reads, neither writes.
    drop(admin);
    server.stop();
    for m in [&a, &b] {
        assert!(read(m, "prod/api/privkey.pem").is_some(), "{}", logs());
        assert_write_is_refused(&server, &db, m, work.path(), "api");
    }
    // Started again: writes work on both without a remount, and each
    // sees the other's.
    server.restart();
    sh_ok(work.path(), &write_policy(work.path(), &b, "api"));
    let second = read(&b, "prod/api/fullchain.pem").unwrap();
    assert_ne!(second, api);
    wait_until("B's version made after the restart, on A", || {
        read(&a, "prod/api/fullchain.pem") == Some(second.clone())
    });
    sh_ok(work.path(), &write_policy(work.path(), &a, "web"));
    wait_until("A's version made after the restart, on B", || {
        versions(&b, "web") == 3
    });
    assert_eq!(
        count(
            &server,
            &db,
            "SELECT count(*) FROM versions WHERE certificate = 'web'"
        ),
        3
    );
}

/// What one writer saw: certificates whose write was acknowledged, and
/// those refused with EAGAIN (each tried once).
#[derive(Default)]
struct Outcome {
    acknowledged: Vec<String>,
    refused: Vec<String>,
}

#[test]
fn a_restart_under_load_loses_nothing_acknowledged() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    let mut server = PgServer::start();
    let db = server.create_database();
    let url = server.url(&db);
    let work = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(work.path(), 0x62);
    let fleet = [
        Mount::start_with_args(&["--store", &url, "--key-file", &key_file]),
        Mount::start_with_args(&["--store", &url, "--key-file", &key_file]),
    ];
    fs::create_dir(fleet[0].path("prod")).unwrap();
    wait_until("the vault on both", || fleet[1].path("prod").is_dir());
    let policy = work.path().join("policy.json");
    fs::write(&policy, ec_policy("load.example.com")).unwrap();

    let stop = AtomicBool::new(false);
    let outcomes = [
        Mutex::new(Outcome::default()),
        Mutex::new(Outcome::default()),
    ];
    let progress = |d: usize| {
        let o = outcomes[d].lock().unwrap();
        (o.acknowledged.len(), o.refused.len())
    };
    std::thread::scope(|scope| {
        for (d, m) in fleet.iter().enumerate() {
            let (stop, outcome, policy, work) = (&stop, &outcomes[d], &policy, work.path());
            scope.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("w{d}-{i}");
                    i += 1;
                    let dir = m.path(&format!("prod/{name}"));
                    let script = format!(
                        "mkdir {0} && cp {1} {0}/policy.json",
                        dir.display(),
                        policy.display()
                    );
                    let out = common::sh_in(work, &script);
                    let mut o = outcome.lock().unwrap();
                    if out.status.success() {
                        o.acknowledged.push(name);
                    } else {
                        let stderr = String::from_utf8_lossy(&out.stderr);
                        assert!(
                            stderr.contains("Resource temporarily unavailable"),
                            "{name}: {stderr}\n{}",
                            m.logs()
                        );
                        o.refused.push(name);
                    }
                }
            });
        }
        let before = [progress(0).0, progress(1).0];
        wait_until("writes acknowledged on both", || {
            progress(0).0 > before[0] + 2 && progress(1).0 > before[1] + 2
        });
        server.stop();
        wait_until("writes refused on both", || {
            progress(0).1 > 0 && progress(1).1 > 0
        });
        server.restart();
        let after = [progress(0).0, progress(1).0];
        wait_until("writes acknowledged again on both", || {
            progress(0).0 > after[0] + 2 && progress(1).0 > after[1] + 2
        });
        stop.store(true, Ordering::SeqCst);
    });

    // Every acknowledged certificate is stored once and shown on both
    // daemons; a refused one is the same on both (absent, unless its
    // commit went through as the connection broke).
    let stored = |name: &str| -> i64 {
        count(
            &server,
            &db,
            &format!("SELECT count(*) FROM versions WHERE certificate = '{name}'"),
        )
    };
    for o in &outcomes {
        let o = o.lock().unwrap();
        for name in &o.acknowledged {
            assert_eq!(stored(name), 1, "{name}");
            for m in &fleet {
                wait_until("an acknowledged certificate on both", || {
                    m.path(&format!("prod/{name}/cert.pem")).exists()
                });
            }
        }
        for name in &o.refused {
            let n = stored(name);
            assert!(n <= 1, "{name}: {n} versions");
            for m in &fleet {
                wait_until("a refused certificate as stored, on both", || {
                    usize::try_from(n).unwrap() == versions(m, name)
                });
            }
        }
    }
}
