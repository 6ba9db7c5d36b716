//! Writes to a certificate: a policy makes a new version (key, issuer, one transaction); tags replace the tags.
//!
//! Every change follows the same three steps: slow work with no lock
//! held; then one [`Transaction`](super::service::Transaction): the store
//! written ([`record_for`] gives the record to change), then [`publish`]
//! into the model under a brief write lock.

use std::sync::Arc;

use super::certificate_state::CertificateState;
use super::changes::Changes;
use super::clock::now;
use super::connect::{Authority, check_wildcards, connect};
use super::error::VaultError;
use super::issued;
use super::issuer_memory::memory_cell;
use super::model::{certificate, not_found, vault};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::Node;
use super::policy::Policy;
use super::records::{key_bytes, publish, record_for};
use super::service::{Transaction, VaultService};
use super::tags;
use super::version::{Version, VersionBody};
use crate::issuers::self_signed::SelfSigned;
use crate::issuers::{IssueRequest, Issuer, IssuerError};
use crate::pki::key::PrivateKey;
use crate::pki::x509;
use crate::store::VersionRecord;

/// Who issues a new version.
enum IssuerChoice {
    /// Issued at once by an issuer.
    Now(Box<dyn Issuer>),
    /// `Unknown`: a CSR the user gets signed anywhere and merges.
    Merge,
    /// A CA of `issuers/` that takes orders: the worker follows the order.
    Order(CertificateName),
}

impl VaultService {
    pub(super) fn write_policy(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let policy = Policy::parse(data).map_err(|e| VaultError::BadParameter(e.message))?;
        if policy.key.kty.asks_for_hsm() {
            log::warn!(
                "{v}/{c}: the policy asks for an HSM key; certfs has no HSM and keeps it in software \
                 (status.json says \"key_storage\": \"software\")"
            );
        }
        self.create_version(v, c, policy)
    }

    /// Starts a new version of `c` under `policy` (a policy write, or a
    /// renewal under the stored policy): made at once by `Self` or
    /// `Internal`, pending for `Unknown`, ordered from a CA of `issuers/`.
    pub(super) fn create_version(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: Policy,
    ) -> Result<Changes, VaultError> {
        self.create_version_keyed(v, c, policy, true)
    }

