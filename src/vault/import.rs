//! `import/`: a PFX or PEM file dropped into a vault becomes a new version of the certificate named by its stem.
//!
//! `<name>.password` and `<name>.policy.json`, written first, give the
//! password and the policy of the next import of `<name>` and are consumed
//! by it. Without a policy, one is derived from the certificate as Key
//! Vault does: its subject, SANs, key usage, EKUs and validity, issuer
//! `Unknown`, `EmailContacts` at 80 % of the lifetime, exportable.

use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::lifecycle::{self, deleted_but_recoverable};
use super::name::{CertificateName, VaultName};
use super::node::Node;
use super::policy::{
    ActionType, ContentType, IssuerParameters, KeyProperties, KeyType, LifetimeAction, Policy,
    Subject, Trigger, defaults,
};
use super::service::VaultService;
use crate::pki::import_formats::{self, ImportFormat};
use crate::pki::key::{KeySpec, PrivateKey};
use crate::pki::x509::{self, KeyUsage};

/// Key Vault's message for an import whose certificate has expired.
pub const EXPIRED: &str = "X509 Certificate is already expired";

/// The suffix of a password file for the next import.
pub const PASSWORD_SUFFIX: &str = ".password";
/// The suffix of a policy file for the next import.
pub const POLICY_SUFFIX: &str = ".policy.json";

/// The formats `import/` takes, by extension (the content decides how it is read).
const EXTENSIONS: [&str; 3] = ["pfx", "p12", "pem"];

/// Whether a file dropped into `import/` is something to import (rather
/// than a password, a policy, a report or an editor's scratch file).
pub fn is_import(name: &str) -> bool {
    !name.ends_with(PASSWORD_SUFFIX)
        && !name.ends_with(POLICY_SUFFIX)
        && !super::side::is_scratch(name)
}

impl VaultService {
    /// Imports the file `file_name` written into `v/import/`.
    pub(super) fn import(
        &self,
        v: &VaultName,
        file_name: &str,
        data: &[u8],
    ) -> Result<Changes, VaultError> {
        let (stem, extension) = file_name.rsplit_once('.').unwrap_or((file_name, ""));
        if !EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
            return Err(VaultError::BadParameter(format!(
                "import/ takes <name>.pfx, <name>.p12 or <name>.pem (certificate with its private key); got '{file_name}'"
            )));
        }
        let name = CertificateName::parse(stem).map_err(|e| VaultError::BadParameter(e.0))?;
        let dir = Node::Import(v.clone());
        let password = self.side_text(&dir, &format!("{stem}{PASSWORD_SUFFIX}"));
        let password = password
            .as_deref()
            .map(|p| p.strip_suffix('\n').unwrap_or(p));
        let password = password.map(|p| p.strip_suffix('\r').unwrap_or(p));
        let given_policy = self.side_text(&dir, &format!("{stem}{POLICY_SUFFIX}"));
        self.refuse_while_pending(v, &name)?;
        lifecycle::refuse_deleted_name(&self.model(), v, &name)?;

