//! Minimal DER reading and writing: just enough TLV handling for names, OIDs and re-signing.
//!
//! Everything here is total: malformed input gives `None`, never a panic.

/// SEQUENCE tag.
pub(crate) const SEQUENCE: u8 = 0x30;
/// SET tag.
pub(crate) const SET: u8 = 0x31;
/// OBJECT IDENTIFIER tag.
pub(crate) const OID: u8 = 0x06;
/// BIT STRING tag.
pub(crate) const BIT_STRING: u8 = 0x03;
/// UTF8String tag.
pub(crate) const UTF8_STRING: u8 = 0x0c;
/// PrintableString tag.
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
/// IA5String tag.
pub(crate) const IA5_STRING: u8 = 0x16;

/// One TLV element: its tag, its content and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub whole: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
/// Only single-byte tags and definite lengths (DER) are accepted.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in what we read
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Some((
        Tlv {
            tag,
            content,
            whole: &input[..header + len],
        },
        after,
    ))
}

/// Splits the content of a constructed element into its child elements.
pub(crate) fn children(mut content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = read_tlv(content)?;
        out.push(tlv);
        content = rest;
    }
    Some(out)
}

/// Reads exactly one element of the given tag, with nothing after it.
pub(crate) fn read_single(input: &[u8], tag: u8) -> Option<Tlv<'_>> {
    match read_tlv(input)? {
        (tlv, []) if tlv.tag == tag => Some(tlv),
        _ => None,
    }
}

/// Encodes a TLV with a definite DER length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// True when `arcs` is a valid object identifier (RFC 5280 / X.660 rules).
pub(crate) fn oid_is_valid(arcs: &[u64]) -> bool {
    match arcs {
        [first, second, ..] => {
            *first <= 2 && (*first == 2 || *second < 40) && *second <= u64::MAX - 80
        }
        _ => false,
    }
}

/// Parses a dotted OID (`2.5.4.3`); `None` unless it is a valid OID.
pub(crate) fn parse_dotted_oid(text: &str) -> Option<Vec<u64>> {
    let arcs = text
        .split('.')
        .map(|arc| {
            let digits_only = !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit());
            let canonical = arc == "0" || !arc.starts_with('0');
            if digits_only && canonical {
                arc.parse::<u64>().ok()
            } else {
                None
            }
        })
        .collect::<Option<Vec<u64>>>()?;
    oid_is_valid(&arcs).then_some(arcs)
}

/// Writes `arcs` in dotted form.
pub(crate) fn dotted(arcs: &[u64]) -> String {
    let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
    parts.join(".")
}

/// The content octets of an OBJECT IDENTIFIER, or `None` for an invalid OID.
pub(crate) fn oid_content(arcs: &[u64]) -> Option<Vec<u8>> {
    if !oid_is_valid(arcs) {
        return None;
    }
    let mut out = Vec::new();
    let first = arcs[0] * 40 + arcs[1];
    for &arc in std::iter::once(&first).chain(&arcs[2..]) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Some(out)
}

/// Decodes OBJECT IDENTIFIER content octets into arcs.
pub(crate) fn oid_arcs(content: &[u8]) -> Option<Vec<u64>> {
    let mut values = Vec::new();
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for &b in content {
        if !in_arc && b == 0x80 {
            return None; // non-minimal encoding
        }
        acc = acc.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        in_arc = b & 0x80 != 0;
        if !in_arc {
            values.push(acc);
            acc = 0;
        }
    }
    if in_arc || values.is_empty() {
        return None;
    }
    let first = values[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut arcs = vec![a, b];
    arcs.extend_from_slice(&values[1..]);
    Some(arcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trip_and_known_encoding() {
        let cn = [2, 5, 4, 3];
        assert_eq!(oid_content(&cn).unwrap(), vec![0x55, 0x04, 0x03]);
        let rsa = [1, 2, 840, 113549, 1, 1, 1];
        let enc = oid_content(&rsa).unwrap();
        assert_eq!(enc, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
        assert_eq!(oid_arcs(&enc).unwrap(), rsa);
        assert_eq!(
            oid_arcs(&oid_content(&[2, 999, 3]).unwrap()).unwrap(),
            [2, 999, 3]
        );
    }

    #[test]
    fn dotted_oid_validation() {
        assert_eq!(parse_dotted_oid("2.5.4.12"), Some(vec![2, 5, 4, 12]));
        for bad in [
            "",
            "2",
            "3.1",
            "1.40",
            "2..4",
            "2.5.x",
            "02.5",
            "2.5.",
            "99999999999999999999.1",
        ] {
            assert_eq!(parse_dotted_oid(bad), None, "{bad}");
        }
        assert_eq!(oid_content(&[7, 1]), None);
    }

    #[test]
    fn tlv_lengths() {
        let long = vec![0u8; 300];
        let enc = tlv(SEQUENCE, &long);
        assert_eq!(&enc[..4], &[0x30, 0x82, 0x01, 0x2c]);
        let (t, rest) = read_tlv(&enc).unwrap();
        assert_eq!((t.tag, t.content.len(), rest.len()), (SEQUENCE, 300, 0));
        assert!(read_tlv(&enc[..enc.len() - 1]).is_none());
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(read_tlv(&[]).is_none());
    }
}
