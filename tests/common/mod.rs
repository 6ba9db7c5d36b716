//! Test harness: a real certfs mounted in a temporary folder, unmounted on drop, and helpers to drive it with real tools.
#![allow(dead_code)]
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

pub mod nginx;
pub mod operations;
pub mod postgres;
pub mod require;
pub mod smtp;
pub mod users;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `certfs mount` on a temporary mountpoint.
pub struct Mount {
    /// Holds the mountpoint, the store and the log.
    pub root: tempfile::TempDir,
    /// The mountpoint.
    pub mnt: PathBuf,
    /// The store directory (`--data`).
    pub data: PathBuf,
    log: PathBuf,
    /// More `certfs mount` options, kept for remounts.
    args: Vec<String>,
    child: Option<Child>,
}

/// The store of a test mount that names none: the default SQLite store in
/// `--data`, or, with `CERTFS_TEST_STORE=postgres`, a new database of the
/// test process's PostgreSQL server (`scripts/test.sh` runs the suites of
/// the tree's behaviour both ways). A remount keeps the same store.
fn default_store() -> Vec<String> {
    match std::env::var("CERTFS_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let server = postgres::PgServer::shared();
            let db = server.create_database();
            vec!["--store".into(), server.url(&db)]
        }
        Ok("sqlite") | Err(_) => Vec::new(),
        Ok(other) => panic!("CERTFS_TEST_STORE={other}: sqlite or postgres"),
    }
}

/// The certfs binary under test.
pub fn certfs_bin() -> &'static str {
    env!("CARGO_BIN_EXE_certfs")
}

/// Whether a FUSE filesystem is mounted at `mnt` (as this process sees it).
pub fn is_mounted(mnt: &Path) -> bool {
    let target = mnt.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(4) == Some(target.as_str()) && l.contains(" - fuse"))
        })
        .unwrap_or(false)
}

impl Mount {
    /// Mounts certfs with a new, empty store.
    pub fn start() -> Mount {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        Self::start_in(root, data)
    }

    /// Mounts certfs with a new, empty store and more options (`--smtp URL`, ...).
    pub fn start_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Mount {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let args = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        Self::start_in_with(root, data, args)
    }

    /// Mounts certfs on a new mountpoint with the store in `data` (kept by the caller).
    pub fn start_with_data(data: &Path) -> Mount {
        let root = tempfile::tempdir().expect("tempdir");
        Self::start_in(root, data.to_path_buf())
    }

    /// Mounts certfs with a new, empty store and more options (`--allow-other`, ...);
    /// `{root}` in an argument is replaced by the test's temporary directory.
    pub fn start_with_args(args: &[&str]) -> Mount {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let args = args
            .iter()
            .map(|a| a.replace("{root}", &root.path().display().to_string()))
            .collect();
        Self::start_in_with(root, data, args)
    }

    /// Mounts certfs on a new mountpoint with `--store URL` (and a `--data` of its own for backup.key).
    pub fn start_with_store(url: &str) -> Mount {
        Self::start_with_args(&["--store", url])
    }

    fn start_in(root: tempfile::TempDir, data: PathBuf) -> Mount {
        Self::start_in_with(root, data, Vec::new())
    }

