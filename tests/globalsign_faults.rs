//! GlobalSign faults that end: a SOAP Fault answered with HTTP 500 (as a SOAP 1.1 server does) fails the operation with GlobalSign's words at once instead of being retried as an outage.

#[allow(dead_code)]
#[path = "common/ca.rs"]
mod ca;
#[path = "common/ca_globalsign.rs"]
mod ca_globalsign;
mod common;

use std::fs;

use ca::StandIn;
use ca_globalsign::{GlobalSignStandIn, PASSWORD, USER};
use common::Mount;
use common::operations::{status, wait_operation};
use serde_json::json;

#[test]
fn a_soap_fault_with_http_500_fails_the_operation_with_globalsigns_words() {
    let server = GlobalSignStandIn::start();
    let m = Mount::start();
    fs::create_dir(m.path("prod")).unwrap();
    let issuer = json!({
        "provider": "GlobalSign",
        "credentials": {"account_id": USER, "pwd": PASSWORD},
        "org_details": {"admin_details": [{
            "first_name": "Ada", "last_name": "Lovelace",
            "email": "ada@certfs.test", "phone": "+44 20 7946 0000"
        }]},
        "endpoint": server.url()
    });
    fs::write(m.path("prod/issuers/gs.json"), issuer.to_string()).unwrap();
    let host = server.host_name("faulty");
    let words = format!("Order for {host} rejected: the product is not enabled.");
    server.set_rule(
        &host,
        &json!({"mode": "fault", "code": "soap:Server", "message": words}).to_string(),
    );
    fs::create_dir(m.path("prod/faulty")).unwrap();
    let policy = json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 12},
        "issuer": {"name": "gs", "cty": "OV-SSL"}
    });
    fs::write(m.path("prod/faulty/policy.json"), policy.to_string()).unwrap();
    let failed = wait_operation(&m, "faulty", "failed", |op| {
        assert!(
            !op["status_details"]
                .as_str()
                .is_some_and(|d| d.contains("Retrying")),
            "a fault is not an outage: {op:#}"
        );
        status(op) == "failed"
    });
    assert_eq!(failed["error"]["code"], "soap:Server", "{failed:#}");
    assert_eq!(failed["error"]["message"], words.as_str(), "{failed:#}");
    let orders = server
        .calls()
        .into_iter()
        .filter(|c| c["operation"] == "PVOrder")
        .count();
    assert_eq!(orders, 1, "the fault was not retried");
}
