//! Addresses in the certfs tree ([`Node`]) and what the service says about them ([`Attr`], [`Entry`]).
//!
//! A [`Node`] is an opaque, hashable key to the FUSE adapter: it maps nodes
//! to inode numbers and back, and never looks inside. Files of a version
//! carry the version id, so when a new version becomes current the names
//! `cert.pem`, `privkey.pem`, ... resolve to new nodes (new inodes) while
//! open files keep the node, and bytes, they opened.

use std::time::SystemTime;

use super::name::{CertificateName, VaultName, VersionId};

/// Files derived from one version of a certificate.
#[repr(usize)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionFile {
    /// `cert.pem`: the leaf, PEM.
    CertPem,
    /// `cert.cer`: the leaf, DER.
    CertCer,
    /// `chain.pem`: the issuing chain without the leaf.
    ChainPem,
    /// `fullchain.pem`: leaf and chain.
    FullchainPem,
    /// `privkey.pem`: PKCS#8 private key.
    PrivkeyPem,
    /// `bundle.pem`: key, leaf and chain.
    BundlePem,
    /// `cert.pfx`: PKCS#12 with key and chain, no password.
    CertPfx,
    /// `attributes.json`: enabled, nbf, exp, created, updated.
    Attributes,
}

impl VersionFile {
    /// Every version file, in listing order (the declaration order).
    pub const ALL: [VersionFile; 8] = [
        VersionFile::CertPem,
        VersionFile::CertCer,
        VersionFile::ChainPem,
        VersionFile::FullchainPem,
        VersionFile::PrivkeyPem,
        VersionFile::BundlePem,
        VersionFile::CertPfx,
        VersionFile::Attributes,
    ];

    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            VersionFile::CertPem => "cert.pem",
            VersionFile::CertCer => "cert.cer",
            VersionFile::ChainPem => "chain.pem",
            VersionFile::FullchainPem => "fullchain.pem",
            VersionFile::PrivkeyPem => "privkey.pem",
            VersionFile::BundlePem => "bundle.pem",
            VersionFile::CertPfx => "cert.pfx",
            VersionFile::Attributes => "attributes.json",
        }
    }

    /// The file for a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }

    /// Whether the file holds the private key (absent for non-exportable keys).
    pub fn holds_key(self) -> bool {
        matches!(
            self,
            VersionFile::PrivkeyPem | VersionFile::BundlePem | VersionFile::CertPfx
        )
    }
}

/// Files that belong to a certificate rather than to one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertificateFile {
    /// `policy.json` (rw): writing it creates a new version.
    Policy,
    /// `tags.json` (rw).
    Tags,
    /// `backup.blob` (r): the certificate with all its versions, sealed.
    Backup,
    /// `operation.json` (rw): the pending or last certificate operation.
    Operation,
    /// `request.csr` (r): the pending CSR, PEM, while an operation waits for a merge.
    Request,
    /// `status.json` (r): expiry, the next lifetime action, the last renewal and hook.
    Status,
    /// `hooks.json` (rw, owner only): what runs after a new version becomes current.
    Hooks,
}

impl CertificateFile {
    /// Every certificate file, in listing order.
    pub const ALL: [CertificateFile; 7] = [
        CertificateFile::Policy,
        CertificateFile::Tags,
        CertificateFile::Backup,
        CertificateFile::Operation,
        CertificateFile::Request,
        CertificateFile::Status,
        CertificateFile::Hooks,
    ];

    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            CertificateFile::Policy => "policy.json",
            CertificateFile::Tags => "tags.json",
            CertificateFile::Backup => "backup.blob",
            CertificateFile::Operation => "operation.json",
            CertificateFile::Request => "request.csr",
            CertificateFile::Status => "status.json",
            CertificateFile::Hooks => "hooks.json",
        }
    }

    /// The file for a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// Files of a vault itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VaultFile {
    /// `vault.json` (rw): soft-delete retention and purge protection.
    Settings,
    /// `contacts.json` (rw, `rm` deletes): who is told about expiring certificates.
    Contacts,
}

