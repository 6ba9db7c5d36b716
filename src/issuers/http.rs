//! The HTTP client the network CAs share: one agent with timeouts, and the line between "retry later" and "the CA answered".
//!
//! A transport failure (refused, reset, timed out) is always
//! [`CaError::Unavailable`]: the worker retries with backoff.
//! [`HttpClient::call`] also makes HTTP 429 and any 5xx unavailable and
//! gives every other answer, 4xx included, back to the provider, which
//! reads the CA's own error body. [`HttpClient::send`] gives every HTTP
//! answer back, for a CA whose refusals may come with a 5xx (a SOAP 1.1
//! server answers a Fault with HTTP 500): the provider reads the body
//! first and calls [`Answer::outage`] for what is not a refusal.

use std::time::Duration;

use super::CaError;

/// How long one request may take, connect to last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read (a certificate chain is a few KiB).
const MAX_BODY: u64 = 4 << 20;

/// An HTTP method the providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (no body).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

/// A CA's answer that was not a transport fault, 429 or 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, lower-case, without parameters (`application/json`).
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// For HTTP 429 and 5xx, the outage it says (`url`, status, the body's
    /// first 300 characters), to be retried; `None` for any other status.
    pub fn outage(&self, url: &str) -> Option<CaError> {
        if self.status != 429 && self.status < 500 {
            return None;
        }
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(300).collect();
        Some(CaError::Unavailable(format!(
            "{url}: HTTP {}: {text}",
            self.status
        )))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client for one CA's base URL.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    base: String,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .finish()
    }
}

impl HttpClient {
    /// A client for `base` (`https://www.digicert.com/services/v2`); paths
    /// given to [`HttpClient::call`] are appended to it.
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("certfs/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpClient {
            agent,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request to `base + path` with `headers` and, for POST and
    /// PUT, `body` of type `content_type`. HTTP 429 and 5xx are
    /// [`CaError::Unavailable`].
    pub fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Answer, CaError> {
        let answer = self.send(method, path, headers, body)?;
        match answer.outage(&format!("{}{path}", self.base)) {
            Some(outage) => Err(outage),
            None => Ok(answer),
        }
    }

    /// Like [`HttpClient::call`], but every HTTP answer, 429 and 5xx
    /// included, goes back to the caller; only transport faults are
    /// [`CaError::Unavailable`].
    pub fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Answer, CaError> {
        let url = format!("{}{path}", self.base);
        let unavailable = |e: ureq::Error| CaError::Unavailable(format!("{url}: {e}"));
        let response = match method {
            Method::Get => {
                let mut request = self.agent.get(&url);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                if let Some((content_type, _)) = body {
                    request = request.header("Content-Type", content_type);
                }
                request.call()
            }
            Method::Post | Method::Put => {
                let mut request = if method == Method::Post {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let (content_type, bytes) = body.unwrap_or(("application/json", b""));
                request.content_type(content_type).send(bytes)
            }
        };
        let mut response = response.map_err(unavailable)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(unavailable)?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_is_unavailable_not_rejected() {
        // Bind and drop a listener: nothing listens on the port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = HttpClient::new(&format!("http://127.0.0.1:{port}/"));
        assert_eq!(client.base(), format!("http://127.0.0.1:{port}"));
        match client.call(Method::Get, "/x", &[], None) {
            Err(CaError::Unavailable(m)) => assert!(m.contains("/x"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_429_and_5xx_are_outages() {
        let answer = |status| Answer {
            status,
            content_type: "text/html".into(),
            body: b"<h1>Service Unavailable</h1>".to_vec(),
        };
        for status in [429, 500, 502, 503] {
            match answer(status).outage("https://ca.test/x") {
                Some(CaError::Unavailable(m)) => {
                    assert!(m.contains(&format!("HTTP {status}")), "{m}");
                    assert!(m.contains("Service Unavailable"), "{m}");
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        for status in [200, 400, 404] {
            assert_eq!(answer(status).outage("https://ca.test/x"), None);
        }
    }
}
