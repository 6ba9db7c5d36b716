//! The `backup.blob` format: a certificate with all its versions, sealed with AES-256-GCM under the vault's backup key.
//!
//! # Format, version 1
//!
//! ```text
//! offset  length  content
//! 0       14      magic, the ASCII bytes "CERTFS-BACKUP\n"
//! 14      1       format version, 0x01
//! 15      12      nonce: 96 random bits, fresh for every blob
//! 27      n + 16  AES-256-GCM ciphertext of the n-byte payload, then the 16-byte tag
//! ```
//!
//! The key is the 32-byte backup key ([`BackupKey`]); the associated data are
//! the 15 header bytes (magic and version). A blob is at most
//! [`MAX_BLOB_SIZE`] bytes. The payload is UTF-8 JSON, one object with
//! exactly these members (no others; a change of them is a new format version):
//!
//! ```text
//! {"certificate": {"vault": str, "name": str, "policy": str (policy JSON text),
//!                  "tags": str (tags JSON text), "created": int, "updated": int,
//!                  "operation": str (operation JSON text) | null},
//!  "versions": [{"id": str, "created": int, "updated": int, "enabled": bool,
//!                "exportable": bool, "certificate_der": b64 | null,
//!                "chain_der": [b64, ...], "key_pkcs8": b64 | null}, ...]}
//! ```
//!
//! Times are Unix seconds; `b64` is standard base64 with padding (RFC 4648 §4)
//! of DER: the leaf certificate (`null` while pending), the chain without the
//! leaf (leaf's issuer first), the PKCS#8 private key. Versions are listed
//! oldest first and belong to the certificate (its vault and name). Soft-delete
//! state is not carried: an opened certificate is live. Names, certificates and keys appear only inside the ciphertext.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::VaultError;
use crate::store::{CertificateRecord, KeyBytes, VersionRecord};

/// The blob's first bytes.
const MAGIC: &[u8] = b"CERTFS-BACKUP\n";
/// The format version this code writes and reads.
const FORMAT_VERSION: u8 = 1;
/// Magic and version: the associated data.
const HEADER_LEN: usize = MAGIC.len() + 1;

/// Whether `data` is (the start of) a backup blob.
pub(crate) fn is_blob(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}
/// The AES-GCM tag's length.
const TAG_LEN: usize = 16;
/// The largest blob [`open`] accepts and [`seal`] makes: 64 MiB.
pub const MAX_BLOB_SIZE: usize = 64 << 20;

const CORRUPT: &str = "The backup blob is corrupt or was made with another backup key";

/// The secret key that seals and opens backup blobs (AES-256-GCM). Zeroed on drop; Debug prints `BackupKey(<elided>)`.
pub struct BackupKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(<elided>)")
    }
}

impl BackupKey {
    /// Reads the 32-byte key from `path`, or creates it (random, file mode 0600, parent must exist) when absent.
    /// A file of the wrong size or unreadable is refused with `VaultError::Internal` naming the path (never the bytes).
    ///
    /// Creation writes a temporary file beside `path` and hard-links it into
    /// place, so a crash never leaves a partial key and a concurrent creator's
    /// key is never replaced (the loser reads the winner's key).
    pub fn load_or_create(path: &Path) -> Result<Self, VaultError> {
        if let Some(key) = read_key(path)? {
            return Ok(key);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        let mut salt = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes[..])
            .and_then(|()| aws_lc_rs::rand::fill(&mut salt))
            .map_err(|_| VaultError::Internal("No random numbers for the backup key".into()))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!(".{file_name}.{}-{salt}.tmp", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&bytes[..]).and_then(|()| f.sync_all()));
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                // Best effort: make the new name durable.
                let _ = File::open(dir).and_then(|d| d.sync_all());
                Ok(BackupKey(bytes))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key(path)?.ok_or_else(|| {
                VaultError::io(
                    format!("The backup key {} cannot be read", path.display()),
                    std::io::Error::new(ErrorKind::NotFound, "it vanished once made"),
                )
            }),
            Err(e) => Err(VaultError::io(
                format!("Cannot create the backup key {}", path.display()),
                e,
            )),
        }
    }

    /// A key from raw bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        BackupKey(Zeroizing::new(bytes))
    }

    fn aead(&self) -> Result<LessSafeKey, VaultError> {
        UnboundKey::new(&AES_256_GCM, &self.0[..])
            .map(LessSafeKey::new)
            .map_err(|_| {
                VaultError::Internal("The backup key is not usable for AES-256-GCM".into())
            })
    }
}

