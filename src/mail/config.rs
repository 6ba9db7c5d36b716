//! The mail settings given at mount: the `--smtp` URL as a typed [`SmtpServer`], the sender, credentials read from a file, extra CA roots.
//!
//! Parse, don't validate: [`SmtpServer::parse`] turns the URL into a
//! scheme, host and port or says plainly what is wrong, and
//! [`MailConfig::load`] reads the password file once. The password lives
//! in a [`Password`], zeroed on drop and never shown by `Debug` or in an
//! error.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::fmt;
use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::MailError;

/// How long one step of an SMTP conversation (connect, each reply) may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const URL_FORMS: &str = "smtp://host[:port], smtp+starttls://host[:port] or smtps://host[:port]";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: no TLS (a relay on the same host or network); port 25.
    Plain,
    /// `smtp+starttls://`: STARTTLS is required before anything is sent; port 587.
    StartTls,
    /// `smtps://`: TLS from the first byte; port 465.
    ImplicitTls,
}

impl Security {
    /// The scheme of the `--smtp` URL.
    pub fn scheme(self) -> &'static str {
        match self {
            Security::Plain => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::ImplicitTls => "smtps",
        }
    }

    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Plain => 25,
            Security::StartTls => 587,
            Security::ImplicitTls => 465,
        }
    }
}

/// The SMTP server of `--smtp URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Plain, STARTTLS or implicit TLS.
    pub security: Security,
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl SmtpServer {
    /// Parses `smtp://host[:port]`, `smtp+starttls://host[:port]` or
    /// `smtps://host[:port]`. A user or password in the URL is refused (it
    /// would show in `ps`); so are paths and queries. Errors never repeat
    /// the URL, which might hold a password.
    pub fn parse(url: &str) -> Result<SmtpServer, MailError> {
        let bad = |why: &str| MailError::Config(format!("bad --smtp URL: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(&format!("expected {URL_FORMS}")))?;
        let security = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => Security::Plain,
            "smtp+starttls" => Security::StartTls,
            "smtps" => Security::ImplicitTls,
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(bad(&format!(
                    "unknown scheme \"{}\"; use {URL_FORMS}",
                    shown.escape_default()
                )));
            }
        };
        if rest.contains('@') {
            return Err(bad(
                "it must not carry a user or password (they would show in ps); \
                 use --smtp-user and --smtp-password-file",
            ));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(bad(&format!(
                "no path or query is allowed; expected {URL_FORMS}"
            )));
        }
        let (host, port) = split_host_port(authority).map_err(|e| bad(&e.to_string()))?;
        let port = match port {
            None => security.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(bad(&format!(
                        "the port \"{}\" is not 1-65535",
                        p.escape_default()
                    )));
                }
            },
        };
        Ok(SmtpServer {
            security,
            host,
            port,
        })
    }

    /// The server as a URL, as the user would write it.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}", self.security.scheme(), self.port)
    }
}

impl fmt::Display for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// Why an SMTP URL's host part is refused (said after "the SMTP server
/// URL ... is invalid:").
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthorityError {
    /// `[` without its `]`.
    UnclosedV6,
    /// Between the brackets, something that is no IPv6 address (as written).
    NotV6(String),
    /// Something other than `:port` after `]`.
    AfterV6,
    /// Nothing before the port.
    NoHost,
    /// A host that is no name or address (its first 80 characters).
    NotHost(String),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityError::UnclosedV6 => f.write_str("an IPv6 address needs its closing ]"),
            AuthorityError::NotV6(v6) => {
                write!(f, "\"{}\" is not an IPv6 address", v6.escape_default())
            }
            AuthorityError::AfterV6 => f.write_str("expected :port after ]"),
            AuthorityError::NoHost => write!(f, "no host; expected {URL_FORMS}"),
            AuthorityError::NotHost(host) => write!(
                f,
                "\"{}\" is not a host name or IP address",
                host.escape_default()
            ),
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → host and the port's text.
fn split_host_port(authority: &str) -> Result<(String, Option<&str>), AuthorityError> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(AuthorityError::UnclosedV6)?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| AuthorityError::NotV6(v6.to_owned()))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(AuthorityError::AfterV6)?),
        };
        return Ok((v6.to_owned(), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(AuthorityError::NoHost);
    }
    let valid = host.len() <= 253
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err(AuthorityError::NotHost(host.chars().take(80).collect()));
    }
    Ok((host.to_owned(), port))
}

