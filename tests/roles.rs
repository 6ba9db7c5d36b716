//! Roles stay roles (SPEC §13): with --allow-other, a user with the `manage` role and a user with no role cannot reach past their roles through scratch files, renames, copies of keys, folder modes, DNS names or reports.

mod common;

use std::fs;
use std::path::Path;

use common::json_file as json;
use common::users::TestUser;
use common::{Mount, ec_policy, sh_err, sh_ok, wait_until};

const MANAGER: &str = "certfs-manager";
const NOBODY: &str = "certfs-nobody";
const DIGI: &str = r#"{"provider":"DigiCert","credentials":{"account_id":"123456","pwd":"s3cr3t-api-key-XYZ"},"org_details":{"id":"7890"}}"#;

/// A mount with --allow-other, `prod/web` made by root, a manager of
/// `prod` and a user with no role.
struct Setup {
    m: Mount,
    manager: TestUser,
    nobody: TestUser,
}

fn setup() -> Option<Setup> {
    let manager = TestUser::get(MANAGER)?;
    let nobody = TestUser::get(NOBODY)?;
    let m = Mount::start_with_args(&["--allow-other"]);
    // The users must be able to reach the mountpoint.
    sh_ok(m.root.path(), "chmod 755 .");
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    fs::write(
        m.path("prod/vault.json"),
        format!(
            r#"{{"access": {{"manage": {{"uids": [{}]}}}}}}"#,
            manager.uid
        ),
    )
    .unwrap();
    Some(Setup { m, manager, nobody })
}

