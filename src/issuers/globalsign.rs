//! The GlobalSign provider: orders through GCC's ManagedSSL SOAP API (PVOrder), follows them with GASService GetOrderByOrderID, cancels with ModifyMSSLOrder.
//!
//! Why ManagedSSL and not ServerSSL: Key Vault asks a GlobalSign issuer for
//! an account id, a password and an administrator contact, nothing more.
//! ServerSSL's OVOrder also needs the organization's name and postal
//! address (and EVOrder far more), which Key Vault never collects;
//! ManagedSSL's PVOrder orders against an organization GlobalSign has
//! already vetted (an MSSL profile) and needs exactly the credentials, a
//! contact, the CSR and an MSSL domain, which the account itself lists.
//!
//! The calls, all SOAP 1.1 POSTs with `SOAPAction: ""` (see [`soap`]):
//!
//! | step | service | operation |
//! | --- | --- | --- |
//! | find the MSSL domain and profile covering the name | `/kb/ws/v2/ManagedSSLService` | `GetMSSLDomains` |
//! | order | `/kb/ws/v2/ManagedSSLService` | `PVOrder` (`PV_SHA2` for OV-SSL, `PEV_SHA2` for EV-SSL) |
//! | poll | `/kb/ws/v1/GASService` | `GetOrderByOrderID` |
//! | cancel | `/kb/ws/v2/ManagedSSLService` | `ModifyMSSLOrder` `CANCEL` |

mod answers;
pub mod soap;
mod validity;

use zeroize::Zeroizing;

pub use self::answers::status_words;
use self::answers::{polled, read_answer, submitted};
use self::soap::{Element, Node, parent, text};
use super::http::{HttpClient, Method};
use super::{CaError, CertificateAuthority, Order, Progress};

/// GlobalSign's production GCC host.
pub const DEFAULT_ENDPOINT: &str = "https://system.globalsign.com";
/// The ManagedSSL (v2) service path.
pub const MSSL_PATH: &str = "/kb/ws/v2/ManagedSSLService";
/// The query (GAS) service path.
pub const GAS_PATH: &str = "/kb/ws/v1/GASService";

/// MSSL domain statuses under which GlobalSign issues (vetted, or being
/// renewed while still valid), as GCC integrations read them. A name
/// match with another status is still tried when none better exists:
/// GlobalSign then refuses in its own words.
const ISSUABLE_DOMAIN_STATUSES: &[&str] = &["3", "7", "9", "10"];

/// The administrator GlobalSign contacts about orders (Key Vault's
/// `org_details.admin_details[0]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: String,
}

/// How to reach a GlobalSign account.
#[derive(Clone)]
pub struct Settings {
    /// Base URL of GCC; [`DEFAULT_ENDPOINT`] when `None`
    /// (`https://test-gcc.globalsign.com` for GlobalSign's test system).
    pub endpoint: Option<String>,
    /// The API user name (Key Vault's `credentials.account_id`).
    pub account_id: String,
    /// The API password (Key Vault's `credentials.pwd`).
    pub password: Zeroizing<String>,
    /// The order contact.
    pub contact: Contact,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("account_id", &self.account_id)
            .field("password", &"<hidden>")
            .field("contact", &self.contact)
            .finish()
    }
}

/// A GlobalSign GCC account as a [`CertificateAuthority`].
pub struct GlobalSign {
    client: HttpClient,
    account_id: String,
    password: Zeroizing<String>,
    contact: Contact,
}

impl std::fmt::Debug for GlobalSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalSign")
            .field("endpoint", &self.client.base())
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// An MSSL domain of the account (from `GetMSSLDomains`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MsslDomain {
    domain_id: String,
    profile_id: String,
    name: String,
    status: Option<String>,
}

impl GlobalSign {
    /// A client for the account in `settings`.
    pub fn new(settings: Settings) -> Self {
        let endpoint = settings.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        GlobalSign {
            client: HttpClient::new(endpoint),
            account_id: settings.account_id,
            password: settings.password,
            contact: settings.contact,
        }
    }

    fn auth_token(&self) -> Node {
        parent(
            "AuthToken",
            vec![
                text("UserName", self.account_id.clone()),
                text("Password", self.password.as_str()),
            ],
        )
    }

