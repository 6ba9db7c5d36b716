//! The service's error type: what went wrong, in Key Vault's words and codes, about which object, and the error under it.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::pki::PkiError;
use crate::store::StoreError;

/// The error under a [`VaultError`], shared (a rendered file keeps its
/// outcome and hands out copies).
pub type Source = Arc<dyn Error + Send + Sync>;

/// Why a vault action was refused or failed. The adapter turns each
/// variant into one errno (`fuse::error`); [`VaultError::code`] and
/// [`VaultError::message`] make `<file>.error` and the log line.
/// Refusals carry Key Vault's words, which name the object; failures name
/// it in their fields and keep the error under them
/// ([`Error::source`]). Messages never contain key material.
#[derive(Debug, Clone)]
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
    /// The store failed (`EIO`). Its error says what it was doing, on
    /// which object, and keeps the engine's error.
    Store(Arc<StoreError>),
    /// What the store holds for `object` cannot be read back (`EIO`).
    Unreadable {
        /// The stored object.
        object: Stored,
        /// What is wrong with it.
        reason: String,
        /// The parser's error, when there is one.
        source: Option<Source>,
    },
    /// Key material could not be made or used (`EIO`).
    Crypto(Arc<PkiError>),
    /// The operating system refused what certfs was `doing` (`EIO`): a
    /// file of its own (the backup key), a thread.
    Io {
        /// What certfs was doing, naming the file.
        doing: String,
        /// The system's error.
        source: Arc<std::io::Error>,
    },
    /// A fault inside certfs with no better name (`EIO`).
    Internal(String),
}

/// A stored object a failure is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A vault's record.
    Vault(String),
    /// A certificate's record (policy, tags, operation).
    Certificate {
        /// Its vault.
        vault: String,
        /// Its name.
        certificate: String,
    },
    /// A version's record (certificate, chain, key).
    Version {
        /// Its vault.
        vault: String,
        /// Its certificate.
        certificate: String,
        /// Its id.
        version: String,
    },
    /// A vault document (settings, contacts, an issuer, a run log, ...).
    Document {
        /// Its vault.
        vault: String,
        /// Its key in the store.
        key: String,
    },
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stored::Vault(v) => write!(f, "vault {v}"),
            Stored::Certificate { vault, certificate } => {
                write!(f, "certificate {vault}/{certificate}")
            }
            Stored::Version {
                vault,
                certificate,
                version,
            } => write!(f, "version {version} of {vault}/{certificate}"),
            Stored::Document { vault, key } => write!(f, "document {key} of vault {vault}"),
        }
    }
}

impl VaultError {
    /// The operating system refused what certfs was `doing`.
    pub fn io(doing: impl Into<String>, source: std::io::Error) -> Self {
        VaultError::Io {
            doing: doing.into(),
            source: Arc::new(source),
        }
    }

    /// `object` as stored cannot be read back: `reason`.
    pub fn unreadable(object: Stored, reason: impl Into<String>) -> Self {
        VaultError::Unreadable {
            object,
            reason: reason.into(),
            source: None,
        }
    }

    /// `object` as stored cannot be read back: `reason`, because of `source`.
    pub fn unreadable_by(
        object: Stored,
        reason: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        VaultError::Unreadable {
            object,
            reason: reason.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// Key Vault's error code for the `.error` file.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::NotFound(_) => "NotFound",
            VaultError::AlreadyExists(_) | VaultError::Conflict(_) => "Conflict",
            VaultError::NotEmpty(_) => "Conflict",
            VaultError::BadParameter(_) | VaultError::TooLarge(_) => "BadParameter",
            VaultError::NotPermitted(_) | VaultError::Forbidden(_) => "Forbidden",
            VaultError::IsDirectory(_) | VaultError::NotDirectory(_) => "BadParameter",
            VaultError::Store(_)
            | VaultError::Unreadable { .. }
            | VaultError::Crypto(_)
            | VaultError::Io { .. }
            | VaultError::Internal(_) => "InternalError",
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> Cow<'_, str> {
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
            | VaultError::Internal(m) => Cow::Borrowed(m),
            VaultError::Store(e) => Cow::Owned(e.to_string()),
            VaultError::Unreadable {
                object,
                reason,
                source,
            } => Cow::Owned(match source {
                // A parser's refusal reads as its words, not as a second code.
                Some(source) => match source.downcast_ref::<VaultError>() {
                    Some(inner) => format!("stored {object}: {reason}: {}", inner.message()),
                    None => format!("stored {object}: {reason}: {source}"),
                },
                None => format!("stored {object}: {reason}"),
            }),
            VaultError::Crypto(e) => Cow::Owned(e.to_string()),
            VaultError::Io { doing, source } => Cow::Owned(format!("{doing}: {source}")),
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

impl Error for VaultError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            VaultError::Store(e) => Some(&**e),
            VaultError::Unreadable {
                source: Some(source),
                ..
            } => Some(&**source),
            VaultError::Crypto(e) => Some(&**e),
            VaultError::Io { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// Two errors are equal when they are of one kind and say the same.
impl PartialEq for VaultError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.message() == other.message()
    }
}

impl Eq for VaultError {}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => VaultError::NotFound(m),
            StoreError::Conflict(m) => VaultError::AlreadyExists(m),
            StoreError::NotEmpty(m) => VaultError::NotEmpty(m),
            failure => VaultError::Store(Arc::new(failure)),
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
            PkiError::Crypto(_) => VaultError::Crypto(Arc::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_keeps_the_stores_error_and_says_internal_error() {
        let io = std::io::Error::other("disk on fire");
        let e = VaultError::from(StoreError::backend("cannot write certificate prod/web", io));
        assert_eq!(e.code(), "InternalError");
        assert!(e.message().contains("prod/web"), "{e}");
        let store = e.source().and_then(|s| s.downcast_ref::<StoreError>());
        assert!(store.is_some(), "{e:?}");
        let io = store.and_then(|s| s.source()).map(|s| s.to_string());
        assert_eq!(io.as_deref(), Some("disk on fire"));
        // Refusals of the store stay refusals, in Key Vault's codes.
        assert_eq!(
            VaultError::from(StoreError::NotFound("web".into())).code(),
            "NotFound"
        );
    }

    #[test]
    fn an_unreadable_record_names_the_object_and_keeps_the_parsers_error() {
        let object = Stored::Version {
            vault: "prod".into(),
            certificate: "web".into(),
            version: "ab12".into(),
        };
        let parse = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = VaultError::unreadable_by(object.clone(), "its operation", parse);
        assert_eq!(e.code(), "InternalError");
        assert!(
            e.message()
                .starts_with("stored version ab12 of prod/web: its operation: "),
            "{e}"
        );
        assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()));
        let refused = VaultError::BadParameter("hooks.json is not valid".into());
        let nested = VaultError::unreadable_by(object.clone(), "its content", refused);
        assert_eq!(
            nested.message(),
            "stored version ab12 of prod/web: its content: hooks.json is not valid"
        );
        assert!(nested.source().is_some());
        let bare = VaultError::unreadable(object, "no certificate");
        assert!(bare.source().is_none());
        assert_eq!(
            bare.to_error_json(),
            "{\"code\":\"InternalError\",\"message\":\"stored version ab12 of prod/web: no certificate\"}\n"
        );
    }
}
