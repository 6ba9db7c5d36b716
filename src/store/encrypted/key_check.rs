//! The master key check: finding it, opening it, and, for a store without one, the first sealed value tried instead.

use std::sync::Arc;

use super::{
    EncryptedStore, KEY_CHECK_DOCUMENT, OpenError, is_sealed_document, reserved, version_place,
};
use crate::store::master_key::MasterKey;
use crate::store::seal::{self, Place, SealError};
use crate::store::{Snapshot, Store, StoreError};

/// What the key check seals.
pub(super) const KEY_CHECK_VALUE: &str = "certfs master key check, format 1";

/// Without a key check: `WrongKey` if the first sealed value of `raw` does not open under `key`.
pub(super) fn check_any_sealed_value(raw: &Snapshot, key: &MasterKey) -> Result<(), OpenError> {
    let opened = if let Some(v) = raw
        .versions
        .iter()
        .find(|v| v.key.as_ref().is_some_and(|k| seal::is_sealed(&k.0)))
    {
        let sealed = v.key.as_ref().map(|k| &k.0[..]).unwrap_or_default();
        seal::open(key, &version_place(v), sealed).map(drop)
    } else if let Some(d) = raw
        .documents
        .iter()
        .find(|d| is_sealed_document(&d.key) && seal::is_sealed_text(&d.value))
    {
        let place = Place::Document {
            vault: &d.vault,
            key: &d.key,
        };
        seal::open_text(key, &place, &d.value).map(drop)
    } else {
        Ok(())
    };
    match opened {
        Ok(()) => Ok(()),
        Err(SealError::Refused) => Err(OpenError::WrongKey),
        Err(e) => Err(OpenError::Store(StoreError::backend(
            "a sealed value is damaged",
            e,
        ))),
    }
}

/// The stored key check of `store`, if it has one.
pub(super) fn key_check(store: &dyn Store) -> Result<Option<String>, StoreError> {
    let index = store.load_index()?;
    Ok(index
        .documents
        .into_iter()
        .find(|d| reserved(&d.vault) && d.key.eq_ignore_ascii_case(KEY_CHECK_DOCUMENT))
        .map(|d| d.value))
}

/// `inner` wrapped under `key` if its key check `value` opens under it.
pub(super) fn check_key(
    inner: Box<dyn Store>,
    key: Arc<MasterKey>,
    value: &str,
) -> Result<EncryptedStore, OpenError> {
    match seal::open_text(&key, &Place::KeyCheck, value) {
        Ok(text) if text.as_str() == KEY_CHECK_VALUE => Ok(EncryptedStore { inner, key }),
        Ok(_) | Err(SealError::Refused) => Err(OpenError::WrongKey),
        Err(e) => Err(OpenError::Store(StoreError::backend(
            "the master key check is damaged",
            e,
        ))),
    }
}
