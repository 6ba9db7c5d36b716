//! The delivery probe: a TLS handshake with the server that should now serve the new certificate, and what it presented.
//!
//! The probe does not judge trust (the certificate is certfs' own): it
//! takes whatever leaf the server presents, checks the handshake's
//! signature with it, and compares its bytes with the current version's.
//! A server still presenting the old certificate is asked again, after
//! 1 s and then twice as long each time (at most 30 s), until
//! `retry_for_s` has passed.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};

/// Seconds a handshake may take, unless `hooks.json` says otherwise.
const DEFAULT_TIMEOUT: u32 = 10;
/// Seconds a probe keeps asking while the old certificate is served.
const DEFAULT_RETRY_FOR: u32 = 600;
/// The first pause before asking again.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// A server to check after the hooks ran: `hooks.json`'s `probe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// `host:port` to connect to.
    pub connect: String,
    /// The name sent as SNI.
    pub server_name: String,
    /// Seconds one handshake may take (1 to 300, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    /// Seconds to keep asking while the old certificate is served (0 to 86400, default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_for_s: Option<u32>,
}

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Whether the server presented the expected certificate.
    pub ok: bool,
    /// The serial of what it presented, as `status.json` writes
    /// `serial_number`; empty if nothing was presented.
    pub served_serial: String,
    /// What happened, in words.
    pub message: String,
}

impl Probe {
    /// Why this probe cannot be used, if it cannot.
    pub(super) fn refusal(&self) -> Option<String> {
        let port = self.connect.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
        if !matches!(port, Some(Ok(p)) if p > 0) {
            return Some("hooks.json: probe.connect must be host:port".into());
        }
        if ServerName::try_from(self.server_name.as_str()).is_err() {
            return Some(
                "hooks.json: probe.server_name must be a DNS name or an IP address".into(),
            );
        }
        if self.timeout_s.is_some_and(|t| !(1..=300).contains(&t)) {
            return Some("hooks.json: probe.timeout_s must be 1 to 300".into());
        }
        if self.retry_for_s.is_some_and(|t| t > 86_400) {
            return Some("hooks.json: probe.retry_for_s must be 0 to 86400".into());
        }
        None
    }

    /// Asks until the server presents `expected` (a leaf, DER) or
    /// `retry_for_s` has passed. Blocks: call it on a thread of its own.
    pub(crate) fn check(&self, expected: &[u8]) -> Seen {
        let give_up = Instant::now()
            + Duration::from_secs(self.retry_for_s.unwrap_or(DEFAULT_RETRY_FOR).into());
        let mut pause = FIRST_PAUSE;
        loop {
            let seen = self.once(expected);
            if seen.ok || Instant::now() + pause > give_up {
                return seen;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// One handshake.
    fn once(&self, expected: &[u8]) -> Seen {
        match self.presented() {
            Ok(leaf) => {
                let served_serial = serial_of(&leaf);
                let ok = leaf == expected;
                let message = if ok {
                    format!("{} serves the current certificate", self.connect)
                } else {
                    format!(
                        "{} serves another certificate (serial {served_serial})",
                        self.connect
                    )
                };
                Seen {
                    ok,
                    served_serial,
                    message,
                }
            }
            Err(why) => Seen {
                ok: false,
                served_serial: String::new(),
                message: format!("probe of {} ({}): {why}", self.connect, self.server_name),
            },
        }
    }

    /// The leaf the server presents.
    fn presented(&self) -> Result<Vec<u8>, ProbeError> {
        let timeout = Duration::from_secs(self.timeout_s.unwrap_or(DEFAULT_TIMEOUT).into());
        let address = self
            .connect
            .to_socket_addrs()
            .map_err(ProbeError::Io)?
            .next()
            .ok_or(ProbeError::NoAddress)?;
        let mut tcp = TcpStream::connect_timeout(&address, timeout).map_err(ProbeError::Io)?;
        tcp.set_read_timeout(Some(timeout))
            .map_err(ProbeError::Io)?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(ProbeError::Io)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(ProbeError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyLeaf(provider)))
            .with_no_client_auth();
        let name = ServerName::try_from(self.server_name.clone()).map_err(ProbeError::Name)?;
        let mut tls = ClientConnection::new(Arc::new(config), name).map_err(ProbeError::Tls)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp).map_err(ProbeError::Io)?;
        }
        let leaf = tls
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| leaf.to_vec())
            .ok_or(ProbeError::NoCertificate)?;
        // A polite end; the answer does not matter.
        tls.send_close_notify();
        let _ = tls.complete_io(&mut tcp);
        let _ = tcp.flush();
        let _ = tcp.read(&mut [0u8; 1]);
        Ok(leaf)
    }
}

/// A certificate's serial as `status.json` shows it.
fn serial_of(der: &[u8]) -> String {
    crate::pki::x509::inspect(der)
        .map(|info| info.serial_hex)
        .unwrap_or_default()
}

/// Takes any leaf, checking only that the handshake was signed with it.
#[derive(Debug)]
struct AnyLeaf(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyLeaf {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a probe saw no certificate: the words go into `last_hook` and the
/// failed-delivery mail, so each says it in the words of what failed.
#[derive(Debug)]
enum ProbeError {
    /// Resolving, connecting, or the handshake's I/O.
    Io(std::io::Error),
    /// `connect` resolved to no address.
    NoAddress,
    /// `server_name` is no name TLS can send.
    Name(rustls::pki_types::InvalidDnsNameError),
    /// The TLS library refused the connection's setup.
    Tls(rustls::Error),
    /// The handshake ended without a certificate.
    NoCertificate,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Io(e) => e.fmt(f),
            ProbeError::NoAddress => f.write_str("no address"),
            ProbeError::Name(e) => e.fmt(f),
            ProbeError::Tls(e) => e.fmt(f),
            ProbeError::NoCertificate => f.write_str("the server presented no certificate"),
        }
    }
}

impl std::error::Error for ProbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProbeError::Io(e) => Some(e),
            ProbeError::Name(e) => Some(e),
            ProbeError::Tls(e) => Some(e),
            ProbeError::NoAddress | ProbeError::NoCertificate => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(connect: &str, name: &str) -> Probe {
        Probe {
            connect: connect.into(),
            server_name: name.into(),
            timeout_s: None,
            retry_for_s: Some(0),
        }
    }

    #[test]
    fn addresses_and_names_are_checked_when_hooks_json_is_written() {
        assert!(
            probe("127.0.0.1:443", "web.example.test")
                .refusal()
                .is_none()
        );
        assert!(probe("[::1]:8443", "10.0.0.1").refusal().is_none());
        for (connect, name) in [
            ("127.0.0.1", "web"),
            ("127.0.0.1:0", "web"),
            ("127.0.0.1:99999", "web"),
            ("127.0.0.1:443", "not a name"),
            ("127.0.0.1:443", ""),
        ] {
            assert!(probe(connect, name).refusal().is_some(), "{connect} {name}");
        }
        let mut slow = probe("127.0.0.1:443", "web");
        slow.timeout_s = Some(0);
        assert!(slow.refusal().is_some());
    }

    #[test]
    fn an_unreachable_server_is_a_failed_probe_in_words() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let seen = probe(&format!("127.0.0.1:{port}"), "web.example.test").check(b"leaf");
        assert!(!seen.ok);
        assert!(seen.served_serial.is_empty());
        assert!(
            seen.message.contains(&format!("127.0.0.1:{port}")),
            "{}",
            seen.message
        );
    }
}
