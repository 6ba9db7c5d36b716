//! The DigiCert stand-in (`tests/standins/digicert.py`) as a `StandIn`: a python process on 127.0.0.1, scripted per host, stopped on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certfs::issuers::CertificateAuthority;
use certfs::issuers::digicert::DigiCert;
use certfs::issuers::http::{HttpClient, Method};

use super::ca::StandIn;

/// The API key the stand-in accepts (`X-DC-DEVKEY`).
pub const API_KEY: &str = "standin-devkey-4f1c2a9e";
/// The organization id the stand-in knows.
pub const ORG_ID: &str = "7890";

/// A running stand-in; its CA files and orders live in `dir`, so a restart
/// (`come_up`) keeps the same root and the orders placed before.
pub struct DigiCertStandIn {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    polls: u32,
    extra: Vec<String>,
}

impl DigiCertStandIn {
    /// Starts a stand-in that issues an order at its `polls`-th status call (0: at once).
    pub fn start_with_polls(polls: u32) -> Self {
        Self::start_with(polls, &[])
    }

    /// The same, with more command-line options (`--rate-burst 1`).
    pub fn start_with(polls: u32, extra: &[&str]) -> Self {
        let mut server = DigiCertStandIn {
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
            port: 0,
            polls,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    /// The base URL, as an issuer's `endpoint`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/services/v2", self.port)
    }

    /// Scripts orders for `host` (the stand-in's `/_standin/hosts/<host>` extension):
    /// `{"mode": "issue"|"hold"|"refuse"|"error", "polls": N, "message": …}`.
    pub fn script(&self, host: &str, rule: serde_json::Value) {
        let answer = self
            .control()
            .call(
                Method::Post,
                &format!("/_standin/hosts/{host}"),
                &[],
                Some(("application/json", rule.to_string().as_bytes())),
            )
            .expect("stand-in control");
        assert_eq!(answer.status, 200, "{}", answer.text());
    }

    /// Every order the stand-in has: `[{id, common_name, status, product, days, polls, cancel_note}]`.
    pub fn orders(&self) -> Vec<serde_json::Value> {
        let answer = self
            .control()
            .call(Method::Get, "/_standin/orders", &[], None)
            .expect("stand-in orders");
        let body: serde_json::Value = serde_json::from_slice(&answer.body).expect("orders JSON");
        body["orders"].as_array().cloned().unwrap_or_default()
    }

    /// How many calls the stand-in is holding now (a host scripted with a
    /// `delay` answers only after it).
    pub fn held_calls(&self) -> u64 {
        let answer = self
            .control()
            .call(Method::Get, "/_standin/held", &[], None)
            .expect("stand-in held calls");
        let body: serde_json::Value = serde_json::from_slice(&answer.body).expect("held JSON");
        body["calls"].as_u64().expect("a count")
    }

    fn control(&self) -> HttpClient {
        HttpClient::new(&format!("http://127.0.0.1:{}", self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Starts the process on `self.port` (0 the first time: any free port)
    /// and waits until it answers.
    fn spawn(&mut self) {
        let port_file = self.dir.path().join("port");
        let _ = std::fs::remove_file(&port_file);
        let log = std::fs::File::create(self.dir.path().join("stderr.log")).expect("log file");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/standins/digicert.py");
        let child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--port", &self.port.to_string()])
            .args(["--api-key", API_KEY, "--org-id", ORG_ID])
            .args(["--polls", &self.polls.to_string()])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 runs the DigiCert stand-in");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the DigiCert stand-in did not start: {}",
                self.log()
            );
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the DigiCert stand-in exited ({status}): {}", self.log());
            }
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                self.port = port;
                if self
                    .control()
                    .call(Method::Get, "/_standin/health", &[], None)
                    .is_ok_and(|a| a.status == 200)
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DigiCertStandIn {
    fn drop(&mut self) {
        self.stop();
    }
}

impl StandIn for DigiCertStandIn {
    fn start() -> Self {
        Self::start_with_polls(2)
    }

    fn authority(&self) -> Box<dyn CertificateAuthority> {
        Box::new(DigiCert::new(Some(&self.base_url()), API_KEY, ORG_ID))
    }

    fn authority_with_wrong_credentials(&self) -> Box<dyn CertificateAuthority> {
        Box::new(DigiCert::new(Some(&self.base_url()), "not-the-key", ORG_ID))
    }

    fn host_name(&self, tag: &str) -> String {
        format!("{tag}.digicert-standin.test")
    }

    fn root_pem(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    fn refuse_orders(&self, host: &str) -> String {
        let words = "Organization validation failed: the organization could not be verified";
        self.script(
            host,
            serde_json::json!({"mode": "refuse", "polls": 1, "message": words}),
        );
        words.to_owned()
    }

    fn hold_orders(&self, host: &str) {
        self.script(host, serde_json::json!({"mode": "hold"}));
    }

    fn go_down(&mut self) {
        self.stop();
    }

    fn come_up(&mut self) {
        self.spawn();
    }
}
