//! What `import/` accepts: a PKCS#12 file, or PEM with certificates and one private key in any usual form.

use super::PkiError;
use super::key::PrivateKey;
use super::key_forms;
use super::pem_read::{self, Block};
use super::{ber, bundle, pkcs12 as pfx};

/// What an import file held: its private key and its certificates.
///
/// `Debug` shows no key material (the key prints as `PrivateKey(<elided>)`).
#[derive(Debug)]
pub struct Imported {
    /// The private key; `None` when a PEM file held certificates only
    /// (the vault refuses that, as Key Vault does).
    pub key: Option<PrivateKey>,
    /// The certificates, DER, never empty: as found in a PEM file, leaf
    /// first for a PKCS#12 file. Order them with [`super::x509::order_chain`].
    pub certificates: Vec<Vec<u8>>,
}

/// The kind of an import file, judged by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportFormat {
    /// A PKCS#12/PFX file (`.pfx`, `.p12`).
    Pkcs12,
    /// PEM text (`.pem`, `.crt`, `.key` ...).
    Pem,
    /// Neither.
    Unknown,
}

/// What the import takes, for error messages.
pub const ACCEPTED: &str = "import takes a PKCS#12 file (.pfx/.p12), or PEM with the certificate \
     (and its chain) and one private key as PRIVATE KEY, ENCRYPTED PRIVATE KEY, RSA PRIVATE KEY \
     or EC PRIVATE KEY";

/// Tells a PKCS#12 file (a SEQUENCE whose first field is the PFX version 3)
/// from PEM text (a `-----BEGIN ` line) by content, so that a file's name
/// does not matter.
pub fn sniff(data: &[u8]) -> ImportFormat {
    if is_pfx(data) {
        ImportFormat::Pkcs12
    } else if pem_read::has_pem(data) {
        ImportFormat::Pem
    } else {
        ImportFormat::Unknown
    }
}

fn is_pfx(data: &[u8]) -> bool {
    let Some((pfx, _)) = ber::element(data) else {
        return false;
    };
    if !pfx.is_sequence() {
        return false;
    }
    match ber::children(&pfx).as_deref() {
        Some([version, auth_safe, ..]) => {
            version.any.as_u32().is_ok_and(|v| v == 3) && auth_safe.is_sequence()
        }
        _ => false,
    }
}

/// Reads a PKCS#12/PFX file with [`pfx::import`]; `None` tries the empty
/// password (files written with no password or an empty one).
///
/// A file that needs a password and got none, or a wrong one, gives
/// `WrongPassword`.
pub fn pkcs12(data: &[u8], password: Option<&str>) -> Result<Imported, PkiError> {
    let (key, certificates) = match password {
        Some(password) => pfx::import(data, password)?,
        None => pfx::import(data, "").map_err(|e| match e {
            PkiError::WrongPassword(_) => PkiError::WrongPassword(
                "the PKCS#12 file is protected by a password and needs one".into(),
            ),
            other => other,
        })?,
    };
    Ok(Imported {
        key: Some(key),
        certificates,
    })
}

/// Key block labels that certfs reads.
const KEY_LABELS: &[&str] = &[
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
];

fn is_key_block(block: &Block<'_>) -> bool {
    block.label.ends_with("PRIVATE KEY")
}

/// Reads PEM text with one or more certificates (`CERTIFICATE`, or a
/// `PKCS7` bundle) and at most one private key, blocks in any order, other
/// text ignored.
///
/// The key may be PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED
/// PRIVATE KEY`, PBES2; needs `password`), PKCS#1 (`RSA PRIVATE KEY`) or
/// SEC1 (`EC PRIVATE KEY`; `EC PARAMETERS` blocks are skipped); it is
/// returned as PKCS#8. `password` is ignored for unencrypted keys.
///
/// Refused: an encrypted key without a password or with a wrong one
/// (`WrongPassword`); OpenSSL's legacy encrypted PEM (`Proc-Type:
/// 4,ENCRYPTED`), PBES1/PKCS#12-PBE encrypted PKCS#8, two keys, no
/// certificate and damaged blocks (`Malformed`, saying how to convert where
/// that helps); key types certfs does not support (`UnsupportedKey`).
pub fn pem(data: &[u8], password: Option<&str>) -> Result<Imported, PkiError> {
    let blocks = pem_read::blocks(data)?;
    let keys: Vec<&Block<'_>> = blocks.iter().filter(|b| is_key_block(b)).collect();
    if let [first, second, ..] = keys.as_slice() {
        return Err(PkiError::Malformed(format!(
            "the PEM file holds more than one private key ({} in block {} and {} in block {}); \
             import takes one",
            first.label, first.number, second.label, second.number
        )));
    }
    let key = keys.first().map(|b| read_key(b, password)).transpose()?;
    let mut certificates = Vec::new();
    for block in &blocks {
        if let Some(found) = bundle::block_certificates(block)? {
            certificates.extend(found);
        }
    }
    if certificates.is_empty() {
        let what = if blocks.is_empty() {
            "no PEM block"
        } else {
            "no certificate"
        };
        return Err(PkiError::Malformed(format!(
            "the PEM file holds {what}; {ACCEPTED}"
        )));
    }
    Ok(Imported { key, certificates })
}

/// Reads one key block in whichever form its label names.
fn read_key(block: &Block<'_>, password: Option<&str>) -> Result<PrivateKey, PkiError> {
    let label = block.label.as_str();
    if block.legacy_encrypted() {
        let cipher = block.dek_cipher().unwrap_or("an unnamed cipher");
        return Err(PkiError::Malformed(format!(
            "the {label} uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED, \
             {cipher}), which certfs does not read; convert it with \
             `openssl pkcs8 -topk8 -in key.pem -out key8.pem` (it asks for the old password and \
             a new one; put the new one in the .password file)"
        )));
    }
    if !KEY_LABELS.contains(&label) {
        return Err(PkiError::UnsupportedKey(format!(
            "a {label} block is not a key form certfs reads; {ACCEPTED}"
        )));
    }
    let der = block.decode()?;
    match label {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der),
        "ENCRYPTED PRIVATE KEY" => key_forms::from_encrypted_pkcs8_der(&der, password),
        "RSA PRIVATE KEY" => key_forms::from_pkcs1_der(&der),
        _ => key_forms::from_sec1_der(&der),
    }
}

#[cfg(test)]
#[path = "import_formats_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "import_formats_key_tests.rs"]
mod key_tests;

#[cfg(test)]
#[path = "import_formats_pfx_tests.rs"]
mod pfx_tests;
