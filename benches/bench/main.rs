//! certfs' performance benchmark (`scripts/bench.sh`, docs/performance.md): every figure of issue 8 against a baseline measured in the same run.
//!
//! Run by `cargo bench --bench bench`; `cargo test --all-targets` only
//! builds it (it exits at once without `--bench`). Counts follow
//! `BENCH_SCALE`: `full` (default), `smoke` (tiny: checks the harness
//! works, in seconds), or a factor of the full counts (`0.1`).
//! `BENCH_ONLY=read,tree,create,import,store,history,latency,servers` picks figures;
//! `BENCH_DIR` holds the stores (default: the temp dir, a disk here),
//! `BENCH_TMPFS` the baselines' copies (default `/dev/shm`).

mod ca;
mod figures;
mod fill;
mod history;
mod load;
mod mounts;
mod report;
mod servers;
mod serving_copy;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mounts::{Mount, Scratch};
use report::Line;

/// How much work each figure does.
pub struct Scale {
    /// Files read in figure 1 (and copied to tmpfs).
    pub read_files: usize,
    /// How long each read loop runs.
    pub read_time: Duration,
    /// Certificates of the vault in figure 2.
    pub tree: usize,
    /// Repeats of each pass in figure 2.
    pub passes: usize,
    /// Time between repeats in figure 2.
    pub pause: Duration,
    /// EC creates in figure 3a.
    pub ec_creates: usize,
    /// Threads creating in figure 3a.
    pub create_threads: usize,
    /// RSA creates (and raw key generations) in figure 3b.
    pub rsa_creates: usize,
    /// PFX imports in figure 4.
    pub imports: usize,
    /// Certificates in the store of figure 5.
    pub store: usize,
    /// How long latency is sampled in figure 6.
    pub latency_time: Duration,
    /// Versions of the certificate read first in figure 5b.
    pub history_versions: usize,
    /// Versions of each certificate of the store of figure 5c.
    pub versions_each: usize,
    /// Certificates HAProxy loads in figure 7.
    pub haproxy_certs: usize,
    /// `server` blocks of nginx in figure 7.
    pub nginx_servers: usize,
    /// Runs of each server figure (the median is shown).
    pub server_runs: usize,
}

impl Scale {
    fn from_env() -> (String, Scale) {
        let name = std::env::var("BENCH_SCALE").unwrap_or_else(|_| "full".into());
        let factor = match name.as_str() {
            "full" | "" => 1.0,
            "smoke" => 0.0,
            other => other.parse::<f64>().unwrap_or_else(|_| {
                eprintln!("BENCH_SCALE={other}: use full, smoke or a factor such as 0.1");
                std::process::exit(2)
            }),
        };
        let count = |full: usize, smoke: usize| ((full as f64 * factor) as usize).max(smoke);
        let time = |full: f64, smoke: f64| Duration::from_secs_f64((full * factor).max(smoke));
        let scale = Scale {
            read_files: count(100, 4),
            read_time: time(2.0, 0.2),
            tree: count(10_000, 50),
            passes: count(3, 2),
            pause: Duration::from_secs_f64(if factor == 0.0 { 0.05 } else { 2.0 }),
            ec_creates: count(1_000, 8),
            create_threads: 4,
            rsa_creates: count(120, 2),
            imports: count(1_000, 4),
            store: count(100_000, 200),
            latency_time: time(6.0, 0.3),
            history_versions: count(20_000, 20),
            versions_each: count(10, 3),
            haproxy_certs: count(2_000, 8),
            nginx_servers: count(500, 4),
            server_runs: count(5, 1).min(5),
        };
        (name, scale)
    }
}

/// The CPUs this process may use.
pub fn nproc() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{} CPUs ({cpu}), Linux {kernel}", nproc())
}

