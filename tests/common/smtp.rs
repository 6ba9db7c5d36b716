//! A real SMTP server for tests on 127.0.0.1 (RFC 5321 subset): records each envelope and its DATA; optional AUTH, STARTTLS or implicit TLS, and refusals.
//!
//! ```ignore
//! let sink = SmtpSink::start();
//! // certfs mount ... --smtp <sink.url()>
//! let mails = sink.wait_for(1);          // panics if they do not come
//! assert_eq!(mails[0].to, ["ops@contoso.com"]);
//! assert!(mails[0].body().contains("expires"));
//! ```
//!
//! Each connection runs on its own thread and speaks real SMTP over TCP:
//! EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA (with dot
//! unstuffing), RSET, NOOP, QUIT. TLS uses a test CA made with rcgen; its
//! certificate is at [`SmtpSink::ca_file`] for `--smtp-ca-file`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How the sink protects connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    /// No TLS (`smtp://`).
    None,
    /// STARTTLS offered (`smtp+starttls://`); mail is accepted with or without it.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// What the sink does.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// TLS mode.
    pub tls: SinkTls,
    /// Require AUTH (PLAIN or LOGIN) with this user and password before MAIL.
    pub auth: Option<(String, String)>,
    /// Answer every RCPT with this reply line (e.g. `550 5.1.1 <x>: Recipient address rejected`).
    pub refuse_rcpt: Option<String>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            tls: SinkTls::None,
            auth: None,
            refuse_rcpt: None,
        }
    }
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM).
    pub from: String,
    /// The envelope recipients (RCPT TO), in order.
    pub to: Vec<String>,
    /// The DATA as sent (headers and body, CRLF line ends, dots unstuffed).
    pub data: String,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
    /// Whether the message came over TLS.
    pub tls: bool,
}

impl ReceivedMail {
    /// The first header `name` (case-insensitive), unfolded, encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_owned());
                }
            }
        }
        found.map(|v| decode_words(&v))
    }

    /// The body as text, its transfer encoding (7bit, 8bit,
    /// quoted-printable, base64) undone; CRLF become LF.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|x| x.1)
            .unwrap_or_default();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => B64
                .decode(raw.replace(['\r', '\n'], ""))
                .expect("base64 body"),
            "quoted-printable" => unquote(raw),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8(bytes)
            .expect("UTF-8 body")
            .replace("\r\n", "\n")
    }
}

