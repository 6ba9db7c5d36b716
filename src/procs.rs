//! The processes of this machine as `/proc` shows them: who a pid is (its start time, so a reused pid is never taken for the old process), its executable, user and command.
//!
//! Read only when asked: at the open of a key (one process), when
//! `status.json` or a switch looks for a consumer's heir (a scan).
#![allow(unsafe_code)] // sysconf(3), with its SAFETY comment

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One process, as it was when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its id.
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/<pid>/stat`
    /// field 22): with the pid, who it is.
    pub start_ticks: u64,
    /// Its real user.
    pub uid: u32,
    /// Its executable (`/proc/<pid>/exe`; empty if hidden from us).
    pub exe: PathBuf,
    /// Its command name (`comm`).
    pub command: String,
}

impl Process {
    /// Process `pid` now, if it lives.
    pub fn of(pid: u32) -> Option<Process> {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let stat = fs::read_to_string(dir.join("stat")).ok()?;
        // `pid (comm) state ...`: comm may hold spaces and parentheses.
        let (head, rest) = stat.rsplit_once(')')?;
        let command = head.split_once('(')?.1.to_owned();
        let start_ticks = rest.split_whitespace().nth(19)?.parse().ok()?;
        let uid = fs::metadata(&dir).ok()?.uid();
        let exe = fs::read_link(dir.join("exe")).unwrap_or_default();
        Some(Process {
            pid,
            start_ticks,
            uid,
            exe,
            command,
        })
    }

    /// Whether the process that was `pid` at `start_ticks` still lives.
    pub fn lives(pid: u32, start_ticks: u64) -> bool {
        Process::of(pid).is_some_and(|p| p.start_ticks == start_ticks)
    }

    /// Every process now.
    pub fn all() -> Vec<Process> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(Process::of)
            .collect()
    }

    /// When it started, in Unix seconds.
    pub fn started_at(&self) -> i64 {
        boot_time() + (self.start_ticks / ticks_per_second()) as i64
    }
}

/// When the machine booted, in Unix seconds (`/proc/stat`'s `btime`).
fn boot_time() -> i64 {
    static BOOT: OnceLock<i64> = OnceLock::new();
    *BOOT.get_or_init(|| {
        fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|t| t.trim().parse().ok())
            })
            .unwrap_or(0)
    })
}

/// Clock ticks per second (`_SC_CLK_TCK`).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    // SAFETY: sysconf takes a constant and touches no memory of ours.
    *TICKS.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as u64,
        _ => 100,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_and_a_wrong_start_is_another_process() {
        let me = Process::of(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert_eq!(me.exe, std::env::current_exe().unwrap());
        assert!(Process::lives(me.pid, me.start_ticks));
        assert!(!Process::lives(me.pid, me.start_ticks + 1));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(me.started_at() <= now && me.started_at() > now - 86_400 * 365);
        assert!(Process::all().iter().any(|p| p.pid == me.pid));
        assert_eq!(Process::of(u32::MAX), None);
    }

    #[test]
    fn a_command_with_spaces_and_parentheses_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("odd) (name");
        std::fs::copy("/bin/sleep", &odd).unwrap();
        let mut child = std::process::Command::new(&odd).arg("30").spawn().unwrap();
        let p = Process::of(child.id()).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(p.command, "odd) (name");
        assert_eq!(p.exe, odd);
    }
}
