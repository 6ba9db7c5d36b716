//! certfs: Azure Key Vault style certificate management as a FUSE filesystem.
//!
//! Layers, each depending only on those below it (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! cli → fuse → vault → { pki, store, issuers, mail }
//! ```

pub mod cli;
pub mod fuse;
pub mod issuers;
pub mod mail;
pub mod pki;
pub mod store;
pub mod vault;
