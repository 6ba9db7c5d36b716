//! Renewal and delivery through the mount: lifetime actions fire by themselves for certificates inside their window, hooks run after a switch, status.json and metrics.prom tell the state, live/ is certbot's layout, and readers never see a key of one version with the certificate of another.

mod common;

use std::fs;
use std::path::Path;

use common::json_file as json;
use common::nginx::{Nginx, require_nginx};
use common::{Mount, ec_policy, read_pairs_during, sh_err, sh_ok, wait_until};

/// A key and a self-signed certificate for `cn` valid `days` days, as one PEM, written to `out`.
fn expiring_pem(dir: &Path, cn: &str, days: u32, out: &Path) {
    sh_ok(
        dir,
        &format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout k.pem -out c.pem -days {days} -subj /CN={cn} \
             -addext subjectAltName=DNS:{cn} 2>/dev/null && cat k.pem c.pem > '{}' && rm k.pem c.pem",
            out.display()
        ),
    );
}

/// A policy for an EC P-256 `cn` with issuer `issuer` and one lifetime action.
fn policy_with_action(cn: &str, issuer: &str, trigger: &str, action: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},
 "x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}"]}},"validity_months":12}},
 "issuer":{{"name":"{issuer}"}},
 "lifetime_actions":[{{"trigger":{trigger},"action":{{"action_type":"{action}"}}}}]}}"#
    )
}

fn versions(m: &Mount, cert: &str) -> usize {
    fs::read_dir(m.path(&format!("prod/{cert}/versions")))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Imports `cn`'s expiring certificate as `prod/<name>` under `policy`.
fn import_expiring(m: &Mount, name: &str, cn: &str, days: u32, policy: &str) {
    fs::write(m.path(&format!("prod/import/{name}.policy.json")), policy).unwrap();
    let pem = m.root.path().join(format!("{name}.pem"));
    expiring_pem(m.root.path(), cn, days, &pem);
    fs::copy(&pem, m.path(&format!("prod/import/{name}.pem"))).unwrap();
}

#[test]
fn auto_renew_through_self_replaces_a_certificate_inside_its_window() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let policy = policy_with_action(
        "site.example.com",
        "Self",
        r#"{"days_before_expiry":30}"#,
        "AutoRenew",
    );
    import_expiring(&m, "site", "site.example.com", 2, &policy);
    // The imported version expires in 2 days, inside the 30-day window: a
    // renewal follows by itself.
    wait_until("a renewed version", || versions(&m, "site") == 2);
    // The run log is written just after the new version is published.
    wait_until("the run log", || {
        !json(&m.path("prod/site/status.json"))["last_renewal"].is_null()
    });
    let status = json(&m.path("prod/site/status.json"));
    let days: i64 = status["days_left"].as_i64().unwrap();
    assert!(
        days > 300,
        "the current version is the renewed one: {status}"
    );
    assert_eq!(status["last_renewal"]["outcome"], "succeeded", "{status}");
    assert_eq!(status["last_renewal"]["action"], "AutoRenew");
    assert_eq!(status["key_matches_certificate"], true);
    assert_eq!(status["chain_complete"], true);
    let text = sh_ok(
        &m.mnt,
        "openssl x509 -in prod/site/cert.pem -noout -subject -issuer",
    );
    assert!(text.contains("site.example.com"), "{text}");
    // Once: a pass after the renewal looked and made no third version.
    m.renewal_pass();
    assert_eq!(versions(&m, "site"), 2);

    // The renewed version turns out bad and is disabled: the files go back
    // to the expiring one, which is then renewed again, by itself.
    let renewed = fs::read_to_string(m.path("prod/site/cert.pem")).unwrap();
    fs::write(m.path("prod/site/attributes.json"), r#"{"enabled": false}"#).unwrap();
    wait_until("a renewal of the version the files went back to", || {
        versions(&m, "site") == 3
    });
    wait_until("the third version current", || {
        json(&m.path("prod/site/status.json"))["days_left"]
            .as_i64()
            .is_some_and(|d| d > 300)
    });
    assert_ne!(
        fs::read_to_string(m.path("prod/site/cert.pem")).unwrap(),
        renewed
    );
}

#[test]
fn auto_renew_of_an_unknown_certificate_makes_a_csr_and_status_says_so() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let policy = policy_with_action(
        "api.example.com",
        "Unknown",
        r#"{"lifetime_percentage":50}"#,
        "AutoRenew",
    );
    import_expiring(&m, "api", "api.example.com", 2, &policy);
    // 2-day certificate made just now... 50% is a day away: not due yet.
    m.renewal_pass();
    assert!(!m.path("prod/api/request.csr").exists());
    // Expiring tomorrow with a 30-day trigger: due now.
    let policy = policy_with_action(
        "api.example.com",
        "Unknown",
        r#"{"days_before_expiry":30}"#,
        "AutoRenew",
    );
    import_expiring(&m, "api", "api.example.com", 1, &policy);
    wait_until("a pending renewal", || {
        m.path("prod/api/request.csr").exists()
    });
    let op = json(&m.path("prod/api/operation.json"));
    assert_eq!(op["status"], "inProgress");
    sh_ok(
        &m.mnt,
        "openssl req -in prod/api/request.csr -noout -verify",
    );
    wait_until("the run log", || {
        json(&m.path("prod/api/status.json"))["last_renewal"]["outcome"] == "succeeded"
    });
    let status = json(&m.path("prod/api/status.json"));
    let message = status["last_renewal"]["message"].as_str().unwrap();
    assert!(message.contains("request.csr"), "{status}");
    // No contacts and no SMTP: said, not hidden.
    assert!(message.contains("contacts"), "{status}");
    assert_eq!(status["operation"], "inProgress");
}

