//! From an issuer file to a working issuer: one `match` on the provider, mapping Key Vault's IssuerBundle onto each provider's settings.

use super::error::VaultError;
use super::issuers::IssuerBundle;
use crate::issuers::internal::InternalCa;
use crate::issuers::{CertificateAuthority, Issuer, IssuerMemory};

/// How a configured issuer issues.
pub(super) enum Authority {
    /// At once, before `close` returns (Internal).
    Now(Box<dyn Issuer>),
    /// Through an order the background worker follows (DigiCert, GlobalSign, ACME).
    #[allow(dead_code)] // until the first network provider is wired in
    Later(Box<dyn CertificateAuthority>),
}

/// The issuer that `bundle` (the file `issuers/<name>.json`) configures.
/// `memory` keeps the provider's private state (an ACME account, the
/// Internal CA's key) in the store.
pub(super) fn connect(
    name: &str,
    bundle: &IssuerBundle,
    memory: Box<dyn IssuerMemory>,
) -> Result<Authority, VaultError> {
    match bundle.provider.as_str() {
        "Internal" => {
            let text = memory.load().ok_or_else(|| {
                VaultError::Internal(format!("the private CA of issuer {name} is missing"))
            })?;
            let ca = InternalCa::from_memory(name, &text)
                .map_err(|e| VaultError::Internal(e.to_string()))?;
            Ok(Authority::Now(Box::new(ca)))
        }
        "DigiCert" | "GlobalSign" | "ACME" => Err(VaultError::BadParameter(format!(
            "Issuer {name} ({}) is configured, but this certfs does not issue through {} issuers yet; \
             use Self, or Unknown and merge/.",
            bundle.provider, bundle.provider
        ))),
        other => Err(VaultError::Internal(format!(
            "issuer {name} has an unknown provider {other}"
        ))),
    }
}
