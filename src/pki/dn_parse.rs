//! The subject text parser behind [`DistinguishedName::parse`](super::DistinguishedName::parse): a cursor over quoted, escaped and `+`-joined values.

use super::AttributeType;
use crate::pki::PkiError;
use crate::pki::der;

const KNOWN_NAMES_HINT: &str = "use CN, O, OU, C, ST (or S), L, E, STREET, DC, SERIALNUMBER, \
     T, SN, G, I, UID, POSTALCODE or a dotted OID such as 2.5.4.12";

pub(super) fn invalid(message: impl Into<String>) -> PkiError {
    PkiError::InvalidName(message.into())
}

fn is_printable_string_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// Checks that `value` can be encoded for `ty`; says why not.
pub(super) fn check_value(ty: &AttributeType, value: &str) -> Result<(), PkiError> {
    let label = ty.label();
    if value.is_empty() {
        return Err(invalid(format!("{label} has an empty value")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the value of {label} contains a control character"
        )));
    }
    match ty {
        AttributeType::Country
            if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            Err(invalid(format!(
                "C must be a two-letter country code such as US, not `{value}`"
            )))
        }
        AttributeType::SerialNumber if !value.chars().all(is_printable_string_char) => {
            Err(invalid(format!(
                "SERIALNUMBER may only hold letters, digits, spaces and '()+,-./:=?, not `{value}`"
            )))
        }
        AttributeType::Email | AttributeType::DomainComponent if !value.is_ascii() => Err(invalid(
            format!("{label} must be ASCII (IA5String), not `{value}`"),
        )),
        AttributeType::Oid(arcs) if !der::oid_is_valid(arcs) => Err(invalid(format!(
            "`{}` is not a valid object identifier",
            der::dotted(arcs)
        ))),
        _ => Ok(()),
    }
}

const PLUS_HINT: &str = " (a `+` joins attributes into one RDN; to use it in a value, \
     quote or escape it: O=\"A+B\" or O=A\\+B)";

/// A character cursor over the subject text.
pub(super) struct Cursor<'a> {
    pub(super) chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Cursor<'_> {
    fn skip_spaces(&mut self) {
        while self.chars.next_if(|c| c.is_whitespace()).is_some() {}
    }

    /// Reads an attribute name up to `=`; `Err` says what was found instead.
    pub(super) fn attribute_type(&mut self, after_plus: bool) -> Result<AttributeType, PkiError> {
        self.skip_spaces();
        let mut name = String::new();
        loop {
            match self.chars.next() {
                Some('=') => break,
                Some(c @ (',' | ';' | '+')) if name.trim().is_empty() => {
                    return Err(invalid(format!(
                        "empty attribute before `{c}`: remove the extra separator"
                    )));
                }
                None if name.trim().is_empty() => {
                    return Err(invalid(
                        "the name ends with a separator: remove the trailing separator",
                    ));
                }
                Some(',' | ';' | '+') | None => {
                    let hint = if after_plus { PLUS_HINT } else { "" };
                    return Err(invalid(format!(
                        "`{}` has no `=`: write attributes as TYPE=value, e.g. CN=www.contoso.com{hint}",
                        name.trim()
                    )));
                }
                Some(c) => name.push(c),
            }
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid(
                "an attribute value has no attribute type before `=`",
            ));
        }
        AttributeType::from_name(name).ok_or_else(|| {
            let hint = if after_plus { PLUS_HINT } else { "" };
            invalid(format!(
                "unknown attribute type `{name}`: {KNOWN_NAMES_HINT}{hint}"
            ))
        })
    }

    /// Handles the character after a backslash: `\XX` hex byte or a literal character.
    fn escape(&mut self, out: &mut Vec<u8>, label: &str) -> Result<(), PkiError> {
        let Some(c) = self.chars.next() else {
            return Err(invalid(format!(
                "the value of {label} ends with a backslash: escape a backslash as \\\\"
            )));
        };
        if let (Some(high), Some(low)) = (
            c.to_digit(16),
            self.chars.peek().and_then(|d| d.to_digit(16)),
        ) {
            self.chars.next();
            out.push((high * 16 + low) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }

    /// Reads a value, quoted or not, stopping before the next separator.
    pub(super) fn value(&mut self, ty: &AttributeType) -> Result<String, PkiError> {
        let label = ty.label();
        self.skip_spaces();
        let mut out = Vec::new();
        if self.chars.next_if_eq(&'"').is_some() {
            loop {
                match self.chars.next() {
                    None => {
                        return Err(invalid(format!(
                            "unterminated quote in the value of {label}: add the closing \""
                        )));
                    }
                    Some('"') => break,
                    Some('\\') => self.escape(&mut out, &label)?,
                    Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
                }
            }
            self.skip_spaces();
            if let Some(&c) = self.chars.peek().filter(|c| !matches!(c, ',' | ';' | '+')) {
                return Err(invalid(format!(
                    "unexpected `{c}` after the closing quote of {label}'s value: \
                     put the whole value in quotes"
                )));
            }
        } else {
            // Unescaped trailing spaces are not part of the value.
            let mut significant = 0;
            while let Some(&c) = self.chars.peek() {
                if matches!(c, ',' | ';' | '+') {
                    break;
                }
                self.chars.next();
                if c == '\\' {
                    self.escape(&mut out, &label)?;
                    significant = out.len();
                } else {
                    out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
                    if !c.is_whitespace() {
                        significant = out.len();
                    }
                }
            }
            out.truncate(significant);
        }
        String::from_utf8(out).map_err(|_| {
            invalid(format!(
                "the hex escapes in the value of {label} are not valid UTF-8"
            ))
        })
    }
}
