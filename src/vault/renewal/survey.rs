//! The survey of when unread certificates renew, so a lazily read vault still renews on time.

use std::sync::Arc;

use super::super::catalog::{DUE_NEVER, DUE_UNKNOWN, Loader};
use super::super::name::{CertificateName, VaultName};
use super::super::service::VaultService;

impl VaultService {
    /// Surveys when the lifetime action of every unread certificate not
    /// surveyed yet is due, reading each without keeping it and holding no
    /// lock while it reads. A certificate is surveyed once: until it is
    /// read, nothing changes it (every change reads it first).
    pub(super) fn survey_dues(&self) {
        let todo: Vec<(VaultName, Arc<dyn Loader>, Vec<CertificateName>)> = {
            let st = self.model();
            st.vaults
                .values()
                .filter_map(|vs| {
                    let (vault, loader) = vs.certificates.source()?;
                    let names: Vec<CertificateName> = vs
                        .certificates
                        .unread()
                        .filter(|(_, due)| *due == DUE_UNKNOWN)
                        .map(|(name, _)| name.clone())
                        .collect();
                    (!names.is_empty()).then_some((vault, loader, names))
                })
                .collect()
        };
        for (vault, loader, names) in todo {
            let started = std::time::Instant::now();
            let count = names.len();
            for name in names {
                let due = match loader.due(&vault, &name) {
                    Ok(due) => due.unwrap_or(DUE_NEVER),
                    Err(e) => {
                        // Left unknown: the scheduler reads it.
                        log::error!("{vault}/{name}: cannot be surveyed: {}", e.message());
                        continue;
                    }
                };
                let st = self.model();
                if let Some(vs) = st.vaults.get(&vault) {
                    vs.certificates.set_due(&name, due);
                }
            }
            log::info!(
                "vault {vault}: when {count} certificates renew, surveyed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}
