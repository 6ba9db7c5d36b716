//! `attributes.json`: Key Vault's certificate attributes of one version, and the one a user changes (`enabled`).
//!
//! `nbf` and `exp` come from the X.509 certificate, `created` and `updated`
//! from certfs; they are shown as Key Vault reports them and refused when
//! written with other values, so that a file read, edited and written back
//! works. Disabling a version keeps its certificate files readable and
//! makes its key and secret files refuse reads, as Key Vault refuses a
//! disabled secret.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::model::{State, certificate, not_found, vault};
use super::name::{CertificateName, VaultName, VersionId};
use super::node::Node;
use super::records::{publish, record_for};
use super::service::Transaction;
use super::settings::VaultSettings;
use super::version::Version;
use crate::store::VersionRecord;

/// Key Vault's refusal to hand out the key of a disabled version.
pub const DISABLED: &str = "Operation get is not allowed on a disabled secret.";

/// The attributes of `version`, as `attributes.json` shows them.
pub(super) fn render(version: &Version, settings: &VaultSettings) -> Result<String, VaultError> {
    let facts = version.facts()?;
    let value = serde_json::json!({
        "enabled": version.enabled.load(Ordering::Acquire),
        "nbf": facts.not_before,
        "exp": facts.not_after,
        "created": version.created,
        "updated": version.updated.load(Ordering::Acquire),
        "recoveryLevel": settings.recovery_level(),
        "recoverableDays": settings.retention_days,
    });
    Ok(super::pretty_json(&value))
}

/// What a write to `attributes.json` asks for: the new `enabled`.
pub(super) fn parse_update(
    bytes: &[u8],
    version: &Version,
    settings: &VaultSettings,
) -> Result<bool, VaultError> {
    let bad = |m: String| VaultError::BadParameter(m);
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("attributes.json is not valid JSON: {e}")))?;
    let object = value.as_object().ok_or_else(|| {
        bad("attributes.json must be a JSON object such as {\"enabled\": false}".into())
    })?;
    let facts = version.facts()?;
    let mut enabled = version.enabled.load(Ordering::Acquire);
    for (name, value) in object {
        let fixed = match name.as_str() {
            "enabled" => {
                enabled = value
                    .as_bool()
                    .ok_or_else(|| bad("'enabled' must be true or false".into()))?;
                continue;
            }
            "nbf" => serde_json::json!(facts.not_before),
            "exp" => serde_json::json!(facts.not_after),
            "created" => serde_json::json!(version.created),
            "updated" => serde_json::json!(version.updated.load(Ordering::Acquire)),
            "recoveryLevel" => serde_json::json!(settings.recovery_level()),
            "recoverableDays" => serde_json::json!(settings.retention_days),
            other => {
                return Err(bad(format!(
                    "'{}' is not a certificate attribute \
                     (enabled, nbf, exp, created, updated, recoveryLevel, recoverableDays)",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        if *value != fixed {
            return Err(bad(format!(
                "'{name}' is read-only: it is {fixed}; only 'enabled' can be changed"
            )));
        }
    }
    Ok(enabled)
}

/// A write to the `attributes.json` of version `id` of `c`.
pub(super) fn write_attributes(
    tx: &mut Transaction<'_>,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
    data: &[u8],
) -> Result<Changes, VaultError> {
    let (version, settings) = version_of(&tx.model(), v, c, id)?;
    let enabled = parse_update(data, &version, &settings)?;
    let t = now();
    let (record, name) = record_for(&tx.model(), v, c, t)?;
    let body = version.body()?;
    let version_record = VersionRecord {
        vault: record.vault.clone(),
        certificate: record.name.clone(),
        id: id.to_string(),
        created: version.created,
        updated: t,
        enabled,
        exportable: version.exportable,
        certificate_der: Some(body.leaf.clone()),
        chain_der: body.chain.clone(),
        key: body.key.as_ref().map(super::records::key_bytes),
    };
    tx.store().update_version(&record, &version_record)?;
    let current = |st: &super::model::State| {
        certificate(st, v, c)
            .ok()
            .and_then(|cs| cs.current())
            .map(|ver| ver.id.clone())
    };
    let before = current(&tx.model());
    let service = tx.service();
    publish(&mut tx.model_mut(), v, &name, &record, |_| {
        version.enabled.store(enabled, Ordering::Release);
        version.updated.store(t, Ordering::Release);
        // Enabling or disabling may move the top-level files.
        service.switching();
    })?;
    let after = current(&tx.model());
    log::info!(
        "{v}/{name}: version {id} {}",
        if enabled { "enabled" } else { "disabled" }
    );
    // Enabling or disabling the newest version moves the top-level
    // files: servers reload as after a renewal.
    if let (Some(before), Some(after)) = (before, after)
        && before != after
    {
        log::info!("{v}/{name}: the top-level files now show version {after}");
        tx.switched(v, c, &after);
    }
    let mut changes = Changes::of_certificate(v, c);
    changes
        .dirs
        .push(Node::Version(v.clone(), c.clone(), id.clone()));
    Ok(changes)
}

/// Version `id` of `c`, and the settings of its vault.
fn version_of(
    st: &State,
    v: &VaultName,
    c: &CertificateName,
    id: &VersionId,
) -> Result<(Arc<Version>, VaultSettings), VaultError> {
    let cs = certificate(st, v, c)?;
    // Which version is current after the change is judged among all.
    cs.versions.all()?;
    let version = cs
        .version(id)?
        .cloned()
        .ok_or_else(|| not_found(id.as_str()))?;
    Ok((version, vault(st, v)?.settings.clone()))
}
