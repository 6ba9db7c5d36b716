//! The one place where vault errors become errno values.

use fuser::Errno;

use crate::vault::VaultError;

/// The errno a vault error is reported as. Exhaustive on purpose: a new
/// variant must be given its errno here.
pub fn errno(e: &VaultError) -> Errno {
    match e {
        VaultError::NotFound(_) => Errno::ENOENT,
        VaultError::AlreadyExists(_) => Errno::EEXIST,
        VaultError::NotEmpty(_) => Errno::ENOTEMPTY,
        VaultError::BadParameter(_) => Errno::EINVAL,
        VaultError::NotPermitted(_) => Errno::EPERM,
        VaultError::Forbidden(_) => Errno::EACCES,
        VaultError::Conflict(_) => Errno::EBUSY,
        VaultError::IsDirectory(_) => Errno::EISDIR,
        VaultError::NotDirectory(_) => Errno::ENOTDIR,
        VaultError::TooLarge(_) => Errno::EFBIG,
        VaultError::Unavailable(_) => Errno::EAGAIN,
        VaultError::Store(_)
        | VaultError::Unreadable { .. }
        | VaultError::Crypto(_)
        | VaultError::Io { .. }
        | VaultError::Internal(_) => Errno::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_errno() {
        let cases = [
            (VaultError::NotFound(String::new()), libc::ENOENT),
            (
                VaultError::from(crate::store::StoreError::Unavailable(String::new())),
                libc::EAGAIN,
            ),
            (VaultError::AlreadyExists(String::new()), libc::EEXIST),
            (VaultError::NotEmpty(String::new()), libc::ENOTEMPTY),
            (VaultError::BadParameter(String::new()), libc::EINVAL),
            (VaultError::NotPermitted(String::new()), libc::EPERM),
            (VaultError::Forbidden(String::new()), libc::EACCES),
            (VaultError::Conflict(String::new()), libc::EBUSY),
            (VaultError::IsDirectory(String::new()), libc::EISDIR),
            (VaultError::NotDirectory(String::new()), libc::ENOTDIR),
            (VaultError::TooLarge(String::new()), libc::EFBIG),
            (VaultError::Internal(String::new()), libc::EIO),
            (
                VaultError::from(crate::store::StoreError::Failed(String::new())),
                libc::EIO,
            ),
            (
                VaultError::unreadable(
                    crate::vault::error::Stored::Vault("prod".into()),
                    "its name",
                ),
                libc::EIO,
            ),
            (
                VaultError::io("cannot start a thread", std::io::Error::other("no")),
                libc::EIO,
            ),
            (
                VaultError::from(crate::pki::PkiError::Crypto("no randomness".into())),
                libc::EIO,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(i32::from(errno(&e)), code, "{e:?}");
        }
    }
}
