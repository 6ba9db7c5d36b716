//! Private key forms other than plain PKCS#8 (PKCS#1 RSA, SEC1 EC, encrypted PKCS#8), converted to a [`PrivateKey`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm};
use pkcs8::EncryptedPrivateKeyInfoRef;
use x509_parser::asn1_rs::Tag;
use zeroize::Zeroizing;

use super::PkiError;
use super::ber;
use super::key::PrivateKey;

const SUPPORTED: &str = "certfs supports RSA 2048/3072/4096 and EC P-256/P-384/P-521";

/// How to re-encrypt a key in a form certfs reads.
const TO_PKCS8: &str = "convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key8.pem` \
     (or `-nocrypt` for no encryption)";

/// Why aws-lc refused a key, in words (its reasons never hold key material).
fn rejected(form: &str, why: &aws_lc_rs::error::KeyRejected) -> PkiError {
    match why.description_() {
        "TooSmall" | "TooLarge" => PkiError::UnsupportedKey(format!(
            "the {form} key has an unsupported size; {SUPPORTED}"
        )),
        reason => PkiError::Malformed(format!("the {form} key was rejected ({reason})")),
    }
}

/// A PKCS#1 `RSAPrivateKey` (`-----BEGIN RSA PRIVATE KEY-----`), as PKCS#8.
pub(super) fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, PkiError> {
    let pair = aws_lc_rs::rsa::KeyPair::from_der(der).map_err(|e| rejected("PKCS#1 RSA", &e))?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| PkiError::Crypto("the RSA key could not be converted to PKCS#8".into()))?;
    PrivateKey::from_pkcs8_der(pkcs8.as_ref())
}

