//! Who asks (a [`Caller`]), what they want, and the modes and owners a vault stores for its certificates' files.
//!
//! The checks themselves are in `authorize.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of a certificate's stored modes and owners: `perm/<name>`.
pub const DOCUMENT_PREFIX: &str = "perm/";

/// The name under which a certificate directory's own mode is stored.
pub(crate) const DIRECTORY: &str = ".";

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Process id (for the audit log).
    pub pid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Caller {
    /// The daemon itself (background work: renewals, CA orders).
    pub fn daemon() -> Self {
        Caller {
            uid: 0,
            gid: 0,
            pid: std::process::id(),
            groups: Vec::new(),
        }
    }

    pub(super) fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    pub(super) fn all_groups(&self) -> Vec<u32> {
        let mut all = self.groups.clone();
        all.push(self.gid);
        all
    }
}

/// What a request wants to do with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Read a file.
    Read,
    /// Write a file (or create, remove or rename in a directory).
    Write,
}

/// A stored mode and owner of one file of a certificate; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Perm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u16>,
}

/// The stored modes of a certificate's files, by file name.
pub(crate) type Perms = BTreeMap<String, Perm>;

/// Parses a stored `perm/<name>` document.
pub(crate) fn perms_from_stored(text: &str) -> Option<Perms> {
    serde_json::from_str(text).ok()
}
