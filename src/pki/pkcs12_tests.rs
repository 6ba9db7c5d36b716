//! Tests of PFX export (read back by openssl 3 and Python `cryptography`) and import.

use super::*;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, RsaSize};
use crate::pki::pem;
use crate::pki::test_support::{openssl, run, write};
use crate::pki::x509::{CertificateSpec, SubjectAltNames};

/// A key and a self-signed certificate for it.
fn key_and_cert(spec: KeySpec, cn: &str) -> (PrivateKey, Vec<u8>) {
    let key = PrivateKey::generate(spec).unwrap();
    let cert_spec = CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={cn}, O=\"Contoso, Inc.\"")).unwrap(),
        sans: SubjectAltNames {
            dns_names: vec![cn.into()],
            ..Default::default()
        },
        key_usage: vec![],
        extended_key_usage: vec![],
        validity_months: 12,
    };
    let cert = x509::self_signed(&cert_spec, &key).unwrap();
    (key, cert)
}

/// Two unrelated certificates to stand in for a chain.
fn extra_certs() -> Vec<Vec<u8>> {
    ["Intermediate CA", "Root CA"]
        .iter()
        .map(|cn| key_and_cert(KeySpec::Ec(Curve::P256), cn).1)
        .collect()
}

const PYTHON_READER: &str = r#"
import sys
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PublicFormat
data = open(sys.argv[1], "rb").read()
for password in (None, b""):
    key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    print(len(extra), cert.public_bytes(Encoding.DER).hex(), spki.hex())
print(pkcs12.load_pkcs12(data, None).key is not None)
"#;

#[test]
fn export_is_read_by_openssl_3_without_legacy_and_by_python() {
    let dir = tempfile::tempdir().unwrap();
    for spec in [KeySpec::Rsa(RsaSize::B2048), KeySpec::Ec(Curve::P521)] {
        let (key, leaf) = key_and_cert(spec, "web.example.com");
        let mut chain = vec![leaf.clone()];
        chain.extend(extra_certs());
        let pfx = export(&key, &chain, "web-cert").unwrap();
        let file = write(dir.path(), "c.pfx", &pfx);

        let info = openssl(&[
            "pkcs12", "-in", &file, "-passin", "pass:", "-info", "-noout",
        ]);
        assert!(info.contains("MAC: sha256"), "{info}");
        assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
        assert!(
            !info.to_lowercase().contains("rc2") && !info.contains("3DES"),
            "{info}"
        );

        let out = openssl(&["pkcs12", "-in", &file, "-passin", "pass:", "-nodes"]);
        assert!(out.contains("friendlyName: web-cert"), "{out}");
        assert_eq!(
            out.matches("-----BEGIN CERTIFICATE-----").count(),
            3,
            "{out}"
        );
        assert_eq!(
            out.matches("-----BEGIN PRIVATE KEY-----").count(),
            1,
            "{out}"
        );
        let leaf_pem = pem::certificates(std::slice::from_ref(&leaf));
        assert!(out.contains(&leaf_pem), "{out}");
        let key_out = write(dir.path(), "k.pem", out.as_bytes());
        let leaf_file = write(dir.path(), "leaf.pem", leaf_pem.as_bytes());
        assert_eq!(
            openssl(&["pkey", "-in", &key_out, "-pubout"]),
            openssl(&["x509", "-in", &leaf_file, "-noout", "-pubkey"])
        );

        let script = write(dir.path(), "read.py", PYTHON_READER.as_bytes());
        let python = run("python3", &[&script, &file], b"");
        assert!(python.ok, "{}{}", python.stdout, python.stderr);
        let spki_hex: String = key
            .public_key_der()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let leaf_hex: String = leaf.iter().map(|b| format!("{b:02x}")).collect();
        let line = format!("2 {leaf_hex} {spki_hex}");
        assert_eq!(python.stdout, format!("{line}\n{line}\nTrue\n"));
    }
}

