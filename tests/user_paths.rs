//! Paths a document names are opened as the document's writer: through a mount with `--allow-other`, a `manage` user's `ca_file` and `challenge.webroot` are checked with that user's credentials (a root-only file and a missing one get the same words, a FIFO and `/dev/zero` are refused at once, a root-owned directory takes no files), the writer is remembered across a remount, and a hook's FIFO pidfile fails in words instead of hanging.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::users::TestUser;
use common::{Mount, ec_policy, sh_err, sh_ok, wait_for};
use serde_json::json;

const MANAGER: &str = "certfs-manager";

/// The manager (made if missing). The suite runs as root, as CI does.
fn manager() -> TestUser {
    TestUser::get(MANAGER).expect("this suite acts as other users: run it as root, as CI does")
}

/// A mount with `--allow-other`, vault `prod`, and the manager granted `manage`.
fn mount_with_manager(user: &TestUser) -> Mount {
    let m = Mount::start_with_args(&["--allow-other"]);
    // The user must be able to reach the mountpoint and the test's files.
    sh_ok(m.root.path(), "chmod 755 .");
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(
        m.path("prod/vault.json"),
        json!({"access": {"manage": {"uids": [user.uid]}}}).to_string(),
    )
    .unwrap();
    m
}

/// A PEM certificate (of a throwaway self-signed CA), written to `path`.
fn certificate_file(dir: &Path, path: &Path) {
    sh_ok(
        dir,
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout /dev/null -out '{}' -days 30 -subj /CN=user-paths-ca 2>/dev/null",
            path.display()
        ),
    );
}

/// An ACME issuer file with these extra fields.
fn acme_issuer(extra: serde_json::Value) -> String {
    let mut issuer = json!({
        "provider": "ACME",
        // Never contacted: nothing here gets as far as an order.
        "endpoint": "https://127.0.0.1:9/dir",
    });
    if let (Some(o), Some(more)) = (issuer.as_object_mut(), extra.as_object()) {
        o.extend(more.clone());
    }
    issuer.to_string()
}

/// Has `user` copy `content` onto `prod/issuers/<name>.json` (cp reports
/// close()); (accepted, the `.error` report when refused).
fn write_issuer_as(m: &Mount, user: &TestUser, name: &str, content: &str) -> (bool, String) {
    let staged = m.root.path().join(format!("{name}-{}.json", user.uid));
    fs::write(&staged, content).unwrap();
    sh_ok(m.root.path(), &format!("chmod 644 '{}'", staged.display()));
    let (ok, out) = user.run(
        &m.mnt,
        &format!("cp '{}' prod/issuers/{name}.json", staged.display()),
    );
    let report =
        fs::read_to_string(m.path(&format!("prod/issuers/{name}.json.error"))).unwrap_or_default();
    if ok {
        assert!(report.is_empty(), "accepted, yet reported: {report}");
    } else {
        assert!(out.contains("Invalid argument"), "{out}");
    }
    (ok, report)
}

/// The `.error` message with `path` replaced by `P`.
fn message_without(report: &str, path: &Path) -> String {
    let value: serde_json::Value = serde_json::from_str(report).expect("a JSON report");
    assert_eq!(value["code"], "BadParameter", "{report}");
    value["message"]
        .as_str()
        .unwrap()
        .replace(&path.display().to_string(), "P")
}

fn mkfifo(path: &Path) {
    sh_ok(
        path.parent().unwrap(),
        &format!("mkfifo -m 666 '{}'", path.display()),
    );
}

/// Root-only: a 0600 file of root's with a real certificate, and a 0700 directory of root's.
fn root_only(m: &Mount) -> (PathBuf, PathBuf) {
    let file = m.root.path().join("root-only.pem");
    certificate_file(m.root.path(), &file);
    sh_ok(
        m.root.path(),
        "chmod 600 root-only.pem && mkdir -m 700 root-only.d",
    );
    (file, m.root.path().join("root-only.d"))
}

