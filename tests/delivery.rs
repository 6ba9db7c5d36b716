//! Delivery after a renewal, with real servers: HAProxy takes the new certificate over its runtime API with no reload, a probe sees it served, and a probe of an nginx nobody reloaded fails the delivery and runs `on_failure`.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::nginx::{Nginx, free_port};
use common::smtp::SmtpSink;
use common::{Mount, ec_policy, json_file, sh_ok, wait_until};

/// The serial of the certificate served on `port` for web.example.com.
fn served_serial(dir: &Path, port: u16) -> String {
    sh_ok(
        dir,
        &format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername web.example.com </dev/null 2>/dev/null \
             | openssl x509 -noout -serial"
        ),
    )
    .trim()
    .trim_start_matches("serial=")
    .to_owned()
}

/// HAProxy in the foreground, terminating TLS with `crt`, its admin socket in `dir`.
struct Haproxy {
    child: Child,
    port: u16,
    socket: String,
}

impl Haproxy {
    fn start(dir: &Path, crt: &Path) -> Haproxy {
        let port = free_port();
        let socket = dir.join("admin.sock").display().to_string();
        let conf = format!(
            "global\n  stats socket {socket} mode 600 level admin\n\
             defaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\n\
             frontend web\n  bind 127.0.0.1:{port} ssl crt {crt}\n  \
             http-request return status 200 content-type text/plain string \"served by haproxy\\n\"\n",
            crt = crt.display()
        );
        let cfg = dir.join("haproxy.cfg");
        fs::write(&cfg, conf).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (Debian package haproxy) must be installed");
        wait_until("HAProxy's admin socket", || Path::new(&socket).exists());
        Haproxy {
            child,
            port,
            socket,
        }
    }
}

