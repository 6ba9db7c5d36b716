//! `import/`: PEM and PFX files dropped into a vault become versions of the certificate named by their stem; passwords, and refusals with a report.

use super::*;
use crate::pki::{pem, pkcs12, x509};

/// A self-signed certificate for `cn` and its key.
fn self_signed(cn: &str) -> (PrivateKey, Vec<u8>) {
    let key = ec_key();
    let der = x509::self_signed(&spec(cn), &key).unwrap();
    (key, der)
}

/// PEM text with the certificate, then the PKCS#8 key.
fn pem_file(key: &PrivateKey, der: &[u8]) -> Vec<u8> {
    let mut text = pem::encode("CERTIFICATE", der);
    text.push_str(&key.to_pkcs8_pem());
    text.into_bytes()
}

/// A PFX of `key` and `der` protected by `password` (AES-256, PBKDF2).
fn pfx_with_password(key: &PrivateKey, der: &[u8], password: &str) -> Vec<u8> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
    let chain = vec![Certificate::from_der(der).unwrap()];
    let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der()).unwrap();
    let id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut store = KeyStore::new();
    store.add_entry(
        "site",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(id.as_ref(), p12_key, chain)),
    );
    store.writer(password).write().unwrap()
}

#[test]
fn a_pem_with_a_pkcs8_key_makes_a_certificate_with_that_certificate() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    let (key, der) = self_signed("site");
    write(&s, "prod/import/site.pem", &pem_file(&key, &der)).unwrap();

    assert!(names(&s, "prod/import").is_empty(), "the dropped file goes");
    assert!(lists(&s, "prod", "site"));
    assert_eq!(versions(&s, "prod/site").len(), 1);
    let leaf = assert_served_pair(&s, "prod/site");
    assert_eq!(leaf, der, "the certificate imported, byte for byte");
    assert_eq!(
        private_key(&read(&s, "prod/site/privkey.pem")).public_key_der(),
        key.public_key_der()
    );
    // The policy Key Vault derives from it.
    let policy = read_json(&s, "prod/site/policy.json");
    assert_eq!(policy["issuer"]["name"], "Unknown");
    assert_eq!(policy["x509_props"]["subject"], "CN=site");
    assert_eq!(
        policy["secret_props"]["contentType"],
        "application/x-pem-file"
    );
    assert_eq!(policy["key_props"]["kty"], "EC");

    // Another import of the same name is a new version (key first this time).
    let (key2, der2) = self_signed("site");
    let mut text = key2.to_pkcs8_pem().to_string();
    text.push_str(&pem::encode("CERTIFICATE", &der2));
    write(&s, "prod/import/site.pem", text.as_bytes()).unwrap();
    assert_eq!(versions(&s, "prod/site").len(), 2);
    assert_eq!(assert_served_pair(&s, "prod/site"), der2);
    // It survives a reopen.
    drop(s);
    let s = service(&db);
    assert_eq!(read(&s, "prod/site/cert.cer"), der2);
    assert_eq!(versions(&s, "prod/site").len(), 2);
}

#[test]
fn a_pfx_round_trips_through_import_and_cert_pfx() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    let (key, der) = self_signed("site");
    let pfx = pkcs12::export(&key, std::slice::from_ref(&der), "site").unwrap();
    write(&s, "prod/import/site.pfx", &pfx).unwrap();

    assert_eq!(assert_served_pair(&s, "prod/site"), der);
    let policy = read_json(&s, "prod/site/policy.json");
    assert_eq!(
        policy["secret_props"]["contentType"],
        "application/x-pkcs12"
    );
    // cert.pfx holds the same key and certificate, without a password.
    let exported = read(&s, "prod/site/cert.pfx");
    let (back_key, chain) = pkcs12::import(&exported, "").unwrap();
    assert_eq!(back_key.public_key_der(), key.public_key_der());
    assert_eq!(chain, vec![der.clone()]);
    // And it imports again as it is (.p12 too).
    write(&s, "prod/import/copy.p12", &exported).unwrap();
    assert_eq!(assert_served_pair(&s, "prod/copy"), der);
    assert!(names(&s, "prod/import").is_empty());
}

