//! A storm of bad files through the mount: 10,000 random, truncated, mutated, oversized, empty and hostile files written from several threads into `import/`, a pending certificate's `merge/` and drafts' `policy.json`. The daemon stays up, every refused file is reported (errno and `.error`), nothing is half-imported, and the log holds no key material.
//!
//! `STORM_FILES` scales the count down (default 10,000, as issue 9 asks);
//! `STORM_SEED` replays a run.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod common;
#[path = "common/samples.rs"]
mod samples;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::fd::IntoRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Mount, sh_ok};
use samples::{PFX_PASSWORD, Samples, pbkdf2, pem_with_encrypted_key, scrypt};

const WRITERS: usize = 6;
/// Drafts each writer owns for its policy.json writes.
const DRAFTS: usize = 4;
const MIB: usize = 1 << 20;

fn file_count() -> usize {
    std::env::var("STORM_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A small deterministic generator (xorshift64*), so a run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a file holds, which decides what the vault must do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Random,
    Truncated,
    Mutated,
    Json,
    Empty,
    Oversized,
    /// An encrypted key whose derivation would run for an hour or ask for a PiB.
    Hostile,
    /// A whole, valid file: may be accepted.
    Valid,
}

/// Where a file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `prod/import/<stem>.<ext>`
    Import(String, &'static str),
    /// `prod/web/merge/<name>`
    Merge(String),
    /// `prod/<draft>/policy.json`
    Policy(String),
}

impl Target {
    fn rel(&self) -> String {
        match self {
            Target::Import(stem, ext) => format!("prod/import/{stem}.{ext}"),
            Target::Merge(name) => format!("prod/web/merge/{name}"),
            Target::Policy(draft) => format!("prod/{draft}/policy.json"),
        }
    }
}

/// One planned write.
struct Plan {
    target: Target,
    kind: Kind,
    bytes: Vec<u8>,
    /// Written first as `prod/import/<stem>.password`.
    password: Option<String>,
}

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    /// The errno of write() or close(), or 0 when `cp` said it failed.
    Refused(i32),
}

fn random_json(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 3 { 5 } else { 8 }) {
        0 => "null".into(),
        1 => [
            "true",
            "false",
            "-0",
            "1e999",
            "18446744073709551616",
            "-1",
            "0.5",
        ][rng.below(7)]
        .into(),
        2 => format!("{}", rng.next() as i64),
        3 => {
            let n = rng.below(12);
            format!("{:?}", String::from_utf8_lossy(&rng.bytes(n)))
        }
        4 => format!(
            "\"{}\"",
            [
                "CN=x", "RSA", "EC", "Self", "Unknown", "P-256", "", "CN=\\\"", "a@b"
            ][rng.below(9)]
        ),
        5 | 6 => {
            let n = rng.below(5);
            let members: Vec<String> = (0..n)
                .map(|_| {
                    let key = *rng.pick(&[
                        "key_props",
                        "keyProperties",
                        "kty",
                        "x509_props",
                        "subject",
                        "sans",
                        "dns_names",
                        "issuer",
                        "name",
                        "lifetime_actions",
                        "trigger",
                        "x",
                        "",
                    ]);
                    format!("\"{key}\": {}", random_json(rng, depth + 1))
                })
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        _ => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| random_json(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

/// JSON-looking garbage: random documents, valid JSON cut short, or with a character flipped.
fn json_garbage(rng: &mut Rng, s: &Samples) -> Vec<u8> {
    let mut text = random_json(rng, 0).into_bytes();
    match rng.below(3) {
        0 => {}
        1 => {
            let doc = &rng.pick(&s.policies).1;
            text = doc[..rng.below(doc.len())].to_vec();
        }
        _ => {
            let doc = &rng.pick(&s.documents).1;
            text = doc.clone();
            let at = rng.below(text.len());
            text[at] = *rng.pick(b"{}[],:\"\\0x");
        }
    }
    text
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            break;
        }
        let at = rng.below(out.len());
        match rng.below(3) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => out[at] = rng.next() as u8,
            _ => {
                let n = rng.below(16);
                let junk = rng.bytes(n);
                out.splice(at..at, junk);
            }
        }
    }
    out
}

