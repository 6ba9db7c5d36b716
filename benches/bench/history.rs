//! Figure 5b and 5c: what a certificate's history costs — the first read of a certificate of many versions, and the memory after reading every certificate of a big store with a history each.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Scale;
use crate::figures::staged_store;
use crate::fill;
use crate::load;
use crate::mounts::{Mount, Scratch};
use crate::report::{Goal, Line, ms};

/// Figure 5b: the first read of a certificate's `fullchain.pem` after
/// mount (the daemon idle), for a certificate of `versions` versions
/// against one of a single version, and the memory that read adds.
pub fn history(disk: &Scratch, tmpfs: &Scratch, versions: usize) -> Vec<Line> {
    let first_read = |vault: &str, versions: usize| {
        let data = disk.path(&format!("{vault}-data"));
        staged_store(tmpfs, &data, vault, |db, key| {
            fill::fill_versions(db, key, vault, versions, crate::nproc());
        });
        let m = Mount::start(&data, &disk.path(&format!("{vault}-mnt")), None);
        m.settle(Duration::from_secs(120));
        let rss = m.rss();
        let t = Instant::now();
        fs::read(m.path(&format!("{vault}/c0/fullchain.pem"))).expect("first read");
        let took = t.elapsed();
        (
            ms(took),
            m.rss().saturating_sub(rss) as f64 / (1024.0 * 1024.0),
        )
    };
    let (one, one_mb) = first_read("one", 1);
    let (many, many_mb) = first_read("many", versions);
    vec![
        Line {
            name: format!("5b first read of fullchain.pem, 1 certificate of {versions} versions"),
            certfs: many,
            baseline: Some(one),
            unit: "ms",
            goal: Goal::RatioAtMost(2.0),
            note: "after mount, the daemon idle; baseline: the same of a certificate of 1 version"
                .into(),
        },
        Line {
            name: format!("5b memory that first read adds, {versions} versions"),
            certfs: many_mb,
            baseline: Some(one_mb),
            unit: "MB",
            goal: Goal::None,
            note: "resident memory after the read less before; baseline: 1 version".into(),
        },
    ]
}

/// Figure 5c: resident memory after reading `fullchain.pem` of every
/// certificate of a store of `scale.store` certificates with
/// `scale.versions_each` versions each, against the same daemon right
/// after mount.
pub fn touched(disk: &Scratch, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let (n, each) = (scale.store, scale.versions_each);
    let data = disk.path("histories-data");
    let filled = staged_store(tmpfs, &data, "hist", |db, key| {
        fill::fill_histories(db, key, "hist", n, each, crate::nproc());
    });
    let m = Mount::start(
        &data,
        &disk.path("histories-mnt"),
        Some("hist/c0/fullchain.pem"),
    );
    m.settle(Duration::from_secs(300));
    let rss_mounted = m.rss();
    let paths: Vec<PathBuf> = (0..n)
        .map(|i| m.path(&format!("hist/c{i}/fullchain.pem")))
        .collect();
    let t = Instant::now();
    load::parallel(paths.len(), 2, |i| {
        fs::read(&paths[i]).expect("read fullchain.pem");
    });
    let took = t.elapsed();
    let rss_touched = m.rss();
    drop(m);
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    vec![Line {
        name: format!(
            "5c resident memory after reading all {n} certificates, {each} versions each"
        ),
        certfs: mb(rss_touched),
        baseline: Some(mb(rss_mounted)),
        unit: "MB",
        goal: Goal::Below(300.0),
        note: format!(
            "fullchain.pem of every certificate read once ({:.1} s, 2 threads); baseline: the same daemon after mount; the store was filled in {:.1} s",
            took.as_secs_f64(),
            filled.as_secs_f64()
        ),
    }]
}
