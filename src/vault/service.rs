//! [`VaultService`]: the tree's answers (lookup, list, read) and its actions (mkdir, write on close, rename, rm).
//!
//! Reads come from the in-memory model under a short read lock. Actions
//! that change the store run in three steps: check and do the slow work
//! (parse, key generation, issuing) holding no lock; write the store under
//! the writer lock (one transaction); publish to the model under a brief
//! write lock. A reader therefore never waits for the disk, a key or a CA,
//! and sees a new version everywhere at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use super::error::VaultError;
use super::model::{CertificateState, State, VaultState, Version};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::{Attr, CertificateFile, Entry, Kind, Node, VersionFile};
use super::policy::Policy;
use super::side::{self, SideFiles};
use super::tags;
use crate::issuers::self_signed::SelfSigned;
use crate::issuers::{IssueRequest, Issuer, IssuerError};
use crate::pki::key::PrivateKey;
use crate::pki::x509;
use crate::store::{CertificateRecord, KeyBytes, Store, VaultRecord, VersionRecord};

/// The largest file certfs accepts from a writer (policy, tags, imports).
pub const MAX_WRITE_SIZE: usize = 1 << 20;

const VERSIONS_DIR: &str = "versions";

/// Directories whose listing changed because of an action; the adapter
/// drops the kernel's cached entries and attributes under them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The changed directories.
    pub dirs: Vec<Node>,
}

/// The vault service. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct VaultService {
    state: RwLock<State>,
    side: RwLock<SideFiles>,
    store: Mutex<Box<dyn Store>>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn to_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn dir_attr(mtime: i64) -> Attr {
    Attr {
        kind: Kind::Directory,
        size: 0,
        mode: 0o755,
        mtime: to_time(mtime),
        immutable: false,
    }
}

fn file_attr(size: usize, mode: u16, mtime: i64, immutable: bool) -> Attr {
    Attr {
        kind: Kind::File,
        size: size as u64,
        mode,
        mtime: to_time(mtime),
        immutable,
    }
}

fn not_found(what: &str) -> VaultError {
    VaultError::NotFound(format!("{what} not found"))
}

impl VaultService {
    /// Opens the service on `store`, loading everything it holds.
    pub fn open(store: Box<dyn Store>) -> Result<Self, VaultError> {
        let snapshot = store.load()?;
        let mut state = State::default();
        for v in snapshot.vaults {
            let name = VaultName::parse(&v.name)
                .map_err(|e| VaultError::Internal(format!("stored vault name: {e}")))?;
            state.vaults.insert(
                name.clone(),
                VaultState {
                    name,
                    created: v.created,
                    certificates: BTreeMap::new(),
                    drafts: Default::default(),
                },
            );
        }
        for c in snapshot.certificates {
            let cert = certificate_from_record(&c)?;
            let vault = VaultName::parse(&c.vault)
                .map_err(|e| VaultError::Internal(format!("stored vault name: {e}")))?;
            let vault = state.vaults.get_mut(&vault).ok_or_else(|| {
                VaultError::Internal(format!("certificate {} has no vault", c.name))
            })?;
            vault.certificates.insert(cert.name.clone(), cert);
        }
        for v in snapshot.versions {
            let (vault, cert) = (
                VaultName::parse(&v.vault),
                CertificateName::parse(&v.certificate),
            );
            let (Ok(vault), Ok(cert)) = (vault, cert) else {
                return Err(VaultError::Internal(format!(
                    "stored version {} has a bad owner",
                    v.id
                )));
            };
            let owner = state
                .vaults
                .get_mut(&vault)
                .and_then(|vs| vs.certificates.get_mut(&cert))
                .ok_or_else(|| {
                    VaultError::Internal(format!("version {} has no certificate", v.id))
                })?;
            if let Some(version) = version_from_record(&v, owner.name.as_str())? {
                owner.versions.push(Arc::new(version));
            }
        }
        Ok(VaultService {
            state: RwLock::new(state),
            side: RwLock::new(SideFiles::default()),
            store: Mutex::new(store),
        })
    }

