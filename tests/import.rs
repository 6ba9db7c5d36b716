//! import/: PFX and PEM files made by openssl and Python become certificates; bad ones get their own clear error.

mod common;

use std::fs;
use std::path::Path;

use common::{Mount, sh_err, sh_in, sh_ok};

/// A key and a self-signed certificate for `site.example.com` in `dir` (`key.pem`, `cert.pem`), valid `days`.
fn make_site(dir: &Path, kind: &str, days: i32) {
    let newkey = match kind {
        "rsa" => "rsa:2048",
        _ => "ec -pkeyopt ec_paramgen_curve:P-384",
    };
    sh_ok(
        dir,
        &format!(
            "openssl req -x509 -newkey {newkey} -nodes -keyout key.pem -out cert.pem -days {days} \
             -subj '/CN=site.example.com/O=Contoso' -addext subjectAltName=DNS:site.example.com 2>/dev/null"
        ),
    );
}

fn assert_imported(m: &Mount, name: &str, cert: &Path) {
    let dir = format!("prod/{name}");
    assert_eq!(
        fs::read(m.path(&format!("{dir}/cert.pem"))).unwrap(),
        fs::read(cert).unwrap(),
        "{name}: the imported certificate"
    );
    let cert_pub = sh_ok(
        &m.mnt,
        &format!("openssl x509 -in {dir}/cert.pem -noout -pubkey"),
    );
    let key_pub = sh_ok(
        &m.mnt,
        &format!("openssl pkey -in {dir}/privkey.pem -pubout"),
    );
    assert_eq!(cert_pub, key_pub, "{name}: the imported key matches");
    let policy: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path(&format!("{dir}/policy.json"))).unwrap()).unwrap();
    assert_eq!(policy["issuer"]["name"], "Unknown", "{name}");
    assert_eq!(
        policy["lifetime_actions"][0]["action"]["action_type"], "EmailContacts",
        "{name}"
    );
    assert_eq!(policy["key_props"]["exportable"], true, "{name}");
    assert!(
        policy["x509_props"]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=site.example.com"),
        "{policy}"
    );
    assert_eq!(
        policy["x509_props"]["sans"]["dns_names"][0], "site.example.com",
        "{policy}"
    );
    let listing: Vec<String> = fs::read_dir(m.path("prod/import"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        listing.iter().all(|f| !f.starts_with(name)),
        "{name}: dropped files are consumed: {listing:?}"
    );
}

#[test]
fn pfx_files_from_openssl_and_python_import() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    make_site(work.path(), "rsa", 30);
    let cases = [
        (
            "modern",
            "openssl pkcs12 -export -inkey key.pem -in cert.pem -out modern.pfx -passout pass:s3cret",
            Some("s3cret"),
        ),
        (
            "legacy",
            "openssl pkcs12 -export -legacy -inkey key.pem -in cert.pem -out legacy.pfx -passout pass:s3cret",
            Some("s3cret"),
        ),
        (
            "plain",
            "openssl pkcs12 -export -keypbe NONE -certpbe NONE -nomac -inkey key.pem -in cert.pem -out plain.pfx -passout pass:",
            None,
        ),
        (
            "empty",
            "openssl pkcs12 -export -inkey key.pem -in cert.pem -out empty.p12 -passout pass:",
            None,
        ),
        (
            "python",
            "python3 - <<'PY'\nfrom cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12, BestAvailableEncryption\nfrom cryptography import x509\nkey = load_pem_private_key(open('key.pem','rb').read(), None)\ncert = x509.load_pem_x509_certificate(open('cert.pem','rb').read())\nopen('python.pfx','wb').write(pkcs12.serialize_key_and_certificates(b'site', key, cert, None, BestAvailableEncryption(b'pw')))\nPY",
            Some("pw"),
        ),
    ];
    for (name, make, password) in cases {
        sh_ok(work.path(), make);
        let file = if name == "empty" {
            "empty.p12".to_string()
        } else {
            format!("{name}.pfx")
        };
        if let Some(pw) = password {
            // As people write it: with a trailing newline.
            fs::write(
                m.path(&format!("prod/import/{name}.password")),
                format!("{pw}\n"),
            )
            .unwrap();
        }
        sh_ok(
            &m.mnt,
            &format!("cp {}/{file} prod/import/", work.path().display()),
        );
        assert_imported(&m, name, &work.path().join("cert.pem"));
        let policy: serde_json::Value =
            serde_json::from_slice(&fs::read(m.path(&format!("prod/{name}/policy.json"))).unwrap())
                .unwrap();
        assert_eq!(
            policy["secret_props"]["contentType"], "application/x-pkcs12",
            "{name}"
        );
    }
}