impl VaultFile {
    /// Every vault file, in listing order.
    pub const ALL: [VaultFile; 2] = [VaultFile::Settings, VaultFile::Contacts];

    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            VaultFile::Settings => "vault.json",
            VaultFile::Contacts => "contacts.json",
        }
    }

    /// The file for a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// Files of a soft-deleted certificate in `deleted/<cert>/` (read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeletedFile {
    /// `deleted.json`: recoveryId, deletedDate, scheduledPurgeDate.
    Info,
    /// `policy.json` as it was.
    Policy,
    /// `cert.pem` of its newest version.
    CertPem,
    /// `cert.cer` of its newest version.
    CertCer,
}

impl DeletedFile {
    /// Every file, in listing order.
    pub const ALL: [DeletedFile; 4] = [
        DeletedFile::Info,
        DeletedFile::Policy,
        DeletedFile::CertPem,
        DeletedFile::CertCer,
    ];

    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            DeletedFile::Info => "deleted.json",
            DeletedFile::Policy => "policy.json",
            DeletedFile::CertPem => "cert.pem",
            DeletedFile::CertCer => "cert.cer",
        }
    }

    /// The file for a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// An address in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// The mount root: one directory per vault.
    Root,
    /// `<vault>/`
    Vault(VaultName),
    /// `<vault>/<cert>/` (a draft until its policy is written)
    Certificate(VaultName, CertificateName),
    /// `<vault>/import/`: drop-box for `<name>.pfx`, `.p12` or `.pem`.
    Import(VaultName),
    /// `<vault>/vault.json` and the vault's other files.
    VaultFile(VaultName, VaultFile),
    /// `<vault>/restore/`: drop-box for `backup.blob` files.
    Restore(VaultName),
    /// `metrics.prom` at the mount root.
    Metrics,
    /// `live/`: the certbot-compatible view.
    Live,
    /// `live/<vault>.<cert>/`
    LiveCertificate(VaultName, CertificateName),
    /// `<vault>/issuers/`: the vault's configured issuers.
    Issuers(VaultName),
    /// `<vault>/issuers/<name>.json`
    IssuerFile(VaultName, CertificateName),
    /// `<vault>/issuers/<name>.pem`: an Internal issuer's CA certificate.
    IssuerCa(VaultName, CertificateName),
    /// `<vault>/issuers/<name>.crl`: an Internal issuer's CRL.
    IssuerCrl(VaultName, CertificateName),
    /// `<vault>/issuers/<name>/`: what the issuer issued and revoked.
    IssuerDir(VaultName, CertificateName),
    /// `<vault>/issuers/<name>/issued/`
    IssuedDir(VaultName, CertificateName),
    /// `<vault>/issuers/<name>/revoked/`: `mv` from `issued/` revokes.
    RevokedDir(VaultName, CertificateName),
    /// `<vault>/issuers/<name>/sign/`: drop-box for CSRs (Internal issuers).
    SignDir(VaultName, CertificateName),
    /// `<vault>/issuers/<name>/issued/<SERIAL>.pem`
    IssuedCert(VaultName, CertificateName, String),
    /// `<vault>/issuers/<name>/revoked/<SERIAL>.pem`
    RevokedCert(VaultName, CertificateName, String),
    /// `<vault>/deleted/`: soft-deleted certificates.
    Deleted(VaultName),
    /// `<vault>/deleted/<cert>/`
    DeletedCertificate(VaultName, CertificateName),
    /// A file of `<vault>/deleted/<cert>/`.
    DeletedFile(VaultName, CertificateName, DeletedFile),
    /// `<vault>/<cert>/merge/`: drop-box for the signed certificate of a pending operation.
    Merge(VaultName, CertificateName),
    /// `<vault>/<cert>/versions/`
    Versions(VaultName, CertificateName),
    /// `<vault>/<cert>/versions/<id>/`
    Version(VaultName, CertificateName, VersionId),
    /// A file of one version, at the top of the certificate (`current`) or in `versions/<id>/`.
    VersionFile {
        /// Vault.
        vault: VaultName,
        /// Certificate.
        cert: CertificateName,
        /// The version the bytes come from.
        version: VersionId,
        /// Which file.
        file: VersionFile,
        /// True for the top-level name (the current version), false under `versions/`.
        current: bool,
    },
    /// `policy.json` or `tags.json` of a certificate.
    CertificateFile(VaultName, CertificateName, CertificateFile),
    /// A scratch file or an `.error` report, held in memory in a writable directory.
    Side(Box<Node>, String),
}

