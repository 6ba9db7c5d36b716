//! The `certfs` command line: help, refusals with one clear line and exit 1, clean unmount on signals and on an external `umount`, and the default store location.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::require::{missing, require_root, require_tool};
use common::{
    Mount, certfs_bin, ec_policy, is_mounted, sh_ok, signal, wait_timeout, wait_until_with,
};

/// Runs certfs with `args` and the default log level; it must finish within 20 s.
fn certfs(args: &[&std::ffi::OsStr]) -> Output {
    let mut child = Command::new(certfs_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn certfs");
    if wait_timeout(&mut child, Duration::from_secs(20)).is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "certfs {args:?} did not finish (it probably mounted):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.wait_with_output().unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Asserts certfs refused with exit 1 and exactly one line on stderr; returns that line.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1, got {}; stderr:\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr:\n{stderr}");
    assert!(
        lines[0].starts_with("certfs: "),
        "the line names the program: {stderr}"
    );
    lines[0].to_owned()
}

#[test]
fn help_explains_the_program_and_the_mount_command() {
    let top = certfs(&[os("--help")]);
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("mount"), "{text}");
    assert!(text.contains("Key Vault"), "{text}");
    assert!(text.contains("RUST_LOG"), "{text}");

    let mount = certfs(&[os("mount"), os("--help")]);
    assert!(mount.status.success());
    let text = String::from_utf8_lossy(&mount.stdout);
    for needle in [
        "MOUNTPOINT",
        "--data",
        "--allow-other",
        "SIGTERM",
        "unmount",
        "/var/lib/certfs",
        "XDG_DATA_HOME",
    ] {
        assert!(
            text.contains(needle),
            "mount --help lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn no_mountpoint_argument_is_a_usage_error_naming_it() {
    let out = certfs(&[os("mount")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MOUNTPOINT"), "{stderr}");
}

#[test]
fn a_missing_mountpoint_is_refused_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("nowhere");
    let out = certfs(&[
        os("mount"),
        mnt.as_os_str(),
        os("--data"),
        dir.path().join("data").as_os_str(),
    ]);
    let line = refused(&out);
    assert!(line.contains(&*mnt.to_string_lossy()), "{line}");
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn a_file_as_mountpoint_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    fs::write(&file, "x").unwrap();
    let out = certfs(&[
        os("mount"),
        file.as_os_str(),
        os("--data"),
        dir.path().join("data").as_os_str(),
    ]);
    let line = refused(&out);
    assert!(line.contains(&*file.to_string_lossy()), "{line}");
    assert!(line.contains("not a directory"), "{line}");
    assert_eq!(fs::read(&file).unwrap(), b"x");
    assert!(
        !dir.path().join("data").exists(),
        "a refused mount makes no store"
    );
}

#[test]
fn a_busy_mountpoint_is_refused_and_the_first_mount_keeps_working() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/one")).unwrap();
    fs::write(m.path("prod/one/policy.json"), ec_policy("one.example.com")).unwrap();
    let before = fs::read(m.path("prod/one/cert.pem")).unwrap();

    // Another store, and the same store: both refused before anything is opened.
    let other = m.root.path().join("other-data");
    for data in [other.as_path(), m.data.as_path()] {
        let out = certfs(&[
            os("mount"),
            m.mnt.as_os_str(),
            os("--data"),
            data.as_os_str(),
        ]);
        let line = refused(&out);
        assert!(line.contains("busy"), "{line}");
        assert!(line.contains(&*m.mnt.to_string_lossy()), "{line}");
    }
    assert!(!other.exists(), "a refused mount makes no store");

    // The first mount still serves and still acts.
    assert_eq!(fs::read(m.path("prod/one/cert.pem")).unwrap(), before);
    fs::create_dir(m.path("prod/two")).unwrap();
    fs::write(m.path("prod/two/policy.json"), ec_policy("two.example.com")).unwrap();
    sh_ok(
        &m.mnt,
        "openssl x509 -in prod/two/cert.pem -noout -subject | grep -q two.example.com",
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let target = format!(" {} ", m.mnt.display());
    assert_eq!(
        mounts.lines().filter(|l| l.contains(&target)).count(),
        1,
        "exactly one mount at the mountpoint"
    );
}

#[test]
fn a_regular_file_as_store_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let data = dir.path().join("data");
    fs::write(&data, "not a directory").unwrap();
    let out = certfs(&[os("mount"), mnt.as_os_str(), os("--data"), data.as_os_str()]);
    let line = refused(&out);
    assert!(line.contains(&*data.to_string_lossy()), "{line}");
    assert!(
        line.contains("not a directory"),
        "the reason says what is wrong: {line}"
    );
    assert_eq!(fs::read(&data).unwrap(), b"not a directory");
    assert!(!is_mounted(&mnt));
}

#[test]
fn a_garbage_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    let db = data.join("certfs.db");
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(&db, &garbage).unwrap();
    let out = certfs(&[os("mount"), mnt.as_os_str(), os("--data"), data.as_os_str()]);
    let line = refused(&out);
    assert!(line.contains(&*db.to_string_lossy()), "{line}");
    assert!(line.contains("not a database"), "{line}");
    assert_eq!(fs::read(&db).unwrap(), garbage, "the file is untouched");
    let mut left: Vec<String> = fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["certfs.db"], "no journal or WAL files are left");
    assert!(!is_mounted(&mnt));
}