    // ----- reading the tree -------------------------------------------------

    /// The child `name` of directory `dir`.
    pub fn lookup(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        let node = self.child(dir, name)?;
        let attr = self.getattr(&node)?;
        Ok((node, attr))
    }

    fn child(&self, dir: &Node, name: &str) -> Result<Node, VaultError> {
        if self.side.read().get(dir, name).is_some() {
            return Ok(Node::Side(Box::new(dir.clone()), name.to_owned()));
        }
        let st = self.state.read();
        let missing = || not_found(name);
        match dir {
            Node::Root => {
                let vault = VaultName::parse(name).map_err(|_| missing())?;
                let vs = st.vaults.get(&vault).ok_or_else(missing)?;
                Ok(Node::Vault(vs.name.clone()))
            }
            Node::Vault(v) => {
                let vs = st.vaults.get(v).ok_or_else(missing)?;
                let cert = CertificateName::parse(name).map_err(|_| missing())?;
                if let Some(cs) = vs.certificates.get(&cert) {
                    return Ok(Node::Certificate(vs.name.clone(), cs.name.clone()));
                }
                let draft = vs.drafts.get(&cert).ok_or_else(missing)?;
                Ok(Node::Certificate(vs.name.clone(), draft.clone()))
            }
            Node::Certificate(v, c) => {
                let cs = certificate(&st, v, c)?;
                if name == VERSIONS_DIR {
                    return Ok(Node::Versions(v.clone(), c.clone()));
                }
                if let Some(file) = CertificateFile::from_name(name) {
                    return Ok(Node::CertificateFile(v.clone(), c.clone(), file));
                }
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                let current = cs.current().ok_or_else(missing)?;
                if !cs.shows(current, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: current.id.clone(),
                    file,
                    current: true,
                })
            }
            Node::Versions(v, c) => {
                let cs = certificate(&st, v, c)?;
                let id = VersionId::parse(name).map_err(|_| missing())?;
                let version = cs.version(&id).ok_or_else(missing)?;
                Ok(Node::Version(v.clone(), c.clone(), version.id.clone()))
            }
            Node::Version(v, c, id) => {
                let cs = certificate(&st, v, c)?;
                let version = cs.version(id).ok_or_else(missing)?;
                let file = VersionFile::from_name(name).ok_or_else(missing)?;
                if !cs.shows(version, file) {
                    return Err(missing());
                }
                Ok(Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: id.clone(),
                    file,
                    current: false,
                })
            }
            Node::VersionFile { .. } | Node::CertificateFile(..) | Node::Side(..) => Err(
                VaultError::NotDirectory(format!("{name}: parent is not a directory")),
            ),
        }
    }

    /// What `stat` shows for `node`.
    pub fn getattr(&self, node: &Node) -> Result<Attr, VaultError> {
        if let Node::Side(dir, name) = node {
            let side = self.side.read();
            let f = side.get(dir, name).ok_or_else(|| not_found(name))?;
            return Ok(file_attr(f.data.len(), 0o644, f.mtime, false));
        }
        let st = self.state.read();
        match node {
            Node::Root => Ok(dir_attr(0)),
            Node::Vault(v) => Ok(dir_attr(vault(&st, v)?.created)),
            Node::Certificate(v, c) => {
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => Ok(dir_attr(cs.updated)),
                    None if vs.drafts.contains(c) => Ok(dir_attr(vs.created)),
                    None => Err(not_found(c.as_str())),
                }
            }
            Node::Versions(v, c) => Ok(dir_attr(certificate(&st, v, c)?.updated)),
            Node::Version(v, c, id) => {
                let version = certificate(&st, v, c)?
                    .version(id)
                    .ok_or_else(|| not_found(id.as_str()))?;
                Ok(dir_attr(version.created))
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                ..
            } => {
                let version = certificate(&st, v, c)?
                    .version(version)
                    .ok_or_else(|| not_found(file.file_name()))?
                    .clone();
                drop(st);
                let bytes = version.file(*file)?;
                let mode = if file.holds_key() { 0o600 } else { 0o444 };
                Ok(file_attr(bytes.len(), mode, version.created, true))
            }
            Node::CertificateFile(v, c, file) => {
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => {
                        let bytes = match file {
                            CertificateFile::Policy => &cs.policy_json,
                            CertificateFile::Tags => &cs.tags_json,
                        };
                        Ok(file_attr(bytes.len(), 0o644, cs.updated, false))
                    }
                    // The policy of a draft exists only while someone writes it.
                    None if vs.drafts.contains(c) && *file == CertificateFile::Policy => {
                        Ok(file_attr(0, 0o644, vs.created, false))
                    }
                    None => Err(not_found(file.file_name())),
                }
            }
            Node::Side(..) => unreachable!("handled above"),
        }
    }

    /// The entries of directory `dir`, in a stable order.
    pub fn readdir(&self, dir: &Node) -> Result<Vec<Entry>, VaultError> {
        let mut out = Vec::new();
        {
            let st = self.state.read();
            let entry = |name: &str, node: Node, kind: Kind| Entry {
                name: name.to_owned(),
                node,
                kind,
            };
            match dir {
                Node::Root => {
                    for vs in st.vaults.values() {
                        out.push(entry(
                            vs.name.as_str(),
                            Node::Vault(vs.name.clone()),
                            Kind::Directory,
                        ));
                    }
                }
                Node::Vault(v) => {
                    let vs = vault(&st, v)?;
                    let names = vs.certificates.keys().chain(vs.drafts.iter());
                    for c in names {
                        out.push(entry(
                            c.as_str(),
                            Node::Certificate(vs.name.clone(), c.clone()),
                            Kind::Directory,
                        ));
                    }
                }
                Node::Certificate(v, c) => {
                    let vs = vault(&st, v)?;
                    if let Some(cs) = vs.certificates.get(c) {
                        for file in CertificateFile::ALL {
                            out.push(entry(
                                file.file_name(),
                                Node::CertificateFile(v.clone(), c.clone(), file),
                                Kind::File,
                            ));
                        }
                        out.push(entry(
                            VERSIONS_DIR,
                            Node::Versions(v.clone(), c.clone()),
                            Kind::Directory,
                        ));
                        if let Some(current) = cs.current() {
                            version_entries(cs, current, true, v, c, &mut out);
                        }
                    } else if !vs.drafts.contains(c) {
                        return Err(not_found(c.as_str()));
                    }
                }
                Node::Versions(v, c) => {
                    for version in &certificate(&st, v, c)?.versions {
                        let node = Node::Version(v.clone(), c.clone(), version.id.clone());
                        out.push(entry(version.id.as_str(), node, Kind::Directory));
                    }
                }
                Node::Version(v, c, id) => {
                    let cs = certificate(&st, v, c)?;
                    let version = cs.version(id).ok_or_else(|| not_found(id.as_str()))?;
                    version_entries(cs, version, false, v, c, &mut out);
                }
                Node::VersionFile { .. } | Node::CertificateFile(..) | Node::Side(..) => {
                    return Err(VaultError::NotDirectory("not a directory".into()));
                }
            }
        }
        let side = self.side.read();
        for (name, _) in side.list(dir) {
            out.push(Entry {
                name: name.clone(),
                node: Node::Side(Box::new(dir.clone()), name.clone()),
                kind: Kind::File,
            });
        }
        Ok(out)
    }

    /// The bytes of file `node`, as one snapshot (an open file keeps it).
    pub fn read(&self, node: &Node) -> Result<Arc<[u8]>, VaultError> {
        match node {
            Node::Side(dir, name) => {
                let side = self.side.read();
                Ok(side
                    .get(dir, name)
                    .ok_or_else(|| not_found(name))?
                    .data
                    .clone())
            }
            Node::VersionFile {
                vault: v,
                cert: c,
                version,
                file,
                ..
            } => {
                let version = {
                    let st = self.state.read();
                    let cs = certificate(&st, v, c)?;
                    let version = cs
                        .version(version)
                        .ok_or_else(|| not_found(file.file_name()))?;
                    if !cs.shows(version, *file) {
                        return Err(not_found(file.file_name()));
                    }
                    version.clone()
                };
                version.file(*file)
            }
            Node::CertificateFile(v, c, file) => {
                let st = self.state.read();
                let vs = vault(&st, v)?;
                match vs.certificates.get(c) {
                    Some(cs) => Ok(match file {
                        CertificateFile::Policy => cs.policy_json.clone(),
                        CertificateFile::Tags => cs.tags_json.clone(),
                    }),
                    None if vs.drafts.contains(c) => Ok(Arc::from(&b""[..])),
                    None => Err(not_found(file.file_name())),
                }
            }
            _ => Err(VaultError::IsDirectory("is a directory".into())),
        }
    }

    // ----- writing files ----------------------------------------------------

    /// Checks that `node` may be opened for writing.
    pub fn check_writable(&self, node: &Node) -> Result<(), VaultError> {
        match node {
            Node::Side(..) | Node::CertificateFile(..) => self.getattr(node).map(|_| ()),
            Node::VersionFile { file, .. } => Err(VaultError::NotPermitted(format!(
                "{} is read-only: it is made from the certificate's version",
                file.file_name()
            ))),
            _ => Err(VaultError::IsDirectory("is a directory".into())),
        }
    }

    /// Creates the new file `name` in `dir` for writing (`O_CREAT`).
    pub fn create(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        if let Ok(node) = self.child(dir, name) {
            self.check_writable(&node)?;
            let attr = self.getattr(&node)?;
            return Ok((node, attr));
        }
        let node = match dir {
            Node::Certificate(v, c) if name == CertificateFile::Policy.file_name() => {
                Node::CertificateFile(v.clone(), c.clone(), CertificateFile::Policy)
            }
            _ => {
                self.check_side_dir(dir, name)?;
                self.side.write().put(dir, name, Arc::from(&b""[..]), now());
                Node::Side(Box::new(dir.clone()), name.to_owned())
            }
        };
        let attr = self.getattr(&node)?;
        Ok((node, attr))
    }

    /// Whether `dir` may hold the side file `name`.
    fn check_side_dir(&self, dir: &Node, name: &str) -> Result<(), VaultError> {
        match dir {
            Node::Vault(_) | Node::Certificate(..) => {
                self.getattr(dir)?;
                if name == VERSIONS_DIR || VersionFile::from_name(name).is_some() {
                    return Err(VaultError::NotPermitted(format!(
                        "{name} is made by certfs"
                    )));
                }
                Ok(())
            }
            Node::Root => Err(VaultError::NotPermitted(
                "only vault directories can be made at the mount root (mkdir NAME)".into(),
            )),
            _ => Err(VaultError::NotPermitted(
                "this directory is read-only".into(),
            )),
        }
    }

    /// The close-time action: `data` was written to `node`. On refusal the
    /// reason is also left in `<name>.error` beside the file.
    pub fn write(&self, node: &Node, data: &[u8]) -> Result<Changes, VaultError> {
        if let Node::Side(dir, name) = node {
            self.side.write().put(dir, name, Arc::from(data), now());
            return Ok(Changes::default());
        }
        let result = if data.len() > MAX_WRITE_SIZE {
            // The writer's bytes past the limit were never kept: say the limit, not a size.
            Err(VaultError::TooLarge(format!(
                "The file is larger than {MAX_WRITE_SIZE} bytes (1 MiB), the most certfs accepts"
            )))
        } else {
            match node {
                Node::CertificateFile(v, c, CertificateFile::Policy) => {
                    self.write_policy(v, c, data)
                }
                Node::CertificateFile(v, c, CertificateFile::Tags) => self.write_tags(v, c, data),
                _ => Err(VaultError::NotPermitted("this file is read-only".into())),
            }
        };
        self.report(node, &result);
        result
    }

    /// Leaves `<name>.error` for a refusal, or removes a stale one after success.
    fn report<T>(&self, node: &Node, result: &Result<T, VaultError>) {
        let Some((dir, name)) = self.location(node) else {
            return;
        };
        let error_name = side::error_name(&name);
        let mut side = self.side.write();
        match result {
            Ok(_) => {
                side.remove(&dir, &error_name);
            }
            Err(e) => {
                log::warn!("{name}: {e}");
                side.put(
                    &dir,
                    &error_name,
                    Arc::from(e.to_error_json().into_bytes()),
                    now(),
                );
            }
        }
    }

    /// The directory and name of a file node.
    fn location(&self, node: &Node) -> Option<(Node, String)> {
        match node {
            Node::CertificateFile(v, c, f) => Some((
                Node::Certificate(v.clone(), c.clone()),
                f.file_name().into(),
            )),
            Node::Side(dir, name) => Some(((**dir).clone(), name.clone())),
            _ => None,
        }
    }

    fn write_policy(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let policy = Policy::parse(data).map_err(|e| VaultError::BadParameter(e.message))?;
        let issuer = issuer_for(&policy)?;
        // Which key: a renewal with reuse_key keeps the current one.
        let reuse = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            if !vs.certificates.contains_key(c) && !vs.drafts.contains(c) {
                return Err(not_found(c.as_str()));
            }
            vs.certificates
                .get(c)
                .filter(|_| policy.key.reuse_key)
                .and_then(|cs| cs.current())
                .filter(|cur| {
                    cur.key
                        .as_ref()
                        .is_some_and(|k| k.spec() == policy.key.spec)
                })
                .and_then(|cur| {
                    cur.key
                        .as_ref()
                        .map(|k| PrivateKey::from_pkcs8_der(k.pkcs8_der()))
                })
                .transpose()?
        };
        let key = match reuse {
            Some(key) => key,
            None => PrivateKey::generate(policy.key.spec)?,
        };
        let spec = policy.certificate_spec();
        let issued = issuer
            .issue(&IssueRequest {
                certificate_name: c.as_str(),
                spec: &spec,
                key: &key,
            })
            .map_err(|e| match e {
                IssuerError::Pki(p) => VaultError::from(p),
                IssuerError::Rejected(m) => VaultError::BadParameter(m),
            })?;
        let info = x509::inspect(&issued.leaf)?;
        let policy_json = policy.to_json();

        let mut store = self.store.lock();
        let t = now();
        let (record, name) = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            match vs.certificates.get(c) {
                Some(cs) => (
                    CertificateRecord {
                        vault: vs.name.to_string(),
                        name: cs.name.to_string(),
                        policy: policy_json.clone(),
                        tags: String::from_utf8_lossy(&cs.tags_json).into_owned(),
                        created: cs.created,
                        updated: t,
                    },
                    cs.name.clone(),
                ),
                None => {
                    let name = vs
                        .drafts
                        .get(c)
                        .cloned()
                        .ok_or_else(|| not_found(c.as_str()))?;
                    let record = CertificateRecord {
                        vault: vs.name.to_string(),
                        name: name.to_string(),
                        policy: policy_json.clone(),
                        tags: tags::to_json(&BTreeMap::new()),
                        created: t,
                        updated: t,
                    };
                    (record, name)
                }
            }
        };
        let id = VersionId::random();
        let version_record = VersionRecord {
            vault: record.vault.clone(),
            certificate: record.name.clone(),
            id: id.to_string(),
            created: t,
            updated: t,
            enabled: true,
            certificate_der: Some(issued.leaf.clone()),
            chain_der: issued.chain.clone(),
            key: Some(KeyBytes(zeroize::Zeroizing::new(key.pkcs8_der().to_vec()))),
        };
        store.put_certificate(&record, Some(&version_record))?;
        let version = Version::new(
            id,
            t,
            t,
            true,
            issued.leaf,
            issued.chain,
            Some(key),
            info,
            name.to_string(),
        );
        {
            let mut st = self.state.write();
            let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
            vs.drafts.remove(c);
            let cs = match vs.certificates.get_mut(c) {
                Some(cs) => cs,
                None => vs
                    .certificates
                    .entry(name.clone())
                    .or_insert(certificate_from_record(&record)?),
            };
            cs.policy = Arc::new(policy);
            cs.policy_json = Arc::from(policy_json.into_bytes());
            cs.updated = t;
            cs.versions.push(Arc::new(version));
        }
        drop(store);
        log::info!(
            "{v}/{name}: new version {} issued by {}",
            version_record.id,
            issuer.name()
        );
        Ok(Changes {
            dirs: vec![
                Node::Vault(v.clone()),
                Node::Certificate(v.clone(), c.clone()),
                Node::Versions(v.clone(), c.clone()),
            ],
        })
    }

    fn write_tags(
        &self,
        v: &VaultName,
        c: &CertificateName,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let tags = tags::parse(data)?;
        let json = tags::to_json(&tags);
        let mut store = self.store.lock();
        let t = now();
        let record = {
            let st = self.state.read();
            let vs = vault(&st, v)?;
            let cs = vs
                .certificates
                .get(c)
                .ok_or_else(|| not_found(c.as_str()))?;
            CertificateRecord {
                vault: vs.name.to_string(),
                name: cs.name.to_string(),
                policy: String::from_utf8_lossy(&cs.policy_json).into_owned(),
                tags: json.clone(),
                created: cs.created,
                updated: t,
            }
        };
        store.put_certificate(&record, None)?;
        let mut st = self.state.write();
        let cs = st
            .vaults
            .get_mut(v)
            .and_then(|vs| vs.certificates.get_mut(c))
            .ok_or_else(|| not_found(c.as_str()))?;
        cs.tags = tags;
        cs.tags_json = Arc::from(json.into_bytes());
        cs.updated = t;
        Ok(Changes {
            dirs: vec![Node::Certificate(v.clone(), c.clone())],
        })
    }

    /// Empties the side file `node` (`truncate` without an open handle).
    pub fn truncate(&self, node: &Node) -> Result<(), VaultError> {
        match node {
            Node::Side(dir, name) => {
                let mut side = self.side.write();
                side.get(dir, name).ok_or_else(|| not_found(name))?;
                side.put(dir, name, Arc::from(&b""[..]), now());
                Ok(())
            }
            // Truncating a real file only takes effect with the write that follows.
            Node::CertificateFile(..) => self.getattr(node).map(|_| ()),
            _ => self.check_writable(node),
        }
    }

    // ----- directories ------------------------------------------------------

    /// `mkdir`: a vault at the root, a draft certificate in a vault.
    pub fn mkdir(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        let result = self.mkdir_inner(dir, name);
        if let Err(e) = &result {
            log::warn!("mkdir {name}: {e}");
            if matches!(dir, Node::Vault(_)) && matches!(e, VaultError::BadParameter(_)) {
                self.side.write().put(
                    dir,
                    &side::error_name(name),
                    Arc::from(e.to_error_json().into_bytes()),
                    now(),
                );
            }
        }
        result
    }

    fn mkdir_inner(&self, dir: &Node, name: &str) -> Result<(Node, Attr), VaultError> {
        if self.side.read().get(dir, name).is_some() {
            return Err(VaultError::AlreadyExists(format!("{name} exists")));
        }
        match dir {
            Node::Root => {
                let name = VaultName::parse(name).map_err(|e| VaultError::BadParameter(e.0))?;
                let t = now();
                let mut store = self.store.lock();
                if let Some(existing) = self.state.read().vaults.get(&name) {
                    return Err(VaultError::AlreadyExists(format!(
                        "A vault named {} exists",
                        existing.name
                    )));
                }
                store.create_vault(&VaultRecord {
                    name: name.to_string(),
                    created: t,
                })?;
                self.state.write().vaults.insert(
                    name.clone(),
                    VaultState {
                        name: name.clone(),
                        created: t,
                        certificates: BTreeMap::new(),
                        drafts: Default::default(),
                    },
                );
                log::info!("vault {name} created");
                Ok((Node::Vault(name), dir_attr(t)))
            }
            Node::Vault(v) => {
                let cert =
                    CertificateName::parse(name).map_err(|e| VaultError::BadParameter(e.0))?;
                let mut st = self.state.write();
                let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
                if let Some(existing) = vs
                    .certificates
                    .keys()
                    .chain(vs.drafts.iter())
                    .find(|n| **n == cert)
                {
                    return Err(VaultError::AlreadyExists(format!(
                        "A certificate named {existing} exists"
                    )));
                }
                vs.drafts.insert(cert.clone());
                Ok((
                    Node::Certificate(vs.name.clone(), cert),
                    dir_attr(vs.created),
                ))
            }
            _ => Err(VaultError::NotPermitted(
                "directories are made at the root (vaults) and in vaults (certificates)".into(),
            )),
        }
    }

    /// `rmdir`: an empty vault, or a draft certificate.
    pub fn rmdir(&self, dir: &Node, name: &str) -> Result<(), VaultError> {
        let node = self.child(dir, name)?;
        if self.side.read().has_any(&node) {
            return Err(VaultError::NotEmpty(format!(
                "{name} holds files; remove them first"
            )));
        }
        match &node {
            Node::Vault(v) => {
                let mut store = self.store.lock();
                {
                    let st = self.state.read();
                    let vs = vault(&st, v)?;
                    if !vs.certificates.is_empty() || !vs.drafts.is_empty() {
                        return Err(VaultError::NotEmpty(format!(
                            "Vault {v} still holds certificates"
                        )));
                    }
                }
                store.delete_vault(v.as_str())?;
                self.state.write().vaults.remove(v);
                log::info!("vault {v} removed");
                Ok(())
            }
            Node::Certificate(v, c) => {
                let mut st = self.state.write();
                let vs = st.vaults.get_mut(v).ok_or_else(|| not_found(v.as_str()))?;
                if vs.certificates.contains_key(c) {
                    return Err(VaultError::NotEmpty(format!(
                        "Certificate {c} has versions; certificates are not deleted with rmdir"
                    )));
                }
                vs.drafts.remove(c);
                Ok(())
            }
            Node::Side(..) => Err(VaultError::NotDirectory(format!(
                "{name} is not a directory"
            ))),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} is made by certfs"
            ))),
        }
    }

    /// `unlink`: side files and error reports only.
    pub fn unlink(&self, dir: &Node, name: &str) -> Result<(), VaultError> {
        let node = self.child(dir, name)?;
        match node {
            Node::Side(dir, name) => {
                self.side.write().remove(&dir, &name);
                Ok(())
            }
            n if n.is_dir() => Err(VaultError::IsDirectory(format!("{name} is a directory"))),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} is made by certfs and cannot be removed"
            ))),
        }
    }

    /// `rename`. A side file renamed onto `policy.json` or `tags.json` is
    /// written to it (how `sed -i`, rsync and some editors save); a real
    /// file renamed to a side name is copied there (how vim makes its
    /// backup) and stays in place; side files move freely within and
    /// between writable directories.
    pub fn rename(
        &self,
        dir: &Node,
        name: &str,
        new_dir: &Node,
        new_name: &str,
        no_replace: bool,
    ) -> Result<Changes, VaultError> {
        let from = self.child(dir, name)?;
        let to = self.child(new_dir, new_name).ok();
        if no_replace && to.is_some() {
            return Err(VaultError::AlreadyExists(format!("{new_name} exists")));
        }
        match (&from, &to) {
            (Node::Side(..), Some(target @ Node::CertificateFile(..))) => {
                let data = self.read(&from)?;
                let changes = self.write(target, &data)?;
                self.side.write().remove(dir, name);
                Ok(changes)
            }
            (Node::Side(..), Some(Node::Side(..)) | None) => {
                if to.is_none() {
                    self.check_side_dir(new_dir, new_name)?;
                    if matches!(new_dir, Node::Certificate(..))
                        && CertificateFile::from_name(new_name).is_some()
                    {
                        // Renaming onto a draft's policy.json.
                        let target = self.create(new_dir, new_name)?.0;
                        let data = self.read(&from)?;
                        let changes = self.write(&target, &data)?;
                        self.side.write().remove(dir, name);
                        return Ok(changes);
                    }
                }
                let mut side = self.side.write();
                let file = side.remove(dir, name).ok_or_else(|| not_found(name))?;
                side.put(new_dir, new_name, file.data, file.mtime);
                Ok(Changes::default())
            }
            (Node::CertificateFile(..), None | Some(Node::Side(..))) => {
                self.check_side_dir(new_dir, new_name)?;
                let data = self.read(&from)?;
                self.side.write().put(new_dir, new_name, data, now());
                Ok(Changes::default())
            }
            (n, _) if n.is_dir() => Err(VaultError::NotPermitted(
                "vaults and certificates cannot be renamed (Key Vault names are fixed)".into(),
            )),
            _ => Err(VaultError::NotPermitted(format!(
                "{name} cannot be renamed to {new_name}"
            ))),
        }
    }
}

