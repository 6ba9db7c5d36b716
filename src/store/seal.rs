//! The sealed format of secrets at rest: AES-256-GCM under the master key, bound to where the secret lives.
//!
//! # Format, version 1
//!
//! ```text
//! offset  length  content
//! 0       6       magic, the ASCII bytes "certfs"
//! 6       1       format version, 0x01
//! 7       12      nonce: 96 random bits, fresh for every seal
//! 19      n + 16  AES-256-GCM ciphertext of the n-byte secret, then the 16-byte tag
//! ```
//!
//! A private key (`versions.key`) is stored as these bytes; a text document
//! as their standard base64 with padding, which therefore always starts
//! with [`TEXT_PREFIX`] (`Y2VydGZz`, the base64 of the magic). A clear
//! private key is PKCS#8 DER and starts with `0x30`, a clear document is
//! JSON and starts with `{` or white space, so sealed and clear values are
//! told apart by their first bytes.
//!
//! The associated data bind the ciphertext to its header and to its
//! [`Place`]: the 7 header bytes, a label (`version-key`, `document` or
//! `key-check`), then each field of the place (vault, certificate and
//! version id; or vault and document key) as a 4-byte big-endian length and
//! its bytes, ASCII-lowercased (names compare case-insensitively, so a
//! record stored as `Prod` and named `prod` is the same place). A sealed
//! value copied to another row does not open there.

use std::fmt;

use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::master_key::MasterKey;

/// The first bytes of every sealed value.
const MAGIC: &[u8] = b"certfs";
/// The format version this code writes and reads.
const FORMAT_VERSION: u8 = 1;
/// Magic and version.
const HEADER_LEN: usize = MAGIC.len() + 1;
/// The AES-GCM tag's length.
const TAG_LEN: usize = 16;
/// How a sealed text document starts: the base64 of [`MAGIC`].
pub const TEXT_PREFIX: &str = "Y2VydGZz";

/// Where a sealed value lives; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// The private key of a version.
    VersionKey {
        /// The vault's name.
        vault: &'a str,
        /// The certificate's name.
        certificate: &'a str,
        /// The version id.
        version: &'a str,
    },
    /// A vault's document.
    Document {
        /// The vault's name.
        vault: &'a str,
        /// The document's key.
        key: &'a str,
    },
    /// The value that tells whether a master key is the store's.
    KeyCheck,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::VersionKey {
                vault,
                certificate,
                version,
            } => write!(
                f,
                "the private key of version {version} of certificate {certificate} in vault {vault}"
            ),
            Place::Document { vault, key } => write!(f, "document {key} of vault {vault}"),
            Place::KeyCheck => f.write_str("the master key check"),
        }
    }
}

/// Why a value could not be sealed or opened. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Not a sealed value of a format this build reads (truncated, bad magic, newer version, bad base64).
    Malformed(String),
    /// The tag does not verify: another master key, altered bytes, or a value moved from another place.
    Refused,
    /// No random numbers for a nonce.
    NoRandom,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Malformed(m) => write!(f, "not a sealed value: {m}"),
            SealError::Refused => f.write_str(
                "it does not open under this master key (another key, altered, or moved from another record)",
            ),
            SealError::NoRandom => f.write_str("no random numbers for a nonce"),
        }
    }
}

impl std::error::Error for SealError {}

/// Whether `bytes` is a sealed value (of any version), as opposed to a clear private key.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Whether `text` is a sealed text document, as opposed to clear JSON.
pub fn is_sealed_text(text: &str) -> bool {
    text.starts_with(TEXT_PREFIX)
}

/// The associated data of a value sealed at `place`.
fn aad(place: &Place<'_>) -> Vec<u8> {
    let (label, fields): (&[u8], Vec<&str>) = match place {
        Place::VersionKey {
            vault,
            certificate,
            version,
        } => (b"version-key", vec![vault, certificate, version]),
        Place::Document { vault, key } => (b"document", vec![vault, key]),
        Place::KeyCheck => (b"key-check", vec![]),
    };
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(MAGIC);
    aad.push(FORMAT_VERSION);
    aad.extend_from_slice(label);
    for field in fields {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend(field.bytes().map(|b| b.to_ascii_lowercase()));
    }
    aad
}