fn truncate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    base[..rng.below(base.len())].to_vec()
}

fn oversized(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    // A real file padded (or random bytes) to just over 1 MiB, or a few MiB.
    let size = if rng.below(4) == 0 {
        MIB * (2 + rng.below(3))
    } else {
        MIB + 1 + rng.below(64 * 1024)
    };
    let mut out = if rng.below(2) == 0 {
        base.to_vec()
    } else {
        Vec::new()
    };
    while out.len() < size {
        out.extend(rng.bytes(4096));
    }
    out.truncate(size);
    out
}

fn choose_kind(rng: &mut Rng) -> Kind {
    match rng.below(100) {
        0..=24 => Kind::Truncated,
        25..=44 => Kind::Mutated,
        45..=69 => Kind::Random,
        70..=84 => Kind::Json,
        85..=89 => Kind::Empty,
        90..=92 => Kind::Oversized,
        93..=94 => Kind::Hostile,
        _ => Kind::Valid,
    }
}

/// The `i`th file of writer `w`.
fn plan(rng: &mut Rng, s: &Samples, w: usize, i: usize) -> Plan {
    let mut kind = choose_kind(rng);
    let which = rng.below(100);
    let (target, pool): (Target, Vec<Vec<u8>>) = if which < 45 {
        let ext = *rng.pick(&["pfx", "p12", "pem"]);
        let pool = s
            .pfx
            .iter()
            .chain(&s.pem_import)
            .map(|(_, b)| b.clone())
            .collect();
        (Target::Import(format!("s{w}n{i}"), ext), pool)
    } else if which < 80 {
        let ext = *rng.pick(&["cer", "crt", "pem", "der", "p7b", "p7c", "bin"]);
        if kind == Kind::Hostile {
            // merge/ reads no keys: a certificate for another key instead.
            kind = Kind::Valid;
        }
        let pool = s.merge.iter().map(|(_, b)| b.clone()).collect();
        (Target::Merge(format!("m{w}n{i}.{ext}")), pool)
    } else {
        if kind == Kind::Hostile {
            kind = Kind::Json;
        }
        let pool = s.policies.iter().map(|(_, b)| b.clone()).collect();
        (Target::Policy(format!("d{w}k{}", i % DRAFTS)), pool)
    };
    let base = rng.pick(&pool).clone();
    let mut password = None;
    let bytes = match kind {
        Kind::Random => {
            let n = rng.below(16 * 1024);
            rng.bytes(n)
        }
        Kind::Truncated => truncate(rng, &base),
        Kind::Mutated => mutate(rng, &base),
        Kind::Json => json_garbage(rng, s),
        Kind::Empty => Vec::new(),
        Kind::Oversized => oversized(rng, &base),
        Kind::Hostile => {
            let kdf = match rng.below(3) {
                0 => scrypt(1 << 40, 8, 1),
                1 => scrypt(1 << 22, 64, 4),
                _ => pbkdf2(u64::from(u32::MAX)),
            };
            password = Some("hostile".to_string());
            pem_with_encrypted_key(kdf, &s.file("ec.pem"))
        }
        Kind::Valid => match &target {
            // Any sample: the merge ones are certificates for another key,
            // refused; the policies create certificates (or are refused
            // for an issuer that is not configured).
            Target::Merge(_) => base,
            Target::Policy(draft) => {
                if rng.below(2) == 0 {
                    common::ec_policy(&format!("{draft}.example.com")).into_bytes()
                } else {
                    base
                }
            }
            Target::Import(..) => {
                let (label, bytes) =
                    rng.pick(&s.pfx.iter().chain(&s.pem_import).collect::<Vec<_>>());
                let needs_password = if label.starts_with("pem-") {
                    *label == "pem-ec-encrypted"
                } else {
                    !label.ends_with("nopass")
                };
                password = needs_password.then(|| PFX_PASSWORD.to_string());
                bytes.clone()
            }
        },
    };
    Plan {
        target,
        kind,
        bytes,
        password,
    }
}

