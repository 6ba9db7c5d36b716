//! Tests of loading: renewals read only the certificates that are due, and a certificate changed before it was read keeps what it had.

use crate::store::sqlite::SqliteStore;
use crate::vault::VaultService;
use crate::vault::name::{CertificateName, VaultName};
use crate::vault::node::{CertificateFile, Node};

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
