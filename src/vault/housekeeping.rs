//! Housekeeping: soft-deleted certificates purged by themselves once their retention has passed, at mount and then periodically.

use std::sync::Arc;
use std::time::Duration;

use super::clock::now;
use super::error::VaultError;
use super::lifecycle;
use super::name::{CertificateName, VaultName};
use super::service::VaultService;
use super::sync::work_name;

impl VaultService {
    /// Purges every deleted certificate whose retention has passed by `at`;
    /// returns how many. Runs at mount and then periodically.
    pub fn purge_expired(&self, at: i64) -> usize {
        let due: Vec<(VaultName, CertificateName)> = {
            let st = self.model();
            st.vaults
                .values()
                .flat_map(|vs| {
                    vs.deleted
                        .summaries()
                        .filter(|(_, s)| s.purge_at.is_some_and(|p| p <= at))
                        .map(|(name, _)| (vs.name.clone(), name.clone()))
                })
                .collect()
        };
        due.iter()
            .filter(|(v, c)| {
                // One daemon of a fleet purges it, as the store has it now.
                let Some(_claim) = self.claim_fresh(&work_name("purge", v, c), v, c) else {
                    return false;
                };
                // Announced as the transaction ends, once the writer lock
                // is released: the kernel may wait for a directory lock
                // that a request holds while it waits for the writer lock.
                let purged = self.change(|tx| {
                    let changes = lifecycle::purge_if(tx, v, c, at, true)?;
                    tx.announce(changes.clone());
                    Ok(changes)
                });
                match purged {
                    Ok(changes) => !changes.dirs.is_empty(),
                    Err(VaultError::NotFound(_)) => false,
                    Err(e) => {
                        log::error!("{v}/{c}: scheduled purge failed: {e}");
                        false
                    }
                }
            })
            .count()
    }

    /// Purges what is due now, then again every `period` on a background
    /// thread, for as long as the service lives.
    pub fn start_housekeeping(self: &Arc<Self>, period: Duration) {
        self.purge_expired(now());
        let service = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("certfs-housekeeping".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(period);
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    service.purge_expired(now());
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the housekeeping thread: {e}");
        }
    }
}