    fn start_in_with(root: tempfile::TempDir, data: PathBuf, mut args: Vec<String>) -> Mount {
        if !args.iter().any(|a| a == "--store") {
            args.extend(default_store());
        }
        let mnt = root.path().join("mnt");
        fs::create_dir_all(&mnt).expect("mkdir mnt");
        let log = root
            .path()
            .join(format!("certfs-{}.log", std::process::id()));
        let mut m = Mount {
            root,
            mnt,
            data,
            log,
            args,
            child: None,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(certfs_bin())
            .arg("mount")
            .arg(&self.mnt)
            .arg("--data")
            .arg(&self.data)
            .args(&self.args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn certfs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(&self.mnt) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "certfs exited with {status} before mounting:\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "certfs did not mount in time:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// Everything certfs logged so far.
    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Makes the renewal scheduler look at every certificate (SIGHUP, as
    /// `systemctl reload` does) and waits until a whole pass that began
    /// after this call has ended (`metrics.prom`'s
    /// `certfs_renewal_last_pass_timestamp_seconds`): what the scheduler
    /// has not done by then, it looked at and decided not to do.
    pub fn renewal_pass(&self) {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        signal(self.pid(), libc::SIGHUP);
        wait_until_with("a renewal pass begun after SIGHUP", &|| self.logs(), || {
            last_renewal_pass(self).is_some_and(|at| at >= since)
        });
    }

    /// SIGTERM, wait for a clean exit; returns the exit status and checks the mount is gone.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), libc::SIGTERM);
        let status = wait_timeout(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
            kill_daemon(&mut child, &self.mnt);
            panic!("certfs did not exit after SIGTERM:\n{}", self.logs())
        });
        assert!(!is_mounted(&self.mnt), "still mounted after SIGTERM");
        status
    }

    /// `kill -9` the daemon and clear the dead mount.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            assert!(
                kill_daemon(&mut child, &self.mnt),
                "certfs did not exit after kill -9 and an abort of its connection"
            );
        }
        lazy_unmount(&self.mnt);
    }

    /// Stops (SIGTERM) and mounts again on the same mountpoint and store.
    pub fn remount(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn();
    }

    /// Waits for the daemon to exit by itself (after an external umount).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let status = wait_timeout(&mut child, limit);
        if status.is_none() {
            self.child = Some(child);
        }
        status
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
                kill_daemon(&mut child, &self.mnt);
            }
        }
        if is_mounted(&self.mnt) {
            lazy_unmount(&self.mnt);
        }
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid we spawned; no memory is touched.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// The kernel's FUSE connection number of the filesystem mounted at `mnt`
/// (the minor device number in `/proc/self/mountinfo`; read without
/// touching the mount, which may be dead).
fn fuse_connection(mnt: &Path) -> Option<String> {
    let target = mnt.to_string_lossy().to_string();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(target.as_str()) && l.contains(" - fuse"))
        .and_then(|l| l.split(' ').nth(2))
        .and_then(|dev| dev.split_once(':'))
        .map(|(_, minor)| minor.to_string())
}

/// Aborts FUSE connection `id` through the fusectl filesystem (mounted
/// first if it is not): every request waiting on it fails with ENOTCONN.
fn abort_connection(id: &str) {
    let connections = Path::new("/sys/fs/fuse/connections");
    if !connections.join(id).exists() {
        let _ = Command::new("mount")
            .args(["-t", "fusectl", "fusectl"])
            .arg(connections)
            .stderr(Stdio::null())
            .status();
    }
    let _ = fs::write(connections.join(id).join("abort"), "1");
}

/// `kill -9` a certfs daemon mounted at `mnt` and reap it.
///
/// A daemon killed while one of its threads tells the kernel to drop a
/// cached name (`inval_entry`, which takes the directory's lock) can be
/// left a zombie for good: that thread waits uninterruptibly for the lock,
/// held by a process whose request the dead daemon will never answer, and
/// the kernel aborts the connection only once every thread is gone. The
/// administrator's way out, as here, is aborting the connection
/// (docs/deployment.md). Returns whether the daemon is gone.
pub fn kill_daemon(child: &mut Child, mnt: &Path) -> bool {
    let connection = fuse_connection(mnt);
    signal(child.id(), libc::SIGKILL);
    if wait_timeout(child, Duration::from_secs(5)).is_some() {
        return true;
    }
    eprintln!("certfs did not exit on kill -9: aborting its FUSE connection");
    if let Some(id) = &connection {
        abort_connection(id);
    }
    wait_timeout(child, Duration::from_secs(30)).is_some()
}

