//! What certfs shows of a certificate's health: `status.json` and the metrics of `metrics.prom`.
//!
//! Both are made from the model on each read (days left change with the
//! clock); what they say of past renewals comes from the run log ([`super::run_log`]).

use super::certificate_state::CertificateState;
use super::clock::rfc3339;
use super::consumers::Consumer;
use super::policy::{ActionType, LifetimeAction, Trigger};
use super::version::Facts;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// When `action` is due for a version with `facts` (Unix seconds).
pub(crate) fn due(action: &LifetimeAction, facts: &Facts) -> i64 {
    due_between(action, facts.not_before, facts.not_after)
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

/// `status.json` of certificate `cs` at time `now`.
pub(crate) fn status_json(cs: &CertificateState, consumers: &[Consumer], now: i64) -> String {
    let mut out = serde_json::Map::new();
    let current = cs.current();
    let facts = current.map(|version| version.body().and_then(|body| Ok((body, version.facts()?))));
    if let Some(Err(e)) = &facts {
        out.insert("error".into(), e.message().into());
    }
    if let (Some(version), Some(Ok((body, facts)))) = (current, &facts) {
        let info = &body.info;
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
        let revoked = cs.run_log.revoked.get(version.id.as_str());
        out.insert(
            "revoked".into(),
            revoked
                .map(|r| serde_json::json!({"at": rfc3339(r.at), "reason": r.reason}))
                .unwrap_or(serde_json::Value::Null),
        );
        if let Some(matches) = facts.key_matches {
            out.insert("key_matches_certificate".into(), matches.into());
        }
        out.insert("chain_complete".into(), facts.chain_complete.into());
        // certfs has no HSM: an `RSA-HSM`/`EC-HSM` policy gets a software key too.
        out.insert("key_storage".into(), "software".into());
    } else {
        out.insert("version".into(), serde_json::Value::Null);
    }
    if !cs.run_log.revoked.is_empty() {
        let versions: serde_json::Map<String, serde_json::Value> = cs
            .run_log
            .revoked
            .iter()
            .map(|(id, r)| {
                let entry = serde_json::json!({
                    "serial_number": r.serial, "at": rfc3339(r.at), "reason": r.reason,
                });
                (id.clone(), entry)
            })
            .collect();
        out.insert("revoked_versions".into(), versions.into());
    }
    let facts = facts.and_then(Result::ok).map(|(_, facts)| facts);
    match (cs.policy.lifetime_actions.first(), current, facts) {
        (Some(action), Some(version), Some(facts)) => {
            let done = cs
                .run_log
                .action
                .as_ref()
                .is_some_and(|r| r.version == version.id.as_str() && r.succeeded);
            out.insert(
                "lifetime_action".into(),
                serde_json::json!({
                    "action": action_name(action.action),
                    "due": rfc3339(due(action, &facts)),
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
            .as_deref()
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
    let current_id = cs.current().map(|v| v.id.clone());
    out.insert(
        "consumers".into(),
        consumers
            .iter()
            .map(|c| {
                serde_json::json!({
                    "pid": c.pid,
                    "command": c.command,
                    "uid": c.uid,
                    "version": c.version.as_str(),
                    "opened_at": rfc3339(c.opened_at),
                    "current": Some(&c.version) == current_id.as_ref(),
                })
            })
            .collect::<Vec<_>>()
            .into(),
    );
    if let Some(p) = &cs.run_log.probe {
        out.insert(
            "probe".into(),
            serde_json::json!({
                "version": p.version,
                "at": rfc3339(p.at),
                "served_serial": p.served_serial,
                "ok": p.ok,
                "message": p.message,
            }),
        );
    }
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
const FAMILIES: [(&str, &str); 12] = [
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
    (
        "certfs_certificate_served_current",
        "1 when the delivery probe saw the server present the current version, 0 when it did not.",
    ),
    (
        "certfs_certificate_stale_consumers",
        "Living processes that opened the key of a version other than the current one.",
    ),
    (
        "certfs_certificate_revoked",
        "1 when the current version's certificate is revoked at its issuer.",
    ),
    (
        "certfs_certificate_revoked_versions",
        "How many versions of the certificate were revoked at their issuer.",
    ),
];

/// `metrics.prom`: every live certificate of every vault (`(vault name, certificate)`), at `now`.
pub(crate) fn metrics<'a>(
    certificates: impl Iterator<Item = (&'a str, &'a CertificateState)>,
    consumers: impl Fn(&str, &CertificateState) -> Vec<Consumer>,
    now: i64,
) -> String {
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); FAMILIES.len()];
    for (vault, cs) in certificates {
        let Some((version, facts)) = cs
            .current()
            .and_then(|version| Some((version, version.facts().ok()?)))
        else {
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
        put(0, facts.not_after.to_string());
        put(1, (facts.not_after - now).div_euclid(DAY).to_string());
        if let Some(action) = cs.policy.lifetime_actions.first() {
            let at = due(action, &facts);
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
        if let Some(matches) = facts.key_matches {
            put(6, u8::from(matches).to_string());
        }
        put(7, u8::from(facts.chain_complete).to_string());
        if let Some(probe) = &cs.run_log.probe {
            let current = probe.ok && probe.version == version.id.as_str();
            put(8, u8::from(current).to_string());
        }
        let stale = consumers(vault, cs)
            .iter()
            .filter(|c| c.version != version.id)
            .count();
        put(9, stale.to_string());
        let revoked = cs.run_log.revoked.contains_key(version.id.as_str());
        put(10, u8::from(revoked).to_string());
        put(11, cs.run_log.revoked.len().to_string());
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

/// The daemon's own lines of `metrics.prom`: when its renewal scheduler
/// last looked at every certificate (`last_pass`: the start of the last
/// whole pass), so that a stalled scheduler is seen.
pub(crate) fn daemon_metrics(last_pass: Option<std::time::SystemTime>) -> String {
    let name = "certfs_renewal_last_pass_timestamp_seconds";
    let mut out = format!(
        "# HELP {name} When the renewal scheduler's last whole pass over every certificate began (Unix time).\n\
         # TYPE {name} gauge\n"
    );
    if let Some(at) = last_pass.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
        out.push_str(&format!(
            "{name} {}.{:06}\n",
            at.as_secs(),
            at.subsec_micros()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_pass_is_a_sample_once_there_is_one() {
        let none = daemon_metrics(None);
        assert!(none.contains("# TYPE certfs_renewal_last_pass_timestamp_seconds gauge"));
        assert_eq!(none.lines().count(), 2, "{none}");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_000_042);
        let some = daemon_metrics(Some(at));
        assert!(
            some.ends_with("certfs_renewal_last_pass_timestamp_seconds 1700000000.000042\n"),
            "{some}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
