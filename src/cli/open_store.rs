//! Opening the store for `certfs mount`: the backend `--store` names (SQLite by default), the master key (`--key-file`, a systemd credential, or `<data>/master.key`), and encryption at rest around it.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::CliError;
use crate::store::StoreLocation;
use crate::store::encrypted::{EncryptedStore, OpenError};
use crate::store::master_key::{KeyFileError, MasterKey};

/// The name of the systemd credential that holds the master key.
pub const CREDENTIAL_NAME: &str = "certfs.key";

/// The file name of the default master key in the store directory.
pub const DEFAULT_KEY_FILE: &str = "master.key";

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--key-file PATH`.
    Flag(PathBuf),
    /// `$CREDENTIALS_DIRECTORY/certfs.key` (systemd's `LoadCredential=`).
    Credential(PathBuf),
    /// `<data>/master.key`, created on first use.
    Default(PathBuf),
}

impl KeySource {
    /// `--key-file` if given; else the systemd credential if
    /// `credentials_directory` is set and holds `certfs.key`; else `<data>/master.key`.
    pub fn pick(
        key_file: Option<&Path>,
        data: &Path,
        credentials_directory: Option<OsString>,
    ) -> KeySource {
        if let Some(path) = key_file {
            return KeySource::Flag(path.to_path_buf());
        }
        if let Some(dir) = credentials_directory.filter(|d| !d.is_empty()) {
            let path = Path::new(&dir).join(CREDENTIAL_NAME);
            if path.exists() {
                return KeySource::Credential(path);
            }
            log::info!(
                "no credential {CREDENTIAL_NAME} in $CREDENTIALS_DIRECTORY ({}); using {}",
                Path::new(&dir).display(),
                data.join(DEFAULT_KEY_FILE).display()
            );
        }
        KeySource::Default(data.join(DEFAULT_KEY_FILE))
    }

    fn path(&self) -> &Path {
        match self {
            KeySource::Flag(p) | KeySource::Credential(p) | KeySource::Default(p) => p,
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Flag(p) => write!(f, "--key-file {}", p.display()),
            KeySource::Credential(p) => write!(f, "the systemd credential {}", p.display()),
            KeySource::Default(p) => write!(f, "the master key {}", p.display()),
        }
    }
}

/// Opens the store at `location` (SQLite or PostgreSQL), reads (or, by
/// default, creates) the master key, and wraps the store in
/// [`EncryptedStore`]. Every error is one line for the user; the location
/// is shown without a password.
pub fn open_store(
    location: &StoreLocation,
    data: &Path,
    key_file: Option<&Path>,
) -> Result<EncryptedStore, CliError> {
    let store = location
        .open()
        .map_err(|e| CliError::caused(format!("cannot open the store {location}: {e}"), e))?;
    let source = KeySource::pick(key_file, data, std::env::var_os("CREDENTIALS_DIRECTORY"));
    let key = match MasterKey::load(source.path()) {
        Ok(key) => key,
        Err(KeyFileError::Missing(_)) if matches!(source, KeySource::Default(_)) => {
            let sealed = EncryptedStore::is_sealed(&*store).map_err(|e| {
                CliError::caused(format!("cannot open the store {location}: {e}"), e)
            })?;
            if sealed {
                return Err(format!(
                    "the store {location} was sealed with a master key, but {} is missing: \
                     put that file back, or give the key with --key-file",
                    source.path().display()
                )
                .into());
            }
            let (key, created) = MasterKey::load_or_create(source.path())
                .map_err(|e| CliError::caused(e.to_string(), e))?;
            if created {
                log::warn!(
                    "created the master key {} that seals the private keys in {location}; \
                     keep a copy apart from the store: without it they cannot be read",
                    source.path().display()
                );
            }
            key
        }
        Err(e) => return Err(CliError::caused(e.to_string(), e)),
    };
    let store = EncryptedStore::open(store, key).map_err(|e| match e {
        OpenError::WrongKey => format!(
            "the store was sealed with another master key: {source} does not open {location} \
             (mount with the key it was sealed with)"
        ),
        OpenError::Store(e) => format!("cannot open the store {location}: {e}"),
    })?;
    log::info!("private keys are sealed under {source}");
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_an_existing_credential_then_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        let flag = dir.path().join("k");
        assert_eq!(
            KeySource::pick(Some(&flag), &data, Some(creds.clone().into())),
            KeySource::Flag(flag)
        );
        // No certfs.key among the credentials: the default.
        assert_eq!(
            KeySource::pick(None, &data, Some(creds.clone().into())),
            KeySource::Default(data.join("master.key"))
        );
        std::fs::write(creds.join("certfs.key"), [1; 32]).unwrap();
        assert_eq!(
            KeySource::pick(None, &data, Some(creds.clone().into())),
            KeySource::Credential(creds.join("certfs.key"))
        );
        assert_eq!(
            KeySource::pick(None, &data, Some(OsString::new())),
            KeySource::Default(data.join("master.key"))
        );
        assert_eq!(
            KeySource::pick(None, &data, None),
            KeySource::Default(data.join("master.key"))
        );
    }
}