fn version_entries(
    cs: &CertificateState,
    version: &Version,
    current: bool,
    v: &VaultName,
    c: &CertificateName,
    out: &mut Vec<Entry>,
) {
    for file in VersionFile::ALL {
        if cs.shows(version, file) {
            out.push(Entry {
                name: file.file_name().to_owned(),
                node: Node::VersionFile {
                    vault: v.clone(),
                    cert: c.clone(),
                    version: version.id.clone(),
                    file,
                    current,
                },
                kind: Kind::File,
            });
        }
    }
}

fn vault<'a>(st: &'a State, v: &VaultName) -> Result<&'a VaultState, VaultError> {
    st.vaults.get(v).ok_or_else(|| not_found(v.as_str()))
}

fn certificate<'a>(
    st: &'a State,
    v: &VaultName,
    c: &CertificateName,
) -> Result<&'a CertificateState, VaultError> {
    vault(st, v)?
        .certificates
        .get(c)
        .ok_or_else(|| not_found(c.as_str()))
}

/// The issuer a policy names.
fn issuer_for(policy: &Policy) -> Result<Box<dyn Issuer>, VaultError> {
    match policy.issuer.name.as_str() {
        "Self" => Ok(Box::new(SelfSigned)),
        other => Err(VaultError::BadParameter(format!(
            "Issuer not found: {other}. This certfs issues certificates with issuer Self."
        ))),
    }
}

