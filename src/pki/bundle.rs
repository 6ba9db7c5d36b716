//! What `merge/` accepts: certificates in any of the usual files, recognised by content, not by name.

use super::PkiError;
use super::ber;
use super::pem_read;
use super::pkcs7;
use super::x509_read;

/// The forms [`certificates_from_any`] reads, for error messages.
pub const ACCEPTED: &str = "accepted are one certificate (PEM or DER .cer/.crt), several PEM \
     certificates, or a PKCS#7 bundle (.p7b, PEM or DER)";

/// PEM labels of a single certificate.
const CERT_LABELS: &[&str] = &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"];
/// PEM labels of a PKCS#7/CMS bundle.
const P7_LABELS: &[&str] = &["PKCS7", "PKCS #7 SIGNED DATA", "CMS"];

/// The certificates (DER, in file order) in a file dropped into `merge/`.
///
/// Recognised by content: a PEM file with one or more `CERTIFICATE` blocks
/// and/or `PKCS7` blocks (in any order; other text, other blocks such as
/// private keys, and CRLF line ends are ignored), a DER certificate, a DER
/// or BER PKCS#7 bundle, or one of those DER files saved as bare base64.
/// Each certificate is checked to be a well-formed X.509 certificate; the
/// order is the file's (the vault orders the chain by the key). Duplicates
/// are kept. Nothing recognisable gives `Malformed` saying what is accepted.
pub fn certificates_from_any(data: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    if data.first() == Some(&0x30) {
        let as_cert = x509_read::parse(data).map(|_| ());
        if as_cert.is_ok() {
            return Ok(vec![data.to_vec()]);
        }
        let as_p7 = pkcs7::certificates(data);
        if as_p7.is_ok() || !pem_read::has_pem(data) {
            return as_p7.map_err(|p7| {
                let cert = as_cert
                    .err()
                    .map(|e| e.message().to_string())
                    .unwrap_or_default();
                PkiError::Malformed(format!(
                    "the file is binary but neither a DER certificate ({cert}) nor a PKCS#7 \
                     bundle ({}); {ACCEPTED}",
                    p7.message()
                ))
            });
        }
    }
    if pem_read::has_pem(data) {
        return from_pem(data);
    }
    if let Some(der) = pem_read::bare_base64(data) {
        if der.first() == Some(&0x30) {
            return certificates_from_any(&der);
        }
    }
    Err(PkiError::Malformed(format!(
        "the file holds no certificate; {ACCEPTED}"
    )))
}

/// Certificates from PEM text: `CERTIFICATE` and `PKCS7` blocks in order.
fn from_pem(data: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut certs = Vec::new();
    let mut labels = Vec::new();
    for block in pem_read::blocks(data)? {
        match block_certificates(&block)? {
            Some(found) => certs.extend(found),
            None if !labels.contains(&block.label) => labels.push(block.label),
            None => {}
        }
    }
    if certs.is_empty() {
        let found = if labels.is_empty() {
            "no PEM block".to_string()
        } else {
            format!("only {}", labels.join(", "))
        };
        return Err(PkiError::Malformed(format!(
            "the PEM text holds no CERTIFICATE or PKCS7 block ({found}); {ACCEPTED}"
        )));
    }
    Ok(certs)
}

/// The certificates of one PEM block: `Some` for a certificate or PKCS#7
/// block (each certificate checked), `None` for any other label.
pub(super) fn block_certificates(
    block: &pem_read::Block<'_>,
) -> Result<Option<Vec<Vec<u8>>>, PkiError> {
    let label = block.label.as_str();
    if CERT_LABELS.contains(&label) {
        let der = block.decode()?;
        let cert = certificate_from_block(&der, label).map_err(|e| {
            PkiError::Malformed(format!(
                "the {label} PEM block (block {} in the file) is not a valid X.509 \
                 certificate ({})",
                block.number,
                e.message()
            ))
        })?;
        Ok(Some(vec![cert]))
    } else if P7_LABELS.contains(&label) {
        Ok(Some(pkcs7::certificates(&block.decode()?)?))
    } else {
        Ok(None)
    }
}

/// The certificate in a certificate block. OpenSSL's `TRUSTED CERTIFICATE`
/// appends its trust settings after the certificate; they are dropped.
fn certificate_from_block(der: &[u8], label: &str) -> Result<Vec<u8>, PkiError> {
    let cert = if label == "TRUSTED CERTIFICATE" {
        ber::element(der).map_or(der, |(e, _)| e.whole)
    } else {
        der
    };
    x509_read::parse(cert)?;
    Ok(cert.to_vec())
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
pub(crate) mod tests;
