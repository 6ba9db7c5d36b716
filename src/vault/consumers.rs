//! Who opened a certificate's private key, which version each got, and, for a server that daemonized, the process it left behind (SPEC §11).
//!
//! An open of `privkey.pem`, `bundle.pem` or `cert.pfx` (at the top of
//! the certificate, under `versions/` or `live/`) records the opening
//! process: pid with its start time (so a reused pid is never taken for
//! it), executable, user, command, the version and when. A process that
//! exited is followed to its heir — the oldest living process of the same
//! executable and user started after it and within 5 seconds of the open
//! (nginx and HAProxy read their keys, fork the master and exit) — or
//! dropped. Each certificate keeps at most [`MAX_PER_CERTIFICATE`]
//! records; dead ones go first. Kept in memory, per daemon: a consumer is
//! a process of this machine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::Mutex;

use super::name::{CertificateName, VaultName, VersionId};
use crate::procs::Process;

/// The most openers kept per certificate.
pub const MAX_PER_CERTIFICATE: usize = 64;
/// How long after an open a daemonizing server's heir may have started.
const HEIR_WINDOW: i64 = 5;

/// One open of a key.
#[derive(Debug, Clone)]
struct Opened {
    pid: u32,
    start_ticks: u64,
    uid: u32,
    exe: PathBuf,
    version: VersionId,
    at: i64,
}

/// A living process that holds a version of a certificate's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consumer {
    /// Its pid.
    pub pid: u32,
    /// Its start time, in clock ticks since boot (with the pid, who it is).
    pub start_ticks: u64,
    /// Its user.
    pub uid: u32,
    /// Its executable.
    pub exe: PathBuf,
    /// Its command name.
    pub command: String,
    /// The version it opened (or its parent opened).
    pub version: VersionId,
    /// When, Unix seconds.
    pub opened_at: i64,
}

/// The consumers of every certificate.
#[derive(Default)]
pub(crate) struct Consumers {
    opened: Mutex<BTreeMap<(VaultName, CertificateName), Vec<Opened>>>,
}

impl Consumers {
    /// Records that process `pid` opened the key of `version` of `c` at `at`.
    pub fn record(
        &self,
        v: &VaultName,
        c: &CertificateName,
        version: &VersionId,
        pid: u32,
        at: i64,
    ) {
        // Read before the lock: /proc is not ours to wait for while others wait.
        let Some(p) = Process::of(pid) else {
            return;
        };
        let mut opened = self.opened.lock();
        let list = opened.entry((v.clone(), c.clone())).or_default();
        if let Some(o) = list
            .iter_mut()
            .find(|o| o.pid == p.pid && o.start_ticks == p.start_ticks)
        {
            o.version = version.clone();
            o.at = at;
            return;
        }
        if list.len() >= MAX_PER_CERTIFICATE {
            list.retain(|o| Process::lives(o.pid, o.start_ticks));
        }
        if list.len() >= MAX_PER_CERTIFICATE {
            list.remove(0);
        }
        list.push(Opened {
            pid: p.pid,
            start_ticks: p.start_ticks,
            uid: p.uid,
            exe: p.exe,
            version: version.clone(),
            at,
        });
    }

    /// The living consumers of `c`: each opener that lives, or else its
    /// heir; one entry per process, the latest open winning.
    pub fn living(&self, v: &VaultName, c: &CertificateName) -> Vec<Consumer> {
        let opened = self
            .opened
            .lock()
            .get(&(v.clone(), c.clone()))
            .cloned()
            .unwrap_or_default();
        let mut everyone: Option<Vec<Process>> = None;
        let mut found: BTreeMap<(u32, u64), Consumer> = BTreeMap::new();
        for o in opened {
            let holder = match Process::of(o.pid).filter(|p| p.start_ticks == o.start_ticks) {
                Some(p) => p,
                None => match heir(&o, everyone.get_or_insert_with(Process::all)) {
                    Some(p) => p,
                    None => continue,
                },
            };
            let consumer = Consumer {
                pid: holder.pid,
                start_ticks: holder.start_ticks,
                uid: holder.uid,
                exe: holder.exe,
                command: holder.command,
                version: o.version,
                opened_at: o.at,
            };
            match found.get(&(consumer.pid, consumer.start_ticks)) {
                Some(known) if known.opened_at > consumer.opened_at => {}
                _ => {
                    found.insert((consumer.pid, consumer.start_ticks), consumer);
                }
            }
        }
        found.into_values().collect()
    }

    /// Forgets the consumers of `c` (deleted, purged).
    pub fn forget(&self, v: &VaultName, c: &CertificateName) {
        self.opened.lock().remove(&(v.clone(), c.clone()));
    }
}

/// The process a daemonizing opener `o` left: the oldest living one of the
/// same executable and user, started after it and within
/// [`HEIR_WINDOW`] seconds of the open.
fn heir(o: &Opened, everyone: &[Process]) -> Option<Process> {
    if o.exe.as_os_str().is_empty() {
        return None;
    }
    everyone
        .iter()
        .filter(|p| p.exe == o.exe && p.uid == o.uid && p.start_ticks >= o.start_ticks)
        .filter(|p| p.started_at() <= o.at + HEIR_WINDOW)
        .min_by_key(|p| p.start_ticks)
        .cloned()
}

