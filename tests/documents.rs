//! A vault's own documents on a real mount: contacts.json and issuers/<name>.json, with secrets never read back or logged.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{Mount, ec_policy, sh_err, sh_in, sh_ok};

const DIGI: &str = r#"{"provider":"DigiCert","credentials":{"account_id":"123456","pwd":"s3cr3t-api-key-XYZ"},"org_details":{"id":"7890"}}"#;

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn contacts_are_set_validated_and_removed() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    assert!(
        !m.path("prod/contacts.json").exists(),
        "no contacts until set"
    );
    sh_ok(
        &m.mnt,
        r#"cat > prod/contacts.json <<'J'
{"contacts":[{"email":"ops@contoso.com","name":"Ops","phone":"+1 425 555 0100"}]}
J"#,
    );
    let back = json(&fs::read(m.path("prod/contacts.json")).unwrap());
    assert_eq!(back["contacts"][0]["email"], "ops@contoso.com");
    let src = m.root.path().join("bad.json");
    fs::write(&src, r#"{"contacts":[{"email":"not-an-address"}]}"#).unwrap();
    let err = sh_err(&m.mnt, &format!("cp {} prod/contacts.json", src.display()));
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/contacts.json.error")).unwrap();
    assert!(report.contains("e-mail"), "{report}");
    assert_eq!(
        json(&fs::read(m.path("prod/contacts.json")).unwrap()),
        back,
        "unchanged"
    );
    m.remount();
    assert_eq!(json(&fs::read(m.path("prod/contacts.json")).unwrap()), back);
    sh_ok(&m.mnt, "rm prod/contacts.json");
    assert!(!m.path("prod/contacts.json").exists());
    m.remount();
    assert!(
        !m.path("prod/contacts.json").exists(),
        "the removal is stored"
    );
}

#[test]
fn issuers_are_stored_listed_and_their_secrets_never_read_back() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    sh_ok(
        &m.mnt,
        &format!("cat > prod/issuers/digi.json <<'J'\n{DIGI}\nJ"),
    );
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers"), "digi\ndigi.json\n");
    let meta = fs::metadata(m.path("prod/issuers/digi.json")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    let shown = fs::read_to_string(m.path("prod/issuers/digi.json")).unwrap();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let v = json(shown.as_bytes());
    assert_eq!(v["provider"], "DigiCert");
    assert!(v["credentials"]["pwd"].is_null());
    assert_eq!(v["credentials"]["account_id"], "123456");
    // Read, edited and written back: accepted, so the stored API key was kept
    // (DigiCert issuers need one).
    sh_ok(&m.mnt, "sed -i 's/7890/7891/' prod/issuers/digi.json");
    assert_eq!(
        json(&fs::read(m.path("prod/issuers/digi.json")).unwrap())["org_details"]["id"],
        "7891"
    );
    m.remount();
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers"), "digi\ndigi.json\n");
    assert!(
        !fs::read_to_string(m.path("prod/issuers/digi.json"))
            .unwrap()
            .contains("s3cr3t")
    );
    assert!(
        !m.logs().contains("s3cr3t"),
        "the secret never reaches the log"
    );
    sh_ok(&m.mnt, "rm prod/issuers/digi.json");
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers"), "");
}

