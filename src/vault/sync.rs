//! Following the other daemons of a fleet: what they commit to a shared store is read back into this daemon's model, the kernel's caches of it are dropped, and hooks run where a certificate changed.
//!
//! A shared store ([`Store::watch`], PostgreSQL's `LISTEN`/`NOTIFY`) names
//! what another daemon changed, as a [`ChangeHint`]. One thread of ours
//! takes the hints in batches (repeats merged) and re-reads what each one
//! names: a certificate with its versions and documents, one vault
//! document, or, for a vault or after a gap in the notifications,
//! everything. Each re-read takes the store's lock, then the model's, like
//! every local change, so it never interleaves with one.
//!
//! What a re-read changes is announced as [`Changes`] (the FUSE layer
//! drops the kernel's cached entries, attributes and pages), the renewal
//! scheduler and the CA order worker look again, and when a certificate's
//! current version changed the certificate's hooks run on this server too
//! (every server reloads its own nginx).
//!
//! Background work that one daemon of a fleet must do alone (a CA order,
//! a lifetime action, a scheduled purge, a submit through an issuer) is
//! claimed here first ([`Store::claim`]); on a shared store the claimer
//! then re-reads what the work acts on, so it acts on what is stored now.
//!
//! [`Store::watch`]: crate::store::Store::watch
//! [`Store::claim`]: crate::store::Store::claim

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::catalog::Certificates;
use super::certificate_state::CertificateState;
use super::changes::Changes;
use super::error::{Stored, VaultError};
use super::load::{
    DocumentSlot, StoredDocument, certificate_with_versions, state_from_index, state_from_snapshot,
};
use super::model::{State, VaultState};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::Node;
use super::service::VaultService;
use super::{access, hooks};
use crate::store::{ChangeHint, Claim, Store};

/// The name of background work of kind `kind` (`order`, `renew`, `purge`,
/// `issuer`) on certificate (or issuer) `c` of vault `v`, as every daemon
/// spells it (names in lower case: they are case-insensitive).
pub(super) fn work_name(kind: &str, v: &VaultName, c: &CertificateName) -> String {
    format!(
        "{kind}/{}/{}",
        v.as_str().to_ascii_lowercase(),
        c.as_str().to_ascii_lowercase()
    )
}

/// What one hint asks to re-read, with names parsed (hints naming no valid
/// vault or certificate are dropped: no daemon could have written those).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reread {
    /// Everything (hints may have been missed).
    Everything,
    /// Whether a vault exists (it was made or removed).
    Vault(VaultName),
    /// One vault document.
    Document(VaultName, String),
    /// One certificate.
    Certificate(VaultName, CertificateName),
}

impl Reread {
    fn of(hint: ChangeHint) -> Option<Reread> {
        match hint {
            ChangeHint::Everything => Some(Reread::Everything),
            ChangeHint::Vault { vault } => Some(Reread::Vault(VaultName::parse(&vault).ok()?)),
            ChangeHint::Document { vault, key } => {
                Some(Reread::Document(VaultName::parse(&vault).ok()?, key))
            }
            ChangeHint::Certificate { vault, certificate } => Some(Reread::Certificate(
                VaultName::parse(&vault).ok()?,
                CertificateName::parse(&certificate).ok()?,
            )),
        }
    }
}

/// The hints waiting now, starting with `first`, as a set of re-reads: a
/// repeat is read once, and "everything" covers the rest.
fn batch(first: ChangeHint, rx: &Receiver<ChangeHint>) -> Vec<Reread> {
    let mut rereads: BTreeSet<Reread> = std::iter::once(first)
        .chain(rx.try_iter())
        .filter_map(Reread::of)
        .collect();
    if rereads.contains(&Reread::Everything) {
        rereads.retain(|r| r == &Reread::Everything);
    } else {
        // Vaults first (a vault made, then its documents written), then
        // documents: a certificate re-read then sees its new hooks. The
        // set's order is the variants' order.
        return rereads.into_iter().collect();
    }
    rereads.into_iter().collect()
}

