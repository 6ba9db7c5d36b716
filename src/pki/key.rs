//! Private keys: generation per Key Vault key type, PKCS#8 form, and a secret type that never prints itself.

use rcgen::{PublicKeyData, RsaKeySize, SignatureAlgorithm};
use zeroize::Zeroizing;

use super::PkiError;
use super::der;

/// RSA modulus sizes Key Vault offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaSize {
    /// 2048 bits
    B2048,
    /// 3072 bits
    B3072,
    /// 4096 bits
    B4096,
}

/// Elliptic curves Key Vault offers (secp256k1 is not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256
    P256,
    /// NIST P-384
    P384,
    /// NIST P-521
    P521,
}

/// The kind of key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with the given modulus size.
    Rsa(RsaSize),
    /// ECDSA on the given curve.
    Ec(Curve),
}

impl KeySpec {
    /// The signature algorithm certfs signs with for this key type:
    /// SHA-256 for RSA and P-256, SHA-384 for P-384, SHA-512 for P-521.
    pub(crate) fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeySpec::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            KeySpec::Ec(Curve::P256) => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeySpec::Ec(Curve::P384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeySpec::Ec(Curve::P521) => &rcgen::PKCS_ECDSA_P521_SHA512,
        }
    }
}

/// `RSA 2048`, `EC P-256`: how a message names the key.
impl std::fmt::Display for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySpec::Rsa(RsaSize::B2048) => f.write_str("RSA 2048"),
            KeySpec::Rsa(RsaSize::B3072) => f.write_str("RSA 3072"),
            KeySpec::Rsa(RsaSize::B4096) => f.write_str("RSA 4096"),
            KeySpec::Ec(Curve::P256) => f.write_str("EC P-256"),
            KeySpec::Ec(Curve::P384) => f.write_str("EC P-384"),
            KeySpec::Ec(Curve::P521) => f.write_str("EC P-521"),
        }
    }
}

/// A private key, held as PKCS#8 DER in memory that is zeroed on drop.
///
/// `Debug` prints `PrivateKey(<elided>)`; there is no `Display`.
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    spec: KeySpec,
    /// DER SubjectPublicKeyInfo, computed once when the key is made or loaded.
    spki: Vec<u8>,
    /// The key pair a new key was made as, handed to its first signing:
    /// reading an RSA key back costs ~2 ms (aws-lc checks it), a tenth of
    /// what making a certificate adds to key generation.
    made: parking_lot::Mutex<Option<rcgen::KeyPair>>,
}

const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const CURVES: &[(&[u64], Result<Curve, &str>)] = &[
    (&[1, 2, 840, 10045, 3, 1, 7], Ok(Curve::P256)),
    (&[1, 3, 132, 0, 34], Ok(Curve::P384)),
    (&[1, 3, 132, 0, 35], Ok(Curve::P521)),
    (&[1, 3, 132, 0, 10], Err("secp256k1 (P-256K)")),
];
const OTHER_ALGORITHMS: &[(&[u64], &str)] = &[
    (&[1, 3, 101, 110], "X25519"),
    (&[1, 3, 101, 111], "X448"),
    (&[1, 3, 101, 112], "Ed25519"),
    (&[1, 3, 101, 113], "Ed448"),
    (&[1, 2, 840, 113549, 1, 1, 10], "RSASSA-PSS"),
    (&[1, 2, 840, 10040, 4, 1], "DSA"),
];
const SUPPORTED: &str = "certfs supports RSA 2048/3072/4096 and EC P-256/P-384/P-521";