/// Reads a key file: `None` if absent; `Io` naming the path if unreadable or not 32 bytes.
fn read_key(path: &Path) -> Result<Option<BackupKey>, VaultError> {
    let refuse = |e: std::io::Error| {
        VaultError::io(
            format!("The backup key {} cannot be read", path.display()),
            e,
        )
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refuse(e)),
    };
    let mut buf = Zeroizing::new([0u8; 33]);
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(refuse(e)),
        }
    }
    if len != 32 {
        let size = if len > 32 {
            "more than 32".to_string()
        } else {
            len.to_string()
        };
        return Err(VaultError::io(
            format!("The backup key {} is not a backup key", path.display()),
            std::io::Error::new(
                ErrorKind::InvalidData,
                format!("it holds {size} bytes; a backup key is 32 bytes"),
            ),
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&buf[..32]);
    Ok(Some(BackupKey(key)))
}

/// Seals a certificate with all its versions into a blob.
pub fn seal(
    key: &BackupKey,
    certificate: &CertificateRecord,
    versions: &[VersionRecord],
) -> Result<Vec<u8>, VaultError> {
    if let Some(v) = versions.iter().find(|v| {
        !v.vault.eq_ignore_ascii_case(&certificate.vault)
            || !v.certificate.eq_ignore_ascii_case(&certificate.name)
    }) {
        let (id, name) = (&v.id, &certificate.name);
        return Err(VaultError::Internal(format!(
            "Version {id} does not belong to certificate {name}"
        )));
    }
    let payload = Payload::new(certificate, versions);
    let json_error =
        |e: serde_json::Error| VaultError::Internal(format!("Cannot serialize the backup: {e}"));
    // Measure first, so the plaintext buffer never reallocates (no stray copies of keys).
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, &payload).map_err(json_error)?;
    seal_with(key, counter.0, |buf| {
        serde_json::to_writer(buf, &payload).map_err(json_error)
    })
    .map_err(|e| match e {
        VaultError::TooLarge(m) => {
            VaultError::TooLarge(format!("Certificate {}: {m}", certificate.name))
        }
        e => e,
    })
}

/// Seals `plain_len` bytes written by `fill` into a blob.
fn seal_with(
    key: &BackupKey,
    plain_len: usize,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), VaultError>,
) -> Result<Vec<u8>, VaultError> {
    let prefix = HEADER_LEN + NONCE_LEN;
    let total = prefix + plain_len + TAG_LEN;
    if total > MAX_BLOB_SIZE {
        return Err(VaultError::TooLarge(
            "the backup blob would exceed 64 MiB".into(),
        ));
    }
    let aead = key.aead()?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| VaultError::Internal("No random numbers for the backup nonce".into()))?;
    let mut blob = Zeroizing::new(Vec::with_capacity(total));
    blob.extend_from_slice(MAGIC);
    blob.push(FORMAT_VERSION);
    blob.extend_from_slice(&nonce);
    fill(&mut blob)?;
    let (header, body) = blob.split_at_mut(prefix);
    let aad = Aad::from(&header[..HEADER_LEN]);
    let tag = aead
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), aad, body)
        .map_err(|_| VaultError::Internal("Cannot encrypt the backup".into()))?;
    blob.extend_from_slice(tag.as_ref());
    // Only ciphertext is left in the buffer: hand it out without zeroing.
    Ok(std::mem::take(&mut *blob))
}

/// Opens a blob made by `seal` with the same key; refuses anything else.
pub fn open(
    key: &BackupKey,
    blob: &[u8],
) -> Result<(CertificateRecord, Vec<VersionRecord>), VaultError> {
    let bad = |m: &str| VaultError::BadParameter(m.to_string());
    if blob.len() > MAX_BLOB_SIZE {
        return Err(bad("The backup blob is larger than 64 MiB"));
    }
    if !blob.starts_with(MAGIC) {
        return Err(bad("The file is not a certfs backup blob"));
    }
    match blob.get(MAGIC.len()) {
        None => return Err(bad(CORRUPT)),
        Some(&FORMAT_VERSION) => {}
        Some(v) => {
            return Err(VaultError::BadParameter(format!(
                "The backup blob has format version {v}; this certfs reads version {FORMAT_VERSION}"
            )));
        }
    }
    if blob.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(bad(CORRUPT));
    }
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad(CORRUPT))?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = key
        .aead()?
        .open_in_place(nonce, Aad::from(header), &mut buf)
        .map_err(|_| bad(CORRUPT))?;
    // serde_json's own message may quote content: report only where it failed.
    let payload: Payload = serde_json::from_slice(plain).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        VaultError::BadParameter(format!(
            "The backup blob's content is not valid (line {line}, column {column})"
        ))
    })?;
    Ok(payload.into_records())
}

