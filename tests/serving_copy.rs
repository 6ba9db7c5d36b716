//! The serving copy (`certfs mount --export DIR`): every certificate's current files under `DIR/<vault>/<cert>/`, laid out as Kubernetes' atomic writer does, equal to the mount's, switched all at once, removed with the certificate, reconciled at start, and served by nginx after `kill -9` of certfs.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::nginx::{Nginx, require_nginx};
use common::postgres::PgServer;
use common::require::require_root;
use common::{
    Mount, certfs_bin, ec_policy, pair_matches, read_pairs_during, sh_ok, wait_until,
    wait_until_with,
};

/// The files the copy holds of a certificate with an exportable key.
const FILES: [&str; 7] = [
    "cert.pem",
    "cert.cer",
    "chain.pem",
    "fullchain.pem",
    "privkey.pem",
    "bundle.pem",
    "cert.pfx",
];

/// A mount exporting to `<root>/copy`; returns it with the copy's path.
fn exporting() -> (Mount, PathBuf) {
    let m = Mount::start_with_args(&["--export", "{root}/copy"]);
    let copy = m.root.path().join("copy");
    (m, copy)
}

fn create(m: &Mount, vault: &str, cert: &str) {
    fs::create_dir_all(m.path(&format!("{vault}/{cert}"))).unwrap();
    renew(m, vault, cert);
}

/// A new version: an accepted policy write.
fn renew(m: &Mount, vault: &str, cert: &str) {
    fs::write(
        m.path(&format!("{vault}/{cert}/policy.json")),
        ec_policy(&format!("{cert}.example.com")),
    )
    .unwrap();
}

/// The timestamped directories of a certificate's copy.
fn data_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n != "..data")
        .collect()
}

/// Whether the copy of `cert` shows the bytes the mount shows (in `mnt`).
fn same_as_mount(mnt: &Path, copy: &Path, vault: &str, cert: &str) -> bool {
    same_files(&FILES, mnt, copy, vault, cert)
}

/// Whether the copy of `cert` shows the bytes another daemon's mount
/// shows: all but `cert.pfx`, whose salt each daemon draws itself.
fn same_as_fleet(mnt: &Path, copy: &Path, vault: &str, cert: &str) -> bool {
    same_files(&FILES[..6], mnt, copy, vault, cert)
        && copy.join(format!("{vault}/{cert}/cert.pfx")).is_file()
}

fn same_files(files: &[&str], mnt: &Path, copy: &Path, vault: &str, cert: &str) -> bool {
    files.iter().all(|f| {
        let a = fs::read(mnt.join(format!("{vault}/{cert}/{f}")));
        let b = fs::read(copy.join(format!("{vault}/{cert}/{f}")));
        matches!((a, b), (Ok(a), Ok(b)) if a == b)
    })
}

#[test]
fn the_copy_holds_the_mounts_files_as_links_through_data_with_its_modes() {
    let (m, copy) = exporting();
    create(&m, "prod", "web");
    create(&m, "prod", "api");
    // close() of the write returned: the copy is written already.
    for cert in ["web", "api"] {
        assert!(same_as_mount(&m.mnt, &copy, "prod", cert), "{cert}");
    }
    let dir = copy.join("prod/web");
    let data = fs::read_link(dir.join("..data")).unwrap();
    assert!(data.to_string_lossy().starts_with("..20"), "{data:?}");
    for f in FILES {
        assert_eq!(
            fs::read_link(dir.join(f)).unwrap(),
            Path::new("..data").join(f),
            "{f}"
        );
    }
    let mut names: Vec<String> = fs::read_dir(dir.join(&data))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "no attributes.json, nothing else");
    let meta = |f: &str| fs::metadata(dir.join(f)).unwrap();
    let mnt_meta = |f: &str| fs::metadata(m.path(&format!("prod/web/{f}"))).unwrap();
    for f in FILES {
        assert_eq!(meta(f).mode() & 0o7777, mnt_meta(f).mode() & 0o7777, "{f}");
        assert_eq!(meta(f).uid(), mnt_meta(f).uid(), "{f}");
        assert_eq!(meta(f).gid(), mnt_meta(f).gid(), "{f}");
    }
    assert_eq!(meta("privkey.pem").mode() & 0o7777, 0o600);
    assert_eq!(meta("cert.pem").mode() & 0o7777, 0o444);
    assert!(copy.join(".certfs-serving-copy").is_file());

    // A stored chmod/chown of the key, and of the directory, shows in the copy.
    sh_ok(
        &m.mnt,
        "chmod 640 prod/web/privkey.pem && chown 0:4711 prod/web/privkey.pem && chmod 750 prod/web",
    );
    assert_eq!(meta("privkey.pem").mode() & 0o7777, 0o640);
    assert_eq!(meta("privkey.pem").gid(), 4711);
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(
        fs::metadata(m.path("prod/web")).unwrap().mode() & 0o7777,
        0o750
    );
}

