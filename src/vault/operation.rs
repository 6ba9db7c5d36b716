//! Key Vault's CertificateOperation: the one pending create of a certificate, as `operation.json` shows it.
//!
//! certfs keeps the operation as JSON in the store (so it survives a
//! remount) and shows it verbatim. The only write a user makes is
//! `{"cancellation_requested": true}`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use crate::pki::pem;

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Waiting for the signed certificate (merge) or the CA.
    #[serde(rename = "inProgress")]
    InProgress,
    /// The certificate was issued and merged.
    #[serde(rename = "completed")]
    Completed,
    /// The CA refused, or the operation broke.
    #[serde(rename = "failed")]
    Failed,
    /// Cancelled by the user.
    #[serde(rename = "cancelled")]
    Cancelled,
}

/// Key Vault's `error {code, message}` of a failed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationError {
    /// Error code.
    pub code: String,
    /// The reason, in the CA's or certfs' words.
    pub message: String,
}

/// A certificate operation, in Key Vault's shape (snake_case as its REST API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// `<vault>/<certificate>/pending`, as Key Vault's `.../certificates/<name>/pending`.
    pub id: String,
    /// The issuer: `{"name": "Unknown"}`.
    pub issuer: IssuerRef,
    /// The CSR, base64 DER.
    pub csr: String,
    /// Whether cancellation was asked for.
    pub cancellation_requested: bool,
    /// Where it stands.
    pub status: Status,
    /// Words on the status.
    pub status_details: String,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OperationError>,
    /// The CA's order id, if any.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The certificate it made, once completed: `<vault>/<certificate>/<version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The pending version this operation completes (certfs' own field).
    pub version: String,
}

/// `issuer` of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRef {
    /// The issuer's name.
    pub name: String,
}

impl Operation {
    /// A new in-progress operation for `version`, waiting for a signed certificate.
    pub fn pending(
        vault: &str,
        certificate: &str,
        issuer: &str,
        csr_der: &[u8],
        version: &str,
    ) -> Self {
        Operation {
            id: format!("{vault}/{certificate}/pending"),
            issuer: IssuerRef {
                name: issuer.to_owned(),
            },
            csr: base64(csr_der),
            cancellation_requested: false,
            status: Status::InProgress,
            status_details:
                "Pending certificate created. Please Perform Merge to complete the request.".into(),
            error: None,
            request_id: None,
            target: None,
            version: version.to_owned(),
        }
    }

    /// Whether the operation still waits for a certificate.
    pub fn is_pending(&self) -> bool {
        self.status == Status::InProgress
    }

    /// The CSR, DER.
    pub fn csr_der(&self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.csr)
    }

    /// The stored JSON text.
    pub fn to_json(&self) -> String {
        super::pretty_json(self)
    }

    /// Reads the stored JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// What a user may write to `operation.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationUpdate {
    /// `{"cancellation_requested": true}`
    Cancel,
}

/// Parses a write to `operation.json`. Key Vault's update takes only
/// `cancellation_requested`; other fields of a pasted operation are
/// ignored as long as it says `true`.
pub fn parse_update(bytes: &[u8]) -> Result<OperationUpdate, VaultError> {
    let bad = |m: &str| VaultError::BadParameter(m.to_owned());
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| VaultError::BadParameter(format!("operation.json is not valid JSON: {e}")))?;
    match value.get("cancellation_requested") {
        Some(serde_json::Value::Bool(true)) => Ok(OperationUpdate::Cancel),
        Some(serde_json::Value::Bool(false)) => Err(bad(
            "A cancellation cannot be withdrawn: only {\"cancellation_requested\": true} can be written",
        )),
        _ => Err(bad(
            "operation.json takes {\"cancellation_requested\": true}; to delete the operation, rm operation.json",
        )),
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether `issuer` is Key Vault's `Unknown` (the user merges).
pub(crate) fn is_unknown(issuer: &str) -> bool {
    issuer.eq_ignore_ascii_case("Unknown")
}

/// An operation with its `operation.json` bytes.
pub(crate) fn with_json(op: Operation) -> Box<(Operation, Arc<[u8]>)> {
    let json = Arc::from(op.to_json().into_bytes());
    // Boxed: most certificates keep only their last, completed operation.
    Box::new((op, json))
}

/// `request.csr`.
pub(crate) fn csr_pem(der: &[u8]) -> Arc<[u8]> {
    Arc::from(pem::encode("CERTIFICATE REQUEST", der).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn operations_round_trip_in_key_vault_shape() {
        let op = Operation::pending("prod", "api", "Unknown", b"csr", "ab".repeat(16).as_str());
        let json = op.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["status"], "inProgress");
        assert_eq!(value["issuer"]["name"], "Unknown");
        assert_eq!(value["cancellation_requested"], false);
        assert_eq!(value["csr"], "Y3Ny");
        assert!(value["request_id"].is_null());
        assert_eq!(Operation::from_json(&json).unwrap(), op);
    }

    #[test]
    fn only_a_cancellation_can_be_written() {
        assert_eq!(
            parse_update(br#"{"cancellation_requested": true}"#).unwrap(),
            OperationUpdate::Cancel
        );
        for bad in [
            &br#"{"cancellation_requested": false}"#[..],
            b"{}",
            b"[]",
            b"garbage",
            b"",
            b"\xff",
        ] {
            assert!(
                matches!(parse_update(bad), Err(VaultError::BadParameter(_))),
                "{bad:?}"
            );
        }
    }
}
