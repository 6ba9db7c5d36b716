//! X.500 distinguished names as Key Vault users write them: `CN=x, O="Contoso, Inc.", OU=Docs\, A, E=a@b`.

use super::PkiError;

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

impl DistinguishedName {
    /// Parses Key Vault's subject syntax: comma (or semicolon) separated
    /// RDNs, spaces around separators ignored, values quoted (`"a, b"`) or
    /// backslash-escaped (`a\, b`), `+` for multi-valued RDNs, attribute
    /// names case-insensitive (CN, O, OU, C, ST/S, L, E/EMAILADDRESS, STREET,
    /// DC, SERIALNUMBER) or dotted OIDs. Refuses empty names, unknown
    /// attribute names, unterminated quotes and empty values, saying which.
    pub fn parse(_text: &str) -> Result<Self, PkiError> {
        unimplemented!()
    }

    /// The value of the first CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        unimplemented!()
    }
}
