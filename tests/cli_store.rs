//! `certfs mount --store URL`: a SQLite file elsewhere, a PostgreSQL database (create, read, remount, two daemons on one database), refusals in one line that never show a password.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod common;

use std::ffi::OsStr;
use std::fs;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::postgres::PgServer;
use common::require::{missing, require_root, require_tool};
use common::{Mount, certfs_bin, ec_policy, sh_ok, wait_timeout};

/// Runs `certfs args` with `env`; it must finish within 30 s (a refusal, not a mount).
fn certfs(args: &[&OsStr], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(certfs_bin());
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("CERTFS_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("spawn certfs");
    if wait_timeout(&mut child, Duration::from_secs(30)).is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "certfs {args:?} did not finish (it probably mounted):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.wait_with_output().unwrap()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Asserts exit 1 with exactly one `certfs: ` line on stderr; returns it.
#[track_caller]
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    assert!(lines[0].starts_with("certfs: "), "{stderr}");
    lines[0].to_owned()
}

/// Creates vault `prod` with certificate `name` through the mount; returns its cert.pem.
fn create(m: &Mount, name: &str) -> Vec<u8> {
    fs::create_dir_all(m.path("prod")).unwrap();
    fs::create_dir(m.path(&format!("prod/{name}"))).unwrap();
    fs::write(
        m.path(&format!("prod/{name}/policy.json")),
        ec_policy(&format!("{name}.example.com")),
    )
    .unwrap();
    fs::read(m.path(&format!("prod/{name}/cert.pem"))).unwrap()
}

fn count(db: &str, sql: &str) -> i64 {
    PgServer::shared()
        .connect(db)
        .query_one(sql, &[])
        .unwrap()
        .get(0)
}

#[test]
fn help_names_the_store_option() {
    let out = certfs(&[os("mount"), os("--help")], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["--store", "sqlite://", "postgres://", "CERTFS_STORE"] {
        assert!(
            text.contains(needle),
            "mount --help lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn an_unknown_store_url_is_refused_in_one_line_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let out = certfs(
        &[
            os("mount"),
            dir.path().as_os_str(),
            os("--store"),
            os("mysql://certfs:hunter2-secret@db/certfs"),
        ],
        &[],
    );
    let line = refused(&out);
    assert!(
        line.contains("--store") && line.contains("postgres://"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}

#[test]
fn an_unreachable_database_is_refused_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    for (args, env) in [
        (
            vec![
                os("mount"),
                mnt.as_os_str(),
                os("--store"),
                os("postgres://certfs:hunter2-secret@127.0.0.1:1/certfs"),
            ],
            vec![],
        ),
        (
            vec![os("mount"), mnt.as_os_str()],
            vec![(
                "CERTFS_STORE",
                "postgresql://certfs:hunter2-secret@127.0.0.1:1/certfs",
            )],
        ),
    ] {
        let mut args = args;
        let data = dir.path().join("data");
        args.extend([os("--data"), data.as_os_str()]);
        let out = certfs(&args, &env);
        let line = refused(&out);
        assert!(
            line.contains("cannot open the store postgres://certfs@127.0.0.1:1/certfs"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
    }
}

#[test]
fn tls_settings_that_cannot_be_used_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (url, reason) in [
        (
            "postgres://certfs@db/certfs?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert /nonexistent/ca.pem",
        ),
        (
            "postgres://certfs@db/certfs?sslmode=verify",
            "sslmode must be",
        ),
    ] {
        let out = certfs(
            &[os("mount"), dir.path().as_os_str(), os("--store"), os(url)],
            &[],
        );
        let line = refused(&out);
        assert!(line.contains(reason), "{line}");
    }
}

#[test]
fn a_sqlite_url_puts_the_store_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere/certs.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut m = Mount::start_with_store(&format!("sqlite://{}", db.display()));
    let pem = create(&m, "web");
    assert!(db.exists(), "the database is at the URL's path");
    assert!(!m.data.join("certfs.db").exists(), "not in --data");
    m.remount();
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), pem);
}

#[test]
fn certfs_on_postgres_creates_reads_and_remounts() {
    let server = PgServer::shared();
    let db = server.create_database();
    let mut m = Mount::start_with_store(&server.url(&db));
    let pem = create(&m, "web");
    sh_ok(
        &m.mnt,
        "openssl x509 -in prod/web/cert.pem -noout -subject | grep -q web.example.com
         openssl pkey -in prod/web/privkey.pem -noout",
    );
    assert!(!m.data.join("certfs.db").exists(), "no SQLite file");
    assert_eq!(count(&db, "SELECT count(*) FROM versions"), 1);
    assert!(
        m.logs().contains(&format!("(store {})", server.url(&db))),
        "the log names the store:\n{}",
        m.logs()
    );
    // At debug level the PostgreSQL client would log statement parameters.
    assert!(
        !m.logs().contains("with parameters") && !m.logs().contains("tokio_postgres"),
        "{}",
        m.logs()
    );
    // Encryption at rest applies: the database holds the key sealed.
    let der = pem::parse(fs::read(m.path("prod/web/privkey.pem")).unwrap()).unwrap();
    let stored: Vec<u8> = server
        .connect(&db)
        .query_one("SELECT key FROM versions", &[])
        .unwrap()
        .get(0);
    assert!(!stored.is_empty());
    assert!(
        !stored
            .windows(der.contents().len())
            .any(|w| w == der.contents()),
        "the private key is in the database in clear"
    );

    m.remount();
    assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), pem);
    let key = fs::read(m.path("prod/web/privkey.pem")).unwrap();
    // A new version through the remounted daemon lands in the same database.
    fs::write(m.path("prod/web/policy.json"), ec_policy("web.example.com")).unwrap();
    assert_ne!(fs::read(m.path("prod/web/privkey.pem")).unwrap(), key);
    assert_eq!(count(&db, "SELECT count(*) FROM versions"), 2);
}

