//! Unit tests of `EncryptedStore` over a real SQLite file: round trip, wrong key, tampering, swapped rows, migration of clear records, garbage.

use std::path::{Path, PathBuf};

use super::*;
use crate::store::sqlite::SqliteStore;

const KEY_A: [u8; 32] = [0x11; 32];
const KEY_B: [u8; 32] = [0x22; 32];

/// Bytes that stand for a private key; searched for in the database file.
fn key_bytes(n: u8) -> Vec<u8> {
    let mut der = vec![0x30, 0x82, 0x01, 0x00];
    der.extend((0..64u8).map(|i| i.wrapping_mul(31).wrapping_add(n)));
    der
}

const PWD: &str = "s3cret-api-key-8f2b61";

fn issuer_json() -> String {
    format!(r#"{{"provider":"DigiCert","credentials":{{"account_id":"1","pwd":"{PWD}"}}}}"#)
}

fn certificate(vault: &str, name: &str) -> CertificateRecord {
    CertificateRecord {
        vault: vault.into(),
        name: name.into(),
        policy: r#"{"issuer":{"name":"Self"}}"#.into(),
        tags: "{}".into(),
        created: 1,
        updated: 1,
        operation: None,
        deleted: None,
        purge_at: None,
    }
}

fn version(vault: &str, name: &str, n: u8) -> VersionRecord {
    VersionRecord {
        vault: vault.into(),
        certificate: name.into(),
        id: format!("{n:032x}"),
        created: 2,
        updated: 2,
        enabled: true,
        exportable: true,
        certificate_der: Some(vec![0x30, 3, 1, 2, n]),
        chain_der: vec![],
        key: Some(KeyBytes(Zeroizing::new(key_bytes(n)))),
    }
}

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certfs.db");
        Db { _dir: dir, path }
    }

    fn plain(&self) -> SqliteStore {
        SqliteStore::open(&self.path).unwrap()
    }

    fn open(&self, key: [u8; 32]) -> Result<EncryptedStore, OpenError> {
        EncryptedStore::open(Box::new(self.plain()), MasterKey::from_bytes(key))
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }

    /// The database file and its side files, concatenated.
    fn bytes(&self) -> Vec<u8> {
        let mut all = std::fs::read(&self.path).unwrap();
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = self.path.as_os_str().to_owned();
            side.push(suffix);
            all.extend(std::fs::read(Path::new(&side)).unwrap_or_default());
        }
        all
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Vault `prod` with certificates `web` (two versions) and `api`, an issuer file and issuer memory.
fn fill(store: &mut dyn Store) {
    store
        .create_vault(&VaultRecord {
            name: "prod".into(),
            created: 1,
        })
        .unwrap();
    store
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 1)),
        )
        .unwrap();
    store
        .put_certificate(
            &certificate("prod", "web"),
            Some(&version("prod", "web", 2)),
        )
        .unwrap();
    store
        .put_certificate(
            &certificate("prod", "api"),
            Some(&version("prod", "api", 3)),
        )
        .unwrap();
    store
        .put_document("prod", "issuer/digi", Some(&issuer_json()))
        .unwrap();
    store
        .put_document("prod", "issuer/other", Some(r#"{"provider":"Internal"}"#))
        .unwrap();
    store
        .put_document(
            "prod",
            "issuer-memory/corp",
            Some("-----BEGIN PRIVATE KEY-----"),
        )
        .unwrap();
    store
        .put_document("prod", "contacts", Some(r#"{"contacts":[]}"#))
        .unwrap();
}

fn assert_everything_clear(snapshot: &Snapshot) {
    assert_eq!(snapshot.vaults.len(), 1, "the pseudo-vault is hidden");
    assert_eq!(snapshot.versions.len(), 3);
    for v in &snapshot.versions {
        let n = u8::from_str_radix(&v.id[30..], 16).unwrap();
        assert_eq!(
            v.key.as_ref().unwrap().0.as_slice(),
            key_bytes(n),
            "{}",
            v.id
        );
    }
    let doc = |key: &str| {
        snapshot
            .documents
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.value.clone())
    };
    assert_eq!(doc("issuer/digi"), Some(issuer_json()));
    assert_eq!(
        doc("issuer-memory/corp").as_deref(),
        Some("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(doc("contacts").as_deref(), Some(r#"{"contacts":[]}"#));
    assert_eq!(snapshot.documents.len(), 4, "the key check is hidden");
}

fn assert_nothing_clear_in_the_file(db: &Db) {
    let bytes = db.bytes();
    for n in 1..=3 {
        assert!(!contains(&bytes, &key_bytes(n)), "key {n} is in the file");
    }
    assert!(
        !contains(&bytes, PWD.as_bytes()),
        "the password is in the file"
    );
    assert!(
        !contains(&bytes, b"BEGIN PRIVATE KEY"),
        "issuer memory is in the file"
    );
    assert!(
        contains(&bytes, b"contacts"),
        "other documents stay readable"
    );
}

#[test]
fn round_trip_and_nothing_clear_in_the_file() {
    let db = Db::new();
    let mut store = db.open(KEY_A).unwrap();
    fill(&mut store);
    assert_everything_clear(&store.load().unwrap());
    drop(store);
    assert_nothing_clear_in_the_file(&db);
    // What the wrapped store holds: sealed keys and issuer documents, clear rest.
    let raw = db.plain().load().unwrap();
    assert!(
        raw.versions
            .iter()
            .all(|v| seal::is_sealed(&v.key.as_ref().unwrap().0))
    );
    for d in &raw.documents {
        let sealed = seal::is_sealed_text(&d.value);
        let expected = d.key.starts_with("issuer") || d.vault == RESERVED_VAULT;
        assert_eq!(sealed, expected, "{d:?}");
    }
    assert_everything_clear(&db.open(KEY_A).unwrap().load().unwrap());
}

#[test]
fn another_key_is_refused_and_changes_nothing() {
    let db = Db::new();
    fill(&mut db.open(KEY_A).unwrap());
    let before = db.plain().load().unwrap();
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
    assert_eq!(db.plain().load().unwrap(), before);
    assert_everything_clear(&db.open(KEY_A).unwrap().load().unwrap());
}

#[test]
fn an_empty_store_is_bound_to_its_first_key() {
    let db = Db::new();
    assert!(!EncryptedStore::is_sealed(&db.plain()).unwrap());
    drop(db.open(KEY_A).unwrap());
    assert!(EncryptedStore::is_sealed(&db.plain()).unwrap());
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
    assert!(db.open(KEY_A).unwrap().load().unwrap().vaults.is_empty());
}

#[test]
fn without_its_key_check_a_store_is_still_checked_against_its_sealed_values() {
    let db = Db::new();
    fill(&mut db.open(KEY_A).unwrap());
    db.sql()
        .execute("DELETE FROM documents WHERE key = ?1", [KEY_CHECK_DOCUMENT])
        .unwrap();
    assert!(EncryptedStore::is_sealed(&db.plain()).unwrap());
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
    // The right key writes the check again.
    assert_everything_clear(&db.open(KEY_A).unwrap().load().unwrap());
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
}

#[test]
fn a_tampered_key_or_document_is_an_error_naming_the_record() {
    let db = Db::new();
    fill(&mut db.open(KEY_A).unwrap());
    let conn = db.sql();
    let id = format!("{:032x}", 2);
    let mut sealed: Vec<u8> = conn
        .query_row("SELECT key FROM versions WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 0x40;
    conn.execute(
        "UPDATE versions SET key = ?1 WHERE id = ?2",
        rusqlite::params![sealed, id],
    )
    .unwrap();
    let err = db.open(KEY_A).unwrap().load().unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Backend {
                source: crate::store::Cause::Seal(SealError::Refused),
                ..
            }
        ),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).expect("the seal's error");
    assert!(source.is::<SealError>(), "{source:?}");
    let err = err.to_string();
    assert!(err.contains(&id) && err.contains("web"), "{err}");
    assert!(!contains(err.as_bytes(), &key_bytes(2)));
    // Restore the key; now a document.
    sealed[last] ^= 0x40;
    conn.execute(
        "UPDATE versions SET key = ?1 WHERE id = ?2",
        rusqlite::params![sealed, id],
    )
    .unwrap();
    let value: String = conn
        .query_row(
            "SELECT value FROM documents WHERE key = 'issuer/digi'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut chars: Vec<char> = value.chars().collect();
    chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
    let altered: String = chars.into_iter().collect();
    conn.execute(
        "UPDATE documents SET value = ?1 WHERE key = 'issuer/digi'",
        [&altered],
    )
    .unwrap();
    let err = db.open(KEY_A).unwrap().load().unwrap_err().to_string();
    assert!(err.contains("issuer/digi"), "{err}");
    assert!(!err.contains(PWD), "{err}");
}

#[test]
fn swapped_rows_do_not_open() {
    let db = Db::new();
    fill(&mut db.open(KEY_A).unwrap());
    let conn = db.sql();
    // Keys of two versions of the same certificate, then of two certificates.
    for (a, b) in [(1u8, 2u8), (1, 3)] {
        let (ia, ib) = (format!("{a:032x}"), format!("{b:032x}"));
        conn.execute_batch(&format!(
            "UPDATE versions SET key = (SELECT key FROM versions WHERE id = '{ib}') WHERE id = '{ia}';"
        ))
        .unwrap();
        let err = db.open(KEY_A).unwrap().load().unwrap_err().to_string();
        assert!(err.contains(&ia), "{err}");
        // Put the right key back by re-sealing through the store.
        let mut store = db.open(KEY_A).unwrap();
        let cert = if a == 1 { "web" } else { "api" };
        store
            .update_version(&certificate("prod", cert), &version("prod", cert, a))
            .unwrap();
        assert_everything_clear(&store.load().unwrap());
    }
    // Two issuer documents.
    conn.execute_batch(
        "UPDATE documents SET value = (SELECT value FROM documents WHERE key = 'issuer/digi') \
         WHERE key = 'issuer/other';",
    )
    .unwrap();
    let err = db.open(KEY_A).unwrap().load().unwrap_err().to_string();
    assert!(err.contains("issuer/other"), "{err}");
}

#[test]
fn a_store_from_before_encryption_is_sealed_once_at_open() {
    let db = Db::new();
    fill(&mut db.plain());
    assert!(
        contains(&db.bytes(), &key_bytes(1)),
        "the set-up stores clear keys"
    );
    assert!(!EncryptedStore::is_sealed(&db.plain()).unwrap());
    let store = db.open(KEY_A).unwrap();
    assert_everything_clear(&store.load().unwrap());
    drop(store);
    assert_nothing_clear_in_the_file(&db);
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
    // Once sealed, a clear key or document written around certfs is refused, not served.
    db.plain()
        .update_version(&certificate("prod", "api"), &version("prod", "api", 3))
        .unwrap();
    let err = db.open(KEY_A).unwrap().load().unwrap_err().to_string();
    assert!(
        err.contains("stored in clear") && err.contains("api"),
        "{err}"
    );
    db.open(KEY_A)
        .unwrap()
        .update_version(&certificate("prod", "api"), &version("prod", "api", 3))
        .unwrap();
    db.plain()
        .put_document("prod", "issuer/digi", Some(&issuer_json()))
        .unwrap();
    let err = db.open(KEY_A).unwrap().load().unwrap_err().to_string();
    assert!(
        err.contains("stored in clear") && err.contains("issuer/digi"),
        "{err}"
    );
}

#[test]
fn a_first_sealing_cut_short_resumes_at_the_next_open() {
    let db = Db::new();
    fill(&mut db.plain());
    // As if the first open had sealed one key and died before its check.
    {
        let mut store = db.open(KEY_A).unwrap();
        store
            .update_version(&certificate("prod", "web"), &version("prod", "web", 1))
            .unwrap();
    }
    db.sql()
        .execute("DELETE FROM documents WHERE key = ?1", [KEY_CHECK_DOCUMENT])
        .unwrap();
    let conn = db.sql();
    conn.execute(
        "UPDATE versions SET key = ?1 WHERE id = ?2",
        rusqlite::params![key_bytes(2), format!("{:032x}", 2)],
    )
    .unwrap();
    conn.execute(
        "UPDATE documents SET value = ?1 WHERE key = 'issuer/digi'",
        [issuer_json()],
    )
    .unwrap();
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
    assert_everything_clear(&db.open(KEY_A).unwrap().load().unwrap());
    assert_nothing_clear_in_the_file(&db);
}

#[test]
fn names_in_another_case_are_the_same_place() {
    let db = Db::new();
    let mut store = db.open(KEY_A).unwrap();
    fill(&mut store);
    store
        .update_version(&certificate("PROD", "Web"), &version("Prod", "WEB", 2))
        .unwrap();
    store
        .put_document("PROD", "ISSUER/Digi", Some(&issuer_json()))
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_everything_clear(&snapshot);
    assert!(snapshot.documents.iter().any(|d| d.key == "issuer/digi"));
}

#[test]
fn the_reserved_vault_is_hidden_and_refused() {
    let db = Db::new();
    let mut store = db.open(KEY_A).unwrap();
    assert!(store.load().unwrap().vaults.is_empty());
    for name in [RESERVED_VAULT, ".CERTFS"] {
        let vault = VaultRecord {
            name: name.into(),
            created: 1,
        };
        assert!(matches!(
            store.create_vault(&vault),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.delete_vault(name),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.put_document(name, KEY_CHECK_DOCUMENT, None),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.put_certificate(&certificate(name, "x"), None),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.delete_certificate(name, "x"),
            Err(StoreError::NotFound(_))
        ));
    }
    drop(store);
    // The key check is still there.
    assert!(matches!(db.open(KEY_B), Err(OpenError::WrongKey)));
}

#[test]
fn garbage_in_the_database_is_an_error_or_a_clear_value_never_a_panic() {
    let db = Db::new();
    fill(&mut db.open(KEY_A).unwrap());
    let conn = db.sql();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let id = format!("{:032x}", 1);
    for round in 0..200 {
        let len = (next() % 80) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= 7 {
            junk[..7].copy_from_slice(b"certfs\x01");
        }
        conn.execute(
            "UPDATE versions SET key = ?1 WHERE id = ?2",
            rusqlite::params![junk, id],
        )
        .unwrap();
        let text =
            seal::TEXT_PREFIX.to_string() + &String::from_utf8_lossy(&junk).replace('\0', "");
        conn.execute(
            "UPDATE documents SET value = ?1 WHERE key = 'issuer/other'",
            [&text],
        )
        .unwrap();
        // Either refused with an error or (for junk without the header) taken as a clear key.
        let _ = db.open(KEY_A).map(|s| s.load());
        let _ = db.open(KEY_B).map(|s| s.load());
    }
}

#[test]
fn debug_shows_no_secret() {
    let db = Db::new();
    let store = db.open(KEY_A).unwrap();
    assert_eq!(format!("{store:?}"), "EncryptedStore { .. }");
}
