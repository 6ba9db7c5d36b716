//! Tests of `csr`: CSRs made by `openssl req` read in PEM and DER, and garbage, truncations, forged signatures and weak keys refused.

use super::*;
use crate::pki::test_support::{openssl, run};

fn request(dir: &std::path::Path, key: &[&str], subj: &str, san: Option<&str>) -> Vec<u8> {
    let key_path = dir.join("k.pem").to_string_lossy().into_owned();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(key);
    args.extend_from_slice(&["-out", &key_path]);
    openssl(&args);
    let out = dir.join("r.csr").to_string_lossy().into_owned();
    let ext;
    let mut args = vec![
        "req", "-new", "-key", &key_path, "-subj", subj, "-out", &out,
    ];
    if let Some(san) = san {
        ext = format!("subjectAltName={san}");
        args.extend_from_slice(&["-addext", &ext]);
    }
    openssl(&args);
    std::fs::read(&out).unwrap()
}

const EC: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

#[test]
fn a_csr_from_openssl_reads_in_pem_and_der() {
    let dir = tempfile::tempdir().unwrap();
    let pem_bytes = request(
        dir.path(),
        EC,
        "/CN=device1.example.test",
        Some("DNS:device1.example.test,DNS:alt.example.test"),
    );
    let parsed = SigningRequest::parse(&pem_bytes).unwrap();
    assert_eq!(parsed.subject, "CN=device1.example.test");
    assert_eq!(
        parsed.dns_names,
        ["device1.example.test", "alt.example.test"]
    );
    assert!(!parsed.rsa);
    assert_eq!(parsed.names(), ["device1.example.test", "alt.example.test"]);
    let der = run(
        "/usr/bin/openssl",
        &[
            "req",
            "-in",
            &dir.path().join("r.csr").to_string_lossy(),
            "-outform",
            "DER",
        ],
        b"",
    );
    assert!(der.ok);
    let der = std::fs::read(dir.path().join("r.csr")).unwrap();
    let block = pem::parse(&der).unwrap();
    assert_eq!(SigningRequest::parse(block.contents()).unwrap(), parsed);
    let rsa = request(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "/CN=svc.example.test",
        None,
    );
    let parsed = SigningRequest::parse(&rsa).unwrap();
    assert!(parsed.rsa);
    assert_eq!(parsed.names(), ["svc.example.test"]);
}

#[test]
fn weak_keys_forged_signatures_garbage_and_truncations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let weak = request(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "/CN=weak.example.test",
        None,
    );
    let e = SigningRequest::parse(&weak).unwrap_err();
    assert!(e.to_string().contains("at least 2048"), "{e}");
    let k1 = request(
        dir.path(),
        &[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
        "/CN=k1.example.test",
        None,
    );
    let e = SigningRequest::parse(&k1).unwrap_err();
    assert!(e.to_string().contains("P-256"), "{e}");
    let good = request(dir.path(), EC, "/CN=good.example.test", None);
    let der = pem::parse(&good).unwrap().into_contents();
    // A flipped bit in the subject: the signature no longer verifies.
    let at = der
        .windows(4)
        .position(|w| w == b"good")
        .expect("the subject is in the DER");
    let mut forged = der.clone();
    forged[at] ^= 0x01;
    let e = SigningRequest::parse(&forged).unwrap_err();
    assert!(e.to_string().contains("signature"), "{e}");
    for cut in [1, 2, 10, der.len() / 2, der.len() - 1] {
        assert!(SigningRequest::parse(&der[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(SigningRequest::parse(&trailing).is_err());
    for garbage in [
        &b""[..],
        b"garbage",
        b"\x30",
        b"\xff\xfe\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    ] {
        let e = SigningRequest::parse(garbage).unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
    }
    assert!(SigningRequest::parse(&vec![b'A'; MAX_CSR_BYTES + 1]).is_err());
}

#[test]
fn san_names_that_are_not_dns_names_are_refused_and_ips_and_mail_are_names_too() {
    // A NUL inside a dNSName: the classic way past a suffix check.
    let key = rcgen::KeyPair::generate().unwrap();
    for evil in [
        "evil.com\0.example.test",
        "a b.example.test",
        "*.*.example.test",
    ] {
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            rcgen::string::Ia5String::try_from(evil.to_owned()).unwrap(),
        )];
        let csr = params.serialize_request(&key).unwrap();
        let e = SigningRequest::parse(csr.der()).unwrap_err().to_string();
        assert!(e.contains("is not a DNS name"), "{evil:?}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let csr = request(
        dir.path(),
        EC,
        "/CN=intranet",
        Some("DNS:ok.example.test,IP:10.0.0.1,email:root@anywhere.test"),
    );
    let parsed = SigningRequest::parse(&csr).unwrap();
    assert_eq!(
        parsed.names(),
        [
            "ok.example.test",
            "10.0.0.1",
            "root@anywhere.test",
            "intranet"
        ]
    );
    // A person's name as the common name is not a host name.
    let csr = request(
        dir.path(),
        EC,
        "/CN=Alice Smith",
        Some("DNS:a.example.test"),
    );
    assert_eq!(
        SigningRequest::parse(&csr).unwrap().names(),
        ["a.example.test"]
    );
}
