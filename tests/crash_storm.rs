//! Crash safety under concurrency: `kill -9` while 8 writer processes run 300 imports and creates at once leaves every certificate whole or absent and the SQLite store sound (integrity check, no orphan rows); without a kill, 8 writers on one vault leave exactly the certificates and versions they were told they made.

mod common;
#[path = "common/samples.rs"]
mod samples;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Mount, certificates_in, ec_policy, sh_ok};
use samples::{PFX_PASSWORD, Samples};

const WRITERS: usize = 8;
const OPERATIONS: usize = 300;

/// The files writers copy in: an EC policy, and PFX files with and without a password.
struct Inputs {
    dir: PathBuf,
}

impl Inputs {
    fn make(root: &Path, s: &Samples) -> Inputs {
        let dir = root.join("inputs");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("ec.json"), ec_policy("crash.example.com")).unwrap();
        fs::write(dir.join("password"), PFX_PASSWORD).unwrap();
        for (label, bytes) in &s.pfx {
            fs::write(dir.join(format!("{label}.pfx")), bytes).unwrap();
        }
        Inputs { dir }
    }
}

/// The shell script of writer `w`: `count` operations, creates (mkdir and
/// a Self EC policy) and PFX imports (with a password file first, or
/// without a password) in turn, each logged as `ok <name>` once `cp` says
/// the close succeeded (`cp` checks close(), a shell redirection does not).
/// Failures are logged and skipped, so a dead mount ends the loop quickly.
/// With `shared`, every fourth operation writes a new version of
/// `prod/shared` instead, logged as `version`.
fn writer_script(inputs: &Inputs, w: usize, count: usize, shared: bool) -> String {
    let mut script = format!(
        "cd prod || exit 1\nlog={log}\nin={inputs}\n",
        log = inputs.dir.join(format!("w{w}.log")).display(),
        inputs = inputs.dir.display()
    );
    let pfx = [
        "rsa-pfx-aes",
        "ec-pfx-nopass",
        "ec-pfx-aes",
        "rsa-pfx-3des",
        "ec-pfx-3des",
        "rsa-pfx-nopass",
    ];
    for i in 0..count {
        let name = format!("w{w}n{i}");
        let line = match i % 4 {
            3 if shared => {
                "cp $in/ec.json shared/policy.json 2>/dev/null && echo version >> $log\n"
                    .to_string()
            }
            0 | 2 => format!(
                "mkdir {name} 2>/dev/null && cp $in/ec.json {name}/policy.json 2>/dev/null && echo ok {name} >> $log\n"
            ),
            _ => {
                let label = pfx[(w + i) % pfx.len()];
                let password = if label.ends_with("nopass") {
                    String::new()
                } else {
                    format!("cp $in/password import/{name}.password 2>/dev/null && ")
                };
                format!(
                    "{password}cp $in/{label}.pfx import/{name}.pfx 2>/dev/null && echo ok {name} >> $log\n"
                )
            }
        };
        if line.contains(&format!("ok {name}")) {
            // A name made before (by a run cut short) is left alone.
            script.push_str(&format!("[ -e {name} ] || {{ {}; }}\n", line.trim_end()));
        } else {
            script.push_str(&line);
        }
    }
    script
}