/// Of `stale` consumers, the one to signal per program: the oldest process
/// of each executable and user (an nginx or HAProxy master, not its workers).
pub(crate) fn masters(stale: &[Consumer]) -> Vec<&Consumer> {
    let mut oldest: BTreeMap<(&PathBuf, u32), &Consumer> = BTreeMap::new();
    for c in stale {
        let key = (&c.exe, c.uid);
        if oldest
            .get(&key)
            .is_none_or(|o| c.start_ticks < o.start_ticks)
        {
            oldest.insert(key, c);
        }
    }
    oldest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn names() -> (VaultName, CertificateName, VersionId, VersionId) {
        (
            VaultName::parse("prod").unwrap(),
            CertificateName::parse("web").unwrap(),
            VersionId::parse("aa").unwrap_or_else(|_| VersionId::random()),
            VersionId::random(),
        )
    }

    #[test]
    fn an_opener_that_lives_is_a_consumer_and_one_that_exits_without_heir_is_dropped() {
        let (v, c, first, second) = names();
        let consumers = Consumers::default();
        let mut child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        consumers.record(&v, &c, &first, child.id(), 100);
        consumers.record(&v, &c, &second, std::process::id(), 200);
        let living = consumers.living(&v, &c);
        assert_eq!(living.len(), 2, "{living:?}");
        let sleeper = living.iter().find(|l| l.pid == child.id()).unwrap();
        assert_eq!((sleeper.version.clone(), sleeper.opened_at), (first, 100));
        assert_eq!(sleeper.command, "sleep");
        child.kill().unwrap();
        child.wait().unwrap();
        let living = consumers.living(&v, &c);
        assert_eq!(living.len(), 1, "{living:?}");
        assert_eq!(living[0].pid, std::process::id());
        assert_eq!(living[0].version, second);
    }

    #[test]
    fn a_daemonized_opener_is_followed_to_the_oldest_process_it_left() {
        let (_, _, version, _) = names();
        let mut older = Command::new("sleep").arg("30").spawn().unwrap();
        // Ticks are 1/100 s: the younger one must start at least a tick later.
        let first = Process::of(older.id()).unwrap();
        let mut younger = loop {
            let child = Command::new("sleep").arg("30").spawn().unwrap();
            if Process::of(child.id()).is_some_and(|p| p.start_ticks > first.start_ticks) {
                break child;
            }
            let mut child = child;
            child.kill().unwrap();
            child.wait().unwrap();
        };
        let sleeps: Vec<Process> = [older.id(), younger.id()]
            .into_iter()
            .filter_map(Process::of)
            .collect();
        // The opener (gone now) started before both and opened just now.
        let gone = Opened {
            pid: u32::MAX,
            start_ticks: 0,
            uid: first.uid,
            exe: first.exe.clone(),
            version,
            at: crate::vault::clock::now(),
        };
        let found = heir(&gone, &sleeps).map(|p| p.pid);
        let other_user = Opened {
            uid: first.uid + 1,
            ..gone.clone()
        };
        let long_before = Opened {
            at: gone.at - 3600,
            ..gone.clone()
        };
        for child in [&mut older, &mut younger] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert_eq!(found, Some(older.id()));
        assert_eq!(heir(&other_user, &sleeps), None);
        assert_eq!(
            heir(&long_before, &sleeps),
            None,
            "started long after the open"
        );
    }

    #[test]
    fn the_master_of_each_program_is_the_oldest() {
        let (_, _, version, _) = names();
        let c = |pid: u32, start: u64, exe: &str| Consumer {
            pid,
            start_ticks: start,
            uid: 0,
            exe: exe.into(),
            command: "x".into(),
            version: version.clone(),
            opened_at: 0,
        };
        let stale = [
            c(12, 120, "/usr/sbin/nginx"),
            c(10, 100, "/usr/sbin/nginx"),
            c(11, 110, "/usr/sbin/nginx"),
            c(20, 200, "/usr/sbin/haproxy"),
        ];
        let mut pids: Vec<u32> = masters(&stale).iter().map(|c| c.pid).collect();
        pids.sort();
        assert_eq!(pids, [10, 20]);
    }

    #[test]
    fn records_stay_bounded_however_many_processes_come_and_go() {
        let (v, c, version, _) = names();
        let consumers = Consumers::default();
        for _ in 0..(MAX_PER_CERTIFICATE + 10) {
            let mut child = Command::new("true").spawn().unwrap();
            let pid = child.id();
            consumers.record(&v, &c, &version, pid, 1);
            child.wait().unwrap();
        }
        let kept = consumers
            .opened
            .lock()
            .get(&(v.clone(), c.clone()))
            .map(Vec::len);
        assert!(kept.unwrap_or(0) <= MAX_PER_CERTIFICATE);
    }
}
