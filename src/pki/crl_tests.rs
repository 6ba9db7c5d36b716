//! Tests of `crl`: reason names fed garbage, and CRLs that `openssl crl` and `openssl verify -crl_check` read.

use super::*;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec};
use crate::pki::test_support::{openssl, run, write};
use crate::pki::x509::{self, CertificateSpec, SubjectAltNames};

#[test]
fn every_reason_name_reads_back_with_one_newline_and_nothing_else_does() {
    for reason in Reason::ALL {
        for text in [
            reason.name().to_owned(),
            format!("{}\n", reason.name()),
            format!("{}\r\n", reason.name()),
        ] {
            assert_eq!(Reason::parse(text.as_bytes()).unwrap(), reason);
        }
    }
    for bad in [
        &b""[..],
        b"\n",
        b"keycompromise",
        b"keyCompromise\n\n",
        b" keyCompromise",
        b"caCompromise",
        b"removeFromCRL",
        b"1",
        b"\xff\xfe",
        b"keyCompromise\0",
    ] {
        let e = Reason::parse(bad).unwrap_err();
        assert!(e.to_string().contains("keyCompromise"), "{e}");
    }
    assert_eq!(Reason::KeyCompromise.code(), 1);
    assert_eq!(Reason::CessationOfOperation.code(), 5);
}

#[test]
fn serials_that_are_not_hex_are_refused() {
    assert_eq!(serial_bytes("1A2").unwrap(), vec![0x01, 0xA2]);
    for bad in ["", "xyz", "12 34", "-1"] {
        assert!(serial_bytes(bad).is_err(), "{bad}");
    }
}

fn ca() -> (PrivateKey, Vec<u8>) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = CertificateSpec {
        subject: DistinguishedName::parse("CN=CRL Test CA").unwrap(),
        sans: SubjectAltNames::default(),
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        validity_months: 12,
    };
    let der = x509::certificate_authority(&spec, &key).unwrap();
    (key, der)
}

fn leaf(ca_key: &PrivateKey, ca_der: &[u8], cn: &str) -> Vec<u8> {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={cn}")).unwrap(),
        sans: SubjectAltNames {
            dns_names: vec![cn.to_owned()],
            ..SubjectAltNames::default()
        },
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        validity_months: 1,
    };
    x509::signed_by_ca(&spec, &key, ca_der, ca_key, &Default::default()).unwrap()
}

#[test]
fn openssl_reads_the_crl_and_refuses_only_the_revoked_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let (key, der) = ca();
    let revoked = leaf(&key, &der, "revoked.example.test");
    let kept = leaf(&key, &der, "kept.example.test");
    let serial = x509::inspect(&revoked).unwrap().serial_hex;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let crl = sign(
        &der,
        &key,
        &[Revoked {
            serial_hex: serial.clone(),
            at: now - 10,
            reason: Reason::KeyCompromise,
        }],
        now - 60,
        3600,
        7,
    )
    .unwrap();
    let crl_path = write(dir.path(), "ca.crl", crl.as_bytes());
    let ca_path = write(
        dir.path(),
        "ca.pem",
        crate::pki::pem::encode("CERTIFICATE", &der).as_bytes(),
    );
    let text = openssl(&[
        "crl", "-in", &crl_path, "-noout", "-text", "-CAfile", &ca_path,
    ]);
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.contains(&serial), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    for (name, cert, ok) in [("revoked", &revoked, false), ("kept", &kept, true)] {
        let path = write(
            dir.path(),
            &format!("{name}.pem"),
            crate::pki::pem::encode("CERTIFICATE", cert).as_bytes(),
        );
        let out = run(
            "/usr/bin/openssl",
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                &ca_path,
                "-CRLfile",
                &crl_path,
                &path,
            ],
            b"",
        );
        assert_eq!(out.ok, ok, "{name}: {}{}", out.stdout, out.stderr);
        if !ok {
            assert!(out.stdout.contains("revoked") || out.stderr.contains("revoked"));
        }
    }
}