#[test]
fn a_failed_renewal_shows_in_status_and_is_retried_with_backoff() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(
        m.path("prod/issuers/corp.json"),
        r#"{"provider": "Internal", "ca": {"kty": "EC"}}"#,
    )
    .unwrap();
    let policy = policy_with_action(
        "web.example.com",
        "corp",
        r#"{"days_before_expiry":30}"#,
        "AutoRenew",
    );
    fs::write(
        m.path("prod/issuers/corp.json"),
        r#"{"provider": "Internal", "attributes": {"enabled": false}}"#,
    )
    .unwrap();
    import_expiring(&m, "web", "web.example.com", 2, &policy);
    wait_until("a failed renewal", || {
        json(&m.path("prod/web/status.json"))["last_renewal"]["outcome"] == "failed"
    });
    let status = json(&m.path("prod/web/status.json"));
    assert!(
        status["last_renewal"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{status}"
    );
    assert!(status["last_renewal"]["retry_at"].is_string(), "{status}");
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics
            .contains("certfs_certificate_last_renewal_success{vault=\"prod\",certificate=\"web\""),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("certfs_certificate_renewal_due{")
                && l.contains("\"web\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    // The issuer comes back: the retry (15 s after the first failure) renews.
    fs::write(
        m.path("prod/issuers/corp.json"),
        r#"{"provider": "Internal", "attributes": {"enabled": true}}"#,
    )
    .unwrap();
    wait_until("the retried renewal", || versions(&m, "web") == 2);
    sh_ok(
        &m.mnt,
        "openssl verify -CAfile prod/issuers/corp.pem prod/web/cert.pem",
    );
    wait_until("the run log of the retry succeeding", || {
        json(&m.path("prod/web/status.json"))["last_renewal"]["outcome"] == "succeeded"
    });
}

#[test]
fn hooks_run_after_a_switch_with_certbots_environment_and_failures_never_undo_it() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let out = m.root.path().join("hook.out");
    let hooks = serde_json::json!({
        "command": ["sh", "-c", format!(
            "echo \"$RENEWED_LINEAGE|$RENEWED_DOMAINS|$(openssl x509 -in \"$RENEWED_LINEAGE/cert.pem\" -noout -serial)\" >> {}",
            out.display()
        )]
    });
    fs::write(m.path("prod/web/hooks.json"), hooks.to_string()).unwrap();
    let mode = sh_ok(&m.mnt, "stat -c %a prod/web/hooks.json");
    assert_eq!(mode.trim(), "600");
    assert_eq!(json(&m.path("prod/web/hooks.json"))["command"][0], "sh");
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    wait_until("the hook", || out.exists());
    let serial = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -serial");
    let line = fs::read_to_string(&out).unwrap();
    let lineage = m.mnt.canonicalize().unwrap().join("prod/web");
    assert_eq!(
        line,
        format!("{}|web.example.com|{}", lineage.display(), serial)
    );
    wait_until("the hook's outcome", || {
        json(&m.path("prod/web/status.json"))["last_hook"]["outcome"] == "succeeded"
    });
    // A failing hook is reported and the new version stays current.
    fs::write(
        m.path("prod/web/hooks.json"),
        r#"{"command": ["sh", "-c", "exit 7"]}"#,
    )
    .unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    wait_until("the failed hook", || {
        json(&m.path("prod/web/status.json"))["last_hook"]["outcome"] == "failed"
    });
    let status = json(&m.path("prod/web/status.json"));
    assert!(
        status["last_hook"]["message"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{status}"
    );
    assert_eq!(versions(&m, "web"), 3);
    // Bad hooks are refused with a reason.
    // (cp reports close(); a shell's echo > f does not.)
    let err = sh_err(
        &m.mnt,
        "echo '{\"signal\": \"HUP\"}' > ../bad.json && cp ../bad.json prod/web/hooks.json",
    );
    assert!(err.contains("Invalid argument"), "{err}");
    let report = fs::read_to_string(m.path("prod/web/hooks.json.error")).unwrap();
    assert!(
        report.contains("signal and pidfile go together"),
        "{report}"
    );
}

#[test]
fn a_renewal_reloads_nginx_through_its_hook_and_s_client_sees_the_new_serial() {
    if require_nginx().is_none() {
        return;
    }
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let prefix = m.root.path().join("nginx");
    let nginx = Nginx::start(&prefix, &m.path("live/prod.web"));
    let served = || {
        sh_ok(
            &m.mnt,
            &format!(
                "openssl s_client -connect 127.0.0.1:{} -servername web.example.com </dev/null 2>/dev/null \
                 | openssl x509 -noout -serial",
                nginx.port
            ),
        )
    };
    let first = served();
    assert_eq!(
        first,
        sh_ok(
            &m.mnt,
            "openssl x509 -in live/prod.web/cert.pem -noout -serial"
        )
    );
    let hooks = serde_json::json!({
        "signal": "HUP",
        "pidfile": prefix.join("logs/nginx.pid").display().to_string(),
    });
    fs::write(m.path("prod/web/hooks.json"), hooks.to_string()).unwrap();
    // The renewal: a new version, then the hook reloads nginx.
    let policy = policy_with_action(
        "web.example.com",
        "Self",
        r#"{"days_before_expiry":30}"#,
        "AutoRenew",
    );
    fs::write(m.path("prod/import/web.policy.json"), &policy).unwrap();
    let pem = m.root.path().join("web.pem");
    expiring_pem(m.root.path(), "web.example.com", 2, &pem);
    fs::copy(&pem, m.path("prod/import/web.pem")).unwrap();
    wait_until("the renewal", || versions(&m, "web") == 3);
    let renewed = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -serial");
    assert_ne!(renewed, first);
    wait_until("nginx serving the renewed certificate", || {
        served() == renewed
    });
    // The hook's outcome is recorded once it returned.
    wait_until("the hook's outcome", || {
        !json(&m.path("prod/web/status.json"))["last_hook"].is_null()
    });
    let status = json(&m.path("prod/web/status.json"));
    assert!(
        status["last_hook"]["message"]
            .as_str()
            .unwrap()
            .contains("SIGHUP sent"),
        "{status}"
    );
}

#[test]
fn live_is_certbots_layout_of_every_certificate_and_follows_switches() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    fs::create_dir_all(m.path("prod/draft")).unwrap();
    assert_eq!(sh_ok(&m.mnt, "ls"), "live\nmetrics.prom\nprod\n");
    assert_eq!(sh_ok(&m.mnt, "ls live"), "prod.web\n");
    assert_eq!(
        sh_ok(&m.mnt, "ls live/prod.web"),
        "cert.pem\nchain.pem\nfullchain.pem\nprivkey.pem\n"
    );
    for f in ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"] {
        assert_eq!(
            fs::read(m.path(&format!("live/prod.web/{f}"))).unwrap(),
            fs::read(m.path(&format!("prod/web/{f}"))).unwrap(),
            "{f}"
        );
    }
    let before = fs::read(m.path("live/prod.web/cert.pem")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let after = fs::read(m.path("live/prod.web/cert.pem")).unwrap();
    assert_ne!(before, after);
    assert_eq!(after, fs::read(m.path("prod/web/cert.pem")).unwrap());
    // live/ is read-only and not a vault name.
    let err = sh_err(&m.mnt, "echo x > live/prod.web/cert.pem");
    assert!(
        err.contains("not permitted") || err.contains("denied") || err.contains("Read-only"),
        "{err}"
    );
    let err = sh_err(&m.mnt, "mkdir live/x");
    assert!(!err.is_empty());
    assert!(!m.path("live/prod.nothing").exists());
}

