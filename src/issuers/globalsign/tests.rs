//! Unit tests of the GlobalSign provider: envelopes as GCC reads them, answers as GCC writes them, and garbage that must never panic.

use super::soap::{self, Element};
use super::*;
use crate::pki::dn::DistinguishedName;
use crate::pki::key::{Curve, KeySpec, PrivateKey};
use crate::pki::x509::{self, CertificateSpec, SubjectAltNames};

const PASSWORD: &str = "p<&>\"'a\r]]>ss";

fn spec(cn: &str, sans: &[&str]) -> CertificateSpec {
    CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={cn}")).unwrap(),
        sans: SubjectAltNames {
            dns_names: sans.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        key_usage: vec![],
        extended_key_usage: vec![],
        validity_months: 12,
    }
}

fn account() -> GlobalSign {
    GlobalSign::new(Settings {
        endpoint: Some("http://127.0.0.1:9".into()),
        account_id: "PAR1234_api".into(),
        password: Zeroizing::new(PASSWORD.into()),
        contact: Contact {
            first_name: "Ada".into(),
            last_name: "O'Neil & Sons".into(),
            email: "ada@contoso.com".into(),
            phone: "+1 555 0100".into(),
        },
    })
}

fn domain(id: &str, name: &str, status: Option<&str>) -> MsslDomain {
    MsslDomain {
        domain_id: id.into(),
        profile_id: format!("MP_{id}"),
        name: name.into(),
        status: status.map(str::to_owned),
    }
}

/// The envelope of a PVOrder for `spec`, read back.
fn pv_order(spec: &CertificateSpec, cty: Option<&str>) -> (Element, String) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let csr = x509::certificate_signing_request(spec, &key).unwrap();
    let order = Order {
        certificate_name: "shop",
        csr_der: &csr,
        spec,
        certificate_type: cty,
    };
    let gs = account();
    let cn = common_name(&order).unwrap();
    let request = pv_order_request(
        gs.auth_token(),
        product_code(cty).unwrap(),
        &order,
        &cn,
        &domain("DSMS1", "contoso.com", Some("3")),
        &gs.contact,
    );
    let xml = soap::envelope(soap::NS_V2, "PVOrder", request);
    (soap::parse(&xml).unwrap(), xml.to_string())
}

