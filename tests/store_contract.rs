//! The contract every [`Store`] implementation must pass, and its instantiation for SQLite and PostgreSQL.
//!
//! A backend provides a [`StoreFixture`] (empty storage that can be opened
//! again and again) and instantiates the whole suite with one line:
//!
//! ```ignore
//! store_contract_tests!(postgres, || PostgresFixture::new());
//! ```
//!
//! which makes a module `postgres` with one `#[test]` per contract function.
//! Behaviour the trait's docs leave open is pinned here, so every store
//! agrees on it:
//!
//! - names keep the spelling they were **first created** with; a record
//!   naming an existing vault or certificate in another case refers to it;
//! - updating a certificate (by any write method) replaces `policy`,
//!   `tags`, `updated`, `operation`, `deleted` and `purge_at`, and keeps
//!   `created`;
//! - `update_version` and `delete_version` find a version by id and
//!   certificate: another certificate's version id is `NotFound`; an
//!   updated version keeps `created` and its place;
//! - version ids are unique across the whole store;
//! - document keys, like names, keep their first spelling; a vault's
//!   documents go with it, and do not keep it from being deleted;
//! - `delete_certificate` frees the name and the version ids;
//! - a failing call changes nothing, and the store stays usable after it;
//! - the order of vaults, certificates and documents in a [`Snapshot`] is
//!   not part of the contract, the order of a certificate's versions
//!   (oldest first) is;
//! - the [`Index`] is `load` summarized; a store's reader (if it has one)
//!   reads any certificate's head, its versions' list and any one version,
//!   by names in any case, as `load` gives them, and sees every write
//!   committed before it reads.

use certfs::store::{
    CertificateRecord, DocumentRecord, Index, KeyBytes, Snapshot, Store, StoreError, VaultRecord,
    VersionListing, VersionRecord,
};

/// Storage for one test: starts empty; every [`StoreFixture::open`] opens
/// the same storage, so dropping a store and opening again is a restart.
pub trait StoreFixture {
    /// Opens a store on this fixture's storage.
    fn open(&self) -> Box<dyn Store>;
}

/// Instantiates the contract suite for one backend: `$backend` names the
/// generated module, `$fixture` is a closure returning a fresh
/// [`StoreFixture`] for each test.
macro_rules! store_contract_tests {
    ($backend:ident, $fixture:expr) => {
        mod $backend {
            use super::*;

            fn fixture() -> Box<dyn StoreFixture> {
                Box::new(($fixture)())
            }

            store_contract_tests!(@store
                empty_store_loads_empty,
                create_and_load_vaults,
                duplicate_vault_in_other_case_conflicts,
                delete_vault_in_any_case,
                delete_missing_vault_is_not_found,
                delete_vault_with_certificates_is_not_empty,
                put_certificate_inserts,
                put_certificate_is_idempotent,
                put_certificate_replaces_policy_and_tags,
                put_certificate_in_other_case_keeps_first_name,
                vault_named_in_other_case_keeps_stored_name,
                put_into_missing_vault_is_not_found,
                versions_are_ordered_oldest_first,
                version_id_conflict_rolls_back_certificate_update,
                version_id_conflict_rolls_back_new_certificate,
                version_of_another_certificate_is_rejected_whole,
                key_bytes_round_trip,
                pending_version_round_trips,
                version_without_key_round_trips,
                disabled_version_round_trips,
                exportability_round_trips_and_updates,
                restore_adds_a_certificate_with_all_its_versions,
                restore_refuses_an_existing_name_and_rolls_back_whole,
                chain_order_is_preserved,
                large_blobs_round_trip,
                operation_round_trips,
                update_version_completes_pending_in_place,
                update_version_replaces_chain_key_and_enabled,
                update_unknown_version_is_not_found_and_rolls_back,
                update_version_of_another_certificate_is_refused,
                delete_version_removes_it_and_its_chain,
                delete_version_errors_roll_back,
                soft_delete_fields_round_trip_through_put_certificate,
                soft_delete_fields_round_trip_through_update_version,
                soft_delete_fields_round_trip_through_delete_version,
                soft_delete_fields_fail_with_the_call,
                delete_certificate_removes_it_with_its_versions,
                delete_certificate_in_any_case,
                delete_absent_certificate_is_not_found,
                deleted_certificate_name_can_be_created_again,
                put_document_sets_and_replaces,
                document_key_keeps_first_case,
                documents_are_per_vault,
                remove_document,
                remove_absent_document_is_ok,
                document_of_missing_vault_is_not_found,
                delete_vault_removes_its_documents,
                vault_with_certificates_and_documents_is_not_empty,
                index_is_load_summarized,
                reader_reads_certificates_as_load_gives_them,
                reader_sees_later_writes,
                load_certificate_reads_one_certificate_as_load_does,
                load_document_reads_one_document_as_load_does,
                load_vault_reads_one_vault_as_load_does
            );
            store_contract_tests!(@fixture
                reopen_keeps_everything,
                failed_call_leaves_nothing_after_reopen,
                version_changes_survive_reopen,
                documents_and_soft_delete_survive_reopen
            );
        }
    };
    (@store $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                let fixture = fixture();
                let mut store = fixture.open();
                contract::$name(&mut *store);
            }
        )+
    };
    (@fixture $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                contract::$name(&*fixture());
            }
        )+
    };
}

/// The contract, one function per behaviour.
pub mod contract {
    use super::*;

    // ---- record builders -------------------------------------------------

    /// A vault record.
    pub fn vault(name: &str) -> VaultRecord {
        VaultRecord {
            name: name.into(),
            created: 1_700_000_000,
        }
    }

