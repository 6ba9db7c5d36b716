//! Answering challenges: http-01 by a file in a webroot that a web server already serves (like certbot `--webroot`) or certfs' own small listener; dns-01 by RFC 2136 updates ([`super::rfc2136`]).
//!
//! The CA fetches `http://<name>/.well-known/acme-challenge/<token>` and
//! expects the key authorization. Either way the answer is public by
//! design (it proves control of the name, not a secret).
//!
//! - **Webroot**: `<webroot>/.well-known/acme-challenge/<token>`, mode
//!   0644, directories created 0755; removed once the authorization is
//!   decided. Written and removed as the user who wrote the issuer file
//!   (`as_user`), never as root.
//! - **Listener**: a std `TcpListener` thread on the configured address
//!   (default `0.0.0.0:80`) answering only that path. Listeners are shared
//!   by address within the process, so two ACME issuers on port 80 use one
//!   socket; the last one dropped stops it.
//! - **dns-01**: a TXT record at `_acme-challenge.<name>` (or where its
//!   CNAME points) holding the base64url SHA-256 of the key authorization,
//!   added and removed by dynamic update.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::ChallengeType;

use super::rfc2136::{DnsError, Rfc2136};
use crate::as_user::{self, AsUserError, Identity};

/// The path under which http-01 answers are served.
pub const WELL_KNOWN: &str = "/.well-known/acme-challenge/";

/// How certfs answers http-01 challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeMethod {
    /// Files in a directory a web server serves at the names' root.
    Webroot(PathBuf),
    /// certfs' own listener on this address.
    Listen(SocketAddr),
    /// dns-01: TXT records by dynamic update to a DNS server.
    Dns01(Rfc2136),
}

impl ChallengeMethod {
    /// The ACME challenge type this method answers.
    pub fn challenge_type(&self) -> ChallengeType {
        match self {
            ChallengeMethod::Dns01(_) => ChallengeType::Dns01,
            _ => ChallengeType::Http01,
        }
    }

    /// The challenge type's name (`http-01`, `dns-01`).
    pub fn type_name(&self) -> &'static str {
        match self {
            ChallengeMethod::Dns01(_) => "dns-01",
            _ => "http-01",
        }
    }
}

impl Default for ChallengeMethod {
    /// A built-in listener on port 80 of every IPv4 address.
    fn default() -> Self {
        ChallengeMethod::Listen(SocketAddr::from(([0, 0, 0, 0], 80)))
    }
}

/// Publishes and withdraws key authorizations by one [`ChallengeMethod`].
#[derive(Debug)]
pub struct Responder {
    method: ChallengeMethod,
    /// Whom webroot files are written and removed as.
    writer: Identity,
    listener: Mutex<Option<Arc<Listener>>>,
}

/// Why an http-01 answer could not be served.
#[derive(Debug)]
pub enum ChallengeError {
    /// The CA sent a token that is not base64url (its first 80 characters).
    BadToken(String),
    /// The answer file could not be written into the webroot.
    Write(AsUserError),
    /// Nothing could listen on the configured address.
    Listen {
        address: SocketAddr,
        source: io::Error,
    },
    /// The listener's thread did not start.
    Thread(io::Error),
    /// The dns-01 record could not be written or was not answered.
    Dns(DnsError),
}

impl ChallengeError {
    /// Whether trying again later may help (a port in use, a DNS server
    /// down); a DNS server's refusal is for good.
    pub fn is_transient(&self) -> bool {
        match self {
            ChallengeError::Dns(e) => e.is_transient(),
            _ => true,
        }
    }
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChallengeError::BadToken(token) => write!(
                f,
                "the CA sent an http-01 token that is not base64url: {token:?}"
            ),
            ChallengeError::Write(e) => write!(f, "cannot publish the http-01 answer: {e}"),
            ChallengeError::Listen { address, source } => write!(
                f,
                "cannot listen on {address} to answer http-01 challenges: {source}"
            ),
            ChallengeError::Thread(e) => write!(f, "cannot start the http-01 listener: {e}"),
            ChallengeError::Dns(e) => write!(f, "cannot publish the dns-01 record: {e}"),
        }
    }
}

impl Error for ChallengeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ChallengeError::BadToken(_) => None,
            ChallengeError::Write(e) => Some(e),
            ChallengeError::Listen { source, .. } | ChallengeError::Thread(source) => Some(source),
            ChallengeError::Dns(e) => Some(e),
        }
    }
}

impl Responder {
    /// A responder writing webroot files as `writer`; a listener is bound on first use.
    pub fn new(method: ChallengeMethod, writer: Identity) -> Self {
        Responder {
            method,
            writer,
            listener: Mutex::new(None),
        }
    }