        let (imported, content_type) = match import_formats::sniff(data) {
            ImportFormat::Pkcs12 => (import_formats::pkcs12(data, password)?, ContentType::Pkcs12),
            ImportFormat::Pem => (import_formats::pem(data, password)?, ContentType::Pem),
            ImportFormat::Unknown => {
                return Err(VaultError::BadParameter(format!(
                    "{file_name} is neither PKCS#12 (PFX) nor PEM"
                )));
            }
        };
        let key = imported.key.ok_or_else(|| {
            VaultError::BadParameter(format!(
                "{file_name} holds no private key: import needs the certificate with its key"
            ))
        })?;
        if imported.certificates.is_empty() {
            return Err(VaultError::BadParameter(format!(
                "{file_name} holds no certificate"
            )));
        }
        let (leaf, chain) = x509::leaf_and_chain(&key.public_key_der(), &imported.certificates)
            .map_err(|_| {
                VaultError::BadParameter(format!(
                    "The private key in {file_name} does not match any certificate in it"
                ))
            })?;
        if x509::inspect(&leaf)?.not_after < now() {
            return Err(VaultError::BadParameter(EXPIRED.into()));
        }
        // What the policy file leaves out comes from what is imported.
        let derived = derived_policy(&key, &leaf, content_type)?;
        let policy = match given_policy {
            None => checked(derived, stem)?,
            Some(text) => {
                let policy = Policy::parse_over(text.as_bytes(), &derived)
                    .map_err(|e| VaultError::BadParameter(e.message))?;
                if policy.key.spec != key.spec() {
                    return Err(VaultError::BadParameter(format!(
                        "{stem}{POLICY_SUFFIX} asks for an {} key, but the imported key is {}",
                        policy.key.spec,
                        key.spec()
                    )));
                }
                checked(policy, stem)?
            }
        };
        if policy.key.kty.asks_for_hsm() {
            log::warn!(
                "{v}/{name}: {stem}{POLICY_SUFFIX} asks for an HSM key; certfs has no HSM and keeps it in software"
            );
        }
        self.ensure_draft(v, &name)?;
        let id = self.add_completed_version(v, &name, policy, key, (leaf, chain), None)?;
        {
            let mut side = self.scratch();
            side.remove(&dir, &format!("{stem}{PASSWORD_SUFFIX}"));
            side.remove(&dir, &format!("{stem}{POLICY_SUFFIX}"));
        }
        log::info!("{v}/{name}: version {id} imported from {file_name}");
        let mut changes = Changes::of_certificate(v, &name);
        changes.dirs.push(dir);
        Ok(changes)
    }

    fn side_text(&self, dir: &Node, name: &str) -> Option<String> {
        let side = self.side_files();
        side.get(dir, name)
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
    }

    /// Makes `name` a draft if it is not a certificate yet, so an import can create it.
    fn ensure_draft(&self, v: &VaultName, name: &CertificateName) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        let mut st = tx.model_mut();
        let vs = st
            .vaults
            .get_mut(v)
            .ok_or_else(|| VaultError::NotFound(format!("{v} not found")))?;
        // Checked again under the write guard: a delete may have landed while the file was read.
        if let Some((deleted, _)) = vs.deleted.get_key_value(name) {
            return Err(deleted_but_recoverable(deleted));
        }
        if !vs.certificates.contains_key(name) {
            vs.drafts.insert(name.clone());
        }
        Ok(())
    }
}

/// The policy Key Vault derives from an imported certificate, as it is:
/// not yet held to the rules (a certificate may say what no policy may).
fn derived_policy(
    key: &PrivateKey,
    leaf: &[u8],
    content_type: ContentType,
) -> Result<Policy, VaultError> {
    let spec = x509::certificate_spec(leaf)?;
    let kty = match key.spec() {
        KeySpec::Rsa(_) => KeyType::Rsa { hsm: false },
        KeySpec::Ec(_) => KeyType::Ec { hsm: false },
    };
    let mut key_usage = spec.key_usage;
    if matches!(kty, KeyType::Ec { .. }) {
        // certfs' rule: EC keys cannot have keyEncipherment.
        key_usage.retain(|u| *u != KeyUsage::KeyEncipherment);
    }
    let subject = (!spec.subject.is_empty()).then(|| Subject {
        text: spec.subject.to_string(),
        name: spec.subject,
    });
    let policy = Policy {
        key: KeyProperties {
            kty,
            spec: key.spec(),
            exportable: true,
            reuse_key: false,
        },
        content_type,
        subject,
        sans: spec.sans,
        ekus: spec.extended_key_usage,
        key_usage,
        validity_months: spec.validity_months.clamp(1, 1200),
        basic_constraints: crate::vault::policy::BasicConstraints {
            ca: x509::is_ca(leaf),
            path_len: None,
        },
        lifetime_actions: vec![LifetimeAction {
            trigger: Trigger::LifetimePercentage(defaults::LIFETIME_PERCENTAGE),
            action: ActionType::EmailContacts,
        }],
        issuer: IssuerParameters {
            name: defaults::ISSUER_UNKNOWN.into(),
            cert_type: None,
            cert_transparency: None,
        },
    };
    Ok(policy)
}

/// `policy` held to the rules, as what is stored must read back: one made
/// (partly) of the certificate's properties may break them.
fn checked(policy: Policy, stem: &str) -> Result<Policy, VaultError> {
    Policy::parse(policy.to_json().as_bytes()).map_err(|e| {
        VaultError::BadParameter(format!(
            "The certificate's properties do not make a valid policy ({}); say it in \
             {stem}{POLICY_SUFFIX}, written first",
            e.message
        ))
    })
}
