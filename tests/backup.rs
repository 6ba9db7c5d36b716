//! backup.blob and restore/: a certificate with all its versions, sealed, restored into a fresh store byte for byte.

mod common;

use std::fs;

use common::{Mount, WEB_POLICY, sh_err, sh_ok};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_backup_restores_into_a_fresh_store_byte_for_byte() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), WEB_POLICY).unwrap();
    fs::write(m.path("prod/web/policy.json"), WEB_POLICY).unwrap();
    fs::write(m.path("prod/web/tags.json"), r#"{"env":"prod"}"#).unwrap();
    let files = [
        "cert.pem",
        "cert.cer",
        "chain.pem",
        "fullchain.pem",
        "privkey.pem",
        "policy.json",
        "tags.json",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(m.path(&format!("prod/web/{f}"))).unwrap())
        .collect();
    let blob = fs::read(m.path("prod/web/backup.blob")).unwrap();
    assert_eq!(
        fs::metadata(m.path("prod/web/backup.blob")).unwrap().len() as usize,
        blob.len()
    );

    // No key material and no certificate in clear text.
    let key_der = std::process::Command::new("openssl")
        .args(["pkey", "-outform", "DER", "-in"])
        .arg(m.path("prod/web/privkey.pem"))
        .output()
        .unwrap()
        .stdout;
    assert!(key_der.len() > 100);
    assert!(
        !contains(&blob, &key_der[40..80]),
        "no key bytes in the blob"
    );
    assert!(!contains(
        &blob,
        &fs::read(m.path("prod/web/cert.cer")).unwrap()[..64]
    ));
    assert!(!contains(&blob, b"web.example.com"));

    // A second mount with its own store and the same backup key.
    let other = tempfile::tempdir().unwrap();
    let data = other.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::copy(m.data.join("backup.key"), data.join("backup.key")).unwrap();
    let m2 = Mount::start_with_data(&data);
    fs::create_dir(m2.path("staging")).unwrap();
    fs::write(m2.path("staging/restore/web.blob"), &blob).unwrap();
    assert!(
        !m2.path("staging/restore/web.blob").exists(),
        "the dropped blob is consumed"
    );
    for (f, bytes) in files.iter().zip(&before) {
        assert_eq!(
            &fs::read(m2.path(&format!("staging/web/{f}"))).unwrap(),
            bytes,
            "{f}"
        );
    }
    assert_eq!(
        fs::read_dir(m2.path("staging/web/versions"))
            .unwrap()
            .count(),
        2
    );
    let key = sh_ok(&m2.mnt, "openssl pkey -in staging/web/privkey.pem -pubout");
    assert_eq!(
        key,
        sh_ok(
            &m2.mnt,
            "openssl x509 -in staging/web/cert.pem -noout -pubkey"
        )
    );

    // Again: the name is taken now.
    let src = other.path().join("again.blob");
    fs::write(&src, &blob).unwrap();
    let err = sh_err(&m2.mnt, &format!("cp {} staging/restore/", src.display()));
    assert!(err.contains("File exists"), "{err}");
    let report = fs::read_to_string(m2.path("staging/restore/again.blob.error")).unwrap();
    assert!(report.contains("already exists"), "{report}");
}

#[test]
fn blobs_from_another_key_or_tampered_are_refused() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), common::ec_policy("web")).unwrap();
    let blob = fs::read(m.path("prod/web/backup.blob")).unwrap();
    // Another store, another key.
    let m2 = Mount::start();
    fs::create_dir(m2.path("prod")).unwrap();
    let src = m2.root.path().join("web.blob");
    fs::write(&src, &blob).unwrap();
    sh_err(&m2.mnt, &format!("cp {} prod/restore/", src.display()));
    let report = fs::read_to_string(m2.path("prod/restore/web.blob.error")).unwrap();
    assert!(report.contains("another backup key"), "{report}");
    // Same store, tampered.
    let mut bad = blob.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    fs::write(&src, &bad).unwrap();
    sh_ok(&m.mnt, "rm -r prod/web && rm -r prod/deleted/web");
    sh_err(&m.mnt, &format!("cp {} prod/restore/", src.display()));
    assert!(
        fs::read_to_string(m.path("prod/restore/web.blob.error"))
            .unwrap()
            .contains("corrupt")
    );
    // Garbage.
    sh_err(
        &m.mnt,
        "head -c 4000 /dev/urandom > prod/restore/junk.blob; cat prod/restore/junk.blob.error; false",
    );
    assert!(
        fs::read_to_string(m.path("prod/restore/junk.blob.error"))
            .unwrap()
            .contains("not a certfs backup")
    );
    // The untouched blob restores into the same store once the name is free.
    fs::write(&src, &blob).unwrap();
    sh_ok(&m.mnt, &format!("cp {} prod/restore/", src.display()));
    sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout");
}
