//! A fleet booted together: daemons started at the same moment on a new, empty PostgreSQL database all mount, the store's own records are written once, and a daemon with another master key is still refused.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use certfs::store::Store;
use certfs::store::encrypted::{EncryptedStore, OpenError};
use certfs::store::master_key::MasterKey;
use certfs::store::postgres::{PostgresStore, PostgresUrl};
use common::postgres::PgServer;
use common::{Mount, wait_timeout, wait_until};

/// How many daemons start at once.
const DAEMONS: usize = 6;

/// One number from database `db`.
fn count(db: &str, sql: &str) -> i64 {
    PgServer::shared()
        .connect(db)
        .query_one(sql, &[])
        .unwrap()
        .get(0)
}

#[test]
fn daemons_started_at_once_on_a_new_database_all_mount() {
    let server = PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    let keys = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(keys.path(), 0x3c);
    let start = Arc::new(Barrier::new(DAEMONS));
    let starting: Vec<_> = (0..DAEMONS)
        .map(|_| {
            let (url, key_file, start) = (url.clone(), key_file.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                Mount::start_with_args(&["--store", &url, "--key-file", &key_file])
            })
        })
        .collect();
    // A daemon that exits before mounting fails its thread with its log.
    let fleet: Vec<Mount> = starting.into_iter().map(|t| t.join().unwrap()).collect();

    // The store's own records, once: the schema version, the reserved
    // vault and its master key check.
    assert_eq!(count(&db, "SELECT count(*) FROM certfs_schema"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM vaults WHERE name = '.certfs'"),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM documents WHERE vault = '.certfs' AND key = 'master-key-check'"
        ),
        1
    );

    // They are one fleet: a vault made on one shows on every other.
    fs::create_dir(fleet[0].path("prod")).unwrap();
    for m in &fleet[1..] {
        wait_until("the vault on every daemon", || m.path("prod").is_dir());
    }

    // A daemon with another master key is refused, with the reason.
    let other = tempfile::tempdir().unwrap();
    let other_key = common::master_key_file(other.path(), 0x3d);
    let mnt = other.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let mut child = Command::new(common::certfs_bin())
        .arg("mount")
        .arg(&mnt)
        .arg("--data")
        .arg(other.path().join("data"))
        .args(["--store", &url, "--key-file", &other_key])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(60)).expect("refused, not mounted");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sealed with another master key"),
        "{stderr}"
    );
    assert!(!common::is_mounted(&mnt));
}

#[test]
fn stores_opened_at_once_under_two_keys_are_bound_to_one() {
    let server = PgServer::shared();
    let db = server.create_database();
    let url: PostgresUrl = server.url(&db).parse().unwrap();
    let start = Arc::new(Barrier::new(8));
    let opening: Vec<_> = (0..8u8)
        .map(|i| {
            let (url, start) = (url.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let store = PostgresStore::open(&url).expect("open");
                start.wait();
                let key = MasterKey::from_bytes([0x40 + i % 2; 32]);
                (i % 2, EncryptedStore::open(Box::new(store), key))
            })
        })
        .collect();
    let mut opened = [0, 0];
    let mut refused = [0, 0];
    for thread in opening {
        match thread.join().unwrap() {
            (k, Ok(store)) => {
                opened[usize::from(k)] += 1;
                assert!(store.load().unwrap().vaults.is_empty());
            }
            (k, Err(OpenError::WrongKey)) => refused[usize::from(k)] += 1,
            (_, Err(e)) => panic!("{e}"),
        }
    }
    // One key won whole: all four of its stores opened, the other four refused.
    assert!(
        opened == [4, 0] && refused == [0, 4] || opened == [0, 4] && refused == [4, 0],
        "opened {opened:?}, refused {refused:?}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM documents WHERE vault = '.certfs' AND key = 'master-key-check'"
        ),
        1
    );
}
