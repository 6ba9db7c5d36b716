//! `vault.json`: a vault's properties as Key Vault has them — soft-delete retention and purge protection.
//!
//! ```json
//! {"soft_delete_retention_days": 90, "purge_protection": false}
//! ```
//!
//! Retention is 7–90 days (default 90). Purge protection, once on, can
//! never be turned off (Key Vault's rule); while it is on, a deleted
//! certificate cannot be purged before its retention ends.
//!
//! `access` grants Unix users and groups roles in the vault, as Key
//! Vault's access policies split certificate and secret permissions:
//! `{"access": {"manage": {"uids": [1001], "gids": []}, "read_keys":
//! {"gids": [118]}, "read_certificates": {"uids": [33]}}}`. The mount's
//! owner and root always manage.

use serde_json::{Map, Value};

use super::error::VaultError;

/// Retention when `vault.json` does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Key Vault's shortest retention.
pub const MIN_RETENTION_DAYS: u32 = 7;
/// Key Vault's longest retention.
pub const MAX_RETENTION_DAYS: u32 = 90;

/// The store key of a vault's settings document.
pub const DOCUMENT_KEY: &str = "vault";

/// A vault's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSettings {
    /// Days a deleted certificate stays recoverable.
    pub retention_days: u32,
    /// Whether purging before the retention ends is refused.
    pub purge_protection: bool,
    /// Who may do what, beyond file modes.
    pub access: Access,
}

/// Users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principals {
    /// User ids.
    #[serde(default)]
    pub uids: Vec<u32>,
    /// Group ids.
    #[serde(default)]
    pub gids: Vec<u32>,
}

impl Principals {
    /// Whether the user `uid`, member of `groups`, is one of these.
    pub fn contains(&self, uid: u32, groups: &[u32]) -> bool {
        self.uids.contains(&uid) || groups.iter().any(|g| self.gids.contains(g))
    }
}

/// The roles of a vault (`vault.json`'s `access`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// Write anything in the vault (policies, imports, merges, deletes,
    /// issuers, contacts, settings) and read everything.
    #[serde(default)]
    pub manage: Principals,
    /// Read private keys and secrets (`privkey.pem`, `bundle.pem`, `cert.pfx`, `backup.blob`) and certificates.
    #[serde(default)]
    pub read_keys: Principals,
    /// Read certificates and the vault's other files.
    #[serde(default)]
    pub read_certificates: Principals,
}

impl Default for VaultSettings {
    fn default() -> Self {
        VaultSettings {
            retention_days: DEFAULT_RETENTION_DAYS,
            purge_protection: false,
            access: Access::default(),
        }
    }
}

