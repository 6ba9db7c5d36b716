//! A private PKI through the mount (SPEC §9): Key Vault's own policy and issuer documents pasted as they are, issued/ and revoked/ folders, CRLs checked by openssl, CSRs signed through sign/.

mod common;

use std::fs;

use common::{Mount, json_file, sh_err, sh_ok};

/// A policy exactly as Key Vault's `GET …/certificates/{name}/policy` returns it.
const KEY_VAULT_POLICY: &str = r#"{"id":"https://myvault.vault.azure.net/certificates/web/policy","key_props":{"exportable":true,"kty":"RSA","key_size":2048,"reuse_key":false},"secret_props":{"contentType":"application/x-pkcs12"},"x509_props":{"subject":"CN=web.example.test","sans":{},"ekus":["1.3.6.1.5.5.7.3.1","1.3.6.1.5.5.7.3.2"],"key_usage":["digitalSignature","keyEncipherment"],"validity_months":12,"basic_constraints":{"ca":false}},"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"AutoRenew"}}],"issuer":{"name":"Self"},"attributes":{"enabled":true,"created":1609459200,"updated":1609459200}}"#;

/// An IssuerBundle exactly as Key Vault's `GET …/certificates/issuers/{name}` returns it.
const KEY_VAULT_ISSUER: &str = r#"{"id":"https://myvault.vault.azure.net/certificates/issuers/digi","provider":"DigiCert","credentials":{"account_id":"keyvaultuser"},"org_details":{"id":"7890","zip":0},"attributes":{"enabled":true,"created":1493938289,"updated":1493938289}}"#;

#[test]
fn a_policy_and_an_issuer_copied_from_key_vault_paste_as_they_are() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), KEY_VAULT_POLICY).unwrap();
    let policy = json_file(&m.path("prod/web/policy.json"));
    assert_eq!(
        policy["x509_props"]["basic_constraints"],
        serde_json::json!({"ca": false})
    );
    assert!(m.path("prod/web/cert.pem").exists());
    // The key Key Vault never returns comes from a first write; the copied bundle then keeps it.
    fs::write(
        m.path("prod/issuers/digi.json"),
        r#"{"provider":"DigiCert","credentials":{"account_id":"keyvaultuser","pwd":"api-key"},"org_details":{"id":"7890"}}"#,
    )
    .unwrap();
    fs::write(m.path("prod/issuers/digi.json"), KEY_VAULT_ISSUER).unwrap();
    let issuer = json_file(&m.path("prod/issuers/digi.json"));
    assert_eq!(issuer["org_details"]["zip"], 0);
    assert_eq!(issuer["credentials"]["pwd"], serde_json::Value::Null);
    assert!(issuer.get("id").is_none(), "{issuer}");
}

const CORP: &str = r#"{"provider": "Internal", "ca": {"subject": "CN=Corp Root CA", "kty": "EC", "crv": "P-256"},
 "crl": {"validity_hours": 24, "distribution_point": "http://pki.example.test/corp.crl"}}"#;

fn web_policy(cn: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256","reuse_key":true}},
 "x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}"]}},"validity_months":3}},
 "issuer":{{"name":"corp"}}}}"#
    )
}

fn vault_with_corp(m: &Mount) {
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/issuers/corp.json"), CORP).unwrap();
}

