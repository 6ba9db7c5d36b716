//! `issuers/<name>/sign/` (SPEC §9): a CSR dropped in is signed by the Internal issuer, `<x>.pem` (leaf, then chain) appears beside it, and the issuer's ledger lists it in `issued/`.
//!
//! *Decisions:* the certificate is valid 12 months (Key Vault's default),
//! cut to `constraints.max_validity_days`; it carries the request's subject
//! and DNS SANs, key usage digitalSignature (+ keyEncipherment for RSA)
//! and EKUs serverAuth + clientAuth, whatever the request asks beyond
//! those. `<x>.pem` is the writer's (mode 0644), kept until `rm` or the
//! daemon stops; `issued/<SERIAL>.pem` keeps the leaf for good.

use std::sync::Arc;

use super::access::Caller;
use super::changes::Changes;
use super::clock::now;
use super::connect::internal_rules;
use super::error::VaultError;
use super::issued;
use super::model::{not_found, vault};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::protection::guard_of_dir;
use super::service::VaultService;
use super::side::SideFile;
use crate::issuers::IssuerError;
use crate::issuers::internal::InternalCa;
use crate::pki::csr::SigningRequest;
use crate::pki::pem;

/// How long a signed CSR's certificate is valid before constraints cut it.
const VALIDITY_MONTHS: u32 = 12;

impl VaultService {
    /// `writer` dropped `name` (`<x>.csr`) holding `data` into issuer `i`'s `sign/`.
    pub(super) fn sign_csr(
        &self,
        writer: &Caller,
        v: &VaultName,
        i: &CertificateName,
        name: &str,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let request = SigningRequest::parse(data)?;
        let (ca, stored) = {
            let st = self.model();
            let vs = vault(&st, v)?;
            let (stored, bundle) = vs
                .issuers
                .get_key_value(i)
                .ok_or_else(|| not_found(i.as_str()))?;
            if !bundle.enabled() {
                return Err(VaultError::Forbidden(format!(
                    "Issuer {stored} is disabled: it signs nothing"
                )));
            }
            let memory = vs.issuer_memory.get(i).ok_or_else(|| {
                VaultError::BadParameter(format!("Issuer {stored} has no private CA to sign with"))
            })?;
            let ca = InternalCa::from_memory(stored.as_str(), &memory.text)
                .map_err(|e| VaultError::Internal(e.to_string()))?
                .with_rules(internal_rules(bundle));
            (ca, stored.clone())
        };
        // Another user's signed certificate of the same name stays theirs.
        let stem = name.strip_suffix(".csr").unwrap_or(name);
        let signed_dir = Node::SignDir(v.clone(), stored.clone());
        if let Some(other) = self.side_files().get(&signed_dir, &format!("{stem}.pem")) {
            if other.owner.0 != writer.uid {
                return Err(VaultError::AlreadyExists(format!(
                    "{stem}.pem in sign/ is user {}'s: name the CSR otherwise",
                    other.owner.0
                )));
            }
        }
        let issued = ca
            .sign_request(&request, VALIDITY_MONTHS)
            .map_err(|e| match e {
                IssuerError::Pki(p) => VaultError::from(p),
                IssuerError::Rejected(m) => VaultError::BadParameter(m),
            })?;
        let mut out = pem::encode("CERTIFICATE", &issued.leaf);
        for c in &issued.chain {
            out.push_str(&pem::encode("CERTIFICATE", c));
        }
        let mut tx = self.transaction();
        issued::record_issued(&mut tx, v, stored.as_str(), &issued.leaf, None, now())?;
        tx.commit();
        let dir = Node::SignDir(v.clone(), stored.clone());
        let file = SideFile::holding(
            Arc::from(out.into_bytes()),
            (writer.uid, writer.gid),
            0o644,
            guard_of_dir(&dir),
            now(),
        );
        self.scratch().put(&dir, &format!("{stem}.pem"), file);
        log::info!(
            "vault {v}: issuer {stored} signed {name} for {}",
            request.subject
        );
        Ok(Changes {
            dirs: vec![dir, Node::IssuedDir(v.clone(), stored)],
        })
    }
}
