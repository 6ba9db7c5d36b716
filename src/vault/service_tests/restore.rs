//! `backup.blob` and `restore/`: a certificate backed up, purged and restored comes back with every version, its keys and their state.

use super::*;
use crate::vault::backup::BackupKey;

fn key() -> BackupKey {
    BackupKey::from_bytes([7; 32])
}

/// The service on `db` with the test backup key.
fn service_with_key(db: &Path) -> VaultService {
    service(db).with_backup_key(key())
}

/// What a version shows: its id, `cert.pem`, `privkey.pem` (`None` when
/// refused) and whether it is enabled.
#[derive(Debug, PartialEq)]
struct VersionState {
    id: String,
    cert: Vec<u8>,
    key: Option<Vec<u8>>,
    enabled: bool,
}

/// Every version of the certificate at `cert_path`, by id.
fn snapshot(s: &VaultService, cert_path: &str) -> Vec<VersionState> {
    let mut ids = versions(s, cert_path);
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let dir = format!("{cert_path}/versions/{id}");
            VersionState {
                cert: read(s, &format!("{dir}/cert.pem")),
                key: try_read(s, &format!("{dir}/privkey.pem")).ok(),
                enabled: read_json(s, &format!("{dir}/attributes.json"))["enabled"]
                    .as_bool()
                    .unwrap(),
                id,
            }
        })
        .collect()
}

