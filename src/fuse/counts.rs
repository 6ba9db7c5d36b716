//! [`Counts`]: how many FUSE requests of each kind a reader's work cost — the figure behind "requests per open" in the benchmark.
//!
//! Always counted (one relaxed atomic add per request); written as text,
//! `<kind> <count>` a line after a `dump <n>` line, to the file named by
//! `CERTFS_REQUEST_COUNTS` each time the daemon gets SIGUSR1.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use signal_hook::consts::SIGUSR1;
use signal_hook::iterator::Signals;

/// The environment variable naming where counts are written on SIGUSR1.
pub const COUNTS_FILE: &str = "CERTFS_REQUEST_COUNTS";

/// Writes `counts` to `path` each time the process gets SIGUSR1, from a
/// thread of its own that lives as long as the process.
pub fn dump_on_signal(counts: Arc<Counts>, path: PathBuf) -> io::Result<()> {
    let mut signals = Signals::new([SIGUSR1])?;
    std::thread::Builder::new()
        .name("certfs-counts".into())
        .spawn(move || {
            for _ in signals.forever() {
                if let Err(e) = counts.write_to(&path) {
                    log::warn!("request counts to {}: {e}", path.display());
                }
            }
        })?;
    Ok(())
}

/// The kinds of request counted: what readers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `LOOKUP`: a name not in the kernel's cache.
    Lookup,
    /// `GETATTR`: attributes not in the kernel's cache.
    Getattr,
    /// `OPEN`.
    Open,
    /// `READ`: bytes not in the page cache.
    Read,
    /// `FLUSH`: a close.
    Flush,
    /// `RELEASE`: the last close, asynchronous.
    Release,
    /// `FORGET`: the kernel dropped an inode, asynchronous.
    Forget,
    /// `OPENDIR`, `READDIR`, `READDIRPLUS`, `RELEASEDIR`.
    Listing,
    /// `ACCESS` and `STATFS`.
    Other,
}

impl Op {
    const ALL: [Op; 9] = [
        Op::Lookup,
        Op::Getattr,
        Op::Open,
        Op::Read,
        Op::Flush,
        Op::Release,
        Op::Forget,
        Op::Listing,
        Op::Other,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Lookup => "lookup",
            Op::Getattr => "getattr",
            Op::Open => "open",
            Op::Read => "read",
            Op::Flush => "flush",
            Op::Release => "release",
            Op::Forget => "forget",
            Op::Listing => "listing",
            Op::Other => "other",
        }
    }
}

/// Requests answered so far, by kind.
#[derive(Default)]
pub struct Counts {
    by_op: [AtomicU64; Op::ALL.len()],
    dumps: AtomicU64,
}

impl Counts {
    /// Counts one request of kind `op`.
    pub fn add(&self, op: Op) {
        self.by_op[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts as text, numbered `dump`.
    pub fn render(&self, dump: u64) -> String {
        let mut text = format!("dump {dump}\n");
        for op in Op::ALL {
            let n = self.by_op[op as usize].load(Ordering::Relaxed);
            text.push_str(&format!("{} {n}\n", op.name()));
        }
        text
    }

    /// Writes the counts to `path` whole (a new file renamed over it).
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let dump = self.dumps.fetch_add(1, Ordering::Relaxed) + 1;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.render(dump))?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_by_kind_with_a_dump_number() {
        let counts = Counts::default();
        counts.add(Op::Open);
        counts.add(Op::Open);
        counts.add(Op::Lookup);
        let text = counts.render(3);
        assert!(text.starts_with("dump 3\n"), "{text}");
        assert!(
            text.contains("\nopen 2\n") && text.contains("\nlookup 1\n"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counts");
        counts.write_to(&path).unwrap();
        counts.write_to(&path).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with("dump 2\n"), "{written}");
    }
}