/// The id of the current version of certificate `c` of vault `v`, if loaded.
fn current_id(st: &State, v: &VaultName, c: &CertificateName) -> Option<VersionId> {
    let vs = st.vaults.get(v)?;
    vs.certificates
        .loaded()
        .chain(vs.deleted.loaded())
        .find(|cs| &cs.name == c)
        .and_then(|cs| cs.current())
        .map(|ver| ver.id.clone())
}

impl VaultService {
    /// Starts following what other daemons commit to a shared store, from
    /// the moment the service was opened (its watch began before its load,
    /// so nothing in between is missed). A store only this daemon writes
    /// reports nothing. Call once, after [`VaultService::into_shared`];
    /// later calls do nothing.
    pub fn start_sync(self: &Arc<Self>) -> Result<(), VaultError> {
        let Some(rx) = self.take_hints() else {
            return Ok(());
        };
        let service = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("certfs-sync".into())
            .spawn(move || follow(service, rx))
            .map_err(|e| VaultError::io("cannot start following the store", e))?;
        Ok(())
    }

    /// Claims the background work `work` on certificate `c` of vault `v`
    /// for this daemon ([`Store::claim`]): `None` if another daemon has it,
    /// or if the store cannot say (the work then waits for the next pass).
    /// With a store other daemons write too, `c` is re-read once claimed,
    /// so the work acts on what the store holds now, not on what the last
    /// notification said.
    pub(super) fn claim_fresh(
        &self,
        work: &str,
        v: &VaultName,
        c: &CertificateName,
    ) -> Option<Box<dyn Claim>> {
        self.claim_then(work, || self.reread_certificate(v, c))
    }

    /// The claim on submitting orders through issuer `issuer` of vault
    /// `v`: a first submit may create the issuer's account (ACME), which
    /// every other daemon must then use, so of a fleet one daemon at a
    /// time submits through an issuer, with its stored state re-read.
    pub(super) fn claim_issuer(
        &self,
        v: &VaultName,
        issuer: &CertificateName,
    ) -> Option<Box<dyn Claim>> {
        let work = work_name("issuer", v, issuer);
        let key = format!("{}{issuer}", super::issuer_memory::DOCUMENT_PREFIX);
        self.claim_then(&work, || self.reread_document(v, &key))
    }

