//! From an issuer file to a working issuer: one `match` on the provider, mapping Key Vault's IssuerBundle onto each provider's settings.

use super::error::VaultError;
use super::issuers::IssuerBundle;
use crate::issuers::digicert::DigiCert;
use crate::issuers::internal::InternalCa;
use crate::issuers::{CertificateAuthority, Issuer, IssuerMemory};

/// How a configured issuer issues.
pub(super) enum Authority {
    /// At once, before `close` returns (Internal).
    Now(Box<dyn Issuer>),
    /// Through an order the background worker follows (DigiCert, GlobalSign, ACME).
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
        "DigiCert" => {
            // Validated when the file was written; checked again for a stored one.
            let api_key = bundle
                .credentials
                .as_ref()
                .and_then(|c| c.pwd.as_deref())
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    VaultError::BadParameter(format!(
                        "Issuer {name} (DigiCert) has no API key in credentials.pwd"
                    ))
                })?;
            let organization_id = bundle
                .org_details
                .as_ref()
                .and_then(|o| o.id.as_deref())
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    VaultError::BadParameter(format!(
                        "Issuer {name} (DigiCert) has no org_details.id"
                    ))
                })?;
            Ok(Authority::Later(Box::new(DigiCert::new(
                bundle.endpoint.as_deref(),
                api_key,
                organization_id,
            ))))
        }
        "Internal" => {
            let text = memory.load().ok_or_else(|| {
                VaultError::Internal(format!("the private CA of issuer {name} is missing"))
            })?;
            let ca = InternalCa::from_memory(name, &text)
                .map_err(|e| VaultError::Internal(e.to_string()))?;
            Ok(Authority::Now(Box::new(ca)))
        }
        "GlobalSign" | "ACME" => Err(VaultError::BadParameter(format!(
            "Issuer {name} ({}) is configured, but this certfs does not issue through {} issuers yet; \
             use Self, or Unknown and merge/.",
            bundle.provider, bundle.provider
        ))),
        other => Err(VaultError::Internal(format!(
            "issuer {name} has an unknown provider {other}"
        ))),
    }
}
