//! An ACME issuer's `challenge`: http-01 (webroot or listener) or dns-01 by RFC 2136 update with a TSIG key, and its validation.

use serde::{Deserialize, Serialize};

use crate::vault::error::VaultError;

/// ACME challenge settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// `http-01` or `dns-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// dns-01: how long to wait for the DNS server to answer a record added
    /// (120 s when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_timeout_s: Option<u64>,
    /// dns-01: the server taking RFC 2136 updates, and the TSIG key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc2136: Option<Rfc2136>,
    /// Where to put challenge files instead of certfs' own listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webroot: Option<String>,
    /// The address certfs' own listener binds (`0.0.0.0:80` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// dns-01 by RFC 2136 dynamic update. `Debug` leaves out the secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rfc2136 {
    /// The authoritative server's address and port (`192.0.2.53:53`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The TSIG key's name, as the server knows it (`certfs.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// `hmac-sha256` or `hmac-sha512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<String>,
    /// The TSIG key, base64: stored, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_secret: Option<String>,
}

/// The longest `propagation_timeout_s` accepted (one hour).
pub const MAX_PROPAGATION_TIMEOUT_S: u64 = 3600;

impl std::fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("tsig_key_name", &self.tsig_key_name)
            .field("tsig_algorithm", &self.tsig_algorithm)
            .field(
                "tsig_secret",
                &self.tsig_secret.as_ref().map(|_| "<elided>"),
            )
            .finish()
    }
}

/// Checks an ACME issuer's `challenge`.
pub(super) fn validate(challenge: &Challenge) -> Result<(), VaultError> {
    let need = |what: &str| VaultError::BadParameter(format!("An ACME issuer needs {what}"));
    match challenge.kind.as_str() {
        "http-01" => {
            if challenge.rfc2136.is_some() || challenge.propagation_timeout_s.is_some() {
                return Err(need(
                    "challenge.rfc2136 and challenge.propagation_timeout_s only with challenge.type dns-01",
                ));
            }
            if challenge.webroot.is_some() && challenge.listen.is_some() {
                return Err(need(
                    "either challenge.webroot (a web server serves the files) or challenge.listen (certfs listens), not both",
                ));
            }
            if challenge
                .webroot
                .as_deref()
                .is_some_and(|w| !w.starts_with('/'))
            {
                return Err(need("challenge.webroot as an absolute path"));
            }
            if challenge
                .listen
                .as_deref()
                .is_some_and(|l| l.parse::<std::net::SocketAddr>().is_err())
            {
                return Err(need(
                    "challenge.listen as an address and port, such as 0.0.0.0:80 or [::]:80",
                ));
            }
        }
        "dns-01" => {
            if challenge.webroot.is_some() || challenge.listen.is_some() {
                return Err(need(
                    "challenge.webroot and challenge.listen only with challenge.type http-01",
                ));
            }
            let Some(dns) = &challenge.rfc2136 else {
                return Err(need(
                    "challenge.rfc2136 {server, tsig_key_name, tsig_algorithm, tsig_secret} for dns-01",
                ));
            };
            if dns
                .server
                .as_deref()
                .is_none_or(|a| a.parse::<std::net::SocketAddr>().is_err())
            {
                return Err(need(
                    "challenge.rfc2136.server as an address and port, such as 192.0.2.53:53",
                ));
            }
            if dns
                .tsig_key_name
                .as_deref()
                .is_none_or(|n| n.trim_end_matches('.').is_empty())
            {
                return Err(need(
                    "challenge.rfc2136.tsig_key_name (the TSIG key's name)",
                ));
            }
            if dns
                .tsig_algorithm
                .as_deref()
                .is_none_or(|a| crate::issuers::acme::rfc2136::TsigKeyAlgorithm::parse(a).is_none())
            {
                return Err(need(
                    "challenge.rfc2136.tsig_algorithm hmac-sha256 or hmac-sha512",
                ));
            }
            if tsig_key(dns).is_none() {
                return Err(need(
                    "challenge.rfc2136.tsig_secret: the TSIG key in base64, as tsig-keygen or keymgr prints it",
                ));
            }
            if challenge
                .propagation_timeout_s
                .is_some_and(|t| !(1..=MAX_PROPAGATION_TIMEOUT_S).contains(&t))
            {
                return Err(need(&format!(
                    "challenge.propagation_timeout_s between 1 and {MAX_PROPAGATION_TIMEOUT_S}"
                )));
            }
        }
        _ => {
            return Err(need(
                "challenge.type http-01 or dns-01 (the challenges certfs answers)",
            ));
        }
    }
    Ok(())
}

/// The TSIG key of `dns`, decoded from base64; `None` if missing or not base64.
pub fn tsig_key(dns: &Rfc2136) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let secret = dns.tsig_secret.as_deref()?;
    base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .ok()
        .filter(|k| !k.is_empty())
        .map(zeroize::Zeroizing::new)
}
