//! The load generator: threaded open+read+close loops, stat passes, timed commands and latency samples, run the same way against certfs and tmpfs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Opens, reads to the end and closes one file; returns its length.
fn read_whole(path: &Path, buf: &mut [u8]) -> usize {
    let mut f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut total = 0;
    loop {
        match f.read(buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }
}

/// [`read_rate`] of `ours` and of `theirs` (its baseline), each after a
/// tenth of `time` on both first: the first read of a file is not the
/// loop's.
pub fn paired_read_rates(
    ours: &[PathBuf],
    theirs: &[PathBuf],
    threads: usize,
    time: Duration,
) -> (f64, f64) {
    read_rate(ours, threads, time / 10);
    read_rate(theirs, threads, time / 10);
    (
        read_rate(ours, threads, time),
        read_rate(theirs, threads, time),
    )
}

/// open+read+close of `paths` (round robin, each thread from its own
/// start) on `threads` threads for `time`; returns operations per second.
pub fn read_rate(paths: &[PathBuf], threads: usize, time: Duration) -> f64 {
    rate(paths, threads, time, |p, buf| {
        read_whole(p, buf);
    })
}

/// `job` on `paths` (round robin, each thread from its own start) on
/// `threads` threads for `time`; returns jobs per second.
fn rate(
    paths: &[PathBuf],
    threads: usize,
    time: Duration,
    job: impl Fn(&Path, &mut [u8]) + Send + Sync + 'static,
) -> f64 {
    let paths: Arc<Vec<PathBuf>> = Arc::new(paths.to_vec());
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let job = Arc::new(job);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (paths, stop, done, job) = (paths.clone(), stop.clone(), done.clone(), job.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut i = t * paths.len() / threads.max(1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    job(&paths[i % paths.len()], &mut buf);
                    i += 1;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(time);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// open+read+close of `count` files of `paths`, round robin, on this thread.
pub fn read_count(paths: &[PathBuf], count: usize) {
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..count {
        read_whole(&paths[i % paths.len()], &mut buf);
    }
}

/// `stat` of `paths` (round robin) on `threads` threads for `time`, each
/// expected to exist or not as `exists` says; returns stats per second.
pub fn stat_rate(paths: &[PathBuf], threads: usize, time: Duration, exists: bool) -> f64 {
    rate(paths, threads, time, move |p, _| {
        assert_eq!(fs::metadata(p).is_ok(), exists, "stat {}", p.display());
    })
}

/// One `stat` of every path; returns the time it took.
pub fn stat_pass(paths: &[PathBuf]) -> Duration {
    let started = Instant::now();
    for p in paths {
        fs::metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    }
    started.elapsed()
}

/// Runs `program args` with output discarded; returns its wall time. Panics if it fails.
pub fn timed_command(program: &str, args: &[&std::ffi::OsStr]) -> Duration {
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let took = started.elapsed();
    assert!(status.success(), "{program} {args:?} failed: {status}");
    took
}

/// Runs `job(i)` for i in 0..count on `threads` threads; returns the wall time.
pub fn parallel(count: usize, threads: usize, job: impl Fn(usize) + Send + Sync) -> Duration {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    job(i);
                }
            });
        }
    });
    started.elapsed()
}

/// Latencies of open+read+close of `ours` and `theirs`, one reader
/// alternating between them (so both see the same load), for `time`, in
/// nanoseconds, each sorted.
pub fn read_latencies(ours: &[PathBuf], theirs: &[PathBuf], time: Duration) -> [Vec<u64>; 2] {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = [Vec::new(), Vec::new()];
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < time {
        for (side, paths) in [ours, theirs].into_iter().enumerate() {
            let t = Instant::now();
            read_whole(&paths[i % paths.len()], &mut buf);
            out[side].push(t.elapsed().as_nanos() as u64);
            // A reader that sleeps between reads, as a server's does: each
            // read starts cold on the CPU, the way latency hurts in production.
            std::thread::sleep(Duration::from_micros(200));
        }
        i += 1;
    }
    for side in &mut out {
        side.sort_unstable();
    }
    out
}

/// The `q` quantile (0..=1) of sorted `samples`.
pub fn quantile(samples: &[u64], q: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

/// Runs `work` on `threads` threads until the returned guard is dropped.
pub struct Background {
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<u64>>,
    /// How many rounds of work finished, known once stopped.
    pub rounds: u64,
}

impl Background {
    /// Starts `threads` threads each calling `work(thread, round)` until stopped.
    pub fn start(threads: usize, work: impl Fn(usize, u64) + Send + Sync + 'static) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let work = Arc::new(work);
        let workers = (0..threads)
            .map(|t| {
                let (stop, work) = (stop.clone(), work.clone());
                std::thread::spawn(move || {
                    let mut round = 0;
                    while !stop.load(Ordering::Relaxed) {
                        work(t, round);
                        round += 1;
                    }
                    round
                })
            })
            .collect();
        Background {
            stop,
            workers,
            rounds: 0,
        }
    }

    /// Stops and waits for the threads (each finishes its round).
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.rounds = self
            .workers
            .drain(..)
            .map(|w| w.join().expect("background worker"))
            .sum();
        self.rounds
    }
}

/// A copy of the directory tree under `from` (names only, files empty) at `to`.
pub fn mirror_names(from: &Path, to: &Path, depth: usize) {
    fs::create_dir_all(to).expect("mkdir mirror");
    for entry in fs::read_dir(from).expect("readdir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            if depth > 0 {
                mirror_names(&entry.path(), &target, depth - 1);
            } else {
                fs::create_dir_all(&target).expect("mkdir");
            }
        } else {
            fs::write(&target, b"").expect("touch");
        }
    }
}
