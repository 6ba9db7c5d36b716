//! DigiCert CertCentral (Services API v2): order an OV or EV SSL certificate with the CSR, poll the order, download the chain, cancel.
//!
//! Endpoints used (base `https://www.digicert.com/services/v2`, or the
//! issuer's `endpoint`; every request carries `X-DC-DEVKEY: <API key>`):
//!
//! - `POST /order/certificate/{product}`: the order (201, `{"id", "requests"}`,
//!   plus `certificate_id` and `certificate_chain` when DigiCert issues at once);
//! - `GET /order/certificate/{order_id}`: the order's `status`;
//! - `GET /certificate/{certificate_id}/download/format/pem_all`: leaf,
//!   intermediate and root, PEM, in that order;
//! - `PUT /order/certificate/{order_id}/status` with
//!   `{"status": "canceled", "note": …}`: cancel (204).
//!
//! Errors come as `{"errors": [{"code", "message"}]}` and are read only when
//! the answer's `Content-Type` is `application/json`; they become
//! [`CaError::Rejected`] with DigiCert's code and words. Transport faults,
//! 429 and 5xx are [`CaError::Unavailable`] (see [`super::http`]).

use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime};
use zeroize::Zeroizing;

use super::http::{Answer, HttpClient, Method};
use super::{CaError, CertificateAuthority, Issued, Order, Progress};
use crate::pki::{bundle, pem};

/// DigiCert's production base URL.
pub const DEFAULT_ENDPOINT: &str = "https://www.digicert.com/services/v2";

/// `issuer.cty` values and the DigiCert product each orders; a product's
/// own `name_id` (below) is accepted as well.
const CERTIFICATE_TYPES: [(&str, &str); 2] = [("OV-SSL", "ssl_basic"), ("EV-SSL", "ssl_ev_basic")];

/// DigiCert's SSL product `name_id`s, which `issuer.cty` may name directly.
const PRODUCTS: [&str; 11] = [
    "ssl_basic",
    "ssl_securesite_flex",
    "ssl_securesite_pro",
    "ssl_ev_basic",
    "ssl_ev_securesite_flex",
    "ssl_ev_securesite_pro",
    "ssl_plus",
    "ssl_multi_domain",
    "ssl_wildcard",
    "ssl_ev_plus",
    "ssl_ev_multi_domain",
];

/// The longest validity a public TLS certificate may have, in days, from
/// each date on: the CA/Browser Forum's schedule (ballot SC-081), one day
/// short and from DigiCert's earlier cut-over date, as DigiCert applies it.
const VALIDITY_CAPS: [((i32, Month, u8), u32); 3] = [
    ((2026, Month::February, 24), 199),
    ((2027, Month::February, 24), 99),
    ((2029, Month::February, 24), 46),
];

/// The cap before the first step above.
const VALIDITY_CAP_BEFORE: u32 = 397;

/// The longest piece of a non-JSON error body quoted in a message.
const QUOTE_LIMIT: usize = 200;

/// A DigiCert CertCentral account: where to call, the API key and the
/// organization certificates are ordered for. `Debug` leaves out the key.
pub struct DigiCert {
    http: HttpClient,
    api_key: Zeroizing<String>,
    organization_id: String,
}

impl std::fmt::Debug for DigiCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigiCert")
            .field("endpoint", &self.http.base())
            .field("organization_id", &self.organization_id)
            .field("api_key", &"<elided>")
            .finish()
    }
}

impl DigiCert {
    /// A client for the account whose API key is `api_key` (Key Vault's
    /// `credentials.pwd`), ordering for organization `organization_id`
    /// (`org_details.id`), at `endpoint` or DigiCert's public API.
    pub fn new(endpoint: Option<&str>, api_key: &str, organization_id: &str) -> Self {
        DigiCert {
            http: HttpClient::new(endpoint.unwrap_or(DEFAULT_ENDPOINT)),
            api_key: Zeroizing::new(api_key.to_owned()),
            organization_id: organization_id.trim().to_owned(),
        }
    }

