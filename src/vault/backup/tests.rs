//! Tests of the `backup.blob` format: sealing and opening, the layout, wrong keys, tampering and garbage.

use super::*;

const NAME: &str = "web-frontend-7f3a";

fn key() -> BackupKey {
    BackupKey::from_bytes([7; 32])
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn bad(r: Result<(CertificateRecord, Vec<VersionRecord>), VaultError>) -> String {
    match r {
        Err(VaultError::BadParameter(m)) => m,
        other => panic!("expected BadParameter, got {other:?}"),
    }
}

fn certificate() -> CertificateRecord {
    CertificateRecord {
        vault: "prod".into(),
        name: NAME.into(),
        policy: r#"{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=web"}}"#.into(),
        tags: r#"{"env":"prod"}"#.into(),
        created: 1_700_000_000,
        updated: 1_700_000_500,
        operation: Some(r#"{"status":"inProgress","csr":"MIIB\"x"}"#.into()),
        deleted: Some(1_700_000_900),
        purge_at: Some(1_700_900_000),
    }
}

/// A fresh P-256 key (PKCS#8) and a self-signed certificate (DER) for it.
fn material(dns: &str) -> (Vec<u8>, Vec<u8>) {
    let pair = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![dns.to_string()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    (pair.serialized_der().to_vec(), cert.der().to_vec())
}

fn version(
    id: char,
    cert: Option<Vec<u8>>,
    chain: Vec<Vec<u8>>,
    key: Option<Vec<u8>>,
) -> VersionRecord {
    VersionRecord {
        vault: "prod".into(),
        certificate: NAME.into(),
        id: id.to_string().repeat(32),
        created: 1_700_000_000 + id as i64,
        updated: 1_700_000_100 + id as i64,
        enabled: id != 'b',
        exportable: id != 'c',
        certificate_der: cert,
        chain_der: chain,
        key: key.map(|k| KeyBytes(Zeroizing::new(k))),
    }
}

fn three_versions() -> (Vec<VersionRecord>, Vec<u8>, Vec<u8>) {
    let (k1, c1) = material("a.example");
    let (_, ca1) = material("ca1.example");
    let (_, ca2) = material("ca2.example");
    let (k2, c2) = material("b.example");
    let (k3, _) = material("c.example");
    let versions = vec![
        version('a', Some(c1.clone()), vec![ca1, ca2], Some(k1.clone())),
        version('b', Some(c2), vec![], Some(k2)),
        version('c', None, vec![], Some(k3)),
    ];
    (versions, k1, c1)
}

fn small_blob() -> Vec<u8> {
    let mut c = certificate();
    c.policy = "{}".into();
    c.operation = None;
    seal(&key(), &c, &[]).unwrap()
}

#[test]
fn round_trip_of_three_versions_is_exact_and_live() {
    let (versions, _, _) = three_versions();
    let blob = seal(&key(), &certificate(), &versions).unwrap();
    let (c, v) = open(&key(), &blob).unwrap();
    let mut expected = certificate();
    expected.deleted = None;
    expected.purge_at = None;
    assert_eq!(c, expected);
    assert_eq!(v, versions);
    assert!(v[2].certificate_der.is_none() && v[2].key.is_some());
    assert_eq!(v[0].chain_der.len(), 2);
}

#[test]
fn blob_shows_no_key_certificate_or_name() {
    let (versions, pkcs8, der) = three_versions();
    let blob = seal(&key(), &certificate(), &versions).unwrap();
    for secret in [&pkcs8, &der] {
        assert!(!contains(&blob, secret));
        assert!(!contains(&blob, B64.encode(secret).as_bytes()));
        assert!(!contains(&blob, &secret[secret.len() - 16..]));
    }
    assert!(!contains(&blob, NAME.as_bytes()));
    assert!(!contains(&blob, b"inProgress"));
}

#[test]
fn layout_follows_the_documented_format() {
    let (versions, pkcs8, der) = three_versions();
    let blob = seal(&key(), &certificate(), &versions).unwrap();
    assert_eq!(&blob[..14], b"CERTFS-BACKUP\n");
    assert_eq!(blob[14], 1);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&blob[15..27]);
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let mut body = blob[27..].to_vec();
    let plain = aead
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&blob[..15]),
            &mut body,
        )
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(plain).unwrap();
    assert_eq!(json["certificate"]["name"], NAME);
    assert!(json["certificate"].get("deleted").is_none());
    let v0 = &json["versions"][0];
    assert_eq!(v0["key_pkcs8"], B64.encode(&pkcs8));
    assert_eq!(v0["certificate_der"], B64.encode(&der));
    assert_eq!(v0["chain_der"].as_array().unwrap().len(), 2);
    assert_eq!(
        json["versions"][2]["certificate_der"],
        serde_json::Value::Null
    );
    assert_eq!(blob.len(), 27 + plain.len() + 16);
}

#[test]
fn every_single_byte_flip_is_refused() {
    let blob = small_blob();
    assert!(blob.len() < 400, "{}", blob.len());
    assert!(open(&key(), &blob).is_ok());
    for i in 0..blob.len() {
        for bit in [0x01, 0x80] {
            let mut b = blob.clone();
            b[i] ^= bit;
            bad(open(&key(), &b));
        }
    }
}