    /// Claims `work`; on a shared store, runs `reread` once claimed.
    fn claim_then(
        &self,
        work: &str,
        reread: impl FnOnce() -> Result<(), VaultError>,
    ) -> Option<Box<dyn Claim>> {
        let (claimed, shared) = {
            let mut tx = self.transaction();
            (tx.store().claim(work), tx.store().shared())
        };
        let claim = match claimed {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                log::debug!("{work}: another server has it");
                return None;
            }
            Err(e) => {
                log::warn!("{work}: cannot claim it: {e}");
                return None;
            }
        };
        if shared {
            if let Err(e) = reread() {
                log::warn!("{work}: cannot re-read what it acts on: {e}");
                return None;
            }
        }
        Some(claim)
    }

    /// Re-reads what `reread` names and says what changed.
    fn apply(&self, reread: &Reread) -> Result<(), VaultError> {
        match reread {
            Reread::Everything => self.reread_everything(),
            Reread::Vault(v) => self.reread_vault(v),
            Reread::Document(v, key) => self.reread_document(v, key),
            Reread::Certificate(v, c) => self.reread_certificate(v, c),
        }
    }

    /// Re-reads certificate `c` of vault `v` with its versions and
    /// documents from the store (or drops it, if the store has none), and
    /// runs its hooks if its current version changed. Also used by a
    /// daemon that has just claimed work on `c`, so it acts on what the
    /// store holds now.
    pub(super) fn reread_certificate(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        let (switched, order) = {
            let fresh = read_certificate(tx.store(), v, c)?;
            let mut st = tx.model_mut();
            let before = current_id(&st, v, c);
            let Some(vs) = st.vaults.get_mut(v) else {
                // A vault this daemon has not seen yet: its hint comes too.
                return Ok(());
            };
            let old = vs.certificates.remove(c).or_else(|| vs.deleted.remove(c));
            if let Some(mut cs) = fresh {
                if let Some(old) = old {
                    keep_rendered(&old, &mut cs);
                }
                // Another daemon's certificate takes a name only drafted here.
                vs.drafts.remove(c);
                let home: &mut Certificates = if cs.deleted.is_some() {
                    &mut vs.deleted
                } else {
                    &mut vs.certificates
                };
                home.insert(cs.name.clone(), cs);
            }
            // A first version is no switch: no server had hooks for it.
            let after = current_id(&st, v, c);
            let order = st
                .vaults
                .get(v)
                .and_then(|vs| vs.certificates.loaded().find(|cs| &cs.name == c))
                .and_then(|cs| cs.operation_in_progress().and(cs.pending.as_ref()))
                .map(|pending| (v.clone(), c.clone(), pending.id.clone()));
            if before.is_some() && after != before {
                self.switching();
            }
            let switched =
                (before.is_some() && after.is_some() && after != before).then_some(after);
            (switched, order)
        };
        let mut changes = Changes::of_certificate(v, c);
        changes.dirs.extend([
            Node::Deleted(v.clone()),
            Node::DeletedCertificate(v.clone(), c.clone()),
        ]);
        tx.announce(changes);
        let switched = switched.flatten();
        if let Some(id) = &switched {
            log::info!("{v}/{c}: version {id} became current on another server");
            tx.switched(v, c, id);
        }
        tx.commit();
        if switched.is_none() {
            self.renewals().wake();
        }
        match order {
            // A cancellation written on another server is acted on now.
            Some(key) => self.orders().wake(&key),
            None => self.orders().wake_all(),
        }
        Ok(())
    }

    /// Re-reads vault `v`'s document `key`.
    fn reread_document(&self, v: &VaultName, key: &str) -> Result<(), VaultError> {
        let Some(slot) = DocumentSlot::of(v, key)? else {
            log::warn!("vault {v}: another server wrote an unknown document {key}");
            return Ok(());
        };
        let mut tx = self.transaction();
        let dirs = {
            let value = tx.store().load_document(v.as_str(), key)?;
            let mut st = tx.model_mut();
            let Some(vs) = st.vaults.get_mut(v) else {
                return Ok(());
            };
            let dirs = match &slot {
                DocumentSlot::Settings | DocumentSlot::Contacts => vec![Node::Vault(v.clone())],
                DocumentSlot::Issuer(_) | DocumentSlot::IssuerMemory(_) => {
                    vec![Node::Issuers(v.clone())]
                }
                DocumentSlot::Ledger(i) => vec![
                    Node::Issuers(v.clone()),
                    Node::IssuedDir(v.clone(), i.clone()),
                    Node::RevokedDir(v.clone(), i.clone()),
                ],
                DocumentSlot::RunLog(c) | DocumentSlot::Perms(c) | DocumentSlot::Hooks(c) => {
                    Changes::of_certificate(v, c).dirs
                }
            };
            match value {
                None => forget_document(vs, slot),
                Some(value) => remember_document(vs, slot.read(v, key, value)?),
            }
            dirs
        };
        tx.announce(Changes { dirs });
        tx.commit();
        self.orders().wake_all();
        self.renewals().wake();
        Ok(())
    }

    /// Re-reads whether vault `v` exists: one another daemon made appears
    /// (empty: its documents and certificates come with their own hints),
    /// one it removed goes. A vault that holds certificates here but is gone
    /// from the store means this daemon missed more: everything is re-read.
    fn reread_vault(&self, v: &VaultName) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        let changed = {
            let record = tx.store().load_vault(v.as_str())?;
            let mut st = tx.model_mut();
            match (record, st.vaults.get(v)) {
                (Some(record), None) => {
                    let name = VaultName::parse(&record.name).map_err(|e| {
                        VaultError::unreadable_by(Stored::Vault(record.name.clone()), "its name", e)
                    })?;
                    st.vaults
                        .insert(name.clone(), VaultState::new(name, record.created));
                    true
                }
                (None, Some(vs)) => {
                    if !vs.certificates.is_empty() || !vs.deleted.is_empty() {
                        drop(st);
                        tx.commit();
                        return self.reread_everything();
                    }
                    st.vaults.remove(v);
                    true
                }
                _ => false,
            }
        };
        if changed {
            if !tx.model().vaults.contains_key(v) {
                // Its scratch files and reports go with it.
                tx.side().remove_dirs_where(|dir| dir.vault() == Some(v));
            }
            // The vault's own node too: a folder that went is a change of its own.
            tx.announce(Changes {
                dirs: vec![Node::Root, Node::Live, Node::Vault(v.clone())],
            });
        }
        tx.commit();
        Ok(())
    }

    /// Re-reads the whole store, as at mount, keeping this daemon's drafts.
    fn reread_everything(&self) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        let (dirs, switched) = {
            let mut fresh = match tx.store().reader()? {
                Some(reader) => state_from_index(tx.store().load_index()?, reader)?,
                None => state_from_snapshot(tx.store().load()?)?,
            };
            let mut st = tx.model_mut();
            let mut dirs = vec![Node::Root, Node::Live];
            let mut switched = Vec::new();
            for (name, vs) in &st.vaults {
                dirs.extend([
                    Node::Vault(name.clone()),
                    Node::Issuers(name.clone()),
                    Node::Deleted(name.clone()),
                ]);
                for cs in vs.certificates.loaded().chain(vs.deleted.loaded()) {
                    dirs.extend(Changes::of_certificate(name, &cs.name).dirs);
                    dirs.push(Node::DeletedCertificate(name.clone(), cs.name.clone()));
                    if let Some(new_vs) = fresh.vaults.get_mut(name) {
                        let kept = if new_vs.certificates.contains_key(&cs.name) {
                            new_vs.certificates.get_mut(&cs.name)
                        } else {
                            new_vs.deleted.get_mut(&cs.name)
                        };
                        if let Some(new_cs) = kept {
                            keep_rendered(cs, new_cs);
                        }
                    }
                    let before = cs.current().map(|ver| ver.id.clone());
                    let after = current_id(&fresh, name, &cs.name);
                    if before.is_some() && after.is_some() && after != before {
                        switched.push((name.clone(), cs.name.clone(), after));
                    }
                }
                if let Some(new) = fresh.vaults.get_mut(name) {
                    new.drafts = vs
                        .drafts
                        .iter()
                        .filter(|d| new.holder_of(d).is_none())
                        .cloned()
                        .collect();
                }
            }
            *st = fresh;
            // Every name may now lead elsewhere.
            self.switching();
            (dirs, switched)
        };
        tx.announce(Changes { dirs });
        for (v, c, id) in switched {
            if let Some(id) = id {
                tx.switched(&v, &c, &id);
            }
        }
        tx.commit();
        self.orders().wake_all();
        self.renewals().wake();
        Ok(())
    }
}

