//! What follows a switch of version, once its transaction ends: the renewal scheduler looks again, the certificate's hooks run, their run is recorded.

use super::super::changes::Changes;
use super::super::clock::now;
use super::super::error::VaultError;
use super::super::model::certificate;
use super::super::name::{CertificateName, VaultName, VersionId};
use super::super::node::Node;
use super::super::policy::is_dns_name;
use super::super::run_log::{self, HookRun, RunLog};
use super::{Transaction, VaultService};

/// After version `id` of `c` became current: the scheduler looks again,
/// and the certificate's hooks run on a thread of their own.
pub(super) fn follow(service: &VaultService, v: &VaultName, c: &CertificateName, id: &VersionId) {
    service.renewals().wake();
    let (hooks, domains) = {
        let st = service.model();
        let Ok(cs) = certificate(&st, v, c) else {
            return;
        };
        if cs.hooks.is_empty() {
            return;
        }
        // What reaches a hook's environment is DNS names only, whatever a
        // merged or imported certificate, or an older store, holds.
        let mut domains = cs
            .current()
            .and_then(|ver| crate::pki::x509::certificate_spec(&ver.leaf).ok())
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
        (cs.hooks.clone(), domains)
    };
    let lineage = service.lineage(v, c);
    let Some(shared) = service.shared() else {
        // No background threads (a service not behind an Arc): run here.
        let (ok, words) = hooks.run(&lineage, &domains);
        record_hook(service, v, c, id, ok, words);
        return;
    };
    let (v, c, id) = (v.clone(), c.clone(), id.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("certfs-hook-{c}"))
        .spawn(move || {
            log::info!("{v}/{c}: running hooks for version {id}");
            let (ok, words) = hooks.run(&lineage, &domains);
            record_hook(&shared, &v, &c, &id, ok, words);
        });
    if let Err(e) = spawned {
        log::error!("cannot start a hook: {e}");
    }
}

/// Records how the hooks of version `id` of `c` went, in its run log.
fn record_hook(
    service: &VaultService,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
    ok: bool,
    words: String,
) {
    if ok {
        log::info!("{v}/{c}: hooks: {words}");
    } else {
        log::warn!("{v}/{c}: hooks failed: {words}");
    }
    let run = HookRun {
        version: id.to_string(),
        at: now(),
        succeeded: ok,
        message: words,
    };
    let mut tx = service.transaction();
    if let Err(e) = update_run_log(&mut tx, v, c, |log| log.hook = Some(run)) {
        log::error!("{v}/{c}: cannot record the hook run: {e}");
    }
    tx.commit();
    service.announce(&Changes {
        dirs: vec![Node::Certificate(v.clone(), c.clone())],
    });
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