/// HAProxy's answer to one runtime API command.
fn ask_haproxy(socket: &str, command: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.write_all(command.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The current version's serial, as status.json says it.
fn current_serial(m: &Mount) -> String {
    json_file(&m.path("prod/web/status.json"))["serial_number"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn haproxy_takes_a_renewed_certificate_with_no_reload_and_the_probe_sees_it() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let work = tempfile::tempdir().unwrap();
    // HAProxy reads the bundle straight from the mount.
    let crt = m.path("prod/web/bundle.pem");
    let mut haproxy = Haproxy::start(work.path(), &crt);
    let port = haproxy.port;
    let pid = haproxy.child.id();
    let first = current_serial(&m);
    assert!(first.eq_ignore_ascii_case(&served_serial(work.path(), port)));
    let hooks = serde_json::json!({
        "haproxy": {"socket": haproxy.socket, "crt": crt.display().to_string()},
        "probe": {"connect": format!("127.0.0.1:{port}"), "server_name": "web.example.com", "retry_for_s": 30}
    });
    fs::write(m.path("prod/web/hooks.json"), hooks.to_string()).unwrap();

    // A renewal: a new version becomes current, and the hooks follow.
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let version = json_file(&m.path("prod/web/status.json"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the probe of the new version", || {
        json_file(&m.path("prod/web/status.json"))["probe"]["version"] == version.as_str()
    });
    let status = json_file(&m.path("prod/web/status.json"));
    assert_eq!(status["probe"]["ok"], true, "{status}");
    assert_eq!(status["last_hook"]["outcome"], "succeeded", "{status}");
    assert!(
        status["last_hook"]["message"]
            .as_str()
            .unwrap()
            .contains("HAProxy took the new certificate"),
        "{status}"
    );
    let second = current_serial(&m);
    assert_ne!(first, second);
    assert!(second.eq_ignore_ascii_case(&served_serial(work.path(), port)));
    assert_eq!(
        status["probe"]["served_serial"],
        second.as_str(),
        "{status}"
    );
    // No reload: the same process serves, and says so itself.
    assert_eq!(haproxy.child.try_wait().unwrap(), None);
    assert_eq!(haproxy.child.id(), pid);
    let shown = ask_haproxy(
        &haproxy.socket,
        &format!("show ssl cert {}\n", crt.display()),
    );
    assert!(
        shown
            .to_ascii_uppercase()
            .contains(&second.to_ascii_uppercase()),
        "{shown}"
    );
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("certfs_certificate_served_current{")
                && l.contains("certificate=\"web\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[test]
fn a_probe_of_a_server_nobody_reloaded_fails_the_delivery_and_runs_on_failure() {
    let sink = SmtpSink::start();
    let m = Mount::start_args(&["--smtp", &sink.url()]);
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/contacts.json"),
        r#"{"contacts": [{"email": "ops@example.test"}]}"#,
    )
    .unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&work.path().join("nginx"), &m.path("prod/web"));
    let told = work.path().join("told");
    let hooks = serde_json::json!({
        "probe": {"connect": format!("127.0.0.1:{}", nginx.port), "server_name": "web.example.com", "retry_for_s": 2},
        "on_failure": {"command": ["sh", "-c", format!(
            "printf '%s|%s|%s' \"$CERTFS_VAULT\" \"$CERTFS_CERTIFICATE\" \"$CERTFS_ERROR\" > {}",
            told.display()
        )]}
    });
    fs::write(m.path("prod/web/hooks.json"), hooks.to_string()).unwrap();
    let old = current_serial(&m);
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let version = json_file(&m.path("prod/web/status.json"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the probe of the new version", || {
        json_file(&m.path("prod/web/status.json"))["probe"]["version"] == version.as_str()
    });
    let status = json_file(&m.path("prod/web/status.json"));
    assert_eq!(status["probe"]["ok"], false, "{status}");
    assert_eq!(status["probe"]["served_serial"], old.as_str(), "{status}");
    wait_until("on_failure's output", || told.exists());
    let told = fs::read_to_string(&told).unwrap();
    assert!(told.starts_with("prod|web|"), "{told}");
    assert!(told.contains("serves another certificate"), "{told}");
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("certfs_certificate_served_current{")
                && l.contains("certificate=\"web\"")
                && l.ends_with(" 0")),
        "{metrics}"
    );
    // nginx with `daemon off;` opened the key itself and still holds the
    // old one: a stale consumer.
    let consumers = status["consumers"].as_array().unwrap();
    assert!(
        consumers
            .iter()
            .any(|c| c["command"] == "nginx" && c["current"] == false),
        "{status}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("certfs_certificate_stale_consumers{")
                && l.contains("certificate=\"web\"")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
    // The contacts hear of it too.
    let mails = sink.wait_for(1);
    let subject = mails[0].header("Subject").unwrap_or_default();
    assert!(subject.contains("is not being served"), "{subject}");
    assert!(
        mails[0].body().contains("serves another certificate"),
        "{}",
        mails[0].body()
    );
}

/// nginx in its default mode: the process started reads the key, forks
/// the master and exits.
struct DaemonNginx {
    prefix: std::path::PathBuf,
    port: u16,
}

impl DaemonNginx {
    fn start(prefix: &Path, cert_dir: &Path) -> DaemonNginx {
        let port = free_port();
        for d in ["logs", "tmp"] {
            fs::create_dir_all(prefix.join(d)).unwrap();
        }
        let (p, c) = (prefix.display(), cert_dir.display());
        let conf = format!(
            "worker_processes 1;\nerror_log {p}/logs/error.log notice;\npid {p}/logs/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log off;\n client_body_temp_path {p}/tmp/body;\n proxy_temp_path {p}/tmp/proxy;\n\
             fastcgi_temp_path {p}/tmp/fastcgi;\n uwsgi_temp_path {p}/tmp/uwsgi;\n scgi_temp_path {p}/tmp/scgi;\n\
             server {{\n  listen 127.0.0.1:{port} ssl;\n  server_name web.example.com;\n\
             ssl_certificate {c}/fullchain.pem;\n  ssl_certificate_key {c}/privkey.pem;\n\
             location / {{ return 200 \"served by nginx\\n\"; }}\n }}\n}}\n"
        );
        fs::write(prefix.join("nginx.conf"), conf).unwrap();
        let started = Command::new(common::nginx::NGINX)
            .arg("-p")
            .arg(format!("{p}/"))
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "nginx: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        let nginx = DaemonNginx {
            prefix: prefix.to_path_buf(),
            port,
        };
        wait_until("nginx's master", || nginx.master().is_some());
        nginx
    }

    fn master(&self) -> Option<u32> {
        fs::read_to_string(self.prefix.join("logs/nginx.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for DaemonNginx {
    fn drop(&mut self) {
        if let Some(master) = self.master() {
            common::signal(master, libc::SIGTERM);
        }
    }
}

#[test]
fn a_daemonized_nginx_is_a_consumer_and_signal_consumers_reloads_it_onto_the_new_key() {
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let nginx = DaemonNginx::start(&work.path().join("nginx"), &m.path("prod/web"));
    let master = nginx.master().unwrap();
    // The process that opened the key exits once the master runs; then
    // its master is the consumer.
    wait_until("the master as the only consumer", || {
        let status = json_file(&m.path("prod/web/status.json"));
        status["consumers"]
            .as_array()
            .is_some_and(|c| c.len() == 1 && c[0]["pid"] == master)
    });
    let status = json_file(&m.path("prod/web/status.json"));
    let consumers = status["consumers"].as_array().unwrap();
    assert_eq!(consumers[0]["command"], "nginx", "{status}");
    assert_eq!(consumers[0]["current"], true, "{status}");

    fs::write(
        m.path("prod/web/hooks.json"),
        r#"{"signal_consumers": "HUP"}"#,
    )
    .unwrap();
    let first = current_serial(&m);
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let second = current_serial(&m);
    assert_ne!(first, second);
    wait_until("nginx serving the new certificate", || {
        second.eq_ignore_ascii_case(&served_serial(work.path(), nginx.port))
    });
    let status = json_file(&m.path("prod/web/status.json"));
    assert!(
        status["last_hook"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("SIGHUP sent to process {master}")),
        "{status}"
    );
    // The master read the new key on its reload: current again.
    wait_until("the master as a current consumer", || {
        let status = json_file(&m.path("prod/web/status.json"));
        status["consumers"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["pid"] == master && c["current"] == true))
    });
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("certfs_certificate_stale_consumers{")
                && l.contains("certificate=\"web\"")
                && l.ends_with(" 0")),
        "{metrics}"
    );
}
