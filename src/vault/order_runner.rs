//! The background worker that follows CA orders: one scheduler thread, one short-lived thread per step, backoff per order.
//!
//! The scheduler looks at the model for operations in progress with a
//! configured CA issuer, and runs a step ([`VaultService::drive_order`]:
//! submit, poll or cancel) for each one that is due, each on its own
//! thread so a slow CA never holds up another order. Nothing here is
//! persisted: after a restart every open operation is due at once, which
//! is how orders resume.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::order_book::{OrderKey, Orders, Track};
use super::service::VaultService;
use super::sync::work_name;

/// What a step left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// The operation ended (completed, failed, cancelled or gone).
    Done,
    /// The CA has the order and has not issued: ask again later.
    Poll,
    /// The CA could not be reached: try again after a growing pause.
    Retry,
    /// Another daemon sharing the store follows this order: look again
    /// after a pause, and take it over if that daemon is gone.
    Elsewhere,
    /// Another step (here or on another daemon) is submitting through the
    /// same issuer: try again shortly.
    Busy,
}

/// The first pause between polls of a pending order; each one is 1.5 times the last.
const FIRST_POLL: Duration = Duration::from_millis(500);
/// The longest pause between polls.
const MAX_POLL: Duration = Duration::from_secs(60);
/// The first pause after the CA could not be reached; each one doubles.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest pause after failures.
const MAX_RETRY: Duration = Duration::from_secs(300);
/// How often a daemon looks whether another one still follows an order.
const ELSEWHERE: Duration = Duration::from_secs(2);
/// The pause of a step that waits for another submit through its issuer.
const BUSY: Duration = Duration::from_millis(250);
/// How often the scheduler looks at the model even when nobody wakes it.
const IDLE: Duration = Duration::from_secs(30);

/// The pause before the next step, after `next`.
fn pause(next: &Next, track: &Track) -> Duration {
    match next {
        Next::Done => Duration::ZERO,
        Next::Elsewhere => ELSEWHERE,
        Next::Busy => BUSY,
        Next::Poll => FIRST_POLL
            .mul_f64(1.5f64.powi(track.polls.min(30) as i32))
            .min(MAX_POLL),
        Next::Retry => FIRST_RETRY
            .saturating_mul(1u32 << track.failures.min(16))
            .min(MAX_RETRY),
    }
}

impl VaultService {
    /// Starts the worker that follows CA orders (once; later calls do nothing).
    pub fn start_worker(self: &Arc<Self>) {
        {
            let mut started = self.orders().started.lock();
            if *started {
                return;
            }
            *started = true;
        }
        let service = Arc::downgrade(self);
        let orders = self.orders().clone();
        let spawned = std::thread::Builder::new()
            .name("certfs-orders".into())
            .spawn(move || schedule(service, orders));
        if let Err(e) = spawned {
            log::error!("cannot start the CA order worker: {e}");
        }
    }
}

impl VaultService {
    /// Whether this daemon holds (or now takes) the claim on order `key`;
    /// a claim lost with the connection to the store is taken again.
    ///
    /// Only the one step running for `key` calls this, so the claims lock
    /// need not be held while the store is asked.
    fn hold_order(&self, orders: &Orders, key: &OrderKey) -> bool {
        if orders.holds(key) {
            return true;
        }
        if orders.claims.lock().remove(key).is_some() {
            log::warn!(
                "{}/{}: the claim on its order was lost with the store's connection",
                key.0,
                key.1
            );
        }
        let Some(claim) = self.claim_fresh(&work_name("order", &key.0, &key.1), &key.0, &key.1)
        else {
            return false;
        };
        log::debug!("{}/{}: this server follows the order", key.0, key.1);
        orders.claims.lock().insert(key.clone(), claim);
        true
    }
}

/// The scheduler loop: runs due steps until the service is gone.
fn schedule(service: Weak<VaultService>, orders: Arc<Orders>) {
    loop {
        let Some(strong) = service.upgrade() else {
            return;
        };
        let open = strong.open_orders();
        drop(strong);
        // Claims on orders that ended (here or on another daemon) go.
        orders.claims.lock().retain(|key, _| open.contains(key));
        let mut tracks = orders.tracks.lock();
        tracks.retain(|key, track| track.running || open.contains(key));
        let now = Instant::now();
        for key in open {
            let track = tracks.entry(key.clone()).or_insert(Track {
                due: now,
                running: false,
                polls: 0,
                failures: 0,
            });
            if track.running || track.due > now {
                continue;
            }
            track.running = true;
            let (service, orders) = (service.clone(), orders.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("certfs-order-{}", key.1))
                .spawn(move || step(service, orders, key));
            if let Err(e) = spawned {
                log::error!("cannot start a CA order step: {e}");
            }
        }
        let next = tracks
            .values()
            .filter(|t| !t.running)
            .map(|t| t.due)
            .min()
            .unwrap_or(now + IDLE)
            .min(now + IDLE);
        // A wake between our look at the model and now is not lost.
        if !orders.dirty.swap(false, Ordering::SeqCst) {
            orders.wake.wait_until(&mut tracks, next);
        }
    }
}

/// Runs one step of order `key` and schedules the next.
fn step(service: Weak<VaultService>, orders: Arc<Orders>, key: OrderKey) {
    let next = match service.upgrade() {
        Some(service) if service.hold_order(&orders, &key) => service.drive_order(&key),
        Some(_) => Next::Elsewhere,
        None => Next::Done,
    };
    if next == Next::Done {
        orders.claims.lock().remove(&key);
    }
    let mut tracks = orders.tracks.lock();
    if let Some(track) = tracks.get_mut(&key) {
        track.running = false;
        track.due = Instant::now() + pause(&next, track);
        match next {
            Next::Done => {
                tracks.remove(&key);
            }
            Next::Poll => {
                track.polls += 1;
                track.failures = 0;
            }
            Next::Retry => track.failures += 1,
            Next::Elsewhere | Next::Busy => {}
        }
    }
    drop(tracks);
    orders.wake.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(polls: u32, failures: u32) -> Track {
        Track {
            due: Instant::now(),
            running: false,
            polls,
            failures,
        }
    }

    #[test]
    fn polls_slow_down_and_stay_bounded() {
        assert_eq!(pause(&Next::Poll, &track(0, 0)), FIRST_POLL);
        assert!(pause(&Next::Poll, &track(3, 0)) > pause(&Next::Poll, &track(2, 0)));
        assert_eq!(pause(&Next::Poll, &track(1000, 0)), MAX_POLL);
    }

    #[test]
    fn retries_double_and_stay_bounded() {
        assert_eq!(pause(&Next::Retry, &track(0, 0)), FIRST_RETRY);
        assert_eq!(pause(&Next::Retry, &track(0, 2)), FIRST_RETRY * 4);
        assert_eq!(pause(&Next::Retry, &track(0, 1000)), MAX_RETRY);
        assert_eq!(pause(&Next::Done, &track(5, 5)), Duration::ZERO);
    }
}
