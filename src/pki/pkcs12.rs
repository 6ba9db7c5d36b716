//! PKCS#12 (PFX) export: key and chain in a file OpenSSL 3 reads without `-legacy`.

use super::PkiError;
use super::key::PrivateKey;

/// Builds a PFX holding `key` and `chain` (DER, leaf first), protected by
/// an empty password with AES-256-CBC/PBKDF2 and a SHA-256 MAC, so that
/// `openssl pkcs12 -passin pass:` (OpenSSL 3, no `-legacy`) and Python's
/// `cryptography` (`None` or `b""`) read it. The leaf gets `friendly_name`.
pub fn export(
    _key: &PrivateKey,
    _chain: &[Vec<u8>],
    _friendly_name: &str,
) -> Result<Vec<u8>, PkiError> {
    unimplemented!()
}
