//! X.509 certificates: building self-signed ones and CSRs from a [`CertificateSpec`], and reading facts from DER.

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};
use time::{Date, Duration, Month, OffsetDateTime};

use super::PkiError;
use super::der;
use super::key::PrivateKey;

pub use super::x509_fields::{
    CertificateInfo, CertificateSpec, KeyUsage, SubjectAltNames, UPN_OID,
};
pub use super::x509_read::{certificate_spec, inspect, is_ca, leaf_and_chain, order_chain};

/// Builds a self-signed certificate for `spec`, signed by `key` (SHA-256
/// for RSA and P-256, SHA-384 for P-384, SHA-512 for P-521), with a random
/// positive 16-byte serial, basic constraints CA:false, subject key
/// identifier. Returns DER.
///
/// Validity: not before = now − 5 minutes, not after = now +
/// `validity_months` calendar months (the day of month clamped, so
/// 31 January + 1 month is 28/29 February).
pub fn self_signed(spec: &CertificateSpec, key: &PrivateKey) -> Result<Vec<u8>, PkiError> {
    let mut params = params_for(spec)?;
    params.is_ca = IsCa::ExplicitNoCa;
    sign_self(params, spec, key)
}

/// Builds a self-signed CA certificate (basic constraints CA:true, key
/// usage keyCertSign, cRLSign and digitalSignature) for a private root:
/// `spec`'s subject and validity; its key usage and EKUs are ignored.
pub fn certificate_authority(
    spec: &CertificateSpec,
    key: &PrivateKey,
) -> Result<Vec<u8>, PkiError> {
    constrained_authority(spec, key, &[])
}

/// [`certificate_authority`] with a name constraint: the CA may certify
/// only DNS names within `permitted_dns_domains` (none: unconstrained).
pub fn constrained_authority(
    spec: &CertificateSpec,
    key: &PrivateKey,
    permitted_dns_domains: &[String],
) -> Result<Vec<u8>, PkiError> {
    let mut params = params_for(&CertificateSpec {
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        ..spec.clone()
    })?;
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    if !permitted_dns_domains.is_empty() {
        params.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: permitted_dns_domains
                .iter()
                .map(|d| rcgen::GeneralSubtree::DnsName(d.clone()))
                .collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    sign_self(params, spec, key)
}

/// Builds a certificate for `spec` and the public half of `subject_key`,
/// signed by the CA whose certificate is `ca_der` and key `ca_key`: the
/// issuer is the CA's subject byte for byte, with an authority key
/// identifier, basic constraints CA:false, and a not-after never past the
/// CA's, and what `options` add. Returns DER.
pub fn signed_by_ca(
    spec: &CertificateSpec,
    subject_key: &PrivateKey,
    ca_der: &[u8],
    ca_key: &PrivateKey,
    options: &LeafOptions<'_>,
) -> Result<Vec<u8>, PkiError> {
    let name = spec.subject.to_der()?;
    let ca_subject = super::x509_read::raw_subject(ca_der)?;
    let mut params = params_for(spec)?;
    set_validity(&mut params, spec.validity_months)?;
    leaf_settings(&mut params, ca_der, options)?;
    let ca_pair = ca_key.signing_key_pair()?;
    let subject_pair = subject_key.signing_key_pair()?;
    let issuer = rcgen::Issuer::from_ca_cert_der(&ca_der.into(), &ca_pair).map_err(crypto)?;
    let cert = params.signed_by(&subject_pair, &issuer).map_err(crypto)?;
    resign(
        cert.der(),
        &[(TBS_ISSUER, &ca_subject), (TBS_SUBJECT, &name)],
        &ca_pair,
    )
}

/// What a CA adds to a leaf beyond its spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeafOptions<'a> {
    /// The CRL distribution point (a URL).
    pub distribution_point: Option<&'a str>,
    /// The longest validity in days: a longer one is cut to it.
    pub max_validity_days: Option<u32>,
}

/// A leaf's serial, CA:false, authority key identifier, CRL distribution
/// point, and not-after cut to `options.max_validity_days` and to the CA's end.
fn leaf_settings(
    params: &mut CertificateParams,
    ca_der: &[u8],
    options: &LeafOptions<'_>,
) -> Result<(), PkiError> {
    let ca_not_after = super::x509_read::inspect(ca_der)?.not_after;
    let ca_end = OffsetDateTime::from_unix_timestamp(ca_not_after).map_err(crypto)?;
    params.not_after = params.not_after.min(ca_end);
    if let Some(days) = options.max_validity_days {
        let limit = params.not_before + Duration::minutes(5) + Duration::days(i64::from(days));
        params.not_after = params.not_after.min(limit);
    }
    params.serial_number = Some(random_serial()?.into());
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    if let Some(url) = options.distribution_point {
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![url.to_owned()],
        }];
    }
    Ok(())
}

