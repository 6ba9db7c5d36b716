//! Tests of certificate and CSR building, checked with the real openssl, and of reading certificates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, RsaSize};
use crate::pki::pem;
use crate::pki::test_support::{openssl, write};

const SUBJECT: &str = r#"CN=web.example.com, O="Contoso, Inc.", OU=A, OU=B, OU=Docs\, Contoso, E=admin@example.com, C=US"#;
const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";

fn full_spec(key_usage: Vec<KeyUsage>) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(SUBJECT).unwrap(),
        sans: SubjectAltNames {
            dns_names: vec!["web.example.com".into(), "*.example.com".into()],
            emails: vec!["admin@example.com".into()],
            upns: vec!["user@example.com".into()],
            ip_addresses: vec![
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            ],
            uris: vec!["https://example.com/x".into()],
        },
        key_usage,
        extended_key_usage: vec![SERVER_AUTH.into(), CLIENT_AUTH.into()],
        validity_months: 12,
    }
}

fn usages(spec: KeySpec) -> Vec<KeyUsage> {
    match spec {
        KeySpec::Rsa(_) => vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment],
        KeySpec::Ec(_) => vec![KeyUsage::DigitalSignature],
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn self_signed_certificates_pass_openssl() {
    let cases = [
        (KeySpec::Rsa(RsaSize::B2048), "sha256WithRSAEncryption"),
        (KeySpec::Ec(Curve::P256), "ecdsa-with-SHA256"),
        (KeySpec::Ec(Curve::P384), "ecdsa-with-SHA384"),
        (KeySpec::Ec(Curve::P521), "ecdsa-with-SHA512"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (key_spec, signature) in cases {
        let key = PrivateKey::generate(key_spec).unwrap();
        let spec = full_spec(usages(key_spec));
        let before = now();
        let der_cert = self_signed(&spec, &key).unwrap();
        let cert = write(
            dir.path(),
            "c.pem",
            pem::certificates(std::slice::from_ref(&der_cert)).as_bytes(),
        );
        let key_file = write(dir.path(), "k.pem", key.to_pkcs8_pem().as_bytes());

        let text = openssl(&["x509", "-in", &cert, "-noout", "-text"]);
        for needle in [
            signature,
            "DNS:web.example.com, DNS:*.example.com, email:admin@example.com, \
             othername: UPN::user@example.com, IP Address:10.0.0.1, \
             IP Address:2001:DB8:0:0:0:0:0:1, URI:https://example.com/x",
            "CA:FALSE",
            "X509v3 Subject Key Identifier",
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "X509v3 Key Usage: critical",
        ] {
            assert!(
                text.contains(needle),
                "{key_spec:?}: no {needle:?} in\n{text}"
            );
        }
        let subject = openssl(&["x509", "-in", &cert, "-noout", "-subject"]);
        assert_eq!(
            subject.trim(),
            r#"subject=CN = web.example.com, O = "Contoso, Inc.", OU = A, OU = B, OU = "Docs, Contoso", emailAddress = admin@example.com, C = US"#
        );
        let issuer = openssl(&["x509", "-in", &cert, "-noout", "-issuer"]);
        assert_eq!(
            issuer.trim_start_matches("issuer="),
            subject.trim_start_matches("subject=")
        );

        // The signature verifies, and key and certificate belong together.
        let verified = openssl(&["verify", "-check_ss_sig", "-CAfile", &cert, &cert]);
        assert!(verified.contains(": OK"), "{verified}");
        let cert_pub = openssl(&["x509", "-in", &cert, "-noout", "-pubkey"]);
        let key_pub = openssl(&["pkey", "-in", &key_file, "-pubout"]);
        assert_eq!(cert_pub, key_pub);

        // inspect agrees with openssl.
        let info = inspect(&der_cert).unwrap();
        assert_eq!(info.public_key_der, key.public_key_der());
        assert!(
            (info.not_before - (before - 300)).abs() <= 5,
            "{}",
            info.not_before
        );
        let expected_end = add_months(
            OffsetDateTime::from_unix_timestamp(info.not_before + 300).unwrap(),
            12,
        )
        .unwrap();
        assert_eq!(info.not_after, expected_end.unix_timestamp());
        let serial = openssl(&["x509", "-in", &cert, "-noout", "-serial"]);
        assert_eq!(serial.trim(), format!("serial={}", info.serial_hex));
        assert_eq!(info.serial_hex.len(), 32);
        let fingerprint = openssl(&["x509", "-in", &cert, "-noout", "-fingerprint", "-sha1"]);
        assert_eq!(
            fingerprint.trim().replace(':', ""),
            format!("sha1 Fingerprint={}", info.sha1_thumbprint_hex)
        );
        assert_eq!(
            DistinguishedName::parse(&info.subject).unwrap(),
            spec.subject
        );
        assert_eq!(info.subject, info.issuer);

        // And reading the spec back gives what was asked for.
        let read = certificate_spec(&der_cert).unwrap();
        assert_eq!(read.subject, spec.subject);
        assert_eq!(read.sans, spec.sans);
        assert_eq!(read.key_usage, spec.key_usage);
        assert_eq!(read.extended_key_usage, spec.extended_key_usage);
        assert_eq!(read.validity_months, 12);
    }
}

#[test]
fn names_rcgen_cannot_hold_are_encoded_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let mut spec = full_spec(vec![KeyUsage::DigitalSignature]);
    spec.subject =
        DistinguishedName::parse("DC=com, DC=example, DC=www, OU=A, OU=B, OU=C, CN=x + UID=jdoe")
            .unwrap();
    let der_cert = self_signed(&spec, &key).unwrap();
    let cert = write(
        dir.path(),
        "c.pem",
        pem::certificates(std::slice::from_ref(&der_cert)).as_bytes(),
    );
    let subject = openssl(&[
        "x509", "-in", &cert, "-noout", "-subject", "-nameopt", "RFC2253",
    ]);
    assert_eq!(
        subject.trim(),
        "subject=UID=jdoe+CN=x,OU=C,OU=B,OU=A,DC=www,DC=example,DC=com"
    );
    let verified = openssl(&["verify", "-check_ss_sig", "-CAfile", &cert, &cert]);
    assert!(verified.contains(": OK"), "{verified}");
    assert_eq!(certificate_spec(&der_cert).unwrap().subject, spec.subject);
}

#[test]
fn empty_subject_makes_sans_critical() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = CertificateSpec {
        subject: DistinguishedName { rdns: vec![] },
        sans: SubjectAltNames {
            dns_names: vec!["only.example.com".into()],
            ..Default::default()
        },
        key_usage: vec![],
        extended_key_usage: vec![],
        validity_months: 1,
    };
    let der_cert = self_signed(&spec, &key).unwrap();
    let cert = write(
        dir.path(),
        "c.pem",
        pem::certificates(std::slice::from_ref(&der_cert)).as_bytes(),
    );
    let text = openssl(&["x509", "-in", &cert, "-noout", "-text"]);
    assert!(
        text.contains("X509v3 Subject Alternative Name: critical"),
        "{text}"
    );
    assert!(text.contains("DNS:only.example.com"), "{text}");
    assert_eq!(inspect(&der_cert).unwrap().subject, "");
}

#[test]
fn csr_verifies_and_requests_the_extensions() {
    let dir = tempfile::tempdir().unwrap();
    for key_spec in [KeySpec::Rsa(RsaSize::B2048), KeySpec::Ec(Curve::P384)] {
        let key = PrivateKey::generate(key_spec).unwrap();
        let spec = full_spec(usages(key_spec));
        let csr = certificate_signing_request(&spec, &key).unwrap();
        let path = write(
            dir.path(),
            "r.csr",
            pem::certificate_request(&csr).as_bytes(),
        );
        let text = openssl(&["req", "-in", &path, "-verify", "-noout", "-text"]);
        for needle in [
            "verify OK",
            r#"Subject: CN = web.example.com, O = "Contoso, Inc.", OU = A, OU = B, OU = "Docs, Contoso""#,
            "Requested Extensions:",
            "DNS:web.example.com, DNS:*.example.com",
            "othername: UPN::user@example.com",
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "Digital Signature",
        ] {
            assert!(
                text.contains(needle),
                "{key_spec:?}: no {needle:?} in\n{text}"
            );
        }
        let csr_pub = openssl(&["req", "-in", &path, "-noout", "-pubkey"]);
        let key_file = write(dir.path(), "k.pem", key.to_pkcs8_pem().as_bytes());
        assert_eq!(csr_pub, openssl(&["pkey", "-in", &key_file, "-pubout"]));
    }
}

#[test]
fn serials_are_random_positive_and_16_bytes() {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = full_spec(vec![]);
    let a = self_signed(&spec, &key).unwrap();
    let b = self_signed(&spec, &key).unwrap();
    let serial = |der: &[u8]| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        cert.tbs_certificate.raw_serial().to_vec()
    };
    let (sa, sb) = (serial(&a), serial(&b));
    assert_ne!(sa, sb);
    for s in [sa, sb] {
        assert_eq!(s.len(), 16);
        assert!(s[0] != 0 && s[0] < 0x80);
    }
}

