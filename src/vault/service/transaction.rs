//! One change to the vault: the writer lock held from begin to commit, the store, the model, and the switches to follow up.
//!
//! A [`Transaction`] is the only way to the store and the only holder of
//! the model's write lock. It takes the locks in one order — the writer
//! lock (the store's mutex) when it begins, then the model, then the
//! scratch files, each only as long as a guard it hands out lives — so two
//! changes never deadlock and a reader waits only for a model write, never
//! for the store. Functions that must run inside a change take a
//! `&Transaction` or `&mut Transaction`: the type says what a comment
//! ("call with the writer lock held") used to.
//!
//! A change that makes another version current says so
//! ([`Transaction::switched`]), and one made in the background says which
//! directories changed ([`Transaction::announce`]); when the transaction
//! ends, the writer lock is released first, then the kernel is told (the
//! service's listener), then, if the model was written, the serving copy
//! (`--export`) is brought up to date, then what follows each switch runs
//! (the renewal scheduler looks again, the certificate's hooks start).

use parking_lot::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

use super::super::changes::Changes;
use super::super::model::State;
use super::super::name::{CertificateName, VaultName, VersionId};
use super::super::side::SideFiles;
use super::VaultService;
use crate::store::Store;

/// A change in progress; see the module documentation. Ending it by
/// [`commit`](Self::commit) or by dropping it (an error returned with `?`)
/// is the same: what the store accepted stands, and what was announced
/// and switched is followed up. The guards it hands out borrow it, so the
/// store cannot be reached, nor the transaction ended, while one lives.
pub(crate) struct Transaction<'a> {
    /// The writer lock. Fields drop in order: the lock is released before
    /// the follow-ups run (a hook's run log is a change of its own).
    store: MutexGuard<'a, Box<dyn Store>>,
    follow_ups: FollowUps<'a>,
}

/// What a change tells when it ends: the directories it changed (made
/// in the background, so no request returns them to the kernel) and the
/// versions that became current.
struct FollowUps<'a> {
    service: &'a VaultService,
    announced: Changes,
    /// Whether the model was written: the serving copy looks again.
    wrote_model: bool,
    switches: Vec<(VaultName, CertificateName, VersionId)>,
}

impl<'a> Transaction<'a> {
    pub(super) fn begin(service: &'a VaultService, store: MutexGuard<'a, Box<dyn Store>>) -> Self {
        Transaction {
            store,
            follow_ups: FollowUps {
                service,
                announced: Changes::default(),
                wrote_model: false,
                switches: Vec::new(),
            },
        }
    }

    /// The service this change is made to.
    pub(crate) fn service(&self) -> &'a VaultService {
        self.follow_ups.service
    }

    /// The store, to write this change's records (and read what they rest on).
    pub(crate) fn store(&mut self) -> &mut dyn Store {
        &mut **self.store
    }

    /// The model as this change sees it: no other change can alter it
    /// while the transaction lasts.
    pub(crate) fn model(&self) -> RwLockReadGuard<'_, State> {
        self.service().state.read()
    }

    /// The model, to publish what the store accepted. Readers wait while
    /// the guard lives: drop it before any slow work.
    pub(crate) fn model_mut(&mut self) -> RwLockWriteGuard<'_, State> {
        self.follow_ups.wrote_model = true;
        self.service().state.write()
    }

    /// The scratch files and reports, to change them with the store.
    pub(crate) fn side(&mut self) -> RwLockWriteGuard<'_, SideFiles> {
        self.service().side.write()
    }

    /// Records that version `id` of `c` became current: servers are told
    /// once the transaction ends.
    pub(crate) fn switched(&mut self, v: &VaultName, c: &CertificateName, id: &VersionId) {
        self.follow_ups
            .switches
            .push((v.clone(), c.clone(), id.clone()));
    }

    /// Records directories a change made in the background changed: the
    /// service's listener is told once the transaction ends. (A change a
    /// request makes returns its [`Changes`] to the adapter instead.)
    pub(crate) fn announce(&mut self, changes: Changes) {
        self.follow_ups.announced.dirs.extend(changes.dirs);
    }

    /// Ends the change: releases the writer lock, then tells the listener
    /// what was announced and runs what follows each switch. Dropping a transaction (on an error) does the same:
    /// what the store accepted before the error stands, and its switches
    /// are followed up.
    pub(crate) fn commit(self) {}
}

impl Drop for FollowUps<'_> {
    fn drop(&mut self) {
        if !self.announced.dirs.is_empty() {
            self.service.announce(&self.announced);
        }
        // Before the hooks: a hook's reload reads the new copy.
        if self.wrote_model {
            self.service.refresh_serving_copy();
        }
        for (v, c, id) in std::mem::take(&mut self.switches) {
            super::switch::follow(self.service, &v, &c, &id);
        }
    }
}
