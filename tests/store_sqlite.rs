//! SQLite-specific behaviour of `SqliteStore`: schema versioning, refusing foreign files, file modes.
//!
//! The contract shared with other stores lives in `store_contract.rs`.
//! These tests read and forge database files with `rusqlite` directly, to
//! check the file independently of the store's own code.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use certfs::store::sqlite::SqliteStore;

#[path = "common/require.rs"]
mod require;
use certfs::store::{
    CertificateRecord, DocumentRecord, KeyBytes, Store, StoreError, VaultRecord, VersionRecord,
};

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("certfs.db");
    (dir, path)
}

/// The open error, which must be `Unavailable` and name the path.
#[track_caller]
fn unavailable(path: &Path) -> String {
    match SqliteStore::open(path) {
        Err(StoreError::Unavailable(message)) => {
            assert!(
                message.contains(&path.display().to_string()),
                "message does not name the path: {message}"
            );
            message
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn pragma_i64(path: &Path, name: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, name, |row| row.get(0))
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn side(path: &Path, suffix: &str) -> PathBuf {
    let mut side = path.as_os_str().to_owned();
    side.push(suffix);
    PathBuf::from(side)
}

/// Writes something, so that the -wal and -shm files exist.
fn write_some(store: &mut SqliteStore) {
    store
        .create_vault(&VaultRecord {
            name: "prod".into(),
            created: 1,
        })
        .unwrap();
    store
        .put_certificate(
            &CertificateRecord {
                vault: "prod".into(),
                name: "web".into(),
                policy: "{}".into(),
                tags: "{}".into(),
                created: 1,
                updated: 1,
                operation: None,
                deleted: None,
                purge_at: None,
            },
            Some(&VersionRecord {
                vault: "prod".into(),
                certificate: "web".into(),
                id: "0123456789abcdef0123456789abcdef".into(),
                created: 1,
                updated: 1,
                enabled: true,
                exportable: true,
                certificate_der: None,
                chain_der: Vec::new(),
                key: Some(KeyBytes(zeroize::Zeroizing::new(vec![1, 2, 3]))),
            }),
        )
        .unwrap();
}

#[test]
fn new_database_gets_current_schema_version_and_wal() {
    let (_dir, path) = temp();
    drop(SqliteStore::open(&path).unwrap());
    const { assert!(SqliteStore::SCHEMA_VERSION >= 1) };
    assert_eq!(
        pragma_i64(&path, "user_version"),
        i64::from(SqliteStore::SCHEMA_VERSION)
    );
    assert_eq!(pragma_i64(&path, "application_id"), 0x4352_4653);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        ["certificates", "chain", "documents", "vaults", "versions"]
    );
}

/// The schema of version 1 as released, frozen here on purpose: a database
/// file written by that certfs, forged independently of the migrations in
/// the crate (which must never change a released entry).
const SCHEMA_1: &str = "
    PRAGMA application_id = 1129465427;
    CREATE TABLE vaults (
        name    TEXT    NOT NULL COLLATE NOCASE PRIMARY KEY,
        created INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE certificates (
        vault   TEXT    NOT NULL COLLATE NOCASE
                        REFERENCES vaults (name) ON DELETE RESTRICT,
        name    TEXT    NOT NULL COLLATE NOCASE,
        policy  TEXT    NOT NULL,
        tags    TEXT    NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (vault, name)
    ) STRICT;
    CREATE TABLE versions (
        id              TEXT    NOT NULL PRIMARY KEY,
        vault           TEXT    NOT NULL COLLATE NOCASE,
        certificate     TEXT    NOT NULL COLLATE NOCASE,
        seq             INTEGER NOT NULL,
        created         INTEGER NOT NULL,
        updated         INTEGER NOT NULL,
        enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        certificate_der BLOB,
        key             BLOB,
        FOREIGN KEY (vault, certificate)
            REFERENCES certificates (vault, name) ON DELETE RESTRICT
    ) STRICT;
    CREATE UNIQUE INDEX versions_by_certificate
        ON versions (vault, certificate, seq);
    CREATE TABLE chain (
        version_id TEXT    NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        position   INTEGER NOT NULL CHECK (position >= 0),
        der        BLOB    NOT NULL,
        PRIMARY KEY (version_id, position)
    ) STRICT;
    PRAGMA user_version = 1;
";

const ID_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ID_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A version-1 database holding vault `Prod`, certificate `Web` with a
/// completed version `ID_B` (two chain certificates) before a pending
/// version `ID_A`, and an empty certificate `draft`.
fn forge_schema_1(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA_1).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO vaults VALUES ('Prod', 10);
         INSERT INTO certificates VALUES ('Prod', 'Web', '{{\"p\":1}}', '{{\"t\":\"1\"}}', 20, 21);
         INSERT INTO certificates VALUES ('Prod', 'draft', '{{}}', '{{}}', 22, 23);
         INSERT INTO versions VALUES ('{ID_B}', 'Prod', 'Web', 1, 30, 31, 1, x'3082', x'3081');
         INSERT INTO versions VALUES ('{ID_A}', 'Prod', 'Web', 2, 32, 33, 0, NULL, x'308101');
         INSERT INTO chain VALUES ('{ID_B}', 0, x'3001');
         INSERT INTO chain VALUES ('{ID_B}', 1, x'3002');"
    ))
    .unwrap();
}