#[test]
fn months_are_calendar_months_with_clamped_days() {
    let at = |y, m, d| {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), d)
            .unwrap()
            .with_hms(12, 30, 0)
            .unwrap()
            .assume_utc()
    };
    assert_eq!(add_months(at(2024, 1, 31), 1), Some(at(2024, 2, 29)));
    assert_eq!(add_months(at(2023, 1, 31), 1), Some(at(2023, 2, 28)));
    assert_eq!(add_months(at(2023, 11, 30), 3), Some(at(2024, 2, 29)));
    assert_eq!(add_months(at(2023, 5, 15), 12), Some(at(2024, 5, 15)));
    assert_eq!(add_months(at(2023, 5, 15), 0), Some(at(2023, 5, 15)));
    assert_eq!(add_months(at(2023, 12, 1), 1), Some(at(2024, 1, 1)));
    assert_eq!(add_months(at(2023, 5, 15), u32::MAX), None);
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let mut spec = full_spec(vec![]);
    spec.validity_months = u32::MAX;
    assert!(matches!(
        self_signed(&spec, &key),
        Err(PkiError::Malformed(_))
    ));
}

#[test]
fn bad_spec_values_are_refused() {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let mut spec = full_spec(vec![]);
    spec.extended_key_usage = vec!["serverAuth".into()];
    assert!(
        matches!(self_signed(&spec, &key), Err(PkiError::Malformed(m)) if m.contains("serverAuth"))
    );
    let mut spec = full_spec(vec![]);
    spec.sans.dns_names = vec!["bücher.example".into()];
    assert!(
        matches!(certificate_signing_request(&spec, &key), Err(PkiError::InvalidName(m)) if m.contains("punycode"))
    );
    let mut spec = full_spec(vec![]);
    spec.sans.emails = vec![" ".into()];
    assert!(matches!(
        self_signed(&spec, &key),
        Err(PkiError::InvalidName(_))
    ));
}

