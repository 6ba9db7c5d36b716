//! The CA contract's `StandIn` for ACME: a real pebble (tests/common/pebble.rs), with external account binding required, and the provider answering http-01 from its built-in listener on pebble's http port.
//!
//! Pebble is a real ACME server, not a scripted stand-in, so the contract
//! cases it cannot be told to play are arranged the way they happen at a
//! real ACME CA:
//!
//! - **refuse**: the name resolves (in pebble's DNS) to 127.0.0.2, where
//!   nothing answers, so the http-01 validation fails and pebble marks the
//!   order invalid; the refusal is pebble's own problem detail
//!   ("… connect: connection refused").
//! - **hold**: nothing to arrange. An ACME order stays pending until the
//!   client answers its challenges, and the provider answers them only when
//!   it polls; the contract cancels before it polls.
//! - **down / up**: pebble is killed and started again on the same ports.
//!   It comes back with no accounts and no orders, so the provider's first
//!   call after it finds its account unknown and registers a new one.
//! - **wrong credentials**: the EAB HMAC key is wrong; pebble refuses the
//!   new account with its own words.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use certfs::as_user::Identity;
use certfs::issuers::acme::{Acme, AcmeSettings, ChallengeMethod, ExternalAccount};
use certfs::issuers::{CertificateAuthority, IssuerMemory};

use crate::ca::StandIn;
use crate::pebble::{EAB_HMAC, EAB_KID, Pebble};

/// An issuer memory in the test's hands (the vault keeps it in its store).
#[derive(Clone, Default)]
pub struct Memory(pub Arc<Mutex<Option<String>>>);

impl IssuerMemory for Memory {
    fn load(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
    fn save(&self, value: &str) {
        *self.0.lock().unwrap() = Some(value.to_owned());
    }
}

/// The ACME provider's settings for `pebble`, answering by `challenge`.
pub fn settings(pebble: &Pebble, challenge: ChallengeMethod, hmac_key: &str) -> AcmeSettings {
    AcmeSettings {
        directory_url: pebble.directory_url(),
        contact: Some("ops@certfs.test".into()),
        eab: Some(ExternalAccount {
            kid: EAB_KID.into(),
            hmac_key: hmac_key.to_owned().into(),
        }),
        challenge,
        ca_file: Some(pebble.tls_ca()),
        writer: Identity::daemon(),
    }
}

/// The built-in listener where pebble looks for http-01 answers.
pub fn listener(pebble: &Pebble) -> ChallengeMethod {
    ChallengeMethod::Listen(SocketAddr::from(([127, 0, 0, 1], pebble.http_port)))
}

/// Pebble behind the CA contract.
pub struct PebbleStandIn {
    pebble: Pebble,
}

impl StandIn for PebbleStandIn {
    fn start() -> Self {
        PebbleStandIn {
            pebble: Pebble::start(true),
        }
    }

    fn authority(&self) -> Box<dyn CertificateAuthority> {
        let settings = settings(&self.pebble, listener(&self.pebble), EAB_HMAC);
        Box::new(Acme::new(settings, Box::new(Memory::default())).expect("provider"))
    }

    fn authority_with_wrong_credentials(&self) -> Box<dyn CertificateAuthority> {
        // A valid base64url key, but not the one pebble knows for kid-1.
        let wrong = "bm90LXRoZS1rZXktcGViYmxlLWtub3dzLWZvci10aGlzLWtpZC0xMjM0NTY";
        let settings = settings(&self.pebble, listener(&self.pebble), wrong);
        Box::new(Acme::new(settings, Box::new(Memory::default())).expect("provider"))
    }

    fn host_name(&self, tag: &str) -> String {
        format!("{tag}.certfs.test")
    }

    fn root_pem(&self) -> PathBuf {
        self.pebble.root_pem()
    }

    fn refuse_orders(&self, host: &str) -> String {
        self.pebble.resolve(host, "127.0.0.2");
        "connection refused".into()
    }

    fn hold_orders(&self, _host: &str) {}

    fn go_down(&mut self) {
        self.pebble.down();
    }

    fn come_up(&mut self) {
        self.pebble.up();
    }
}