#[test]
fn schema_1_database_migrates_keeping_its_data() {
    let (_dir, path) = temp();
    forge_schema_1(&path);
    assert_eq!(pragma_i64(&path, "user_version"), 1);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        pragma_i64(&path, "user_version"),
        i64::from(SqliteStore::SCHEMA_VERSION)
    );
    let snapshot = store.load().unwrap();
    assert_eq!(
        snapshot.vaults,
        [VaultRecord {
            name: "Prod".into(),
            created: 10
        }]
    );
    assert_eq!(
        snapshot.certificates,
        // Ordered by name, case-insensitively.
        [
            CertificateRecord {
                vault: "Prod".into(),
                name: "draft".into(),
                policy: "{}".into(),
                tags: "{}".into(),
                created: 22,
                updated: 23,
                operation: None,
                deleted: None,
                purge_at: None,
            },
            CertificateRecord {
                vault: "Prod".into(),
                name: "Web".into(),
                policy: r#"{"p":1}"#.into(),
                tags: r#"{"t":"1"}"#.into(),
                created: 20,
                updated: 21,
                operation: None,
                deleted: None,
                purge_at: None,
            },
        ]
    );
    let key = |bytes: &[u8]| Some(KeyBytes(zeroize::Zeroizing::new(bytes.to_vec())));
    let completed = VersionRecord {
        vault: "Prod".into(),
        certificate: "Web".into(),
        id: ID_B.into(),
        created: 30,
        updated: 31,
        enabled: true,
        exportable: true,
        certificate_der: Some(vec![0x30, 0x82]),
        chain_der: vec![vec![0x30, 0x01], vec![0x30, 0x02]],
        key: key(&[0x30, 0x81]),
    };
    let pending = VersionRecord {
        vault: "Prod".into(),
        certificate: "Web".into(),
        id: ID_A.into(),
        created: 32,
        updated: 33,
        enabled: false,
        exportable: true,
        certificate_der: None,
        chain_der: Vec::new(),
        key: key(&[0x30, 0x81, 0x01]),
    };
    assert_eq!(snapshot.versions, [completed.clone(), pending.clone()]);

    // The column is there and NULL, as SQL sees it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let nulls: i64 = conn
        .query_row(
            "SELECT count(*) FROM certificates WHERE operation IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(nulls, 2);
    drop(conn);

    // The migrated data takes the new writes: complete the pending version.
    let mut web = snapshot.certificates[1].clone();
    web.operation = Some(r#"{"status":"completed"}"#.into());
    let merged = VersionRecord {
        certificate_der: Some(vec![0x30, 0x82, 0x09]),
        chain_der: vec![vec![0x30, 0x03]],
        enabled: true,
        exportable: true,
        updated: 40,
        ..pending
    };
    store.update_version(&web, &merged).unwrap();
    drop(store);
    let snapshot = SqliteStore::open(&path).unwrap().load().unwrap();
    assert_eq!(snapshot.certificates[1], web);
    assert_eq!(snapshot.versions, [completed, merged]);
}

#[test]
fn reopening_keeps_schema_version_and_data() {
    let (_dir, path) = temp();
    write_some(&mut SqliteStore::open(&path).unwrap());
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap().versions.len(), 1);
    assert_eq!(
        pragma_i64(&path, "user_version"),
        i64::from(SqliteStore::SCHEMA_VERSION)
    );
}