#[test]
fn sigterm_unmounts_cleanly_with_exit_0_and_keeps_everything() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    let cert = fs::read(m.path("prod/web/cert.pem")).unwrap();
    let status = m.stop();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(!is_mounted(&m.mnt));
    assert!(m.logs().contains("unmounted"), "{}", m.logs());
    m.remount();
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), cert);
}

#[test]
fn sigint_unmounts_cleanly_with_exit_0() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    signal(m.pid(), libc::SIGINT);
    let status = m
        .wait_exit(Duration::from_secs(20))
        .expect("certfs exits after SIGINT");
    assert!(status.success(), "exit status after SIGINT: {status}");
    assert!(!is_mounted(&m.mnt));
    m.remount();
    assert!(m.path("prod").is_dir(), "the vault survived");
}

fn external_unmount_ends_the_daemon(program: &str, args: &[&str]) {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let out = Command::new(program)
        .args(args)
        .arg(&m.mnt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = m
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("certfs keeps running after {program}:\n{}", m.logs()));
    assert!(status.success(), "exit status after {program}: {status}");
    assert!(!is_mounted(&m.mnt));
    assert!(!m.logs().contains(" ERROR "), "{}", m.logs());
    m.remount();
    assert!(m.path("prod").is_dir(), "the vault survived");
}

#[test]
fn an_external_umount_ends_the_daemon_with_exit_0() {
    external_unmount_ends_the_daemon("umount", &[]);
}

#[test]
fn fusermount3_u_ends_the_daemon_with_exit_0() {
    if require_tool("fusermount3", "the test unmounts with it").is_none() {
        return;
    }
    external_unmount_ends_the_daemon("fusermount3", &["-u"]);
}

/// A process that keeps its working directory inside the mount (a shell
/// left `cd`'d there when the service stops); killed on drop.
struct Inside(std::process::Child);

impl Inside {
    fn start(dir: &std::path::Path) -> Inside {
        Inside(
            Command::new("sleep")
                .arg("600")
                .current_dir(dir)
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the mountpoint is no longer mounted.
fn wait_unmounted(m: &Mount) {
    wait_until_with("the unmount", &|| m.logs(), || !is_mounted(&m.mnt));
}

/// SIGTERM while the mount is busy: as libfuse does, it is detached at
/// once (the mountpoint is free), and the daemon exits 0 when the last
/// process inside lets go.
#[test]
fn sigterm_on_a_busy_mount_detaches_it_and_exits_when_the_last_user_leaves() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let inside = Inside::start(&m.path("prod"));
    signal(m.pid(), libc::SIGTERM);
    wait_unmounted(&m);
    assert!(
        m.wait_exit(Duration::ZERO).is_none(),
        "it keeps serving the process inside"
    );
    drop(inside);
    let status = m.wait_exit(Duration::from_secs(20)).unwrap_or_else(|| {
        panic!(
            "certfs did not exit after the last user left:\n{}",
            m.logs()
        )
    });
    assert!(status.success(), "exit status: {status}\n{}", m.logs());
    m.remount();
    assert!(m.path("prod").is_dir(), "the vault survived");
}

/// A second signal while waiting for the last user ends the daemon at once.
#[test]
fn a_second_sigterm_on_a_busy_mount_exits_at_once() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let _inside = Inside::start(&m.path("prod"));
    signal(m.pid(), libc::SIGTERM);
    wait_unmounted(&m);
    signal(m.pid(), libc::SIGTERM);
    let status = m
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("certfs ignores a second SIGTERM:\n{}", m.logs()));
    assert!(status.success(), "exit status: {status}\n{}", m.logs());
    assert!(!is_mounted(&m.mnt));
}

/// Runs `script` in a private mount namespace with a tmpfs over /var/lib,
/// so the real /var/lib/certfs is never touched. None when unshare is not allowed here.
fn in_private_var_lib(script: &str) -> Option<Output> {
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let full = format!("set -e; mount -t tmpfs certfs-test /var/lib\n{script}");
    Some(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "bash", "-c", &full])
            .env_remove("XDG_DATA_HOME")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn without_data_root_uses_var_lib_certfs() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if !require_root("the /var/lib/certfs rule is for root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let script = format!(
        r#"
bin={bin}; mnt={mnt}
HOME={home} XDG_DATA_HOME={home}/xdg "$bin" mount "$mnt" 2>{home}/log &
pid=$!
for i in $(seq 400); do grep -q " $mnt " /proc/self/mountinfo && break; sleep 0.05; done
mkdir "$mnt/prod"
kill -TERM $pid
wait $pid
stat -c '%a %s' /var/lib/certfs /var/lib/certfs/certfs.db
test ! -e {home}/xdg
test ! -e {home}/.local
"#,
        bin = certfs_bin(),
        mnt = mnt.display(),
        home = dir.path().display(),
    );
    let Some(out) = in_private_var_lib(&script) else {
        missing("unshare --mount, to mount a private /var/lib (not permitted here)");
        return;
    };
    let log = fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{}\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert!(
        lines.next().unwrap().starts_with("700 "),
        "store directory is 0700: {stdout}"
    );
    assert!(
        lines.next().unwrap().starts_with("600 "),
        "database is 0600: {stdout}"
    );
    assert!(log.contains("/var/lib/certfs/certfs.db"), "{log}");
}