fn serial_of(m: &Mount, cert: &str) -> String {
    json_file(&m.path(&format!("prod/{cert}/status.json")))["serial_number"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `openssl verify -crl_check` of `cert` against the corp CA and its CRL from the mount.
fn verify_with_crl(m: &Mount, cert: &str) -> std::process::Output {
    common::sh_in(
        &m.mnt,
        &format!(
            "openssl verify -crl_check -CAfile prod/issuers/corp.pem -CRLfile prod/issuers/corp.crl {cert}"
        ),
    )
}

#[test]
fn issued_lists_what_the_internal_issuer_issued_and_its_crl_verifies_them() {
    let m = Mount::start();
    vault_with_corp(&m);
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers"),
        "corp\ncorp.crl\ncorp.json\ncorp.pem\n"
    );
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp"),
        "issued\nrevoked\nsign\n"
    );
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers/corp/issued"), "");
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test"),
    )
    .unwrap();
    let serial = serial_of(&m, "web");
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp/issued"),
        format!("{serial}.pem\n")
    );
    assert_eq!(
        fs::read(m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))).unwrap(),
        fs::read(m.path("prod/web/cert.pem")).unwrap()
    );
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/web/cert.pem -noout -ext crlDistributionPoints",
    );
    assert!(
        text.contains("URI:http://pki.example.test/corp.crl"),
        "{text}"
    );
    let crl = sh_ok(
        &m.mnt,
        "openssl crl -in prod/issuers/corp.crl -noout -text -CAfile prod/issuers/corp.pem 2>&1",
    );
    assert!(crl.contains("verify OK"), "{crl}");
    assert!(crl.contains("No Revoked Certificates"), "{crl}");
    let out = verify_with_crl(&m, "prod/web/cert.pem");
    assert!(out.status.success(), "{out:?}");
    // Re-signed at once after each issue, also within one second: never
    // a CRL from the future ("not yet valid" to openssl), and each one's
    // number larger than the one before.
    let work = m.root.path();
    let mut numbers = Vec::new();
    for i in 0..3 {
        let stem = format!("again{i}");
        openssl_request(work, &stem, &format!("{stem}.example.test"), EC_KEY);
        sh_ok(&m.mnt, &format!("cp ../{stem}.csr prod/issuers/corp/sign/"));
        let out = verify_with_crl(&m, "prod/web/cert.pem");
        assert!(out.status.success(), "round {i}: {out:?}");
        numbers.push(sh_ok(
            &m.mnt,
            "openssl crl -in prod/issuers/corp.crl -noout -crlnumber",
        ));
    }
    assert!(
        numbers
            .windows(2)
            .all(|w| w[0] < w[1] && w[0].len() == w[1].len()),
        "{numbers:?}"
    );
    // stat and read agree, and the records cannot be written or removed one by one.
    let size: usize = sh_ok(&m.mnt, "stat -c %s prod/issuers/corp.crl")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        size,
        fs::read(m.path("prod/issuers/corp.crl")).unwrap().len()
    );
    let err = sh_err(&m.mnt, &format!("rm prod/issuers/corp/issued/{serial}.pem"));
    assert!(err.contains("not permitted"), "{err}");
    let err = sh_err(
        &m.mnt,
        &format!("echo x > prod/issuers/corp/issued/{serial}.pem"),
    );
    assert!(
        err.contains("not permitted") || err.contains("denied"),
        "{err}"
    );
    assert!(
        m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))
            .exists()
    );
}

