//! A private PKI through the mount (SPEC §9): Key Vault's own policy and issuer documents pasted as they are, issued/ and revoked/ folders, CRLs checked by openssl, CSRs signed through sign/.

mod common;

use std::fs;

use common::{Mount, json_file};

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
