//! Creating certificates: a draft by `mkdir`, versions by `policy.json` writes, refusals with a report, and what survives a reopen.

use super::*;

#[test]
fn mkdir_makes_a_draft_that_lists_but_has_no_files() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    mkdir(&s, "prod/web").unwrap();
    assert!(lists(&s, "prod", "web"));
    assert!(
        names(&s, "prod/web").is_empty(),
        "{:?}",
        names(&s, "prod/web")
    );
    assert!(!exists(&s, "prod/web/cert.pem"));
    assert!(!exists(&s, "prod/web/versions"));
    // The name is taken, in any case; reserved names are not certificates.
    let again = mkdir(&s, "prod/WEB").unwrap_err();
    assert!(matches!(again, VaultError::AlreadyExists(_)), "{again}");
    for reserved in ["deleted", "import", "restore", "issuers"] {
        let refused = mkdir(&s, &format!("prod/{reserved}"));
        assert!(refused.is_err(), "{reserved}");
    }
    let bad = mkdir(&s, "prod/under_score").unwrap_err();
    assert!(matches!(bad, VaultError::BadParameter(_)), "{bad}");
    // An empty draft goes with rmdir.
    rmdir(&s, "prod/web").unwrap();
    assert!(!lists(&s, "prod", "web"));
}

#[test]
fn a_self_policy_makes_version_one_whose_files_parse() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    mkdir(&s, "prod/web").unwrap();
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();

    let ids = versions(&s, "prod/web");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(current_version(&s, "prod/web").as_str(), ids[0]);
    assert_eq!(ids[0].len(), 32, "Key Vault's version ids");

    let leaf = assert_served_pair(&s, "prod/web");
    assert_eq!(subject(&leaf), "CN=web");
    assert_eq!(issuer(&leaf), "CN=web", "self-signed");
    assert!(read(&s, "prod/web/chain.pem").is_empty(), "no chain");
    assert_eq!(
        certificates(&read(&s, "prod/web/fullchain.pem")),
        vec![leaf.clone()]
    );
    // The same files under versions/<id>/.
    let version_dir = format!("prod/web/versions/{}", ids[0]);
    assert_eq!(assert_served_pair(&s, &version_dir), leaf);
    assert_eq!(
        read(&s, &format!("{version_dir}/privkey.pem")),
        read(&s, "prod/web/privkey.pem")
    );
    // bundle.pem: the key and the chain in one file.
    let bundle = read(&s, "prod/web/bundle.pem");
    assert_eq!(certificates(&bundle), vec![leaf.clone()]);
    assert_eq!(
        private_key(&bundle).public_key_der(),
        private_key(&read(&s, "prod/web/privkey.pem")).public_key_der()
    );
    // policy.json reads back in the REST shape, completed with defaults.
    let policy = read_json(&s, "prod/web/policy.json");
    assert_eq!(policy["issuer"]["name"], "Self");
    assert_eq!(policy["key_props"]["kty"], "EC");
    assert_eq!(policy["x509_props"]["subject"], "CN=web");
    let attributes = read_json(&s, "prod/web/attributes.json");
    assert_eq!(attributes["enabled"], true);
    // The certificate lists its files; live/ shows it.
    let listed = names(&s, "prod/web");
    for file in [
        "policy.json",
        "cert.pem",
        "privkey.pem",
        "versions",
        "merge",
    ] {
        assert!(listed.iter().any(|n| n == file), "{file}: {listed:?}");
    }
    assert!(!listed.iter().any(|n| n == "request.csr"), "{listed:?}");
    assert_eq!(
        read(&s, "live/prod.web/cert.pem"),
        read(&s, "prod/web/cert.pem")
    );
}

