//! The CA orders this daemon follows: when each step is due, its claims on them, and how the scheduler is woken.
//!
//! The service holds the book to wake the worker (`order_runner.rs`) when
//! an order starts or is cancelled; the worker reads and updates it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::name::{CertificateName, VaultName, VersionId};
use crate::store::Claim;

/// One order: the pending version of a certificate.
pub(super) type OrderKey = (VaultName, CertificateName, VersionId);

/// Where one order stands in the scheduler.
#[derive(Debug)]
pub(super) struct Track {
    pub due: Instant,
    pub running: bool,
    pub polls: u32,
    pub failures: u32,
}

/// The scheduler's state, shared by the service (to wake it) and the threads.
///
/// Locks: `tracks`, `claims` and `submitting` are never held together,
/// nor while the service's store or model is locked.
#[derive(Default)]
pub(super) struct Orders {
    pub(super) tracks: Mutex<BTreeMap<OrderKey, Track>>,
    /// This daemon's claims on the orders it follows, held for each order's
    /// life so that of a fleet one daemon drives it ([`Store::claim`]).
    ///
    /// [`Store::claim`]: crate::store::Store::claim
    pub(super) claims: Mutex<BTreeMap<OrderKey, Box<dyn Claim>>>,
    /// Issuers (vault, issuer) a step of this daemon is submitting through now.
    pub(super) submitting: Mutex<std::collections::BTreeSet<(VaultName, CertificateName)>>,
    /// Set (under `tracks`) when the model changed since the scheduler
    /// last looked; it looks again before it sleeps.
    pub(super) dirty: std::sync::atomic::AtomicBool,
    pub(super) wake: Condvar,
    pub(super) started: Mutex<bool>,
}

impl Orders {
    /// Makes the scheduler look at the model now, with order `key` due at
    /// once (a new order, a cancellation).
    pub(super) fn wake(&self, key: &OrderKey) {
        let mut tracks = self.tracks.lock();
        if let Some(track) = tracks.get_mut(key) {
            track.due = Instant::now();
        }
        self.dirty.store(true, Ordering::SeqCst);
        drop(tracks);
        self.wake.notify_all();
    }

    /// Makes the scheduler look at the model now (orders may have come or gone).
    pub(super) fn wake_all(&self) {
        let tracks = self.tracks.lock();
        self.dirty.store(true, Ordering::SeqCst);
        drop(tracks);
        self.wake.notify_all();
    }

    /// Marks issuer `issuer` of vault `v` as submitting for this daemon
    /// until the guard drops; `None` if another step already is.
    pub(super) fn submit_through(
        self: &Arc<Self>,
        v: &VaultName,
        issuer: &CertificateName,
    ) -> Option<Submitting> {
        let key = (v.clone(), issuer.clone());
        self.submitting
            .lock()
            .insert(key.clone())
            .then(|| Submitting {
                orders: Arc::clone(self),
                key,
            })
    }

    /// Whether this daemon still holds its claim on order `key`.
    pub(super) fn holds(&self, key: &OrderKey) -> bool {
        self.claims
            .lock()
            .get(key)
            .is_some_and(|claim| claim.is_held())
    }
}

/// An issuer this daemon submits through ([`Orders::submit_through`]).
pub(super) struct Submitting {
    orders: Arc<Orders>,
    key: (VaultName, CertificateName),
}

impl Drop for Submitting {
    fn drop(&mut self) {
        self.orders.submitting.lock().remove(&self.key);
    }
}
