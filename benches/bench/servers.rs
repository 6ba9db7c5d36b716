//! Figure 7, what users feel: HAProxy loading certificates from a crt-list and nginx reloading with many `server` blocks, reading the same files from each source (the mount, tmpfs).
//!
//! Each source is a directory holding `c<i>/bundle.pem`, `c<i>/fullchain.pem`
//! and `c<i>/privkey.pem`; tmpfs is the baseline, and every other source
//! (the mount, the serving copy) gets a line against it.
#![allow(unsafe_code)] // kill(2), with its SAFETY comment

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load;
use crate::mounts::Scratch;
use crate::report::{Goal, Line, median, ms};

/// A server figure: (scratch, sources, baseline, certificates, runs) → lines.
pub type Figure = fn(&Scratch, &[Source], &Source, usize, usize) -> Vec<Line>;

/// Where a server reads certificate `c<i>`'s files from.
pub struct Source {
    /// How the report names it ("the mount").
    pub label: &'static str,
    /// The directory holding `c<i>/`.
    pub dir: PathBuf,
    /// The most it may take, as a multiple of the baseline.
    pub goal: f64,
}

/// Copies `c<i>/{bundle,fullchain,privkey}.pem` of `count` certificates from `from` to `to`.
pub fn copy_certificates(from: &Path, to: &Path, count: usize) {
    for i in 0..count {
        let (src, dst) = (from.join(format!("c{i}")), to.join(format!("c{i}")));
        fs::create_dir_all(&dst).expect("mkdir copy");
        for f in ["bundle.pem", "fullchain.pem", "privkey.pem"] {
            fs::copy(src.join(f), dst.join(f))
                .unwrap_or_else(|e| panic!("copy {}: {e}", src.join(f).display()));
        }
    }
}

/// Whether `program` runs here.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `haproxy -c` with a crt-list of `count` `bundle.pem` from each source,
/// median of `runs`, each source against `baseline`.
pub fn haproxy(
    work: &Scratch,
    sources: &[Source],
    baseline: &Source,
    count: usize,
    runs: usize,
) -> Vec<Line> {
    let time = |source: &Source| {
        let dir = work.path(&format!("haproxy-{}", source.label.replace(' ', "-")));
        fs::create_dir_all(&dir).expect("haproxy dir");
        let list: String = (0..count)
            .map(|i| {
                format!(
                    "{}\n",
                    source.dir.join(format!("c{i}/bundle.pem")).display()
                )
            })
            .collect();
        fs::write(dir.join("crt-list"), list).expect("crt-list");
        let config = format!(
            "global\n  maxconn 64\ndefaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  \
             timeout connect 1s\nfrontend tls\n  bind 127.0.0.1:8443 ssl crt-list {}\n  \
             default_backend none\nbackend none\n",
            dir.join("crt-list").display()
        );
        fs::write(dir.join("haproxy.cfg"), config).expect("haproxy.cfg");
        let cfg = dir.join("haproxy.cfg");
        let args = [
            std::ffi::OsStr::new("-c"),
            std::ffi::OsStr::new("-q"),
            std::ffi::OsStr::new("-f"),
            cfg.as_os_str(),
        ];
        load::timed_command("haproxy", &args);
        let mut runs: Vec<f64> = (0..runs)
            .map(|_| ms(load::timed_command("haproxy", &args)))
            .collect();
        median(&mut runs)
    };
    let what = format!("haproxy -c, crt-list of {count}");
    let note = format!(
        "median of {runs}; HAProxy also looks for .sctl, .ocsp and .issuer beside each; \
         baseline: {}",
        baseline.label
    );
    against(sources, baseline, time, &what, &note)
}

/// One line per source: `time` of it against `time` of `baseline`.
fn against(
    sources: &[Source],
    baseline: &Source,
    time: impl Fn(&Source) -> f64,
    what: &str,
    note: &str,
) -> Vec<Line> {
    let base = time(baseline);
    sources
        .iter()
        .map(|s| Line {
            name: format!("7  {what}, from {}", s.label),
            certfs: time(s),
            baseline: Some(base),
            unit: "ms",
            goal: Goal::RatioAtMost(s.goal),
            note: note.to_owned(),
        })
        .collect()
}

/// An nginx master with `count` TLS `server` blocks reading from `source`.
struct Nginx {
    prefix: PathBuf,
    child: Child,
}

impl Nginx {
    fn start(prefix: &Path, source: &Source, count: usize) -> Nginx {
        for d in ["logs", "tmp"] {
            fs::create_dir_all(prefix.join(d)).expect("nginx dirs");
        }
        let p = prefix.display();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let servers: String = (0..count)
            .map(|i| {
                let c = source.dir.join(format!("c{i}"));
                format!(
                    "    server {{ listen 127.0.0.1:{port} ssl; server_name c{i}.bench.example; \
                     ssl_certificate {0}/fullchain.pem; ssl_certificate_key {0}/privkey.pem; \
                     return 200; }}\n",
                    c.display()
                )
            })
            .collect();
        let conf = format!(
            "worker_processes 1;\nerror_log {p}/logs/error.log notice;\npid {p}/logs/nginx.pid;\n\
             events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n    \
             server_names_hash_bucket_size 128;\n    client_body_temp_path {p}/tmp/body;\n    \
             proxy_temp_path {p}/tmp/proxy;\n    fastcgi_temp_path {p}/tmp/fastcgi;\n    \
             uwsgi_temp_path {p}/tmp/uwsgi;\n    scgi_temp_path {p}/tmp/scgi;\n{servers}}}\n"
        );
        fs::write(prefix.join("nginx.conf"), conf).expect("nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(format!("{p}/"))
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let nginx = Nginx {
            prefix: prefix.to_path_buf(),
            child,
        };
        nginx.wait_for_workers(1);
        nginx
    }

    fn started_workers(&self) -> usize {
        fs::read_to_string(self.prefix.join("logs/error.log"))
            .unwrap_or_default()
            .lines()
            // "start worker process <pid>", not "start worker processes".
            .filter(|l| l.contains("start worker process "))
            .count()
    }

    fn wait_for_workers(&self, at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.started_workers() < at_least {
            assert!(
                Instant::now() < deadline,
                "nginx did not start its workers:\n{}",
                fs::read_to_string(self.prefix.join("logs/error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// SIGHUP, until the new worker started: reading the configuration
    /// and every certificate and key again.
    fn reload(&self) -> Duration {
        let before = self.started_workers();
        let t = Instant::now();
        // SAFETY: kill(2) on the pid of a child we spawned; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGHUP);
        }
        self.wait_for_workers(before + 1);
        t.elapsed()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child we spawned; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// nginx with `count` `server` blocks reloading (SIGHUP until its new
/// worker runs), median of `runs`, each source against `baseline`.
pub fn nginx(
    work: &Scratch,
    sources: &[Source],
    baseline: &Source,
    count: usize,
    runs: usize,
) -> Vec<Line> {
    let time = |source: &Source| {
        let prefix = work.path(&format!("nginx-{}", source.label.replace(' ', "-")));
        let nginx = Nginx::start(&prefix, source, count);
        nginx.reload();
        let mut took: Vec<f64> = (0..runs).map(|_| ms(nginx.reload())).collect();
        median(&mut took)
    };
    let what = format!("nginx reload, {count} server blocks");
    let note = format!(
        "median of {runs}; SIGHUP until the new worker runs; baseline: {}",
        baseline.label
    );
    against(sources, baseline, time, &what, &note)
}
