//! A fleet booted together: daemons started at the same moment on a new, empty PostgreSQL database all mount, the store's own records are written once, and a daemon with another master key is still refused.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

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
    propagation(&fleet);

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

/// Certificates each daemon creates at once, for the propagation figures.
const PER_DAEMON: usize = 4;

/// Every daemon creates [`PER_DAEMON`] certificates at the same time;
/// each daemon watches for all of them. Prints, over every (certificate,
/// other daemon) pair, how long after the writer's `close()` returned the
/// certificate showed (p50, p99, max): figures, not assertions.
fn propagation(fleet: &[Mount]) {
    let names: Vec<(usize, String)> = (0..fleet.len())
        .flat_map(|d| (0..PER_DAEMON).map(move |i| (d, format!("d{d}-c{i}"))))
        .collect();
    let start = Arc::new(Barrier::new(fleet.len() * 2));
    let (written, seen) = std::thread::scope(|scope| {
        let writers: Vec<_> = fleet
            .iter()
            .enumerate()
            .map(|(d, m)| {
                let start = Arc::clone(&start);
                scope.spawn(move || {
                    start.wait();
                    (0..PER_DAEMON)
                        .map(|i| {
                            let cert = m.path(&format!("prod/d{d}-c{i}"));
                            fs::create_dir(&cert).unwrap();
                            let policy = common::ec_policy(&format!("d{d}-c{i}.example.com"));
                            fs::write(cert.join("policy.json"), policy).unwrap();
                            (format!("d{d}-c{i}"), Instant::now())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let watchers: Vec<_> = fleet
            .iter()
            .enumerate()
            .map(|(d, m)| {
                let (start, names) = (Arc::clone(&start), &names);
                scope.spawn(move || {
                    start.wait();
                    let mut first_seen = Vec::new();
                    let mut waiting: Vec<&String> = names
                        .iter()
                        .filter(|(w, _)| *w != d)
                        .map(|(_, n)| n)
                        .collect();
                    let began = Instant::now();
                    while !waiting.is_empty() {
                        assert!(began.elapsed() < Duration::from_secs(120), "{}", m.logs());
                        waiting.retain(|name| {
                            let shown = m.path(&format!("prod/{name}/cert.pem")).exists();
                            if shown {
                                first_seen.push(((*name).clone(), Instant::now()));
                            }
                            !shown
                        });
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    first_seen
                })
            })
            .collect();
        let written: std::collections::HashMap<String, Instant> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let seen: Vec<(String, Instant)> = watchers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (written, seen)
    });
    let mut delays: Vec<Duration> = seen
        .iter()
        .map(|(name, at)| at.saturating_duration_since(written[name]))
        .collect();
    delays.sort();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "fleet of {} daemons, {} certificates created at once, {} sightings: \
         shown on another daemon after p50 {:?}, p99 {:?}, max {:?}",
        fleet.len(),
        written.len(),
        delays.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    assert_eq!(delays.len(), names.len() * (fleet.len() - 1));
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