#[test]
fn one_mv_revokes_lists_it_in_the_crl_and_renews_with_a_new_key() {
    let mut m = Mount::start();
    vault_with_corp(&m);
    for cert in ["web", "api"] {
        fs::create_dir(m.path(&format!("prod/{cert}"))).unwrap();
        fs::write(
            m.path(&format!("prod/{cert}/policy.json")),
            web_policy(&format!("{cert}.example.test")),
        )
        .unwrap();
    }
    let ran = m.root.path().join("hook-ran");
    fs::write(
        m.path("prod/web/hooks.json"),
        serde_json::json!({"command": ["sh", "-c", format!("openssl x509 -in \"$RENEWED_LINEAGE/cert.pem\" -noout -serial >> {}", ran.display())]}).to_string(),
    )
    .unwrap();
    let serial = serial_of(&m, "web");
    let api_serial = serial_of(&m, "api");
    sh_ok(
        &m.mnt,
        "cp prod/web/cert.pem ../old-web.pem && cp prod/web/privkey.pem ../old-web.key",
    );
    // A bad reason is refused and nothing is revoked.
    sh_ok(
        &m.mnt,
        &format!("echo compromised > prod/issuers/corp/revoked/{serial}.reason"),
    );
    let err = sh_err(
        &m.mnt,
        &format!("mv prod/issuers/corp/issued/{serial}.pem prod/issuers/corp/revoked/"),
    );
    assert!(err.contains("cannot move"), "{err}");
    let report =
        fs::read_to_string(m.path(&format!("prod/issuers/corp/revoked/{serial}.pem.error")))
            .unwrap();
    assert!(report.contains("keyCompromise"), "{report}");
    assert!(
        m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))
            .exists()
    );
    // The reason, then the move.
    sh_ok(
        &m.mnt,
        &format!(
            "echo keyCompromise > prod/issuers/corp/revoked/{serial}.reason && \
             mv prod/issuers/corp/issued/{serial}.pem prod/issuers/corp/revoked/"
        ),
    );
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp/revoked"),
        format!("{serial}.pem\n")
    );
    let issued = sh_ok(&m.mnt, "ls prod/issuers/corp/issued");
    assert!(
        !issued.contains(&serial) && issued.contains(&api_serial),
        "{issued}"
    );
    // The CRL lists it with its reason; openssl refuses it and accepts the others.
    let crl = sh_ok(&m.mnt, "openssl crl -in prod/issuers/corp.crl -noout -text");
    assert!(crl.contains(&format!("Serial Number: {serial}")), "{crl}");
    assert!(crl.contains("Key Compromise"), "{crl}");
    assert!(!crl.contains(&api_serial), "{crl}");
    let out = verify_with_crl(&m, "../old-web.pem");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("certificate revoked")
            || String::from_utf8_lossy(&out.stderr).contains("certificate revoked"),
        "{out:?}"
    );
    assert!(verify_with_crl(&m, "prod/api/cert.pem").status.success());
    // AutoRenew: a new version with a new key is current, and its hook ran.
    let new_serial = serial_of(&m, "web");
    assert_ne!(new_serial, serial);
    assert!(verify_with_crl(&m, "prod/web/cert.pem").status.success());
    let old_key = sh_ok(&m.mnt, "openssl pkey -in ../old-web.key -pubout");
    let new_key = sh_ok(&m.mnt, "openssl pkey -in prod/web/privkey.pem -pubout");
    assert_ne!(
        old_key, new_key,
        "reuse_key true, but a revoked key is never reused"
    );
    common::wait_until("the hook ran for the new version", || {
        fs::read_to_string(&ran).is_ok_and(|t| t.contains(&new_serial))
    });
    let status = json_file(&m.path("prod/web/status.json"));
    assert_eq!(status["revoked"], serde_json::Value::Null);
    let versions = status["revoked_versions"].as_object().unwrap();
    assert_eq!(versions.len(), 1);
    let entry = versions.values().next().unwrap();
    assert_eq!(entry["serial_number"], serial.as_str());
    assert_eq!(entry["reason"], "keyCompromise");
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics.lines().any(|l| l
            .starts_with("certfs_certificate_revoked_versions{vault=\"prod\",certificate=\"web\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
    // The revoked record reads as the certificate, and stays after a remount.
    assert_eq!(
        fs::read(m.path(&format!("prod/issuers/corp/revoked/{serial}.pem"))).unwrap(),
        fs::read(m.root.path().join("old-web.pem")).unwrap()
    );
    m.remount();
    let crl = sh_ok(&m.mnt, "openssl crl -in prod/issuers/corp.crl -noout -text");
    assert!(crl.contains(&format!("Serial Number: {serial}")), "{crl}");
    assert!(!verify_with_crl(&m, "../old-web.pem").status.success());
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp/revoked"),
        format!("{serial}.pem\n")
    );
}

