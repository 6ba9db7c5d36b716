//! pebble validating dns-01 for real: Debian's `pebble` with `-dnsserver` pointing at a [`Bind`](super::bind::Bind), so pebble itself looks the TXT records up in BIND.
//!
//! Like `pebble.rs` (a TLS CA and server certificate from openssl, EAB
//! required with pebble's example key, `PEBBLE_WFE_NONCEREJECT=0`,
//! `PEBBLE_AUTHZREUSE=0`), but pebble's validation authority resolves
//! through BIND. `hold` makes pebble sleep a random time of up to a day
//! before each validation (`PEBBLE_VA_SLEEPTIME`), which keeps an order
//! pending with its records published; otherwise it validates at once.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key id pebble's example configuration uses for EAB.
pub const EAB_KID: &str = "kid-1";
/// The HMAC key of [`EAB_KID`], base64url.
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// A pebble resolving through a DNS server, stopped on drop.
pub struct PebbleOnDns {
    dir: tempfile::TempDir,
    /// The ACME port (directory at `https://127.0.0.1:<port>/dir`).
    pub port: u16,
    management_port: u16,
    child: Child,
}

impl PebbleOnDns {
    /// Starts pebble resolving through `dns` (`127.0.0.1:<port>`).
    pub fn start(dns: &str, hold: bool) -> PebbleOnDns {
        let dir = tempfile::tempdir().unwrap();
        make_tls(dir.path());
        let (port, management_port) = (free_port(), free_port());
        let d = dir.path().display();
        fs::write(
            dir.path().join("pebble.json"),
            format!(
                r#"{{"pebble":{{"listenAddress":"127.0.0.1:{port}","managementListenAddress":"127.0.0.1:{management_port}",
"certificate":"{d}/tls.pem","privateKey":"{d}/tls.key","httpPort":{http},"tlsPort":{tls},
"ocspResponderURL":"","externalAccountBindingRequired":true,"externalAccountMACKeys":{{"{EAB_KID}":"{EAB_HMAC}"}}}}}}"#,
                http = free_port(),
                tls = free_port(),
            ),
        )
        .unwrap();
        let mut command = Command::new("pebble");
        command
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .args(["-dnsserver", dns])
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0");
        if hold {
            command.env("PEBBLE_VA_SLEEPTIME", "86400");
        } else {
            command.env("PEBBLE_VA_NOSLEEP", "1");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("pebble.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (apt-get install pebble)");
        let mut pebble = PebbleOnDns {
            dir,
            port,
            management_port,
            child,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = pebble.child.try_wait().unwrap() {
                panic!("pebble exited with {status}:\n{}", pebble.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "pebble did not listen:\n{}",
                pebble.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pebble
    }

    /// The directory URL (an issuer file's `endpoint`).
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The PEM file of the CA of pebble's TLS certificate (`ca_file`).
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("tls-ca.pem")
    }

    /// pebble's output.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// The root that issues now, written to a file.
    pub fn root_pem(&self) -> PathBuf {
        let path = self.dir.path().join("root.pem");
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(self.tls_ca())
            .arg(format!(
                "https://127.0.0.1:{}/roots/0",
                self.management_port
            ))
            .arg("-o")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "curl: {out:?}");
        path
    }
}

impl Drop for PebbleOnDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TLS CA and a leaf for 127.0.0.1 signed by it (rustls refuses a CA as a server certificate).
fn make_tls(dir: &std::path::Path) {
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
    assert!(out.status.success(), "openssl: {out:?}");
}
