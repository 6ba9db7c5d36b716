//! Unprivileged Unix users the access suites act as: made once by `useradd`, driven with `runuser`.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::path::Path;
use std::process::Command;

/// The group the suites' users share (nginx's `ssl-cert` of the tests).
pub const GROUP: &str = "certfs-ssl";

/// A Unix user of the tests.
pub struct TestUser {
    /// Login name.
    pub name: &'static str,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

impl TestUser {
    /// The user `name` (a member of [`GROUP`]), made if missing; `None`
    /// when the tests do not run as root and cannot make users (reported
    /// through [`super::require::missing`]: a failure in strict mode).
    pub fn get(name: &'static str) -> Option<TestUser> {
        if !super::require::require_root(&format!("to create the test user {name}")) {
            return None;
        }
        let _ = Command::new("groupadd").arg("-f").arg(GROUP).status();
        let exists = Command::new("id")
            .arg(name)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            let out = Command::new("useradd")
                .args(["-M", "-N", "-s", "/bin/sh", "-G", GROUP, name])
                .output()
                .unwrap();
            // Two suites may make the same user at once: the loser's
            // "already exists" is fine.
            assert!(
                out.status.success() || String::from_utf8_lossy(&out.stderr).contains("exists"),
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").arg(flag).arg(name).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        Some(TestUser {
            name,
            uid: id("-u"),
            gid: id("-g"),
        })
    }

    /// The id of [`GROUP`].
    pub fn group_id() -> u32 {
        let out = Command::new("getent")
            .args(["group", GROUP])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split(':')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Runs `script` with `sh` in `dir` as this user; (success, stdout + stderr).
    pub fn run(&self, dir: &Path, script: &str) -> (bool, String) {
        let out = Command::new("runuser")
            .args(["-u", self.name, "--", "sh", "-c", script])
            .current_dir(dir)
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }
}
