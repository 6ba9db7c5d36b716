//! Background work done once across a fleet: `Store::claim` as session-level advisory locks on a connection of their own.
//!
//! A claim is `pg_try_advisory_lock(key)` with `key` a 64-bit hash of the
//! work's name, held by a session opened for claims only (so the store's
//! write transactions, and their transaction-level locks, never mix with
//! it). PostgreSQL releases a session's locks when the session ends, which
//! is what makes takeover work: if a daemon dies, or its claims session is
//! cut, another daemon's next claim of the same work succeeds.
//!
//! The session remembers which keys it holds (a session may take the same
//! advisory lock twice, which would let two claims of one store both
//! succeed) and counts its connections: a claim made on an earlier
//! connection is no longer held, and its drop unlocks nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use postgres::Client;

use super::PgError;
use super::connect::{PostgresUrl, connect};
use crate::store::{Claim, StoreError};

/// How long checking that a claim still holds may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The claims connection of one store, opened on first use.
#[derive(Default)]
pub(super) struct ClaimSession {
    client: Option<Client>,
    /// Which advisory lock keys the current connection holds.
    held: HashSet<i64>,
    /// Counts connections, so claims of an earlier one are known for lost.
    generation: u64,
}

/// The advisory lock key of `work`: FNV-1a over `"certfs claim " + work`.
pub fn key(work: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"certfs claim ".iter().chain(work.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

/// Tries to claim `work` on `session`'s connection (connecting if needed).
pub(super) fn claim(
    session: &Arc<Mutex<ClaimSession>>,
    url: &PostgresUrl,
    work: &str,
) -> Result<Option<Box<dyn Claim>>, StoreError> {
    let key = key(work);
    let mut s = session.lock();
    let alive = match s.client.as_mut() {
        Some(client) => !client.is_closed() && client.is_valid(CHECK_TIMEOUT).is_ok(),
        None => false,
    };
    if !alive {
        let client =
            connect(url).map_err(|e| StoreError::backend(format!("cannot connect to {url}"), e))?;
        if s.client.is_some() {
            log::warn!("store {url}: the claims session was lost; claims made on it are void");
        }
        s.client = Some(client);
        s.held.clear();
        s.generation += 1;
    }
    if s.held.contains(&key) {
        return Ok(None);
    }
    let client = s.client.as_mut().expect("connected above");
    let won: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .map_err(|e| StoreError::backend(format!("cannot claim {work}"), e))?
        .get(0);
    if !won {
        return Ok(None);
    }
    s.held.insert(key);
    let generation = s.generation;
    Ok(Some(Box::new(PostgresClaim {
        session: Arc::clone(session),
        key,
        generation,
    })))
}

/// A held claim: the advisory lock `key` on the claims session of `generation`.
struct PostgresClaim {
    session: Arc<Mutex<ClaimSession>>,
    key: i64,
    generation: u64,
}

impl Claim for PostgresClaim {
    fn is_held(&self) -> bool {
        let mut s = self.session.lock();
        if s.generation != self.generation || !s.held.contains(&self.key) {
            return false;
        }
        match s.client.as_mut() {
            Some(client) => !client.is_closed() && client.is_valid(CHECK_TIMEOUT).is_ok(),
            None => false,
        }
    }
}

impl Drop for PostgresClaim {
    fn drop(&mut self) {
        let mut s = self.session.lock();
        if s.generation != self.generation || !s.held.remove(&self.key) {
            return;
        }
        if let Some(client) = s.client.as_mut() {
            // If this fails the session is gone, and the lock with it.
            if let Err(e) = client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
                log::debug!("releasing a claim: {}", PgError::from(e));
            }
        }
    }
}

/// The advisory lock key that [`setup_guard`] holds: `"CRFSSETU"` as a
/// big-endian integer.
pub const SETUP_LOCK: i64 = 0x4352_4653_5345_5455;

/// Waits for [`SETUP_LOCK`] on a connection of its own and holds it until
/// the guard is dropped (its session then ends, and the lock with it).
pub(super) fn setup_guard(url: &PostgresUrl) -> Result<Box<dyn Claim>, StoreError> {
    let mut client =
        connect(url).map_err(|e| StoreError::backend(format!("cannot connect to {url}"), e))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&SETUP_LOCK])
        .map_err(|e| StoreError::backend("cannot take the store's setup lock", e))?;
    Ok(Box::new(SetupGuard(Mutex::new(client))))
}

/// The session holding [`SETUP_LOCK`].
struct SetupGuard(Mutex<Client>);

impl Claim for SetupGuard {
    fn is_held(&self) -> bool {
        let mut client = self.0.lock();
        !client.is_closed() && client.is_valid(CHECK_TIMEOUT).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_lock_spells_crfssetu() {
        assert_eq!(&SETUP_LOCK.to_be_bytes(), b"CRFSSETU");
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(key("renew/prod/web/1"), key("renew/prod/web/1"));
        assert_ne!(key("renew/prod/web/1"), key("renew/prod/web/2"));
        assert_ne!(key("a"), key("A"), "names compare exactly");
        // Pinned (FNV-1a computed apart): daemons of different builds must agree.
        assert_eq!(
            key(""),
            i64::from_be_bytes(0x3029_af79_ee81_d670u64.to_be_bytes())
        );
    }
}