/// A password: zeroed on drop, never shown by `Debug`.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps `secret`.
    pub fn new(secret: String) -> Password {
        Password(Zeroizing::new(secret))
    }

    /// The secret itself, for the SMTP AUTH exchange only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<elided>)")
    }
}

/// A user name and password for SMTP AUTH.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user name (`--smtp-user`).
    pub user: String,
    /// The password (first line of `--smtp-password-file`).
    pub password: Password,
}

/// The mail options as the command line has them (plain values).
#[derive(Debug, Clone, Default)]
pub struct MailOptions {
    /// `--smtp URL`.
    pub smtp: String,
    /// `--smtp-from ADDRESS`; default `certfs@<hostname>`.
    pub from: Option<String>,
    /// `--smtp-user USER`.
    pub user: Option<String>,
    /// `--smtp-password-file PATH`.
    pub password_file: Option<PathBuf>,
    /// `--smtp-ca-file PATH`: PEM certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// Everything needed to send mail, read once at mount.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// The server.
    pub server: SmtpServer,
    /// The sender (`From` and envelope), as given or `certfs@<hostname>`.
    pub from: String,
    /// Credentials for SMTP AUTH, if any.
    pub credentials: Option<Credentials>,
    /// PEM certificates to trust besides the system's roots.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// How long connecting and each reply may take.
    pub timeout: Duration,
    /// The name this host gives in EHLO.
    pub hello_name: String,
}

impl MailConfig {
    /// A configuration for `server` with the defaults: sender
    /// `certfs@<hostname>`, no credentials, the system's roots, 30 s.
    pub fn new(server: SmtpServer) -> MailConfig {
        let host = hostname();
        MailConfig {
            server,
            from: format!("certfs@{host}"),
            credentials: None,
            extra_roots_pem: None,
            timeout: DEFAULT_TIMEOUT,
            hello_name: host,
        }
    }

    /// Parses the URL, reads the password file and the CA file: what the
    /// mount does with the command line's options. Errors are one line and
    /// never hold the password.
    pub fn load(options: &MailOptions) -> Result<MailConfig, MailError> {
        let mut config = MailConfig::new(SmtpServer::parse(&options.smtp)?);
        if let Some(from) = &options.from {
            config.from = from.clone();
        }
        config.credentials = match (&options.user, &options.password_file) {
            (Some(user), Some(file)) => Some(Credentials {
                user: user.clone(),
                password: read_password_file(file)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(MailError::Config(
                    "--smtp-user needs --smtp-password-file".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(MailError::Config(
                    "--smtp-password-file needs --smtp-user".into(),
                ));
            }
        };
        if let Some(file) = &options.ca_file {
            config.extra_roots_pem = Some(read_ca_file(file)?);
        }
        Ok(config)
    }

    /// The same configuration with another per-step timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> MailConfig {
        self.timeout = timeout;
        self
    }
}

/// Reads the password: the file's first line, without its line ending.
fn read_password_file(path: &Path) -> Result<Password, MailError> {
    let shown = path.display();
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| MailError::File {
        what: "SMTP password file",
        path: path.to_path_buf(),
        source,
    })?);
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "the SMTP password file {shown} can be read by others (mode {:o}); chmod 600 it",
                meta.permissions().mode() & 0o777
            );
        }
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        MailError::Config(format!("the SMTP password file {shown} is not UTF-8 text"))
    })?;
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    if line.is_empty() {
        return Err(MailError::Config(format!(
            "the SMTP password file {shown} is empty (the password is its first line)"
        )));
    }
    Ok(Password::new(line.to_owned()))
}

