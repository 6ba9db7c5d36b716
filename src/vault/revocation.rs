//! Revocation (SPEC §9): `mv issuers/<i>/issued/<SERIAL>.pem issuers/<i>/revoked/` revokes at the CA, records it in the issuer's ledger and the certificate's run log, and renews a revoked current version whose policy says `AutoRenew`.
//!
//! Per provider: `Internal` lists the serial, with its reason code, in its
//! CRL (signed anew at once); `ACME` sends RFC 8555 `revokeCert` with the
//! reason code, and `DigiCert` its revoke call, before anything is
//! recorded; providers whose API cannot revoke refuse the move with
//! `BadParameter` and say so. The reason is
//! read from `revoked/<SERIAL>.reason` when it was written first
//! (`unspecified` otherwise) and the file goes with the revocation.

use super::changes::Changes;
use super::clock::now;
use super::connect::{Authority, connect};
use super::error::VaultError;
use super::issued;
use super::issuer_file::IssuerBundle;
use super::issuer_memory::memory_cell;
use super::ledger::Revocation;
use super::model::{not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::policy::ActionType;
use super::service::{VaultService, update_run_log};
use crate::issuers::CaError;
use crate::pki::crl::Reason;

impl VaultService {
    /// Revokes the certificate `serial` that issuer `i` of vault `v` issued.
    pub(super) fn revoke(
        &self,
        v: &VaultName,
        i: &CertificateName,
        serial: &str,
    ) -> Result<Changes, VaultError> {
        let revoked_dir = Node::RevokedDir(v.clone(), i.clone());
        let reason_name = format!("{serial}.reason");
        let reason = match self.side_files().get(&revoked_dir, &reason_name) {
            Some(file) => Reason::parse(&file.data)
                .map_err(|e| VaultError::BadParameter(format!("revoked/{reason_name}: {e}")))?,
            None => Reason::Unspecified,
        };
        let (bundle, leaf) = {
            let st = self.model();
            let vs = vault(&st, v)?;
            let bundle = vs
                .issuers
                .get(i)
                .cloned()
                .ok_or_else(|| not_found(i.as_str()))?;
            let leaf = vs.ledgers.get(i).and_then(|l| l.leaf(serial));
            (bundle, leaf)
        };
        if bundle.provider != "Internal" {
            // At the CA first, holding no lock: only what the CA revoked is recorded.
            let leaf = leaf.ok_or_else(|| {
                VaultError::NotFound(format!("{serial}: issuer {i} issued no such certificate"))
            })?;
            self.revoke_at_ca(v, i, &bundle, &leaf, reason)?;
        }
        let at = now();
        let mut tx = self.transaction();
        let stored = {
            let st = tx.model();
            let vs = vault(&st, v)?;
            let (stored, _) = vs
                .issuers
                .get_key_value(i)
                .ok_or_else(|| not_found(i.as_str()))?;
            stored.clone()
        };
        let mut book = issued::current_ledger(&mut tx, v, &stored)?;
        if book.revoked.contains_key(serial) {
            return Err(VaultError::AlreadyExists(format!(
                "{serial} is revoked already (issuer {stored})"
            )));
        }
        let entry = book.issued.get(serial).cloned().ok_or_else(|| {
            VaultError::NotFound(format!(
                "{serial}: issuer {stored} issued no such certificate"
            ))
        })?;
        book.revoked.insert(
            serial.to_owned(),
            Revocation {
                at,
                reason: reason.name().to_owned(),
            },
        );
        issued::put_ledger(&mut tx, v, &stored, book)?;
        let mut renew = None;
        let mut dirs = vec![
            Node::Issuers(v.clone()),
            Node::IssuedDir(v.clone(), stored.clone()),
            revoked_dir.clone(),
        ];
        if let (Some(c), Some(version)) = (&entry.certificate, &entry.version) {
            let version_of_live = {
                let st = tx.model();
                let vs = vault(&st, v)?;
                CertificateName::parse(c)
                    .ok()
                    .and_then(|c| vs.certificates.get(&c))
                    .map(|cs| {
                        let current = cs.current().is_some_and(|cur| cur.id.as_str() == version);
                        let auto = cs
                            .policy
                            .lifetime_actions
                            .first()
                            .is_some_and(|a| a.action == ActionType::AutoRenew);
                        (cs.name.clone(), current && auto)
                    })
            };
            if let Some((c, renew_now)) = version_of_live {
                update_run_log(&mut tx, v, &c, |log| {
                    log.revoked.insert(
                        version.clone(),
                        super::run_log::RevokedVersion {
                            serial: serial.to_owned(),
                            at,
                            reason: reason.name().to_owned(),
                        },
                    );
                })?;
                dirs.push(Node::Certificate(v.clone(), c.clone()));
                renew = renew_now.then_some(c);
            }
        }
        tx.commit();
        self.scratch().remove(&revoked_dir, &reason_name);
        log::warn!(
            "vault {v}: issuer {stored} revoked {serial} ({})",
            reason.name()
        );
        let mut changes = Changes { dirs };
        if let Some(c) = renew {
            // The revoked key must not live on: a new key, whatever reuse_key says.
            match self.renew_with_new_key(v, &c) {
                Ok(renewed) => changes.dirs.extend(renewed.dirs),
                Err(e) => log::error!("{v}/{c}: renewal after revocation failed: {e}"),
            }
        }
        Ok(changes)
    }

    /// Asks the CA of issuer `i` (a provider of `issuers/`) to revoke `leaf`.
    fn revoke_at_ca(
        &self,
        v: &VaultName,
        i: &CertificateName,
        bundle: &IssuerBundle,
        leaf: &[u8],
        reason: Reason,
    ) -> Result<(), VaultError> {
        let memory = memory_cell(&self.model(), v, i);
        let outcome = match connect(i.as_str(), bundle, Box::new(memory.clone()))? {
            Authority::Later(ca) => ca.revoke(leaf, reason.code()),
            Authority::Now(_) => Err(CaError::Rejected {
                code: "NotSupported".into(),
                message: format!("issuer {i} cannot revoke"),
            }),
        };
        self.keep_memory(v, i, &memory)?;
        outcome.map_err(|e| match e {
            CaError::Rejected { code, message } => VaultError::BadParameter(format!(
                "Issuer {i} ({}) did not revoke: {message} ({code})",
                bundle.provider
            )),
            CaError::Unavailable(m) => VaultError::Conflict(format!(
                "Issuer {i} ({}) cannot be reached now; nothing was revoked, try again: {m}",
                bundle.provider
            )),
        })
    }

    /// Why `name` in `issuers/<i>/issued/` cannot be revoked: it is revoked
    /// already, or the issuer never issued it.
    pub(super) fn not_issued(&self, v: &VaultName, i: &CertificateName, name: &str) -> VaultError {
        let st = self.model();
        let revoked = super::pki_nodes::serial_of(name).is_some_and(|serial| {
            vault(&st, v)
                .ok()
                .and_then(|vs| vs.ledgers.get(i))
                .is_some_and(|l| l.revoked.contains_key(&serial))
        });
        if revoked {
            VaultError::AlreadyExists(format!("{name} is revoked already (issuer {i})"))
        } else {
            VaultError::NotFound(format!(
                "{name}: not a certificate issuer {i} issued (issued/ lists them as <SERIAL>.pem)"
            ))
        }
    }
}
