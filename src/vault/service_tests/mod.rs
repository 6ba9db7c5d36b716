//! Tests of the vault service driven as the FUSE adapter drives it, without a mount: nodes found by `lookup` from the root, files made by `create` and acted on by `write`, directories changed by `mkdir`, `rmdir` and `rename`, all on a real SQLite store.
//!
//! They go through the entry points a caller outside the vault uses, so
//! they hold whatever the service's insides become. Keys are EC P-256, so
//! the whole suite stays fast.

mod attributes;
mod create;
mod delivery;
mod import;
mod lifecycle;
mod merge;
mod restore;
mod transaction;

use std::path::{Path, PathBuf};

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, PrivateKey};
use crate::pki::x509::{CertificateSpec, KeyUsage, SubjectAltNames};
use crate::store::sqlite::SqliteStore;
use crate::vault::name::VersionId;
use crate::vault::{Changes, Kind, Node, VaultError, VaultService};

/// The vault every test works in.
pub(super) const VAULT: &str = "prod";

/// A temporary directory and the store file in it (made on first open).
pub(super) fn temp_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certfs.db");
    (dir, db)
}

/// The service on the SQLite store at `db`, as the mount opens it.
pub(super) fn service(db: &Path) -> VaultService {
    VaultService::open(Box::new(SqliteStore::open(db).unwrap())).unwrap()
}

/// The service on `db` with vault [`VAULT`] made by `mkdir`.
pub(super) fn service_with_vault(db: &Path) -> VaultService {
    let s = service(db);
    mkdir(&s, VAULT).unwrap();
    s
}

/// A small policy: an EC P-256 key for `CN=<cn>` and `<cn>.example.com`, from `issuer`.
pub(super) fn ec_policy(cn: &str, issuer: &str) -> Vec<u8> {
    format!(
        r#"{{"key_props":{{"kty":"EC","crv":"P-256"}},
        "x509_props":{{"subject":"CN={cn}","sans":{{"dns_names":["{cn}.example.com"]}}}},
        "issuer":{{"name":"{issuer}"}}}}"#
    )
    .into_bytes()
}

/// The service with vault [`VAULT`] and certificate `cert` made from a
/// `Self` policy (`mkdir`, then `policy.json`): one version.
pub(super) fn with_certificate(db: &Path, cert: &str) -> VaultService {
    let s = service_with_vault(db);
    mkdir(&s, &format!("{VAULT}/{cert}")).unwrap();
    write(
        &s,
        &format!("{VAULT}/{cert}/policy.json"),
        &ec_policy(cert, "Self"),
    )
    .unwrap();
    s
}

// ----- the tree as the adapter sees it ---------------------------------------

/// `path` split into its parent's path and its last name.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// The node at `path` (`prod/web/cert.pem`), looked up name by name from the root.
pub(super) fn find(s: &VaultService, path: &str) -> Result<Node, VaultError> {
    let mut node = Node::Root;
    for name in path.split('/').filter(|n| !n.is_empty()) {
        node = s.lookup(&node, name)?.0;
    }
    Ok(node)
}

/// The node at `path`, which must exist.
pub(super) fn node(s: &VaultService, path: &str) -> Node {
    find(s, path).unwrap_or_else(|e| panic!("lookup of {path}: {e}"))
}

/// Whether `path` exists.
pub(super) fn exists(s: &VaultService, path: &str) -> bool {
    find(s, path).is_ok()
}