#[test]
fn export_then_import_round_trips() {
    let (key, leaf) = key_and_cert(KeySpec::Ec(Curve::P384), "rt.example.com");
    let mut chain = vec![leaf];
    chain.extend(extra_certs());
    let pfx = export(&key, &chain, "rt").unwrap();
    let (back, certs) = import(&pfx, "").unwrap();
    assert_eq!(back.pkcs8_der(), key.pkcs8_der());
    assert_eq!(back.spec(), KeySpec::Ec(Curve::P384));
    assert_eq!(certs, chain);
}

#[test]
fn export_refuses_an_empty_or_mismatched_chain() {
    let (key, _) = key_and_cert(KeySpec::Ec(Curve::P256), "a.example.com");
    let (_, other) = key_and_cert(KeySpec::Ec(Curve::P256), "b.example.com");
    assert!(matches!(
        export(&key, &[], "x"),
        Err(PkiError::Malformed(_))
    ));
    assert!(
        matches!(export(&key, &[other], "x"), Err(PkiError::Malformed(m)) if m.contains("does not match"))
    );
    assert!(matches!(
        export(&key, &[b"junk".to_vec()], "x"),
        Err(PkiError::Malformed(_))
    ));
}

#[test]
fn imports_what_openssl_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (key, leaf) = key_and_cert(KeySpec::Rsa(RsaSize::B2048), "imp.example.com");
    let extra = extra_certs();
    let key_file = write(dir.path(), "k.pem", key.to_pkcs8_pem().as_bytes());
    let leaf_file = write(
        dir.path(),
        "c.pem",
        pem::certificates(std::slice::from_ref(&leaf)).as_bytes(),
    );
    let chain_file = write(
        dir.path(),
        "chain.pem",
        pem::certificates(&extra).as_bytes(),
    );
    let variants: &[(&[&str], &str)] = &[
        (&[], "secret"),
        (&["-legacy"], "secret"),
        (&[], ""),
        (&["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"], ""),
    ];
    for (i, (flags, password)) in variants.iter().enumerate() {
        let out = dir
            .path()
            .join(format!("{i}.pfx"))
            .to_string_lossy()
            .into_owned();
        let pass = format!("pass:{password}");
        let mut args = vec!["pkcs12", "-export", "-inkey", &key_file, "-in", &leaf_file];
        args.extend(["-certfile", &chain_file, "-passout", &pass, "-out", &out]);
        args.extend(flags.iter());
        openssl(&args);
        let data = std::fs::read(&out).unwrap();
        let (back, certs) = import(&data, password).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert_eq!(back.public_key_der(), key.public_key_der(), "{flags:?}");
        assert_eq!(certs.len(), 3, "{flags:?}");
        assert_eq!(certs[0], leaf, "{flags:?}");
        if !password.is_empty() {
            match import(&data, "wrong") {
                Err(PkiError::WrongPassword(m)) => assert!(m.contains("password"), "{m}"),
                other => panic!("{flags:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn import_refuses_garbage_without_panic() {
    let (key, leaf) = key_and_cert(KeySpec::Ec(Curve::P256), "g.example.com");
    let good = export(&key, &[leaf], "g").unwrap();
    for len in (0..good.len()).step_by(7) {
        assert!(import(&good[..len], "").is_err(), "{len}");
    }
    for i in (0..good.len()).step_by(3) {
        let mut copy = good.clone();
        copy[i] ^= 0x41;
        let _ = import(&copy, "");
    }
    let mut state = 0x0123_4567_89ab_cdefu64;
    for round in 0..1000 {
        let mut bytes: Vec<u8> = (0..round % 400)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if round % 2 == 0 && bytes.len() > 2 {
            bytes[0] = 0x30;
        }
        assert!(import(&bytes, "").is_err());
    }
    match import(b"not a pfx", "") {
        Err(PkiError::Malformed(m)) => assert!(m.contains("PKCS#12"), "{m}"),
        other => panic!("{other:?}"),
    }
}
