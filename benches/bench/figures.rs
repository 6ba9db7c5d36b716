//! The figures of the benchmark (issue 8): each runs certfs and its baseline in the same run and returns report lines.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::fd::IntoRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use certfs::pki::key::{Curve, KeySpec, PrivateKey, RsaSize};
use certfs::pki::x509;
use certfs::vault::policy::Policy;

use crate::Scale;
use crate::ca::PendingCa;
use crate::fill::{self, ec_policy};
use crate::load::{self, Background};
use crate::mounts::{Mount, Scratch};
use crate::report::{Goal, Line, mean_sd, median, ms};

/// Writes `data` to `path` and closes it, returning close's error: certfs
/// acts on a written file at `close`, and says there if it refused it.
pub fn write_and_close(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)?;
    let fd = f.into_raw_fd();
    // SAFETY: `fd` was just released by `f`, so it is open and owned here.
    if unsafe { libc::close(fd) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A policy for a self-signed RSA certificate of `bits`.
fn rsa_policy(name: &str, bits: u32) -> String {
    format!(
        r#"{{"key_props":{{"kty":"RSA","key_size":{bits}}},"x509_props":{{"subject":"CN={name}.bench.example"}},"issuer":{{"name":"Self"}}}}"#
    )
}

/// Creates certificate `name` in `vault_dir` through the mount: mkdir, then policy.json.
fn create(vault_dir: &Path, name: &str, policy: &str) {
    let dir = vault_dir.join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    write_and_close(&dir.join("policy.json"), policy.as_bytes())
        .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
}

/// The certificates every figure of the first mount reads: `c0` … in vault `bench`.
pub fn bench_paths(m: &Mount, count: usize, file: &str) -> Vec<PathBuf> {
    (0..count)
        .map(|i| m.path(&format!("bench/c{i}/{file}")))
        .collect()
}

/// Figure 3a: EC P-256 self-signed creates through the mount, against
/// making the same key and certificate in-process (the crypto alone).
pub fn ec_creates(m: &Mount, scale: &Scale, count: usize) -> Line {
    fs::create_dir(m.path("bench")).expect("mkdir bench");
    let vault = m.path("bench");
    let took = load::parallel(count, scale.create_threads, |i| {
        let name = format!("c{i}");
        create(&vault, &name, &ec_policy(&name));
    });
    for i in 0..count {
        let p = vault.join(format!("c{i}/fullchain.pem"));
        assert!(p.exists(), "{} missing after its create", p.display());
    }
    let raw = load::parallel(count, scale.create_threads, |i| {
        let policy = Policy::parse(ec_policy(&format!("c{i}")).as_bytes()).expect("policy");
        let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).expect("key");
        x509::self_signed(&policy.certificate_spec(), &key).expect("cert");
    });
    Line {
        name: format!(
            "3a create EC P-256 self-signed ({} threads)",
            scale.create_threads
        ),
        certfs: count as f64 / took.as_secs_f64(),
        baseline: Some(count as f64 / raw.as_secs_f64()),
        unit: "/s",
        goal: Goal::AtLeast(300.0),
        note: format!("{count} creates; baseline: key + certificate in-process, no filesystem"),
    }
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Figure 3b: RSA-2048 creates through the mount against raw RSA-2048 key
/// generation with the same backend, one at a time and alternating, so
/// drift hits both alike. Wall time, and CPU time (the daemon's against the
/// generating thread's), which other load on the machine does not inflate.
pub fn rsa_creates(m: &Mount, count: usize) -> Vec<Line> {
    fs::create_dir(m.path("rsa")).expect("mkdir rsa");
    let vault = m.path("rsa");
    let (mut raw, mut through) = (Vec::new(), Vec::new());
    let (mut raw_cpu, mut daemon_cpu) = (Duration::ZERO, Duration::ZERO);
    for i in 0..count {
        let (t, cpu) = (Instant::now(), thread_cpu());
        PrivateKey::generate(KeySpec::Rsa(RsaSize::B2048)).expect("RSA key");
        raw.push(ms(t.elapsed()));
        raw_cpu += thread_cpu() - cpu;
        let (t, cpu) = (Instant::now(), m.cpu());
        let name = format!("r{i}");
        create(&vault, &name, &rsa_policy(&name, 2048));
        through.push(ms(t.elapsed()));
        daemon_cpu += m.cpu() - cpu;
    }
    let (mc, sc) = mean_sd(&through);
    let (mr, sr) = mean_sd(&raw);
    let n = count as f64;
    // Standard error of the ratio of two independent means (delta method).
    let ratio = mc / mr;
    let se = ratio * ((sc / mc).powi(2) / n + (sr / mr).powi(2) / n).sqrt();
    let medians = median(&mut through) / median(&mut raw);
    vec![
        Line {
            name: "3b create RSA-2048 vs raw RSA-2048 keygen, wall".into(),
            certfs: mc,
            baseline: Some(mr),
            unit: "ms",
            goal: Goal::RatioAtMost(1.1),
            note: format!(
                "mean of {count} each, alternating; ratio {ratio:.3} +/- {:.3} (95%), of medians \
                 {medians:.3}: RSA key generation time varies a lot",
                1.96 * se
            ),
        },
        Line {
            name: "3b create RSA-2048 vs raw RSA-2048 keygen, CPU".into(),
            certfs: ms(daemon_cpu) / n,
            baseline: Some(ms(raw_cpu) / n),
            unit: "ms",
            goal: Goal::RatioAtMost(1.1),
            note: "the daemon's CPU time over the creates against the generating thread's \
                   (other load on the machine inflates neither)"
                .into(),
        },
    ]
}

/// Each certificate's `versions/<id>/<file>` for the top-level `files`.
fn version_paths(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| {
            let dir = f.parent().expect("certificate directory");
            let id = fs::read_dir(dir.join("versions"))
                .expect("versions/")
                .next()
                .expect("a version")
                .expect("entry")
                .file_name();
            dir.join("versions")
                .join(id)
                .join(f.file_name().expect("file name"))
        })
        .collect()
}

