//! Any CA by hand: issuer Unknown makes a key and CSR, an openssl CA signs it, and merge/ completes it.

mod common;

use std::fs;

use common::{Mount, make_test_ca, sh_err, sh_in, sh_ok, sign_csr};

const UNKNOWN_POLICY: &str = r#"{"key_props":{"kty":"EC","crv":"P-256"},
 "x509_props":{"subject":"CN=api.example.com, OU=\"Docs, Contoso\", O=Contoso","sans":{"dns_names":["api.example.com","www.api.example.com"]}},
 "issuer":{"name":"Unknown"}}"#;

fn pending_api(m: &Mount) {
    fs::create_dir_all(m.path("prod/api")).unwrap();
    fs::write(m.path("prod/api/policy.json"), UNKNOWN_POLICY).unwrap();
}

fn operation(m: &Mount, cert: &str) -> serde_json::Value {
    serde_json::from_slice(&fs::read(m.path(&format!("prod/{cert}/operation.json"))).unwrap())
        .unwrap()
}

#[test]
fn unknown_issuer_makes_a_csr_and_an_operation_in_progress() {
    let m = Mount::start();
    pending_api(&m);
    let op = operation(&m, "api");
    assert_eq!(op["status"], "inProgress");
    assert_eq!(op["issuer"]["name"], "Unknown");
    assert_eq!(op["cancellation_requested"], false);
    assert!(op["csr"].as_str().unwrap().len() > 100);
    let text = sh_ok(
        &m.mnt,
        "openssl req -in prod/api/request.csr -noout -text -verify -nameopt RFC2253 2>&1",
    );
    assert!(
        text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"),
        "{text}"
    );
    assert!(text.contains("OU=Docs\\, Contoso"), "{text}");
    assert!(
        text.contains("DNS:api.example.com") && text.contains("DNS:www.api.example.com"),
        "{text}"
    );
    // The CSR in operation.json is request.csr's DER.
    let der = sh_ok(
        &m.mnt,
        "openssl req -in prod/api/request.csr -outform DER | base64 -w0",
    );
    assert_eq!(op["csr"].as_str().unwrap(), der.trim());
    // Nothing to serve yet.
    assert!(!m.path("prod/api/cert.pem").exists());
    assert!(!m.path("prod/api/privkey.pem").exists());
    // A policy without an issuer is Unknown too.
    fs::create_dir_all(m.path("prod/noissuer")).unwrap();
    fs::write(
        m.path("prod/noissuer/policy.json"),
        r#"{"x509_props":{"subject":"CN=n"},"key_props":{"kty":"EC"}}"#,
    )
    .unwrap();
    assert_eq!(operation(&m, "noissuer")["status"], "inProgress");
}

#[test]
fn merging_a_signed_pem_completes_the_version() {
    let m = Mount::start();
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    pending_api(&m);
    sign_csr(ca.path(), &m.path("prod/api/request.csr"), "leaf.pem");
    sh_ok(
        &m.mnt,
        &format!(
            "cp {}/leaf.pem prod/api/merge/signed.cer",
            ca.path().display()
        ),
    );
    assert!(
        !m.path("prod/api/merge/signed.cer").exists(),
        "the dropped file disappears"
    );
    assert!(
        !m.path("prod/api/request.csr").exists(),
        "no CSR once completed"
    );
    let op = operation(&m, "api");
    assert_eq!(op["status"], "completed");
    let leaf = fs::read(ca.path().join("leaf.pem")).unwrap();
    assert_eq!(fs::read(m.path("prod/api/cert.pem")).unwrap(), leaf);
    let cert_pub = sh_ok(&m.mnt, "openssl x509 -in prod/api/cert.pem -noout -pubkey");
    let key_pub = sh_ok(&m.mnt, "openssl pkey -in prod/api/privkey.pem -pubout");
    assert_eq!(cert_pub, key_pub);
    assert_eq!(
        fs::read_dir(m.path("prod/api/versions")).unwrap().count(),
        1
    );
}

#[test]
fn merge_takes_chains_in_any_order_and_pkcs7() {
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    let cases = [
        ("reverse.pem", "cat root.pem int.pem leaf.pem > reverse.pem"),
        (
            "chain.p7b",
            "cat leaf.pem int.pem root.pem > all.pem && openssl crl2pkcs7 -nocrl -certfile all.pem -out chain.p7b",
        ),
        (
            "chain-der.p7b",
            "cat int.pem leaf.pem > two.pem && openssl crl2pkcs7 -nocrl -certfile two.pem -outform DER -out chain-der.p7b",
        ),
        (
            "leaf.der",
            "openssl x509 -in leaf.pem -outform DER -out leaf.der",
        ),
    ];
    for (file, make) in cases {
        let m = Mount::start();
        pending_api(&m);
        sign_csr(ca.path(), &m.path("prod/api/request.csr"), "leaf.pem");
        sh_ok(ca.path(), make);
        sh_ok(
            &m.mnt,
            &format!("cp {}/{file} prod/api/merge/", ca.path().display()),
        );
        assert_eq!(operation(&m, "api")["status"], "completed", "{file}");
        assert_eq!(
            fs::read(m.path("prod/api/cert.pem")).unwrap(),
            fs::read(ca.path().join("leaf.pem")).unwrap(),
            "{file}"
        );
        if file != "leaf.der" {
            let verify = sh_ok(
                &m.mnt,
                &format!(
                    "openssl verify -CAfile {}/root.pem -untrusted prod/api/chain.pem prod/api/cert.pem",
                    ca.path().display()
                ),
            );
            assert!(verify.contains(": OK"), "{file}: {verify}");
            let chain = fs::read_to_string(m.path("prod/api/chain.pem")).unwrap();
            let int = fs::read_to_string(ca.path().join("int.pem")).unwrap();
            assert!(
                chain.starts_with(&int),
                "{file}: the leaf's issuer comes first"
            );
        }
    }
}

