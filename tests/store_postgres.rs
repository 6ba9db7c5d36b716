//! PostgreSQL-specific behaviour of `PostgresStore`: schema versioning, refusing foreign databases, passwords, concurrent daemons, change notification, lost connections.
//!
//! The contract shared with SQLite lives in `store_contract.rs`. These
//! tests look at the database with their own connection, independently of
//! the store's code.

#[path = "common/postgres.rs"]
mod pg;

use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use certfs::store::postgres::{PostgresStore, PostgresUrl};
use certfs::store::{
    CertificateRecord, ChangeHint, KeyBytes, Store, StoreError, VaultRecord, VersionRecord,
};
use pg::PgServer;

/// How long a notification may take to arrive (a hang detector, not a wait).
const NOTICE_LIMIT: Duration = Duration::from_secs(20);

fn url(text: &str) -> PostgresUrl {
    text.parse().expect("a valid URL")
}

/// A new database on the shared server: its name and a store on it.
fn fresh() -> (String, PostgresStore) {
    let server = PgServer::shared();
    let db = server.create_database();
    let store = PostgresStore::open(&url(&server.url(&db))).expect("open");
    (db, store)
}

fn open(db: &str) -> PostgresStore {
    PostgresStore::open(&url(&PgServer::shared().url(db))).expect("open")
}

fn vault(name: &str) -> VaultRecord {
    VaultRecord {
        name: name.into(),
        created: 1,
    }
}

fn certificate(vault: &str, name: &str) -> CertificateRecord {
    CertificateRecord {
        vault: vault.into(),
        name: name.into(),
        policy: "{}".into(),
        tags: "{}".into(),
        created: 1,
        updated: 1,
        operation: None,
        deleted: None,
        purge_at: None,
    }
}

fn version(vault: &str, certificate: &str, n: u32) -> VersionRecord {
    VersionRecord {
        vault: vault.into(),
        certificate: certificate.into(),
        id: format!("{n:032x}"),
        created: i64::from(n),
        updated: i64::from(n),
        enabled: true,
        exportable: true,
        certificate_der: Some(vec![0x30, 1, n as u8]),
        chain_der: vec![vec![0x30, 2], vec![0x30, 3]],
        key: Some(KeyBytes(zeroize::Zeroizing::new(vec![0x30, 9, n as u8]))),
    }
}

/// One `bigint` (or `integer`) answer of `sql` in database `db`.
fn count(db: &str, sql: &str) -> i64 {
    let row = PgServer::shared().connect(db).query_one(sql, &[]).unwrap();
    row.try_get::<_, i64>(0)
        .or_else(|_| row.try_get::<_, i32>(0).map(i64::from))
        .unwrap()
}

#[track_caller]
fn unavailable(result: Result<PostgresStore, StoreError>) -> String {
    match result {
        Err(StoreError::Unavailable(message)) => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn new_database_gets_the_schema_version_and_tables() {
    let (db, _store) = fresh();
    const { assert!(PostgresStore::SCHEMA_VERSION >= 1) };
    assert_eq!(
        count(&db, "SELECT version FROM certfs_schema"),
        i64::from(PostgresStore::SCHEMA_VERSION)
    );
    let mut tables: Vec<String> = PgServer::shared()
        .connect(&db)
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            "certfs_schema",
            "certificates",
            "chain",
            "documents",
            "vaults",
            "versions"
        ]
    );
}

#[test]
fn reopening_keeps_the_schema_version_and_data() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    drop(store);
    let store = open(&db);
    assert_eq!(store.load().unwrap().vaults, [vault("prod")]);
    assert_eq!(count(&db, "SELECT count(*) FROM certfs_schema"), 1);
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    drop(store);
    PgServer::shared()
        .connect(&db)
        .batch_execute("UPDATE certfs_schema SET version = 99")
        .unwrap();
    let message = unavailable(PostgresStore::open(&url(&PgServer::shared().url(&db))));
    assert!(message.contains("newer"), "{message}");
    assert!(message.contains(&db), "names the database: {message}");
    assert_eq!(count(&db, "SELECT version FROM certfs_schema"), 99);
    assert_eq!(count(&db, "SELECT count(*) FROM vaults"), 1);
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let server = PgServer::shared();
    let db = server.create_database();
    server
        .connect(&db)
        .batch_execute("CREATE TABLE vaults (id integer); INSERT INTO vaults VALUES (7)")
        .unwrap();
    let message = unavailable(PostgresStore::open(&url(&server.url(&db))));
    assert!(message.contains("not a certfs database"), "{message}");
    assert_eq!(count(&db, "SELECT id FROM vaults"), 7);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'certfs_schema'"
        ),
        0
    );
}