/// Figure 1: open+read+close of fullchain.pem on 1 and 8 threads, against
/// the same files on tmpfs; and, for what the top-level names cost, the
/// same files under `versions/<id>/` (names that never switch); what an
/// open costs in FUSE requests; `stat` of a top-level name and of a
/// missing name beside it (HAProxy looks for `<crt>.sctl` and `.ocsp`).
pub fn reads(m: &Mount, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let ours = bench_paths(m, scale.read_files, "fullchain.pem");
    let theirs = copy_to(&ours, &tmpfs.path("read"));
    let versioned = version_paths(&ours);
    let mut lines = Vec::new();
    let sets = [
        (
            "fullchain.pem",
            &ours,
            [Goal::RatioAtLeast(0.5), Goal::RatioAtLeast(0.15)],
        ),
        (
            "versions/<id>/fullchain.pem",
            &versioned,
            [Goal::None, Goal::None],
        ),
    ];
    for (what, paths, goals) in sets {
        for (threads, goal) in [1, 8].into_iter().zip(goals) {
            let (c, b) = load::paired_read_rates(paths, &theirs, threads, scale.read_time);
            lines.push(Line {
                name: format!("1  open+read+close {what}, {threads} thr."),
                certfs: c,
                baseline: Some(b),
                unit: "op/s",
                goal,
                note: format!("{} files, baseline: copies on tmpfs", paths.len()),
            });
        }
    }
    for (what, paths, goal) in [
        ("fullchain.pem", &ours, Goal::AtMost(1.0)),
        ("versions/<id>/fullchain.pem", &versioned, Goal::None),
    ] {
        lines.push(requests_per_open(m, what, paths, goal));
    }
    lines.extend(stats(&ours, &theirs, scale));
    lines
}

/// FUSE requests the daemon answers per open+read+close of `paths`, read
/// once before (what a server that opens its files again and again costs).
fn requests_per_open(m: &Mount, what: &str, paths: &[PathBuf], goal: Goal) -> Line {
    let opens = (paths.len() * 10).max(100);
    load::read_count(paths, paths.len());
    let before = m.requests();
    load::read_count(paths, opens);
    let spent = m.requests().since(&before);
    let per = |kind: &str| spent.get(kind) as f64 / opens as f64;
    let waited = [
        "lookup", "getattr", "open", "read", "flush", "listing", "other",
    ];
    Line {
        name: format!("1  FUSE requests an open waits for, {what}"),
        certfs: waited.iter().map(|k| per(k)).sum(),
        baseline: None,
        unit: "req",
        goal,
        note: format!(
            "per open, over {opens}: lookup {:.2}, getattr {:.2}, open {:.2}, read {:.2}, \
             flush {:.2}; release {:.2} (asynchronous, the reader does not wait)",
            per("lookup"),
            per("getattr"),
            per("open"),
            per("read"),
            per("flush"),
            per("release")
        ),
    }
}

