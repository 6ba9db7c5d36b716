//! Who made a FUSE request: user, group, process and supplementary groups (from `/proc`), as the vault's [`Caller`], and the process a requesting thread belongs to.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use fuser::Request;

use crate::vault::Caller;

/// The caller of `req`. Supplementary groups are read from
/// `/proc/<pid>/status` only when `others` (other users may come in):
/// the owner's own requests never need them.
pub fn caller_of(req: &Request, others: bool) -> Caller {
    let pid = req.pid();
    Caller {
        uid: req.uid(),
        gid: req.gid(),
        pid,
        groups: if others { groups_of(pid) } else { Vec::new() },
    }
}

/// The supplementary groups of process `pid` (empty if it is gone).
fn groups_of(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The process (thread group) of the thread `tid` that made a request:
/// FUSE names threads, and many programs open and close a file on
/// different threads of one process.
pub fn process_of(tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_of_this_process_are_read() {
        // Whatever they are, reading them does not fail and matches getgroups(2).
        let mut buf = vec![0 as libc::gid_t; 256];
        // SAFETY: buf has room for 256 group ids.
        let n = unsafe { libc::getgroups(256, buf.as_mut_ptr()) };
        let mut expected: Vec<u32> = buf[..n.max(0) as usize].to_vec();
        let mut got = groups_of(std::process::id());
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        assert!(groups_of(u32::MAX).is_empty());
    }

    #[test]
    fn a_thread_belongs_to_its_process() {
        let pid = std::process::id();
        let other = std::thread::spawn(|| {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() } as u32;
            process_of(tid)
        });
        assert_eq!(other.join().unwrap(), pid);
        assert_eq!(process_of(pid), pid);
        // An id naming no thread stands for itself.
        assert_eq!(process_of(u32::MAX), u32::MAX);
    }
}
