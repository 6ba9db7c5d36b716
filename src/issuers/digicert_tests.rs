//! Unit tests of the DigiCert provider's JSON: the order body, the answers read, error bodies, garbage.

use super::*;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, PrivateKey};
use crate::pki::x509::{self, CertificateSpec, SubjectAltNames};

fn date(y: i32, m: Month, d: u8) -> Date {
    Date::from_calendar_date(y, m, d).unwrap()
}

fn spec(subject: &str, dns: &[&str], months: u32) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(subject).unwrap(),
        sans: SubjectAltNames {
            dns_names: dns.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        key_usage: Vec::new(),
        extended_key_usage: Vec::new(),
        validity_months: months,
    }
}

/// Three unrelated certificates, PEM each, standing for leaf, intermediate and root.
fn three_pems() -> (Vec<Vec<u8>>, Vec<String>) {
    let ders: Vec<Vec<u8>> = ["leaf.test", "Test Intermediate", "Test Root"]
        .iter()
        .map(|cn| {
            let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
            x509::self_signed(&spec(&format!("CN={cn}"), &[], 1), &key).unwrap()
        })
        .collect();
    let pems = ders.iter().map(|d| pem::encode("CERTIFICATE", d)).collect();
    (ders, pems)
}

fn answer(status: u16, content_type: &str, body: &[u8]) -> Answer {
    Answer {
        status,
        content_type: content_type.into(),
        body: body.to_vec(),
    }
}

