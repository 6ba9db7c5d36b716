//! What follows a switch of version, once its transaction ends: the renewal scheduler looks again, the certificate's hooks run (HAProxy, command, signal), the delivery probe checks what the server presents, `on_failure` runs if either failed, and all is recorded.

use std::sync::Arc;

use super::super::certificate_state::CertificateState;
use super::super::changes::Changes;
use super::super::clock::now;
use super::super::consumers::{Consumer, masters};
use super::super::error::VaultError;
use super::super::hooks::{Hooks, Seen};
use super::super::model::{certificate, vault};
use super::super::name::{CertificateName, VaultName, VersionId};
use super::super::node::Node;
use super::super::node::VersionFile;
use super::super::policy::is_dns_name;
use super::super::run_log::{self, HookRun, ProbeRun, RunLog};
use super::{Transaction, VaultService};

/// After version `id` of `c` became current: the scheduler looks again,
/// and the certificate's hooks run on a thread of their own.
pub(super) fn follow(service: &VaultService, v: &VaultName, c: &CertificateName, id: &VersionId) {
    service.renewals().wake();
    let Some(delivery) = delivery_of(service, v, c, id) else {
        return;
    };
    let Some(shared) = service.shared() else {
        // No background threads (a service not behind an Arc): run here.
        deliver(service, v, c, id, &delivery);
        return;
    };
    let (v, c, id) = (v.clone(), c.clone(), id.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("certfs-hook-{c}"))
        .spawn(move || {
            log::info!("{v}/{c}: running hooks for version {id}");
            deliver(&shared, &v, &c, &id, &delivery);
        });
    if let Err(e) = spawned {
        log::error!("cannot start a hook: {e}");
    }
}

/// What delivering version `id` of `c` needs, read from the model at
/// once; `None` if its hooks do nothing after a switch.
struct Delivery {
    hooks: Hooks,
    lineage: String,
    domains: Vec<String>,
    /// `bundle.pem`: for HAProxy (empty if the version has no key to give).
    bundle: Arc<[u8]>,
    /// The version's leaf, DER: what a probe expects to be presented.
    leaf: Vec<u8>,
    /// For `signal_consumers`: the oldest process of each program that
    /// holds an older version's key.
    stale: Vec<Consumer>,
    /// When the version expires (for a mail after a failed delivery).
    not_after: i64,
}

fn delivery_of(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
) -> Option<Delivery> {
    let mut delivery = {
        let st = service.model();
        let cs = certificate(&st, v, c).ok()?;
        if !cs.hooks.acts_on_switch() {
            return None;
        }
        delivery_in(service, v, c, cs, id)?
    };
    if delivery.hooks.signal_consumers.is_some() {
        // Looked up holding no lock: it reads /proc.
        let stale: Vec<Consumer> = service
            .consumers()
            .living(v, c)
            .into_iter()
            .filter(|consumer| consumer.version != *id)
            .collect();
        delivery.stale = masters(&stale).into_iter().cloned().collect();
    }
    Some(delivery)
}

/// What the model holds for delivering version `id` of `cs`.
fn delivery_in(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    cs: &CertificateState,
    id: &VersionId,
) -> Option<Delivery> {
    let version = cs.version(id).ok()??;
    let body = version.body().ok()?;
    // What reaches a hook's environment is DNS names only, whatever a
    // merged or imported certificate, or an older store, holds.
    let mut domains = crate::pki::x509::certificate_spec(&body.leaf)
        .map(|spec| spec.sans.dns_names)
        .unwrap_or_default();
    domains.retain(|name| {
        let ok = is_dns_name(name);
        if !ok {
            log::warn!(
                "{v}/{c}: '{}' is no DNS name: left out of RENEWED_DOMAINS",
                name.escape_debug()
            );
        }
        ok
    });
    let bundle = match &cs.hooks.haproxy {
        Some(_) => body
            .file(VersionFile::BundlePem)
            .unwrap_or_else(|_| Arc::from(&b""[..])),
        None => Arc::from(&b""[..]),
    };
    Some(Delivery {
        hooks: (*cs.hooks).clone(),
        lineage: service.lineage(v, c),
        domains,
        bundle,
        leaf: body.leaf.clone(),
        stale: Vec::new(),
        not_after: body.info.not_after,
    })
}