/// Seals `secret` for `place`: header, fresh nonce, ciphertext and tag.
pub fn seal(key: &MasterKey, place: &Place<'_>, secret: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::NoRandom)?;
    let prefix = HEADER_LEN + NONCE_LEN;
    // Sized up front so the buffer never reallocates and leaves no stray copy of the secret.
    let mut sealed = Zeroizing::new(Vec::with_capacity(prefix + secret.len() + TAG_LEN));
    sealed.extend_from_slice(MAGIC);
    sealed.push(FORMAT_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(secret);
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(place)),
            &mut sealed[prefix..],
        )
        .map_err(|_| SealError::Malformed("the secret is too large to seal".into()))?;
    sealed.extend_from_slice(tag.as_ref());
    // Only ciphertext is left: hand it out without zeroing.
    Ok(std::mem::take(&mut *sealed))
}

/// Opens a value sealed by [`seal`] for the same `place` under the same key.
pub fn open(
    key: &MasterKey,
    place: &Place<'_>,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if !is_sealed(sealed) {
        return Err(SealError::Malformed("no certfs seal header".into()));
    }
    match sealed.get(MAGIC.len()) {
        Some(&FORMAT_VERSION) => {}
        Some(v) => {
            return Err(SealError::Malformed(format!(
                "sealed in format version {v}, which this certfs does not know"
            )));
        }
        None => return Err(SealError::Malformed("truncated".into())),
    }
    let prefix = HEADER_LEN + NONCE_LEN;
    if sealed.len() < prefix + TAG_LEN {
        return Err(SealError::Malformed("truncated".into()));
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[HEADER_LEN..prefix])
        .map_err(|_| SealError::Malformed("bad nonce".into()))?;
    let mut buf = Zeroizing::new(sealed[prefix..].to_vec());
    let len = key
        .aead()
        .open_in_place(nonce, Aad::from(aad(place)), &mut buf[..])
        .map_err(|_| SealError::Refused)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Seals a text document: the base64 of [`seal`]'s bytes.
pub fn seal_text(key: &MasterKey, place: &Place<'_>, text: &str) -> Result<String, SealError> {
    Ok(B64.encode(seal(key, place, text.as_bytes())?))
}

