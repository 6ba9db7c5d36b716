//! From an issuer file to a working issuer: one `match` on the provider, mapping Key Vault's IssuerBundle onto each provider's settings.
//!
//! The paths an ACME issuer names are opened as the user who wrote the
//! file ([`IssuerBundle::writer`]); a file stored before certfs kept its
//! writer is used as the mount's owner (the daemon's own user), as it was.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::VaultError;
use super::issuer_file::{Challenge, IssuerBundle, tsig_key};
use super::policy::Policy;
use crate::as_user::Identity;
use crate::issuers::acme::rfc2136::{Rfc2136, TsigKeyAlgorithm};
use crate::issuers::acme::{
    Acme, AcmeSettings, ChallengeMethod, ExternalAccount, check_ca_file, check_webroot,
};
use crate::issuers::digicert::DigiCert;
use crate::issuers::globalsign::{self, GlobalSign};
use crate::issuers::internal::{InternalCa, IssuingRules};
use crate::issuers::{CertificateAuthority, Issuer, IssuerMemory};

/// How a configured issuer issues.
pub(super) enum Authority {
    /// At once, before `close` returns (Internal).
    Now(Box<dyn Issuer>),
    /// Through an order the background worker follows (DigiCert, GlobalSign, ACME).
    Later(Box<dyn CertificateAuthority>),
}

/// The issuer that `bundle` (the file `issuers/<name>.json`) configures.
/// `memory` keeps the provider's private state (an ACME account, the
/// Internal CA's key) in the store.
pub(super) fn connect(
    name: &str,
    bundle: &IssuerBundle,
    memory: Box<dyn IssuerMemory>,
) -> Result<Authority, VaultError> {
    match bundle.provider.as_str() {
        "ACME" => {
            let ca = Acme::new(acme_settings(bundle)?, memory)
                .map_err(|e| VaultError::BadParameter(format!("Issuer {name}: {e}")))?;
            Ok(Authority::Later(Box::new(ca)))
        }
        "DigiCert" => {
            // Validated when the file was written; checked again for a stored one.
            let api_key = bundle
                .credentials
                .as_ref()
                .and_then(|c| c.pwd.as_deref())
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    VaultError::BadParameter(format!(
                        "Issuer {name} (DigiCert) has no API key in credentials.pwd"
                    ))
                })?;
            let organization_id = bundle
                .org_details
                .as_ref()
                .and_then(|o| o.id.as_deref())
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    VaultError::BadParameter(format!(
                        "Issuer {name} (DigiCert) has no org_details.id"
                    ))
                })?;
            Ok(Authority::Later(Box::new(DigiCert::new(
                bundle.endpoint.as_deref(),
                api_key,
                organization_id,
            ))))
        }
        "GlobalSign" => Ok(Authority::Later(Box::new(GlobalSign::new(
            globalsign_settings(bundle),
        )))),
        "Internal" => {
            let text = memory.load().ok_or_else(|| {
                VaultError::Internal(format!("the private CA of issuer {name} is missing"))
            })?;
            let ca = InternalCa::from_memory(name, &text)
                .map_err(|e| VaultError::Internal(e.to_string()))?
                .with_rules(internal_rules(bundle));
            Ok(Authority::Now(Box::new(ca)))
        }
        other => Err(VaultError::Internal(format!(
            "issuer {name} has an unknown provider {other}"
        ))),
    }
}

/// What an Internal issuer's file says every certificate it issues is held to.
pub(super) fn internal_rules(bundle: &IssuerBundle) -> IssuingRules {
    let constraints = bundle.internal_constraints();
    IssuingRules {
        distribution_point: bundle.crl_distribution_point().map(str::to_owned),
        permitted_dns_domains: constraints.permitted_dns_domains,
        max_validity_days: constraints.max_validity_days,
    }
}

