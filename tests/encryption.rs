//! Encryption at rest through the mount: private keys and issuer secrets never reach the database file in clear, the right master key serves everything again, another key (or a key file others can read) is refused with one clear line.

mod common;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use certfs::store::Store;
use certfs::store::encrypted::{
    EncryptedStore, KEY_CHECK_DOCUMENT, RESERVED_VAULT, is_sealed_document,
};
use certfs::store::master_key::MasterKey;
use certfs::store::seal::TEXT_PREFIX;
use certfs::store::sqlite::SqliteStore;
use common::{
    WEB_POLICY, certfs_bin, ec_policy, is_mounted, lazy_unmount, sh_ok, signal, wait_timeout,
};

/// The DigiCert API key written into an issuer file; must never be in the database.
const PWD: &str = "digi-API-key-7d1e0c55b2a94f3e";

/// How long certfs may take to mount or to refuse; only a hang detector.
const LIMIT: Duration = Duration::from_secs(30);

/// A `certfs mount` with chosen options and environment, stopped on drop.
struct Daemon {
    child: Option<Child>,
    mnt: PathBuf,
    log: PathBuf,
}

/// The command line of `certfs mount mnt --data data extra...`, without `$CREDENTIALS_DIRECTORY` unless given.
fn certfs(mnt: &Path, data: &Path, extra: &[&OsStr], credentials: Option<&Path>) -> Command {
    let mut cmd = Command::new(certfs_bin());
    cmd.arg("mount")
        .arg(mnt)
        .arg("--data")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "debug")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null());
    if let Some(dir) = credentials {
        cmd.env("CREDENTIALS_DIRECTORY", dir);
    }
    cmd
}

impl Daemon {
    /// Mounts and waits until the mount is there.
    fn start(mnt: &Path, data: &Path, extra: &[&OsStr], credentials: Option<&Path>) -> Daemon {
        let log = mnt.with_extension("log");
        let file = fs::File::create(&log).unwrap();
        let child = certfs(mnt, data, extra, credentials)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child: Some(child),
            mnt: mnt.to_path_buf(),
            log,
        };
        let deadline = Instant::now() + LIMIT;
        while !is_mounted(mnt) {
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("certfs exited with {status} before mounting:\n{}", d.logs());
            }
            assert!(Instant::now() < deadline, "no mount in time:\n{}", d.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait for a clean exit.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        signal(child.id(), libc::SIGTERM);
        let status = wait_timeout(&mut child, LIMIT).expect("certfs exits after SIGTERM");
        assert!(status.success(), "{status}\n{}", self.logs());
        assert!(!is_mounted(&self.mnt));
        self.logs()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if is_mounted(&self.mnt) {
            lazy_unmount(&self.mnt);
        }
    }
}

/// Runs a mount that must be refused: exit status 1, nothing mounted, the
/// last line of stderr says why; returns all of stderr.
fn refused(mnt: &Path, data: &Path, extra: &[&OsStr], credentials: Option<&Path>) -> String {
    // At the default log level, as a user sees it.
    let mut child = certfs(mnt, data, extra, credentials)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status: ExitStatus = wait_timeout(&mut child, LIMIT).unwrap_or_else(|| {
        let _ = child.kill();
        lazy_unmount(mnt);
        panic!("certfs should have refused to mount")
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!is_mounted(mnt));
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("certfs: "), "{stderr}");
    stderr
}

/// A work area: a mountpoint, a store directory, scratch space.
struct Area {
    dir: tempfile::TempDir,
}

