//! Certificate revocation lists: RFC 5280 reason names read from text, and a CA's CRL signed as PEM.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use super::PkiError;
use super::key::PrivateKey;

/// The reasons a certificate of certfs may be revoked for (RFC 5280 §5.3.1),
/// as `revoked/<SERIAL>.reason` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `unspecified` (0)
    Unspecified,
    /// `keyCompromise` (1)
    KeyCompromise,
    /// `affiliationChanged` (3)
    AffiliationChanged,
    /// `superseded` (4)
    Superseded,
    /// `cessationOfOperation` (5)
    CessationOfOperation,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 5] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
    ];

    /// RFC 5280's name.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
        }
    }

    /// RFC 5280's CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Reason::Unspecified => 0,
            Reason::KeyCompromise => 1,
            Reason::AffiliationChanged => 3,
            Reason::Superseded => 4,
            Reason::CessationOfOperation => 5,
        }
    }

    /// Reads a reason as a `.reason` file holds it: the name, with at most
    /// one trailing newline (`\n` or `\r\n`). Anything else is refused,
    /// naming the accepted names.
    pub fn parse(text: &[u8]) -> Result<Reason, PkiError> {
        let text = text
            .strip_suffix(b"\r\n")
            .or_else(|| text.strip_suffix(b"\n"))
            .unwrap_or(text);
        Reason::ALL
            .into_iter()
            .find(|r| r.name().as_bytes() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
                PkiError::Malformed(format!(
                    "a revocation reason is one of {} (RFC 5280 names, one line)",
                    names.join(", ")
                ))
            })
    }

    fn rcgen(self) -> RevocationReason {
        match self {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
        }
    }
}

/// One revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The serial, upper-case hex as [`super::x509::inspect`] writes it.
    pub serial_hex: String,
    /// When it was revoked, Unix seconds.
    pub at: i64,
    /// Why.
    pub reason: Reason,
}

/// Signs the CRL of the CA whose certificate is `ca_der` and key `ca_key`:
/// `revoked` with their reason codes, valid from `this_update` for
/// `validity_seconds`, numbered `number` (which must grow with each CRL
/// the CA signs). Returns PEM.
pub fn sign(
    ca_der: &[u8],
    ca_key: &PrivateKey,
    revoked: &[Revoked],
    this_update: i64,
    validity_seconds: i64,
    number: u64,
) -> Result<String, PkiError> {
    let time = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t).map_err(|e| PkiError::Crypto(e.to_string()))
    };
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial_bytes(&r.serial_hex)?),
                revocation_time: time(r.at)?,
                reason_code: Some(r.reason.rcgen()),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let params = CertificateRevocationListParams {
        this_update: time(this_update)?,
        next_update: time(this_update.saturating_add(validity_seconds.max(1)))?,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        // The authority key identifier is the CA's own subject key
        // identifier, however it was made (a CA signed by another root
        // may use SHA-1), so relying parties find the CA of the CRL.
        key_identifier_method: super::x509_read::subject_key_id(ca_der)
            .map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified),
    };
    let pair = ca_key.signing_key_pair()?;
    let issuer = rcgen::Issuer::from_ca_cert_der(&ca_der.into(), &pair)
        .map_err(|e| PkiError::Crypto(e.to_string()))?;
    let crl = params
        .signed_by(&issuer)
        .map_err(|e| PkiError::Crypto(e.to_string()))?;
    crl.pem().map_err(|e| PkiError::Crypto(e.to_string()))
}

/// The bytes of a serial written in hex (an odd count of digits gets a leading zero).
fn serial_bytes(hex: &str) -> Result<Vec<u8>, PkiError> {
    let bad = || PkiError::Malformed(format!("`{hex}` is not a serial number in hex"));
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_owned()
    };
    (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

#[cfg(test)]
#[path = "crl_tests.rs"]
mod tests;