/// Waits up to `limit` for `child` to exit.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Unmounts a (possibly dead) FUSE mount.
pub fn lazy_unmount(mnt: &Path) {
    let _ = Command::new("fusermount3")
        .arg("-uz")
        .arg(mnt)
        .stderr(Stdio::null())
        .status();
    if is_mounted(mnt) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(mnt)
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `bash -c script` in `dir`; returns its output.
pub fn sh_in(dir: &Path, script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run bash")
}

/// Runs `bash -c script` in `dir` and asserts it succeeded; returns stdout.
pub fn sh_ok(dir: &Path, script: &str) -> String {
    let out = sh_in(dir, script);
    assert!(
        out.status.success(),
        "script failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `bash -c script` in `dir` and asserts it failed; returns stderr.
pub fn sh_err(dir: &Path, script: &str) -> String {
    let out = sh_in(dir, script);
    assert!(
        !out.status.success(),
        "script should have failed:\n{script}\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What a completed certificate directory lists, sorted, and nothing else.
pub const CERT_FILES: &[&str] = &[
    "attributes.json",
    "backup.blob",
    "bundle.pem",
    "cert.cer",
    "cert.pem",
    "cert.pfx",
    "chain.pem",
    "fullchain.pem",
    "hooks.json",
    "merge",
    "policy.json",
    "privkey.pem",
    "status.json",
    "tags.json",
    "versions",
];

/// certfs' own entries of the mount root: the certbot view and the metrics.
pub const ROOT_OWN: &[&str] = &["live", "metrics.prom"];

/// certfs' own entries of a vault directory: its drop-box, issuers, deleted certificates, settings, contacts.
pub const VAULT_OWN: &[&str] = &[
    "contacts.json",
    "deleted",
    "import",
    "issuers",
    "restore",
    "vault.json",
];

/// The sorted names in `dir`, without certfs' own entries of a vault ([`VAULT_OWN`]).
pub fn certificates_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !VAULT_OWN.contains(&n.as_str()) && !ROOT_OWN.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    require::find_tool(program).is_some()
}

/// The issue's example policy: RSA 2048, a subject with a quoted comma, one DNS SAN, Self.
pub const WEB_POLICY: &str = r#"{"key_props":{"kty":"RSA","key_size":2048,"exportable":true,"reuse_key":false},
 "x509_props":{"subject":"CN=web.example.com, O=\"Contoso, Inc.\"","sans":{"dns_names":["web.example.com"]},"validity_months":12},
 "issuer":{"name":"Self"}}"#;

/// A fast EC P-256 self-signed policy for `cn`.
pub fn ec_policy(cn: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},"x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}"]}}}},"issuer":{{"name":"Self"}}}}"#
    )
}

/// A root and an intermediate CA made by openssl in `dir`.
pub fn make_test_ca(dir: &Path) {
    sh_ok(
        dir,
        r#"set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
  -subj "/CN=Test Root CA" -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr -subj "/CN=Test Issuing CA" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem -days 30 -extfile ca.ext 2>/dev/null
"#,
    );
}

/// Signs `csr` with the intermediate CA, copying the requested extensions; writes `out`.
pub fn sign_csr(dir: &Path, csr: &Path, out: &str) {
    sh_ok(
        dir,
        &format!(
            "openssl x509 -req -in '{}' -CA int.pem -CAkey int.key -CAcreateserial -out {out} -days 20 -copy_extensions copy 2>/dev/null",
            csr.display()
        ),
    );
}

/// Writes a 32-byte master key file (mode 0600, filled with `byte`) into
/// `dir`, as every daemon of a fleet needs the same one; returns its path.
pub fn master_key_file(dir: &Path, byte: u8) -> String {
    let key_file = dir.join("master.key");
    fs::write(&key_file, [byte; 32]).unwrap();
    fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    key_file.display().to_string()
}

/// Copies each `(source, target)` with a `cp` process of its own, all
/// running at once; asserts that every one succeeded (`cp` checks close()).
pub fn cp_at_once(copies: &[(PathBuf, PathBuf)]) {
    let children: Vec<Child> = copies
        .iter()
        .map(|(source, target)| {
            Command::new("cp")
                .arg(source)
                .arg(target)
                .spawn()
                .expect("cp")
        })
        .collect();
    for (mut child, (_, target)) in children.into_iter().zip(copies) {
        let status = child.wait().expect("cp");
        assert!(status.success(), "cp to {}: {status}", target.display());
    }
}

