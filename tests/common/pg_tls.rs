//! A PostgreSQL server that requires TLS on TCP, with certificates from a test CA made here (openssl): a server certificate for chosen names, a client certificate for a role that logs in by `hostssl ... cert`, and a second CA that signed nothing of it.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::postgres::PgServer;

/// The role that logs in with its client certificate (its common name).
pub const CERT_USER: &str = "certfs_client";
/// The role that logs in with a password over TLS, and its password.
pub const PASSWORD_USER: (&str, &str) = ("certfs_tls", "tls-pw-8d1e");

/// A PostgreSQL server with `ssl = on` and these rules, first match wins:
/// `hostssl all certfs_client 127.0.0.1/32 cert`, `hostnossl all all
/// 127.0.0.1/32 reject`, then the harness's own (unix socket trusted,
/// passwords on TCP).
pub struct TlsPg {
    pub server: PgServer,
    /// Certificates and keys (mode 0600) made for the test.
    pub pki: tempfile::TempDir,
    /// The database `certfs_tls` owns.
    pub password_db: String,
    /// The database `certfs_client` owns.
    pub cert_db: String,
}

impl TlsPg {
    /// Starts a server whose certificate is issued for `names` (openssl's
    /// `subjectAltName` syntax, e.g. `DNS:localhost,IP:127.0.0.1`).
    pub fn start(names: &str) -> TlsPg {
        let pki = tempfile::tempdir().unwrap();
        let dir = pki.path();
        make_ca(dir, "ca", "certfs test CA");
        make_ca(dir, "other-ca", "another test CA");
        leaf(dir, "server", "certfs test server", names, "serverAuth");
        leaf(dir, "client", CERT_USER, "DNS:client.invalid", "clientAuth");

        let server = PgServer::start();
        let data = server.socket_dir().join("data");
        let owner = fs::metadata(&data).unwrap();
        for name in ["server.crt", "server.key", "ca.crt"] {
            let target = data.join(format!("tls-{name}"));
            fs::copy(dir.join(name), &target).unwrap();
            std::os::unix::fs::chown(&target, Some(owner.uid()), Some(owner.gid())).unwrap();
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let hba = data.join("pg_hba.conf");
        let rules = fs::read_to_string(&hba).unwrap();
        fs::write(
            &hba,
            format!(
                "hostssl all {CERT_USER} 127.0.0.1/32 cert\n\
                 hostnossl all all 127.0.0.1/32 reject\n{rules}"
            ),
        )
        .unwrap();
        let mut admin = server.admin();
        for (name, value) in [
            ("ssl_cert_file", data.join("tls-server.crt")),
            ("ssl_key_file", data.join("tls-server.key")),
            ("ssl_ca_file", data.join("tls-ca.crt")),
        ] {
            // ALTER SYSTEM runs alone, outside a transaction block.
            admin
                .batch_execute(&format!("ALTER SYSTEM SET {name} = '{}'", value.display()))
                .unwrap();
        }
        admin.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
        admin.batch_execute("SELECT pg_reload_conf()").unwrap();
        // The postmaster rereads its files on the signal: wait until a new
        // session sees TLS on.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ssl: String = server.admin().query_one("SHOW ssl", &[]).unwrap().get(0);
            if ssl == "on" {
                break;
            }
            assert!(Instant::now() < deadline, "ssl not on:\n{}", server.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        let password_db = server.create_user_with_database(PASSWORD_USER.0, PASSWORD_USER.1);
        let cert_db = server.create_user_with_database(CERT_USER, "unused-pw-4471");
        TlsPg {
            server,
            pki,
            password_db,
            cert_db,
        }
    }

    /// A file of the test PKI (`ca.crt`, `other-ca.crt`, `client.crt`, `client.key`, ...).
    pub fn file(&self, name: &str) -> PathBuf {
        self.pki.path().join(name)
    }

    /// `postgres://certfs_tls:PASSWORD@HOST:PORT/DB?QUERY` (the password user's database).
    pub fn password_url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{}:{}@{host}:{}/{}?{query}",
            PASSWORD_USER.0,
            PASSWORD_USER.1,
            self.server.port(),
            self.password_db
        )
    }

    /// `postgres://certfs_client@HOST:PORT/DB?QUERY` (no password: the certificate).
    pub fn cert_url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{CERT_USER}@{host}:{}/{}?{query}",
            self.server.port(),
            self.cert_db
        )
    }

    /// Whether every session of `application_name` `app` runs over TLS, and how many there are.
    pub fn sessions(&self, app: &str) -> (i64, bool) {
        let row = self
            .server
            .admin()
            .query_one(
                "SELECT count(*), coalesce(bool_and(s.ssl), false)
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.application_name = $1",
                &[&app],
            )
            .unwrap();
        (row.get(0), row.get(1))
    }
}

/// Runs openssl in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `<name>.crt` / `<name>.key`.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A leaf `<name>.crt` / `<name>.key` (mode 0600) signed by `ca`.
fn leaf(dir: &Path, name: &str, cn: &str, names: &str, usage: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    let ext = format!("{name}.ext");
    fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName={names}\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.crt"),
        ],
    );
    fs::set_permissions(
        dir.join(format!("{name}.key")),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}
