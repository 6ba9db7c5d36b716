//! The monitoring kit in packaging/monitoring: the Prometheus rules pass `promtool check rules` and their unit tests, name only metrics a real `metrics.prom` has, and stay quiet on a healthy certificate; the Grafana dashboard is JSON over the same metrics.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::require::require_tool;
use common::{Mount, ec_policy};

fn kit(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/monitoring")
        .join(file)
}

/// Runs promtool with `args` in the kit's folder; its output, asserting success.
fn promtool(promtool: &Path, args: &[&str]) -> String {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(kit(""))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// The `certfs_*` metric names in `text`.
fn certfs_metrics(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("certfs_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // Alert names are CamelCase (CertfsKeyMismatch): not metrics.
        let before = rest[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// A mount (with a serving copy) with one healthy certificate; its metrics.prom.
fn real_metrics() -> String {
    let m = Mount::start_with_args(&["--export", "{root}/copy"]);
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    fs::read_to_string(m.path("metrics.prom")).unwrap()
}

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool_bin) = require_tool("promtool", "checks the Prometheus rules") else {
        return;
    };
    let checked = promtool(&promtool_bin, &["check", "rules", "certfs.rules.yml"]);
    assert!(checked.contains("SUCCESS: 11 rules found"), "{checked}");
    let tested = promtool(&promtool_bin, &["test", "rules", "certfs.rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn rules_and_dashboard_name_only_metrics_of_a_real_metrics_prom_and_a_healthy_certificate_alerts_nothing()
 {
    let Some(promtool_bin) = require_tool("promtool", "runs the rules on real metrics") else {
        return;
    };
    let metrics = real_metrics();
    let families: BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let rules = fs::read_to_string(kit("certfs.rules.yml")).unwrap();
    let dashboard = fs::read_to_string(kit("grafana-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    assert_eq!(parsed["uid"], "certfs-certificates");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    for (what, text) in [("rules", &rules), ("dashboard", &dashboard)] {
        let used = certfs_metrics(text);
        assert!(!used.is_empty(), "{what} names certfs metrics");
        let unknown: Vec<_> = used.difference(&families).collect();
        assert!(
            unknown.is_empty(),
            "{what} names metrics metrics.prom lacks: {unknown:?}\n{metrics}"
        );
    }

    // The real samples, held for three hours: no rule fires.
    let mut series = String::new();
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        series.push_str(&format!(
            "      - series: '{name}'\n        values: '{value}x180'\n"
        ));
    }
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(alerts.len(), 11, "{alerts:?}");
    let mut checks = String::new();
    for alert in &alerts {
        checks.push_str(&format!(
            "      - eval_time: 3h\n        alertname: {alert}\n        exp_alerts: []\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    fs::copy(kit("certfs.rules.yml"), dir.path().join("certfs.rules.yml")).unwrap();
    let test = format!(
        "rule_files: [certfs.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n{checks}"
    );
    fs::write(dir.path().join("healthy.test.yml"), test).unwrap();
    let out = Command::new(&promtool_bin)
        .args(["test", "rules", "healthy.test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a healthy certificate fires an alert:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
