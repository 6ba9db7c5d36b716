//! Soft delete (`rm -r`), recover (`mv` out of deleted/), purge (`rm -r` in deleted/) and vault.json, on a real mount.

mod common;

use std::fs;
use std::path::Path;

use common::{Mount, certificates_in, ec_policy, sh_err, sh_in, sh_ok};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

fn web(m: &Mount) {
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
}

#[test]
fn rm_r_soft_deletes_and_mv_recovers_with_all_versions() {
    let m = Mount::start();
    web(&m);
    let cert = fs::read(m.path("prod/web/cert.pem")).unwrap();
    sh_ok(&m.mnt, "rm -r prod/web");
    assert_eq!(certificates_in(&m.path("prod")), Vec::<String>::new());
    assert!(!m.path("prod/web").exists());
    let info = json(&m.path("prod/deleted/web/deleted.json"));
    assert_eq!(info["recoveryId"], "prod/deleted/web");
    let deleted = info["deletedDate"].as_i64().unwrap();
    assert_eq!(
        info["scheduledPurgeDate"].as_i64().unwrap(),
        deleted + 90 * 86_400
    );
    assert_eq!(fs::read(m.path("prod/deleted/web/cert.pem")).unwrap(), cert);
    assert!(m.path("prod/deleted/web/policy.json").exists());

    // Its name cannot be reused while it is deleted.
    let err = sh_err(&m.mnt, "mkdir prod/web");
    assert!(err.contains("File exists"), "{err}");
    let report = json(&m.path("prod/web.error"));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("deleted but recoverable state"),
        "{report}"
    );
    sh_ok(&m.mnt, "rm prod/web.error");

    // Recover: every version comes back, and the key still matches.
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    assert_eq!(certificates_in(&m.path("prod")), ["web"]);
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), cert);
    assert_eq!(
        fs::read_dir(m.path("prod/web/versions")).unwrap().count(),
        2
    );
    let key = sh_ok(&m.mnt, "openssl pkey -in prod/web/privkey.pem -pubout");
    assert_eq!(
        key,
        sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -pubkey")
    );
    assert!(!m.path("prod/deleted/web").exists());
}

#[test]
fn rmdir_deletes_too_and_a_purge_frees_the_name() {
    let m = Mount::start();
    web(&m);
    sh_ok(&m.mnt, "rmdir prod/web");
    assert!(m.path("prod/deleted/web/deleted.json").exists());
    // A vault holding deleted certificates is not empty.
    let err = sh_err(&m.mnt, "rmdir prod");
    assert!(err.contains("not empty"), "{err}");
    sh_ok(&m.mnt, "rm -r prod/deleted/web");
    assert!(!m.path("prod/deleted/web").exists());
    // The name is free again: a new certificate, with one version.
    web(&m);
    assert_eq!(
        fs::read_dir(m.path("prod/web/versions")).unwrap().count(),
        2
    );
    sh_ok(
        &m.mnt,
        "rm -r prod/web && rm -r prod/deleted/web && rmdir prod",
    );
    assert!(!m.path("prod").exists());
}

#[test]
fn deleted_certificates_refuse_imports_and_survive_a_remount() {
    let mut m = Mount::start();
    web(&m);
    sh_ok(&m.mnt, "rm -r prod/web");
    let work = tempfile::tempdir().unwrap();
    sh_ok(
        work.path(),
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem \
         -days 5 -subj /CN=web 2>/dev/null && cat c.pem k.pem > web.pem",
    );
    let out = sh_in(
        &m.mnt,
        &format!("cp {}/web.pem prod/import/", work.path().display()),
    );
    assert!(!out.status.success());
    let report = fs::read_to_string(m.path("prod/import/web.pem.error")).unwrap();
    assert!(report.contains("deleted but recoverable"), "{report}");
    m.remount();
    assert!(m.path("prod/deleted/web/deleted.json").exists());
    assert!(!m.path("prod/web").exists());
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout");
}