#[test]
fn metrics_prom_parses_as_prometheus_text_and_tracks_each_certificate() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    fs::create_dir(m.path("stage")).unwrap();
    fs::create_dir(m.path("stage/api")).unwrap();
    fs::write(
        m.path("stage/api/policy.json"),
        ec_policy("api.example.com"),
    )
    .unwrap();
    let text = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert_eq!(
        fs::metadata(m.path("metrics.prom")).unwrap().len() as usize,
        text.len(),
        "stat size equals what a read returns"
    );
    // A real parser: Python's prometheus_client (the text format
    // node_exporter's textfile collector reads), from Debian's package.
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
seen = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        where = (s.labels["vault"], s.labels["certificate"]) if s.labels else ("daemon", "-")
        seen[(s.name, *where)] = s.value
for key in sorted(seen):
    print(*key, seen[key])
"#;
    fs::write(m.root.path().join("parse.py"), script).unwrap();
    let parsed = sh_ok(
        m.root.path(),
        &format!(
            "/usr/bin/python3 parse.py {}",
            m.path("metrics.prom").display()
        ),
    );
    for line in [
        "certfs_certificate_key_matches prod web 1.0",
        "certfs_certificate_chain_complete stage api 1.0",
        "certfs_certificate_operation_pending prod web 0.0",
    ] {
        assert!(parsed.contains(line), "{line} missing:\n{parsed}");
    }
    // The daemon's own: its renewal scheduler's last whole pass.
    m.renewal_pass();
    let parsed = sh_ok(
        m.root.path(),
        &format!(
            "/usr/bin/python3 parse.py {}",
            m.path("metrics.prom").display()
        ),
    );
    let pass = parsed
        .lines()
        .find_map(|l| l.strip_prefix("certfs_renewal_last_pass_timestamp_seconds daemon - "))
        .unwrap_or_else(|| panic!("no last pass:\n{parsed}"));
    let pass: f64 = pass.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(pass > now - 3600.0 && pass <= now, "{parsed}");
    let days: Vec<f64> = parsed
        .lines()
        .filter(|l| l.starts_with("certfs_certificate_days_left "))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(days.len(), 2, "{parsed}");
    assert!(days.iter().all(|d| (360.0..=366.0).contains(d)), "{parsed}");
}