/// Writes `bytes` to `path` and closes it, reporting the first errno of
/// open, write or close (std's `File` drops close()'s result, so the
/// descriptor is closed by hand).
fn write_and_close(path: &Path, bytes: &[u8]) -> Result<(), i32> {
    let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(-1);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(errno)?;
    let written = file.write_all(bytes).map_err(errno);
    let fd = file.into_raw_fd();
    // SAFETY: `fd` was just taken out of the File, which no longer owns it.
    let closed = unsafe { libc::close(fd) };
    let closed = if closed == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    };
    written.and(closed)
}

/// The `.error` report beside `rel`, once it is there (an empty file is
/// acted on at release, after close() returned). `None` after the bound.
fn error_report(mnt: &Path, rel: &str, wait: bool) -> Option<String> {
    let path = mnt.join(format!("{rel}.error"));
    let deadline = Instant::now() + Duration::from_secs(if wait { 30 } else { 0 });
    loop {
        if let Ok(text) = fs::read_to_string(&path) {
            return Some(text);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An `.error` report is Key Vault's `{"code": ..., "message": ...}`.
fn check_report(rel: &str, kind: Kind, len: usize, report: &str) {
    let value: serde_json::Value = serde_json::from_str(report)
        .unwrap_or_else(|e| panic!("{rel}.error is not JSON ({e}): {report}"));
    let code = value["code"].as_str().unwrap_or_default();
    let message = value["message"].as_str().unwrap_or_default();
    assert!(
        !code.is_empty() && !message.is_empty(),
        "{rel}.error: {report}"
    );
    if kind == Kind::Hostile {
        assert!(message.contains("too costly"), "{rel}.error: {report}");
    }
    if kind == Kind::Oversized {
        assert!(
            message.contains("1 MiB"),
            "{rel} (oversized, {len} bytes).error: {report}"
        );
    }
}

/// One file written, and how it ended.
struct Written {
    target: Target,
    kind: Kind,
    outcome: Outcome,
    /// A `.password` was written for it first.
    password: bool,
    /// It had no bytes.
    empty: bool,
}

impl Written {
    /// Refused at close, or (an empty file) at release.
    fn refused(&self) -> bool {
        self.outcome != Outcome::Accepted || self.empty
    }
}

/// The outcome of every file one writer wrote, checked as it went.
struct Tally {
    results: Vec<Written>,
}

/// Writes and checks the plans with std::fs, one at a time.
fn write_std(mnt: &Path, plans: Vec<Plan>, tally: &mut Tally) {
    for p in plans {
        let rel = p.target.rel();
        if let (Some(pw), Target::Import(stem, _)) = (&p.password, &p.target) {
            fs::write(mnt.join(format!("prod/import/{stem}.password")), pw).unwrap();
        }
        let outcome = match write_and_close(&mnt.join(&rel), &p.bytes) {
            Ok(()) => Outcome::Accepted,
            Err(errno) => Outcome::Refused(errno),
        };
        settle(mnt, &rel, &p, outcome, tally);
    }
}

/// Writes the plans with `cp` from a scratch directory, a batch per bash,
/// and checks them after each batch. Files with unique names only: a
/// draft's policy.json is rewritten within a batch, so those go through
/// [`write_std`] one at a time.
fn write_cp(mnt: &Path, scratch: &Path, plans: Vec<Plan>, tally: &mut Tally) {
    let (policies, plans): (Vec<Plan>, Vec<Plan>) = plans
        .into_iter()
        .partition(|p| matches!(p.target, Target::Policy(_)));
    write_std(mnt, policies, tally);
    for batch in plans.chunks(100) {
        let mut script = String::from("set +e\n");
        for (n, p) in batch.iter().enumerate() {
            fs::write(scratch.join(n.to_string()), &p.bytes).unwrap();
            if let (Some(pw), Target::Import(stem, _)) = (&p.password, &p.target) {
                fs::write(scratch.join(format!("{n}.pw")), pw).unwrap();
                script.push_str(&format!(
                    "cp {n}.pw '{}/prod/import/{stem}.password'\n",
                    mnt.display()
                ));
            }
            script.push_str(&format!(
                "cp {n} '{}/{}' 2>/dev/null; echo $?\n",
                mnt.display(),
                p.target.rel()
            ));
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(scratch)
            .output()
            .unwrap();
        let codes: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(
            codes.len(),
            batch.len(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (p, code) in batch.iter().zip(codes) {
            let outcome = if code == "0" {
                Outcome::Accepted
            } else {
                Outcome::Refused(0)
            };
            settle(mnt, &p.target.rel(), p, outcome, tally);
        }
    }
}

/// errnos a refusal may carry: bad content, too large, an operation in the way.
const REFUSALS: &[i32] = &[0, libc::EINVAL, libc::EFBIG, libc::EBUSY, libc::EEXIST];

/// Checks one file's report right after it was written, and records it.
fn settle(mnt: &Path, rel: &str, p: &Plan, outcome: Outcome, tally: &mut Tally) {
    match outcome {
        Outcome::Refused(errno) => {
            assert!(
                REFUSALS.contains(&errno),
                "{rel} ({:?}): refused with errno {errno} ({})",
                p.kind,
                std::io::Error::from_raw_os_error(errno)
            );
            let report = error_report(mnt, rel, false)
                .unwrap_or_else(|| panic!("{rel} ({:?}) was refused but has no .error", p.kind));
            check_report(rel, p.kind, p.bytes.len(), &report);
        }
        Outcome::Accepted if p.bytes.is_empty() => {
            // close() had nothing to act on; release() refuses it.
            let report =
                error_report(mnt, rel, true).unwrap_or_else(|| panic!("empty {rel} got no .error"));
            check_report(rel, p.kind, p.bytes.len(), &report);
        }
        Outcome::Accepted => {
            assert!(
                matches!(
                    p.kind,
                    Kind::Valid | Kind::Mutated | Kind::Truncated | Kind::Json
                ),
                "{rel}: a {:?} file was accepted",
                p.kind
            );
            if matches!(p.target, Target::Merge(_)) {
                panic!("{rel}: a merge of a certificate for another key was accepted");
            }
        }
    }
    tally.results.push(Written {
        target: p.target.clone(),
        kind: p.kind,
        outcome,
        password: p.password.is_some(),
        empty: p.bytes.is_empty(),
    });
}

/// Whether the daemon process is alive (not exited, not a zombie).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

fn mountpoint(mnt: &Path) -> bool {
    Command::new("mountpoint")
        .arg("-q")
        .arg(mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Every certificate directory in prod is whole or pending: where
/// `cert.pem` exists, `fullchain.pem` is cert + chain, `privkey.pem` holds
/// the certificate's key (`openssl x509 -pubkey` = `openssl pkey -pubout`)
/// and the chain verifies the leaf (`openssl verify`). Returns the names
/// OpenSSL found whole, and those whose certificate OpenSSL could not read
/// (see [`check_consistent`]).
fn check_certificates(m: &Mount) -> (BTreeSet<String>, BTreeSet<String>) {
    let script = r#"set -u
for d in */; do
  d=${d%/}
  case " import restore issuers deleted " in *" $d "*) continue;; esac
  if [ ! -e "$d/cert.pem" ]; then echo "PENDING $d"; continue; fi
  [ -s "$d/privkey.pem" ] || { echo "BAD $d no key"; continue; }
  cmp -s "$d/fullchain.pem" <(cat "$d/cert.pem" "$d/chain.pem") || { echo "BAD $d fullchain"; continue; }
  a=$(openssl x509 -in "$d/cert.pem" -noout -pubkey 2>/dev/null) || { echo "UNREADABLE $d"; continue; }
  b=$(openssl pkey -in "$d/privkey.pem" -pubout) || { echo "BAD $d key"; continue; }
  [ "$a" = "$b" ] || { echo "BAD $d key/cert mismatch"; continue; }
  if [ -s "$d/chain.pem" ]; then
    openssl verify -partial_chain -CAfile "$d/chain.pem" "$d/cert.pem" >/dev/null 2>&1 || { echo "UNREADABLE $d"; continue; }
  fi
  echo "WHOLE $d"
done"#;
    let out = sh_ok(&m.path("prod"), script);
    let bad: Vec<&str> = out.lines().filter(|l| l.starts_with("BAD")).collect();
    assert!(bad.is_empty(), "half-made certificates: {bad:?}");
    let names = |prefix: &str| {
        out.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(str::to_string)
            .collect()
    };
    (names("WHOLE "), names("UNREADABLE "))
}

/// For a certificate OpenSSL refuses to read (a damaged file whose damage
/// certfs' more lenient X.509 parser lets through): the stored key, leaf
/// and chain still belong together, as certfs' own reader sees them.
fn check_consistent(m: &Mount, name: &str) {
    let dir = m.path(&format!("prod/{name}"));
    let bundle = fs::read(dir.join("bundle.pem")).unwrap();
    let read = certfs::pki::import_formats::pem(&bundle, None).unwrap();
    let key = read.key.expect("bundle.pem has the key");
    let (leaf, chain) =
        certfs::pki::x509::leaf_and_chain(&key.public_key_der(), &read.certificates).unwrap();
    let der = |file: &str| -> Vec<Vec<u8>> {
        pem::parse_many(fs::read(dir.join(file)).unwrap())
            .unwrap()
            .into_iter()
            .map(|p| p.into_contents())
            .collect()
    };
    assert_eq!(vec![leaf], der("cert.pem"), "{name}: leaf");
    assert_eq!(chain, der("chain.pem"), "{name}: chain");
}

/// Text that would betray a private key or a password in the log.
fn secrets(s: &Samples) -> Vec<String> {
    let mut out = vec![
        // PEM armour: messages may name a block ("the EC PRIVATE KEY block
        // has no END line"), never quote one.
        "PRIVATE KEY-----".to_string(),
        "-----BEGIN".to_string(),
        PFX_PASSWORD.to_string(),
        "hostile".to_string(),
    ];
    let key_files = ["rsa.key", "ec.key"];
    for name in key_files {
        let text = String::from_utf8(s.file(name)).unwrap();
        out.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 32)
                .map(|l| l[..32].to_string()),
        );
    }
    for der in &s.keys_der {
        // The last 32 bytes hold private material in both forms (the RSA
        // CRT coefficient, the EC public point's tail is no secret but the
        // scalar sits just before it): look for any 24-byte window of the
        // DER past the header, in hex and as a Rust byte list.
        for window in der[der.len() / 2..].chunks(24).filter(|c| c.len() == 24) {
            out.push(window.iter().map(|b| format!("{b:02x}")).collect());
            out.push(window.iter().map(|b| format!("{b:02X}")).collect());
            out.push(
                window
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    out
}

/// Signs the pending `prod/web/request.csr` with the samples' issuing CA.
fn sign_pending(m: &Mount, s: &Samples) -> PathBuf {
    let dir = s.dir.path();
    let csr = dir.join("web.csr");
    fs::copy(m.path("prod/web/request.csr"), &csr).unwrap();
    samples::openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "web.csr",
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-set_serial",
            "77",
            "-days",
            "10",
            "-out",
            "web.pem",
        ],
    );
    dir.join("web.pem")
}

#[test]
fn a_storm_of_bad_files_leaves_the_daemon_up_and_every_file_reported() {
    let total = file_count();
    let seed: u64 = std::env::var("STORM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_5707);
    let s = Arc::new(Samples::make());
    let m = Mount::start();
    let mnt = m.mnt.clone();
    fs::create_dir(m.path("prod")).unwrap();
    // The pending certificate whose merge/ takes the storm.
    fs::create_dir(m.path("prod/web")).unwrap();
    fs::write(
        m.path("prod/web/policy.json"),
        r#"{"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=web.example.com"},"issuer":{"name":"Unknown"}}"#,
    )
    .unwrap();
    assert!(m.path("prod/web/request.csr").exists());
    for w in 0..WRITERS {
        for k in 0..DRAFTS {
            fs::create_dir(m.path(&format!("prod/d{w}k{k}"))).unwrap();
        }
    }

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    // Watch the daemon while the storm runs: alive and mounted, every 100 ms.
    let watcher = {
        let (done, mnt, pid) = (done.clone(), mnt.clone(), m.pid());
        std::thread::spawn(move || {
            let mut checks = 0usize;
            while !done.load(Ordering::SeqCst) {
                assert!(alive(pid), "the daemon died during the storm");
                assert!(mountpoint(&mnt), "the mount went away during the storm");
                checks += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            checks
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (s, mnt) = (s.clone(), mnt.clone());
            let count = total / WRITERS + usize::from(w < total % WRITERS);
            std::thread::spawn(move || {
                let mut rng = Rng(seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(w as u64 + 1)));
                let plans: Vec<Plan> = (0..count).map(|i| plan(&mut rng, &s, w, i)).collect();
                let mut tally = Tally {
                    results: Vec::new(),
                };
                if w == 0 {
                    let scratch = tempfile::tempdir().unwrap();
                    write_cp(&mnt, scratch.path(), plans, &mut tally);
                } else {
                    write_std(&mnt, plans, &mut tally);
                }
                tally
            })
        })
        .collect();
    // A hang detector: a writer stuck in the kernel shows up as a storm
    // that never ends.
    let deadline = started + Duration::from_secs(30 * 60);
    while writers.iter().any(|h| !h.is_finished()) {
        assert!(
            Instant::now() < deadline,
            "the storm did not finish:\n{}",
            tail(&m.logs())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let joined: Vec<_> = writers.into_iter().map(|h| h.join()).collect();
    done.store(true, Ordering::SeqCst);
    let watched = watcher.join();
    if joined.iter().any(Result::is_err) || watched.is_err() {
        let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join("storm-failure.log");
        fs::write(&saved, m.logs()).unwrap();
        panic!(
            "the storm failed (messages above); daemon alive: {}; its log: {}",
            alive(m.pid()),
            saved.display()
        );
    }
    let watched = watched.unwrap();
    let results: Vec<Written> = joined
        .into_iter()
        .flat_map(|r| r.unwrap().results)
        .collect();
    assert_eq!(results.len(), total);
    let elapsed = started.elapsed();

    // Still answering: a new certificate made whole, and the pending one,
    // after thousands of refused merges, still merges.
    assert!(mountpoint(&mnt));
    fs::create_dir(m.path("prod/after")).unwrap();
    fs::write(
        m.path("prod/after/policy.json"),
        common::ec_policy("after.example.com"),
    )
    .unwrap();
    let signed = sign_pending(&m, &s);
    fs::copy(&signed, m.path("prod/web/merge/signed.pem")).unwrap();

    // Every import: refused ones left no certificate, accepted ones are whole.
    let (whole, unreadable) = check_certificates(&m);
    assert!(
        whole.contains("after") && whole.contains("web"),
        "{whole:?}"
    );
    let mut by_kind: BTreeMap<(Kind, bool), usize> = BTreeMap::new();
    let mut imported = BTreeSet::new();
    let mut reports: BTreeSet<String> = BTreeSet::new();
    let mut passwords_kept: BTreeSet<String> = BTreeSet::new();
    for w in &results {
        *by_kind.entry((w.kind, !w.refused())).or_default() += 1;
        if let Target::Import(stem, ext) = &w.target {
            if w.refused() {
                assert!(
                    !m.path(&format!("prod/{stem}")).exists(),
                    "refused import {stem} left a certificate"
                );
                reports.insert(format!("{stem}.{ext}.error"));
                if w.password {
                    // Kept for another try until an import of the name succeeds (or rm).
                    passwords_kept.insert(format!("{stem}.password"));
                }
            } else {
                imported.insert(stem.clone());
            }
        }
    }
    let whole_imports: BTreeSet<String> = whole
        .iter()
        .chain(&unreadable)
        .filter(|n| n.starts_with('s'))
        .cloned()
        .collect();
    if whole_imports != imported {
        let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join("storm-failure.log");
        fs::write(&saved, m.logs()).unwrap();
        let odd: Vec<String> = imported
            .symmetric_difference(&whole_imports)
            .map(|n| {
                let w = results
                    .iter()
                    .find(|w| matches!(&w.target, Target::Import(s, _) if s == n));
                let listing = fs::read_dir(m.path(&format!("prod/{n}")))
                    .map(|d| {
                        d.map(|e| e.unwrap().file_name().into_string().unwrap())
                            .collect::<Vec<_>>()
                    })
                    .ok();
                format!(
                    "{n}: {:?} {:?} password {:?}; lists {listing:?}",
                    w.map(|w| w.kind),
                    w.map(|w| w.outcome),
                    w.map(|w| w.password)
                )
            })
            .collect();
        panic!(
            "accepted imports are not exactly the whole s* certificates: {odd:#?}; log in {}",
            saved.display()
        );
    }
    // Only damaged files can give a certificate OpenSSL cannot read, and
    // even those are stored whole.
    let damaged: BTreeSet<String> = results
        .iter()
        .filter(|w| !w.refused() && matches!(w.kind, Kind::Mutated | Kind::Truncated))
        .filter_map(|w| match &w.target {
            Target::Import(stem, _) => Some(stem.clone()),
            _ => None,
        })
        .collect();
    for name in &unreadable {
        assert!(damaged.contains(name), "{name}: OpenSSL cannot read it");
        check_consistent(&m, name);
    }
    // The drop-boxes hold one report per refused file, and no dropped file.
    let listing = |dir: &str| -> BTreeSet<String> {
        fs::read_dir(m.path(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    let expected: BTreeSet<String> = reports.union(&passwords_kept).cloned().collect();
    assert_eq!(listing("prod/import"), expected, "import/ after the storm");
    let merge_reports: BTreeSet<String> = results
        .iter()
        .filter_map(|w| match &w.target {
            Target::Merge(name) => Some(format!("{name}.error")),
            _ => None,
        })
        .collect();
    assert_eq!(
        listing("prod/web/merge"),
        merge_reports,
        "merge/ after the storm"
    );
    // The refusals covered every kind of bad file, and some valid ones got in.
    for kind in [
        Kind::Random,
        Kind::Truncated,
        Kind::Mutated,
        Kind::Json,
        Kind::Empty,
        Kind::Oversized,
    ] {
        assert!(
            by_kind.get(&(kind, false)).copied().unwrap_or(0) > 0 || total < 1000,
            "{kind:?}: {by_kind:?}"
        );
    }
    assert!(!imported.is_empty() || total < 1000, "{by_kind:?}");

    // The log names refusals but never a key or a password.
    let log = m.logs();
    for secret in secrets(&s) {
        if let Some(line) = log.lines().find(|l| l.contains(&secret)) {
            panic!("the log holds {secret:?}: {line}");
        }
    }
    eprintln!(
        "storm: {total} files by {WRITERS} writers in {elapsed:?}, daemon checked {watched} times; \
         outcomes (kind, accepted) {by_kind:?}; {} certificates whole, {} from damaged files \
         that OpenSSL does not read ({unreadable:?})",
        whole.len(),
        unreadable.len()
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
