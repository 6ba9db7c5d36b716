//! What each file is as protected as, beyond its mode: keys and secrets, a vault's settings and issuers, `hooks.json`, and the guards side files keep when they copy or hold them.
//!
//! A side file (an editor's or a tool's scratch file) is its creator's
//! with its creator's mode, and never less protected than what it came
//! from or holds: a copy of `privkey.pem` is a secret wherever it goes, a
//! copy of an issuer file stays the managers', a copy of `hooks.json` stays
//! the owner's. [`super::access`] applies these on every request.

use super::name::{CertificateName, VaultName};
use super::node::{CertificateFile, Node, VaultFile};
use super::side::Guard;

/// Whether `node` holds a private key or a secret (a role must allow
/// keys). Side files say so in their [`Guard`]
/// (`VaultService::is_secret`).
pub(crate) fn is_secret(node: &Node) -> bool {
    match node {
        Node::VersionFile { file, .. } => file.holds_key(),
        Node::CertificateFile(_, _, CertificateFile::Backup) => true,
        _ => false,
    }
}

/// Whether `node` is a vault's settings or issuers (managers only, whatever the mode says).
pub(crate) fn is_vault_config(node: &Node) -> bool {
    matches!(
        node,
        Node::VaultFile(_, VaultFile::Settings)
            | Node::IssuerFile(..)
            | Node::Issuers(_)
            | Node::IssuerDir(..)
            | Node::IssuedDir(..)
            | Node::RevokedDir(..)
            | Node::SignDir(..)
    )
}

/// What a side file made in `dir` is as protected as, whatever it holds:
/// what waits in `import/` or `restore/` (a PFX or PEM with its key, a
/// password, a backup blob) is as secret as what it becomes; what an
/// editor keeps beside an issuer file holds the issuer's secrets as typed.
pub(crate) fn guard_of_dir(dir: &Node) -> Guard {
    Guard {
        secret: matches!(dir, Node::Import(_) | Node::Restore(_)),
        managers: matches!(
            dir,
            Node::Issuers(_) | Node::RevokedDir(..) | Node::SignDir(..)
        ),
        owner_only: false,
    }
}

/// What a copy of the file `node` (a rename of it to a scratch name) stays
/// as protected as.
pub(crate) fn guard_of_file(node: &Node) -> Guard {
    Guard {
        secret: is_secret(node),
        managers: is_vault_config(node),
        owner_only: matches!(node, Node::CertificateFile(_, _, CertificateFile::Hooks)),
    }
}

/// Whether `data` holds a private key or a secret: a PEM private key (of
/// any form), a PKCS#12 file, or a certfs backup blob. Bytes written to a
/// scratch file that hold one make it a secret (a copy of a key is never
/// more readable than the key).
pub(crate) fn holds_secret(data: &[u8]) -> bool {
    const PEM_KEY: &[u8] = b"PRIVATE KEY-----";
    data.windows(PEM_KEY.len()).any(|w| w == PEM_KEY)
        || crate::pki::import_formats::sniff(data)
            == crate::pki::import_formats::ImportFormat::Pkcs12
        || super::backup::is_blob(data)
}

/// The certificate folder whose mode holds for `node`: the live folder
/// (also for its view in `live/`) or, once soft-deleted, its folder in
/// `deleted/`; `true` when `node` is that folder (or its view) itself.
pub(crate) fn folder_of(node: &Node) -> Option<(Node, bool)> {
    let live = |v: &VaultName, c: &CertificateName| Node::Certificate(v.clone(), c.clone());
    match node {
        Node::Certificate(v, c) | Node::LiveCertificate(v, c) => Some((live(v, c), true)),
        Node::DeletedCertificate(..) => Some((node.clone(), true)),
        Node::DeletedFile(v, c, _) => Some((Node::DeletedCertificate(v.clone(), c.clone()), false)),
        Node::Merge(v, c)
        | Node::Versions(v, c)
        | Node::Version(v, c, _)
        | Node::CertificateFile(v, c, _)
        | Node::VersionFile {
            vault: v, cert: c, ..
        } => Some((live(v, c), false)),
        Node::Side(dir, _) => folder_of(dir).map(|(folder, _)| (folder, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pfx_and_backup_blobs_are_secrets_by_content() {
        for pem in [
            "-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n",
            "junk\n-----BEGIN EC PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        ] {
            assert!(holds_secret(pem.as_bytes()), "{pem}");
        }
        assert!(holds_secret(b"CERTFS-BACKUP\n\x01rest"));
        for plain in [
            &b"-----BEGIN CERTIFICATE-----\n"[..],
            b"",
            b"private key",
            b"\x30\x03\x02\x01\x03",
        ] {
            assert!(!holds_secret(plain), "{plain:?}");
        }
    }
}