#[test]
fn readers_never_see_a_key_of_one_version_with_the_certificate_of_another() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let seen = read_pairs_during(&m.path("prod/web"), || {
        for _ in 0..25 {
            fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
        }
    });
    assert_eq!(seen.mismatched, 0, "key/certificate mismatches: {seen:?}");
    assert_eq!(seen.torn, 0, "bundle.pem mixing versions: {seen:?}");
    assert!(seen.checked > 0);
    assert_eq!(versions(&m, "web"), 26);
}

#[test]
fn an_open_file_keeps_the_version_it_opened_and_new_opens_see_the_new_one() {
    use std::io::Read;
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let before = fs::read(m.path("prod/web/fullchain.pem")).unwrap();
    let mut open = fs::File::open(m.path("prod/web/fullchain.pem")).unwrap();
    let mut first = vec![0u8; 10];
    open.read_exact(&mut first).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let after = fs::read(m.path("prod/web/fullchain.pem")).unwrap();
    assert_ne!(before, after, "a new version is current");
    assert_eq!(
        fs::metadata(m.path("prod/web/fullchain.pem"))
            .unwrap()
            .len() as usize,
        after.len(),
        "stat shows the new size"
    );
    let mut rest = Vec::new();
    open.read_to_end(&mut rest).unwrap();
    first.extend(rest);
    assert_eq!(first, before, "the open file kept the version it opened");
}

