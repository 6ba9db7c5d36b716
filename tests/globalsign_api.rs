//! The GlobalSign provider against the GCC stand-in, beyond the CA contract: what goes on the wire, GlobalSign's error codes, issue-at-once, denial, cancel twice, the WSDL.

#[allow(dead_code)]
#[path = "common/ca.rs"]
mod ca;
#[path = "common/ca_globalsign.rs"]
mod ca_globalsign;

use std::time::{Duration, Instant};

use ca::StandIn;
use ca_globalsign::GlobalSignStandIn;
use certfs::issuers::{CaError, Order, Progress};
use certfs::pki::dn::DistinguishedName;
use certfs::pki::key::{Curve, KeySpec, PrivateKey};
use certfs::pki::x509::{self, CertificateSpec, SubjectAltNames};

fn spec(cn: &str, sans: &[&str], months: u32) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={cn}")).unwrap(),
        sans: SubjectAltNames {
            dns_names: sans.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        key_usage: vec![],
        extended_key_usage: vec![],
        validity_months: months,
    }
}

fn csr(spec: &CertificateSpec) -> Vec<u8> {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    x509::certificate_signing_request(spec, &key).unwrap()
}

fn order<'a>(spec: &'a CertificateSpec, der: &'a [u8], cty: Option<&'a str>) -> Order<'a> {
    Order {
        certificate_name: "api",
        csr_der: der,
        spec,
        certificate_type: cty,
    }
}