/// Starts the writers as separate processes in the mount.
fn start_writers(m: &Mount, inputs: &Inputs, shared: bool) -> Vec<Child> {
    (0..WRITERS)
        .map(|w| {
            let count = OPERATIONS / WRITERS + usize::from(w < OPERATIONS % WRITERS);
            Command::new("bash")
                .arg("-c")
                .arg(writer_script(inputs, w, count, shared))
                .current_dir(&m.mnt)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for the writers (a hang detector, not a timing), killing any left.
fn wait_writers(children: Vec<Child>, limit: Duration) {
    let deadline = Instant::now() + limit;
    for mut child in children {
        let left = deadline.saturating_duration_since(Instant::now());
        if common::wait_timeout(&mut child, left).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a writer hung");
        }
    }
}

/// What the writers were told succeeded: certificate names, and versions of `shared`.
fn successes(inputs: &Inputs) -> (BTreeSet<String>, usize) {
    let mut names = BTreeSet::new();
    let mut versions = 0;
    for w in 0..WRITERS {
        let text = fs::read_to_string(inputs.dir.join(format!("w{w}.log"))).unwrap_or_default();
        for line in text.lines() {
            match line.strip_prefix("ok ") {
                Some(name) => assert!(names.insert(name.to_string()), "{name} twice"),
                None if line == "version" => versions += 1,
                None => panic!("odd log line {line}"),
            }
        }
    }
    (names, versions)
}

/// Every certificate in prod is whole: exactly one version per created or
/// imported name (they were each made once), and for it and every version,
/// `openssl x509 -pubkey` of cert.pem = `openssl pkey -pubout` of
/// privkey.pem, fullchain.pem = cert.pem + chain.pem, and a non-empty
/// chain verifies the leaf. One bash for all, as a report per directory.
fn check_whole(m: &Mount) -> BTreeSet<String> {
    let script = r#"set -u
check() { # dir
  local d=$1
  [ -e "$d/cert.pem" ] || { echo "BAD $d has no cert.pem"; return; }
  a=$(openssl x509 -in "$d/cert.pem" -noout -pubkey) || { echo "BAD $d cert"; return; }
  b=$(openssl pkey -in "$d/privkey.pem" -pubout) || { echo "BAD $d key"; return; }
  [ "$a" = "$b" ] || { echo "BAD $d key and certificate do not match"; return; }
  cmp -s "$d/fullchain.pem" <(cat "$d/cert.pem" "$d/chain.pem") || { echo "BAD $d fullchain"; return; }
  if [ -s "$d/chain.pem" ]; then
    openssl verify -partial_chain -CAfile "$d/chain.pem" "$d/cert.pem" >/dev/null 2>&1 || { echo "BAD $d chain"; return; }
  fi
}
for d in */; do
  d=${d%/}
  case " import restore issuers deleted " in *" $d "*) continue;; esac
  check "$d"
  n=0
  for v in "$d"/versions/*/; do n=$((n+1)); check "${v%/}"; done
  echo "VERSIONS $d $n"
  echo "WHOLE $d"
done"#;
    let out = sh_ok(&m.path("prod"), script);
    let bad: Vec<&str> = out.lines().filter(|l| l.starts_with("BAD")).collect();
    assert!(bad.is_empty(), "certificates not whole: {bad:#?}");
    for line in out.lines().filter_map(|l| l.strip_prefix("VERSIONS ")) {
        let (name, n) = line.split_once(' ').unwrap();
        if name != "shared" {
            assert_eq!(n, "1", "{name} was made once but has {n} versions");
        }
    }
    out.lines()
        .filter_map(|l| l.strip_prefix("WHOLE "))
        .map(str::to_string)
        .collect()
}

/// Runs one SQL query on the store with the sqlite3 tool; returns its output.
fn sql(data: &Path, query: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(data.join("certfs.db"))
        .arg(query)
        .output()
        .expect("sqlite3 (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The store, with no daemon running: SQLite's integrity check passes, no
/// foreign key is broken, and no row is left without its owner (a version
/// without its certificate, a chain row without its version, a certificate
/// without any version, a completed version without its key, a version
/// still pending). Returns the live certificates of `prod` by name.
fn check_store(data: &Path) -> BTreeSet<String> {
    assert_eq!(sql(data, "PRAGMA integrity_check;"), "ok");
    assert_eq!(sql(data, "PRAGMA foreign_key_check;"), "");
    for (what, query) in [
        (
            "versions without their certificate",
            "SELECT count(*) FROM versions v LEFT JOIN certificates c \
             ON c.vault = v.vault AND c.name = v.certificate WHERE c.name IS NULL;",
        ),
        (
            "chain rows without their version",
            "SELECT count(*) FROM chain ch LEFT JOIN versions v ON v.id = ch.version_id \
             WHERE v.id IS NULL;",
        ),
        (
            "certificates without a version",
            "SELECT count(*) FROM certificates c WHERE NOT EXISTS \
             (SELECT 1 FROM versions v WHERE v.vault = c.vault AND v.certificate = c.name);",
        ),
        (
            "certificates without their vault",
            "SELECT count(*) FROM certificates c LEFT JOIN vaults va ON va.name = c.vault \
             WHERE va.name IS NULL;",
        ),
        (
            "completed versions without a key",
            "SELECT count(*) FROM versions WHERE certificate_der IS NOT NULL AND key IS NULL;",
        ),
        (
            "versions left pending (every create here is Self, every import complete)",
            "SELECT count(*) FROM versions WHERE certificate_der IS NULL;",
        ),
        (
            "chains with a gap in their positions",
            "SELECT count(*) FROM (SELECT version_id, count(*) AS n, max(position) AS top \
             FROM chain GROUP BY version_id) WHERE top <> n - 1;",
        ),
    ] {
        assert_eq!(sql(data, query), "0", "{what}");
    }
    sql(
        data,
        "SELECT name FROM certificates WHERE vault = 'prod' AND deleted IS NULL;",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// How many writers' operations have been logged as done so far.
fn done_so_far(inputs: &Inputs) -> usize {
    (0..WRITERS)
        .map(|w| {
            fs::read_to_string(inputs.dir.join(format!("w{w}.log")))
                .map(|t| t.lines().count())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn kill_9_during_300_concurrent_imports_and_creates_leaves_every_certificate_whole_or_absent() {
    let s = Samples::make();
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let inputs = Inputs::make(m.root.path(), &s);
    let writers = start_writers(&m, &inputs, false);
    // Kill the daemon once about a third of the operations are through,
    // with the rest of them in flight.
    let deadline = Instant::now() + Duration::from_secs(300);
    while done_so_far(&inputs) < OPERATIONS / 3 {
        assert!(
            Instant::now() < deadline,
            "the writers made no progress:\n{}",
            m.logs()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    m.kill9();
    wait_writers(writers, Duration::from_secs(120));
    let (told_ok, _) = successes(&inputs);
    assert!(
        told_ok.len() >= OPERATIONS / 3 && told_ok.len() < OPERATIONS,
        "the kill landed in the middle: {} of {OPERATIONS} done",
        told_ok.len()
    );

    // The store as the kill left it.
    let stored = check_store(&m.data);

    m.remount();
    let listed: BTreeSet<String> = certificates_in(&m.path("prod")).into_iter().collect();
    assert_eq!(listed, stored, "the mount shows what the store holds");
    let whole = check_whole(&m);
    assert_eq!(whole, listed, "every certificate is whole");
    // Durable: whatever a writer was told succeeded is there.
    let lost: Vec<&String> = told_ok.difference(&listed).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9: {lost:?}"
    );
    // Anything else there was committed just before the kill, and is whole too.
    let unacknowledged: Vec<&String> = listed.difference(&told_ok).collect();
    for name in &unacknowledged {
        assert!(name.starts_with('w'), "{name}");
    }
    eprintln!(
        "kill -9 after {} of {OPERATIONS} acknowledged operations: {} certificates whole after \
         remount, {} of them committed but not acknowledged",
        told_ok.len(),
        listed.len(),
        unacknowledged.len()
    );

    // Work goes on: the same names can be retried, new ones made.
    let writers = start_writers(&m, &inputs, false);
    wait_writers(writers, Duration::from_secs(300));
    let listed: BTreeSet<String> = certificates_in(&m.path("prod")).into_iter().collect();
    assert_eq!(
        listed.len(),
        OPERATIONS,
        "every name exists after the retry"
    );
    check_whole(&m);
    m.stop();
    assert_eq!(check_store(&m.data), listed);
}

#[test]
fn eight_writers_on_one_vault_leave_exactly_what_they_were_told() {
    let s = Samples::make();
    let mut m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    fs::create_dir(m.path("prod/shared")).unwrap();
    fs::write(
        m.path("prod/shared/policy.json"),
        ec_policy("shared.example.com"),
    )
    .unwrap();
    let inputs = Inputs::make(m.root.path(), &s);
    let writers = start_writers(&m, &inputs, true);
    wait_writers(writers, Duration::from_secs(600));
    let (told_ok, versions) = successes(&inputs);
    let shared_writes = (0..WRITERS)
        .map(|w| (OPERATIONS / WRITERS + usize::from(w < OPERATIONS % WRITERS)) / 4)
        .sum::<usize>();
    // Nothing failed without a crash: every operation was acknowledged.
    assert_eq!(told_ok.len() + versions, OPERATIONS);
    assert_eq!(versions, shared_writes);

    let mut expected = told_ok.clone();
    expected.insert("shared".into());
    let listed: BTreeSet<String> = certificates_in(&m.path("prod")).into_iter().collect();
    assert_eq!(
        listed, expected,
        "certificates == successful creates and imports"
    );
    assert_eq!(check_whole(&m), expected);
    let shared_versions = fs::read_dir(m.path("prod/shared/versions"))
        .unwrap()
        .count();
    assert_eq!(
        shared_versions,
        1 + versions,
        "one version per acknowledged write"
    );

    // The store says the same, and so does the mount after a restart.
    m.stop();
    assert_eq!(check_store(&m.data), expected);
    assert_eq!(
        sql(
            &m.data,
            "SELECT count(*) FROM versions WHERE vault = 'prod' AND certificate = 'shared';"
        ),
        (1 + versions).to_string()
    );
    m.remount();
    let listed: BTreeSet<String> = certificates_in(&m.path("prod")).into_iter().collect();
    assert_eq!(listed, expected);
    assert_eq!(check_whole(&m), expected);
}
