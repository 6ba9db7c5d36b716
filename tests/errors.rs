//! SPEC §4 errors on a real mount: refused writes fail at close, leave `<file>.error`, and change nothing.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Mount, WEB_POLICY, ec_policy, sh_in, sh_ok, wait_until};

/// Makes vault `prod` and certificate `prod/web` (EC P-256, Self); returns its directory.
fn web(m: &Mount) -> PathBuf {
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web")).unwrap();
    fs::write(m.path("prod/web/tags.json"), r#"{"env":"prod"}"#).unwrap();
    m.path("prod/web")
}

fn version_count(dir: &Path) -> usize {
    fs::read_dir(dir.join("versions"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

/// Everything a refused write must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    versions: usize,
    cert: Vec<u8>,
    key: Vec<u8>,
    policy: Vec<u8>,
    tags: Vec<u8>,
}

fn snapshot(dir: &Path) -> Snapshot {
    Snapshot {
        versions: version_count(dir),
        cert: fs::read(dir.join("cert.pem")).unwrap(),
        key: fs::read(dir.join("privkey.pem")).unwrap(),
        policy: fs::read(dir.join("policy.json")).unwrap(),
        tags: fs::read(dir.join("tags.json")).unwrap(),
    }
}

fn daemon_alive(m: &Mount) {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(m.pid() as i32, 0) } == 0;
    assert!(alive, "certfs died:\n{}", m.logs());
    let out = sh_ok(&m.mnt, "ls prod/web && head -1 prod/web/cert.pem");
    assert!(out.contains("BEGIN CERTIFICATE"), "still serving: {out}");
}

/// The `.error` report beside `file`: its code and message.
fn error_report(dir: &Path, file: &str) -> (String, String) {
    let path = dir.join(format!("{file}.error"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{file}.error is not JSON ({e}): {bytes:?}"));
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(2),
        "{{code, message}} only: {v}"
    );
    (
        v["code"].as_str().unwrap().to_owned(),
        v["message"].as_str().unwrap().to_owned(),
    )
}

/// Writes `content` to `file` with `cp` and checks the refusal: `cp`
/// fails with `Invalid argument`, `<file>.error` says `BadParameter` and
/// every word of `expect`, nothing changed, the daemon still serves.
fn refused_by_cp(m: &Mount, dir: &Path, file: &str, content: &[u8], expect: &[&str]) -> String {
    let before = snapshot(dir);
    // The report of an earlier refusal is not the one to read.
    let _ = fs::remove_file(dir.join(format!("{file}.error")));
    let src = m.root.path().join("bad-input");
    fs::write(&src, content).unwrap();
    let out = sh_in(dir, &format!("cp {} {file}", src.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if content.is_empty() {
        // Nothing written: the refusal comes at release, after close()
        // returned (a shell's `cmd > file` closes a duplicate before `cmd`
        // writes, which must not act); `.error` is the report.
        wait_for(&dir.join(format!("{file}.error")));
    } else {
        assert!(
            !out.status.success(),
            "cp of a bad {file} must fail ({expect:?})"
        );
        assert!(stderr.contains("Invalid argument"), "{expect:?}: {stderr}");
    }
    let (code, message) = error_report(dir, file);
    assert_eq!(code, "BadParameter", "{message}");
    for word in expect {
        assert!(message.contains(word), "`{word}` in: {message}");
    }
    assert_eq!(snapshot(dir), before, "nothing changed ({expect:?})");
    daemon_alive(m);
    message
}

/// Waits for `path` to appear: a release reaches certfs after close() returns.
fn wait_for(path: &Path) {
    wait_until(&path.display().to_string(), || path.exists());
}

fn without(policy: &str, field: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(policy).unwrap();
    v["x509_props"].as_object_mut().unwrap().remove(field);
    v.to_string()
}

#[test]
fn policy_json_garbage_of_every_kind_is_refused_and_changes_nothing() {
    let m = Mount::start();
    let dir = web(&m);
    let current = fs::read(dir.join("policy.json")).unwrap();
    let random = {
        let mut bytes = vec![0u8; 3000];
        fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .unwrap();
        bytes[0] = 0x80; // never valid UTF-8 at the start
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "garbage",
            b"hello, this is not json\n".to_vec(),
            vec!["not valid JSON"],
        ),
        ("empty", Vec::new(), vec!["empty"]),
        ("white space", b"  \n\t\n".to_vec(), vec!["empty"]),
        (
            "truncated",
            current[..current.len() / 2].to_vec(),
            vec!["not valid JSON"],
        ),
        ("binary", random, vec!["UTF-8"]),
        (
            "non-UTF-8",
            b"{\"x509_props\":{\"subject\":\"CN=caf\xe9\"},\"issuer\":{\"name\":\"Self\"}}"
                .to_vec(),
            vec!["UTF-8"],
        ),
        ("array", b"[1, 2]".to_vec(), vec!["JSON object"]),
        ("null", b"null".to_vec(), vec!["JSON object"]),
    ];
    for (what, content, expect) in cases {
        eprintln!("case: {what}");
        refused_by_cp(&m, &dir, "policy.json", &content, &expect);
    }
}

#[test]
fn policies_key_vault_refuses_are_refused_and_change_nothing() {
    let m = Mount::start();
    let dir = web(&m);
    let ec = ec_policy("web");
    let two_actions = ec.replace(
        r#""issuer""#,
        r#""lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"AutoRenew"}},
           {"trigger":{"days_before_expiry":10},"action":{"action_type":"EmailContacts"}}],"issuer""#,
    );
    let ec_encipher = ec.replace(
        r#""sans""#,
        r#""key_usage":["digitalSignature","keyEncipherment"],"sans""#,
    );
    let pct100 = ec.replace(
        r#""issuer""#,
        r#""lifetime_actions":[{"trigger":{"lifetime_percentage":100},"action":{"action_type":"AutoRenew"}}],"issuer""#,
    );
    let no_name = without(&without(&ec, "subject"), "sans");
    let digi = ec.replace(r#""name":"Self""#, r#""name":"digi""#);
    let long_subject = ec.replace("CN=web", &format!("CN={}", "a".repeat(250)));
    let bad_months = ec.replace(r#""sans""#, r#""validity_months":0,"sans""#);
    let bad_kty = ec.replace(r#""kty":"EC""#, r#""kty":"DSA""#);
    let p256k = ec.replace(r#""crv":"P-256""#, r#""crv":"P-256K""#);
    let typo = ec.replace(r#""x509_props""#, r#""x509_prop""#);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "two lifetime actions",
            two_actions,
            vec!["one lifetime action"],
        ),
        ("EC + keyEncipherment", ec_encipher, vec!["keyEncipherment"]),
        (
            "lifetime_percentage 100",
            pct100,
            vec!["lifetime_percentage", "100", "1 and 99"],
        ),
        ("no subject, no SANs", no_name, vec!["subject"]),
        ("issuer digi", digi, vec!["digi"]),
        ("subject over 200", long_subject, vec!["200"]),
        (
            "validity 0",
            bad_months,
            vec!["validity_months", "1 and 1200"],
        ),
        ("kty DSA", bad_kty, vec!["DSA"]),
        ("P-256K", p256k, vec!["P-256K"]),
        ("unknown field", typo, vec!["x509_prop"]),
    ];
    for (what, policy, expect) in cases {
        eprintln!("case: {what}");
        refused_by_cp(&m, &dir, "policy.json", policy.as_bytes(), &expect);
    }
}

#[test]
fn refused_issuers_say_issuer_not_found() {
    // An issuer that is neither built in nor configured in the vault.
    let m = Mount::start();
    let dir = web(&m);
    for issuer in ["digi", "Contoso-CA"] {
        let policy = ec_policy("web").replace("\"Self\"", &format!("\"{issuer}\""));
        refused_by_cp(
            &m,
            &dir,
            "policy.json",
            policy.as_bytes(),
            &["Issuer not found"],
        );
    }
}

#[test]
fn every_writer_reports_the_refusal_at_close() {
    let m = Mount::start();
    let dir = web(&m);
    let before = snapshot(&dir);
    let bad = m.root.path().join("bad.json");
    fs::write(&bad, "{not json").unwrap();
    let bad = bad.display();
    let writers = [
        format!("cat {bad} > policy.json"),
        format!("tee policy.json < {bad} > /dev/null"),
        format!("dd if={bad} of=policy.json status=none"),
        "truncate -s 0 policy.json".to_string(),
        format!("cp {bad} policy.json"),
        format!("rsync -I --inplace {bad} policy.json"),
        format!("python3 -c \"with open('policy.json','w') as f: f.write(open('{bad}').read())\""),
    ];
    for w in &writers {
        let out = sh_in(&dir, w);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "`{w}` must fail");
        assert!(
            stderr.contains("Invalid argument"),
            "`{w}` says why: {stderr}"
        );
        let (code, message) = error_report(&dir, "policy.json");
        assert_eq!(code, "BadParameter", "`{w}`: {message}");
        assert_eq!(snapshot(&dir), before, "`{w}` changed something");
        sh_ok(&dir, "rm policy.json.error");
    }
    daemon_alive(&m);
}

#[test]
fn shell_builtin_redirections_leave_the_error_file() {
    // bash does not check close() of a builtin's redirection: the .error
    // file is the report; the store is unchanged all the same.
    let m = Mount::start();
    let dir = web(&m);
    let before = snapshot(&dir);
    for w in [
        ": > policy.json",
        "echo garbage > policy.json",
        "printf '{\"x509_props\":{}}' > policy.json",
    ] {
        let _ = sh_in(&dir, w);
        // `: >` writes nothing: its refusal comes at release, after the shell moved on.
        wait_for(&dir.join("policy.json.error"));
        let (code, message) = error_report(&dir, "policy.json");
        assert_eq!(code, "BadParameter", "`{w}`: {message}");
        assert_eq!(snapshot(&dir), before, "`{w}` changed something");
        sh_ok(&dir, "rm policy.json.error");
    }
}

#[test]
fn a_policy_over_one_mib_fails_with_efbig() {
    let m = Mount::start();
    let dir = web(&m);
    let before = snapshot(&dir);
    let out = sh_in(&dir, "head -c 2000000 /dev/urandom > policy.json");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a 2 MB write must fail");
    assert!(stderr.contains("File too large"), "{stderr}");
    let (code, message) = error_report(&dir, "policy.json");
    assert_eq!(code, "BadParameter", "{message}");
    assert!(
        message.contains("1048576") || message.contains("1 MiB"),
        "names the limit: {message}"
    );
    assert!(
        !message.contains("1048577"),
        "the file was 2000000 bytes, not 1048577: {message}"
    );
    assert_eq!(snapshot(&dir), before);
    daemon_alive(&m);
    // Valid JSON padded past the limit is refused too.
    let big = format!("{}{}", ec_policy("web"), " ".repeat(1 << 20));
    let src = m.root.path().join("big.json");
    fs::write(&src, big).unwrap();
    let out = sh_in(&dir, &format!("cp {} policy.json", src.display()));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("File too large"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(snapshot(&dir), before);
    // Exactly at the limit is not "too large" (it is accepted as a write).
    let at_limit = {
        let p = ec_policy("web");
        format!("{p}{}", " ".repeat((1 << 20) - p.len()))
    };
    fs::write(&src, at_limit).unwrap();
    sh_ok(&dir, &format!("cp {} policy.json", src.display()));
    assert_eq!(version_count(&dir), before.versions + 1);
    assert!(!dir.join("policy.json.error").exists());
}

#[test]
fn the_error_file_goes_away_with_rm_and_with_the_next_accepted_write() {
    let m = Mount::start();
    let dir = web(&m);
    refused_by_cp(&m, &dir, "policy.json", b"nope", &["not valid JSON"]);
    let names = sh_ok(&dir, "ls");
    assert!(names.contains("policy.json.error"), "listed: {names}");
    sh_ok(&dir, "rm policy.json.error");
    assert!(!dir.join("policy.json.error").exists());
    refused_by_cp(&m, &dir, "policy.json", b"nope", &["not valid JSON"]);
    let before = version_count(&dir);
    sh_ok(
        &dir,
        &format!("cat > policy.json <<'EOF'\n{}\nEOF", ec_policy("web")),
    );
    assert_eq!(version_count(&dir), before + 1);
    assert!(
        !dir.join("policy.json.error").exists(),
        "gone after success"
    );
    // The same for tags.json; a policy success does not clear a tags error.
    refused_by_cp(&m, &dir, "tags.json", b"[]", &["object"]);
    fs::write(dir.join("policy.json"), ec_policy("web")).unwrap();
    assert!(dir.join("tags.json.error").exists());
    fs::write(dir.join("tags.json"), r#"{"a":"b"}"#).unwrap();
    assert!(!dir.join("tags.json.error").exists());
}

#[test]
fn tags_json_refusals() {
    let m = Mount::start();
    let dir = web(&m);
    let sixteen: serde_json::Map<String, serde_json::Value> =
        (0..16).map(|i| (format!("t{i}"), "v".into())).collect();
    let sixteen = serde_json::Value::Object(sixteen).to_string();
    let msg = refused_by_cp(&m, &dir, "tags.json", sixteen.as_bytes(), &["15"]);
    assert!(msg.contains("16"), "says how many were given: {msg}");
    refused_by_cp(&m, &dir, "tags.json", b"garbage", &["JSON"]);
    refused_by_cp(&m, &dir, "tags.json", b"", &["empty"]);
    refused_by_cp(&m, &dir, "tags.json", br#"{"n": 1}"#, &["string"]);
    refused_by_cp(&m, &dir, "tags.json", b"{\"a\":\"\xff\"}", &["UTF-8"]);
    let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(300));
    refused_by_cp(&m, &dir, "tags.json", long.as_bytes(), &["256"]);
    // Fifteen is fine.
    let fifteen: serde_json::Map<String, serde_json::Value> =
        (0..15).map(|i| (format!("t{i}"), "v".into())).collect();
    fs::write(
        dir.join("tags.json"),
        serde_json::Value::Object(fifteen).to_string(),
    )
    .unwrap();
    let back: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("tags.json")).unwrap()).unwrap();
    assert_eq!(back.as_object().unwrap().len(), 15);
    assert!(!dir.join("tags.json.error").exists());
}

#[test]
fn read_only_files_refuse_writes_and_removal() {
    let m = Mount::start();
    let dir = web(&m);
    let before = snapshot(&dir);
    let id = fs::read_dir(dir.join("versions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let denied = |s: &str| s.contains("Operation not permitted") || s.contains("Permission denied");
    for target in [
        "cert.pem".to_string(),
        "cert.cer".into(),
        "privkey.pem".into(),
        "fullchain.pem".into(),
        "cert.pfx".into(),
        format!("versions/{id}/cert.pem"),
        format!("versions/{id}/privkey.pem"),
    ] {
        for w in [
            format!("cp /etc/hostname {target}"),
            format!("echo x > {target}"),
            format!("echo x >> {target}"),
            format!("truncate -s 0 {target}"),
            format!("mv {target} {target}.moved"),
        ] {
            let out = sh_in(&dir, &w);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "`{w}` must fail");
            assert!(denied(&stderr), "`{w}`: {stderr}");
        }
        // The files are views of the certificate: `rm` of one removes nothing
        // (user guide; `rm -r` of the certificate directory deletes it).
        sh_ok(&dir, &format!("rm -f {target}"));
        assert!(dir.join(&target).exists(), "{target} is still there");
    }
    // Nothing new in versions/ either.
    assert!(!sh_in(&dir, "mkdir versions/x").status.success());
    assert!(!sh_in(&dir, "echo x > versions/new.pem").status.success());
    // Views again: removing them removes nothing.
    sh_ok(&dir, "rm -r versions/*");
    assert_eq!(snapshot(&dir), before);
    let names = sh_ok(&dir, "ls -a");
    assert!(!names.contains(".error"), "no .error for EPERM: {names}");
    assert!(!names.contains("moved"), "{names}");
    daemon_alive(&m);
}

#[test]
fn a_refused_first_policy_leaves_the_draft_a_draft() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/draft")).unwrap();
    let dir = m.path("prod/draft");
    let out = sh_in(
        &dir,
        "echo '{\"x509_props\":{}}' | cp /dev/stdin policy.json",
    );
    assert!(!out.status.success());
    let (code, message) = error_report(&dir, "policy.json");
    assert_eq!(code, "BadParameter");
    assert!(message.contains("subject"), "{message}");
    assert_eq!(sh_ok(&dir, "ls -a | sort"), ".\n..\npolicy.json.error\n");
    assert!(!dir.join("versions").exists());
    assert!(!dir.join("policy.json").exists());
    sh_ok(&dir, "rm policy.json.error");
    sh_ok(&m.mnt, "rmdir prod/draft");
    assert!(!m.path("prod/draft").exists());
}

#[test]
fn the_log_never_holds_private_key_material() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    // RSA on purpose: a PKCS#8 RSA key is many base64 lines.
    fs::write(m.path("prod/web/policy.json"), WEB_POLICY).unwrap();
    let dir = m.path("prod/web");
    let key = fs::read_to_string(dir.join("privkey.pem")).unwrap();
    // Plausible mistakes: a key pasted where a policy or tags go.
    for src in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        for dst in ["policy.json", "tags.json"] {
            let _ = sh_in(&dir, &format!("cp {src} {dst}"));
            let _ = sh_in(&dir, &format!("cat {src} > {dst}"));
        }
        let _ = sh_in(
            &dir,
            &format!("cp {src} sedKEY && mv sedKEY policy.json; rm -f sedKEY"),
        );
    }
    // The key as the value of policy fields that messages quote.
    let as_json = serde_json::Value::String(key.clone()).to_string();
    for field in [
        format!(r#"{{"x509_props":{{"subject":{as_json}}},"issuer":{{"name":"Self"}}}}"#),
        format!(
            r#"{{"x509_props":{{"subject":"CN=x","sans":{{"dns_names":[{as_json}]}}}},"issuer":{{"name":"Self"}}}}"#
        ),
        format!(r#"{{"x509_props":{{"subject":"CN=x"}},"issuer":{{"name":{as_json}}}}}"#),
        format!(r#"{{{as_json}: 1}}"#),
    ] {
        fs::write(m.root.path().join("keyed.json"), field).unwrap();
        let _ = sh_in(
            &dir,
            &format!(
                "cp {} policy.json",
                m.root.path().join("keyed.json").display()
            ),
        );
    }
    // Not even a PEM key's first line (its base64 starts with the key's own bytes).
    assert!(
        !m.logs().contains("PRIVATE KEY"),
        "the log quotes PEM key text:\n{}",
        m.logs()
            .lines()
            .filter(|l| l.contains("PRIVATE KEY"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for line in key.lines() {
        let line = line.trim();
        if line.starts_with("-----") || line.len() < 16 {
            continue;
        }
        let logs = m.logs();
        assert!(
            !logs.contains(line),
            "the log holds the key line {line}:\n{}",
            logs.lines()
                .filter(|l| l.contains(line))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // And the .error files say nothing of the key either.
    for report in ["policy.json.error", "tags.json.error"] {
        if let Ok(text) = fs::read_to_string(dir.join(report)) {
            assert!(!text.contains("PRIVATE KEY"), "{report}: {text}");
            for line in key.lines().skip(1) {
                if !line.starts_with("-----") && line.len() >= 16 {
                    assert!(!text.contains(line), "{report}: {text}");
                }
            }
        }
    }
    daemon_alive(&m);
}

#[test]
fn an_error_report_read_right_after_another_refusal_is_whole() {
    // The kernel caches a file's size for a while: a report replaced by a
    // longer one must not read back cut to the old size.
    let m = Mount::start();
    let dir = web(&m);
    for round in 0..5 {
        for (content, word) in [(&b"x"[..], "JSON"), (&br#"{"a": 1}"#[..], "string")] {
            let _ = sh_in(
                &dir,
                &format!(
                    "printf '%s' '{}' > tags.json",
                    String::from_utf8_lossy(content)
                ),
            );
            let (code, message) = error_report(&dir, "tags.json");
            assert_eq!(code, "BadParameter", "round {round}");
            assert!(message.contains(word), "round {round}: {message}");
        }
    }
}

#[test]
fn a_close_on_another_thread_of_the_opener_still_reports_the_refusal() {
    // Go, Java and thread pools open and close on different threads; the
    // kernel names the thread, certfs must see the process.
    let m = Mount::start();
    let dir = web(&m);
    let script = r#"python3 - <<'PY'
import threading
f = open("policy.json", "w")
f.write("not json")
result = {}
def close():
    try:
        f.close()
        result["ok"] = True
    except OSError as e:
        result["errno"] = e.errno
t = threading.Thread(target=close)
t.start()
t.join()
print(result)
PY"#;
    let out = sh_ok(&dir, script);
    assert!(
        out.contains("'errno': 22"),
        "close() on another thread fails with EINVAL: {out}"
    );
    assert!(dir.join("policy.json.error").exists());
}

#[test]
fn a_refusal_at_the_mount_root_leaves_its_reason_there() {
    let m = Mount::start();
    let err = common::sh_err(&m.mnt, "mkdir kt");
    assert!(err.contains("Invalid argument"), "{err}");
    let (code, message) = error_report(&m.mnt, "kt");
    assert_eq!(code, "BadParameter");
    assert!(message.contains("kt"), "{message}");
    let listed = sh_ok(&m.mnt, "ls");
    assert!(listed.lines().any(|l| l == "kt.error"), "{listed}");
    // A vault that holds certificates cannot go: the reason is beside it.
    web(&m);
    let err = common::sh_err(&m.mnt, "rmdir prod");
    assert!(!err.is_empty());
    let (code, _) = error_report(&m.mnt, "prod");
    assert!(!code.is_empty());
    daemon_alive(&m);
}

#[test]
fn what_a_filesystem_without_xattrs_links_or_fifos_is_asked_is_answered_without_a_warning() {
    let mut m = Mount::start();
    let dir = web(&m);
    sh_ok(&m.mnt, "ls -la prod/web >/dev/null");
    let copy = m.root.path().join("copy");
    sh_ok(&dir, &format!("cp -a cert.pem {}", copy.display()));
    let python = "import os, errno\n\
        try:\n    os.getxattr('cert.pem', 'user.x')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n\
        try:\n    os.setxattr('cert.pem', 'user.x', b'1')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n";
    let answers = sh_ok(&dir, &format!("python3 -c \"{python}\""));
    // EOPNOTSUPP, which Python names by its Linux twin ENOTSUP.
    assert_eq!(answers.lines().collect::<Vec<_>>(), ["ENOTSUP", "ENOTSUP"]);
    for (script, words) in [
        ("ln -s cert.pem link", "Operation not permitted"),
        ("ln cert.pem hard", "Operation not permitted"),
        ("mkfifo pipe", "Operation not permitted"),
    ] {
        let err = common::sh_err(&dir, script);
        assert!(err.contains(words), "{script}: {err}");
    }
    // An external umount ends the daemon, with nothing to warn about.
    sh_ok(m.root.path(), &format!("umount {}", m.mnt.display()));
    let status = m
        .wait_exit(std::time::Duration::from_secs(20))
        .expect("certfs exits after umount");
    assert!(status.success(), "{status}");
    let logs = m.logs();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains(" WARN ")).collect();
    assert!(
        warnings.iter().all(|l| !l.contains("fuser")),
        "warnings about nothing:\n{}",
        warnings.join("\n")
    );
}
