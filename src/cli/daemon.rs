//! `--daemon`: certfs serves from a detached child process and the command returns once the mount is there (as mount(8) helpers and init scripts expect).
//!
//! The child is this same program without `--daemon`, in a session of its
//! own, with standard input from /dev/null (standard output and error are
//! inherited: redirect them to keep the log). The parent waits until the
//! mountpoint shows in /proc/self/mountinfo as certfs, then exits 0; if
//! the child ends first, its exit status is the parent's.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long the child may take to mount (a big store loads first).
const MOUNT_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `certfs` again with `args` (without `--daemon`) detached, and
/// returns once `mountpoint` is mounted.
pub fn run_detached(args: Vec<std::ffi::OsString>, mountpoint: &Path) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("certfs: cannot find this program to start the daemon: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    let mut command = Command::new(exe);
    command.args(args).stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("certfs: cannot start the daemon: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    loop {
        if is_certfs_mount(&target) {
            return ExitCode::SUCCESS;
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                // Its one-line reason is already on standard error.
                return ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8);
            }
            Ok(None) if start.elapsed() > MOUNT_TIMEOUT => {
                eprintln!(
                    "certfs: the daemon did not mount {} within {}s; it keeps trying (pid {})",
                    target.display(),
                    MOUNT_TIMEOUT.as_secs(),
                    child.id()
                );
                return ExitCode::FAILURE;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                eprintln!("certfs: cannot watch the daemon: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Whether `path` is mounted as certfs (a line of /proc/self/mountinfo).
fn is_certfs_mount(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let point = fields.get(4).copied().unwrap_or("");
        let fstype = line
            .split(" - ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or("");
        point == wanted && fstype.starts_with("fuse") && line.contains("certfs")
    })
}