#[test]
fn renewals_switch_the_copy_all_at_once_and_open_files_keep_their_version() {
    let (m, copy) = exporting();
    create(&m, "prod", "web");
    let dir = copy.join("prod/web");
    let mut open = fs::File::open(dir.join("fullchain.pem")).unwrap();
    let first = fs::read(dir.join("fullchain.pem")).unwrap();
    let seen = read_pairs_during(&dir, || {
        for _ in 0..25 {
            renew(&m, "prod", "web");
            // Written before close() returned.
            assert!(same_as_mount(&m.mnt, &copy, "prod", "web"));
            assert!(data_dirs(&dir).len() <= 2, "{:?}", data_dirs(&dir));
        }
    });
    assert_eq!(
        seen.mismatched, 0,
        "key/certificate mismatches in the copy: {seen:?}"
    );
    assert_eq!(
        seen.torn, 0,
        "bundle.pem mixing versions or a partial file: {seen:?}"
    );
    assert!(seen.checked > 0);
    let mut kept = Vec::new();
    open.read_to_end(&mut kept).unwrap();
    assert_eq!(kept, first, "the open file kept the version it opened");
    assert_ne!(fs::read(dir.join("fullchain.pem")).unwrap(), first);
}

#[test]
fn a_hook_reads_the_new_version_from_the_copy() {
    let (m, copy) = exporting();
    create(&m, "prod", "web");
    let seen = m.root.path().join("seen.pem");
    let hooks = serde_json::json!({
        "command": ["sh", "-c", format!(
            "cat {} > {}.tmp && mv {}.tmp {}",
            copy.join("prod/web/fullchain.pem").display(),
            seen.display(), seen.display(), seen.display()
        )]
    });
    fs::write(m.path("prod/web/hooks.json"), hooks.to_string()).unwrap();
    renew(&m, "prod", "web");
    let current = fs::read(m.path("prod/web/fullchain.pem")).unwrap();
    // The hook runs once, after the switch: what it read is the new version.
    wait_until("the hook", || seen.exists());
    assert_eq!(fs::read(&seen).unwrap(), current);
}

#[test]
fn a_deleted_certificate_leaves_the_copy_and_comes_back_when_recovered() {
    let (m, copy) = exporting();
    create(&m, "prod", "web");
    create(&m, "prod", "api");
    let foreign = copy.join("prod/notes.txt");
    fs::write(&foreign, "kept").unwrap();
    fs::remove_dir_all(m.path("prod/web")).unwrap();
    assert!(
        !copy.join("prod/web").exists(),
        "removed with the certificate"
    );
    assert!(same_as_mount(&m.mnt, &copy, "prod", "api"));
    sh_ok(&m.mnt, "mv prod/deleted/web prod/web");
    assert!(same_as_mount(&m.mnt, &copy, "prod", "web"));
    // Purged: gone for good; what certfs did not write stays.
    fs::remove_dir_all(m.path("prod/api")).unwrap();
    fs::remove_dir_all(m.path("prod/deleted/api")).unwrap();
    assert!(!copy.join("prod/api").exists());
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "kept");
}

