//! Who may read a key: with --allow-other, a second Unix user reads certificates but not keys by default, reads keys after chgrp/chmod (kept across renewals and remounts) or a vault.json grant, writes only as a manager, and every such access is in the audit log.

mod common;

use common::users::{GROUP, TestUser};
use common::{Mount, ec_policy, sh_ok};
use std::fs;
use std::path::Path;

const USER: &str = "certfs-reader";

/// The test user (in the test group) and the group's id; none when not root.
fn test_user() -> Option<(u32, u32)> {
    TestUser::get(USER).map(|user| (user.uid, TestUser::group_id()))
}

fn reader() -> TestUser {
    TestUser::get(USER).expect("root")
}

/// Runs `script` in `dir` as the test user; (success, stdout + stderr).
fn as_user(dir: &Path, script: &str) -> (bool, String) {
    reader().run(dir, script)
}

fn audit_lines(m: &Mount) -> Vec<serde_json::Value> {
    fs::read_to_string(m.root.path().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn a_second_user_reads_keys_only_when_modes_or_vault_roles_say_so_and_the_audit_log_shows_it() {
    let Some((uid, gid)) = test_user() else {
        return;
    };
    let mut m = Mount::start_with_args(&["--allow-other", "--audit", "{root}/audit.log"]);
    // The user must be able to reach the mountpoint.
    sh_ok(m.root.path(), "chmod 755 .");
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let staged = m.root.path().join("policy.json");
    fs::write(&staged, ec_policy("web.example.com")).unwrap();
    sh_ok(m.root.path(), "chmod 644 policy.json");

    // Certificates: yes. The key: no.
    let (ok, out) = as_user(&m.mnt, "cat prod/web/cert.pem");
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");
    let (ok, out) = as_user(&m.mnt, "cat prod/web/privkey.pem");
    assert!(!ok && out.contains("Permission denied"), "{out}");
    let (ok, _) = as_user(&m.mnt, "test -r prod/web/privkey.pem");
    assert!(!ok, "access(2) agrees with open");
    // No writes without the manage role; the refusal is explained.
    let (ok, out) = as_user(
        &m.mnt,
        &format!("cp {} prod/web/policy.json", staged.display()),
    );
    assert!(!ok && out.contains("Permission denied"), "{out}");
    let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
    assert!(
        report.contains("Access denied") && report.contains("manage"),
        "{report}"
    );
    let (ok, out) = as_user(&m.mnt, "mkdir prod/other");
    assert!(!ok && out.contains("Permission denied"), "{out}");
    // Only root and the owner change modes and owners.
    let (ok, out) = as_user(&m.mnt, "chmod 644 prod/web/privkey.pem");
    assert!(!ok && out.contains("not permitted"), "{out}");

    // chgrp + chmod 640, as for nginx's ssl-cert group.
    sh_ok(
        &m.mnt,
        &format!("chgrp {GROUP} prod/web/privkey.pem && chmod 640 prod/web/privkey.pem"),
    );
    assert_eq!(
        sh_ok(&m.mnt, "stat -c '%a %g' prod/web/privkey.pem").trim(),
        format!("640 {gid}")
    );
    let (ok, out) = as_user(&m.mnt, "cat prod/web/privkey.pem");
    assert!(ok && out.contains("PRIVATE KEY"), "{out}");
    // It holds for the next version (a renewal) and after a remount.
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    m.remount();
    assert_eq!(
        sh_ok(
            &m.mnt,
            "stat -c '%a %g' prod/web/privkey.pem live/prod.web/privkey.pem"
        )
        .trim(),
        format!("640 {gid}\n640 {gid}")
    );
    let (ok, out) = as_user(&m.mnt, "cat prod/web/privkey.pem");
    assert!(ok && out.contains("PRIVATE KEY"), "{out}");

    // Back to 0600: denied again; a vault role grants it instead.
    sh_ok(&m.mnt, "chmod 600 prod/web/privkey.pem");
    let (ok, _) = as_user(&m.mnt, "cat prod/web/privkey.pem");
    assert!(!ok);
    fs::write(
        m.path("prod/vault.json"),
        format!(r#"{{"access": {{"read_keys": {{"uids": [{uid}]}}}}}}"#),
    )
    .unwrap();
    let (ok, out) = as_user(&m.mnt, "cat prod/web/privkey.pem prod/web/bundle.pem");
    assert!(ok && out.contains("PRIVATE KEY"), "{out}");
    let (ok, _) = as_user(
        &m.mnt,
        &format!("cp {} prod/web/policy.json", staged.display()),
    );
    assert!(!ok, "reading keys is not managing");
    // The manage role writes policies (and hooks.json stays the owner's).
    fs::write(
        m.path("prod/vault.json"),
        format!(r#"{{"access": {{"manage": {{"uids": [{uid}]}}}}}}"#),
    )
    .unwrap();
    let before = fs::read_dir(m.path("prod/web/versions")).unwrap().count();
    let (ok, out) = as_user(
        &m.mnt,
        &format!("cp {} prod/web/policy.json", staged.display()),
    );
    assert!(ok, "{out}");
    assert_eq!(
        fs::read_dir(m.path("prod/web/versions")).unwrap().count(),
        before + 1
    );
    let (ok, out) = as_user(
        &m.mnt,
        "echo '{}' > ../hooks.json; cp ../hooks.json prod/web/hooks.json",
    );
    assert!(!ok && out.contains("Permission denied"), "{out}");

    // The audit log: who read or tried to read the key, who wrote what.
    let lines = audit_lines(&m);
    let mine = |action: &str, file: &str, outcome: &str| {
        lines.iter().any(|l| {
            l["uid"] == uid
                && l["action"] == action
                && l["file"] == file
                && l["outcome"] == outcome
                && l["vault"] == "prod"
                && l["certificate"] == "web"
        })
    };
    assert!(mine("read", "privkey.pem", "denied"), "{lines:#?}");
    assert!(mine("read", "privkey.pem", "ok"), "{lines:#?}");
    assert!(
        mine("open for writing", "policy.json", "denied"),
        "{lines:#?}"
    );
    assert!(mine("write", "policy.json", "ok"), "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| l["time"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    assert!(
        lines
            .iter()
            .any(|l| l["uid"] == 0 && l["action"] == "write")
    );
    let text = fs::read_to_string(m.root.path().join("audit.log")).unwrap();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("BEGIN"),
        "no key material"
    );
    assert_eq!(sh_ok(m.root.path(), "stat -c %a audit.log").trim(), "600");
}

#[test]
fn modes_are_kept_for_key_files_and_directories_and_ignored_elsewhere() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    sh_ok(
        &m.mnt,
        "chmod 640 prod/web/privkey.pem prod/web/cert.pfx && chmod 750 prod/web",
    );
    assert_eq!(
        sh_ok(
            &m.mnt,
            "stat -c %a prod/web/privkey.pem prod/web/cert.pfx prod/web"
        )
        .trim(),
        "640\n640\n750"
    );
    // Other files keep their modes: a change is accepted (copying tools
    // set modes) and changes nothing.
    sh_ok(&m.mnt, "chmod 600 prod/web/cert.pem");
    assert_eq!(sh_ok(&m.mnt, "stat -c %a prod/web/cert.pem").trim(), "444");
    sh_ok(
        &m.mnt,
        "python3 -c \"import shutil; shutil.copy('prod/web/cert.pem', 'prod/web/cert.pem~')\"",
    );
    assert!(m.path("prod/web/cert.pem~").exists());
}

#[test]
fn a_manager_cannot_write_hooks_json_by_renaming_onto_it_nor_a_reader_read_what_waits_in_import() {
    let Some((uid, _)) = test_user() else {
        return;
    };
    let m = Mount::start_with_args(&["--allow-other", "--audit", "{root}/audit.log"]);
    sh_ok(m.root.path(), "chmod 755 .");
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let hooks = r#"{"command": ["true"]}"#;
    fs::write(m.path("prod/web/hooks.json"), hooks).unwrap();
    fs::write(
        m.path("prod/vault.json"),
        format!(r#"{{"access": {{"manage": {{"uids": [{uid}]}}}}}}"#),
    )
    .unwrap();

    // sed -i writes a scratch file beside hooks.json and renames it over it;
    // mv does the rename by hand. Both are writes of hooks.json: refused.
    let pwned = m.root.path().join("pwned");
    let (ok, out) = as_user(
        &m.mnt,
        &format!(
            "sed -i 's|\"true\"|\"touch\", \"{}\"|' prod/web/hooks.json",
            pwned.display()
        ),
    );
    assert!(!ok && out.contains("Permission denied"), "{out}");
    let (ok, out) = as_user(
        &m.mnt,
        &format!(
            "printf '{{\"command\": [\"touch\", \"{}\"]}}' > prod/web/sed4Xz9q && mv prod/web/sed4Xz9q prod/web/hooks.json",
            pwned.display()
        ),
    );
    assert!(!ok && out.contains("Permission denied"), "{out}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(
            &fs::read(m.path("prod/web/hooks.json")).unwrap()
        )
        .unwrap()["command"],
        serde_json::json!(["true"]),
        "hooks.json is as the owner wrote it"
    );
    // The owner's own rename onto it still works (how sed -i saves).
    sh_ok(&m.mnt, "sed -i 's|true|/bin/true|' prod/web/hooks.json");
    assert!(sh_ok(&m.mnt, "cat prod/web/hooks.json").contains("/bin/true"));
    let _ = fs::remove_file(m.path("prod/web/sed4Xz9q"));

    // A password (or a PFX) waiting in import/ is a key's secret: a reader
    // of certificates does not read it.
    fs::write(
        m.path("prod/vault.json"),
        format!(r#"{{"access": {{"read_certificates": {{"uids": [{uid}]}}}}}}"#),
    )
    .unwrap();
    fs::write(m.path("prod/import/site.password"), "s3cret-pass").unwrap();
    let (ok, out) = as_user(&m.mnt, "cat prod/import/site.password");
    assert!(
        !ok && out.contains("Permission denied") && !out.contains("s3cret"),
        "{out}"
    );
    let (ok, out) = as_user(&m.mnt, "cat prod/web/cert.pem");
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");
    // Nor what an editor keeps beside an issuer file, with its secrets as typed.
    fs::write(m.path("prod/issuers/.digi.json.swp"), "s3cret-api-key").unwrap();
    let (ok, out) = as_user(&m.mnt, "cat prod/issuers/.digi.json.swp");
    assert!(
        !ok && out.contains("Permission denied") && !out.contains("s3cret"),
        "{out}"
    );
    assert!(!pwned.exists());
    let audit = fs::read_to_string(m.root.path().join("audit.log")).unwrap();
    assert!(
        audit.contains(r#""file":"site.password""#) && audit.contains("denied"),
        "{audit}"
    );
}
