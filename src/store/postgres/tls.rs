//! TLS to PostgreSQL with libpq's parameters: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, taken from the URL and turned into a rustls client (aws-lc-rs) for `tokio-postgres-rustls`.
//!
//! What each `sslmode` does, as libpq documents it:
//!
//! | `sslmode` | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (default) | if the server offers it | not checked |
//! | `require` | always | not checked, unless a root certificate file is there (then as `verify-ca`) |
//! | `verify-ca` | always | signed by a root of `sslrootcert` |
//! | `verify-full` | always | and issued for the host name (or IP address) the URL names |
//!
//! `sslrootcert` is a PEM file of root certificates (default
//! `~/.postgresql/root.crt`), or `system` for the operating system's
//! roots (which, as in libpq, implies `verify-full`). `sslcert` and
//! `sslkey` are the client certificate (PEM, with its chain) and its
//! unencrypted private key (PEM: PKCS#8, PKCS#1 or SEC1), for servers
//! whose `pg_hba.conf` says `hostssl ... cert`; the key file must not be
//! readable by group or others (0600, or 0640 owned by root), as libpq
//! requires. Over a unix socket there is no TLS whatever the mode (libpq
//! ignores `sslmode` there too).
//!
//! The files are read at each connection, so renewed certificates are
//! used from the next reconnection on. Errors name the file, never its
//! content.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// `sslmode`: whether to use TLS and what to check of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, nothing checked.
    #[default]
    Prefer,
    /// TLS always, nothing checked (unless a root certificate file exists).
    Require,
    /// TLS always, the server's chain checked against the roots.
    VerifyCa,
    /// TLS always, the chain and the server's name checked.
    VerifyFull,
}

impl SslMode {
    /// The mode named `text`, if libpq's and supported.
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The mode as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file.
    File(PathBuf),
    /// The operating system's roots (`sslrootcert=system`).
    System,
}

/// The TLS parameters of a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslmode` was written in the URL.
    pub explicit: bool,
    /// `sslrootcert`.
    pub root: Option<RootCerts>,
    /// `sslcert`.
    pub cert: Option<PathBuf>,
    /// `sslkey`.
    pub key: Option<PathBuf>,
}