#[test]
fn disabling_versions_switches_the_copy_to_what_the_mount_shows() {
    let (m, copy) = exporting();
    create(&m, "prod", "web");
    let first = fs::read(copy.join("prod/web/cert.pem")).unwrap();
    renew(&m, "prod", "web");
    // The newest disabled: the top shows the one before, key and all.
    fs::write(m.path("prod/web/attributes.json"), r#"{"enabled": false}"#).unwrap();
    assert_eq!(fs::read(copy.join("prod/web/cert.pem")).unwrap(), first);
    assert!(same_as_mount(&m.mnt, &copy, "prod", "web"));
    // Every version disabled: the certificate stays, its key goes.
    fs::write(m.path("prod/web/attributes.json"), r#"{"enabled": false}"#).unwrap();
    let dir = copy.join("prod/web");
    assert!(fs::read(m.path("prod/web/privkey.pem")).is_err());
    for key in ["privkey.pem", "bundle.pem", "cert.pfx"] {
        assert!(fs::symlink_metadata(dir.join(key)).is_err(), "{key}");
    }
    assert_eq!(
        fs::read(dir.join("fullchain.pem")).unwrap(),
        fs::read(m.path("prod/web/fullchain.pem")).unwrap()
    );
    // Enabled again: the key is back.
    fs::write(m.path("prod/web/attributes.json"), r#"{"enabled": true}"#).unwrap();
    assert!(same_as_mount(&m.mnt, &copy, "prod", "web"));
}

#[test]
fn a_restart_brings_the_copy_up_to_date_with_what_another_daemon_changed() {
    let server = PgServer::shared();
    let db = server.create_database();
    let url = server.url(&db);
    let keys = tempfile::tempdir().unwrap();
    let key_file = common::master_key_file(keys.path(), 0x5c);
    let copy = keys.path().join("copy");
    let copy_arg = copy.display().to_string();
    let mut a = Mount::start_with_args(&[
        "--store",
        url.as_str(),
        "--key-file",
        key_file.as_str(),
        "--export",
        copy_arg.as_str(),
    ]);
    let b = Mount::start_with_args(&["--store", url.as_str(), "--key-file", key_file.as_str()]);
    create(&a, "prod", "web");
    create(&a, "prod", "api");
    wait_until_with("the other daemon seeing both", &|| b.logs(), || {
        b.path("prod/web/cert.pem").exists() && b.path("prod/api/cert.pem").exists()
    });
    // A change another daemon makes reaches this one's copy.
    let before = fs::read(copy.join("prod/web/fullchain.pem")).unwrap();
    renew(&b, "prod", "web");
    wait_until_with("the fleet's renewal in the copy", &|| a.logs(), || {
        same_as_fleet(&b.mnt, &copy, "prod", "web")
    });
    assert_ne!(
        fs::read(copy.join("prod/web/fullchain.pem")).unwrap(),
        before
    );

    a.kill9();
    // Left in place, still whole, while the daemon is gone.
    assert!(same_as_fleet(&b.mnt, &copy, "prod", "web"));
    renew(&b, "prod", "web");
    fs::remove_dir_all(b.path("prod/api")).unwrap();
    create(&b, "prod", "new");
    create(&b, "stage", "db");
    assert!(!same_as_fleet(&b.mnt, &copy, "prod", "web"));
    a.remount();
    // Up to date once mounted.
    assert!(same_as_fleet(&b.mnt, &copy, "prod", "web"));
    assert!(same_as_fleet(&b.mnt, &copy, "prod", "new"));
    assert!(same_as_fleet(&b.mnt, &copy, "stage", "db"));
    assert!(!copy.join("prod/api").exists(), "deleted while down");
    assert_eq!(data_dirs(&copy.join("prod/web")).len(), 2);
}

#[test]
fn a_restart_repairs_a_copy_changed_behind_its_back_and_leaves_foreign_files() {
    let (mut m, copy) = exporting();
    create(&m, "prod", "web");
    create(&m, "prod", "api");
    create(&m, "prod", "db");
    let untouched = fs::read_link(copy.join("prod/db/..data")).unwrap();
    m.stop();
    fs::remove_dir_all(copy.join("prod/api")).unwrap();
    let key = copy.join("prod/web/..data/privkey.pem");
    fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::create_dir_all(copy.join("prod/mine")).unwrap();
    fs::write(copy.join("prod/mine/notes"), "mine").unwrap();
    m.remount();
    assert!(same_as_mount(&m.mnt, &copy, "prod", "api"));
    assert_eq!(
        fs::metadata(copy.join("prod/web/privkey.pem"))
            .unwrap()
            .mode()
            & 0o7777,
        0o600
    );
    assert_eq!(
        fs::read_to_string(copy.join("prod/mine/notes")).unwrap(),
        "mine"
    );
    // A copy that is right is not switched again.
    assert_eq!(
        fs::read_link(copy.join("prod/db/..data")).unwrap(),
        untouched
    );
    // (its cert.pfx is the one the daemon before rendered, salted otherwise)
    assert!(same_as_fleet(&m.mnt, &copy, "prod", "db"));
}

#[test]
fn nginx_reloads_from_the_copy_after_certfs_is_killed() {
    if require_nginx().is_none() {
        return;
    }
    let (mut m, copy) = exporting();
    create(&m, "prod", "web");
    let cert_dir = copy.join("prod/web");
    let prefix = m.root.path().join("nginx");
    let nginx = Nginx::start(&prefix, &cert_dir);
    let serial = sh_ok(&cert_dir, "openssl x509 -in cert.pem -noout -serial");
    m.kill9();
    let err = fs::metadata(m.path("prod/web/cert.pem"));
    assert!(err.is_err(), "the mount is gone");
    nginx.reload();
    let served = sh_ok(
        &cert_dir,
        &format!(
            "openssl s_client -connect 127.0.0.1:{} -servername web.example.com </dev/null 2>/dev/null \
             | openssl x509 -noout -serial",
            nginx.port
        ),
    );
    assert_eq!(served.trim(), serial.trim());
    let error_log = nginx.error_log();
    assert!(!error_log.contains("[emerg]"), "{error_log}");
}

/// `certfs mount` with `--export export`; its exit status and stderr.
fn mount_exporting(root: &Path, export: &Path) -> (Option<i32>, String) {
    let mnt = root.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let out = Command::new(certfs_bin())
        .arg("mount")
        .arg(&mnt)
        .arg("--data")
        .arg(root.join("data"))
        .arg("--export")
        .arg(export)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_export_dir_that_is_a_file_foreign_or_read_only_is_refused_at_mount() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    fs::write(&file, "x").unwrap();
    let (code, err) = mount_exporting(root.path(), &file);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a directory"), "{err}");

    let foreign = root.path().join("etc");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("passwd"), "x").unwrap();
    let (code, err) = mount_exporting(root.path(), &foreign);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("certfs did not write"), "{err}");
    assert_eq!(fs::read_to_string(foreign.join("passwd")).unwrap(), "x");

    // Open to others (a tmpfs mounted without mode= is 1777): links they
    // plant there would steer the copy's chown and chmod.
    let open = root.path().join("open");
    fs::create_dir(&open).unwrap();
    sh_ok(root.path(), "chmod 1777 open");
    let (code, err) = mount_exporting(root.path(), &open);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("writable by it alone"), "{err}");

    if !require_root("mounts a read-only tmpfs") {
        return;
    }
    let ro = root.path().join("ro");
    fs::create_dir(&ro).unwrap();
    sh_ok(
        root.path(),
        "mount -t tmpfs -o ro,size=1m,mode=0755 tmpfs ro",
    );
    let (code, err) = mount_exporting(root.path(), &ro);
    sh_ok(root.path(), "umount ro");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot write") && err.contains("Read-only"),
        "{err}"
    );
}

