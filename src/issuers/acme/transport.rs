//! The HTTP client instant-acme talks through: ureq on tokio's blocking pool, certfs' timeouts, the issuer's `ca_file` as the only trust roots, and "retry later" told apart from the CA's answers.
//!
//! instant-acme takes any [`HttpClient`]; this one keeps the ACME provider
//! on the same blocking client and rules as the other network CAs
//! (`issuers::http`) instead of a second HTTP stack:
//!
//! - a transport fault (refused, reset, TLS failure, timeout), HTTP 429 and
//!   any 5xx come back as an [`instant_acme::Error::Other`] holding
//!   [`Unreachable`], which the provider turns into `CaError::Unavailable`;
//! - every other answer goes to instant-acme as it is, except that a 4xx
//!   without a JSON body (pebble answers an unknown order with a bare 404)
//!   gets a small RFC 7807 problem document naming the status, so that it
//!   reads as the CA's refusal rather than as garbled JSON.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::as_user::{self, AsUserError, Identity};

/// How long one request may take, connect to last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read (a certificate chain is a few KiB).
const MAX_BODY: u64 = 4 << 20;

/// How much of an error body is quoted.
const QUOTE: usize = 300;

/// The CA could not be reached, or answered 429 or 5xx: try again later.
#[derive(Debug, Clone)]
pub struct Unreachable(pub String);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Unreachable {}

/// A blocking ureq agent behind instant-acme's async [`HttpClient`].
#[derive(Clone)]
pub struct Transport {
    agent: ureq::Agent,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Transport")
    }
}

impl Transport {
    /// A client that trusts the system's web PKI roots, or only the
    /// certificates of the PEM bundle `ca_file` when given (a private ACME
    /// server such as pebble or step-ca), read as `reader` (the user who
    /// wrote the issuer file).
    pub fn new(ca_file: Option<&Path>, reader: &Identity) -> Result<Self, CaFileError> {
        let roots = match ca_file {
            None => RootCerts::WebPki,
            Some(path) => RootCerts::new_with_certs(&read_bundle(path, reader)?),
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            // ACME answers 201 with Location; no redirect is followed for it.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("certfs/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        Ok(Transport { agent })
    }
}

/// Why a `ca_file` cannot be used.
#[derive(Debug)]
pub enum CaFileError {
    /// It cannot be read as the issuer's writer (or is no regular file, or too large).
    Open(AsUserError),
    /// It is not PEM.
    NotPem {
        /// The file.
        path: PathBuf,
        /// The parser's words.
        source: pem::PemError,
    },
    /// It is PEM without a `CERTIFICATE` block.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for CaFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaFileError::Open(e) => write!(f, "ca_file: {e}"),
            CaFileError::NotPem { path, source } => {
                write!(f, "ca_file {} is not PEM: {source}", path.display())
            }
            CaFileError::NoCertificate { path } => {
                write!(f, "ca_file {} holds no CERTIFICATE block", path.display())
            }
        }
    }
}

impl StdError for CaFileError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            CaFileError::Open(e) => Some(e),
            CaFileError::NotPem { source, .. } => Some(source),
            CaFileError::NoCertificate { .. } => None,
        }
    }
}

/// Whether `path` is a PEM bundle with at least one certificate that
/// `reader` may read (what an issuer file's `ca_file` must be).
pub fn check_ca_file(path: &Path, reader: &Identity) -> Result<(), CaFileError> {
    read_bundle(path, reader).map(drop)
}

/// The certificates of a PEM bundle, read as `reader`: a regular file of
/// at most [`as_user::MAX_READ`] bytes.
fn read_bundle(path: &Path, reader: &Identity) -> Result<Vec<Certificate<'static>>, CaFileError> {
    let text = as_user::read_file(reader, path, as_user::MAX_READ).map_err(CaFileError::Open)?;
    let blocks = pem::parse_many(&text).map_err(|source| CaFileError::NotPem {
        path: path.to_owned(),
        source,
    })?;
    let certs: Vec<_> = blocks
        .iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| Certificate::from_der(b.contents()).to_owned())
        .collect();
    if certs.is_empty() {
        return Err(CaFileError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

impl HttpClient for Transport {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let agent = self.agent.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            tokio::task::spawn_blocking(move || send(&agent, parts, body))
                .await
                .map_err(|e| Error::Other(Box::new(e)))?
        })
    }
}

/// One blocking exchange.
fn send(
    agent: &ureq::Agent,
    parts: http::request::Parts,
    body: Bytes,
) -> Result<BytesResponse, Error> {
    let url = parts.uri.to_string();
    let unreachable = |e: ureq::Error| Error::Other(Box::new(Unreachable(format!("{url}: {e}"))));
    let response = if body.is_empty() {
        agent.run(Request::from_parts(parts, ureq::SendBody::none()))
    } else {
        agent.run(Request::from_parts(parts, body.to_vec()))
    };
    let mut response = response.map_err(unreachable)?;
    let content = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(unreachable)?;
    let (parts, _) = response.into_parts();
    let status = parts.status.as_u16();
    if status == 429 || status >= 500 {
        let text: String = String::from_utf8_lossy(&content)
            .chars()
            .take(QUOTE)
            .collect();
        return Err(Error::Other(Box::new(Unreachable(format!(
            "{url}: HTTP {status}: {text}"
        )))));
    }
    let content = if status >= 400 && !is_json_object(&content) {
        let text: String = String::from_utf8_lossy(&content)
            .chars()
            .take(QUOTE)
            .collect();
        let detail = format!("{url} answered HTTP {status} {text}")
            .trim()
            .to_owned();
        serde_json::to_vec(&serde_json::json!({
            "type": "about:blank",
            "detail": detail,
            "status": status,
        }))
        .unwrap_or_default()
    } else {
        content
    };
    Ok(BytesResponse {
        parts,
        body: Box::new(Bytes::from(content)),
    })
}

fn is_json_object(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
}

/// Finds [`Unreachable`] in an instant-acme error.
pub fn unreachable(error: &Error) -> Option<&Unreachable> {
    match error {
        Error::Other(inner) => inner.downcast_ref::<Unreachable>(),
        _ => None,
    }
}
