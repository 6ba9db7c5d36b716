//! What wakes the renewal scheduler (`renewal.rs`): a flag and a condition variable the service holds.

use parking_lot::{Condvar, Mutex};

/// Wakes the renewal scheduler when something changed.
#[derive(Default)]
pub(super) struct Renewals {
    pub(super) woken: Mutex<bool>,
    pub(super) wake: Condvar,
    pub(super) started: Mutex<bool>,
}

impl Renewals {
    /// Makes the scheduler run a pass now.
    pub(super) fn wake(&self) {
        *self.woken.lock() = true;
        self.wake.notify_all();
    }
}
