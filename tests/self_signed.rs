//! Self-signed certificates from policy.json, checked with openssl and Python on a real mount.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{Mount, WEB_POLICY, ec_policy, sh_ok};

fn create_web(m: &Mount) {
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), WEB_POLICY).unwrap();
}

#[test]
fn the_issue_example_works_end_to_end() {
    let m = Mount::start();
    create_web(&m);
    let text = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -text");
    assert!(text.contains("CN = web.example.com"), "{text}");
    assert!(text.contains("O = \"Contoso, Inc.\""), "{text}");
    assert!(text.contains("DNS:web.example.com"), "{text}");
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    // Key and certificate match.
    let cert_pub = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -pubkey");
    let key_pub = sh_ok(&m.mnt, "openssl pkey -in prod/web/privkey.pem -pubout");
    assert_eq!(cert_pub, key_pub);
    // The chain of a self-signed certificate is empty; fullchain is the leaf.
    assert_eq!(fs::read(m.path("prod/web/chain.pem")).unwrap(), b"");
    assert_eq!(
        fs::read(m.path("prod/web/fullchain.pem")).unwrap(),
        fs::read(m.path("prod/web/cert.pem")).unwrap()
    );
    // cert.cer is the DER of cert.pem.
    let der = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/web/cert.cer -inform DER -outform PEM",
    );
    assert_eq!(
        der.as_bytes(),
        fs::read(m.path("prod/web/cert.pem")).unwrap()
    );
    // bundle.pem is the key then the full chain.
    let mut bundle = fs::read(m.path("prod/web/privkey.pem")).unwrap();
    bundle.extend(fs::read(m.path("prod/web/fullchain.pem")).unwrap());
    assert_eq!(fs::read(m.path("prod/web/bundle.pem")).unwrap(), bundle);
}