/// Reads the algorithm OID and (for EC) the curve OID of a PKCS#8 PrivateKeyInfo.
fn pkcs8_algorithm(der_bytes: &[u8]) -> Option<(Vec<u64>, Option<Vec<u64>>)> {
    let info = der::read_single(der_bytes, der::SEQUENCE)?;
    let fields = der::children(info.content)?;
    let [version, algorithm, key, ..] = fields.as_slice() else {
        return None;
    };
    if version.tag != 0x02 || algorithm.tag != der::SEQUENCE || key.tag != 0x04 {
        return None;
    }
    let alg = der::children(algorithm.content)?;
    let oid = alg.first().filter(|t| t.tag == der::OID)?;
    let param = alg
        .get(1)
        .filter(|t| t.tag == der::OID)
        .and_then(|t| der::oid_arcs(t.content));
    Some((der::oid_arcs(oid.content)?, param))
}

/// Which [`KeySpec`] a PKCS#8 key is, with a clear refusal for the rest.
fn detect_spec(der_bytes: &[u8]) -> Result<KeySpec, PkiError> {
    let (alg, param) = pkcs8_algorithm(der_bytes)
        .ok_or_else(|| PkiError::Malformed("not a PKCS#8 private key (PrivateKeyInfo)".into()))?;
    if alg == RSA_ENCRYPTION {
        let rsa = aws_lc_rs::rsa::KeyPair::from_pkcs8(der_bytes)
            .map_err(|e| PkiError::Malformed(format!("the RSA private key was rejected: {e}")))?;
        return match rsa.public_modulus_len() * 8 {
            2048 => Ok(KeySpec::Rsa(RsaSize::B2048)),
            3072 => Ok(KeySpec::Rsa(RsaSize::B3072)),
            4096 => Ok(KeySpec::Rsa(RsaSize::B4096)),
            bits => Err(PkiError::UnsupportedKey(format!(
                "RSA {bits}-bit keys are not supported; {SUPPORTED}"
            ))),
        };
    }
    if alg == EC_PUBLIC_KEY {
        let param = param.unwrap_or_default();
        return match CURVES.iter().find(|(oid, _)| *oid == param.as_slice()) {
            Some((_, Ok(curve))) => Ok(KeySpec::Ec(*curve)),
            Some((_, Err(name))) => Err(PkiError::UnsupportedKey(format!(
                "the EC curve {name} is not supported; {SUPPORTED}"
            ))),
            None => Err(PkiError::UnsupportedKey(format!(
                "the EC curve {} is not supported; {SUPPORTED}",
                der::dotted(&param)
            ))),
        };
    }
    let name = OTHER_ALGORITHMS
        .iter()
        .find(|(oid, _)| *oid == alg.as_slice())
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| format!("algorithm {}", der::dotted(&alg)));
    Err(PkiError::UnsupportedKey(format!(
        "{name} keys are not supported; {SUPPORTED}"
    )))
}

impl PrivateKey {
    /// Generates a new key. RSA takes from ~70 ms (2048) to seconds (4096):
    /// never call this while holding a lock that a file operation needs.
    pub fn generate(spec: KeySpec) -> Result<Self, PkiError> {
        let alg = spec.signature_algorithm();
        let generated = match spec {
            KeySpec::Rsa(size) => {
                let size = match size {
                    RsaSize::B2048 => RsaKeySize::_2048,
                    RsaSize::B3072 => RsaKeySize::_3072,
                    RsaSize::B4096 => RsaKeySize::_4096,
                };
                rcgen::KeyPair::generate_rsa_for(alg, size)
            }
            KeySpec::Ec(_) => rcgen::KeyPair::generate_for(alg),
        };
        let pair =
            generated.map_err(|e| PkiError::Crypto(format!("key generation failed: {e}")))?;
        let pkcs8 = Zeroizing::new(pair.serialized_der().to_vec());
        let spki = pair.subject_public_key_info();
        Ok(PrivateKey {
            pkcs8,
            spec,
            spki,
            made: parking_lot::Mutex::new(Some(pair)),
        })
    }

