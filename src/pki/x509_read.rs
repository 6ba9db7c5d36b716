//! Reading certificates: the facts certfs shows ([`inspect`]) and the spec a certificate was made from ([`certificate_spec`]).

use std::net::IpAddr;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::PkiError;
use super::der;
use super::dn::DistinguishedName;
use super::x509_fields::{CertificateInfo, CertificateSpec, KeyUsage, SubjectAltNames, UPN_OID};

/// Parses one DER certificate with nothing after it.
pub(super) fn parse(der_bytes: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    match X509Certificate::from_der(der_bytes) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(PkiError::Malformed(
            "unexpected bytes after the DER certificate".into(),
        )),
        Err(e) => Err(PkiError::Malformed(format!(
            "not a DER X.509 certificate: {e}"
        ))),
    }
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A name as text in the syntax `DistinguishedName::parse` reads.
fn name_text(name: &x509_parser::x509::X509Name<'_>) -> String {
    DistinguishedName::from_der(name.as_raw())
        .map(|dn| dn.to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// The subject of a DER certificate, as the DER Name it holds (byte for byte).
pub(super) fn raw_subject(der_bytes: &[u8]) -> Result<Vec<u8>, PkiError> {
    Ok(parse(der_bytes)?.tbs_certificate.subject.as_raw().to_vec())
}

/// The subject key identifier a DER certificate carries, if any.
pub(super) fn subject_key_id(der_bytes: &[u8]) -> Option<Vec<u8>> {
    let cert = parse(der_bytes).ok()?;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

/// The subject of a DER certificate request, as the DER Name it holds.
pub(super) fn raw_request_subject(der_bytes: &[u8]) -> Result<Vec<u8>, PkiError> {
    use x509_parser::certification_request::X509CertificationRequest;
    let (_, csr) = X509CertificationRequest::from_der(der_bytes)
        .map_err(|e| PkiError::Malformed(format!("not a certificate request: {e}")))?;
    Ok(csr.certification_request_info.subject.as_raw().to_vec())
}

/// Reads the facts of a DER certificate; any garbage gives `Malformed`.
///
/// The serial is written as `openssl x509 -serial` does (two hex digits a
/// byte, leading zero bytes dropped); subject and issuer as Key Vault shows
/// them (`CN=x, O="Contoso, Inc."`), which `DistinguishedName::parse`
/// reads back.
pub fn inspect(der_bytes: &[u8]) -> Result<CertificateInfo, PkiError> {
    let cert = parse(der_bytes)?;
    let raw_serial = cert.tbs_certificate.raw_serial();
    let leading_zeros = raw_serial.iter().take_while(|&&b| b == 0).count();
    let serial = &raw_serial[leading_zeros.min(raw_serial.len().saturating_sub(1))..];
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der_bytes);
    Ok(CertificateInfo {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        serial_hex: upper_hex(serial),
        sha1_thumbprint_hex: upper_hex(sha1.as_ref()),
        subject: name_text(cert.subject()),
        issuer: name_text(cert.issuer()),
        public_key_der: cert.tbs_certificate.subject_pki.raw.to_vec(),
    })
}

/// Whether a DER certificate says it is a CA (basic constraints CA:true);
/// `false` for anything unreadable.
pub fn is_ca(der_bytes: &[u8]) -> bool {
    parse(der_bytes)
        .ok()
        .and_then(|cert| {
            cert.basic_constraints()
                .ok()
                .flatten()
                .map(|bc| bc.value.ca)
        })
        .unwrap_or(false)
}

/// Reads back what a certificate says as a [`CertificateSpec`]: subject,
/// SANs, key usage, extended key usage (in the order written) and the
/// validity rounded to whole months (at least 1), as Key Vault derives a
/// policy from an imported certificate.
pub fn certificate_spec(der_bytes: &[u8]) -> Result<CertificateSpec, PkiError> {
    let cert = parse(der_bytes)?;
    let subject = DistinguishedName::from_der(cert.subject().as_raw())?;
    let mut spec = CertificateSpec {
        subject,
        sans: SubjectAltNames::default(),
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        validity_months: 1,
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    add_san(&mut spec.sans, name)?;
                }
            }
            ParsedExtension::KeyUsage(ku) => {
                let bits = [
                    (ku.digital_signature(), KeyUsage::DigitalSignature),
                    (ku.non_repudiation(), KeyUsage::NonRepudiation),
                    (ku.key_encipherment(), KeyUsage::KeyEncipherment),
                    (ku.data_encipherment(), KeyUsage::DataEncipherment),
                    (ku.key_agreement(), KeyUsage::KeyAgreement),
                    (ku.key_cert_sign(), KeyUsage::KeyCertSign),
                    (ku.crl_sign(), KeyUsage::CrlSign),
                    (ku.encipher_only(), KeyUsage::EncipherOnly),
                    (ku.decipher_only(), KeyUsage::DecipherOnly),
                ];
                spec.key_usage = bits.iter().filter(|(on, _)| *on).map(|(_, u)| *u).collect();
            }
            ParsedExtension::ExtendedKeyUsage(_) => {
                spec.extended_key_usage = eku_oids(ext.value)?;
            }
            _ => {}
        }
    }
    let seconds = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    let months = (seconds as f64 / (365.2425 / 12.0 * 86_400.0)).round();
    spec.validity_months = months.clamp(1.0, f64::from(u32::MAX)) as u32;
    Ok(spec)
}

