//! Vaults and draft certificates on a real mount: mkdir/rmdir/ls, Key Vault name rules, reserved names, case, and remounts.

mod common;

use std::fs;
use std::path::Path;

use common::{Mount, ec_policy, sh_in, sh_ok};

/// The sorted names in `dir`, leaving out certfs' own entries of a vault.
fn listing(dir: &Path) -> Vec<String> {
    common::certificates_in(dir)
}

/// Runs `script` in `dir`, asserts it failed, and returns its stderr.
fn fails(dir: &Path, script: &str) -> String {
    let out = sh_in(dir, script);
    assert!(
        !out.status.success(),
        "`{script}` should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The errno (number) of `os.<call>(args)` in Python, or 0 when it succeeds.
fn errno_of(dir: &Path, call: &str) -> i32 {
    let out = sh_ok(
        dir,
        &format!(
            "python3 -c \"import os\ntry:\n os.{call}\n print(0)\nexcept OSError as e:\n print(e.errno)\""
        ),
    );
    out.trim().parse().unwrap()
}

fn error_json(path: &Path) -> serde_json::Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn mkdir_ls_and_rmdir_of_vaults() {
    let m = Mount::start();
    assert!(listing(&m.mnt).is_empty(), "a new mount is empty");
    sh_ok(&m.mnt, "mkdir prod && mkdir staging && mkdir -p dev/");
    assert_eq!(listing(&m.mnt), ["dev", "prod", "staging"]);
    for v in ["dev", "prod", "staging"] {
        let meta = fs::metadata(m.path(v)).unwrap();
        assert!(meta.is_dir(), "{v}");
        assert!(listing(&m.path(v)).is_empty(), "{v} is empty");
    }
    sh_ok(&m.mnt, "rmdir staging dev");
    assert_eq!(listing(&m.mnt), ["prod"]);
    assert!(!m.path("staging").exists());
    assert_eq!(errno_of(&m.mnt, "rmdir('staging')"), libc::ENOENT);
    // Made again after removal.
    sh_ok(&m.mnt, "mkdir staging");
    assert_eq!(listing(&m.mnt), ["prod", "staging"]);
}

#[test]
fn vault_names_follow_key_vault_rules() {
    let m = Mount::start();
    let good = ["abc", "a1-b2", "Prod-West-2", "a23456789012345678901234"];
    for name in good {
        sh_ok(&m.mnt, &format!("mkdir {name}"));
        assert!(m.path(name).is_dir(), "{name}");
    }
    let bad = [
        "ab",
        "1abc",
        "-abc",
        "abc-",
        "a--b",
        "a_bc",
        "a.bc",
        "a b c",
        "a234567890123456789012345",
        "prød",
        ".hidden",
    ];
    for name in bad {
        assert_eq!(
            errno_of(&m.mnt, &format!("mkdir('{name}')")),
            libc::EINVAL,
            "mkdir {name}"
        );
        let stderr = fails(&m.mnt, &format!("mkdir -- '{name}'"));
        assert!(stderr.contains("Invalid argument"), "{name}: {stderr}");
        assert!(!m.path(name).exists(), "{name}");
    }
    // The good names, and beside each refused one the reason (SPEC §4).
    let mut expect: Vec<String> = good.iter().map(|s| s.to_string()).collect();
    expect.extend(bad.iter().map(|s| format!("{s}.error")));
    expect.sort_by_key(|s| s.to_ascii_lowercase());
    let mut got = listing(&m.mnt);
    got.sort_by_key(|s| s.to_ascii_lowercase());
    assert_eq!(got, expect, "the good names and the refusals' reports");
    let report = fs::read_to_string(m.path("a_bc.error")).unwrap();
    assert!(report.contains("BadParameter"), "{report}");
}

#[test]
fn certificate_names_follow_key_vault_rules_and_leave_an_error_file() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let vault = m.path("prod");
    let long_ok = "a".repeat(127);
    for name in ["w", "web", "Web-01", "0-9", long_ok.as_str()] {
        sh_ok(&vault, &format!("mkdir {name}"));
        assert!(vault.join(name).is_dir(), "{name}");
    }
    let long_bad = "a".repeat(128);
    for name in ["a_b", "a.b", "café", "a b", long_bad.as_str()] {
        assert_eq!(
            errno_of(&vault, &format!("mkdir('{name}')")),
            libc::EINVAL,
            "mkdir {name}"
        );
        assert!(!vault.join(name).is_dir(), "{name}");
        let error = vault.join(format!("{name}.error"));
        if name.len() + ".error".len() <= 255 {
            let v = error_json(&error);
            assert_eq!(v["code"], "BadParameter", "{name}: {v}");
            let msg = v["message"].as_str().unwrap();
            assert!(msg.contains("1-127"), "{name}: {msg}");
            sh_ok(&vault, &format!("rm '{name}.error'"));
        }
    }
    let names = listing(&vault);
    assert!(
        !names.iter().any(|n| n.ends_with(".error")),
        "all reports removed: {names:?}"
    );
    assert_eq!(names.len(), 5);
}

#[test]
fn reserved_names_are_refused_with_a_clear_error() {
    let m = Mount::start();
    // `live` is certfs' certbot view at the root: it exists already.
    for name in ["live", "LIVE", "Live"] {
        assert_eq!(
            errno_of(&m.mnt, &format!("mkdir('{name}')")),
            libc::EEXIST,
            "{name}"
        );
    }
    assert!(
        m.logs().contains("reserved"),
        "the log says why `live` is refused:\n{}",
        m.logs()
    );
    fs::create_dir(m.path("prod")).unwrap();
    let vault = m.path("prod");
    // import/, issuers/ and deleted/ are certfs' own: they exist already
    // (their names, like any file name certfs makes, are case-sensitive).
    for name in ["import", "issuers", "deleted", "restore"] {
        assert_eq!(
            errno_of(&vault, &format!("mkdir('{name}')")),
            libc::EEXIST,
            "{name}"
        );
    }
    for name in ["Import", "Restore", "Issuers", "DELETED"] {
        assert_eq!(
            errno_of(&vault, &format!("mkdir('{name}')")),
            libc::EINVAL,
            "{name}"
        );
        let v = error_json(&vault.join(format!("{name}.error")));
        assert_eq!(v["code"], "BadParameter");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains("reserved"), "{name}: {msg}");
        assert!(msg.contains(name), "names the name: {msg}");
        sh_ok(&vault, &format!("rm {name}.error"));
    }
    // A policy written into import/ cannot make `import` a certificate: it
    // is not a PFX or PEM to import, and says so.
    sh_in(
        &vault,
        &format!("echo '{}' > import/policy.json", ec_policy("x")),
    );
    let v = error_json(&vault.join("import/policy.json.error"));
    assert!(v["message"].as_str().unwrap().contains(".pfx"), "{v}");
    assert!(!vault.join("import/policy.json").exists());
    assert!(!vault.join("import/cert.pem").exists());
}