/// The names `readdir` lists in the directory at `path`.
pub(super) fn names(s: &VaultService, path: &str) -> Vec<String> {
    s.readdir(&node(s, path))
        .unwrap_or_else(|e| panic!("readdir of {path}: {e}"))
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// Whether the directory at `path` lists `name`.
pub(super) fn lists(s: &VaultService, path: &str, name: &str) -> bool {
    names(s, path).iter().any(|n| n == name)
}

/// The bytes of the file at `path`.
pub(super) fn try_read(s: &VaultService, path: &str) -> Result<Vec<u8>, VaultError> {
    Ok(s.read(&find(s, path)?)?.to_vec())
}

/// The bytes of the file at `path`, which `stat` sizes exactly.
pub(super) fn read(s: &VaultService, path: &str) -> Vec<u8> {
    let file = node(s, path);
    let attr = s.getattr(&file).unwrap();
    assert_eq!(attr.kind, Kind::File, "{path}");
    let data = s
        .read(&file)
        .unwrap_or_else(|e| panic!("read of {path}: {e}"))
        .to_vec();
    assert_eq!(attr.size, data.len() as u64, "stat's size of {path}");
    data
}

/// The file at `path` read as JSON.
pub(super) fn read_json(s: &VaultService, path: &str) -> serde_json::Value {
    serde_json::from_slice(&read(s, path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `data` written to the file at `path` and closed, as `cp` does: an
/// existing file is opened for writing, a new one created first.
pub(super) fn write(s: &VaultService, path: &str, data: &[u8]) -> Result<Changes, VaultError> {
    let (dir, name) = split(path);
    let dir = find(s, dir)?;
    let file = match s.lookup(&dir, name) {
        Ok((file, _)) => {
            s.check_writable(&file)?;
            file
        }
        Err(_) => s.create(&dir, name, &s.owner_caller(), 0o644)?.0,
    };
    s.write(&file, data)
}

/// `mkdir path`.
pub(super) fn mkdir(s: &VaultService, path: &str) -> Result<Node, VaultError> {
    let (dir, name) = split(path);
    Ok(s.mkdir(&find(s, dir)?, name)?.0)
}

/// `rmdir path`.
pub(super) fn rmdir(s: &VaultService, path: &str) -> Result<Changes, VaultError> {
    let (dir, name) = split(path);
    s.rmdir(&find(s, dir)?, name)
}

/// `unlink path`.
pub(super) fn unlink(s: &VaultService, path: &str) -> Result<Changes, VaultError> {
    let (dir, name) = split(path);
    s.unlink(&find(s, dir)?, name)
}

/// `mv from to`, by the mount's owner.
pub(super) fn rename(s: &VaultService, from: &str, to: &str) -> Result<Changes, VaultError> {
    let (dir, name) = split(from);
    let (new_dir, new_name) = split(to);
    let allowed = |_: &crate::vault::Caller, _: &Node| Ok(());
    let mv = crate::vault::rename::Move {
        dir: &find(s, dir)?,
        name,
        new_dir: &find(s, new_dir)?,
        new_name,
        no_replace: false,
    };
    s.rename(&mv, &s.owner_caller(), &allowed)
}

/// The version the top-level files of the certificate at `cert_path` show.
pub(super) fn current_version(s: &VaultService, cert_path: &str) -> VersionId {
    match node(s, &format!("{cert_path}/cert.pem")) {
        Node::VersionFile { version, .. } => version,
        other => panic!("cert.pem is {other:?}"),
    }
}

/// The version ids `versions/` of the certificate at `cert_path` lists.
pub(super) fn versions(s: &VaultService, cert_path: &str) -> Vec<String> {
    names(s, &format!("{cert_path}/versions"))
}

/// The report `<path>.error` left beside a refused file: its code and message.
pub(super) fn report(s: &VaultService, path: &str) -> (String, String) {
    let value = read_json(s, &format!("{path}.error"));
    (
        value["code"].as_str().unwrap().to_owned(),
        value["message"].as_str().unwrap().to_owned(),
    )
}

// ----- certificates and keys -------------------------------------------------

/// A fresh EC P-256 key.
pub(super) fn ec_key() -> PrivateKey {
    PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap()
}

/// What a test certificate for `cn` says: its subject, `<cn>.example.com`,
/// digitalSignature, serverAuth, 12 months.
pub(super) fn spec(cn: &str) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={cn}")).unwrap(),
        sans: SubjectAltNames {
            dns_names: vec![format!("{cn}.example.com")],
            ..SubjectAltNames::default()
        },
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.1".into()],
        validity_months: 12,
    }
}

/// The DER of every block labelled `label` in PEM text.
pub(super) fn pem_blocks(text: &[u8], label: &str) -> Vec<Vec<u8>> {
    ::pem::parse_many(text)
        .unwrap()
        .into_iter()
        .filter(|p| p.tag() == label)
        .map(|p| p.into_contents())
        .collect()
}

/// The certificates of PEM text, each checked to parse as X.509.
pub(super) fn certificates(text: &[u8]) -> Vec<Vec<u8>> {
    let ders = pem_blocks(text, "CERTIFICATE");
    for der in &ders {
        X509Certificate::from_der(der).unwrap();
    }
    ders
}

/// The one certificate of PEM text.
pub(super) fn certificate(text: &[u8]) -> Vec<u8> {
    let ders = certificates(text);
    assert_eq!(ders.len(), 1, "one certificate");
    ders.into_iter().next().unwrap()
}

/// A certificate's subject, as x509-parser writes it (`CN=web`).
pub(super) fn subject(der: &[u8]) -> String {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.subject().to_string()
}

/// A certificate's issuer, as x509-parser writes it.
pub(super) fn issuer(der: &[u8]) -> String {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.issuer().to_string()
}

/// A certificate's DER SubjectPublicKeyInfo.
pub(super) fn public_key(der: &[u8]) -> Vec<u8> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    cert.public_key().raw.to_vec()
}

/// The one PKCS#8 key of PEM text.
pub(super) fn private_key(text: &[u8]) -> PrivateKey {
    let keys = pem_blocks(text, "PRIVATE KEY");
    assert_eq!(keys.len(), 1, "one PKCS#8 key");
    PrivateKey::from_pkcs8_der(&keys[0]).unwrap()
}

/// Asserts that the top-level (or `versions/<id>/`) files under `dir`
/// read back as one certificate and its key: `cert.pem`, `cert.cer`,
/// `fullchain.pem` (leaf first) and `privkey.pem` agree. Returns the leaf.
pub(super) fn assert_served_pair(s: &VaultService, dir: &str) -> Vec<u8> {
    let leaf = certificate(&read(s, &format!("{dir}/cert.pem")));
    assert_eq!(
        read(s, &format!("{dir}/cert.cer")),
        leaf,
        "cert.cer is the DER"
    );
    let full = certificates(&read(s, &format!("{dir}/fullchain.pem")));
    assert_eq!(
        full.first(),
        Some(&leaf),
        "fullchain.pem starts with the leaf"
    );
    let key = private_key(&read(s, &format!("{dir}/privkey.pem")));
    assert_eq!(key.public_key_der(), public_key(&leaf), "key matches");
    leaf
}