/// Counts the bytes written to it.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON payload (see the module docs).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    certificate: CertificatePart,
    versions: Vec<VersionPart>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificatePart {
    vault: String,
    name: String,
    policy: String,
    tags: String,
    created: i64,
    updated: i64,
    operation: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionPart {
    id: String,
    created: i64,
    updated: i64,
    enabled: bool,
    exportable: bool,
    #[serde(with = "b64_der")]
    certificate_der: Option<Vec<u8>>,
    #[serde(with = "b64_chain")]
    chain_der: Vec<Vec<u8>>,
    #[serde(with = "b64_key")]
    key_pkcs8: Option<KeyBytes>,
}

impl Payload {
    fn new(c: &CertificateRecord, versions: &[VersionRecord]) -> Self {
        let certificate = CertificatePart {
            vault: c.vault.clone(),
            name: c.name.clone(),
            policy: c.policy.clone(),
            tags: c.tags.clone(),
            created: c.created,
            updated: c.updated,
            operation: c.operation.clone(),
        };
        let versions = versions
            .iter()
            .map(|v| VersionPart {
                id: v.id.clone(),
                created: v.created,
                updated: v.updated,
                enabled: v.enabled,
                exportable: v.exportable,
                certificate_der: v.certificate_der.clone(),
                chain_der: v.chain_der.clone(),
                key_pkcs8: v.key.clone(),
            })
            .collect();
        Payload {
            certificate,
            versions,
        }
    }

    /// The records; the certificate is live (no soft-delete state).
    fn into_records(self) -> (CertificateRecord, Vec<VersionRecord>) {
        let c = self.certificate;
        let versions = self
            .versions
            .into_iter()
            .map(|v| VersionRecord {
                vault: c.vault.clone(),
                certificate: c.name.clone(),
                id: v.id,
                created: v.created,
                updated: v.updated,
                enabled: v.enabled,
                exportable: v.exportable,
                certificate_der: v.certificate_der,
                chain_der: v.chain_der,
                key: v.key_pkcs8,
            })
            .collect();
        let certificate = CertificateRecord {
            vault: c.vault,
            name: c.name,
            policy: c.policy,
            tags: c.tags,
            created: c.created,
            updated: c.updated,
            operation: c.operation,
            deleted: None,
            purge_at: None,
        };
        (certificate, versions)
    }
}

fn decode<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
    B64.decode(text)
        .map_err(|_| E::custom("a certificate is not valid base64"))
}

mod b64_der {
    use super::*;
    pub fn serialize<S: Serializer>(der: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        der.as_ref().map(|d| B64.encode(d)).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| decode(&t))
            .transpose()
    }
}

mod b64_chain {
    use super::*;
    pub fn serialize<S: Serializer>(chain: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(chain.iter().map(|d| B64.encode(d)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| decode(t))
            .collect()
    }
}

/// Keys go through zeroed buffers only, in both directions.
mod b64_key {
    use super::*;
    use serde::de::Visitor;
    use serde::ser::Error as _;

    pub fn serialize<S: Serializer>(key: &Option<KeyBytes>, s: S) -> Result<S::Ok, S::Error> {
        let Some(key) = key else {
            return s.serialize_none();
        };
        let len = base64::encoded_len(key.0.len(), true)
            .ok_or_else(|| S::Error::custom("key too long"))?;
        let mut text = Zeroizing::new(vec![0u8; len]);
        let n = B64
            .encode_slice(&key.0[..], &mut text[..])
            .map_err(|_| S::Error::custom("key encoding failed"))?;
        s.serialize_some(
            std::str::from_utf8(&text[..n]).map_err(|_| S::Error::custom("key encoding failed"))?,
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<KeyBytes>, D::Error> {
        d.deserialize_option(KeyVisitor)
    }

    struct KeyVisitor;

    impl<'de> Visitor<'de> for KeyVisitor {
        type Value = Option<KeyBytes>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a base64 PKCS#8 key or null")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
            let n = B64
                .decode_slice(text, &mut out[..])
                .map_err(|_| E::custom("a key is not valid base64"))?;
            out.truncate(n);
            Ok(Some(KeyBytes(out)))
        }
    }
}

#[cfg(test)]
mod tests;
