//! The audit log (`--audit FILE`): one JSON line per action and per read of a key or secret file, with who, what and how it went — never key material.
//!
//! ```json
//! {"time":"2026-11-26T03:00:00Z","uid":1001,"pid":4242,"vault":"prod","certificate":"web","version":"…","file":"privkey.pem","action":"read","outcome":"denied","reason":"Access denied: …"}
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use std::borrow::Cow;

use parking_lot::Mutex;
use serde::Serialize;

use super::access::Caller;
use super::clock::now;
use super::clock::rfc3339;
use super::error::VaultError;
use super::node::Node;

/// An open audit log file (appended to, 0600).
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (or creates, 0600) the log at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
        })
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    uid: u32,
    pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    vault: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    action: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The certificate, version and file a node names, for the log.
fn parts(node: &Node, name: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    match node {
        Node::VersionFile {
            cert,
            version,
            file,
            ..
        } => (
            Some(cert.to_string()),
            Some(version.to_string()),
            Some(file.file_name().to_owned()),
        ),
        Node::CertificateFile(_, c, f) => {
            (Some(c.to_string()), None, Some(f.file_name().to_owned()))
        }
        Node::Certificate(_, c) | Node::Merge(_, c) | Node::DeletedCertificate(_, c) => {
            (Some(c.to_string()), None, name.map(str::to_owned))
        }
        Node::IssuerFile(_, i) => (None, None, Some(format!("issuers/{i}.json"))),
        Node::Side(dir, n) => {
            let (c, v, _) = parts(dir, None);
            (c, v, Some(n.clone()))
        }
        _ => (None, None, name.map(str::to_owned)),
    }
}

impl AuditLog {
    /// Records `action` by `caller` on `node` (and the entry `name` in it,
    /// for directory actions) and how it went. Never fails the action: a
    /// log that cannot be written is said in the daemon's log.
    pub fn record<T>(
        &self,
        caller: &Caller,
        node: &Node,
        name: Option<&str>,
        action: &str,
        outcome: &Result<T, VaultError>,
    ) {
        let (certificate, version, file) = parts(node, name);
        let vault = node.vault().map(|v| v.to_string());
        let (outcome, reason) = match outcome {
            Ok(_) => ("ok", None),
            Err(VaultError::Forbidden(m)) => ("denied", Some(Cow::Borrowed(m.as_str()))),
            Err(e) => ("refused", Some(e.message())),
        };
        let line = Line {
            time: rfc3339(now()),
            uid: caller.uid,
            pid: caller.pid,
            vault: vault.as_deref(),
            certificate: certificate.as_deref(),
            version: version.as_deref(),
            file: file.as_deref(),
            action,
            outcome,
            reason: reason.as_deref(),
        };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        if let Err(e) = self.file.lock().write_all(text.as_bytes()) {
            log::error!("cannot write the audit log: {e}");
        }
    }
}