fn rejected(outcome: Result<Progress, CaError>) -> (String, String) {
    match outcome {
        Err(CaError::Rejected { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn calls_are_soap_1_1_posts_with_an_empty_soapaction() {
    let server = GlobalSignStandIn::start();
    let ca = server.authority();
    let host = server.host_name("wire");
    server.set_rule(&host, r#"{"mode":"issue","polls":2}"#);
    let spec = spec(&host, &[&host, "www.certfs.test", "*.api.certfs.test"], 12);
    let der = csr(&spec);
    let order = order(&spec, &der, Some("EV-SSL"));
    let Progress::Pending {
        request_id,
        details,
    } = ca.submit(&order).unwrap()
    else {
        panic!("two polls before issue")
    };
    assert!(request_id.starts_with("CEAP"), "{request_id}");
    // 12 months asked for after 2026-03-14: capped to GlobalSign's schedule, and said so.
    assert!(details.contains("SC-081"), "{details}");
    let mut seen = Vec::new();
    let start = Instant::now();
    let issued = loop {
        assert!(start.elapsed() < Duration::from_secs(30));
        match ca.poll(&order, &request_id).unwrap() {
            Progress::Pending { details, .. } => seen.push(details),
            Progress::Issued { issued, .. } => break issued,
        }
    };
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("status 2"), "{seen:?}");
    ca::assert_chain_verifies(&issued, &server.root_pem());
    assert_eq!(issued.chain.len(), 2, "intermediate and root");
    let calls = server.calls();
    let ops: Vec<&str> = calls
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "GetMSSLDomains",
            "PVOrder",
            "GetOrderByOrderID",
            "GetOrderByOrderID"
        ]
    );
    for call in &calls {
        assert_eq!(call["soapaction"], "\"\"", "{call}");
        assert_eq!(call["content_type"], "text/xml; charset=utf-8", "{call}");
    }
    let stored = server.order(&request_id);
    assert_eq!(stored["product"], "PEV_SHA2");
    // SC-081: never more whole months than the ballot's 200 days.
    assert!(
        (1..=6).contains(&stored["months"].as_u64().unwrap()),
        "{stored}"
    );
    assert_eq!(
        stored["names"],
        serde_json::json!([host, "www.certfs.test", "*.api.certfs.test"])
    );
    assert_eq!(stored["contact"]["Email"], "ada@certfs.test");
}

#[test]
fn an_order_issued_at_once_comes_back_from_submit() {
    let server = GlobalSignStandIn::start();
    let host = server.host_name("now");
    server.set_rule(&host, r#"{"mode":"issue","polls":0}"#);
    let spec = spec(&host, &[], 3);
    let der = csr(&spec);
    match server.authority().submit(&order(&spec, &der, None)) {
        Ok(Progress::Issued { issued, .. }) => {
            ca::assert_chain_verifies(&issued, &server.root_pem())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn globalsigns_error_codes_reach_the_caller() {
    let server = GlobalSignStandIn::start();
    let ca = server.authority();
    // A name outside the account's MSSL domains: refused before ordering.
    let spec1 = spec("www.contoso.com", &[], 12);
    let der = csr(&spec1);
    let (code, message) = rejected(ca.submit(&order(&spec1, &der, None)));
    assert_eq!(code, "NoMSSLDomain");
    assert!(message.contains("certfs.test"), "{message}");
    // A SAN outside the domain: GlobalSign's -101 with the field.
    let host = server.host_name("san");
    let spec2 = spec(&host, &["www.contoso.com"], 12);
    let der = csr(&spec2);
    let (code, message) = rejected(ca.submit(&order(&spec2, &der, None)));
    assert_eq!(code, "-101");
    assert!(
        message.contains("www.contoso.com") && message.contains("field"),
        "{message}"
    );
    // (A validity GlobalSign does not sell is no longer sent: certfs orders
    // at most GlobalSign's SC-081 cap, src/issuers/globalsign/validity.rs.)
    // An order GlobalSign never took.
    let der = csr(&spec1);
    let (code, message) = rejected(ca.poll(&order(&spec1, &der, None), "CEAP19990101000001"));
    assert_eq!(code, "-9916");
    assert!(message.contains("Cannot find the certificate"), "{message}");
    // A product Key Vault does not name.
    let (code, _) = rejected(ca.submit(&order(&spec1, &der, Some("DV-SSL"))));
    assert_eq!(code, "BadCertificateType");
}

#[test]
fn a_denied_order_is_refused_and_a_second_cancel_is_harmless() {
    let server = GlobalSignStandIn::start();
    let ca = server.authority();
    let host = server.host_name("deny");
    server.set_rule(&host, r#"{"mode":"deny","polls":1}"#);
    let spec = spec(&host, &[], 12);
    let der = csr(&spec);
    let order = order(&spec, &der, None);
    let Progress::Pending { request_id, .. } = ca.submit(&order).unwrap() else {
        panic!()
    };
    let (code, message) = rejected(ca.poll(&order, &request_id));
    assert_eq!(code, "OrderStatus 10");
    assert!(message.contains("denied"), "{message}");

    let held = server.host_name("twice");
    server.set_rule(&held, r#"{"mode":"hold"}"#);
    let spec2 = self::spec(&held, &[], 12);
    let der = csr(&spec2);
    let order = self::order(&spec2, &der, None);
    let Progress::Pending { request_id, .. } = ca.submit(&order).unwrap() else {
        panic!()
    };
    ca.cancel(&order, &request_id).unwrap();
    ca.cancel(&order, &request_id)
        .expect("-9915 (already cancelled) is what was asked");
    assert_eq!(server.order(&request_id)["status"], "3");
    let cancels: Vec<_> = server
        .calls()
        .into_iter()
        .filter(|c| c["operation"] == "ModifyMSSLOrder")
        .collect();
    assert_eq!(cancels.len(), 2);
    assert!(
        cancels
            .iter()
            .all(|c| c["modify_operation"] == "CANCEL" && c["order_id"] == request_id.as_str())
    );
}

#[test]
fn each_service_serves_a_wsdl_and_the_stand_in_refuses_other_media_types() {
    let server = GlobalSignStandIn::start();
    for (path, op) in [
        ("/kb/ws/v2/ManagedSSLService", "PVOrder"),
        ("/kb/ws/v1/GASService", "GetOrderByOrderID"),
        ("/kb/ws/v1/ServerSSLService", "ModifyOrder"),
    ] {
        let mut r = ureq::get(&format!("{}{path}?wsdl", server.url()))
            .call()
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        assert!(
            text.contains("wsdl:definitions") && text.contains(op),
            "{text}"
        );
        assert!(text.contains("soapAction=\"\""));
    }
    let r = ureq::post(&format!("{}/kb/ws/v1/GASService", server.url()))
        .config()
        .http_status_as_error(false)
        .build()
        .content_type("application/json")
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
}
