//! Light syntax checks on subject alternative names: enough to catch a pasted wrong column, not a full RFC validator.
//!
//! - DNS names: labels of letters, digits and hyphens (not at a label's
//!   start or end), 1 to 63 characters each, joined by dots, at most 253
//!   characters, with an optional leading `*.` (CAs decide on wildcards).
//!   Nothing else: a name reaches hooks' environment (`RENEWED_DOMAINS`),
//!   web server configurations and CAs, and Key Vault refuses it too.
//! - E-mail addresses: exactly one `@` with text on both sides, no white space.
//! - UPNs: like e-mail addresses (`name@domain`), which is what Windows expects.
//! - IP addresses: IPv4 or IPv6 as [`std::net::IpAddr`] parses them.
//! - URIs: a scheme (`[A-Za-z][A-Za-z0-9+.-]*:`) followed by something, no white space.
//!
//! Values are kept as written; duplicates are kept (Key Vault keeps them too).

use std::net::IpAddr;

use crate::pki::x509::SubjectAltNames;

use super::json::Field;
use super::messages::{self, bad};
use super::wire::RawSans;
use super::{DnsNames, PolicyError};

/// The longest DNS name (RFC 1035, without the final dot).
use crate::pki::dns_name::DNS_NAME_MAX;
#[cfg(test)]
use crate::pki::dns_name::LABEL_MAX;

/// Checks and converts the SANs as written.
pub(super) fn check(raw: &RawSans, dns: DnsNames) -> Result<SubjectAltNames, PolicyError> {
    let dns_rule = match dns {
        DnsNames::Strict => is_dns_name,
        DnsNames::AsStored => is_stored_dns_name,
    };
    Ok(SubjectAltNames {
        dns_names: each(&raw.dns_names, dns_rule, messages::invalid_dns_name)?,
        emails: each(&raw.emails, is_mailbox, messages::invalid_email)?,
        upns: each(&raw.upns, is_mailbox, messages::invalid_upn)?,
        ip_addresses: raw
            .ip_addresses
            .iter()
            .map(|f| {
                f.value
                    .parse::<IpAddr>()
                    .map_err(|_| bad(messages::invalid_ip(&f.path, &f.value)))
            })
            .collect::<Result<_, _>>()?,
        uris: each(&raw.uris, is_uri, messages::invalid_uri)?,
    })
}

fn each(
    fields: &[Field<String>],
    ok: fn(&str) -> bool,
    message: fn(&str, &str) -> String,
) -> Result<Vec<String>, PolicyError> {
    fields
        .iter()
        .map(|f| {
            if ok(&f.value) {
                Ok(f.value.clone())
            } else {
                Err(bad(message(&f.path, &f.value)))
            }
        })
        .collect()
}

pub(crate) use crate::pki::dns_name::is_dns_name;

/// The rule of stores written before [`is_dns_name`]: ASCII without spaces.
fn is_stored_dns_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= DNS_NAME_MAX && s.bytes().all(|b| b.is_ascii_graphic())
}

fn is_mailbox(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for ok in [
            "example.com",
            "*.example.com",
            "localhost",
            "xn--bcher-kva.example",
        ] {
            assert!(is_dns_name(ok), "{ok}");
        }
        let long = "a".repeat(DNS_NAME_MAX + 1);
        let long_label = format!("{}.example", "a".repeat(LABEL_MAX + 1));
        let longest = format!("{}.example", "a".repeat(LABEL_MAX));
        assert!(is_dns_name(&longest));
        for bad in [
            "",
            "exa mple.com",
            "bücher.example",
            "tab\t.com",
            long.as_str(),
            long_label.as_str(),
            "$(touch${IFS}/tmp/p)",
            "`id`",
            "a;b",
            "x|id",
            "a&b.example",
            "under_score.example",
            "-lead.example",
            "trail-.example",
            "double..dot",
            ".example.com",
            "example.com.",
            "*",
            "*.",
            "a.*.example",
            "**.example",
        ] {
            assert!(!is_dns_name(bad), "{bad:?}");
        }
        // What older stores hold still loads.
        assert!(is_stored_dns_name("under_score.example"));
        assert!(!is_stored_dns_name("exa mple.com"));
    }

    #[test]
    fn mailboxes() {
        assert!(is_mailbox("a@b.example"));
        for bad in ["", "a", "@b", "a@", "a@b@c", "a b@c", "a@b\n"] {
            assert!(!is_mailbox(bad), "{bad:?}");
        }
    }

    #[test]
    fn uris() {
        for ok in [
            "https://example.com/",
            "urn:uuid:1234",
            "spiffe://td/ns/a",
            "a+b.c-d:x",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "://x",
            "1http://x",
            "https:",
            "http://a b",
            "ht_tp://x",
        ] {
            assert!(!is_uri(bad), "{bad:?}");
        }
    }
}