/// The date and time now, UTC (`date -u`).
fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn fs_type(dir: &std::path::Path) -> String {
    std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (scale_name, scale) = Scale::from_env();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |figure: &str| only.is_empty() || only.split(',').any(|f| f.trim() == figure);
    let disk_base = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmpfs_base = std::env::var_os("BENCH_TMPFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let disk = Scratch::new(&disk_base, "disk");
    let tmpfs = Scratch::new(&tmpfs_base, "tmpfs");
    let mut context = vec![
        format!(
            "scale: {scale_name}{}",
            if only.is_empty() {
                String::new()
            } else {
                format!(", only {only}")
            }
        ),
        format!("date: {}", now_utc()),
        format!("machine: {}", machine()),
        format!(
            "stores in {} ({}), baselines in {} ({})",
            disk.0.display(),
            fs_type(&disk.0),
            tmpfs.0.display(),
            fs_type(&tmpfs.0)
        ),
    ];
    println!("certfs benchmark");
    for c in &context {
        println!("{c}");
    }
    let started = Instant::now();
    let mut lines: Vec<Line> = Vec::new();
    let show = |new: Vec<Line>, lines: &mut Vec<Line>| {
        for l in &new {
            println!("{}", report::render(l));
        }
        lines.extend(new);
    };
    println!("{}", report::header());

    if ["create", "read", "import", "latency", "servers"]
        .iter()
        .any(|f| wanted(f))
    {
        let m = Mount::start(&disk.path("a-data"), &disk.path("a-mnt"), None);
        // The certificates the other figures read (or import from).
        let needed = [
            (wanted("read"), scale.read_files),
            (wanted("import"), scale.imports),
            (
                wanted("servers"),
                scale.haproxy_certs.max(scale.nginx_servers),
            ),
        ]
        .iter()
        .filter(|(w, _)| *w)
        .map(|(_, n)| *n)
        .fold(20, usize::max);
        let count = if wanted("create") {
            scale.ec_creates.max(needed)
        } else {
            needed
        };
        let ec = figures::ec_creates(&m, &scale, count);
        if wanted("create") {
            show(vec![ec], &mut lines);
            show(figures::rsa_creates(&m, scale.rsa_creates), &mut lines);
        }
        if wanted("read") {
            show(figures::reads(&m, &tmpfs, &scale), &mut lines);
        }
        if wanted("import") {
            show(
                vec![figures::imports(&m, &tmpfs, scale.imports)],
                &mut lines,
            );
        }
        if wanted("latency") {
            show(figures::latency(&m, &tmpfs, &scale), &mut lines);
        }
    }
    if wanted("read") || wanted("servers") {
        // The store of the mount above, mounted again with --export.
        let n = scale.haproxy_certs.max(scale.nginx_servers);
        let last = if wanted("servers") {
            n
        } else {
            scale.read_files
        }
        .max(1)
            - 1;
        let (m, export) = serving_copy::remount_with_copy(&disk, &tmpfs, last);
        if wanted("read") {
            show(serving_copy::reads(&export, &tmpfs, &scale), &mut lines);
        }
        if wanted("servers") {
            let copy = tmpfs.path("servers");
            servers::copy_certificates(&m.path("bench"), &copy, n);
            let base = servers::Source {
                label: "tmpfs",
                dir: copy,
                goal: 1.0,
            };
            let sources = [
                servers::Source {
                    label: "the mount",
                    dir: m.path("bench"),
                    goal: 1.3,
                },
                servers::Source {
                    label: "the serving copy",
                    dir: export.join("bench"),
                    goal: 1.05,
                },
            ];
            let runs = scale.server_runs;
            for (tool, figure) in [
                ("haproxy", servers::haproxy as servers::Figure),
                ("nginx", servers::nginx),
            ] {
                if servers::have(tool) {
                    let count = if tool == "haproxy" {
                        scale.haproxy_certs
                    } else {
                        scale.nginx_servers
                    };
                    show(figure(&tmpfs, &sources, &base, count, runs), &mut lines);
                } else {
                    println!("{tool} is not installed: its figure 7 lines are left out");
                }
            }
        }
        drop(m);
    }
    if wanted("tree") {
        show(figures::tree(&disk, &tmpfs, &scale), &mut lines);
    }
    if wanted("store") {
        show(figures::big_store(&disk, &tmpfs, &scale), &mut lines);
    }
    if wanted("history") {
        show(
            history::history(&disk, &tmpfs, scale.history_versions),
            &mut lines,
        );
        show(history::touched(&disk, &tmpfs, &scale), &mut lines);
    }

    println!();
    println!("summary ({:.0} s):", started.elapsed().as_secs_f64());
    println!("{}", report::header());
    for l in &lines {
        println!("{}", report::render(l).lines().next().unwrap_or_default());
    }
    let missed = lines.iter().filter(|l| l.pass() == Some(false)).count();
    // BENCH_REPORT: where the table goes as Markdown (scripts/bench.sh
    // names docs/bench/latest.md for a full run).
    if let Some(path) = std::env::var_os("BENCH_REPORT") {
        context.push(format!("took {:.0} s", started.elapsed().as_secs_f64()));
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("report directory");
        }
        std::fs::write(&path, report::markdown(&context, &lines)).expect("write the report");
        println!("report written to {}", path.display());
    }
    println!(
        "{} figures, {} PASS, {missed} MISS",
        lines.len(),
        lines.iter().filter(|l| l.pass() == Some(true)).count()
    );
}
