//! Tests of loading: renewals read only the certificates that are due, and a certificate changed before it was read keeps what it had.

use crate::store::sqlite::SqliteStore;
use crate::vault::VaultService;
use crate::vault::name::{CertificateName, VaultName};
use crate::vault::node::{CertificateFile, Node, VersionFile};

const POLICY: &[u8] =
    br#"{"key_props":{"kty":"EC"},"x509_props":{"subject":"CN=web"},"issuer":{"name":"Self"}}"#;

fn service(db: &std::path::Path) -> VaultService {
    VaultService::open(Box::new(SqliteStore::open(db).unwrap())).unwrap()
}

/// An EC policy for `cn` whose AutoRenew is due at `percent` of its lifetime.
fn renewing_at(cn: &str, percent: u32) -> Vec<u8> {
    format!(
        r#"{{"key_props":{{"kty":"EC"}},"x509_props":{{"subject":"CN={cn}"}},"issuer":{{"name":"Self"}},
        "lifetime_actions":[{{"trigger":{{"lifetime_percentage":{percent}}},"action":{{"action_type":"AutoRenew"}}}}]}}"#
    )
    .into_bytes()
}

#[test]
fn renewals_read_only_the_certificates_whose_action_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    let v = VaultName::parse("prod").unwrap();
    {
        let s = service(&db);
        s.mkdir(&Node::Root, "prod").unwrap();
        for (name, percent) in [("soon", 1), ("later", 80)] {
            s.mkdir(&Node::Vault(v.clone()), name).unwrap();
            let c = CertificateName::parse(name).unwrap();
            let policy = Node::CertificateFile(v.clone(), c, CertificateFile::Policy);
            s.write(&policy, &renewing_at(name, percent)).unwrap();
        }
    }
    let s = service(&db);
    let loaded = |s: &VaultService| -> Vec<String> {
        let st = s.model();
        st.vaults[&v]
            .certificates
            .loaded()
            .map(|cs| cs.name.to_string())
            .collect()
    };
    assert!(loaded(&s).is_empty(), "nothing read at mount");
    // Now: nothing is due; the pass reads nothing and knows when to come back.
    let now = super::super::clock::now();
    let next = s.renewal_pass(now);
    assert!(
        loaded(&s).is_empty(),
        "a pass with nothing due reads nothing"
    );
    assert!(next > now, "{next} {now}");
    {
        let st = s.model();
        let dues: Vec<i64> = st.vaults[&v]
            .certificates
            .unread()
            .map(|(_, due)| due)
            .collect();
        assert_eq!(dues.len(), 2);
        assert!(
            dues.iter().all(|d| *d > now && *d < now + 400 * 86_400),
            "{dues:?}"
        );
    }
    // Five days on, 1 % of a year has passed: only `soon` is read, and renewed.
    s.renewal_pass(now + 5 * 86_400);
    assert_eq!(loaded(&s), ["soon"]);
    let soon = Node::Versions(v.clone(), CertificateName::parse("soon").unwrap());
    assert_eq!(s.readdir(&soon).unwrap().len(), 2, "renewed");
}

#[test]
fn a_certificate_changed_before_it_was_read_keeps_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    let policy = Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy);
    let tags = Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Tags);
    let versions = Node::Versions(v.clone(), c.clone());
    {
        let s = service(&db);
        s.mkdir(&Node::Root, "prod").unwrap();
        s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
        s.write(&policy, POLICY).unwrap();
    }
    // Reopened: the certificate is known by name only until these writes.
    {
        let s = service(&db);
        s.write(&tags, br#"{"env":"prod"}"#).unwrap();
        assert!(
            String::from_utf8_lossy(&s.read(&tags).unwrap()).contains("prod"),
            "the new tags"
        );
        assert_eq!(
            s.readdir(&versions).unwrap().len(),
            1,
            "the old version kept"
        );
    }
    {
        let s = service(&db);
        s.write(&policy, POLICY).unwrap();
        assert_eq!(s.readdir(&versions).unwrap().len(), 2);
    }
    let s = service(&db);
    assert_eq!(s.readdir(&versions).unwrap().len(), 2, "as stored");
    assert!(String::from_utf8_lossy(&s.read(&tags).unwrap()).contains("prod"));
}

/// Version `id`'s file `file` of prod/web.
fn version_file(id: &crate::vault::name::VersionId, file: VersionFile) -> Node {
    Node::VersionFile {
        vault: VaultName::parse("prod").unwrap(),
        cert: CertificateName::parse("web").unwrap(),
        version: id.clone(),
        file,
        current: false,
    }
}

/// A store at `db` with prod/web of `count` versions; each version's id
/// and `cert.pem`, oldest first.
fn web_with_versions(
    db: &std::path::Path,
    count: usize,
) -> Vec<(crate::vault::name::VersionId, std::sync::Arc<[u8]>)> {
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    let s = service(db);
    s.mkdir(&Node::Root, "prod").unwrap();
    s.mkdir(&Node::Vault(v.clone()), "web").unwrap();
    let policy = Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy);
    for _ in 0..count {
        s.write(&policy, POLICY).unwrap();
    }
    let st = s.model();
    let cs = st.vaults[&v].certificates.get(&c).unwrap();
    cs.versions
        .all()
        .unwrap()
        .iter()
        .map(|version| {
            let id = version.id.clone();
            (id, version.file(VersionFile::CertPem).unwrap())
        })
        .collect()
}

#[test]
fn a_certificate_is_read_with_its_head_and_lists_the_rest_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    let made = web_with_versions(&db, 4);
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    let s = service(&db);
    let (node, _) = s
        .lookup(&Node::Certificate(v.clone(), c.clone()), "cert.pem")
        .unwrap();
    assert_eq!(s.read(&node).unwrap(), made[3].1, "the newest");
    let listed = |s: &VaultService| {
        let st = s.model();
        st.vaults[&v]
            .certificates
            .get(&c)
            .unwrap()
            .versions
            .is_listed()
    };
    assert!(!listed(&s), "the top-level files read the head only");
    // The current version by id needs no list either.
    assert_eq!(
        s.read(&version_file(&made[3].0, VersionFile::CertPem))
            .unwrap(),
        made[3].1
    );
    assert!(!listed(&s));
    let ids: Vec<String> = s
        .readdir(&Node::Versions(v.clone(), c.clone()))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let made_ids: Vec<String> = made.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(ids, made_ids);
    assert!(listed(&s));
    for (id, pem) in &made {
        assert_eq!(
            &s.read(&version_file(id, VersionFile::CertPem)).unwrap(),
            pem
        );
    }
}

#[test]
fn disabling_the_current_version_of_an_unlisted_certificate_goes_back_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    let made = web_with_versions(&db, 3);
    let v = VaultName::parse("prod").unwrap();
    let c = CertificateName::parse("web").unwrap();
    let s = service(&db);
    let top = |s: &VaultService| {
        let (node, _) = s
            .lookup(&Node::Certificate(v.clone(), c.clone()), "cert.pem")
            .unwrap();
        s.read(&node).unwrap()
    };
    assert_eq!(top(&s), made[2].1);
    s.write(
        &version_file(&made[2].0, VersionFile::Attributes),
        br#"{"enabled": false}"#,
    )
    .unwrap();
    assert_eq!(
        top(&s),
        made[1].1,
        "the version before, never read until now"
    );
    // And so it stays after a restart: the head is the newest enabled one too.
    drop(s);
    let s = service(&db);
    assert_eq!(top(&s), made[1].1);
}
