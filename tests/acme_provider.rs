//! The ACME provider against a real pebble, beyond the CA contract: http-01 answered from a webroot that a real nginx serves, the account kept in the issuer memory and reused, a new account when the CA forgot the old one, no secrets in Debug.

#[path = "common/ca.rs"]
#[allow(dead_code)] // the contract's StandIn is not driven here
mod ca;
#[path = "common/ca_acme.rs"]
#[allow(dead_code)]
mod ca_acme;
#[path = "common/pebble.rs"]
mod pebble;
#[path = "common/webroot_nginx.rs"]
mod webroot_nginx;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ca_acme::{Memory, listener, settings};
use certfs::issuers::acme::{Acme, ChallengeMethod};
use certfs::issuers::{CaError, CertificateAuthority, Order, Progress};
use certfs::pki::dn::DistinguishedName;
use certfs::pki::key::{Curve, KeySpec, PrivateKey};
use certfs::pki::x509::{self, CertificateSpec, KeyUsage, SubjectAltNames};
use pebble::{EAB_HMAC, Pebble};
use webroot_nginx::WebrootNginx;

/// A CSR for `names` (the first is the CN).
fn request(names: &[&str]) -> (PrivateKey, Vec<u8>, CertificateSpec) {
    let key = PrivateKey::generate(KeySpec::Ec(Curve::P256)).unwrap();
    let spec = CertificateSpec {
        subject: DistinguishedName::parse(&format!("CN={}", names[0])).unwrap(),
        sans: SubjectAltNames {
            dns_names: names.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        },
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec!["1.3.6.1.5.5.7.3.1".into()],
        validity_months: 3,
    };
    let der = x509::certificate_signing_request(&spec, &key).unwrap();
    (key, der, spec)
}

fn order<'a>(der: &'a [u8], spec: &'a CertificateSpec) -> Order<'a> {
    Order {
        certificate_name: "web",
        csr_der: der,
        spec,
        certificate_type: None,
    }
}

/// Polls until issued or refused (a hang detector bounds it).
fn drive(
    ca: &dyn CertificateAuthority,
    order: &Order<'_>,
    request_id: &str,
) -> Result<Progress, CaError> {
    let start = Instant::now();
    let mut request_id = request_id.to_owned();
    loop {
        match ca.poll(order, &request_id)? {
            Progress::Pending {
                request_id: next, ..
            } => request_id = next,
            issued => return Ok(issued),
        }
        assert!(start.elapsed() < Duration::from_secs(90), "no outcome");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn submitted(ca: &dyn CertificateAuthority, order: &Order<'_>) -> String {
    match ca.submit(order).expect("submit") {
        Progress::Pending { request_id, .. } => request_id,
        other => panic!("an ACME order starts pending: {other:?}"),
    }
}

fn challenge_files(webroot: &Path) -> Vec<String> {
    fs::read_dir(webroot.join(".well-known/acme-challenge"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn http01_from_a_webroot_is_validated_through_nginx() {
    let pebble = Pebble::start(false);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let nginx = WebrootNginx::start(&webroot, pebble.http_port, None);
    let mut s = settings(&pebble, ChallengeMethod::Webroot(webroot.clone()), EAB_HMAC);
    s.eab = None;
    let ca = Acme::new(s, Box::new(Memory::default())).unwrap();
    let (key, der, spec) = request(&["www.certfs.test", "certfs.test"]);
    let order = order(&der, &spec);
    let request_id = submitted(&ca, &order);
    let Progress::Issued { issued, .. } = drive(&ca, &order, &request_id).expect("issued") else {
        unreachable!()
    };
    let info = x509::inspect(&issued.leaf).unwrap();
    assert_eq!(info.public_key_der, key.public_key_der());
    ca::assert_chain_verifies(&issued, &pebble.root_pem());
    // Pebble fetched both answers from nginx (its validation goes through
    // the webroot), and the answers are gone afterwards.
    let log = nginx.access_log();
    let fetched = log
        .lines()
        .filter(|l| l.contains("GET /.well-known/acme-challenge/") && l.contains("\" 200 "))
        .count();
    assert!(fetched >= 2, "nginx served no challenge:\n{log}");
    assert_eq!(challenge_files(&webroot), Vec::<String>::new());
    assert!(
        fs::metadata(webroot.join(".well-known/acme-challenge"))
            .unwrap()
            .is_dir(),
        "the directory certfs made stays"
    );
}

#[test]
fn a_failed_validation_is_refused_in_pebbles_words_and_leaves_no_files() {
    let pebble = Pebble::start(false);
    let site = tempfile::tempdir().unwrap();
    let webroot = site.path().join("html");
    let nginx = WebrootNginx::start(&webroot, pebble.http_port, None);
    // The web server answers for one name; the other points elsewhere.
    pebble.resolve("elsewhere.certfs.test", "127.0.0.2");
    let mut s = settings(&pebble, ChallengeMethod::Webroot(webroot.clone()), EAB_HMAC);
    s.eab = None;
    let ca = Acme::new(s, Box::new(Memory::default())).unwrap();
    let (_key, der, spec) = request(&["ok.certfs.test", "elsewhere.certfs.test"]);
    let order = order(&der, &spec);
    let request_id = submitted(&ca, &order);
    match drive(&ca, &order, &request_id) {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "urn:ietf:params:acme:error:connection");
            assert!(message.contains("elsewhere.certfs.test"), "{message}");
            assert!(message.contains("connection refused"), "{message}");
        }
        other => panic!("expected pebble's refusal, got {other:?}"),
    }
    assert_eq!(challenge_files(&webroot), Vec::<String>::new());
    drop(nginx);
}

#[test]
fn the_account_is_kept_in_the_issuer_memory_and_reused() {
    let pebble = Pebble::start(true);
    let memory = Memory::default();
    let first = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(memory.clone()),
    )
    .unwrap();
    let (_key, der, spec) = request(&["kept.certfs.test"]);
    let order = order(&der, &spec);
    let request_id = submitted(&first, &order);
    let stored = memory
        .0
        .lock()
        .unwrap()
        .clone()
        .expect("the account is stored");
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["directory"], pebble.directory_url());
    let key = value["credentials"]["key_pkcs8"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.len() > 40);
    assert!(
        !format!("{first:?}").contains(&key),
        "the account key stays out of Debug"
    );
    drop(first);

    // A restarted certfs: a new provider over the same memory carries on
    // with the order, which pebble shows only to the account that placed it.
    let second = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(memory.clone()),
    )
    .unwrap();
    let Progress::Issued {
        request_id: done, ..
    } = drive(&second, &order, &request_id).expect("issued")
    else {
        unreachable!()
    };
    assert_eq!(done, request_id, "the same order completed");
    assert_eq!(
        memory.0.lock().unwrap().as_deref(),
        Some(stored.as_str()),
        "no new account"
    );
}

