//! The DigiCert provider against its stand-in: DigiCert's own error codes, products, validity and retries, beyond the CA contract.

#[path = "common/ca.rs"]
#[allow(dead_code)]
mod ca;
#[path = "common/ca_digicert.rs"]
mod ca_digicert;

use std::time::{Duration, Instant};

use ca::StandIn;
use ca_digicert::{API_KEY, DigiCertStandIn, ORG_ID};
use certfs::issuers::digicert::DigiCert;
use certfs::issuers::{CaError, CertificateAuthority, Order, Progress};
use certfs::pki::dn::DistinguishedName;
use certfs::pki::key::{Curve, KeySpec, PrivateKey};
use certfs::pki::x509::{self, CertificateSpec, KeyUsage, SubjectAltNames};
use serde_json::json;

fn spec(host: &str, months: u32) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={host}")).unwrap(),
        sans: SubjectAltNames {
            dns_names: vec![host.to_owned(), format!("www.{host}")],
            ..Default::default()
        },
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.1".into()],
        validity_months: months,
    }
}

fn csr(spec: &CertificateSpec) -> Vec<u8> {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    x509::certificate_signing_request(spec, &key).unwrap()
}

fn refused(outcome: Result<Progress, CaError>) -> (String, String) {
    match outcome {
        Err(CaError::Rejected { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_order_issued_at_once_comes_back_from_submit_with_leaf_intermediate_and_root() {
    let server = DigiCertStandIn::start_with_polls(0);
    let ca = server.authority();
    let spec = spec("now.example.com", 3);
    let der = csr(&spec);
    let order = Order {
        certificate_name: "now",
        csr_der: &der,
        spec: &spec,
        certificate_type: None,
    };
    let Progress::Issued { request_id, issued } = ca.submit(&order).unwrap() else {
        panic!("polls 0 issues in the order's answer");
    };
    assert!(
        request_id.bytes().all(|b| b.is_ascii_digit()),
        "{request_id}"
    );
    assert_eq!(
        issued.chain.len(),
        2,
        "intermediate and root, as pem_all has them"
    );
    ca::assert_chain_verifies(&issued, &server.root_pem());
    let leaf = x509::inspect(&issued.leaf).unwrap();
    assert_eq!(
        x509::inspect(&issued.chain[1]).unwrap().subject,
        x509::inspect(&issued.chain[1]).unwrap().issuer,
        "the root comes last"
    );
    assert_ne!(leaf.subject, leaf.issuer);
    let orders = server.orders();
    assert_eq!(orders[0]["product"], "ssl_basic", "no cty: Basic OV");
}

#[test]
fn ev_ssl_orders_the_ev_product_and_validity_is_capped_to_what_digicert_takes() {
    let server = DigiCertStandIn::start_with_polls(1);
    let ca = server.authority();
    // 24 months is more than any public TLS certificate may have now: the
    // provider caps it, and the stand-in (which refuses too long a validity) takes it.
    let spec = spec("ev.example.com", 24);
    let der = csr(&spec);
    let order = Order {
        certificate_name: "ev",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("EV-SSL"),
    };
    let Progress::Pending {
        request_id,
        details,
    } = ca.submit(&order).unwrap()
    else {
        panic!("pending first");
    };
    assert!(details.contains(&request_id), "{details}");
    let Progress::Issued { issued, .. } = ca.poll(&order, &request_id).unwrap() else {
        panic!("issued at the first status call");
    };
    ca::assert_chain_verifies(&issued, &server.root_pem());
    let orders = server.orders();
    assert_eq!(orders[0]["product"], "ssl_ev_basic");
    let days = orders[0]["days"].as_u64().unwrap();
    assert!((46..=397).contains(&days), "{days}");
    let info = x509::inspect(&issued.leaf).unwrap();
    let lifetime = (info.not_after - info.not_before) / 86_400;
    assert_eq!(lifetime as u64, days);
}

#[test]
fn digicerts_error_codes_and_words_reach_the_caller() {
    let server = DigiCertStandIn::start();
    let ca = server.authority();
    let spec = spec("caa.example.com", 3);
    let der = csr(&spec);
    let order = Order {
        certificate_name: "caa",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };

    // An order DigiCert refuses outright (a CAA record forbids it).
    server.script(
        "caa.example.com",
        json!({"mode": "error", "code": "caa_check_failed|caa.example.com",
               "message": "CAA records do not allow DigiCert to issue for caa.example.com."}),
    );
    let (code, message) = refused(ca.submit(&order));
    assert_eq!(code, "caa_check_failed|caa.example.com");
    assert_eq!(
        message,
        "CAA records do not allow DigiCert to issue for caa.example.com."
    );

    // An order id DigiCert does not know.
    let (code, message) = refused(ca.poll(&order, "99999999"));
    assert_eq!(code, "not_found|order");
    assert_eq!(message, "Order not found.");

    // A CSR that does not parse.
    let bad = Order {
        csr_der: b"\x30\x03\x02\x01\x00",
        ..order.clone()
    };
    let (code, _) = refused(ca.submit(&bad));
    assert_eq!(code, "csr_invalid_cannot_parse");

    // An organization that is not the account's.
    let other_org = DigiCert::new(Some(&server.base_url()), API_KEY, "1111");
    let (code, message) = refused(other_org.submit(&Order {
        spec: &spec,
        ..order.clone()
    }));
    assert_eq!(code, "not_found|organization");
    assert!(message.contains("1111"), "{message}");

    // A wrong key: DigiCert's words, and never the key itself.
    let wrong = DigiCert::new(Some(&server.base_url()), "wrong-key-123456", ORG_ID);
    let (code, message) = refused(wrong.submit(&order));
    assert!(code.starts_with("access_denied"), "{code}");
    assert!(!message.contains("wrong-key-123456"), "{message}");

    // A certificate type DigiCert has no product for: refused before any call.
    let before = server.orders().len();
    let (code, message) = refused(ca.submit(&Order {
        certificate_type: Some("DV-SSL"),
        ..order.clone()
    }));
    assert_eq!(code, "certfs_unknown_certificate_type");
    assert!(message.contains("OV-SSL"), "{message}");
    assert_eq!(server.orders().len(), before);

    // A base URL that is not the API answers 404 without DigiCert's body shape.
    let lost = DigiCert::new(
        Some(&format!("http://127.0.0.1:{}/elsewhere", port_of(&server))),
        API_KEY,
        ORG_ID,
    );
    let (code, _) = refused(lost.submit(&order));
    assert_eq!(code, "not_found|route");
}

fn port_of(server: &DigiCertStandIn) -> u16 {
    server
        .base_url()
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_rate_limit_is_unavailable_and_retried_not_refused() {
    // Two calls per two seconds: the order and the status call go through,
    // the download right after is limited.
    let server = DigiCertStandIn::start_with(1, &["--rate-burst", "2", "--rate-window", "2"]);
    let ca = server.authority();
    let spec = spec("busy.example.com", 3);
    let der = csr(&spec);
    let order = Order {
        certificate_name: "busy",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let Progress::Pending { request_id, .. } = ca.submit(&order).unwrap() else {
        panic!("pending first");
    };
    match ca.poll(&order, &request_id) {
        Err(CaError::Unavailable(m)) => assert!(m.contains("429"), "{m}"),
        other => panic!("the third call within the window is limited: {other:?}"),
    }
    // Once the window has passed, the same poll goes through.
    let start = Instant::now();
    loop {
        match ca.poll(&order, &request_id) {
            Ok(Progress::Issued { .. }) => break,
            Err(CaError::Unavailable(_)) | Ok(Progress::Pending { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never issued");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_cancel_reaches_digicert_with_a_note_and_a_repeated_cancel_is_fine() {
    let server = DigiCertStandIn::start();
    let ca = server.authority();
    let host = server.host_name("twice");
    server.hold_orders(&host);
    let spec = spec(&host, 3);
    let der = csr(&spec);
    let order = Order {
        certificate_name: "twice",
        csr_der: &der,
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let Progress::Pending { request_id, .. } = ca.submit(&order).unwrap() else {
        panic!("held");
    };
    ca.cancel(&order, &request_id).unwrap();
    ca.cancel(&order, &request_id).unwrap();
    let orders = server.orders();
    assert_eq!(orders[0]["status"], "canceled");
    assert!(
        orders[0]["cancel_note"].as_str().unwrap().contains("twice"),
        "{orders:?}"
    );
    let (code, message) = refused(ca.poll(&order, &request_id));
    assert_eq!(code, "canceled");
    assert!(message.contains(&request_id), "{message}");
    // An issued order cannot be cancelled: DigiCert's refusal comes back.
    server.script(&host, json!({"mode": "issue", "polls": 0}));
    let Progress::Issued { request_id, .. } = ca.submit(&order).unwrap() else {
        panic!("issued at once");
    };
    assert!(matches!(
        ca.cancel(&order, &request_id),
        Err(CaError::Rejected { .. })
    ));
}
