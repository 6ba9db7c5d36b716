//! Tests of revocation per provider: a provider whose API certfs cannot revoke through refuses, naming itself, and asks nothing of the network.

use zeroize::Zeroizing;

use super::globalsign::{Contact, GlobalSign, Settings};
use super::{CaError, CertificateAuthority};

#[test]
fn globalsign_refuses_to_revoke_and_says_why() {
    let ca = GlobalSign::new(Settings {
        // Nothing listens on the discard port: a call would be Unavailable.
        endpoint: Some("http://127.0.0.1:9".into()),
        account_id: "PAR1234_api".into(),
        password: Zeroizing::new("secret".into()),
        contact: Contact {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@contoso.com".into(),
            phone: "+1 555 0100".into(),
        },
    });
    match ca.revoke(b"not even a certificate", 1) {
        Err(CaError::Rejected { code, message }) => {
            assert_eq!(code, "NotSupported");
            assert!(message.contains("GlobalSign"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