#[test]
fn listing_shows_every_export_file_with_sizes_equal_to_reads() {
    let m = Mount::start();
    create_web(&m);
    let mut names: Vec<String> = fs::read_dir(m.path("prod/web"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, common::CERT_FILES);
    for name in &names {
        let path = m.path(&format!("prod/web/{name}"));
        let meta = fs::metadata(&path).unwrap();
        if meta.is_file() {
            assert_eq!(
                meta.len() as usize,
                fs::read(&path).unwrap().len(),
                "{name}"
            );
        }
    }
    let mode = |n: &str| {
        fs::metadata(m.path(&format!("prod/web/{n}")))
            .unwrap()
            .mode()
            & 0o777
    };
    assert_eq!(mode("privkey.pem"), 0o600);
    assert_eq!(mode("cert.pem"), 0o444);
    assert_eq!(mode("policy.json"), 0o644);
}

#[test]
fn versions_hold_every_version_and_the_top_level_shows_the_newest() {
    let m = Mount::start();
    create_web(&m);
    let first = fs::read(m.path("prod/web/cert.pem")).unwrap();
    fs::write(m.path("prod/web/policy.json"), WEB_POLICY).unwrap();
    let second = fs::read(m.path("prod/web/cert.pem")).unwrap();
    assert_ne!(first, second);
    let versions: Vec<String> = fs::read_dir(m.path("prod/web/versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(versions.len(), 2);
    for v in &versions {
        assert_eq!(v.len(), 32);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    let mut found = Vec::new();
    for v in &versions {
        found.push(fs::read(m.path(&format!("prod/web/versions/{v}/cert.pem"))).unwrap());
        let files = fs::read_dir(m.path(&format!("prod/web/versions/{v}")))
            .unwrap()
            .count();
        assert_eq!(files, 8, "a version shows its eight files");
    }
    assert!(found.contains(&first) && found.contains(&second));
    // mtime of a certificate file is its version's creation time, stable across reads.
    let a = fs::metadata(m.path("prod/web/cert.pem")).unwrap().mtime();
    let b = fs::metadata(m.path("prod/web/privkey.pem"))
        .unwrap()
        .mtime();
    assert_eq!(a, b);
}

#[test]
fn pfx_opens_with_openssl_3_without_legacy_and_with_python() {
    let m = Mount::start();
    create_web(&m);
    let out = sh_ok(
        &m.mnt,
        "openssl pkcs12 -in prod/web/cert.pfx -passin pass: -nodes 2>&1",
    );
    assert!(
        out.contains("BEGIN PRIVATE KEY") && out.contains("BEGIN CERTIFICATE"),
        "{out}"
    );
    let script = r#"python3 - <<'PY'
from cryptography.hazmat.primitives.serialization import pkcs12
data = open("prod/web/cert.pfx", "rb").read()
for pw in (None, b""):
    k, c, extra = pkcs12.load_key_and_certificates(data, pw)
    assert k is not None and c is not None
print(c.subject.rfc4514_string())
PY"#;
    let py = sh_ok(&m.mnt, script);
    assert!(py.contains("CN=web.example.com"), "{py}");
}

#[test]
fn every_key_type_is_generated() {
    let m = Mount::start();
    fs::create_dir(m.path("keys")).unwrap();
    let cases = [
        ("rsa2048", r#"{"kty":"RSA","key_size":2048}"#, "2048 bit"),
        ("rsa3072", r#"{"kty":"RSA","key_size":3072}"#, "3072 bit"),
        (
            "rsa4096",
            r#"{"kty":"RSA-HSM","key_size":4096}"#,
            "4096 bit",
        ),
        ("p256", r#"{"kty":"EC","crv":"P-256"}"#, "prime256v1"),
        ("p384", r#"{"kty":"EC","crv":"P-384"}"#, "secp384r1"),
        ("p521", r#"{"kty":"EC-HSM","crv":"P-521"}"#, "secp521r1"),
    ];
    for (name, key, expect) in cases {
        fs::create_dir(m.path(&format!("keys/{name}"))).unwrap();
        let policy = format!(
            r#"{{"key_props":{key},"x509_props":{{"subject":"CN={name}"}},"issuer":{{"name":"Self"}}}}"#
        );
        fs::write(m.path(&format!("keys/{name}/policy.json")), policy).unwrap();
        let text = sh_ok(
            &m.mnt,
            &format!("openssl x509 -in keys/{name}/cert.pem -noout -text"),
        );
        assert!(text.contains(expect), "{name}: {text}");
        let cert_pub = sh_ok(
            &m.mnt,
            &format!("openssl x509 -in keys/{name}/cert.pem -noout -pubkey"),
        );
        let key_pub = sh_ok(
            &m.mnt,
            &format!("openssl pkey -in keys/{name}/privkey.pem -pubout"),
        );
        assert_eq!(cert_pub, key_pub, "{name}");
        sh_ok(
            &m.mnt,
            &format!("openssl verify -CAfile keys/{name}/cert.pem keys/{name}/cert.pem"),
        );
        // An -HSM key is a software key too, and certfs says so.
        let status: serde_json::Value =
            serde_json::from_slice(&fs::read(m.path(&format!("keys/{name}/status.json"))).unwrap())
                .unwrap();
        assert_eq!(status["key_storage"], "software", "{name}");
        if key.contains("-HSM") {
            assert!(
                m.logs()
                    .contains(&format!("keys/{name}: the policy asks for an HSM key")),
                "{name}: the log says so"
            );
        }
    }
}

#[test]
fn subject_sans_ekus_and_key_usage_follow_the_policy() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/api")).unwrap();
    let policy = r#"{"key_props":{"kty":"EC","crv":"P-384"},
      "x509_props":{"subject":"CN=api, OU=Docs\\, Contoso, OU=Web, O=\"Contoso, Inc.\", C=US",
        "sans":{"dns_names":["api.example.com","*.api.example.com"],"emails":["ops@example.com"],
                "upns":["svc@example.com"],"ip_addresses":["10.0.0.7","::1"],"uris":["spiffe://example.com/api"]},
        "ekus":["1.3.6.1.5.5.7.3.1"],"key_usage":["digitalSignature"],"validity_months":3},
      "issuer":{"name":"Self"}}"#;
    fs::write(m.path("prod/api/policy.json"), policy).unwrap();
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/api/cert.pem -noout -text -nameopt RFC2253",
    );
    assert!(text.contains("OU=Docs\\, Contoso"), "{text}");
    assert!(text.contains("OU=Web"), "{text}");
    assert!(text.contains("O=Contoso\\, Inc."), "{text}");
    for san in [
        "DNS:api.example.com",
        "DNS:*.api.example.com",
        "email:ops@example.com",
        "IP Address:10.0.0.7",
        "URI:spiffe://example.com/api",
    ] {
        assert!(text.contains(san), "{san}: {text}");
    }
    assert!(
        text.contains("TLS Web Server Authentication") && !text.contains("Client Authentication"),
        "{text}"
    );
    assert!(
        text.contains("Digital Signature") && !text.contains("Key Encipherment"),
        "{text}"
    );
    // Three months of validity.
    let dates = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/api/cert.pem -noout -startdate -enddate",
    );
    let parse = |p: &str| {
        let line = dates.lines().find(|l| l.starts_with(p)).unwrap();
        sh_ok(&m.mnt, &format!("date -d '{}' +%s", &line[p.len()..]))
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let days = (parse("notAfter=") - parse("notBefore=")) / 86400;
    assert!((88..=93).contains(&days), "{days} days");
}

#[test]
fn policy_json_reads_back_in_the_rest_shape_with_defaults() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web")).unwrap();
    let back: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/web/policy.json")).unwrap()).unwrap();
    assert_eq!(back["key_props"]["kty"], "EC");
    assert_eq!(back["key_props"]["exportable"], true);
    assert_eq!(back["x509_props"]["validity_months"], 12);
    assert_eq!(back["issuer"]["name"], "Self");
    assert_eq!(
        back["lifetime_actions"][0]["action"]["action_type"],
        "AutoRenew"
    );
    assert_eq!(
        back["lifetime_actions"][0]["trigger"]["lifetime_percentage"],
        80
    );
}

#[test]
fn non_exportable_keys_have_no_key_files() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/locked")).unwrap();
    let policy = r#"{"key_props":{"kty":"EC","exportable":false},"x509_props":{"subject":"CN=locked"},"issuer":{"name":"Self"}}"#;
    fs::write(m.path("prod/locked/policy.json"), policy).unwrap();
    assert!(m.path("prod/locked/cert.pem").exists());
    for f in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        assert!(!m.path(&format!("prod/locked/{f}")).exists(), "{f}");
    }
}

#[test]
fn everything_survives_a_remount() {
    let mut m = Mount::start();
    create_web(&m);
    fs::write(m.path("prod/web/tags.json"), r#"{"env":"prod"}"#).unwrap();
    let cert = fs::read(m.path("prod/web/cert.pem")).unwrap();
    let key = fs::read(m.path("prod/web/privkey.pem")).unwrap();
    let ino = fs::metadata(m.path("prod/web/cert.pem")).unwrap().ino();
    assert_eq!(
        ino,
        fs::metadata(m.path("prod/web/cert.pem")).unwrap().ino(),
        "inodes are stable while mounted"
    );
    m.remount();
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), cert);
    assert_eq!(fs::read(m.path("prod/web/privkey.pem")).unwrap(), key);
    let tags: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("prod/web/tags.json")).unwrap()).unwrap();
    assert_eq!(tags["env"], "prod");
}

