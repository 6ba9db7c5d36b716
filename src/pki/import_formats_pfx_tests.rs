//! Tests of PKCS#12 import and format sniffing on PFX files from `openssl pkcs12` and Python `cryptography`.

use super::*;
use crate::pki::test_support::{Chain, noise, openssl, run};
use crate::pki::x509;

const PYTHON_WRITER: &str = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption, NoEncryption, load_pem_private_key, pkcs12)
d = sys.argv[1]
read = lambda name: open(d + "/" + name, "rb").read()
key = load_pem_private_key(read("leaf.key"), None)
cert = x509.load_pem_x509_certificate(read("leaf.pem"))
cas = [x509.load_pem_x509_certificate(read(n + ".pem")) for n in ("inter", "root")]
for name, enc in (("py-pw.pfx", BestAvailableEncryption(b"pw")), ("py-none.pfx", NoEncryption())):
    open(d + "/" + name, "wb").write(pkcs12.serialize_key_and_certificates(b"leaf", key, cert, cas, enc))
"#;

/// PFX files of the chain, with the password each needs (`None`: none).
fn pfx_files(chain: &Chain) -> Vec<(String, Option<&'static str>)> {
    std::fs::write(
        chain.path("cas.pem"),
        [chain.read("inter.pem"), chain.read("root.pem")].concat(),
    )
    .unwrap();
    let variants: [(&str, &[&str], Option<&'static str>); 5] = [
        ("default.pfx", &["-passout", "pass:pw"], Some("pw")),
        (
            "legacy.pfx",
            &["-legacy", "-passout", "pass:pw"],
            Some("pw"),
        ),
        ("empty.pfx", &["-passout", "pass:"], None),
        (
            "plain.pfx",
            &[
                "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:",
            ],
            None,
        ),
        ("nomac.pfx", &["-nomac", "-passout", "pass:pw"], Some("pw")),
    ];
    let mut out = Vec::new();
    for (name, options, password) in variants {
        let (key, leaf, cas, file) = (
            chain.path("leaf.key"),
            chain.path("leaf.pem"),
            chain.path("cas.pem"),
            chain.path(name),
        );
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &leaf,
            "-certfile",
            &cas,
            "-out",
            &file,
        ];
        args.extend(options);
        openssl(&args);
        out.push((name.to_string(), password));
    }
    let dir = chain.dir.path().to_string_lossy().into_owned();
    let py = run("python3", &["-c", PYTHON_WRITER, &dir], b"");
    assert!(py.ok, "{}", py.stderr);
    out.push(("py-pw.pfx".into(), Some("pw")));
    out.push(("py-none.pfx".into(), None));
    out
}

#[test]
fn reads_pfx_from_openssl_and_python() {
    for curve in ["rsa", "P-384"] {
        let chain = Chain::new(curve);
        let leaf_spki = x509::inspect(&chain.der("leaf")).unwrap().public_key_der;
        for (name, password) in pfx_files(&chain) {
            let data = chain.read(&name);
            assert_eq!(sniff(&data), ImportFormat::Pkcs12, "{name}");
            let imported = pkcs12(&data, password).unwrap_or_else(|e| panic!("{name}: {e}"));
            let key = imported.key.as_ref().unwrap();
            assert_eq!(key.public_key_der(), leaf_spki, "{name}");
            assert_eq!(imported.certificates, chain.ders(), "{name}");
            if let Some(password) = password {
                // Without a MAC, a wrong key unpads cleanly once in 256 tries
                // and then reads as damaged data instead.
                let lucky =
                    |e: &PkiError| name == "nomac.pfx" && matches!(e, PkiError::Malformed(_));
                match pkcs12(&data, None) {
                    Err(PkiError::WrongPassword(m)) => assert!(m.contains("needs one"), "{m}"),
                    Err(e) if lucky(&e) => {}
                    other => panic!("{name}: {other:?}"),
                }
                match pkcs12(&data, Some(&format!("{password}x"))) {
                    Err(PkiError::WrongPassword(_)) => {}
                    Err(e) if lucky(&e) => {}
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn sniffs_by_content_not_name() {
    let chain = Chain::new("P-256");
    let key = chain.path("leaf.key");
    let leaf = chain.path("leaf.pem");
    let out = chain.path("site.pem"); // a PFX under a PEM name
    openssl(&[
        "pkcs12", "-export", "-inkey", &key, "-in", &leaf, "-passout", "pass:", "-out", &out,
    ]);
    let data = chain.read("site.pem");
    assert_eq!(sniff(&data), ImportFormat::Pkcs12);
    assert!(pkcs12(&data, None).unwrap().key.is_some());

    let text = [chain.read("leaf.pem"), chain.read("leaf.key")].concat();
    assert_eq!(sniff(&text), ImportFormat::Pem);
    assert_eq!(sniff(&chain.der("leaf")), ImportFormat::Unknown);
    assert_eq!(sniff(b""), ImportFormat::Unknown);
    assert_eq!(sniff(&[0u8; 2 << 20]), ImportFormat::Unknown);
    assert_eq!(sniff(b"\x30\x03\x02\x01\x03"), ImportFormat::Unknown);
    for seed in 1..300u64 {
        let bytes = noise(seed, (seed as usize * 17) % 900);
        assert_ne!(sniff(&bytes), ImportFormat::Pem);
    }
}

#[test]
fn pkcs12_garbage_is_refused_without_panic() {
    let chain = Chain::new("P-256");
    let files = pfx_files(&chain);
    let data = chain.read(&files[0].0);
    for len in (0..data.len()).step_by(7) {
        assert!(pkcs12(&data[..len], Some("pw")).is_err(), "{len}");
    }
    for seed in 1..200u64 {
        let bytes = noise(seed, (seed as usize * 5) % 400);
        assert!(pkcs12(&bytes, None).is_err());
    }
    match pkcs12(&[0u8; 2 << 20], None) {
        Err(PkiError::Malformed(_)) => {}
        other => panic!("{other:?}"),
    }
    // A PEM file handed to the PKCS#12 reader, and the other way round.
    assert!(pkcs12(&chain.read("leaf.pem"), None).is_err());
    assert!(pem(&data, Some("pw")).is_err());
}
