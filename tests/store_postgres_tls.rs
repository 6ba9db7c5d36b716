//! TLS to PostgreSQL with libpq's URL parameters, against a real server with `ssl = on` and certificates from a test CA: every mode, the store's and the LISTEN connection over TLS, refusals of an unknown CA and of a wrong host, client-certificate login, and a mount stopped with one line and status 1.

mod common;
#[path = "common/pg_tls.rs"]
mod pg_tls;

use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use certfs::store::postgres::{PostgresStore, PostgresUrl};
use certfs::store::{ChangeHint, Store, StoreError, VaultRecord};
use common::{Mount, wait_timeout};
use pg_tls::{PASSWORD_USER, TlsPg};

/// A server whose certificate names this machine (`localhost`, `127.0.0.1`).
fn good() -> TlsPg {
    TlsPg::start("DNS:localhost,IP:127.0.0.1")
}

fn open(url: &str) -> Result<PostgresStore, StoreError> {
    PostgresStore::open(&url.parse::<PostgresUrl>().expect("a valid URL"))
}

/// The message of a refused open; it never shows the password.
fn refusal(url: &str) -> String {
    let err = open(url).expect_err("refused").to_string();
    assert!(!err.contains(PASSWORD_USER.1), "{err}");
    err
}

fn vault(name: &str) -> VaultRecord {
    VaultRecord {
        name: name.into(),
        created: 1_700_000_000,
    }
}

#[test]
fn verify_full_runs_the_store_and_its_listening_session_over_tls() {
    let pg = &good();
    let root = pg.file("ca.crt");
    let url = |app: &str| {
        pg.password_url(
            "localhost",
            &format!(
                "sslmode=verify-full&sslrootcert={}&application_name={app}",
                root.display()
            ),
        )
    };
    let watched = open(&url("certfs-watched")).expect("verify-full to localhost");
    let (tx, rx) = channel();
    watched
        .watch(Box::new(move |hint| {
            let _ = tx.send(hint);
        }))
        .unwrap();
    let mut writer = open(&url("certfs-writer")).unwrap();
    writer.create_vault(&vault("prod")).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        ChangeHint::Vault {
            vault: "prod".into()
        }
    );
    // The store's connection and the LISTEN one, both encrypted.
    assert_eq!(pg.sessions("certfs-watched"), (2, true));
    assert_eq!(pg.sessions("certfs-writer"), (1, true));
}

#[test]
fn modes_encrypt_and_check_as_libpq_says() {
    let pg = &good();
    // The default (prefer) and require take TLS when the server offers it,
    // and check no certificate: the test CA is not among any roots here.
    for query in [
        "application_name=certfs-prefer",
        "sslmode=require&application_name=certfs-require",
    ] {
        let store = open(&pg.password_url("127.0.0.1", query)).expect(query);
        let app = query.rsplit('=').next().unwrap();
        assert_eq!(pg.sessions(app), (1, true), "{query}");
        drop(store);
    }
    // disable sends no TLS: this server refuses clear TCP.
    let err = refusal(&pg.password_url("127.0.0.1", "sslmode=disable"));
    assert!(err.contains("no encryption"), "{err}");

    // A server of another CA than sslrootcert's is refused; require with
    // a root file checks as verify-ca does.
    let other = pg.file("other-ca.crt");
    for mode in ["verify-ca", "verify-full", "require"] {
        let err = refusal(&pg.password_url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        ));
        assert!(err.contains("invalid peer certificate"), "{mode}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Its own CA: accepted, whatever name the URL uses.
    let root = pg.file("ca.crt");
    open(&pg.password_url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", root.display()),
    ))
    .expect("verify-ca");
}

#[test]
fn verify_full_refuses_a_certificate_for_another_host() {
    let wrong = TlsPg::start("DNS:wrong.example");
    let root = wrong.file("ca.crt");
    let err = refusal(&wrong.password_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    ));
    assert!(
        err.contains("invalid peer certificate") && err.contains("localhost"),
        "{err}"
    );
    // verify-ca checks the chain only: the same server is accepted.
    open(&wrong.password_url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={}", root.display()),
    ))
    .expect("verify-ca ignores the name");

    // A mount stops with one line and status 1.
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let url = wrong.password_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    let mut child = Command::new(common::certfs_bin())
        .arg("mount")
        .arg(&mnt)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--store", &url])
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(60)).expect("refused");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("certfs: cannot open the store") && stderr.contains("localhost"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD_USER.1), "{stderr}");
    assert!(!common::is_mounted(&mnt));
}

#[test]
fn a_client_certificate_logs_in_where_the_rules_say_cert_and_a_mount_uses_it() {
    let pg = &good();
    let root = pg.file("ca.crt");
    let client = format!(
        "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}&application_name=certfs-cert",
        root.display(),
        pg.file("client.crt").display(),
        pg.file("client.key").display()
    );
    let mut store = open(&pg.cert_url("localhost", &client)).expect("certificate login");
    store.create_vault(&vault("prod")).unwrap();
    assert_eq!(pg.sessions("certfs-cert"), (1, true));
    // Without the certificate the same role is refused.
    let err = refusal(&pg.cert_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    ));
    assert!(err.contains("certificate"), "{err}");

    // A mount over verify-full with the client certificate serves the store.
    let url = pg.cert_url(
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}&application_name=certfs-mount",
            pg.file("ca.crt").display(),
            pg.file("client.crt").display(),
            pg.file("client.key").display()
        ),
    );
    let m = Mount::start_with_store(&url);
    std::fs::create_dir(m.path("tls")).unwrap();
    std::fs::create_dir(m.path("tls/web")).unwrap();
    std::fs::write(
        m.path("tls/web/policy.json"),
        common::ec_policy("web.example.com"),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(m.path("tls/web/cert.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let (sessions, all_tls) = pg.sessions("certfs-mount");
    assert!(
        sessions >= 2 && all_tls,
        "{sessions} sessions, all TLS: {all_tls}"
    );
    assert!(!m.logs().contains("BEGIN PRIVATE KEY"));
}