#[test]
fn pem_files_with_every_key_form_import() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let cases = [
        ("pkcs8", "rsa", "cat cert.pem key.pem > pkcs8.pem", None),
        (
            "reversed",
            "ec",
            "cat key.pem cert.pem > reversed.pem",
            None,
        ),
        (
            "pkcs1",
            "rsa",
            "openssl rsa -in key.pem -traditional -out k1.pem 2>/dev/null && cat cert.pem k1.pem > pkcs1.pem",
            None,
        ),
        (
            "sec1",
            "ec",
            "openssl ec -in key.pem -out k2.pem 2>/dev/null && cat k2.pem cert.pem > sec1.pem",
            None,
        ),
        (
            "encrypted",
            "ec",
            "openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -passout pass:pw -out k3.pem && cat cert.pem k3.pem > encrypted.pem",
            Some("pw"),
        ),
    ];
    for (name, kind, make, password) in cases {
        make_site(work.path(), kind, 30);
        sh_ok(work.path(), make);
        if let Some(pw) = password {
            fs::write(m.path(&format!("prod/import/{name}.password")), pw).unwrap();
        }
        sh_ok(
            &m.mnt,
            &format!("cp {}/{name}.pem prod/import/", work.path().display()),
        );
        assert_imported(&m, name, &work.path().join("cert.pem"));
        let policy: serde_json::Value =
            serde_json::from_slice(&fs::read(m.path(&format!("prod/{name}/policy.json"))).unwrap())
                .unwrap();
        assert_eq!(
            policy["secret_props"]["contentType"], "application/x-pem-file",
            "{name}"
        );
    }
}

#[test]
fn a_policy_file_given_first_is_used_and_consumed() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    make_site(work.path(), "ec", 30);
    sh_ok(work.path(), "cat cert.pem key.pem > site.pem");
    let policy = r#"{"key_props":{"kty":"EC","crv":"P-384","exportable":true},"x509_props":{"subject":"CN=site.example.com"},"issuer":{"name":"Unknown"},"tags":null}"#
        .replace(",\"tags\":null", "");
    fs::write(m.path("prod/import/site.policy.json"), policy).unwrap();
    sh_ok(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    assert!(!m.path("prod/import/site.policy.json").exists(), "consumed");
    let back: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/site/policy.json")).unwrap()).unwrap();
    assert_eq!(back["x509_props"]["subject"], "CN=site.example.com");
    assert_eq!(back["key_props"]["crv"], "P-384");
    // A second import makes a second version.
    sh_ok(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    assert_eq!(
        fs::read_dir(m.path("prod/site/versions")).unwrap().count(),
        2
    );
}

#[test]
fn what_a_policy_file_leaves_out_comes_from_the_imported_certificate() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    make_site(work.path(), "ec", 30);
    sh_ok(work.path(), "cat cert.pem key.pem > site.pem");
    // Only a lifetime action: the key (EC P-384), the content type (PEM),
    // the subject and SANs are the imported certificate's.
    let policy = r#"{"lifetime_actions":[{"trigger":{"days_before_expiry":10},"action":{"action_type":"EmailContacts"}}]}"#;
    fs::write(m.path("prod/import/site.policy.json"), policy).unwrap();
    sh_ok(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    let back: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/site/policy.json")).unwrap()).unwrap();
    assert_eq!(back["key_props"]["kty"], "EC", "{back:#}");
    assert_eq!(back["key_props"]["crv"], "P-384", "{back:#}");
    assert_eq!(
        back["secret_props"]["contentType"], "application/x-pem-file",
        "{back:#}"
    );
    assert_eq!(
        back["x509_props"]["subject"], "CN=site.example.com, O=Contoso",
        "{back:#}"
    );
    assert_eq!(
        back["x509_props"]["sans"]["dns_names"],
        serde_json::json!(["site.example.com"])
    );
    assert_eq!(
        back["lifetime_actions"][0]["trigger"]["days_before_expiry"], 10,
        "what it says is kept"
    );

    // A policy asking for another key than the one imported is refused, in words.
    fs::write(
        m.path("prod/import/site.policy.json"),
        r#"{"key_props":{"kty":"RSA","key_size":4096}}"#,
    )
    .unwrap();
    let err = sh_err(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/import/site.pem.error")).unwrap();
    assert!(
        report.contains("asks for an RSA 4096 key, but the imported key is EC P-384"),
        "{report}"
    );
}

#[test]
fn a_certificate_no_policy_can_describe_imports_once_a_policy_file_says_what_it_cannot() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    // A subject of over 200 characters: more than a policy may hold.
    let ou = "OU=".to_string() + &"x".repeat(60);
    sh_ok(
        work.path(),
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
             -days 30 -subj '/CN=long.example.com/{ou}/{ou}/{ou}' -addext subjectAltName=DNS:long.example.com 2>/dev/null \
             && cat cert.pem key.pem > long.pem"
        ),
    );
    let cp = format!("cp {}/long.pem prod/import/", work.path().display());
    let err = sh_err(&m.mnt, &cp);
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/import/long.pem.error")).unwrap();
    assert!(
        report.contains("at most 200 characters") && report.contains("long.policy.json"),
        "{report}"
    );
    // The policy file gives a subject; the SANs still come from the certificate.
    fs::write(
        m.path("prod/import/long.policy.json"),
        r#"{"x509_props":{"subject":"CN=long.example.com"}}"#,
    )
    .unwrap();
    sh_ok(&m.mnt, &cp);
    let back: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/long/policy.json")).unwrap()).unwrap();
    assert_eq!(back["x509_props"]["subject"], "CN=long.example.com");
    assert_eq!(
        back["x509_props"]["sans"]["dns_names"],
        serde_json::json!(["long.example.com"])
    );
    assert_eq!(
        fs::read(m.path("prod/long/cert.pem")).unwrap(),
        fs::read(work.path().join("cert.pem")).unwrap()
    );
}

