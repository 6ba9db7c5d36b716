//! What wakes the renewal scheduler (`renewal.rs`), and when it last looked: a flag, a condition variable and a time the service holds.

use std::time::SystemTime;

use parking_lot::{Condvar, Mutex};

/// Wakes the renewal scheduler when something changed.
#[derive(Default)]
pub(super) struct Renewals {
    pub(super) woken: Mutex<bool>,
    pub(super) wake: Condvar,
    pub(super) started: Mutex<bool>,
    /// When the last pass that ran to its end began: every lifetime action
    /// was looked at as the vaults stood then.
    pub(super) last_pass: Mutex<Option<SystemTime>>,
}

impl Renewals {
    /// Makes the scheduler run a pass now.
    pub(super) fn wake(&self) {
        *self.woken.lock() = true;
        self.wake.notify_all();
    }
}
