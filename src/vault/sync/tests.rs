//! Tests of `vault::sync`: another daemon's changes followed through a real SQLite store that plays a shared one (hints handed to the test, re-reads failed on demand, full reads counted), and how hints are batched.

use super::*;
use crate::store::sqlite::SqliteStore;
use crate::store::{
    CertificateRecord, CertificateSnapshot, ChangeCallback, Snapshot, StoreError, VaultRecord,
    VersionRecord,
};
use crate::vault::node::{CertificateFile, Node};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::time::Instant;

/// A real SQLite store that says it is shared, hands its watch
/// callback to the test (which plays the other daemons' NOTIFY), and
/// fails the next `failures` certificate re-reads (a database gone for
/// a moment). It counts its full reads (`load`).
struct Flaky {
    inner: SqliteStore,
    failures: Arc<AtomicUsize>,
    loads: Arc<AtomicUsize>,
    callback: Arc<Mutex<Option<ChangeCallback>>>,
}

impl Store for Flaky {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load()
    }
    fn load_vault(&self, name: &str) -> Result<Option<VaultRecord>, StoreError> {
        self.inner.load_vault(name)
    }
    fn create_vault(&mut self, vault: &VaultRecord) -> Result<(), StoreError> {
        self.inner.create_vault(vault)
    }
    fn delete_vault(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_vault(name)
    }
    fn put_certificate(
        &mut self,
        c: &CertificateRecord,
        v: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        self.inner.put_certificate(c, v)
    }
    fn update_version(
        &mut self,
        c: &CertificateRecord,
        v: &VersionRecord,
    ) -> Result<(), StoreError> {
        self.inner.update_version(c, v)
    }
    fn delete_version(&mut self, c: &CertificateRecord, id: &str) -> Result<(), StoreError> {
        self.inner.delete_version(c, id)
    }
    fn restore_certificate(
        &mut self,
        c: &CertificateRecord,
        v: &[VersionRecord],
    ) -> Result<(), StoreError> {
        self.inner.restore_certificate(c, v)
    }
    fn delete_certificate(&mut self, vault: &str, name: &str) -> Result<(), StoreError> {
        self.inner.delete_certificate(vault, name)
    }
    fn put_document(
        &mut self,
        vault: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.put_document(vault, key, value)
    }
    fn load_certificate(
        &self,
        vault: &str,
        name: &str,
    ) -> Result<Option<CertificateSnapshot>, StoreError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Unavailable("the database went away".into()));
        }
        self.inner.load_certificate(vault, name)
    }
    fn shared(&self) -> bool {
        true
    }
    fn watch(&self, on_change: ChangeCallback) -> Result<(), StoreError> {
        *self.callback.lock() = Some(on_change);
        Ok(())
    }
}

/// Waits (a hang detector, not a timing) until `check` holds.
fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed().as_secs() < 30, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

const POLICY: &[u8] =
    br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web"},"issuer":{"name":"Self"}}"#;