    /// A certificate record whose policy mentions `policy`.
    pub fn certificate(vault: &str, name: &str, policy: &str) -> CertificateRecord {
        CertificateRecord {
            vault: vault.into(),
            name: name.into(),
            policy: format!(r#"{{"issuer":{{"name":"{policy}"}}}}"#),
            tags: r#"{"env":"test"}"#.into(),
            created: 1_700_000_100,
            updated: 1_700_000_100,
            operation: None,
            deleted: None,
            purge_at: None,
        }
    }

    /// A certificate operation's JSON text with the given status.
    pub fn operation(status: &str) -> String {
        format!(
            r#"{{"id":"https://prod.vault/certificates/web/pending","status":"{status}","csr":"MIIC\u00e9\n","cancellation_requested":false,"error":null}}"#
        )
    }

    /// A 32-hex-character version id derived from `n`.
    pub fn id(n: u32) -> String {
        // Not in numeric order when sorted as text, so insertion order and
        // id order differ.
        format!("{:08x}{:024x}", n.wrapping_mul(0x9e37_79b9), n)
    }

    /// A completed version with distinct bytes derived from `n`.
    pub fn version(vault: &str, certificate: &str, n: u32) -> VersionRecord {
        let byte = (n % 251) as u8;
        VersionRecord {
            vault: vault.into(),
            certificate: certificate.into(),
            id: id(n),
            created: 1_700_000_200 + i64::from(n),
            updated: 1_700_000_300 + i64::from(n),
            enabled: true,
            exportable: true,
            certificate_der: Some(vec![0x30, 0x82, byte, 1, 2, 3]),
            chain_der: vec![vec![0x30, byte, 10], vec![0x30, byte, 20]],
            key: Some(KeyBytes(zeroize::Zeroizing::new(vec![
                0x30, 0x81, byte, 0, 9,
            ]))),
        }
    }

    fn load(store: &dyn Store) -> Snapshot {
        store.load().expect("load")
    }

    fn vault_names(snapshot: &Snapshot) -> Vec<String> {
        let mut names: Vec<String> = snapshot.vaults.iter().map(|v| v.name.clone()).collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names
    }

    fn versions_of<'a>(snapshot: &'a Snapshot, vault: &str, cert: &str) -> Vec<&'a VersionRecord> {
        snapshot
            .versions
            .iter()
            .filter(|v| {
                v.vault.eq_ignore_ascii_case(vault) && v.certificate.eq_ignore_ascii_case(cert)
            })
            .collect()
    }

    fn only_certificate(snapshot: &Snapshot) -> &CertificateRecord {
        assert_eq!(snapshot.certificates.len(), 1, "{snapshot:?}");
        &snapshot.certificates[0]
    }

    #[track_caller]
    fn assert_conflict(result: Result<(), StoreError>) {
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    }

    #[track_caller]
    fn assert_not_found(result: Result<(), StoreError>) {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }

    /// A document record.
    pub fn document(vault: &str, key: &str, value: &str) -> DocumentRecord {
        DocumentRecord {
            vault: vault.into(),
            key: key.into(),
            value: value.into(),
        }
    }

    /// The documents of a snapshot, sorted by vault and key (any case).
    fn documents(snapshot: &Snapshot) -> Vec<DocumentRecord> {
        let mut documents = snapshot.documents.clone();
        documents.sort_by_key(|d| (d.vault.to_ascii_lowercase(), d.key.to_ascii_lowercase()));
        documents
    }

    /// `certificate` as soft-deleted at `at`, to be purged 90 days later.
    pub fn soft_deleted(mut certificate: CertificateRecord, at: i64) -> CertificateRecord {
        certificate.deleted = Some(at);
        certificate.purge_at = Some(at + 90 * 86_400);
        certificate
    }

    /// The certificate `name` of `vault` (any case) in `snapshot`.
    fn certificate_in<'a>(
        snapshot: &'a Snapshot,
        vault: &str,
        name: &str,
    ) -> Option<&'a CertificateRecord> {
        snapshot
            .certificates
            .iter()
            .find(|c| c.vault.eq_ignore_ascii_case(vault) && c.name.eq_ignore_ascii_case(name))
    }

    // ---- vaults --------------------------------------------------------

    /// A fresh store is empty.
    pub fn empty_store_loads_empty(store: &mut dyn Store) {
        assert_eq!(load(store), Snapshot::default());
    }

    /// Created vaults load with name (case preserved) and creation time.
    pub fn create_and_load_vaults(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        let mut staging = vault("staging-01");
        staging.created = 42;
        store.create_vault(&staging).unwrap();

        let snapshot = load(store);
        assert_eq!(vault_names(&snapshot), ["Prod", "staging-01"]);
        let loaded = snapshot
            .vaults
            .iter()
            .find(|v| v.name == "staging-01")
            .unwrap();
        assert_eq!(loaded, &staging);
        assert!(snapshot.certificates.is_empty() && snapshot.versions.is_empty());
    }

    /// A vault name that exists in another case is a conflict and changes nothing.
    pub fn duplicate_vault_in_other_case_conflicts(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let before = load(store);
        assert_conflict(store.create_vault(&vault("prod")));
        assert_conflict(store.create_vault(&vault("PROD")));
        assert_conflict(store.create_vault(&vault("pRoD")));
        assert_eq!(load(store), before);
        // The store stays usable after a failed call.
        store.create_vault(&vault("other")).unwrap();
        assert_eq!(vault_names(&load(store)), ["other", "prod"]);
    }

    /// An empty vault is deleted by its name in any case.
    pub fn delete_vault_in_any_case(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("Keep")).unwrap();
        store.delete_vault("PROD").unwrap();
        assert_eq!(vault_names(&load(store)), ["Keep"]);
        // The name is free again.
        store.create_vault(&vault("Prod")).unwrap();
        assert_eq!(vault_names(&load(store)), ["Keep", "Prod"]);
    }

    /// Deleting an absent vault is `NotFound`.
    pub fn delete_missing_vault_is_not_found(store: &mut dyn Store) {
        assert_not_found(store.delete_vault("nope"));
        store.create_vault(&vault("prod")).unwrap();
        store.delete_vault("prod").unwrap();
        assert_not_found(store.delete_vault("prod"));
    }

    /// A vault holding a certificate is `NotEmpty` and stays whole.
    pub fn delete_vault_with_certificates_is_not_empty(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);
        let result = store.delete_vault("Prod");
        assert!(matches!(result, Err(StoreError::NotEmpty(_))), "{result:?}");
        assert_eq!(load(store), before);
    }

    // ---- certificates ----------------------------------------------------

    /// A certificate without a version is stored as given.
    pub fn put_certificate_inserts(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let web = certificate("prod", "Web", "Unknown");
        store.put_certificate(&web, None).unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &web);
        assert!(snapshot.versions.is_empty());
    }

    /// Putting the same record again changes nothing.
    pub fn put_certificate_is_idempotent(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let web = certificate("prod", "web", "Self");
        store.put_certificate(&web, None).unwrap();
        let once = load(store);
        store.put_certificate(&web, None).unwrap();
        assert_eq!(load(store), once);
    }

    /// An update replaces policy, tags and `updated`, and keeps `created`.
    pub fn put_certificate_replaces_policy_and_tags(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let web = certificate("prod", "web", "Self");
        store.put_certificate(&web, None).unwrap();

        let mut changed = certificate("prod", "web", "Unknown");
        changed.tags = r#"{"owner":"ops"}"#.into();
        changed.created = web.created + 5_000;
        changed.updated = web.updated + 1_000;
        store.put_certificate(&changed, None).unwrap();

        let snapshot = load(store);
        let stored = only_certificate(&snapshot);
        assert_eq!(stored.policy, changed.policy);
        assert_eq!(stored.tags, changed.tags);
        assert_eq!(stored.updated, changed.updated);
        assert_eq!(stored.created, web.created, "created is kept");
    }

    /// A certificate matched in another case keeps its first spelling,
    /// and versions put under the other spelling belong to it.
    pub fn put_certificate_in_other_case_keeps_first_name(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "Web", "Self"),
                Some(&version("prod", "Web", 1)),
            )
            .unwrap();
        let upper = certificate("prod", "WEB", "Unknown");
        store
            .put_certificate(&upper, Some(&version("prod", "WEB", 2)))
            .unwrap();

        let snapshot = load(store);
        let stored = only_certificate(&snapshot);
        assert_eq!(stored.name, "Web");
        assert_eq!(stored.policy, upper.policy);
        let versions = versions_of(&snapshot, "prod", "web");
        assert_eq!(versions.len(), 2);
        for v in &versions {
            assert_eq!(v.certificate, "Web");
        }
        assert_eq!(versions[1].id, id(2));
    }

    /// Records naming the vault in another case are stored under the
    /// vault's own name.
    pub fn vault_named_in_other_case_keeps_stored_name(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store
            .put_certificate(
                &certificate("PROD", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot).vault, "Prod");
        assert_eq!(snapshot.versions.len(), 1);
        assert_eq!(snapshot.versions[0].vault, "Prod");
    }

    /// A certificate for an absent vault is `NotFound` and nothing is stored.
    pub fn put_into_missing_vault_is_not_found(store: &mut dyn Store) {
        assert_not_found(store.put_certificate(&certificate("nope", "web", "Self"), None));
        assert_not_found(store.put_certificate(
            &certificate("nope", "web", "Self"),
            Some(&version("nope", "web", 1)),
        ));
        store.create_vault(&vault("prod")).unwrap();
        store.delete_vault("prod").unwrap();
        assert_not_found(store.put_certificate(
            &certificate("prod", "web", "Self"),
            Some(&version("prod", "web", 1)),
        ));
        assert_eq!(load(store), Snapshot::default());
        // The id was not taken by the failed call.
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
    }

    // ---- versions ----------------------------------------------------------

    /// Versions load oldest (first put) first, per certificate, whatever
    /// their ids and times.
    pub fn versions_are_ordered_oldest_first(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        let order = [7u32, 3, 11, 1, 5, 9];
        for (i, n) in order.iter().enumerate() {
            let mut v = version("prod", "web", *n);
            // Times must not decide the order either.
            v.created = 2_000_000_000 - i as i64;
            store
                .put_certificate(&certificate("prod", "web", "Self"), Some(&v))
                .unwrap();
            // Interleave other certificates' versions.
            store
                .put_certificate(
                    &certificate("prod", "api", "Self"),
                    Some(&version("prod", "api", 100 + n)),
                )
                .unwrap();
            store
                .put_certificate(
                    &certificate("test", "web", "Self"),
                    Some(&version("test", "web", 200 + n)),
                )
                .unwrap();
        }
        let snapshot = load(store);
        assert_eq!(snapshot.versions.len(), 3 * order.len());
        let ids = |vault: &str, cert: &str| -> Vec<String> {
            versions_of(&snapshot, vault, cert)
                .iter()
                .map(|v| v.id.clone())
                .collect()
        };
        assert_eq!(ids("prod", "web"), order.map(id));
        assert_eq!(ids("prod", "api"), order.map(|n| id(100 + n)));
        assert_eq!(ids("test", "web"), order.map(|n| id(200 + n)));
    }

    /// A version id that exists is `Conflict`, and the certificate update
    /// made in the same call is rolled back.
    pub fn version_id_conflict_rolls_back_certificate_update(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);

        let mut changed = certificate("prod", "web", "Unknown");
        changed.updated += 99;
        let mut duplicate = version("prod", "web", 2);
        duplicate.id = id(1);
        assert_conflict(store.put_certificate(&changed, Some(&duplicate)));
        assert_eq!(load(store), before, "the whole call is undone");

        // The store stays usable and the certificate can still change.
        store
            .put_certificate(&changed, Some(&version("prod", "web", 2)))
            .unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot).policy, changed.policy);
        assert_eq!(versions_of(&snapshot, "prod", "web").len(), 2);
    }

    /// Version ids are unique store-wide: reusing one for a new
    /// certificate is `Conflict`, and the new certificate is not created.
    pub fn version_id_conflict_rolls_back_new_certificate(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);
        let mut reused = version("test", "api", 2);
        reused.id = id(1);
        assert_conflict(store.put_certificate(&certificate("test", "api", "Self"), Some(&reused)));
        assert_eq!(load(store), before);
    }

    /// A version naming another certificate than the one it is put with is
    /// refused, and the certificate is not stored either.
    pub fn version_of_another_certificate_is_rejected_whole(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let result = store.put_certificate(
            &certificate("prod", "web", "Self"),
            Some(&version("prod", "api", 1)),
        );
        assert!(result.is_err(), "{result:?}");
        assert_eq!(
            load(store),
            Snapshot {
                vaults: vec![vault("prod")],
                ..Snapshot::default()
            }
        );
    }

    /// Key bytes come back exactly, every byte value included.
    pub fn key_bytes_round_trip(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut v = version("prod", "web", 1);
        let key: Vec<u8> = (0..=255u8).chain([0, 0, 255, 0]).collect();
        v.key = Some(KeyBytes(zeroize::Zeroizing::new(key.clone())));
        store
            .put_certificate(&certificate("prod", "web", "Self"), Some(&v))
            .unwrap();
        let snapshot = load(store);
        let loaded = &snapshot.versions[0];
        assert_eq!(loaded.key.as_ref().map(|k| k.0.to_vec()), Some(key));
        assert_eq!(loaded, &v);
    }

    /// A pending version (no certificate yet, key present) round-trips.
    pub fn pending_version_round_trips(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut pending = version("prod", "web", 1);
        pending.certificate_der = None;
        pending.chain_der = Vec::new();
        store
            .put_certificate(&certificate("prod", "web", "Unknown"), Some(&pending))
            .unwrap();
        assert_eq!(load(store).versions, [pending]);
    }

    /// A version without a key (say, a non-exportable import) round-trips.
    pub fn version_without_key_round_trips(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut keyless = version("prod", "web", 1);
        keyless.key = None;
        store
            .put_certificate(&certificate("prod", "web", "Self"), Some(&keyless))
            .unwrap();
        assert_eq!(load(store).versions, [keyless]);
    }

    /// `enabled = false` round-trips.
    pub fn disabled_version_round_trips(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut disabled = version("prod", "web", 1);
        disabled.enabled = false;
        let enabled = version("prod", "web", 2);
        store
            .put_certificate(&certificate("prod", "web", "Self"), Some(&disabled))
            .unwrap();
        store
            .put_certificate(&certificate("prod", "web", "Self"), Some(&enabled))
            .unwrap();
        assert_eq!(load(store).versions, [disabled, enabled]);
    }

    /// A restore adds the certificate and every version, in order, at once.
    pub fn restore_adds_a_certificate_with_all_its_versions(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut pending = version("prod", "web", 3);
        pending.certificate_der = None;
        let versions = [
            version("prod", "web", 1),
            version("prod", "web", 2),
            pending,
        ];
        store
            .restore_certificate(&certificate("prod", "web", "Self"), &versions)
            .unwrap();
        let loaded = load(store);
        assert_eq!(loaded.certificates, [certificate("prod", "web", "Self")]);
        assert_eq!(loaded.versions, versions);
        assert!(matches!(
            store.restore_certificate(&certificate("nope", "web", "Self"), &[]),
            Err(StoreError::NotFound(_))
        ));
    }

    /// A restore onto an existing name (any case) is a conflict, and a
    /// version id that is taken undoes the whole restore.
    pub fn restore_refuses_an_existing_name_and_rolls_back_whole(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);
        assert!(matches!(
            store.restore_certificate(
                &certificate("prod", "WEB", "Self"),
                &[version("prod", "WEB", 9)]
            ),
            Err(StoreError::Conflict(_))
        ));
        // Version 1's id is taken by web: restoring api with it changes nothing.
        let clash = [version("prod", "api", 5), version("prod", "api", 1)];
        assert!(matches!(
            store.restore_certificate(&certificate("prod", "api", "Self"), &clash),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(load(store), before);
    }

    /// Whether a key may be exported is kept per version, and an update can change it.
    pub fn exportability_round_trips_and_updates(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut locked = version("prod", "web", 1);
        locked.exportable = false;
        let open = version("prod", "web", 2);
        let cert = certificate("prod", "web", "Self");
        store.put_certificate(&cert, Some(&locked)).unwrap();
        store.put_certificate(&cert, Some(&open)).unwrap();
        assert_eq!(load(store).versions, [locked.clone(), open.clone()]);
        let mut unlocked = locked.clone();
        unlocked.exportable = true;
        store.update_version(&cert, &unlocked).unwrap();
        assert_eq!(load(store).versions, [unlocked, open]);
    }

    /// Chains keep their order, including repeated entries, and each
    /// version keeps its own chain.
    pub fn chain_order_is_preserved(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut long = version("prod", "web", 1);
        long.chain_der = vec![
            vec![9, 9, 9],
            vec![1],
            vec![5, 5],
            vec![1],
            vec![0xff; 3],
            vec![2, 0, 2],
        ];
        let mut empty = version("prod", "web", 2);
        empty.chain_der = Vec::new();
        let mut single = version("prod", "web", 3);
        single.chain_der = vec![vec![7, 7]];
        for v in [&long, &empty, &single] {
            store
                .put_certificate(&certificate("prod", "web", "Self"), Some(v))
                .unwrap();
        }
        assert_eq!(load(store).versions, [long, empty, single]);
    }

    /// Certificates, keys, chains and policies of generous sizes round-trip.
    pub fn large_blobs_round_trip(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut big = version("prod", "web", 1);
        let pattern = |len: usize, seed: u8| -> Vec<u8> {
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect()
        };
        big.certificate_der = Some(pattern(64 * 1024, 1));
        big.chain_der = (0..10).map(|i| pattern(8 * 1024 + i, i as u8)).collect();
        big.key = Some(KeyBytes(zeroize::Zeroizing::new(pattern(2_400, 7))));
        let mut cert = certificate("prod", "web", "Self");
        cert.policy = format!(r#"{{"x":"{}"}}"#, "p".repeat(20_000));
        store.put_certificate(&cert, Some(&big)).unwrap();
        let snapshot = load(store);
        assert_eq!(snapshot.versions, [big]);
        assert_eq!(only_certificate(&snapshot), &cert);
    }

    // ---- certificate operations and version changes ------------------------

    /// The operation JSON round-trips exactly, `None` included, and a put
    /// replaces it (a `None` clears a stored one).
    pub fn operation_round_trips(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut web = certificate("prod", "web", "Unknown");
        store.put_certificate(&web, None).unwrap();
        assert_eq!(only_certificate(&load(store)).operation, None);

        web.operation = Some(operation("inProgress"));
        store.put_certificate(&web, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &web);

        // Generous and awkward text: quotes, escapes, non-ASCII, a CSR's size.
        web.operation = Some(format!(
            r#"{{"status":"failed","error":{{"code":"x","message":"naïve \"quote\"\n"}},"csr":"{}"}}"#,
            "A".repeat(8_000)
        ));
        store.put_certificate(&web, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &web);

        web.operation = None;
        store.put_certificate(&web, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &web);
    }

    /// A pending version completed with `update_version` takes the new
    /// certificate, chain, key, `enabled` and `updated`, keeps `created`
    /// and its place between the others; the certificate is replaced in
    /// the same call.
    pub fn update_version_completes_pending_in_place(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut pending = version("prod", "web", 2);
        pending.certificate_der = None;
        pending.chain_der = Vec::new();
        let mut in_progress = certificate("prod", "web", "Unknown");
        in_progress.operation = Some(operation("inProgress"));
        for v in [version("prod", "web", 1), pending.clone()] {
            store.put_certificate(&in_progress, Some(&v)).unwrap();
        }
        // A later version, so that the pending one sits in the middle.
        store
            .put_certificate(&in_progress, Some(&version("prod", "web", 3)))
            .unwrap();
        let before = load(store);

        let mut completed = pending.clone();
        completed.certificate_der = Some(vec![0x30, 0x82, 0xee, 0xee]);
        completed.chain_der = vec![vec![0x30, 1], vec![0x30, 2], vec![0x30, 3]];
        completed.key = Some(KeyBytes(zeroize::Zeroizing::new(vec![0x30, 0x81, 7])));
        completed.updated = pending.updated + 1_000;
        completed.created = pending.created + 5_000; // must be ignored
        let mut merged = in_progress.clone();
        merged.operation = Some(operation("completed"));
        merged.updated += 1_000;
        merged.created += 9_999; // must be ignored
        store.update_version(&merged, &completed).unwrap();

        let snapshot = load(store);
        let stored = only_certificate(&snapshot);
        assert_eq!(stored.operation, merged.operation);
        assert_eq!(stored.updated, merged.updated);
        assert_eq!(stored.created, in_progress.created, "created is kept");
        let versions = versions_of(&snapshot, "prod", "web");
        let ids: Vec<&str> = versions.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, [id(1), id(2), id(3)], "the order is kept");
        let expected = VersionRecord {
            created: pending.created,
            ..completed
        };
        assert_eq!(versions[1], &expected);
        // The neighbours are untouched.
        assert_eq!(versions[0], &before.versions[0]);
        assert_eq!(versions[2], &before.versions[2]);
    }

    /// `update_version` replaces the whole chain (longer, shorter, empty),
    /// the key (also to none) and `enabled`, and accepts the names in
    /// another case.
    pub fn update_version_replaces_chain_key_and_enabled(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        let web = certificate("Prod", "Web", "Self");
        let original = version("Prod", "Web", 1);
        store.put_certificate(&web, Some(&original)).unwrap();

        let mut changed = original.clone();
        changed.vault = "PROD".into();
        changed.certificate = "wEB".into();
        for (chain, key, enabled) in [
            (vec![vec![1], vec![2], vec![3], vec![4]], None, false),
            (vec![vec![9]], Some(vec![5, 6]), true),
            (Vec::new(), None, false),
        ] {
            changed.chain_der = chain;
            changed.key = key.map(|k| KeyBytes(zeroize::Zeroizing::new(k)));
            changed.enabled = enabled;
            changed.updated += 1;
            store
                .update_version(&certificate("prod", "WEB", "Self"), &changed)
                .unwrap();
            let snapshot = load(store);
            let expected = VersionRecord {
                vault: "Prod".into(),
                certificate: "Web".into(),
                ..changed.clone()
            };
            assert_eq!(snapshot.versions, [expected]);
            assert_eq!(only_certificate(&snapshot).name, "Web");
        }
    }

    /// Updating a version that does not exist is `NotFound`, and the
    /// certificate change made in the same call is rolled back.
    pub fn update_unknown_version_is_not_found_and_rolls_back(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);

        let mut changed = certificate("prod", "web", "Unknown");
        changed.operation = Some(operation("completed"));
        changed.updated += 99;
        assert_not_found(store.update_version(&changed, &version("prod", "web", 2)));
        assert_eq!(load(store), before, "the whole call is undone");

        // A certificate that does not exist is not created by the call.
        assert_not_found(store.update_version(
            &certificate("prod", "new", "Self"),
            &version("prod", "new", 1),
        ));
        // Nor is anything stored for an absent vault.
        assert_not_found(store.update_version(
            &certificate("nope", "web", "Self"),
            &version("nope", "web", 1),
        ));
        assert_eq!(load(store), before);

        // The store stays usable.
        store
            .update_version(&changed, &version("prod", "web", 1))
            .unwrap();
        assert_eq!(only_certificate(&load(store)).policy, changed.policy);
    }

    /// `update_version` never touches another certificate's version: a
    /// record naming another certificate is refused, an id of another
    /// certificate's version is `NotFound`; nothing changes either way.
    pub fn update_version_of_another_certificate_is_refused(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        store
            .put_certificate(
                &certificate("prod", "api", "Self"),
                Some(&version("prod", "api", 2)),
            )
            .unwrap();
        store
            .put_certificate(
                &certificate("test", "web", "Self"),
                Some(&version("test", "web", 3)),
            )
            .unwrap();
        let before = load(store);
        let mut changed = certificate("prod", "web", "Unknown");
        changed.operation = Some(operation("completed"));
        changed.updated += 7;

        // The version record names api, the certificate record web.
        let mut of_api = version("prod", "api", 2);
        of_api.enabled = false;
        let result = store.update_version(&changed, &of_api);
        assert!(result.is_err(), "{result:?}");
        assert_eq!(load(store), before);

        // The records agree, but the id is api's version.
        let mut claimed = version("prod", "web", 2);
        claimed.enabled = false;
        assert_not_found(store.update_version(&changed, &claimed));
        assert_eq!(load(store), before);

        // Same certificate name in another vault.
        let mut other_vault = version("prod", "web", 3);
        other_vault.enabled = false;
        assert_not_found(store.update_version(&changed, &other_vault));
        assert_eq!(load(store), before);
    }

    /// `delete_version` removes the version and its chain, keeps the
    /// others in order, and replaces the certificate in the same call; the
    /// id is free again afterwards.
    pub fn delete_version_removes_it_and_its_chain(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let mut pending = version("prod", "web", 2);
        pending.certificate_der = None;
        let mut web = certificate("prod", "web", "Unknown");
        web.operation = Some(operation("inProgress"));
        for v in [
            version("prod", "web", 1),
            pending,
            version("prod", "web", 3),
        ] {
            store.put_certificate(&web, Some(&v)).unwrap();
        }
        store
            .put_certificate(
                &certificate("prod", "api", "Self"),
                Some(&version("prod", "api", 4)),
            )
            .unwrap();
        let before = load(store);

        let mut deleted = web.clone();
        deleted.operation = Some(operation("deleted"));
        deleted.updated += 50;
        store.delete_version(&deleted, &id(2)).unwrap();

        let snapshot = load(store);
        let stored = snapshot
            .certificates
            .iter()
            .find(|c| c.name == "web")
            .unwrap();
        assert_eq!(stored, &deleted);
        assert_eq!(
            versions_of(&snapshot, "prod", "web"),
            [&version("prod", "web", 1), &version("prod", "web", 3)]
        );
        assert_eq!(
            versions_of(&snapshot, "prod", "api"),
            versions_of(&before, "prod", "api")
        );

        // The id and its chain positions are free: a new version may take
        // it, with a chain of its own, and it goes last.
        let mut again = version("prod", "web", 5);
        again.id = id(2);
        again.chain_der = vec![vec![0x42], vec![0x43], vec![0x44]];
        store.put_certificate(&web, Some(&again)).unwrap();
        let ids: Vec<String> = versions_of(&load(store), "prod", "web")
            .iter()
            .map(|v| v.id.clone())
            .collect();
        assert_eq!(ids, [id(1), id(3), id(2)]);
        assert_eq!(versions_of(&load(store), "prod", "web")[2], &again);

        // Names in another case; the last version can go, the certificate stays.
        for n in [1, 3] {
            store
                .delete_version(&certificate("PROD", "Web", "Unknown"), &id(n))
                .unwrap();
        }
        store
            .delete_version(&certificate("prod", "WEB", "Unknown"), &id(2))
            .unwrap();
        let snapshot = load(store);
        assert!(versions_of(&snapshot, "prod", "web").is_empty());
        assert_eq!(snapshot.certificates.len(), 2);
        let web = snapshot
            .certificates
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("web"))
            .unwrap();
        assert_eq!(web.name, "web");
        assert_eq!(web.operation, None);
    }

    /// A failing `delete_version` changes nothing: an unknown id, another
    /// certificate's version, an absent vault, a second delete.
    pub fn delete_version_errors_roll_back(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        store
            .put_certificate(
                &certificate("prod", "api", "Self"),
                Some(&version("prod", "api", 2)),
            )
            .unwrap();
        let before = load(store);
        let mut changed = certificate("prod", "web", "Unknown");
        changed.operation = Some(operation("deleted"));
        changed.updated += 3;

        assert_not_found(store.delete_version(&changed, &id(9)));
        assert_eq!(load(store), before, "the certificate change is undone");
        assert_not_found(store.delete_version(&changed, &id(2)));
        assert_eq!(load(store), before, "api's version is untouched");
        assert_not_found(store.delete_version(&certificate("prod", "new", "Self"), &id(1)));
        assert_eq!(load(store), before, "no certificate is created");
        assert_not_found(store.delete_version(&certificate("nope", "web", "Self"), &id(1)));
        assert_eq!(load(store), before);

        store.delete_version(&changed, &id(1)).unwrap();
        let after = load(store);
        assert_not_found(store.delete_version(&certificate("prod", "web", "Self"), &id(1)));
        assert_eq!(load(store), after);
    }

    // ---- soft delete ---------------------------------------------------------

    /// `deleted` and `purge_at` round-trip through `put_certificate`, set
    /// (each alone too) and cleared again, with and without a version.
    pub fn soft_delete_fields_round_trip_through_put_certificate(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let live = certificate("prod", "web", "Self");
        store.put_certificate(&live, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &live);

        let gone = soft_deleted(live.clone(), 1_800_000_000);
        store.put_certificate(&gone, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &gone);

        // Each field on its own: the store keeps what it is given.
        let mut only_deleted = live.clone();
        only_deleted.deleted = Some(1_800_000_001);
        store.put_certificate(&only_deleted, None).unwrap();
        assert_eq!(only_certificate(&load(store)), &only_deleted);
        let mut only_purge = live.clone();
        only_purge.purge_at = Some(1_900_000_000);
        store
            .put_certificate(&only_purge, Some(&version("prod", "web", 1)))
            .unwrap();
        assert_eq!(only_certificate(&load(store)), &only_purge);

        // Recovered: both None again.
        store
            .put_certificate(&live, Some(&version("prod", "web", 2)))
            .unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &live);
        assert_eq!(snapshot.versions.len(), 2);

        // A new certificate may be stored soft-deleted straight away
        // (a restore into the deleted state); extreme values round-trip.
        let mut odd = certificate("prod", "api", "Self");
        odd.deleted = Some(0);
        odd.purge_at = Some(i64::MAX);
        store
            .put_certificate(&odd, Some(&version("prod", "api", 3)))
            .unwrap();
        assert_eq!(certificate_in(&load(store), "prod", "api"), Some(&odd));
    }

    /// `update_version` replaces the soft-delete fields with the rest of
    /// the certificate, both ways.
    pub fn soft_delete_fields_round_trip_through_update_version(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let live = certificate("prod", "web", "Self");
        let mut v = version("prod", "web", 1);
        store.put_certificate(&live, Some(&v)).unwrap();

        let mut gone = soft_deleted(live.clone(), 1_800_000_000);
        gone.updated += 10;
        v.enabled = false;
        v.updated += 10;
        store.update_version(&gone, &v).unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &gone);
        assert_eq!(snapshot.versions, [v.clone()]);

        let mut recovered = live;
        recovered.updated += 20;
        v.enabled = true;
        store.update_version(&recovered, &v).unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &recovered);
        assert_eq!(snapshot.versions, [v]);
    }

    /// `delete_version` replaces the soft-delete fields with the rest of
    /// the certificate, both ways.
    pub fn soft_delete_fields_round_trip_through_delete_version(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let live = certificate("prod", "web", "Unknown");
        for n in 1..=3 {
            store
                .put_certificate(&live, Some(&version("prod", "web", n)))
                .unwrap();
        }
        let gone = soft_deleted(live.clone(), 1_800_000_000);
        store.delete_version(&gone, &id(2)).unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &gone);
        assert_eq!(
            snapshot.versions,
            [version("prod", "web", 1), version("prod", "web", 3)]
        );

        store.delete_version(&live, &id(3)).unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &live);
        assert_eq!(snapshot.versions, [version("prod", "web", 1)]);
    }

    /// A failing write does not change the soft-delete fields either.
    pub fn soft_delete_fields_fail_with_the_call(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let live = certificate("prod", "web", "Self");
        store
            .put_certificate(&live, Some(&version("prod", "web", 1)))
            .unwrap();
        let before = load(store);
        let gone = soft_deleted(live, 1_800_000_000);
        assert_conflict(store.put_certificate(&gone, Some(&version("prod", "web", 1))));
        assert_not_found(store.update_version(&gone, &version("prod", "web", 2)));
        assert_not_found(store.delete_version(&gone, &id(2)));
        assert_eq!(load(store), before);
    }

    // ---- purge -----------------------------------------------------------------

    /// `delete_certificate` removes the certificate with all its versions
    /// (pending ones too) and their chains; other certificates, also of
    /// the same name in another vault, are untouched.
    pub fn delete_certificate_removes_it_with_its_versions(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        let mut pending = version("prod", "web", 3);
        pending.certificate_der = None;
        let mut web = soft_deleted(certificate("prod", "web", "Unknown"), 1_800_000_000);
        web.operation = Some(operation("inProgress"));
        for v in [
            version("prod", "web", 1),
            version("prod", "web", 2),
            pending,
        ] {
            store.put_certificate(&web, Some(&v)).unwrap();
        }
        store
            .put_certificate(
                &certificate("prod", "api", "Self"),
                Some(&version("prod", "api", 4)),
            )
            .unwrap();
        store
            .put_certificate(
                &certificate("test", "web", "Self"),
                Some(&version("test", "web", 5)),
            )
            .unwrap();
        store
            .put_certificate(&certificate("prod", "draft", "Unknown"), None)
            .unwrap();
        store.put_document("prod", "contacts", Some("{}")).unwrap();
        let before = load(store);

        store.delete_certificate("prod", "web").unwrap();

        let after = load(store);
        assert!(certificate_in(&after, "prod", "web").is_none());
        assert!(versions_of(&after, "prod", "web").is_empty());
        assert_eq!(after.vaults, before.vaults);
        assert_eq!(after.documents, before.documents);
        let mut expected = before.clone();
        expected
            .certificates
            .retain(|c| !(c.vault == "prod" && c.name == "web"));
        expected
            .versions
            .retain(|v| !(v.vault == "prod" && v.certificate == "web"));
        assert_eq!(after, expected);

        // A certificate without versions goes too.
        store.delete_certificate("prod", "draft").unwrap();
        let after = load(store);
        assert!(certificate_in(&after, "prod", "draft").is_none());
        assert_eq!(after.certificates.len(), 2);
        assert_eq!(after.versions.len(), 2);
    }

    /// The vault and certificate names may be given in any case.
    pub fn delete_certificate_in_any_case(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store
            .put_certificate(
                &certificate("Prod", "Web", "Self"),
                Some(&version("Prod", "Web", 1)),
            )
            .unwrap();
        store.delete_certificate("pROD", "wEB").unwrap();
        let snapshot = load(store);
        assert!(snapshot.certificates.is_empty() && snapshot.versions.is_empty());
        // The vault is empty now and can go.
        store.delete_vault("prod").unwrap();
    }

    /// An absent certificate (never there, in another vault, purged
    /// already) or vault is `NotFound`, and nothing changes.
    pub fn delete_absent_certificate_is_not_found(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);
        assert_not_found(store.delete_certificate("prod", "api"));
        assert_not_found(store.delete_certificate("test", "web"));
        assert_not_found(store.delete_certificate("nope", "web"));
        assert_not_found(store.delete_certificate("prod", ""));
        assert_eq!(load(store), before);

        store.delete_certificate("prod", "web").unwrap();
        let after = load(store);
        assert_not_found(store.delete_certificate("prod", "web"));
        assert_eq!(load(store), after);
    }

    /// After a purge the name is free: a certificate of that name (in any
    /// case) can be created again, with fresh `created`, and even with the
    /// purged versions' ids, its versions starting afresh.
    pub fn deleted_certificate_name_can_be_created_again(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        let old = soft_deleted(certificate("prod", "web", "Self"), 1_800_000_000);
        for n in [1, 2] {
            store
                .put_certificate(&old, Some(&version("prod", "web", n)))
                .unwrap();
        }
        store.delete_certificate("prod", "web").unwrap();

        let mut new = certificate("prod", "Web", "Unknown");
        new.created = 1_900_000_000;
        new.updated = 1_900_000_000;
        let mut reused = version("prod", "Web", 3);
        reused.id = id(2);
        store.put_certificate(&new, Some(&reused)).unwrap();
        store
            .put_certificate(&new, Some(&version("prod", "Web", 1)))
            .unwrap();
        let snapshot = load(store);
        assert_eq!(only_certificate(&snapshot), &new, "a new record, live");
        assert_eq!(
            snapshot.versions,
            [reused, version("prod", "Web", 1)],
            "only the new versions, in their order"
        );
    }

    // ---- documents ---------------------------------------------------------------

    /// A document is stored as given and a second put replaces its value.
    pub fn put_document_sets_and_replaces(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store
            .put_document("prod", "vault", Some(r#"{"retention_days":90}"#))
            .unwrap();
        assert_eq!(
            load(store).documents,
            [document("prod", "vault", r#"{"retention_days":90}"#)]
        );

        // Awkward and generous text round-trips exactly.
        let big = format!(
            r#"{{"provider":"DigiCert","credentials":{{"pwd":"naïve \"q\"\n{}"}}}}"#,
            "s".repeat(20_000)
        );
        store
            .put_document("prod", "issuer/digi", Some(&big))
            .unwrap();
        store
            .put_document("prod", "vault", Some(r#"{"retention_days":7}"#))
            .unwrap();
        store.put_document("prod", "contacts", Some("")).unwrap();
        let snapshot = load(store);
        assert_eq!(
            documents(&snapshot),
            [
                document("prod", "contacts", ""),
                document("prod", "issuer/digi", &big),
                document("prod", "vault", r#"{"retention_days":7}"#),
            ]
        );
        // Putting the same value again changes nothing.
        store
            .put_document("prod", "issuer/digi", Some(&big))
            .unwrap();
        assert_eq!(load(store), snapshot);
        // Documents are no certificates.
        assert!(snapshot.certificates.is_empty() && snapshot.versions.is_empty());
    }

    /// A key written in another case is the same document: its value is
    /// replaced, the first spelling stays; the vault may be named in any
    /// case and its stored name is used.
    pub fn document_key_keeps_first_case(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store
            .put_document("prod", "issuer/DigiCert", Some("1"))
            .unwrap();
        store
            .put_document("PROD", "ISSUER/digicert", Some("2"))
            .unwrap();
        assert_eq!(
            load(store).documents,
            [document("Prod", "issuer/DigiCert", "2")]
        );
        // Removed in a third spelling, written again in a fourth: the new
        // spelling is the first now.
        store.put_document("pRoD", "Issuer/Digicert", None).unwrap();
        assert!(load(store).documents.is_empty());
        store
            .put_document("Prod", "ISSUER/DIGICERT", Some("3"))
            .unwrap();
        assert_eq!(
            load(store).documents,
            [document("Prod", "ISSUER/DIGICERT", "3")]
        );
    }

    /// The same key in two vaults is two documents.
    pub fn documents_are_per_vault(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store.put_document("prod", "contacts", Some("p")).unwrap();
        store.put_document("test", "contacts", Some("t")).unwrap();
        store.put_document("test", "Contacts", Some("t2")).unwrap();
        assert_eq!(
            documents(&load(store)),
            [
                document("prod", "contacts", "p"),
                document("test", "contacts", "t2"),
            ]
        );
        store.put_document("test", "contacts", None).unwrap();
        assert_eq!(load(store).documents, [document("prod", "contacts", "p")]);
    }

    /// `load_document` gives the value `load` gives for that vault and key
    /// (both in any case), secrets opened; `None` for a removed document, a
    /// missing key or vault.
    pub fn load_document_reads_one_document_as_load_does(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store.put_document("prod", "contacts", Some("p")).unwrap();
        store.put_document("test", "contacts", Some("t")).unwrap();
        // An issuer's file holds its credentials: sealed by an encrypting store.
        store
            .put_document("prod", "issuer/Digi", Some(r#"{"pwd":"s3cret"}"#))
            .unwrap();
        assert_eq!(
            store.load_document("PROD", "Contacts").unwrap().as_deref(),
            Some("p")
        );
        assert_eq!(
            store.load_document("test", "contacts").unwrap().as_deref(),
            Some("t")
        );
        let issuer = store.load_document("prod", "issuer/digi").unwrap();
        let loaded = documents(&load(store));
        let expected = loaded.iter().find(|d| d.key == "issuer/Digi").unwrap();
        assert_eq!(issuer.as_deref(), Some(expected.value.as_str()));
        assert_eq!(issuer.as_deref(), Some(r#"{"pwd":"s3cret"}"#));
        store.put_document("prod", "contacts", None).unwrap();
        assert_eq!(store.load_document("prod", "contacts").unwrap(), None);
        assert_eq!(store.load_document("prod", "vault").unwrap(), None);
        assert_eq!(store.load_document("nowhere", "contacts").unwrap(), None);
    }

    /// `load_vault` gives the record `load` gives for that vault (name in
    /// any case); `None` for one never made or deleted.
    pub fn load_vault_reads_one_vault_as_load_does(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        let loaded = load(store).vaults;
        let prod = loaded.iter().find(|v| v.name == "Prod").unwrap();
        assert_eq!(store.load_vault("PROD").unwrap().as_ref(), Some(prod));
        assert_eq!(store.load_vault("prod").unwrap().unwrap().name, "Prod");
        assert_eq!(store.load_vault("nowhere").unwrap(), None);
        store.delete_vault("test").unwrap();
        assert_eq!(store.load_vault("test").unwrap(), None);
    }

    /// `None` removes the document (key in any case), and only it.
    pub fn remove_document(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.put_document("prod", "issuer/a", Some("a")).unwrap();
        store.put_document("prod", "issuer/b", Some("b")).unwrap();
        store.put_document("prod", "contacts", Some("c")).unwrap();
        store.put_document("prod", "ISSUER/A", None).unwrap();
        assert_eq!(
            documents(&load(store)),
            [
                document("prod", "contacts", "c"),
                document("prod", "issuer/b", "b"),
            ]
        );
        store.put_document("prod", "contacts", None).unwrap();
        store.put_document("prod", "issuer/b", None).unwrap();
        assert!(load(store).documents.is_empty());
    }

    /// Removing a document that is not there succeeds and changes nothing.
    pub fn remove_absent_document_is_ok(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.put_document("prod", "contacts", None).unwrap();
        assert!(load(store).documents.is_empty());
        store.put_document("prod", "issuer/a", Some("a")).unwrap();
        let before = load(store);
        store.put_document("prod", "issuer/b", None).unwrap();
        store.put_document("prod", "issuer/a", None).unwrap();
        store.put_document("prod", "issuer/a", None).unwrap();
        assert!(load(store).documents.is_empty());
        assert_eq!(before.documents.len(), 1);
    }

    /// A document of an absent vault, set or removed, is `NotFound` and
    /// nothing is stored.
    pub fn document_of_missing_vault_is_not_found(store: &mut dyn Store) {
        assert_not_found(store.put_document("nope", "contacts", Some("{}")));
        assert_not_found(store.put_document("nope", "contacts", None));
        store.create_vault(&vault("prod")).unwrap();
        store.delete_vault("prod").unwrap();
        assert_not_found(store.put_document("prod", "vault", Some("{}")));
        assert_eq!(load(store), Snapshot::default());
        // The store stays usable.
        store.create_vault(&vault("prod")).unwrap();
        store.put_document("prod", "vault", Some("{}")).unwrap();
        assert_eq!(load(store).documents, [document("prod", "vault", "{}")]);
    }

    /// A vault holding only documents is empty: deleting it removes them,
    /// and a vault created again under that name starts without them.
    /// Other vaults' documents stay.
    pub fn delete_vault_removes_its_documents(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.create_vault(&vault("keep")).unwrap();
        for key in ["vault", "contacts", "issuer/digi"] {
            store.put_document("prod", key, Some("{}")).unwrap();
        }
        store.put_document("keep", "contacts", Some("k")).unwrap();
        store.delete_vault("PROD").unwrap();
        let snapshot = load(store);
        assert_eq!(vault_names(&snapshot), ["keep"]);
        assert_eq!(snapshot.documents, [document("keep", "contacts", "k")]);

        store.create_vault(&vault("Prod")).unwrap();
        assert_eq!(load(store).documents, [document("keep", "contacts", "k")]);
        assert_not_found(store.delete_vault("gone"));
    }

    /// A vault holding certificates and documents is `NotEmpty` and keeps
    /// both; with its certificates purged it deletes with its documents.
    pub fn vault_with_certificates_and_documents_is_not_empty(store: &mut dyn Store) {
        store.create_vault(&vault("prod")).unwrap();
        store.put_document("prod", "contacts", Some("c")).unwrap();
        store
            .put_certificate(
                &soft_deleted(certificate("prod", "web", "Self"), 1_800_000_000),
                Some(&version("prod", "web", 1)),
            )
            .unwrap();
        let before = load(store);
        let result = store.delete_vault("prod");
        assert!(matches!(result, Err(StoreError::NotEmpty(_))), "{result:?}");
        assert_eq!(load(store), before);

        store.delete_certificate("prod", "web").unwrap();
        store.delete_vault("prod").unwrap();
        assert_eq!(load(store), Snapshot::default());
    }

    // ---- restarts ----------------------------------------------------------

    /// Everything written is there after the store is dropped and opened again.
    pub fn load_certificate_reads_one_certificate_as_load_does(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store.create_vault(&vault("other")).unwrap();
        store
            .put_certificate(
                &certificate("Prod", "Web", "Self"),
                Some(&version("Prod", "Web", 1)),
            )
            .unwrap();
        let mut pending = version("prod", "web", 2);
        pending.certificate_der = None;
        pending.chain_der = Vec::new();
        store
            .put_certificate(&certificate("prod", "web", "Self"), Some(&pending))
            .unwrap();
        for (v, c, n) in [("prod", "api", 3), ("other", "web", 4)] {
            store
                .put_certificate(&certificate(v, c, "Self"), Some(&version(v, c, n)))
                .unwrap();
        }
        let all = load(store);
        let got = store
            .load_certificate("PROD", "wEB")
            .unwrap()
            .expect("the certificate is there");
        let expected: Vec<&CertificateRecord> = all
            .certificates
            .iter()
            .filter(|c| c.vault == "Prod" && c.name == "Web")
            .collect();
        assert_eq!(expected, [&got.certificate]);
        let versions: Vec<VersionRecord> = all
            .versions
            .iter()
            .filter(|v| v.vault == "Prod" && v.certificate == "Web")
            .cloned()
            .collect();
        assert_eq!(got.versions, versions);
        let ids: Vec<&str> = got.versions.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, [id(1), id(2)], "oldest first");
        assert_eq!(got.versions[0].chain_der.len(), 2);

        assert_eq!(store.load_certificate("prod", "absent").unwrap(), None);
        assert_eq!(store.load_certificate("absent", "web").unwrap(), None);
        store.delete_certificate("prod", "api").unwrap();
        assert_eq!(store.load_certificate("prod", "api").unwrap(), None);
    }

    pub fn reopen_keeps_everything(fixture: &dyn StoreFixture) {
        let expected = {
            let mut store = fixture.open();
            store.create_vault(&vault("Prod")).unwrap();
            store.create_vault(&vault("empty")).unwrap();
            let mut pending = version("Prod", "api", 3);
            pending.certificate_der = None;
            store
                .put_certificate(
                    &certificate("Prod", "Web", "Self"),
                    Some(&version("Prod", "Web", 1)),
                )
                .unwrap();
            store
                .put_certificate(
                    &certificate("Prod", "Web", "Self"),
                    Some(&version("Prod", "Web", 2)),
                )
                .unwrap();
            store
                .put_certificate(&certificate("Prod", "api", "Unknown"), Some(&pending))
                .unwrap();
            store
                .put_certificate(&certificate("Prod", "draft", "Unknown"), None)
                .unwrap();
            load(&*store)
        };
        assert_eq!(expected.vaults.len(), 2);
        assert_eq!(expected.certificates.len(), 3);
        assert_eq!(expected.versions.len(), 3);

        let mut store = fixture.open();
        assert_eq!(load(&*store), expected);
        // And it keeps working: the next version goes last.
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 4)),
            )
            .unwrap();
        let ids: Vec<String> = versions_of(&load(&*store), "prod", "web")
            .iter()
            .map(|v| v.id.clone())
            .collect();
        assert_eq!(ids, [id(1), id(2), id(4)]);
    }

    /// A failed call leaves no trace, also as seen by a fresh store.
    pub fn failed_call_leaves_nothing_after_reopen(fixture: &dyn StoreFixture) {
        let before = {
            let mut store = fixture.open();
            store.create_vault(&vault("prod")).unwrap();
            store
                .put_certificate(
                    &certificate("prod", "web", "Self"),
                    Some(&version("prod", "web", 1)),
                )
                .unwrap();
            let before = load(&*store);
            let mut duplicate = version("prod", "web", 2);
            duplicate.id = id(1);
            assert_conflict(
                store.put_certificate(&certificate("prod", "web", "Unknown"), Some(&duplicate)),
            );
            let mut reused = version("prod", "new", 3);
            reused.id = id(1);
            assert_conflict(
                store.put_certificate(&certificate("prod", "new", "Unknown"), Some(&reused)),
            );
            before
        };
        assert_eq!(load(&*fixture.open()), before);
    }

    /// Updated and deleted versions, and the operation, stay so after a
    /// restart; failed updates and deletes leave no trace.
    pub fn version_changes_survive_reopen(fixture: &dyn StoreFixture) {
        let expected = {
            let mut store = fixture.open();
            store.create_vault(&vault("prod")).unwrap();
            let mut web = certificate("prod", "web", "Unknown");
            web.operation = Some(operation("inProgress"));
            let mut pending = version("prod", "web", 2);
            pending.certificate_der = None;
            pending.chain_der = Vec::new();
            for v in [
                version("prod", "web", 1),
                pending.clone(),
                version("prod", "web", 3),
            ] {
                store.put_certificate(&web, Some(&v)).unwrap();
            }
            let mut completed = pending;
            completed.certificate_der = Some(vec![0x30, 0x82, 1]);
            completed.chain_der = vec![vec![0x30, 5], vec![0x30, 6]];
            web.operation = Some(operation("completed"));
            store.update_version(&web, &completed).unwrap();
            web.operation = Some(operation("deleted"));
            store.delete_version(&web, &id(3)).unwrap();
            let expected = load(&*store);
            assert_not_found(store.update_version(&web, &version("prod", "web", 3)));
            assert_not_found(store.delete_version(&certificate("prod", "web", "Self"), &id(3)));
            assert_eq!(load(&*store), expected);
            expected
        };
        assert_eq!(expected.versions.len(), 2);
        assert_eq!(
            expected.certificates[0].operation.as_deref(),
            Some(operation("deleted").as_str())
        );
        let mut store = fixture.open();
        assert_eq!(load(&*store), expected);
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 4)),
            )
            .unwrap();
        let ids: Vec<String> = versions_of(&load(&*store), "prod", "web")
            .iter()
            .map(|v| v.id.clone())
            .collect();
        assert_eq!(ids, [id(1), id(2), id(4)]);
    }

    /// Documents, soft-delete fields and purges stay so after a restart.
    pub fn documents_and_soft_delete_survive_reopen(fixture: &dyn StoreFixture) {
        let expected = {
            let mut store = fixture.open();
            store.create_vault(&vault("Prod")).unwrap();
            store.create_vault(&vault("test")).unwrap();
            store
                .put_document("prod", "Issuer/Digi", Some(r#"{"pwd":"x"}"#))
                .unwrap();
            store.put_document("test", "vault", Some("{}")).unwrap();
            store
                .put_document("test", "contacts", Some("gone"))
                .unwrap();
            store.put_document("test", "CONTACTS", None).unwrap();
            store
                .put_certificate(
                    &soft_deleted(certificate("Prod", "web", "Self"), 1_800_000_000),
                    Some(&version("Prod", "web", 1)),
                )
                .unwrap();
            store
                .put_certificate(
                    &certificate("Prod", "purged", "Self"),
                    Some(&version("Prod", "purged", 2)),
                )
                .unwrap();
            store.delete_certificate("prod", "PURGED").unwrap();
            load(&*store)
        };
        assert_eq!(expected.documents.len(), 2);
        assert_eq!(expected.certificates.len(), 1);
        assert_eq!(expected.certificates[0].deleted, Some(1_800_000_000));
        assert_eq!(expected.versions.len(), 1);

        let mut store = fixture.open();
        assert_eq!(load(&*store), expected);
        // The purged version id is free, the stored key spelling is kept.
        store
            .put_certificate(
                &certificate("prod", "purged", "Self"),
                Some(&version("prod", "purged", 2)),
            )
            .unwrap();
        store
            .put_document("PROD", "issuer/digi", Some("{}"))
            .unwrap();
        let snapshot = load(&*store);
        assert!(
            snapshot
                .documents
                .contains(&document("Prod", "Issuer/Digi", "{}"))
        );
        assert_eq!(snapshot.versions.len(), 2);
    }

    // ---- reading on demand -------------------------------------------------

    /// A store with one of everything: vaults, documents, a certificate with
    /// two versions, one with a pending version and its operation, a
    /// soft-deleted one, and one without versions.
    fn store_with_one_of_everything(store: &mut dyn Store) {
        store.create_vault(&vault("Prod")).unwrap();
        store.create_vault(&vault("test")).unwrap();
        store.put_document("prod", "vault", Some("{}")).unwrap();
        store
            .put_certificate(
                &certificate("Prod", "Web", "Self"),
                Some(&version("Prod", "Web", 1)),
            )
            .unwrap();
        store
            .put_certificate(
                &certificate("prod", "web", "Self"),
                Some(&version("prod", "web", 2)),
            )
            .unwrap();
        let mut pending = version("Prod", "api", 3);
        pending.certificate_der = None;
        let mut api = certificate("Prod", "api", "Unknown");
        api.operation = Some(operation("inProgress"));
        store.put_certificate(&api, Some(&pending)).unwrap();
        store
            .put_certificate(
                &soft_deleted(certificate("test", "old", "Self"), 1_800_000_000),
                Some(&version("test", "old", 4)),
            )
            .unwrap();
        store
            .put_certificate(&certificate("test", "bare", "Self"), None)
            .unwrap();
    }

    /// The index holds what `load` holds, without policies, tags or versions.
    pub fn index_is_load_summarized(store: &mut dyn Store) {
        store_with_one_of_everything(store);
        let sorted = |mut index: Index| {
            index.vaults.sort_by_key(|v| v.name.to_ascii_lowercase());
            index
                .certificates
                .sort_by_key(|c| (c.vault.to_ascii_lowercase(), c.name.to_ascii_lowercase()));
            index
                .documents
                .sort_by_key(|d| (d.vault.to_ascii_lowercase(), d.key.to_ascii_lowercase()));
            index
        };
        let index = sorted(store.load_index().expect("load_index"));
        assert_eq!(index, sorted(Index::of(&load(store))));
        assert_eq!(index.certificates.len(), 4);
        let api = &index.certificates[0];
        assert_eq!((api.name.as_str(), api.has_operation), ("api", true));
        let old = &index.certificates[3];
        assert_eq!(old.deleted, Some(1_800_000_000));
        assert!(!old.has_operation);
    }

    /// A reader gives each certificate (names in any case) with its head:
    /// its newest version, its newest completed one and its newest enabled
    /// completed one, as `load` gives them; the list of all versions; and
    /// each version alone. An absent one is `None` (an empty list).
    pub fn reader_reads_certificates_as_load_gives_them(store: &mut dyn Store) {
        store_with_one_of_everything(store);
        // A history: four versions, the newest disabled, so its head is
        // the newest (disabled) and the one before (enabled) only.
        let history = certificate("prod", "history", "Self");
        for n in 10..14 {
            store
                .put_certificate(&history, Some(&version("prod", "history", n)))
                .unwrap();
        }
        let mut disabled = version("prod", "history", 13);
        disabled.enabled = false;
        store.update_version(&history, &disabled).unwrap();
        let Some(reader) = store.reader().expect("reader") else {
            return; // A store without a reader is loaded whole.
        };
        let snapshot = load(store);
        for c in &snapshot.certificates {
            let (vault, name) = (c.vault.to_uppercase(), c.name.to_uppercase());
            let (record, head) = reader
                .certificate_head(&vault, &name)
                .expect("read")
                .unwrap_or_else(|| panic!("{}/{} not read", c.vault, c.name));
            assert_eq!(&record, c);
            let all = versions_of(&snapshot, &c.vault, &c.name);
            let mut completed = all.iter().filter(|v| v.certificate_der.is_some());
            let newest = [
                all.last().copied(),
                completed.clone().next_back().copied(),
                completed.rfind(|v| v.enabled).copied(),
            ];
            let expected: Vec<VersionRecord> = all
                .iter()
                .filter(|v| newest.iter().flatten().any(|n| n.id == v.id))
                .map(|v| (*v).clone())
                .collect();
            assert_eq!(head, expected, "{}/{}", c.vault, c.name);
            let listed = reader.version_list(&vault, &name).expect("list");
            let expected: Vec<VersionListing> = all.iter().map(|v| VersionListing::of(v)).collect();
            assert_eq!(listed, expected, "{}/{}", c.vault, c.name);
            for v in &all {
                let one = reader.version(&vault, &name, &v.id).expect("read");
                assert_eq!(one.as_ref(), Some(*v), "{}/{} {}", c.vault, c.name, v.id);
            }
        }
        let (_, head) = reader
            .certificate_head("prod", "history")
            .expect("read")
            .expect("there");
        let ids: Vec<String> = head.iter().map(|v| v.id.clone()).collect();
        assert_eq!(ids, vec![id(12), id(13)]);
        assert_eq!(
            reader.certificate_head("prod", "nothing").expect("read"),
            None
        );
        assert_eq!(
            reader.certificate_head("nowhere", "web").expect("read"),
            None
        );
        assert_eq!(
            reader.version_list("prod", "nothing").expect("list"),
            vec![]
        );
        assert_eq!(reader.version("prod", "web", &id(99)).expect("read"), None);
        let web = versions_of(&snapshot, "prod", "web")[0].id.clone();
        assert_eq!(reader.version("prod", "api", &web).expect("read"), None);
    }

    /// A reader made before a write reads what the write committed.
    pub fn reader_sees_later_writes(store: &mut dyn Store) {
        store_with_one_of_everything(store);
        let Some(reader) = store.reader().expect("reader") else {
            return;
        };
        let before = reader.version_list("prod", "web").expect("list");
        assert_eq!(before.len(), 2);
        store
            .put_certificate(
                &certificate("prod", "web", "Unknown"),
                Some(&version("prod", "web", 5)),
            )
            .unwrap();
        store.delete_certificate("test", "bare").unwrap();
        let (record, head) = reader
            .certificate_head("prod", "web")
            .expect("read")
            .expect("still there");
        assert!(record.policy.contains("Unknown"), "{}", record.policy);
        assert_eq!(head.last().map(|v| v.id.clone()), Some(id(5)));
        let after = reader.version_list("prod", "web").expect("list");
        assert_eq!(after.last().map(|v| v.id.clone()), Some(id(5)));
        assert_eq!(reader.certificate_head("test", "bare").expect("read"), None);
    }
}

// ---- SQLite --------------------------------------------------------------

/// A SQLite database file in its own temporary directory.
struct SqliteFixture {
    dir: tempfile::TempDir,
}

impl SqliteFixture {
    fn new() -> Self {
        SqliteFixture {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

impl StoreFixture for SqliteFixture {
    fn open(&self) -> Box<dyn Store> {
        let path = self.dir.path().join("certfs.db");
        Box::new(certfs::store::sqlite::SqliteStore::open(&path).expect("open SQLite store"))
    }
}

store_contract_tests!(sqlite, SqliteFixture::new);

/// The same SQLite file wrapped in `EncryptedStore`: encryption at rest
/// must not change a single behaviour of the contract.
struct EncryptedSqliteFixture {
    dir: tempfile::TempDir,
}

impl EncryptedSqliteFixture {
    fn new() -> Self {
        EncryptedSqliteFixture {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

impl StoreFixture for EncryptedSqliteFixture {
    fn open(&self) -> Box<dyn Store> {
        let path = self.dir.path().join("certfs.db");
        let inner = certfs::store::sqlite::SqliteStore::open(&path).expect("open SQLite store");
        let key = certfs::store::master_key::MasterKey::from_bytes([0x5a; 32]);
        Box::new(
            certfs::store::encrypted::EncryptedStore::open(Box::new(inner), key)
                .expect("open the encrypted store"),
        )
    }
}

store_contract_tests!(encrypted_sqlite, EncryptedSqliteFixture::new);

// ---- PostgreSQL ----------------------------------------------------------

#[path = "common/postgres.rs"]
mod pg;

/// A database of its own on the test process's PostgreSQL server, dropped
/// after the test; `encrypted` wraps the store in `EncryptedStore`.
struct PostgresFixture {
    database: String,
    url: certfs::store::postgres::PostgresUrl,
    encrypted: bool,
}

impl PostgresFixture {
    fn new() -> Self {
        let database = pg::PgServer::shared().create_database();
        let url = pg::PgServer::shared()
            .url(&database)
            .parse()
            .expect("a valid URL");
        PostgresFixture {
            database,
            url,
            encrypted: false,
        }
    }

    fn encrypted() -> Self {
        let mut fixture = Self::new();
        fixture.encrypted = true;
        fixture
    }
}

impl StoreFixture for PostgresFixture {
    fn open(&self) -> Box<dyn Store> {
        let store =
            certfs::store::postgres::PostgresStore::open(&self.url).expect("open PostgreSQL store");
        if !self.encrypted {
            return Box::new(store);
        }
        let key = certfs::store::master_key::MasterKey::from_bytes([0x5a; 32]);
        Box::new(
            certfs::store::encrypted::EncryptedStore::open(Box::new(store), key)
                .expect("open the encrypted store"),
        )
    }
}

impl Drop for PostgresFixture {
    fn drop(&mut self) {
        pg::PgServer::shared().drop_database(&self.database);
    }
}

store_contract_tests!(postgres, PostgresFixture::new);
store_contract_tests!(encrypted_postgres, PostgresFixture::encrypted);
