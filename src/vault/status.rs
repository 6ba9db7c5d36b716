//! What certfs knows about a certificate's renewal: the stored run log (last lifetime action, last hook), `status.json`, and the metrics of `metrics.prom`.
//!
//! The run log is a vault document (`status/<certificate>`) so "once per
//! trigger" survives restarts; `status.json` and `metrics.prom` are made
//! from the model on each read (days left change with the clock).

use serde::{Deserialize, Serialize};

use super::model::{CertificateState, Version};
use super::policy::{ActionType, LifetimeAction, Trigger};
use crate::pki::x509;

/// The prefix of a certificate's run log in the store: `status/<name>`.
pub const DOCUMENT_PREFIX: &str = "status/";

/// Seconds in a day.
const DAY: i64 = 86_400;

/// How the last lifetime action and the last hook went (stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunLog {
    /// The last lifetime action run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRun>,
    /// The last hook run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookRun>,
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

/// The action of `policy` and when it is due for `version` (Unix seconds).
pub(crate) fn due(action: &LifetimeAction, version: &Version) -> i64 {
    due_between(action, version.info.not_before, version.info.not_after)
}

/// When `action` is due for a certificate valid from `nb` to `na` (Unix seconds).
pub(crate) fn due_between(action: &LifetimeAction, nb: i64, na: i64) -> i64 {
    match action.trigger {
        Trigger::LifetimePercentage(p) => nb + (na - nb).max(0) * i64::from(p) / 100,
        Trigger::DaysBeforeExpiry(d) => na - i64::from(d) * DAY,
    }
}

/// Key Vault's name of an action.
pub(crate) fn action_name(action: ActionType) -> &'static str {
    match action {
        ActionType::AutoRenew => "AutoRenew",
        ActionType::EmailContacts => "EmailContacts",
    }
}

/// Unix seconds as RFC 3339 UTC (`2026-11-26T03:00:00Z`).
pub(crate) fn rfc3339(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => secs.to_string(),
    }
}

/// Whether the chain links up from the leaf (each certificate issued by
/// the next, by name) and ends in a self-signed root.
pub(crate) fn chain_complete(version: &Version) -> bool {
    let mut issuer = version.info.issuer.clone();
    let mut subject = version.info.subject.clone();
    for der in &version.chain {
        let Ok(info) = x509::inspect(der) else {
            return false;
        };
        if info.subject != issuer {
            return false;
        }
        subject = info.subject;
        issuer = info.issuer;
    }
    issuer == subject
}

/// Whether the version's key is the key its certificate certifies.
pub(crate) fn key_matches(version: &Version) -> Option<bool> {
    version
        .key
        .as_ref()
        .map(|k| k.public_key_der() == version.info.public_key_der)
}