const CONTACTS: &str =
    r#"{"contacts": [{"email": "ops@contoso.com", "name": "Ops"}, {"email": "pki@contoso.com"}]}"#;

#[test]
fn email_contacts_mails_every_contact_once_per_trigger_also_across_a_restart() {
    let sink = common::smtp::SmtpSink::start();
    let mut m = Mount::start_args(&["--smtp", &sink.url()]);
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/contacts.json"), CONTACTS).unwrap();
    let policy = policy_with_action(
        "mail.example.com",
        "Unknown",
        r#"{"days_before_expiry":30}"#,
        "EmailContacts",
    );
    import_expiring(&m, "mail", "mail.example.com", 2, &policy);
    let mails = sink.wait_for(1);
    let mail = &mails[0];
    let mut to = mail.to.clone();
    to.sort();
    assert_eq!(to, ["ops@contoso.com", "pki@contoso.com"]);
    let subject = mail.header("Subject").unwrap();
    assert!(
        subject.contains("mail") && subject.contains("prod"),
        "{subject}"
    );
    let body = mail.body();
    let lineage = m.mnt.canonicalize().unwrap().join("prod/mail");
    assert!(body.contains(&lineage.display().to_string()), "{body}");
    let expiry = sh_ok(
        &m.mnt,
        "date -u -d \"$(openssl x509 -in prod/mail/cert.pem -noout -enddate | cut -d= -f2)\" +%Y-%m-%d",
    );
    assert!(
        body.contains(expiry.trim()),
        "the expiry date {expiry} in:\n{body}"
    );
    wait_until("the run log", || {
        json(&m.path("prod/mail/status.json"))["last_renewal"]["outcome"] == "succeeded"
    });
    let status = json(&m.path("prod/mail/status.json"));
    assert!(
        status["last_renewal"]["message"]
            .as_str()
            .unwrap()
            .contains("mailed"),
        "{status}"
    );
    // Once per trigger: not again on later passes, nor after a restart.
    m.remount();
    m.renewal_pass();
    assert_eq!(sink.messages().len(), 1, "mailed once");
    assert_eq!(versions(&m, "mail"), 1, "EmailContacts does not renew");
}

#[test]
fn an_auto_renew_that_needs_a_signed_csr_mails_where_it_is() {
    let sink = common::smtp::SmtpSink::start();
    let m = Mount::start_args(&["--smtp", &sink.url()]);
    fs::create_dir(m.path("prod")).unwrap();
    fs::write(m.path("prod/contacts.json"), CONTACTS).unwrap();
    let policy = policy_with_action(
        "csr.example.com",
        "Unknown",
        r#"{"days_before_expiry":30}"#,
        "AutoRenew",
    );
    import_expiring(&m, "csr", "csr.example.com", 2, &policy);
    let mails = sink.wait_for(1);
    let body = mails[0].body();
    let lineage = m.mnt.canonicalize().unwrap().join("prod/csr");
    assert!(
        body.contains(&format!("{}/request.csr", lineage.display())),
        "{body}"
    );
    assert!(
        body.contains(&format!("{}/merge", lineage.display())),
        "{body}"
    );
    assert!(m.path("prod/csr/request.csr").exists());
}
