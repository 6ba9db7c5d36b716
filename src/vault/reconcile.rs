//! The serving copy kept current: reconciled with the model at mount, then brought up to date after every change (a follow-up of each transaction, before the hooks of a switch).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use super::model::State;
use super::name::CertificateName;
use super::service::VaultService;
use super::serving_copy::{Key, Record, ServingCopy, wanted};
use crate::atomic_dir;

/// The live certificates of the model (by their names as written).
fn live(st: &State) -> Vec<Key> {
    st.vaults
        .values()
        .flat_map(|vs| {
            vs.certificates
                .keys()
                .map(move |c| (vs.name.clone(), c.clone()))
        })
        .collect()
}

/// The certificates whose copy may differ from what was written, and
/// those written that are gone. Clones the names of those only.
fn stale(st: &State, written: &Record) -> (BTreeSet<Key>, Vec<Key>) {
    let mut todo = BTreeSet::new();
    for vs in st.vaults.values() {
        let record = written.vault(&vs.name);
        let of = |c: &CertificateName| record.and_then(|r| r.get(c));
        for (c, summary) in vs.certificates.summaries() {
            if of(c).is_none_or(|w| w.updated != summary.updated) {
                todo.insert((vs.name.clone(), c.clone()));
            }
        }
        for cs in vs.certificates.loaded() {
            if of(&cs.name).is_some_and(|w| !w.still(cs)) {
                todo.insert((vs.name.clone(), cs.name.clone()));
            }
        }
    }
    let gone = written
        .keys()
        .filter(|(v, c)| {
            st.vaults.get(*v).is_none_or(|vs| {
                vs.certificates
                    .key(c)
                    .is_none_or(|k| k.as_str() != c.as_str())
            })
        })
        .map(|(v, c)| (v.clone(), c.clone()))
        .collect();
    (todo, gone)
}

impl VaultService {
    /// Serves a copy of every certificate's current files in `copy`:
    /// reconciles it with the model now (reading every certificate), then
    /// keeps it current after every change.
    pub fn export_to(&self, copy: ServingCopy) {
        let copy = Arc::new(copy);
        let keys = live(&self.model());
        let live_set: BTreeSet<(String, String)> = keys
            .iter()
            .map(|(v, c)| (v.as_str().to_owned(), c.as_str().to_owned()))
            .collect();
        remove_gone_dirs(&copy.root, &live_set);
        {
            let mut written = copy.written.lock();
            for key in keys {
                self.put_now(&copy, &mut written, key);
            }
        }
        let failing = copy.failing();
        log::info!(
            "serving copy in {}: {} certificates{}",
            copy.root.display(),
            copy.written.lock().len(),
            if failing > 0 {
                format!(", {failing} not written (see above)")
            } else {
                String::new()
            }
        );
        self.set_serving_copy(copy);
    }

    /// After a change: brings the copy of every certificate it touched up
    /// to date (a follow-up of each [`Transaction`](super::service::Transaction)).
    pub(super) fn refresh_serving_copy(&self) {
        let Some(copy) = self.serving_copy() else {
            return;
        };
        let mut written = copy.written.lock();
        let (todo, gone) = stale(&self.model(), &written);
        for key in gone {
            copy.put(&mut written, key, None);
        }
        for key in todo {
            self.put_now(copy, &mut written, key);
        }
    }

    /// Writes the copy of `key` as the model holds it now (removes it if
    /// the certificate is gone), unless what was written is still right.
    /// A certificate that cannot be read keeps the copy it has.
    fn put_now(&self, copy: &ServingCopy, written: &mut Record, key: Key) {
        let wanted = {
            let st = self.model();
            let vs = st.vaults.get(&key.0);
            match vs.filter(|vs| vs.certificates.contains_key(&key.1)) {
                None => None,
                Some(vs) => match vs.certificates.get(&key.1) {
                    Some(cs) => Some(wanted(cs)),
                    None => {
                        drop(st);
                        written.remove(&key);
                        copy.failed(&key, &"the certificate cannot be read from the store");
                        return;
                    }
                },
            }
        };
        if let Some(w) = &wanted
            && written.get(&key.0, &key.1) == Some(&w.written)
        {
            return;
        }
        copy.put(written, key, wanted);
    }
}

/// Removes from `root` the certificate copies certfs made whose
/// certificate is not in `live` (vault, certificate); leaves the rest.
fn remove_gone_dirs(root: &Path, live: &BTreeSet<(String, String)>) {
    let Ok(vaults) = std::fs::read_dir(root) else {
        return;
    };
    for vault in vaults.flatten() {
        if !vault.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let v = vault.file_name().to_string_lossy().into_owned();
        let Ok(certs) = std::fs::read_dir(vault.path()) else {
            continue;
        };
        for cert in certs.flatten() {
            let c = cert.file_name().to_string_lossy().into_owned();
            let path = cert.path();
            if atomic_dir::is_atomic_dir(&path) && !live.contains(&(v.clone(), c.clone())) {
                match atomic_dir::remove(&path) {
                    Ok(()) => {
                        log::info!("{v}/{c}: gone from the store, removed from the serving copy")
                    }
                    Err(e) => log::error!("{v}/{c}: cannot remove it from the serving copy: {e}"),
                }
            }
        }
        let _ = std::fs::remove_dir(vault.path());
    }
}