/// `status.json` of certificate `cs` at time `now`.
pub(crate) fn status_json(cs: &CertificateState, now: i64) -> String {
    let mut out = serde_json::Map::new();
    let current = cs.current();
    if let Some(version) = current {
        let info = &version.info;
        out.insert("version".into(), version.id.as_str().into());
        out.insert("not_before".into(), rfc3339(info.not_before).into());
        out.insert("not_after".into(), rfc3339(info.not_after).into());
        out.insert(
            "days_left".into(),
            ((info.not_after - now).div_euclid(DAY)).into(),
        );
        out.insert("expired".into(), (info.not_after <= now).into());
        out.insert(
            "enabled".into(),
            version
                .enabled
                .load(std::sync::atomic::Ordering::Acquire)
                .into(),
        );
        out.insert("serial_number".into(), info.serial_hex.as_str().into());
        if let Some(matches) = key_matches(version) {
            out.insert("key_matches_certificate".into(), matches.into());
        }
        out.insert("chain_complete".into(), chain_complete(version).into());
        // certfs has no HSM: an `RSA-HSM`/`EC-HSM` policy gets a software key too.
        out.insert("key_storage".into(), "software".into());
    } else {
        out.insert("version".into(), serde_json::Value::Null);
    }
    match (cs.policy.lifetime_actions.first(), current) {
        (Some(action), Some(version)) => {
            let done = cs
                .run_log
                .action
                .as_ref()
                .is_some_and(|r| r.version == version.id.as_str() && r.succeeded);
            out.insert(
                "lifetime_action".into(),
                serde_json::json!({
                    "action": action_name(action.action),
                    "due": rfc3339(due(action, version)),
                    "done_for_this_version": done,
                }),
            );
        }
        _ => {
            out.insert("lifetime_action".into(), serde_json::Value::Null);
        }
    }
    out.insert(
        "operation".into(),
        cs.operation
            .as_ref()
            .map(|(op, _)| serde_json::to_value(op.status).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null),
    );
    let run = |r: Option<serde_json::Value>| r.unwrap_or(serde_json::Value::Null);
    out.insert(
        "last_renewal".into(),
        run(cs.run_log.action.as_ref().map(|a| {
            let mut v = serde_json::json!({
                "version": a.version,
                "action": a.action,
                "at": rfc3339(a.at),
                "outcome": if a.succeeded { "succeeded" } else { "failed" },
                "message": a.message,
                "attempts": a.attempts,
            });
            if let Some(retry) = a.retry_at {
                v["retry_at"] = rfc3339(retry).into();
            }
            v
        })),
    );
    out.insert(
        "last_hook".into(),
        run(cs.run_log.hook.as_ref().map(|h| {
            serde_json::json!({
                "version": h.version,
                "at": rfc3339(h.at),
                "outcome": if h.succeeded { "succeeded" } else { "failed" },
                "message": h.message,
            })
        })),
    );
    super::pretty_json(&serde_json::Value::Object(out))
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metric families of `metrics.prom`: name, help.
const FAMILIES: [(&str, &str); 8] = [
    (
        "certfs_certificate_not_after_timestamp_seconds",
        "When the current version of the certificate expires (Unix time).",
    ),
    (
        "certfs_certificate_days_left",
        "Whole days until the current version expires (negative once expired).",
    ),
    (
        "certfs_certificate_renewal_due_timestamp_seconds",
        "When the certificate's lifetime action is due (Unix time).",
    ),
    (
        "certfs_certificate_renewal_due",
        "1 when the lifetime action is due and has not succeeded for the current version.",
    ),
    (
        "certfs_certificate_last_renewal_success",
        "1 when the last lifetime action run succeeded, 0 when it failed.",
    ),
    (
        "certfs_certificate_operation_pending",
        "1 while a certificate operation is in progress.",
    ),
    (
        "certfs_certificate_key_matches",
        "1 when the current key is the key the certificate certifies.",
    ),
    (
        "certfs_certificate_chain_complete",
        "1 when the chain links up to a self-signed root.",
    ),
];

/// `metrics.prom`: every live certificate of every vault (`(vault name, certificate)`), at `now`.
pub(crate) fn metrics<'a>(
    certificates: impl Iterator<Item = (&'a str, &'a CertificateState)>,
    now: i64,
) -> String {
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); FAMILIES.len()];
    for (vault, cs) in certificates {
        let Some(version) = cs.current() else {
            continue;
        };
        let labels = format!(
            "vault=\"{}\",certificate=\"{}\",version=\"{}\"",
            label(vault),
            label(cs.name.as_str()),
            version.id.as_str()
        );
        let mut put = |i: usize, value: String| {
            samples[i].push(format!("{}{{{labels}}} {value}", FAMILIES[i].0))
        };
        put(0, version.info.not_after.to_string());
        put(
            1,
            (version.info.not_after - now).div_euclid(DAY).to_string(),
        );
        if let Some(action) = cs.policy.lifetime_actions.first() {
            let at = due(action, version);
            let done = cs
                .run_log
                .action
                .as_ref()
                .is_some_and(|r| r.version == version.id.as_str() && r.succeeded);
            put(2, at.to_string());
            put(3, u8::from(at <= now && !done).to_string());
        }
        if let Some(run) = &cs.run_log.action {
            put(4, u8::from(run.succeeded).to_string());
        }
        put(
            5,
            u8::from(cs.operation_in_progress().is_some()).to_string(),
        );
        if let Some(matches) = key_matches(version) {
            put(6, u8::from(matches).to_string());
        }
        put(7, u8::from(chain_complete(version)).to_string());
    }
    let mut out = String::new();
    for (i, (name, help)) in FAMILIES.iter().enumerate() {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for line in &samples[i] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn run_logs_round_trip_and_garbage_is_none() {
        let log = RunLog {
            action: Some(ActionRun {
                version: "ab".repeat(16),
                action: "AutoRenew".into(),
                at: 5,
                succeeded: false,
                message: "CA down".into(),
                attempts: 2,
                retry_at: Some(9),
                pending_version: None,
            }),
            hook: None,
        };
        assert_eq!(RunLog::from_stored(&log.to_stored()), Some(log));
        assert_eq!(RunLog::from_stored("garbage"), None);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
