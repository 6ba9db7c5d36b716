//! Renewal and delivery: lifetime actions on a scheduler (AutoRenew, EmailContacts), hooks after a switch, `hooks.json` writes, and the run log behind `status.json`.
//!
//! The scheduler keeps no clock of its own: each pass computes every
//! certificate's due time from its current version's dates and its
//! policy, and the stored run log says what already ran for that version.
//! So a pass after a restart (or after the machine slept through the due
//! time) does what is overdue, and an action runs once per trigger.
//!
//! Jitter: an action that falls due while the daemon runs waits a fixed
//! 0 to [`JITTER_WINDOW`] seconds more, drawn from the certificate's and
//! version's names, so a fleet of certificates made at one moment (and so
//! due at one moment) reaches its CA spread over five minutes. An action
//! already overdue when the daemon started or when the version was made
//! (an import, a restart after the due time) is never delayed.

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::catalog::{DUE_NEVER, DUE_UNKNOWN};
use super::certificate_state::CertificateState;
use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::hooks::Hooks;
use super::model::{certificate, not_found, vault};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::Node;
use super::operation::Status;
use super::policy::ActionType;
use super::run_log::ActionRun;
use super::service::{VaultService, update_run_log};
use super::status::{action_name, due};
use super::sync::work_name;
use crate::mail::MailError;
use crate::store::Claim;

/// The first pause before a failed lifetime action runs again; it doubles.
const FIRST_RETRY: i64 = 15;
/// The longest pause before a failed lifetime action runs again.
const MAX_RETRY: i64 = 86_400;
/// How long the scheduler sleeps at most between passes.
const IDLE: Duration = Duration::from_secs(3600);

/// The widest spread of lifetime actions due at one moment, seconds.
const JITTER_WINDOW: i64 = 300;

/// When this process started, Unix seconds (forced when the scheduler starts).
static STARTED: LazyLock<i64> = LazyLock::new(now);

