//! Any CA by hand: issuer `Unknown` makes a pending version and `request.csr`; a certificate signed for it and dropped into `merge/` completes it, one for another key is refused.

use x509_parser::certification_request::X509CertificationRequest;

use super::*;
use crate::pki::{pem, x509};

/// A CA: its key and self-signed certificate, made by `pki::x509`.
struct Ca {
    key: PrivateKey,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let key = ec_key();
        let der = x509::certificate_authority(&spec("Test CA"), &key).unwrap();
        Ca { key, der }
    }

    /// The CSR `csr_pem` signed by this CA, valid from 5 minutes ago for 90 days.
    fn sign(&self, csr_pem: &[u8]) -> Vec<u8> {
        let mut csr =
            rcgen::CertificateSigningRequestParams::from_pem(std::str::from_utf8(csr_pem).unwrap())
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        csr.params.not_before = now - time::Duration::minutes(5);
        csr.params.not_after = now + time::Duration::days(90);
        csr.params.serial_number = Some(rcgen::SerialNumber::from(vec![0x42, 0x17]));
        let pair = self.key.signing_key_pair().unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_der(&self.der.as_slice().into(), pair).unwrap();
        csr.signed_by(&issuer).unwrap().der().to_vec()
    }
}

/// Certificate `api` pending, from an `Unknown` policy.
fn pending(db: &Path) -> VaultService {
    let s = service_with_vault(db);
    mkdir(&s, "prod/api").unwrap();
    write(&s, "prod/api/policy.json", &ec_policy("api", "Unknown")).unwrap();
    s
}