#[test]
fn newer_schema_is_refused_untouched() {
    let (_dir, path) = temp();
    write_some(&mut SqliteStore::open(&path).unwrap());
    let newer = SqliteStore::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let before = fs::read(&path).unwrap();

    let message = unavailable(&path);
    assert!(
        message.contains(&format!(
            "schema version {newer} is newer than this certfs supports ({})",
            SqliteStore::SCHEMA_VERSION
        )),
        "{message}"
    );
    assert_eq!(fs::read(&path).unwrap(), before, "the file is not touched");
    assert_eq!(pragma_i64(&path, "user_version"), i64::from(newer));
}

#[test]
fn garbage_files_are_refused_untouched() {
    let (_dir, path) = temp();
    let long: Vec<u8> = b"this is not a database, it is a shopping list\n"
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    // One byte is special: SQLite's unix VFS reports a 1-byte file as empty.
    let contents: [&[u8]; 6] = [
        b"x",
        b"-----BEGIN CERTIFICATE-----\n",
        &long[..511],
        &long[..512],
        &long,
        &[0u8; 4096],
    ];
    for garbage in contents {
        fs::write(&path, garbage).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let message = unavailable(&path);
        assert!(!message.is_empty());
        assert_eq!(fs::read(&path).unwrap(), garbage, "the file is not touched");
        assert_eq!(mode(&path), 0o644, "the file's mode is not touched");
        for suffix in ["-wal", "-shm", "-journal"] {
            assert!(!side(&path, suffix).exists(), "{suffix} was created");
        }
    }
}

#[test]
fn another_applications_database_is_refused() {
    let (_dir, path) = temp();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE vaults (x); INSERT INTO vaults VALUES (1);")
        .unwrap();
    drop(conn);
    let message = unavailable(&path);
    assert!(message.contains("not a certfs database"), "{message}");

    let (_dir, path) = temp();
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "application_id", 0x1234_5678)
        .unwrap();
    let message = unavailable(&path);
    assert!(message.contains("not a certfs database"), "{message}");
}

#[test]
fn missing_parent_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("certfs.db");
    let message = unavailable(&path);
    assert!(message.contains("parent directory"), "{message}");
    assert!(!dir.path().join("missing").exists(), "nothing is created");
}

#[test]
fn parent_that_is_a_file_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), b"").unwrap();
    let path = dir.path().join("file").join("certfs.db");
    let message = unavailable(&path);
    assert!(message.contains("not a directory"), "{message}");
}

#[test]
fn directory_as_database_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certfs.db");
    fs::create_dir(&path).unwrap();
    unavailable(&path);
}