    /// One call with the API key; DigiCert's error bodies become `Rejected`.
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer, CaError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let answer = self.http.call(
            method,
            path,
            &[
                ("X-DC-DEVKEY", self.api_key.as_str()),
                ("Accept", "application/json"),
            ],
            Some(("application/json", &bytes)),
        )?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(self.scrub(error_from(&answer)))
        }
    }

    /// Never lets the API key through in a message, should a server echo it.
    fn scrub(&self, error: CaError) -> CaError {
        let key = self.api_key.as_str();
        if key.len() < 4 {
            return error;
        }
        match error {
            CaError::Rejected { code, message } => CaError::Rejected {
                code: code.replace(key, "<API key>"),
                message: message.replace(key, "<API key>"),
            },
            CaError::Unavailable(m) => CaError::Unavailable(m.replace(key, "<API key>")),
        }
    }

    /// The order's body, as `POST /order/certificate/{product}` takes it.
    fn order_body(&self, order: &Order<'_>, today: Date) -> Result<Value, CaError> {
        let spec = order.spec;
        let common_name = spec
            .subject
            .common_name()
            .map(str::to_owned)
            .or_else(|| spec.sans.dns_names.first().cloned())
            .ok_or_else(|| CaError::Rejected {
                code: "certfs_no_common_name".into(),
                message: "A DigiCert order needs a common name: give the policy's subject a CN \
                          or its SANs a DNS name"
                    .into(),
            })?;
        let organization_id = match self.organization_id.parse::<u64>() {
            Ok(n) => json!(n),
            Err(_) => json!(self.organization_id),
        };
        Ok(json!({
            "certificate": {
                "common_name": common_name,
                "csr": pem::certificate_request(order.csr_der),
                "signature_hash": "sha256",
                "dns_names": spec.sans.dns_names,
                "server_platform": {"id": -1},
            },
            "organization": {"id": organization_id},
            "order_validity": {"days": validity_days(spec.validity_months, today)},
            "comments": format!("Ordered by certfs for certificate {}", order.certificate_name),
        }))
    }

    /// The order's chain once DigiCert has issued certificate `certificate_id`.
    fn download(&self, certificate_id: &str) -> Result<Issued, CaError> {
        let answer = self.call(
            Method::Get,
            &format!("/certificate/{certificate_id}/download/format/pem_all"),
            None,
        )?;
        issued_from_pem(&answer.body)
    }

    /// The order's status, read.
    fn order_info(&self, request_id: &str) -> Result<Value, CaError> {
        let id = order_id(request_id)?;
        let answer = self.call(Method::Get, &format!("/order/certificate/{id}"), None)?;
        json_of(&answer)
    }
}

impl CertificateAuthority for DigiCert {
    fn provider(&self) -> &'static str {
        "DigiCert"
    }

    fn submit(&self, order: &Order<'_>) -> Result<Progress, CaError> {
        let product = product_for(order.certificate_type)?;
        let body = self.order_body(order, OffsetDateTime::now_utc().date())?;
        let answer = self.call(
            Method::Post,
            &format!("/order/certificate/{product}"),
            Some(&body),
        )?;
        submitted(&json_of(&answer)?)
    }

    fn poll(&self, _order: &Order<'_>, request_id: &str) -> Result<Progress, CaError> {
        let info = self.order_info(request_id)?;
        match order_state(&info)? {
            OrderState::Issued { certificate_id } => Ok(Progress::Issued {
                request_id: request_id.to_owned(),
                issued: self.download(&certificate_id)?,
            }),
            OrderState::Pending(details) => Ok(Progress::Pending {
                request_id: request_id.to_owned(),
                details,
            }),
        }
    }

    /// Finds the certificate by its SHA-1 thumbprint (order info takes
    /// one in place of the order id), then `PUT /certificate/{id}/revoke`
    /// with the reason, approved at once (`skip_approval`).
    fn revoke(&self, leaf: &[u8], reason: u8) -> Result<(), CaError> {
        let thumbprint = crate::pki::x509::inspect(leaf)
            .map_err(|e| CaError::Rejected {
                code: "certfs_bad_certificate".into(),
                message: e.to_string(),
            })?
            .sha1_thumbprint_hex;
        let info = json_of(&self.call(
            Method::Get,
            &format!("/order/certificate/{thumbprint}"),
            None,
        )?)?;
        let certificate_id =
            id_of(info.pointer("/certificate/id")).ok_or_else(|| CaError::Rejected {
                code: "certfs_no_certificate_id".into(),
                message: "DigiCert's order shows no certificate id to revoke".into(),
            })?;
        let reason = match reason {
            1 => "key_compromise",
            3 => "affiliation_changed",
            4 => "superseded",
            5 => "cessation_of_operation",
            _ => "unspecified",
        };
        let body = json!({
            "revocation_reason": reason,
            "comments": "Revoked in certfs (mv into revoked/)",
            "skip_approval": true,
        });
        self.call(
            Method::Put,
            &format!("/certificate/{certificate_id}/revoke"),
            Some(&body),
        )
        .map(|_| ())
    }

    fn cancel(&self, order: &Order<'_>, request_id: &str) -> Result<(), CaError> {
        let id = order_id(request_id)?;
        let body = json!({
            "status": "canceled",
            "note": format!("Cancelled in certfs (certificate {})", order.certificate_name),
        });
        match self.call(
            Method::Put,
            &format!("/order/certificate/{id}/status"),
            Some(&body),
        ) {
            Ok(_) => Ok(()),
            // A retried cancel finds the order cancelled already: done.
            Err(refused @ CaError::Rejected { .. }) => match self.order_info(request_id) {
                Ok(info) if info.get("status").and_then(Value::as_str) == Some("canceled") => {
                    Ok(())
                }
                _ => Err(refused),
            },
            Err(e) => Err(e),
        }
    }
}

