//! A path-aware reader over parsed JSON: `null` is absent, and every refusal names the field as written.
//!
//! The policy is first parsed into a [`serde_json::Value`] (serde_json caps
//! nesting at 128 levels, so hostile input cannot exhaust the stack) and then
//! read field by field through [`Obj`], which knows the dotted path of the
//! object it reads and the dialect the document is written in. Reading
//! through `Value` rather than `#[derive(Deserialize)]` is what lets every
//! message name the exact field (`lifetime_actions[0].trigger.days_before_expiry`)
//! and lets `null` mean "absent" at every level.

use serde_json::{Map, Value};

use super::PolicyError;
use super::messages::{self, bad};

/// 2^64 as a float: any number from here up is too large for a count.
const TWO_TO_THE_64: f64 = 18_446_744_073_709_551_616.0;

/// A value read from the document, with the path it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field<T> {
    /// Dotted path as the user spelled it, for messages.
    pub path: String,
    /// The value.
    pub value: T,
}

/// Which of the two JSON shapes a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Key Vault's REST wire shape (`key_props`, `x509_props`, snake_case).
    Rest,
    /// The az CLI / SDK shape (`keyProperties`, `x509CertificateProperties`, camelCase).
    Cli,
}

/// One key of the policy in both spellings (often the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    /// REST spelling.
    pub rest: &'static str,
    /// az CLI / SDK spelling.
    pub cli: &'static str,
}

impl Key {
    /// A key spelled `rest` in the REST shape and `cli` in the CLI shape.
    pub const fn new(rest: &'static str, cli: &'static str) -> Key {
        Key { rest, cli }
    }

    /// A key spelled the same in both shapes.
    pub const fn same(name: &'static str) -> Key {
        Key {
            rest: name,
            cli: name,
        }
    }
}

impl Dialect {
    /// The spelling of `key` in this dialect.
    pub fn pick(self, key: Key) -> &'static str {
        match self {
            Dialect::Rest => key.rest,
            Dialect::Cli => key.cli,
        }
    }

    /// How messages name this dialect.
    fn shape(self) -> &'static str {
        match self {
            Dialect::Rest => messages::REST_SHAPE,
            Dialect::Cli => messages::CLI_SHAPE,
        }
    }

    fn other(self) -> Dialect {
        match self {
            Dialect::Rest => Dialect::Cli,
            Dialect::Cli => Dialect::Rest,
        }
    }
}

/// A JSON object being read.
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    dialect: Dialect,
    /// The top-level key that decided the dialect, for mixed-dialect messages.
    chosen_by: &'static str,
}

impl<'a> Obj<'a> {
    /// The document's root object.
    pub fn root(map: &'a Map<String, Value>, dialect: Dialect, chosen_by: &'static str) -> Self {
        Obj {
            map,
            path: String::new(),
            dialect,
            chosen_by,
        }
    }

