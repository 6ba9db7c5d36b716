//! `kill -9` in the middle of a loop of creates: after a remount every certificate is whole or absent, the store opens, and new creates work.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::require::require_tool;
use common::{Mount, ec_policy, sh_ok, wait_until_with};

fn rsa_policy(cn: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"RSA","key_size":2048}},"x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}"]}}}},"issuer":{{"name":"Self"}}}}"#
    )
}

/// A background shell loop creating prod/c<from>..c<to>, EC and RSA
/// alternating, one after the other; killed on drop.
struct Creator(Child);

impl Creator {
    fn start(m: &Mount, from: usize, to: usize) -> Creator {
        let policies = m.root.path().join("policies");
        fs::create_dir_all(&policies).unwrap();
        fs::write(policies.join("ec.json"), ec_policy("crash.example.com")).unwrap();
        fs::write(policies.join("rsa.json"), rsa_policy("crash.example.com")).unwrap();
        let script = format!(
            "for i in $(seq {from} {to}); do \
               mkdir prod/c$i || exit 1; \
               if [ $((i % 2)) = 0 ]; then k=rsa; else k=ec; fi; \
               cat {p}/$k.json > prod/c$i/policy.json || exit 1; \
             done",
            p = policies.display()
        );
        Creator(
            Command::new("bash")
                .arg("-c")
                .arg(script)
                .current_dir(&m.mnt)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Creator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `rel` exists in the mount (the loop got that far).
fn wait_for(m: &Mount, rel: &str) {
    wait_until_with(rel, &|| m.logs(), || m.path(rel).exists());
}

fn pubkey_of_cert(mnt: &Path, file: &str) -> String {
    sh_ok(mnt, &format!("openssl x509 -in {file} -noout -pubkey"))
}

fn pubkey_of_key(mnt: &Path, file: &str) -> String {
    sh_ok(mnt, &format!("openssl pkey -in {file} -pubout"))
}

/// Every certificate in prod is whole, has exactly one version (each was
/// created once), and they are c1..cN without gaps. Returns N.
fn check_whole(m: &Mount) -> usize {
    let mut numbers: Vec<usize> = fs::read_dir(m.path("prod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !common::VAULT_OWN.contains(&name.as_str()))
        .map(|name| {
            name.strip_prefix('c')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected entry {name}"))
        })
        .collect();
    numbers.sort();
    let n = numbers.len();
    assert_eq!(
        numbers,
        (1..=n).collect::<Vec<_>>(),
        "the creates ran one after the other, so what survived is c1..cN"
    );
    for i in 1..=n {
        let dir = format!("prod/c{i}");
        let mut listing: Vec<String> = fs::read_dir(m.path(&dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        listing.sort();
        for f in [
            "cert.pem",
            "privkey.pem",
            "fullchain.pem",
            "policy.json",
            "versions",
        ] {
            assert!(
                listing.iter().any(|l| l == f),
                "{dir} lacks {f}: {listing:?}"
            );
        }
        let cert = pubkey_of_cert(&m.mnt, &format!("{dir}/cert.pem"));
        assert_eq!(
            cert,
            pubkey_of_key(&m.mnt, &format!("{dir}/privkey.pem")),
            "{dir}: key and certificate do not match"
        );
        let kind = if i % 2 == 0 {
            "Public-Key: (2048 bit)"
        } else {
            "NIST CURVE: P-256"
        };
        let text = sh_ok(
            &m.mnt,
            &format!("openssl x509 -in {dir}/cert.pem -noout -text"),
        );
        assert!(text.contains(kind), "{dir}: {text}");
        let versions: Vec<String> = fs::read_dir(m.path(&format!("{dir}/versions")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(versions.len(), 1, "{dir}: {versions:?}");
        let v = format!("{dir}/versions/{}", versions[0]);
        assert_eq!(
            fs::read(m.path(&format!("{v}/cert.pem"))).unwrap(),
            fs::read(m.path(&format!("{dir}/cert.pem"))).unwrap()
        );
        assert_eq!(
            pubkey_of_key(&m.mnt, &format!("{v}/privkey.pem")),
            cert,
            "{v}"
        );
    }
    n
}

fn integrity_check(data: &Path) {
    if require_tool("sqlite3", "the store's integrity check").is_none() {
        return;
    }
    let out = Command::new("sqlite3")
        .arg(data.join("certfs.db"))
        .arg("PRAGMA integrity_check;")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_during_creates_leaves_every_certificate_whole_or_absent() {
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let mut next = 1;
    for round in 0..2 {
        let creator = Creator::start(&m, next, next + 200);
        // Some creates have completed, and the loop is in the middle of more.
        wait_for(&m, &format!("prod/c{}/cert.pem", next + 5));
        m.kill9();
        drop(creator);
        integrity_check(&m.data);
        m.remount();
        let n = check_whole(&m);
        assert!(
            n > next + 4,
            "round {round}: only {n} certificates survived"
        );
        next = n + 1;
    }
    // New creates work, including the name the loop was in the middle of.
    for i in [next, next + 1] {
        fs::create_dir(m.path(&format!("prod/c{i}"))).unwrap();
        let policy = if i % 2 == 0 {
            rsa_policy("after.example.com")
        } else {
            ec_policy("after.example.com")
        };
        fs::write(m.path(&format!("prod/c{i}/policy.json")), policy).unwrap();
    }
    assert_eq!(check_whole(&m), next + 1);
    // And it all survives a clean restart too.
    m.remount();
    assert_eq!(check_whole(&m), next + 1);
}
