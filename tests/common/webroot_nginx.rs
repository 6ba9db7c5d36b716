//! A real nginx serving a webroot over plain HTTP on 127.0.0.1, the way a site serves `/.well-known/acme-challenge/` for certbot `--webroot`; optionally a TLS site with a certificate from the mount.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx on PATH or in the sbin directories (a non-root PATH often lacks
/// them); this module stands alone, so it looks itself.
fn nginx_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .expect("nginx on PATH (scripts/test.sh installs nginx-light)")
}

/// An nginx master in the foreground with its own prefix; stopped on drop.
pub struct WebrootNginx {
    prefix: tempfile::TempDir,
    child: Child,
    /// The webroot nginx serves at `/`.
    pub webroot: PathBuf,
    /// The HTTP port.
    pub port: u16,
    /// The HTTPS port, when a TLS site was asked for.
    pub tls_port: Option<u16>,
}

impl WebrootNginx {
    /// nginx serving `webroot` on `127.0.0.1:port`; with `tls` = (certificate
    /// dir holding fullchain.pem and privkey.pem, port), also a TLS site.
    pub fn start(webroot: &Path, port: u16, tls: Option<(&Path, u16)>) -> WebrootNginx {
        let prefix = tempfile::tempdir().unwrap();
        for d in ["logs", "tmp"] {
            fs::create_dir_all(prefix.path().join(d)).unwrap();
        }
        let p = prefix.path().display();
        let w = webroot.display();
        let tls_site = match tls {
            Some((dir, tls_port)) => format!(
                r#"    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {d}/fullchain.pem;
        ssl_certificate_key {d}/privkey.pem;
        location / {{ return 200 "served by nginx with an ACME certificate from certfs\n"; }}
    }}
"#,
                d = dir.display()
            ),
            None => String::new(),
        };
        let conf = format!(
            r#"worker_processes 1;
error_log {p}/logs/error.log notice;
pid {p}/logs/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {p}/logs/access.log;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {w};
        location / {{ try_files $uri =404; }}
    }}
{tls_site}}}
"#
        );
        let conf_path = prefix.path().join("nginx.conf");
        fs::write(&conf_path, conf).unwrap();
        fs::create_dir_all(webroot).unwrap();
        let child = Command::new(nginx_bin())
            .args(["-p", &format!("{p}/"), "-c"])
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let mut nginx = WebrootNginx {
            prefix,
            child,
            webroot: webroot.to_path_buf(),
            port,
            tls_port: tls.map(|t| t.1),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", nginx.error_log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nginx did not listen:\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// nginx's error log.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.prefix.path().join("logs/error.log")).unwrap_or_default()
    }

    /// nginx's access log: one line per request served.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.prefix.path().join("logs/access.log")).unwrap_or_default()
    }
}

impl Drop for WebrootNginx {
    fn drop(&mut self) {
        // TERM: the master stops its worker too (KILL would orphan it).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
    }
}