#[test]
fn daemons_opening_a_new_database_together_migrate_once() {
    let server = PgServer::shared();
    let db = server.create_database();
    let text = server.url(&db);
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let text = text.clone();
            std::thread::spawn(move || {
                barrier.wait();
                PostgresStore::open(&url(&text)).map(drop)
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap().expect("every daemon opens");
    }
    assert_eq!(
        count(&db, "SELECT version FROM certfs_schema"),
        i64::from(PostgresStore::SCHEMA_VERSION)
    );
}

#[test]
fn an_unreachable_server_is_unavailable_and_the_password_is_not_shown() {
    // Port 1 on loopback: nothing listens there.
    let message = unavailable(PostgresStore::open(&url(
        "postgres://certfs:hunter2-secret@127.0.0.1:1/certfs",
    )));
    assert!(
        message.contains("postgres://certfs@127.0.0.1:1/certfs"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn passwords_log_in_over_tcp_and_a_wrong_one_is_not_shown() {
    let server = PgServer::shared();
    let db = server.create_user_with_database("certfs_pw", "right-horse-battery");
    let mut store = PostgresStore::open(&url(&server.tcp_url(
        "certfs_pw",
        "right-horse-battery",
        &db,
    )))
    .expect("the right password logs in");
    store.create_vault(&vault("prod")).unwrap();
    let message = unavailable(PostgresStore::open(&url(&server.tcp_url(
        "certfs_pw",
        "wrong-staple-secret",
        &db,
    ))));
    assert!(message.contains("password"), "says why: {message}");
    assert!(!message.contains("wrong-staple"), "{message}");
    assert!(!format!("{store:?}").contains("right-horse"));
}

#[test]
fn two_stores_on_one_database_see_each_other() {
    let (db, mut a) = fresh();
    let mut b = open(&db);
    a.create_vault(&vault("prod")).unwrap();
    b.put_certificate(
        &certificate("PROD", "web"),
        Some(&version("prod", "web", 1)),
    )
    .unwrap();
    let seen = a.load().unwrap();
    assert_eq!(seen.certificates.len(), 1);
    assert_eq!(seen.certificates[0].vault, "prod", "the stored spelling");
    assert_eq!(seen.versions.len(), 1);
    assert!(matches!(
        b.create_vault(&vault("Prod")),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn concurrent_writers_on_two_daemons_serialize() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    store
        .put_certificate(&certificate("prod", "web"), None)
        .unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2u32)
        .map(|daemon| {
            let barrier = Arc::clone(&barrier);
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = open(&db);
                barrier.wait();
                for i in 0..15 {
                    let n = 1000 * (daemon + 1) + i;
                    store
                        .put_certificate(
                            &certificate("prod", "web"),
                            Some(&version("prod", "web", n)),
                        )
                        .expect("each write commits");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.versions.len(), 30);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT seq) FROM versions"),
        30,
        "every version has its own place"
    );
}

#[test]
fn concurrent_creates_of_one_vault_let_exactly_one_win() {
    let (db, _store) = fresh();
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = ["ops", "OPS", "Ops", "oPs"]
        .into_iter()
        .map(|name| {
            let barrier = Arc::clone(&barrier);
            let db = db.clone();
            std::thread::spawn(move || {
                let mut store = open(&db);
                barrier.wait();
                store.create_vault(&vault(name))
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_)))),
        "{results:?}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM vaults"), 1);
}

#[test]
fn a_failed_call_leaves_no_rows_behind() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    store
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 1)),
        )
        .unwrap();
    // A new certificate whose version id is taken: nothing of it stays.
    assert!(matches!(
        store.put_certificate(
            &certificate("prod", "api"),
            Some(&version("prod", "api", 1))
        ),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(count(&db, "SELECT count(*) FROM certificates"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM chain"), 2);
    // The store goes on working after the rollback.
    store
        .put_certificate(
            &certificate("prod", "api"),
            Some(&version("prod", "api", 2)),
        )
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM chain"), 4);
}

#[test]
fn version_changes_and_purges_leave_no_stale_rows() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    store
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 1)),
        )
        .unwrap();
    let mut shorter = version("prod", "web", 1);
    shorter.chain_der = vec![vec![0x30, 7]];
    store
        .update_version(&certificate("prod", "web"), &shorter)
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM chain"), 1);
    store
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 2)),
        )
        .unwrap();
    store
        .delete_version(&certificate("prod", "web"), &version("prod", "web", 2).id)
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM chain"), 1);
    store.delete_certificate("PROD", "WEB").unwrap();
    for table in ["certificates", "versions", "chain"] {
        assert_eq!(
            count(&db, &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

#[test]
fn names_are_one_key_in_any_case_in_the_tables() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    let mut own = PgServer::shared().connect(&db);
    let err = own
        .batch_execute("INSERT INTO vaults (name, created) VALUES ('PROD', 1)")
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        "{err}"
    );
    // Only ASCII letters fold: SPEC §1 names are ASCII.
    assert_eq!(
        count(&db, "SELECT count(*) FROM vaults WHERE name_key = 'prod'"),
        1
    );
}

/// Starts watching `store`; hints arrive on the returned channel.
fn watch(store: &dyn Store) -> Receiver<ChangeHint> {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    store
        .watch(Box::new(move |hint| {
            let _ = tx.lock().unwrap().send(hint);
        }))
        .expect("watch");
    rx
}

#[track_caller]
fn next(rx: &Receiver<ChangeHint>) -> ChangeHint {
    rx.recv_timeout(NOTICE_LIMIT)
        .expect("a change notification in time")
}

fn cert_hint(vault: &str, certificate: &str) -> ChangeHint {
    ChangeHint::Certificate {
        vault: vault.into(),
        certificate: certificate.into(),
    }
}

#[test]
fn changes_by_another_daemon_are_reported_in_commit_order() {
    let (db, watcher) = fresh();
    let rx = watch(&watcher);
    let mut other = open(&db);
    other.create_vault(&vault("Prod")).unwrap();
    assert_eq!(
        next(&rx),
        ChangeHint::Vault {
            vault: "Prod".into()
        }
    );
    // Named in another case: the hint carries the stored spellings.
    other
        .put_certificate(
            &certificate("prod", "Web"),
            Some(&version("prod", "web", 1)),
        )
        .unwrap();
    assert_eq!(next(&rx), cert_hint("Prod", "Web"));
    let mut pending = version("prod", "web", 2);
    pending.certificate_der = None;
    other
        .put_certificate(&certificate("prod", "web"), Some(&pending))
        .unwrap();
    other
        .update_version(&certificate("prod", "web"), &version("prod", "web", 2))
        .unwrap();
    other
        .delete_version(&certificate("prod", "web"), &version("prod", "web", 1).id)
        .unwrap();
    for _ in 0..3 {
        assert_eq!(next(&rx), cert_hint("Prod", "Web"));
    }
    other
        .put_document("prod", "issuer/Digi", Some("{}"))
        .unwrap();
    assert_eq!(
        next(&rx),
        ChangeHint::Document {
            vault: "Prod".into(),
            key: "issuer/Digi".into()
        }
    );
    other.delete_certificate("prod", "WEB").unwrap();
    assert_eq!(next(&rx), cert_hint("Prod", "Web"));
    other
        .restore_certificate(&certificate("prod", "web"), &[version("prod", "web", 1)])
        .unwrap();
    assert_eq!(next(&rx), cert_hint("Prod", "web"));
    assert!(rx.try_recv().is_err(), "one notification per change");
}

#[test]
fn own_writes_and_failed_calls_are_not_reported() {
    let (db, mut store) = fresh();
    let rx = watch(&store);
    let mut other = open(&db);
    store.create_vault(&vault("prod")).unwrap();
    store
        .put_certificate(&certificate("prod", "mine"), None)
        .unwrap();
    // A failing call of the other daemon: rolled back, so never sent.
    assert!(matches!(
        other.put_certificate(&certificate("absent", "web"), None),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        other.put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 0))
        ),
        Ok(())
    ));
    assert!(matches!(
        other.put_certificate(
            &certificate("prod", "api"),
            Some(&version("prod", "api", 0))
        ),
        Err(StoreError::Conflict(_))
    ));
    // Notifications arrive in commit order: the first one must be this one.
    other.put_document("prod", "marker", Some("{}")).unwrap();
    assert_eq!(next(&rx), cert_hint("prod", "web"));
    assert_eq!(
        next(&rx),
        ChangeHint::Document {
            vault: "prod".into(),
            key: "marker".into()
        }
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_second_watch_replaces_the_first_and_drop_ends_it() {
    let (db, watcher) = fresh();
    let first = watch(&watcher);
    let second = watch(&watcher);
    let mut other = open(&db);
    other.create_vault(&vault("prod")).unwrap();
    assert_eq!(
        next(&second),
        ChangeHint::Vault {
            vault: "prod".into()
        }
    );
    assert!(first.try_recv().is_err(), "the first callback is gone");
    drop(watcher);
    // The server ends the session a moment after the client hangs up.
    let deadline = std::time::Instant::now() + NOTICE_LIMIT;
    while count(
        &db,
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'",
    ) != 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the listening session did not end with the store"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ends the sessions of database `db` that match `filter` (SQL on `pg_stat_activity`).
fn terminate(db: &str, filter: &str) -> i64 {
    count(
        "postgres",
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{db}' AND pid <> pg_backend_pid() AND {filter}"
        ),
    )
}

#[test]
fn a_lost_listening_session_is_resumed_and_says_everything() {
    let (db, watcher) = fresh();
    let rx = watch(&watcher);
    assert_eq!(terminate(&db, "query LIKE 'LISTEN%'"), 1);
    assert_eq!(next(&rx), ChangeHint::Everything);
    let mut other = open(&db);
    other.create_vault(&vault("prod")).unwrap();
    assert_eq!(
        next(&rx),
        ChangeHint::Vault {
            vault: "prod".into()
        }
    );
}

#[test]
fn a_lost_store_session_is_reconnected_by_the_next_call() {
    let (db, mut store) = fresh();
    store.create_vault(&vault("prod")).unwrap();
    assert!(terminate(&db, "true") >= 1);
    store
        .put_certificate(&certificate("prod", "web"), None)
        .expect("the next write reconnects");
    assert_eq!(store.load().unwrap().certificates.len(), 1);
}

#[test]
fn a_server_restart_is_survived_by_store_and_watch() {
    let mut server = PgServer::start();
    let db = server.create_database();
    let text = server.url(&db);
    let mut store = PostgresStore::open(&url(&text)).unwrap();
    let watcher = PostgresStore::open(&url(&text)).unwrap();
    let rx = watch(&watcher);
    store.create_vault(&vault("prod")).unwrap();
    assert_eq!(
        next(&rx),
        ChangeHint::Vault {
            vault: "prod".into()
        }
    );
    server.restart();
    assert_eq!(next(&rx), ChangeHint::Everything);
    store
        .put_certificate(&certificate("prod", "web"), None)
        .expect("reconnects after the restart");
    assert_eq!(next(&rx), cert_hint("prod", "web"));
    assert_eq!(watcher.load().unwrap().certificates.len(), 1);
}

#[test]
fn a_claim_excludes_other_daemons_until_dropped() {
    let (db, a) = fresh();
    let b = open(&db);
    let held = a
        .claim("renew/prod/web/1")
        .unwrap()
        .expect("the first claim wins");
    assert!(held.is_held());
    assert!(
        b.claim("renew/prod/web/1").unwrap().is_none(),
        "another daemon"
    );
    assert!(
        a.claim("renew/prod/web/1").unwrap().is_none(),
        "the same store again"
    );
    let other = b
        .claim("renew/prod/web/2")
        .unwrap()
        .expect("other work is free");
    drop(held);
    let taken = b
        .claim("renew/prod/web/1")
        .unwrap()
        .expect("free once dropped");
    assert!(taken.is_held() && other.is_held());
    assert!(a.claim("renew/prod/web/1").unwrap().is_none());
}

#[test]
fn a_claim_passes_to_another_daemon_when_its_holder_dies() {
    let (db, b) = fresh();
    let a = open(&db);
    let held = a.claim("order/prod/web").unwrap().expect("claimed");
    assert!(b.claim("order/prod/web").unwrap().is_none());
    // The holder's claims session ends (a crash, a cut connection).
    assert_eq!(
        terminate(
            &db,
            "pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')"
        ),
        1
    );
    let deadline = std::time::Instant::now() + NOTICE_LIMIT;
    let taken = loop {
        if let Some(claim) = b.claim("order/prod/web").unwrap() {
            break claim;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the work was not released"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(taken.is_held());
    assert!(!held.is_held(), "the old holder learns it lost the claim");
    drop(held);
    assert!(
        taken.is_held(),
        "dropping a lost claim releases nothing of the new holder's"
    );
    // The old holder's store claims again on a new session.
    assert!(a.claim("order/prod/web").unwrap().is_none());
    assert!(a.claim("order/prod/api").unwrap().is_some());
}

#[test]
fn a_claim_lasts_until_its_guard_goes_even_past_its_store() {
    let (db, b) = fresh();
    let a = open(&db);
    let held = a.claim("purge/prod/web").unwrap().expect("claimed");
    drop(a);
    assert!(held.is_held());
    assert!(b.claim("purge/prod/web").unwrap().is_none());
    drop(held);
    assert!(
        b.claim("purge/prod/web").unwrap().is_some(),
        "released with its guard"
    );
}

/// `store` wrapped in encryption at rest, under a fixed test key.
fn encrypted(store: PostgresStore) -> certfs::store::encrypted::EncryptedStore {
    certfs::store::encrypted::EncryptedStore::open(
        Box::new(store),
        certfs::store::master_key::MasterKey::from_bytes([0x5a; 32]),
    )
    .expect("open the encrypted store")
}

#[test]
fn encryption_at_rest_passes_watch_and_claims_through_and_seals_keys() {
    let (db, watched) = fresh();
    let watcher = encrypted(watched);
    let rx = watch(&watcher);
    // The other daemon's first open writes the key check into the reserved
    // vault: not reported, as load does not show that vault either.
    let mut other = encrypted(open(&db));
    other.create_vault(&vault("prod")).unwrap();
    assert_eq!(
        next(&rx),
        ChangeHint::Vault {
            vault: "prod".into()
        }
    );
    other
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 1)),
        )
        .unwrap();
    assert_eq!(next(&rx), cert_hint("prod", "web"));
    let one = watcher
        .load_certificate("prod", "web")
        .unwrap()
        .expect("there");
    assert_eq!(one.versions, [version("prod", "web", 1)], "keys opened");
    let stored: Vec<u8> = PgServer::shared()
        .connect(&db)
        .query_one("SELECT key FROM versions", &[])
        .unwrap()
        .get(0);
    assert_ne!(stored, version("prod", "web", 1).key.unwrap().0.to_vec());

    let held = watcher.claim("renew/prod/web/1").unwrap().expect("claimed");
    assert!(other.claim("renew/prod/web/1").unwrap().is_none());
    drop(held);
    assert!(other.claim("renew/prod/web/1").unwrap().is_some());
    other.scrub().expect("VACUUM");
    assert!(rx.try_recv().is_err());
}
