//! The `ACME` provider: orders at an RFC 8555 CA (Let's Encrypt, ZeroSSL, step-ca, pebble) through the `instant-acme` client, answering http-01 from a webroot or a built-in listener, or dns-01 by RFC 2136 update.
//!
//! - **Account**: registered on first use with the contact e-mail and the
//!   external account binding when configured; its credentials (the
//!   account URL and private key) are kept in the [`IssuerMemory`] and
//!   reused after restarts. They are never logged. When the CA no longer
//!   knows the account (`accountDoesNotExist`: a test CA restarted), a new
//!   one is registered and the call retried once.
//! - **submit** places a new order for the CSR's DNS names (plus the
//!   subject's CN when it is not among them) and IP addresses; the order
//!   URL is the `request_id`.
//! - **poll** moves the order on: answers pending challenges of the
//!   configured type (http-01 or dns-01; a dns-01 record is told to the CA
//!   only once the DNS server answers it) and
//!   tells the CA they are ready, finalizes with the CSR once the order is
//!   ready, downloads the chain once it is valid; an invalid order is
//!   refused with the CA's problem document (`type` as the code, `detail`
//!   as the message). Each poll waits a little ([`SETTLE`]) for the CA to
//!   validate, so a built-in listener is up while the CA calls. Challenge
//!   files and records go as soon as their authorization is decided, and
//!   all of them when the order ends (issued, invalid, cancelled, or a
//!   record refused by the DNS server). A daemon restarted mid-order polls
//!   again, which publishes again (records are recomputed from the order)
//!   and removes them at the end. An order the CA
//!   no longer knows (HTTP 404: a test CA restarted) is placed again, and
//!   the poll returns the new order's URL as the `request_id`.
//! - **cancel**: ACME has no way to cancel an order; certfs deactivates its
//!   pending and valid authorizations (RFC 8555 §7.5.2), after which the
//!   CA cannot issue for it, and withdraws the challenge answers.
//!
//! The client is async; each provider keeps one current-thread tokio
//! runtime and blocks on it in each call. Only the vault's background
//! worker calls, never a FUSE thread.

mod account;
mod challenge;
mod failure;
pub mod rfc2136;
mod transport;

pub use account::ExternalAccount;
pub use challenge::{ChallengeMethod, check_webroot};
pub use transport::{CaFileError, check_ca_file};

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use instant_acme::{
    Account, AuthorizationStatus, ChallengeStatus, Error, Identifier, NewOrder, OrderStatus,
    RevocationReason, RevocationRequest,
};

use super::{CaError, CertificateAuthority, Issued, IssuerMemory, Order, Progress};
use crate::as_user::Identity;
use account::Accounts;
use challenge::Responder;
use failure::{Failure, ca_error, deactivated, is_pebble_deactivated, is_type, refusal};
use transport::Transport;

/// How long one poll waits for the CA to validate challenges or issue
/// before it reports the order still pending.
pub const SETTLE: Duration = Duration::from_secs(15);

/// Everything an ACME issuer file says.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    /// The directory URL (`endpoint`).
    pub directory_url: String,
    /// The account's contact e-mail (`credentials.account_id`).
    pub contact: Option<String>,
    /// External account binding (`eab`).
    pub eab: Option<ExternalAccount>,
    /// How http-01 is answered (`challenge`).
    pub challenge: ChallengeMethod,
    /// PEM bundle trusted for the directory's TLS instead of the web PKI (`ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Whom `ca_file` is read and webroot files are written as: the user
    /// who wrote the issuer file.
    pub writer: Identity,
}

/// An ACME CA.
pub struct Acme {
    settings: AcmeSettings,
    runtime: tokio::runtime::Runtime,
    accounts: Accounts,
    responder: Responder,
}

impl fmt::Debug for Acme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acme")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why an ACME provider cannot be set up.
#[derive(Debug)]
pub enum SetupError {
    /// The issuer's `ca_file` cannot be used.
    CaFile(CaFileError),
    /// The client's runtime did not start.
    Runtime(std::io::Error),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::CaFile(e) => e.fmt(f),
            SetupError::Runtime(e) => write!(f, "cannot start the ACME client's runtime: {e}"),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::CaFile(e) => Some(e),
            SetupError::Runtime(e) => Some(e),
        }
    }
}

