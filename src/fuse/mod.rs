//! The FUSE adapter: inodes, handles and errno; it asks the vault service and replies.
//!
//! [`adapter::CertFs`] implements `fuser::Filesystem`; [`attrs`] says what
//! the kernel may cache and for how long, `names` which names (found or
//! missing) it keeps, and [`epoch`] drops them all at once on a switch;
//! [`inodes`] maps the vault's nodes to inode numbers; [`handles`] holds
//! open files and [`listing`] open directories; `offload` runs work off
//! the request path on a bounded `pool`; [`counts`] counts requests by
//! kind (for the benchmark); [`error`] is the one place where errors
//! become errno values; [`mount`] runs a session until it is unmounted or
//! signalled.

pub mod adapter;
mod attrs;
pub mod caller;
pub mod counts;
pub mod epoch;
pub mod error;
mod fixed_answers;
pub mod handles;
mod init;
pub mod inodes;
pub mod listing;
pub mod mount;
mod names;
mod offload;
mod pool;

pub use mount::{MountOptions, run};
