//! attributes.json: disabling a version keeps its certificate readable and refuses its key, as Key Vault refuses a disabled secret.

mod common;

use std::fs;
use std::path::Path;

use common::{Mount, ec_policy, sh_err, sh_in, sh_ok};

fn web(m: &Mount) -> std::path::PathBuf {
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    m.path("prod/web")
}

fn attributes(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn versions(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn attributes_read_as_key_vault_reports_them() {
    let m = Mount::start();
    let dir = web(&m);
    let a = attributes(&dir.join("attributes.json"));
    assert_eq!(a["enabled"], true);
    assert_eq!(a["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(a["recoverableDays"], 90);
    let nbf = a["nbf"].as_i64().unwrap();
    let exp = a["exp"].as_i64().unwrap();
    let days = (exp - nbf) / 86_400;
    assert!((365..=367).contains(&days), "{a}");
    assert!(a["created"].as_i64().unwrap() >= nbf);
    assert_eq!(a["created"], a["updated"]);
}

#[test]
fn disabling_refuses_the_key_and_keeps_the_certificate() {
    let m = Mount::start();
    let dir = web(&m);
    let id = versions(&dir).remove(0);
    // Edit it as people do: sed over the file as read.
    sh_ok(
        &dir,
        r#"sed -i 's/"enabled": true/"enabled": false/' attributes.json"#,
    );
    assert_eq!(attributes(&dir.join("attributes.json"))["enabled"], false);
    assert_eq!(
        attributes(&dir.join(format!("versions/{id}/attributes.json")))["enabled"],
        false
    );
    for f in [
        "privkey.pem",
        "bundle.pem",
        "cert.pfx",
        &format!("versions/{id}/privkey.pem"),
    ] {
        let err = sh_err(&dir, &format!("cat {f}"));
        assert!(err.contains("Permission denied"), "{f}: {err}");
    }
    // The certificate stays readable, and the key files are still listed.
    let text = sh_ok(&dir, "openssl x509 -in cert.pem -noout -subject");
    assert!(text.contains("web.example.com"), "{text}");
    for f in ["cert.cer", "chain.pem", "fullchain.pem"] {
        sh_ok(&dir, &format!("cat {f} > /dev/null"));
    }
    assert!(dir.join("privkey.pem").exists());
    // nginx cannot start with a disabled key.
    if Path::new("/usr/sbin/nginx").exists() {
        let conf = m.root.path().join("nginx.conf");
        fs::write(
            &conf,
            format!(
                "pid {root}/nginx.pid; error_log {root}/error.log; events {{}}\n\
                 http {{ server {{ listen 127.0.0.1:1 ssl; ssl_certificate {d}/fullchain.pem; ssl_certificate_key {d}/privkey.pem; }} }}\n",
                root = m.root.path().display(),
                d = dir.display()
            ),
        )
        .unwrap();
        let out = sh_in(&dir, &format!("/usr/sbin/nginx -t -c {}", conf.display()));
        assert!(
            !out.status.success(),
            "nginx -t must fail with a disabled key"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Permission denied") || err.contains("privkey.pem"),
            "{err}"
        );
    }
    // Enabled again, the key reads.
    fs::write(dir.join("attributes.json"), r#"{"enabled": true}"#).unwrap();
    let key = sh_ok(&dir, "openssl pkey -in privkey.pem -pubout");
    let cert = sh_ok(&dir, "openssl x509 -in cert.pem -noout -pubkey");
    assert_eq!(key, cert);
}

#[test]
fn each_version_has_its_own_attributes_and_they_survive_a_remount() {
    let mut m = Mount::start();
    let dir = web(&m);
    fs::write(dir.join("policy.json"), ec_policy("web.example.com")).unwrap();
    let current = fs::read(dir.join("cert.pem")).unwrap();
    let ids = versions(&dir);
    let old = ids
        .iter()
        .find(|id| fs::read(dir.join(format!("versions/{id}/cert.pem"))).unwrap() != current)
        .unwrap()
        .clone();
    fs::write(
        dir.join(format!("versions/{old}/attributes.json")),
        r#"{"enabled": false}"#,
    )
    .unwrap();
    sh_ok(&dir, "cat privkey.pem > /dev/null");
    assert!(sh_err(&dir, &format!("cat versions/{old}/privkey.pem")).contains("Permission denied"));
    m.remount();
    let dir = m.path("prod/web");
    assert_eq!(
        attributes(&dir.join(format!("versions/{old}/attributes.json")))["enabled"],
        false
    );
    assert!(sh_err(&dir, &format!("cat versions/{old}/privkey.pem")).contains("Permission denied"));
    sh_ok(&dir, "cat privkey.pem > /dev/null");
}

#[test]
fn read_only_attributes_and_garbage_are_refused_and_change_nothing() {
    let m = Mount::start();
    let dir = web(&m);
    let before = fs::read(dir.join("attributes.json")).unwrap();
    for (content, word) in [
        (r#"{"exp": 1}"#, "read-only"),
        (r#"{"created": 5, "enabled": false}"#, "read-only"),
        (r#"{"enabled": "no"}"#, "true or false"),
        (r#"{"colour": "blue"}"#, "not a certificate attribute"),
        ("[]", "object"),
        ("garbage", "JSON"),
    ] {
        let src = m.root.path().join("attrs");
        fs::write(&src, content).unwrap();
        let err = sh_err(&dir, &format!("cp {} attributes.json", src.display()));
        assert!(err.contains("Invalid argument"), "{content}: {err}");
        let report: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("attributes.json.error")).unwrap()).unwrap();
        assert_eq!(report["code"], "BadParameter");
        assert!(
            report["message"].as_str().unwrap().contains(word),
            "{content}: {report}"
        );
        assert_eq!(
            fs::read(dir.join("attributes.json")).unwrap(),
            before,
            "{content}"
        );
        sh_ok(&dir, "cat privkey.pem > /dev/null");
    }
    // Writing back what was read changes nothing and is accepted.
    fs::write(dir.join("attributes.json"), &before).unwrap();
    assert!(!dir.join("attributes.json.error").exists());
}

#[test]
fn disabling_the_newest_version_puts_the_top_level_files_back_on_the_one_before_and_runs_the_hook()
{
    let m = Mount::start();
    let dir = web(&m);
    let first = fs::read_to_string(dir.join("cert.pem")).unwrap();
    let first_key = fs::read_to_string(dir.join("privkey.pem")).unwrap();
    let ran = m.root.path().join("hook-ran");
    let hooks = serde_json::json!({
        "command": ["sh", "-c", format!("openssl x509 -in \"$RENEWED_LINEAGE/cert.pem\" -noout -serial >> {}", ran.display())]
    });
    fs::write(dir.join("hooks.json"), hooks.to_string()).unwrap();
    fs::write(dir.join("policy.json"), ec_policy("web.example.com")).unwrap();
    let second = fs::read_to_string(dir.join("cert.pem")).unwrap();
    assert_ne!(first, second);
    let newest = versions(&dir)
        .into_iter()
        .find(|id| {
            fs::read_to_string(dir.join(format!("versions/{id}/cert.pem"))).unwrap() == second
        })
        .unwrap();
    let hook_runs = |n: usize| {
        common::wait_for_with("the hook's runs", &|| m.logs(), || {
            fs::read_to_string(&ran)
                .ok()
                .filter(|t| t.lines().count() >= n)
        })
    };
    hook_runs(1);

    // A bad new version: disable it where it shows. The files go back to
    // the version before, key and certificate together, and servers are told.
    fs::write(dir.join("attributes.json"), r#"{"enabled": false}"#).unwrap();
    assert_eq!(fs::read_to_string(dir.join("cert.pem")).unwrap(), first);
    assert_eq!(
        fs::read_to_string(dir.join("privkey.pem")).unwrap(),
        first_key
    );
    assert_eq!(
        fs::read_to_string(m.path("live/prod.web/cert.pem")).unwrap(),
        first
    );
    let key = sh_ok(&dir, "openssl pkey -in privkey.pem -pubout");
    assert_eq!(
        key,
        sh_ok(&dir, "openssl x509 -in fullchain.pem -noout -pubkey")
    );
    assert_eq!(attributes(&dir.join("attributes.json"))["enabled"], true);
    assert_eq!(
        attributes(&dir.join(format!("versions/{newest}/attributes.json")))["enabled"],
        false
    );
    let first_serial = sh_ok(&dir, "openssl x509 -in cert.pem -noout -serial");
    let log = hook_runs(2);
    assert_eq!(log.lines().nth(1).unwrap(), first_serial.trim(), "{log}");

    // Enabled again (in its version's folder): it is current once more.
    fs::write(
        dir.join(format!("versions/{newest}/attributes.json")),
        r#"{"enabled": true}"#,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(dir.join("cert.pem")).unwrap(), second);
    hook_runs(3);
}
