//! The PostgreSQL schema: the ordered migrations that build it, one per schema version.
//!
//! The one-row table `certfs_schema(version)` holds how many entries of
//! [`MIGRATIONS`] have been applied (SQLite keeps the same count in
//! `PRAGMA user_version`). Each entry runs in one transaction together with
//! the bump of `certfs_schema.version`; PostgreSQL's DDL is transactional,
//! so a database is always at exactly one version. Daemons starting at
//! once on a new database queue on an advisory lock and migrate once.
//! **Never edit or reorder a released entry**: append a new one.
//!
//! Version 1 is the layout of SQLite's schema version 4, with the same
//! tables, columns and rules:
//!
//! - `vaults(name, created)`, `certificates(vault, name, policy, tags,
//!   created, updated, operation, deleted, purge_at)`, `versions(id, vault,
//!   certificate, seq, created, updated, enabled, exportable,
//!   certificate_der, key)`, `chain(version_id, position, der)`,
//!   `documents(vault, key, value)`.
//! - Case: SQLite compares names with `COLLATE NOCASE` (ASCII only).
//!   Here every name column has a generated twin, `name_key`, `vault_key`,
//!   `certificate_key`, `key_key`: the name with ASCII `A`–`Z` folded to
//!   `a`–`z` (`translate`, independent of the database's locale), in
//!   collation `"C"` (byte order). Keys, references and ordering use the
//!   twins, so `prod` and `PROD` are one vault, the stored spelling is the
//!   first one created, and `load` orders exactly as SQLite's `NOCASE`
//!   does. Callers fold their arguments the same way
//!   ([`super::fold`]).
//! - References: certificates → vaults and versions → certificates are
//!   `ON DELETE RESTRICT` (a vault holding certificates cannot go);
//!   chain rows go with their version (`ON DELETE CASCADE`); documents →
//!   vaults `RESTRICT` (the store deletes a vault's documents with it).
//! - Types: `bigint` seconds, `boolean` flags, `bytea` DER and keys, `text`
//!   JSON (opaque to the store, as in SQLite).

/// The advisory lock key (`pg_advisory_xact_lock`) that serializes schema
/// migrations: `"CRFSMIGR"` as a big-endian integer.
pub const MIGRATION_LOCK: i64 = 0x4352_4653_4D49_4752;

/// The tables of the current schema, for telling a certfs database from
/// another application's.
pub const TABLES: &[&str] = &["vaults", "certificates", "versions", "chain", "documents"];

/// The version table, created before the first migration.
pub const VERSION_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS certfs_schema (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        version  integer NOT NULL CHECK (version >= 0)
    );
    INSERT INTO certfs_schema (version) VALUES (0) ON CONFLICT (only_row) DO NOTHING;
";

/// The schema migrations, in order; entry `i` takes the schema from
/// version `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema (SQLite's version 4).
    r#"
    CREATE TABLE vaults (
        name     text   NOT NULL,
        name_key text   COLLATE "C" NOT NULL
                 GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                      'abcdefghijklmnopqrstuvwxyz')) STORED,
        created  bigint NOT NULL,
        PRIMARY KEY (name_key)
    );

    CREATE TABLE certificates (
        vault     text   NOT NULL,
        vault_key text   COLLATE "C" NOT NULL
                  GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                        'abcdefghijklmnopqrstuvwxyz')) STORED
                  REFERENCES vaults (name_key) ON DELETE RESTRICT,
        name      text   NOT NULL,
        name_key  text   COLLATE "C" NOT NULL
                  GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                       'abcdefghijklmnopqrstuvwxyz')) STORED,
        policy    text   NOT NULL,
        tags      text   NOT NULL,
        created   bigint NOT NULL,
        updated   bigint NOT NULL,
        operation text,
        deleted   bigint,
        purge_at  bigint,
        PRIMARY KEY (vault_key, name_key)
    );

    CREATE TABLE versions (
        id              text    COLLATE "C" NOT NULL PRIMARY KEY,
        vault           text    NOT NULL,
        vault_key       text    COLLATE "C" NOT NULL
                        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                              'abcdefghijklmnopqrstuvwxyz')) STORED,
        certificate     text    NOT NULL,
        certificate_key text    COLLATE "C" NOT NULL
                        GENERATED ALWAYS AS (translate(certificate, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                                    'abcdefghijklmnopqrstuvwxyz')) STORED,
        seq             bigint  NOT NULL,
        created         bigint  NOT NULL,
        updated         bigint  NOT NULL,
        enabled         boolean NOT NULL,
        exportable      boolean NOT NULL DEFAULT true,
        certificate_der bytea,
        key             bytea,
        FOREIGN KEY (vault_key, certificate_key)
            REFERENCES certificates (vault_key, name_key) ON DELETE RESTRICT,
        UNIQUE (vault_key, certificate_key, seq)
    );

    CREATE TABLE chain (
        version_id text    COLLATE "C" NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        position   integer NOT NULL CHECK (position >= 0),
        der        bytea   NOT NULL,
        PRIMARY KEY (version_id, position)
    );

    CREATE TABLE documents (
        vault     text NOT NULL,
        vault_key text COLLATE "C" NOT NULL
                  GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                        'abcdefghijklmnopqrstuvwxyz')) STORED
                  REFERENCES vaults (name_key) ON DELETE RESTRICT,
        key       text NOT NULL,
        key_key   text COLLATE "C" NOT NULL
                  GENERATED ALWAYS AS (translate(key, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                                      'abcdefghijklmnopqrstuvwxyz')) STORED,
        value     text NOT NULL,
        PRIMARY KEY (vault_key, key_key)
    );
    "#,
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_created_by_the_migrations() {
        let all = MIGRATIONS.concat();
        for table in TABLES {
            assert!(all.contains(&format!("CREATE TABLE {table} (")), "{table}");
        }
    }

    #[test]
    fn migration_lock_spells_crfsmigr() {
        assert_eq!(&MIGRATION_LOCK.to_be_bytes(), b"CRFSMIGR");
    }
}