#[test]
fn another_daemons_changes_are_followed_and_a_failed_re_read_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    let other = VaultService::open(Box::new(SqliteStore::open(&db).unwrap())).unwrap();
    let failures = Arc::new(AtomicUsize::new(0));
    let loads = Arc::new(AtomicUsize::new(0));
    let callback: Arc<Mutex<Option<ChangeCallback>>> = Arc::default();
    let flaky = Flaky {
        inner: SqliteStore::open(&db).unwrap(),
        failures: failures.clone(),
        loads: loads.clone(),
        callback: callback.clone(),
    };
    let me = VaultService::open(Box::new(flaky)).unwrap().into_shared();
    let notify = |hint: ChangeHint| (callback.lock().as_ref().unwrap())(hint);
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    let versions = Node::Versions(v.clone(), c.clone());
    let count = |s: &VaultService| s.readdir(&versions).map(|d| d.len()).unwrap_or(0);

    // A vault and a certificate made by the other daemon after our
    // load, told before we follow: kept for when we do.
    other.mkdir(&Node::Root, "prod").unwrap();
    other.mkdir(&Node::Vault(v.clone()), "web").unwrap();
    let policy = Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy);
    other.write(&policy, POLICY).unwrap();
    notify(ChangeHint::Vault {
        vault: "prod".into(),
    });
    notify(ChangeHint::Certificate {
        vault: "prod".into(),
        certificate: "web".into(),
    });
    assert_eq!(count(&me), 0);
    me.start_sync().unwrap();
    eventually("the certificate here", || count(&me) == 1);

    // A new version there, while the database is away for our re-read.
    other.write(&policy, POLICY).unwrap();
    failures.store(1, Ordering::SeqCst);
    notify(ChangeHint::Certificate {
        vault: "PROD".into(),
        certificate: "Web".into(),
    });
    eventually("the re-read failing", || {
        failures.load(Ordering::SeqCst) == 0
    });
    eventually("the retry showing the new version", || count(&me) == 2);

    // Soft-deleted there: gone here, and in deleted/.
    other.rmdir(&Node::Vault(v.clone()), "web").unwrap();
    notify(ChangeHint::Certificate {
        vault: "prod".into(),
        certificate: "web".into(),
    });
    eventually("the delete here", || {
        me.lookup(&Node::Vault(v.clone()), "web").is_err()
            && me.lookup(&Node::Deleted(v.clone()), "web").is_ok()
    });

    // A vault made there appears here, and goes when removed there,
    // each without re-reading the rest.
    let full_reads = loads.load(Ordering::SeqCst);
    other.mkdir(&Node::Root, "Stage").unwrap();
    notify(ChangeHint::Vault {
        vault: "Stage".into(),
    });
    eventually("the new vault here", || {
        me.readdir(&Node::Root)
            .is_ok_and(|d| d.iter().any(|e| e.name == "Stage"))
    });
    other.rmdir(&Node::Root, "stage").unwrap();
    notify(ChangeHint::Vault {
        vault: "stage".into(),
    });
    eventually("the vault gone here", || {
        me.lookup(&Node::Root, "stage").is_err()
    });
    assert!(me.lookup(&Node::Deleted(v.clone()), "web").is_ok());
    assert_eq!(loads.load(Ordering::SeqCst), full_reads, "no full re-read");
}

fn certificate(v: &str, c: &str) -> ChangeHint {
    ChangeHint::Certificate {
        vault: v.into(),
        certificate: c.into(),
    }
}

#[test]
fn a_batch_reads_each_thing_once_documents_first() {
    let (tx, rx) = channel();
    for hint in [
        certificate("prod", "web"),
        certificate("PROD", "Web"),
        ChangeHint::Document {
            vault: "prod".into(),
            key: "hooks/web".into(),
        },
        certificate("prod", "api"),
        certificate("prod", "not a name!"),
    ] {
        tx.send(hint).unwrap();
    }
    let first = rx.recv().unwrap();
    let got = batch(first, &rx);
    let v = VaultName::parse("prod").unwrap();
    assert_eq!(
        got,
        [
            Reread::Document(v.clone(), "hooks/web".into()),
            Reread::Certificate(v.clone(), CertificateName::parse("api").unwrap()),
            Reread::Certificate(v, CertificateName::parse("web").unwrap()),
        ]
    );
}

#[test]
fn vaults_come_first_and_everything_covers_the_rest() {
    let (tx, rx) = channel();
    tx.send(certificate("prod", "web")).unwrap();
    tx.send(ChangeHint::Vault {
        vault: "test".into(),
    })
    .unwrap();
    let first = rx.recv().unwrap();
    let (prod, test) = (
        VaultName::parse("prod").unwrap(),
        VaultName::parse("test").unwrap(),
    );
    assert_eq!(
        batch(first, &rx),
        [
            Reread::Vault(test),
            Reread::Certificate(prod, CertificateName::parse("web").unwrap()),
        ]
    );
    tx.send(certificate("prod", "web")).unwrap();
    tx.send(ChangeHint::Everything).unwrap();
    tx.send(ChangeHint::Vault {
        vault: "test".into(),
    })
    .unwrap();
    let first = rx.recv().unwrap();
    assert_eq!(batch(first, &rx), [Reread::Everything]);
}
