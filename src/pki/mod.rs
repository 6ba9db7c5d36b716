//! Public-key infrastructure: keys, names, certificates and the files they are exported as.
//!
//! Split like rcgen: [`key`] (private keys, a secret type), [`dn`] (X.500
//! names as Key Vault users write them), [`x509`] (building and inspecting
//! certificates and CSRs), [`pkcs12`] (PFX export and import) and [`pem`]
//! (text armour), [`crl`] (revocation lists and reasons). Reading what users drop in: [`bundle`] (certificates for
//! `merge/`, from PEM, DER or PKCS#7 via [`pkcs7`]) and [`import_formats`] (PKCS#12
//! or PEM with a key in any usual form, for `import/`). Nothing here knows
//! about vaults, files or storage.

mod ber;
pub mod bundle;
pub mod crl;
pub mod csr;
mod der;
pub mod dn;
pub mod dns_name;
pub mod error;
pub mod import_formats;
pub mod key;
mod key_forms;
pub mod pem;
mod pem_read;
pub mod pkcs12;
pub mod pkcs7;
pub mod x509;
mod x509_fields;
mod x509_read;

#[cfg(test)]
mod test_support;

pub use error::PkiError;
