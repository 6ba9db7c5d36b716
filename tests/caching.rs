//! Kernel caching through a real mount: names and attributes are cached for long, so every change must invalidate what it touched, and nodes the kernel forgets come back with their numbers.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::require::require_root;
use common::{Mount, ec_policy, sh_ok};

fn create(m: &Mount, vault: &str, cert: &str) {
    let _ = fs::create_dir(m.path(vault));
    fs::create_dir(m.path(&format!("{vault}/{cert}"))).unwrap();
    fs::write(
        m.path(&format!("{vault}/{cert}/policy.json")),
        ec_policy(&format!("{cert}.example.com")),
    )
    .unwrap();
}

/// The top-level files of `prod/web`, with their sizes from `stat`.
const TOP: &[&str] = &[
    "cert.pem",
    "cert.cer",
    "chain.pem",
    "fullchain.pem",
    "privkey.pem",
    "bundle.pem",
    "cert.pfx",
    "attributes.json",
];

#[test]
fn a_new_version_replaces_cached_names_and_sizes_at_once() {
    let m = Mount::start();
    create(&m, "prod", "web");
    // Cache every name, attribute and page of the first version.
    let before: Vec<(u64, u64, Vec<u8>)> = TOP
        .iter()
        .map(|f| {
            let p = m.path(&format!("prod/web/{f}"));
            let meta = fs::metadata(&p).unwrap();
            (meta.ino(), meta.len(), fs::read(&p).unwrap())
        })
        .collect();
    let open_before = fs::File::open(m.path("prod/web/fullchain.pem")).unwrap();

    fs::write(
        m.path("prod/web/policy.json"),
        ec_policy("web2.example.com"),
    )
    .unwrap();

    for (f, (ino, _, bytes)) in TOP.iter().zip(&before) {
        let p = m.path(&format!("prod/web/{f}"));
        let meta = fs::metadata(&p).unwrap();
        let now = fs::read(&p).unwrap();
        assert_eq!(
            meta.len(),
            now.len() as u64,
            "{f}: stat size is what a read returns"
        );
        if *f != "attributes.json" {
            assert_ne!(meta.ino(), *ino, "{f} is the new version's file");
        }
        // chain.pem of a self-signed certificate is empty in every version.
        if !["attributes.json", "chain.pem"].contains(f) {
            assert_ne!(&now, bytes, "{f} shows the new version");
        }
    }
    let pem = String::from_utf8(fs::read(m.path("prod/web/cert.pem")).unwrap()).unwrap();
    let subject = sh_ok(&m.mnt, "openssl x509 -in prod/web/cert.pem -noout -subject");
    assert!(subject.contains("web2.example.com"), "{subject}\n{pem}");
    // A file opened before the switch keeps the bytes it opened.
    let mut kept = Vec::new();
    std::io::Read::read_to_end(&mut &open_before, &mut kept).unwrap();
    assert_eq!(kept, before[3].2);
}

#[test]
fn listings_give_the_same_numbers_and_attributes_as_lookups() {
    let m = Mount::start();
    for c in ["a", "b", "c"] {
        create(&m, "prod", c);
    }
    // `ls -l` of a fresh directory is served by READDIRPLUS (names with attributes).
    let listed = sh_ok(&m.mnt, "ls -li --time-style=+%s prod/b");
    for line in listed.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (ino, size, mtime, name) = (fields[0], fields[5], fields[6], fields[7]);
        let meta = fs::metadata(m.path(&format!("prod/b/{name}"))).unwrap();
        assert_eq!(ino, meta.ino().to_string(), "{name}: inode");
        if !meta.is_dir() {
            assert_eq!(size, meta.len().to_string(), "{name}: size");
        }
        assert_eq!(mtime, meta.mtime().to_string(), "{name}: mtime");
    }
    let numbers = sh_ok(&m.mnt, "ls -i prod");
    for line in numbers.lines() {
        let mut fields = line.split_whitespace();
        let (ino, name) = (fields.next().unwrap(), fields.next().unwrap());
        let meta = fs::metadata(m.path(&format!("prod/{name}"))).unwrap();
        assert_eq!(ino, meta.ino().to_string(), "{name}: a listing's number");
    }
}

