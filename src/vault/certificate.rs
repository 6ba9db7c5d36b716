//! Writes to a certificate: a policy makes a new version (key, issuer, one store transaction, publish); tags replace the tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::VaultError;
use super::load::certificate_from_record;
use super::model::Version;
use super::name::{CertificateName, VaultName, VersionId};
use super::node::Node;
use super::policy::Policy;
use super::service::{Changes, VaultService, not_found, now, vault};
use super::tags;
use crate::issuers::self_signed::SelfSigned;
use crate::issuers::{IssueRequest, Issuer, IssuerError};
use crate::pki::key::PrivateKey;
use crate::pki::x509;
use crate::store::{CertificateRecord, KeyBytes, VersionRecord};

impl VaultService {
    pub(super) fn write_policy(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let policy = Policy::parse(data).map_err(|e| VaultError::BadParameter(e.message))?;
        let issuer = issuer_for(&policy)?;
        // Which key: a renewal with reuse_key keeps the current one.
        let reuse = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            if !vs.certificates.contains_key(c) && !vs.drafts.contains(c) {
                return Err(not_found(c.as_str()));
            }
            vs.certificates
                .get(c)
                .filter(|_| policy.key.reuse_key)
                .and_then(|cs| cs.current())
                .filter(|cur| {
                    cur.key
                        .as_ref()
                        .is_some_and(|k| k.spec() == policy.key.spec)
                })
                .and_then(|cur| {
                    cur.key
                        .as_ref()
                        .map(|k| PrivateKey::from_pkcs8_der(k.pkcs8_der()))
                })
                .transpose()?
        };
        let key = match reuse {
            Some(key) => key,
            None => PrivateKey::generate(policy.key.spec)?,
        };
        let spec = policy.certificate_spec();
        let issued = issuer
            .issue(&IssueRequest {
                certificate_name: c.as_str(),
                spec: &spec,
                key: &key,
            })
            .map_err(|e| match e {
                IssuerError::Pki(p) => VaultError::from(p),
                IssuerError::Rejected(m) => VaultError::BadParameter(m),
            })?;
        let info = x509::inspect(&issued.leaf)?;
        let policy_json = policy.to_json();

        let mut store = self.store.lock();
        let t = now();
        let (record, name) = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            match vs.certificates.get(c) {
                Some(cs) => (
                    CertificateRecord {
                        vault: vs.name.to_string(),
                        name: cs.name.to_string(),
                        policy: policy_json.clone(),
                        tags: String::from_utf8_lossy(&cs.tags_json).into_owned(),
                        created: cs.created,
                        updated: t,
                        operation: cs.operation.clone(),
                    },
                    cs.name.clone(),
                ),
                None => {
                    let name = vs
                        .drafts
                        .get(c)
                        .cloned()
                        .ok_or_else(|| not_found(c.as_str()))?;
                    let record = CertificateRecord {
                        vault: vs.name.to_string(),
                        name: name.to_string(),
                        policy: policy_json.clone(),
                        tags: tags::to_json(&BTreeMap::new()),
                        created: t,
                        updated: t,
                        operation: None,
                    };
                    (record, name)
                }
            }
        };
        let id = VersionId::random();
        let version_record = VersionRecord {
            vault: record.vault.clone(),
            certificate: record.name.clone(),
            id: id.to_string(),
            created: t,
            updated: t,
            enabled: true,
            certificate_der: Some(issued.leaf.clone()),
            chain_der: issued.chain.clone(),
            key: Some(KeyBytes(zeroize::Zeroizing::new(key.pkcs8_der().to_vec()))),
        };
        store.put_certificate(&record, Some(&version_record))?;
        let version = Version::new(
            id,
            t,
            t,
            true,
            issued.leaf,
            issued.chain,
            Some(key),
            info,
            name.to_string(),
        );
        {
            let mut st = self.state.write();
            let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
            vs.drafts.remove(c);
            let cs = match vs.certificates.get_mut(c) {
                Some(cs) => cs,
                None => vs
                    .certificates
                    .entry(name.clone())
                    .or_insert(certificate_from_record(&record)?),
            };
            cs.policy = Arc::new(policy);
            cs.policy_json = Arc::from(policy_json.into_bytes());
            cs.updated = t;
            cs.versions.push(Arc::new(version));
        }
        drop(store);
        log::info!(
            "{v}/{name}: new version {} issued by {}",
            version_record.id,
            issuer.name()
        );
        Ok(Changes {
            dirs: vec![
                Node::Vault(v.clone()),
                Node::Certificate(v.clone(), c.clone()),
                Node::Versions(v.clone(), c.clone()),
            ],
        })
    }

    pub(super) fn write_tags(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let tags = tags::parse(data)?;
        let json = tags::to_json(&tags);
        let mut store = self.store.lock();
        let t = now();
        let record = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            let cs = vs
                .certificates
                .get(c)
                .ok_or_else(|| not_found(c.as_str()))?;
            CertificateRecord {
                vault: vs.name.to_string(),
                name: cs.name.to_string(),
                policy: String::from_utf8_lossy(&cs.policy_json).into_owned(),
                tags: json.clone(),
                created: cs.created,
                updated: t,
                operation: cs.operation.clone(),
            }
        };
        store.put_certificate(&record, None)?;
        let mut st = self.state.write();
        let cs = st
            .vaults
            .get_mut(v)
            .and_then(|vs| vs.certificates.get_mut(c))
            .ok_or_else(|| not_found(c.as_str()))?;
        cs.tags = tags;
        cs.tags_json = Arc::from(json.into_bytes());
        cs.updated = t;
        Ok(Changes {
            dirs: vec![Node::Certificate(v.clone(), c.clone())],
        })
    }
}

/// The issuer a policy names.
fn issuer_for(policy: &Policy) -> Result<Box<dyn Issuer>, VaultError> {
    match policy.issuer.name.as_str() {
        "Self" => Ok(Box::new(SelfSigned)),
        other => Err(VaultError::BadParameter(format!(
            "Issuer not found: {other}. This certfs issues certificates with issuer Self."
        ))),
    }
}