#[test]
fn a_name_in_another_case_is_the_same_name() {
    let m = Mount::start();
    sh_ok(&m.mnt, "mkdir Prod");
    assert_eq!(errno_of(&m.mnt, "mkdir('prod')"), libc::EEXIST);
    assert_eq!(errno_of(&m.mnt, "mkdir('PROD')"), libc::EEXIST);
    let stderr = fails(&m.mnt, "mkdir PROD");
    assert!(stderr.contains("File exists"), "{stderr}");
    // A draft, then a completed certificate.
    sh_ok(&m.mnt, "mkdir Prod/Web");
    assert_eq!(errno_of(&m.mnt, "mkdir('Prod/web')"), libc::EEXIST);
    fs::write(m.path("Prod/Web/policy.json"), ec_policy("web")).unwrap();
    assert_eq!(errno_of(&m.mnt, "mkdir('prod/WEB')"), libc::EEXIST);
    assert_eq!(listing(&m.mnt), ["Prod"]);
    assert_eq!(listing(&m.path("Prod")), ["Web"]);
    // EEXIST is not a bad name: no .error is left.
    assert!(!m.path("Prod/web.error").exists() && !m.path("Prod/WEB.error").exists());
}

#[test]
fn lookups_are_case_insensitive_and_listings_case_preserving() {
    let m = Mount::start();
    sh_ok(&m.mnt, "mkdir Prod && mkdir Prod/Web");
    fs::write(m.path("Prod/Web/policy.json"), ec_policy("web")).unwrap();
    let cert = fs::read(m.path("Prod/Web/cert.pem")).unwrap();
    for path in ["prod/web", "PROD/WEB", "pROD/wEB", "Prod/Web"] {
        assert_eq!(
            fs::read(m.path(&format!("{path}/cert.pem"))).unwrap(),
            cert,
            "{path}"
        );
    }
    assert_eq!(
        sh_ok(&m.mnt, "cat PROD/WEB/cert.pem"),
        sh_ok(&m.mnt, "cat prod/web/cert.pem")
    );
    // Version ids too (they are hex; Key Vault treats them case-insensitively).
    let id = listing(&m.path("prod/web/versions")).remove(0);
    assert_eq!(
        fs::read(m.path(&format!("PROD/WEB/versions/{}/cert.pem", id.to_uppercase()))).unwrap(),
        cert
    );
    // Listings show the names as created, whatever case was used to look them up.
    assert_eq!(listing(&m.mnt), ["Prod"]);
    assert_eq!(listing(&m.path("PROD")), ["Web"]);
    assert_eq!(sh_ok(&m.mnt, "ls"), "Prod\nlive\nmetrics.prom\n");
    assert_eq!(
        sh_ok(&m.mnt, "ls prod"),
        "Web\ndeleted\nimport\nissuers\nrestore\nvault.json\n"
    );
    // File names inside a certificate are not names of Key Vault objects.
    assert!(!m.path("prod/web/CERT.PEM").exists());
    // A shell in the directory keeps working after lookups in another case.
    let out = sh_ok(
        &m.path("Prod/Web"),
        "cat ../../PROD/WEB/cert.pem > /dev/null && ls > /dev/null && pwd -P",
    );
    assert!(out.trim().ends_with("/Web"), "{out}");
    // Writing through another case updates the same certificate.
    fs::write(m.path("PROD/WEB/policy.json"), ec_policy("web")).unwrap();
    assert_eq!(listing(&m.path("Prod/Web/versions")).len(), 2);
    assert_eq!(listing(&m.path("prod")), ["Web"]);
}

