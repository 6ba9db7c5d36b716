//! X.500 distinguished names as Key Vault users write them: `CN=x, O="Contoso, Inc.", OU=Docs\, A, E=a@b`.

use std::fmt;

use super::PkiError;
use super::der;

#[path = "dn_parse.rs"]
mod parse;
use parse::{Cursor, check_value, invalid};

/// One attribute type of a relative distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// CN
    CommonName,
    /// O
    Organization,
    /// OU
    OrganizationalUnit,
    /// C
    Country,
    /// ST or S
    State,
    /// L
    Locality,
    /// E or EMAILADDRESS
    Email,
    /// STREET
    Street,
    /// DC
    DomainComponent,
    /// SERIALNUMBER
    SerialNumber,
    /// Any other type given as a dotted OID (`2.5.4.12=Manager`).
    Oid(Vec<u64>),
}

/// A parsed distinguished name: RDNs in the order written, each a set of
/// (type, value) pairs (`+` joins several in one RDN). Repeated types
/// (`OU=A, OU=B`) are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    /// The relative distinguished names, most significant as written first.
    pub rdns: Vec<Vec<(AttributeType, String)>>,
}

/// Attribute names accepted in subjects (upper case), with their OIDs.
/// The first name listed for an OID is the one [`DistinguishedName`]'s
/// `Display` writes.
const NAMES: &[(&str, &[u64])] = &[
    ("CN", &[2, 5, 4, 3]),
    ("COMMONNAME", &[2, 5, 4, 3]),
    ("O", &[2, 5, 4, 10]),
    ("ORGANIZATIONNAME", &[2, 5, 4, 10]),
    ("OU", &[2, 5, 4, 11]),
    ("ORGANIZATIONALUNITNAME", &[2, 5, 4, 11]),
    ("C", &[2, 5, 4, 6]),
    ("COUNTRYNAME", &[2, 5, 4, 6]),
    ("ST", &[2, 5, 4, 8]),
    ("S", &[2, 5, 4, 8]),
    ("STATEORPROVINCENAME", &[2, 5, 4, 8]),
    ("L", &[2, 5, 4, 7]),
    ("LOCALITYNAME", &[2, 5, 4, 7]),
    ("E", &[1, 2, 840, 113549, 1, 9, 1]),
    ("EMAILADDRESS", &[1, 2, 840, 113549, 1, 9, 1]),
    ("EMAIL", &[1, 2, 840, 113549, 1, 9, 1]),
    ("STREET", &[2, 5, 4, 9]),
    ("STREETADDRESS", &[2, 5, 4, 9]),
    ("DC", &[0, 9, 2342, 19200300, 100, 1, 25]),
    ("SERIALNUMBER", &[2, 5, 4, 5]),
    ("T", &[2, 5, 4, 12]),
    ("TITLE", &[2, 5, 4, 12]),
    ("SN", &[2, 5, 4, 4]),
    ("SURNAME", &[2, 5, 4, 4]),
    ("G", &[2, 5, 4, 42]),
    ("GN", &[2, 5, 4, 42]),
    ("GIVENNAME", &[2, 5, 4, 42]),
    ("I", &[2, 5, 4, 43]),
    ("INITIALS", &[2, 5, 4, 43]),
    ("POSTALCODE", &[2, 5, 4, 17]),
    ("DESCRIPTION", &[2, 5, 4, 13]),
    ("DNQUALIFIER", &[2, 5, 4, 46]),
    ("PSEUDONYM", &[2, 5, 4, 65]),
    ("UID", &[0, 9, 2342, 19200300, 100, 1, 1]),
];

