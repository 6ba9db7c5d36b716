//! From an issuer file to a working issuer: one `match` on the provider, mapping Key Vault's IssuerBundle onto each provider's settings.

use super::error::VaultError;
use super::issuers::IssuerBundle;
use crate::issuers::digicert::DigiCert;
use crate::issuers::globalsign::{self, GlobalSign};
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
        "GlobalSign" => Ok(Authority::Later(Box::new(GlobalSign::new(
            globalsign_settings(bundle),
        )))),
        "Internal" => {
            let text = memory.load().ok_or_else(|| {
                VaultError::Internal(format!("the private CA of issuer {name} is missing"))
            })?;
            let ca = InternalCa::from_memory(name, &text)
                .map_err(|e| VaultError::Internal(e.to_string()))?;
            Ok(Authority::Now(Box::new(ca)))
        }
        "ACME" => Err(VaultError::BadParameter(format!(
            "Issuer {name} ({}) is configured, but this certfs does not issue through {} issuers yet; \
             use Self, or Unknown and merge/.",
            bundle.provider, bundle.provider
        ))),
        other => Err(VaultError::Internal(format!(
            "issuer {name} has an unknown provider {other}"
        ))),
    }
}

/// A GlobalSign issuer's settings: `credentials` are the GCC API user and
/// password, `org_details.admin_details[0]` the order contact (the bundle
/// was validated to have them), `endpoint` the GCC host.
fn globalsign_settings(bundle: &IssuerBundle) -> globalsign::Settings {
    let credentials = bundle.credentials.clone().unwrap_or_default();
    let admin = bundle
        .org_details
        .as_ref()
        .and_then(|o| o.admin_details.first())
        .cloned()
        .unwrap_or_default();
    globalsign::Settings {
        endpoint: bundle.endpoint.clone(),
        account_id: credentials.account_id.unwrap_or_default(),
        password: zeroize::Zeroizing::new(credentials.pwd.unwrap_or_default()),
        contact: globalsign::Contact {
            first_name: admin.first_name.unwrap_or_default(),
            last_name: admin.last_name.unwrap_or_default(),
            email: admin.email.unwrap_or_default(),
            phone: admin.phone.unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMemory;
    impl IssuerMemory for NoMemory {
        fn load(&self) -> Option<String> {
            None
        }
        fn save(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_globalsign_bundle_connects_to_an_order_taking_authority() {
        let bundle = IssuerBundle::parse_update(
            br#"{"provider":"GlobalSign","credentials":{"account_id":"PAR1","pwd":"p<&"},
                 "org_details":{"admin_details":[{"first_name":"A","last_name":"B",
                 "email":"a@b.example","phone":"1"}]},"endpoint":"http://127.0.0.1:9"}"#,
            None,
        )
        .unwrap();
        let settings = globalsign_settings(&bundle);
        assert_eq!(settings.account_id, "PAR1");
        assert_eq!(settings.password.as_str(), "p<&");
        assert_eq!(settings.contact.email, "a@b.example");
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        match connect("gs", &bundle, Box::new(NoMemory)) {
            Ok(Authority::Later(ca)) => assert_eq!(ca.provider(), "GlobalSign"),
            _ => panic!("GlobalSign takes orders"),
        }
    }
}
