//! The store's plain records: what their `Debug` output may show.

use certfs::store::{DocumentRecord, KeyBytes, Snapshot, VersionRecord};

#[test]
fn debug_of_a_version_shows_no_key_bytes() {
    // A key whose bytes would be easy to spot in any rendering.
    let key: Vec<u8> = vec![0xab; 48];
    let version = VersionRecord {
        vault: "prod".into(),
        certificate: "web".into(),
        id: "0123456789abcdef0123456789abcdef".into(),
        created: 1,
        updated: 2,
        enabled: true,
        exportable: true,
        certificate_der: Some(vec![0x30, 0x03]),
        chain_der: vec![vec![0x30, 0x04]],
        key: Some(KeyBytes(zeroize::Zeroizing::new(key))),
    };
    let snapshot = Snapshot {
        versions: vec![version.clone()],
        ..Snapshot::default()
    };
    for text in [
        format!("{version:?}"),
        format!("{version:#?}"),
        format!("{snapshot:?}"),
        format!("{:?}", version.key),
    ] {
        assert!(!text.contains("171"), "decimal key bytes in {text}");
        assert!(
            !text.to_ascii_lowercase().contains("ab, ab"),
            "hex key bytes in {text}"
        );
        assert!(!text.contains("0xab"), "hex key bytes in {text}");
        assert!(text.contains("elided"), "{text}");
    }
    // The rest of the record is still there to debug with.
    assert!(format!("{version:?}").contains("0123456789abcdef0123456789abcdef"));
}

#[test]
fn debug_of_a_document_shows_no_value() {
    let secret = "hunter2-S3CR3T-api-key";
    let value = format!(r#"{{"provider":"DigiCert","credentials":{{"pwd":"{secret}"}}}}"#);
    let document = DocumentRecord {
        vault: "prod".into(),
        key: "issuer/digi".into(),
        value: value.clone(),
    };
    let snapshot = Snapshot {
        documents: vec![document.clone()],
        ..Snapshot::default()
    };
    let length = format!("value: <{} bytes>", value.len());
    for text in [
        format!("{document:?}"),
        format!("{document:#?}"),
        format!("{snapshot:?}"),
        format!("{snapshot:#?}"),
    ] {
        assert!(!text.contains(secret), "the value in {text}");
        assert!(!text.contains("DigiCert"), "the value in {text}");
        assert!(text.contains(&length), "{text}");
        // The rest of the record is still there to debug with.
        assert!(text.contains("issuer/digi"), "{text}");
        assert!(text.contains("prod"), "{text}");
    }
    assert_eq!(
        format!("{document:?}"),
        format!(r#"DocumentRecord {{ vault: "prod", key: "issuer/digi", {length} }}"#)
    );
}
