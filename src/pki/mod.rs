//! Public-key infrastructure: keys, names, certificates and the files they are exported as.
//!
//! Split like rcgen: [`key`] (private keys, a secret type), [`dn`] (X.500
//! names as Key Vault users write them), [`x509`] (building and inspecting
//! certificates and CSRs), [`pkcs12`] (PFX export and import) and [`pem`]
//! (text armour). Nothing here knows about vaults, files or storage.

mod der;
pub mod dn;
pub mod error;
pub mod key;
pub mod pem;
pub mod pkcs12;
pub mod x509;
mod x509_read;

#[cfg(test)]
mod test_support;

pub use error::PkiError;