/// The DigiCert product for the policy's `issuer.cty`.
pub fn product_for(certificate_type: Option<&str>) -> Result<&'static str, CaError> {
    let Some(cty) = certificate_type.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok("ssl_basic");
    };
    CERTIFICATE_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(cty))
        .map(|(_, product)| *product)
        .or_else(|| PRODUCTS.iter().copied().find(|p| *p == cty))
        .ok_or_else(|| CaError::Rejected {
            code: "certfs_unknown_certificate_type".into(),
            message: format!(
                "issuer.cty '{}' is not a DigiCert certificate type: use OV-SSL (product \
                 ssl_basic), EV-SSL (ssl_ev_basic) or a DigiCert SSL product name_id",
                cty.chars().take(40).collect::<String>()
            ),
        })
}

/// Days of validity to order: `months` calendar months from `today`,
/// at least one day, capped by the public TLS limit in force on `today`.
pub fn validity_days(months: u32, today: Date) -> u32 {
    let cap = VALIDITY_CAPS
        .iter()
        .rev()
        .find(|((y, m, d), _)| Date::from_calendar_date(*y, *m, *d).is_ok_and(|s| today >= s))
        .map_or(VALIDITY_CAP_BEFORE, |(_, cap)| *cap);
    let wanted = add_months(today, months)
        .map(|end| (end - today).whole_days())
        .unwrap_or(i64::MAX);
    wanted.clamp(1, i64::from(cap)) as u32
}

/// `date` plus `months` calendar months, the day clamped to the month's end.
fn add_months(date: Date, months: u32) -> Option<Date> {
    let index =
        i64::from(date.year()) * 12 + i64::from(u8::from(date.month()) - 1) + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = date.day().min(time::util::days_in_month(month, year));
    Date::from_calendar_date(year, month, day).ok()
}

/// An order id as DigiCert gives them (digits), so that it can go in a path.
fn order_id(request_id: &str) -> Result<&str, CaError> {
    if !request_id.is_empty()
        && request_id.len() <= 20
        && request_id.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(request_id)
    } else {
        Err(CaError::Rejected {
            code: "certfs_bad_order_id".into(),
            message: format!(
                "'{}' is not a DigiCert order id",
                request_id.chars().take(40).collect::<String>()
            ),
        })
    }
}

/// The JSON of a 2xx answer. One that cannot be read is taken as a passing
/// fault (a proxy's page, a cut answer) and retried.
fn json_of(answer: &Answer) -> Result<Value, CaError> {
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            CaError::Unavailable(format!(
                "DigiCert answered HTTP {} with a body that is not the expected JSON ({}): {}",
                answer.status,
                if answer.content_type.is_empty() {
                    "no Content-Type"
                } else {
                    &answer.content_type
                },
                quote(&answer.body)
            ))
        })
}

/// A refusal from a 4xx (or 3xx) answer: DigiCert's `errors` when the body
/// is `application/json` and holds them, otherwise the status and the
/// start of the body.
pub fn error_from(answer: &Answer) -> CaError {
    if answer.content_type == "application/json" {
        if let Some((code, message)) = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .as_ref()
            .and_then(errors_of)
        {
            return CaError::Rejected { code, message };
        }
    }
    CaError::Rejected {
        code: format!("http_{}", answer.status),
        message: format!(
            "DigiCert answered HTTP {} without an error body certfs can read: {}",
            answer.status,
            quote(&answer.body)
        ),
    }
}

/// `{"errors": [{"code", "message"}, …]}` → the codes and messages, joined.
fn errors_of(body: &Value) -> Option<(String, String)> {
    let errors = body.get("errors")?.as_array()?;
    let mut codes = Vec::new();
    let mut messages = Vec::new();
    for error in errors {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        if code.is_empty() && message.is_empty() {
            continue;
        }
        codes.push(code.to_owned());
        messages.push(if message.is_empty() { code } else { message }.to_owned());
    }
    if codes.is_empty() {
        return None;
    }
    codes.dedup();
    Some((codes.join(", "), messages.join("; ")))
}

