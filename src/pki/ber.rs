//! Walking BER (and so DER) structures with the `asn1-rs` parser that x509-parser brings; total, never panics.

use x509_parser::asn1_rs::{Any, Class, FromBer, Tag};

/// One element: its parsed header and content, and its whole encoding.
pub(super) struct Element<'a> {
    /// Header and content (for an indefinite length, without the end-of-contents octets).
    pub any: Any<'a>,
    /// The whole encoding: identifier, length, content (and end-of-contents).
    pub whole: &'a [u8],
}

impl Element<'_> {
    /// Whether this is a universal element with `tag`.
    pub fn is_universal(&self, tag: Tag) -> bool {
        self.any.class() == Class::Universal && self.any.tag() == tag
    }

    /// Whether this is a constructed universal SEQUENCE.
    pub fn is_sequence(&self) -> bool {
        self.is_universal(Tag::Sequence) && self.any.header.is_constructed()
    }

    /// Whether this is a constructed context-specific `[n]`.
    pub fn is_context(&self, n: u32) -> bool {
        self.any.class() == Class::ContextSpecific
            && self.any.tag() == Tag(n)
            && self.any.header.is_constructed()
    }

    /// Whether this is an OBJECT IDENTIFIER with these arcs.
    pub fn is_oid(&self, arcs: &[u64]) -> bool {
        self.is_universal(Tag::Oid)
            && self
                .any
                .as_oid()
                .ok()
                .and_then(|oid| oid.iter().map(|it| it.eq(arcs.iter().copied())))
                .unwrap_or(false)
    }

    /// The OID's dotted text, or `?` when it is not an OID.
    pub fn oid_text(&self) -> String {
        self.any
            .as_oid()
            .map(|oid| oid.to_id_string())
            .unwrap_or_else(|_| "?".into())
    }
}

/// Reads one element from the front of `input`; returns it and the rest.
pub(super) fn element(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (rest, any) = Any::from_ber(input).ok()?;
    let whole = input.get(..input.len() - rest.len())?;
    Some((Element { any, whole }, rest))
}

/// Reads `input` as exactly one element, nothing after it.
pub(super) fn single(input: &[u8]) -> Option<Element<'_>> {
    match element(input)? {
        (e, []) => Some(e),
        _ => None,
    }
}

/// The elements inside a constructed element, in order.
pub(super) fn children<'a>(parent: &Element<'a>) -> Option<Vec<Element<'a>>> {
    if !parent.any.header.is_constructed() {
        return None;
    }
    let mut input = parent.any.data;
    let mut out = Vec::new();
    while !input.is_empty() {
        let (e, rest) = element(input)?;
        out.push(e);
        input = rest;
    }
    Some(out)
}