impl Acme {
    /// A provider for `settings`, keeping its account in `memory`.
    pub fn new(settings: AcmeSettings, memory: Box<dyn IssuerMemory>) -> Result<Self, SetupError> {
        let transport = Transport::new(settings.ca_file.as_deref(), &settings.writer)
            .map_err(SetupError::CaFile)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(SetupError::Runtime)?;
        Ok(Acme {
            responder: Responder::new(settings.challenge.clone(), settings.writer.clone()),
            accounts: Accounts::new(
                settings.directory_url.clone(),
                settings.contact.clone(),
                settings.eab.clone(),
                memory,
                transport,
            ),
            settings,
            runtime,
        })
    }

    /// Runs `step` with the account; registers anew once if the CA no longer knows it.
    fn with_account<T, F, Fut>(&self, step: F) -> Result<T, CaError>
    where
        F: Fn(Account) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let account = self.accounts.current(&self.runtime)?;
        match self.runtime.block_on(step(account.clone())) {
            Err(Failure::Acme(Error::Api(p))) if is_type(&p, "accountDoesNotExist") => {
                let account = self.accounts.replace(&self.runtime, &account)?;
                self.runtime.block_on(step(account)).map_err(ca_error)
            }
            other => other.map_err(ca_error),
        }
    }

    /// Places a new order for `order`'s names; returns its URL.
    async fn place(&self, account: &Account, order: &Order<'_>) -> Result<Progress, Failure> {
        let identifiers = identifiers(order)?;
        let placed = account.new_order(&NewOrder::new(&identifiers)).await?;
        let url = placed.url().to_owned();
        log::info!(
            "acme: placed order {url} for {} ({})",
            order.certificate_name,
            names(&identifiers)
        );
        Ok(Progress::Pending {
            request_id: url,
            details: "The ACME order is pending: its challenges are answered next.".into(),
        })
    }

    /// Moves order `url` on as far as it goes within [`SETTLE`].
    async fn advance(
        &self,
        account: &Account,
        order: &Order<'_>,
        url: &str,
    ) -> Result<Progress, Failure> {
        let mut acme_order = match account.order(url.to_owned()).await {
            Ok(o) => o,
            Err(Error::Api(p)) if out_of_reach(&p) => {
                // The CA forgot the order (a test CA restarted, or it was
                // purged), or it belongs to another account (two first
                // orders registered two accounts at once; the account in
                // the memory changed): order again with this account.
                let why = p.detail.unwrap_or_default();
                log::warn!("acme: order {url} is out of reach ({why}); ordering again");
                return self.place(account, order).await.map(|p| match p {
                    Progress::Pending { request_id, .. } => Progress::Pending {
                        details: format!(
                            "The CA no longer knew order {url} for this account; a new order was placed."
                        ),
                        request_id,
                    },
                    issued => issued,
                });
            }
            Err(e) if is_pebble_deactivated(&e) => return Err(deactivated()),
            Err(e) => return Err(e.into()),
        };
        let deadline = Instant::now() + SETTLE;
        let mut pause = Duration::from_millis(100);
        loop {
            let status = acme_order.state().status;
            match status {
                OrderStatus::Valid => {
                    let pem = acme_order
                        .certificate()
                        .await?
                        .ok_or_else(|| Failure::Local("the CA is still processing".into()))?;
                    self.withdraw_all(&mut acme_order).await;
                    let issued = split_chain(&pem)?;
                    log::info!("acme: order {url} issued for {}", order.certificate_name);
                    return Ok(Progress::Issued {
                        request_id: url.to_owned(),
                        issued,
                    });
                }
                OrderStatus::Invalid => {
                    let refusal = self.why_invalid(&mut acme_order).await;
                    self.withdraw_all(&mut acme_order).await;
                    return Err(refusal);
                }
                OrderStatus::Ready => {
                    acme_order.finalize_csr(order.csr_der).await?;
                    continue;
                }
                OrderStatus::Processing | OrderStatus::Pending => {
                    let details = if status == OrderStatus::Pending {
                        self.answer(&mut acme_order).await?
                    } else {
                        "The CA is issuing the certificate.".to_owned()
                    };
                    if Instant::now() >= deadline {
                        return Ok(Progress::Pending {
                            request_id: url.to_owned(),
                            details,
                        });
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
            match acme_order.refresh().await {
                Ok(_) => {}
                Err(e) if is_pebble_deactivated(&e) => return Err(deactivated()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Answers the order's pending challenges of the configured type and
    /// withdraws the answers of decided authorizations. Returns what is
    /// awaited, in words. When one answer cannot be published, the ones
    /// published in this call are withdrawn before the failure is returned.
    async fn answer(&self, acme_order: &mut instant_acme::Order) -> Result<String, Failure> {
        let kind = self.responder.challenge_type();
        let type_name = self.settings.challenge.type_name();
        let mut waiting = Vec::new();
        let mut published: Vec<(String, String, String)> = Vec::new();
        let mut authorizations = acme_order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            let status = authorization.status;
            let name = authorization.identifier().to_string();
            let domain = domain_of(&authorization.identifier());
            let Some(mut challenge) = authorization.challenge(kind.clone()) else {
                if status == AuthorizationStatus::Pending {
                    self.withdraw_these(&published);
                    return Err(Failure::Refused {
                        code: "unsupportedChallenge".into(),
                        message: format!(
                            "The CA offers no {type_name} challenge for {name}, the challenge this issuer answers."
                        ),
                    });
                }
                continue;
            };
            let key_authorization = challenge.key_authorization().as_str().to_owned();
            if status != AuthorizationStatus::Pending {
                self.responder
                    .withdraw(&domain, &challenge.token, &key_authorization);
                continue;
            }
            // Publish again even when already told: a restarted certfs has
            // a fresh listener, and the CA may still be on its way.
            if let Err(e) = self
                .responder
                .publish(&domain, &challenge.token, &key_authorization)
            {
                self.withdraw_these(&published);
                return Err(Failure::Challenge(e));
            }
            published.push((domain, challenge.token.clone(), key_authorization));
            if challenge.status == ChallengeStatus::Pending {
                match challenge.set_ready().await {
                    Ok(()) => log::info!("acme: {type_name} for {name} is ready for the CA"),
                    // The CA moved the challenge on between our read and our
                    // answer (it was told already): the next poll sees where it went.
                    Err(Error::Api(p)) if is_type(&p, "malformed") => {
                        log::debug!("acme: {type_name} for {name} was already being validated");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            waiting.push(name);
        }
        Ok(if waiting.is_empty() {
            "The ACME order is pending.".to_owned()
        } else {
            format!(
                "Waiting for the CA to validate {type_name} for {}.",
                waiting.join(", ")
            )
        })
    }

    /// Withdraws answers published earlier in the same step.
    fn withdraw_these(&self, published: &[(String, String, String)]) {
        for (domain, token, key_authorization) in published {
            self.responder.withdraw(domain, token, key_authorization);
        }
    }

    /// Withdraws every challenge answer of the order.
    async fn withdraw_all(&self, acme_order: &mut instant_acme::Order) {
        let answers = self.answers_of(acme_order).await;
        self.withdraw_these(&answers);
    }

    /// The order's challenge answers of the configured type: name, token
    /// and key authorization each.
    async fn answers_of(
        &self,
        acme_order: &mut instant_acme::Order,
    ) -> Vec<(String, String, String)> {
        let kind = self.responder.challenge_type();
        let mut answers = Vec::new();
        let mut authorizations = acme_order.authorizations();
        while let Some(Ok(mut authorization)) = authorizations.next().await {
            let domain = domain_of(&authorization.identifier());
            if let Some(challenge) = authorization.challenge(kind.clone()) {
                let key_authorization = challenge.key_authorization();
                answers.push((
                    domain,
                    challenge.token.clone(),
                    key_authorization.as_str().to_owned(),
                ));
            }
        }
        answers
    }

    /// The CA's words for an invalid order: the order's problem, else its challenges'.
    async fn why_invalid(&self, acme_order: &mut instant_acme::Order) -> Failure {
        if let Some(problem) = acme_order.state().error.clone() {
            return refusal(&problem);
        }
        let mut statuses = Vec::new();
        let mut authorizations = acme_order.authorizations();
        while let Some(Ok(authorization)) = authorizations.next().await {
            if let Some(problem) = authorization
                .challenges
                .iter()
                .find_map(|c| c.error.clone())
            {
                return refusal(&problem);
            }
            statuses.push(format!(
                "{}: {:?}",
                authorization.identifier(),
                authorization.status
            ));
        }
        Failure::Refused {
            code: "orderInvalid".into(),
            message: format!(
                "The CA marked the order invalid ({}).",
                statuses.join(", ").to_lowercase()
            ),
        }
    }

    /// Deactivates the order's pending and valid authorizations.
    async fn deactivate(&self, account: &Account, url: &str) -> Result<(), Failure> {
        let mut acme_order = match account.order(url.to_owned()).await {
            Ok(o) => o,
            // Gone, not ours, or already deactivated: nothing left to stop.
            Err(Error::Api(p)) if out_of_reach(&p) => return Ok(()),
            Err(e) if is_pebble_deactivated(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if matches!(
            acme_order.state().status,
            OrderStatus::Valid | OrderStatus::Invalid | OrderStatus::Processing
        ) {
            self.withdraw_all(&mut acme_order).await;
            return Ok(());
        }
        // Read the answers first: a deactivated authorization may come
        // back without its challenges.
        let answers = self.answers_of(&mut acme_order).await;
        let mut authorizations = acme_order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            if matches!(
                authorization.status,
                AuthorizationStatus::Pending | AuthorizationStatus::Valid
            ) {
                authorization.deactivate().await?;
                log::info!(
                    "acme: deactivated the authorization for {} of {url}",
                    authorization.identifier()
                );
            }
        }
        self.withdraw_these(&answers);
        Ok(())
    }
}

impl CertificateAuthority for Acme {
    fn provider(&self) -> &'static str {
        "ACME"
    }

    fn submit(&self, order: &Order<'_>) -> Result<Progress, CaError> {
        self.with_account(|account| async move { self.place(&account, order).await })
    }

    fn poll(&self, order: &Order<'_>, request_id: &str) -> Result<Progress, CaError> {
        self.with_account(|account| async move { self.advance(&account, order, request_id).await })
    }

    fn cancel(&self, _order: &Order<'_>, request_id: &str) -> Result<(), CaError> {
        self.with_account(|account| async move { self.deactivate(&account, request_id).await })
    }

    /// RFC 8555 §7.6 `revokeCert`, signed by the account that ordered it.
    fn revoke(&self, leaf: &[u8], reason: u8) -> Result<(), CaError> {
        let certificate = rustls::pki_types::CertificateDer::from(leaf.to_vec());
        self.with_account(|account| {
            let certificate = &certificate;
            async move {
                let reason = match reason {
                    1 => RevocationReason::KeyCompromise,
                    3 => RevocationReason::AffiliationChanged,
                    4 => RevocationReason::Superseded,
                    5 => RevocationReason::CessationOfOperation,
                    _ => RevocationReason::Unspecified,
                };
                let request = RevocationRequest {
                    certificate,
                    reason: Some(reason),
                };
                account.revoke(&request).await.map_err(Failure::Acme)
            }
        })
    }
}

/// Whether fetching an order was refused because this account cannot see
/// it: the CA does not know it (404: Boulder also answers so for another
/// account's order) or says it is not this account's (pebble: `unauthorized`).
fn out_of_reach(problem: &instant_acme::Problem) -> bool {
    problem.status == Some(404) || is_type(problem, "unauthorized")
}

/// The name an authorization is for, without a wildcard's `*.` (the
/// dns-01 record of `*.example.test` is `_acme-challenge.example.test`).
fn domain_of(identifier: &instant_acme::AuthorizedIdentifier<'_>) -> String {
    match identifier.identifier {
        Identifier::Dns(name) => name.trim_start_matches("*.").to_owned(),
        Identifier::Ip(ip) => ip.to_string(),
        _ => identifier.to_string(),
    }
}

/// The order's identifiers: DNS names (the CN first when not a SAN), then IP addresses.
fn identifiers(order: &Order<'_>) -> Result<Vec<Identifier>, Failure> {
    let sans = &order.spec.sans;
    let mut dns: Vec<String> = Vec::new();
    if let Some(cn) = order.spec.subject.common_name() {
        let cn = cn.trim();
        let is_ip = cn.parse::<std::net::IpAddr>().is_ok();
        if !cn.is_empty() && !is_ip && !sans.dns_names.iter().any(|n| n.eq_ignore_ascii_case(cn)) {
            dns.push(cn.to_owned());
        }
    }
    dns.extend(sans.dns_names.iter().cloned());
    let mut identifiers: Vec<Identifier> = dns.into_iter().map(Identifier::Dns).collect();
    identifiers.extend(sans.ip_addresses.iter().copied().map(Identifier::Ip));
    if identifiers.is_empty() {
        return Err(Failure::Refused {
            code: "noIdentifiers".into(),
            message: "An ACME CA issues for DNS names and IP addresses: the policy's subject and SANs name none.".into(),
        });
    }
    Ok(identifiers)
}

fn names(identifiers: &[Identifier]) -> String {
    identifiers
        .iter()
        .map(|i| i.authorized(false).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The PEM chain as leaf and chain, DER.
fn split_chain(pem_text: &str) -> Result<Issued, Failure> {
    let blocks = pem::parse_many(pem_text.as_bytes())
        .map_err(|e| Failure::Local(format!("the CA's certificate chain is not PEM: {e}")))?;
    let mut ders = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents());
    let leaf = ders
        .next()
        .ok_or_else(|| Failure::Local("the CA's certificate chain is empty".into()))?;
    Ok(Issued {
        leaf,
        chain: ders.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::dn::DistinguishedName;
    use crate::pki::x509::{CertificateSpec, SubjectAltNames};

    fn spec(subject: &str, dns: &[&str]) -> CertificateSpec {
        CertificateSpec {
            subject: DistinguishedName::parse(subject).unwrap(),
            sans: SubjectAltNames {
                dns_names: dns.iter().map(|s| s.to_string()).collect(),
                ip_addresses: vec!["192.0.2.7".parse().unwrap()],
                ..Default::default()
            },
            key_usage: vec![],
            extended_key_usage: vec![],
            validity_months: 3,
        }
    }

    fn order<'a>(spec: &'a CertificateSpec) -> Order<'a> {
        Order {
            certificate_name: "t",
            csr_der: b"",
            spec,
            certificate_type: None,
        }
    }

    #[test]
    fn the_cn_joins_the_names_once() {
        let s = spec(
            "CN=www.example.com, O=X",
            &["example.com", "WWW.example.com"],
        );
        assert_eq!(
            names(&identifiers(&order(&s)).ok().unwrap()),
            "example.com, WWW.example.com, 192.0.2.7"
        );
        let s = spec("CN=shop.example.com", &["example.com"]);
        assert_eq!(
            names(&identifiers(&order(&s)).ok().unwrap()),
            "shop.example.com, example.com, 192.0.2.7"
        );
    }

    #[test]
    fn a_chain_splits_into_leaf_and_issuers() {
        let pem_text = format!(
            "{}{}",
            crate::pki::pem::encode("CERTIFICATE", b"leaf"),
            crate::pki::pem::encode("CERTIFICATE", b"int")
        );
        let issued = split_chain(&pem_text).ok().unwrap();
        assert_eq!(issued.leaf, b"leaf");
        assert_eq!(issued.chain, vec![b"int".to_vec()]);
        assert!(split_chain("").is_err());
    }
}