/// The extended key usage OIDs, dotted, in the order the extension lists them.
fn eku_oids(value: &[u8]) -> Result<Vec<String>, PkiError> {
    let bad = || PkiError::Malformed("invalid extended key usage extension".into());
    let seq = der::read_single(value, der::SEQUENCE).ok_or_else(bad)?;
    der::children(seq.content)
        .ok_or_else(bad)?
        .iter()
        .map(|t| match t.tag {
            der::OID => der::oid_arcs(t.content).map(|arcs| der::dotted(&arcs)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)
}

fn add_san(sans: &mut SubjectAltNames, name: &GeneralName<'_>) -> Result<(), PkiError> {
    match name {
        GeneralName::DNSName(dns) => sans.dns_names.push((*dns).to_string()),
        GeneralName::RFC822Name(email) => sans.emails.push((*email).to_string()),
        GeneralName::URI(uri) => sans.uris.push((*uri).to_string()),
        GeneralName::IPAddress(octets) => {
            let ip = match octets.len() {
                4 => <[u8; 4]>::try_from(*octets).map(IpAddr::from).ok(),
                16 => <[u8; 16]>::try_from(*octets).map(IpAddr::from).ok(),
                _ => None,
            };
            sans.ip_addresses.push(ip.ok_or_else(|| {
                PkiError::Malformed("an IP address SAN has a wrong length".into())
            })?);
        }
        GeneralName::OtherName(oid, value)
            if oid
                .iter()
                .is_some_and(|arcs| arcs.eq(UPN_OID.iter().copied())) =>
        {
            let upn = upn_value(value)
                .ok_or_else(|| PkiError::Malformed("a UPN SAN is not a UTF8String".into()))?;
            sans.upns.push(upn);
        }
        _ => {} // directory names, registered IDs ...: Key Vault has no field for them
    }
    Ok(())
}

/// The UTF8String inside an otherName value (`[0] EXPLICIT UTF8String`).
fn upn_value(value: &[u8]) -> Option<String> {
    let explicit = der::read_single(value, 0xa0)?;
    let text = der::read_single(explicit.content, der::UTF8_STRING)?;
    String::from_utf8(text.content.to_vec()).ok()
}

/// Orders certificates as a chain for the key whose SubjectPublicKeyInfo
/// is `key_spki`: the leaf (the certificate with that public key) first,
/// then each issuer in turn (matched by exact name bytes), then any other
/// certificates in their original order. Duplicates are dropped. Refuses
/// garbage, and a set with no certificate for the key.
pub fn order_chain(key_spki: &[u8], certs: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, PkiError> {
    let ChainOrder { unique, order, .. } = chain_order(key_spki, certs)?;
    Ok(order.into_iter().map(|i| unique[i].clone()).collect())
}

/// The leaf for the key whose SubjectPublicKeyInfo is `key_spki`, and its
/// chain: each issuer in turn, as far as `certs` reach, without the
/// certificates that do not belong to it. Refuses garbage, and a set with
/// no certificate for the key.
pub fn leaf_and_chain(
    key_spki: &[u8],
    certs: &[Vec<u8>],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), PkiError> {
    let ChainOrder {
        unique,
        order,
        chain_len,
    } = chain_order(key_spki, certs)?;
    let mut chain = order[..chain_len].iter().map(|&i| unique[i].clone());
    let leaf = chain
        .next()
        .ok_or_else(|| PkiError::Malformed("no certificate".into()))?;
    Ok((leaf, chain.collect()))
}

/// Certificates put in chain order: the unique certificates, their order
/// (leaf, issuers, then the rest) as indices, and how many of that order
/// form the chain.
struct ChainOrder<'a> {
    unique: Vec<&'a Vec<u8>>,
    order: Vec<usize>,
    chain_len: usize,
}

/// Whether `issuer`'s key verifies `cert`'s signature; `None` where
/// certfs cannot tell (an algorithm aws-lc does not check, such as DSA or
/// ECDSA with SHA-512, or an RSA key under 2048 bits, which it refuses).
fn verifies(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Option<bool> {
    use x509_parser::error::X509Error;
    use x509_parser::public_key::PublicKey;
    if let Ok(PublicKey::RSA(rsa)) = issuer.public_key().parsed() {
        if rsa.key_size() < 2048 {
            return None;
        }
    }
    match cert.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Some(true),
        Err(X509Error::SignatureVerificationError) => Some(false),
        Err(_) => None,
    }
}

/// Puts `certs` in chain order for the key `key_spki`.
fn chain_order<'a>(key_spki: &[u8], certs: &'a [Vec<u8>]) -> Result<ChainOrder<'a>, PkiError> {
    let mut unique: Vec<&Vec<u8>> = Vec::new();
    for cert in certs {
        if !unique.contains(&cert) {
            unique.push(cert);
        }
    }
    let parsed = unique
        .iter()
        .map(|d| parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = parsed
        .iter()
        .position(|c| c.tbs_certificate.subject_pki.raw == key_spki)
        .ok_or_else(|| {
            PkiError::Malformed("no certificate matches the public part of the private key".into())
        })?;
    let mut order = vec![leaf];
    let mut current = leaf;
    // Each step goes to a certificate named as the issuer whose key
    // verifies the signature: names alone would put a damaged certificate,
    // or another one with the same name (a re-keyed CA), into the chain
    // servers send, which TLS clients then reject.
    loop {
        let cert = &parsed[current];
        let named_self = cert.issuer().as_raw() == cert.subject().as_raw();
        if named_self && verifies(cert, cert) != Some(false) {
            break; // self-signed: the root
        }
        let named: Vec<usize> = (0..parsed.len())
            .filter(|i| {
                !order.contains(i) && parsed[*i].subject().as_raw() == cert.issuer().as_raw()
            })
            .collect();
        match named
            .iter()
            .find(|i| verifies(cert, &parsed[**i]) != Some(false))
        {
            Some(&i) => {
                order.push(i);
                current = i;
            }
            // The issuer is not in the file (a leaf may carry its CA's name).
            None if named.is_empty() && (!named_self || order.len() == 1) => break,
            None => {
                let what = if named.is_empty() {
                    "its own (self-signed) signature does not verify".to_string()
                } else {
                    format!(
                        "it is not signed by {} in the same file",
                        name_text(cert.issuer())
                    )
                };
                return Err(PkiError::Malformed(format!(
                    "the certificate {} is damaged or the file mixes chains: {what}",
                    name_text(cert.subject())
                )));
            }
        }
    }
    let chain_len = order.len();
    order.extend(
        (0..parsed.len())
            .filter(|i| !order.contains(i))
            .collect::<Vec<_>>(),
    );
    Ok(ChainOrder {
        unique,
        order,
        chain_len,
    })
}
