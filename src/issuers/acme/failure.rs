//! Why an ACME step failed, and how that becomes the trait's [`CaError`]: the CA's problem documents stay its own words, transport faults and server trouble are retried.

use instant_acme::{Error, Problem};

use super::challenge::ChallengeError;
use super::transport;
use crate::issuers::CaError;

/// The ACME problem type prefix (RFC 8555 §6.7).
pub(super) const ERROR_NS: &str = "urn:ietf:params:acme:error:";

/// Why a step failed, before it becomes a [`CaError`].
pub(super) enum Failure {
    /// From instant-acme (the CA's problem documents, transport faults).
    Acme(Error),
    /// A refusal certfs words itself (no http-01 offered, order invalid without a problem).
    Refused { code: String, message: String },
    /// Something local that may clear up (the CA's answer not ready yet).
    Local(String),
    /// The answer could not be served (the listener's port, the webroot, the DNS server).
    Challenge(ChallengeError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Acme(e)
    }
}

/// Whether `problem` is of ACME type `short` (`accountDoesNotExist`).
pub(super) fn is_type(problem: &Problem, short: &str) -> bool {
    problem
        .r#type
        .as_deref()
        .is_some_and(|t| t.strip_prefix(ERROR_NS) == Some(short))
}

/// Pebble before 2.8 shows an order with a deactivated authorization as
/// `"status": "deactivated"`, which RFC 8555 does not have (Boulder and
/// later pebble say `invalid`); instant-acme cannot read it.
pub(super) fn is_pebble_deactivated(error: &Error) -> bool {
    matches!(error, Error::Json(e) if e.to_string().contains("`deactivated`"))
}

/// The refusal for an order pebble shows as deactivated.
pub(super) fn deactivated() -> Failure {
    Failure::Refused {
        code: "orderDeactivated".into(),
        message: "The CA shows the order as deactivated: its authorizations were deactivated (the order was cancelled).".into(),
    }
}

/// A problem document as a refusal: its type, and its detail with the subproblems'.
pub(super) fn refusal(problem: &Problem) -> Failure {
    let mut message = problem.detail.clone().unwrap_or_default();
    for sub in &problem.subproblems {
        if let Some(detail) = &sub.detail {
            message.push_str(&format!("; {detail}"));
        }
    }
    if message.is_empty() {
        message = "The CA refused without saying why.".into();
    }
    Failure::Refused {
        code: problem
            .r#type
            .clone()
            .unwrap_or_else(|| "about:blank".into()),
        message,
    }
}

/// The trait's error for a failure: the CA's refusals stay refusals, the
/// rest is retried.
pub(super) fn ca_error(failure: Failure) -> CaError {
    match failure {
        Failure::Refused { code, message } => CaError::Rejected { code, message },
        Failure::Local(m) => CaError::Unavailable(m),
        Failure::Challenge(e) if e.is_transient() => CaError::Unavailable(e.to_string()),
        Failure::Challenge(e) => CaError::Rejected {
            code: "challengeNotPublished".into(),
            message: e.to_string(),
        },
        Failure::Acme(e) => {
            if let Some(u) = transport::unreachable(&e) {
                return CaError::Unavailable(u.0.clone());
            }
            match e {
                Error::Api(p) => {
                    let server_fault = p.status.is_some_and(|s| s >= 500 || s == 429)
                        || is_type(&p, "serverInternal")
                        || is_type(&p, "rateLimited")
                        || is_type(&p, "badNonce");
                    match refusal(&p) {
                        Failure::Refused { code, message } if !server_fault => {
                            CaError::Rejected { code, message }
                        }
                        Failure::Refused { code, message } => {
                            CaError::Unavailable(format!("{code}: {message}"))
                        }
                        _ => unreachable!("refusal() always refuses"),
                    }
                }
                Error::Json(e) => CaError::Rejected {
                    code: "badResponse".into(),
                    message: format!(
                        "The ACME server's answer is not what RFC 8555 describes (is endpoint the directory URL?): {e}"
                    ),
                },
                Error::InvalidUri(e) => CaError::Rejected {
                    code: "badEndpoint".into(),
                    message: format!("The ACME directory URL is not valid: {e}"),
                },
                other => CaError::Unavailable(format!("ACME client: {other}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_keep_the_cas_words_and_server_faults_are_retried() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:connection","detail":"refused","status":400}"#,
        )
        .unwrap();
        assert_eq!(
            ca_error(Failure::Acme(Error::Api(p))),
            CaError::Rejected {
                code: "urn:ietf:params:acme:error:connection".into(),
                message: "refused".into()
            }
        );
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down","status":429}"#,
        )
        .unwrap();
        assert!(matches!(
            ca_error(Failure::Acme(Error::Api(p))),
            CaError::Unavailable(m) if m.contains("slow down")
        ));
    }

    #[test]
    fn pebbles_deactivated_order_is_recognised() {
        let e = serde_json::from_str::<instant_acme::OrderStatus>(r#""deactivated""#).unwrap_err();
        assert!(is_pebble_deactivated(&Error::Json(e)));
        let e = serde_json::from_str::<instant_acme::OrderStatus>(r#""weird""#).unwrap_err();
        assert!(!is_pebble_deactivated(&Error::Json(e)));
    }
}