/// Certificate `web` with three versions, the oldest disabled, and its backup.
fn backed_up(db: &Path) -> (VaultService, Vec<u8>) {
    let s = service_with_key(db);
    mkdir(&s, "prod").unwrap();
    mkdir(&s, "prod/web").unwrap();
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    let oldest = current_version(&s, "prod/web");
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    write(&s, "prod/web/policy.json", &ec_policy("web3", "Self")).unwrap();
    write(
        &s,
        &format!("prod/web/versions/{oldest}/attributes.json"),
        br#"{"enabled": false}"#,
    )
    .unwrap();
    write(&s, "prod/web/tags.json", br#"{"team": "web"}"#).unwrap();
    let blob = read(&s, "prod/web/backup.blob");
    (s, blob)
}

#[test]
fn a_purged_certificate_restores_with_every_version() {
    let (_dir, db) = temp_store();
    let (s, blob) = backed_up(&db);
    let before = snapshot(&s, "prod/web");
    assert_eq!(before.len(), 3);
    assert_eq!(
        before.iter().filter(|v| !v.enabled).count(),
        1,
        "one disabled"
    );
    assert!(before.iter().all(|v| v.enabled == v.key.is_some()));
    let current = current_version(&s, "prod/web");
    let policy = read(&s, "prod/web/policy.json");
    let tags = read(&s, "prod/web/tags.json");
    // A fresh seal each read, of the same size.
    assert_ne!(read(&s, "prod/web/backup.blob"), blob);
    assert_eq!(read(&s, "prod/web/backup.blob").len(), blob.len());

    rmdir(&s, "prod/web").unwrap();
    rmdir(&s, "prod/deleted/web").unwrap();
    assert!(!exists(&s, "prod/web") && !exists(&s, "prod/deleted/web"));

    let changes = write(&s, "prod/restore/web.blob", &blob).unwrap();
    assert!(
        changes.dirs.contains(&node(&s, "prod/restore")),
        "{changes:?}"
    );
    assert!(
        names(&s, "prod/restore").is_empty(),
        "the dropped blob goes"
    );
    assert_eq!(snapshot(&s, "prod/web"), before);
    assert_eq!(current_version(&s, "prod/web"), current);
    assert_eq!(read(&s, "prod/web/policy.json"), policy);
    assert_eq!(read(&s, "prod/web/tags.json"), tags);
    assert_served_pair(&s, "prod/web");
    // Restored in the store, not only in memory.
    drop(s);
    let s = service_with_key(&db);
    assert_eq!(snapshot(&s, "prod/web"), before);
    assert_eq!(current_version(&s, "prod/web"), current);
}

#[test]
fn a_restore_needs_the_name_free() {
    let (_dir, db) = temp_store();
    let (s, blob) = backed_up(&db);
    let before = snapshot(&s, "prod/web");
    // The certificate is there.
    let taken = write(&s, "prod/restore/web.blob", &blob).unwrap_err();
    assert!(matches!(taken, VaultError::AlreadyExists(_)), "{taken}");
    assert!(
        !lists(&s, "prod/restore", "web.blob"),
        "a refused drop goes"
    );
    assert_eq!(report(&s, "prod/restore/web.blob").0, "Conflict");
    // Deleted but recoverable.
    rmdir(&s, "prod/web").unwrap();
    let deleted = write(&s, "prod/restore/web.blob", &blob).unwrap_err();
    assert!(matches!(deleted, VaultError::AlreadyExists(_)), "{deleted}");
    assert!(
        deleted.message().contains("deleted but recoverable"),
        "{deleted}"
    );
    // Nothing changed: the deleted certificate recovers whole.
    rename(&s, "prod/deleted/web", "prod/web").unwrap();
    assert_eq!(snapshot(&s, "prod/web"), before);
}

#[test]
fn a_blob_opens_only_under_its_backup_key() {
    let (dir, db) = temp_store();
    let (_s, blob) = backed_up(&db);
    // Another store with another key: refused, nothing made.
    let other_db = dir.path().join("other.db");
    let other = service(&other_db).with_backup_key(BackupKey::from_bytes([9; 32]));
    mkdir(&other, "prod").unwrap();
    let refused = write(&other, "prod/restore/web.blob", &blob).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    assert!(!exists(&other, "prod/web"));
    // Damaged: refused too.
    let third_db = dir.path().join("third.db");
    let third = service_with_key(&third_db);
    mkdir(&third, "prod").unwrap();
    let mut damaged = blob.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let refused = write(&third, "prod/restore/web.blob", &damaged).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    assert!(!exists(&third, "prod/web"));
    // The same key in another store restores it.
    write(&third, "prod/restore/web.blob", &blob).unwrap();
    assert_eq!(versions(&third, "prod/web").len(), 3);
    assert_served_pair(&third, "prod/web");
}

#[test]
fn without_a_backup_key_there_is_no_backup_and_no_restore() {
    let (_dir, db) = temp_store();
    let blob = backed_up(&db).1;
    let s = service(&db);
    let refused = try_read(&s, "prod/web/backup.blob").unwrap_err();
    assert!(matches!(refused, VaultError::Forbidden(_)), "{refused}");
    rmdir(&s, "prod/web").unwrap();
    rmdir(&s, "prod/deleted/web").unwrap();
    let refused = write(&s, "prod/restore/web.blob", &blob).unwrap_err();
    assert!(matches!(refused, VaultError::Forbidden(_)), "{refused}");
    assert!(!exists(&s, "prod/web"));
}

#[test]
fn a_pending_version_is_backed_up_and_restored_pending() {
    let (_dir, db) = temp_store();
    let s = service_with_key(&db);
    mkdir(&s, "prod").unwrap();
    mkdir(&s, "prod/api").unwrap();
    write(&s, "prod/api/policy.json", &ec_policy("api", "Unknown")).unwrap();
    let csr = read(&s, "prod/api/request.csr");
    let blob = read(&s, "prod/api/backup.blob");
    rmdir(&s, "prod/api").unwrap();
    rmdir(&s, "prod/deleted/api").unwrap();
    write(&s, "prod/restore/api.blob", &blob).unwrap();
    assert_eq!(read(&s, "prod/api/request.csr"), csr);
    assert_eq!(
        read_json(&s, "prod/api/operation.json")["status"],
        "inProgress"
    );
    assert!(versions(&s, "prod/api").is_empty());
}
