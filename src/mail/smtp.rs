//! [`SmtpMailer`]: sends a [`Mail`] through an SMTP server with `lettre` (blocking, rustls on aws-lc-rs, a timeout per step).
//!
//! One connection per mail (contacts are mailed rarely; nothing to keep
//! open). `smtp+starttls://` refuses to go on when the server offers no
//! STARTTLS; `smtps://` speaks TLS from the first byte. Server
//! certificates are checked against the system's roots (and
//! `--smtp-ca-file`). The password goes only into the AUTH exchange: not
//! into `Debug`, logs or errors.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials as LettreCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};

use super::config::{MailConfig, Security, SmtpServer};
use super::{Mail, MailError, Mailer};

/// Sends mail through the SMTP server of a [`MailConfig`].
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
    server: SmtpServer,
    user: Option<String>,
    timeout_secs: u64,
}

impl SmtpMailer {
    /// Builds the mailer (no connection is made yet). Fails on a bad sender
    /// address or unusable TLS settings.
    pub fn new(config: MailConfig) -> Result<SmtpMailer, MailError> {
        let from: Mailbox = config.from.parse().map_err(|_| {
            MailError::Config(format!(
                "the sender \"{}\" is not an e-mail address (set one with --smtp-from)",
                config.from.escape_default()
            ))
        })?;
        let server = config.server.clone();
        let tls = match server.security {
            Security::Plain => Tls::None,
            Security::StartTls => Tls::Required(tls_parameters(&config)?),
            Security::ImplicitTls => Tls::Wrapper(tls_parameters(&config)?),
        };
        let hello = match config.hello_name.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => ClientId::Ipv4(a),
            Ok(std::net::IpAddr::V6(a)) => ClientId::Ipv6(a),
            Err(_) => ClientId::Domain(config.hello_name.clone()),
        };
        let mut builder = SmtpTransport::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls)
            .hello_name(hello)
            .timeout(Some(config.timeout));
        let user = config.credentials.as_ref().map(|c| c.user.clone());
        if let Some(credentials) = &config.credentials {
            if server.security == Security::Plain && !is_loopback(&server.host) {
                log::warn!(
                    "SMTP AUTH over {} sends the password unencrypted; use smtp+starttls:// or smtps://",
                    server
                );
            }
            builder = builder.credentials(LettreCredentials::new(
                credentials.user.clone(),
                credentials.password.expose().to_owned(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            server,
            user,
            timeout_secs: config.timeout.as_secs().max(1),
        })
    }

    /// The server mail goes to.
    pub fn server(&self) -> &SmtpServer {
        &self.server
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        if mail.to.is_empty() {
            return Err(MailError::Address("the mail has no recipient".into()));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .message_id(Some(message_id(&self.from)))
            .header(ContentType::TEXT_PLAIN)
            // RFC 3834: a notice from a program; auto-responders stay quiet.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ));
        for to in &mail.to {
            let mailbox: Mailbox = to.parse().map_err(|_| {
                MailError::Address(format!(
                    "\"{}\" is not an e-mail address",
                    to.escape_default()
                ))
            })?;
            builder = builder.to(mailbox);
        }
        builder
            .body(mail.body.clone())
            .map_err(|e| MailError::Address(e.to_string()))
    }

    /// The SMTP error in the words a user can act on.
    fn error(&self, e: lettre::transport::smtp::Error) -> MailError {
        if let Some(code) = e.status() {
            let message = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            return MailError::Refused {
                code: code.to_string().parse().unwrap_or(0),
                message,
            };
        }
        if timed_out(&e) {
            return MailError::Unavailable(format!(
                "{}: no answer within {} s",
                self.server, self.timeout_secs
            ));
        }
        let cause = causes(&e);
        if cause.contains("STARTTLS is not supported") {
            return MailError::Unavailable(format!(
                "{} offers no STARTTLS, which smtp+starttls:// requires; nothing was sent",
                self.server
            ));
        }
        MailError::Unavailable(format!("{}: {cause}", self.server))
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server.url())
            .field("from", &self.from.to_string())
            .field("user", &self.user)
            .field("password", &self.user.as_ref().map(|_| "<elided>"))
            .finish()
    }
}

fn tls_parameters(config: &MailConfig) -> Result<TlsParameters, MailError> {
    let mut params = TlsParameters::builder(config.server.host.clone());
    if let Some(pem) = &config.extra_roots_pem {
        let roots = Certificate::from_pem(pem).map_err(|e| {
            MailError::Config(format!("the SMTP CA file holds unusable certificates: {e}"))
        })?;
        params = params.add_root_certificate(roots);
    }
    params
        .build_rustls()
        .map_err(|e| MailError::Config(format!("cannot set up TLS for {}: {e}", config.server)))
}

/// A unique Message-ID in the sender's domain.
fn message_id(from: &Mailbox) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "<certfs.{nanos:x}.{:x}.{n}@{}>",
        std::process::id(),
        from.email.domain()
    )
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false)
}

/// Whether a read or connect ran out of time (SO_RCVTIMEO gives EAGAIN).
fn timed_out(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = err.source();
    }
    false
}

/// The error and its causes, innermost last, without repeats.
fn causes(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let s = err.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = err.source();
    }
    text
}
