//! The GlobalSign stand-in (`tests/standins/globalsign.py`) as a `StandIn`: started on 127.0.0.1, scripted per host, stopped on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certfs::issuers::CertificateAuthority;
use certfs::issuers::globalsign::{Contact, GlobalSign, Settings};
use zeroize::Zeroizing;

use super::ca::StandIn;

/// The API user the stand-in knows.
pub const USER: &str = "PAR12345_certfs";
/// Its password: markup characters on purpose (the client must escape them).
pub const PASSWORD: &str = "s3cret<&>\"pass'";
/// The MSSL domain the stand-in's account has; hosts under it are issued.
pub const DOMAIN: &str = "certfs.test";

/// A second MSSL domain, for the name the nginx tests serve (web.example.com).
pub const WEB_DOMAIN: &str = "example.com";

/// A running stand-in of GlobalSign's GCC SOAP API.
pub struct GlobalSignStandIn {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/globalsign.py")
}

impl GlobalSignStandIn {
    fn spawn(&mut self, port: u16) {
        let port_file = self.dir.path().join("port");
        let _ = std::fs::remove_file(&port_file);
        let log = std::fs::File::create(self.dir.path().join("standin.log")).expect("log");
        let child = Command::new("python3")
            .arg(script())
            .arg("--dir")
            .arg(self.dir.path().join("ca"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--port")
            .arg(port.to_string())
            .arg("--user")
            .arg(USER)
            .arg("--password")
            .arg(PASSWORD)
            .arg("--domain")
            .arg(DOMAIN)
            .arg("--domain")
            .arg(WEB_DOMAIN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 runs the GlobalSign stand-in");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(p) = text.trim().parse() {
                    self.port = p;
                    if self.get("/_standin/health").is_some() {
                        return;
                    }
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the GlobalSign stand-in exited ({status}): {}",
                    std::fs::read_to_string(self.dir.path().join("standin.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the GlobalSign stand-in did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The base URL (an issuer's `endpoint`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut response = ureq::get(&format!("{}{path}", self.url())).call().ok()?;
        response.body_mut().read_to_string().ok()
    }

    /// Scripts how orders for `host` go (the stand-in's control extension):
    /// `rule` is JSON such as `{"mode":"hold"}` or `{"mode":"issue","polls":3}`.
    pub fn set_rule(&self, host: &str, rule: &str) {
        let url = format!("{}/_standin/hosts/{host}", self.url());
        let response = ureq::post(&url)
            .content_type("application/json")
            .send(rule)
            .expect("the stand-in takes the rule");
        assert_eq!(response.status().as_u16(), 200);
    }

    /// Every SOAP call the stand-in saw, as JSON objects
    /// (`path`, `operation`, `soapaction`, `order_id`, `modify_operation`).
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let text = self.get("/_standin/calls").expect("calls");
        serde_json::from_str(&text).expect("calls JSON")
    }

    /// One order as the stand-in keeps it (`status`, `cn`, ...).
    pub fn order(&self, id: &str) -> serde_json::Value {
        let text = self.get(&format!("/_standin/orders/{id}")).expect("order");
        serde_json::from_str(&text).expect("order JSON")
    }

    fn client(&self, password: &str) -> Box<dyn CertificateAuthority> {
        Box::new(GlobalSign::new(Settings {
            endpoint: Some(self.url()),
            account_id: USER.into(),
            password: Zeroizing::new(password.into()),
            contact: Contact {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@certfs.test".into(),
                phone: "+44 20 7946 0000".into(),
            },
        }))
    }
}

impl StandIn for GlobalSignStandIn {
    fn start() -> Self {
        let mut s = GlobalSignStandIn {
            dir: tempfile::tempdir().expect("tempdir"),
            port: 0,
            child: None,
        };
        s.spawn(0);
        s
    }

    fn authority(&self) -> Box<dyn CertificateAuthority> {
        self.client(PASSWORD)
    }

    fn authority_with_wrong_credentials(&self) -> Box<dyn CertificateAuthority> {
        self.client("wrong-password")
    }

    fn host_name(&self, tag: &str) -> String {
        format!("{tag}.shop.{DOMAIN}")
    }

    fn root_pem(&self) -> PathBuf {
        self.dir.path().join("ca/root.pem")
    }

    fn refuse_orders(&self, host: &str) -> String {
        let message = format!("This order cannot be placed for {host}.");
        self.set_rule(
            host,
            &serde_json::json!({"mode": "refuse", "code": "-9450", "message": message}).to_string(),
        );
        message
    }

    fn hold_orders(&self, host: &str) {
        self.set_rule(host, r#"{"mode":"hold"}"#);
    }

    fn go_down(&mut self) {
        self.stop();
    }

    fn come_up(&mut self) {
        let port = self.port;
        self.spawn(port);
    }
}

impl Drop for GlobalSignStandIn {
    fn drop(&mut self) {
        self.stop();
    }
}
