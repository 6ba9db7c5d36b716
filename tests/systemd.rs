//! certfs under systemd: `Type=notify` readiness (`READY=1` only once the mount is there, `STOPPING=1` on SIGTERM or umount), through a `NOTIFY_SOCKET` the test binds.

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{certfs_bin, is_mounted, signal, wait_timeout};

/// A `certfs mount` started as systemd starts a `Type=notify` service:
/// `NOTIFY_SOCKET` names a datagram socket this test reads.
struct Service {
    dir: tempfile::TempDir,
    socket: UnixDatagram,
    child: Child,
}

impl Service {
    fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        // A guard against a hung test, not a timing check: nothing in
        // these tests depends on how long a message takes.
        socket
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        fs::create_dir(dir.path().join("mnt")).unwrap();
        let log = fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(certfs_bin())
            .arg("mount")
            .arg(dir.path().join("mnt"))
            .arg("--data")
            .arg(dir.path().join("data"))
            .env("NOTIFY_SOCKET", &path)
            .env_remove("CERTFS_STORE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Service { dir, socket, child }
    }

    fn mnt(&self) -> std::path::PathBuf {
        self.dir.path().join("mnt")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// The next message certfs sent to the socket.
    fn message(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no message from certfs ({e}); log:\n{}", self.log()));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Waits for the daemon's exit; its status code.
    fn exit_code(&mut self) -> Option<i32> {
        let status = wait_timeout(&mut self.child, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("certfs did not exit; log:\n{}", self.log()));
        status.code()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(self.mnt())
            .stderr(Stdio::null())
            .status();
    }
}

/// The first message is READY=1, and by then the mount is in place and
/// serves (a unit ordered after certfs.service may use it at once).
fn ready(service: &Service) {
    let first = service.message();
    assert!(
        first.lines().any(|l| l == "READY=1"),
        "the first message is READY=1: {first:?}"
    );
    assert!(
        is_mounted(&service.mnt()),
        "mounted when READY=1 arrives; log:\n{}",
        service.log()
    );
    assert!(first.contains("STATUS=serving "), "{first:?}");
    fs::create_dir(service.mnt().join("prod")).unwrap();
    assert!(service.mnt().join("prod").is_dir());
}

#[test]
fn ready_once_mounted_and_stopping_on_sigterm_which_unmounts() {
    let mut service = Service::start();
    ready(&service);

    signal(service.child.id(), libc::SIGTERM);
    let next = service.message();
    assert!(
        next.lines().any(|l| l == "STOPPING=1"),
        "STOPPING=1 after SIGTERM: {next:?}"
    );
    assert_eq!(service.exit_code(), Some(0), "{}", service.log());
    assert!(!is_mounted(&service.mnt()), "unmounted: {}", service.log());
}

#[test]
fn an_external_umount_also_says_stopping() {
    let mut service = Service::start();
    ready(&service);

    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(service.mnt())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let next = service.message();
    assert_eq!(next.trim(), "STOPPING=1");
    assert_eq!(service.exit_code(), Some(0), "{}", service.log());
}
