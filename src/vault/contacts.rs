//! `contacts.json`: Key Vault's certificate contacts of a vault, `{"contacts": [{"email", "name", "phone"}]}`.

use serde::{Deserialize, Serialize};

use super::error::VaultError;

/// The store key of a vault's contacts document.
pub const DOCUMENT_KEY: &str = "contacts";

/// The most contacts certfs keeps for a vault.
pub const MAX_CONTACTS: usize = 100;

/// One contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// E-mail address (required).
    pub email: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A vault's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// Who is told about expiring certificates.
    pub contacts: Vec<Contact>,
}

impl Contacts {
    /// Parses and validates `contacts.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, VaultError> {
        let bad = |m: String| VaultError::BadParameter(m);
        let contacts: Contacts = serde_json::from_slice(bytes).map_err(|e| {
            bad(format!(
                "contacts.json must be {{\"contacts\": [{{\"email\": ..., \"name\": ..., \"phone\": ...}}]}}: {e}"
            ))
        })?;
        if contacts.contacts.len() > MAX_CONTACTS {
            return Err(bad(format!("At most {MAX_CONTACTS} contacts are allowed")));
        }
        for (i, c) in contacts.contacts.iter().enumerate() {
            if !is_email(&c.email) {
                return Err(bad(format!(
                    "contacts[{i}].email '{}' is not a valid e-mail address",
                    c.email.chars().take(80).collect::<String>()
                )));
            }
            if c.phone.as_deref().is_some_and(|p| {
                !p.chars()
                    .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
            }) {
                return Err(bad(format!(
                    "contacts[{i}].phone may hold only digits, spaces and + - ( ) ."
                )));
            }
        }
        Ok(contacts)
    }

    /// The stored and shown text: pretty JSON ending in a newline.
    pub fn to_json(&self) -> String {
        super::pretty_json(self)
    }
}

/// A plain check of an e-mail address: one `@`, a non-empty local part,
/// a domain with a dot, no spaces or control characters.
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && address.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() || !c.is_ascii())
        && !address.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_vault_shape_round_trips() {
        let c = Contacts::parse(
            br#"{"contacts":[{"email":"ops@contoso.com","name":"Ops","phone":"+1 (425) 555-0100"},{"email":"a@b.io"}]}"#,
        )
        .unwrap();
        assert_eq!(c.contacts.len(), 2);
        assert_eq!(Contacts::parse(c.to_json().as_bytes()).unwrap(), c);
        assert!(!c.to_json().contains("null"), "absent fields are left out");
    }

    #[test]
    fn e_mail_syntax_is_checked() {
        for good in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a@@b.co", "a b@c.de", "a@.b.co", "a@b..co", "a@b.co.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn bad_contacts_are_refused_with_a_reason() {
        for (bad, word) in [
            (&br#"{"contacts":[{"email":"nope"}]}"#[..], "e-mail"),
            (br#"{"contacts":[{"name":"x"}]}"#, "email"),
            (br#"{"contacts":[{"email":"a@b.co","fax":"1"}]}"#, "fax"),
            (
                br#"{"contacts":[{"email":"a@b.co","phone":"call me"}]}"#,
                "phone",
            ),
            (br#"{"people":[]}"#, "contacts"),
            (b"[]", "contacts"),
            (b"\xff", "contacts"),
        ] {
            let err = Contacts::parse(bad).unwrap_err();
            assert!(matches!(err, VaultError::BadParameter(_)));
            assert!(err.message().contains(word), "{word}: {err}");
        }
        let many = format!(
            r#"{{"contacts":[{}]}}"#,
            vec![r#"{"email":"a@b.co"}"#; MAX_CONTACTS + 1].join(",")
        );
        assert!(Contacts::parse(many.as_bytes()).is_err());
    }
}