#[test]
fn two_daemons_on_one_database_share_it() {
    let server = PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    // Every daemon of a fleet needs the master key the keys are sealed with.
    let keys = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(keys.path(), 0x42);
    let args = ["--store", url.as_str(), "--key-file", key_file.as_str()];
    let mut first = Mount::start_with_args(&args);
    let web = create(&first, "web");

    // A daemon with another master key is refused in one line.
    let refused_mnt = keys.path().join("mnt");
    fs::create_dir(&refused_mnt).unwrap();
    let out = certfs(
        &[
            os("mount"),
            refused_mnt.as_os_str(),
            os("--store"),
            os(&url),
            os("--data"),
            keys.path().join("other-data").as_os_str(),
        ],
        &[],
    );
    let line = refused(&out);
    assert!(line.contains("master key"), "{line}");

    // A second daemon, mounted later, sees what the first made...
    let mut second = Mount::start_with_args(&args);
    assert_eq!(fs::read(second.path("prod/web/cert.pem")).unwrap(), web);
    // ...and its own writes, with the first still mounted, land beside them.
    let api = create(&second, "api");
    assert_eq!(count(&db, "SELECT count(*) FROM certificates"), 2);

    // A restart reads everything back (tests/fleet.rs follows changes live).
    first.remount();
    assert_eq!(fs::read(first.path("prod/api/cert.pem")).unwrap(), api);
    assert_eq!(fs::read(first.path("prod/web/cert.pem")).unwrap(), web);
    second.stop();
}

/// Lazily unmounts a mountpoint on drop (the daemon then exits by itself).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        if common::is_mounted(&self.0) {
            common::lazy_unmount(&self.0);
        }
    }
}