    /// POSTs one SOAP call and returns its checked `Response` element.
    fn call(
        &self,
        path: &str,
        namespace: &str,
        operation: &'static str,
        request: Vec<Node>,
    ) -> Result<Element, CaError> {
        let envelope = soap::envelope(namespace, operation, request);
        // send, not call: GlobalSign answers a SOAP Fault with HTTP 500,
        // and a fault is a refusal, not an outage (read_answer tells them apart).
        let answer = self.client.send(
            Method::Post,
            path,
            &[("SOAPAction", "\"\"")],
            Some(("text/xml; charset=utf-8", envelope.as_bytes())),
        )?;
        drop(envelope);
        read_answer(answer.status, answer.body, path, operation)
    }

    /// The account's MSSL domains.
    fn mssl_domains(&self) -> Result<Vec<MsslDomain>, CaError> {
        let response = self.call(
            MSSL_PATH,
            soap::NS_V2,
            "GetMSSLDomains",
            vec![parent("QueryRequestHeader", vec![self.auth_token()])],
        )?;
        Ok(parse_domains(&response))
    }
}

/// The domains listed in a `GetMSSLDomains` response.
fn parse_domains(response: &Element) -> Vec<MsslDomain> {
    let Some(list) = response.child("SearchMsslDomainDetails") else {
        return Vec::new();
    };
    list.all("SearchMsslDomainDetail")
        .filter_map(|d| {
            Some(MsslDomain {
                domain_id: d.text_at(&["MSSLDomainID"])?.to_owned(),
                profile_id: d.text_at(&["MSSLProfileID"])?.to_owned(),
                name: d.text_at(&["MSSLDomainName"])?.to_owned(),
                status: d.text_at(&["MSSLDomainStatus"]).map(str::to_owned),
            })
        })
        .collect()
}

/// The domain that covers `host`: equal to it or a parent of it on a label
/// boundary, the longest such name, preferring one GlobalSign issues under.
fn choose_domain<'a>(domains: &'a [MsslDomain], host: &str) -> Option<&'a MsslDomain> {
    let host = host.trim_start_matches("*.").to_ascii_lowercase();
    let covers = |d: &&MsslDomain| {
        let name = d.name.trim_end_matches('.').to_ascii_lowercase();
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    };
    let issuable = |d: &MsslDomain| {
        d.status
            .as_deref()
            .is_none_or(|s| ISSUABLE_DOMAIN_STATUSES.contains(&s))
    };
    domains
        .iter()
        .filter(covers)
        .max_by_key(|d| (issuable(d), d.name.len()))
}

/// GlobalSign's MSSL product for the policy's `issuer.cty`.
pub fn product_code(certificate_type: Option<&str>) -> Result<&'static str, CaError> {
    match certificate_type.map(str::trim) {
        None | Some("") => Ok("PV_SHA2"),
        Some(t) if t.eq_ignore_ascii_case("OV-SSL") || t.eq_ignore_ascii_case("PV_SHA2") => {
            Ok("PV_SHA2")
        }
        Some(t) if t.eq_ignore_ascii_case("EV-SSL") || t.eq_ignore_ascii_case("PEV_SHA2") => {
            Ok("PEV_SHA2")
        }
        Some(t) if t.eq_ignore_ascii_case("PV_INTRA_SHA2") => Ok("PV_INTRA_SHA2"),
        Some(t) => Err(CaError::Rejected {
            code: "BadCertificateType".into(),
            message: format!(
                "GlobalSign issuers order OV-SSL (PV_SHA2) or EV-SSL (PEV_SHA2); cty '{}' is neither",
                t.chars().take(40).collect::<String>()
            ),
        }),
    }
}

/// The name an order is for: the subject's CN, else the first DNS SAN.
fn common_name(order: &Order<'_>) -> Option<String> {
    order
        .spec
        .subject
        .common_name()
        .map(str::to_owned)
        .or_else(|| order.spec.sans.dns_names.first().cloned())
        .filter(|n| !n.trim().is_empty())
}