#[test]
fn bad_imports_get_their_own_clear_errors() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let work = tempfile::tempdir().unwrap();
    make_site(work.path(), "ec", 30);
    sh_ok(
        work.path(),
        "openssl pkcs12 -export -inkey key.pem -in cert.pem -out locked.pfx -passout pass:right && \
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -days 3 -subj /CN=o 2>/dev/null && \
         cat cert.pem other.key > mismatch.pem && cp cert.pem nokey.pem && cp key.pem nocert.pem && \
         head -c 5000 /dev/urandom > garbage.pfx",
    );
    // An expired certificate (valid from 2 days ago until yesterday), made by Python.
    sh_ok(
        work.path(),
        r#"python3 - <<'PY'
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
key = serialization.load_pem_private_key(open("key.pem", "rb").read(), None)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now - datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
open("expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM) + open("key.pem", "rb").read())
PY"#,
    );
    fs::write(m.path("prod/import/locked.password"), "wrong").unwrap();
    let cases = [
        ("locked.pfx", "password"),
        ("mismatch.pem", "does not match"),
        ("nokey.pem", "no private key"),
        ("nocert.pem", "no certificate"),
        ("expired.pem", "X509 Certificate is already expired"),
        ("garbage.pfx", ""),
    ];
    for (file, words) in cases {
        let out = sh_in(
            &m.mnt,
            &format!("cp {}/{file} prod/import/", work.path().display()),
        );
        assert!(!out.status.success(), "{file} must be refused");
        let report = fs::read_to_string(m.path(&format!("prod/import/{file}.error"))).unwrap();
        let value: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(value["code"], "BadParameter", "{file}: {report}");
        assert!(report.contains(words), "{file}: {report}");
        let stem = file.split('.').next().unwrap();
        assert!(
            !m.path(&format!("prod/{stem}")).exists(),
            "{file}: nothing imported"
        );
    }
    // The right password then works, and the daemon is fine.
    fs::write(m.path("prod/import/locked.password"), "right").unwrap();
    sh_ok(
        &m.mnt,
        &format!("cp {}/locked.pfx prod/import/", work.path().display()),
    );
    assert!(m.path("prod/locked/cert.pem").exists());
}

#[test]
fn import_is_refused_while_an_operation_is_pending() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/site")).unwrap();
    fs::write(
        m.path("prod/site/policy.json"),
        r#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=site.example.com"},"issuer":{"name":"Unknown"}}"#,
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    make_site(work.path(), "ec", 30);
    sh_ok(work.path(), "cat cert.pem key.pem > site.pem");
    let out = sh_in(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("busy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = fs::read_to_string(m.path("prod/import/site.pem.error")).unwrap();
    assert!(report.contains("Conflict"), "{report}");
}