/// Why a TLS parameter or file is refused. Never shows a file's content.
#[derive(Debug)]
pub enum TlsError {
    /// `sslmode` has a value certfs does not know.
    Mode,
    /// A parameter is given an empty value.
    Empty(&'static str),
    /// `sslcert` without `sslkey`, or the other way round.
    HalfClientCertificate,
    /// A file cannot be read.
    Read {
        /// The parameter that names it.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A file holds nothing of what it should (no certificate, no key).
    Nothing {
        /// The parameter that names it.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The private key file may be read by others.
    KeyMode {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// rustls refused the settings (a key that does not fit, an unusable root).
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Mode => {
                f.write_str("sslmode must be disable, prefer, require, verify-ca or verify-full")
            }
            TlsError::Empty(what) => write!(f, "{what} names no file"),
            TlsError::HalfClientCertificate => {
                f.write_str("a client certificate needs both sslcert and sslkey")
            }
            TlsError::Read { what, path, source } => {
                write!(f, "cannot read {what} {}: {source}", path.display())
            }
            TlsError::Nothing { what, path } => {
                write!(f, "{what} {} holds no PEM {}", path.display(), noun(what))
            }
            TlsError::KeyMode { path, mode } => write!(
                f,
                "sslkey {} has group or world access (mode {mode:04o}): make it 0600, \
                 or 0640 owned by root",
                path.display()
            ),
            TlsError::Rustls(e) => write!(f, "TLS settings refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

/// What file `what` should hold.
fn noun(what: &str) -> &'static str {
    match what {
        "sslkey" => "private key",
        _ => "certificate",
    }
}

impl TlsSettings {
    /// Takes `key=value` (decoded) if it is a TLS parameter; `Ok(false)` if it is another one.
    pub(super) fn take(&mut self, key: &str, value: &str) -> Result<bool, TlsError> {
        let path = |what| {
            if value.is_empty() {
                Err(TlsError::Empty(what))
            } else {
                Ok(PathBuf::from(value))
            }
        };
        match key {
            "sslmode" => {
                self.mode = SslMode::parse(value).ok_or(TlsError::Mode)?;
                self.explicit = true;
            }
            "sslrootcert" if value == "system" => self.root = Some(RootCerts::System),
            "sslrootcert" => self.root = Some(RootCerts::File(path("sslrootcert")?)),
            "sslcert" => self.cert = Some(path("sslcert")?),
            "sslkey" => self.key = Some(path("sslkey")?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks what can be checked without reading files, and settles the
    /// mode: `sslrootcert=system` means `verify-full`.
    pub(super) fn finish(&mut self) -> Result<(), TlsError> {
        if self.cert.is_some() != self.key.is_some() {
            return Err(TlsError::HalfClientCertificate);
        }
        if self.root == Some(RootCerts::System) {
            self.mode = SslMode::VerifyFull;
        }
        Ok(())
    }

    /// The connector for these settings: roots, client certificate and
    /// key read now.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = self.roots()?;
        let check_name = self.mode == SslMode::VerifyFull;
        let verifier = Verifier {
            roots: roots.map(Arc::new),
            check_name,
            provider: Arc::clone(&provider),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certificates("sslcert", cert)?, private_key(key)?)
                .map_err(TlsError::Rustls)?,
            _ => builder.with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// The roots the server's chain is checked against; `None` when
    /// nothing is checked (`prefer`, or `require` without a root file).
    fn roots(&self) -> Result<Option<RootCertStore>, TlsError> {
        let verify = matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let path = match &self.root {
            Some(RootCerts::System) => return system_roots().map(Some),
            Some(RootCerts::File(path)) => path.clone(),
            None => match default_root_file() {
                Some(path) if verify || path.exists() => path,
                _ if verify => {
                    return Err(TlsError::Read {
                        what: "sslrootcert",
                        path: PathBuf::from("~/.postgresql/root.crt"),
                        source: io::Error::from(io::ErrorKind::NotFound),
                    });
                }
                _ => return Ok(None),
            },
        };
        if !verify && self.mode != SslMode::Require {
            return Ok(None);
        }
        let mut store = RootCertStore::empty();
        for cert in certificates("sslrootcert", &path)? {
            store.add(cert).map_err(TlsError::Rustls)?;
        }
        Ok(Some(store))
    }
}

/// `~/.postgresql/root.crt`, libpq's default root file.
fn default_root_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".postgresql/root.crt"))
}

/// The operating system's roots.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::Nothing {
            what: "sslrootcert",
            path: PathBuf::from("system"),
        });
    }
    Ok(store)
}

/// The certificates of PEM file `path`, named by parameter `what`.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Nothing {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The private key of PEM file `path`, if only its owner (or root's group) may read it.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let read = |source| TlsError::Read {
        what: "sslkey",
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    let mode = meta.mode() & 0o7777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & 0o777 & !allowed != 0 {
        return Err(TlsError::KeyMode {
            path: path.to_owned(),
            mode,
        });
    }
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(read)?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Nothing {
        what: "sslkey",
        path: path.to_owned(),
    })
}

/// The server certificate check of one `sslmode`: none, the chain, or
/// the chain and the name. The handshake's signatures are always checked
/// (the server proves it holds the certificate's key).
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check_name {
            verify_server_name(&cert, server_name)?;
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<TlsSettings, TlsError> {
        let mut s = TlsSettings::default();
        for (k, v) in pairs {
            assert!(s.take(k, v)?, "{k} is a TLS parameter");
        }
        s.finish()?;
        Ok(s)
    }

    #[test]
    fn modes_parse_as_libpq_names_them() {
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            let s = settings(&[("sslmode", mode)]).unwrap();
            assert_eq!(s.mode.as_str(), mode);
        }
        assert!(matches!(
            settings(&[("sslmode", "verify")]),
            Err(TlsError::Mode)
        ));
        assert_eq!(TlsSettings::default().mode, SslMode::Prefer);
    }

    #[test]
    fn system_roots_mean_verify_full_and_half_a_client_certificate_is_refused() {
        let s = settings(&[("sslmode", "require"), ("sslrootcert", "system")]).unwrap();
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert!(matches!(
            settings(&[("sslcert", "/c.pem")]),
            Err(TlsError::HalfClientCertificate)
        ));
        assert!(matches!(
            settings(&[("sslkey", "")]),
            Err(TlsError::Empty("sslkey"))
        ));
        let mut other = TlsSettings::default();
        assert!(!other.take("application_name", "x").unwrap());
    }

    #[test]
    fn a_key_file_others_may_read_is_refused_naming_the_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let err = private_key(&key).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains("client.key") && shown.contains("0644"),
            "{shown}"
        );
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let s = settings(&[
            ("sslmode", "verify-full"),
            ("sslrootcert", "/nonexistent/root.pem"),
        ])
        .unwrap();
        let err = s.connector().err().expect("refused").to_string();
        assert!(err.contains("sslrootcert /nonexistent/root.pem"), "{err}");
    }
}