fn certificate_from_record(c: &CertificateRecord) -> Result<CertificateState, VaultError> {
    let name = CertificateName::parse(&c.name)
        .map_err(|e| VaultError::Internal(format!("stored certificate name: {e}")))?;
    let policy = Policy::parse(c.policy.as_bytes())
        .map_err(|e| VaultError::Internal(format!("stored policy of {}: {}", c.name, e.message)))?;
    let tags = tags::parse(c.tags.as_bytes())?;
    Ok(CertificateState {
        name,
        policy_json: Arc::from(policy.to_json().into_bytes()),
        policy: Arc::new(policy),
        tags_json: Arc::from(tags::to_json(&tags).into_bytes()),
        tags,
        created: c.created,
        updated: c.updated,
        versions: Vec::new(),
    })
}

/// A completed version from its record; pending versions (no certificate yet) are not shown.
fn version_from_record(
    v: &VersionRecord,
    friendly_name: &str,
) -> Result<Option<Version>, VaultError> {
    let Some(leaf) = v.certificate_der.clone() else {
        return Ok(None);
    };
    let id = VersionId::parse(&v.id)
        .map_err(|e| VaultError::Internal(format!("stored version id: {e}")))?;
    let key = v
        .key
        .as_ref()
        .map(|k| PrivateKey::from_pkcs8_der(&k.0))
        .transpose()
        .map_err(|e| VaultError::Internal(format!("stored key of version {id}: {e}")))?;
    let info = x509::inspect(&leaf)
        .map_err(|e| VaultError::Internal(format!("stored certificate {id}: {e}")))?;
    Ok(Some(Version::new(
        id,
        v.created,
        v.updated,
        v.enabled,
        leaf,
        v.chain_der.clone(),
        key,
        info,
        friendly_name.to_owned(),
    )))
}
