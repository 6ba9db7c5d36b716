//! Tests of PKCS#7 reading against bundles made by `openssl crl2pkcs7` and `openssl cms`, DER and BER.

use super::*;
use crate::pki::test_support::{Chain, noise, openssl};

/// Re-encodes `whole` with indefinite lengths on the constructed elements of
/// the first `depth` levels (what Windows and streaming CMS writers emit),
/// keeping deeper elements (the certificates) as they are.
pub(crate) fn to_indefinite(whole: &[u8], depth: usize) -> Vec<u8> {
    let e = ber::single(whole).unwrap();
    if depth == 0 || !e.any.header.is_constructed() {
        return whole.to_vec();
    }
    let mut out = vec![whole[0], 0x80];
    for child in ber::children(&e).unwrap() {
        out.extend(to_indefinite(child.whole, depth - 1));
    }
    out.extend([0, 0]);
    out
}

/// `openssl crl2pkcs7 -nocrl` of `names` (in that order), DER.
fn p7b(chain: &Chain, names: &[&str], outform: &str) -> Vec<u8> {
    let mut args = vec!["crl2pkcs7", "-nocrl", "-outform", outform];
    let paths: Vec<String> = names
        .iter()
        .map(|n| chain.path(&format!("{n}.pem")))
        .collect();
    for path in &paths {
        args.extend(["-certfile", path.as_str()]);
    }
    let out = chain.path("out.p7b");
    args.extend(["-out", &out]);
    openssl(&args);
    chain.read("out.p7b")
}

#[test]
fn reads_crl2pkcs7_der_keeping_file_order() {
    let chain = Chain::new("P-256");
    for order in [["leaf", "inter", "root"], ["root", "leaf", "inter"]] {
        let der = p7b(&chain, &order, "DER");
        let want: Vec<Vec<u8>> = order.iter().map(|n| chain.der(n)).collect();
        assert_eq!(certificates(&der).unwrap(), want);
        // The PEM form's body is the same DER.
        let pem_text = p7b(&chain, &order, "PEM");
        assert!(pem_text.starts_with(b"-----BEGIN PKCS7-----"));
        assert_eq!(::pem::parse(&pem_text).unwrap().contents(), der.as_slice());
    }
}

#[test]
fn reads_ber_with_indefinite_lengths() {
    let chain = Chain::new("P-256");
    // A real tool's BER: a streamed CMS signature carrying the chain.
    std::fs::write(chain.path("msg.txt"), b"hello\n").unwrap();
    std::fs::write(
        chain.path("ca.pem"),
        [chain.read("inter.pem"), chain.read("root.pem")].concat(),
    )
    .unwrap();
    openssl(&[
        "cms",
        "-sign",
        "-stream",
        "-nodetach",
        "-outform",
        "DER",
        "-in",
        &chain.path("msg.txt"),
        "-signer",
        &chain.path("leaf.pem"),
        "-inkey",
        &chain.path("leaf.key"),
        "-certfile",
        &chain.path("ca.pem"),
        "-out",
        &chain.path("signed.p7m"),
    ]);
    let streamed = chain.read("signed.p7m");
    assert_eq!(
        &streamed[..2],
        &[0x30, 0x80],
        "openssl cms -stream writes BER"
    );
    let mut got = certificates(&streamed).unwrap();
    let mut want = chain.ders();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // A certs-only .p7b re-encoded with indefinite lengths down to the
    // certificate set, as Windows writes them; openssl reads it too.
    let der = p7b(&chain, &["leaf", "inter", "root"], "DER");
    let ber_bytes = to_indefinite(&der, 4);
    assert_ne!(ber_bytes, der);
    let path = chain.write("ber.p7b", &ber_bytes);
    let printed = openssl(&["pkcs7", "-inform", "DER", "-in", &path, "-print_certs"]);
    assert_eq!(printed.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    assert_eq!(certificates(&ber_bytes).unwrap(), chain.ders());
}

#[test]
fn refuses_what_is_not_a_certificate_bundle() {
    let chain = Chain::new("P-256");
    let der = p7b(&chain, &["leaf", "inter"], "DER");
    let ber_bytes = to_indefinite(&der, 4);
    for bytes in [&der, &ber_bytes] {
        for len in 0..bytes.len() {
            assert!(certificates(&bytes[..len]).is_err(), "{len}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(certificates(&trailing).is_err());
        for i in 0..bytes.len() {
            let mut copy = bytes.clone();
            copy[i] ^= 0x41;
            let _ = certificates(&copy);
        }
    }
    for seed in 1..300 {
        assert!(certificates(&noise(seed, (seed as usize * 7) % 500)).is_err());
    }
    let zeros = vec![0u8; 2 << 20];
    assert!(certificates(&zeros).is_err());
    let mut deep = [0x30u8, 0x80].repeat(100_000);
    deep.extend([0u8; 200_000]);
    assert!(certificates(&deep).is_err());

    let cases: [(&[u8], &str); 4] = [
        (&chain.der("leaf"), "does not have two fields"),
        // ContentInfo of type id-data.
        (
            b"\x30\x0f\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\xa0\x02\x04\x00",
            "1.2.840.113549.1.7.1, not SignedData",
        ),
        // SignedData without certificates.
        (
            b"\x30\x23\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x16\x30\x14\x02\x01\x01\x31\x00\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\x31\x00",
            "holds no certificate",
        ),
        (b"\x04\x00", "does not start with a SEQUENCE"),
    ];
    for (bytes, want) in cases {
        match certificates(bytes) {
            Err(PkiError::Malformed(m)) => assert!(m.contains(want), "{m}"),
            other => panic!("{want}: {other:?}"),
        }
    }
}