#[test]
fn a_scratch_file_a_manager_wrote_never_becomes_hooks_json_and_runs_nothing() {
    let Some(Setup { m, manager, .. }) = setup() else {
        return;
    };
    let legit = m.root.path().join("legit");
    let pwned = m.root.path().join("pwned");
    let hooks = |marker: &Path| format!(r#"{{"command": ["touch", "{}"]}}"#, marker.display());
    fs::write(m.path("prod/web/hooks.json"), hooks(&legit)).unwrap();

    // The manager writes a scratch file; the owner's mv of it onto hooks.json is refused.
    let (ok, out) = manager.run(
        &m.mnt,
        &format!("printf '%s' '{}' > prod/web/hooks.tmp", hooks(&pwned)),
    );
    assert!(ok, "{out}");
    let out = sh_err(&m.mnt, "mv prod/web/hooks.tmp prod/web/hooks.json");
    assert!(out.contains("Permission denied"), "{out}");
    let report = fs::read_to_string(m.path("prod/web/hooks.json.error")).unwrap();
    assert!(
        report.contains(&format!("written by user {}", manager.uid)),
        "{report}"
    );
    assert!(
        m.path("prod/web/hooks.tmp").exists(),
        "the refused file stays"
    );

    // A file the owner made writable by all and the manager wrote into: the same.
    sh_ok(&m.mnt, "(umask 0; : > prod/web/sed0aXk2)");
    let (ok, out) = manager.run(
        &m.mnt,
        &format!("printf '%s' '{}' > prod/web/sed0aXk2", hooks(&pwned)),
    );
    assert!(ok, "{out}");
    let out = sh_err(&m.mnt, "mv prod/web/sed0aXk2 prod/web/hooks.json");
    assert!(out.contains("Permission denied"), "{out}");

    // The owner's shell opens the file, the manager's process writes through
    // the descriptor it was handed: the bytes are the manager's all the same.
    sh_ok(
        &m.mnt,
        &format!(
            "runuser -u {MANAGER} -- printf '%s' '{}' > prod/web/handed.tmp",
            hooks(&pwned)
        ),
    );
    assert_eq!(sh_ok(&m.mnt, "stat -c %u prod/web/handed.tmp").trim(), "0");
    let out = sh_err(&m.mnt, "mv prod/web/handed.tmp prod/web/hooks.json");
    assert!(out.contains("Permission denied"), "{out}");

    // What sed -i makes (0600, the owner's) the manager cannot write at all.
    sh_ok(
        &m.mnt,
        &format!(
            "(umask 077; printf '%s' '{}' > prod/web/sedQ1w2e3)",
            hooks(&legit)
        ),
    );
    assert_eq!(
        sh_ok(&m.mnt, "stat -c '%a %u' prod/web/sedQ1w2e3").trim(),
        "600 0"
    );
    let (ok, out) = manager.run(
        &m.mnt,
        &format!("printf '%s' '{}' > prod/web/sedQ1w2e3", hooks(&pwned)),
    );
    assert!(!ok && out.contains("Permission denied"), "{out}");
    // ... and the owner's own file still becomes hooks.json.
    sh_ok(&m.mnt, "mv prod/web/sedQ1w2e3 prod/web/hooks.json");
    assert!(!m.path("prod/web/hooks.json.error").exists());

    // A switch runs the owner's hook, and only it.
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    wait_until("the hook's outcome", || {
        json(&m.path("prod/web/status.json"))["last_hook"]["outcome"] == "succeeded"
    });
    assert!(legit.exists());
    assert!(!pwned.exists(), "the manager's command never ran");
}

#[test]
fn copies_of_keys_and_moved_documents_are_no_more_readable_than_the_originals() {
    let Some(Setup { m, manager, nobody }) = setup() else {
        return;
    };
    fs::write(m.path("prod/issuers/digi.json"), DIGI).unwrap();
    fs::write(m.path("prod/web/hooks.json"), r#"{"command": ["true"]}"#).unwrap();
    // Every way of copying a key the issue names, by root with umask 022.
    sh_ok(
        &m.mnt,
        "cd prod/web && umask 022 && cp privkey.pem privkey.pem.bak && \
         (umask 077; cat privkey.pem > key.txt) && install -m 600 privkey.pem key2.txt && \
         cat privkey.pem > key3.txt && chmod 600 key3.txt && cat privkey.pem > key4.txt && \
         cp cert.pfx cert.pfx.bak && mv hooks.json hooks.json.moved && \
         mv ../issuers/digi.json ../digi.bak",
    );
    assert_eq!(
        sh_ok(
            &m.mnt,
            "cd prod/web && stat -c '%n %a %u' privkey.pem.bak key.txt key2.txt key3.txt \
             key4.txt hooks.json.moved"
        ),
        "privkey.pem.bak 600 0\nkey.txt 600 0\nkey2.txt 600 0\nkey3.txt 600 0\n\
         key4.txt 644 0\nhooks.json.moved 600 0\n"
    );
    for file in [
        "prod/web/privkey.pem.bak",
        "prod/web/key.txt",
        "prod/web/key2.txt",
        "prod/web/key3.txt",
        // 0644 as umask 022 made it, but it holds a key: no more readable than the key.
        "prod/web/key4.txt",
        "prod/web/cert.pfx.bak",
        "prod/web/hooks.json.moved",
        "prod/digi.bak",
    ] {
        let (ok, out) = nobody.run(&m.mnt, &format!("cat {file}"));
        assert!(
            !ok && out.contains("Permission denied")
                && !out.contains("PRIVATE")
                && !out.contains("s3cr3t"),
            "{file}: {out}"
        );
    }
    // Opening for reading and writing is reading: a copy any user may write
    // (umask 0) is still not theirs to read.
    sh_ok(
        &m.mnt,
        "cd prod/web && (umask 0; cat privkey.pem > key5.txt)",
    );
    assert_eq!(sh_ok(&m.mnt, "stat -c %a prod/web/key5.txt").trim(), "666");
    let (ok, out) = nobody.run(&m.mnt, "exec 3<>prod/web/key5.txt && cat <&3");
    assert!(
        !ok && out.contains("Permission denied") && !out.contains("PRIVATE"),
        "{out}"
    );
    // A moved issuer file stays the managers' (and the owner's mode keeps them out too).
    let (ok, out) = manager.run(&m.mnt, "cat prod/digi.bak");
    assert!(!ok && !out.contains("s3cr3t"), "{out}");

    // A scratch file is its creator's, with the mode its creator asked for.
    let (ok, out) = manager.run(
        &m.mnt,
        "umask 022; echo hello > prod/web/notes.txt; (umask 077; echo mine > prod/web/mine.txt)",
    );
    assert!(ok, "{out}");
    assert_eq!(
        sh_ok(
            &m.mnt,
            "stat -c '%a %u' prod/web/notes.txt prod/web/mine.txt"
        ),
        format!("644 {0}\n600 {0}\n", manager.uid)
    );
    let (ok, out) = nobody.run(&m.mnt, "cat prod/web/notes.txt");
    assert!(ok && out.contains("hello"), "{out}");
    let (ok, out) = nobody.run(&m.mnt, "cat prod/web/mine.txt");
    assert!(!ok && out.contains("Permission denied"), "{out}");
    // chmod by its owner holds; another user changes nothing of it.
    let (ok, out) = manager.run(&m.mnt, "chmod 644 prod/web/mine.txt");
    assert!(ok, "{out}");
    let (ok, out) = nobody.run(&m.mnt, "cat prod/web/mine.txt");
    assert!(ok && out.contains("mine"), "{out}");
    let (ok, out) = nobody.run(&m.mnt, "chmod 666 prod/web/notes.txt");
    assert!(!ok && out.contains("not permitted"), "{out}");
    // A manager does not write into another user's 0644 file, role or not.
    sh_ok(&m.mnt, "echo root > prod/web/root.txt");
    let (ok, out) = manager.run(&m.mnt, "echo x >> prod/web/root.txt");
    assert!(!ok && out.contains("Permission denied"), "{out}");
}

#[test]
fn a_certificate_folders_mode_holds_for_listing_and_everything_in_it() {
    let Some(Setup {
        mut m,
        manager,
        nobody,
    }) = setup()
    else {
        return;
    };
    // Names the kernel keeps from before the chmod (its own walk) or from
    // another user's walk after it never let this one past the mode.
    let (ok, out) = nobody.run(
        &m.mnt,
        "ls prod/web && cat prod/web/cert.pem && stat -c %s prod/web/privkey.pem",
    );
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");
    sh_ok(&m.mnt, "chmod 700 prod/web");
    assert_eq!(sh_ok(&m.mnt, "stat -c %a prod/web").trim(), "700");
    sh_ok(
        &m.mnt,
        "cat prod/web/cert.pem prod/web/versions/*/cert.pem && stat prod/web/privkey.pem",
    );
    for script in [
        "stat prod/web/privkey.pem",
        "stat prod/web/versions/*/cert.pem",
    ] {
        let (ok, out) = nobody.run(&m.mnt, script);
        assert!(!ok && out.contains("Permission denied"), "{script}: {out}");
    }
    for script in [
        "ls prod/web",
        "cat prod/web/cert.pem",
        "cat prod/web/versions/*/cert.pem",
        "ls live/prod.web",
        "cat live/prod.web/fullchain.pem",
        "cd prod/web",
    ] {
        let (ok, out) = nobody.run(&m.mnt, script);
        assert!(
            !ok && !out.contains("BEGIN CERTIFICATE") && !out.contains("privkey.pem"),
            "{script}: {out}"
        );
    }
    // A role of the vault still reaches it.
    let (ok, out) = manager.run(&m.mnt, "ls prod/web && cat prod/web/cert.pem");
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");
    // 0711: the names are private, the files are not.
    sh_ok(&m.mnt, "chmod 711 prod/web");
    let (ok, _) = nobody.run(&m.mnt, "ls prod/web");
    assert!(!ok);
    let (ok, out) = nobody.run(&m.mnt, "cat prod/web/cert.pem");
    assert!(ok && out.contains("BEGIN CERTIFICATE"), "{out}");
    sh_ok(&m.mnt, "chmod 755 prod/web");
    let (ok, out) = nobody.run(&m.mnt, "ls prod/web");
    assert!(ok && out.contains("cert.pem"), "{out}");
    // Soft-deleted, the folder keeps its mode under deleted/, also after a remount.
    sh_ok(&m.mnt, "chmod 700 prod/web && rm -r prod/web");
    assert_eq!(sh_ok(&m.mnt, "stat -c %a prod/deleted/web").trim(), "700");
    for script in ["ls prod/deleted/web", "cat prod/deleted/web/policy.json"] {
        let (ok, out) = nobody.run(&m.mnt, script);
        assert!(!ok && !out.contains("key_props"), "{script}: {out}");
    }
    m.remount();
    let (ok, out) = nobody.run(&m.mnt, "cat prod/deleted/web/policy.json");
    assert!(!ok && !out.contains("key_props"), "{out}");
    let (ok, out) = manager.run(&m.mnt, "cat prod/deleted/web/policy.json");
    assert!(ok && out.contains("key_props"), "{out}");
}

#[test]
fn reports_are_certfs_own_and_their_names_fit() {
    let Some(Setup { m, manager, .. }) = setup() else {
        return;
    };
    // No one plants a report about a file certfs serves, root included.
    let (ok, out) = manager.run(&m.mnt, "echo '{}' > prod/web/policy.json.error");
    assert!(!ok && out.contains("not permitted"), "{out}");
    let out = sh_err(&m.mnt, "echo '{}' > prod/web/cert.pem.error");
    assert!(out.contains("not permitted"), "{out}");
    sh_ok(&m.mnt, "echo x > prod/web/x.tmp");
    let out = sh_err(&m.mnt, "mv prod/web/x.tmp prod/web/tags.json.error");
    assert!(out.contains("not permitted"), "{out}");
    // A real report cannot be rewritten either.
    fs::write(m.root.path().join("bad-tags.json"), "{").unwrap();
    sh_err(&m.mnt, "cp ../bad-tags.json prod/web/tags.json");
    assert!(m.path("prod/web/tags.json.error").exists());
    let out = sh_err(&m.mnt, "echo forged > prod/web/tags.json.error");
    assert!(out.contains("not permitted"), "{out}");
    assert!(
        fs::read_to_string(m.path("prod/web/tags.json.error"))
            .unwrap()
            .contains("BadParameter")
    );
    // A refused name too long for a report of its own gets one that fits.
    let long = "a".repeat(300);
    sh_err(&m.mnt, &format!("mkdir prod/{long}"));
    let reports: Vec<String> = fs::read_dir(m.path("prod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".error"))
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].len(), 255);
    assert!(reports[0].starts_with("aaaa"));
}

#[test]
fn dns_names_are_dns_names_in_policies_and_imports() {
    let Some(Setup { m, .. }) = setup() else {
        return;
    };
    for bad in ["$(touch${IFS}/tmp/p)", "`id`", "a;b", "x|id"] {
        let policy = format!(
            r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},"x509_props":{{"subject":"CN=x","sans":{{"dns_names":["ok.example",{}]}}}},"issuer":{{"name":"Self"}}}}"#,
            serde_json::Value::String(bad.into())
        );
        fs::write(m.root.path().join("bad.json"), &policy).unwrap();
        sh_err(&m.mnt, "cp ../bad.json prod/web/policy.json");
        let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
        assert!(
            report.contains("not a DNS name") && report.contains("dns_names[1]"),
            "{bad}: {report}"
        );
    }
    // A wildcard is a DNS name.
    fs::write(
        m.root.path().join("wild.json"),
        r#"{"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=x","sans":{"dns_names":["*.example.com"]}},"issuer":{"name":"Self"}}"#,
    )
    .unwrap();
    sh_ok(&m.mnt, "cp ../wild.json prod/web/policy.json");

    // An imported certificate whose SAN is not a DNS name is refused with the name.
    sh_ok(
        m.root.path(),
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem \
         -out c.pem -subj /CN=x -addext 'subjectAltName=DNS:a;b,DNS:ok.example' -days 30 \
         2>/dev/null && cat c.pem k.pem > odd.pem",
    );
    sh_err(&m.mnt, "cp ../odd.pem prod/import/odd.pem");
    let report = fs::read_to_string(m.path("prod/import/odd.pem.error")).unwrap();
    assert!(
        report.contains("'a;b'") && report.contains("not a DNS name"),
        "{report}"
    );
    assert!(!m.path("prod/odd").exists());

    // Imported with its SANs named in its policy file, the certificate
    // still holds 'a;b': hooks never see it in RENEWED_DOMAINS.
    fs::write(
        m.path("prod/import/odd.policy.json"),
        r#"{"x509_props":{"sans":{"dns_names":["ok.example"]}}}"#,
    )
    .unwrap();
    sh_ok(&m.mnt, "cp ../odd.pem prod/import/odd.pem");
    let out = m.root.path().join("domains.out");
    fs::write(
        m.path("prod/odd/hooks.json"),
        serde_json::json!({
            "command": ["sh", "-c", format!("printf '%s' \"$RENEWED_DOMAINS\" > {}", out.display())]
        })
        .to_string(),
    )
    .unwrap();
    fs::write(
        m.path("prod/import/odd.policy.json"),
        r#"{"x509_props":{"sans":{"dns_names":["ok.example"]}}}"#,
    )
    .unwrap();
    sh_ok(&m.mnt, "cp ../odd.pem prod/import/odd.pem");
    wait_until("the hook's outcome", || {
        json(&m.path("prod/odd/status.json"))["last_hook"]["outcome"] == "succeeded"
    });
    assert_eq!(fs::read_to_string(&out).unwrap(), "ok.example");
}