    /// A new version of `c` under its stored policy with a new key, whatever
    /// `reuse_key` says (its certificate was revoked).
    pub(super) fn renew_with_new_key(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<Changes, VaultError> {
        let policy = (*certificate(&self.model(), v, c)?.policy).clone();
        let changes = self.create_version_keyed(v, c, policy, false)?;
        self.announce(&changes);
        Ok(changes)
    }

    /// [`Self::create_version`]; the current key is kept only if `may_reuse`.
    fn create_version_keyed(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: Policy,
        may_reuse: bool,
    ) -> Result<Changes, VaultError> {
        let issuer = self.issuer_for(v, &policy)?;
        let reused = self.reusable_key(v, c, &policy)?.filter(|_| may_reuse);
        let key = match reused {
            Some(key) => key,
            None => PrivateKey::generate(policy.key.spec)?,
        };
        match issuer {
            IssuerChoice::Now(issuer) => self.create_issued(v, c, policy, key, issuer.as_ref()),
            IssuerChoice::Merge => self
                .create_pending(v, c, policy, key, "Unknown")
                .map(|(changes, _)| changes),
            IssuerChoice::Order(issuer) => {
                let (changes, version) = self.create_pending(v, c, policy, key, issuer.as_str())?;
                self.orders().wake(&(v.clone(), c.clone(), version));
                Ok(changes)
            }
        }
    }

    /// Who issues under `policy` in vault `v`: `Self`, `Unknown`, or an issuer of `issuers/`.
    fn issuer_for(&self, v: &VaultName, policy: &Policy) -> Result<IssuerChoice, VaultError> {
        match policy.issuer.name.as_str() {
            "Self" => return Ok(IssuerChoice::Now(Box::new(SelfSigned))),
            "Unknown" => return Ok(IssuerChoice::Merge),
            _ => {}
        }
        let name = &policy.issuer.name;
        let configured = {
            let st = self.model();
            CertificateName::parse(name).ok().and_then(|n| {
                let (n, bundle) = vault(&st, v).ok()?.issuers.get_key_value(&n)?;
                Some((n.clone(), bundle.clone()))
            })
        };
        match configured {
            None => Err(VaultError::BadParameter(format!(
                "Issuer not found: {name}. Configure it in issuers/{name}.json, or use Self or Unknown."
            ))),
            Some((_, bundle)) if !bundle.enabled() => Err(VaultError::Forbidden(format!(
                "Issuer {name} is disabled: new certificates cannot be ordered through it."
            ))),
            Some((issuer, bundle)) => {
                check_wildcards(issuer.as_str(), &bundle, policy)?;
                let memory = memory_cell(&self.model(), v, &issuer);
                match connect(issuer.as_str(), &bundle, Box::new(memory))? {
                    Authority::Now(now) => Ok(IssuerChoice::Now(now)),
                    Authority::Later(_) => Ok(IssuerChoice::Order(issuer)),
                }
            }
        }
    }

    /// The key of the current version when the policy says `reuse_key` and
    /// the key type is unchanged; refuses while an operation is pending.
    fn reusable_key(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: &Policy,
    ) -> Result<Option<PrivateKey>, VaultError> {
        let st = self.model();
        let vs = vault(&st, v)?;
        let Some(cs) = vs.certificates.get(c) else {
            return if vs.drafts.contains(c) {
                Ok(None)
            } else {
                Err(not_found(c.as_str()))
            };
        };
        refuse_if_pending(cs)?;
        // A key made non-exportable is never carried into an exportable version.
        let Some(current) = cs
            .current()
            .filter(|cur| policy.key.reuse_key && cur.exportable == policy.key.exportable)
        else {
            return Ok(None);
        };
        current
            .body()?
            .key
            .as_ref()
            .filter(|k| k.spec() == policy.key.spec)
            .map(|k| PrivateKey::from_pkcs8_der(k.pkcs8_der()))
            .transpose()
            .map_err(VaultError::from)
    }

    fn create_issued(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: Policy,
        key: PrivateKey,
        issuer: &dyn Issuer,
    ) -> Result<Changes, VaultError> {
        let spec = policy.certificate_spec();
        let request = IssueRequest {
            certificate_name: c.as_str(),
            spec: &spec,
            key: &key,
        };
        let issued = issuer.issue(&request).map_err(|e| match e {
            IssuerError::Pki(p) => VaultError::from(p),
            IssuerError::Rejected(m) => VaultError::BadParameter(m),
        })?;
        let issuer_name = policy.issuer.name.clone();
        let id = self.add_completed_version(
            v,
            c,
            policy,
            key,
            (issued.leaf, issued.chain),
            Some(&issuer_name),
        )?;
        log::info!("{v}/{c}: new version {id} issued by {}", issuer.name());
        Ok(Changes::of_certificate(v, c))
    }

    /// Stores and publishes a completed version made here (issued or
    /// imported), with `policy` as the certificate's policy; what an issuer
    /// of the vault (`issuer`) issued goes into its ledger too.
    pub(super) fn add_completed_version(
        &self,
        v: &VaultName,
        c: &CertificateName,
        policy: Policy,
        key: PrivateKey,
        (leaf, chain): (Vec<u8>, Vec<Vec<u8>>),
        issuer: Option<&str>,
    ) -> Result<VersionId, VaultError> {
        let info = x509::inspect(&leaf)?;
        let policy_json = policy.to_json();
        let mut tx = self.transaction();
        // Checked again under the writer lock: an operation may have started
        // while the key was being made.
        self.refuse_while_pending(v, c)?;
        let t = now();
        let (mut record, name) = record_for(&tx.model(), v, c, t)?;
        record.policy = policy_json.clone();
        let id = VersionId::random();
        if let Some(issuer) = issuer {
            issued::record_issued(&mut tx, v, issuer, &leaf, Some((&name, &id)), t)?;
        }
        let version_record = VersionRecord {
            vault: record.vault.clone(),
            certificate: record.name.clone(),
            id: id.to_string(),
            created: t,
            updated: t,
            enabled: true,
            exportable: policy.key.exportable,
            certificate_der: Some(leaf),
            chain_der: chain,
            key: Some(key_bytes(&key)),
        };
        tx.store().put_certificate(&record, Some(&version_record))?;
        let place = vault(&tx.model(), v)?.certificates.place(&name);
        let body = VersionBody::new(&version_record, Some(key), info, name.as_str())?;
        let version = Version::with_body(&version_record, body, place.as_ref())?;
        publish(&mut tx.model_mut(), v, &name, &record, |cs| {
            cs.policy = Arc::new(policy);
            // A first version moves no name the kernel could have cached.
            if !cs.versions.is_empty() {
                self.switching();
            }
            cs.versions.push(Arc::new(version));
        })?;
        tx.switched(v, &name, &id);
        tx.commit();
        Ok(id)
    }

    /// Key Vault's conflict if `c` has an operation in progress.
    pub(super) fn refuse_while_pending(
        &self,
        v: &VaultName,
        c: &CertificateName,
    ) -> Result<(), VaultError> {
        let st = self.model();
        match vault(&st, v)?.certificates.get(c) {
            Some(cs) => refuse_if_pending(cs),
            None => Ok(()),
        }
    }
}

/// Key Vault's refusal while a certificate operation is in progress.
fn refuse_if_pending(cs: &CertificateState) -> Result<(), VaultError> {
    match cs.operation_in_progress() {
        Some(_) => Err(VaultError::Conflict(format!(
            "There was a conflict with the pending certificate '{}': a certificate operation is in progress. \
             Merge its signed certificate into merge/, cancel it, or rm operation.json first.",
            cs.name
        ))),
        None => Ok(()),
    }
}

pub(super) fn write_tags(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
    data: &[u8],
) -> Result<Changes, VaultError> {
    let tags = tags::parse(data)?;
    let json = tags::to_json(&tags);
    let (mut record, name) = record_for(&tx.model(), v, c, now())?;
    if !tx
        .model()
        .vaults
        .get(v)
        .is_some_and(|vs| vs.certificates.contains_key(c))
    {
        return Err(not_found(c.as_str()));
    }
    record.tags = json.clone();
    tx.store().put_certificate(&record, None)?;
    publish(&mut tx.model_mut(), v, &name, &record, |cs| {
        cs.tags = tags;
    })?;
    Ok(Changes {
        dirs: vec![Node::Certificate(v.clone(), c.clone())],
    })
}