    /// The dotted path of this object (empty for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn child(&self, map: &'a Map<String, Value>, path: String) -> Obj<'a> {
        Obj {
            map,
            path,
            dialect: self.dialect,
            chosen_by: self.chosen_by,
        }
    }

    /// Refuses any key outside `schema`, saying whether it belongs to the
    /// other dialect or looks like a misspelling of a known key.
    pub fn check_keys(&self, schema: &[Key]) -> Result<(), PolicyError> {
        let ours = self.dialect;
        for name in self.map.keys() {
            if schema.iter().any(|k| ours.pick(*k) == name) {
                continue;
            }
            let path = self.child_path(name);
            if let Some(k) = schema.iter().find(|k| ours.other().pick(**k) == name) {
                return Err(bad(messages::other_dialect_key(
                    &path,
                    ours.pick(*k),
                    ours.shape(),
                    ours.other().shape(),
                    self.chosen_by,
                )));
            }
            let folded = fold(name);
            let hint = schema
                .iter()
                .find(|k| fold(k.rest) == folded || fold(k.cli) == folded)
                .map(|k| ours.pick(*k));
            let allowed: Vec<&str> = schema.iter().map(|k| ours.pick(*k)).collect();
            return Err(bad(messages::unknown_field(&path, &allowed, hint)));
        }
        Ok(())
    }

    /// The value under `key` and its path; `None` when absent or `null`.
    fn get(&self, key: Key) -> Option<(&'a Value, String)> {
        let name = self.dialect.pick(key);
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some((v, self.child_path(name))),
        }
    }

    /// A nested object.
    pub fn object(&self, key: Key) -> Result<Option<Obj<'a>>, PolicyError> {
        match self.get(key) {
            None => Ok(None),
            Some((Value::Object(map), path)) => Ok(Some(self.child(map, path))),
            Some((v, path)) => Err(bad(messages::wrong_type(&path, "an object", type_name(v)))),
        }
    }

    /// A string.
    pub fn string(&self, key: Key) -> Result<Option<Field<String>>, PolicyError> {
        self.get(key).map(|(v, path)| string(v, path)).transpose()
    }

    /// A boolean.
    pub fn boolean(&self, key: Key) -> Result<Option<bool>, PolicyError> {
        match self.get(key) {
            None => Ok(None),
            Some((Value::Bool(b), _)) => Ok(Some(*b)),
            Some((v, path)) => Err(bad(messages::wrong_type(
                &path,
                "true or false",
                type_name(v),
            ))),
        }
    }

    /// A non-negative whole number (range checks are the caller's).
    pub fn uint(&self, key: Key) -> Result<Option<Field<u64>>, PolicyError> {
        let Some((v, path)) = self.get(key) else {
            return Ok(None);
        };
        let Value::Number(n) = v else {
            return Err(bad(messages::wrong_type(&path, "a number", type_name(v))));
        };
        // serde_json keeps integers beyond u64/i64 as floats.
        let float = n.as_f64().unwrap_or(0.0);
        if let Some(value) = n.as_u64() {
            Ok(Some(Field { path, value }))
        } else if n.is_i64() || float < 0.0 {
            Err(bad(messages::negative(&path, &n.to_string())))
        } else if float >= TWO_TO_THE_64 {
            Err(bad(messages::too_large(&path, &n.to_string())))
        } else {
            Err(bad(messages::not_integer(&path, &n.to_string())))
        }
    }

    /// An array of strings; `null` elements are skipped.
    pub fn strings(&self, key: Key) -> Result<Option<Vec<Field<String>>>, PolicyError> {
        let Some((items, path)) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if !item.is_null() {
                out.push(string(item, format!("{path}[{i}]"))?);
            }
        }
        Ok(Some(out))
    }

    /// An array of objects; `null` elements are skipped.
    pub fn objects(&self, key: Key) -> Result<Option<Field<Vec<Obj<'a>>>>, PolicyError> {
        let Some((items, path)) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match item {
                Value::Null => {}
                Value::Object(map) => out.push(self.child(map, item_path)),
                v => {
                    return Err(bad(messages::wrong_type(
                        &item_path,
                        "an object",
                        type_name(v),
                    )));
                }
            }
        }
        Ok(Some(Field { path, value: out }))
    }

    fn array(&self, key: Key) -> Result<Option<(&'a Vec<Value>, String)>, PolicyError> {
        match self.get(key) {
            None => Ok(None),
            Some((Value::Array(items), path)) => Ok(Some((items, path))),
            Some((v, path)) => Err(bad(messages::wrong_type(&path, "an array", type_name(v)))),
        }
    }

    /// Accepts and ignores `key` when it has the JSON type `want` (or is absent).
    pub fn ignored(&self, key: Key, want: Kind) -> Result<(), PolicyError> {
        match self.get(key) {
            None => Ok(()),
            Some((v, path)) => {
                let fits = match want {
                    Kind::Object => v.is_object(),
                    Kind::String => v.is_string(),
                };
                if fits {
                    Ok(())
                } else {
                    Err(bad(messages::wrong_type(
                        &path,
                        want.describe(),
                        type_name(v),
                    )))
                }
            }
        }
    }
}

/// JSON types a tolerated-but-ignored field may have.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// `{...}`
    Object,
    /// `"..."`
    String,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::String => "a string",
        }
    }
}

fn string(v: &Value, path: String) -> Result<Field<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(Field {
            path,
            value: s.clone(),
        }),
        v => Err(bad(messages::wrong_type(&path, "a string", type_name(v)))),
    }
}

/// The JSON type of `v`, with its article, for messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `keySize`, `key_size` and `KEY-SIZE` all fold to `keysize`: used only to
/// suggest the right spelling of a mistyped key.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
