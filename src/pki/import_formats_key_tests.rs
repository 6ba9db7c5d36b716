//! Tests of PEM import of every private key form `openssl` writes: PKCS#8, encrypted PKCS#8, PKCS#1, SEC1, legacy.

use super::tests::{err, import_ok, ossl};
use super::*;
use crate::pki::der;
use crate::pki::key::{Curve, KeySpec, RsaSize};
use crate::pki::test_support::Chain;

#[test]
fn rsa_key_in_every_form() {
    let chain = Chain::new("rsa");
    let key = import_ok(&chain, "leaf.key", None).key.unwrap();
    assert_eq!(key.spec(), KeySpec::Rsa(RsaSize::B2048));
    // A password given for an unencrypted key is ignored.
    import_ok(&chain, "leaf.key", Some("unused"));

    ossl(
        &chain,
        &[
            "rsa",
            "-in",
            "{d}/leaf.key",
            "-traditional",
            "-out",
            "{d}/pkcs1.pem",
        ],
    );
    assert!(
        chain
            .read("pkcs1.pem")
            .starts_with(b"-----BEGIN RSA PRIVATE KEY-----")
    );
    import_ok(&chain, "pkcs1.pem", None);

    let encrypted: [(&str, &[&str]); 4] = [
        ("aes.pem", &["-v2", "aes-256-cbc"]),
        ("des3.pem", &["-v2", "des3"]),
        (
            "sha1prf.pem",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
        ),
        ("scrypt.pem", &["-scrypt"]),
    ];
    for (name, options) in encrypted {
        let mut args = vec![
            "pkcs8",
            "-topk8",
            "-in",
            "{d}/leaf.key",
            "-passout",
            "pass:s3cret",
        ];
        args.extend(options);
        let out = format!("{{d}}/{name}");
        args.extend(["-out", &out]);
        ossl(&chain, &args);
        assert!(
            chain
                .read(name)
                .starts_with(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        );
        import_ok(&chain, name, Some("s3cret"));
    }
}

#[test]
fn encrypted_key_password_errors() {
    let chain = Chain::new("P-256");
    ossl(
        &chain,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "{d}/leaf.key",
            "-passout",
            "pass:right",
            "-out",
            "{d}/enc.pem",
        ],
    );
    let text = [chain.read("leaf.pem"), chain.read("enc.pem")].concat();
    match err(pem(&text, None)) {
        PkiError::WrongPassword(m) => assert!(m.contains("needs a password"), "{m}"),
        other => panic!("{other:?}"),
    }
    for wrong in ["wrong", "", "right "] {
        match err(pem(&text, Some(wrong))) {
            PkiError::WrongPassword(m) => assert!(m.contains("password is wrong"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(pem(&text, Some("right")).is_ok());

    // PKCS#12-style PBE (OpenSSL 1.0's default) is refused with a way out.
    ossl(
        &chain,
        &[
            "pkcs8",
            "-topk8",
            "-v1",
            "PBE-SHA1-3DES",
            "-in",
            "{d}/leaf.key",
            "-passout",
            "pass:right",
            "-out",
            "{d}/v1.pem",
        ],
    );
    let text = [chain.read("leaf.pem"), chain.read("v1.pem")].concat();
    match err(pem(&text, Some("right"))) {
        PkiError::Malformed(m) => {
            assert!(
                m.contains("PKCS#12 PBE") && m.contains("openssl pkcs8 -topk8"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn legacy_encrypted_pem_is_refused_with_how_to_convert() {
    let chain = Chain::new("P-384");
    ossl(
        &chain,
        &[
            "ec",
            "-in",
            "{d}/leaf.key",
            "-aes256",
            "-passout",
            "pass:pw",
            "-out",
            "{d}/legacy-ec.pem",
        ],
    );
    ossl(
        &chain,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "{d}/rsa.key",
        ],
    );
    ossl(
        &chain,
        &[
            "rsa",
            "-in",
            "{d}/rsa.key",
            "-aes256",
            "-traditional",
            "-passout",
            "pass:pw",
            "-out",
            "{d}/legacy-rsa.pem",
        ],
    );
    for name in ["legacy-ec.pem", "legacy-rsa.pem"] {
        assert!(
            String::from_utf8(chain.read(name))
                .unwrap()
                .contains("Proc-Type: 4,ENCRYPTED")
        );
        let text = [chain.read("leaf.pem"), chain.read(name)].concat();
        match err(pem(&text, Some("pw"))) {
            PkiError::Malformed(m) => {
                assert!(m.contains("legacy PEM encryption"), "{m}");
                assert!(m.contains("AES-256-CBC"), "{m}");
                assert!(
                    m.contains("openssl pkcs8 -topk8 -in key.pem -out key8.pem"),
                    "{m}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn ec_keys_as_pkcs8_and_sec1_on_every_curve() {
    for (curve, spec, name) in [
        ("P-256", Curve::P256, "prime256v1"),
        ("P-384", Curve::P384, "secp384r1"),
        ("P-521", Curve::P521, "secp521r1"),
    ] {
        let chain = Chain::new(curve);
        assert_eq!(
            import_ok(&chain, "leaf.key", None).key.unwrap().spec(),
            KeySpec::Ec(spec)
        );
        ossl(
            &chain,
            &["ec", "-in", "{d}/leaf.key", "-out", "{d}/sec1.pem"],
        );
        assert!(
            chain
                .read("sec1.pem")
                .starts_with(b"-----BEGIN EC PRIVATE KEY-----")
        );
        import_ok(&chain, "sec1.pem", None);
        // As `openssl ecparam -genkey` writes it: EC PARAMETERS first.
        ossl(
            &chain,
            &["ecparam", "-name", name, "-out", "{d}/params.pem"],
        );
        let with_params = [chain.read("params.pem"), chain.read("sec1.pem")].concat();
        chain.write("with-params.pem", &with_params);
        import_ok(&chain, "with-params.pem", None);
        // Without the optional public key.
        ossl(
            &chain,
            &[
                "ec",
                "-in",
                "{d}/leaf.key",
                "-no_public",
                "-out",
                "{d}/nopub.pem",
            ],
        );
        import_ok(&chain, "nopub.pem", None);
        // Without the optional curve name (openssl cannot drop it; RFC 5915 allows it).
        for keep_public in [true, false] {
            let sec1 = ::pem::parse(chain.read("sec1.pem"))
                .unwrap()
                .into_contents();
            let outer = der::read_single(&sec1, der::SEQUENCE).unwrap();
            let fields: Vec<u8> = der::children(outer.content)
                .unwrap()
                .iter()
                .filter(|f| f.tag != 0xa0 && (keep_public || f.tag != 0xa1))
                .flat_map(|f| f.whole.to_vec())
                .collect();
            let bare = crate::pki::pem::encode("EC PRIVATE KEY", &der::tlv(der::SEQUENCE, &fields));
            chain.write("bare.pem", bare.as_bytes());
            import_ok(&chain, "bare.pem", None);
        }
    }
}

#[test]
fn unsupported_ec_keys_say_why() {
    let chain = Chain::new("P-256");
    ossl(
        &chain,
        &[
            "ec",
            "-in",
            "{d}/leaf.key",
            "-param_enc",
            "explicit",
            "-out",
            "{d}/x.pem",
        ],
    );
    ossl(
        &chain,
        &[
            "ecparam",
            "-name",
            "secp256k1",
            "-genkey",
            "-noout",
            "-out",
            "{d}/k1.pem",
        ],
    );
    for (name, want) in [("x.pem", "named_curve"), ("k1.pem", "secp256k1")] {
        let text = [chain.read("leaf.pem"), chain.read(name)].concat();
        match err(pem(&text, None)) {
            PkiError::UnsupportedKey(m) => assert!(m.contains(want), "{m}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    ossl(
        &chain,
        &["genpkey", "-algorithm", "ed25519", "-out", "{d}/ed.pem"],
    );
    let text = [chain.read("leaf.pem"), chain.read("ed.pem")].concat();
    assert!(matches!(err(pem(&text, None)), PkiError::UnsupportedKey(m) if m.contains("Ed25519")));
    ossl(
        &chain,
        &[
            "dsaparam",
            "-genkey",
            "-noout",
            "-out",
            "{d}/dsa.key",
            "1024",
        ],
    );
    ossl(
        &chain,
        &[
            "pkey",
            "-in",
            "{d}/dsa.key",
            "-traditional",
            "-out",
            "{d}/dsa.pem",
        ],
    );
    let text = [chain.read("leaf.pem"), chain.read("dsa.pem")].concat();
    assert!(
        matches!(err(pem(&text, None)), PkiError::UnsupportedKey(m) if m.contains("DSA PRIVATE KEY"))
    );
    // RSA 1024 as PKCS#1.
    ossl(
        &chain,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "{d}/r1024.key",
        ],
    );
    ossl(
        &chain,
        &[
            "rsa",
            "-in",
            "{d}/r1024.key",
            "-traditional",
            "-out",
            "{d}/r1024.pem",
        ],
    );
    let text = [chain.read("leaf.pem"), chain.read("r1024.pem")].concat();
    match err(pem(&text, None)) {
        PkiError::UnsupportedKey(m) => assert!(m.contains("RSA") && m.contains("2048"), "{m}"),
        other => panic!("{other:?}"),
    }
}