/// The `Request` children of a PVOrder.
fn pv_order_request(
    auth: Node,
    product: &str,
    order: &Order<'_>,
    cn: &str,
    domain: &MsslDomain,
    contact: &Contact,
) -> Vec<Node> {
    let sans: Vec<Node> = order
        .spec
        .sans
        .dns_names
        .iter()
        .filter(|n| !n.eq_ignore_ascii_case(cn))
        .map(|n| {
            let kind = if n.starts_with("*.") { "13" } else { "7" };
            parent(
                "SANEntry",
                vec![
                    text("SANOptionType", kind),
                    text("SubjectAltName", n.clone()),
                ],
            )
        })
        .collect();
    let mut parameter = vec![text("ProductCode", product)];
    if cn.starts_with("*.") {
        parameter.push(text("BaseOption", "wildcard"));
    }
    parameter.push(text("OrderKind", "new"));
    parameter.push(text("Licenses", "1"));
    if !sans.is_empty() {
        parameter.push(parent(
            "Options",
            vec![parent(
                "Option",
                vec![text("OptionName", "SAN"), text("OptionValue", "true")],
            )],
        ));
    }
    parameter.push(parent(
        "ValidityPeriod",
        vec![text("Months", ordered_months(order).0.to_string())],
    ));
    parameter.push(text(
        "CSR",
        crate::pki::pem::certificate_request(order.csr_der),
    ));
    let mut request = vec![
        parent("OrderRequestHeader", vec![auth]),
        parent("OrderRequestParameter", parameter),
        text("MSSLProfileID", domain.profile_id.clone()),
        text("MSSLDomainID", domain.domain_id.clone()),
        parent(
            "ContactInfo",
            vec![
                text("FirstName", contact.first_name.clone()),
                text("LastName", contact.last_name.clone()),
                text("Phone", contact.phone.clone()),
                text("Email", contact.email.clone()),
            ],
        ),
    ];
    if !sans.is_empty() {
        request.push(parent("SANEntries", sans));
    }
    request
}

/// The months ordered for `order` today, and the words when they were capped.
fn ordered_months(order: &Order<'_>) -> (u32, Option<String>) {
    validity::capped_months(
        order.spec.validity_months,
        time::OffsetDateTime::now_utc().date(),
    )
}

/// A pending order's `status_details`, with the validity cap when one applied.
fn with_cap_note(progress: Progress, order: &Order<'_>) -> Progress {
    match (progress, ordered_months(order).1) {
        (
            Progress::Pending {
                request_id,
                details,
            },
            Some(note),
        ) => Progress::Pending {
            request_id,
            details: format!("{details}. {note}"),
        },
        (progress, _) => progress,
    }
}

impl CertificateAuthority for GlobalSign {
    fn provider(&self) -> &'static str {
        "GlobalSign"
    }

    fn submit(&self, order: &Order<'_>) -> Result<Progress, CaError> {
        let product = product_code(order.certificate_type)?;
        let cn = common_name(order).ok_or_else(|| CaError::Rejected {
            code: "NoCommonName".into(),
            message: "a GlobalSign order needs a subject CN or a DNS name".into(),
        })?;
        let domains = self.mssl_domains()?;
        let domain = choose_domain(&domains, &cn).ok_or_else(|| CaError::Rejected {
            code: "NoMSSLDomain".into(),
            message: format!(
                "no MSSL domain of GlobalSign account {} covers {cn} (GetMSSLDomains lists {})",
                self.account_id,
                if domains.is_empty() {
                    "none".to_owned()
                } else {
                    domains
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        })?;
        let request = pv_order_request(
            self.auth_token(),
            product,
            order,
            &cn,
            domain,
            &self.contact,
        );
        let response = self.call(MSSL_PATH, soap::NS_V2, "PVOrder", request)?;
        submitted(&response).map(|p| with_cap_note(p, order))
    }

    fn poll(&self, order: &Order<'_>, request_id: &str) -> Result<Progress, CaError> {
        let flag = |name| text(name, "true");
        let response = self.call(
            GAS_PATH,
            soap::NS_V1,
            "GetOrderByOrderID",
            vec![
                parent("QueryRequestHeader", vec![self.auth_token()]),
                text("OrderID", request_id),
                parent(
                    "OrderQueryOption",
                    vec![
                        flag("ReturnCertificateInfo"),
                        flag("ReturnFulfillment"),
                        flag("ReturnCACerts"),
                    ],
                ),
            ],
        )?;
        polled(request_id, &response).map(|p| with_cap_note(p, order))
    }

    fn cancel(&self, _order: &Order<'_>, request_id: &str) -> Result<(), CaError> {
        let outcome = self.call(
            MSSL_PATH,
            soap::NS_V2,
            "ModifyMSSLOrder",
            vec![
                parent("OrderRequestHeader", vec![self.auth_token()]),
                text("OrderID", request_id),
                text("ModifyOrderOperation", "CANCEL"),
            ],
        );
        match outcome {
            Ok(_) => Ok(()),
            // −9915: already cancelled, which is what was asked.
            Err(CaError::Rejected { code, .. }) if code == "-9915" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
