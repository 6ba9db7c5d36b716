//! GlobalSign faults that end: a SOAP Fault answered with HTTP 500 (as a SOAP 1.1 server does) fails the operation with GlobalSign's words at once, and an outage is retried only until the current certificate expires.

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

/// An EC key and a self-signed certificate for `cn` that expires 15 seconds from now, as one PEM file.
fn expired_pem(dir: &std::path::Path, cn: &str) -> std::path::PathBuf {
    let script = format!(
        "python3 - <<'PY'
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '{cn}')])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    .public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=30))
    .not_valid_after(now + datetime.timedelta(seconds=15))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName('{cn}')]), critical=False)
    .sign(key, hashes.SHA256()))
open('old.pem', 'wb').write(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY"
    );
    common::sh_ok(dir, &script);
    dir.join("old.pem")
}

#[test]
fn an_outage_is_retried_only_until_the_current_certificate_expires() {
    let mut server = GlobalSignStandIn::start();
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
    let host = server.host_name("old");
    let work = tempfile::tempdir().unwrap();
    let pem = expired_pem(work.path(), &host);
    common::sh_ok(&m.mnt, &format!("cp {} prod/import/old.pem", pem.display()));
    assert!(m.path("prod/old/cert.pem").exists(), "imported");
    // The renewal's CA is down for good: retried until the current
    // certificate's expiry passes, then the operation fails.
    server.go_down();
    let policy = json!({
        "key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": format!("CN={host}"), "sans": {"dns_names": [host]}, "validity_months": 12},
        "issuer": {"name": "gs", "cty": "OV-SSL"}
    });
    fs::write(m.path("prod/old/policy.json"), policy.to_string()).unwrap();
    let failed = wait_operation(&m, "old", "failed", |op| status(op) == "failed");
    assert_eq!(failed["error"]["code"], "IssuerUnavailable", "{failed:#}");
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not be reached until")
            && message.contains("the current certificate's expiry"),
        "{failed:#}"
    );
    assert_eq!(
        failed["status_details"], "The issuer gs could not be reached.",
        "{failed:#}"
    );
}