/// The first pause before a failed re-read is tried again (as a re-read
/// of everything); each failure doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest pause between tries.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// The thread that applies hints until the service or the store is gone.
/// A re-read that fails (the store unreachable) becomes a re-read of
/// everything, tried again after a growing pause, so no change is lost.
fn follow(service: Weak<VaultService>, rx: Receiver<ChangeHint>) {
    let mut retry: Option<Duration> = None;
    loop {
        let first = match retry {
            None => match rx.recv() {
                Ok(hint) => hint,
                Err(_) => return,
            },
            Some(pause) => match rx.recv_timeout(pause) {
                Ok(hint) => hint,
                Err(RecvTimeoutError::Timeout) => ChangeHint::Everything,
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        let mut rereads = batch(first, &rx);
        if retry.is_some() {
            rereads = vec![Reread::Everything];
        }
        let Some(service) = service.upgrade() else {
            return;
        };
        let failed = rereads.iter().any(|reread| match service.apply(reread) {
            Ok(()) => false,
            Err(e) => {
                log::error!(
                    "cannot follow another server's change ({reread:?}): {e}; trying again"
                );
                true
            }
        });
        retry = failed.then(|| match retry {
            None => FIRST_RETRY,
            Some(pause) => (pause * 2).min(MAX_RETRY),
        });
    }
}

/// Certificate `c` of vault `v` as the store holds it now, with the
/// documents of its own (run log, modes, hooks); `None` if there is none.
fn read_certificate(
    store: &dyn Store,
    v: &VaultName,
    c: &CertificateName,
) -> Result<Option<CertificateState>, VaultError> {
    let Some(snapshot) = store.load_certificate(v.as_str(), c.as_str())? else {
        return Ok(None);
    };
    let mut cs = certificate_with_versions(&snapshot.certificate, snapshot.versions, None)?;
    let document = |prefix: &str| store.load_document(v.as_str(), &format!("{prefix}{}", cs.name));
    if let Some(stored) = document(super::run_log::DOCUMENT_PREFIX)? {
        cs.run_log = super::run_log::RunLog::from_stored(&stored).unwrap_or_default();
    }
    if let Some(stored) = document(access::DOCUMENT_PREFIX)? {
        cs.perms = access::perms_from_stored(&stored).unwrap_or_default();
    }
    if let Some(stored) = document(hooks::DOCUMENT_PREFIX)? {
        let parsed = hooks::Hooks::parse(stored.as_bytes()).unwrap_or_default();
        cs.hooks = parsed.into();
    }
    Ok(Some(cs))
}

/// Keeps, in `fresh`, the versions and the pending version `old` already
/// had (same id), so their bodies and the handles open on them stay as
/// they are.
fn keep_rendered(old: &CertificateState, fresh: &mut CertificateState) {
    fresh.versions.keep_from(&old.versions);
    if let (Some(kept), Some(pending)) = (&old.pending, &fresh.pending) {
        if kept.id == pending.id {
            fresh.pending = Some(kept.clone());
        }
    }
}

/// Certificate `c` of a vault, live or soft-deleted.
fn certificate_mut<'a>(
    vs: &'a mut super::model::VaultState,
    c: &CertificateName,
) -> Option<&'a mut CertificateState> {
    if vs.certificates.contains_key(c) {
        vs.certificates.get_mut(c)
    } else {
        vs.deleted.get_mut(c)
    }
}