#[test]
fn bad_issuers_are_refused_with_their_reason() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    for (file, content, word) in [
        (
            "digi.json",
            r#"{"provider":"DigiCert","credentials":{"account_id":"1","pwd":"k"}}"#,
            "org_details.id",
        ),
        (
            "gs.json",
            r#"{"provider":"GlobalSign","credentials":{"account_id":"1","pwd":"p"}}"#,
            "administrator",
        ),
        ("acme.json", r#"{"provider":"ACME"}"#, "directory URL"),
        ("other.json", r#"{"provider":"Venafi"}"#, "Unknown provider"),
        ("junk.json", "junk", "IssuerBundle"),
    ] {
        let src = m.root.path().join("issuer.json");
        fs::write(&src, content).unwrap();
        let err = sh_err(&m.mnt, &format!("cp {} prod/issuers/{file}", src.display()));
        assert!(err.contains("Invalid argument"), "{file}: {err}");
        let report = fs::read_to_string(m.path(&format!("prod/issuers/{file}.error"))).unwrap();
        assert!(report.contains(word), "{file}: {report}");
    }
    let out = sh_in(
        &m.mnt,
        &format!("cat > prod/issuers/Self.json <<'J'\n{DIGI}\nJ"),
    );
    assert!(!out.status.success());
    assert_eq!(sh_ok(&m.mnt, "ls prod/issuers | grep -v error || true"), "");
}

#[test]
fn policies_name_issuers_that_exist() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/shop")).unwrap();
    let policy = ec_policy("shop").replace("\"Self\"", "\"digi\"");
    let src = m.root.path().join("policy.json");
    fs::write(&src, &policy).unwrap();
    sh_err(
        &m.mnt,
        &format!("cp {} prod/shop/policy.json", src.display()),
    );
    assert!(
        fs::read_to_string(m.path("prod/shop/policy.json.error"))
            .unwrap()
            .contains("Issuer not found: digi")
    );
    // A disabled issuer refuses new creates.
    let disabled = DIGI.replace(
        r#""org_details":{"id":"7890"}}"#,
        r#""org_details":{"id":"7890"},"attributes":{"enabled":false}}"#,
    );
    fs::write(m.path("prod/issuers/digi.json"), disabled).unwrap();
    let err = sh_err(
        &m.mnt,
        &format!("cp {} prod/shop/policy.json", src.display()),
    );
    assert!(err.contains("Permission denied"), "{err}");
    assert!(
        fs::read_to_string(m.path("prod/shop/policy.json.error"))
            .unwrap()
            .contains("disabled")
    );
    // Enabled (and pointing at a port where no CA listens, so nothing leaves
    // the machine): the create is accepted and the order is in progress.
    let enabled = DIGI.replace(
        r#""org_details":{"id":"7890"}}"#,
        r#""org_details":{"id":"7890"},"endpoint":"http://127.0.0.1:9/services/v2"}"#,
    );
    fs::write(m.path("prod/issuers/digi.json"), enabled).unwrap();
    sh_ok(
        &m.mnt,
        &format!("cp {} prod/shop/policy.json", src.display()),
    );
    let op = fs::read_to_string(m.path("prod/shop/operation.json")).unwrap();
    assert!(
        op.contains("\"inProgress\"") && op.contains("\"digi\""),
        "{op}"
    );
}

#[test]
fn new_documents_saved_by_rename_are_documents() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.root.path().join("digi.json"), DIGI).unwrap();
    fs::write(
        m.root.path().join("contacts.json"),
        r#"{"contacts":[{"email":"ops@contoso.com"}]}"#,
    )
    .unwrap();
    // rsync writes a hidden temporary file, then renames it to the name.
    sh_ok(
        &m.mnt,
        "rsync ../digi.json prod/issuers/digi.json && rsync ../contacts.json prod/contacts.json",
    );
    let issuer = json(&fs::read(m.path("prod/issuers/digi.json")).unwrap());
    assert_eq!(issuer["provider"], "DigiCert");
    assert!(
        !serde_json::to_string(&issuer).unwrap().contains("s3cr3t"),
        "{issuer}"
    );
    let contacts = json(&fs::read(m.path("prod/contacts.json")).unwrap());
    assert_eq!(contacts["contacts"][0]["email"], "ops@contoso.com");
    // And a scratch file moved onto a new issuer name by hand.
    sh_ok(
        &m.mnt,
        "cp ../digi.json prod/issuers/.other.tmp && mv prod/issuers/.other.tmp prod/issuers/other.json",
    );
    assert_eq!(
        json(&fs::read(m.path("prod/issuers/other.json")).unwrap())["provider"],
        "DigiCert"
    );
    assert!(!m.path("prod/issuers/.other.tmp").exists());
}