/// `stat` of each certificate's `bundle.pem` and of a `bundle.pem.sctl`
/// that is not there, against the same names on tmpfs.
fn stats(ours: &[PathBuf], theirs: &[PathBuf], scale: &Scale) -> Vec<Line> {
    let beside = |files: &[PathBuf], name: &str| -> Vec<PathBuf> {
        files.iter().map(|f| f.with_file_name(name)).collect()
    };
    for f in beside(theirs, "bundle.pem") {
        fs::write(&f, b"").expect("tmpfs bundle.pem");
    }
    let cases = [
        ("bundle.pem", "bundle.pem", true),
        ("a missing bundle.pem.sctl", "bundle.pem.sctl", false),
    ];
    cases
        .iter()
        .map(|(what, name, exists)| {
            let (c, b) = (beside(ours, name), beside(theirs, name));
            load::stat_rate(&c, 1, scale.read_time / 10, *exists);
            load::stat_rate(&b, 1, scale.read_time / 10, *exists);
            Line {
                name: format!("1  stat of top-level {what}, 1 thr."),
                certfs: load::stat_rate(&c, 1, scale.read_time, *exists),
                baseline: Some(load::stat_rate(&b, 1, scale.read_time, *exists)),
                unit: "op/s",
                goal: Goal::None,
                note: format!("{} names, baseline: the same names on tmpfs", c.len()),
            }
        })
        .collect()
}

/// Copies each of `files` to `dir/<n>/<file name>`; returns the copies.
pub fn copy_to(files: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let d = dir.join(i.to_string());
            fs::create_dir_all(&d).expect("mkdir copy");
            let to = d.join(f.file_name().expect("file name"));
            fs::copy(f, &to).unwrap_or_else(|e| panic!("copy {}: {e}", f.display()));
            to
        })
        .collect()
}

/// Figure 4: importing PFX files through `import/`, against `openssl pkcs12` parsing the same files.
pub fn imports(m: &Mount, tmpfs: &Scratch, count: usize) -> Line {
    let pfx = copy_to(&bench_paths(m, count, "cert.pfx"), &tmpfs.path("pfx"));
    fs::create_dir(m.path("imp")).expect("mkdir imp");
    let drop_box = m.path("imp/import");
    let mut ours = Duration::ZERO;
    for (i, file) in pfx.iter().enumerate() {
        let bytes = fs::read(file).expect("read pfx");
        let t = Instant::now();
        write_and_close(&drop_box.join(format!("i{i}.pfx")), &bytes)
            .unwrap_or_else(|e| panic!("import i{i}: {e}"));
        ours += t.elapsed();
    }
    for i in 0..count {
        let p = m.path(&format!("imp/i{i}/cert.pem"));
        assert!(p.exists(), "{} missing after its import", p.display());
    }
    let theirs = parse_in_one_process(&pfx);
    Line {
        name: format!("4  import {count} PFX vs parsing them in one process"),
        certfs: ms(ours),
        baseline: Some(ms(theirs)),
        unit: "ms",
        goal: Goal::RatioAtMost(2.0),
        note: "one at a time; certfs: write into import/ until close returns (stored, fsync'ed); \
               baseline: Python's cryptography (OpenSSL) loading each file's key and \
               certificates in one process, the loop alone timed"
            .into(),
    }
}

/// How long one Python process takes to parse every PFX of `files` with
/// the `cryptography` package (the loop alone, not the interpreter's start).
fn parse_in_one_process(files: &[PathBuf]) -> Duration {
    let script = r#"
import sys, time
from cryptography.hazmat.primitives.serialization import pkcs12
data = [open(f, "rb").read() for f in sys.argv[1:]]
t = time.perf_counter()
for d in data:
    key, cert, more = pkcs12.load_key_and_certificates(d, None)
    assert key is not None and cert is not None
print(time.perf_counter() - t)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "parsing the PFX files in Python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("seconds from python3");
    Duration::from_secs_f64(secs)
}