#[test]
fn truncations_and_extensions_are_refused() {
    let blob = small_blob();
    for len in 0..blob.len() {
        bad(open(&key(), &blob[..len]));
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(bad(open(&key(), &longer)), CORRUPT);
}

#[test]
fn another_key_is_refused() {
    let blob = small_blob();
    let mut other = [7; 32];
    other[31] = 8;
    assert_eq!(bad(open(&BackupKey::from_bytes(other), &blob)), CORRUPT);
}

#[test]
fn wrong_magic_and_version_are_named() {
    let mut blob = small_blob();
    blob[0] = b'X';
    assert_eq!(
        bad(open(&key(), &blob)),
        "The file is not a certfs backup blob"
    );
    let mut blob = small_blob();
    blob[14] = 2;
    let m = bad(open(&key(), &blob));
    assert!(m.contains("format version 2"), "{m}");
    assert!(bad(open(&key(), b"-----BEGIN CERTIFICATE-----")).contains("not a certfs backup blob"));
}

#[test]
fn oversized_input_is_refused() {
    let mut blob = small_blob();
    blob.resize(MAX_BLOB_SIZE + 1, 0);
    assert!(bad(open(&key(), &blob)).contains("64 MiB"));
}

#[test]
fn garbage_is_refused_without_panic() {
    let mut header = MAGIC.to_vec();
    header.push(FORMAT_VERSION);
    for len in 0..600 {
        let mut junk = vec![0u8; len];
        aws_lc_rs::rand::fill(&mut junk).unwrap();
        bad(open(&key(), &junk));
        let mut framed = header.clone();
        framed.extend_from_slice(&junk);
        assert!(matches!(bad(open(&key(), &framed)).as_str(), CORRUPT));
    }
}

#[test]
fn authentic_payload_that_does_not_parse_is_refused() {
    let payloads: [&[u8]; 4] = [
        b"not json",
        br#"{"certificate":1,"versions":[]}"#,
        br#"{"certificate":{"vault":"v","name":"n","policy":"{}","tags":"{}","created":1,"updated":1,"operation":null},"versions":[],"extra":1}"#,
        br#"{"certificate":{"vault":"v","name":"n","policy":"{}","tags":"{}","created":1,"updated":1,"operation":null},"versions":[{"id":"a","created":1,"updated":1,"enabled":true,"exportable":true,"certificate_der":null,"chain_der":[],"key_pkcs8":"secret!!"}]}"#,
    ];
    for p in payloads {
        let blob = seal_with(&key(), p.len(), |b| {
            b.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
        let m = bad(open(&key(), &blob));
        assert!(
            m.contains("content is not valid") && !m.contains("secret"),
            "{m}"
        );
    }
}

#[test]
fn two_seals_differ_and_both_open() {
    let (versions, _, _) = three_versions();
    let a = seal(&key(), &certificate(), &versions).unwrap();
    let b = seal(&key(), &certificate(), &versions).unwrap();
    assert_ne!(a[15..27], b[15..27]);
    assert_ne!(a, b);
    assert_eq!(open(&key(), &a).unwrap(), open(&key(), &b).unwrap());
}

#[test]
fn a_version_of_another_certificate_is_not_sealed() {
    let mut v = version('a', None, vec![], None);
    v.certificate = "other".into();
    assert!(matches!(
        seal(&key(), &certificate(), &[v]),
        Err(VaultError::Internal(_))
    ));
}

#[test]
fn load_or_create_makes_a_private_32_byte_key_and_reads_it_back() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.key");
    let first = BackupKey::load_or_create(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
    let second = BackupKey::load_or_create(&path).unwrap();
    let blob = seal(&first, &certificate(), &[]).unwrap();
    assert!(open(&second, &blob).is_ok());
    assert_ne!(*first.0, [0u8; 32]);
    let elsewhere = BackupKey::load_or_create(&dir.path().join("other.key")).unwrap();
    assert_eq!(bad(open(&elsewhere, &blob)), CORRUPT);
}

#[test]
fn load_or_create_refuses_bad_files_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    for len in [0usize, 31, 33] {
        let path = dir.path().join(format!("k{len}"));
        std::fs::write(&path, vec![0xAB; len]).unwrap();
        match BackupKey::load_or_create(&path) {
            Err(e @ VaultError::Io { .. }) => {
                let m = e.message();
                assert!(
                    m.contains(&path.display().to_string())
                        && !m.contains("171")
                        && !m.contains("AB"),
                    "{m}"
                )
            }
            other => panic!("{len}: {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap().len(), len, "left as it was");
    }
    for path in [
        dir.path().to_path_buf(),
        dir.path().join("missing/backup.key"),
    ] {
        assert!(
            matches!(BackupKey::load_or_create(&path), Err(e @ VaultError::Io { .. }) if e.message().contains(&path.display().to_string()))
        );
    }
}

#[test]
fn debug_shows_no_bytes() {
    let text = format!("{:?}", BackupKey::from_bytes([0xAB; 32]));
    assert_eq!(text, "BackupKey(<elided>)");
}
