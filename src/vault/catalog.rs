//! [`Certificates`]: a vault's certificates (live, or soft-deleted) by name; each one's contents read from the store the first time something looks into it.
//!
//! Every name, with its times, is known from mount (the store's index), so
//! listing a vault and `stat` of its certificate directories read nothing
//! more. [`Certificates::get`] reads the rest (policy, versions, keys) on
//! first use and keeps it. A change to a certificate reads it before it
//! writes the store (every action asks for the certificate first), so what
//! is read is never newer than what is published.
//!
//! The renewal scheduler needs, of every certificate, when its lifetime
//! action is due: the renewal survey (`renewal/survey.rs`) reads that of each unread
//! certificate once (without keeping the certificate), so a pass reads only
//! the certificates whose action is due.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use super::access::{DIRECTORY, Perm};
use super::certificate_state::CertificateState;
use super::error::VaultError;
use super::name::{CertificateName, VaultName};
use super::shelf::Place;

/// A surveyed due time: not surveyed yet.
pub(crate) const DUE_UNKNOWN: i64 = i64::MIN;
/// A surveyed due time: no lifetime action will ever be due (no action, or no completed version).
pub(crate) const DUE_NEVER: i64 = i64::MAX;

/// Reads one certificate from the store.
pub(crate) trait Loader: Send + Sync {
    /// Certificate `name` of vault `vault`, as the model holds it; `None` if the store has none.
    fn load(
        &self,
        vault: &VaultName,
        name: &CertificateName,
    ) -> Result<Option<CertificateState>, VaultError>;

    /// When certificate `name`'s lifetime action is due for its current
    /// version (Unix seconds; `None`: never), read without keeping it.
    fn due(&self, vault: &VaultName, name: &CertificateName) -> Result<Option<i64>, VaultError>;

    /// Where the versions of certificate `name` are read again from, if
    /// this loader reads single versions.
    fn place(&self, _vault: &VaultName, _name: &CertificateName) -> Option<Arc<Place>> {
        None
    }
}

/// What is known of a certificate without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Last update, Unix seconds.
    pub updated: i64,
    /// When it was soft-deleted.
    pub deleted: Option<i64>,
    /// When a soft-deleted certificate is purged.
    pub purge_at: Option<i64>,
    /// The stored mode and owner of its directory, if any.
    pub directory: Option<Perm>,
}

impl Summary {
    fn of(cs: &CertificateState) -> Summary {
        Summary {
            updated: cs.updated,
            deleted: cs.deleted,
            purge_at: cs.purge_at,
            directory: cs.perms.get(DIRECTORY).copied(),
        }
    }
}

struct Slot {
    /// As of mount (the state, once read, is what counts).
    summary: Summary,
    /// When its lifetime action is due, while unread ([`DUE_UNKNOWN`] until surveyed).
    due: AtomicI64,
    state: OnceLock<Box<CertificateState>>,
}

impl Slot {
    fn read(state: CertificateState) -> Slot {
        Slot {
            summary: Summary::of(&state),
            due: AtomicI64::new(DUE_UNKNOWN),
            state: OnceLock::from(Box::new(state)),
        }
    }

    fn summary(&self) -> Summary {
        self.state
            .get()
            .map(|cs| Summary::of(cs))
            .unwrap_or(self.summary)
    }
}

/// Certificates by name (case-insensitive, case-preserving).
#[derive(Default)]
pub(crate) struct Certificates {
    map: BTreeMap<CertificateName, Slot>,
    /// Where unread certificates come from (`None`: all are read).
    source: Option<(VaultName, Arc<dyn Loader>)>,
}

impl Certificates {
    /// No certificates.
    pub fn new() -> Self {
        Self::default()
    }

    /// No certificates yet; those added by [`add_unread`](Self::add_unread)
    /// are read from `loader` as certificates of `vault` when first used.
    pub fn lazy(vault: VaultName, loader: Arc<dyn Loader>) -> Self {
        Certificates {
            map: BTreeMap::new(),
            source: Some((vault, loader)),
        }
    }

    /// Adds certificate `name`, known by its summary only.
    pub fn add_unread(&mut self, name: CertificateName, summary: Summary) {
        self.map.insert(
            name,
            Slot {
                summary,
                due: AtomicI64::new(DUE_UNKNOWN),
                state: OnceLock::new(),
            },
        );
    }