#[test]
fn a_managers_ca_file_is_read_as_the_manager_and_what_it_may_not_read_looks_missing() {
    let user = manager();
    let m = mount_with_manager(&user);
    let (secret, _) = root_only(&m);
    let missing = m.root.path().join("missing.pem");
    let fifo = m.root.path().join("ca.fifo");
    mkfifo(&fifo);
    let issuer = |ca: &Path| acme_issuer(json!({"ca_file": ca}));

    // (a) root-only and (b) missing: the same words, but for the path.
    let (ok, denied) = write_issuer_as(&m, &user, "le", &issuer(&secret));
    assert!(!ok);
    let (ok, absent) = write_issuer_as(&m, &user, "le", &issuer(&missing));
    assert!(!ok);
    assert_eq!(
        message_without(&denied, &secret),
        message_without(&absent, &missing)
    );
    assert_eq!(
        message_without(&denied, &secret),
        format!(
            "ca_file: cannot open P as user {}: no such file, or that user may not read it",
            user.uid
        )
    );
    assert!(!denied.contains("CERTIFICATE"), "{denied}");
    // (c) a FIFO nobody writes to and (d) /dev/zero: refused at once (a
    // blocking open or an unbounded read would hang this test here).
    let (ok, report) = write_issuer_as(&m, &user, "le", &issuer(&fifo));
    assert!(
        !ok && report.contains("is not a regular file (it is a FIFO)"),
        "{report}"
    );
    let (ok, report) = write_issuer_as(&m, &user, "le", &issuer(Path::new("/dev/zero")));
    assert!(
        !ok && report.contains("is not a regular file (it is a character device)"),
        "{report}"
    );
    assert!(!m.path("prod/issuers/le.json").exists());
    // Root (the mount's owner) may read (a): accepted.
    fs::write(m.path("prod/issuers/le.json"), issuer(&secret)).unwrap();
    assert!(!m.path("prod/issuers/le.json.error").exists());
    // Saved the way editors and `sed -i` save (a scratch file renamed
    // onto the issuer file): the renaming manager is the writer, too, and
    // root's accepted file stays as it was.
    let before = fs::read_to_string(m.path("prod/issuers/le.json")).unwrap();
    let staged = m.root.path().join("renamed.json");
    fs::write(&staged, issuer(&secret)).unwrap();
    sh_ok(m.root.path(), "chmod 644 renamed.json");
    let (ok, out) = user.run(
        &m.mnt,
        &format!(
            "cp '{}' prod/issuers/.le.json.swp && mv prod/issuers/.le.json.swp prod/issuers/le.json",
            staged.display()
        ),
    );
    assert!(!ok, "{out}");
    let report = fs::read_to_string(m.path("prod/issuers/le.json.error")).unwrap();
    assert_eq!(
        message_without(&report, &secret),
        message_without(&absent, &missing)
    );
    assert_eq!(
        fs::read_to_string(m.path("prod/issuers/le.json")).unwrap(),
        before
    );
    // The manager's scratch file renamed by root: the bytes are the
    // manager's, so the paths in them are opened as the manager (not as
    // root, who renamed them): refused the same way.
    let (ok, out) = user.run(
        &m.mnt,
        &format!("cp '{}' prod/issuers/.le.json.new", staged.display()),
    );
    assert!(ok, "{out}");
    // (EINVAL, which mv words as a move into a subdirectory of itself.)
    sh_err(&m.mnt, "mv prod/issuers/.le.json.new prod/issuers/le.json");
    let report = fs::read_to_string(m.path("prod/issuers/le.json.error")).unwrap();
    assert_eq!(
        message_without(&report, &secret),
        message_without(&absent, &missing)
    );
    assert_eq!(
        fs::read_to_string(m.path("prod/issuers/le.json")).unwrap(),
        before
    );

    // The manager reads a bundle it may read; nobody sees who wrote it.
    let readable = m.root.path().join("readable.pem");
    certificate_file(m.root.path(), &readable);
    sh_ok(m.root.path(), "chmod 644 readable.pem");
    let (ok, report) = write_issuer_as(&m, &user, "own", &issuer(&readable));
    assert!(ok, "{report}");
    let shown = fs::read_to_string(m.path("prod/issuers/own.json")).unwrap();
    assert!(
        !shown.contains("writer") && !shown.contains(&user.uid.to_string()),
        "{shown}"
    );
}

#[test]
fn a_managers_webroot_must_be_a_directory_the_manager_may_write_into() {
    let user = manager();
    let m = mount_with_manager(&user);
    let (secret_file, secret_dir) = root_only(&m);
    let missing = m.root.path().join("missing.d");
    let fifo = m.root.path().join("webroot.fifo");
    mkfifo(&fifo);
    let issuer =
        |dir: &Path| acme_issuer(json!({"challenge": {"type": "http-01", "webroot": dir}}));

    let (ok, denied) = write_issuer_as(&m, &user, "web", &issuer(&secret_dir));
    assert!(!ok);
    let (ok, absent) = write_issuer_as(&m, &user, "web", &issuer(&missing));
    assert!(!ok);
    assert_eq!(
        message_without(&denied, &secret_dir),
        message_without(&absent, &missing)
    );
    assert!(
        denied.contains("no such directory, or that user may not open it"),
        "{denied}"
    );
    for (path, kind) in [
        (fifo.as_path(), "a FIFO"),
        (Path::new("/dev/zero"), "a character device"),
        (secret_file.as_path(), "a regular file"),
    ] {
        let (ok, report) = write_issuer_as(&m, &user, "web", &issuer(path));
        assert!(!ok, "{report}");
        assert!(
            report.contains(&format!("is not a directory (it is {kind})")),
            "{report}"
        );
    }
    // A root-owned 0755 directory, like /etc/cron.d: refused, nothing made in it.
    let cron = m.root.path().join("cron.d");
    sh_ok(m.root.path(), "mkdir -m 755 cron.d");
    let (ok, report) = write_issuer_as(&m, &user, "web", &issuer(&cron));
    assert!(!ok);
    assert_eq!(
        message_without(&report, &cron),
        format!(
            "challenge.webroot: user {} may not create files in P",
            user.uid
        )
    );
    assert_eq!(fs::read_dir(&cron).unwrap().count(), 0);
    // The manager's own directory is fine, and root's for root.
    let own = m.root.path().join("own.d");
    sh_ok(
        m.root.path(),
        &format!("mkdir -m 755 own.d && chown {} own.d", user.uid),
    );
    let (ok, report) = write_issuer_as(&m, &user, "web", &issuer(&own));
    assert!(ok, "{report}");
    fs::write(m.path("prod/issuers/rootweb.json"), issuer(&cron)).unwrap();
    assert!(!m.path("prod/issuers/rootweb.json.error").exists());
    assert_eq!(
        fs::read_dir(&cron).unwrap().count(),
        0,
        "checking creates nothing"
    );
}

