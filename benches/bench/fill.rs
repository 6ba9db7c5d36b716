//! The bulk loader, for the benchmark only: real certificate rows (a fresh EC P-256 key and self-signed certificate each) written through the `Store` trait.
//!
//! The store is filled in a tmpfs folder, where SQLite's fsync per
//! transaction costs nothing, through encryption at rest under a master
//! key kept beside it (`master.key`, as certfs makes by default), then
//! copied to where certfs mounts it. The figures that measure creating
//! certificates go through the mount instead.

use std::path::Path;
use std::sync::mpsc;

use certfs::pki::key::{Curve, KeySpec, PrivateKey};
use certfs::pki::x509;
use certfs::store::encrypted::EncryptedStore;
use certfs::store::master_key::MasterKey;
use certfs::store::sqlite::SqliteStore;
use certfs::store::{CertificateRecord, KeyBytes, Store, VaultRecord, VersionRecord};
use certfs::vault::name::VersionId;
use certfs::vault::policy::Policy;

/// The policy of a benchmark certificate named `name`.
pub fn ec_policy(name: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},"x509_props":{{"subject":"CN={name}.bench.example","sans":{{"dns_names":["{name}.bench.example"]}}}},"issuer":{{"name":"Self"}}}}"#
    )
}

/// The rows of certificate `name` of vault `vault`: its record and one
/// completed version, made at `t` (0: now).
fn rows(vault: &str, name: &str, t: i64) -> (CertificateRecord, VersionRecord) {
    let t = if t == 0 { now() } else { t };
    let policy = Policy::parse(ec_policy(name).as_bytes()).expect("bench policy");
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).expect("EC key");
    let leaf = x509::self_signed(&policy.certificate_spec(), &key).expect("self-signed");
    let record = CertificateRecord {
        vault: vault.to_owned(),
        name: name.to_owned(),
        policy: policy.to_json(),
        tags: "{}".to_owned(),
        created: t,
        updated: t,
        operation: None,
        deleted: None,
        purge_at: None,
    };
    let version = VersionRecord {
        vault: vault.to_owned(),
        certificate: name.to_owned(),
        id: VersionId::random().to_string(),
        created: t,
        updated: t,
        enabled: true,
        exportable: true,
        certificate_der: Some(leaf),
        chain_der: Vec::new(),
        key: Some(KeyBytes(zeroize::Zeroizing::new(key.pkcs8_der().to_vec()))),
    };
    (record, version)
}

/// Writes vault `vault` with certificates `c0` … `c{count-1}` into the
/// store `db` (created if missing), sealed under the master key `key_file`
/// (created if missing), generating on `threads` threads.
pub fn fill(db: &Path, key_file: &Path, vault: &str, count: usize, threads: usize) {
    fill_with(db, key_file, vault, count, threads, |i| format!("c{i}"));
}

/// Writes vault `vault` with one certificate `c0` of `versions` versions
/// (each its own key and certificate), as [`fill`] does.
pub fn fill_versions(db: &Path, key_file: &Path, vault: &str, versions: usize, threads: usize) {
    fill_with(db, key_file, vault, versions, threads, |_| "c0".to_owned());
}

/// Writes vault `vault` with certificates `c0` … `c{count-1}` of
/// `versions` versions each, as [`fill`] does; a certificate's versions
/// share one key and certificate (their ids and times differ), each
/// certificate stored with all its versions in one transaction.
pub fn fill_histories(
    db: &Path,
    key_file: &Path,
    vault: &str,
    count: usize,
    versions: usize,
    threads: usize,
) {
    let mut store = open_filled(db, key_file, vault);
    let (tx, rx) = mpsc::sync_channel(1024);
    std::thread::scope(|s| {
        for worker in 0..threads.max(1) {
            let tx = tx.clone();
            s.spawn(move || {
                for i in (worker..count).step_by(threads.max(1)) {
                    let (record, first) = rows(vault, &format!("c{i}"), 0);
                    let history: Vec<VersionRecord> = (0..versions)
                        .map(|k| VersionRecord {
                            id: VersionId::random().to_string(),
                            created: record.created + k as i64,
                            updated: record.created + k as i64,
                            ..first.clone()
                        })
                        .collect();
                    if tx.send((record, history)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for (record, history) in rx {
            store
                .restore_certificate(&record, &history)
                .expect("store a certificate with its versions");
        }
    });
}

/// The store `db` under the master key `key_file` (each created if
/// missing), with an empty vault `vault`.
fn open_filled(db: &Path, key_file: &Path, vault: &str) -> EncryptedStore {
    let (key, _) = MasterKey::load_or_create(key_file).expect("master key");
    let inner = SqliteStore::open(db).expect("open store");
    let mut store = EncryptedStore::open(Box::new(inner), key).expect("encrypted store");
    store
        .create_vault(&VaultRecord {
            name: vault.to_owned(),
            created: now(),
        })
        .expect("create vault");
    store
}

/// Now, Unix seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Writes `count` rows into vault `vault`, the `i`th as certificate
/// `name(i)` with one new version.
fn fill_with(
    db: &Path,
    key_file: &Path,
    vault: &str,
    count: usize,
    threads: usize,
    name: impl Fn(usize) -> String + Sync,
) {
    let mut store = open_filled(db, key_file, vault);
    let t = now();
    let (tx, rx) = mpsc::sync_channel(1024);
    let name = &name;
    std::thread::scope(|s| {
        for worker in 0..threads.max(1) {
            let tx = tx.clone();
            s.spawn(move || {
                for i in (worker..count).step_by(threads.max(1)) {
                    if tx.send(rows(vault, &name(i), t)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for (record, version) in rx {
            store
                .put_certificate(&record, Some(&version))
                .expect("put certificate");
        }
    });
}
