//! Change notification between daemons: `NOTIFY` in each write transaction, and the `LISTEN` thread behind `Store::watch`.
//!
//! Every write of [`super::PostgresStore`] sends, inside its transaction,
//! `pg_notify('certfs_changes', payload)`. PostgreSQL delivers it to every
//! listening session when (and only if) the transaction commits, in commit
//! order, and folds identical payloads of one transaction into one. The
//! payload is short text naming what changed (names cannot contain `/` or
//! `#`: SPEC §1):
//!
//! | payload | [`ChangeHint`] |
//! | --- | --- |
//! | `<vault>/<certificate>` | `Certificate` (its record or any of its versions) |
//! | `<vault>#<key>` | `Document` (the key may contain `/`: `issuer/<name>`) |
//! | `<vault>` | `Vault` (created or deleted) |
//! | empty | `Everything` |
//!
//! The watcher holds a connection of its own (a session that `LISTEN`s
//! cannot also run the store's transactions while blocking for
//! notifications) and a thread that waits on it. Notifications whose
//! sender is the store's own session are skipped: that daemon made the
//! change itself. If the connection drops, the thread reconnects with
//! backoff, listens again and reports `Everything`, since whatever was sent
//! in between is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Transaction};

use super::connect::{PostgresUrl, connect};
use super::{PgError, backend};
use crate::store::{ChangeCallback, ChangeHint, StoreError};

/// The `LISTEN`/`NOTIFY` channel.
pub const CHANNEL: &str = "certfs_changes";

/// How long the thread waits for a notification before looking at its stop flag.
const POLL: Duration = Duration::from_millis(200);

/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// PostgreSQL refuses payloads of 8000 bytes or more; longer hints are sent empty (`Everything`).
const MAX_PAYLOAD: usize = 7999;

/// Sends the notification for `hint` as part of `tx`.
pub(super) fn notify(tx: &mut Transaction<'_>, hint: &ChangeHint) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &encode(hint)])
        .map(drop)
        .map_err(backend("cannot send the change notification"))
}

/// The payload that tells `hint`.
pub fn encode(hint: &ChangeHint) -> String {
    let payload = match hint {
        ChangeHint::Vault { vault } => vault.clone(),
        ChangeHint::Certificate { vault, certificate } => format!("{vault}/{certificate}"),
        ChangeHint::Document { vault, key } => format!("{vault}#{key}"),
        ChangeHint::Everything => String::new(),
    };
    if payload.len() > MAX_PAYLOAD {
        String::new()
    } else {
        payload
    }
}

/// The hint a payload tells (the inverse of [`encode`]).
pub fn decode(payload: &str) -> ChangeHint {
    if payload.is_empty() {
        ChangeHint::Everything
    } else if let Some((vault, key)) = payload.split_once('#') {
        ChangeHint::Document {
            vault: vault.into(),
            key: key.into(),
        }
    } else if let Some((vault, certificate)) = payload.split_once('/') {
        ChangeHint::Certificate {
            vault: vault.into(),
            certificate: certificate.into(),
        }
    } else {
        ChangeHint::Vault {
            vault: payload.into(),
        }
    }
}

/// A running watch: the listening thread, stopped and joined on drop.
pub(super) struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Connects and `LISTEN`s before returning (so every commit after this
    /// returns is reported), then waits for notifications on a thread.
    pub(super) fn start(
        url: PostgresUrl,
        own_pid: Arc<AtomicI32>,
        on_change: ChangeCallback,
    ) -> Result<Watcher, StoreError> {
        let client = listen(&url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("store-watch".into())
                .spawn(move || run(client, &url, &own_pid, &*on_change, &stop))
                .map_err(|e| StoreError::backend("cannot start the watch thread", e))?
        };
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // The thread looks at the flag at least every POLL.
            let _ = thread.join();
        }
    }
}

/// A new connection that listens on [`CHANNEL`].
fn listen(url: &PostgresUrl) -> Result<Client, StoreError> {
    let mut client = connect(url)
        .map_err(|e| StoreError::backend(format!("cannot connect to {url} to watch it"), e))?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(|e| StoreError::backend(format!("cannot listen for changes on {url}"), e))?;
    Ok(client)
}

/// The thread: hands each notification from another session to
/// `on_change`, reconnects after a loss, until `stop`.
fn run(
    mut client: Client,
    url: &PostgresUrl,
    own_pid: &AtomicI32,
    on_change: &(dyn Fn(ChangeHint) + Send + Sync),
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        let next = client.notifications().timeout_iter(POLL).next();
        match next {
            Ok(Some(note)) => {
                if note.process_id() != own_pid.load(Ordering::SeqCst) {
                    on_change(decode(note.payload()));
                }
            }
            Ok(None) if !client.is_closed() => {}
            outcome => {
                let cause = match outcome {
                    Err(e) => PgError::from(e).to_string(),
                    _ => "connection closed".into(),
                };
                log::warn!("store {url}: change notifications interrupted ({cause}); reconnecting");
                let Some(fresh) = relisten(url, stop) else {
                    return;
                };
                client = fresh;
                log::info!("store {url}: change notifications resumed");
                on_change(ChangeHint::Everything);
            }
        }
    }
}

/// Reconnects and listens again, retrying with backoff; `None` once `stop` is set.
fn relisten(url: &PostgresUrl, stop: &AtomicBool) -> Option<Client> {
    let mut backoff = Duration::from_millis(100);
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match listen(url) {
            Ok(client) => return Some(client),
            Err(cause) => log::debug!("{cause}; retrying in {backoff:?}"),
        }
        // Sleep in POLL steps so that a drop is not held up.
        let mut waited = Duration::ZERO;
        while waited < backoff && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(POLL.min(backoff - waited));
            waited += POLL;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for hint in [
            ChangeHint::Vault {
                vault: "Prod".into(),
            },
            ChangeHint::Certificate {
                vault: "prod".into(),
                certificate: "Web-1".into(),
            },
            ChangeHint::Document {
                vault: "prod".into(),
                key: "issuer/digicert-main".into(),
            },
            ChangeHint::Everything,
        ] {
            assert_eq!(decode(&encode(&hint)), hint);
        }
        assert_eq!(
            encode(&ChangeHint::Certificate {
                vault: "prod".into(),
                certificate: "web".into()
            }),
            "prod/web"
        );
    }

    #[test]
    fn an_oversized_hint_becomes_everything() {
        let hint = ChangeHint::Document {
            vault: "prod".into(),
            key: "k".repeat(MAX_PAYLOAD),
        };
        assert_eq!(decode(&encode(&hint)), ChangeHint::Everything);
    }
}