/// Runs the hooks of version `id` of `c`, then its probe, then, if
/// either failed, `on_failure`; records each in the run log.
fn deliver(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
    delivery: &Delivery,
) {
    let hooks = &delivery.hooks;
    let (ok, mut words) = hooks.run(
        &delivery.lineage,
        &delivery.domains,
        &delivery.bundle,
        &delivery.stale,
    );
    let mut failures = Vec::new();
    if !ok {
        failures.push(words.clone());
    }
    let seen = hooks
        .probe
        .as_ref()
        .map(|probe| probe.check(&delivery.leaf));
    if let Some(seen) = seen.as_ref().filter(|seen| !seen.ok) {
        failures.push(seen.message.clone());
    }
    if let Some(seen) = seen.as_ref().filter(|seen| !seen.ok) {
        mail_failed_delivery(service, v, c, delivery.not_after, &seen.message);
    }
    if !failures.is_empty()
        && let Some(said) = hooks.run_on_failure(v.as_str(), c.as_str(), &failures.join("; "))
    {
        words = if words.is_empty() {
            said
        } else {
            format!("{words}; {said}")
        };
    }
    record(service, v, c, id, ok, words, seen);
}

/// Tells the vault's contacts that the new version of `c` is not served,
/// when the mount has SMTP and the vault has contacts; logs how it went.
fn mail_failed_delivery(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    not_after: i64,
    what: &str,
) {
    let Some(mailer) = service.mailer() else {
        return;
    };
    let to: Vec<String> = match vault(&service.model(), v) {
        Ok(vs) => vs
            .contacts
            .as_ref()
            .map(|cs| cs.contacts.iter().map(|c| c.email.clone()).collect())
            .unwrap_or_default(),
        Err(_) => return,
    };
    if to.is_empty() {
        return;
    }
    let dir = service.lineage(v, c);
    let notice = crate::mail::delivery_failed_notice(
        v.as_str(),
        c.as_str(),
        not_after,
        std::path::Path::new(&dir),
        what,
    );
    let said = to.join(", ");
    match mailer.send(&crate::mail::Mail::new(to, notice)) {
        Ok(()) => log::info!("{v}/{c}: failed delivery mailed to {said}"),
        Err(e) => log::warn!("{v}/{c}: failed delivery not mailed: {e}"),
    }
}

/// Records how the hooks of version `id` of `c` went (and what the probe
/// saw), in its run log.
fn record(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
    ok: bool,
    words: String,
    seen: Option<Seen>,
) {
    if ok {
        log::info!("{v}/{c}: hooks: {words}");
    } else {
        log::warn!("{v}/{c}: hooks failed: {words}");
    }
    if let Some(seen) = &seen {
        if seen.ok {
            log::info!("{v}/{c}: {}", seen.message);
        } else {
            log::warn!("{v}/{c}: delivery failed: {}", seen.message);
        }
    }
    let at = now();
    let run = HookRun {
        version: id.to_string(),
        at,
        succeeded: ok,
        message: words,
    };
    let probe = seen.map(|seen| ProbeRun {
        version: id.to_string(),
        at,
        served_serial: seen.served_serial,
        ok: seen.ok,
        message: seen.message,
    });
    let mut tx = service.transaction();
    let recorded = update_run_log(&mut tx, v, c, |log| {
        log.hook = Some(Box::new(run));
        if probe.is_some() {
            log.probe = probe.map(Box::new);
        }
    });
    if let Err(e) = recorded {
        log::error!("{v}/{c}: cannot record the hook run: {e}");
    }
    tx.announce(Changes {
        dirs: vec![Node::Certificate(v.clone(), c.clone())],
    });
    tx.commit();
}

/// Changes the run log of `c` with `change` and stores it.
pub(crate) fn update_run_log(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
    change: impl FnOnce(&mut RunLog),
) -> Result<(), VaultError> {
    let (name, mut log) = {
        let st = tx.model();
        let cs = certificate(&st, v, c)?;
        (cs.name.clone(), cs.run_log.clone())
    };
    let key = format!("{}{name}", run_log::DOCUMENT_PREFIX);
    let store = tx.store();
    if store.shared() {
        // Other servers write it too (their hooks' runs): change what is
        // stored now, not what the last notification said.
        if let Some(stored) = store.load_document(v.as_str(), &key)? {
            log = RunLog::from_stored(&stored).unwrap_or(log);
        }
    }
    change(&mut log);
    store.put_document(v.as_str(), &key, Some(&log.to_stored()))?;
    if let Some(cs) = tx
        .model_mut()
        .vaults
        .get_mut(v)
        .and_then(|vs| vs.certificates.get_mut(c))
    {
        cs.run_log = log;
    }
    Ok(())
}
