//! SPEC §3 write semantics with real tools: cp, shell redirection, tee, rsync, vim, sed -i, dd, append, and editors' scratch files.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Mount, ec_policy, sh_in, sh_ok};

use common::CERT_FILES;

/// Makes vault `prod` and certificate `prod/web` (EC P-256, Self); returns the certificate's directory.
fn web(m: &Mount) -> PathBuf {
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web")).unwrap();
    m.path("prod/web")
}

fn version_count(dir: &Path) -> usize {
    match fs::read_dir(dir.join("versions")) {
        Ok(rd) => rd.count(),
        Err(_) => 0,
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn json(path: &Path) -> serde_json::Value {
    let bytes = fs::read(path).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} is not JSON ({e}):\n{}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn months(dir: &Path) -> serde_json::Value {
    json(&dir.join("policy.json"))["x509_props"]["validity_months"].clone()
}

/// A file outside the mount holding the current policy with validity `n` months.
fn edited_policy(m: &Mount, dir: &Path, n: u32) -> PathBuf {
    let text = fs::read_to_string(dir.join("policy.json")).unwrap();
    assert!(text.contains("\"validity_months\": 12"), "{text}");
    let src = m.root.path().join(format!("policy-{n}.json"));
    fs::write(
        &src,
        text.replace(
            "\"validity_months\": 12",
            &format!("\"validity_months\": {n}"),
        ),
    )
    .unwrap();
    src
}

/// Runs `script` with its cwd in the certificate directory `dir`, then
/// checks in the same shell that the cwd still works.
fn run_in_cert_dir(dir: &Path, script: &str) {
    let out = sh_ok(
        dir,
        &format!("set -e\n{script}\necho \"PWD=$(pwd -P)\"\nls -a > /dev/null && echo LS-OK"),
    );
    let real = fs::canonicalize(dir).unwrap();
    assert!(
        out.contains(&format!("PWD={}", real.display())),
        "cwd after `{script}`: {out}"
    );
    assert!(out.contains("LS-OK"), "ls in cwd after `{script}`: {out}");
}

/// One tool edit of an existing certificate's policy: exactly one new
/// version, the edited field reads back, no error, no leftovers.
fn policy_edit(tool: &str, n: u32, script: impl Fn(&Path) -> String) {
    let m = Mount::start();
    let dir = web(&m);
    let src = edited_policy(&m, &dir, n);
    let before = version_count(&dir);
    let cert_before = fs::read(dir.join("cert.pem")).unwrap();
    run_in_cert_dir(&dir, &script(&src));
    assert_eq!(version_count(&dir), before + 1, "{tool}: one new version");
    assert_eq!(months(&dir), n, "{tool}: the edited field");
    assert_ne!(
        fs::read(dir.join("cert.pem")).unwrap(),
        cert_before,
        "{tool}: cert.pem shows the new version"
    );
    assert_eq!(listing(&dir), CERT_FILES, "{tool}: no error, no leftovers");
}

#[test]
fn cp_over_policy_json_makes_one_version() {
    policy_edit("cp", 6, |src| format!("cp {} policy.json", src.display()));
}

#[test]
fn cat_redirection_over_policy_json_makes_one_version() {
    policy_edit("cat >", 5, |src| {
        format!("cat {} > policy.json", src.display())
    });
}

#[test]
fn tee_over_policy_json_makes_one_version() {
    policy_edit("tee", 4, |src| {
        format!("tee policy.json < {} > /dev/null", src.display())
    });
}

#[test]
fn rsync_temp_and_rename_makes_one_version() {
    // -I: rsync's quick check (size + mtime) could otherwise skip the copy.
    policy_edit("rsync", 3, |src| {
        format!("rsync -I {} policy.json", src.display())
    });
}

#[test]
fn rsync_inplace_makes_one_version() {
    policy_edit("rsync --inplace", 2, |src| {
        format!("rsync -I --inplace {} policy.json", src.display())
    });
}

// Every vim run clears 'backupskip': its default skips backups of files
// under /tmp, where the test mounts live, and would hide vim's rename path.
const VIM_EDIT: &str = r#"-c '%s/"validity_months": 12/"validity_months": 7/' -c wq policy.json"#;

#[test]
fn vim_with_default_settings_makes_one_version() {
    policy_edit("vim", 7, |_| {
        format!("vim -u NONE -es -c 'set backupskip=' {VIM_EDIT}")
    });
}

#[test]
fn vim_with_default_vimrc_makes_one_version() {
    // Without -u NONE: whatever the system's vimrc sets (swap file, backups).
    policy_edit("vim (system vimrc)", 7, |_| {
        format!("vim -es -c 'set backupskip=' {VIM_EDIT}")
    });
}

#[test]
fn vim_backupcopy_yes_makes_one_version() {
    policy_edit("vim backupcopy=yes", 7, |_| {
        format!("vim -u NONE -es -c 'set backupskip=' -c 'set backupcopy=yes' {VIM_EDIT}")
    });
}

#[test]
fn vim_backupcopy_no_renames_and_makes_one_version() {
    policy_edit("vim backupcopy=no", 7, |_| {
        format!("vim -u NONE -es -c 'set backupskip=' -c 'set backupcopy=no' {VIM_EDIT}")
    });
}

#[test]
fn vim_nobackup_nowritebackup_makes_one_version() {
    policy_edit("vim nobackup", 7, |_| {
        format!("vim -u NONE -es -c 'set backupskip=' -c 'set nobackup nowritebackup' {VIM_EDIT}")
    });
}

#[test]
fn vim_with_swap_file_makes_one_version() {
    // The swap file (.policy.json.swp) is written into the certificate directory.
    policy_edit("vim swapfile", 7, |_| {
        format!("vim -u NONE -es -c 'set backupskip=' -c 'set swapfile directory=.' {VIM_EDIT}")
    });
}

#[test]
fn vim_set_backup_keeps_the_old_policy_as_a_scratch_file() {
    let m = Mount::start();
    let dir = web(&m);
    for mode in ["no", "yes"] {
        let before = version_count(&dir);
        let old = fs::read(dir.join("policy.json")).unwrap();
        let from = months(&dir);
        let to = from.as_u64().unwrap() - 1;
        run_in_cert_dir(
            &dir,
            &format!(
                "vim -u NONE -es -c 'set backupskip=' -c 'set backup backupcopy={mode}' \
                 -c '%s/\"validity_months\": {from}/\"validity_months\": {to}/' -c wq policy.json"
            ),
        );
        assert_eq!(version_count(&dir), before + 1, "backupcopy={mode}");
        assert_eq!(months(&dir), to, "backupcopy={mode}");
        assert_eq!(
            fs::read(dir.join("policy.json~")).unwrap(),
            old,
            "backupcopy={mode}: the backup holds the policy as it was"
        );
        let mut expect_list: Vec<String> = CERT_FILES.iter().map(|s| s.to_string()).collect();
        expect_list.push("policy.json~".into());
        expect_list.sort();
        assert_eq!(listing(&dir), expect_list, "backupcopy={mode}");
        sh_ok(&dir, "rm policy.json~");
        assert_eq!(listing(&dir), CERT_FILES);
        assert_eq!(
            version_count(&dir),
            before + 1,
            "rm of the backup is no action"
        );
    }
}

#[test]
fn sed_in_place_makes_one_version() {
    policy_edit("sed -i", 9, |_| {
        r#"sed -i 's/"validity_months": 12/"validity_months": 9/' policy.json"#.into()
    });
}

#[test]
fn dd_notrunc_patching_bytes_in_place_makes_one_version() {
    // Same length: "12" becomes "10" at its offset; the rest of the file is kept.
    policy_edit("dd conv=notrunc", 10, |_| {
        r#"off=$(grep -bo '"validity_months": 12' policy.json | cut -d: -f1)
printf '"validity_months": 10' | dd of=policy.json bs=1 seek="$off" conv=notrunc status=none"#
            .into()
    });
}

#[test]
fn appending_a_newline_to_policy_json_is_a_write() {
    let m = Mount::start();
    let dir = web(&m);
    let before = version_count(&dir);
    let policy = fs::read(dir.join("policy.json")).unwrap();
    run_in_cert_dir(&dir, "printf '\\n\\n' >> policy.json");
    assert_eq!(version_count(&dir), before + 1, "an accepted write");
    assert_eq!(fs::read(dir.join("policy.json")).unwrap(), policy);
    assert_eq!(listing(&dir), CERT_FILES);
}

#[test]
fn appending_to_tags_json_appends() {
    let m = Mount::start();
    let dir = web(&m);
    fs::write(dir.join("tags.json"), r#"{"env":"prod"}"#).unwrap();
    let tags = fs::read(dir.join("tags.json")).unwrap();
    let lines = tags.iter().filter(|b| **b == b'\n').count();
    // Appended bytes land after the old content: JSON then says where.
    let out = sh_in(&dir, "cat - >> tags.json <<< 'x'");
    assert!(!out.status.success(), "appending garbage must be refused");
    let err = json(&dir.join("tags.json.error"));
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("line {}", lines + 1)),
        "the appended byte is after the old {lines} lines: {msg}"
    );
    assert_eq!(fs::read(dir.join("tags.json")).unwrap(), tags);
    // Appending white space keeps valid JSON: accepted, the tags stay.
    sh_ok(&dir, "printf '\\n  \\n' >> tags.json");
    assert_eq!(json(&dir.join("tags.json"))["env"], "prod");
    assert!(!dir.join("tags.json.error").exists());
}

// ----- tags.json with every tool --------------------------------------------

#[test]
fn tags_json_written_by_every_tool() {
    let m = Mount::start();
    let dir = web(&m);
    let versions = version_count(&dir);
    let src = m.root.path().join("tags.json");
    let cases: Vec<(&str, String, &str)> = vec![
        ("cp", format!("cp {} tags.json", src.display()), "cp"),
        ("cat", format!("cat {} > tags.json", src.display()), "cat"),
        (
            "tee",
            format!("tee tags.json < {} > /dev/null", src.display()),
            "tee",
        ),
        ("rsync", format!("rsync -I {} tags.json", src.display()), "rsync"),
        (
            "rsync --inplace",
            format!("rsync -I --inplace {} tags.json", src.display()),
            "inplace",
        ),
        (
            "sed -i",
            "sed -i 's/\"team\": \"inplace\"/\"team\": \"sed\"/' tags.json".into(),
            "sed",
        ),
        (
            "vim",
            "vim -u NONE -es -c 'set backupskip=' -c '%s/\"sed\"/\"vim\"/' -c wq tags.json".into(),
            "vim",
        ),
        (
            "vim backupcopy=yes",
            "vim -u NONE -es -c 'set backupskip=' -c 'set backupcopy=yes' -c '%s/\"vim\"/\"vimyes\"/' -c wq tags.json"
                .into(),
            "vimyes",
        ),
        (
            "vim backupcopy=no",
            "vim -u NONE -es -c 'set backupskip=' -c 'set backupcopy=no' -c '%s/\"vimyes\"/\"vimno\"/' -c wq tags.json"
                .into(),
            "vimno",
        ),
        (
            "redirection",
            "printf '{\"env\":\"prod\",\"team\":\"printf\"}' > tags.json".into(),
            "printf",
        ),
    ];
    for (tool, script, team) in cases {
        fs::write(&src, format!(r#"{{"env":"prod","team":"{team}"}}"#)).unwrap();
        run_in_cert_dir(&dir, &script);
        let tags = json(&dir.join("tags.json"));
        assert_eq!(tags["team"], team, "{tool}: {tags}");
        assert_eq!(tags["env"], "prod", "{tool}");
        assert_eq!(tags.as_object().unwrap().len(), 2, "{tool}: {tags}");
        assert_eq!(listing(&dir), CERT_FILES, "{tool}: no error, no leftovers");
        assert_eq!(
            version_count(&dir),
            versions,
            "{tool}: tags make no version"
        );
    }
}

// ----- a draft's policy.json ------------------------------------------------

/// One tool writing the first policy of a draft: the certificate exists with one version.
fn draft_write(tool: &str, script: impl Fn(&Path) -> String) {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/draft")).unwrap();
    let dir = m.path("prod/draft");
    assert!(listing(&dir).is_empty());
    let src = m.root.path().join("draft.json");
    let policy = ec_policy("draft").replace(r#""sans""#, r#""validity_months":5,"sans""#);
    fs::write(&src, &policy).unwrap();
    run_in_cert_dir(&dir, &script(&src));
    assert_eq!(version_count(&dir), 1, "{tool}: one version");
    assert_eq!(months(&dir), 5, "{tool}: the written policy");
    assert_eq!(listing(&dir), CERT_FILES, "{tool}: no error, no leftovers");
    let text = sh_ok(&dir, "openssl x509 -in cert.pem -noout -subject");
    assert!(text.contains("CN = draft"), "{tool}: {text}");
}

#[test]
fn draft_policy_by_cp() {
    draft_write("cp", |src| format!("cp {} policy.json", src.display()));
}

#[test]
fn draft_policy_by_cat_redirection() {
    draft_write("cat >", |src| {
        format!("cat {} > policy.json", src.display())
    });
}

#[test]
fn draft_policy_by_tee() {
    draft_write("tee", |src| {
        format!("tee policy.json < {} > /dev/null", src.display())
    });
}

#[test]
fn draft_policy_by_rsync() {
    draft_write("rsync", |src| {
        format!("rsync {} policy.json", src.display())
    });
}

#[test]
fn draft_policy_by_rsync_inplace() {
    draft_write("rsync --inplace", |src| {
        format!("rsync --inplace {} policy.json", src.display())
    });
}

#[test]
fn draft_policy_by_vim() {
    draft_write("vim", |src| {
        format!(
            "vim -u NONE -es -c 'set backupskip=' -c \"call setline(1, readfile('{}'))\" -c wq policy.json",
            src.display()
        )
    });
}

#[test]
fn draft_policy_by_mv_of_a_scratch_file() {
    draft_write("mv", |src| {
        format!(
            "cp {} .policy.json.tmp && mv .policy.json.tmp policy.json",
            src.display()
        )
    });
}

// ----- scratch files --------------------------------------------------------

const SCRATCH: &[&str] = &[
    ".policy.json.swp",
    "4913",
    "policy.json~",
    ".#policy.json",
    "sedAb12Cd",
    ".policy.json.Xy12Ab",
    ".tags.json.swp",
    "tags.json~",
];

#[test]
fn scratch_files_trigger_nothing_are_listed_and_can_be_removed() {
    let m = Mount::start();
    let dir = web(&m);
    let versions = version_count(&dir);
    let policy = fs::read(dir.join("policy.json")).unwrap();
    let tags = fs::read(dir.join("tags.json")).unwrap();
    for name in SCRATCH {
        run_in_cert_dir(&dir, &format!("printf 'not a policy {{' > '{name}'"));
        assert_eq!(version_count(&dir), versions, "{name}");
        let names = listing(&dir);
        assert!(
            names.contains(&name.to_string()),
            "{name} is listed: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.ends_with(".error")),
            "{name}: no error: {names:?}"
        );
        assert_eq!(
            fs::read(dir.join(name)).unwrap(),
            b"not a policy {",
            "{name} reads back"
        );
        assert_eq!(
            fs::metadata(dir.join(name)).unwrap().len(),
            14,
            "{name}: size"
        );
        // Rewriting and appending work like on any file.
        sh_ok(&dir, &format!("printf 'more' >> '{name}'"));
        assert_eq!(fs::read(dir.join(name)).unwrap(), b"not a policy {more");
    }
    assert_eq!(fs::read(dir.join("policy.json")).unwrap(), policy);
    assert_eq!(fs::read(dir.join("tags.json")).unwrap(), tags);
    for name in SCRATCH {
        sh_ok(&dir, &format!("rm '{name}'"));
        assert!(!dir.join(name).exists(), "{name} removed");
    }
    assert_eq!(listing(&dir), CERT_FILES);
    assert_eq!(version_count(&dir), versions);
}

#[test]
fn scratch_files_in_drop_boxes_trigger_nothing() {
    let m = Mount::start();
    let dir = web(&m);
    let versions = version_count(&dir);
    for drop_box in ["prod/web/merge", "prod/import", "prod/restore"] {
        let d = m.path(drop_box);
        // vim's probe of whether it may write here, a swap file, a backup.
        sh_ok(
            &d,
            "printf junk > 4913 && printf junk > 5036 && printf x > .a.swp && printf x > a.pem~",
        );
        assert_eq!(
            listing(&d),
            [".a.swp", "4913", "5036", "a.pem~"],
            "{drop_box}: kept, no report"
        );
        sh_ok(&d, "rm 4913 5036 .a.swp a.pem~");
        assert!(listing(&d).is_empty(), "{drop_box}");
    }
    assert_eq!(version_count(&dir), versions);
}

#[test]
fn scratch_files_in_a_vault_directory_trigger_nothing() {
    let m = Mount::start();
    let _ = web(&m);
    let vault = m.path("prod");
    sh_ok(&vault, "printf x > .notes.swp && printf y > 4913");
    let names = listing(&vault);
    assert_eq!(
        names,
        [
            ".notes.swp",
            "4913",
            "deleted",
            "import",
            "issuers",
            "restore",
            "vault.json",
            "web"
        ]
    );
    sh_ok(&vault, "rm .notes.swp 4913");
    assert_eq!(
        listing(&vault),
        [
            "deleted",
            "import",
            "issuers",
            "restore",
            "vault.json",
            "web"
        ]
    );
}

#[test]
fn o_excl_create_of_an_existing_scratch_file_fails() {
    // vim's 4913 probe relies on O_EXCL.
    let m = Mount::start();
    let dir = web(&m);
    sh_ok(&dir, "set -o noclobber; : > 4913");
    let out = sh_in(&dir, "set -o noclobber; : > 4913");
    assert!(
        !out.status.success(),
        "O_EXCL on an existing file must fail"
    );
    let out = sh_in(&dir, "set -o noclobber; : > policy.json");
    assert!(!out.status.success(), "O_EXCL on policy.json must fail");
    sh_ok(&dir, "rm 4913");
}

#[test]
fn mv_of_a_scratch_file_onto_policy_json_makes_one_version() {
    let m = Mount::start();
    let dir = web(&m);
    let src = edited_policy(&m, &dir, 8);
    let before = version_count(&dir);
    run_in_cert_dir(
        &dir,
        &format!("cp {} sedQw12Er && mv sedQw12Er policy.json", src.display()),
    );
    assert_eq!(version_count(&dir), before + 1);
    assert_eq!(months(&dir), 8);
    assert_eq!(listing(&dir), CERT_FILES, "the scratch file is gone");
}

#[test]
fn mv_of_a_scratch_file_onto_tags_json_sets_the_tags() {
    let m = Mount::start();
    let dir = web(&m);
    let before = version_count(&dir);
    run_in_cert_dir(
        &dir,
        r#"printf '{"a":"b"}' > .tags.new && mv .tags.new tags.json"#,
    );
    assert_eq!(json(&dir.join("tags.json"))["a"], "b");
    assert_eq!(version_count(&dir), before);
    assert_eq!(listing(&dir), CERT_FILES);
}

#[test]
fn a_refused_mv_onto_policy_json_keeps_the_scratch_file_and_the_policy() {
    let m = Mount::start();
    let dir = web(&m);
    let before = version_count(&dir);
    let policy = fs::read(dir.join("policy.json")).unwrap();
    sh_ok(&dir, "printf 'garbage' > sedZZ");
    // mv words EINVAL from rename(2) as "a subdirectory of itself": ask Python for the errno.
    let out = sh_ok(
        &dir,
        "python3 -c \"import os\ntry:\n os.rename('sedZZ', 'policy.json')\nexcept OSError as e:\n print(e.strerror)\"",
    );
    assert_eq!(out.trim(), "Invalid argument", "the rename is refused");
    assert!(!sh_in(&dir, "mv sedZZ policy.json").status.success());
    assert_eq!(version_count(&dir), before);
    assert_eq!(fs::read(dir.join("policy.json")).unwrap(), policy);
    assert_eq!(fs::read(dir.join("sedZZ")).unwrap(), b"garbage");
    let err = json(&dir.join("policy.json.error"));
    assert_eq!(err["code"], "BadParameter");
}

#[test]
fn a_redirection_shared_by_several_commands_makes_one_version() {
    let m = Mount::start();
    let dir = web(&m);
    let src = edited_policy(&m, &dir, 6);
    let pad = m.root.path().join("pad");
    fs::write(&pad, "\n").unwrap();
    let before = version_count(&dir);
    run_in_cert_dir(
        &dir,
        &format!(
            "{{ cat {}; cat {}; }} > policy.json",
            src.display(),
            pad.display()
        ),
    );
    assert_eq!(months(&dir), 6);
    assert_eq!(
        version_count(&dir),
        before + 1,
        "one redirection, one version"
    );
}

#[test]
fn cat_redirection_logs_no_spurious_refusal() {
    let m = Mount::start();
    let dir = web(&m);
    let src = edited_policy(&m, &dir, 6);
    let before = m.logs().len();
    run_in_cert_dir(&dir, &format!("cat {} > policy.json", src.display()));
    assert_eq!(months(&dir), 6);
    let logs = m.logs();
    let new = &logs[before..];
    assert!(
        !new.contains("WARN  certfs"),
        "an accepted write logs no refusal:\n{new}"
    );
}
