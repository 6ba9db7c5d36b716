//! Typed names: vault names, certificate names and version ids, parsed at the edge with Key Vault's rules.
//!
//! Names compare and hash case-insensitively (ASCII) and keep the case they
//! were created with, as Key Vault does.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Names inside a vault that are directories or files of certfs itself.
pub const RESERVED_IN_VAULT: &[&str] = &["import", "restore", "issuers", "deleted"];

/// Names at the mount root that belong to certfs itself.
pub const RESERVED_AT_ROOT: &[&str] = &["live", "metrics.prom"];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

macro_rules! case_insensitive_name {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        /// Shared text: a clone (every node the kernel holds carries
        /// its vault's and certificate's names) allocates nothing.
        #[derive(Clone)]
        pub struct $ty(std::sync::Arc<str>);

        impl $ty {
            /// The name as created.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }

        impl Eq for $ty {}

        impl Hash for $ty {
            fn hash<H: Hasher>(&self, state: &mut H) {
                for b in self.0.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
            }
        }

        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $ty {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0
                    .bytes()
                    .map(|b| b.to_ascii_lowercase())
                    .cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

case_insensitive_name!(
    /// A vault name: 3–24 characters of `[0-9A-Za-z-]`, starting with a
    /// letter, ending with a letter or digit, no `--`.
    VaultName
);

case_insensitive_name!(
    /// A certificate (or issuer) name: 1–127 characters of `[0-9A-Za-z-]`.
    CertificateName
);

fn only_name_chars(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl VaultName {
    /// Parses a vault name with Key Vault's rules.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let valid = (3..=24).contains(&s.len())
            && only_name_chars(s)
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !s.contains("--");
        if !valid {
            return Err(NameError(format!(
                "The vault name '{}' is invalid. A vault's name must be between 3-24 alphanumeric characters. \
                 The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
                s.escape_debug()
            )));
        }
        if RESERVED_AT_ROOT.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(NameError(format!(
                "The name '{s}' is reserved by certfs at the mount root"
            )));
        }
        Ok(VaultName(s.into()))
    }
}

impl CertificateName {
    /// Parses a certificate name with Key Vault's rules; the names certfs
    /// reserves inside a vault are refused.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if !(1..=127).contains(&s.len()) || !only_name_chars(s) {
            return Err(NameError(format!(
                "The certificate name '{}' is invalid. It must be 1-127 characters of 0-9, a-z, A-Z and -.",
                s.escape_debug()
            )));
        }
        if RESERVED_IN_VAULT.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(NameError(format!(
                "The name '{s}' is reserved by certfs inside a vault ({})",
                RESERVED_IN_VAULT.join(", ")
            )));
        }
        Ok(CertificateName(s.into()))
    }
}

/// A version id: 32 lower-case hex characters, as Key Vault makes them.
///
/// Held inline (no allocation): every version in memory, and every node
/// of a version's file the kernel holds, carries one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionId([u8; 32]);

impl Hash for VersionId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As the text hashes, so inode numbers are those of the text.
        self.as_str().hash(state)
    }
}

impl VersionId {
    /// A new random version id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        // The system RNG does not fail on Linux once seeded; fall back to the clock if it ever does.
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            bytes = nanos.to_le_bytes();
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 32];
        for (i, b) in bytes.iter().enumerate() {
            id[2 * i] = HEX[usize::from(b >> 4)];
            id[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        VersionId(id)
    }

    /// Parses a version id; upper-case hex is accepted and lower-cased.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let mut id = [0u8; 32];
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (to, from) in id.iter_mut().zip(s.bytes()) {
                *to = from.to_ascii_lowercase();
            }
            Ok(VersionId(id))
        } else {
            Err(NameError(format!(
                "'{}' is not a version id (32 hex characters)",
                s.escape_debug()
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn vault_names_follow_key_vault_rules() {
        for ok in [
            "prod",
            "abc",
            "a1-b2",
            "Prod-West-2",
            "a23456789012345678901234",
        ] {
            assert!(VaultName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "1abc",
            "-abc",
            "abc-",
            "a--b",
            "a_bc",
            "a.bc",
            "a b c",
            "a234567890123456789012345",
            "live",
            "LIVE",
            "prød",
        ] {
            assert!(VaultName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn certificate_names_follow_key_vault_rules() {
        for ok in ["w", "web", "Web-01", &"a".repeat(127)] {
            assert!(CertificateName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a_b",
            "a.b",
            "x/y",
            ".hidden",
            &"a".repeat(128),
            "import",
            "Issuers",
            "deleted",
            "restore",
        ] {
            assert!(CertificateName::parse(bad).is_err(), "{bad}");
        }
        let msg = CertificateName::parse("import").unwrap_err().0;
        assert!(msg.contains("reserved"), "{msg}");
    }

    #[test]
    fn names_are_case_insensitive_and_case_preserving() {
        let a = CertificateName::parse("Web").unwrap();
        let b = CertificateName::parse("wEB").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Web");
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn version_ids_are_32_lower_hex() {
        let v = VersionId::random();
        assert_eq!(v.as_str().len(), 32);
        assert!(
            v.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(v, VersionId::random());
        assert_eq!(VersionId::parse(&v.as_str().to_uppercase()).unwrap(), v);
        assert!(VersionId::parse("xyz").is_err());
        assert!(VersionId::parse(&"g".repeat(32)).is_err());
        // Held as bytes, hashed as the text (inode numbers are hashes).
        let hash = |h: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            h(&mut hasher);
            hasher.finish()
        };
        assert_eq!(
            hash(&|s| v.hash(s)),
            hash(&|s| v.as_str().to_owned().hash(s))
        );
    }
}
