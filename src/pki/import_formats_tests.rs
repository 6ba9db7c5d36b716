//! Tests of PEM import on files made by `openssl`: block orders, refusals, and no key material in errors.

use super::*;
use crate::pki::bundle::tests::permutations;
use crate::pki::test_support::{Chain, noise, openssl};
use crate::pki::x509;
/// Runs `openssl` on the chain's files: `{d}` in an argument stands for the chain's directory.
pub(super) fn ossl(chain: &Chain, args: &[&str]) -> String {
    let dir = chain.dir.path().to_string_lossy().into_owned();
    let args: Vec<String> = args.iter().map(|a| a.replace("{d}", &dir)).collect();
    openssl(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Imports `key_file` + leaf + chain as one PEM file and checks the result.
pub(super) fn import_ok(chain: &Chain, key_file: &str, password: Option<&str>) -> Imported {
    let text = [
        chain.read(key_file),
        chain.read("leaf.pem"),
        chain.read("inter.pem"),
        chain.read("root.pem"),
    ]
    .concat();
    let imported = pem(&text, password).unwrap_or_else(|e| panic!("{key_file}: {e}"));
    check(chain, &imported);
    imported
}

/// The key is the leaf's, and the certificates order into the chain.
pub(super) fn check(chain: &Chain, imported: &Imported) {
    let key = imported.key.as_ref().expect("a key");
    let leaf_spki = x509::inspect(&chain.der("leaf")).unwrap().public_key_der;
    assert_eq!(key.public_key_der(), leaf_spki);
    let ordered = x509::order_chain(&key.public_key_der(), &imported.certificates).unwrap();
    assert_eq!(ordered, chain.ders());
    // What is stored is plain PKCS#8 that loads again.
    let again = PrivateKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
    assert_eq!(again.public_key_der(), leaf_spki);
    assert!(key.signing_key_pair().is_ok());
}

pub(super) fn err(result: Result<Imported, PkiError>) -> PkiError {
    match result {
        Ok(imported) => panic!("imported {imported:?}"),
        Err(e) => e,
    }
}

#[test]
fn blocks_in_every_order_with_text_and_crlf() {
    let chain = Chain::new("P-256");
    ossl(
        &chain,
        &["ec", "-in", "{d}/leaf.key", "-out", "{d}/sec1.pem"],
    );
    for key in ["leaf.key", "sec1.pem"] {
        let parts = [key, "leaf.pem", "inter.pem", "root.pem"];
        for order in permutations(&parts) {
            let mut text = b"subject=CN = leaf.example.com\n".to_vec();
            for part in &order {
                text.extend(chain.read(part));
                text.extend(b"Bag Attributes: none\n");
            }
            check(&chain, &pem(&text, None).unwrap());
            let crlf = String::from_utf8(text).unwrap().replace('\n', "\r\n");
            check(&chain, &pem(crlf.as_bytes(), None).unwrap());
        }
    }
    // A PKCS7 block may carry the chain.
    ossl(
        &chain,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "{d}/root.pem",
            "-certfile",
            "{d}/inter.pem",
            "-certfile",
            "{d}/leaf.pem",
            "-out",
            "{d}/chain.p7b",
        ],
    );
    let text = [chain.read("chain.p7b"), chain.read("leaf.key")].concat();
    check(&chain, &pem(&text, None).unwrap());
}

#[test]
fn refuses_two_keys_no_certificate_and_garbage() {
    let chain = Chain::new("P-256");
    let key = chain.read("leaf.key");
    let leaf = chain.read("leaf.pem");
    let two = [key.clone(), leaf.clone(), chain.read("inter.key")].concat();
    assert!(
        matches!(err(pem(&two, None)), PkiError::Malformed(m) if m.contains("more than one private key"))
    );
    for (text, want) in [
        (&key, "no certificate"),
        (&b"no pem here"[..].to_vec(), "no PEM block"),
    ] {
        match err(pem(text, None)) {
            PkiError::Malformed(m) => assert!(m.contains(want) && m.contains(ACCEPTED), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    // Certificates only: no key, for the vault to refuse.
    assert!(pem(&leaf, None).unwrap().key.is_none());

    // Junk base64 in a key block: named, but its content is not quoted.
    let junk = [
        leaf.clone(),
        b"-----BEGIN PRIVATE KEY-----\nMIIEsecretJUNK$$\n-----END PRIVATE KEY-----\n".to_vec(),
    ]
    .concat();
    match err(pem(&junk, None)) {
        PkiError::Malformed(m) => assert!(m.contains("base64") && !m.contains("secret"), "{m}"),
        other => panic!("{other:?}"),
    }
    let zeros = vec![0u8; 2 << 20];
    assert!(pem(&zeros, None).is_err());
    let whole = [key.clone(), leaf.clone()].concat();
    for len in 0..whole.len() {
        let _ = pem(&whole[..len], Some("pw"));
    }
    for seed in 1..300u64 {
        let bytes = noise(seed, (seed as usize * 11) % 600);
        assert!(pem(&bytes, None).is_err());
        for label in [
            "PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
        ] {
            let block = crate::pki::pem::encode(label, &bytes);
            let text = [leaf.clone(), block.into_bytes()].concat();
            assert!(pem(&text, Some("pw")).is_err(), "{label} {seed}");
        }
    }
}

#[test]
fn errors_and_debug_never_show_key_material() {
    let chain = Chain::new("rsa");
    ossl(
        &chain,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "{d}/leaf.key",
            "-passout",
            "pass:pw",
            "-out",
            "{d}/enc.pem",
        ],
    );
    let plain = chain.read("leaf.key");
    let body: String = String::from_utf8(plain.clone())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut outputs = Vec::new();
    let imported = pem(&[plain.clone(), chain.read("leaf.pem")].concat(), None).unwrap();
    outputs.push(format!("{imported:?} {imported:#?}"));
    let enc = [chain.read("enc.pem"), chain.read("leaf.pem")].concat();
    outputs.push(err(pem(&enc, Some("bad"))).to_string());
    let mut damaged = plain.clone();
    let at = damaged.len() / 2;
    damaged[at] = b'!';
    outputs.push(err(pem(&[damaged, chain.read("leaf.pem")].concat(), None)).to_string());
    for out in &outputs {
        assert!(
            out.contains("PrivateKey(<elided>)") || !out.contains("PrivateKey"),
            "{out}"
        );
        for chunk in body.as_bytes().chunks(12) {
            assert!(!out.contains(std::str::from_utf8(chunk).unwrap()), "{out}");
        }
    }
}
