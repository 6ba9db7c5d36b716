//! The vault service: Key Vault semantics (vaults, certificates, versions, policies) over a store; no FUSE types.
//!
//! The FUSE adapter addresses the tree with [`Node`]s and calls
//! [`VaultService`]; this layer decides what every name means, what each
//! file holds and what each write does, and reports refusals as
//! [`VaultError`]s in Key Vault's words.

pub mod access;
mod actions;
mod attributes;
pub mod audit;
mod authorize;
pub mod backup;
mod catalog;
mod certificate_state;
mod certificate_write;
mod changes;
pub(crate) mod clock;
mod connect;
mod consumers;
pub mod contacts;
mod csr_signing;
mod documents;
pub mod error;
mod export;
mod hooks;
mod housekeeping;
mod import;
mod issued;
pub mod issuer_file;
mod issuer_memory;
mod ledger;
mod lifecycle;
mod listing;
mod load;
mod lookup;
mod model;
pub mod name;
pub mod node;
mod open_file;
pub mod operation;
mod order_book;
mod order_runner;
mod orders;
mod pending;
mod pki_nodes;
pub mod policy;
mod protection;
mod read;
mod reconcile;
mod records;
mod rename;
mod renewal;
mod renewal_alarm;
mod reports;
mod requests;
mod restore;
mod revocation;
mod run_log;
pub mod service;
#[cfg(test)]
mod service_tests;
pub mod serving_copy;
pub mod settings;
mod shelf;
mod side;
mod stat;
mod status;
mod sync;
pub mod tags;
mod version;
mod version_list;

pub use access::{Caller, Want};
pub use changes::{Changes, SwitchHook};
pub use error::VaultError;
pub use node::{Attr, Entry, Kind, Node};
pub use open_file::{OpenFile, Pending, window};
pub use service::{MAX_WRITE_SIZE, VaultService};
pub use side::{error_name, is_report};

/// JSON as certfs shows it in a file: pretty, with a final newline.
pub(crate) fn pretty_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing maps with string keys and plain values cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
