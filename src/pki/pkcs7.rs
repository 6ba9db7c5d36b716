//! PKCS#7/CMS certificate bundles (`.p7b`): the certificates of a SignedData, DER or BER.

use super::PkiError;
use super::ber::{self, Element};
use super::x509_read;

/// id-signedData, 1.2.840.113549.1.7.2.
const SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];

fn not_p7(why: &str) -> PkiError {
    PkiError::Malformed(format!("not a PKCS#7 certificate bundle: {why}"))
}

/// The certificates (DER, in file order) of a PKCS#7/CMS SignedData, as
/// `.p7b` files and `openssl crl2pkcs7 -nocrl` carry a chain.
///
/// Reads DER and BER (indefinite lengths, as Windows and some CAs write).
/// A signed message's certificates are returned too; its content, CRLs and
/// signatures are ignored and nothing is verified. Each certificate is
/// checked to be a well-formed X.509 certificate. Anything else, or a
/// bundle with no certificate, gives `Malformed`.
pub fn certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    let info = ber::single(data).ok_or_else(|| not_p7("not a single BER/DER structure"))?;
    if !info.is_sequence() {
        return Err(not_p7("it does not start with a SEQUENCE"));
    }
    let fields = ber::children(&info).ok_or_else(|| not_p7("its ContentInfo is damaged"))?;
    let (content_type, content) = match fields.as_slice() {
        [t, c] => (t, c),
        _ => return Err(not_p7("its ContentInfo does not have two fields")),
    };
    if !content_type.is_universal(x509_parser::asn1_rs::Tag::Oid) {
        return Err(not_p7("its ContentInfo has no content type"));
    }
    if !content_type.is_oid(SIGNED_DATA) {
        return Err(not_p7(&format!(
            "its content type is {}, not SignedData (1.2.840.113549.1.7.2)",
            content_type.oid_text()
        )));
    }
    if !content.is_context(0) {
        return Err(not_p7("its SignedData content is missing"));
    }
    let signed_data = match ber::children(content).as_deref() {
        Some([sd]) if sd.is_sequence() => ber::children(sd),
        _ => None,
    }
    .ok_or_else(|| not_p7("its SignedData is damaged"))?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
    let certificates = signed_data
        .iter()
        .skip(3)
        .find(|e| e.is_context(0))
        .ok_or_else(|| PkiError::Malformed("the PKCS#7 bundle holds no certificate".into()))?;
    let choices =
        ber::children(certificates).ok_or_else(|| not_p7("its certificate set is damaged"))?;
    let certs: Vec<Vec<u8>> = choices
        .iter()
        .filter(|e| e.is_sequence()) // other CertificateChoices: attribute certificates ...
        .map(|e: &Element<'_>| e.whole.to_vec())
        .collect();
    if certs.is_empty() {
        return Err(PkiError::Malformed(
            "the PKCS#7 bundle holds no X.509 certificate".into(),
        ));
    }
    for (i, cert) in certs.iter().enumerate() {
        x509_read::parse(cert).map_err(|e| {
            PkiError::Malformed(format!(
                "certificate {} of the PKCS#7 bundle is unreadable ({})",
                i + 1,
                e.message()
            ))
        })?;
    }
    Ok(certs)
}

#[cfg(test)]
#[path = "pkcs7_tests.rs"]
pub(crate) mod tests;
