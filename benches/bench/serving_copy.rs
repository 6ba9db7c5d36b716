//! Figure 1c: open+read+close of `fullchain.pem` in the serving copy (`certfs mount --export`, on tmpfs), against the same files copied to tmpfs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Scale;
use crate::figures;
use crate::load;
use crate::mounts::{Mount, Scratch};
use crate::report::{Goal, Line};

/// Mounts the store of the first mount (`a-data`, now free) again with
/// `--export` on tmpfs; returns the mount and the copy's root, once the
/// copy holds `bench/c<last>/` and the daemon is idle.
pub fn remount_with_copy(disk: &Scratch, tmpfs: &Scratch, last: usize) -> (Mount, PathBuf) {
    let export = tmpfs.path("export");
    let m = Mount::start_with(
        &disk.path("a-data"),
        &disk.path("a-mnt"),
        None,
        &["--export".as_ref(), export.as_os_str()],
    );
    let ready = export.join(format!("bench/c{last}/bundle.pem"));
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the serving copy never held {}",
            ready.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The copy is written in name order (c1999 before c999): what comes
    // next is measured with the daemon idle, the whole copy written.
    m.settle(Duration::from_secs(300));
    (m, export)
}

/// Reads `fullchain.pem` of `bench/c0` … through the copy's links at
/// `export`, on 1 and 8 threads, against plain copies on tmpfs.
pub fn reads(export: &Path, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let ours: Vec<PathBuf> = (0..scale.read_files)
        .map(|i| export.join(format!("bench/c{i}/fullchain.pem")))
        .collect();
    let theirs = figures::copy_to(&ours, &tmpfs.path("read-plain"));
    let mut lines = Vec::new();
    for threads in [1, 8] {
        let (c, b) = load::paired_read_rates(&ours, &theirs, threads, scale.read_time);
        lines.push(Line {
            name: format!("1c open+read+close serving copy, {threads} thr."),
            certfs: c,
            baseline: Some(b),
            unit: "op/s",
            goal: Goal::RatioAtLeast(0.9),
            note: format!(
                "{} files through ..data links on tmpfs, baseline: plain files on tmpfs",
                ours.len()
            ),
        });
    }
    lines
}
