//! Delivery after a renewal, with real servers: HAProxy takes the new certificate over its runtime API with no reload, a probe sees it served, and a probe of an nginx nobody reloaded fails the delivery and runs `on_failure`.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::nginx::{Nginx, free_port};
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
    let m = Mount::start();
    fs::create_dir_all(m.path("prod/web")).unwrap();
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
}
