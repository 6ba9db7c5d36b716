//! The SQLite schema: the ordered migrations that build it, one per schema version.
//!
//! `PRAGMA user_version` holds how many entries of [`MIGRATIONS`] have been
//! applied. Each entry runs in its own immediate transaction together with
//! the bump of `user_version`, so a database is always at exactly one
//! version. **Never edit or reorder a released entry**: append a new one.
//!
//! Layout (version 1):
//!
//! - `vaults(name, created)`: `name` is `COLLATE NOCASE`, so `prod` and
//!   `PROD` are the same vault; the stored spelling is the first one created.
//! - `certificates(vault, name, policy, tags, created, updated)`, primary
//!   key `(vault, name)`, both `NOCASE`; `vault` references `vaults` with
//!   `ON DELETE RESTRICT`, so a vault holding certificates cannot go.
//! - `versions(id, vault, certificate, seq, created, updated, enabled,
//!   certificate_der, key)`: `seq` numbers the versions of one certificate
//!   in insertion order from 1 (unique per certificate); `certificate_der`
//!   is `NULL` while the version is pending, `key` is `NULL` when there is
//!   none. References `certificates` with `ON DELETE RESTRICT`.
//! - `chain(version_id, position, der)`: the issuing chain of a version, one
//!   row per certificate, `position` 0 being the leaf's issuer. A separate
//!   table rather than a packed blob keeps the file readable with the
//!   `sqlite3` shell and needs no home-made framing; rows go with their
//!   version (`ON DELETE CASCADE`).
//!
//! Version 2 adds `certificates.operation`: the certificate's pending or
//! last certificate operation as JSON text, `NULL` when it never had one
//! (so rows from version 1 get `NULL`).
//!
//! Version 3 adds `versions.exportable` (0 or 1): whether the version's key
//! may be exported, fixed when the version is made; older rows get 1.
//!
//! Version 4 adds soft delete and the vault's documents:
//!
//! - `certificates.deleted` and `certificates.purge_at`: when the
//!   certificate was soft-deleted and when it will be purged, Unix seconds;
//!   both `NULL` for a live certificate (so all older rows are live).
//! - `documents(vault, key, value)`: JSON text a vault owns (`vault`,
//!   `contacts`, `issuer/<name>`), primary key `(vault, key)`, both
//!   `NOCASE`; `vault` references `vaults` with `ON DELETE RESTRICT` (the
//!   store deletes a vault's documents with it, explicitly).
//!
//! Names are ASCII (SPEC §1), so SQLite's ASCII-only `NOCASE` is exact.
//! All tables are `STRICT`, so a wrong type is an error, not a silent cast.

/// `PRAGMA application_id` of a certfs database (`"CRFS"`): tells a certfs
/// store from any other SQLite file.
pub const APPLICATION_ID: i32 = 0x4352_4653;

/// The schema migrations, in order; entry `i` takes the schema from
/// version `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    PRAGMA application_id = 1129465427;

    CREATE TABLE vaults (
        name    TEXT    NOT NULL COLLATE NOCASE PRIMARY KEY,
        created INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE certificates (
        vault   TEXT    NOT NULL COLLATE NOCASE
                        REFERENCES vaults (name) ON DELETE RESTRICT,
        name    TEXT    NOT NULL COLLATE NOCASE,
        policy  TEXT    NOT NULL,
        tags    TEXT    NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (vault, name)
    ) STRICT;

    CREATE TABLE versions (
        id              TEXT    NOT NULL PRIMARY KEY,
        vault           TEXT    NOT NULL COLLATE NOCASE,
        certificate     TEXT    NOT NULL COLLATE NOCASE,
        seq             INTEGER NOT NULL,
        created         INTEGER NOT NULL,
        updated         INTEGER NOT NULL,
        enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        certificate_der BLOB,
        key             BLOB,
        FOREIGN KEY (vault, certificate)
            REFERENCES certificates (vault, name) ON DELETE RESTRICT
    ) STRICT;

    CREATE UNIQUE INDEX versions_by_certificate
        ON versions (vault, certificate, seq);

    CREATE TABLE chain (
        version_id TEXT    NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        position   INTEGER NOT NULL CHECK (position >= 0),
        der        BLOB    NOT NULL,
        PRIMARY KEY (version_id, position)
    ) STRICT;
    ",
    // 2: the certificate operation.
    "
    ALTER TABLE certificates ADD COLUMN operation TEXT;
    ",
    // 3: whether a version's key may be exported, fixed when it is made.
    "
    ALTER TABLE versions ADD COLUMN exportable INTEGER NOT NULL DEFAULT 1 CHECK (exportable IN (0, 1));
    ",
    // 4: soft delete of certificates, and the vault's documents.
    "
    ALTER TABLE certificates ADD COLUMN deleted INTEGER;
    ALTER TABLE certificates ADD COLUMN purge_at INTEGER;

    CREATE TABLE documents (
        vault TEXT NOT NULL COLLATE NOCASE
                   REFERENCES vaults (name) ON DELETE RESTRICT,
        key   TEXT NOT NULL COLLATE NOCASE,
        value TEXT NOT NULL,
        PRIMARY KEY (vault, key)
    ) STRICT;
    ",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_id_literal_matches_constant() {
        assert_eq!(APPLICATION_ID, 1_129_465_427);
        assert!(MIGRATIONS[0].contains(&format!("application_id = {APPLICATION_ID};")));
    }
}