#[test]
fn vault_json_sets_retention_and_irreversible_purge_protection() {
    let m = Mount::start();
    web(&m);
    let settings = json(&m.path("prod/vault.json"));
    assert_eq!(settings["soft_delete_retention_days"], 90);
    assert_eq!(settings["purge_protection"], false);
    assert_eq!(
        json(&m.path("prod/web/attributes.json"))["recoveryLevel"],
        "Recoverable+Purgeable"
    );

    sh_ok(
        &m.mnt,
        r#"echo '{"soft_delete_retention_days": 7}' > prod/vault.json"#,
    );
    assert_eq!(
        json(&m.path("prod/vault.json"))["soft_delete_retention_days"],
        7
    );
    let attributes = json(&m.path("prod/web/attributes.json"));
    assert_eq!(
        attributes["recoveryLevel"],
        "CustomizedRecoverable+Purgeable"
    );
    assert_eq!(attributes["recoverableDays"], 7);
    for bad in [
        r#"{"soft_delete_retention_days": 6}"#,
        r#"{"soft_delete_retention_days": 91}"#,
        "nonsense",
    ] {
        let src = m.root.path().join("v.json");
        fs::write(&src, bad).unwrap();
        let err = sh_err(&m.mnt, &format!("cp {} prod/vault.json", src.display()));
        assert!(err.contains("Invalid argument"), "{bad}: {err}");
        assert!(m.path("prod/vault.json.error").exists());
    }

    sh_ok(
        &m.mnt,
        r#"echo '{"purge_protection": true}' > prod/vault.json"#,
    );
    assert_eq!(
        json(&m.path("prod/web/attributes.json"))["recoveryLevel"],
        "CustomizedRecoverable"
    );
    let src = m.root.path().join("off.json");
    fs::write(&src, r#"{"purge_protection": false}"#).unwrap();
    sh_err(&m.mnt, &format!("cp {} prod/vault.json", src.display()));
    assert!(
        fs::read_to_string(m.path("prod/vault.json.error"))
            .unwrap()
            .contains("irreversible")
    );
    assert_eq!(json(&m.path("prod/vault.json"))["purge_protection"], true);

    // Deleted now: retention 7 days, and no purge before it ends.
    sh_ok(&m.mnt, "rm -r prod/web");
    let info = json(&m.path("prod/deleted/web/deleted.json"));
    let deleted = info["deletedDate"].as_i64().unwrap();
    assert_eq!(
        info["scheduledPurgeDate"].as_i64().unwrap(),
        deleted + 7 * 86_400
    );
    let err = sh_err(&m.mnt, "rmdir prod/deleted/web");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(m.path("prod/deleted/web").exists());
    let report = json(&m.path("prod/deleted/web.error"));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("purge protection"),
        "{report}"
    );
    assert!(
        m.logs().contains("purge protection is enabled"),
        "the log says why"
    );
    // A recovery under another name is refused, and says why beside it.
    // (rename(2) says EINVAL, which GNU mv words as "a subdirectory of itself".)
    let err = sh_err(&m.mnt, "mv prod/deleted/web prod/site");
    assert!(err.contains("cannot move"), "{err}");
    let report = json(&m.path("prod/site.error"));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("under its own name"),
        "{report}"
    );
    // Recovering is still allowed, and ends the refused purge's report.
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    assert!(!m.path("prod/deleted/web.error").exists());
    assert!(m.path("prod/web/cert.pem").exists());
    // What certfs made cannot be renamed: EPERM, and no report for that.
    let err = sh_err(&m.mnt, "mv prod/web prod/other");
    assert!(err.contains("not permitted"), "{err}");
    assert!(!m.path("prod/other.error").exists());
}

/// A policy for issuer `Unknown`: the version waits for a merge.
fn pending_policy(cn: &str) -> String {
    serde_json::json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={cn}")},
        "issuer": {"name": "Unknown"}
    })
    .to_string()
}

#[test]
fn rm_r_deletes_a_certificate_whose_operation_is_pending() {
    let m = Mount::start();
    web(&m);
    // A renewal waiting for its CA: request.csr and operation.json are listed.
    fs::write(
        m.path("prod/web/policy.json"),
        pending_policy("web.example.com"),
    )
    .unwrap();
    assert!(m.path("prod/web/request.csr").exists());
    let cert = fs::read(m.path("prod/web/cert.pem")).unwrap();
    // GNU rm walks the directory in listing order and gives up on the
    // certificate if a file it listed is gone when it gets to it.
    sh_ok(&m.mnt, "rm -r prod/web");
    assert!(!m.path("prod/web").exists());
    assert_eq!(fs::read(m.path("prod/deleted/web/cert.pem")).unwrap(), cert);
    // The pending version went with its operation; the completed ones are kept.
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    assert_eq!(
        fs::read_dir(m.path("prod/web/versions")).unwrap().count(),
        2
    );
    assert!(!m.path("prod/web/request.csr").exists());

    // A certificate whose only version is pending: rm -r removes it all.
    fs::create_dir(m.path("prod/csr")).unwrap();
    fs::write(
        m.path("prod/csr/policy.json"),
        pending_policy("csr.example.com"),
    )
    .unwrap();
    assert!(m.path("prod/csr/request.csr").exists());
    sh_ok(&m.mnt, "rm -r prod/csr");
    assert!(!m.path("prod/csr").exists());
    assert_eq!(certificates_in(&m.path("prod")), ["web"]);
}