#[test]
fn nodes_the_kernel_forgets_come_back_with_their_numbers() {
    // Only root may drop the kernel's caches (CI runs the tests as root).
    if !require_root("to drop the kernel's caches") {
        return;
    }
    let m = Mount::start();
    create(&m, "prod", "web");
    let paths = ["prod", "prod/web", "prod/web/cert.pem", "prod/web/versions"];
    let before: Vec<u64> = paths
        .iter()
        .map(|p| fs::metadata(m.path(p)).unwrap().ino())
        .collect();
    let bytes = fs::read(m.path("prod/web/cert.pem")).unwrap();
    for _ in 0..3 {
        // The kernel forgets unused dentries and inodes; certfs hears FORGET.
        sh_ok(&m.mnt, "sync; echo 2 > /proc/sys/vm/drop_caches");
        let after: Vec<u64> = paths
            .iter()
            .map(|p| fs::metadata(m.path(p)).unwrap().ino())
            .collect();
        assert_eq!(after, before, "same numbers after the kernel forgot them");
        assert_eq!(fs::read(m.path("prod/web/cert.pem")).unwrap(), bytes);
    }
    // And it keeps working: a new version, seen at once.
    fs::write(
        m.path("prod/web/policy.json"),
        ec_policy("web2.example.com"),
    )
    .unwrap();
    assert_ne!(fs::read(m.path("prod/web/cert.pem")).unwrap(), bytes);
}