/// The JSON document in the file at `path` (panics naming the file).
pub fn json_file(path: &Path) -> serde_json::Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How long a wait may last before the test is taken for hung: a hang
/// detector, never a timing assertion (a slow machine only waits longer).
pub const HANG: Duration = Duration::from_secs(60);

/// When the renewal scheduler's last whole pass began, in microseconds
/// since the epoch, as `metrics.prom` says (`None` before the first).
fn last_renewal_pass(m: &Mount) -> Option<u128> {
    let text = fs::read_to_string(m.path("metrics.prom")).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("certfs_renewal_last_pass_timestamp_seconds "))?;
    let (secs, micros) = value.split_once('.')?;
    Some(secs.parse::<u128>().ok()? * 1_000_000 + micros.parse::<u128>().ok()?)
}

/// The suites' one wait: polls `check` every 20 ms until it gives a
/// value, which it returns; past [`HANG`] it panics naming `what`, with
/// `context()` (a daemon's log, say).
pub fn wait_for_with<T>(
    what: &str,
    context: &dyn Fn() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < HANG,
            "timed out waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for_with`] without context.
pub fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_for_with(what, &String::new, check)
}

/// Waits until `check` holds (see [`wait_for_with`]).
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    wait_for(what, || check().then_some(()));
}

/// Waits until `check` holds, with `context()` on a hang; how long it
/// took (for a test to print, never to assert on).
pub fn wait_until_with(
    what: &str,
    context: &dyn Fn() -> String,
    mut check: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    wait_for_with(what, context, || check().then_some(()));
    start.elapsed()
}

/// Whether the private key in `key_pem` (PKCS#8, EC) is the key of the first certificate of `chain_pem`.
pub fn pair_matches(key_pem: &[u8], chain_pem: &[u8]) -> bool {
    let key = pem_block(key_pem, "PRIVATE KEY");
    let cert = pem_block(chain_pem, "CERTIFICATE");
    let (Some(key), Some(cert)) = (key, cert) else {
        return false;
    };
    let key = certfs::pki::key::PrivateKey::from_pkcs8_der(&key).unwrap();
    let info = certfs::pki::x509::inspect(&cert).unwrap();
    key.public_key_der() == info.public_key_der
}

pub fn pem_block(text: &[u8], label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(text).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// What [`read_pairs`] saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct PairsRead {
    /// Key and certificate pairs read with no switch between them.
    pub checked: usize,
    /// Of those, pairs whose key is not the certificate's.
    pub mismatched: usize,
    /// `bundle.pem`s mixing versions, or a `fullchain.pem` cut short.
    pub torn: usize,
}

/// Reads `privkey.pem`, `fullchain.pem`, `privkey.pem` again and
/// `bundle.pem` in `dir` over and over on 3 threads until `stop` is set
/// (by `switches`, which runs meanwhile); what they saw, summed. A pair
/// read between two reads of the same key saw no switch in between: it
/// must match.
pub fn read_pairs_during(dir: &Path, switches: impl FnOnce()) -> PairsRead {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (dir, stop) = (dir.to_path_buf(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = PairsRead::default();
                while !stop.load(Ordering::Relaxed) {
                    let k1 = fs::read(dir.join("privkey.pem")).unwrap();
                    let chain = fs::read(dir.join("fullchain.pem")).unwrap();
                    let k2 = fs::read(dir.join("privkey.pem")).unwrap();
                    let bundle = fs::read(dir.join("bundle.pem")).unwrap();
                    if !pair_matches(&bundle, &bundle)
                        || !chain.ends_with(b"-----END CERTIFICATE-----\n")
                    {
                        seen.torn += 1;
                    }
                    if k1 == k2 {
                        seen.checked += 1;
                        if !pair_matches(&k1, &chain) {
                            seen.mismatched += 1;
                        }
                    }
                }
                seen
            })
        })
        .collect();
    switches();
    stop.store(true, Ordering::Relaxed);
    let mut all = PairsRead::default();
    for r in readers {
        let seen = r.join().unwrap();
        all.checked += seen.checked;
        all.mismatched += seen.mismatched;
        all.torn += seen.torn;
    }
    all
}
