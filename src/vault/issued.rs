//! Recording what issuers issue (their ledger, in the vault's one transaction) and the CRL an Internal issuer signs from it.
//!
//! The CRL (`issuers/<name>.crl`) is not stored: it is signed from the
//! ledger when first read, again at once after each revocation (a new
//! ledger drops the one signed), and again once half its validity has
//! passed, so a relying party never holds one past its `next_update`. Its
//! number is the Unix second it was signed (kept growing), so every daemon
//! of a fleet numbers alike without a counter in the store.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::VaultError;
use super::ledger::{DOCUMENT_PREFIX, IssuedEntry, Ledger};
use super::model::{VaultState, not_found};
use super::name::{CertificateName, VaultName, VersionId};
use super::service::Transaction;
use crate::issuers::internal::InternalCa;
use crate::pki::crl::{self, Reason, Revoked};
use crate::pki::x509;

/// The ledger of issuer `name` of vault `v` to change in the transaction:
/// on a store shared by a fleet, as the store holds it now (another daemon
/// may have issued through the same issuer since its change reached this
/// one); else as the model holds it. Empty when it has none yet.
pub(super) fn current_ledger(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
) -> Result<Ledger, VaultError> {
    let store = tx.store();
    if store.shared() {
        let key = format!("{DOCUMENT_PREFIX}{name}");
        if let Some(text) = store.load_document(v.as_str(), &key)? {
            return Ledger::from_stored(&text).ok_or_else(|| {
                VaultError::Internal(format!("the stored ledger of issuer {name} is unreadable"))
            });
        }
    }
    let st = tx.model();
    Ok(st
        .vaults
        .get(v)
        .and_then(|vs| vs.ledgers.get(name).cloned())
        .unwrap_or_default())
}

/// Stores `ledger` as issuer `name`'s and shows it (its CRL is signed anew when next read).
pub(super) fn put_ledger(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
    ledger: Ledger,
) -> Result<(), VaultError> {
    let key = format!("{DOCUMENT_PREFIX}{name}");
    tx.store()
        .put_document(v.as_str(), &key, Some(&ledger.to_stored()))?;
    let mut st = tx.model_mut();
    let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
    vs.ledgers.insert(name.clone(), ledger);
    vs.crls.lock().remove(name);
    Ok(())
}

/// Forgets issuer `name`'s ledger (the issuer is deleted).
pub(super) fn drop_ledger(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    name: &CertificateName,
) -> Result<(), VaultError> {
    let key = format!("{DOCUMENT_PREFIX}{name}");
    tx.store().put_document(v.as_str(), &key, None)?;
    if let Some(vs) = tx.model_mut().vaults.get_mut(v) {
        vs.ledgers.remove(name);
        vs.crls.lock().remove(name);
    }
    Ok(())
}

/// Records, in the transaction, that the configured issuer `issuer` of
/// `v` issued `leaf` (as version `version` of `certificate`, when it is
/// one). Nothing for `Self`, `Unknown` and names that are no issuer.
pub(super) fn record_issued(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    issuer: &str,
    leaf: &[u8],
    version: Option<(&CertificateName, &VersionId)>,
    at: i64,
) -> Result<(), VaultError> {
    let Ok(name) = CertificateName::parse(issuer) else {
        return Ok(());
    };
    let stored = {
        let st = tx.model();
        let Some(vs) = st.vaults.get(v) else {
            return Ok(());
        };
        let Some((stored, _)) = vs.issuers.get_key_value(&name) else {
            return Ok(());
        };
        stored.clone()
    };
    let mut ledger = current_ledger(tx, v, &stored)?;
    let serial = x509::inspect(leaf)?.serial_hex;
    ledger.issued.insert(
        serial,
        IssuedEntry {
            der: STANDARD.encode(leaf),
            at,
            certificate: version.map(|(c, _)| c.as_str().to_owned()),
            version: version.map(|(_, id)| id.to_string()),
        },
    );
    put_ledger(tx, v, &stored, ledger)
}

/// `issuers/<name>.crl` of `vs` at `now`: signed anew when none was, or
/// half of its validity has passed. `None` for an issuer with no private CA.
pub(crate) fn crl_pem(vs: &VaultState, name: &CertificateName, now: i64) -> Option<Arc<[u8]>> {
    let bundle = vs.issuers.get(name)?;
    let memory = vs.issuer_memory.get(name)?;
    memory.ca_pem.as_ref()?;
    let validity = bundle.crl_validity_seconds();
    let mut crls = vs.crls.lock();
    let last = crls.get(name).cloned();
    if let Some((bytes, signed)) = &last {
        if now < signed + validity / 2 {
            return Some(bytes.clone());
        }
    }
    let empty = Ledger::default();
    let ledger = vs.ledgers.get(name).unwrap_or(&empty);
    let revoked: Vec<Revoked> = ledger
        .revoked
        .iter()
        .map(|(serial, r)| Revoked {
            serial_hex: serial.clone(),
            at: r.at,
            reason: Reason::parse(r.reason.as_bytes()).unwrap_or(Reason::Unspecified),
        })
        .collect();
    let ca = InternalCa::from_memory(name.as_str(), &memory.text).ok()?;
    // thisUpdate is now, never later (a CRL from the future is "not yet
    // valid" to every relying party); the CRL number counts milliseconds,
    // so each CRL signed after another, by this daemon, has a larger one.
    let number = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match crl::sign(
        ca.certificate_der(),
        ca.key(),
        &revoked,
        now,
        validity,
        number,
    ) {
        Ok(text) => {
            let bytes: Arc<[u8]> = Arc::from(text.into_bytes());
            crls.insert(name.clone(), (bytes.clone(), now));
            Some(bytes)
        }
        Err(e) => {
            log::error!(
                "vault {}: the CRL of issuer {name} cannot be signed: {e}",
                vs.name
            );
            None
        }
    }
}
