//! The private PKI's part of the tree (SPEC §9): `issuers/<name>/issued/`, `revoked/` and `issuers/<name>.crl` — what each name is, what each folder lists, and the bytes each file reads.

use std::sync::Arc;

use super::clock::now;
use super::issued;
use super::ledger::Ledger;
use super::model::VaultState;
use super::name::CertificateName;
use super::node::{Kind, Node};

/// The folders of `issuers/<name>/`.
pub(crate) const ISSUED_DIR: &str = "issued";
/// `revoked/`.
pub(crate) const REVOKED_DIR: &str = "revoked";
/// `sign/` (Internal issuers).
pub(crate) const SIGN_DIR: &str = "sign";

/// The issuer `name` names in `vs` (any case), as stored.
fn issuer<'a>(vs: &'a VaultState, name: &str) -> Option<&'a CertificateName> {
    let parsed = CertificateName::parse(name).ok()?;
    vs.issuers.get_key_value(&parsed).map(|(n, _)| n)
}

/// The serial a `<SERIAL>.pem` name holds, as the ledger keys it (upper-case hex).
pub(crate) fn serial_of(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".pem")?;
    (!stem.is_empty() && stem.len() <= 40 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| stem.to_ascii_uppercase())
}

/// What `name` in `issuers/` is, when it is the PKI's: `<issuer>/` or `<issuer>.crl`.
pub(crate) fn issuers_child(vs: &VaultState, name: &str) -> Option<Node> {
    if let Some(stem) = name.strip_suffix(".crl") {
        let i = issuer(vs, stem)?;
        return has_crl(vs, i).then(|| Node::IssuerCrl(vs.name.clone(), i.clone()));
    }
    issuer(vs, name).map(|i| Node::IssuerDir(vs.name.clone(), i.clone()))
}

/// Whether issuer `i` has a CRL (an Internal issuer with its CA).
fn has_crl(vs: &VaultState, i: &CertificateName) -> bool {
    vs.issuer_memory.get(i).is_some_and(|m| m.ca_pem.is_some())
}

/// What `name` in PKI folder `dir` is.
pub(crate) fn child(vs: &VaultState, dir: &Node, name: &str) -> Option<Node> {
    let empty = Ledger::default();
    match dir {
        Node::IssuerDir(v, i) => match name {
            ISSUED_DIR => Some(Node::IssuedDir(v.clone(), i.clone())),
            REVOKED_DIR => Some(Node::RevokedDir(v.clone(), i.clone())),
            SIGN_DIR if has_crl(vs, i) => Some(Node::SignDir(v.clone(), i.clone())),
            _ => None,
        },
        Node::IssuedDir(v, i) => {
            let serial = serial_of(name)?;
            let ledger = vs.ledgers.get(i).unwrap_or(&empty);
            (ledger.issued.contains_key(&serial) && !ledger.revoked.contains_key(&serial))
                .then(|| Node::IssuedCert(v.clone(), i.clone(), serial))
        }
        Node::RevokedDir(v, i) => {
            let serial = serial_of(name)?;
            let ledger = vs.ledgers.get(i).unwrap_or(&empty);
            ledger
                .revoked
                .contains_key(&serial)
                .then(|| Node::RevokedCert(v.clone(), i.clone(), serial))
        }
        _ => None,
    }
}

/// The entries `issuers/` lists for the PKI: `<issuer>.crl` and `<issuer>/` of every issuer.
pub(crate) fn issuers_entries(vs: &VaultState) -> Vec<(String, Node, Kind)> {
    let mut out = Vec::new();
    for i in vs.issuers.keys() {
        if has_crl(vs, i) {
            let node = Node::IssuerCrl(vs.name.clone(), i.clone());
            out.push((format!("{i}.crl"), node, Kind::File));
        }
        let node = Node::IssuerDir(vs.name.clone(), i.clone());
        out.push((i.as_str().to_owned(), node, Kind::Directory));
    }
    out
}

/// The entries of PKI folder `dir`.
pub(crate) fn entries(vs: &VaultState, dir: &Node) -> Vec<(String, Node, Kind)> {
    let empty = Ledger::default();
    match dir {
        Node::IssuerDir(v, i) => {
            let mut out = vec![
                (
                    ISSUED_DIR.to_owned(),
                    Node::IssuedDir(v.clone(), i.clone()),
                    Kind::Directory,
                ),
                (
                    REVOKED_DIR.to_owned(),
                    Node::RevokedDir(v.clone(), i.clone()),
                    Kind::Directory,
                ),
            ];
            if has_crl(vs, i) {
                let node = Node::SignDir(v.clone(), i.clone());
                out.push((SIGN_DIR.to_owned(), node, Kind::Directory));
            }
            out
        }
        Node::IssuedDir(v, i) => {
            let ledger = vs.ledgers.get(i).unwrap_or(&empty);
            ledger
                .issued
                .keys()
                .filter(|s| !ledger.revoked.contains_key(*s))
                .map(|s| {
                    let node = Node::IssuedCert(v.clone(), i.clone(), s.clone());
                    (format!("{s}.pem"), node, Kind::File)
                })
                .collect()
        }
        Node::RevokedDir(v, i) => {
            let ledger = vs.ledgers.get(i).unwrap_or(&empty);
            ledger
                .revoked
                .keys()
                .map(|s| {
                    let node = Node::RevokedCert(v.clone(), i.clone(), s.clone());
                    (format!("{s}.pem"), node, Kind::File)
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The bytes of a PKI file, and when it last changed; `None` if it is gone.
pub(crate) fn bytes(vs: &VaultState, node: &Node) -> Option<(Arc<[u8]>, i64)> {
    match node {
        Node::IssuedCert(_, i, serial) => {
            let ledger = vs.ledgers.get(i)?;
            let at = ledger.issued.get(serial)?.at;
            Some((ledger.leaf_pem(serial)?, at))
        }
        Node::RevokedCert(_, i, serial) => {
            let ledger = vs.ledgers.get(i)?;
            let at = ledger.revoked.get(serial)?.at;
            Some((ledger.leaf_pem(serial)?, at))
        }
        Node::IssuerCrl(_, i) => {
            let t = now();
            let crl = issued::crl_pem(vs, i, t)?;
            let signed = vs.crls.lock().get(i).map_or(t, |(_, at)| *at);
            Some((crl, signed))
        }
        _ => None,
    }
}
