//! nginx for tests: a master in the foreground with its own prefix, serving TLS from certificate files in the mount.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{sh_ok, wait_timeout};

/// nginx, found on PATH or in the sbin directories; when it is missing,
/// reported through [`super::require::missing`] (a failure in strict mode).
pub fn require_nginx() -> Option<PathBuf> {
    super::require::require_tool("nginx", "the test serves TLS through it")
}

/// The nginx binary (the test checked [`require_nginx`] first).
pub fn nginx_bin() -> PathBuf {
    super::require::find_tool("nginx").expect("nginx (scripts/test.sh installs nginx-light)")
}

/// An nginx master in the foreground with its own prefix, config, pid and logs; stopped on drop.
pub struct Nginx {
    prefix: PathBuf,
    child: Child,
    /// The TLS port on 127.0.0.1.
    pub port: u16,
}

/// A TCP port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    /// Starts nginx serving `cert_dir/fullchain.pem` and `privkey.pem` on a free port.
    pub fn start(prefix: &Path, cert_dir: &Path) -> Nginx {
        Self::start_with(prefix, cert_dir, "")
    }

    /// [`Nginx::start`] with more directives in the server block
    /// (`ssl_verify_client on; ...` for mutual TLS).
    pub fn start_with(prefix: &Path, cert_dir: &Path, server_directives: &str) -> Nginx {
        let port = free_port();
        for d in ["logs", "tmp"] {
            fs::create_dir_all(prefix.join(d)).unwrap();
        }
        let p = prefix.display();
        let c = cert_dir.display();
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
        listen 127.0.0.1:{port} ssl;
        server_name web.example.com;
        ssl_certificate {c}/fullchain.pem;
        ssl_certificate_key {c}/privkey.pem;
        {server_directives}
        location / {{ return 200 "served by nginx from certfs\n"; }}
    }}
}}
"#
        );
        fs::write(prefix.join("nginx.conf"), conf).unwrap();
        let check = Command::new(nginx_bin())
            .args(Self::args(prefix))
            .arg("-t")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(nginx_bin())
            .args(Self::args(prefix))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Nginx {
            prefix: prefix.to_path_buf(),
            child,
            port,
        };
        // Ready when the port accepts connections.
        for _ in 0..400 {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", nginx.error_log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not listen:\n{}", nginx.error_log());
    }

    fn args(prefix: &Path) -> Vec<String> {
        vec![
            "-p".into(),
            format!("{}/", prefix.display()),
            "-c".into(),
            prefix.join("nginx.conf").display().to_string(),
        ]
    }

    /// nginx's error log.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.prefix.join("logs/error.log")).unwrap_or_default()
    }

    /// `nginx -s reload`; returns once the master has read the new configuration,
    /// every worker it had before has exited and a new one runs, so every new
    /// connection reaches a worker holding the files as they are now.
    pub fn reload(&self) {
        let old = self.workers();
        let before = self.error_log().matches("reconfiguring").count();
        let out = Command::new(nginx_bin())
            .args(Self::args(&self.prefix))
            .args(["-s", "reload"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nginx -s reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..400 {
            // Counting workers is not enough: just after "reconfiguring" the old
            // worker is still the only one, and it accepts connections until
            // told to quit. Wait for the old ones by pid.
            let now = self.workers();
            if self.error_log().matches("reconfiguring").count() > before
                && !now.is_empty()
                && now.iter().all(|pid| !old.contains(pid))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not reload:\n{}", self.error_log());
    }

    /// The pids of the master's worker processes (old ones linger while shutting down).
    fn workers(&self) -> Vec<u32> {
        let out = Command::new("ps")
            .args(["--ppid", &self.child.id().to_string(), "-o", "pid="])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new(nginx_bin())
            .args(Self::args(&self.prefix))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        if wait_timeout(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// curl trusting only `ca` (a file), with web.example.com resolved to 127.0.0.1.
pub fn curl_trusting(dir: &Path, port: u16, ca: &Path) -> String {
    sh_ok(
        dir,
        &format!(
            "curl -sS --fail --max-time 20 --cacert {} \
             --resolve web.example.com:{port}:127.0.0.1 https://web.example.com:{port}/",
            ca.display()
        ),
    )
}