#[test]
fn a_later_exportable_policy_does_not_expose_an_earlier_non_exportable_key() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/locked")).unwrap();
    let locked = r#"{"key_props":{"kty":"EC","exportable":false,"reuse_key":true},"x509_props":{"subject":"CN=locked"},"issuer":{"name":"Self"}}"#;
    fs::write(m.path("prod/locked/policy.json"), locked).unwrap();
    let first: Vec<String> = fs::read_dir(m.path("prod/locked/versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let open = locked.replace("\"exportable\":false", "\"exportable\":true");
    fs::write(m.path("prod/locked/policy.json"), open).unwrap();
    // The new version's key is exportable, and is not the locked one (no reuse across).
    let key = sh_ok(&m.mnt, "openssl pkey -in prod/locked/privkey.pem -pubout");
    let old_cert_key = sh_ok(
        &m.mnt,
        &format!(
            "openssl x509 -in prod/locked/versions/{}/cert.pem -noout -pubkey",
            first[0]
        ),
    );
    assert_ne!(
        key, old_cert_key,
        "a non-exportable key is not carried into an exportable version"
    );
    for f in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        assert!(
            !m.path(&format!("prod/locked/versions/{}/{f}", first[0]))
                .exists(),
            "the first version's {f} stays hidden"
        );
    }
}