#[test]
fn a_remounted_store_reads_each_certificate_when_first_used() {
    let mut m = Mount::start();
    for c in ["a", "b"] {
        create(&m, "prod", c);
    }
    let a = fs::read(m.path("prod/a/fullchain.pem")).unwrap();
    m.remount();
    // Listing and stat need no certificate read; a change before any read
    // keeps what the certificate had.
    assert!(fs::metadata(m.path("prod/b")).unwrap().is_dir());
    fs::write(m.path("prod/b/tags.json"), r#"{"env":"prod"}"#).unwrap();
    fs::write(m.path("prod/a/policy.json"), ec_policy("a2.example.com")).unwrap();
    assert_eq!(fs::read_dir(m.path("prod/a/versions")).unwrap().count(), 2);
    assert_eq!(fs::read_dir(m.path("prod/b/versions")).unwrap().count(), 1);
    m.remount();
    assert_eq!(fs::read_dir(m.path("prod/a/versions")).unwrap().count(), 2);
    assert_ne!(fs::read(m.path("prod/a/fullchain.pem")).unwrap(), a);
    assert!(
        fs::read_to_string(m.path("prod/b/tags.json"))
            .unwrap()
            .contains("prod")
    );
}

#[test]
fn a_certificate_directory_keeps_its_stored_mode_before_it_is_read() {
    let mut m = Mount::start();
    create(&m, "prod", "web");
    create(&m, "prod", "api");
    sh_ok(&m.mnt, "chmod 750 prod/web");
    let mode = |m: &Mount, p: &str| sh_ok(&m.mnt, &format!("stat -c %a {p}")).trim().to_owned();
    assert_eq!(mode(&m, "prod/web"), "750");
    m.remount();
    // Not read since the remount: the mode comes from the store's index.
    assert_eq!(mode(&m, "prod/web"), "750");
    assert_eq!(mode(&m, "prod/api"), "755");
    let listed = sh_ok(&m.mnt, "ls -l prod | grep -E ' (web|api)$'");
    assert!(listed.contains("drwxr-x--- "), "{listed}");
    // And once read, the same.
    assert!(fs::read(m.path("prod/web/cert.pem")).is_ok());
    assert_eq!(mode(&m, "prod/web"), "750");
}

/// Whether `rel` exists in the mount, asked twice: the second answer may
/// come from what the kernel kept of the first.
fn exists_twice(m: &Mount, rel: &str) -> bool {
    let first = m.path(rel).exists();
    assert_eq!(m.path(rel).exists(), first, "{rel}: the same answer twice");
    first
}

#[test]
fn a_name_looked_up_missing_shows_once_something_makes_it() {
    let m = Mount::start();
    create(&m, "prod", "web");
    let work = tempfile::tempdir().unwrap();
    // What HAProxy looks for beside a certificate, and names that come
    // with actions certfs does itself (no create of the kernel's).
    let names = [
        "prod/web/fullchain.pem.sctl",
        "prod/web/request.csr",
        "prod/web/policy.json.error",
        "prod/site",
        "prod/site/cert.pem",
    ];
    for rel in names {
        assert!(!exists_twice(&m, rel), "{rel} is not there yet");
    }
    // A refused write leaves its report (the refusal comes at close,
    // which fs::write does not report).
    let _ = fs::write(m.path("prod/web/policy.json"), "not json");
    assert!(exists_twice(&m, "prod/web/policy.json.error"));
    // A policy for a CA that signs elsewhere starts an operation and its CSR.
    let unknown = ec_policy("web.example.com").replace("\"Self\"", "\"Unknown\"");
    assert!(unknown.contains("Unknown"), "{unknown}");
    fs::write(m.path("prod/web/policy.json"), unknown).unwrap();
    assert!(exists_twice(&m, "prod/web/request.csr"));
    // An import makes a certificate directory.
    sh_ok(
        work.path(),
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
         -out cert.pem -days 30 -subj /CN=site.example.com 2>/dev/null && cat key.pem cert.pem > site.pem",
    );
    sh_ok(
        &m.mnt,
        &format!("cp {}/site.pem prod/import/", work.path().display()),
    );
    assert!(exists_twice(&m, "prod/site"));
    assert_eq!(
        fs::read(m.path("prod/site/cert.pem")).unwrap(),
        fs::read(work.path().join("cert.pem")).unwrap()
    );
    // Names that are still missing stay so.
    assert!(!exists_twice(&m, "prod/web/fullchain.pem.sctl"));
}

#[test]
fn cached_top_level_names_switch_together_with_each_version() {
    let m = Mount::start();
    create(&m, "prod", "web");
    let dir = m.path("prod/web");
    let top = |f: &str| dir.join(f);
    for round in 0..5 {
        // Every name and page of the current version is in the kernel's caches.
        let before: Vec<(u64, Vec<u8>)> = ["cert.pem", "privkey.pem", "fullchain.pem"]
            .iter()
            .map(|f| {
                let bytes = fs::read(top(f)).unwrap();
                (fs::metadata(top(f)).unwrap().ino(), bytes)
            })
            .collect();
        let policy = ec_policy(&format!("web{round}.example.com"));
        fs::write(top("policy.json"), policy).unwrap();
        // Once the write returned, every name shows the new version.
        for (f, (ino, bytes)) in ["cert.pem", "privkey.pem", "fullchain.pem"]
            .iter()
            .zip(&before)
        {
            assert_ne!(
                fs::metadata(top(f)).unwrap().ino(),
                *ino,
                "{f}, round {round}"
            );
            assert_ne!(&fs::read(top(f)).unwrap(), bytes, "{f}, round {round}");
        }
        let subject = sh_ok(&dir, "openssl x509 -in cert.pem -noout -subject");
        assert!(subject.contains(&format!("web{round}.")), "{subject}");
        let key_of_cert = sh_ok(&dir, "openssl x509 -in fullchain.pem -noout -pubkey");
        let key = sh_ok(&dir, "openssl pkey -in privkey.pem -pubout");
        assert_eq!(key, key_of_cert, "round {round}: key and certificate agree");
    }
    // Disabling the current version puts every name back on the one before.
    let newest = fs::read(top("cert.pem")).unwrap();
    let cached = fs::read(top("fullchain.pem")).unwrap();
    fs::write(top("attributes.json"), r#"{"enabled": false}"#).unwrap();
    assert_ne!(fs::read(top("cert.pem")).unwrap(), newest);
    assert_ne!(fs::read(top("fullchain.pem")).unwrap(), cached);
    let subject = sh_ok(&dir, "openssl x509 -in cert.pem -noout -subject");
    assert!(subject.contains("web3."), "{subject}");
}