/// The start of a body, printable characters only, for a message.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(QUOTE_LIMIT)
        .collect();
    out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

/// An id DigiCert gives as a number (or, leniently, a string).
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// What the 201 answer to an order says.
pub fn submitted(body: &Value) -> Result<Progress, CaError> {
    let request_id = id_of(body.get("id")).ok_or_else(|| {
        CaError::Unavailable("DigiCert accepted the order but its answer has no order id".into())
    })?;
    let chain = body.get("certificate_chain").and_then(Value::as_array);
    if let Some(chain) = chain.filter(|c| !c.is_empty()) {
        let mut text = String::new();
        for entry in chain {
            text.push_str(entry.get("pem").and_then(Value::as_str).unwrap_or(""));
            text.push('\n');
        }
        return Ok(Progress::Issued {
            request_id,
            issued: issued_from_pem(text.as_bytes())?,
        });
    }
    let request_status = body
        .get("requests")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("pending");
    Ok(Progress::Pending {
        details: format!(
            "DigiCert order {request_id} placed; its request is {}",
            words(request_status)
        ),
        request_id,
    })
}

/// Where an order stands, from `GET /order/certificate/{id}`.
#[derive(Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Not issued yet; the status in words.
    Pending(String),
    /// Issued as certificate `certificate_id`.
    Issued {
        /// `certificate.id`, for the download.
        certificate_id: String,
    },
}

/// The order's state; a final status other than `issued` is a refusal
/// with the status and whatever DigiCert says about it.
pub fn order_state(info: &Value) -> Result<OrderState, CaError> {
    let id = id_of(info.get("id")).unwrap_or_else(|| "?".into());
    let Some(status) = info.get("status").and_then(Value::as_str) else {
        return Err(CaError::Unavailable(format!(
            "DigiCert's answer about order {id} has no status"
        )));
    };
    match status {
        "issued" => match id_of(info.pointer("/certificate/id")) {
            Some(certificate_id) => Ok(OrderState::Issued { certificate_id }),
            None => Ok(OrderState::Pending(format!(
                "DigiCert order {id} is issued; the certificate is not ready to download yet"
            ))),
        },
        "canceled" | "rejected" | "revoked" | "expired" => {
            let mut message = format!("DigiCert order {id} is {}", words(status));
            let said = remarks(info);
            if !said.is_empty() {
                message.push_str(": ");
                message.push_str(&said.join("; "));
            }
            Err(CaError::Rejected {
                code: status.to_owned(),
                message,
            })
        }
        other => Ok(OrderState::Pending(format!(
            "DigiCert order {id} is {}",
            words(other)
        ))),
    }
}

/// What DigiCert wrote about an order's requests (the processor's comment, else the requester's).
fn remarks(info: &Value) -> Vec<String> {
    let mut said = Vec::new();
    for request in info
        .get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for field in ["processor_comment", "comments"] {
            if let Some(text) = request.get(field).and_then(Value::as_str) {
                let text = text.trim();
                if !text.is_empty()
                    && !text.starts_with("Ordered by certfs")
                    && !said.iter().any(|s| s == text)
                {
                    said.push(text.to_owned());
                    break;
                }
            }
        }
    }
    said
}

/// A DigiCert status in words for `status_details`.
fn words(status: &str) -> String {
    match status {
        "needs_approval" => {
            "waiting for an administrator's approval in CertCentral (needs_approval)".into()
        }
        "pending" => "pending validation at DigiCert (pending)".into(),
        "reissue_pending" => "waiting for a reissue (reissue_pending)".into(),
        "waiting_pickup" => "waiting for pickup (waiting_pickup)".into(),
        "approved" => "approved".into(),
        other => other.chars().filter(|c| !c.is_control()).take(60).collect(),
    }
}

/// Leaf and chain from PEM text (`pem_all`, or the `certificate_chain`
/// entries): the first certificate is the leaf, the rest keep their order.
pub fn issued_from_pem(text: &[u8]) -> Result<Issued, CaError> {
    let mut certificates = bundle::certificates_from_any(text)
        .map_err(|e| {
            CaError::Unavailable(format!(
                "DigiCert's certificate download could not be read: {}",
                e.message()
            ))
        })?
        .into_iter();
    let leaf = certificates.next().ok_or_else(|| {
        CaError::Unavailable("DigiCert's certificate download holds no certificate".into())
    })?;
    Ok(Issued {
        leaf,
        chain: certificates.collect(),
    })
}

#[cfg(test)]
#[path = "digicert_tests.rs"]
mod tests;
