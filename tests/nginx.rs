//! nginx serves TLS straight from the mount (`ssl_certificate <mnt>/prod/web/fullchain.pem`), curl and openssl s_client verify it, and a reload picks up a new version.

mod common;

use std::fs;
use std::path::Path;

use common::nginx::{Nginx, curl_trusting, require_nginx};
use common::{Mount, WEB_POLICY, ec_policy, make_test_ca, sh_in, sh_ok, sign_csr};

fn serial_of_file(dir: &Path, file: &str) -> String {
    sh_ok(dir, &format!("openssl x509 -in {file} -noout -serial"))
        .trim()
        .to_owned()
}

/// The serial of the certificate nginx presents for web.example.com.
fn served_serial(dir: &Path, port: u16) -> String {
    sh_ok(
        dir,
        &format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername web.example.com </dev/null 2>/dev/null \
             | openssl x509 -noout -serial"
        ),
    )
    .trim()
    .to_owned()
}

/// curl trusting only the mount's cert.pem, with the name resolved to 127.0.0.1.
fn curl(dir: &Path, port: u16) -> String {
    sh_ok(
        dir,
        &format!(
            "curl -sS --fail --max-time 20 --cacert prod/web/cert.pem \
             --resolve web.example.com:{port}:127.0.0.1 https://web.example.com:{port}/"
        ),
    )
}

fn serves_and_renews(policy: &str, key_line: &str) {
    if require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), policy).unwrap();
    let text = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -text");
    assert!(text.contains(key_line), "{text}");
    assert!(text.contains("DNS:web.example.com"), "{text}");

    let nginx = Nginx::start(&m.root.path().join("nginx"), &m.path("prod/web"));
    let port = nginx.port;

    assert_eq!(curl(&m.mnt, port), "served by nginx from certfs\n");
    let verify = sh_ok(
        &m.mnt,
        &format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername web.example.com \
             -verify_return_error -verify_hostname web.example.com -CAfile prod/web/cert.pem </dev/null 2>&1"
        ),
    );
    assert!(
        verify.contains("Verify return code: 0 (ok)"),
        "{verify}\n{}",
        nginx.error_log()
    );
    let first = serial_of_file(&m.mnt, "prod/web/cert.pem");
    assert_eq!(served_serial(&m.mnt, port), first);

    // A client trusting something else refuses the connection.
    let other = sh_in(
        &m.mnt,
        &format!(
            "curl -sS --max-time 20 --cacert /etc/ssl/certs/ca-certificates.crt \
             --resolve web.example.com:{port}:127.0.0.1 https://web.example.com:{port}/"
        ),
    );
    assert!(!other.status.success(), "curl must not trust it otherwise");

    // A new version, then a reload: nginx serves the new certificate.
    fs::write(m.path("prod/web/policy.json"), policy).unwrap();
    let second = serial_of_file(&m.mnt, "prod/web/cert.pem");
    assert_ne!(first, second, "the write made a new version");
    assert_eq!(
        served_serial(&m.mnt, port),
        first,
        "nginx reads certificates only at start or reload"
    );
    nginx.reload();
    // The old worker may finish its connections; a new connection reaches the new worker.
    common::wait_until_with(
        "nginx to serve the new serial",
        &|| nginx.error_log(),
        || served_serial(&m.mnt, port) == second,
    );
    // curl trusting the new cert.pem succeeds, and s_client verifies it.
    assert_eq!(curl(&m.mnt, port), "served by nginx from certfs\n");
    let verify = sh_ok(
        &m.mnt,
        &format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername web.example.com \
             -verify_return_error -CAfile prod/web/cert.pem </dev/null 2>&1"
        ),
    );
    assert!(verify.contains("Verify return code: 0 (ok)"), "{verify}");
    assert!(
        !nginx.error_log().contains("[emerg]"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn nginx_serves_an_rsa_2048_certificate_and_a_reload_picks_up_the_new_version() {
    serves_and_renews(WEB_POLICY, "Public-Key: (2048 bit)");
}

#[test]
fn nginx_serves_an_ec_p256_certificate_and_a_reload_picks_up_the_new_version() {
    serves_and_renews(&ec_policy("web.example.com"), "NIST CURVE: P-256");
}

#[test]
fn nginx_serves_a_merged_and_an_imported_certificate_verified_against_the_test_root() {
    if require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    let ca = tempfile::tempdir().unwrap();
    make_test_ca(ca.path());
    let root = ca.path().join("root.pem");
    fs::create_dir_all(m.path("prod/merged")).unwrap();
    let unknown = r#"{"key_props":{"kty":"RSA","key_size":2048},"x509_props":{"subject":"CN=web.example.com","sans":{"dns_names":["web.example.com"]}},"issuer":{"name":"Unknown"}}"#;
    fs::write(m.path("prod/merged/policy.json"), unknown).unwrap();
    sign_csr(ca.path(), &m.path("prod/merged/request.csr"), "merged.pem");
    // The chain in reverse order, as a PKCS#7 bundle.
    sh_ok(
        ca.path(),
        "cat root.pem int.pem merged.pem > all.pem && openssl crl2pkcs7 -nocrl -certfile all.pem -out merged.p7b",
    );
    sh_ok(
        &m.mnt,
        &format!("cp {}/merged.p7b prod/merged/merge/", ca.path().display()),
    );
    // An imported PFX with its chain, signed by the same CA.
    sh_ok(
        ca.path(),
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout site.key -out site.csr \
           -subj /CN=web.example.com -addext subjectAltName=DNS:web.example.com 2>/dev/null && \
         openssl x509 -req -in site.csr -CA int.pem -CAkey int.key -CAcreateserial -out site.pem -days 20 -copy_extensions copy 2>/dev/null && \
         openssl pkcs12 -export -inkey site.key -in site.pem -certfile int.pem -out site.pfx -passout pass:",
    );
    sh_ok(
        &m.mnt,
        &format!("cp {}/site.pfx prod/import/", ca.path().display()),
    );

    for (cert, expect) in [("merged", "merged.pem"), ("site", "site.pem")] {
        let dir = m.path(&format!("prod/{cert}"));
        assert_eq!(
            fs::read(dir.join("cert.pem")).unwrap(),
            fs::read(ca.path().join(expect)).unwrap(),
            "{cert}"
        );
        let nginx = Nginx::start(&m.root.path().join(format!("nginx-{cert}")), &dir);
        assert_eq!(
            curl_trusting(&m.mnt, nginx.port, &root),
            "served by nginx from certfs\n",
            "{cert}: {}",
            nginx.error_log()
        );
        let verify = sh_ok(
            &m.mnt,
            &format!(
                "openssl s_client -connect 127.0.0.1:{} -servername web.example.com -verify_return_error \
                 -verify_hostname web.example.com -CAfile {} </dev/null 2>&1",
                nginx.port,
                root.display()
            ),
        );
        assert!(
            verify.contains("Verify return code: 0 (ok)"),
            "{cert}: {verify}"
        );
    }
}

#[test]
fn nginx_serves_a_recovered_certificate_again() {
    if require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let serial = serial_of_file(&m.mnt, "prod/web/cert.pem");
    sh_ok(&m.mnt, "rm -r prod/web");
    assert!(
        !m.path("prod/web/fullchain.pem").exists(),
        "deleted: nothing to serve"
    );
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    let nginx = Nginx::start(&m.root.path().join("nginx"), &m.path("prod/web"));
    assert_eq!(curl(&m.mnt, nginx.port), "served by nginx from certfs\n");
    assert_eq!(
        served_serial(&m.mnt, nginx.port),
        serial,
        "the same certificate is back"
    );
}