/// Signs someone else's CSR (`request`, already verified) by the CA whose
/// certificate is `ca_der` and key `ca_key`: the request's subject byte for
/// byte and its SANs, key usage digitalSignature (+ keyEncipherment for
/// RSA), EKUs serverAuth and clientAuth, valid `validity_months` (cut by
/// `options`). Returns DER.
pub fn sign_request(
    request: &super::csr::SigningRequest,
    validity_months: u32,
    ca_der: &[u8],
    ca_key: &PrivateKey,
    options: &LeafOptions<'_>,
) -> Result<Vec<u8>, PkiError> {
    let mut csr = rcgen::CertificateSigningRequestParams::from_der(&request.der().to_vec().into())
        .map_err(|e| {
            PkiError::Malformed(format!(
                "The certificate signing request is refused: certfs cannot sign it ({e})"
            ))
        })?;
    let raw = super::x509_read::raw_request_subject(request.der())?;
    let ca_subject = super::x509_read::raw_subject(ca_der)?;
    let params = &mut csr.params;
    set_validity(params, validity_months)?;
    leaf_settings(params, ca_der, options)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if request.rsa {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let ca_pair = ca_key.signing_key_pair()?;
    let issuer = rcgen::Issuer::from_ca_cert_der(&ca_der.into(), &ca_pair).map_err(crypto)?;
    let cert = csr.signed_by(&issuer).map_err(crypto)?;
    resign(
        cert.der(),
        &[(TBS_ISSUER, &ca_subject), (TBS_SUBJECT, &raw)],
        &ca_pair,
    )
}

/// Validity: not before = now − 5 minutes, not after = now + `months`.
fn set_validity(params: &mut CertificateParams, months: u32) -> Result<(), PkiError> {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(crypto)?;
    params.not_before = now - Duration::minutes(5);
    params.not_after = add_months(now, months).ok_or_else(|| {
        PkiError::Malformed(format!(
            "a validity of {months} months ends after the year 9999"
        ))
    })?;
    Ok(())
}

/// Signs `params` (with `spec`'s subject and validity) by `key` itself.
fn sign_self(
    mut params: CertificateParams,
    spec: &CertificateSpec,
    key: &PrivateKey,
) -> Result<Vec<u8>, PkiError> {
    let name = spec.subject.to_der()?;
    set_validity(&mut params, spec.validity_months)?;
    params.serial_number = Some(random_serial()?.into());
    let pair = key.signing_key_pair()?;
    let cert = params.self_signed(&pair).map_err(crypto)?;
    // rcgen keeps one value per attribute type and no multi-valued RDNs, so
    // the subject (and, self-signed, the issuer) is put in afterwards, exact
    // as written, and the certificate signed again.
    resign(
        cert.der(),
        &[(TBS_ISSUER, &name), (TBS_SUBJECT, &name)],
        &pair,
    )
}

/// Builds a PKCS#10 certificate signing request for `spec`, signed by
/// `key`: the subject exactly as written, and the SANs, key usage and
/// extended key usage as requested extensions. Returns DER (see
/// [`super::pem::certificate_request`] for PEM).
pub fn certificate_signing_request(
    spec: &CertificateSpec,
    key: &PrivateKey,
) -> Result<Vec<u8>, PkiError> {
    request_with(spec, key, None)
}

/// [`certificate_signing_request`] for a CA certificate: it also asks for
/// basic constraints CA:true, with `path_len` when given.
pub fn ca_signing_request(
    spec: &CertificateSpec,
    key: &PrivateKey,
    path_len: Option<u8>,
) -> Result<Vec<u8>, PkiError> {
    // rcgen writes basic constraints only into certificates: the
    // extension is requested as a custom one (BasicConstraints, RFC 5280
    // §4.2.1.9: cA TRUE, then pathLenConstraint when given).
    let mut content = vec![0x01, 0x01, 0xff];
    if let Some(n) = path_len {
        let octets = if n & 0x80 != 0 { vec![0, n] } else { vec![n] };
        content.extend(der::tlv(0x02, &octets));
    }
    let mut ext = rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 19],
        der::tlv(der::SEQUENCE, &content),
    );
    ext.set_criticality(true);
    request_with(spec, key, Some(ext))
}

fn request_with(
    spec: &CertificateSpec,
    key: &PrivateKey,
    extra: Option<rcgen::CustomExtension>,
) -> Result<Vec<u8>, PkiError> {
    let name = spec.subject.to_der()?;
    let mut params = params_for(spec)?;
    params.custom_extensions.extend(extra);
    let pair = key.signing_key_pair()?;
    let csr = params.serialize_request(&pair).map_err(crypto)?;
    resign(csr.der(), &[(CRI_SUBJECT, &name)], &pair)
}

/// Positions of the names inside a TBSCertificate and a CertificationRequestInfo.
const TBS_ISSUER: usize = 3;
const TBS_SUBJECT: usize = 5;
const CRI_SUBJECT: usize = 1;

fn crypto(e: impl std::fmt::Display) -> PkiError {
    PkiError::Crypto(e.to_string())
}

