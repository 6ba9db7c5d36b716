//! Running certfs for the benchmark: a release `certfs mount` in a temporary folder, its mount time and memory, and a clean unmount.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The certfs binary cargo built for this benchmark (release).
pub fn certfs_bin() -> &'static str {
    env!("CARGO_BIN_EXE_certfs")
}

/// A running `certfs mount`, unmounted on drop.
pub struct Mount {
    /// The mountpoint.
    pub mnt: PathBuf,
    /// How long from starting the process until a file inside could be read.
    pub ready_after: Duration,
    child: Option<Child>,
    log: PathBuf,
    /// Where the daemon writes its request counts on SIGUSR1.
    counts: PathBuf,
}

/// FUSE requests the daemon answered, by kind (`lookup`, `open`, ...).
#[derive(Debug, Clone, Default)]
pub struct Requests(pub std::collections::BTreeMap<String, u64>);

impl Requests {
    /// Requests of `kind`.
    pub fn get(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(before.get(k))))
                .collect(),
        )
    }
}

/// Whether a FUSE filesystem is mounted at `mnt`.
fn is_mounted(mnt: &Path) -> bool {
    let target = mnt.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(4) == Some(&*target) && l.contains(" - fuse"))
        })
        .unwrap_or(false)
}

impl Mount {
    /// Mounts the store in `data` on `mnt` (created if missing) and waits
    /// until `probe` (a path inside the mount, or the mountpoint itself)
    /// can be stat'ed and, if a file, read. Logs go to `data/../certfs.log`.
    pub fn start(data: &Path, mnt: &Path, probe: Option<&str>) -> Mount {
        Self::start_with(data, mnt, probe, &[])
    }

    /// [`Mount::start`] with more `certfs mount` arguments (`--export DIR`).
    pub fn start_with(data: &Path, mnt: &Path, probe: Option<&str>, args: &[&OsStr]) -> Mount {
        fs::create_dir_all(mnt).expect("mkdir mountpoint");
        let log = data.with_extension("log");
        let counts = data.with_extension("counts");
        let _ = fs::remove_file(&counts);
        let log_file = fs::File::create(&log).expect("log file");
        let started = Instant::now();
        let mut command = Command::new(certfs_bin());
        command
            .arg("mount")
            .arg(mnt)
            .arg("--data")
            .arg(data)
            .args(args);
        // BENCH_THREADS: certfs' --threads (default: certfs' own default).
        if let Ok(threads) = std::env::var("BENCH_THREADS") {
            command.arg("--threads").arg(threads);
        }
        let child = command
            .env("RUST_LOG", "warn")
            .env("CERTFS_REQUEST_COUNTS", &counts)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("spawn certfs");
        let mut m = Mount {
            mnt: mnt.to_path_buf(),
            ready_after: Duration::ZERO,
            child: Some(child),
            log,
            counts,
        };
        let deadline = started + Duration::from_secs(300);
        loop {
            if is_mounted(mnt) {
                let ready = match probe {
                    None => true,
                    Some(rel) => {
                        let p = mnt.join(rel);
                        match fs::metadata(&p) {
                            Ok(meta) if meta.is_file() => fs::read(&p).is_ok(),
                            Ok(_) => true,
                            Err(_) => false,
                        }
                    }
                };
                if ready {
                    break;
                }
            }
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("certfs exited with {status} before mounting:\n{}", m.logs());
            }
            assert!(
                Instant::now() < deadline,
                "certfs did not mount in time:\n{}",
                m.logs()
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        m.ready_after = started.elapsed();
        m
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// The daemon's resident memory now, in bytes (VmRSS).
    pub fn rss(&self) -> u64 {
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        rss_of(pid)
    }

    /// Waits until the daemon has used no CPU for a second (its background
    /// work after mount is done), at most `limit`; returns how long it took.
    pub fn settle(&self, limit: Duration) -> Duration {
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        let started = Instant::now();
        let mut last = cpu_ticks(pid);
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_secs(1));
            let now = cpu_ticks(pid);
            if now == last {
                break;
            }
            last = now;
        }
        started.elapsed()
    }

    /// CPU time the daemon has used so far (user and system, in clock ticks of 10 ms).
    pub fn cpu(&self) -> Duration {
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(cpu_ticks(pid) * 1000 / hz)
    }

    /// The requests the daemon answered so far: asks it (SIGUSR1) to write
    /// its counts and waits for the new dump.
    pub fn requests(&self) -> Requests {
        let dump = |text: &str| {
            text.lines()
                .next()
                .and_then(|l| l.strip_prefix("dump "))
                .and_then(|n| n.parse::<u64>().ok())
        };
        let before = fs::read_to_string(&self.counts)
            .ok()
            .and_then(|t| dump(&t))
            .unwrap_or(0);
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        // SAFETY: kill(2) on the pid of a child we spawned; no memory is touched.
        unsafe {
            libc::kill(pid as i32, libc::SIGUSR1);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = fs::read_to_string(&self.counts)
                && dump(&text).is_some_and(|n| n > before)
            {
                return Requests(
                    text.lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(' '))
                        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
                        .collect(),
                );
            }
            assert!(Instant::now() < deadline, "no request counts from certfs");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// What certfs logged.
    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and wait for certfs to unmount and exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child we spawned; no memory is touched.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg("-z")
                .arg(&self.mnt)
                .status();
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.stop();
    }
}

/// VmRSS of process `pid`, in bytes (0 if unknown).
pub fn rss_of(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPU time process `pid` used so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    field(11) + field(12)
}

/// A directory removed (with everything in it) on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new, empty directory under `base`.
    pub fn new(base: &Path, label: &str) -> Scratch {
        let dir = base.join(format!("certfs-bench-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// A path inside.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // BENCH_KEEP: leave the stores for a look afterwards (a profiler).
        if std::env::var_os("BENCH_KEEP").is_some() {
            println!("kept {}", self.0.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}