    /// The state in `slot`, reading it first if needed. A certificate that
    /// cannot be read is logged and treated as missing.
    fn state<'a>(&self, name: &CertificateName, slot: &'a Slot) -> Option<&'a CertificateState> {
        if let Some(cs) = slot.state.get() {
            return Some(cs);
        }
        let (vault, loader) = self.source.as_ref()?;
        match loader.load(vault, name) {
            Ok(Some(cs)) => {
                // Two first readers may race: both read the same stored state.
                let _ = slot.state.set(Box::new(cs));
                slot.state.get().map(|cs| &**cs)
            }
            Ok(None) => {
                log::error!("{vault}/{name}: listed in the store's index but not stored");
                None
            }
            Err(e) => {
                log::error!("{vault}/{name}: cannot be read: {}", e.message());
                None
            }
        }
    }

    /// Certificate `name`, read on first use.
    pub fn get(&self, name: &CertificateName) -> Option<&CertificateState> {
        let (key, slot) = self.map.get_key_value(name)?;
        self.state(key, slot)
    }

    /// Certificate `name` with its name as stored, read on first use.
    pub fn get_key_value(
        &self,
        name: &CertificateName,
    ) -> Option<(&CertificateName, &CertificateState)> {
        let (key, slot) = self.map.get_key_value(name)?;
        Some((key, self.state(key, slot)?))
    }

    /// Certificate `name`, for a change, read on first use.
    pub fn get_mut(&mut self, name: &CertificateName) -> Option<&mut CertificateState> {
        self.get(name)?;
        self.map
            .get_mut(name)
            .and_then(|slot| slot.state.get_mut())
            .map(|cs| &mut **cs)
    }

    /// Whether there is a certificate `name` (reads nothing).
    pub fn contains_key(&self, name: &CertificateName) -> bool {
        self.map.contains_key(name)
    }

    /// The stored spelling of name `name`, if there is such a certificate (reads nothing).
    pub fn key(&self, name: &CertificateName) -> Option<&CertificateName> {
        self.map.get_key_value(name).map(|(k, _)| k)
    }

    /// What is known of `name` without reading it.
    pub fn summary(&self, name: &CertificateName) -> Option<Summary> {
        self.map.get(name).map(Slot::summary)
    }

    /// Adds or replaces certificate `name` (a new one keeps `name`'s spelling, a replaced one its own).
    pub fn insert(&mut self, name: CertificateName, cs: CertificateState) {
        match self.map.get_mut(&name) {
            Some(slot) => *slot = Slot::read(cs),
            None => {
                self.map.insert(name, Slot::read(cs));
            }
        }
    }

    /// Removes certificate `name` and returns it (read first if needed).
    pub fn remove(&mut self, name: &CertificateName) -> Option<CertificateState> {
        self.get(name)?;
        self.map
            .remove(name)
            .and_then(|slot| slot.state.into_inner())
            .map(|cs| *cs)
    }

    /// The names, in order (reads nothing).
    pub fn keys(&self) -> impl Iterator<Item = &CertificateName> {
        self.map.keys()
    }

    /// Every certificate, in order, reading each one not read yet (all of
    /// them, in a big store: to find those with an operation in progress,
    /// [`loaded`](Self::loaded) is enough).
    pub fn values(&self) -> impl Iterator<Item = &CertificateState> {
        self.map.iter().filter_map(|(k, slot)| self.state(k, slot))
    }

    /// The certificates read so far, in order. Every certificate with an
    /// operation is among them: those are read at mount, and an operation
    /// starts by an action, which reads its certificate.
    pub fn loaded(&self) -> impl Iterator<Item = &CertificateState> {
        self.map
            .values()
            .filter_map(|slot| slot.state.get().map(|cs| &**cs))
    }

    /// The certificates not read yet, with when their lifetime action is
    /// due as surveyed ([`DUE_UNKNOWN`], [`DUE_NEVER`] or Unix seconds).
    pub fn unread(&self) -> impl Iterator<Item = (&CertificateName, i64)> {
        self.map
            .iter()
            .filter(|(_, slot)| slot.state.get().is_none())
            .map(|(k, slot)| (k, slot.due.load(Ordering::Relaxed)))
    }

    /// Records when unread certificate `name`'s lifetime action is due.
    pub fn set_due(&self, name: &CertificateName, due: i64) {
        if let Some(slot) = self.map.get(name) {
            slot.due.store(due, Ordering::Relaxed);
        }
    }

    /// Names and summaries, in order (reads nothing).
    pub fn summaries(&self) -> impl Iterator<Item = (&CertificateName, Summary)> {
        self.map.iter().map(|(k, slot)| (k, slot.summary()))
    }

    /// Where the versions of certificate `name` (one made now, too) are
    /// read again from, if its versions are read one by one.
    pub fn place(&self, name: &CertificateName) -> Option<Arc<Place>> {
        let (vault, loader) = self.source.as_ref()?;
        loader.place(vault, name)
    }

    /// The vault and the loader unread certificates are read with, if any.
    pub fn source(&self) -> Option<(VaultName, Arc<dyn Loader>)> {
        self.source.clone()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::CertificateRecord;
    use crate::vault::load::certificate_from_record;

    /// Reads `web` and `api` (counting reads); `broken` fails; others are absent.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    fn state(name: &str, updated: i64) -> CertificateState {
        certificate_from_record(&CertificateRecord {
            vault: "prod".into(),
            name: name.into(),
            policy: r#"{"x509_props":{"subject":"CN=x"},"issuer":{"name":"Self"}}"#.into(),
            tags: "{}".into(),
            created: 1,
            updated,
            operation: None,
            deleted: None,
            purge_at: None,
        })
        .unwrap()
    }

    impl Loader for Counting {
        fn load(
            &self,
            _vault: &VaultName,
            name: &CertificateName,
        ) -> Result<Option<CertificateState>, VaultError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            // Names compare in any case, as the store's do.
            match name.as_str().to_ascii_lowercase().as_str() {
                "broken" => Err(VaultError::Internal("unreadable".into())),
                "web" | "api" => Ok(Some(state(name.as_str(), 200))),
                _ => Ok(None),
            }
        }

        fn due(
            &self,
            _vault: &VaultName,
            name: &CertificateName,
        ) -> Result<Option<i64>, VaultError> {
            Ok((name.as_str() == "api").then_some(1_000))
        }
    }

    fn name(s: &str) -> CertificateName {
        CertificateName::parse(s).unwrap()
    }

    fn lazy(loader: &Arc<Counting>) -> Certificates {
        let mut c = Certificates::lazy(VaultName::parse("prod").unwrap(), loader.clone());
        let summary = Summary {
            updated: 100,
            deleted: None,
            purge_at: None,
            directory: None,
        };
        for n in ["Web", "api", "broken", "gone"] {
            c.add_unread(name(n), summary);
        }
        c
    }

    #[test]
    fn names_and_summaries_read_nothing() {
        let loader = Arc::new(Counting::default());
        let c = lazy(&loader);
        assert!(c.contains_key(&name("WEB")));
        assert_eq!(c.key(&name("web")).map(|k| k.as_str()), Some("Web"));
        assert_eq!(c.summary(&name("web")).map(|s| s.updated), Some(100));
        assert_eq!(c.keys().count(), 4);
        assert_eq!(c.summaries().count(), 4);
        assert!(!c.is_empty());
        assert_eq!(loader.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_certificate_is_read_once_on_first_use() {
        let loader = Arc::new(Counting::default());
        let mut c = lazy(&loader);
        assert_eq!(c.get(&name("web")).map(|cs| cs.updated), Some(200));
        assert_eq!(c.get(&name("WEB")).map(|cs| cs.updated), Some(200));
        assert_eq!(loader.0.load(Ordering::SeqCst), 1, "read once");
        // Once read, the summary follows the state.
        c.get_mut(&name("web")).unwrap().updated = 300;
        assert_eq!(c.summary(&name("web")).map(|s| s.updated), Some(300));
        assert_eq!(c.get_mut(&name("api")).map(|cs| cs.updated), Some(200));
        assert_eq!(loader.0.load(Ordering::SeqCst), 2);
        let removed = c.remove(&name("web")).unwrap();
        assert_eq!(removed.updated, 300);
        assert!(!c.contains_key(&name("web")));
    }

    #[test]
    fn unreadable_and_missing_certificates_are_not_found_but_keep_their_names() {
        let loader = Arc::new(Counting::default());
        let c = lazy(&loader);
        assert!(c.get(&name("broken")).is_none());
        assert!(c.get(&name("gone")).is_none());
        assert!(c.get(&name("never")).is_none());
        assert!(c.contains_key(&name("broken")), "the name stays taken");
        assert_eq!(
            loader.0.load(Ordering::SeqCst),
            2,
            "absent names read nothing"
        );
    }

    #[test]
    fn inserted_certificates_replace_and_need_no_reading() {
        let loader = Arc::new(Counting::default());
        let mut c = lazy(&loader);
        c.insert(name("WEB"), state("WEB", 500));
        assert_eq!(c.key(&name("web")).map(|k| k.as_str()), Some("Web"));
        assert_eq!(c.get(&name("web")).map(|cs| cs.updated), Some(500));
        c.insert(name("new"), state("new", 600));
        assert_eq!(c.get(&name("NEW")).map(|cs| cs.updated), Some(600));
        assert_eq!(loader.0.load(Ordering::SeqCst), 0);
        let mut plain = Certificates::new();
        assert!(plain.get(&name("web")).is_none());
        plain.insert(name("web"), state("web", 1));
        assert!(plain.get(&name("web")).is_some());
    }
}