#[test]
fn rmdir_keeps_a_vault_with_issuers_or_contacts_and_rm_r_of_issuers_removes_them() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(
        m.path("prod/issuers/corp.json"),
        r#"{"provider": "Internal", "ca": {"subject": "CN=Corp Root CA"}}"#,
    )
    .unwrap();
    fs::write(
        m.path("prod/issuers/other.json"),
        r#"{"provider": "Internal", "ca": {"subject": "CN=Other Root CA"}}"#,
    )
    .unwrap();
    assert!(m.path("prod/issuers/corp.pem").exists());
    fs::write(
        m.path("prod/contacts.json"),
        r#"{"contacts": [{"email": "ops@example.com"}]}"#,
    )
    .unwrap();
    // rmdir removes an empty vault only: not one holding a CA's key.
    let err = sh_err(&m.mnt, "rmdir prod");
    assert!(err.contains("not empty"), "{err}");
    assert!(
        m.logs().contains("remove issuers/corp.json first"),
        "the log says why"
    );
    assert!(m.path("prod/issuers/corp.pem").exists());
    sh_ok(&m.mnt, "rm -r prod/issuers");
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers"), "");
    let err = sh_err(&m.mnt, "rmdir prod");
    assert!(err.contains("not empty"), "{err}");
    sh_ok(&m.mnt, "rm prod/contacts.json");
    // And the vault, empty now, goes with rmdir.
    sh_ok(&m.mnt, "rmdir prod");
    assert!(!m.path("prod").exists());
}

#[test]
fn refused_mkdir_and_rmdir_leave_a_report_beside_the_name_and_success_clears_it() {
    let m = Mount::start();
    web(&m);
    sh_ok(&m.mnt, "rm -r prod/web");
    // The name is held by a deleted certificate (in any case).
    let err = sh_err(&m.mnt, "mkdir prod/WEB");
    assert!(err.contains("File exists"), "{err}");
    assert!(m.path("prod/WEB.error").exists());
    // Purged, the name is free: the next mkdir succeeds and clears its
    // report, whatever case either was written in.
    sh_ok(&m.mnt, "rm -r prod/deleted/web && mkdir prod/web");
    assert!(!m.path("prod/WEB.error").exists());
    assert!(!sh_ok(&m.mnt, "ls prod").contains(".error"));
    // A report is certfs' own: it does not keep a draft from going.
    let err = sh_err(&m.mnt, "mkdir prod/web/sub");
    assert!(err.contains("not permitted"), "{err}");
    assert!(m.path("prod/web/sub.error").exists());
    sh_ok(&m.mnt, "rmdir prod/web && mkdir prod/web");
    assert_eq!(sh_ok(&m.mnt, "ls prod/web"), "", "its reports went with it");
    // A draft holding a file of the user's is not empty.
    sh_ok(&m.mnt, "echo notes > prod/web/notes.txt");
    let err = sh_err(&m.mnt, "rmdir prod/web");
    assert!(err.contains("not empty"), "{err}");
    let report = json(&m.path("prod/web.error"));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("remove them first"),
        "{report}"
    );
    sh_ok(&m.mnt, "rm prod/web/notes.txt && rmdir prod/web");
    assert!(
        !m.path("prod/web.error").exists(),
        "the rmdir that worked cleared it"
    );
    // At the root too.
    let err = sh_err(&m.mnt, "mkdir 1prod");
    assert!(err.contains("Invalid argument"), "{err}");
    assert_eq!(
        sh_ok(&m.mnt, "ls"),
        "1prod.error\nlive\nmetrics.prom\nprod\n"
    );
    sh_ok(&m.mnt, "rm 1prod.error");
    assert_eq!(sh_ok(&m.mnt, "ls"), "live\nmetrics.prom\nprod\n");
}
