//! The contract every `Issuer` must keep, as one suite instantiated per implementation.
//!
//! A new issuer adds one line at the bottom: `issuer_contract_tests!(name, || make_issuer());`.

use certfs::issuers::{IssueRequest, Issuer};
use certfs::pki::dn::DistinguishedName;
use certfs::pki::key::{Curve, KeySpec, PrivateKey, RsaSize};
use certfs::pki::x509::{self, CertificateSpec, KeyUsage, SubjectAltNames};

fn spec(subject: &str) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(subject).expect("subject"),
        sans: SubjectAltNames {
            dns_names: vec!["contract.example.com".into()],
            ..Default::default()
        },
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.1".into()],
        validity_months: 6,
    }
}

/// The issued leaf certifies the request's key.
pub fn leaf_certifies_the_requested_key(issuer: &dyn Issuer) {
    for key_spec in [KeySpec::Ec(Curve::P256), KeySpec::Rsa(RsaSize::B2048)] {
        let key = PrivateKey::generate(key_spec).unwrap();
        let spec = spec("CN=contract.example.com");
        let issued = issuer
            .issue(&IssueRequest {
                certificate_name: "contract",
                spec: &spec,
                key: &key,
            })
            .unwrap();
        let info = x509::inspect(&issued.leaf).unwrap();
        assert_eq!(info.public_key_der, key.public_key_der(), "{key_spec:?}");
    }
}

/// Subject, SANs and validity are what the spec asked for.
pub fn leaf_says_what_the_spec_asked(issuer: &dyn Issuer) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = spec("CN=contract.example.com, O=\"Contoso, Inc.\"");
    let issued = issuer
        .issue(&IssueRequest {
            certificate_name: "contract",
            spec: &spec,
            key: &key,
        })
        .unwrap();
    let back = x509::certificate_spec(&issued.leaf).unwrap();
    assert_eq!(back.subject, spec.subject);
    assert_eq!(back.sans.dns_names, spec.sans.dns_names);
    let info = x509::inspect(&issued.leaf).unwrap();
    let days = (info.not_after - info.not_before) / 86_400;
    assert!((180..=186).contains(&days), "six months is {days} days");
}

/// Every issue makes a distinct certificate (fresh serial).
pub fn each_issue_is_a_new_certificate(issuer: &dyn Issuer) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = spec("CN=contract.example.com");
    let req = IssueRequest {
        certificate_name: "contract",
        spec: &spec,
        key: &key,
    };
    let a = x509::inspect(&issuer.issue(&req).unwrap().leaf).unwrap();
    let b = x509::inspect(&issuer.issue(&req).unwrap().leaf).unwrap();
    assert_ne!(a.serial_hex, b.serial_hex);
}

/// The chain holds parsable certificates, leaf's issuer first, none of them the leaf.
pub fn chain_is_ordered_and_excludes_the_leaf(issuer: &dyn Issuer) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = spec("CN=contract.example.com");
    let issued = issuer
        .issue(&IssueRequest {
            certificate_name: "contract",
            spec: &spec,
            key: &key,
        })
        .unwrap();
    let leaf = x509::inspect(&issued.leaf).unwrap();
    let mut expected_issuer = leaf.issuer.clone();
    for der in &issued.chain {
        assert_ne!(der, &issued.leaf);
        let ca = x509::inspect(der).unwrap();
        assert_eq!(ca.subject, expected_issuer, "chain out of order");
        expected_issuer = ca.issuer;
    }
    if issued.chain.is_empty() {
        assert_eq!(
            leaf.subject, leaf.issuer,
            "an empty chain means a self-signed leaf"
        );
    }
}

macro_rules! issuer_contract_tests {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;
            fn issuer() -> Box<dyn Issuer> {
                Box::new($make())
            }
            #[test]
            fn leaf_certifies_the_requested_key() {
                super::leaf_certifies_the_requested_key(issuer().as_ref());
            }
            #[test]
            fn leaf_says_what_the_spec_asked() {
                super::leaf_says_what_the_spec_asked(issuer().as_ref());
            }
            #[test]
            fn each_issue_is_a_new_certificate() {
                super::each_issue_is_a_new_certificate(issuer().as_ref());
            }
            #[test]
            fn chain_is_ordered_and_excludes_the_leaf() {
                super::chain_is_ordered_and_excludes_the_leaf(issuer().as_ref());
            }
        }
    };
}

issuer_contract_tests!(self_signed, || certfs::issuers::self_signed::SelfSigned);
issuer_contract_tests!(internal, || {
    use certfs::issuers::internal::{CaSettings, InternalCa};
    InternalCa::create(
        "corp",
        &CaSettings {
            subject: DistinguishedName::parse("CN=Contract Root CA").unwrap(),
            validity_months: 24,
            key: KeySpec::Ec(Curve::P384),
            permitted_dns_domains: Vec::new(),
        },
    )
    .unwrap()
});