    /// Loads a key from PKCS#8 DER (as stored); detects its [`KeySpec`].
    ///
    /// Refuses other key forms (PKCS#1, SEC1: convert them first), other
    /// algorithms and sizes with `UnsupportedKey`, and garbage with `Malformed`.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, PkiError> {
        let spec = detect_spec(der_bytes)?;
        let pkcs8 = Zeroizing::new(der_bytes.to_vec());
        let pair = load_pair(&pkcs8, spec)?;
        let spki = pair.subject_public_key_info();
        Ok(PrivateKey {
            pkcs8,
            spec,
            spki,
            made: parking_lot::Mutex::new(None),
        })
    }

    /// The key's type.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// PKCS#8 DER of the key. The caller must not log it.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), zeroed on drop.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        super::pem::encode_zeroizing("PRIVATE KEY", &self.pkcs8)
    }

    /// DER SubjectPublicKeyInfo of the public half (to match against certificates).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The key as an rcgen key pair that signs with the algorithm certfs
    /// uses for its type (SHA-256 for RSA and P-256, SHA-384 for P-384,
    /// SHA-512 for P-521), for building certificates and CSRs.
    pub fn signing_key_pair(&self) -> Result<rcgen::KeyPair, PkiError> {
        match self.made.lock().take() {
            Some(pair) => Ok(pair),
            None => load_pair(&self.pkcs8, self.spec),
        }
    }
}