#[test]
fn a_pv_order_envelope_is_document_literal_with_unqualified_children() {
    let spec = spec(
        "shop.contoso.com",
        &["shop.contoso.com", "www.contoso.com", "*.api.contoso.com"],
    );
    let (root, xml) = pv_order(&spec, Some("OV-SSL"));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("xmlns:ns=\"https://system.globalsign.com/kb/ws/v2/\""));
    assert!(xml.contains("<ns:PVOrder><Request><OrderRequestHeader><AuthToken><UserName>"));
    assert!(!xml.contains("<ns:Request"), "children are unqualified");
    assert_eq!(root.name, "Envelope");
    let request = root.at(&["Body", "PVOrder", "Request"]).unwrap();
    let names: Vec<&str> = request.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "OrderRequestHeader",
            "OrderRequestParameter",
            "MSSLProfileID",
            "MSSLDomainID",
            "ContactInfo",
            "SANEntries"
        ],
        "the schema's sequence order"
    );
    assert_eq!(
        request.text_at(&["OrderRequestHeader", "AuthToken", "UserName"]),
        Some("PAR1234_api")
    );
    let p = request.child("OrderRequestParameter").unwrap();
    let names: Vec<&str> = p.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ProductCode",
            "OrderKind",
            "Licenses",
            "Options",
            "ValidityPeriod",
            "CSR"
        ]
    );
    assert_eq!(p.text_at(&["ProductCode"]), Some("PV_SHA2"));
    assert_eq!(p.text_at(&["OrderKind"]), Some("new"));
    assert_eq!(p.text_at(&["Licenses"]), Some("1"));
    assert_eq!(p.text_at(&["Options", "Option", "OptionName"]), Some("SAN"));
    // 12 months asked for: capped by SC-081 (validity.rs), never more than 200 days.
    let months: u32 = p
        .text_at(&["ValidityPeriod", "Months"])
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&months), "{months}");
    let csr = p.text_at(&["CSR"]).unwrap();
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    assert_eq!(request.text_at(&["MSSLProfileID"]), Some("MP_DSMS1"));
    assert_eq!(request.text_at(&["MSSLDomainID"]), Some("DSMS1"));
    assert_eq!(request.text_at(&["ContactInfo", "FirstName"]), Some("Ada"));
    assert_eq!(
        request.text_at(&["ContactInfo", "LastName"]),
        Some("O'Neil & Sons")
    );
    assert_eq!(
        request.text_at(&["ContactInfo", "Phone"]),
        Some("+1 555 0100")
    );
    assert_eq!(
        request.text_at(&["ContactInfo", "Email"]),
        Some("ada@contoso.com")
    );
    let sans: Vec<(&str, &str)> = request
        .child("SANEntries")
        .unwrap()
        .all("SANEntry")
        .map(|e| {
            (
                e.text_at(&["SANOptionType"]).unwrap(),
                e.text_at(&["SubjectAltName"]).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sans,
        [("7", "www.contoso.com"), ("13", "*.api.contoso.com")],
        "the CN is not repeated"
    );
}

#[test]
fn a_single_name_order_has_no_san_entries_and_ev_and_wildcards_are_asked_for() {
    let (root, _) = pv_order(&spec("shop.contoso.com", &["shop.contoso.com"]), None);
    let request = root.at(&["Body", "PVOrder", "Request"]).unwrap();
    assert!(request.child("SANEntries").is_none());
    assert!(request.at(&["OrderRequestParameter", "Options"]).is_none());
    assert_eq!(
        request.text_at(&["OrderRequestParameter", "ProductCode"]),
        Some("PV_SHA2")
    );
    let (root, _) = pv_order(&spec("*.contoso.com", &[]), Some("EV-SSL"));
    let p = root
        .at(&["Body", "PVOrder", "Request", "OrderRequestParameter"])
        .unwrap();
    assert_eq!(p.text_at(&["ProductCode"]), Some("PEV_SHA2"));
    assert_eq!(p.text_at(&["BaseOption"]), Some("wildcard"));
}

#[test]
fn every_value_is_escaped_and_a_password_with_markup_survives() {
    let (root, xml) = pv_order(&spec("shop.contoso.com", &[]), None);
    let token = root
        .at(&[
            "Body",
            "PVOrder",
            "Request",
            "OrderRequestHeader",
            "AuthToken",
        ])
        .unwrap();
    // Text is trimmed when read, so compare what is inside the markup.
    assert_eq!(token.children[1].text, PASSWORD.trim());
    assert!(
        xml.contains("<Password>p&lt;&amp;&gt;&quot;&apos;a&#13;]]&gt;ss</Password>"),
        "{xml}"
    );
    assert!(!xml.contains(PASSWORD));
    assert!(xml.contains("<LastName>O&apos;Neil &amp; Sons</LastName>"));
}

#[test]
fn no_password_in_debug_output() {
    let gs = account();
    let shown = format!("{gs:?} {:?}", gs.auth_token());
    assert!(!shown.contains("p<&"), "{shown}");
    assert!(shown.contains("PAR1234_api"));
    let settings = Settings {
        endpoint: None,
        account_id: "a".into(),
        password: Zeroizing::new("hunter2".into()),
        contact: Contact::default(),
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn products_follow_the_policy_cty() {
    assert_eq!(product_code(None).unwrap(), "PV_SHA2");
    assert_eq!(product_code(Some("OV-SSL")).unwrap(), "PV_SHA2");
    assert_eq!(product_code(Some("ev-ssl")).unwrap(), "PEV_SHA2");
    assert_eq!(
        product_code(Some("PV_INTRA_SHA2")).unwrap(),
        "PV_INTRA_SHA2"
    );
    match product_code(Some("DV-SSL")) {
        Err(CaError::Rejected { message, .. }) => assert!(message.contains("DV-SSL")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_mssl_domain_is_the_longest_parent_on_a_label_boundary() {
    let domains = [
        domain("D1", "contoso.com", Some("3")),
        domain("D2", "shop.contoso.com", Some("3")),
        domain("D3", "tailspin.com", Some("3")),
        domain("D4", "example.org", Some("1")),
        domain("D5", "example.org", Some("3")),
    ];
    let id = |host: &str| choose_domain(&domains, host).map(|d| d.domain_id.as_str());
    assert_eq!(id("www.contoso.com"), Some("D1"));
    assert_eq!(id("a.shop.contoso.com"), Some("D2"));
    assert_eq!(id("SHOP.Contoso.com"), Some("D2"));
    assert_eq!(id("*.contoso.com"), Some("D1"));
    assert_eq!(id("evilcontoso.com"), None, "not on a label boundary");
    assert_eq!(id("contoso.com.evil.net"), None);
    assert_eq!(
        id("www.example.org"),
        Some("D5"),
        "an issuable domain first"
    );
    assert_eq!(
        choose_domain(&domains[3..4], "www.example.org")
            .unwrap()
            .domain_id,
        "D4"
    );
}

const DOMAINS: &str = r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<ns2:GetMSSLDomainsResponse xmlns:ns2="https://system.globalsign.com/kb/ws/v2/"><Response>
<QueryResponseHeader><SuccessCode>0</SuccessCode><Timestamp>2026-11-26T10:00:00.000+00:00</Timestamp></QueryResponseHeader>
<SearchMsslDomainDetails>
<SearchMsslDomainDetail><MSSLDomainID>DSMS2026</MSSLDomainID><MSSLProfileID>MP_2026</MSSLProfileID><MSSLDomainName>contoso.com</MSSLDomainName><MSSLDomainStatus>3</MSSLDomainStatus></SearchMsslDomainDetail>
<SearchMsslDomainDetail><MSSLDomainID>broken</MSSLDomainID></SearchMsslDomainDetail>
</SearchMsslDomainDetails></Response></ns2:GetMSSLDomainsResponse></soap:Body></soap:Envelope>"#;

#[test]
fn mssl_domains_are_read_and_incomplete_entries_skipped() {
    let response = read_answer(200, DOMAINS.into(), MSSL_PATH, "GetMSSLDomains").unwrap();
    assert_eq!(
        parse_domains(&response),
        [domain("DSMS2026", "contoso.com", Some("3"))].map(|mut d| {
            d.profile_id = "MP_2026".into();
            d
        })
    );
}

fn answer(operation: &str, inner: &str) -> Vec<u8> {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>\
         <ns3:{operation}Response xmlns:ns3=\"https://system.globalsign.com/kb/ws/v1/\"><Response>{inner}</Response>\
         </ns3:{operation}Response></S:Body></S:Envelope>"
    )
    .into_bytes()
}

#[test]
fn header_errors_are_rejections_in_globalsigns_words() {
    let body = answer(
        "PVOrder",
        "<OrderResponseHeader><SuccessCode>-1</SuccessCode><Errors>\
         <Error><ErrorCode>-102</ErrorCode><ErrorField>ContactInfo.Email</ErrorField><ErrorMessage>Mandatory parameter missing</ErrorMessage></Error>\
         <Error><ErrorCode>-4007</ErrorCode><ErrorMessage>Invalid CSR &amp; key</ErrorMessage></Error>\
         </Errors></OrderResponseHeader>",
    );
    match read_answer(200, body, MSSL_PATH, "PVOrder") {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "-102");
            assert_eq!(
                message,
                "Mandatory parameter missing (field ContactInfo.Email); Invalid CSR & key"
            );
        }
        other => panic!("{other:?}"),
    }
    let body = answer(
        "PVOrder",
        "<OrderResponseHeader><SuccessCode>-1</SuccessCode><Errors><Error><ErrorCode>-4201</ErrorCode></Error></Errors></OrderResponseHeader>",
    );
    match read_answer(200, body, MSSL_PATH, "PVOrder") {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "-4201");
            assert!(message.contains("-4201"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A warning (SuccessCode 1) is a success.
    let body = answer(
        "PVOrder",
        "<OrderResponseHeader><SuccessCode>1</SuccessCode><Errors><Error><ErrorCode>-5001</ErrorCode></Error></Errors></OrderResponseHeader><OrderID>CEAP1</OrderID>",
    );
    let response = read_answer(200, body, MSSL_PATH, "PVOrder").unwrap();
    assert!(
        matches!(submitted(&response), Ok(Progress::Pending { request_id, .. }) if request_id == "CEAP1")
    );
}

#[test]
fn faults_refuse_and_unreadable_answers_are_retried() {
    let fault = b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault>\
        <faultcode>soap:Client</faultcode><faultstring>Unmarshalling Error</faultstring></soap:Fault></soap:Body></soap:Envelope>";
    // A SOAP 1.1 server answers a fault with HTTP 500: still a refusal.
    for status in [200, 400, 500] {
        match read_answer(status, fault.to_vec(), GAS_PATH, "GetOrderByOrderID") {
            Err(CaError::Rejected { code, message }) => {
                assert_eq!(
                    (code.as_str(), message.as_str()),
                    ("soap:Client", "Unmarshalling Error")
                )
            }
            other => panic!("{other:?}"),
        }
    }
    match read_answer(
        404,
        b"<html>Not Found</html>".to_vec(),
        GAS_PATH,
        "GetOrderByOrderID",
    ) {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "HTTP 404");
            assert!(message.contains("Not Found"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A 5xx without a fault is an outage.
    let page = b"<html>Service Unavailable</html>".to_vec();
    match read_answer(503, page, GAS_PATH, "GetOrderByOrderID") {
        Err(CaError::Unavailable(m)) => assert!(m.contains("HTTP 503"), "{m}"),
        other => panic!("{other:?}"),
    }
    for body in [
        &b"<html>proxy</html>"[..],
        b"",
        b"\xff\xfe",
        b"<Envelope><Body/></Envelope>",
    ] {
        assert!(
            matches!(
                read_answer(200, body.to_vec(), GAS_PATH, "GetOrderByOrderID"),
                Err(CaError::Unavailable(_))
            ),
            "{body:?}"
        );
    }
}

/// A certificate as PEM, and its DER.
fn cert(cn: &str) -> (String, Vec<u8>) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let der = x509::self_signed(&spec(cn, &[]), &key).unwrap();
    (crate::pki::pem::encode("CERTIFICATE", &der), der)
}

fn order_answer(status: &str, fulfillment: &str) -> Vec<u8> {
    answer(
        "GetOrderByOrderID",
        &format!(
            "<OrderResponseHeader><SuccessCode>0</SuccessCode></OrderResponseHeader><OrderID>CEAP9</OrderID>\
             <OrderDetail><OrderInfo><OrderId>CEAP9</OrderId><OrderStatus>{status}</OrderStatus></OrderInfo>\
             <CertificateInfo><CertificateStatus>{status}</CertificateStatus></CertificateInfo>{fulfillment}</OrderDetail>"
        ),
    )
}

fn poll_answer(status: &str, fulfillment: &str) -> Result<Progress, CaError> {
    let response = read_answer(
        200,
        order_answer(status, fulfillment),
        GAS_PATH,
        "GetOrderByOrderID",
    )?;
    polled("CEAP9", &response)
}

#[test]
fn order_statuses_map_to_pending_issued_or_refused() {
    for (status, words) in [
        ("1", "initial"),
        ("2", "phishing"),
        ("8", "pending approval"),
        ("9", "locked"),
    ] {
        match poll_answer(status, "") {
            Ok(Progress::Pending {
                request_id,
                details,
            }) => {
                assert_eq!(request_id, "CEAP9");
                assert!(
                    details.contains(words) && details.contains(status),
                    "{details}"
                );
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    for (status, words) in [
        ("3", "cancelled"),
        ("5", "cancelled"),
        ("6", "revocation"),
        ("7", "revoked"),
        ("10", "denied"),
        ("77", "unknown"),
    ] {
        match poll_answer(status, "") {
            Err(CaError::Rejected { code, message }) => {
                assert_eq!(code, format!("OrderStatus {status}"));
                assert!(
                    message.contains(words) && message.contains("CEAP9"),
                    "{message}"
                );
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[test]
fn an_issued_order_gives_the_leaf_then_intermediates_then_the_root() {
    let (leaf_pem, leaf) = cert("shop.contoso.com");
    let (root_pem, root) = cert("Root");
    let (inter_pem, inter) = cert("Intermediate");
    let fulfillment = format!(
        "<Fulfillment><CACertificates>\
         <CACertificate><CACertType>ROOT</CACertType><CACert>{root_pem}</CACert></CACertificate>\
         <CACertificate><CACertType>INTER</CACertType><CACert>{inter_pem}</CACert></CACertificate>\
         </CACertificates><ServerCertificate><X509Cert>{leaf_pem}</X509Cert><PKCS7Cert/></ServerCertificate></Fulfillment>"
    );
    match poll_answer("4", &fulfillment) {
        Ok(Progress::Issued { request_id, issued }) => {
            assert_eq!(request_id, "CEAP9");
            assert_eq!(issued.leaf, leaf);
            assert_eq!(issued.chain, [inter, root]);
        }
        other => panic!("{other:?}"),
    }
    // Issued, but the answer lacks the certificate: ask again later.
    assert!(matches!(poll_answer("4", ""), Err(CaError::Unavailable(_))));
    // Issued at once by PVOrder: the certificate comes with the order.
    let body = answer(
        "PVOrder",
        &format!(
            "<OrderResponseHeader><SuccessCode>0</SuccessCode></OrderResponseHeader><OrderID>CEAP2</OrderID>\
             <PVOrderDetail><CertificateInfo><CertificateStatus>4</CertificateStatus></CertificateInfo>{fulfillment}</PVOrderDetail>"
        ),
    );
    let response = read_answer(200, body, MSSL_PATH, "PVOrder").unwrap();
    assert!(
        matches!(submitted(&response), Ok(Progress::Issued { request_id, .. }) if request_id == "CEAP2")
    );
    // Issued at once without the certificate: pending until the poll brings it.
    let body = answer(
        "PVOrder",
        "<OrderResponseHeader><SuccessCode>0</SuccessCode></OrderResponseHeader><OrderID>CEAP3</OrderID>\
         <PVOrderDetail><CertificateInfo><CertificateStatus>4</CertificateStatus></CertificateInfo></PVOrderDetail>",
    );
    let response = read_answer(200, body, MSSL_PATH, "PVOrder").unwrap();
    assert!(matches!(submitted(&response), Ok(Progress::Pending { .. })));
    // A damaged certificate is GlobalSign's fault, said so.
    let damaged = "<Fulfillment><ServerCertificate><X509Cert>-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----</X509Cert></ServerCertificate></Fulfillment>";
    assert!(matches!(
        poll_answer("4", damaged),
        Err(CaError::Rejected { .. })
    ));
}

#[test]
fn the_parser_reads_entities_cdata_and_prefixes_and_refuses_bad_documents() {
    let e = soap::parse("<a:x xmlns:a='u'> <y>&#60;&#x26;&lt;&amp;<![CDATA[<&]]></y><z/></a:x>")
        .unwrap();
    assert_eq!(e.name, "x");
    assert_eq!(e.text_at(&["y"]), Some("<&<&<&"));
    assert!(e.child("z").is_some() && e.text_at(&["z"]).is_none());
    for bad in [
        "",
        "<a>",
        "<a></b>",
        "</a>",
        "<a/><b/>",
        "text",
        "<a>&bogus;</a>",
        "<a>&#0;</a>",
        "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
    ] {
        assert!(soap::parse(bad).is_err(), "{bad:?}");
    }
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert!(soap::parse(&deep).is_err());
    let shallow = format!("{}{}", "<a>".repeat(60), "</a>".repeat(60));
    assert!(soap::parse(&shallow).is_ok());
}

/// A tiny deterministic generator for the garbage test.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbage_answers_never_panic() {
    let (leaf_pem, _) = cert("shop.contoso.com");
    let good = order_answer(
        "4",
        &format!(
            "<Fulfillment><ServerCertificate><X509Cert>{leaf_pem}</X509Cert></ServerCertificate></Fulfillment>"
        ),
    );
    let try_all = |body: &[u8]| {
        for op in [
            "GetOrderByOrderID",
            "PVOrder",
            "GetMSSLDomains",
            "ModifyMSSLOrder",
        ] {
            for status in [200, 404] {
                if let Ok(response) = read_answer(status, body.to_vec(), GAS_PATH, op) {
                    let _ = polled("X", &response);
                    let _ = submitted(&response);
                    let _ = parse_domains(&response);
                }
            }
        }
    };
    // Every truncation of a good answer.
    for cut in 0..good.len() {
        try_all(&good[..cut]);
    }
    // Random byte flips and insertions of markup.
    let mut rng = Lcg(42);
    let pieces: [&[u8]; 8] = [
        b"<",
        b">",
        b"&",
        b"</",
        b"<![CDATA[",
        b"&#x;",
        b"\xff",
        b"<OrderStatus>4</OrderStatus>",
    ];
    for _ in 0..3000 {
        let mut body = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % body.len();
            if rng.next() % 2 == 0 {
                body[at] = rng.next() as u8;
            } else {
                let piece = pieces[(rng.next() as usize) % pieces.len()];
                body.splice(at..at, piece.iter().copied());
            }
        }
        try_all(&body);
    }
    // Pure noise.
    for len in [1usize, 7, 100, 5000] {
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        try_all(&noise);
    }
}
