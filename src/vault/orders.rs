//! Certificate operations completed by a CA of `issuers/`: each step of an order (submit, poll, cancel) and what it does to the operation.
//!
//! [`super::worker`] decides when a step runs; a step reads what it needs
//! under a brief read lock, talks to the CA with no lock held, then
//! records the outcome like any other change (store first, then the
//! model), checking that the operation is still the one it drove: a user
//! may cancel or delete it meanwhile.

use super::changes::Changes;
use super::clock::{now, rfc3339};
use super::connect::{Authority, connect};
use super::error::{Stored, VaultError};
use super::issuer_file::IssuerBundle;
use super::issuer_memory::memory_cell;
use super::model::{certificate, vault};
use super::name::{CertificateName, VaultName, VersionId};
use super::operation::{Operation, OperationError, Status};
use super::operation::{is_unknown, with_json};
use super::order_book::OrderKey;
use super::order_runner::Next;
use super::records::{publish, record_for};
use super::service::VaultService;
use crate::issuers::{CaError, Order, Progress};
use crate::pki::x509::CertificateSpec;

/// What a step needs to know about an order, read under the read lock.
struct OrderView {
    operation: Operation,
    csr_der: Vec<u8>,
    spec: CertificateSpec,
    certificate_type: Option<String>,
    /// The issuer's stored name and file, if it still exists.
    issuer: Option<(CertificateName, IssuerBundle)>,
    /// Until when outages are retried, and why then.
    retry_until: (i64, &'static str),
}

impl OrderView {
    fn order<'a>(&'a self, certificate_name: &'a str) -> Order<'a> {
        Order {
            certificate_name,
            csr_der: &self.csr_der,
            spec: &self.spec,
            certificate_type: self.certificate_type.as_deref(),
        }
    }
}

/// How long outages of a CA are retried for an order with no current
/// certificate: 30 days from the order, longer than any CA keeps an
/// unfinished order (ACME's are valid for 7 days).
const FIRST_ISSUE_RETRIES: i64 = 30 * 24 * 3600;

/// Until when an order's outages are retried, and why then: the current
/// certificate's expiry (a renewal that cannot land before it has missed
/// its purpose), else [`FIRST_ISSUE_RETRIES`] after the order began.
fn retry_until(current_not_after: Option<i64>, order_created: i64) -> (i64, &'static str) {
    match current_not_after {
        Some(not_after) => (not_after, "the current certificate's expiry"),
        None => (
            order_created.saturating_add(FIRST_ISSUE_RETRIES),
            "30 days after the order began",
        ),
    }
}

impl VaultService {
    /// Every operation in progress that a CA of `issuers/` completes.
    pub(super) fn open_orders(&self) -> Vec<OrderKey> {
        let st = self.model();
        let mut out = Vec::new();
        for vs in st.vaults.values() {
            // Those with an operation are read (a big store's others need not be).
            for cs in vs.certificates.loaded() {
                if let (Some(op), Some(pending)) = (cs.operation_in_progress(), &cs.pending) {
                    if !is_unknown(&op.issuer.name) && op.version == pending.id.as_str() {
                        out.push((vs.name.clone(), cs.name.clone(), pending.id.clone()));
                    }
                }
            }
        }
        out
    }

    /// One step of order `key`; what is left to do. Never panics, never
    /// holds a lock while the CA is asked.
    pub(super) fn drive_order(&self, key: &OrderKey) -> Next {
        match self.try_drive_order(key) {
            Ok(next) => next,
            Err(e) => {
                log::error!(
                    "{}/{}: the order step failed: {}",
                    key.0,
                    key.1,
                    e.message()
                );
                Next::Retry
            }
        }
    }