#[test]
fn a_certificate_for_another_key_is_refused_with_key_vaults_message() {
    let m = Mount::start();
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    pending_api(&m);
    sh_ok(
        ca.path(),
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.csr -subj /CN=other 2>/dev/null",
    );
    sign_csr(ca.path(), &ca.path().join("other.csr"), "other.pem");
    let err = sh_err(
        &m.mnt,
        &format!(
            "cp {}/other.pem prod/api/merge/signed.pem",
            ca.path().display()
        ),
    );
    assert!(err.contains("Invalid argument"), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/api/merge/signed.pem.error")).unwrap())
            .unwrap();
    assert!(
        report["message"].as_str().unwrap().starts_with(
            "The public key of the end-entity certificate in the specified X.509 certificate content does not match the public part of the specified private key"
        ),
        "{report}"
    );
    assert_eq!(
        operation(&m, "api")["status"],
        "inProgress",
        "nothing changed"
    );
    assert!(m.path("prod/api/request.csr").exists());
    // Garbage gets its own error, and the daemon lives on.
    let err = sh_err(
        &m.mnt,
        "head -c 3000 /dev/urandom > prod/api/merge/junk.cer",
    );
    assert!(err.is_empty() || err.contains("Invalid"), "{err}");
    assert!(m.path("prod/api/merge/junk.cer.error").exists());
    assert!(m.path("prod/api/operation.json").exists());
}

#[test]
fn merge_without_a_pending_operation_is_refused() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), common::ec_policy("web")).unwrap();
    let pem = fs::read(m.path("prod/web/cert.pem")).unwrap();
    let out = sh_in(&m.mnt, "cp prod/web/cert.pem prod/web/merge/again.pem");
    assert!(!out.status.success());
    let report = fs::read_to_string(m.path("prod/web/merge/again.pem.error")).unwrap();
    assert!(
        report.contains("Pending certificate not found: web"),
        "{report}"
    );
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), pem);
}

#[test]
fn a_renewal_by_hand_keeps_serving_the_old_certificate_until_the_merge() {
    let m = Mount::start();
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        common::ec_policy("web.example.com"),
    )
    .unwrap();
    let old = fs::read(m.path("prod/web/cert.pem")).unwrap();
    let renew = common::ec_policy("web.example.com").replace("\"Self\"", "\"Unknown\"");
    fs::write(m.path("prod/web/policy.json"), renew).unwrap();
    assert_eq!(
        fs::read(m.path("prod/web/cert.pem")).unwrap(),
        old,
        "still the old certificate"
    );
    assert!(m.path("prod/web/request.csr").exists());
    // While pending, a new create is refused with a conflict.
    let out = sh_in(
        &m.mnt,
        &format!(
            "cat > prod/web/policy.json <<'J'\n{}\nJ",
            common::ec_policy("x")
        ),
    );
    assert!(!out.status.success(), "a create while pending fails");
    let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
    assert!(report.contains("Conflict"), "{report}");
    sign_csr(ca.path(), &m.path("prod/web/request.csr"), "leaf.pem");
    sh_ok(
        &m.mnt,
        &format!("cp {}/leaf.pem prod/web/merge/", ca.path().display()),
    );
    assert_ne!(fs::read(m.path("prod/web/cert.pem")).unwrap(), old);
    assert_eq!(
        fs::read_dir(m.path("prod/web/versions")).unwrap().count(),
        2
    );
}

#[test]
fn cancel_and_delete_end_the_operation() {
    let m = Mount::start();
    pending_api(&m);
    let err = sh_err(
        &m.mnt,
        "printf '%s' '{\"cancellation_requested\": false}' | tee prod/api/operation.json",
    );
    assert!(err.contains("Invalid argument"), "{err}");
    sh_ok(
        &m.mnt,
        "printf '%s' '{\"cancellation_requested\": true}' > prod/api/operation.json",
    );
    let op = operation(&m, "api");
    assert_eq!(op["status"], "cancelled");
    assert_eq!(op["cancellation_requested"], true);
    assert!(!m.path("prod/api/request.csr").exists());
    // A new create is possible again, and rm operation.json deletes the pending one.
    fs::write(m.path("prod/api/policy.json"), UNKNOWN_POLICY).unwrap();
    assert_eq!(operation(&m, "api")["status"], "inProgress");
    sh_ok(&m.mnt, "rm prod/api/operation.json");
    assert!(!m.path("prod/api/operation.json").exists());
    assert!(!m.path("prod/api/request.csr").exists());
}

#[test]
fn a_pending_operation_survives_a_remount() {
    let mut m = Mount::start();
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    pending_api(&m);
    let csr = fs::read(m.path("prod/api/request.csr")).unwrap();
    m.remount();
    assert_eq!(fs::read(m.path("prod/api/request.csr")).unwrap(), csr);
    assert_eq!(operation(&m, "api")["status"], "inProgress");
    sign_csr(ca.path(), &m.path("prod/api/request.csr"), "leaf.pem");
    sh_ok(
        &m.mnt,
        &format!("cp {}/leaf.pem prod/api/merge/", ca.path().display()),
    );
    m.remount();
    assert_eq!(operation(&m, "api")["status"], "completed");
    assert_eq!(
        fs::read(m.path("prod/api/cert.pem")).unwrap(),
        fs::read(ca.path().join("leaf.pem")).unwrap()
    );
}
