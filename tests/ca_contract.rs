//! The contract every `CertificateAuthority` (DigiCert, GlobalSign, ACME) must keep, as one suite run against each provider and its server.
//!
//! Each provider adds a `StandIn` for its server (a faithful local
//! stand-in of the vendor's documented API, or a real server such as
//! pebble) and one line at the bottom: `ca_contract_tests!(name, Type);`.
//! The stand-ins live in `tests/standins/`.

#[path = "common/ca.rs"]
mod ca;
#[path = "common/ca_acme.rs"]
mod ca_acme;
#[path = "common/ca_digicert.rs"]
mod ca_digicert;
#[path = "common/ca_globalsign.rs"]
mod ca_globalsign;
#[path = "common/pebble.rs"]
mod pebble;

use std::time::{Duration, Instant};

use ca::StandIn;
use certfs::issuers::{CaError, CertificateAuthority, Order, Progress};
use certfs::pki::dn::DistinguishedName;
use certfs::pki::key::{Curve, KeySpec, PrivateKey};
use certfs::pki::x509::{self, CertificateSpec, KeyUsage, SubjectAltNames};

/// What the contract orders: one name, as a web server certificate.
fn spec(host: &str) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={host}")).expect("subject"),
        sans: SubjectAltNames {
            dns_names: vec![host.to_owned()],
            ..Default::default()
        },
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.1".into()],
        validity_months: 3,
    }
}

/// A key and its CSR for `host`.
fn csr(host: &str) -> (PrivateKey, Vec<u8>, CertificateSpec) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = spec(host);
    let der = x509::certificate_signing_request(&spec, &key).unwrap();
    (key, der, spec)
}

/// Polls `request_id` until the CA issues, fails or `limit` passes.
fn poll_until_done(
    ca: &dyn CertificateAuthority,
    order: &Order<'_>,
    first: Progress,
    limit: Duration,
) -> Result<Progress, CaError> {
    let start = Instant::now();
    let mut progress = first;
    loop {
        let request_id = match &progress {
            Progress::Issued { .. } => return Ok(progress),
            Progress::Pending { request_id, .. } => request_id.clone(),
        };
        assert!(start.elapsed() < limit, "no answer within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
        progress = ca.poll(order, &request_id)?;
    }
}

/// An order completes with a leaf for the CSR's key and a chain that verifies against the CA's root.
pub fn issues_a_certificate_whose_chain_verifies<S: StandIn>() {
    let server = S::start();
    let ca = server.authority();
    let host = server.host_name("issue");
    let (key, der, spec) = csr(&host);
    let order = Order {
        certificate_name: "contract",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let first = ca.submit(&order).expect("submit");
    let Progress::Issued { request_id, issued } =
        poll_until_done(ca.as_ref(), &order, first, Duration::from_secs(60)).expect("issued")
    else {
        unreachable!()
    };
    assert!(!request_id.is_empty());
    let info = x509::inspect(&issued.leaf).unwrap();
    assert_eq!(info.public_key_der, key.public_key_der());
    assert!(!issued.chain.is_empty(), "a CA's leaf comes with its chain");
    ca::assert_chain_verifies(&issued, &server.root_pem());
}

/// An order the CA refuses fails with the CA's own words, not a retry.
pub fn a_refused_order_carries_the_cas_words<S: StandIn>() {
    let server = S::start();
    let ca = server.authority();
    let host = server.host_name("refuse");
    let expected = server.refuse_orders(&host);
    let (_key, der, spec) = csr(&host);
    let order = Order {
        certificate_name: "contract",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let outcome = ca
        .submit(&order)
        .and_then(|first| poll_until_done(ca.as_ref(), &order, first, Duration::from_secs(60)));
    match outcome {
        Err(CaError::Rejected { message, .. }) => {
            assert!(
                message.contains(&expected),
                "{message:?} lacks {expected:?}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A CA that is down is `Unavailable` (retried), and an order placed after it comes back completes.
pub fn a_ca_that_is_down_is_unavailable_then_recovers<S: StandIn>() {
    let mut server = S::start();
    let ca = server.authority();
    let host = server.host_name("down");
    let (_key, der, spec) = csr(&host);
    let order = Order {
        certificate_name: "contract",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    server.go_down();
    match ca.submit(&order) {
        Err(CaError::Unavailable(_)) => {}
        other => panic!("expected Unavailable while down, got {other:?}"),
    }
    server.come_up();
    let first = ca.submit(&order).expect("submit after recovery");
    poll_until_done(ca.as_ref(), &order, first, Duration::from_secs(60)).expect("issued");
}

/// A pending order can be cancelled; polling it afterwards does not issue.
pub fn a_pending_order_can_be_cancelled<S: StandIn>() {
    let server = S::start();
    let ca = server.authority();
    let host = server.host_name("cancel");
    server.hold_orders(&host);
    let (_key, der, spec) = csr(&host);
    let order = Order {
        certificate_name: "contract",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let Progress::Pending { request_id, .. } = ca.submit(&order).expect("submit") else {
        panic!("a held order must stay pending");
    };
    ca.cancel(&order, &request_id).expect("cancel");
    match ca.poll(&order, &request_id) {
        Err(CaError::Rejected { .. }) => {}
        other => panic!("a cancelled order must poll as refused, got {other:?}"),
    }
}

/// Wrong credentials are a refusal with the CA's words, never retried forever.
pub fn wrong_credentials_are_refused<S: StandIn>() {
    let server = S::start();
    let ca = server.authority_with_wrong_credentials();
    let host = server.host_name("creds");
    let (_key, der, spec) = csr(&host);
    let order = Order {
        certificate_name: "contract",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    match ca
        .submit(&order)
        .and_then(|first| poll_until_done(ca.as_ref(), &order, first, Duration::from_secs(60)))
    {
        Err(CaError::Rejected { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Instantiates the contract for one provider's `StandIn`.
#[macro_export]
macro_rules! ca_contract_tests {
    ($name:ident, $standin:ty) => {
        mod $name {
            #[test]
            fn issues_a_certificate_whose_chain_verifies() {
                super::issues_a_certificate_whose_chain_verifies::<$standin>();
            }
            #[test]
            fn a_refused_order_carries_the_cas_words() {
                super::a_refused_order_carries_the_cas_words::<$standin>();
            }
            #[test]
            fn a_ca_that_is_down_is_unavailable_then_recovers() {
                super::a_ca_that_is_down_is_unavailable_then_recovers::<$standin>();
            }
            #[test]
            fn a_pending_order_can_be_cancelled() {
                super::a_pending_order_can_be_cancelled::<$standin>();
            }
            #[test]
            fn wrong_credentials_are_refused() {
                super::wrong_credentials_are_refused::<$standin>();
            }
        }
    };
}

// Providers add their line here, e.g.:
// ca_contract_tests!(provider, crate::ca_provider::ProviderStandIn);
ca_contract_tests!(digicert, crate::ca_digicert::DigiCertStandIn);
ca_contract_tests!(globalsign, crate::ca_globalsign::GlobalSignStandIn);
ca_contract_tests!(acme, crate::ca_acme::PebbleStandIn);
