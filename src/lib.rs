//! certfs: Azure Key Vault style certificate management as a FUSE filesystem.
//!
//! Layers, each depending only on those below it (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! cli → fuse → vault → { pki, store, issuers, mail }
//! ```
//!
//! `as_user` is a leaf every layer below `cli` may use.

// A user or the store can make most things fail: code says what failed
// instead of unwrapping (tests may unwrap: clippy.toml).
#![warn(clippy::unwrap_used)]

pub mod as_user;
pub mod atomic_dir;
pub mod cli;
pub mod fuse;
pub mod issuers;
pub mod mail;
pub mod pki;
pub mod procs;
pub mod store;
pub mod vault;