#[test]
fn a_mv_of_what_is_not_an_issued_serial_and_a_second_revocation_are_refused() {
    let m = Mount::start();
    vault_with_corp(&m);
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test"),
    )
    .unwrap();
    // Revoke a certificate whose policy does not renew it.
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test").replace(
            r#""issuer":{"name":"corp"}"#,
            r#""issuer":{"name":"corp"},"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"EmailContacts"}}]"#,
        ),
    )
    .unwrap();
    let serial = serial_of(&m, "web");
    let issued = m.path("prod/issuers/corp/issued");
    let revoked = m.path("prod/issuers/corp/revoked");
    // Not an issued serial: ENOENT (the name is not there).
    let e = fs::rename(issued.join("ABCDEF.pem"), revoked.join("ABCDEF.pem")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let err = sh_err(
        &m.mnt,
        "mv prod/issuers/corp/issued/ABCDEF.pem prod/issuers/corp/revoked/",
    );
    assert!(err.contains("No such file"), "{err}");
    // A file of one's own named like a revocation: refused, and the real
    // revocation below is not in its way.
    let e = fs::write(revoked.join(format!("{serial}.pem")), "not a revocation").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    assert!(!revoked.join(format!("{serial}.pem")).exists());
    // Into another name, or back out of revoked/: refused.
    let e = fs::rename(
        issued.join(format!("{serial}.pem")),
        revoked.join("other.pem"),
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    fs::rename(
        issued.join(format!("{serial}.pem")),
        revoked.join(format!("{serial}.pem")),
    )
    .unwrap();
    // Not renewed (EmailContacts): status.json says the current version is revoked.
    let status = json_file(&m.path("prod/web/status.json"));
    assert_eq!(status["serial_number"], serial.as_str());
    assert_eq!(status["revoked"]["reason"], "unspecified");
    assert!(status["revoked"]["at"].is_string(), "{status}");
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics.lines().any(|l| l
            .starts_with("certfs_certificate_revoked{vault=\"prod\",certificate=\"web\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
    // A second revocation of the same serial: it is no longer in issued/.
    let e = fs::rename(
        issued.join(format!("{serial}.pem")),
        revoked.join(format!("{serial}.pem")),
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let e = fs::rename(
        revoked.join(format!("{serial}.pem")),
        issued.join(format!("{serial}.pem")),
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    let e = fs::remove_file(revoked.join(format!("{serial}.pem"))).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    // The daemon and the store are whole: the CRL still lists it once, the certificate reads.
    let crl = sh_ok(&m.mnt, "openssl crl -in prod/issuers/corp.crl -noout -text");
    assert_eq!(
        crl.matches(&format!("Serial Number: {serial}")).count(),
        1,
        "{crl}"
    );
    assert!(m.path("prod/web/cert.pem").exists());
}

const CONSTRAINED: &str = r#"{"provider": "Internal", "ca": {"subject": "CN=Devices CA", "kty": "EC", "crv": "P-256"},
 "constraints": {"permitted_dns_domains": ["example.test"], "max_validity_days": 30},
 "crl": {"validity_hours": 24}}"#;

/// `openssl req` for `cn` (also its one DNS SAN) with a new key of `keyopts`, in `dir`: `<stem>.csr` and `<stem>.key`.
fn openssl_request(dir: &std::path::Path, stem: &str, cn: &str, keyopts: &str) {
    sh_ok(
        dir,
        &format!(
            "openssl req -new -newkey {keyopts} -nodes -keyout {stem}.key -out {stem}.csr \
             -subj /CN={cn} -addext subjectAltName=DNS:{cn} 2>/dev/null"
        ),
    );
}

const EC_KEY: &str = "ec -pkeyopt ec_paramgen_curve:P-256";

#[test]
fn sign_signs_csrs_within_the_constraints_and_refuses_the_rest() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/issuers/corp.json"), CONSTRAINED).unwrap();
    let ca = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/issuers/corp.pem -noout -text",
    );
    assert!(ca.contains("X509v3 Name Constraints"), "{ca}");
    assert!(ca.contains("DNS:example.test"), "{ca}");
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp"),
        "issued\nrevoked\nsign\n"
    );
    let work = m.root.path();
    openssl_request(work, "device1", "device1.example.test", EC_KEY);
    sh_ok(&m.mnt, "cp ../device1.csr prod/issuers/corp/sign/");
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers/corp/sign"), "device1.pem\n");
    let signed = m.path("prod/issuers/corp/sign/device1.pem");
    let text = fs::read_to_string(&signed).unwrap();
    assert_eq!(
        text.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf then chain"
    );
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile prod/issuers/corp.pem prod/issuers/corp/sign/device1.pem",
    );
    let leaf = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/issuers/corp/sign/device1.pem -noout -text -serial -enddate",
    );
    assert!(leaf.contains("DNS:device1.example.test"), "{leaf}");
    assert!(leaf.contains("TLS Web Client Authentication"), "{leaf}");
    // Its key is the requester's.
    assert_eq!(
        sh_ok(work, "openssl pkey -in device1.key -pubout"),
        sh_ok(
            &m.mnt,
            "openssl x509 -in prod/issuers/corp/sign/device1.pem -noout -pubkey"
        )
    );
    // Validity cut to max_validity_days.
    let end = sh_ok(
        &m.mnt,
        "date -d \"$(openssl x509 -in prod/issuers/corp/sign/device1.pem -noout -enddate | cut -d= -f2)\" +%s",
    );
    let now = sh_ok(&m.mnt, "date +%s");
    let days = (end.trim().parse::<i64>().unwrap() - now.trim().parse::<i64>().unwrap()) / 86_400;
    assert!((29..=30).contains(&days), "{days} days");
    let serial = leaf
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap()
        .to_owned();
    assert!(
        m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))
            .exists()
    );
    // DER is read too.
    openssl_request(work, "device2", "device2.example.test", EC_KEY);
    sh_ok(
        work,
        "openssl req -in device2.csr -outform DER -out device2.der.csr",
    );
    sh_ok(
        &m.mnt,
        "cp ../device2.der.csr prod/issuers/corp/sign/device2.csr",
    );
    assert!(m.path("prod/issuers/corp/sign/device2.pem").exists());
    // rm removes what was signed, not the record.
    sh_ok(&m.mnt, "rm prod/issuers/corp/sign/device1.pem");
    assert!(
        m.path(&format!("prod/issuers/corp/issued/{serial}.pem"))
            .exists()
    );
    // Refused: outside the constraints, a weak key, garbage, a truncated request.
    openssl_request(work, "evil", "evil.example.com", EC_KEY);
    openssl_request(work, "weak", "weak.example.test", "rsa:1024");
    sh_ok(
        work,
        "echo garbage > garbage.csr && head -c 200 device1.csr > truncated.csr",
    );
    for (stem, word) in [
        ("evil", "outside the issuer's constraints"),
        ("weak", "at least 2048"),
        ("garbage", "refused"),
        ("truncated", "refused"),
    ] {
        let err = sh_err(&m.mnt, &format!("cp ../{stem}.csr prod/issuers/corp/sign/"));
        assert!(err.contains("Invalid argument"), "{stem}: {err}");
        let report =
            fs::read_to_string(m.path(&format!("prod/issuers/corp/sign/{stem}.csr.error")))
                .unwrap();
        assert!(report.contains(word), "{stem}: {report}");
        assert!(
            !m.path(&format!("prod/issuers/corp/sign/{stem}.pem"))
                .exists()
        );
        assert!(
            !m.path(&format!("prod/issuers/corp/sign/{stem}.csr"))
                .exists()
        );
    }
    // The constraints hold for the vault's own policies too.
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.root.path().join("outside.json"),
        web_policy("web.example.com"),
    )
    .unwrap();
    let err = sh_err(&m.mnt, "cp ../outside.json prod/web/policy.json");
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
    assert!(
        report.contains("outside the issuer's constraints"),
        "{report}"
    );
    // A common name that is a host name, dot or no dot, is one of them.
    let dotless = web_policy("web.example.test").replace("CN=web.example.test", "CN=intranet");
    assert!(dotless.contains("CN=intranet"), "{dotless}");
    fs::write(m.root.path().join("dotless.json"), dotless).unwrap();
    let err = sh_err(&m.mnt, "cp ../dotless.json prod/web/policy.json");
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/web/policy.json.error")).unwrap();
    assert!(report.contains("intranet"), "{report}");
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test"),
    )
    .unwrap();
    let status = json_file(&m.path("prod/web/status.json"));
    assert_eq!(
        status["days_left"].as_i64().map(|d| d <= 30),
        Some(true),
        "{status}"
    );
    // The daemon is whole: the issued list holds the three it signed.
    assert_eq!(
        sh_ok(&m.mnt, "ls prod/issuers/corp/issued | wc -l").trim(),
        "3"
    );
}