impl AttributeType {
    /// The attribute's OID arcs (`CN` → `[2, 5, 4, 3]`).
    pub fn oid(&self) -> Vec<u64> {
        let name = match self {
            AttributeType::CommonName => "CN",
            AttributeType::Organization => "O",
            AttributeType::OrganizationalUnit => "OU",
            AttributeType::Country => "C",
            AttributeType::State => "ST",
            AttributeType::Locality => "L",
            AttributeType::Email => "E",
            AttributeType::Street => "STREET",
            AttributeType::DomainComponent => "DC",
            AttributeType::SerialNumber => "SERIALNUMBER",
            AttributeType::Oid(arcs) => return arcs.clone(),
        };
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, oid)| oid.to_vec())
            .unwrap_or_default()
    }

    /// The type for an OID, using the named variants where one fits.
    pub fn from_oid(arcs: &[u64]) -> AttributeType {
        let named = [
            AttributeType::CommonName,
            AttributeType::Organization,
            AttributeType::OrganizationalUnit,
            AttributeType::Country,
            AttributeType::State,
            AttributeType::Locality,
            AttributeType::Email,
            AttributeType::Street,
            AttributeType::DomainComponent,
            AttributeType::SerialNumber,
        ];
        named
            .into_iter()
            .find(|t| t.oid() == arcs)
            .unwrap_or_else(|| AttributeType::Oid(arcs.to_vec()))
    }

    /// Parses an attribute name (case-insensitive), `OID.`-prefixed or bare dotted OID.
    fn from_name(name: &str) -> Option<AttributeType> {
        let upper = name.to_ascii_uppercase();
        if let Some((_, oid)) = NAMES.iter().find(|(n, _)| *n == upper) {
            return Some(AttributeType::from_oid(oid));
        }
        let dotted = upper.strip_prefix("OID.").unwrap_or(&upper);
        der::parse_dotted_oid(dotted).map(|arcs| AttributeType::from_oid(&arcs))
    }

    /// The short name written by `Display`, or the dotted OID.
    fn label(&self) -> String {
        let oid = self.oid();
        NAMES
            .iter()
            .find(|(_, o)| *o == oid.as_slice())
            .map(|(n, _)| (*n).to_string())
            .unwrap_or_else(|| der::dotted(&oid))
    }

    /// The ASN.1 string tag certfs encodes this attribute's values with.
    fn string_tag(&self) -> u8 {
        match self {
            AttributeType::Country | AttributeType::SerialNumber => der::PRINTABLE_STRING,
            AttributeType::Email | AttributeType::DomainComponent => der::IA5_STRING,
            _ => der::UTF8_STRING,
        }
    }
}

impl DistinguishedName {
    /// Parses Key Vault's subject syntax: comma (or semicolon) separated
    /// RDNs, spaces around separators ignored, values quoted (`"a, b"`) or
    /// backslash-escaped (`a\, b`), `+` for multi-valued RDNs, attribute
    /// names case-insensitive (CN, O, OU, C, ST/S, L, E/EMAILADDRESS, STREET,
    /// DC, SERIALNUMBER) or dotted OIDs. Refuses empty names, unknown
    /// attribute names, unterminated quotes and empty values, saying which.
    ///
    /// Also accepted: T, SN (surname), G, I, UID, POSTALCODE, DESCRIPTION,
    /// DNQUALIFIER, PSEUDONYM, OpenSSL's long names (`commonName`, ...),
    /// `OID.2.5.4.12=...`, and RFC 4514 hex escapes (`\2C`).
    pub fn parse(text: &str) -> Result<Self, PkiError> {
        if text.trim().is_empty() {
            return Err(invalid(
                "the name is empty: write at least one attribute, e.g. CN=www.contoso.com",
            ));
        }
        let mut cursor = Cursor {
            chars: text.chars().peekable(),
        };
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        loop {
            let ty = cursor.attribute_type(!rdn.is_empty())?;
            let value = cursor.value(&ty)?;
            check_value(&ty, &value)?;
            rdn.push((ty, value));
            match cursor.chars.next() {
                Some('+') => {}
                Some(_) => rdns.push(std::mem::take(&mut rdn)),
                None => {
                    rdns.push(rdn);
                    return Ok(DistinguishedName { rdns });
                }
            }
        }
    }

