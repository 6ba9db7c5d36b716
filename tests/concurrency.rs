//! "Never block the kernel": slow RSA 4096 creates do not hold up other operations, and concurrent writers all get whole certificates and their versions.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Mount, ec_policy, sh_ok};

fn rsa4096_policy(cn: &str) -> String {
    format!(
        r#"{{"key_props":{{"kty":"RSA","key_size":4096}},"x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}"]}}}},"issuer":{{"name":"Self"}}}}"#
    )
}

/// Asserts `dir` holds a whole certificate: cert.pem and privkey.pem exist and match.
fn assert_whole(mnt: &Path, dir: &str) {
    let cert = sh_ok(
        mnt,
        &format!("openssl x509 -in {dir}/cert.pem -noout -pubkey"),
    );
    let key = sh_ok(mnt, &format!("openssl pkey -in {dir}/privkey.pem -pubout"));
    assert!(cert.contains("BEGIN PUBLIC KEY"), "{dir}: {cert}");
    assert_eq!(cert, key, "{dir}: key and certificate do not match");
}

fn versions(mnt: &Path, cert_dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(mnt.join(cert_dir).join("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// While one writer creates RSA 4096 certificates back to back, rounds of
/// other operations (ls, cat, stat, mkdir of a vault, creating an EC
/// certificate) run. Not timed: if any operation waited for the RSA work
/// in progress, each round would outlast a create, and the writer would be
/// done before the rounds are (there are more rounds than creates).
#[test]
fn rsa_4096_creates_do_not_block_other_operations() {
    const CREATES: usize = 3;
    const ROUNDS: usize = 6;
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/ready")).unwrap();
    fs::write(
        m.path("prod/ready/policy.json"),
        ec_policy("ready.example.com"),
    )
    .unwrap();
    for i in 0..CREATES {
        fs::create_dir(m.path(&format!("prod/big{i}"))).unwrap();
    }

    let writing = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (mnt, writing, done) = (m.mnt.clone(), writing.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..CREATES {
                let mut f = fs::File::create(mnt.join(format!("prod/big{i}/policy.json"))).unwrap();
                f.write_all(rsa4096_policy(&format!("big{i}.example.com")).as_bytes())
                    .unwrap();
                writing.store(true, Ordering::SeqCst);
                // close() is where the key is made.
                drop(f);
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while !writing.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }

    let expected_cert = fs::read(m.path("prod/ready/cert.pem")).unwrap();
    for round in 0..ROUNDS {
        let listing = sh_ok(&m.mnt, "ls prod/ready");
        assert!(listing.contains("privkey.pem"), "{listing}");
        let cat = sh_ok(&m.mnt, "cat prod/ready/cert.pem prod/ready/privkey.pem");
        assert!(cat.starts_with(std::str::from_utf8(&expected_cert).unwrap()));
        assert!(cat.contains("PRIVATE KEY"));
        sh_ok(&m.mnt, "stat prod/ready/fullchain.pem prod/ready/versions");
        fs::create_dir(m.path(&format!("vault{round}"))).unwrap();
        fs::create_dir(m.path(&format!("prod/ec{round}"))).unwrap();
        fs::write(
            m.path(&format!("prod/ec{round}/policy.json")),
            ec_policy(&format!("ec{round}.example.com")),
        )
        .unwrap();
        assert!(m.path(&format!("prod/ec{round}/cert.pem")).is_file());
    }
    let finished_meanwhile = done.load(Ordering::SeqCst);
    writer.join().unwrap();
    assert!(
        finished_meanwhile < CREATES,
        "{ROUNDS} rounds of other operations outlasted {CREATES} RSA 4096 creates: \
         something waited for the key generation"
    );

    // The slow creates themselves completed whole.
    for i in 0..CREATES {
        let dir = format!("prod/big{i}");
        assert_whole(&m.mnt, &dir);
        let text = sh_ok(
            &m.mnt,
            &format!("openssl x509 -in {dir}/cert.pem -noout -text"),
        );
        assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
    }
    for round in 0..ROUNDS {
        assert_whole(&m.mnt, &format!("prod/ec{round}"));
    }
}

/// Runs `n` writer processes at once; each runs `script(i)`; all must succeed.
fn run_concurrently(mnt: &Path, n: usize, script: impl Fn(usize) -> String) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new("bash")
                .arg("-c")
                .arg(script(i))
                .current_dir(mnt)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn eight_concurrent_writers_create_whole_certificates_with_their_versions() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let policies = m.root.path().join("policies");
    fs::create_dir(&policies).unwrap();
    for i in 0..8 {
        fs::write(
            policies.join(format!("c{i}.json")),
            ec_policy(&format!("c{i}.example.com")),
        )
        .unwrap();
    }
    // Each writer makes its certificate, then a second version of it.
    run_concurrently(&m.mnt, 8, |i| {
        format!(
            "set -e; mkdir prod/c{i}; cp {p}/c{i}.json prod/c{i}/policy.json; cat {p}/c{i}.json > prod/c{i}/policy.json",
            p = policies.display()
        )
    });
    let expected: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    assert_eq!(common::certificates_in(&m.path("prod")), expected);
    for i in 0..8 {
        let dir = format!("prod/c{i}");
        assert_whole(&m.mnt, &dir);
        let subject = sh_ok(
            &m.mnt,
            &format!("openssl x509 -in {dir}/cert.pem -noout -subject"),
        );
        assert!(subject.contains(&format!("c{i}.example.com")), "{subject}");
        let v = versions(&m.mnt, &dir);
        assert_eq!(v.len(), 2, "{dir}: {v:?}");
        for id in &v {
            assert_whole(&m.mnt, &format!("{dir}/versions/{id}"));
        }
    }
}

#[test]
fn two_concurrent_writers_on_one_certificate_both_make_versions() {
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/same")).unwrap();
    fs::write(
        m.path("prod/same/policy.json"),
        ec_policy("same.example.com"),
    )
    .unwrap();
    let policy = m.root.path().join("same.json");
    fs::write(&policy, ec_policy("same.example.com")).unwrap();
    // Two writers, three versions each, at the same time.
    run_concurrently(&m.mnt, 2, |_| {
        format!(
            "set -e; for i in 1 2 3; do cat {} > prod/same/policy.json; done",
            policy.display()
        )
    });
    let v = versions(&m.mnt, "prod/same");
    assert_eq!(v.len(), 7, "1 + 2×3 versions: {v:?}");
    for id in &v {
        assert_whole(&m.mnt, &format!("prod/same/versions/{id}"));
    }
    assert_whole(&m.mnt, "prod/same");
    let top = fs::read(m.path("prod/same/cert.pem")).unwrap();
    assert!(
        v.iter().any(
            |id| fs::read(m.path(&format!("prod/same/versions/{id}/cert.pem"))).unwrap() == top
        ),
        "the top-level cert.pem is one of the versions"
    );
}