/// Puts a document another server wrote into the model.
fn remember_document(vs: &mut super::model::VaultState, document: StoredDocument) {
    match document {
        StoredDocument::Settings(settings) => vs.settings = settings,
        StoredDocument::Contacts(contacts) => vs.contacts = Some(contacts),
        StoredDocument::Issuer(name, bundle) => {
            vs.issuers.insert(name, *bundle);
        }
        StoredDocument::IssuerMemory(name, text) => {
            vs.issuer_memory.insert(name, text);
        }
        StoredDocument::Ledger(name, ledger) => {
            vs.crls.lock().remove(&name);
            vs.ledgers.insert(name, ledger);
        }
        StoredDocument::RunLog(c, log) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.run_log = log;
            }
        }
        StoredDocument::Perms(c, perms) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.perms = perms;
            }
        }
        StoredDocument::Hooks(c, parsed) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.hooks = parsed.into();
            }
        }
    }
}

/// Removes from the model what the document in `slot` held (it was removed).
fn forget_document(vs: &mut super::model::VaultState, slot: DocumentSlot) {
    match slot {
        DocumentSlot::Settings => vs.settings = Default::default(),
        DocumentSlot::Contacts => vs.contacts = None,
        DocumentSlot::Issuer(name) => {
            vs.issuers.remove(&name);
        }
        DocumentSlot::IssuerMemory(name) => {
            vs.issuer_memory.remove(&name);
        }
        DocumentSlot::Ledger(name) => {
            vs.crls.lock().remove(&name);
            vs.ledgers.remove(&name);
        }
        DocumentSlot::RunLog(c) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.run_log = Default::default();
            }
        }
        DocumentSlot::Perms(c) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.perms = Default::default();
            }
        }
        DocumentSlot::Hooks(c) => {
            if let Some(cs) = certificate_mut(vs, &c) {
                cs.hooks = Default::default();
            }
        }
    }
}

#[cfg(test)]
mod tests;
