//! Tests of renewals and hooks: when lifetime actions are due, who may write `hooks.json`, what a switch runs.

use super::*;
use crate::store::sqlite::SqliteStore;
use crate::vault::node::CertificateFile;

#[test]
fn retries_double_from_fifteen_seconds_up_to_a_day() {
    assert_eq!(retry_after(1), 15);
    assert_eq!(retry_after(2), 30);
    assert_eq!(retry_after(3), 60);
    assert_eq!(retry_after(1000), MAX_RETRY);
    assert_eq!(retry_after(0), 15);
}

#[test]
fn actions_due_while_running_spread_over_five_minutes_and_overdue_ones_run_at_once() {
    let (started, created, base) = (1_000, 2_000, 10_000);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..200 {
        let when = spread(base, &format!("web{i}"), "v1", created, started);
        assert!((base..base + JITTER_WINDOW).contains(&when), "{when}");
        // The same certificate and version: the same moment, on every daemon.
        assert_eq!(
            when,
            spread(base, &format!("web{i}"), "v1", created, started)
        );
        seen.insert(when);
    }
    assert!(seen.len() > 100, "spread: {}", seen.len());
    // Overdue when the daemon started, or when the version was made: at once.
    assert_eq!(spread(base, "web", "v1", created, base + 5), base);
    assert_eq!(spread(base, "web", "v1", base + 5, started), base);
    assert_eq!(spread(base, "web", "v1", base, started), base);
}

/// A 1-month certificate renewed 10 days before expiry: not due when
/// made, so the tests drive passes at chosen times.
const POLICY: &[u8] = br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web","validity_months":1},
    "issuer":{"name":"Self"},
    "lifetime_actions":[{"trigger":{"days_before_expiry":10},"action":{"action_type":"AutoRenew"}}]}"#;

fn service(db: &std::path::Path) -> VaultService {
    VaultService::open(Box::new(SqliteStore::open(db).unwrap())).unwrap()
}

fn names() -> (VaultName, CertificateName) {
    (
        VaultName::parse("prod").unwrap(),
        CertificateName::parse("web").unwrap(),
    )
}

fn created(s: &VaultService) {
    let (v, c) = names();
    s.mkdir(&Node::Root, "prod").unwrap();
    s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
    s.write(
        &Node::CertificateFile(v, c, CertificateFile::Policy),
        POLICY,
    )
    .unwrap();
}

fn version_count(s: &VaultService) -> usize {
    let (v, c) = names();
    let st = s.model();
    certificate(&st, &v, &c)
        .unwrap()
        .versions
        .all()
        .unwrap()
        .len()
}

#[test]
fn an_overdue_auto_renew_runs_once_per_version_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    {
        let s = service(&db);
        created(&s);
        // Not due now: nothing happens, and the next pass is at the due time.
        let next = s.renewal_pass(now());
        assert_eq!(version_count(&s), 1);
        assert!(next > now(), "nothing is due now");
        // A pass after the due moment (the daemon slept through it) renews.
        let late = now() + 25 * 86_400;
        s.renewal_pass(late);
        assert_eq!(version_count(&s), 2);
    }
    // After a restart the log is there; the new version is not due.
    let s = service(&db);
    let (v, c) = names();
    {
        let st = s.model();
        let cs = certificate(&st, &v, &c).unwrap();
        let run = cs.run_log.action.as_ref().expect("stored run log");
        assert!(run.succeeded);
        assert_eq!(run.version, cs.versions.all().unwrap()[0].id.as_str());
    }
    s.renewal_pass(now());
    assert_eq!(version_count(&s), 2);
}

#[test]
fn only_the_mount_owner_or_root_may_write_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir.path().join("certfs.db"));
    let (v, c) = names();
    let hooks = Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Hooks);
    let tags = Node::CertificateFile(v, c, CertificateFile::Tags);
    assert!(s.check_writer(&hooks, 1000, 1000).is_ok());
    assert!(s.check_writer(&hooks, 0, 1000).is_ok());
    assert!(matches!(
        s.check_writer(&hooks, 1001, 1000),
        Err(VaultError::Forbidden(_))
    ));
    assert!(s.check_writer(&tags, 1001, 1000).is_ok());
}

#[test]
fn a_failed_lifetime_action_tells_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir.path().join("certfs.db"));
    let (v, c) = names();
    s.mkdir(&Node::Root, "prod").unwrap();
    s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
    // EmailContacts in a vault with no contacts: the action fails.
    let policy = br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web","validity_months":1},
        "issuer":{"name":"Self"},
        "lifetime_actions":[{"trigger":{"days_before_expiry":10},"action":{"action_type":"EmailContacts"}}]}"#;
    s.write(
        &Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy),
        policy,
    )
    .unwrap();
    let told = dir.path().join("told");
    let hooks = serde_json::json!({"on_failure": {"command": ["sh", "-c", format!(
        "printf '%s|%s|%s' \"$CERTFS_VAULT\" \"$CERTFS_CERTIFICATE\" \"$CERTFS_ERROR\" > {0}.tmp && mv {0}.tmp {0}",
        told.display()
    )]}});
    s.write(
        &Node::CertificateFile(v, c, CertificateFile::Hooks),
        hooks.to_string().as_bytes(),
    )
    .unwrap();
    s.renewal_pass(now() + 25 * 86_400);
    let start = std::time::Instant::now();
    while !told.exists() {
        assert!(start.elapsed().as_secs() < 60, "on_failure never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let told = std::fs::read_to_string(&told).unwrap();
    assert!(told.starts_with("prod|web|"), "{told}");
    assert!(told.contains("no contacts"), "{told}");
}