/// rcgen parameters for everything except the subject, which is spliced
/// in by [`resign`]. rcgen still gets an empty or non-empty name so that it
/// marks the SAN extension critical exactly when the subject is empty.
fn params_for(spec: &CertificateSpec) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if !spec.subject.is_empty() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "placeholder");
    }
    params.subject_alt_names = sans(&spec.sans)?;
    params.key_usages = spec.key_usage.iter().map(|&u| key_usage(u)).collect();
    params.extended_key_usages = spec
        .extended_key_usage
        .iter()
        .map(|text| {
            der::parse_dotted_oid(text.trim())
                .map(ExtendedKeyUsagePurpose::Other)
                .ok_or_else(|| {
                    PkiError::Malformed(format!(
                        "extended key usage `{text}` is not a dotted OID such as 1.3.6.1.5.5.7.3.1"
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(params)
}

fn key_usage(usage: KeyUsage) -> KeyUsagePurpose {
    match usage {
        KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
        KeyUsage::NonRepudiation => KeyUsagePurpose::ContentCommitment,
        KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
        KeyUsage::DataEncipherment => KeyUsagePurpose::DataEncipherment,
        KeyUsage::KeyAgreement => KeyUsagePurpose::KeyAgreement,
        KeyUsage::KeyCertSign => KeyUsagePurpose::KeyCertSign,
        KeyUsage::CrlSign => KeyUsagePurpose::CrlSign,
        KeyUsage::EncipherOnly => KeyUsagePurpose::EncipherOnly,
        KeyUsage::DecipherOnly => KeyUsagePurpose::DecipherOnly,
    }
}

/// SANs in rcgen's form: DNS names, e-mails, UPNs, IP addresses, URIs.
fn sans(names: &SubjectAltNames) -> Result<Vec<SanType>, PkiError> {
    let ia5 = |kind: &str, value: &str| {
        if value.trim().is_empty() {
            return Err(PkiError::InvalidName(format!("empty {kind} in the SANs")));
        }
        rcgen::string::Ia5String::try_from(value).map_err(|_| {
            PkiError::InvalidName(format!(
                "the {kind} `{value}` in the SANs must be ASCII (use punycode for IDNs)"
            ))
        })
    };
    let mut out = Vec::new();
    for dns in &names.dns_names {
        out.push(SanType::DnsName(ia5("DNS name", dns)?));
    }
    for email in &names.emails {
        out.push(SanType::Rfc822Name(ia5("e-mail address", email)?));
    }
    for upn in &names.upns {
        if upn.trim().is_empty() {
            return Err(PkiError::InvalidName("empty UPN in the SANs".into()));
        }
        out.push(SanType::OtherName((UPN_OID.to_vec(), upn.as_str().into())));
    }
    out.extend(names.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
    for uri in &names.uris {
        out.push(SanType::URI(ia5("URI", uri)?));
    }
    Ok(out)
}

/// A random positive 16-byte serial number (top bit clear, first byte non-zero).
fn random_serial() -> Result<Vec<u8>, PkiError> {
    let mut serial = vec![0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| crypto("no random numbers"))?;
    serial[0] = (serial[0] & 0x7f).max(1);
    Ok(serial)
}

/// `t` plus `months` calendar months, the day clamped to the target month.
fn add_months(t: OffsetDateTime, months: u32) -> Option<OffsetDateTime> {
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12))
        .ok()
        .filter(|y| *y <= 9999)?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(time::util::days_in_month(month, year));
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(date.with_time(t.time()).assume_utc())
}

/// Replaces elements of the signed structure's first field (TBSCertificate
/// or CertificationRequestInfo) and signs it again with `pair`, keeping the
/// signature algorithm rcgen chose.
fn resign(
    signed: &[u8],
    replace: &[(usize, &[u8])],
    pair: &rcgen::KeyPair,
) -> Result<Vec<u8>, PkiError> {
    use rcgen::SigningKey;
    let bad = || crypto("unexpected structure in rcgen's output");
    let outer = der::read_single(signed, der::SEQUENCE).ok_or_else(bad)?;
    let fields = der::children(outer.content).ok_or_else(bad)?;
    let [info, algorithm, _signature] = fields.as_slice() else {
        return Err(bad());
    };
    let mut parts: Vec<&[u8]> = der::children(info.content)
        .ok_or_else(bad)?
        .iter()
        .map(|t| t.whole)
        .collect();
    for &(index, bytes) in replace {
        *parts.get_mut(index).ok_or_else(bad)? = bytes;
    }
    let info = der::tlv(der::SEQUENCE, &parts.concat());
    let signature = pair.sign(&info).map_err(crypto)?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(&signature);
    let mut content = info;
    content.extend_from_slice(algorithm.whole);
    content.extend(der::tlv(der::BIT_STRING, &bits));
    Ok(der::tlv(der::SEQUENCE, &content))
}

#[cfg(test)]
#[path = "x509_tests.rs"]
mod tests;
