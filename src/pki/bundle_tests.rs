//! Tests of what `merge/` accepts, on files made by `openssl`: PEM in every order, DER, PKCS#7 PEM/DER/BER.

use super::*;
use crate::pki::pkcs7::tests::to_indefinite;
use crate::pki::test_support::{Chain, noise, openssl};

/// All orderings of `items`.
pub(crate) fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

fn p7b(chain: &Chain, outform: &str) -> Vec<u8> {
    let out = chain.path("chain.p7b");
    openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        &chain.path("leaf.pem"),
        "-certfile",
        &chain.path("inter.pem"),
        "-certfile",
        &chain.path("root.pem"),
        "-outform",
        outform,
        "-out",
        &out,
    ]);
    chain.read("chain.p7b")
}

#[test]
fn pem_certificates_in_every_order_with_text_and_crlf() {
    let chain = Chain::new("P-256");
    let names = ["leaf", "inter", "root"];
    for order in permutations(&names) {
        let mut text = b"Bag Attributes\n    friendlyName: x\nsubject=/CN=whatever\n".to_vec();
        for name in &order {
            text.extend(chain.read(&format!("{name}.pem")));
            text.extend(b"\n# comment between blocks\n");
        }
        // A key in the file is ignored here.
        text.extend(chain.read("leaf.key"));
        let want: Vec<Vec<u8>> = order.iter().map(|n| chain.der(n)).collect();
        assert_eq!(certificates_from_any(&text).unwrap(), want, "{order:?}");
        let crlf: Vec<u8> = String::from_utf8(text)
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        assert_eq!(
            certificates_from_any(&crlf).unwrap(),
            want,
            "{order:?} CRLF"
        );
    }
    let one = chain.read("leaf.pem");
    assert_eq!(
        certificates_from_any(&one).unwrap(),
        vec![chain.der("leaf")]
    );
}

#[test]
fn der_certificate_and_pkcs7_in_every_encoding() {
    let chain = Chain::new("rsa");
    let leaf = chain.der("leaf");
    assert_eq!(certificates_from_any(&leaf).unwrap(), vec![leaf.clone()]);
    let der = p7b(&chain, "DER");
    assert_eq!(certificates_from_any(&der).unwrap(), chain.ders());
    let ber_bytes = to_indefinite(&der, 4);
    assert_eq!(certificates_from_any(&ber_bytes).unwrap(), chain.ders());
    let pem_text = p7b(&chain, "PEM");
    assert!(pem_text.starts_with(b"-----BEGIN PKCS7-----"));
    assert_eq!(certificates_from_any(&pem_text).unwrap(), chain.ders());
    // A PKCS7 block next to a certificate block: both are read, in order.
    let mixed = [chain.read("root.pem"), pem_text.clone()].concat();
    let mut want = vec![chain.der("root")];
    want.extend(chain.ders());
    assert_eq!(certificates_from_any(&mixed).unwrap(), want);
    // DER saved as bare base64 (no BEGIN/END lines).
    let bare: Vec<u8> = pem_text
        .split(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"-----"))
        .flat_map(|l| [l, b"\n"].concat())
        .collect();
    assert_eq!(certificates_from_any(&bare).unwrap(), chain.ders());
    // OpenSSL's TRUSTED CERTIFICATE: the certificate without its trust settings.
    let trusted = openssl(&[
        "x509",
        "-in",
        &chain.path("root.pem"),
        "-trustout",
        "-addtrust",
        "serverAuth",
    ]);
    assert!(trusted.contains("BEGIN TRUSTED CERTIFICATE"), "{trusted}");
    let got = certificates_from_any(trusted.as_bytes()).unwrap();
    assert_eq!(got, vec![chain.der("root")]);
}

fn malformed(data: &[u8]) -> String {
    match certificates_from_any(data) {
        Err(PkiError::Malformed(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_say_what_is_accepted() {
    let chain = Chain::new("P-256");
    for data in [
        &b""[..],
        b"hello world",
        &chain.read("leaf.key"),
        &[0u8; 2 << 20],
    ] {
        let m = malformed(data);
        assert!(m.contains(ACCEPTED), "{m}");
    }
    assert!(malformed(&chain.read("leaf.key")).contains("only PRIVATE KEY"));
    let m = malformed(b"\x30\x03\x02\x01\x00");
    assert!(
        m.contains("neither a DER certificate") && m.contains(ACCEPTED),
        "{m}"
    );
    assert!(
        !m.contains("malformed input"),
        "reasons nest without prefix: {m}"
    );
    let junk = b"-----BEGIN CERTIFICATE-----\nMIIB%%%%not base64\n-----END CERTIFICATE-----\n";
    let m = malformed(junk);
    assert!(m.contains("base64") && m.contains("CERTIFICATE"), "{m}");
    // Valid base64 that is no certificate.
    let m = malformed(b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n");
    assert!(m.contains("not a valid X.509 certificate"), "{m}");
    let m = malformed(b"-----BEGIN PKCS7-----\nMAMCAQA=\n-----END PKCS7-----\n");
    assert!(m.contains("PKCS#7"), "{m}");
}

#[test]
fn garbage_and_truncation_never_panic() {
    let chain = Chain::new("P-256");
    let pem_bundle = [chain.read("leaf.pem"), chain.read("inter.pem")].concat();
    let der = p7b(&chain, "DER");
    let ber_bytes = to_indefinite(&der, 4);
    let leaf = chain.der("leaf");
    let want = [leaf.clone(), chain.der("inter")];
    for data in [&pem_bundle, &der, &ber_bytes, &leaf] {
        for len in 0..data.len() {
            // A PEM file cut between blocks still holds whole certificates.
            if let Ok(certs) = certificates_from_any(&data[..len]) {
                assert!(data == &pem_bundle, "{len}");
                assert_eq!(certs[..], want[..certs.len()], "{len}");
            }
        }
    }
    for seed in 1..500u64 {
        let bytes = noise(seed, (seed as usize * 13) % 700);
        assert!(certificates_from_any(&bytes).is_err());
        // Noise after a PEM header, and noise starting with a SEQUENCE tag.
        let mut text = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        text.extend(&bytes);
        assert!(certificates_from_any(&text).is_err());
        let mut seq = vec![0x30];
        seq.extend(&bytes);
        assert!(certificates_from_any(&seq).is_err());
    }
}
