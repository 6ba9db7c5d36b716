//! Soft delete (`rmdir`), recovery (`rename` out of `deleted/`), purge (`rmdir` under `deleted/`) and purge protection from `vault.json`.

use super::*;

/// Certificate `web` with two versions, soft-deleted; returns its versions and `cert.pem`.
fn deleted(db: &Path) -> (VaultService, Vec<String>, Vec<u8>) {
    let s = with_certificate(db, "web");
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    let ids = versions(&s, "prod/web");
    let cert = read(&s, "prod/web/cert.pem");
    rmdir(&s, "prod/web").unwrap();
    (s, ids, cert)
}

#[test]
fn rmdir_soft_deletes_a_certificate_into_deleted() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    let cert = read(&s, "prod/web/cert.pem");
    let policy = read(&s, "prod/web/policy.json");
    let changes = rmdir(&s, "prod/web").unwrap();
    assert!(changes.dirs.contains(&node(&s, "prod")), "{changes:?}");
    assert!(
        changes.dirs.contains(&node(&s, "prod/deleted")),
        "{changes:?}"
    );

    assert!(!lists(&s, "prod", "web"));
    assert!(!exists(&s, "prod/web"));
    assert!(!exists(&s, "live/prod.web"));
    assert_eq!(names(&s, "prod/deleted"), ["web"]);
    assert_eq!(
        names(&s, "prod/deleted/web"),
        ["deleted.json", "policy.json", "cert.pem", "cert.cer"]
    );
    assert_eq!(read(&s, "prod/deleted/web/cert.pem"), cert);
    assert_eq!(read(&s, "prod/deleted/web/cert.cer"), certificate(&cert));
    assert_eq!(read(&s, "prod/deleted/web/policy.json"), policy);
    let info = read_json(&s, "prod/deleted/web/deleted.json");
    let (deleted_at, purge_at) = (
        info["deletedDate"].as_i64().unwrap(),
        info["scheduledPurgeDate"].as_i64().unwrap(),
    );
    assert_eq!(
        purge_at - deleted_at,
        90 * 86_400,
        "the default retention: {info}"
    );
    // The name is not free while it is recoverable.
    let taken = mkdir(&s, "prod/web").unwrap_err();
    assert!(matches!(taken, VaultError::AlreadyExists(_)), "{taken}");
    assert!(
        taken.message().contains("deleted but recoverable"),
        "{taken}"
    );
    // Nor is the vault empty.
    let not_empty = rmdir(&s, "prod").unwrap_err();
    assert!(matches!(not_empty, VaultError::NotEmpty(_)), "{not_empty}");
    // It stays deleted after a reopen.
    drop(s);
    let s = service(&db);
    assert!(!lists(&s, "prod", "web"));
    assert_eq!(read(&s, "prod/deleted/web/cert.pem"), cert);
}

#[test]
fn rename_out_of_deleted_recovers_every_version() {
    let (_dir, db) = temp_store();
    let (s, ids, cert) = deleted(&db);
    // Only under its own name.
    let elsewhere = rename(&s, "prod/deleted/web", "prod/other").unwrap_err();
    assert!(
        matches!(elsewhere, VaultError::BadParameter(_)),
        "{elsewhere}"
    );
    assert!(lists(&s, "prod/deleted", "web"));

    rename(&s, "prod/deleted/web", "prod/web").unwrap();
    assert!(names(&s, "prod/deleted").is_empty());
    assert_eq!(versions(&s, "prod/web"), ids);
    assert_eq!(read(&s, "prod/web/cert.pem"), cert);
    assert_served_pair(&s, "prod/web");
    for id in &ids {
        assert_served_pair(&s, &format!("prod/web/versions/{id}"));
    }
    // Recovered for good: it survives a reopen and takes new versions.
    drop(s);
    let s = service(&db);
    assert_eq!(versions(&s, "prod/web"), ids);
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    assert_eq!(versions(&s, "prod/web").len(), 3);
}

#[test]
fn rmdir_under_deleted_purges_for_good() {
    let (_dir, db) = temp_store();
    let (s, _, _) = deleted(&db);
    rmdir(&s, "prod/deleted/web").unwrap();
    assert!(names(&s, "prod/deleted").is_empty());
    assert!(!exists(&s, "prod/deleted/web"));
    assert!(!exists(&s, "prod/web"));
    drop(s);
    let s = service(&db);
    assert!(names(&s, "prod/deleted").is_empty(), "purged in the store");
    // The name is free again, and the vault empty.
    mkdir(&s, "prod/web").unwrap();
    rmdir(&s, "prod/web").unwrap();
    rmdir(&s, "prod").unwrap();
    assert!(!exists(&s, "prod"));
}

#[test]
fn purge_protection_refuses_a_purge_and_a_recovery_still_works() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    write(
        &s,
        "prod/vault.json",
        br#"{"soft_delete_retention_days": 7, "purge_protection": true}"#,
    )
    .unwrap();
    let settings = read_json(&s, "prod/vault.json");
    assert_eq!(settings["purge_protection"], true, "{settings}");
    assert_eq!(settings["soft_delete_retention_days"], 7, "{settings}");
    assert_eq!(
        read_json(&s, "prod/web/attributes.json")["recoverableDays"],
        7
    );
    let ids = versions(&s, "prod/web");
    rmdir(&s, "prod/web").unwrap();
    let info = read_json(&s, "prod/deleted/web/deleted.json");
    assert_eq!(
        info["scheduledPurgeDate"].as_i64().unwrap() - info["deletedDate"].as_i64().unwrap(),
        7 * 86_400
    );

    let refused = rmdir(&s, "prod/deleted/web").unwrap_err();
    assert!(matches!(refused, VaultError::Forbidden(_)), "{refused}");
    assert!(refused.message().contains("purge protection"), "{refused}");
    assert!(lists(&s, "prod/deleted", "web"), "still there");
    assert!(lists(&s, "prod/deleted", "web.error"));
    assert_eq!(report(&s, "prod/deleted/web").0, "Forbidden");
    // The setting and the deletion survive a reopen; the purge is still refused.
    drop(s);
    let s = service(&db);
    assert!(rmdir(&s, "prod/deleted/web").is_err());
    assert!(lists(&s, "prod/deleted", "web"));
    // A recovery brings it back and ends the report.
    rename(&s, "prod/deleted/web", "prod/web").unwrap();
    assert_eq!(versions(&s, "prod/web"), ids);
    assert!(
        !lists(&s, "prod/deleted", "web.error"),
        "{:?}",
        names(&s, "prod/deleted")
    );
}

#[test]
fn a_recovery_needs_the_name_free_and_a_bad_vault_json_is_refused() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    for bad in [
        &br#"{"soft_delete_retention_days": 3}"#[..],
        br#"{"purge_protection": "yes"}"#,
        b"not json",
    ] {
        let refused = write(&s, "prod/vault.json", bad).unwrap_err();
        assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
        assert_eq!(report(&s, "prod/vault.json").0, "BadParameter");
    }
    assert_eq!(read_json(&s, "prod/vault.json")["purge_protection"], false);
    // Deleted, then a purge makes the name free; a recovery of a name
    // that is gone finds nothing.
    mkdir(&s, "prod/web").unwrap();
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    rmdir(&s, "prod/web").unwrap();
    rmdir(&s, "prod/deleted/web").unwrap();
    let gone = rename(&s, "prod/deleted/web", "prod/web").unwrap_err();
    assert!(matches!(gone, VaultError::NotFound(_)), "{gone}");
}