#[test]
fn an_account_the_ca_forgot_is_registered_anew_and_a_forgotten_order_placed_again() {
    let mut pebble = Pebble::start(true);
    let memory = Memory::default();
    let ca = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(memory.clone()),
    )
    .unwrap();
    let (_key, der, spec) = request(&["forgot.certfs.test"]);
    let order = order(&der, &spec);
    let request_id = submitted(&ca, &order);
    let before = memory.0.lock().unwrap().clone().unwrap();

    // Pebble restarts: it no longer knows the account or the order.
    pebble.down();
    pebble.up();
    let progress = ca.poll(&order, &request_id).expect("recovers");
    let Progress::Pending {
        request_id: again,
        details,
    } = progress
    else {
        panic!("a new order starts pending: {progress:?}");
    };
    assert_ne!(again, request_id);
    assert!(details.contains("no longer knew"), "{details}");
    let after = memory.0.lock().unwrap().clone().unwrap();
    assert_ne!(after, before, "a new account was stored");
    let Progress::Issued { issued, .. } = drive(&ca, &order, &again).expect("issued") else {
        unreachable!()
    };
    ca::assert_chain_verifies(&issued, &pebble.root_pem());
}

#[test]
fn a_ca_file_that_does_not_sign_the_servers_certificate_is_a_tls_failure() {
    let pebble = Pebble::start(false);
    let other = tempfile::tempdir().unwrap();
    let wrong_ca = other.path().join("ca.pem");
    fs::write(&wrong_ca, fs::read_to_string(pebble.root_pem()).unwrap()).unwrap();
    let mut s = settings(&pebble, listener(&pebble), EAB_HMAC);
    s.eab = None;
    s.ca_file = Some(wrong_ca);
    let ca = Acme::new(s, Box::new(Memory::default())).unwrap();
    let (_key, der, spec) = request(&["tls.certfs.test"]);
    match ca.submit(&order(&der, &spec)) {
        Err(CaError::Unavailable(m)) => assert!(m.to_lowercase().contains("certificate"), "{m}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    // And a ca_file that is not PEM is refused when the provider is made.
    let junk = other.path().join("junk.pem");
    fs::write(&junk, "not a certificate").unwrap();
    let mut s = settings(&pebble, listener(&pebble), EAB_HMAC);
    s.ca_file = Some(junk);
    let err = Acme::new(s, Box::new(Memory::default())).unwrap_err();
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");
}

#[test]
fn an_order_of_another_account_is_placed_again_for_this_one() {
    // Two first orders through a new issuer registered two accounts at
    // once; the memory kept one of them. The other's order is out of reach.
    let pebble = Pebble::start(true);
    let theirs = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(Memory::default()),
    )
    .unwrap();
    let ours = Acme::new(
        settings(&pebble, listener(&pebble), EAB_HMAC),
        Box::new(Memory::default()),
    )
    .unwrap();
    let (_key, der, spec) = request(&["race.certfs.test"]);
    let order = order(&der, &spec);
    let their_order = submitted(&theirs, &order);
    drop(theirs);
    match ours.poll(&order, &their_order).expect("recovers") {
        Progress::Pending {
            request_id,
            details,
        } => {
            assert_ne!(request_id, their_order);
            assert!(details.contains("new order"), "{details}");
            let Progress::Issued { issued, .. } =
                drive(&ours, &order, &request_id).expect("issued")
            else {
                unreachable!()
            };
            ca::assert_chain_verifies(&issued, &pebble.root_pem());
        }
        other => panic!("expected a new order, got {other:?}"),
    }
}
