//! A certificate's completed versions: those that show it now always at hand, the rest listed from the store when something asks for them.
//!
//! A certificate read from a store that reads single versions starts with
//! its head: its newest completed version and its newest enabled one,
//! which is all the top-level files, the scheduler and the metrics need.
//! Listing `versions/`, naming a version by id, or changing one lists them
//! all (without their bodies, see [`super::version`]), once.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use super::error::VaultError;
use super::name::VersionId;
use super::shelf::Place;
use super::version::Version;

/// Completed versions, oldest first.
#[derive(Default)]
pub(crate) struct VersionList {
    /// All of them when `place` is `None`; else the head read at first use
    /// and the versions made since.
    known: Vec<Arc<Version>>,
    /// Where the others are stored.
    place: Option<Arc<Place>>,
    /// All of them, once listed from the store.
    all: OnceLock<Vec<Arc<Version>>>,
}

impl VersionList {
    /// Exactly `versions` (oldest first): nothing more is stored.
    pub fn whole(versions: Vec<Arc<Version>>) -> VersionList {
        VersionList {
            known: versions,
            place: None,
            all: OnceLock::new(),
        }
    }

    /// The head `versions` (oldest first) of a certificate whose others are stored at `place`.
    pub fn head(versions: Vec<Arc<Version>>, place: Arc<Place>) -> VersionList {
        VersionList {
            known: versions,
            place: Some(place),
            all: OnceLock::new(),
        }
    }

    /// What is at hand: every version once listed, else the head and the
    /// versions made since. Either holds the newest completed version and
    /// the newest enabled one (changing one lists them all first).
    fn at_hand(&self) -> &[Arc<Version>] {
        self.all.get().map_or(&self.known, Vec::as_slice)
    }

    /// The version the top-level files show: the newest completed, enabled
    /// one, so that disabling a bad new version puts servers back on the
    /// one before; with every version disabled, the newest (its
    /// certificate readable, its key refused).
    pub fn current(&self) -> Option<&Arc<Version>> {
        let versions = self.at_hand();
        versions
            .iter()
            .rev()
            .find(|v| v.enabled.load(Ordering::Acquire))
            .or_else(|| versions.last())
    }

    /// The newest completed version.
    pub fn newest(&self) -> Option<&Arc<Version>> {
        self.at_hand().last()
    }

    /// Whether it has no completed version.
    pub fn is_empty(&self) -> bool {
        self.at_hand().is_empty()
    }

    /// Whether every version is at hand (test only).
    #[cfg(test)]
    pub fn is_listed(&self) -> bool {
        self.place.is_none() || self.all.get().is_some()
    }

    /// Every completed version, oldest first, listed from the store the
    /// first time.
    pub fn all(&self) -> Result<&[Arc<Version>], VaultError> {
        let Some(place) = &self.place else {
            return Ok(&self.known);
        };
        if let Some(all) = self.all.get() {
            return Ok(all);
        }
        let mut all = Vec::new();
        for listed in place.list()? {
            let Some(v) = Version::listed(&listed, place)? else {
                continue;
            };
            // The versions at hand keep their identity (open handles, flags).
            let known = self.known.iter().find(|k| k.id == v.id);
            all.push(known.cloned().unwrap_or_else(|| Arc::new(v)));
        }
        // A reader that listed at the same time may have won: same versions.
        Ok(self.all.get_or_init(|| all))
    }

    /// Version `id`: one at hand, else listed from the store.
    pub fn get(&self, id: &VersionId) -> Result<Option<&Arc<Version>>, VaultError> {
        if let Some(found) = self.at_hand().iter().find(|v| &v.id == id) {
            return Ok(Some(found));
        }
        Ok(self.all()?.iter().find(|v| &v.id == id))
    }

    /// Takes, for each version at hand, the one `old` has at hand with the
    /// same id (ids are never reused), so that its body and the handles
    /// open on it stay as they are; what may change of a version (enabled,
    /// updated) is taken from this list.
    pub fn keep_from(&mut self, old: &VersionList) {
        let keep = |fresh: &mut Arc<Version>| {
            if let Some(kept) = old.at_hand().iter().find(|k| k.id == fresh.id) {
                kept.enabled
                    .store(fresh.enabled.load(Ordering::SeqCst), Ordering::SeqCst);
                kept.updated
                    .store(fresh.updated.load(Ordering::SeqCst), Ordering::SeqCst);
                *fresh = kept.clone();
            }
        };
        self.known.iter_mut().for_each(keep);
        if let Some(all) = self.all.get_mut() {
            all.iter_mut().for_each(keep);
        }
    }

    /// Adds `version`, the newest. A version whose body is on the shelf
    /// makes this a list of a stored certificate, if it was not already.
    pub fn push(&mut self, version: Arc<Version>) {
        if self.place.is_none() {
            self.place = version.place().cloned();
        }
        if let Some(all) = self.all.get_mut() {
            // Listed from the store after the version was stored but
            // before it was published here: the same version.
            all.retain(|v| v.id != version.id);
            all.push(version.clone());
        }
        self.known.retain(|v| v.id != version.id);
        // Newest and enabled, it is the whole head: the others are stored.
        if self.place.is_some() && version.enabled.load(Ordering::Acquire) {
            self.known.clear();
        }
        self.known.push(version);
    }
}