#[test]
fn a_password_is_needed_and_a_wrong_one_is_refused_with_a_report() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    let (key, der) = self_signed("site");
    let pfx = pfx_with_password(&key, &der, "s3cret");

    // No password.
    let refused = write(&s, "prod/import/site.pfx", &pfx).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    assert_eq!(
        names(&s, "prod/import"),
        ["site.pfx.error"],
        "the drop goes, its report stays"
    );
    let (code, message) = report(&s, "prod/import/site.pfx");
    assert_eq!(code, "BadParameter");
    assert!(message.contains("password"), "{message}");
    assert!(!exists(&s, "prod/site"));

    // A wrong one: refused, and kept for a retry.
    write(&s, "prod/import/site.password", b"wrong\n").unwrap();
    let refused = write(&s, "prod/import/site.pfx", &pfx).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    let (_, message) = report(&s, "prod/import/site.pfx");
    assert!(message.contains("password is wrong"), "{message}");
    assert!(lists(&s, "prod/import", "site.password"));
    assert!(!exists(&s, "prod/site"));

    // The right one (a trailing newline is ignored): imported, password
    // consumed, the report over.
    write(&s, "prod/import/site.password", b"s3cret\n").unwrap();
    write(&s, "prod/import/site.pfx", &pfx).unwrap();
    assert!(
        names(&s, "prod/import").is_empty(),
        "{:?}",
        names(&s, "prod/import")
    );
    assert_eq!(assert_served_pair(&s, "prod/site"), der);
}

#[test]
fn garbage_and_incomplete_files_are_refused_each_with_its_report() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    let (key, der) = self_signed("site");
    let (other_key, _) = self_signed("other");
    let cert_only = pem::encode("CERTIFICATE", &der).into_bytes();
    let key_only = key.to_pkcs8_pem().as_bytes().to_vec();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "junk.pem",
            b"hello, this is not a certificate".to_vec(),
            "junk",
        ),
        ("junk.pfx", vec![0x30, 0x03, 0x02, 0x01, 0x03], "junk"),
        ("nokey.pem", cert_only, "nokey"),
        ("nocert.pem", key_only, "nocert"),
        ("mismatch.pem", pem_file(&other_key, &der), "mismatch"),
    ];
    for (file, data, cert) in cases {
        let path = format!("prod/import/{file}");
        let refused = write(&s, &path, &data).unwrap_err();
        assert!(
            matches!(refused, VaultError::BadParameter(_)),
            "{file}: {refused}"
        );
        assert!(!lists(&s, "prod/import", file), "{file} goes");
        let (code, message) = report(&s, &path);
        assert_eq!(code, "BadParameter", "{file}");
        assert_eq!(message, refused.message(), "{file}");
        assert!(!exists(&s, &format!("prod/{cert}")), "{file} made nothing");
    }
    // Every refusal said something of its own.
    let messages: std::collections::BTreeSet<String> =
        ["junk.pem", "nokey.pem", "nocert.pem", "mismatch.pem"]
            .iter()
            .map(|f| report(&s, &format!("prod/import/{f}")).1)
            .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    // A name that is no certificate name, and an extension import/ does not take.
    let bad_name = write(&s, "prod/import/bad_name.pem", &pem_file(&key, &der)).unwrap_err();
    assert!(
        matches!(bad_name, VaultError::BadParameter(_)),
        "{bad_name}"
    );
    let bad_ext = write(&s, "prod/import/site.txt", &pem_file(&key, &der)).unwrap_err();
    assert!(matches!(bad_ext, VaultError::BadParameter(_)), "{bad_ext}");
    assert!(!exists(&s, "prod/site"));
    // Still, the good file imports.
    write(&s, "prod/import/site.pem", &pem_file(&key, &der)).unwrap();
    assert_eq!(read(&s, "prod/site/cert.cer"), der);
}
