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
