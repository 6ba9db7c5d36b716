//! The store layer's error type.

use std::fmt;

/// What went wrong in the store. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The named object does not exist.
    NotFound(String),
    /// An object with that name or id already exists.
    Conflict(String),
    /// The object still has children.
    NotEmpty(String),
    /// The store cannot be opened (missing directory, permissions, newer schema).
    Unavailable(String),
    /// The engine failed (I/O, corruption).
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(m) => write!(f, "not found: {m}"),
            StoreError::Conflict(m) => write!(f, "already exists: {m}"),
            StoreError::NotEmpty(m) => write!(f, "not empty: {m}"),
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            StoreError::Backend(m) => write!(f, "store failure: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}
