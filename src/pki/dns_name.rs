//! What a DNS name is, for a policy's SANs and for the names of a CSR: `[*.]label(.label)*`, at most 253 bytes.

/// The longest DNS name (RFC 1035, without the root's dot).
pub const DNS_NAME_MAX: usize = 253;

/// The longest label (RFC 1035).
pub const LABEL_MAX: usize = 63;

/// A DNS name: `[*.]label(.label)*`, each label letters, digits and
/// hyphens, not starting or ending with a hyphen.
pub fn is_dns_name(s: &str) -> bool {
    let host = s.strip_prefix("*.").unwrap_or(s);
    s.len() <= DNS_NAME_MAX && !host.is_empty() && host.split('.').all(is_label)
}

/// Whether a subject's common name names a host, for an issuer's name
/// constraints: anything but plainly a person's name (spaces and no dot).
/// `intranet`, `evil.com ` and `*` are judged like any host name.
pub fn common_name_is_a_host(cn: &str) -> bool {
    !cn.contains(' ') || cn.contains('.')
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= LABEL_MAX
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_nul_spaces_or_stars_inside_are_not_dns_names() {
        for good in ["a.test", "*.example.test", "x-1.y", "localhost"] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in [
            "evil.com\0.example.test",
            "a b.example.test",
            "*.*.example.test",
            "a.*.test",
            "-a.test",
            "a..test",
            "",
            "*.",
            "é.test",
        ] {
            assert!(!is_dns_name(bad), "{bad:?}");
        }
    }
}
