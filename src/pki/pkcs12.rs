//! PKCS#12 (PFX) export: key and chain in a file OpenSSL 3 reads without `-legacy`; and import.

use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12Archive, PrivateKeyChain};

use super::PkiError;
use super::key::PrivateKey;
use super::x509;

/// Builds a PFX holding `key` and `chain` (DER, leaf first), protected by
/// an empty password with AES-256-CBC/PBKDF2 and a SHA-256 MAC, so that
/// `openssl pkcs12 -passin pass:` (OpenSSL 3, no `-legacy`) and Python's
/// `cryptography` (`None` or `b""`) read it.
///
/// `friendly_name` labels the key bag (characters outside the BMP become
/// U+FFFD); p12-keystore labels each certificate bag with its subject. Key
/// and leaf share a localKeyID (the leaf's SHA-1, as OpenSSL does). The
/// chain must not be empty and its first certificate must match the key.
/// The result holds the key in effect unprotected: treat it as a secret.
pub fn export(
    key: &PrivateKey,
    chain: &[Vec<u8>],
    friendly_name: &str,
) -> Result<Vec<u8>, PkiError> {
    let leaf = chain
        .first()
        .ok_or_else(|| PkiError::Malformed("a PFX needs at least the leaf certificate".into()))?;
    if x509::inspect(leaf)?.public_key_der != key.public_key_der() {
        return Err(PkiError::Malformed(
            "the leaf certificate does not match the private key".into(),
        ));
    }
    let certs = chain
        .iter()
        .map(|der| p12_keystore::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Malformed(format!("a chain certificate is unusable: {e}")))?;
    let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der())
        .map_err(|_| PkiError::Crypto("the PKCS#12 writer refused the private key".into()))?;
    let local_key_id =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf);
    let alias: String = friendly_name
        .chars()
        .map(|c| if u32::from(c) > 0xffff { '\u{fffd}' } else { c })
        .collect();
    let mut store = KeyStore::new();
    store.add_entry(
        &alias,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id.as_ref(), p12_key, certs)),
    );
    // The writer's defaults are what we need; spelled out so that a change
    // in p12-keystore cannot silently weaken them.
    store
        .writer("")
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .encryption_iterations(10_000)
        .mac_iterations(10_000)
        .write()
        .map_err(|e| PkiError::Crypto(format!("writing the PFX failed: {e}")))
}

/// Reads a PFX/PKCS#12 file: its one private key and its certificates,
/// leaf (the certificate matching the key) first, then the chain in issuer
/// order, then any other certificates. Reads the modern AES/PBKDF2 form,
/// the legacy RC2/3DES one and unencrypted ones, with or without a MAC;
/// `""` is the empty password.
///
/// A wrong password gives [`PkiError::WrongPassword`]; garbage, no key,
/// several keys or no certificate for the key give `Malformed`; key types
/// certfs does not support give `UnsupportedKey`.
pub fn import(data: &[u8], password: &str) -> Result<(PrivateKey, Vec<Vec<u8>>), PkiError> {
    use p12_keystore::error::Error as P12;
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|e| match e {
        P12::MacError(_) => PkiError::WrongPassword(
            "the PKCS#12 integrity check (MAC) failed: the password is wrong".into(),
        ),
        P12::UnpadError | P12::Pkcs5Error(_) => PkiError::WrongPassword(
            "the PKCS#12 content could not be decrypted: the password is wrong".into(),
        ),
        other => PkiError::Malformed(format!("not a readable PKCS#12 file: {other}")),
    })?;
    let key = match archive.keys.as_slice() {
        [bag] => PrivateKey::from_pkcs8_der(bag.key.as_der())?,
        [] => {
            return Err(PkiError::Malformed(
                "the PKCS#12 file holds no private key".into(),
            ));
        }
        _ => {
            return Err(PkiError::Malformed(
                "the PKCS#12 file holds more than one private key".into(),
            ));
        }
    };
    let certs: Vec<Vec<u8>> = archive
        .certs
        .iter()
        .map(|bag| bag.cert.as_der().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(PkiError::Malformed(
            "the PKCS#12 file holds no certificate".into(),
        ));
    }
    let chain = x509::order_chain(&key.public_key_der(), &certs)?;
    Ok((key, chain))
}

#[cfg(test)]
#[path = "pkcs12_tests.rs"]
mod tests;
