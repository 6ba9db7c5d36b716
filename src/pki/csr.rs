//! Other people's certificate signing requests (PKCS#10), PEM or DER: parsed, their signature verified, their key held to RSA 2048 / P-256 at least.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use super::PkiError;
use super::dn::DistinguishedName;
use super::dns_name::{common_name_is_a_host, is_dns_name};

/// The largest CSR read, in bytes.
pub const MAX_CSR_BYTES: usize = 64 * 1024;

/// The named curves accepted: P-256, P-384, P-521.
const CURVES: [&str; 3] = ["1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35"];

/// A CSR whose signature verifies and whose key is strong enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningRequest {
    der: Vec<u8>,
    /// The subject as text (`CN=device1`), for messages.
    pub subject: String,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// The DNS names it asks for (its subjectAltName extension).
    pub dns_names: Vec<String>,
    /// Its IP address and e-mail SANs, as text.
    pub other_names: Vec<String>,
    /// Whether its key is RSA (else EC).
    pub rsa: bool,
}

impl SigningRequest {
    /// Reads a CSR from PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE
    /// REQUEST`) or DER, sniffed from the content. Refuses anything else,
    /// a signature that does not verify, and keys weaker than RSA 2048 or
    /// other than EC P-256, P-384 and P-521.
    pub fn parse(bytes: &[u8]) -> Result<SigningRequest, PkiError> {
        if bytes.len() > MAX_CSR_BYTES {
            return Err(bad("larger than 64 KiB"));
        }
        let der = if bytes.first() == Some(&0x30) {
            bytes.to_vec()
        } else {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("neither PEM text nor DER"))?;
            let block = pem::parse(text.trim_start_matches('\u{feff}'))
                .map_err(|_| bad("no PEM block (-----BEGIN CERTIFICATE REQUEST-----)"))?;
            if !matches!(
                block.tag(),
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"
            ) {
                return Err(bad(&format!(
                    "a PEM {} block, not a CERTIFICATE REQUEST",
                    block.tag().chars().take(40).collect::<String>()
                )));
            }
            block.into_contents()
        };
        let csr = match X509CertificationRequest::from_der(&der) {
            Ok(([], csr)) => csr,
            Ok(_) => return Err(bad("unexpected bytes after the request")),
            Err(_) => {
                return Err(bad(
                    "not a PKCS#10 certificate request (truncated or garbled)",
                ));
            }
        };
        // The key first: a key too weak to be accepted is said so, not
        // reported as a signature the verifier would not check.
        let rsa = check_key(&csr)?;
        csr.verify_signature()
            .map_err(|_| bad("its signature does not verify with its own key"))?;
        let info = &csr.certification_request_info;
        let name = DistinguishedName::from_der(info.subject.as_raw()).ok();
        let subject = name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_else(|| info.subject.to_string());
        let common_name = name
            .as_ref()
            .and_then(|n| n.common_name().map(str::to_owned));
        let mut dns_names = Vec::new();
        let mut other_names = Vec::new();
        for ext in csr.requested_extensions().into_iter().flatten() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for general in &san.general_names {
                    match general {
                        GeneralName::DNSName(d) if is_dns_name(d) => {
                            dns_names.push((*d).to_owned())
                        }
                        GeneralName::DNSName(d) => {
                            return Err(bad(&format!("{d:?} is not a DNS name")));
                        }
                        // Held to the issuer's constraints like DNS names
                        // (so refused wherever there are constraints).
                        GeneralName::IPAddress(ip) => other_names.push(ip_text(ip)),
                        GeneralName::RFC822Name(mail) => other_names.push((*mail).to_owned()),
                        other => {
                            return Err(bad(&format!(
                                "a subject alternative name certfs does not sign ({other:?})"
                            )));
                        }
                    }
                }
            }
        }
        Ok(SigningRequest {
            der,
            subject,
            common_name,
            dns_names,
            other_names,
            rsa,
        })
    }

    /// The request, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Every name the certificate would certify, for the issuer's
    /// constraints: its SANs (IP addresses and e-mail addresses too), and
    /// its common name unless that is plainly a person's name (spaces and
    /// no dot): `intranet`, `evil.com ` or `*` are checked like any name.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .dns_names
            .iter()
            .chain(&self.other_names)
            .map(String::as_str)
            .collect();
        if let Some(cn) = &self.common_name {
            if common_name_is_a_host(cn) && !names.contains(&cn.as_str()) {
                names.push(cn);
            }
        }
        names
    }
}

/// An IP address SAN as text (`10.0.0.1`, `::1`), or its bytes in hex.
fn ip_text(bytes: &[u8]) -> String {
    match <[u8; 4]>::try_from(bytes) {
        Ok(v4) => std::net::Ipv4Addr::from(v4).to_string(),
        Err(_) => match <[u8; 16]>::try_from(bytes) {
            Ok(v6) => std::net::Ipv6Addr::from(v6).to_string(),
            Err(_) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        },
    }
}

fn bad(what: &str) -> PkiError {
    PkiError::Malformed(format!(
        "The certificate signing request is refused: {what}"
    ))
}

/// RSA of at least 2048 bits (true), or EC on P-256, P-384 or P-521 (false).
fn check_key(csr: &X509CertificationRequest<'_>) -> Result<bool, PkiError> {
    let spki = &csr.certification_request_info.subject_pki;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => Ok(true),
        Ok(PublicKey::RSA(rsa)) => Err(bad(&format!(
            "its RSA key has {} bits; at least 2048 are needed",
            rsa.key_size()
        ))),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if curve.as_deref().is_some_and(|c| CURVES.contains(&c)) {
                Ok(false)
            } else {
                Err(bad("its EC key is not on P-256, P-384 or P-521"))
            }
        }
        _ => Err(bad("its key is neither RSA nor EC (P-256, P-384, P-521)")),
    }
}

#[cfg(test)]
#[path = "csr_tests.rs"]
mod tests;
