//! A throwaway PostgreSQL server for tests: `initdb` in a temporary directory, `postgres` on a free port with its unix socket there, each test its own database, stopped on drop.
//!
//! Uses Debian's server binaries (`/usr/lib/postgresql/<major>/bin`, the
//! newest; `CERTFS_PG_BINDIR` overrides). PostgreSQL refuses to run as
//! root, so as root the cluster is made and run as the `postgres` user
//! (the temporary directory is handed to it). Local (socket) connections
//! are trusted; TCP connections on 127.0.0.1 need a password
//! (`scram-sha-256`), so tests can use both.
//!
//! The server is this process's child and gets `SIGQUIT` if the thread that
//! started it ends (`PR_SET_PDEATHSIG`), so a killed test run leaves no
//! server behind. [`PgServer::shared`] starts one server per test process,
//! from a thread that lives as long as the process, for suites whose tests
//! each need only a database of their own.
#![allow(dead_code)]
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running PostgreSQL cluster in a temporary directory.
pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    /// `(uid, gid)` of the `postgres` user when running as root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    databases: AtomicU32,
}

/// The server of [`PgServer::shared`].
static SHARED: OnceLock<PgServer> = OnceLock::new();

/// How long the server may take to initialise or to start (a hang detector).
const START_LIMIT: Duration = Duration::from_secs(90);

impl PgServer {
    /// Makes a new cluster and starts it.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("certfs-pg")
            .tempdir()
            .expect("temporary directory");
        let run_as = postgres_user();
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), uid, gid);
        }
        let data = dir.path().join("data");
        let out = command(&bin.join("initdb"), run_as)
            .current_dir(dir.path())
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PgServer {
            dir,
            port: free_port(),
            bin,
            run_as,
            child: None,
            databases: AtomicU32::new(0),
        };
        server.spawn();
        server
    }

    /// One server for the whole test process, started on first use.
    pub fn shared() -> &'static PgServer {
        SHARED.get_or_init(|| {
            // Started from a thread that never ends: the server's
            // parent-death signal follows the thread that forked it.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                tx.send(PgServer::start()).expect("hand over the server");
                loop {
                    std::thread::park();
                }
            });
            let server = rx.recv().expect("the shared PostgreSQL server started");
            // Statics are never dropped: stop it and remove its files at exit.
            // SAFETY: registers a plain extern "C" function.
            unsafe { libc::atexit(stop_shared) };
            server
        })
    }

    fn shared_if_started() -> Option<&'static PgServer> {
        SHARED.get()
    }

    /// Drops database `name`, disconnecting its sessions.
    pub fn drop_database(&self, name: &str) {
        let _ = self
            .admin()
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }

    /// Starts `postgres` on the cluster and waits until it accepts connections.
    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("server log");
        let mut cmd = command(&self.bin.join("postgres"), self.run_as);
        cmd.current_dir(self.dir.path())
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-h", "127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().expect("start postgres"));
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if postgres::Client::connect(&self.admin_params(), postgres::NoTls).is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("postgres exited with {status}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections in time:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown: sessions are disconnected).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain kill(2) on our child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            if common_wait(&mut child, Duration::from_secs(30)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Stops and starts the server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The directory of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The TCP port (also the socket's number).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log.
    pub fn logs(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A `postgres://` URL for database `db` as superuser `postgres` over the unix socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@{}:{}/{db}",
            encode_path(self.socket_dir()),
            self.port
        )
    }

    /// A `postgres://` URL for database `db` over TCP on 127.0.0.1 with a password.
    pub fn tcp_url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// Key-value connection parameters for the `postgres` database as superuser.
    fn admin_params(&self) -> String {
        format!(
            "host={} port={} user=postgres dbname=postgres connect_timeout=5",
            self.socket_dir().display(),
            self.port
        )
    }

    /// A superuser connection to the `postgres` database.
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.admin_params(), postgres::NoTls).expect("admin connection")
    }

    /// A superuser connection to database `db`.
    pub fn connect(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host={} port={} user=postgres dbname={db}",
                self.socket_dir().display(),
                self.port
            ),
            postgres::NoTls,
        )
        .expect("connect to the test database")
    }

    /// Creates a new empty database and returns its name.
    pub fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("certfs_test_{n}");
        self.admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        name
    }

    /// Creates a new empty database and returns its URL (see [`PgServer::url`]).
    pub fn database_url(&self) -> String {
        let name = self.create_database();
        self.url(&name)
    }

    /// Creates login role `user` with `password`, owner of a new database; returns the database.
    pub fn create_user_with_database(&self, user: &str, password: &str) -> String {
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"))
            .expect("create role");
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("certfs_test_{n}");
        admin
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {user}"))
            .expect("create database");
        name
    }
}

/// At exit: stops the shared server (immediate shutdown) and removes its directory.
extern "C" fn stop_shared() {
    let Some(server) = PgServer::shared_if_started() else {
        return;
    };
    if let Some(child) = &server.child {
        let pid = child.id() as i32;
        // SAFETY: kill and waitpid on our own child.
        unsafe {
            libc::kill(pid, libc::SIGQUIT);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    let _ = fs::remove_dir_all(server.dir.path());
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits up to `limit` for `child` to exit.
fn common_wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server binaries: `CERTFS_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CERTFS_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL server binaries (Debian's postgresql package; scripts/test.sh installs it)",
    )
}

/// The `postgres` user's ids when this process is root, else `None`.
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root needs the postgres user (Debian's postgresql package makes it)"
    );
    // SAFETY: non-null, just returned.
    unsafe { Some(((*entry).pw_uid, (*entry).pw_gid)) }
}

/// A command for `program`, as the `postgres` user when `run_as` says so.
fn command(program: &Path, run_as: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid).env("HOME", "/var/lib/postgresql");
    }
    cmd.env_remove("PGDATA").env("LC_ALL", "C");
    cmd
}

/// Hands `path` to `uid:gid`, mode 0700.
fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown the cluster directory");
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).expect("chmod");
}

/// A TCP port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A path as a URL host: percent-encoded, so `/` does not end the host.
fn encode_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
