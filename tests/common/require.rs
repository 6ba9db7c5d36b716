//! What a test needs from the machine (root, a tool on PATH, a test user): a missing need skips the test with its reason, or fails it under `CERTFS_TEST_STRICT=1`.
//!
//! `.ci/run` sets `CERTFS_TEST_STRICT=1`, so CI can never pass a test that
//! quietly did nothing. Outside CI (a developer's machine without nginx,
//! or not root) the same test says `SKIP: ...` on standard error and
//! returns. Every early return of a test goes through [`missing`].
//!
//! Self-contained (no other harness module), so suites that do not use the
//! mount harness include it alone with `#[path = "common/require.rs"]`.
#![allow(dead_code)]
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::path::{Path, PathBuf};

/// The environment variable that turns a skip into a failure.
pub const STRICT: &str = "CERTFS_TEST_STRICT";

/// Whether missing prerequisites fail tests (`CERTFS_TEST_STRICT=1`).
pub fn strict() -> bool {
    std::env::var(STRICT).is_ok_and(|v| v == "1")
}

/// Says that `what` is missing: panics under strict mode, else prints
/// `SKIP: <what>` and returns, for the caller to `return` at once.
#[track_caller]
pub fn missing(what: &str) {
    if strict() {
        panic!("{STRICT}=1 and this test cannot run: {what}");
    }
    eprintln!("SKIP: {what}");
}

/// The program `name` on PATH, or in the sbin directories (which a
/// non-root PATH often lacks), else `None`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The program `name` (see [`find_tool`]); when it is missing, reports
/// it through [`missing`] and gives `None`.
#[track_caller]
pub fn require_tool(name: &str, why: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        missing(&format!("{name} is not on PATH ({why})"));
    }
    found
}

/// Whether this process is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this process is root; when not, reports it through
/// [`missing`].
#[track_caller]
pub fn require_root(why: &str) -> bool {
    let root = is_root();
    if !root {
        missing(&format!("needs root: {why}"));
    }
    root
}

/// Set in a test binary rerun by [`rerun_as_user`], which then runs the
/// test's body itself.
const RERUN: &str = "CERTFS_TEST_RERUN_AS_USER";

/// For a test that means something only to a user other than root: as
/// root, runs this test binary's test `name` again as the user `user`
/// (through `setpriv`, made by `useradd` if missing), asserts it passed,
/// and gives `true` (the caller returns: its body ran in the child).
/// Not root, or in that child, gives `false`: run the body here.
#[track_caller]
pub fn rerun_as_user(name: &str, user: &str) -> bool {
    if !is_root() || std::env::var_os(RERUN).is_some() {
        return false;
    }
    let Some(setpriv) = require_tool("setpriv", "to run the test as a user") else {
        return true;
    };
    let exists = std::process::Command::new("id")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let out = std::process::Command::new("useradd")
            .args(["-M", "-N", "-s", "/bin/sh", user])
            .output()
            .expect("useradd");
        // Two suites may make the same user at once.
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("exists"),
            "useradd {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let id = |flag: &str| -> String {
        let out = std::process::Command::new("id")
            .arg(flag)
            .arg(user)
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let exe = std::env::current_exe().expect("this test binary");
    let out = std::process::Command::new(setpriv)
        .arg(format!("--reuid={}", id("-u")))
        .arg(format!("--regid={}", id("-g")))
        .arg("--clear-groups")
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(RERUN, "1")
        .env("HOME", "/")
        .env_remove("TMPDIR")
        .output()
        .expect("setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} as {user} (uid {}): {}\n{stdout}\n{stderr}",
        id("-u"),
        out.status
    );
    true
}