/// When an action due at `base` runs for version `version` of `certificate`
/// (see the module's "Jitter"): `base` when it was overdue already at
/// `started` or at the version's making (`created`), else `base` plus the
/// certificate's fixed share of [`JITTER_WINDOW`].
fn spread(base: i64, certificate: &str, version: &str, created: i64, started: i64) -> i64 {
    if base <= started.max(created) {
        return base;
    }
    // FNV-1a: stable across runs and daemons, so every daemon of a fleet
    // agrees on when the action is due.
    let hash = format!("{certificate}/{version}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    base + (hash % JITTER_WINDOW as u64) as i64
}

/// A lifetime action due now.
struct DueAction {
    vault: VaultName,
    certificate: CertificateName,
    version: VersionId,
    action: ActionType,
    attempts: u32,
}

/// The pause after `attempts` failed runs, seconds.
fn retry_after(attempts: u32) -> i64 {
    FIRST_RETRY
        .saturating_mul(1 << attempts.saturating_sub(1).min(20))
        .min(MAX_RETRY)
}

/// Whether the last run settled the action for `version`: it succeeded and,
/// for a renewal that started an operation, that operation did not fail.
fn settled(cs: &CertificateState, run: &ActionRun) -> bool {
    if !run.succeeded {
        return false;
    }
    match (cs.operation.as_deref(), &run.pending_version) {
        (Some((op, _)), Some(pending)) if &op.version == pending => op.status != Status::Failed,
        _ => true,
    }
}

/// Whether the lifetime action of `cs` is due at `at`: the action, the
/// version it is due for and how often it failed so far; otherwise when to
/// look again (`None`: nothing will be due).
fn due_action(cs: &CertificateState, at: i64) -> Result<(ActionType, VersionId, u32), Option<i64>> {
    let (Some(action), Some(version)) = (cs.policy.lifetime_actions.first(), cs.current()) else {
        return Err(None);
    };
    // A body the store cannot give now (it is down) is looked at again soon.
    let Ok(facts) = version.facts() else {
        return Err(Some(at + 60));
    };
    let when = spread(
        due(action, &facts),
        cs.name.as_str(),
        version.id.as_str(),
        version.created,
        *STARTED,
    );
    if when > at {
        return Err(Some(when));
    }
    let mut attempts = 0;
    // A renewal of this version that worked made a newer one, since
    // disabled: the top-level files went back to this one, which needs
    // renewing again, now. (A failed run keeps its backoff; a mail is sent
    // once per version.)
    let superseded = cs
        .versions
        .newest()
        .is_some_and(|last| last.id != version.id);
    let renewed_then_disabled =
        |r: &ActionRun| superseded && r.succeeded && r.action == action_name(ActionType::AutoRenew);
    if let Some(run) = cs
        .run_log
        .action
        .as_ref()
        .filter(|r| r.version == version.id.as_str() && !renewed_then_disabled(r))
    {
        if settled(cs, run) {
            return Err(None);
        }
        let retry = run.retry_at.unwrap_or(run.at + retry_after(run.attempts));
        if retry > at {
            return Err(Some(retry));
        }
        attempts = run.attempts;
    }
    // A renewal already on its way (a merge awaited, an order open).
    if action.action == ActionType::AutoRenew && cs.operation_in_progress().is_some() {
        return Err(None);
    }
    Ok((action.action, version.id.clone(), attempts))
}

impl VaultService {
    /// Starts the renewal scheduler (once; later calls do nothing).
    pub fn start_renewals(self: &Arc<Self>) {
        {
            let mut started = self.renewals().started.lock();
            if *started {
                return;
            }
            *started = true;
        }
        LazyLock::force(&STARTED);
        let service = Arc::downgrade(self);
        let renewals = self.renewals().clone();
        let spawned = std::thread::Builder::new()
            .name("certfs-renewals".into())
            .spawn(move || {
                loop {
                    let Some(strong) = service.upgrade() else {
                        return;
                    };
                    let began = std::time::SystemTime::now();
                    let next = strong.renewal_pass(now());
                    *renewals.last_pass.lock() = Some(began);
                    drop(strong);
                    let wait = u64::try_from(next - now()).unwrap_or(0);
                    let wait = Duration::from_secs(wait).min(IDLE);
                    let mut woken = renewals.woken.lock();
                    if !*woken {
                        renewals
                            .wake
                            .wait_for(&mut woken, wait.max(Duration::from_millis(200)));
                    }
                    *woken = false;
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the renewal scheduler: {e}");
        }
    }

    /// Makes the renewal scheduler look at every certificate now (SIGHUP,
    /// `systemctl reload`): what is due runs, what failed keeps its pause.
    pub fn look_again(&self) {
        log::info!("looking at every certificate's lifetime action again");
        self.renewals().wake();
    }

    /// When the last whole pass of the renewal scheduler began (`None`
    /// before the first one ended).
    pub(super) fn last_renewal_pass(&self) -> Option<std::time::SystemTime> {
        *self.renewals().last_pass.lock()
    }

    /// Runs every lifetime action due at `at`; returns when the next one is due.
    pub(super) fn renewal_pass(&self, at: i64) -> i64 {
        let mut next = at + IDLE.as_secs() as i64;
        let mut work = Vec::new();
        // Of certificates not read yet (a big store's), only those whose
        // action is due are read; the survey says when.
        self.survey_dues();
        {
            let st = self.model();
            for vs in st.vaults.values() {
                let unread_due: Vec<&CertificateName> = vs
                    .certificates
                    .unread()
                    .filter_map(|(name, due)| match due {
                        DUE_NEVER => None,
                        DUE_UNKNOWN => Some(name),
                        due if due > at => {
                            next = next.min(due);
                            None
                        }
                        _ => Some(name),
                    })
                    .collect();
                let due_now = unread_due
                    .into_iter()
                    .filter_map(|name| vs.certificates.get(name));
                for cs in vs.certificates.loaded().chain(due_now) {
                    match due_action(cs, at) {
                        Ok((action, version, attempts)) => work.push(DueAction {
                            vault: vs.name.clone(),
                            certificate: cs.name.clone(),
                            version,
                            action,
                            attempts,
                        }),
                        Err(Some(when)) => next = next.min(when),
                        Err(None) => {}
                    }
                }
            }
        }
        for item in work {
            // Of a fleet, one daemon acts, on the certificate as stored now.
            let Some(_claim) = self.claim_action(&item, at) else {
                continue;
            };
            let (succeeded, message, pending_version) = match item.action {
                ActionType::AutoRenew => self.auto_renew(&item),
                ActionType::EmailContacts => match self.mail_expiry(&item) {
                    Ok(m) => (true, m, None),
                    Err(why) => (false, why.to_string(), None),
                },
            };
            let outcome: Result<(), VaultError> = if succeeded {
                Ok(())
            } else {
                Err(VaultError::BadParameter(message.clone()))
            };
            self.audit(
                &super::access::Caller::daemon(),
                &Node::Certificate(item.vault.clone(), item.certificate.clone()),
                None,
                action_name(item.action),
                &outcome,
            );
            let attempts = item.attempts + 1;
            let retry_at = (!succeeded).then(|| at + retry_after(attempts));
            if let Some(retry) = retry_at {
                next = next.min(retry);
                log::warn!(
                    "{}/{}: {} failed (attempt {attempts}): {message}",
                    item.vault,
                    item.certificate,
                    action_name(item.action)
                );
                // hooks.json's on_failure hears of a failed renewal once
                // per version, not at every retry.
                if attempts == 1 {
                    self.tell_on_failure(&item.vault, &item.certificate, &message);
                }
            } else {
                log::info!(
                    "{}/{}: {}: {message}",
                    item.vault,
                    item.certificate,
                    action_name(item.action)
                );
            }
            let run = ActionRun {
                version: item.version.to_string(),
                action: action_name(item.action).into(),
                at,
                succeeded,
                message,
                attempts,
                retry_at,
                pending_version,
            };
            let mut tx = self.transaction();
            if let Err(e) = update_run_log(&mut tx, &item.vault, &item.certificate, |log| {
                log.action = Some(Box::new(run))
            }) {
                log::error!(
                    "{}/{}: cannot record the lifetime action: {e}",
                    item.vault,
                    item.certificate
                );
            }
            tx.commit();
        }
        next
    }

    /// The claim on `item` for this daemon, if no other daemon has it and
    /// the action is still due once the certificate is re-read (another
    /// daemon may have just run it).
    fn claim_action(&self, item: &DueAction, at: i64) -> Option<Box<dyn Claim>> {
        let (v, c) = (&item.vault, &item.certificate);
        let work = format!("{}/{}", work_name("renew", v, c), item.version);
        let claim = self.claim_fresh(&work, v, c)?;
        let st = self.model();
        let cs = certificate(&st, v, c).ok()?;
        match due_action(cs, at) {
            Ok((_, version, _)) if version == item.version => Some(claim),
            _ => None,
        }
    }

    /// AutoRenew: a new version under the stored policy, through its issuer.
    fn auto_renew(&self, item: &DueAction) -> (bool, String, Option<String>) {
        let (v, c) = (&item.vault, &item.certificate);
        let policy = {
            let st = self.model();
            match certificate(&st, v, c) {
                Ok(cs) => (*cs.policy).clone(),
                Err(e) => return (false, e.message().into_owned(), None),
            }
        };
        let issuer = policy.issuer.name.clone();
        match self.create_version(v, c, policy) {
            Ok(changes) => {
                self.announce(&changes);
                let st = self.model();
                let Ok(cs) = certificate(&st, v, c) else {
                    return (false, "the certificate went away".into(), None);
                };
                match (cs.operation_in_progress(), cs.current()) {
                    (Some(op), _) => {
                        let pending = op.version.clone();
                        let unknown = issuer.eq_ignore_ascii_case("Unknown");
                        drop(st);
                        let mut message = if unknown {
                            "renewal started: a new CSR waits in request.csr for a signed certificate in merge/".to_owned()
                        } else {
                            format!("renewal ordered from issuer {issuer}")
                        };
                        if unknown {
                            match self.mail_renewal_needed(v, c) {
                                Ok(m) => message.push_str(&format!("; {m}")),
                                Err(why) => {
                                    message.push_str(&format!("; contacts not told: {why}"))
                                }
                            }
                        }
                        (true, message, Some(pending))
                    }
                    (None, Some(new)) => (
                        true,
                        format!("renewed: version {} is current", new.id),
                        None,
                    ),
                    (None, None) => (false, "no version was made".into(), None),
                }
            }
            Err(e) => (false, e.message().into_owned(), None),
        }
    }

    /// A write to `hooks.json`.
    pub(super) fn write_hooks(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let hooks = Hooks::parse(data)?;
        hooks.check_pidfile()?;
        let json = hooks.to_json();
        let mut tx = self.transaction();
        let name = {
            let st = tx.model();
            certificate(&st, v, c)?.name.clone()
        };
        let key = format!("{}{name}", super::hooks::DOCUMENT_PREFIX);
        let stored = (!hooks.is_empty()).then(|| json.clone());
        tx.store()
            .put_document(v.as_str(), &key, stored.as_deref())?;
        let mut st = tx.model_mut();
        let cs = st
            .vaults
            .get_mut(v)
            .and_then(|vs| vs.certificates.get_mut(c))
            .ok_or_else(|| not_found(c.as_str()))?;
        cs.hooks = hooks.into();
        log::info!("{v}/{name}: hooks set");
        Ok(Changes {
            dirs: vec![Node::Certificate(v.clone(), c.clone())],
        })
    }

    /// Runs `c`'s `on_failure`, if it has one, on a thread of its own.
    fn tell_on_failure(&self, v: &VaultName, c: &CertificateName, error: &str) {
        let hooks = match certificate(&self.model(), v, c) {
            Ok(cs) if cs.hooks.on_failure.is_some() => (*cs.hooks).clone(),
            _ => return,
        };
        let (v, c, error) = (v.to_string(), c.to_string(), error.to_owned());
        let spawned = std::thread::Builder::new()
            .name(format!("certfs-on-failure-{c}"))
            .spawn(move || {
                if let Some(said) = hooks.run_on_failure(&v, &c, &error) {
                    log::info!("{v}/{c}: {said}");
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot run on_failure: {e}");
        }
    }

    /// EmailContacts: tells the vault's contacts that `item`'s certificate expires.
    fn mail_expiry(&self, item: &DueAction) -> Result<String, NotMailed> {
        let (v, c) = (&item.vault, &item.certificate);
        let (to, not_after) = self.contacts_and_expiry(v, c)?;
        let days = (not_after - now()).div_euclid(86_400);
        let dir = self.lineage(v, c);
        let notice =
            crate::mail::expiry_notice(v.as_str(), c.as_str(), not_after, days, Path::new(&dir));
        self.send_mail(to, notice)
    }

    /// An AutoRenew of an `Unknown` certificate: tells the contacts a CSR waits.
    fn mail_renewal_needed(&self, v: &VaultName, c: &CertificateName) -> Result<String, NotMailed> {
        let (to, not_after) = self.contacts_and_expiry(v, c)?;
        let dir = self.lineage(v, c);
        let notice =
            crate::mail::renewal_needed_notice(v.as_str(), c.as_str(), not_after, Path::new(&dir));
        self.send_mail(to, notice)
    }

    /// The vault's contacts' addresses and `c`'s expiry.
    fn contacts_and_expiry(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<(Vec<String>, i64), NotMailed> {
        let st = self.model();
        let vs = vault(&st, v).map_err(NotMailed::Vault)?;
        let to: Vec<String> = vs
            .contacts
            .as_ref()
            .map(|cs| cs.contacts.iter().map(|c| c.email.clone()).collect())
            .unwrap_or_default();
        if to.is_empty() {
            return Err(NotMailed::NoContacts(v.clone()));
        }
        let cs = vs
            .certificates
            .get(c)
            .ok_or_else(|| NotMailed::Gone(c.clone()))?;
        let not_after = cs
            .current()
            .and_then(|v| v.facts().ok())
            .map_or(0, |f| f.not_after);
        Ok((to, not_after))
    }

    /// Sends one message to `to` (blocks up to the mailer's timeout: call
    /// with no lock held).
    fn send_mail(&self, to: Vec<String>, notice: (String, String)) -> Result<String, NotMailed> {
        let Some(mailer) = self.mailer() else {
            return Err(NotMailed::NoSmtp(to));
        };
        let said = format!("mailed {}", to.join(", "));
        mailer
            .send(&crate::mail::Mail::new(to, notice))
            .map(|()| said)
            .map_err(NotMailed::Send)
    }
}

/// Why the contacts were not mailed; the words go to the run log.
#[derive(Debug)]
enum NotMailed {
    /// The vault is gone.
    Vault(VaultError),
    /// The vault has no `contacts.json`.
    NoContacts(VaultName),
    /// The certificate is gone.
    Gone(CertificateName),
    /// The mount has no `--smtp`; these were to be mailed.
    NoSmtp(Vec<String>),
    /// The server did not take the mail.
    Send(MailError),
}

impl std::fmt::Display for NotMailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotMailed::Vault(e) => f.write_str(&e.message()),
            NotMailed::NoContacts(v) => write!(f, "vault {v} has no contacts (contacts.json)"),
            NotMailed::Gone(c) => write!(f, "{c} is gone"),
            NotMailed::NoSmtp(to) => write!(
                f,
                "no SMTP server is configured (mount with --smtp) to mail {}",
                to.join(", ")
            ),
            NotMailed::Send(e) => write!(f, "the mail was not sent: {e}"),
        }
    }
}

impl std::error::Error for NotMailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NotMailed::Vault(e) => Some(e),
            NotMailed::Send(e) => Some(e),
            _ => None,
        }
    }
}

mod survey;
#[cfg(test)]
mod tests;