/// PEM text of `ders`, in that order.
fn pem_of(ders: &[&[u8]]) -> Vec<u8> {
    ders.iter()
        .map(|der| pem::encode("CERTIFICATE", der))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn an_unknown_issuer_makes_a_pending_version_and_a_csr() {
    let (_dir, db) = temp_store();
    let s = pending(&db);
    let operation = read_json(&s, "prod/api/operation.json");
    assert_eq!(operation["status"], "inProgress");
    assert_eq!(operation["issuer"]["name"], "Unknown");
    let csr_pem = read(&s, "prod/api/request.csr");
    let csrs = pem_blocks(&csr_pem, "CERTIFICATE REQUEST");
    assert_eq!(csrs.len(), 1);
    let (_, csr) = X509CertificationRequest::from_der(&csrs[0]).unwrap();
    assert_eq!(csr.certification_request_info.subject.to_string(), "CN=api");
    csr.verify_signature().unwrap();
    // The CSR in operation.json is request.csr's DER.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&csrs[0]);
    assert_eq!(operation["csr"], b64.as_str());
    // Nothing is served yet, and the pending version is not listed.
    assert!(lists(&s, "prod/api", "request.csr"));
    assert!(!exists(&s, "prod/api/cert.pem"));
    assert!(!exists(&s, "prod/api/privkey.pem"));
    assert!(versions(&s, "prod/api").is_empty());
    // It survives a reopen.
    drop(s);
    let s = service(&db);
    assert_eq!(read(&s, "prod/api/request.csr"), csr_pem);
    assert_eq!(
        read_json(&s, "prod/api/operation.json")["status"],
        "inProgress"
    );
}

#[test]
fn a_certificate_signed_by_a_ca_dropped_into_merge_completes_the_version() {
    let (_dir, db) = temp_store();
    let s = pending(&db);
    let ca = Ca::new();
    let leaf = ca.sign(&read(&s, "prod/api/request.csr"));
    assert_eq!(issuer(&leaf), subject(&ca.der));
    // The chain in any order: CA first.
    write(&s, "prod/api/merge/signed.pem", &pem_of(&[&ca.der, &leaf])).unwrap();

    assert!(
        names(&s, "prod/api/merge").is_empty(),
        "the dropped file goes"
    );
    let ids = versions(&s, "prod/api");
    assert_eq!(ids.len(), 1);
    assert_eq!(current_version(&s, "prod/api").as_str(), ids[0]);
    assert_eq!(
        assert_served_pair(&s, "prod/api"),
        leaf,
        "the key is the pending key"
    );
    assert_eq!(
        certificates(&read(&s, "prod/api/chain.pem")),
        vec![ca.der.clone()]
    );
    assert_eq!(
        certificates(&read(&s, "prod/api/fullchain.pem")),
        vec![leaf.clone(), ca.der.clone()],
        "leaf, then its issuer"
    );
    let operation = read_json(&s, "prod/api/operation.json");
    assert_eq!(operation["status"], "completed");
    assert!(!exists(&s, "prod/api/request.csr"), "no CSR once completed");
    // A merge with nothing pending.
    let refused = write(&s, "prod/api/merge/again.pem", &pem_of(&[&leaf])).unwrap_err();
    assert!(matches!(refused, VaultError::NotFound(_)), "{refused}");
    assert!(
        refused.message().contains("Pending certificate not found"),
        "{refused}"
    );
    // It survives a reopen.
    drop(s);
    let s = service(&db);
    assert_eq!(read(&s, "prod/api/cert.cer"), leaf);
    assert_eq!(versions(&s, "prod/api"), ids);
}

#[test]
fn a_certificate_for_another_key_is_refused_and_the_version_stays_pending() {
    let (_dir, db) = temp_store();
    let s = pending(&db);
    let ca = Ca::new();
    let stranger = ec_key();
    let other = x509::signed_by_ca(
        &spec("api"),
        &stranger,
        &ca.der,
        &ca.key,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(issuer(&other), subject(&ca.der));

    let refused = write(&s, "prod/api/merge/other.pem", &pem_of(&[&other])).unwrap_err();
    assert!(matches!(refused, VaultError::BadParameter(_)), "{refused}");
    assert_eq!(
        names(&s, "prod/api/merge"),
        ["other.pem.error"],
        "a refused drop goes too; its report stays"
    );
    let (code, message) = report(&s, "prod/api/merge/other.pem");
    assert_eq!(code, "BadParameter");
    assert_eq!(message, crate::vault::pending::KEY_MISMATCH);
    // Still pending, nothing served.
    assert_eq!(
        read_json(&s, "prod/api/operation.json")["status"],
        "inProgress"
    );
    assert!(exists(&s, "prod/api/request.csr"));
    assert!(!exists(&s, "prod/api/cert.pem"));
    // The right certificate still merges (DER this time).
    let leaf = ca.sign(&read(&s, "prod/api/request.csr"));
    write(&s, "prod/api/merge/signed.cer", &leaf).unwrap();
    assert_eq!(assert_served_pair(&s, "prod/api"), leaf);
}

#[test]
fn a_renewal_by_hand_keeps_serving_the_current_version_until_the_merge() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "api");
    let served = read(&s, "prod/api/fullchain.pem");
    let first = current_version(&s, "prod/api");
    write(&s, "prod/api/policy.json", &ec_policy("api", "Unknown")).unwrap();
    assert_eq!(current_version(&s, "prod/api"), first);
    assert_eq!(read(&s, "prod/api/fullchain.pem"), served);
    assert_eq!(versions(&s, "prod/api").len(), 1);
    // While it is pending, another policy or an import is in the way.
    let busy = write(&s, "prod/api/policy.json", &ec_policy("api", "Self")).unwrap_err();
    assert!(matches!(busy, VaultError::Conflict(_)), "{busy}");
    assert_eq!(report(&s, "prod/api/policy.json").0, "Conflict");

    let ca = Ca::new();
    let leaf = ca.sign(&read(&s, "prod/api/request.csr"));
    write(&s, "prod/api/merge/signed.pem", &pem_of(&[&leaf, &ca.der])).unwrap();
    assert_ne!(current_version(&s, "prod/api"), first);
    assert_eq!(versions(&s, "prod/api").len(), 2);
    assert_eq!(assert_served_pair(&s, "prod/api"), leaf);
}

#[test]
fn removing_operation_json_drops_the_pending_version() {
    let (_dir, db) = temp_store();
    let s = pending(&db);
    unlink(&s, "prod/api/operation.json").unwrap();
    assert!(!exists(&s, "prod/api/operation.json"));
    assert!(!exists(&s, "prod/api/request.csr"));
    // A new policy may start again at once.
    write(&s, "prod/api/policy.json", &ec_policy("api", "Self")).unwrap();
    assert_eq!(versions(&s, "prod/api").len(), 1);
    assert_served_pair(&s, "prod/api");
}