#[test]
fn certificate_types_map_to_products() {
    assert_eq!(product_for(None).unwrap(), "ssl_basic");
    assert_eq!(product_for(Some("")).unwrap(), "ssl_basic");
    assert_eq!(product_for(Some("OV-SSL")).unwrap(), "ssl_basic");
    assert_eq!(product_for(Some("ov-ssl")).unwrap(), "ssl_basic");
    assert_eq!(product_for(Some("EV-SSL")).unwrap(), "ssl_ev_basic");
    assert_eq!(
        product_for(Some("ssl_securesite_pro")).unwrap(),
        "ssl_securesite_pro"
    );
    match product_for(Some("DV-SSL")) {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "certfs_unknown_certificate_type");
            assert!(message.contains("'DV-SSL'"), "{message}");
            assert!(
                message.contains("OV-SSL") && message.contains("EV-SSL"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validity_is_the_policys_months_capped_by_the_date() {
    // Before 2026-02-24: up to 397 days.
    assert_eq!(validity_days(12, date(2025, Month::June, 1)), 365);
    assert_eq!(validity_days(24, date(2025, Month::June, 1)), 397);
    // From 2026-02-24: 199 days; from 2027-02-24: 99; from 2029-02-24: 46.
    assert_eq!(validity_days(12, date(2026, Month::February, 24)), 199);
    assert_eq!(validity_days(12, date(2026, Month::February, 23)), 365);
    assert_eq!(validity_days(3, date(2026, Month::November, 26)), 92);
    assert_eq!(validity_days(3, date(2027, Month::March, 1)), 92);
    assert_eq!(validity_days(4, date(2027, Month::March, 1)), 99);
    assert_eq!(validity_days(1, date(2029, Month::March, 1)), 31);
    assert_eq!(validity_days(2, date(2029, Month::March, 1)), 46);
    // Month ends clamp; zero and absurd months stay within 1..=cap.
    assert_eq!(validity_days(1, date(2025, Month::January, 31)), 28);
    assert_eq!(validity_days(0, date(2026, Month::June, 1)), 1);
    assert_eq!(validity_days(u32::MAX, date(2026, Month::June, 1)), 199);
}

#[test]
fn the_order_body_has_the_documented_fields() {
    let ca = DigiCert::new(Some("http://127.0.0.1:1/services/v2"), "k3y-k3y", "7890");
    let spec = spec(
        "CN=shop.contoso.com, O=Contoso",
        &["shop.contoso.com", "www.contoso.com"],
        12,
    );
    let order = Order {
        certificate_name: "shop",
        csr_der: b"\x30\x03\x02\x01\x00",
        spec: &spec,
        certificate_type: Some("OV-SSL"),
    };
    let body = ca
        .order_body(&order, date(2026, Month::November, 26))
        .unwrap();
    assert_eq!(body["certificate"]["common_name"], "shop.contoso.com");
    assert!(
        body["certificate"]["csr"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
    );
    assert_eq!(body["certificate"]["signature_hash"], "sha256");
    assert_eq!(
        body["certificate"]["dns_names"],
        json!(["shop.contoso.com", "www.contoso.com"])
    );
    assert_eq!(body["certificate"]["server_platform"]["id"], -1);
    assert_eq!(
        body["organization"]["id"], 7890,
        "a number, as DigiCert has it"
    );
    assert_eq!(body["order_validity"]["days"], 199);
    assert!(body["comments"].as_str().unwrap().contains("shop"));

    // No CN: the first DNS name; neither: refused before any call.
    let no_cn = self::spec("O=Contoso", &["a.contoso.com"], 1);
    let order = Order {
        spec: &no_cn,
        ..order.clone()
    };
    let body = ca
        .order_body(&order, date(2026, Month::November, 26))
        .unwrap();
    assert_eq!(body["certificate"]["common_name"], "a.contoso.com");
    let nothing = self::spec("O=Contoso", &[], 1);
    let order = Order {
        spec: &nothing,
        ..order
    };
    assert!(matches!(
        ca.order_body(&order, date(2026, Month::November, 26)),
        Err(CaError::Rejected { .. })
    ));

    // A non-numeric organization id goes as given, for DigiCert to judge.
    let odd = DigiCert::new(None, "k", "org-7");
    let body = odd
        .order_body(
            &Order {
                spec: &spec,
                ..order
            },
            date(2026, Month::June, 1),
        )
        .unwrap();
    assert_eq!(body["organization"]["id"], "org-7");
}

#[test]
fn a_pending_order_answer_gives_the_order_id() {
    let body = json!({"id": 1234567, "requests": [{"id": 55, "status": "pending"}]});
    match submitted(&body).unwrap() {
        Progress::Pending {
            request_id,
            details,
        } => {
            assert_eq!(request_id, "1234567");
            assert!(
                details.contains("1234567") && details.contains("pending"),
                "{details}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_order_issued_at_once_gives_leaf_and_chain_in_order() {
    let (ders, pems) = three_pems();
    let body = json!({
        "id": 99, "certificate_id": 1001,
        "requests": [{"id": 1, "status": "approved"}],
        "certificate_chain": [
            {"subject_common_name": "leaf.test", "pem": pems[0]},
            {"subject_common_name": "Test Intermediate", "pem": pems[1]},
            {"subject_common_name": "Test Root", "pem": pems[2]},
        ],
    });
    match submitted(&body).unwrap() {
        Progress::Issued { request_id, issued } => {
            assert_eq!(request_id, "99");
            assert_eq!(issued.leaf, ders[0]);
            assert_eq!(issued.chain, ders[1..].to_vec());
        }
        other => panic!("{other:?}"),
    }
    // pem_all: the same order, from one text.
    let issued = issued_from_pem(pems.concat().as_bytes()).unwrap();
    assert_eq!(issued.leaf, ders[0]);
    assert_eq!(issued.chain, ders[1..].to_vec());
}

#[test]
fn order_statuses_map_to_progress_or_refusal() {
    for status in [
        "needs_approval",
        "pending",
        "reissue_pending",
        "waiting_pickup",
        "new_status",
    ] {
        match order_state(&json!({"id": 7, "status": status})).unwrap() {
            OrderState::Pending(details) => {
                assert!(
                    details.contains(status) && details.contains('7'),
                    "{details}"
                )
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    assert_eq!(
        order_state(&json!({"id": 7, "status": "issued", "certificate": {"id": 4242}})).unwrap(),
        OrderState::Issued {
            certificate_id: "4242".into()
        }
    );
    // Issued but no certificate id yet: still waiting, not an error.
    assert!(matches!(
        order_state(&json!({"id": 7, "status": "issued", "certificate": {}})).unwrap(),
        OrderState::Pending(_)
    ));
    for status in ["canceled", "rejected", "revoked", "expired"] {
        let info = json!({"id": 7, "status": status, "requests": [
            {"id": 1, "status": "rejected", "comments": "Ordered by certfs for certificate shop",
             "processor_comment": "Organization could not be verified"}]});
        match order_state(&info) {
            Err(CaError::Rejected { code, message }) => {
                assert_eq!(code, status);
                assert!(message.contains(status), "{message}");
                assert!(
                    message.contains("Organization could not be verified"),
                    "{message}"
                );
                assert!(!message.contains("Ordered by certfs"), "{message}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    assert!(matches!(
        order_state(&json!({"id": 7})),
        Err(CaError::Unavailable(_))
    ));
}

#[test]
fn error_bodies_give_the_cas_code_and_words() {
    let body = br#"{"errors":[{"code":"not_found|order","message":"Order not found."}]}"#;
    assert_eq!(
        error_from(&answer(404, "application/json", body)),
        CaError::Rejected {
            code: "not_found|order".into(),
            message: "Order not found.".into()
        }
    );
    let two = br#"{"errors":[{"code":"csr_invalid_cannot_parse","message":"The CSR is invalid."},
                  {"code":"csr_invalid_cannot_parse","message":"Second."},{"code":"x"}]}"#;
    match error_from(&answer(400, "application/json", two)) {
        CaError::Rejected { code, message } => {
            assert_eq!(code, "csr_invalid_cannot_parse, x");
            assert_eq!(message, "The CSR is invalid.; Second.; x");
        }
        other => panic!("{other:?}"),
    }
    // The same JSON under another Content-Type is not read as DigiCert's errors.
    match error_from(&answer(403, "text/html", body)) {
        CaError::Rejected { code, message } => {
            assert_eq!(code, "http_403");
            assert!(message.contains("403"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match error_from(&answer(
        401,
        "text/html",
        b"<html>\n<b>Unauthorized</b>\x00\x07</html>",
    )) {
        CaError::Rejected { message, .. } => {
            assert!(message.contains("<html> <b>Unauthorized</b>"), "{message}");
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn garbage_never_panics() {
    let mut bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        b"{\"errors\":null}".to_vec(),
        b"{\"errors\":{}}".to_vec(),
        b"{\"errors\":[]}".to_vec(),
        b"{\"errors\":[1,\"x\",null,{}]}".to_vec(),
        b"{\"errors\":[{\"code\":5,\"message\":[]}]}".to_vec(),
        "{\"errors\":[{\"code\":\"\u{1F600}\",\"message\":\"\u{0000}\"}]}"
            .as_bytes()
            .to_vec(),
        vec![0xff; 5000],
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [1usize, 7, 64, 300, 4096] {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        bodies.push((0..len).map(|i| (seed >> (i % 56)) as u8).collect());
    }
    for body in &bodies {
        for ct in ["application/json", "text/plain", ""] {
            for status in [200u16, 201, 204, 301, 400, 401, 403, 404, 418] {
                let a = answer(status, ct, body);
                let e = error_from(&a);
                assert!(matches!(e, CaError::Rejected { .. }));
                let _ = json_of(&a);
            }
        }
        let _ = issued_from_pem(body);
    }
    for value in [
        json!(null),
        json!([]),
        json!({"id": -1}),
        json!({"id": 1.5, "status": 3}),
        json!({"id": {}, "status": "issued", "certificate": {"id": -4}}),
        json!({"id": "12", "certificate_chain": [1, null, {"pem": 5}, {"pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}]}),
        json!({"id": 3, "certificate_chain": "x", "requests": "y"}),
        json!({"id": 3, "status": "rejected", "requests": [null, {"comments": 5}, {"processor_comment": ""}]}),
    ] {
        let _ = submitted(&value);
        let _ = order_state(&value);
    }
    // A chain that is not PEM is a fault to retry, not a crash.
    let bad = json!({"id": 1, "certificate_chain": [{"pem": "not a certificate"}]});
    assert!(matches!(submitted(&bad), Err(CaError::Unavailable(_))));
    assert!(matches!(
        submitted(&json!({})),
        Err(CaError::Unavailable(_))
    ));
}

#[test]
fn order_ids_must_be_digits_before_they_go_in_a_path() {
    assert_eq!(order_id("123456").unwrap(), "123456");
    for bad in ["", "../admin", "12/status", "1 2", "123456789012345678901"] {
        assert!(
            matches!(order_id(bad), Err(CaError::Rejected { .. })),
            "{bad}"
        );
    }
}

#[test]
fn the_api_key_stays_out_of_debug_and_messages() {
    let ca = DigiCert::new(None, "super-secret-api-key", "1");
    let shown = format!("{ca:?}");
    assert!(!shown.contains("super-secret"), "{shown}");
    assert!(shown.contains(DEFAULT_ENDPOINT), "{shown}");
    let echoed = ca.scrub(CaError::Rejected {
        code: "x".into(),
        message: "bad key super-secret-api-key".into(),
    });
    assert!(!format!("{echoed}").contains("super-secret"), "{echoed}");
}
