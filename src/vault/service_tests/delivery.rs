//! Delivery after a switch: a probe that does not see the new certificate is a failed delivery, shown in `status.json` and `metrics.prom`, and `on_failure` is told.

use super::*;

#[test]
fn a_probe_that_cannot_see_the_new_certificate_fails_the_delivery_and_runs_on_failure() {
    let (dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.path().join("on-failure");
    let hooks = serde_json::json!({
        "probe": {"connect": format!("127.0.0.1:{port}"), "server_name": "web.example.com", "retry_for_s": 0},
        "on_failure": {"command": ["sh", "-c", format!(
            "printf '%s/%s: %s' \"$CERTFS_VAULT\" \"$CERTFS_CERTIFICATE\" \"$CERTFS_ERROR\" > {}",
            out.display()
        )]}
    });
    write(
        &s,
        &format!("{VAULT}/web/hooks.json"),
        hooks.to_string().as_bytes(),
    )
    .unwrap();
    write(
        &s,
        &format!("{VAULT}/web/policy.json"),
        &ec_policy("web", "Self"),
    )
    .unwrap();
    let current = current_version(&s, &format!("{VAULT}/web"));
    let status = read_json(&s, &format!("{VAULT}/web/status.json"));
    let probe = &status["probe"];
    assert_eq!(probe["ok"], false, "{status}");
    assert_eq!(probe["version"], current.as_str(), "{status}");
    assert_eq!(probe["served_serial"], "", "{status}");
    assert!(
        probe["message"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{port}")),
        "{status}"
    );
    let told = std::fs::read_to_string(&out).unwrap();
    assert!(told.starts_with("prod/web: probe of 127.0.0.1:"), "{told}");
    assert!(
        status["last_hook"]["message"]
            .as_str()
            .unwrap()
            .contains("on_failure: command sh succeeded"),
        "{status}"
    );
    let metrics = String::from_utf8(read(&s, "metrics.prom")).unwrap();
    let served = metrics
        .lines()
        .find(|l| l.starts_with("certfs_certificate_served_current{"))
        .unwrap_or_default();
    assert!(
        served.contains("certificate=\"web\"") && served.ends_with(" 0"),
        "{metrics}"
    );
}
