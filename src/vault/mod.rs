//! The vault service: Key Vault semantics (vaults, certificates, versions, policies) over a store; no FUSE types.

pub mod policy;