impl Node {
    /// The vault this node belongs to (none for the root).
    pub fn vault(&self) -> Option<&VaultName> {
        match self {
            Node::Root | Node::Metrics | Node::Live => None,
            Node::LiveCertificate(v, _) => Some(v),
            Node::Vault(v)
            | Node::Import(v)
            | Node::VaultFile(v, _)
            | Node::Restore(v)
            | Node::Issuers(v)
            | Node::IssuerFile(v, _)
            | Node::IssuerCa(v, _)
            | Node::IssuerCrl(v, _)
            | Node::IssuerDir(v, _)
            | Node::IssuedDir(v, _)
            | Node::RevokedDir(v, _)
            | Node::SignDir(v, _)
            | Node::IssuedCert(v, _, _)
            | Node::RevokedCert(v, _, _)
            | Node::Deleted(v)
            | Node::DeletedCertificate(v, _)
            | Node::DeletedFile(v, _, _)
            | Node::Certificate(v, _)
            | Node::Merge(v, _)
            | Node::Versions(v, _)
            | Node::Version(v, _, _)
            | Node::CertificateFile(v, _, _)
            | Node::VersionFile { vault: v, .. } => Some(v),
            Node::Side(dir, _) => dir.vault(),
        }
    }

    /// Whether this node is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(
            self,
            Node::Root
                | Node::Live
                | Node::LiveCertificate(..)
                | Node::Vault(_)
                | Node::Import(_)
                | Node::Issuers(_)
                | Node::IssuerDir(..)
                | Node::IssuedDir(..)
                | Node::RevokedDir(..)
                | Node::SignDir(..)
                | Node::Restore(_)
                | Node::Deleted(_)
                | Node::DeletedCertificate(..)
                | Node::Certificate(..)
                | Node::Merge(..)
                | Node::Versions(..)
                | Node::Version(..)
        )
    }
}

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Directory,
    /// A regular file.
    File,
}

/// What `stat` shows of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// File or directory.
    pub kind: Kind,
    /// Exactly the number of bytes a read returns.
    pub size: u64,
    /// Permission bits.
    pub mode: u16,
    /// Modification time (a version file: when its version was created).
    pub mtime: SystemTime,
    /// True when the bytes behind this node never change (the kernel may keep them cached).
    pub immutable: bool,
    /// True when the name this node was found by may name another node at
    /// any moment (the top-level files of a certificate switch to a new
    /// version), or go when another action is done (an `.error` report):
    /// the kernel must not cache the name.
    pub switches: bool,
    /// True when the name moves to the next version's node when another
    /// version becomes current (a certificate's top-level files). The
    /// kernel may cache it only while a switch drops every cached name at
    /// once: the service tells of each switch with the model's write lock
    /// held ([`super::changes::SwitchHook`]).
    pub current: bool,
    /// Owner and group when not the mount's owner (a stored `chown`/`chgrp`).
    pub owner: Option<(u32, u32)>,
}

/// A named child of a directory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name as listed (case as created).
    pub name: String,
    /// Its address.
    pub node: Node,
    /// File or directory.
    pub kind: Kind,
}

/// The attributes of a directory changed last at `mtime`.
pub(crate) fn dir_attr(mtime: i64) -> Attr {
    Attr {
        kind: Kind::Directory,
        size: 0,
        mode: 0o755,
        mtime: super::clock::to_time(mtime),
        immutable: false,
        switches: false,
        current: false,
        owner: None,
    }
}

/// The attributes of a file of `size` bytes.
pub(crate) fn file_attr(size: usize, mode: u16, mtime: i64, immutable: bool) -> Attr {
    Attr {
        kind: Kind::File,
        size: size as u64,
        mode,
        mtime: super::clock::to_time(mtime),
        immutable,
        switches: false,
        current: false,
        owner: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_files_are_listed_in_declaration_order_and_named_uniquely() {
        // `Version::file` indexes its cache by the discriminant.
        for (i, file) in VersionFile::ALL.into_iter().enumerate() {
            assert_eq!(file as usize, i);
            assert_eq!(VersionFile::from_name(file.file_name()), Some(file));
        }
        for file in CertificateFile::ALL {
            assert_eq!(CertificateFile::from_name(file.file_name()), Some(file));
            assert_eq!(VersionFile::from_name(file.file_name()), None);
        }
    }
}