/// Reads PEM certificates to trust besides the system's roots.
fn read_ca_file(path: &Path) -> Result<Vec<u8>, MailError> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|source| MailError::File {
        what: "SMTP CA file",
        path: path.to_path_buf(),
        source,
    })?;
    let certificates = pem::parse_many(&bytes)
        .map(|blocks| blocks.iter().filter(|b| b.tag() == "CERTIFICATE").count())
        .unwrap_or(0);
    if certificates == 0 {
        return Err(MailError::Config(format!(
            "the SMTP CA file {shown} holds no PEM certificate"
        )));
    }
    Ok(bytes)
}

/// This host's name (for EHLO and the default sender), `localhost` if unknown.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if !name.is_empty() => name.to_owned(),
        _ => "localhost".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(url: &str) -> String {
        SmtpServer::parse(url).unwrap_err().to_string()
    }

    #[test]
    fn schemes_and_default_ports() {
        let s = SmtpServer::parse("smtp://mail.example.com").unwrap();
        assert_eq!(
            (s.security, s.host.as_str(), s.port),
            (Security::Plain, "mail.example.com", 25)
        );
        let s = SmtpServer::parse("smtp+starttls://mail.example.com/").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = SmtpServer::parse("SMTPS://10.0.0.1").unwrap();
        assert_eq!(
            (s.security, s.host.as_str(), s.port),
            (Security::ImplicitTls, "10.0.0.1", 465)
        );
        let s = SmtpServer::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(s.port, 2525);
        let s = SmtpServer::parse("smtps://[::1]:4650").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 4650));
        assert_eq!(s.url(), "smtps://[::1]:4650");
        let s = SmtpServer::parse("smtp://[2001:db8::1]").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("2001:db8::1", 25));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(parse_err("bogus://x").contains("unknown scheme \"bogus\""));
        assert!(parse_err("mail.example.com").contains("smtp://host[:port]"));
        assert!(parse_err("smtp://").contains("no host"));
        assert!(parse_err("smtp://host:0").contains("not 1-65535"));
        assert!(parse_err("smtp://host:99999").contains("not 1-65535"));
        assert!(parse_err("smtp://host:x").contains("not 1-65535"));
        assert!(parse_err("smtp://host/path").contains("no path"));
        assert!(parse_err("smtp://host?tls=required").contains("no path"));
        assert!(parse_err("smtp://ho st").contains("not a host name"));
        assert!(parse_err("smtp://[::1").contains("closing ]"));
        assert!(parse_err("smtp://[nope]").contains("not an IPv6"));
    }

    #[test]
    fn user_info_is_refused_without_repeating_the_password() {
        for url in [
            "smtp://alice:s3cret-pw@mail.example.com",
            "smtps://alice:s3cret/pw@mail.example.com:465",
            "smtp://alice@mail.example.com",
        ] {
            let e = parse_err(url);
            assert!(e.contains("--smtp-password-file"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
            assert!(!e.contains("alice"), "{e}");
        }
    }

    #[test]
    fn password_file_first_line_and_refusals() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap().expose(), "hunter2");
        std::fs::write(&file, "hunter2\r\nsecond line\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap().expose(), "hunter2");
        std::fs::write(&file, "\n").unwrap();
        let e = read_password_file(&file).unwrap_err().to_string();
        assert!(e.contains("is empty"), "{e}");
        let e = read_password_file(&dir.join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the SMTP password file"), "{e}");
        assert!(e.contains("missing"), "{e}");
        let p = Password::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn unreadable_files_keep_the_os_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        let e = read_ca_file(&missing).unwrap_err();
        match &e {
            MailError::File { what, path, source } => {
                assert_eq!(*what, "SMTP CA file");
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        let source = std::error::Error::source(&e).expect("the I/O error");
        assert!(source.is::<std::io::Error>(), "{source:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read the SMTP CA file {}: {source}",
                missing.display()
            )
        );
        assert!(!e.is_temporary());
        let e = read_password_file(&missing).unwrap_err();
        assert!(
            matches!(
                &e,
                MailError::File {
                    what: "SMTP password file",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn user_and_password_file_go_together() {
        let options = MailOptions {
            smtp: "smtp://localhost".into(),
            user: Some("alice".into()),
            ..MailOptions::default()
        };
        let e = MailConfig::load(&options).unwrap_err().to_string();
        assert!(e.contains("--smtp-password-file"), "{e}");
    }
}