    fn try_drive_order(&self, key: &OrderKey) -> Result<Next, VaultError> {
        let (v, c, version) = key;
        let Some(view) = self.order_view(key)? else {
            return Ok(Next::Done);
        };
        let issuer_name = &view.operation.issuer.name;
        let Some((issuer, bundle)) = &view.issuer else {
            let message = format!(
                "Issuer not found: {issuer_name}. The issuer was deleted while the order was open."
            );
            self.fail_order(key, "IssuerNotFound", &message)?;
            return Ok(Next::Done);
        };
        // Submitting may create the issuer's account (ACME): one step at a
        // time per issuer, here and across a fleet, with the issuer's state
        // as stored now; the others try again shortly.
        let submitting =
            view.operation.request_id.is_none() && !view.operation.cancellation_requested;
        let _submitting = match submitting {
            true => {
                let Some(local) = self.orders().submit_through(v, issuer) else {
                    return Ok(Next::Busy);
                };
                let Some(claim) = self.claim_issuer(v, issuer) else {
                    return Ok(Next::Busy);
                };
                Some((local, claim))
            }
            false => None,
        };
        let memory = memory_cell(&self.model(), v, issuer);
        let ca = match connect(issuer.as_str(), bundle, Box::new(memory.clone())) {
            Ok(Authority::Later(ca)) => ca,
            Ok(Authority::Now(_)) => {
                let message = format!("Issuer {issuer} issues at once and takes no orders.");
                self.fail_order(key, "BadParameter", &message)?;
                return Ok(Next::Done);
            }
            Err(e) => {
                self.fail_order(key, "BadParameter", &e.message())?;
                return Ok(Next::Done);
            }
        };
        let provider = ca.provider();
        let order = view.order(c.as_str());
        let request_id = view.operation.request_id.clone();

        if view.operation.cancellation_requested {
            let outcome = match &request_id {
                Some(id) => ca.cancel(&order, id),
                None => Ok(()),
            };
            if !self.orders().holds(key) {
                return Ok(self.claim_lost(key, provider));
            }
            self.keep_memory(v, issuer, &memory)?;
            return match outcome {
                Ok(()) => {
                    self.finish_cancelled(key, format!("{provider} cancelled the order."))?;
                    Ok(Next::Done)
                }
                Err(CaError::Rejected { message, .. }) => {
                    // The CA would not cancel (issued or gone): certfs stops following it.
                    self.finish_cancelled(
                        key,
                        format!("The operation was cancelled; {provider} answered: {message}"),
                    )?;
                    Ok(Next::Done)
                }
                Err(CaError::Unavailable(m)) => {
                    self.note_order(
                        key,
                        None,
                        format!(
                            "Cancellation requested; {provider} cannot be reached ({m}). Retrying."
                        ),
                    )?;
                    Ok(Next::Retry)
                }
            };
        }

        let outcome = match &request_id {
            None => ca.submit(&order),
            Some(id) => ca.poll(&order, id),
        };
        if !self.orders().holds(key) {
            return Ok(self.claim_lost(key, provider));
        }
        self.keep_memory(v, issuer, &memory)?;
        match outcome {
            Ok(Progress::Pending {
                request_id: id,
                details,
            }) => {
                let details = format!("{provider}: {details}");
                if !self.note_order(key, Some(id.clone()), details)? {
                    // Deleted or cancelled while the CA was asked: do not leave the order open.
                    log::info!(
                        "{v}/{c}: order {id} is no longer wanted; asking {provider} to cancel it"
                    );
                    if let Err(e) = ca.cancel(&order, &id) {
                        log::warn!("{v}/{c}: {provider} did not cancel order {id}: {e}");
                    }
                }
                Ok(Next::Poll)
            }
            Ok(Progress::Issued {
                request_id: id,
                issued,
            }) => {
                let mut certificates = vec![issued.leaf];
                certificates.extend(issued.chain);
                let details = format!("The certificate was issued by {provider}.");
                match self.complete_pending(v, c, version, &certificates, details, Some(id)) {
                    Ok(changes) => {
                        self.announce(&changes);
                        Ok(Next::Done)
                    }
                    Err(VaultError::NotFound(_)) => Ok(Next::Done),
                    Err(VaultError::BadParameter(m)) => {
                        self.fail_order(key, "CertificateMismatch", &m)?;
                        Ok(Next::Done)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(CaError::Rejected { code, message }) => {
                log::warn!("{v}/{c}: {provider} refused the order ({code}): {message}");
                self.fail_order(key, &code, &message)?;
                Ok(Next::Done)
            }
            Err(CaError::Unavailable(m)) => {
                log::warn!("{v}/{c}: {provider} is unavailable: {m}");
                let (until, why) = view.retry_until;
                if now() >= until {
                    let message = format!(
                        "{provider} could not be reached until {} ({why}): {m}",
                        rfc3339(until)
                    );
                    let details = format!("The issuer {} could not be reached.", issuer);
                    self.fail_order_with(key, details, "IssuerUnavailable", &message)?;
                    return Ok(Next::Done);
                }
                let details = format!(
                    "Waiting for {provider}, which cannot be reached ({m}). Retrying until {} ({why}).",
                    rfc3339(until)
                );
                self.note_order(key, None, details)?;
                Ok(Next::Retry)
            }
        }
    }

    /// What a step does when this daemon's claim on the order went while
    /// the CA was asked (the store's session was lost): it records nothing,
    /// since another daemon may follow the order now.
    fn claim_lost(&self, key: &OrderKey, provider: &str) -> Next {
        log::warn!(
            "{}/{}: the claim on the order was lost while {provider} was asked; \
             its answer is not recorded here",
            key.0,
            key.1
        );
        Next::Elsewhere
    }

    /// What a step needs, if `key` is still an open order.
    fn order_view(&self, key: &OrderKey) -> Result<Option<OrderView>, VaultError> {
        let (v, c, version) = key;
        let st = self.model();
        let vs = vault(&st, v)?;
        let Some(cs) = vs.certificates.get(c) else {
            return Ok(None);
        };
        let Some(op) = cs.operation_in_progress() else {
            return Ok(None);
        };
        if op.version != version.as_str() {
            return Ok(None);
        }
        let issuer = CertificateName::parse(&op.issuer.name)
            .ok()
            .and_then(|n| vs.issuers.get_key_value(&n))
            .map(|(n, b)| (n.clone(), b.clone()));
        Ok(Some(OrderView {
            operation: op.clone(),
            csr_der: op.csr_der().map_err(|e| {
                let object = Stored::Certificate {
                    vault: v.to_string(),
                    certificate: cs.name.to_string(),
                };
                VaultError::unreadable_by(object, "its operation's CSR", e)
            })?,
            spec: cs.policy.certificate_spec(),
            certificate_type: cs.policy.issuer.cert_type.clone(),
            issuer,
            retry_until: retry_until(
                cs.current()
                    .and_then(|cur| cur.facts().ok())
                    .map(|f| f.not_after),
                cs.pending.as_ref().map_or_else(now, |p| p.created),
            ),
        }))
    }

    /// Records the CA's order id and words on an open order. `false` if the
    /// order is no longer open (or its cancellation was asked for meanwhile).
    fn note_order(
        &self,
        key: &OrderKey,
        request_id: Option<String>,
        details: String,
    ) -> Result<bool, VaultError> {
        let (v, c, version) = key;
        let mut wanted = None;
        let open = self.update_order(v, c, Some(version), |op| {
            let before = op.clone();
            if request_id.is_some() {
                op.request_id = request_id.clone();
            }
            op.status_details = details.clone();
            // An unchanged answer (a CA still pending) is no reason to cancel.
            wanted = Some(!op.cancellation_requested);
            *op != before
        })?;
        Ok(open && wanted.unwrap_or(true))
    }

    /// A user's `{"cancellation_requested": true}` on an order of a CA: the
    /// worker asks the CA to cancel, then marks the operation cancelled.
    /// `None` when `c`'s operation is not such an order.
    pub(super) fn request_order_cancel(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Option<Changes>, VaultError> {
        let version = {
            let st = self.model();
            let cs = certificate(&st, v, c)?;
            match cs.operation_in_progress() {
                Some(op) if !is_unknown(&op.issuer.name) => op.version.clone(),
                _ => return Ok(None),
            }
        };
        let version = VersionId::parse(&version).map_err(|e| {
            let object = Stored::Certificate {
                vault: v.to_string(),
                certificate: c.to_string(),
            };
            VaultError::unreadable_by(object, "its operation's version", e)
        })?;
        self.update_order(v, c, Some(&version), |op| {
            op.cancellation_requested = true;
            op.status_details = format!(
                "Cancellation requested: asking issuer {} to cancel the order.",
                op.issuer.name
            );
            true
        })?;
        self.orders().wake(&(v.clone(), c.clone(), version));
        Ok(Some(Changes::of_certificate(v, c)))
    }

    /// Changes the open operation of `c` (of pending version `expect`, if
    /// given) with `change`, which says whether it changed anything.
    /// `false` if there is no such open operation.
    fn update_order(
        &self,
        v: &VaultName,
        c: &CertificateName,
        expect: Option<&VersionId>,
        change: impl FnOnce(&mut Operation) -> bool,
    ) -> Result<bool, VaultError> {
        let mut tx = self.transaction();
        let (mut record, name) = record_for(&tx.model(), v, c, now())?;
        let mut operation = {
            let st = tx.model();
            let cs = certificate(&st, v, c)?;
            match cs.operation_in_progress() {
                Some(op) if expect.is_none_or(|id| op.version == id.as_str()) => op.clone(),
                _ => return Ok(false),
            }
        };
        if !change(&mut operation) {
            return Ok(true);
        }
        record.operation = Some(operation.to_json());
        tx.store().put_certificate(&record, None)?;
        publish(&mut tx.model_mut(), v, &name, &record, |cs| {
            cs.operation = Some(with_json(operation))
        })?;
        tx.commit();
        self.announce(&Changes::of_certificate(v, c));
        Ok(true)
    }

    /// Fails order `key` with the CA's `code` and `message`; its pending version is dropped.
    fn fail_order(&self, key: &OrderKey, code: &str, message: &str) -> Result<(), VaultError> {
        let details = match self.order_view(key) {
            Ok(Some(view)) => format!(
                "The issuer {} refused the request.",
                view.operation.issuer.name
            ),
            _ => "The issuer refused the request.".to_owned(),
        };
        self.fail_order_with(key, details, code, message)
    }

    /// Fails order `key` with `details`, `code` and `message`; its pending version is dropped.
    fn fail_order_with(
        &self,
        key: &OrderKey,
        details: String,
        code: &str,
        message: &str,
    ) -> Result<(), VaultError> {
        let (v, c, version) = key;
        let ended = self.end_operation(v, c, Some(version), |op| {
            op.status = Status::Failed;
            op.status_details = details;
            op.error = Some(OperationError {
                code: code.to_owned(),
                message: message.to_owned(),
            });
            Some(op.clone())
        });
        self.ended(ended)
    }

    /// Marks order `key` cancelled after the CA was asked.
    fn finish_cancelled(&self, key: &OrderKey, details: String) -> Result<(), VaultError> {
        let (v, c, version) = key;
        let ended = self.end_operation(v, c, Some(version), |op| {
            op.status = Status::Cancelled;
            op.status_details = details;
            op.error = Some(OperationError {
                code: "Cancelled".into(),
                message: "The user cancelled the certificate operation.".into(),
            });
            Some(op.clone())
        });
        self.ended(ended)
    }

    /// Announces an ended order; one that was already gone is fine.
    fn ended(&self, ended: Result<Changes, VaultError>) -> Result<(), VaultError> {
        match ended {
            Ok(changes) => {
                self.announce(&changes);
                Ok(())
            }
            Err(VaultError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `rm operation.json`: deletes the operation and its pending version;
    /// an order already placed with a CA is cancelled there, best effort,
    /// in the background.
    pub(super) fn delete_operation(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Changes, VaultError> {
        let abandoned = {
            let st = self.model();
            let cs = certificate(&st, v, c)?;
            cs.pending
                .as_ref()
                .map(|p| (v.clone(), c.clone(), p.id.clone()))
        };
        let abandoned = match abandoned {
            Some(key) => self
                .order_view(&key)?
                .filter(|view| view.operation.request_id.is_some())
                .map(|view| (key, view)),
            None => None,
        };
        let changes = self.end_operation(v, c, None, |_| None)?;
        if let Some(((v, c, _), view)) = abandoned {
            if let Some((issuer, bundle)) = view.issuer.clone() {
                let memory = memory_cell(&self.model(), &v, &issuer);
                std::thread::spawn(move || {
                    let Ok(Authority::Later(ca)) =
                        connect(issuer.as_str(), &bundle, Box::new(memory))
                    else {
                        return;
                    };
                    let id = view.operation.request_id.clone().unwrap_or_default();
                    match ca.cancel(&view.order(c.as_str()), &id) {
                        Ok(()) => log::info!("{v}/{c}: order {id} cancelled at {}", ca.provider()),
                        Err(e) => log::warn!(
                            "{v}/{c}: order {id} not cancelled at {}: {e}",
                            ca.provider()
                        ),
                    }
                });
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_until_the_current_certificate_expires() {
        assert_eq!(
            retry_until(Some(1_000), 500),
            (1_000, "the current certificate's expiry")
        );
        assert_eq!(
            retry_until(None, 500),
            (500 + FIRST_ISSUE_RETRIES, "30 days after the order began")
        );
    }
}