/// Undoes quoted-printable (soft line breaks, `=XX`).
fn unquote(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 3 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let parts: Vec<&str> = rest[start + 2..].splitn(3, '?').collect();
        let [charset, enc, tail] = parts.as_slice() else {
            break;
        };
        let Some(end) = tail.find("?=") else { break };
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let text = &tail[..end];
        let bytes = if enc.eq_ignore_ascii_case("b") {
            B64.decode(text).unwrap_or_default()
        } else {
            unquote(&text.replace('_', " "))
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        let consumed = start + 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
        rest = &rest[consumed..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

struct Shared {
    options: Mutex<SinkOptions>,
    messages: Mutex<Vec<ReceivedMail>>,
    connections: AtomicUsize,
    tls: Option<Arc<ServerConfig>>,
}

/// A running SMTP sink on 127.0.0.1; stops accepting on drop.
pub struct SmtpSink {
    port: u16,
    mode: SinkTls,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// A plain sink that accepts everything.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(SinkOptions::default())
    }

    /// A sink with `options`.
    pub fn start_with(options: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = (options.tls != SinkTls::None).then(|| tls_config(&dir.path().join("ca.pem")));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let mode = options.tls;
        let shared = Arc::new(Shared {
            options: Mutex::new(options),
            messages: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            tls,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &s);
                });
            }
        });
        SmtpSink {
            port,
            mode,
            shared,
            stop,
            dir,
        }
    }

    /// The URL for `--smtp` (its scheme follows the TLS mode).
    pub fn url(&self) -> String {
        let scheme = match self.mode {
            SinkTls::None => "smtp",
            SinkTls::StartTls => "smtp+starttls",
            SinkTls::Implicit => "smtps",
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the sink's TLS certificate (for
    /// `--smtp-ca-file`); only with TLS.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.pem");
        assert!(path.exists(), "the sink has no TLS");
        path
    }

    /// From now on, answer every RCPT with `reply` (or accept again with `None`).
    pub fn refuse_rcpt(&self, reply: Option<&str>) {
        self.shared.options.lock().unwrap().refuse_rcpt = reply.map(str::to_owned);
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` messages arrived and returns them all;
    /// panics after 60 s (a hang detector, not a delay).
    pub fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        self.wait_for_within(n, Duration::from_secs(60))
    }

    /// [`wait_for`](Self::wait_for) with another bound.
    pub fn wait_for_within(&self, n: usize, limit: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} mails within {limit:?}, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A CA and a server certificate for `localhost` and 127.0.0.1; writes the CA to `ca_path`.
fn tls_config(ca_path: &Path) -> Arc<ServerConfig> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "certfs test SMTP CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(ca_path, ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    Arc::new(config)
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
    Gone,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    /// The next line without its CRLF; `None` at end of stream.
    fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.stream.write_all(text.as_bytes())?;
        self.stream.write_all(b"\r\n")?;
        self.stream.flush()
    }

    fn start_tls(&mut self, config: &Arc<ServerConfig>) -> io::Result<()> {
        assert!(
            self.buf.is_empty(),
            "client sent data before the TLS handshake"
        );
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(io::Error::other("TLS already on"));
        };
        let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        self.stream = Stream::Tls(Box::new(StreamOwned::new(conn, tcp)));
        Ok(())
    }
}

/// Inside `<...>` of `<a> params`, or the first word.
fn path_of(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

fn b64_text(s: &str) -> String {
    String::from_utf8_lossy(&B64.decode(s.trim()).unwrap_or_default()).into_owned()
}

/// Reads an AUTH exchange; returns the user and password the client gave,
/// or `None` after refusing an unknown mechanism.
fn auth_exchange(c: &mut Conn, arg: &str) -> io::Result<Option<(String, String)>> {
    let mut words = arg.split_whitespace();
    let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(r) => r,
                None => {
                    c.reply("334 ")?;
                    c.line()?.unwrap_or_default()
                }
            };
            let text = b64_text(&response);
            let mut parts = text.split('\0').skip(1);
            Ok(Some((
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            )))
        }
        "LOGIN" => {
            let user = match initial {
                Some(r) => b64_text(&r),
                None => {
                    c.reply("334 VXNlcm5hbWU6")?;
                    b64_text(&c.line()?.unwrap_or_default())
                }
            };
            c.reply("334 UGFzc3dvcmQ6")?;
            Ok(Some((user, b64_text(&c.line()?.unwrap_or_default()))))
        }
        _ => {
            c.reply("504 5.5.4 Unrecognized authentication type")?;
            Ok(None)
        }
    }
}

fn session(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(60)))?;
    let implicit = shared.options.lock().unwrap().tls == SinkTls::Implicit;
    let mut c = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
    };
    let mut tls = false;
    if implicit {
        c.start_tls(shared.tls.as_ref().expect("TLS config"))?;
        tls = true;
    }
    c.reply("220 certfs-test-sink ESMTP")?;
    let mut user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = c.line()? {
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        let options = shared.options.lock().unwrap().clone();
        let offer_starttls = options.tls == SinkTls::StartTls && !tls;
        match verb.as_str() {
            "EHLO" => {
                from = None;
                to.clear();
                let mut lines = vec!["certfs-test-sink", "8BITMIME", "SMTPUTF8"];
                if offer_starttls {
                    lines.push("STARTTLS");
                }
                if options.auth.is_some() {
                    lines.push("AUTH PLAIN LOGIN");
                }
                lines.push("HELP");
                let last = lines.len() - 1;
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    c.reply(&format!("250{sep}{l}"))?;
                }
            }
            "HELO" => c.reply("250 certfs-test-sink")?,
            "STARTTLS" if offer_starttls => {
                c.reply("220 2.0.0 Ready to start TLS")?;
                c.start_tls(shared.tls.as_ref().expect("TLS config"))?;
                tls = true;
                from = None;
                to.clear();
                user = None;
            }
            "AUTH" if options.auth.is_some() => {
                let Some((u, p)) = auth_exchange(&mut c, arg)? else {
                    continue;
                };
                if Some((u.clone(), p)) == options.auth {
                    user = Some(u);
                    c.reply("235 2.7.0 Authentication successful")?;
                } else {
                    c.reply("535 5.7.8 Authentication credentials invalid")?;
                }
            }
            "MAIL" => {
                if options.auth.is_some() && user.is_none() {
                    c.reply("530 5.7.0 Authentication required")?;
                    continue;
                }
                from = Some(path_of(
                    arg.split_once(':').map(|x| x.1).unwrap_or_default(),
                ));
                to.clear();
                c.reply("250 2.1.0 Ok")?;
            }
            "RCPT" => {
                if from.is_none() {
                    c.reply("503 5.5.1 Error: need MAIL command")?;
                } else if let Some(refusal) = &options.refuse_rcpt {
                    c.reply(refusal)?;
                } else {
                    to.push(path_of(
                        arg.split_once(':').map(|x| x.1).unwrap_or_default(),
                    ));
                    c.reply("250 2.1.5 Ok")?;
                }
            }
            "DATA" => {
                if to.is_empty() {
                    c.reply("503 5.5.1 Error: need RCPT command")?;
                    continue;
                }
                c.reply("354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    let Some(l) = c.line()? else {
                        return Ok(());
                    };
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push_str("\r\n");
                }
                let mut messages = shared.messages.lock().unwrap();
                messages.push(ReceivedMail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                    auth_user: user.clone(),
                    tls,
                });
                let n = messages.len();
                drop(messages);
                c.reply(&format!("250 2.0.0 Ok: queued as {n}"))?;
            }
            "RSET" => {
                from = None;
                to.clear();
                c.reply("250 2.0.0 Ok")?;
            }
            "NOOP" => c.reply("250 2.0.0 Ok")?,
            "QUIT" => {
                c.reply("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => c.reply("502 5.5.2 Error: command not recognized")?,
        }
    }
    Ok(())
}