/// Runs `scripts/mount.certfs args` as mount(8) would; it must finish within 90 s.
fn mount_helper(args: &[&OsStr], log: &std::path::Path) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mount.certfs");
    let mut child = Command::new("sh")
        .arg(script)
        .args(args)
        .env("CERTFS_BIN", certfs_bin())
        .env("CERTFS_LOG", log)
        .env_remove("CERTFS_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mount.certfs");
    if wait_timeout(&mut child, Duration::from_secs(90)).is_none() {
        let _ = child.kill();
        panic!("mount.certfs did not return");
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_fstab_helper_mounts_a_store_url_and_umount_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    let db = dir.path().join("store/certfs.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    let url = format!("sqlite://{}", db.display());
    let options = format!(
        "rw,_netdev,nofail,data={},threads=2",
        dir.path().join("data").display()
    );
    let log = dir.path().join("certfs.log");
    let out = mount_helper(&[os(&url), mnt.as_os_str(), os("-o"), os(&options)], &log);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(common::is_mounted(&mnt), "mounted when the helper returns");
    fs::create_dir_all(mnt.join("prod/web")).unwrap();
    fs::write(
        mnt.join("prod/web/policy.json"),
        ec_policy("web.example.com"),
    )
    .unwrap();
    assert!(!fs::read(mnt.join("prod/web/cert.pem")).unwrap().is_empty());
    assert!(db.exists(), "the store is the SOURCE's");
    assert!(
        dir.path().join("data/backup.key").exists(),
        "data= is --data"
    );

    let status = Command::new("umount").arg(&mnt).status().unwrap();
    assert!(status.success());
    assert!(!common::is_mounted(&mnt));
}

#[test]
fn the_fstab_helper_reports_a_refusal_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    let secret = dir.path().join("store.url");
    fs::write(
        &secret,
        "postgres://certfs:hunter2-secret@127.0.0.1:1/certfs",
    )
    .unwrap();
    let options = format!(
        "data={},store_file={}",
        dir.path().join("data").display(),
        secret.display()
    );
    let out = mount_helper(
        &[os("certfs"), mnt.as_os_str(), os("-o"), os(&options)],
        &dir.path().join("certfs.log"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open the store postgres://certfs@127.0.0.1:1/certfs"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!common::is_mounted(&mnt));
}

/// `mount -t fuse.certfs SOURCE MOUNTPOINT -o OPTIONS`: mount(8) runs
/// mount.fuse3, which runs `certfs SOURCE MOUNTPOINT -o OPTIONS` found on
/// mount(8)'s own fixed PATH and expects it back once mounted.
fn fuse_mount(source: &str, mnt: &std::path::Path, options: &str, log: &std::path::Path) -> Output {
    let log = fs::File::create(log).unwrap();
    let mut child = Command::new("mount")
        .args(["-t", "fuse.certfs", source])
        .arg(mnt)
        .args(["-o", options])
        .env_remove("CERTFS_STORE")
        // The detached daemon keeps what it inherits open: no pipes.
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run mount");
    if wait_timeout(&mut child, Duration::from_secs(90)).is_none() {
        let _ = child.kill();
        panic!("mount -t fuse.certfs did not return");
    }
    child.wait_with_output().unwrap()
}

/// The binary under test as /usr/local/bin/certfs (mount(8) runs helpers
/// with PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:...), removed on drop.
/// None when another certfs is installed there.
struct Installed(std::path::PathBuf);

impl Installed {
    fn new() -> Option<Installed> {
        let link = std::path::PathBuf::from("/usr/local/bin/certfs");
        match fs::read_link(&link) {
            Ok(target) if target == std::path::Path::new(certfs_bin()) => {}
            Ok(_) => return None,
            Err(_) if link.exists() => return None,
            Err(_) => std::os::unix::fs::symlink(certfs_bin(), &link).ok()?,
        }
        Some(Installed(link))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn mount_t_fuse_certfs_mounts_through_mount_fuse3_and_umount_ends_it() {
    if !require_root("mount(8) mounts for root only")
        || require_tool(
            "mount.fuse3",
            "fuse3's helper that runs certfs for mount -t fuse.certfs",
        )
        .is_none()
    {
        return;
    }
    let Some(_installed) = Installed::new() else {
        missing("/usr/local/bin/certfs is another certfs: the test links the one under test there");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    let data = dir.path().join("data");
    let url_file = dir.path().join("store.url");
    let db = dir.path().join("elsewhere/certfs.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    fs::write(&url_file, format!("sqlite://{}\n", db.display())).unwrap();
    let log = dir.path().join("certfs.log");

    // As an fstab line would say it: the default store in data=.
    let options = format!("rw,nofail,_netdev,allow_other,data={}", data.display());
    let out = fuse_mount("certfs", &mnt, &options, &log);
    let text = || fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "{}", text());
    assert!(common::is_mounted(&mnt), "mounted when mount returns");
    let types = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        types
            .lines()
            .any(|l| l.contains(&*mnt.to_string_lossy()) && l.contains("fuse")),
        "{types}"
    );
    fs::create_dir_all(mnt.join("prod/web")).unwrap();
    fs::write(
        mnt.join("prod/web/policy.json"),
        ec_policy("web.example.com"),
    )
    .unwrap();
    sh_ok(&mnt, "openssl x509 -in prod/web/cert.pem -noout -subject");
    assert!(data.join("certfs.db").exists(), "data= is --data");
    assert!(Command::new("umount").arg(&mnt).status().unwrap().success());
    // The detached daemon ends with the unmount.
    let running = || {
        Command::new("pgrep")
            .args(["-f", &format!("certfs mount {}", mnt.display())])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    common::wait_until("the daemon to be gone after umount", || !running());

    // A store URL kept in a root-only file, never on a command line; and a
    // typo is refused by name, with nothing mounted.
    let options = format!("store_file={},data={}", url_file.display(), data.display());
    let out = fuse_mount("certfs", &mnt, &options, &log);
    assert!(out.status.success(), "{}", text());
    fs::create_dir(mnt.join("other")).unwrap();
    assert!(db.exists(), "the store is the file's URL");
    assert!(Command::new("umount").arg(&mnt).status().unwrap().success());
    let out = fuse_mount("certfs", &mnt, "alow_other", &log);
    assert!(!out.status.success());
    assert!(
        text().contains("unknown mount option 'alow_other'"),
        "{}",
        text()
    );
    assert!(!common::is_mounted(&mnt));
}