#[test]
fn nginx_accepts_a_client_certificate_signed_through_sign_until_it_is_revoked() {
    if common::nginx::require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/issuers/corp.json"), CONSTRAINED).unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test"),
    )
    .unwrap();
    let work = m.root.path();
    openssl_request(work, "client", "client.example.test", EC_KEY);
    sh_ok(
        &m.mnt,
        "cp ../client.csr prod/issuers/corp/sign/ && cp prod/issuers/corp/sign/client.pem ../client.pem",
    );
    let issuers = m.path("prod/issuers");
    let nginx = common::nginx::Nginx::start_with(
        &work.join("nginx"),
        &m.path("prod/web"),
        &format!(
            "ssl_verify_client on; ssl_client_certificate {0}/corp.pem; ssl_crl {0}/corp.crl;",
            issuers.display()
        ),
    );
    let curl = |with_cert: bool| {
        let cert = if with_cert {
            "--cert client.pem --key client.key"
        } else {
            ""
        };
        sh_ok(
            work,
            &format!(
                "curl -sS --cacert {}/corp.pem --resolve web.example.test:{1}:127.0.0.1 {cert} https://web.example.test:{1}/",
                issuers.display(),
                nginx.port
            ),
        )
    };
    assert_eq!(curl(true), "served by nginx from certfs\n");
    let refused = curl(false);
    assert!(
        refused.contains("No required SSL certificate was sent"),
        "{refused}"
    );
    let serial = sh_ok(work, "openssl x509 -in client.pem -noout -serial");
    let serial = serial.trim().strip_prefix("serial=").unwrap().to_owned();
    sh_ok(
        &m.mnt,
        &format!(
            "echo keyCompromise > prod/issuers/corp/revoked/{serial}.reason && \
             mv prod/issuers/corp/issued/{serial}.pem prod/issuers/corp/revoked/"
        ),
    );
    nginx.reload();
    let refused = curl(true);
    assert!(refused.contains("The SSL certificate error"), "{refused}");
    // What nginx refused is what openssl refuses with the mount's CRL.
    let out = common::sh_in(
        work,
        &format!(
            "openssl verify -crl_check -CAfile {0}/corp.pem -CRLfile {0}/corp.crl client.pem",
            issuers.display()
        ),
    );
    assert!(!out.status.success(), "{out:?}");
}