/// Refuses a policy naming a wildcard (`*.example.test`, as a SAN or the
/// subject's CN) for an ACME issuer that answers http-01: RFC 8555 §7.1.3
/// lets a CA validate a wildcard only by dns-01. Other providers decide on
/// wildcards themselves.
pub(super) fn check_wildcards(
    issuer: &str,
    bundle: &IssuerBundle,
    policy: &Policy,
) -> Result<(), VaultError> {
    let dns01 = bundle
        .challenge
        .as_ref()
        .is_some_and(|c| c.kind == "dns-01");
    if bundle.provider != "ACME" || dns01 {
        return Ok(());
    }
    let cn = policy
        .subject
        .as_ref()
        .and_then(|s| s.name.common_name().map(str::to_owned));
    let wildcard = policy
        .sans
        .dns_names
        .iter()
        .cloned()
        .chain(cn)
        .find(|n| n.trim().starts_with("*."));
    match wildcard {
        None => Ok(()),
        Some(name) => Err(VaultError::BadParameter(format!(
            "Issuer {issuer} answers http-01 challenges, and an ACME CA validates a wildcard name ('{name}') only by dns-01: set challenge.type dns-01 in issuers/{issuer}.json, or leave the wildcard out of the policy."
        ))),
    }
}

/// Checks, as `writer`, the paths an issuer file names: `ca_file` is a
/// regular file `writer` may read with at least one certificate, and
/// `challenge.webroot` a directory where `writer` may create
/// `.well-known/acme-challenge` (nothing is created). Refused with the
/// reason as `BadParameter`.
pub(super) fn check_paths(bundle: &IssuerBundle, writer: &Identity) -> Result<(), VaultError> {
    if bundle.provider != "ACME" {
        return Ok(());
    }
    if let Some(ca_file) = &bundle.ca_file {
        check_ca_file(Path::new(ca_file), writer)
            .map_err(|e| VaultError::BadParameter(e.to_string()))?;
    }
    if let Some(webroot) = bundle.challenge.as_ref().and_then(|c| c.webroot.as_ref()) {
        check_webroot(Path::new(webroot), writer)
            .map_err(|e| VaultError::BadParameter(format!("challenge.webroot: {e}")))?;
    }
    Ok(())
}

/// An ACME issuer file as the provider's settings: `endpoint` is the
/// directory, `credentials.account_id` the contact, `challenge.webroot`
/// or `challenge.listen` (default `0.0.0.0:80`) how http-01 is answered,
/// `challenge.rfc2136` where dns-01 records are written.
fn acme_settings(bundle: &IssuerBundle) -> Result<AcmeSettings, VaultError> {
    let directory_url = bundle.endpoint.clone().ok_or_else(|| {
        VaultError::BadParameter("An ACME issuer needs endpoint: the ACME directory URL".into())
    })?;
    let challenge = match &bundle.challenge {
        Some(c) if c.kind == "dns-01" => ChallengeMethod::Dns01(rfc2136_settings(c)?),
        Some(c) => match (&c.webroot, &c.listen) {
            (Some(webroot), _) => ChallengeMethod::Webroot(PathBuf::from(webroot)),
            (None, Some(listen)) => ChallengeMethod::Listen(listen.parse().map_err(|_| {
                VaultError::BadParameter(format!(
                    "challenge.listen must be an address and port such as 0.0.0.0:80; got '{listen}'"
                ))
            })?),
            (None, None) => ChallengeMethod::default(),
        },
        None => ChallengeMethod::default(),
    };
    let eab = bundle
        .eab
        .as_ref()
        .and_then(|e| match (&e.kid, &e.hmac_key) {
            (Some(kid), Some(hmac_key)) => Some(ExternalAccount {
                kid: kid.clone(),
                hmac_key: hmac_key.clone().into(),
            }),
            _ => None,
        });
    Ok(AcmeSettings {
        directory_url,
        contact: bundle
            .credentials
            .as_ref()
            .and_then(|c| c.account_id.clone()),
        eab,
        challenge,
        ca_file: bundle.ca_file.as_ref().map(PathBuf::from),
        writer: bundle.writer.clone().unwrap_or_else(Identity::daemon),
    })
}

