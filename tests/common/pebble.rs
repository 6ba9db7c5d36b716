//! A real ACME server for tests: Debian's `pebble` (RFC 8555 test CA by Let's Encrypt) with `pebble-challtestsrv` as its DNS, on free ports of 127.0.0.1.
//!
//! Debian's package (2.4.0) installs `/usr/bin/pebble` and
//! `/usr/bin/pebble-challtestsrv` and ships no test certificates, so the
//! harness makes its own TLS CA and server certificate with openssl
//! (`tls_ca()` is what a client trusts: the issuer file's `ca_file`).
//! Pebble runs with `PEBBLE_VA_NOSLEEP=1` (validate at once),
//! `PEBBLE_WFE_NONCEREJECT=0` (no random bad nonces) and
//! `PEBBLE_AUTHZREUSE=0` (every order is validated), and `-dnsserver`
//! pointing at pebble-challtestsrv, which answers every A query with
//! 127.0.0.1 and no AAAA, so every name resolves to this machine; pebble
//! fetches http-01 answers from `http://<name>:<http_port>/`. Pebble
//! generates a new issuing root each time it starts (readable from its
//! management interface at `/roots/0`) and forgets accounts and orders
//! when stopped.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key id and HMAC key pebble's own example configuration uses for EAB.
pub const EAB_KID: &str = "kid-1";
/// The HMAC key of [`EAB_KID`], base64url.
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A pebble and its DNS, stopped on drop.
pub struct Pebble {
    dir: tempfile::TempDir,
    /// The ACME port (directory at `https://127.0.0.1:<port>/dir`).
    pub port: u16,
    /// The management port (`/roots/0`).
    pub management_port: u16,
    /// Where pebble fetches http-01 answers: `http://<name>:<http_port>/`.
    pub http_port: u16,
    dns_port: u16,
    dns_management_port: u16,
    pebble: Option<Child>,
    dns: Child,
    runs: u32,
}

impl Pebble {
    /// Starts pebble-challtestsrv and pebble; `eab` makes external account
    /// binding required (with [`EAB_KID`]).
    pub fn start(eab: bool) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        make_tls(dir.path());
        let (port, management_port, http_port) = (free_port(), free_port(), free_port());
        let (dns_port, dns_management_port) = (free_port(), free_port());
        let eab_keys = if eab {
            format!(r#","externalAccountMACKeys":{{"{EAB_KID}":"{EAB_HMAC}"}}"#)
        } else {
            String::new()
        };
        let d = dir.path().display();
        fs::write(
            dir.path().join("pebble.json"),
            format!(
                r#"{{"pebble":{{"listenAddress":"127.0.0.1:{port}","managementListenAddress":"127.0.0.1:{management_port}",
"certificate":"{d}/tls.pem","privateKey":"{d}/tls.key","httpPort":{http_port},"tlsPort":{tls},
"ocspResponderURL":"","externalAccountBindingRequired":{eab}{eab_keys}}}}}"#,
                tls = free_port(),
            ),
        )
        .unwrap();
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management_port}")])
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (apt-get install pebble)");
        let mut pebble = Pebble {
            dir,
            port,
            management_port,
            http_port,
            dns_port,
            dns_management_port,
            pebble: None,
            dns,
            runs: 0,
        };
        pebble.wait_for(dns_management_port, "pebble-challtestsrv");
        pebble.up();
        pebble
    }

    /// The directory URL (an issuer file's `endpoint`).
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The PEM file of the CA that signed pebble's TLS certificate (an issuer file's `ca_file`).
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("tls-ca.pem")
    }

    /// Starts pebble (again) on the same ports.
    pub fn up(&mut self) {
        assert!(self.pebble.is_none(), "pebble is already up");
        self.runs += 1;
        let child = Command::new("pebble")
            .arg("-config")
            .arg(self.dir.path().join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{}", self.dns_port)])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log_file(
                self.dir.path(),
                &format!("pebble-{}.log", self.runs),
            ))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (apt-get install pebble)");
        self.pebble = Some(child);
        self.wait_for(self.port, "pebble");
        self.wait_for(self.management_port, "pebble's management interface");
    }

    /// Stops pebble (it forgets its accounts and orders); connections are refused.
    pub fn down(&mut self) {
        if let Some(mut child) = self.pebble.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until `port` accepts connections (a hang detector bounds it).
    fn wait_for(&mut self, port: u16, what: &str) {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.pebble.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("pebble exited with {status}:\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what} did not listen on {port}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pebble's output of its current run.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(format!("pebble-{}.log", self.runs)))
            .unwrap_or_default()
    }

    /// The root that issues now, fetched from the management interface and written to a file.
    pub fn root_pem(&self) -> PathBuf {
        let path = self.dir.path().join(format!("root-{}.pem", self.runs));
        let out = self.curl_management(&format!("/roots/0 -o {}", path.display()));
        assert!(out.is_empty() || path.exists(), "{out}");
        assert!(
            fs::read_to_string(&path)
                .unwrap_or_default()
                .contains("BEGIN CERTIFICATE"),
            "no root from pebble"
        );
        path
    }

    /// What the management interface says of the certificate with serial
    /// `serial_hex` (any case, leading zeros allowed): `Status` (`Valid`,
    /// `Revoked`), `Reason`, `RevokedAt`, `Certificate`.
    pub fn cert_status(&self, serial_hex: &str) -> serde_json::Value {
        let serial = serial_hex.trim_start_matches('0').to_ascii_lowercase();
        let text = self.curl_management(&format!("/cert-status-by-serial/{serial}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn curl_management(&self, args: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "curl -sS --fail --cacert {} https://127.0.0.1:{}{args}",
                self.tls_ca().display(),
                self.management_port
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes `host` resolve to `address` instead of 127.0.0.1.
    pub fn resolve(&self, host: &str, address: &str) {
        let body = format!(r#"{{"host":"{host}.","addresses":["{address}"]}}"#);
        let out = Command::new("curl")
            .args(["-sS", "--fail", "-X", "POST", "-d", &body])
            .arg(format!(
                "http://127.0.0.1:{}/add-a",
                self.dns_management_port
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "challtestsrv add-a: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.down();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    fs::File::create(dir.join(name)).unwrap().into()
}

/// A TLS CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn make_tls(dir: &Path) {
    let script = r#"set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls-ca.key \
  -out tls-ca.pem -subj '/CN=certfs test TLS CA' -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr \
  -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in tls.csr -CA tls-ca.pem -CAkey tls-ca.key -CAcreateserial -out tls.pem \
  -days 2 -extfile ext.cnf 2>/dev/null
"#;
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