    /// The ACME challenge type this responder answers.
    pub fn challenge_type(&self) -> ChallengeType {
        self.method.challenge_type()
    }

    /// Serves `key_authorization` for `token` of name `domain` until withdrawn.
    pub fn publish(
        &self,
        domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), ChallengeError> {
        check_token(token)?;
        match &self.method {
            ChallengeMethod::Dns01(dns) => {
                dns.publish(domain, &dns_value(key_authorization))
                    .map_err(ChallengeError::Dns)?;
                Ok(())
            }
            ChallengeMethod::Webroot(root) => {
                let path = as_user::write_file(
                    &self.writer,
                    &challenge_dir(root),
                    token,
                    key_authorization.as_bytes(),
                    0o644,
                )
                .map_err(ChallengeError::Write)?;
                log::debug!("acme: wrote {}", path.display());
                Ok(())
            }
            ChallengeMethod::Listen(addr) => {
                let listener = {
                    let mut slot = self.listener.lock().unwrap_or_else(|e| e.into_inner());
                    match slot.as_ref() {
                        Some(l) => Arc::clone(l),
                        None => {
                            let l = Listener::shared(*addr)?;
                            *slot = Some(Arc::clone(&l));
                            l
                        }
                    }
                };
                listener
                    .answers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(token.to_owned(), key_authorization.to_owned());
                Ok(())
            }
        }
    }

    /// Stops serving `token` of name `domain` (nothing happens if it was not served).
    pub fn withdraw(&self, domain: &str, token: &str, key_authorization: &str) {
        if check_token(token).is_err() {
            return;
        }
        match &self.method {
            ChallengeMethod::Dns01(dns) => {
                if let Err(e) = dns.withdraw(domain, &dns_value(key_authorization)) {
                    log::warn!("acme: the dns-01 record for {domain} stays: {e}");
                }
            }
            ChallengeMethod::Webroot(root) => {
                let path = challenge_dir(root).join(token);
                match as_user::remove_file(&self.writer, &path) {
                    Ok(()) => log::debug!("acme: removed {}", path.display()),
                    Err(e) => log::warn!("acme: {e}"),
                }
            }
            ChallengeMethod::Listen(_) => {
                if let Some(l) = self
                    .listener
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                {
                    l.answers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(token);
                }
            }
        }
    }
}

/// ACME tokens are base64url; anything else could climb out of the webroot.
fn check_token(token: &str) -> Result<(), ChallengeError> {
    if !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(ChallengeError::BadToken(token.chars().take(80).collect()))
    }
}

/// The dns-01 TXT value: the base64url SHA-256 of the key authorization (RFC 8555 §8.4).
pub fn dns_value(key_authorization: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(
        &digest::SHA256,
        key_authorization.as_bytes(),
    ))
}

fn challenge_dir(root: &Path) -> PathBuf {
    root.join(WELL_KNOWN.trim_matches('/'))
}

/// Whether `writer` could answer challenges from `webroot`: it is a
/// directory, and `writer` may create `.well-known/acme-challenge` in it (or
/// files in it, where it exists). Nothing is created.
pub fn check_webroot(webroot: &Path, writer: &Identity) -> Result<(), AsUserError> {
    as_user::check_may_create(writer, webroot, Path::new(WELL_KNOWN.trim_matches('/')))
}

/// Listeners by configured address.
static LISTENERS: LazyLock<Mutex<HashMap<SocketAddr, Weak<Listener>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How many connections are served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A thread answering `GET /.well-known/acme-challenge/<token>`.
#[derive(Debug)]
pub struct Listener {
    address: SocketAddr,
    answers: Arc<Mutex<HashMap<String, String>>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    /// The running listener for `address`, started if none is.
    pub fn shared(address: SocketAddr) -> Result<Arc<Listener>, ChallengeError> {
        let mut all = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = all.get(&address).and_then(Weak::upgrade) {
            return Ok(l);
        }
        let l = Arc::new(Listener::start(address)?);
        all.insert(address, Arc::downgrade(&l));
        Ok(l)
    }

    fn start(address: SocketAddr) -> Result<Listener, ChallengeError> {
        let listen = |source| ChallengeError::Listen { address, source };
        let socket = TcpListener::bind(address).map_err(listen)?;
        let bound = socket.local_addr().map_err(listen)?;
        let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let answers = Arc::clone(&answers);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("acme-http01-{}", bound.port()))
                .spawn(move || accept_loop(socket, answers, stop))
                .map_err(ChallengeError::Thread)?
        };
        log::info!("acme: answering http-01 challenges on {bound}");
        Ok(Listener {
            address: bound,
            answers,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept with a connection of our own.
        let mut wake = self.address;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
        log::info!("acme: stopped the http-01 listener on {}", self.address);
    }
}

