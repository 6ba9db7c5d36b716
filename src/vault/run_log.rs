//! The run log of a certificate: how its last lifetime action and its last hook went.
//!
//! It is a vault document (`status/<certificate>`), so "once per trigger"
//! survives restarts and is shared by the daemons of a fleet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of a certificate's run log in the store: `status/<name>`.
pub const DOCUMENT_PREFIX: &str = "status/";

/// How the last lifetime action and the last hook went (stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunLog {
    /// The last lifetime action run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<ActionRun>>,
    /// The last hook run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<Box<HookRun>>,
    /// The last delivery probe (`hooks.json`'s `probe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Box<ProbeRun>>,
    /// The revoked versions, by version id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revoked: BTreeMap<String, RevokedVersion>,
}

/// A version whose certificate was revoked at its issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RevokedVersion {
    /// Its serial (upper-case hex).
    pub serial: String,
    /// When, Unix seconds.
    pub at: i64,
    /// RFC 5280's reason name.
    pub reason: String,
}

/// One delivery probe, after the hooks of one version ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProbeRun {
    /// The version the server should present.
    pub version: String,
    /// When the probe ended, Unix seconds.
    pub at: i64,
    /// The serial of what the server presented (empty if nothing).
    pub served_serial: String,
    /// Whether it presented `version`'s certificate.
    pub ok: bool,
    /// What happened, in words.
    pub message: String,
}

/// One lifetime action, fired for one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActionRun {
    /// The version whose trigger fired.
    pub version: String,
    /// `AutoRenew` or `EmailContacts`.
    pub action: String,
    /// When it last ran, Unix seconds.
    pub at: i64,
    /// Whether it did what it should.
    pub succeeded: bool,
    /// What happened, in words.
    pub message: String,
    /// How many times it ran for this version.
    pub attempts: u32,
    /// When a failed run is tried again, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    /// The pending version a renewal started (issuer `Unknown` or a CA): if
    /// its operation fails, the renewal runs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<String>,
}

/// One run of `hooks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HookRun {
    /// The version that became current.
    pub version: String,
    /// When it ran, Unix seconds.
    pub at: i64,
    /// Whether every part (command, signal) succeeded.
    pub succeeded: bool,
    /// What happened, in words.
    pub message: String,
}

impl RunLog {
    /// The stored JSON.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored JSON.
    pub fn from_stored(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_logs_round_trip_and_garbage_is_none() {
        let log = RunLog {
            action: Some(Box::new(ActionRun {
                version: "ab".repeat(16),
                action: "AutoRenew".into(),
                at: 5,
                succeeded: false,
                message: "CA down".into(),
                attempts: 2,
                retry_at: Some(9),
                pending_version: None,
            })),
            hook: None,
            probe: None,
            revoked: BTreeMap::from([(
                "cd".repeat(16),
                RevokedVersion {
                    serial: "0A1B".into(),
                    at: 7,
                    reason: "keyCompromise".into(),
                },
            )]),
        };
        assert_eq!(RunLog::from_stored(&log.to_stored()), Some(log));
        assert_eq!(RunLog::from_stored("garbage"), None);
    }
}