/// A dns-01 challenge's settings (the bundle was validated to have them).
fn rfc2136_settings(challenge: &Challenge) -> Result<Rfc2136, VaultError> {
    let bad = |what: &str| VaultError::BadParameter(format!("An ACME issuer needs {what}"));
    let dns = challenge
        .rfc2136
        .as_ref()
        .ok_or_else(|| bad("challenge.rfc2136 for dns-01"))?;
    Ok(Rfc2136 {
        server: dns
            .server
            .as_deref()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| bad("challenge.rfc2136.server as an address and port"))?,
        key_name: dns
            .tsig_key_name
            .clone()
            .ok_or_else(|| bad("challenge.rfc2136.tsig_key_name"))?,
        algorithm: dns
            .tsig_algorithm
            .as_deref()
            .and_then(TsigKeyAlgorithm::parse)
            .ok_or_else(|| bad("challenge.rfc2136.tsig_algorithm hmac-sha256 or hmac-sha512"))?,
        secret: tsig_key(dns).ok_or_else(|| bad("challenge.rfc2136.tsig_secret in base64"))?,
        propagation_timeout: Duration::from_secs(
            challenge
                .propagation_timeout_s
                .unwrap_or(DEFAULT_PROPAGATION_TIMEOUT_S),
        ),
    })
}

/// How long certfs waits for the DNS server to answer a record when the
/// issuer file does not say.
const DEFAULT_PROPAGATION_TIMEOUT_S: u64 = 120;