#[test]
fn inspect_refuses_garbage_without_panic() {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let good = self_signed(&full_spec(vec![]), &key).unwrap();
    for len in 0..good.len() {
        assert!(
            matches!(inspect(&good[..len]), Err(PkiError::Malformed(_))),
            "{len}"
        );
        assert!(certificate_spec(&good[..len]).is_err());
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(inspect(&trailing), Err(PkiError::Malformed(_))));
    for i in 0..good.len() {
        let mut copy = good.clone();
        copy[i] ^= 0xa5;
        let _ = inspect(&copy);
        let _ = certificate_spec(&copy);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..3000 {
        let mut bytes: Vec<u8> = (0..round % 300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if round % 2 == 0 && !bytes.is_empty() {
            bytes[0] = 0x30; // look like a SEQUENCE to get deeper into the parser
        }
        assert!(inspect(&bytes).is_err());
    }
}

/// A CA chain made with rcgen directly: root → intermediate → leaf (with `leaf_key`).
fn chain(leaf_key: &rcgen::KeyPair) -> Vec<Vec<u8>> {
    use rcgen::{BasicConstraints, CertificateParams, Issuer};
    let ca_params = |cn: &str| {
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.distinguished_name = DistinguishedName::parse(&format!("CN={cn}"))
            .unwrap()
            .to_rcgen()
            .unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let root_key = rcgen::KeyPair::generate().unwrap();
    let root_params = ca_params("Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let inter_key = rcgen::KeyPair::generate().unwrap();
    let inter_params = ca_params("Intermediate");
    let inter = inter_params
        .signed_by(&inter_key, &Issuer::from_params(&root_params, &root_key))
        .unwrap();
    let leaf_params = CertificateParams::new(vec!["leaf.example.com".into()]).unwrap();
    let leaf = leaf_params
        .signed_by(leaf_key, &Issuer::from_params(&inter_params, &inter_key))
        .unwrap();
    vec![
        leaf.der().to_vec(),
        inter.der().to_vec(),
        root.der().to_vec(),
    ]
}

#[test]
fn order_chain_puts_leaf_first_then_issuers() {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let pair = key.signing_key_pair().unwrap();
    let c = chain(&pair);
    let other = self_signed(
        &full_spec(vec![]),
        &PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap(),
    )
    .unwrap();
    let shuffled = vec![
        c[2].clone(),
        other.clone(),
        c[0].clone(),
        c[1].clone(),
        c[0].clone(),
    ];
    let ordered = order_chain(&key.public_key_der(), &shuffled).unwrap();
    assert_eq!(
        ordered,
        vec![c[0].clone(), c[1].clone(), c[2].clone(), other.clone()]
    );
    let stranger = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    assert!(matches!(
        order_chain(&stranger.public_key_der(), &shuffled),
        Err(PkiError::Malformed(_))
    ));
    assert!(order_chain(&key.public_key_der(), &[b"junk".to_vec()]).is_err());
}

#[test]
fn pem_output_is_byte_identical_to_openssl() {
    let dir = tempfile::tempdir().unwrap();
    for key_spec in [KeySpec::Rsa(RsaSize::B2048), KeySpec::Ec(Curve::P521)] {
        let key = PrivateKey::generate(key_spec).unwrap();
        let der_cert = self_signed(&full_spec(vec![]), &key).unwrap();
        let der_file = write(dir.path(), "c.der", &der_cert);
        let ours = pem::certificates(std::slice::from_ref(&der_cert));
        assert_eq!(openssl(&["x509", "-inform", "DER", "-in", &der_file]), ours);
        let key_file = write(dir.path(), "k.der", key.pkcs8_der());
        let theirs = openssl(&["pkey", "-inform", "DER", "-in", &key_file]);
        assert_eq!(theirs, *key.to_pkcs8_pem());
        let csr = certificate_signing_request(&full_spec(vec![]), &key).unwrap();
        let csr_file = write(dir.path(), "r.der", &csr);
        let theirs = openssl(&["req", "-inform", "DER", "-in", &csr_file]);
        assert_eq!(theirs, pem::certificate_request(&csr));
    }
}
