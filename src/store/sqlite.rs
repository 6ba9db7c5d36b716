//! The embedded SQLite store: one database file, WAL, schema version in `user_version`, migrations.

use std::path::Path;

use super::{CertificateRecord, Snapshot, Store, StoreError, VaultRecord, VersionRecord};

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    _conn: rusqlite::Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, enables WAL and
    /// foreign keys, and migrates the schema. A database whose schema is
    /// newer than this build is refused with `Unavailable`.
    pub fn open(_path: &Path) -> Result<Self, StoreError> {
        unimplemented!()
    }
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        unimplemented!()
    }
    fn create_vault(&mut self, _vault: &VaultRecord) -> Result<(), StoreError> {
        unimplemented!()
    }
    fn delete_vault(&mut self, _name: &str) -> Result<(), StoreError> {
        unimplemented!()
    }
    fn put_certificate(
        &mut self,
        _certificate: &CertificateRecord,
        _version: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        unimplemented!()
    }
}