/// Non-root: `$XDG_DATA_HOME/certfs`, else `~/.local/share/certfs`. Run
/// as `nobody`; whether FUSE then mounts depends on the host (here
/// /dev/fuse is root-only), but the store is opened before mounting, so
/// where it appears shows the rule either way.
#[test]
fn without_data_a_user_gets_xdg_data_home_or_local_share() {
    if !require_root("to run certfs as nobody")
        || require_tool("setpriv", "to run certfs as nobody").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("certfs");
    fs::copy(certfs_bin(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    for (case, xdg) in [("xdg", true), ("home", false)] {
        let base = dir.path().join(case);
        let mnt = base.join("mnt");
        let home = base.join("home");
        fs::create_dir_all(&mnt).unwrap();
        fs::create_dir_all(&home).unwrap();
        let chown = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&base)
            .status()
            .unwrap();
        assert!(chown.success());
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "env",
            "-i",
        ])
        .arg(format!("HOME={}", home.display()))
        .arg("PATH=/usr/bin:/bin");
        let xdg_dir = base.join("xdg");
        if xdg {
            cmd.arg(format!("XDG_DATA_HOME={}", xdg_dir.display()));
        }
        let mut child = cmd
            .arg(&bin)
            .arg("mount")
            .arg(&mnt)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let expected = if xdg {
            xdg_dir.join("certfs/certfs.db")
        } else {
            home.join(".local/share/certfs/certfs.db")
        };
        // Either it refuses to mount (no access to /dev/fuse) or it mounts; then stop it.
        let mut exited = None;
        for _ in 0..400 {
            if let Ok(Some(s)) = child.try_wait() {
                exited = Some(s);
                break;
            }
            if is_mounted(&mnt) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if exited.is_none() {
            signal(child.id(), libc::SIGTERM);
            exited = wait_timeout(&mut child, Duration::from_secs(20));
            if exited.is_none() {
                let _ = child.kill();
                common::lazy_unmount(&mnt);
            }
        }
        let _ = child.wait();
        assert!(
            expected.is_file(),
            "{case}: the store is at {}",
            expected.display()
        );
        if xdg {
            assert!(
                !home.join(".local").exists(),
                "XDG_DATA_HOME wins over HOME"
            );
        }
    }
}

#[test]
fn daemon_returns_once_mounted_and_umount_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let log = fs::File::create(dir.path().join("daemon.log")).unwrap();
    // The daemon inherits the command's standard error: give it a file,
    // so the command's own pipe closes when the command ends.
    let mut command = Command::new(certfs_bin());
    command
        .args([os("mount"), mnt.as_os_str(), os("--daemon"), os("--data")])
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut child = command.spawn().unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("--daemon returns");
    assert!(status.success(), "{status}");
    // Mounted when the command returned, served by a process of its own.
    assert!(is_mounted(&mnt));
    fs::create_dir(mnt.join("prod")).unwrap();
    fs::create_dir(mnt.join("prod/web")).unwrap();
    fs::write(
        mnt.join("prod/web/policy.json"),
        ec_policy("web.example.com"),
    )
    .unwrap();
    assert!(mnt.join("prod/web/fullchain.pem").exists());
    let pids = sh_ok(
        dir.path(),
        &format!("pgrep -f '[c]ertfs mount {}' || true", mnt.display()),
    );
    assert_eq!(pids.lines().count(), 1, "one daemon: {pids}");
    let pid: u32 = pids.trim().parse().unwrap();
    // Its own session: a terminal's hangup does not reach it.
    let sid = sh_ok(dir.path(), &format!("ps -o sid= -p {pid}"));
    assert_eq!(sid.trim(), pid.to_string());
    sh_ok(dir.path(), &format!("umount {}", mnt.display()));
    common::wait_until("the daemon to end after umount", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
}

#[test]
fn daemon_reports_a_refusal_with_the_daemons_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("nowhere");
    let out = certfs(&[
        os("mount"),
        mnt.as_os_str(),
        os("--daemon"),
        os("--data"),
        dir.path().join("data").as_os_str(),
    ]);
    let line = refused(&out);
    assert!(line.contains("does not exist"), "{line}");
}
