//! The built-in `Self` issuer: the certificate is signed by its own key.

use super::{IssueRequest, Issued, Issuer, IssuerError};
use crate::pki::x509;

/// Key Vault's `Self` issuer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelfSigned;

impl Issuer for SelfSigned {
    fn name(&self) -> &str {
        "Self"
    }

    fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, IssuerError> {
        let leaf = x509::self_signed(request.spec, request.key)?;
        Ok(Issued {
            leaf,
            chain: Vec::new(),
        })
    }
}