impl Area {
    fn new() -> Area {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("mnt")).unwrap();
        fs::create_dir(dir.path().join("work")).unwrap();
        Area { dir }
    }
    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn db(&self) -> PathBuf {
        self.data().join("certfs.db")
    }
    /// The database and its side files, as they are on disk.
    fn database_bytes(&self) -> Vec<(String, Vec<u8>)> {
        ["", "-wal", "-shm", "-journal"]
            .iter()
            .filter_map(|suffix| {
                let name = format!("certfs.db{suffix}");
                fs::read(self.data().join(&name)).ok().map(|b| (name, b))
            })
            .collect()
    }
    /// Writes a key file of `content` with `mode`.
    fn key_file(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The private key of `prod/<cert>`, read through the mount, as PKCS#8 DER (openssl).
fn key_der(mnt: &Path, work: &Path, cert: &str) -> Vec<u8> {
    let out = work.join(format!("{cert}.der"));
    sh_ok(
        mnt,
        &format!(
            "openssl pkey -in prod/{cert}/privkey.pem -outform DER -out '{}'",
            out.display()
        ),
    );
    let der = fs::read(&out).unwrap();
    assert!(der.len() > 60 && der[0] == 0x30, "{cert}: not DER");
    der
}

/// What must not be in the database: each key's DER and its base64, the API key, any PEM key.
fn assert_no_secret_in(area: &Area, keys: &[(&str, Vec<u8>)]) {
    let files = area.database_bytes();
    assert!(files.iter().any(|(n, b)| n == "certfs.db" && !b.is_empty()));
    for (name, bytes) in &files {
        for (cert, der) in keys {
            assert!(!contains(bytes, der), "the key of {cert} is in {name}");
            let b64 = B64.encode(der);
            assert!(
                !contains(bytes, b64.as_bytes()),
                "the key of {cert} is in {name} as base64"
            );
        }
        assert!(!contains(bytes, PWD.as_bytes()), "the API key is in {name}");
        assert!(
            !contains(bytes, b"PRIVATE KEY"),
            "a PEM private key is in {name}"
        );
    }
}

/// Vault `prod` with an RSA and an EC certificate, an import, an Internal
/// issuer and a certificate it issued, and a DigiCert issuer with [`PWD`].
fn fill(d: &Daemon, work: &Path) {
    fs::create_dir(d.path("prod")).unwrap();
    fs::create_dir(d.path("prod/rsa")).unwrap();
    fs::write(d.path("prod/rsa/policy.json"), WEB_POLICY).unwrap();
    fs::create_dir(d.path("prod/ec")).unwrap();
    fs::write(d.path("prod/ec/policy.json"), ec_policy("ec.example.com")).unwrap();
    sh_ok(
        work,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout key.pem -out cert.pem \
         -days 30 -subj '/CN=site.example.com' 2>/dev/null && cat cert.pem key.pem > site.pem",
    );
    sh_ok(
        &d.mnt,
        &format!("cp '{}/site.pem' prod/import/", work.display()),
    );
    fs::write(
        d.path("prod/issuers/corp.json"),
        r#"{"provider":"Internal"}"#,
    )
    .unwrap();
    fs::create_dir(d.path("prod/internal")).unwrap();
    fs::write(
        d.path("prod/internal/policy.json"),
        ec_policy("internal.example.com").replace(r#""name":"Self""#, r#""name":"corp""#),
    )
    .unwrap();
    let digicert = format!(
        r#"{{"provider":"DigiCert","credentials":{{"account_id":"123456","pwd":"{PWD}"}},"org_details":{{"id":"7890"}}}}"#
    );
    fs::write(d.path("prod/issuers/digi.json"), digicert).unwrap();
}

const CERTS: [&str; 4] = ["rsa", "ec", "site", "internal"];

fn keys_through(d: &Daemon, work: &Path) -> Vec<(&'static str, Vec<u8>)> {
    CERTS
        .iter()
        .map(|c| (*c, key_der(&d.mnt, work, c)))
        .collect()
}

#[test]
fn keys_and_issuer_secrets_are_sealed_and_only_the_right_key_opens_them() {
    let area = Area::new();
    let (mnt, data, work) = (area.mnt(), area.data(), area.work());
    let d = Daemon::start(&mnt, &data, &[], None);
    fill(&d, &work);
    let keys = keys_through(&d, &work);
    let issuer_pem = fs::read(d.path("prod/issuers/corp.pem")).unwrap();
    let cert = work.join("rsa-cert.der");
    sh_ok(
        &d.mnt,
        &format!(
            "openssl x509 -in prod/rsa/cert.pem -outform DER -out '{}'",
            cert.display()
        ),
    );
    let cert = fs::read(cert).unwrap();
    let logs = d.stop();

    // The default master key: created 0600 on first use, and said so (its path, not its bytes).
    let master = data.join("master.key");
    let meta = fs::metadata(&master).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!(meta.len(), 32);
    assert!(logs.contains("created the master key"), "{logs}");
    assert!(logs.contains(&*master.to_string_lossy()), "{logs}");
    let key = fs::read(&master).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!logs.contains(&hex) && !logs.contains(&B64.encode(&key)));
    assert!(!logs.contains(PWD) && !logs.contains("PRIVATE KEY"));

    assert_no_secret_in(&area, &keys);
    // Certificates themselves stay readable: the RSA certificate is in the file.
    assert!(
        area.database_bytes()
            .iter()
            .any(|(_, b)| contains(b, &cert))
    );
    // The issuer documents, as the file holds them: sealed; the Internal CA's memory too.
    let raw = SqliteStore::open(&area.db()).unwrap().load().unwrap();
    let sealed: Vec<&str> = raw
        .documents
        .iter()
        .filter(|doc| is_sealed_document(&doc.key))
        .map(|doc| {
            assert!(doc.value.starts_with(TEXT_PREFIX), "{doc:?} is not sealed");
            doc.key.as_str()
        })
        .collect();
    for wanted in ["issuer/corp", "issuer/digi", "issuer-memory/corp"] {
        assert!(sealed.contains(&wanted), "{wanted} in {sealed:?}");
    }
    assert!(raw.versions.iter().all(|v| {
        v.key
            .as_ref()
            .is_none_or(|k| k.0.starts_with(b"certfs\x01"))
    }));

    // The right key serves everything again.
    let d = Daemon::start(&mnt, &data, &[], None);
    assert_eq!(keys_through(&d, &work), keys);
    assert_eq!(
        fs::read(d.path("prod/issuers/corp.pem")).unwrap(),
        issuer_pem
    );
    let digi = fs::read_to_string(d.path("prod/issuers/digi.json")).unwrap();
    assert!(digi.contains("\"123456\"") && !digi.contains(PWD), "{digi}");
    drop(d.stop());

    // Another key: one clear line, exit 1, nothing changed.
    // Compared as records: any open of SQLite may checkpoint its WAL, which moves bytes but changes nothing.
    let raw_records = || SqliteStore::open(&area.db()).unwrap().load().unwrap();
    let before = raw_records();
    let other = area.key_file("other.key", &[0x42; 32], 0o600);
    let err = refused(
        &mnt,
        &data,
        &[OsStr::new("--key-file"), other.as_os_str()],
        None,
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("certfs: the store was sealed with another master key: "),
        "{err}"
    );
    assert!(err.contains(&*other.to_string_lossy()), "{err}");
    assert!(
        raw_records() == before,
        "the refused mount changed the store"
    );
    let d = Daemon::start(&mnt, &data, &[], None);
    assert_eq!(keys_through(&d, &work), keys);
}

#[test]
fn a_key_file_open_to_others_is_refused_like_ssh_does() {
    let area = Area::new();
    let key = area.key_file("loose.key", &[7; 32], 0o644);
    let err = refused(
        &area.mnt(),
        &area.data(),
        &[OsStr::new("--key-file"), key.as_os_str()],
        None,
    );
    let err = err.lines().last().unwrap();
    assert!(
        err.contains("accessible by group or others (mode 0644)"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");
    // Nor a default master.key someone loosened.
    let area = Area::new();
    drop(Daemon::start(&area.mnt(), &area.data(), &[], None).stop());
    let master = area.data().join("master.key");
    fs::set_permissions(&master, fs::Permissions::from_mode(0o640)).unwrap();
    let err = refused(&area.mnt(), &area.data(), &[], None);
    assert!(err.contains("mode 0640"), "{err}");
    // A missing --key-file is not created.
    let missing = area.dir.path().join("missing.key");
    let err = refused(
        &area.mnt(),
        &area.data(),
        &[OsStr::new("--key-file"), missing.as_os_str()],
        None,
    );
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn a_key_file_in_hex_or_base64_mounts_and_without_it_the_store_is_refused() {
    let area = Area::new();
    let (mnt, data, work) = (area.mnt(), area.data(), area.work());
    let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let hex_file = area.key_file("hex.key", format!("{hex}\n").as_bytes(), 0o400);
    let b64_file = area.key_file(
        "b64.key",
        format!("{}\n", B64.encode(raw)).as_bytes(),
        0o600,
    );
    let flag = |p: &Path| -> Vec<OsString> { vec!["--key-file".into(), p.as_os_str().to_owned()] };
    let args = flag(&hex_file);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let d = Daemon::start(&mnt, &data, &args, None);
    fs::create_dir(d.path("prod")).unwrap();
    fs::create_dir(d.path("prod/ec")).unwrap();
    fs::write(d.path("prod/ec/policy.json"), ec_policy("ec.example.com")).unwrap();
    let key = key_der(&d.mnt, &work, "ec");
    drop(d.stop());
    assert!(
        !data.join("master.key").exists(),
        "no default key beside a --key-file"
    );
    assert_no_secret_in(&area, &[("ec", key.clone())]);

    // Without the key file, the store is not given a new default key.
    let err = refused(&mnt, &data, &[], None);
    assert!(err.contains("is missing"), "{err}");
    assert!(err.contains("--key-file"), "{err}");
    assert!(!data.join("master.key").exists());

    // The same key spelled in base64 opens it.
    let args = flag(&b64_file);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let d = Daemon::start(&mnt, &data, &args, None);
    assert_eq!(key_der(&d.mnt, &work, "ec"), key);
}

#[test]
fn a_systemd_credential_is_the_key_when_no_key_file_is_given() {
    let area = Area::new();
    let (mnt, data, work) = (area.mnt(), area.data(), area.work());
    let creds = area.dir.path().join("credentials");
    fs::create_dir(&creds).unwrap();
    area.key_file("credentials/certfs.key", &[0x33; 32], 0o400);
    let d = Daemon::start(&mnt, &data, &[], Some(&creds));
    fs::create_dir(d.path("prod")).unwrap();
    fs::create_dir(d.path("prod/ec")).unwrap();
    fs::write(d.path("prod/ec/policy.json"), ec_policy("ec.example.com")).unwrap();
    let key = key_der(&d.mnt, &work, "ec");
    drop(d.stop());
    assert!(!data.join("master.key").exists());
    let other = area.dir.path().join("other-credentials");
    fs::create_dir(&other).unwrap();
    area.key_file("other-credentials/certfs.key", &[0x34; 32], 0o400);
    let err = refused(&mnt, &data, &[], Some(&other));
    assert!(err.contains("sealed with another master key"), "{err}");
    assert!(err.contains("systemd credential"), "{err}");
    let d = Daemon::start(&mnt, &data, &[], Some(&creds));
    assert_eq!(key_der(&d.mnt, &work, "ec"), key);
}

#[test]
fn a_store_from_before_encryption_is_sealed_at_the_next_mount() {
    let area = Area::new();
    let (mnt, data, work) = (area.mnt(), area.data(), area.work());
    let d = Daemon::start(&mnt, &data, &[], None);
    fill(&d, &work);
    let keys = keys_through(&d, &work);
    drop(d.stop());
    // Write every secret back in clear, as a certfs from before encryption at rest stored it.
    let master: [u8; 32] = fs::read(data.join("master.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let clear = {
        let inner = SqliteStore::open(&area.db()).unwrap();
        let store = EncryptedStore::open(Box::new(inner), MasterKey::from_bytes(master)).unwrap();
        store.load().unwrap()
    };
    {
        let mut plain = SqliteStore::open(&area.db()).unwrap();
        for v in &clear.versions {
            let c = clear
                .certificates
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&v.certificate))
                .unwrap();
            plain.update_version(c, v).unwrap();
        }
        for doc in clear
            .documents
            .iter()
            .filter(|doc| is_sealed_document(&doc.key))
        {
            plain
                .put_document(&doc.vault, &doc.key, Some(&doc.value))
                .unwrap();
        }
        // An old store has no key check either.
        plain
            .put_document(RESERVED_VAULT, KEY_CHECK_DOCUMENT, None)
            .unwrap();
        plain.delete_vault(RESERVED_VAULT).unwrap();
    }
    let files = area.database_bytes();
    assert!(
        files.iter().any(|(_, b)| contains(b, &keys[0].1)),
        "the set-up put a clear key into the file"
    );
    assert!(files.iter().any(|(_, b)| contains(b, PWD.as_bytes())));

    let d = Daemon::start(&mnt, &data, &[], None);
    assert_eq!(keys_through(&d, &work), keys);
    let logs = d.stop();
    assert!(logs.contains("stored in clear"), "{logs}");
    assert_no_secret_in(&area, &keys);
}