#[test]
fn unreadable_parent_directory_is_unavailable() {
    // Root reads any directory: as root, the check runs as a test user.
    if require::rerun_as_user("unreadable_parent_directory_is_unavailable", "certfs-plain") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let result = SqliteStore::open(&locked.join("certfs.db"));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[test]
fn database_and_side_files_are_private() {
    let (_dir, path) = temp();
    let mut store = SqliteStore::open(&path).unwrap();
    write_some(&mut store);
    // While the store is open, the WAL and shared-memory files exist.
    for file in [path.clone(), side(&path, "-wal"), side(&path, "-shm")] {
        assert!(file.exists(), "{} missing", file.display());
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn loose_database_mode_is_tightened() {
    let (_dir, path) = temp();
    write_some(&mut SqliteStore::open(&path).unwrap());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let mut store = SqliteStore::open(&path).unwrap();
    store
        .create_vault(&VaultRecord {
            name: "more".into(),
            created: 2,
        })
        .unwrap();
    for file in [path.clone(), side(&path, "-wal"), side(&path, "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let (_dir, path) = temp();
    let mut writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open(&path).unwrap();
    write_some(&mut writer);
    let snapshot = reader.load().unwrap();
    assert_eq!(snapshot.vaults.len(), 1);
    assert_eq!(snapshot.versions.len(), 1);
}

#[test]
fn failed_call_leaves_no_rows_behind() {
    let (_dir, path) = temp();
    let mut store = SqliteStore::open(&path).unwrap();
    write_some(&mut store);
    let snapshot = store.load().unwrap();
    let mut duplicate = snapshot.versions[0].clone();
    duplicate.chain_der = vec![vec![1], vec![2]];
    let mut certificate = snapshot.certificates[0].clone();
    certificate.policy = r#"{"changed":true}"#.into();
    let result = store.put_certificate(&certificate, Some(&duplicate));
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM chain"), 0);
    assert_eq!(count("SELECT count(*) FROM versions"), 1);
    assert_eq!(
        count(r#"SELECT count(*) FROM certificates WHERE policy = '{"changed":true}'"#),
        0
    );
}

fn chain_rows(path: &Path, id: &str) -> Vec<(i64, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.prepare("SELECT position, der FROM chain WHERE version_id = ?1 ORDER BY position")
        .unwrap()
        .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn version_changes_leave_no_stale_chain_rows() {
    let (_dir, path) = temp();
    let mut store = SqliteStore::open(&path).unwrap();
    write_some(&mut store);
    let snapshot = store.load().unwrap();
    let certificate = snapshot.certificates[0].clone();
    let mut version = snapshot.versions[0].clone();
    let id = version.id.clone();

    version.chain_der = vec![vec![1], vec![2], vec![3]];
    store.update_version(&certificate, &version).unwrap();
    assert_eq!(
        chain_rows(&path, &id),
        [(0, vec![1]), (1, vec![2]), (2, vec![3])]
    );
    version.chain_der = vec![vec![9]];
    store.update_version(&certificate, &version).unwrap();
    assert_eq!(chain_rows(&path, &id), [(0, vec![9])]);

    // A failed update leaves the rows as they were.
    let mut unknown = version.clone();
    unknown.id = "ffffffffffffffffffffffffffffffff".into();
    let result = store.update_version(&certificate, &unknown);
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    assert_eq!(chain_rows(&path, &id), [(0, vec![9])]);

    store.delete_version(&certificate, &id).unwrap();
    assert!(chain_rows(&path, &id).is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM chain"), 0);
    assert_eq!(count("SELECT count(*) FROM versions"), 0);
    assert_eq!(count("SELECT count(*) FROM certificates"), 1);
}

#[test]
fn delete_certificate_leaves_no_rows_behind() {
    let (_dir, path) = temp();
    let mut store = SqliteStore::open(&path).unwrap();
    write_some(&mut store);
    let snapshot = store.load().unwrap();
    let web = snapshot.certificates[0].clone();
    let mut version = snapshot.versions[0].clone();
    version.chain_der = vec![vec![1], vec![2]];
    store.update_version(&web, &version).unwrap();
    let mut second = version.clone();
    second.id = "fedcba9876543210fedcba9876543210".into();
    second.chain_der = vec![vec![3]];
    store.put_certificate(&web, Some(&second)).unwrap();
    // Another certificate, whose rows must stay.
    let mut api = web.clone();
    api.name = "api".into();
    let mut api_version = second.clone();
    api_version.certificate = "api".into();
    api_version.id = "11111111111111111111111111111111".into();
    store.put_certificate(&api, Some(&api_version)).unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM chain"), 4);
    assert_eq!(count("SELECT count(*) FROM versions"), 3);

    // A failed purge changes no row.
    let result = store.delete_certificate("prod", "nope");
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    assert_eq!(count("SELECT count(*) FROM chain"), 4);

    store.delete_certificate("PROD", "Web").unwrap();
    assert!(chain_rows(&path, &version.id).is_empty());
    assert!(chain_rows(&path, &second.id).is_empty());
    assert_eq!(count("SELECT count(*) FROM chain"), 1);
    assert_eq!(
        count("SELECT count(*) FROM versions WHERE certificate = 'web'"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM versions"), 1);
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE name = 'web'"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM certificates"), 1);
    assert_eq!(chain_rows(&path, &api_version.id), [(0, vec![3])]);
}

#[test]
fn documents_table_is_strict_and_case_insensitive() {
    let (_dir, path) = temp();
    let mut store = SqliteStore::open(&path).unwrap();
    write_some(&mut store);
    store
        .put_document("prod", "Issuer/Digi", Some(r#"{"pwd":"s"}"#))
        .unwrap();
    store
        .put_document("prod", "issuer/digi", Some("{}"))
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: Vec<(String, String, String)> = conn
        .prepare("SELECT vault, key, value FROM documents")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [("prod".into(), "Issuer/Digi".into(), "{}".into())]);
    // STRICT: a value of the wrong type is an error, not a silent cast.
    let wrong = conn.execute(
        "INSERT INTO documents (vault, key, value) VALUES ('prod', 'x', x'00')",
        [],
    );
    assert!(wrong.is_err(), "{wrong:?}");
}

/// Version 3 as released: version 1 plus the migrations 2 and 3, frozen.
const SCHEMA_2_AND_3: &str = "
    ALTER TABLE certificates ADD COLUMN operation TEXT;
    ALTER TABLE versions ADD COLUMN exportable INTEGER NOT NULL DEFAULT 1 CHECK (exportable IN (0, 1));
    PRAGMA user_version = 3;
";

#[test]
fn schema_3_database_migrates_keeping_its_data() {
    let (_dir, path) = temp();
    forge_schema_1(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_2_AND_3).unwrap();
        conn.execute_batch(&format!(
            "UPDATE certificates SET operation = '{{\"status\":\"inProgress\"}}' WHERE name = 'Web';
             UPDATE versions SET exportable = 0 WHERE id = '{ID_B}';"
        ))
        .unwrap();
    }
    assert_eq!(pragma_i64(&path, "user_version"), 3);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        pragma_i64(&path, "user_version"),
        i64::from(SqliteStore::SCHEMA_VERSION)
    );
    let snapshot = store.load().unwrap();
    assert!(snapshot.documents.is_empty());
    assert_eq!(snapshot.vaults.len(), 1);
    let web = CertificateRecord {
        vault: "Prod".into(),
        name: "Web".into(),
        policy: r#"{"p":1}"#.into(),
        tags: r#"{"t":"1"}"#.into(),
        created: 20,
        updated: 21,
        operation: Some(r#"{"status":"inProgress"}"#.into()),
        deleted: None,
        purge_at: None,
    };
    assert_eq!(snapshot.certificates.len(), 2);
    assert_eq!(snapshot.certificates[1], web);
    assert_eq!(snapshot.certificates[0].deleted, None);
    assert_eq!(snapshot.certificates[0].purge_at, None);
    let ids: Vec<(&str, bool, usize)> = snapshot
        .versions
        .iter()
        .map(|v| (v.id.as_str(), v.exportable, v.chain_der.len()))
        .collect();
    assert_eq!(ids, [(ID_B, false, 2), (ID_A, true, 0)]);

    // The columns are there and NULL, as SQL sees them.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE deleted IS NULL AND purge_at IS NULL"),
        2
    );
    assert_eq!(count("SELECT count(*) FROM documents"), 0);
    drop(conn);

    // The migrated data takes the new writes.
    let gone = CertificateRecord {
        deleted: Some(100),
        purge_at: Some(200),
        ..web
    };
    store.put_certificate(&gone, None).unwrap();
    store
        .put_document("prod", "contacts", Some(r#"{"contacts":[]}"#))
        .unwrap();
    store.delete_certificate("Prod", "draft").unwrap();
    drop(store);
    let snapshot = SqliteStore::open(&path).unwrap().load().unwrap();
    assert_eq!(snapshot.certificates, [gone]);
    assert_eq!(snapshot.versions.len(), 2);
    assert_eq!(
        snapshot.documents,
        [DocumentRecord {
            vault: "Prod".into(),
            key: "contacts".into(),
            value: r#"{"contacts":[]}"#.into(),
        }]
    );
}

#[test]
fn claims_are_always_granted_to_the_one_daemon_of_a_file() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path).unwrap();
    let first = store.claim("renew/prod/web/1").unwrap().expect("granted");
    let second = store.claim("renew/prod/web/1").unwrap().expect("granted");
    assert!(first.is_held() && second.is_held());
    // And watching has nothing to report, but is no error.
    store.watch(Box::new(|_| {})).unwrap();
}