#[test]
fn an_issuing_ca_under_a_corporate_root_signs_leaves_that_chain_to_that_root() {
    let m = Mount::start();
    let work = m.root.path();
    // The corporate root, made with openssl outside certfs.
    sh_ok(
        work,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout root.key -out root.pem \
         -subj '/CN=Corp Offline Root' -days 3650 \
         -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null",
    );
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/inter")).unwrap();
    fs::write(
        work.join("inter.json"),
        r#"{"key_props":{"kty":"EC","crv":"P-256"},
 "x509_props":{"subject":"CN=Corp Issuing CA","key_usage":["keyCertSign","cRLSign","digitalSignature"],"ekus":[],
   "basic_constraints":{"ca":true,"path_len":0}},
 "issuer":{"name":"Unknown"}}"#,
    )
    .unwrap();
    let written = common::sh_in(&m.mnt, "cp ../inter.json prod/inter/policy.json");
    assert!(
        written.status.success(),
        "{}",
        fs::read_to_string(m.path("prod/inter/policy.json.error")).unwrap_or_default()
    );
    let csr = sh_ok(
        &m.mnt,
        "openssl req -in prod/inter/request.csr -noout -text",
    );
    assert!(csr.contains("CA:TRUE, pathlen:0"), "{csr}");
    // The root signs the CSR; the signed CA is merged.
    fs::write(
        work.join("ca.ext"),
        "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    sh_ok(
        &m.mnt,
        "openssl x509 -req -in prod/inter/request.csr -CA ../root.pem -CAkey ../root.key -CAcreateserial \
         -days 365 -extfile ../ca.ext -out ../inter.pem 2>/dev/null && cat ../inter.pem ../root.pem > ../inter-chain.pem \
         && cp ../inter-chain.pem prod/inter/merge/signed.pem",
    );
    assert!(m.path("prod/inter/cert.pem").exists());
    // A certificate that is no CA is refused as an issuer's CA.
    fs::create_dir(m.path("prod/plain")).unwrap();
    fs::write(
        m.path("prod/plain/policy.json"),
        r#"{"x509_props":{"subject":"CN=plain.example.test"},"issuer":{"name":"Self"}}"#,
    )
    .unwrap();
    fs::write(
        work.join("bad.json"),
        r#"{"provider":"Internal","ca":{"certificate":"plain"}}"#,
    )
    .unwrap();
    let err = sh_err(&m.mnt, "cp ../bad.json prod/issuers/bad.json");
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/issuers/bad.json.error")).unwrap();
    assert!(report.contains("not a CA certificate"), "{report}");
    // The issuer signs with the merged CA.
    fs::write(
        m.path("prod/issuers/issuing.json"),
        r#"{"provider":"Internal","ca":{"certificate":"inter"}}"#,
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(m.path("prod/issuers/issuing.pem")).unwrap(),
        fs::read_to_string(work.join("inter-chain.pem")).unwrap()
    );
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        web_policy("web.example.test").replace("corp", "issuing"),
    )
    .unwrap();
    // Leaves verify against the root alone, through the issuing CA.
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile ../root.pem -untrusted prod/web/chain.pem prod/web/cert.pem",
    );
    let out = common::sh_in(
        &m.mnt,
        "openssl verify -CAfile ../root.pem prod/web/cert.pem",
    );
    assert!(!out.status.success(), "not without the issuing CA");
    let issuer = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -issuer");
    assert!(issuer.contains("Corp Issuing CA"), "{issuer}");
    // Its CRL is signed by the issuing CA; a CSR through sign/ chains the same way.
    sh_ok(
        &m.mnt,
        "openssl verify -crl_check -CAfile ../root.pem -untrusted prod/issuers/issuing.pem \
         -CRLfile prod/issuers/issuing.crl prod/web/cert.pem",
    );
    openssl_request(work, "dev", "dev.example.test", EC_KEY);
    sh_ok(&m.mnt, "cp ../dev.csr prod/issuers/issuing/sign/");
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile ../root.pem -untrusted prod/issuers/issuing/sign/dev.pem prod/issuers/issuing/sign/dev.pem",
    );
}

