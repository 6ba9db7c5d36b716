//! `attributes.json`: disabling a version (the top-level files fall back to the newest enabled one, its key refuses reads) and enabling it again.

use super::*;

/// Certificate `web` with two versions; returns them, oldest first.
fn two_versions(db: &Path) -> (VaultService, VersionId, VersionId) {
    let s = with_certificate(db, "web");
    let first = current_version(&s, "prod/web");
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    let second = current_version(&s, "prod/web");
    assert_ne!(first, second);
    (s, first, second)
}

#[test]
fn disabling_the_newest_version_falls_back_and_enabling_it_switches_back() {
    let (_dir, db) = temp_store();
    let (s, first, second) = two_versions(&db);
    let first_leaf = certificate(&read(&s, &format!("prod/web/versions/{first}/cert.pem")));
    let second_leaf = certificate(&read(&s, "prod/web/cert.pem"));

    // Disabled through the top-level file, which shows the newest version.
    write(&s, "prod/web/attributes.json", br#"{"enabled": false}"#).unwrap();
    assert_eq!(current_version(&s, "prod/web"), first);
    assert_eq!(assert_served_pair(&s, "prod/web"), first_leaf);
    assert_eq!(read_json(&s, "prod/web/attributes.json")["enabled"], true);
    assert_eq!(
        read(&s, "live/prod.web/cert.pem"),
        read(&s, "prod/web/cert.pem")
    );
    // The disabled version keeps its certificate and refuses its key.
    let disabled = format!("prod/web/versions/{second}");
    assert_eq!(
        read_json(&s, &format!("{disabled}/attributes.json"))["enabled"],
        false
    );
    assert_eq!(
        certificate(&read(&s, &format!("{disabled}/cert.pem"))),
        second_leaf
    );
    for file in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        let refused = try_read(&s, &format!("{disabled}/{file}")).unwrap_err();
        assert!(
            matches!(refused, VaultError::Forbidden(_)),
            "{file}: {refused}"
        );
        assert!(
            refused.message().contains("disabled secret"),
            "{file}: {refused}"
        );
    }

    // Enabled again in versions/<id>/ (the top level shows the first one now).
    write(
        &s,
        &format!("{disabled}/attributes.json"),
        br#"{"enabled": true}"#,
    )
    .unwrap();
    assert_eq!(current_version(&s, "prod/web"), second);
    assert_eq!(assert_served_pair(&s, "prod/web"), second_leaf);
    assert_eq!(read_json(&s, "prod/web/attributes.json")["enabled"], true);
}

#[test]
fn disabling_an_older_version_moves_nothing() {
    let (_dir, db) = temp_store();
    let (s, first, second) = two_versions(&db);
    let served = read(&s, "prod/web/fullchain.pem");
    write(
        &s,
        &format!("prod/web/versions/{first}/attributes.json"),
        br#"{"enabled": false}"#,
    )
    .unwrap();
    assert_eq!(current_version(&s, "prod/web"), second);
    assert_eq!(read(&s, "prod/web/fullchain.pem"), served);
    let old_key = try_read(&s, &format!("prod/web/versions/{first}/privkey.pem")).unwrap_err();
    assert!(matches!(old_key, VaultError::Forbidden(_)), "{old_key}");
}

#[test]
fn with_every_version_disabled_the_newest_shows_and_its_key_is_refused() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    let only = current_version(&s, "prod/web");
    let leaf = certificate(&read(&s, "prod/web/cert.pem"));
    write(&s, "prod/web/attributes.json", br#"{"enabled": false}"#).unwrap();
    assert_eq!(current_version(&s, "prod/web"), only);
    assert_eq!(certificate(&read(&s, "prod/web/cert.pem")), leaf);
    assert_eq!(read(&s, "prod/web/cert.cer"), leaf);
    assert_eq!(
        certificates(&read(&s, "prod/web/fullchain.pem")),
        vec![leaf]
    );
    assert_eq!(read_json(&s, "prod/web/attributes.json")["enabled"], false);
    for file in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        let refused = try_read(&s, &format!("prod/web/{file}")).unwrap_err();
        assert!(
            matches!(refused, VaultError::Forbidden(_)),
            "{file}: {refused}"
        );
    }
    write(&s, "prod/web/attributes.json", br#"{"enabled": true}"#).unwrap();
    assert_served_pair(&s, "prod/web");
}

#[test]
fn the_enabled_state_survives_reopening_the_service() {
    let (_dir, db) = temp_store();
    let (first, second) = {
        let (s, first, second) = two_versions(&db);
        write(&s, "prod/web/attributes.json", br#"{"enabled": false}"#).unwrap();
        (first, second)
    };
    let s = service(&db);
    assert_eq!(current_version(&s, "prod/web"), first);
    let disabled = format!("prod/web/versions/{second}");
    assert_eq!(
        read_json(&s, &format!("{disabled}/attributes.json"))["enabled"],
        false
    );
    assert!(try_read(&s, &format!("{disabled}/privkey.pem")).is_err());
    assert_served_pair(&s, "prod/web");
}

#[test]
fn only_enabled_can_change_and_a_refusal_leaves_a_report() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    let before = read_json(&s, "prod/web/attributes.json");
    // Written back unchanged (an edited copy of the file): accepted.
    write(
        &s,
        "prod/web/attributes.json",
        &read(&s, "prod/web/attributes.json"),
    )
    .unwrap();
    for bad in [
        &br#"{"exp": 1}"#[..],
        br#"{"enabled": "no"}"#,
        br#"{"colour": "red"}"#,
        b"[true]",
        b"not json",
    ] {
        let refused = write(&s, "prod/web/attributes.json", bad).unwrap_err();
        assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
        assert!(lists(&s, "prod/web", "attributes.json.error"));
        assert_eq!(report(&s, "prod/web/attributes.json").0, "BadParameter");
    }
    write(&s, "prod/web/attributes.json", br#"{"nbf": 0}"#).unwrap_err();
    let (_, message) = report(&s, "prod/web/attributes.json");
    assert!(message.contains("read-only"), "{message}");
    let after = read_json(&s, "prod/web/attributes.json");
    assert_eq!(after["enabled"], true);
    assert_eq!(after["exp"], before["exp"]);
    assert_served_pair(&s, "prod/web");
    // Other version files are not writable.
    let refused = write(&s, "prod/web/cert.pem", b"x").unwrap_err();
    assert!(matches!(refused, VaultError::NotPermitted(_)), "{refused}");
}