/// Orders a certificate from a CA that keeps it pending; returns once the
/// CA has the order (the worker then polls it in the background).
fn pending_order(m: &Mount, ca: &PendingCa) {
    fs::write(m.path("rsa4k/issuers/slowca.json"), ca.issuer_json()).expect("issuer file");
    let policy = r#"{"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=ordered.bench.example","sans":{"dns_names":["ordered.bench.example"]}},"issuer":{"name":"slowca"}}"#;
    create(&m.path("rsa4k"), "ordered", policy);
    let operation =
        fs::read_to_string(m.path("rsa4k/ordered/operation.json")).expect("operation.json");
    assert!(operation.contains("inProgress"), "{operation}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ca.requests.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the order never reached the CA");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Figure 6: latency of reading small files while RSA-4096 keys are made
/// and a CA order is pending, against the same files on tmpfs while the
/// same keys are made in-process.
pub fn latency(m: &Mount, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let ours = bench_paths(m, scale.read_files.min(20), "cert.pem");
    let theirs = copy_to(&ours, &tmpfs.path("small"));
    load::read_rate(&ours, 1, Duration::from_millis(50));
    fs::create_dir(m.path("rsa4k")).expect("mkdir rsa4k");
    let ca = PendingCa::start();
    pending_order(m, &ca);
    let vault = m.path("rsa4k");
    let busy = Background::start(2, move |t, round| {
        let name = format!("t{t}r{round}");
        create(&vault, &name, &rsa_policy(&name, 4096));
    });
    // One reader alternates between certfs and tmpfs: both under the same load.
    let [c, b] = load::read_latencies(&ours, &theirs, scale.latency_time);
    let made = busy.finish();
    let at = |s: &[u64], q| load::quantile(s, q) as f64 / 1e6;
    let note = format!(
        "{} and {} reads, alternating; certfs made {made} RSA-4096 certificates meanwhile \
         (2 at a time) with a CA order pending ({} CA requests); baseline: tmpfs, read at the same time",
        c.len(),
        b.len(),
        ca.requests.load(std::sync::atomic::Ordering::Relaxed)
    );
    vec![
        Line {
            name: "6  read latency p50, RSA-4096 creates + CA order".into(),
            certfs: at(&c, 0.5),
            baseline: Some(at(&b, 0.5)),
            unit: "ms",
            goal: Goal::None,
            note: String::new(),
        },
        Line {
            name: "6  read latency p99, RSA-4096 creates + CA order".into(),
            certfs: at(&c, 0.99),
            baseline: Some(at(&b, 0.99)),
            unit: "ms",
            goal: Goal::Below(5.0),
            note,
        },
    ]
}

/// Fills a store with `count` certificates of vault `vault` in tmpfs and copies it to `data`.
pub fn filled_store(tmpfs: &Scratch, data: &Path, vault: &str, count: usize) -> Duration {
    staged_store(tmpfs, data, vault, |db, key| {
        fill::fill(db, key, vault, count, crate::nproc());
    })
}

/// A store made by `fill(db, master key)` in tmpfs, copied to `data`.
pub fn staged_store(
    tmpfs: &Scratch,
    data: &Path,
    vault: &str,
    fill: impl FnOnce(&Path, &Path),
) -> Duration {
    let t = Instant::now();
    let staging = tmpfs.path(&format!("fill-{vault}"));
    fs::create_dir_all(&staging).expect("staging");
    fill(&staging.join("certfs.db"), &staging.join("master.key"));
    fs::create_dir_all(data).expect("data dir");
    for file in ["certfs.db", "master.key"] {
        fs::copy(staging.join(file), data.join(file)).expect("copy store");
    }
    let _ = fs::remove_dir_all(&staging);
    t.elapsed()
}

/// Figure 2: `stat` of every certificate directory and `ls -l` of a vault
/// of `scale.tree` certificates, against the same tree on tmpfs.
pub fn tree(disk: &Scratch, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let n = scale.tree;
    let data = disk.path("tree-data");
    filled_store(tmpfs, &data, "tenk", n);
    let mirror = tmpfs.path("tree");
    let rel: Vec<String> = (0..n).map(|i| format!("tenk/c{i}")).collect();
    let mut lines = Vec::new();

    // ls -l: the first run right after mounting (nothing cached), then repeats.
    let mut m = Mount::start(&data, &disk.path("tree-mnt"), Some("tenk"));
    // Cold is the kernel's caches, not a daemon busy with its first renewal survey.
    m.settle(Duration::from_secs(120));
    let ls = |dir: &Path| load::timed_command("ls", &[OsStr::new("-l"), dir.as_os_str()]);
    let ls_cold = ls(&m.path("tenk"));
    // Repeats come a while apart, as a monitor's do (longer than a 1 s cache lasts).
    let later = || std::thread::sleep(scale.pause);
    let mut ls_warm: Vec<f64> = (0..scale.passes)
        .map(|_| {
            later();
            ms(ls(&m.path("tenk")))
        })
        .collect();
    load::mirror_names(&m.path("tenk"), &mirror.join("tenk"), 1);
    m.stop();
    let mut ls_tmpfs: Vec<f64> = (0..scale.passes)
        .map(|_| ms(ls(&mirror.join("tenk"))))
        .collect();
    let ls_tmpfs = median(&mut ls_tmpfs);

    // stat: again from a fresh mount.
    let m = Mount::start(&data, &disk.path("tree-mnt"), Some("tenk"));
    m.settle(Duration::from_secs(120));
    let ours: Vec<PathBuf> = rel.iter().map(|r| m.path(r)).collect();
    let theirs: Vec<PathBuf> = rel.iter().map(|r| mirror.join(r)).collect();
    let stat_cold = load::stat_pass(&ours);
    let mut stat_warm: Vec<f64> = (0..scale.passes)
        .map(|_| {
            later();
            ms(load::stat_pass(&ours))
        })
        .collect();
    let mut stat_tmpfs: Vec<f64> = (0..scale.passes)
        .map(|_| ms(load::stat_pass(&theirs)))
        .collect();
    let stat_tmpfs = median(&mut stat_tmpfs);
    drop(m);

    let line = |name: String, certfs: f64, baseline: f64| Line {
        name,
        certfs,
        baseline: Some(baseline),
        unit: "ms",
        goal: Goal::RatioAtMost(3.0),
        note: String::new(),
    };
    lines.push(line(
        format!("2  stat {n} certificate dirs, first after mount"),
        ms(stat_cold),
        stat_tmpfs,
    ));
    lines.push(line(
        format!(
            "2  stat {n} certificate dirs, {:.1} s later",
            scale.pause.as_secs_f64()
        ),
        median(&mut stat_warm),
        stat_tmpfs,
    ));
    lines.push(line(
        format!("2  ls -l of a vault of {n}, first after mount"),
        ms(ls_cold),
        ls_tmpfs,
    ));
    let mut last = line(
        format!(
            "2  ls -l of a vault of {n}, {:.1} s later",
            scale.pause.as_secs_f64()
        ),
        median(&mut ls_warm),
        ls_tmpfs,
    );
    last.note = format!(
        "baseline: the same names on tmpfs; repeats {} times {:.1} s apart, median",
        scale.passes,
        scale.pause.as_secs_f64()
    );
    lines.push(last);
    lines
}

/// Figure 5: mount time and resident memory with a store of `scale.store`
/// certificates, against the same for an empty store.
pub fn big_store(disk: &Scratch, tmpfs: &Scratch, scale: &Scale) -> Vec<Line> {
    let n = scale.store;
    let empty = disk.path("empty-data");
    fs::create_dir_all(&empty).expect("empty data");
    let mut e = Mount::start(&empty, &disk.path("empty-mnt"), None);
    let (empty_time, empty_rss) = (e.ready_after, e.rss());
    e.stop();

    let data = disk.path("big-data");
    let filled = filled_store(tmpfs, &data, "big", n);
    let mut m = Mount::start(&data, &disk.path("big-mnt"), Some("big/c0/fullchain.pem"));
    let (time, rss) = (m.ready_after, m.rss());
    // What the daemon does by itself after mount (the renewal scheduler's
    // first pass over every certificate) is done, then a full listing.
    let settled = m.settle(Duration::from_secs(300));
    let rss_settled = m.rss();
    load::timed_command("ls", &[OsStr::new("-l"), m.path("big").as_os_str()]);
    let rss_listed = m.rss();
    m.stop();
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    vec![
        Line {
            name: format!("5  mount time, {n} certificates (until a read)"),
            certfs: ms(time),
            baseline: Some(ms(empty_time)),
            unit: "ms",
            goal: Goal::Below(1000.0),
            note: format!(
                "baseline: an empty store; the store was filled in {:.1} s by the bulk loader",
                filled.as_secs_f64()
            ),
        },
        Line {
            name: format!("5  resident memory after mount, {n} certificates"),
            certfs: mb(rss),
            baseline: Some(mb(empty_rss)),
            unit: "MB",
            goal: Goal::Below(150.0),
            note: String::new(),
        },
        Line {
            name: format!("5  resident memory when idle after mount, {n}"),
            certfs: mb(rss_settled),
            baseline: Some(mb(empty_rss)),
            unit: "MB",
            goal: Goal::Below(150.0),
            note: format!(
                "the daemon's background work after mount took {:.1} s",
                settled.as_secs_f64()
            ),
        },
        Line {
            name: format!("5  resident memory after ls -l of all {n}"),
            certfs: mb(rss_listed),
            baseline: Some(mb(empty_rss)),
            unit: "MB",
            goal: Goal::Below(150.0),
            note: "baseline: an empty store, mounted".into(),
        },
    ]
}
