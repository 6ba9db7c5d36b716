//! `tags.json`: free-form string tags of a certificate, with Key Vault's limits.

use std::collections::BTreeMap;

use super::error::VaultError;

/// Key Vault allows at most 15 tags on an object.
pub const MAX_TAGS: usize = 15;
/// Longest tag name (Azure resource tag limit).
pub const MAX_NAME_LEN: usize = 512;
/// Longest tag value (Azure resource tag limit).
pub const MAX_VALUE_LEN: usize = 256;

/// Parses `{"name": "value", ...}`; `{}` clears the tags.
pub fn parse(bytes: &[u8]) -> Result<BTreeMap<String, String>, VaultError> {
    let bad = |m: String| VaultError::BadParameter(m);
    let text = std::str::from_utf8(bytes).map_err(|_| bad("tags.json is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(bad(
            "tags.json is empty: write a JSON object such as {\"env\": \"prod\"}".into(),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("tags.json is not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("tags.json must be a JSON object of string values".into()))?;
    if object.len() > MAX_TAGS {
        return Err(bad(format!(
            "Too many tags: {} given, a certificate can have at most {MAX_TAGS} tags",
            object.len()
        )));
    }
    let mut tags = BTreeMap::new();
    for (name, value) in object {
        let value = value
            .as_str()
            .ok_or_else(|| bad(format!("The value of tag '{name}' must be a string")))?;
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return Err(bad(format!(
                "Tag names must be 1-{MAX_NAME_LEN} characters long"
            )));
        }
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(bad(format!(
                "The value of tag '{name}' is longer than {MAX_VALUE_LEN} characters"
            )));
        }
        tags.insert(name.clone(), value.to_owned());
    }
    Ok(tags)
}

/// The tags as JSON text, pretty and sorted, ending in a newline.
pub fn to_json(tags: &BTreeMap<String, String>) -> String {
    super::pretty_json(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_string_tags_and_round_trips() {
        let tags = parse(br#"{"env":"prod","team":"web"}"#).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(parse(to_json(&tags).as_bytes()).unwrap(), tags);
        assert!(parse(b"{}").unwrap().is_empty());
    }

    #[test]
    fn enforces_key_vault_limits() {
        let many: serde_json::Map<String, serde_json::Value> =
            (0..16).map(|i| (format!("t{i}"), "v".into())).collect();
        let err = parse(serde_json::Value::Object(many).to_string().as_bytes()).unwrap_err();
        assert!(err.message().contains("at most 15"), "{err}");
        let fifteen: serde_json::Map<String, serde_json::Value> =
            (0..15).map(|i| (format!("t{i}"), "v".into())).collect();
        assert!(parse(serde_json::Value::Object(fifteen).to_string().as_bytes()).is_ok());
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(257));
        assert!(
            parse(long.as_bytes())
                .unwrap_err()
                .message()
                .contains("longer than 256")
        );
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            &b""[..],
            b"   ",
            b"[]",
            b"{\"a\":1}",
            b"{\"a\":",
            b"\xff\xfe",
            b"null",
            b"{\"\":\"x\"}",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, VaultError::BadParameter(_)), "{bad:?}");
        }
    }
}