#[test]
fn the_writer_travels_with_the_issuer_across_a_remount() {
    let user = manager();
    let mut m = mount_with_manager(&user);
    let bundle = m.root.path().join("bundle.pem");
    certificate_file(m.root.path(), &bundle);
    sh_ok(m.root.path(), "chmod 644 bundle.pem");
    let (ok, report) = write_issuer_as(&m, &user, "le", &acme_issuer(json!({"ca_file": bundle})));
    assert!(ok, "{report}");
    // The bundle becomes root's only, and the daemon restarts.
    sh_ok(m.root.path(), "chmod 600 bundle.pem");
    m.remount();
    // A policy through `le`, written by root: the issuer still opens its
    // ca_file as the manager who wrote it, and may not.
    let policy = ec_policy("paths.example.com").replace(r#""Self""#, r#""le""#);
    assert!(policy.contains(r#""le""#), "{policy}");
    fs::create_dir(m.path("prod/paths")).unwrap();
    let refused = fs::write(m.path("prod/paths/policy.json"), &policy);
    let report = fs::read_to_string(m.path("prod/paths/policy.json.error")).unwrap_or_default();
    assert!(refused.is_err() || !report.is_empty(), "accepted as root");
    assert!(
        report.contains(&format!(
            "cannot open {} as user {}: no such file, or that user may not read it",
            bundle.display(),
            user.uid
        )),
        "{report}"
    );
    // Root writes the issuer again with the manager's path (as sed -i
    // rotating a password would): the path stays the manager's choice,
    // opened as the manager.
    fs::write(
        m.path("prod/issuers/le.json"),
        acme_issuer(json!({"ca_file": bundle, "credentials": {"account_id": "ops@example.com"}})),
    )
    .unwrap();
    fs::remove_file(m.path("prod/paths/policy.json.error")).unwrap();
    let refused = fs::write(m.path("prod/paths/policy.json"), &policy);
    let report = fs::read_to_string(m.path("prod/paths/policy.json.error")).unwrap_or_default();
    assert!(refused.is_err() || !report.is_empty(), "accepted as root");
    assert!(
        report.contains(&format!("as user {}", user.uid)),
        "{report}"
    );
    // Written anew by root, it is root's, and the policy goes through.
    fs::remove_file(m.path("prod/issuers/le.json")).unwrap();
    fs::write(
        m.path("prod/issuers/le.json"),
        acme_issuer(json!({"ca_file": bundle})),
    )
    .unwrap();
    fs::write(m.path("prod/paths/policy.json"), &policy).unwrap();
    assert!(!m.path("prod/paths/policy.json.error").exists());
}

#[test]
fn a_fifo_pidfile_fails_the_hook_in_words_and_is_refused_when_it_is_already_there() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let fifo = m.root.path().join("nginx.pid");
    let hooks = json!({"signal": "HUP", "pidfile": fifo}).to_string();
    // Not there yet (nginx not started): accepted.
    fs::write(m.path("prod/web/hooks.json"), &hooks).unwrap();
    // Then it is a FIFO nobody writes to: the hook fails, in words.
    mkfifo(&fifo);
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let status = wait_for("the hook's outcome", || {
        let status: serde_json::Value =
            serde_json::from_slice(&fs::read(m.path("prod/web/status.json")).ok()?).ok()?;
        (status["last_hook"]["outcome"] == "failed").then_some(status)
    });
    let message = status["last_hook"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{} is not a regular file (it is a FIFO)",
            fifo.display()
        )),
        "{status}"
    );
    // Written while the FIFO (or a device) is there: refused.
    for pidfile in [fifo.as_path(), Path::new("/dev/zero")] {
        let hooks = json!({"signal": "HUP", "pidfile": pidfile}).to_string();
        let staged = m.root.path().join("hooks.json");
        fs::write(&staged, hooks).unwrap();
        let copied = sh_ok_or_err(
            &m.mnt,
            &format!("cp '{}' prod/web/hooks.json", staged.display()),
        );
        assert!(!copied, "{} accepted as a pidfile", pidfile.display());
        let report = fs::read_to_string(m.path("prod/web/hooks.json.error")).unwrap();
        assert!(report.contains("is not a regular file"), "{report}");
    }
}

/// Runs `script` in `dir`; whether it succeeded.
fn sh_ok_or_err(dir: &Path, script: &str) -> bool {
    common::sh_in(dir, script).status.success()
}