impl VaultSettings {
    /// Parses a write to `vault.json` over the settings `current`: fields
    /// left out keep their value; unknown fields, values out of range and
    /// turning purge protection off are refused.
    pub fn parse_update(bytes: &[u8], current: &VaultSettings) -> Result<Self, VaultError> {
        let bad = |m: String| VaultError::BadParameter(m);
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("vault.json is not valid JSON: {e}")))?;
        let object: &Map<String, Value> = value.as_object().ok_or_else(|| {
            bad(
                "vault.json must be a JSON object such as {\"soft_delete_retention_days\": 30}"
                    .into(),
            )
        })?;
        let mut next = current.clone();
        for (name, value) in object {
            match name.as_str() {
                "soft_delete_retention_days" => {
                    let days = value
                        .as_u64()
                        .filter(|d| {
                            (u64::from(MIN_RETENTION_DAYS)..=u64::from(MAX_RETENTION_DAYS))
                                .contains(d)
                        })
                        .ok_or_else(|| {
                            bad(format!(
                                "soft_delete_retention_days must be a whole number of days between \
                                 {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}"
                            ))
                        })?;
                    if current.purge_protection && (days as u32) < current.retention_days {
                        return Err(bad(
                            "soft_delete_retention_days cannot be lowered while purge protection is on".into(),
                        ));
                    }
                    next.retention_days = days as u32;
                }
                "purge_protection" => {
                    let on = value
                        .as_bool()
                        .ok_or_else(|| bad("purge_protection must be true or false".into()))?;
                    if current.purge_protection && !on {
                        return Err(bad(
                            "The property \"purge_protection\" cannot be set to false. Enabling the purge \
                             protection for a vault is an irreversible action."
                                .into(),
                        ));
                    }
                    next.purge_protection = on;
                }
                "access" => {
                    if !value.is_object() {
                        return Err(bad("access must be a JSON object".into()));
                    }
                    next.access = serde_json::from_value(value.clone()).map_err(|e| {
                        bad(format!(
                            "access must be {{\"manage\"|\"read_keys\"|\"read_certificates\": \
                             {{\"uids\": [..], \"gids\": [..]}}}}: {e}"
                        ))
                    })?;
                }
                other => {
                    return Err(bad(format!(
                        "'{}' is not a vault setting (soft_delete_retention_days, purge_protection, access)",
                        other.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        Ok(next)
    }

    /// Reads the stored document (written by [`to_json`](Self::to_json)).
    pub fn from_stored(text: &str) -> Result<Self, VaultError> {
        Self::parse_update(text.as_bytes(), &VaultSettings::default())
    }

    /// `vault.json` as read back: every setting, pretty, ending in a newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "soft_delete_retention_days": self.retention_days,
            "purge_protection": self.purge_protection,
            "access": self.access,
        });
        super::pretty_json(&value)
    }

    /// Key Vault's `recoveryLevel` for certificates in a vault with these settings.
    pub fn recovery_level(&self) -> &'static str {
        match (
            self.retention_days < DEFAULT_RETENTION_DAYS,
            self.purge_protection,
        ) {
            (false, false) => "Recoverable+Purgeable",
            (false, true) => "Recoverable",
            (true, false) => "CustomizedRecoverable+Purgeable",
            (true, true) => "CustomizedRecoverable",
        }
    }

    /// Seconds a deleted certificate stays recoverable.
    pub fn retention_seconds(&self) -> i64 {
        i64::from(self.retention_days) * 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_round_trip() {
        let d = VaultSettings::default();
        assert_eq!(d.retention_days, 90);
        assert!(!d.purge_protection);
        assert_eq!(d.recovery_level(), "Recoverable+Purgeable");
        assert_eq!(VaultSettings::from_stored(&d.to_json()).unwrap(), d);
    }

    #[test]
    fn updates_keep_what_they_leave_out() {
        let s = VaultSettings::parse_update(
            br#"{"soft_delete_retention_days": 7}"#,
            &VaultSettings::default(),
        )
        .unwrap();
        assert_eq!(s.retention_days, 7);
        assert_eq!(s.recovery_level(), "CustomizedRecoverable+Purgeable");
        let s = VaultSettings::parse_update(br#"{"purge_protection": true}"#, &s).unwrap();
        assert_eq!((s.retention_days, s.purge_protection), (7, true));
        assert_eq!(s.recovery_level(), "CustomizedRecoverable");
    }

    #[test]
    fn access_grants_round_trip_and_match_users_and_groups() {
        let s = VaultSettings::parse_update(
            br#"{"access": {"manage": {"uids": [1001]}, "read_keys": {"gids": [118]}}}"#,
            &VaultSettings::default(),
        )
        .unwrap();
        assert!(s.access.manage.contains(1001, &[]));
        assert!(!s.access.manage.contains(1002, &[118]));
        assert!(s.access.read_keys.contains(1002, &[5, 118]));
        assert_eq!(VaultSettings::from_stored(&s.to_json()).unwrap(), s);
        // Other settings are kept by an access update.
        let s2 = VaultSettings::parse_update(br#"{"soft_delete_retention_days": 30}"#, &s).unwrap();
        assert_eq!(s2.access, s.access);
    }

    #[test]
    fn purge_protection_is_irreversible() {
        let on = VaultSettings {
            purge_protection: true,
            ..Default::default()
        };
        let err = VaultSettings::parse_update(br#"{"purge_protection": false}"#, &on).unwrap_err();
        assert!(err.message().contains("irreversible"), "{err}");
        assert!(VaultSettings::parse_update(br#"{"purge_protection": true}"#, &on).is_ok());
    }

    #[test]
    fn refuses_out_of_range_unknown_and_garbage() {
        for bad in [
            &br#"{"soft_delete_retention_days": 6}"#[..],
            br#"{"soft_delete_retention_days": 91}"#,
            br#"{"soft_delete_retention_days": 30.5}"#,
            br#"{"soft_delete_retention_days": "30"}"#,
            br#"{"purge_protection": "yes"}"#,
            br#"{"enableSoftDelete": false}"#,
            br#"{"access": {"manage": {"uids": ["root"]}}}"#,
            br#"{"access": {"owners": {}}}"#,
            br#"{"access": []}"#,
            b"[]",
            b"",
            b"\xff",
        ] {
            assert!(
                matches!(
                    VaultSettings::parse_update(bad, &VaultSettings::default()),
                    Err(VaultError::BadParameter(_))
                ),
                "{bad:?}"
            );
        }
    }
}
