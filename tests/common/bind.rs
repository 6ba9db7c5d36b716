//! A real authoritative DNS server for tests: Debian's BIND 9 (`named`) on a free port of 127.0.0.1, with a TSIG key and zones that take RFC 2136 updates signed by it.
//!
//! Zones, all on the same server. named answers a query that asks for
//! recursion (as pebble's resolver does) with the CNAME and the target's
//! records from its other zone; without recursion BIND 9.18 stops at the
//! CNAME, so recursion is on, for 127.0.0.1 only (nothing is reachable
//! beyond it anyway):
//!
//! - `example.test`: updates by the key; `_acme-challenge.app.example.test`
//!   is a CNAME to `app.acme-delegated.test`.
//! - `acme-delegated.test`: updates by the key (the zone kept for
//!   challenges).
//! - `locked.test`: no updates at all; `_acme-challenge.locked.test` is a
//!   CNAME to `locked.acme-delegated.test`, so a record for `locked.test`
//!   can only be written by following the CNAME.
//!
//! The directory is made readable by user `bind` (named drops to it), and
//! `named` runs in the foreground (`-g`), logging to a file. A missing
//! `named` fails the test (apt-get install bind9 bind9-dnsutils).

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The TSIG key's name as the issuer file and named.conf spell it.
pub const KEY_NAME: &str = "certfs-acme.";

/// A running `named`, stopped on drop.
pub struct Bind {
    dir: tempfile::TempDir,
    /// The port named answers on (UDP and TCP) on 127.0.0.1.
    pub port: u16,
    /// The TSIG key, base64, as `tsig-keygen` made it.
    pub secret: String,
    child: Option<Child>,
    runs: u32,
}

impl Bind {
    /// Makes a key, writes the configuration and zones, and starts named.
    pub fn start() -> Bind {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let secret = keygen();
        let port = free_port_udp_tcp();
        let d = dir.path().display();
        let zone = |name: &str, updates: bool| {
            let allow = if updates {
                format!("allow-update {{ key \"{KEY_NAME}\"; }};")
            } else {
                "allow-update { none; };".to_owned()
            };
            format!("zone \"{name}\" {{ type primary; file \"{d}/{name}.zone\"; {allow} }};\n")
        };
        let conf = format!(
            r#"key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};
options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-recursion {{ 127.0.0.1; }};
  dnssec-validation no;
  notify no;
  allow-query {{ any; }};
}};
controls {{ }};
{}{}{}"#,
            zone("example.test", true),
            zone("acme-delegated.test", true),
            zone("locked.test", false),
        );
        fs::write(dir.path().join("named.conf"), conf).unwrap();
        write_zone(
            dir.path(),
            "example.test",
            "_acme-challenge.app IN CNAME app.acme-delegated.test.\n",
        );
        write_zone(dir.path(), "acme-delegated.test", "");
        write_zone(
            dir.path(),
            "locked.test",
            "_acme-challenge IN CNAME locked.acme-delegated.test.\n",
        );
        let out = Command::new("chown")
            .args(["-R", "bind:bind"])
            .arg(dir.path())
            .output()
            .expect("chown");
        assert!(out.status.success(), "chown: {out:?}");
        let mut bind = Bind {
            dir,
            port,
            secret,
            child: None,
            runs: 0,
        };
        bind.up();
        bind
    }

    /// `127.0.0.1:<port>` (the issuer file's `rfc2136.server`, pebble's `-dnsserver`).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts named (again) on the same port.
    pub fn up(&mut self) {
        assert!(self.child.is_none(), "named is already up");
        self.runs += 1;
        let log =
            fs::File::create(self.dir.path().join(format!("named-{}.log", self.runs))).unwrap();
        let child = Command::new("named")
            .args(["-g", "-u", "bind", "-c"])
            .arg(self.dir.path().join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("named (apt-get install bind9 bind9-dnsutils)");
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("named exited with {status}:\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "named did not answer on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops named; queries and updates get no answer.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether named answers the SOA of example.test over TCP.
    fn answers(&self) -> bool {
        let out = self.dig(&["+tcp", "example.test", "SOA"]);
        out.contains("ns.example.test")
    }

    fn dig(&self, args: &[&str]) -> String {
        let out = Command::new("dig")
            .args(["@127.0.0.1", "-p", &self.port.to_string(), "+short"])
            .args(["+norecurse", "+time=2", "+tries=1"])
            .args(args)
            .output()
            .expect("dig (apt-get install bind9-dnsutils)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The TXT values named answers at `name`, by `dig +short` (quotes removed).
    pub fn txt_values(&self, name: &str) -> Vec<String> {
        self.dig(&["+tcp", name, "TXT"])
            .lines()
            .filter(|l| l.starts_with('"'))
            .map(|l| l.trim_matches('"').to_owned())
            .collect()
    }

    /// named's output of its current run.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(format!("named-{}.log", self.runs)))
            .unwrap_or_default()
    }

    /// The configuration directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.down();
    }
}

/// A zone file with an SOA, an NS and `extra` records.
fn write_zone(dir: &Path, name: &str, extra: &str) {
    let text = format!(
        "$ORIGIN {name}.\n$TTL 60\n@ IN SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 60\n@ IN NS ns.{name}.\nns IN A 127.0.0.1\n{extra}"
    );
    fs::write(dir.join(format!("{name}.zone")), text).unwrap();
}

/// A fresh hmac-sha256 key from `tsig-keygen`, base64.
fn keygen() -> String {
    let out = Command::new("tsig-keygen")
        .args(["-a", "hmac-sha256", KEY_NAME])
        .output()
        .expect("tsig-keygen (apt-get install bind9)");
    assert!(out.status.success(), "tsig-keygen: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("secret \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a secret in tsig-keygen's output")
        .to_owned()
}

/// A port free on 127.0.0.1 for both TCP and UDP (bound, then released).
fn free_port_udp_tcp() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