#[test]
fn rmdir_of_a_non_empty_vault_is_enotempty() {
    let m = Mount::start();
    sh_ok(&m.mnt, "mkdir prod && mkdir prod/web");
    // A draft is enough to keep the vault.
    assert_eq!(errno_of(&m.mnt, "rmdir('prod')"), libc::ENOTEMPTY);
    fs::write(m.path("prod/web/policy.json"), ec_policy("web")).unwrap();
    assert_eq!(errno_of(&m.mnt, "rmdir('prod')"), libc::ENOTEMPTY);
    let stderr = fails(&m.mnt, "rmdir prod");
    assert!(stderr.contains("Directory not empty"), "{stderr}");
    assert!(m.path("prod/web/cert.pem").exists(), "nothing removed");
    // So is a scratch file.
    sh_ok(&m.mnt, "mkdir other && echo x > other/notes.txt");
    assert_eq!(errno_of(&m.mnt, "rmdir('other')"), libc::ENOTEMPTY);
    sh_ok(&m.mnt, "rm other/notes.txt && rmdir other");
    // The refusal's reason stays beside prod; other's went with its rmdir.
    assert_eq!(listing(&m.mnt), ["prod", "prod.error"]);
}

#[test]
fn drafts_list_empty_and_go_with_rmdir() {
    let m = Mount::start();
    sh_ok(&m.mnt, "mkdir prod && mkdir prod/draft");
    assert_eq!(listing(&m.path("prod")), ["draft"]);
    assert!(m.path("prod/draft").is_dir());
    assert!(
        listing(&m.path("prod/draft")).is_empty(),
        "a draft lists empty"
    );
    assert_eq!(sh_ok(&m.path("prod/draft"), "ls -A"), "");
    for file in ["policy.json", "cert.pem", "tags.json", "versions"] {
        assert!(!m.path(&format!("prod/draft/{file}")).exists(), "{file}");
    }
    // Reading a draft's files is ENOENT, not empty content.
    assert_eq!(
        errno_of(&m.mnt, "stat('prod/draft/policy.json')"),
        libc::ENOENT
    );
    sh_ok(&m.mnt, "rmdir prod/draft");
    assert!(listing(&m.path("prod")).is_empty());
    assert!(!m.path("prod/draft").exists());
    // Directories go no deeper than certificates.
    sh_ok(&m.mnt, "mkdir prod/web");
    fs::write(m.path("prod/web/policy.json"), ec_policy("web")).unwrap();
    for dir in ["prod/web/sub", "prod/web/versions/sub", "prod/draft2/x"] {
        assert_ne!(errno_of(&m.mnt, &format!("mkdir('{dir}')")), 0, "{dir}");
    }
    assert_eq!(errno_of(&m.mnt, "mkdir('prod/web/sub')"), libc::EPERM);
}

