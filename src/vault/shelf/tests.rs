//! Tests of the shelf: bodies beyond its bound are let go and read again, and one used since the last look gets a second chance.

use std::sync::Arc;

use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::vault::VaultService;
use crate::vault::name::{CertificateName, VaultName};
use crate::vault::node::{CertificateFile, Node, VersionFile};
use crate::vault::shelf::{Place, Shelf};
use crate::vault::version::Version;
use crate::vault::version_list::VersionList;

/// Every completed version stored at `place`, none of their bodies read.
fn listed(place: &Arc<Place>) -> Vec<Arc<Version>> {
    VersionList::head(Vec::new(), place.clone())
        .all()
        .unwrap()
        .to_vec()
}

const POLICY: &[u8] =
    br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web"},"issuer":{"name":"Self"}}"#;

/// A store at `db` with certificate prod/web of `versions` versions.
fn store_with_versions(db: &std::path::Path, versions: usize) {
    let s = VaultService::open(Box::new(SqliteStore::open(db).unwrap())).unwrap();
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    s.mkdir(&Node::Root, "prod").unwrap();
    s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
    for _ in 0..versions {
        s.write(
            &Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy),
            POLICY,
        )
        .unwrap();
    }
}

#[test]
fn the_shelf_lets_go_of_bodies_beyond_its_bound_and_reads_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    store_with_versions(&db, 5);
    let store = SqliteStore::open(&db).unwrap();
    let shelf = Arc::new(Shelf::new(store.reader().unwrap().unwrap(), 2));
    let place = Arc::new(Place {
        shelf: shelf.clone(),
        vault: VaultName::parse("prod").unwrap(),
        certificate: CertificateName::parse("web").unwrap(),
    });
    let versions = listed(&place);
    assert_eq!(versions.len(), 5);
    assert!(
        versions.iter().all(|v| !v.body_in_memory()),
        "listing reads no body"
    );
    let pems: Vec<_> = versions
        .iter()
        .map(|v| v.file(VersionFile::CertPem).unwrap())
        .collect();
    for (i, pem) in pems.iter().enumerate() {
        assert!(
            pems[..i].iter().all(|other| other != pem),
            "distinct versions"
        );
    }
    assert_eq!(shelf.kept(), 2);
    let in_memory = |versions: &[Arc<Version>]| -> Vec<bool> {
        versions.iter().map(|v| v.body_in_memory()).collect()
    };
    assert_eq!(in_memory(&versions), [false, false, false, true, true]);
    // Read again from the store: the same bytes.
    assert_eq!(versions[0].file(VersionFile::CertPem).unwrap(), pems[0]);
    assert_eq!(in_memory(&versions), [true, false, false, false, true]);
    // Used since the shelf last looked, the newest stays for another
    // round; the first, read after it but not used since, goes.
    versions[4].body().unwrap();
    assert_eq!(versions[1].file(VersionFile::CertPem).unwrap(), pems[1]);
    assert_eq!(in_memory(&versions), [false, true, false, false, true]);
    assert_eq!(shelf.kept(), 2);
}

#[test]
fn a_version_no_longer_stored_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    store_with_versions(&db, 1);
    let mut store = SqliteStore::open(&db).unwrap();
    let shelf = Arc::new(Shelf::new(store.reader().unwrap().unwrap(), 1));
    let place = Arc::new(Place {
        shelf,
        vault: VaultName::parse("prod").unwrap(),
        certificate: CertificateName::parse("web").unwrap(),
    });
    let versions = listed(&place);
    store.delete_certificate("prod", "web").unwrap();
    let e = versions[0].body().err().expect("gone");
    let message = e.message();
    assert!(message.contains("prod/web"), "{message}");
    assert!(message.contains(versions[0].id.as_str()), "{message}");
}

#[test]
fn a_version_let_go_of_pins_a_pointer_not_its_body() {
    // A version's weak link keeps the `Arc`'s allocation (its counts and
    // the value inline) alive after the shelf lets go: the value must be
    // a pointer, its parts freed with it.
    assert!(std::mem::size_of::<crate::vault::version::VersionBody>() <= 8);
}