    /// The value of the first CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.rdns
            .iter()
            .flatten()
            .find(|(ty, _)| *ty == AttributeType::CommonName)
            .map(|(_, value)| value.as_str())
    }

    /// True when the name has no attribute at all (an empty subject).
    pub fn is_empty(&self) -> bool {
        self.rdns.iter().all(Vec::is_empty)
    }

    /// DER encoding of the name (an X.501 `Name`), RDNs in the order
    /// written and repeated attributes kept. C and SERIALNUMBER are
    /// PrintableString, E and DC IA5String, everything else UTF8String.
    pub fn to_der(&self) -> Result<Vec<u8>, PkiError> {
        let mut rdns = Vec::new();
        for rdn in &self.rdns {
            if rdn.is_empty() {
                return Err(invalid("a relative distinguished name has no attribute"));
            }
            let mut avas = Vec::new();
            for (ty, value) in rdn {
                check_value(ty, value)?;
                let oid = der::oid_content(&ty.oid())
                    .ok_or_else(|| invalid("invalid attribute type OID"))?;
                let mut ava = der::tlv(der::OID, &oid);
                ava.extend(der::tlv(ty.string_tag(), value.as_bytes()));
                avas.push(der::tlv(der::SEQUENCE, &ava));
            }
            avas.sort(); // DER: a SET OF is sorted by encoding
            rdns.extend(der::tlv(der::SET, &avas.concat()));
        }
        Ok(der::tlv(der::SEQUENCE, &rdns))
    }

    /// Reads a DER X.501 `Name` (as found in certificates). String types
    /// other than UTF8String are decoded to text; `to_der` re-encodes with
    /// certfs' own string types, so keep the original bytes where exact
    /// bytes matter (issuer matching).
    pub fn from_der(der_name: &[u8]) -> Result<Self, PkiError> {
        let malformed = || PkiError::Malformed("not a DER X.501 name".into());
        let name = der::read_single(der_name, der::SEQUENCE).ok_or_else(malformed)?;
        let mut rdns = Vec::new();
        for set in der::children(name.content).ok_or_else(malformed)? {
            let avas = der::children(set.content).filter(|_| set.tag == der::SET);
            let mut rdn = Vec::new();
            for ava in avas.ok_or_else(malformed)? {
                let parts = der::children(ava.content).ok_or_else(malformed)?;
                let [oid, value] = parts.as_slice() else {
                    return Err(malformed());
                };
                if ava.tag != der::SEQUENCE || oid.tag != der::OID {
                    return Err(malformed());
                }
                let arcs = der::oid_arcs(oid.content).ok_or_else(malformed)?;
                let text = decode_string(value.tag, value.content).ok_or_else(malformed)?;
                rdn.push((AttributeType::from_oid(&arcs), text));
            }
            rdns.push(rdn);
        }
        Ok(DistinguishedName { rdns })
    }

    /// The name as an rcgen `DistinguishedName`, for code that builds
    /// certificates with rcgen directly. rcgen keeps one value per type,
    /// so a second occurrence of CN, O, OU, C, ST or L is stored under
    /// `DnType::CustomDnType` with the same OID (it still encodes as that
    /// attribute, in the order written). Names rcgen cannot hold (a third
    /// occurrence, a repeated E/DC/other type, a `+` multi-valued RDN) are
    /// refused; [`super::x509`] does not go through this and handles them all.
    pub fn to_rcgen(&self) -> Result<rcgen::DistinguishedName, PkiError> {
        use rcgen::{DnType, DnValue};
        let mut out = rcgen::DistinguishedName::new();
        let mut seen: Vec<rcgen::DnType> = Vec::new();
        for rdn in &self.rdns {
            let [(ty, value)] = rdn.as_slice() else {
                return Err(invalid(
                    "rcgen cannot encode a multi-valued (+) RDN; use x509::self_signed",
                ));
            };
            check_value(ty, value)?;
            let oid = ty.oid();
            let named = match ty {
                AttributeType::CommonName => DnType::CommonName,
                AttributeType::Organization => DnType::OrganizationName,
                AttributeType::OrganizationalUnit => DnType::OrganizationalUnitName,
                AttributeType::Country => DnType::CountryName,
                AttributeType::State => DnType::StateOrProvinceName,
                AttributeType::Locality => DnType::LocalityName,
                _ => DnType::CustomDnType(oid.clone()),
            };
            let dn_type = [named, DnType::CustomDnType(oid)]
                .into_iter()
                .find(|t| !seen.contains(t))
                .ok_or_else(|| {
                    invalid(format!(
                        "rcgen cannot encode {} that many times; use x509::self_signed",
                        ty.label()
                    ))
                })?;
            let not_ascii = |_| invalid(format!("{} must be ASCII", ty.label()));
            let dn_value = match ty.string_tag() {
                der::PRINTABLE_STRING => {
                    DnValue::PrintableString(value.as_str().try_into().map_err(not_ascii)?)
                }
                der::IA5_STRING => {
                    DnValue::Ia5String(value.as_str().try_into().map_err(not_ascii)?)
                }
                _ => DnValue::Utf8String(value.clone()),
            };
            seen.push(dn_type.clone());
            out.push(dn_type, dn_value);
        }
        Ok(out)
    }
}

/// Decodes the ASN.1 string types that occur in names.
fn decode_string(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        0x0c | 0x12 | 0x13 | 0x16 | 0x1a => String::from_utf8(content.to_vec()).ok(),
        // TeletexString: in practice Latin-1
        0x14 => Some(content.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE
        0x1e if content.len() % 2 == 0 => {
            let units = content
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        // UniversalString: UTF-32BE
        0x1c if content.len() % 4 == 0 => content
            .chunks_exact(4)
            .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])))
            .collect(),
        _ => None,
    }
}

/// Writes one value in the syntax [`DistinguishedName::parse`] reads back.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let needs_quotes = value.is_empty()
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value.starts_with('"')
        || value.chars().any(|c| ",;+\\".contains(c) || c.is_control());
    if !needs_quotes {
        return f.write_str(value);
    }
    f.write_str("\"")?;
    for c in value.chars() {
        match c {
            '"' | '\\' => write!(f, "\\{c}")?,
            c if c.is_control() => {
                for b in c.encode_utf8(&mut [0u8; 4]).bytes() {
                    write!(f, "\\{b:02X}")?;
                }
            }
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Writes the name as Key Vault shows subjects (`CN=x, O="Contoso, Inc."`),
/// in the syntax [`DistinguishedName::parse`] reads back.
impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            for (j, (ty, value)) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str(" + ")?;
                }
                write!(f, "{}=", ty.label())?;
                write_value(f, value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "dn_tests.rs"]
mod tests;
