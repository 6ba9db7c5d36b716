//! What GlobalSign's answers mean: header errors and faults as refusals, order statuses as progress, fulfillments as a leaf and its chain.

use super::soap::{self, Element};
use crate::issuers::http::Answer;
use crate::issuers::{CaError, Issued, Progress};
use crate::pki::bundle;

/// GlobalSign's answer to `operation` (HTTP `status`, `body`) as its
/// checked `Response` element: GlobalSign's refusals (header errors, SOAP
/// faults whatever the HTTP status, 500 included, and HTTP 4xx pages) are
/// `Rejected` with its words; an HTTP 429 or 5xx without a fault is an
/// outage, and an answer that cannot be read is `Unavailable`.
pub(super) fn read_answer(
    status: u16,
    body: Vec<u8>,
    path: &str,
    operation: &str,
) -> Result<Element, CaError> {
    let text = String::from_utf8(body).map_err(|_| {
        CaError::Unavailable(format!("GlobalSign's answer to {operation} is not UTF-8"))
    })?;
    let parsed = soap::parse(&text);
    if status != 200 {
        // A fault says why; any other page is GlobalSign's (or a proxy's)
        // refusal of the call itself.
        if let Ok(root) = &parsed {
            if let Err(fault @ CaError::Rejected { .. }) = soap::response_of(root, operation) {
                return Err(fault);
            }
        }
        let answer = Answer {
            status,
            content_type: String::new(),
            body: text.into_bytes(),
        };
        if let Some(outage) = answer.outage(&format!("GlobalSign {path}")) {
            return Err(outage);
        }
        let text = answer.text();
        let snippet: String = text.chars().take(300).collect();
        return Err(CaError::Rejected {
            code: format!("HTTP {status}"),
            message: format!(
                "GlobalSign answered {operation} at {path} with HTTP {status}: {}",
                snippet.trim()
            ),
        });
    }
    let root = parsed
        .map_err(|e| CaError::Unavailable(format!("GlobalSign's answer to {operation}: {e}")))?;
    let response = soap::response_of(&root, operation)?;
    soap::check_header(&response)?;
    Ok(response)
}

/// A GCC order or certificate status in words.
pub fn status_words(status: &str) -> &'static str {
    match status {
        "1" => "initial: GlobalSign received the order",
        "2" => "waiting for GlobalSign's phishing check",
        "3" => "cancelled before issue",
        "4" => "issued",
        "5" => "cancelled after issue",
        "6" => "waiting for revocation",
        "7" => "revoked",
        "8" => "pending approval",
        "9" => "locked",
        "10" => "denied",
        _ => "an unknown status",
    }
}

/// What an order's status (`OrderDetail` of GetOrderByOrderID, or
/// `PVOrderDetail` of PVOrder) means for the order.
fn progress_of(request_id: &str, detail: &Element, status: &str) -> Result<Progress, CaError> {
    match status {
        "1" | "2" | "8" | "9" => Ok(Progress::Pending {
            request_id: request_id.to_owned(),
            details: format!("GlobalSign order status {status}: {}", status_words(status)),
        }),
        "4" => Ok(Progress::Issued {
            request_id: request_id.to_owned(),
            issued: issued_of(detail)?,
        }),
        other => Err(CaError::Rejected {
            code: format!("OrderStatus {other}"),
            message: format!(
                "GlobalSign order {request_id} is {} (GlobalSign order status {other})",
                status_words(other)
            ),
        }),
    }
}

/// The leaf and chain of an issued order's `Fulfillment`: the leaf from
/// `ServerCertificate/X509Cert`, then the `CACertificates`, intermediates
/// (`INTER`) first in GlobalSign's order, the root (`ROOT`) last.
fn issued_of(detail: &Element) -> Result<Issued, CaError> {
    let missing = |what: &str| {
        CaError::Unavailable(format!(
            "GlobalSign reports the order issued but its answer lacks {what}"
        ))
    };
    let fulfillment = detail
        .child("Fulfillment")
        .ok_or_else(|| missing("the Fulfillment"))?;
    let leaf_text = fulfillment
        .text_at(&["ServerCertificate", "X509Cert"])
        .ok_or_else(|| missing("the X509Cert"))?;
    let leaf = certificates(leaf_text, "X509Cert")?
        .into_iter()
        .next()
        .ok_or_else(|| missing("a certificate in X509Cert"))?;
    let mut intermediates = Vec::new();
    let mut roots = Vec::new();
    for ca in fulfillment
        .child("CACertificates")
        .into_iter()
        .flat_map(|c| c.all("CACertificate"))
    {
        let Some(pem) = ca.text_at(&["CACert"]) else {
            continue;
        };
        let ders = certificates(pem, "CACert")?;
        if ca
            .text_at(&["CACertType"])
            .is_some_and(|t| t.eq_ignore_ascii_case("ROOT"))
        {
            roots.extend(ders);
        } else {
            intermediates.extend(ders);
        }
    }
    intermediates.extend(roots);
    Ok(Issued {
        leaf,
        chain: intermediates,
    })
}

fn certificates(text: &str, field: &str) -> Result<Vec<Vec<u8>>, CaError> {
    bundle::certificates_from_any(text.as_bytes()).map_err(|e| CaError::Rejected {
        code: "BadCertificate".into(),
        message: format!("GlobalSign's {field} is not a certificate: {e}"),
    })
}

/// What a PVOrder `Response` says: the order id, and the certificate when
/// GlobalSign issued at once with its chain.
pub(super) fn submitted(response: &Element) -> Result<Progress, CaError> {
    let request_id = response
        .text_at(&["OrderID"])
        .ok_or_else(|| {
            CaError::Unavailable("GlobalSign accepted the PVOrder but sent no OrderID".into())
        })?
        .to_owned();
    let Some(detail) = response.child("PVOrderDetail") else {
        return Ok(Progress::Pending {
            request_id,
            details: "GlobalSign accepted the order".into(),
        });
    };
    let status = detail
        .text_at(&["CertificateInfo", "CertificateStatus"])
        .unwrap_or("1");
    match progress_of(&request_id, detail, status) {
        // Issued at once but without the whole chain: the poll brings it.
        Err(CaError::Unavailable(_)) => Ok(Progress::Pending {
            request_id,
            details: "GlobalSign issued the certificate; fetching it".into(),
        }),
        other => other,
    }
}

/// What a GetOrderByOrderID `Response` says about order `request_id`.
pub(super) fn polled(request_id: &str, response: &Element) -> Result<Progress, CaError> {
    let detail = response.child("OrderDetail").ok_or_else(|| {
        CaError::Unavailable(format!(
            "GlobalSign's answer about order {request_id} has no OrderDetail"
        ))
    })?;
    let status = detail
        .text_at(&["OrderInfo", "OrderStatus"])
        .or_else(|| detail.text_at(&["CertificateInfo", "CertificateStatus"]))
        .ok_or_else(|| {
            CaError::Unavailable(format!(
                "GlobalSign's answer about order {request_id} has no OrderStatus"
            ))
        })?;
    progress_of(request_id, detail, status)
}