#[test]
fn a_store_directory_open_to_others_is_named_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    sh_ok(dir.path(), "chmod 755 data");
    let m = Mount::start_with_data(&data);
    assert!(
        m.logs()
            .contains("is mode 0755: group and others may list it"),
        "{}",
        m.logs()
    );
    // One certfs made itself is 0700, and says nothing.
    let quiet = Mount::start();
    assert_eq!(sh_ok(quiet.root.path(), "stat -c %a data").trim(), "700");
    assert!(!quiet.logs().contains("group and others may list it"));
}

#[test]
fn a_handle_on_a_removed_scratch_file_never_writes_the_file_made_next_under_its_name() {
    let Some(Setup { m, manager, .. }) = setup() else {
        return;
    };
    // The manager opens its own scratch file and removes it, keeping the
    // descriptor; the owner then makes a file of the same name (a fixed
    // temporary name). The manager's writes and close go to the removed
    // file, as on any file system, never into the owner's.
    let script = "exec 3>prod/web/.x.tmp && rm prod/web/.x.tmp && : > ../removed && \
                  while [ ! -e ../made ]; do sleep 0.05; done; printf evil >&3; exec 3>&-";
    sh_ok(m.root.path(), "chmod 777 .");
    let dir = m.mnt.clone();
    let name = manager.name;
    let writer = std::thread::spawn(move || {
        std::process::Command::new("runuser")
            .args(["-u", name, "--", "sh", "-c", script])
            .current_dir(dir)
            .status()
            .unwrap()
    });
    wait_until("the manager's removal", || {
        m.root.path().join("removed").exists()
    });
    sh_ok(
        &m.mnt,
        "(umask 077; printf mine > prod/web/.x.tmp) && : > ../made",
    );
    assert!(writer.join().unwrap().success());
    assert_eq!(
        fs::read_to_string(m.path("prod/web/.x.tmp")).unwrap(),
        "mine"
    );
    assert_eq!(
        sh_ok(&m.mnt, "stat -c '%a %u' prod/web/.x.tmp").trim(),
        "600 0"
    );
}

