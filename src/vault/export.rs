//! The bytes of each file a version exports: PEM, DER, PKCS#12 and `attributes.json`.
//!
//! Formats follow what servers read without flags: PEM as OpenSSL writes
//! it, the key as PKCS#8, the PFX readable by OpenSSL 3 without `-legacy`.

use std::sync::Arc;

use super::error::VaultError;
use super::node::VersionFile;
use super::version::{Version, VersionBody};
use crate::pki::{pem, pkcs12};

impl Version {
    /// The bytes of `file`, rendered once per body read (`attributes.json`,
    /// whose bytes change, is rendered by the service with its vault's settings).
    pub fn file(&self, file: VersionFile) -> Result<Arc<[u8]>, VaultError> {
        self.body()?.file(file)
    }
}

impl VersionBody {
    /// The bytes of `file`, rendered once and then shared while this body lives.
    pub fn file(&self, file: VersionFile) -> Result<Arc<[u8]>, VaultError> {
        // The enum's declaration order is the order of `VersionFile::ALL`.
        self.rendered.0[file as usize]
            .get_or_init(|| render(self, file).map(Arc::from).map_err(Box::new))
            .clone()
            .map_err(|e| *e)
    }
}

/// Renders `file` of `version`.
pub(crate) fn render(version: &VersionBody, file: VersionFile) -> Result<Vec<u8>, VaultError> {
    let leaf = || std::slice::from_ref(&version.leaf);
    let fullchain = || {
        let mut all = Vec::with_capacity(1 + version.chain.len());
        all.push(version.leaf.clone());
        all.extend(version.chain.iter().cloned());
        all
    };
    let key = || {
        version
            .key
            .as_ref()
            .ok_or_else(|| VaultError::NotFound("this version has no private key".into()))
    };
    Ok(match file {
        VersionFile::CertPem => pem::certificates(leaf()).into_bytes(),
        VersionFile::CertCer => version.leaf.clone(),
        VersionFile::ChainPem => pem::certificates(&version.chain).into_bytes(),
        VersionFile::FullchainPem => pem::certificates(&fullchain()).into_bytes(),
        VersionFile::PrivkeyPem => key()?.to_pkcs8_pem().as_bytes().to_vec(),
        VersionFile::BundlePem => {
            let mut out = key()?.to_pkcs8_pem().as_bytes().to_vec();
            out.extend_from_slice(pem::certificates(&fullchain()).as_bytes());
            out
        }
        VersionFile::CertPfx => pkcs12::export(key()?, &fullchain(), &version.friendly_name)?,
        VersionFile::Attributes => {
            return Err(VaultError::Internal(
                "attributes.json is rendered with its vault".into(),
            ));
        }
    })
}