/// Named curves by OID: the signing algorithm, or why the curve is refused.
const CURVES: &[(&[u64], Result<&EcdsaSigningAlgorithm, &str>)] = &[
    (
        &[1, 2, 840, 10045, 3, 1, 7],
        Ok(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
    ),
    (
        &[1, 3, 132, 0, 34],
        Ok(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
    ),
    (
        &[1, 3, 132, 0, 35],
        Ok(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
    ),
    (&[1, 3, 132, 0, 10], Err("secp256k1 (P-256K)")),
];

/// The curves a SEC1 key may be on: the one its parameters name, or all
/// three when it names none.
fn sec1_curves(der: &[u8]) -> Result<Vec<&'static EcdsaSigningAlgorithm>, PkiError> {
    let bad = || PkiError::Malformed("the SEC1 EC PRIVATE KEY is not a valid ECPrivateKey".into());
    let key = ber::single(der)
        .filter(|e| e.is_sequence())
        .ok_or_else(bad)?;
    let fields = ber::children(&key).ok_or_else(bad)?;
    let Some(params) = fields.iter().find(|f| f.is_context(0)) else {
        return Ok(CURVES.iter().filter_map(|(_, c)| c.ok()).collect());
    };
    let curve = ber::single(params.any.data).ok_or_else(bad)?;
    if !curve.is_universal(Tag::Oid) {
        return Err(PkiError::UnsupportedKey(format!(
            "the EC key spells out its curve parameters instead of naming the curve; \
             re-export it with `openssl ec -param_enc named_curve`; {SUPPORTED}"
        )));
    }
    match CURVES.iter().find(|(oid, _)| curve.is_oid(oid)) {
        Some((_, Ok(alg))) => Ok(vec![*alg]),
        Some((_, Err(name))) => Err(PkiError::UnsupportedKey(format!(
            "the EC curve {name} is not supported; {SUPPORTED}"
        ))),
        None => Err(PkiError::UnsupportedKey(format!(
            "the EC curve {} is not supported; {SUPPORTED}",
            curve.oid_text()
        ))),
    }
}

/// A SEC1 `ECPrivateKey` (`-----BEGIN EC PRIVATE KEY-----`), as PKCS#8.
pub(super) fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, PkiError> {
    let mut last = None;
    for alg in sec1_curves(der)? {
        match EcdsaKeyPair::from_private_key_der(alg, der) {
            Ok(pair) => {
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| {
                    PkiError::Crypto("the EC key could not be converted to PKCS#8".into())
                })?;
                return PrivateKey::from_pkcs8_der(pkcs8.as_ref());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => rejected("SEC1 EC", &e),
        None => PkiError::Malformed("the SEC1 EC key names no curve".into()),
    })
}

/// PKCS#5 PBES1 and PKCS#12 PBE encryption OIDs (not read) with their names.
const SCHEMES: &[(&[u64], &str)] = &[
    (&[1, 2, 840, 113549, 1, 5, 3], "PBES1 (MD5 and DES)"),
    (&[1, 2, 840, 113549, 1, 5, 6], "PBES1 (MD5 and RC2)"),
    (&[1, 2, 840, 113549, 1, 5, 10], "PBES1 (SHA-1 and DES)"),
    (&[1, 2, 840, 113549, 1, 5, 11], "PBES1 (SHA-1 and RC2)"),
    (
        &[1, 2, 840, 113549, 1, 12, 1, 3],
        "PKCS#12 PBE (SHA-1 and 3DES)",
    ),
    (
        &[1, 2, 840, 113549, 1, 12, 1, 6],
        "PKCS#12 PBE (SHA-1 and RC2-40)",
    ),
];

/// PBES2, the only scheme read (OpenSSL's default since 1.1).
const PBES2: &[u64] = &[1, 2, 840, 113549, 1, 5, 13];

/// Names the encryption scheme of an `EncryptedPrivateKeyInfo`, refusing
/// all but PBES2 with a message that says how to convert.
fn check_scheme(der: &[u8]) -> Result<(), PkiError> {
    let bad = || {
        PkiError::Malformed(
            "the ENCRYPTED PRIVATE KEY is not a valid PKCS#8 EncryptedPrivateKeyInfo".into(),
        )
    };
    let info = ber::single(der)
        .filter(|e| e.is_sequence())
        .ok_or_else(bad)?;
    let fields = ber::children(&info).ok_or_else(bad)?;
    let algorithm = fields.first().filter(|f| f.is_sequence()).ok_or_else(bad)?;
    let oid = ber::children(algorithm)
        .and_then(|a| a.into_iter().next())
        .ok_or_else(bad)?;
    if oid.is_oid(PBES2) {
        return Ok(());
    }
    let name = SCHEMES
        .iter()
        .find(|(arcs, _)| oid.is_oid(arcs))
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| format!("algorithm {}", oid.oid_text()));
    Err(PkiError::Malformed(format!(
        "the private key is encrypted with {name}, which certfs does not read; \
         decrypt it and {TO_PKCS8}"
    )))
}

/// The most PBKDF2 rounds certfs runs for one key: the bound the PKCS#12
/// reader (p12-keystore) applies too; OpenSSL writes 2048 by default.
const MAX_PBKDF2_ROUNDS: u32 = 1_000_000;
/// The most memory scrypt may use (`128 * r * (N + 2 + p)` bytes):
/// OpenSSL's own default limit, so certfs reads every key OpenSSL reads.
const MAX_SCRYPT_MEMORY: u64 = 1024 * 1024 * 32;
/// The most scrypt lanes (`p`), each a full pass over that memory.
const MAX_SCRYPT_LANES: u16 = 16;

/// Refuses a key derivation that would tie up the daemon for minutes or
/// exhaust its memory (the parameters are the file writer's to choose),
/// before any of it runs.
fn check_cost(info: &EncryptedPrivateKeyInfoRef<'_>) -> Result<(), PkiError> {
    use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};
    let costly = |what: String| {
        Err(PkiError::Malformed(format!(
            "the ENCRYPTED PRIVATE KEY asks for {what}, too costly to decrypt; {TO_PKCS8}"
        )))
    };
    let EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
        return Ok(());
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ROUNDS => costly(format!(
            "{} PBKDF2 rounds (certfs runs at most {MAX_PBKDF2_ROUNDS})",
            p.iteration_count
        )),
        Kdf::Scrypt(p) => {
            let memory = 128u64
                .saturating_mul(u64::from(p.block_size))
                .saturating_mul(
                    p.cost_parameter
                        .saturating_add(2)
                        .saturating_add(u64::from(p.parallelization)),
                );
            if memory > MAX_SCRYPT_MEMORY || p.parallelization > MAX_SCRYPT_LANES {
                costly(format!(
                    "scrypt with N={}, r={}, p={} (certfs allows {} MiB and p up to {MAX_SCRYPT_LANES}, as OpenSSL does)",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_MEMORY >> 20
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// An encrypted PKCS#8 key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2
/// with AES or 3DES, PBKDF2 with HMAC-SHA-1/SHA-2, or scrypt).
///
/// No password gives `WrongPassword` saying one is needed; a password that
/// does not decrypt it gives `WrongPassword`.
pub(super) fn from_encrypted_pkcs8_der(
    der: &[u8],
    password: Option<&str>,
) -> Result<PrivateKey, PkiError> {
    check_scheme(der)?;
    let info = EncryptedPrivateKeyInfoRef::try_from(der).map_err(|e| {
        PkiError::Malformed(format!(
            "the ENCRYPTED PRIVATE KEY cannot be read ({}); {TO_PKCS8}",
            scheme_error(&e)
        ))
    })?;
    check_cost(&info)?;
    let Some(password) = password else {
        return Err(PkiError::WrongPassword(
            "the private key is encrypted (ENCRYPTED PRIVATE KEY) and needs a password".into(),
        ));
    };
    let wrong = || {
        PkiError::WrongPassword(
            "the private key could not be decrypted: the password is wrong".into(),
        )
    };
    let plain = match info.decrypt(password) {
        Ok(doc) => Zeroizing::new(doc.as_bytes().to_vec()),
        Err(
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed)
            | pkcs8::Error::Asn1(_),
        ) => {
            return Err(wrong());
        }
        Err(e) => {
            return Err(PkiError::Malformed(format!(
                "the ENCRYPTED PRIVATE KEY cannot be decrypted ({}); {TO_PKCS8}",
                scheme_error(&e)
            )));
        }
    };
    // A wrong password that happens to unpad cleanly yields noise.
    PrivateKey::from_pkcs8_der(&plain).map_err(|e| match e {
        PkiError::Malformed(_) => wrong(),
        other => other,
    })
}

/// A pkcs8/pkcs5 error in words without the bytes it may carry.
fn scheme_error(e: &pkcs8::Error) -> String {
    match e {
        pkcs8::Error::EncryptedPrivateKey(inner) => inner.to_string(),
        pkcs8::Error::Asn1(_) => "invalid ASN.1".into(),
        _ => "unsupported parameters".into(),
    }
}