/// Opens a text document sealed by [`seal_text`].
pub fn open_text(
    key: &MasterKey,
    place: &Place<'_>,
    text: &str,
) -> Result<Zeroizing<String>, SealError> {
    let sealed = B64
        .decode(text.trim_end())
        .map_err(|_| SealError::Malformed("bad base64".into()))?;
    let mut plain = open(key, place, &sealed)?;
    match String::from_utf8(std::mem::take(&mut *plain)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(SealError::Malformed(
                "the opened document is not UTF-8".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_PLACE: Place<'static> = Place::VersionKey {
        vault: "prod",
        certificate: "web",
        version: "0123456789abcdef0123456789abcdef",
    };

    fn key(n: u8) -> MasterKey {
        MasterKey::from_bytes([n; 32])
    }

    #[test]
    fn text_prefix_is_the_base64_of_the_magic() {
        assert_eq!(B64.encode(MAGIC), TEXT_PREFIX);
        let text = seal_text(&key(1), &Place::KeyCheck, "{}").unwrap();
        assert!(is_sealed_text(&text));
        assert!(!is_sealed_text("{\"provider\":\"Internal\"}"));
        assert!(!is_sealed(&[0x30, 0x82, 1, 2]));
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let secret = b"\x30\x82\x01\x02 a private key";
        let a = seal(&key(1), &KEY_PLACE, secret).unwrap();
        let b = seal(&key(1), &KEY_PLACE, secret).unwrap();
        assert_ne!(a, b, "a fresh nonce for every seal");
        assert_eq!(a.len(), HEADER_LEN + NONCE_LEN + secret.len() + TAG_LEN);
        assert!(is_sealed(&a));
        assert!(!a.windows(secret.len()).any(|w| w == secret));
        assert_eq!(&open(&key(1), &KEY_PLACE, &a).unwrap()[..], secret);
        assert_eq!(&open(&key(1), &KEY_PLACE, &b).unwrap()[..], secret);
        let empty = seal(&key(1), &Place::KeyCheck, b"").unwrap();
        assert!(open(&key(1), &Place::KeyCheck, &empty).unwrap().is_empty());
    }

    #[test]
    fn another_key_is_refused() {
        let sealed = seal(&key(1), &KEY_PLACE, b"secret").unwrap();
        assert_eq!(open(&key(2), &KEY_PLACE, &sealed), Err(SealError::Refused));
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let sealed = seal(&key(1), &KEY_PLACE, b"secret").unwrap();
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(open(&key(1), &KEY_PLACE, &bad).is_err(), "bit {i}");
        }
    }

    #[test]
    fn another_place_is_refused_but_case_does_not_matter() {
        let sealed = seal(&key(1), &KEY_PLACE, b"secret").unwrap();
        let others = [
            Place::VersionKey {
                vault: "prod",
                certificate: "api",
                version: "0123456789abcdef0123456789abcdef",
            },
            Place::VersionKey {
                vault: "test",
                certificate: "web",
                version: "0123456789abcdef0123456789abcdef",
            },
            Place::VersionKey {
                vault: "prod",
                certificate: "web",
                version: "ffff456789abcdef0123456789abcdef",
            },
            // Field boundaries count: "pro"+"dweb" is not "prod"+"web".
            Place::VersionKey {
                vault: "pro",
                certificate: "dweb",
                version: "0123456789abcdef0123456789abcdef",
            },
            Place::Document {
                vault: "prod",
                key: "web",
            },
            Place::KeyCheck,
        ];
        for other in others {
            assert_eq!(
                open(&key(1), &other, &sealed),
                Err(SealError::Refused),
                "{other}"
            );
        }
        let upper = Place::VersionKey {
            vault: "PROD",
            certificate: "Web",
            version: "0123456789ABCDEF0123456789abcdef",
        };
        assert_eq!(&open(&key(1), &upper, &sealed).unwrap()[..], b"secret");
    }

    #[test]
    fn text_round_trip_and_refusals() {
        let place = Place::Document {
            vault: "prod",
            key: "issuer/digi",
        };
        let json = r#"{"provider":"DigiCert","credentials":{"pwd":"hunter2"}}"#;
        let text = seal_text(&key(1), &place, json).unwrap();
        assert!(!text.contains("hunter2"));
        assert_eq!(&*open_text(&key(1), &place, &text).unwrap(), json);
        assert_eq!(open_text(&key(2), &place, &text), Err(SealError::Refused));
        let elsewhere = Place::Document {
            vault: "prod",
            key: "issuer/other",
        };
        assert_eq!(
            open_text(&key(1), &elsewhere, &text),
            Err(SealError::Refused)
        );
        assert!(matches!(
            open_text(&key(1), &place, "Y2VydGZz!!"),
            Err(SealError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_versions_and_truncations_are_malformed() {
        let sealed = seal(&key(1), &KEY_PLACE, b"secret").unwrap();
        let mut newer = sealed.clone();
        newer[MAGIC.len()] = 2;
        let err = open(&key(1), &KEY_PLACE, &newer).unwrap_err();
        assert!(err.to_string().contains("format version 2"), "{err}");
        for len in 0..HEADER_LEN + NONCE_LEN + TAG_LEN {
            assert!(
                matches!(
                    open(&key(1), &KEY_PLACE, &sealed[..len]),
                    Err(SealError::Malformed(_))
                ),
                "{len}"
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        // A small deterministic generator: no extra crate, the same inputs every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let sealed = seal(&key(1), &KEY_PLACE, b"secret").unwrap();
        for round in 0..20_000 {
            let len = (next() % 96) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 == 0 {
                // Often with a valid header, so the later checks are reached.
                let head = len.min(HEADER_LEN);
                bytes[..head].copy_from_slice(&sealed[..head]);
            }
            assert!(open(&key(1), &KEY_PLACE, &bytes).is_err());
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert!(open_text(&key(1), &KEY_PLACE, &text).is_err());
            let b64 = B64.encode(&bytes);
            assert!(open_text(&key(1), &KEY_PLACE, &b64).is_err());
        }
    }

    #[test]
    fn errors_show_no_secret() {
        let sealed = seal(&key(1), &KEY_PLACE, b"hunter2").unwrap();
        let err = open(&key(2), &KEY_PLACE, &sealed).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