#[test]
fn a_full_copy_disk_is_counted_and_never_breaks_the_mount() {
    if !require_root("mounts a small tmpfs") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("copy");
    fs::create_dir(&copy).unwrap();
    sh_ok(
        root.path(),
        "mount -t tmpfs -o size=256k,mode=0755 tmpfs copy",
    );
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(copy.clone());
    let copy_arg = copy.display().to_string();
    let m = Mount::start_with_args(&["--export", copy_arg.as_str()]);
    create(&m, "prod", "web");
    let old = fs::read(copy.join("prod/web/fullchain.pem")).unwrap();
    // Fill the disk.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}/filler", copy.display()))
        .stderr(std::process::Stdio::null())
        .status();
    renew(&m, "prod", "web");
    let new = fs::read(m.path("prod/web/fullchain.pem")).unwrap();
    assert_ne!(new, old, "the mount switched");
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics.contains("certfs_serving_copy_failing 1\n"),
        "{metrics}"
    );
    assert!(m.logs().contains("the serving copy is not current"));
    // The copy still holds the whole old version.
    let dir = copy.join("prod/web");
    assert_eq!(fs::read(dir.join("fullchain.pem")).unwrap(), old);
    assert!(pair_matches(
        &fs::read(dir.join("privkey.pem")).unwrap(),
        &fs::read(dir.join("fullchain.pem")).unwrap()
    ));
    // Room again: the next change brings it up to date.
    fs::remove_file(copy.join("filler")).unwrap();
    fs::write(m.path("prod/web/tags.json"), r#"{"a": "b"}"#).unwrap();
    assert!(same_as_mount(&m.mnt, &copy, "prod", "web"));
    let metrics = fs::read_to_string(m.path("metrics.prom")).unwrap();
    assert!(
        metrics.contains("certfs_serving_copy_failing 0\n"),
        "{metrics}"
    );
}