fn accept_loop(
    socket: TcpListener,
    answers: Arc<Mutex<HashMap<String, String>>>,
    stop: Arc<AtomicBool>,
) {
    let busy = Arc::new(AtomicUsize::new(0));
    for stream in socket.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            busy.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let answers = Arc::clone(&answers);
        let done = Arc::clone(&busy);
        let spawned = std::thread::Builder::new()
            .name("acme-http01-conn".into())
            .spawn(move || {
                serve(stream, &answers);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Answers one HTTP/1.x request.
fn serve(mut stream: TcpStream, answers: &Mutex<HashMap<String, String>>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let answer = target
        .strip_prefix(WELL_KNOWN)
        .filter(|_| method == "GET" || method == "HEAD")
        .and_then(|token| {
            answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(token)
                .cloned()
        });
    let response = match &answer {
        Some(body) => {
            log::info!("acme: answered an http-01 challenge ({target})");
            let body = if method == "HEAD" { "" } else { body.as_str() };
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                answer.as_ref().map_or(0, String::len)
            )
        }
        None => "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n".to_owned(),
    };
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn get(address: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(address).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn the_listener_serves_published_tokens_only_until_withdrawn() {
        let r = Responder::new(
            ChallengeMethod::Listen("127.0.0.1:0".parse().unwrap()),
            Identity::daemon(),
        );
        r.publish("a.test", "tok-EN_1", "tok-EN_1.thumb").unwrap();
        let address = r.listener.lock().unwrap().as_ref().unwrap().address;
        let ok = get(address, "/.well-known/acme-challenge/tok-EN_1");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("\r\n\r\ntok-EN_1.thumb"), "{ok}");
        assert!(get(address, "/.well-known/acme-challenge/other").starts_with("HTTP/1.1 404"));
        assert!(get(address, "/").starts_with("HTTP/1.1 404"));
        r.withdraw("a.test", "tok-EN_1", "tok-EN_1.thumb");
        assert!(get(address, "/.well-known/acme-challenge/tok-EN_1").starts_with("HTTP/1.1 404"));
        drop(r);
        // Stopped: nothing listens any more.
        assert!(TcpStream::connect(address).is_err());
    }

    #[test]
    fn the_dns01_value_is_the_base64url_sha256_of_the_key_authorization() {
        assert_eq!(
            dns_value(
                "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
            ),
            "lCM7cZyQXcVHK2nnW3jjAhNT3Fvm18UN-kWZZknKoYM"
        );
    }

    #[test]
    fn webroot_files_are_world_readable_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let r = Responder::new(
            ChallengeMethod::Webroot(dir.path().to_path_buf()),
            Identity::daemon(),
        );
        r.publish("a.test", "abc_DEF-1", "abc_DEF-1.thumb").unwrap();
        let path = dir.path().join(".well-known/acme-challenge/abc_DEF-1");
        assert_eq!(fs::read_to_string(&path).unwrap(), "abc_DEF-1.thumb");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let parent = path.parent().unwrap();
        assert_eq!(
            fs::metadata(parent).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs::read_dir(parent).unwrap().count(),
            1,
            "no temporary left"
        );
        r.withdraw("a.test", "abc_DEF-1", "abc_DEF-1.thumb");
        assert!(!path.exists());
    }

    #[test]
    fn tokens_that_could_escape_the_webroot_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = Responder::new(
            ChallengeMethod::Webroot(dir.path().join("www")),
            Identity::daemon(),
        );
        for bad in ["../x", "a/b", "", ".hidden", "a b"] {
            let err = r.publish("a.test", bad, "k").expect_err(bad);
            assert!(matches!(err, ChallengeError::BadToken(_)), "{err:?}");
            assert!(err.source().is_none());
        }
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn a_webroot_that_cannot_be_written_keeps_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_directory = dir.path().join("www");
        fs::write(&not_a_directory, b"").unwrap();
        let r = Responder::new(
            ChallengeMethod::Webroot(not_a_directory),
            Identity::daemon(),
        );
        let err = r
            .publish("a.test", "tok", "tok.thumb")
            .expect_err("the webroot is a file");
        assert!(matches!(err, ChallengeError::Write(_)), "{err:?}");
        assert!(
            err.source().is_some_and(|s| s.is::<AsUserError>()),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("cannot publish the http-01 answer: "),
            "{err}"
        );
    }

    #[test]
    fn a_port_in_use_names_the_address_and_keeps_the_io_error() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        let err = Listener::start(address).expect_err("the port is taken");
        let io = err
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the I/O error");
        assert_eq!(io.kind(), io::ErrorKind::AddrInUse, "{err:?}");
        assert!(err.to_string().contains(&address.to_string()), "{err}");
    }
}