/// A GlobalSign issuer's settings: `credentials` are the GCC API user and
/// password, `org_details.admin_details[0]` the order contact (the bundle
/// was validated to have them), `endpoint` the GCC host.
fn globalsign_settings(bundle: &IssuerBundle) -> globalsign::Settings {
    let credentials = bundle.credentials.clone().unwrap_or_default();
    let admin = bundle
        .org_details
        .as_ref()
        .and_then(|o| o.admin_details.first())
        .cloned()
        .unwrap_or_default();
    globalsign::Settings {
        endpoint: bundle.endpoint.clone(),
        account_id: credentials.account_id.unwrap_or_default(),
        password: zeroize::Zeroizing::new(credentials.pwd.unwrap_or_default()),
        contact: globalsign::Contact {
            first_name: admin.first_name.unwrap_or_default(),
            last_name: admin.last_name.unwrap_or_default(),
            email: admin.email.unwrap_or_default(),
            phone: admin.phone.unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acme_file_maps_onto_the_providers_settings() {
        let bundle = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://acme.test/dir","credentials":{"account_id":"ops@contoso.com"},
                 "eab":{"kid":"k1","hmac_key":"c2VjcmV0"},"challenge":{"type":"http-01","webroot":"/var/www/html"},
                 "ca_file":"/etc/ssl/acme-ca.pem"}"#,
            None,
        )
        .unwrap();
        let s = acme_settings(&bundle).unwrap();
        assert_eq!(s.directory_url, "https://acme.test/dir");
        assert_eq!(s.contact.as_deref(), Some("ops@contoso.com"));
        assert_eq!(s.eab.as_ref().unwrap().kid, "k1");
        assert_eq!(s.eab.as_ref().unwrap().hmac_key.as_str(), "c2VjcmV0");
        assert!(
            !format!("{s:?}").contains("c2VjcmV0"),
            "the HMAC key stays out of Debug"
        );
        assert_eq!(
            s.challenge,
            ChallengeMethod::Webroot("/var/www/html".into())
        );
        assert_eq!(s.ca_file, Some(PathBuf::from("/etc/ssl/acme-ca.pem")));

        let listen = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://acme.test/dir","challenge":{"type":"http-01","listen":"127.0.0.1:8080"}}"#,
            None,
        )
        .unwrap();
        let s = acme_settings(&listen).unwrap();
        assert_eq!(
            s.challenge,
            ChallengeMethod::Listen("127.0.0.1:8080".parse().unwrap())
        );
        assert!(s.eab.is_none() && s.contact.is_none() && s.ca_file.is_none());
        // Stored before writers were kept: the mount owner's (the daemon's) identity.
        assert_eq!(s.writer, Identity::daemon());
        let mut written = listen.clone();
        written.writer = Some(Identity {
            uid: 1004,
            gid: 1004,
            groups: vec![],
        });
        assert_eq!(acme_settings(&written).unwrap().writer.uid, 1004);

        let bare = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://acme.test/dir"}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            acme_settings(&bare).unwrap().challenge,
            ChallengeMethod::Listen("0.0.0.0:80".parse().unwrap())
        );
    }

    struct NoMemory;
    impl IssuerMemory for NoMemory {
        fn load(&self) -> Option<String> {
            None
        }
        fn save(&self, _: &str) {}
    }

    #[test]
    fn a_globalsign_bundle_connects_to_an_order_taking_authority() {
        let bundle = IssuerBundle::parse_update(
            br#"{"provider":"GlobalSign","credentials":{"account_id":"PAR1","pwd":"p<&"},
                 "org_details":{"admin_details":[{"first_name":"A","last_name":"B",
                 "email":"a@b.example","phone":"1"}]},"endpoint":"http://127.0.0.1:9"}"#,
            None,
        )
        .unwrap();
        let settings = globalsign_settings(&bundle);
        assert_eq!(settings.account_id, "PAR1");
        assert_eq!(settings.password.as_str(), "p<&");
        assert_eq!(settings.contact.email, "a@b.example");
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        match connect("gs", &bundle, Box::new(NoMemory)) {
            Ok(Authority::Later(ca)) => assert_eq!(ca.provider(), "GlobalSign"),
            _ => panic!("GlobalSign takes orders"),
        }
    }

    #[test]
    fn a_dns01_file_maps_onto_rfc2136_settings() {
        let bundle = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://acme.test/dir","challenge":{"type":"dns-01","rfc2136":{"server":"192.0.2.53:5353","tsig_key_name":"certfs.","tsig_algorithm":"hmac-sha512","tsig_secret":"dHNpZy1zZWNyZXQtYnl0ZXM="}}}"#,
            None,
        )
        .unwrap();
        let ChallengeMethod::Dns01(dns) = acme_settings(&bundle).unwrap().challenge else {
            panic!("dns-01 expected");
        };
        assert_eq!(dns.server, "192.0.2.53:5353".parse().unwrap());
        assert_eq!(dns.key_name, "certfs.");
        assert_eq!(dns.algorithm, TsigKeyAlgorithm::HmacSha512);
        assert_eq!(&dns.secret[..], b"tsig-secret-bytes");
        assert_eq!(
            dns.propagation_timeout,
            Duration::from_secs(DEFAULT_PROPAGATION_TIMEOUT_S)
        );
    }

    #[test]
    fn wildcards_are_refused_for_http01_only() {
        let policy = |sans: &str| {
            Policy::parse(
                format!(
                    r#"{{"x509_props":{{"subject":"CN=example.test","sans":{{"dns_names":[{sans}]}}}},"issuer":{{"name":"le"}}}}"#
                )
                .as_bytes(),
            )
            .unwrap()
        };
        let http = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"http-01","listen":"127.0.0.1:80"}}"#,
            None,
        )
        .unwrap();
        let default =
            IssuerBundle::parse_update(br#"{"provider":"ACME","endpoint":"https://a/d"}"#, None)
                .unwrap();
        let dns = IssuerBundle::parse_update(
            br#"{"provider":"ACME","endpoint":"https://a/d","challenge":{"type":"dns-01","rfc2136":{"server":"127.0.0.1:53","tsig_key_name":"k.","tsig_algorithm":"hmac-sha256","tsig_secret":"c2VjcmV0"}}}"#,
            None,
        )
        .unwrap();
        let wild = policy(r#""*.example.test","example.test""#);
        for bundle in [&http, &default] {
            let err = check_wildcards("le", bundle, &wild).unwrap_err();
            assert!(err.message().contains("'*.example.test'"), "{err:?}");
            assert!(err.message().contains("issuers/le.json"), "{err:?}");
        }
        check_wildcards("le", &dns, &wild).unwrap();
        check_wildcards("le", &http, &policy(r#""www.example.test""#)).unwrap();
    }
}