#[test]
fn a_fleet_on_one_database_shares_what_was_issued_and_revoked() {
    let server = common::postgres::PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    let keys = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(keys.path(), 0x5a);
    let args = ["--store", url.as_str(), "--key-file", key_file.as_str()];
    let a = Mount::start_with_args(&args);
    let b = Mount::start_with_args(&args);
    vault_with_corp(&a);
    common::wait_until("b sees the issuer", || {
        b.path("prod/issuers/corp.pem").exists()
    });
    // Both issue through the same issuer: neither record is lost.
    for (m, cert) in [(&a, "web"), (&b, "api")] {
        fs::create_dir(m.path(&format!("prod/{cert}"))).unwrap();
        fs::write(
            m.path(&format!("prod/{cert}/policy.json")),
            web_policy(&format!("{cert}.example.test")),
        )
        .unwrap();
    }
    let web = serial_of(&a, "web");
    let api = serial_of(&b, "api");
    for m in [&a, &b] {
        common::wait_until("both records are listed", || {
            let listed = sh_ok(&m.mnt, "ls prod/issuers/corp/issued");
            listed.contains(&web) && listed.contains(&api)
        });
    }
    // A revokes; B's CRL lists it.
    sh_ok(
        &a.mnt,
        &format!("mv prod/issuers/corp/issued/{api}.pem prod/issuers/corp/revoked/"),
    );
    common::wait_until("b's CRL lists what a revoked", || {
        sh_ok(&b.mnt, "openssl crl -in prod/issuers/corp.crl -noout -text")
            .contains(&format!("Serial Number: {api}"))
    });
    assert!(
        b.path(&format!("prod/issuers/corp/revoked/{api}.pem"))
            .exists()
    );
}