#[test]
fn a_second_policy_write_makes_version_two_and_the_top_level_files_switch() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    let first = current_version(&s, "prod/web");
    let first_leaf = assert_served_pair(&s, "prod/web");
    let first_key = read(&s, "prod/web/privkey.pem");
    // A node the kernel holds from before the switch.
    let held = node(&s, "prod/web/cert.pem");

    write(&s, "prod/web/policy.json", &ec_policy("web2", "Self")).unwrap();

    let ids = versions(&s, "prod/web");
    assert_eq!(ids.len(), 2, "{ids:?}");
    let second = current_version(&s, "prod/web");
    assert_ne!(second, first);
    assert!(ids.contains(&first.to_string()) && ids.contains(&second.to_string()));
    // Every top-level file moved to version 2 at once, key and certificate together.
    let leaf = assert_served_pair(&s, "prod/web");
    assert_eq!(subject(&leaf), "CN=web2");
    assert_ne!(leaf, first_leaf);
    assert_ne!(read(&s, "prod/web/privkey.pem"), first_key, "a new key");
    // The new name is a new node; the old one still reads version 1.
    assert_ne!(node(&s, "prod/web/cert.pem"), held);
    assert_eq!(
        certificate(&s.read(&held).unwrap()),
        first_leaf,
        "an open file keeps the bytes it opened"
    );
    // Version 1 stays whole under versions/.
    let old = format!("prod/web/versions/{first}");
    assert_eq!(assert_served_pair(&s, &old), first_leaf);
    assert_eq!(read(&s, &format!("{old}/privkey.pem")), first_key);
    assert_eq!(
        read_json(&s, "prod/web/policy.json")["x509_props"]["subject"],
        "CN=web2"
    );
}

#[test]
fn a_bad_policy_is_refused_with_bad_parameter_and_a_report_beside_it() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    mkdir(&s, "prod/web").unwrap();
    // Neither a subject nor SANs.
    let no_subject = br#"{"key_props":{"kty":"EC"},"issuer":{"name":"Self"}}"#;
    let refused = write(&s, "prod/web/policy.json", no_subject).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    assert!(
        lists(&s, "prod/web", "policy.json.error"),
        "{:?}",
        names(&s, "prod/web")
    );
    let (code, message) = report(&s, "prod/web/policy.json");
    assert_eq!(code, "BadParameter");
    assert_eq!(message, refused.message());
    // Nothing was made: the draft is still a draft.
    assert!(!exists(&s, "prod/web/cert.pem"));
    assert!(!exists(&s, "prod/web/versions"));

    // On a certificate, a refusal changes nothing either.
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    assert!(
        !lists(&s, "prod/web", "policy.json.error"),
        "an accepted write ends the report"
    );
    let before = (versions(&s, "prod/web"), read(&s, "prod/web/policy.json"));
    for bad in [
        &b"not json"[..],
        br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web","key_usage":["keyEncipherment"]},"issuer":{"name":"Self"}}"#,
        br#"{"x509_props":{"subject":"CN=web"},"issuer":{"name":"NoSuchIssuer"}}"#,
    ] {
        let refused = write(&s, "prod/web/policy.json", bad).unwrap_err();
        assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
        assert_eq!(report(&s, "prod/web/policy.json").0, "BadParameter");
        assert_eq!(
            (versions(&s, "prod/web"), read(&s, "prod/web/policy.json")),
            before
        );
    }
    // The report goes with rm.
    unlink(&s, "prod/web/policy.json.error").unwrap();
    assert!(!lists(&s, "prod/web", "policy.json.error"));
}

#[test]
fn certificates_survive_reopening_the_service_and_drafts_do_not() {
    let (_dir, db) = temp_store();
    let (ids, cert, key, policy) = {
        let s = with_certificate(&db, "web");
        write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
        mkdir(&s, "prod/draft").unwrap();
        (
            versions(&s, "prod/web"),
            read(&s, "prod/web/cert.pem"),
            read(&s, "prod/web/privkey.pem"),
            read(&s, "prod/web/policy.json"),
        )
    };
    let s = service(&db);
    assert!(lists(&s, "", "prod"));
    assert_eq!(versions(&s, "prod/web"), ids);
    assert_eq!(read(&s, "prod/web/cert.pem"), cert);
    assert_eq!(read(&s, "prod/web/privkey.pem"), key);
    assert_eq!(read(&s, "prod/web/policy.json"), policy);
    assert_served_pair(&s, "prod/web");
    // A draft lives in memory only (a decision of the user guide).
    assert!(!lists(&s, "prod", "draft"), "{:?}", names(&s, "prod"));
    // And the reopened service goes on: a third version.
    write(&s, "prod/web/policy.json", &ec_policy("web", "Self")).unwrap();
    assert_eq!(versions(&s, "prod/web").len(), 3);
}