/// Builds the rcgen key pair and checks that rcgen sees the same algorithm.
fn load_pair(pkcs8: &[u8], spec: KeySpec) -> Result<rcgen::KeyPair, PkiError> {
    let pair = rcgen::KeyPair::try_from(pkcs8)
        .map_err(|e| PkiError::Malformed(format!("the private key was rejected: {e}")))?;
    if pair.algorithm() != spec.signature_algorithm() {
        return Err(PkiError::Crypto(format!(
            "the key was read with an unexpected algorithm for {spec:?}"
        )));
    }
    Ok(pair)
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<elided>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_FAST: [KeySpec; 5] = [
        KeySpec::Rsa(RsaSize::B2048),
        KeySpec::Rsa(RsaSize::B3072),
        KeySpec::Ec(Curve::P256),
        KeySpec::Ec(Curve::P384),
        KeySpec::Ec(Curve::P521),
    ];

    fn round_trip(spec: KeySpec) {
        let key = PrivateKey::generate(spec).unwrap();
        assert_eq!(key.spec(), spec);
        let loaded = PrivateKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
        assert_eq!(loaded.spec(), spec);
        assert_eq!(loaded.pkcs8_der(), key.pkcs8_der());
        assert_eq!(loaded.public_key_der(), key.public_key_der());
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        let pair = key.signing_key_pair().unwrap();
        assert_eq!(pair.algorithm(), spec.signature_algorithm());
        assert_eq!(pair.subject_public_key_info(), key.public_key_der());
    }

    #[test]
    fn every_fast_spec_generates_and_round_trips() {
        for spec in ALL_FAST {
            round_trip(spec);
        }
    }

    #[test]
    fn rsa_4096_generates_and_round_trips() {
        round_trip(KeySpec::Rsa(RsaSize::B4096));
    }

    #[test]
    fn keys_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PrivateKey>();
    }

    #[test]
    fn two_keys_differ() {
        let a = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        let b = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        assert_ne!(a.public_key_der(), b.public_key_der());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
        let debug = format!("{key:?} {key:#?}");
        assert_eq!(format!("{key:?}"), "PrivateKey(<elided>)");
        let pem = key.to_pkcs8_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for chunk in body.as_bytes().chunks(8) {
            assert!(!debug.contains(std::str::from_utf8(chunk).unwrap()));
        }
        let hex: String = key.pkcs8_der()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!debug.to_lowercase().contains(&hex));
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let key = PrivateKey::generate(KeySpec::Ec(Curve::P384)).unwrap();
        let der_bytes = key.pkcs8_der();
        for len in 0..der_bytes.len() {
            assert!(
                PrivateKey::from_pkcs8_der(&der_bytes[..len]).is_err(),
                "{len}"
            );
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2000 {
            let len = round % 200;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            assert!(PrivateKey::from_pkcs8_der(&bytes).is_err());
        }
        // Flipping bytes inside a valid key never panics either.
        for i in 0..der_bytes.len() {
            let mut copy = der_bytes.to_vec();
            copy[i] ^= 0x5a;
            let _ = PrivateKey::from_pkcs8_der(&copy);
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        // secp256k1 PKCS#8 made by `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1`.
        let k1 = "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgaNSgDscjgz56LS9LBGVNuBQLz/Bns/JQui1KY+hf3qyhRANCAARlM6n5OUmb8HX/YRl0k/0PuxYgOHoEzMZa3RyiyArbOP8MR5QjM9L6rlbGLreU33kkuaPWrU1oxMLTyEC9F8m6";
        let der_bytes = pem_body(k1);
        match PrivateKey::from_pkcs8_der(&der_bytes) {
            Err(PkiError::UnsupportedKey(m)) => assert!(m.contains("secp256k1"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Ed25519 from `openssl genpkey -algorithm ed25519`.
        let ed = pem_body("MC4CAQAwBQYDK2VwBCIEIOnrf6QkiY2plmYAW7Iuq/s99dVgi1T5gl6wW9bFuN1s");
        match PrivateKey::from_pkcs8_der(&ed) {
            Err(PkiError::UnsupportedKey(m)) => assert!(m.contains("Ed25519"), "{m}"),
            other => panic!("{other:?}"),
        }
        // RSA 1024 from `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024`.
        let rsa1024 = pem_body(RSA_1024);
        match PrivateKey::from_pkcs8_der(&rsa1024) {
            Err(PkiError::UnsupportedKey(m) | PkiError::Malformed(m)) => {
                assert!(m.contains("RSA"), "{m}");
                assert!(!m.contains("MIIC"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        match PrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00") {
            Err(PkiError::Malformed(m)) => assert!(m.contains("PKCS#8"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    const RSA_1024: &str = "MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBALbsX4e/GrWbZXkhH1XEzbwE5dELBaZW1LBWi7Vu4tg0pfb3lKrQg1Z3vQ6aE0PjUj8GIJJqutXAOZYwJZgXvilPskNaLt7kIlvP8sGpvNnUyChYF8WpBX9U6vFJmBUSQCy95nB2XvXPD1+fvq+bR79E5adeRP7dHMfKNr8URGkRAgMBAAECgYA8ZFvB0Hk7/hsJW8MhqQEXkzJgytfJrB86PMiRVRO1t+QXXnQJ1R+Xe57CZGH55uIvhpFYZb5bdcRNboXq6ePQ5tCgWTxFLnBTA2Oc4W+mY+14Hki67jhZkXqOyAV/6ef3owR+BuZBXCmcJky9KM4brra2wr3RJXbinz0eq5ktsQJBAOBNsI5Xj+Ds+jhTXyAFTD0d2e4M39jsSLhMWdJenOBA7suKr5vVRDgujosibPQBf7tIxGYy0OSiJPnzhu++M3UCQQDQxbuCp8a3U5sGs7JRWFWlWB+ik19b/eiVoyrbVAU2DoKX/8Mh7SKWf/u8BE1ImEtiESZkT7SEHXMMRoJyx7etAkACYBA8kaTOZvQHYKqjNismgohqQuyj6WyjtvtEhQf4P/fHZAKUDeAZEDUmOAkbVGC75Ptfca5QnX7yvqdxJnx5AkA8XdB4WRcGj3A2IeOfzdEF/FM5aS+bo/GKwyFzRfozxUJRvSypNK5ZoiwiE4RdR1wUwSy+uKVTxkgr9n9lvQYJAkBoASkgaiHWPLY50qnaO7Bi6dZ5PNZtLEq1pP00F/nHdiZii6WxuDPJOq2nqrEWRXZ0cfI2p3IzzGq8eR2zhrXb";

    fn pem_body(b64: &str) -> Vec<u8> {
        pem::parse(format!(
            "-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"
        ))
        .unwrap()
        .into_contents()
    }
}
