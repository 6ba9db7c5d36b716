//! Private keys: generation per Key Vault key type, PKCS#8 form, and a secret type that never prints itself.

use super::PkiError;

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

/// A private key, held as PKCS#8 DER in memory that is zeroed on drop.
///
/// `Debug` prints `PrivateKey(<elided>)`; there is no `Display`.
pub struct PrivateKey {
    // implementation detail, filled in by the pki implementation
    _private: (),
}

impl PrivateKey {
    /// Generates a new key. RSA takes from ~70 ms (2048) to seconds (4096):
    /// never call this while holding a lock that a file operation needs.
    pub fn generate(_spec: KeySpec) -> Result<Self, PkiError> {
        unimplemented!()
    }

    /// Loads a key from PKCS#8 DER (as stored); detects its [`KeySpec`].
    pub fn from_pkcs8_der(_der: &[u8]) -> Result<Self, PkiError> {
        unimplemented!()
    }

    /// The key's type.
    pub fn spec(&self) -> KeySpec {
        unimplemented!()
    }

    /// PKCS#8 DER of the key. The caller must not log it.
    pub fn pkcs8_der(&self) -> &[u8] {
        unimplemented!()
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), zeroed on drop.
    pub fn to_pkcs8_pem(&self) -> zeroize::Zeroizing<String> {
        unimplemented!()
    }

    /// DER SubjectPublicKeyInfo of the public half (to match against certificates).
    pub fn public_key_der(&self) -> Vec<u8> {
        unimplemented!()
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<elided>)")
    }
}
