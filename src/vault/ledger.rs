//! An issuer's ledger (`pki/<issuer>` in the store): every certificate it issued for the vault and the revoked ones, as stored.
//!
//! `issued/<SERIAL>.pem` and `revoked/<SERIAL>.pem` are read from here;
//! `issued` writes it and signs the CRL from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::name::CertificateName;
use crate::pki::pem;

/// The prefix of an issuer's ledger in the store: `pki/<name>`.
pub const DOCUMENT_PREFIX: &str = "pki/";

/// One certificate an issuer issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IssuedEntry {
    /// The leaf, DER, base64.
    pub der: String,
    /// When it was recorded, Unix seconds.
    pub at: i64,
    /// The vault certificate it is a version of (none for a signed CSR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// That version's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Revocation {
    /// When, Unix seconds.
    pub at: i64,
    /// RFC 5280's reason name.
    pub reason: String,
}

/// What the store keeps of an issuer's certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Every certificate issued, by serial (upper-case hex).
    #[serde(default)]
    pub issued: BTreeMap<String, IssuedEntry>,
    /// The revoked ones, by serial.
    #[serde(default)]
    pub revoked: BTreeMap<String, Revocation>,
}

/// The CRLs last signed, by issuer: PEM and when it was signed (its number).
pub(crate) type CrlCache = Mutex<BTreeMap<CertificateName, (Arc<[u8]>, i64)>>;

impl Ledger {
    /// Reads the stored document.
    pub fn from_stored(text: &str) -> Option<Ledger> {
        serde_json::from_str(text).ok()
    }

    /// The stored document.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The leaf of `serial`, DER, when this issuer issued it.
    pub fn leaf(&self, serial: &str) -> Option<Vec<u8>> {
        let entry = self.issued.get(serial)?;
        STANDARD.decode(entry.der.as_bytes()).ok()
    }

    /// The leaf of `serial` as `issued/` and `revoked/` show it (PEM).
    pub fn leaf_pem(&self, serial: &str) -> Option<Arc<[u8]>> {
        self.leaf(serial)
            .map(|der| Arc::from(pem::encode("CERTIFICATE", &der).into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_survives_the_store_and_garbage_is_none() {
        let mut ledger = Ledger::default();
        ledger.issued.insert(
            "0A".into(),
            IssuedEntry {
                der: STANDARD.encode(b"not a certificate"),
                at: 3,
                certificate: Some("web".into()),
                version: Some("ab".repeat(16)),
            },
        );
        ledger.revoked.insert(
            "0A".into(),
            Revocation {
                at: 4,
                reason: "superseded".into(),
            },
        );
        assert_eq!(
            Ledger::from_stored(&ledger.to_stored()),
            Some(ledger.clone())
        );
        assert_eq!(
            ledger.leaf("0A").as_deref(),
            Some(&b"not a certificate"[..])
        );
        assert_eq!(ledger.leaf("0B"), None);
        for bad in ["", "garbage", "7", r#"{"issued":{"0A":{"der":1}}}"#] {
            assert_eq!(Ledger::from_stored(bad), None, "{bad}");
        }
    }
}