#[test]
fn files_cannot_be_made_at_the_mount_root() {
    let m = Mount::start();
    sh_ok(&m.mnt, "mkdir prod");
    for script in [
        "touch file",
        "echo x > file",
        "cp /etc/hostname .",
        ": > .hidden",
    ] {
        let stderr = fails(&m.mnt, script);
        assert!(
            stderr.contains("Operation not permitted") || stderr.contains("Permission denied"),
            "`{script}`: {stderr}"
        );
    }
    assert_eq!(listing(&m.mnt), ["prod"]);
    // Nor renamed into or out of the root.
    sh_ok(&m.mnt, "echo x > prod/notes");
    let stderr = fails(&m.mnt, "mv prod/notes notes");
    assert!(!stderr.is_empty());
    assert_eq!(listing(&m.mnt), ["prod"]);
    // Vaults cannot be renamed (Key Vault names are fixed).
    assert_eq!(errno_of(&m.mnt, "rename('prod', 'prod2')"), libc::EPERM);
    assert_eq!(listing(&m.mnt), ["prod"]);
}

#[test]
fn vaults_and_certificates_survive_a_remount_and_drafts_do_not() {
    let mut m = Mount::start();
    sh_ok(
        &m.mnt,
        "mkdir Prod && mkdir Prod/Web && mkdir Prod/draft && mkdir empty",
    );
    fs::write(m.path("Prod/Web/policy.json"), ec_policy("web")).unwrap();
    sh_ok(
        &m.mnt,
        "echo scratch > Prod/Web/notes.txt && echo bad > Prod/Web/tags.json || true",
    );
    assert!(m.path("Prod/Web/tags.json.error").exists());
    let cert = fs::read(m.path("Prod/Web/cert.pem")).unwrap();
    let policy = fs::read(m.path("Prod/Web/policy.json")).unwrap();
    m.remount();
    assert_eq!(listing(&m.mnt), ["Prod", "empty"], "case preserved");
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), cert);
    assert_eq!(fs::read(m.path("prod/web/policy.json")).unwrap(), policy);
    // In memory only (user guide): drafts, scratch files and .error reports.
    assert_eq!(listing(&m.path("Prod")), ["Web"], "the draft is gone");
    let files = listing(&m.path("Prod/Web"));
    assert!(!files.contains(&"notes.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"tags.json.error".to_string()), "{files:?}");
    // The empty vault is still a vault: it can be removed now.
    sh_ok(&m.mnt, "rmdir empty");
    m.remount();
    assert_eq!(listing(&m.mnt), ["Prod"], "the rmdir was stored");
}
