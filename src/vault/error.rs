//! The vault service's error type: what went wrong, in Key Vault's words and codes.

use std::fmt;

use crate::pki::PkiError;
use crate::store::StoreError;

/// Why a vault action was refused or failed. The adapter turns each
/// variant into one errno; the message goes into `<file>.error` and the log.
/// Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// The object does not exist (`ENOENT`).
    NotFound(String),
    /// The object exists already (`EEXIST`).
    AlreadyExists(String),
    /// A directory still holds objects (`ENOTEMPTY`).
    NotEmpty(String),
    /// The content or name is not acceptable (`EINVAL`); Key Vault's `BadParameter`.
    BadParameter(String),
    /// The file or directory cannot be changed this way (`EPERM`).
    NotPermitted(String),
    /// Access to the content is refused (`EACCES`); Key Vault's `Forbidden`.
    Forbidden(String),
    /// Another operation is in the way (`EBUSY`); Key Vault's `Conflict`.
    Conflict(String),
    /// A file was expected and a directory found (`EISDIR`).
    IsDirectory(String),
    /// A directory was expected and a file found (`ENOTDIR`).
    NotDirectory(String),
    /// A written file is larger than certfs accepts (`EFBIG`).
    TooLarge(String),
    /// An internal fault: the store or crypto backend failed (`EIO`).
    Internal(String),
}

impl VaultError {
    /// Key Vault's error code for the `.error` file.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::NotFound(_) => "NotFound",
            VaultError::AlreadyExists(_) | VaultError::Conflict(_) => "Conflict",
            VaultError::NotEmpty(_) => "Conflict",
            VaultError::BadParameter(_) | VaultError::TooLarge(_) => "BadParameter",
            VaultError::NotPermitted(_) | VaultError::Forbidden(_) => "Forbidden",
            VaultError::IsDirectory(_) | VaultError::NotDirectory(_) => "BadParameter",
            VaultError::Internal(_) => "InternalError",
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        match self {
            VaultError::NotFound(m)
            | VaultError::AlreadyExists(m)
            | VaultError::NotEmpty(m)
            | VaultError::BadParameter(m)
            | VaultError::NotPermitted(m)
            | VaultError::Forbidden(m)
            | VaultError::Conflict(m)
            | VaultError::IsDirectory(m)
            | VaultError::NotDirectory(m)
            | VaultError::TooLarge(m)
            | VaultError::Internal(m) => m,
        }
    }

    /// The `.error` file's content: `{"code": ..., "message": ...}` and a newline.
    pub fn to_error_json(&self) -> String {
        let mut s = serde_json::json!({"code": self.code(), "message": self.message()}).to_string();
        s.push('\n');
        s
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for VaultError {}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => VaultError::NotFound(m),
            StoreError::Conflict(m) => VaultError::AlreadyExists(m),
            StoreError::NotEmpty(m) => VaultError::NotEmpty(m),
            StoreError::Unavailable(m) | StoreError::Failed(m) => VaultError::Internal(m),
            StoreError::Backend { doing, source } => {
                VaultError::Internal(format!("{doing}: {source}"))
            }
        }
    }
}

impl From<PkiError> for VaultError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::InvalidName(_)
            | PkiError::UnsupportedKey(_)
            | PkiError::Malformed(_)
            | PkiError::WrongPassword(_) => VaultError::BadParameter(e.to_string()),
            PkiError::Crypto(_) => VaultError::Internal(e.to_string()),
        }
    }
}