#[test]
fn only_a_manager_revokes_or_has_a_csr_signed() {
    let Some(Setup { m, manager, nobody }) = setup() else {
        return;
    };
    fs::write(
        m.path("prod/issuers/corp.json"),
        r#"{"provider": "Internal", "ca": {"kty": "EC", "crv": "P-256"}}"#,
    )
    .unwrap();
    fs::create_dir(m.path("prod/api")).unwrap();
    fs::write(
        m.path("prod/api/policy.json"),
        r#"{"x509_props": {"subject": "CN=api.example.com"}, "issuer": {"name": "corp"}}"#,
    )
    .unwrap();
    let serial = json(&m.path("prod/api/status.json"))["serial_number"]
        .as_str()
        .unwrap()
        .to_owned();
    sh_ok(
        m.root.path(),
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
         -out dev.csr -subj /CN=dev.example.com 2>/dev/null && chmod 644 dev.csr",
    );
    let csr = m.root.path().join("dev.csr");
    let revoke = format!("mv prod/issuers/corp/issued/{serial}.pem prod/issuers/corp/revoked/");
    let sign = format!("cp {} prod/issuers/corp/sign/dev.csr", csr.display());
    for script in [&revoke, &sign] {
        let (ok, out) = nobody.run(&m.mnt, script);
        assert!(!ok, "{script}: {out}");
        assert!(out.contains("Permission denied"), "{script}: {out}");
    }
    assert!(
        m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))
            .exists()
    );
    for script in [&revoke, &sign] {
        let (ok, out) = manager.run(&m.mnt, script);
        assert!(ok, "{script}: {out}");
    }
    assert!(
        m.path(&format!("prod/issuers/corp/revoked/{serial}.pem"))
            .exists()
    );
    assert!(m.path("prod/issuers/corp/sign/dev.pem").exists());
    // The manager's signed dev.pem stays theirs: the owner's CSR of the
    // same name is refused, not signed over it.
    let before = fs::read(m.path("prod/issuers/corp/sign/dev.pem")).unwrap();
    let err = common::sh_err(&m.mnt, &sign);
    assert!(
        err.contains("Invalid argument") || err.contains("exists"),
        "{err}"
    );
    let report = fs::read_to_string(m.path("prod/issuers/corp/sign/dev.csr.error")).unwrap();
    assert!(report.contains("name the CSR otherwise"), "{report}");
    assert_eq!(
        fs::read(m.path("prod/issuers/corp/sign/dev.pem")).unwrap(),
        before
    );
}
