//! Property tests: every parser of user input (policy, DN, PEM, PKCS#12, PKCS#7, merge sniffer, DER certificates, CSRs and keys, revocation reasons, the vault's JSON documents, backup blobs) takes arbitrary bytes and mutations of valid files without a panic, and what it accepts holds up.
//!
//! Cases per property: `PROPTEST_CASES` (proptest's default, 256). Mutations
//! are truncation, bit flips, byte overwrites, insertions (random bytes,
//! DER-ish headers, long lengths), deletions and duplicated slices, applied
//! one to six at a time to a valid sample made by openssl. JSON documents
//! are also mutated structurally: a random node of a valid document is
//! replaced by a random JSON value, or a member is added to a random object.

#[path = "common/samples.rs"]
mod samples;

use std::sync::OnceLock;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use certfs::pki::{
    bundle, dn::DistinguishedName, import_formats, key::PrivateKey, pkcs7, pkcs12, x509,
};
use certfs::vault::contacts::Contacts;
use certfs::vault::issuer_file::{self, IssuerBundle};
use certfs::vault::name::{CertificateName, VaultName, VersionId};
use certfs::vault::operation::{self, Operation};
use certfs::vault::policy::Policy;
use certfs::vault::settings::VaultSettings;
use certfs::vault::{backup, tags};
use samples::{PFX_PASSWORD, Sample, Samples, der, pbkdf2, pem_with_encrypted_key, scrypt};

fn samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(Samples::make)
}

/// One change to a byte string; positions are proportions of its length.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
}

/// Bytes that make parsers take unusual paths: DER long lengths,
/// indefinite lengths, end-of-contents, PEM armour, JSON punctuation.
fn nasty_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 1..16),
        Just(vec![0x84, 0xff, 0xff, 0xff, 0xff]),
        Just(vec![0x80]),
        Just(vec![0x00, 0x00]),
        Just(vec![0x30, 0x80]),
        Just(vec![0x02, 0x04, 0x7f, 0xff, 0xff, 0xff]),
        Just(vec![
            0x06, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
        ]),
        Just(b"-----BEGIN CERTIFICATE-----\n".to_vec()),
        Just(b"-----END PRIVATE KEY-----\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\"\\u0000\"".to_vec()),
        Just(b"[[[[[[[[[[[[[[[[".to_vec()),
        Just(b"1e999999".to_vec()),
        Just(b"-18446744073709551616".to_vec()),
        Just(vec![0xef, 0xbb, 0xbf]),
        Just(vec![0xc3]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        (any::<Index>(), nasty_bytes()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(), 1..7)
}

fn apply(base: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = base.to_vec();
    for m in mutations {
        // A position anywhere in the data, or just past its end.
        let at = |i: &Index, len: usize| i.index(len + 1);
        match m {
            Mutation::Truncate(i) => {
                let n = at(i, out.len());
                out.truncate(n);
            }
            Mutation::FlipBit(i, bit) if !out.is_empty() => {
                let n = i.index(out.len());
                out[n] ^= 1 << bit;
            }
            Mutation::Overwrite(i, byte) if !out.is_empty() => {
                let n = i.index(out.len());
                out[n] = *byte;
            }
            Mutation::Insert(i, bytes) => {
                let n = at(i, out.len());
                out.splice(n..n, bytes.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let n = at(i, out.len());
                let end = (n + len).min(out.len());
                out.drain(n..end);
            }
            Mutation::Duplicate(i, len) => {
                let n = at(i, out.len());
                let end = (n + len).min(out.len());
                let slice = out[n..end].to_vec();
                out.splice(end..end, slice);
            }
            _ => {}
        }
    }
    out
}

/// A valid sample of `kind` picked by `pick`, with `muts` applied.
fn mutated(kind: &[Sample], pick: &Index, muts: &[Mutation]) -> Vec<u8> {
    apply(&pick.get(kind).1, muts)
}

/// Any JSON value, nested a few levels, with the numbers and strings that
/// break naive code (huge, negative, fractional, empty, control characters).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(99),
            Just(100),
            Just(4096),
            Just(u64::from(u32::MAX) + 1)
        ]
        .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("CN=x"),
            Just("RSA"),
            Just("EC"),
            Just("P-521"),
            Just("Self"),
            Just("Unknown"),
            Just("AutoRenew"),
            Just("HUP"),
            Just(""),
            Just("CN=\"unterminated"),
            Just("a@b"),
            Just("::1"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(("[a-z_A-Z]{0,12}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// The paths (array indices and object keys) of every node of `v`, depth first.
fn node_paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = here.clone();
                p.push(i.to_string());
                node_paths(item, p, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let mut p = here.clone();
                p.push(k.clone());
                node_paths(item, p, out);
            }
        }
        _ => {}
    }
}

fn node_at<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |node, step| match node {
        Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        Value::Object(map) => map.get_mut(step).unwrap(),
        _ => unreachable!("paths lead through containers"),
    })
}

/// `doc` with one node (chosen by `at`) replaced by `with`, or, when `add`
/// is given and the node is an object, with the member `add: with` added
/// (unknown keys, the other dialect's keys).
fn edit_json(doc: &[u8], at: &Index, add: Option<&str>, with: Value) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(doc).expect("sample is JSON");
    let mut paths = Vec::new();
    node_paths(&value, Vec::new(), &mut paths);
    let path: &Vec<String> = at.get(&paths);
    let node = node_at(&mut value, path);
    match (add, node.as_object_mut()) {
        (Some(key), Some(map)) => {
            map.insert(key.to_string(), with);
        }
        _ => *node = with,
    }
    serde_json::to_vec(&value).unwrap()
}

/// Keys of both policy dialects and of the documents, to add where they do not belong.
const KEYS: &[&str] = &[
    "key_props",
    "keyProperties",
    "kty",
    "keyType",
    "key_size",
    "crv",
    "curve",
    "x509_props",
    "x509CertificateProperties",
    "subject",
    "sans",
    "subjectAlternativeNames",
    "dns_names",
    "validity_months",
    "validityInMonths",
    "lifetime_actions",
    "lifetimeActions",
    "trigger",
    "lifetime_percentage",
    "daysBeforeExpiry",
    "days_before_expiry",
    "issuer",
    "issuerParameters",
    "secret_props",
    "contentType",
    "ekus",
    "key_usage",
    "keyUsage",
    "contacts",
    "email",
    "provider",
    "credentials",
    "pwd",
    "command",
    "signal",
    "pidfile",
    "timeout_seconds",
    "soft_delete_retention_days",
    "purge_protection",
    "cancellation_requested",
    "",
];

/// A policy that parsed must print back to text that parses to the same policy.
fn check_policy(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(policy) = Policy::parse(bytes) {
        let text = policy.to_json();
        let again = Policy::parse(text.as_bytes());
        prop_assert_eq!(again.as_ref().ok(), Some(&policy), "reprinted: {}", text);
        let _ = policy.certificate_spec();
    }
    Ok(())
}

/// A name that parsed prints back to text that parses to the same name,
/// and encodes to DER that reads back.
fn check_dn_text(text: &str) -> Result<(), TestCaseError> {
    if let Ok(dn) = DistinguishedName::parse(text) {
        let printed = dn.to_string();
        let again = DistinguishedName::parse(&printed);
        prop_assert_eq!(
            again.as_ref().ok(),
            Some(&dn),
            "{:?} printed as {:?}",
            text,
            printed
        );
        if let Ok(der) = dn.to_der() {
            prop_assert!(DistinguishedName::from_der(&der).is_ok(), "{:?}", text);
        }
        let _ = dn.to_rcgen();
        let _ = dn.common_name();
    }
    Ok(())
}

fn check_dn_der(der: &[u8]) {
    if let Ok(dn) = DistinguishedName::from_der(der) {
        let _ = dn.to_string();
        let _ = dn.to_der();
        let _ = dn.to_rcgen();
    }
}

/// Certificates a parser returned are well-formed: `inspect` reads each.
fn check_certs(certs: &[Vec<u8>]) -> Result<(), TestCaseError> {
    prop_assert!(!certs.is_empty(), "an accepted file has a certificate");
    for cert in certs {
        prop_assert!(x509::inspect(cert).is_ok());
    }
    Ok(())
}

fn check_merge(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(certs) = bundle::certificates_from_any(bytes) {
        check_certs(&certs)?;
    }
    Ok(())
}

fn check_pkcs7(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(certs) = pkcs7::certificates(bytes) {
        check_certs(&certs)?;
    }
    Ok(())
}

/// An import that succeeded has its certificates; a PKCS#12 one has the
/// key and its certificate first.
fn check_imported(
    result: Result<import_formats::Imported, certfs::pki::PkiError>,
    pfx: bool,
) -> Result<(), TestCaseError> {
    if let Ok(imported) = result {
        check_certs(&imported.certificates)?;
        match &imported.key {
            Some(key) => {
                let found = x509::leaf_and_chain(&key.public_key_der(), &imported.certificates);
                if pfx {
                    let (leaf, _) = found.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(&leaf, &imported.certificates[0]);
                }
            }
            None => prop_assert!(!pfx, "a PKCS#12 import always has a key"),
        }
    }
    Ok(())
}

fn check_import(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = import_formats::sniff(bytes);
    check_imported(import_formats::pkcs12(bytes, Some(PFX_PASSWORD)), true)?;
    check_imported(import_formats::pkcs12(bytes, None), true)?;
    check_imported(import_formats::pem(bytes, Some(PFX_PASSWORD)), false)?;
    check_imported(import_formats::pem(bytes, None), false)?;
    if let Ok((key, certs)) = pkcs12::import(bytes, "") {
        check_certs(&certs)?;
        let _ = key.to_pkcs8_pem();
    }
    Ok(())
}

fn check_der(bytes: &[u8]) {
    let _ = x509::inspect(bytes);
    let _ = x509::is_ca(bytes);
    // Other people's CSRs (sign/) and revocation reasons (revoked/<SERIAL>.reason).
    if let Ok(request) = certfs::pki::csr::SigningRequest::parse(bytes) {
        let _ = request.names();
    }
    let _ = certfs::pki::crl::Reason::parse(bytes);
    let _ = x509::certificate_spec(bytes);
    let _ = x509::order_chain(bytes, &[bytes.to_vec()]);
    if let Ok(key) = PrivateKey::from_pkcs8_der(bytes) {
        let _ = key.signing_key_pair();
    }
}

/// Every parser of the vault's own JSON documents, and the policy's.
fn check_documents(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(t) = tags::parse(bytes) {
        let again = tags::parse(tags::to_json(&t).as_bytes());
        prop_assert_eq!(again.ok(), Some(t));
    }
    if let Ok(c) = Contacts::parse(bytes) {
        prop_assert!(Contacts::parse(c.to_json().as_bytes()).is_ok());
    }
    if let Ok(bundle) = IssuerBundle::parse_update(bytes, None) {
        let stored = bundle.to_stored();
        prop_assert!(IssuerBundle::from_stored(&stored).is_ok(), "{}", stored);
        let _ = IssuerBundle::parse_update(bytes, Some(&bundle));
        let _ = bundle.to_json();
        let _ = bundle.internal_ca_settings("fuzz");
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = IssuerBundle::from_stored(text);
        let _ = Operation::from_json(text);
        let _ = VaultSettings::from_stored(text);
        let _ = issuer_file::parse_name(text);
        let _ = VaultName::parse(text);
        let _ = CertificateName::parse(text);
        let _ = VersionId::parse(text);
    }
    if let Ok(s) = VaultSettings::parse_update(bytes, &VaultSettings::default()) {
        let again = VaultSettings::from_stored(&s.to_json());
        prop_assert_eq!(again.ok(), Some(s));
    }
    let _ = operation::parse_update(bytes);
    check_policy(bytes)
}

/// A sealed backup blob of a certificate with one version (no key).
fn backup_blob() -> (&'static backup::BackupKey, &'static [u8]) {
    static BLOB: OnceLock<(backup::BackupKey, Vec<u8>)> = OnceLock::new();
    let (key, blob) = BLOB.get_or_init(|| {
        let key = backup::BackupKey::from_bytes([7; 32]);
        let cert = certfs::store::CertificateRecord {
            vault: "prod".into(),
            name: "web".into(),
            policy: Policy::parse(&samples().policies[1].1).unwrap().to_json(),
            tags: "{}".into(),
            created: 1,
            updated: 2,
            operation: None,
            deleted: None,
            purge_at: None,
        };
        let version = certfs::store::VersionRecord {
            vault: "prod".into(),
            certificate: "web".into(),
            id: "0123456789abcdef0123456789abcdef".into(),
            created: 1,
            updated: 2,
            enabled: true,
            exportable: true,
            certificate_der: Some(samples().merge[0].1.clone()),
            chain_der: vec![],
            key: None,
        };
        let blob = backup::seal(&key, &cert, &[version]).unwrap();
        (key, blob)
    });
    (key, blob)
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Text made of PEM blocks with the labels certfs reads (and others),
/// bodies of base64, noise or text, optional headers, some left unclosed.
fn pem_text() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        Just("CERTIFICATE"),
        Just("PKCS7"),
        Just("PRIVATE KEY"),
        Just("ENCRYPTED PRIVATE KEY"),
        Just("RSA PRIVATE KEY"),
        Just("EC PRIVATE KEY"),
        Just("EC PARAMETERS"),
        Just("CMS"),
        Just("X509 CERTIFICATE"),
        Just(""),
        Just("WHATEVER"),
    ];
    let body = prop_oneof![
        "[A-Za-z0-9+/=\r\n ]{0,300}",
        vec(any::<u8>(), 0..200).prop_map(|b| base64_of(&b)),
        ".{0,80}",
    ];
    let headers = prop_oneof![
        Just(""),
        Just("Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"),
        Just("Key: value\n\n"),
    ];
    vec((label, body, headers, any::<bool>()), 0..5).prop_map(|blocks| {
        let mut text = String::new();
        for (label, body, headers, closed) in blocks {
            text.push_str(&format!("-----BEGIN {label}-----\n{headers}{body}\n"));
            if closed {
                text.push_str(&format!("-----END {label}-----\n"));
            }
        }
        text
    })
}

/// Subjects: any text, text of the characters that matter to the syntax,
/// and sequences of attribute=value with separators.
fn subject_text() -> impl Strategy<Value = String> {
    let attribute = prop_oneof![
        Just("CN"),
        Just("O"),
        Just("OU"),
        Just("E"),
        Just("DC"),
        Just("OID.2.5.4.3"),
        Just("2.5.4.10"),
        Just("1.2.840.113549.1.9.1"),
        Just("SERIALNUMBER"),
        Just("c"),
        Just("1.2.99999999999999999999"),
        Just("0.40"),
    ];
    let separator = prop_oneof![Just(", "), Just(";"), Just("+"), Just(","), Just(" ; ")];
    prop_oneof![
        ".{0,120}",
        "[A-Za-z0-9=,;+\"\\\\ .#<>]{0,80}",
        vec(
            (attribute, "[A-Za-z0-9 ,;+\"\\\\#=]{0,24}", separator),
            1..6
        )
        .prop_map(|parts| parts
            .into_iter()
            .map(|(t, v, s)| format!("{t}={v}{s}"))
            .collect::<String>()),
    ]
}

proptest! {
    // ---- arbitrary input into every parser ----

    #[test]
    fn any_bytes_into_the_pki_parsers(bytes in vec(any::<u8>(), 0..4096)) {
        check_merge(&bytes)?;
        check_pkcs7(&bytes)?;
        check_import(&bytes)?;
        check_der(&bytes);
        check_dn_der(&bytes);
    }

    #[test]
    fn any_bytes_behind_a_der_header(
        tag in prop_oneof![Just(0x30u8), Just(0xa0), Just(0x31), Just(0x06), Just(0x04)],
        definite in any::<bool>(),
        body in vec(any::<u8>(), 0..2048),
    ) {
        // A constructed header with a matching length (or an indefinite one),
        // so parsers get past the first bytes and into the structure.
        let mut bytes = vec![tag];
        if definite {
            bytes.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
        } else {
            bytes.push(0x80);
        }
        bytes.extend(&body);
        if !definite {
            bytes.extend([0, 0]);
        }
        check_merge(&bytes)?;
        check_pkcs7(&bytes)?;
        check_import(&bytes)?;
        check_der(&bytes);
        check_dn_der(&bytes);
    }

    #[test]
    fn any_pem_text(text in pem_text()) {
        check_merge(text.as_bytes())?;
        check_import(text.as_bytes())?;
    }

    #[test]
    fn any_bytes_into_the_json_documents(bytes in vec(any::<u8>(), 0..2048)) {
        check_documents(&bytes)?;
    }

    #[test]
    fn any_json_into_the_json_documents(value in json_value()) {
        check_documents(&serde_json::to_vec(&value).unwrap())?;
    }

    #[test]
    fn any_text_as_a_subject(text in subject_text()) {
        check_dn_text(&text)?;
    }

    #[test]
    fn any_bytes_after_a_backup_header(body in vec(any::<u8>(), 0..512), keep in any::<Index>()) {
        let (key, blob) = backup_blob();
        let mut bytes = blob[..keep.index(blob.len().min(64))].to_vec();
        bytes.extend(body);
        prop_assert!(backup::open(key, &bytes).is_err());
    }

    // ---- mutations of valid files ----

    #[test]
    fn mutated_pkcs12(pick in any::<Index>(), muts in mutations()) {
        let bytes = mutated(&samples().pfx, &pick, &muts);
        check_import(&bytes)?;
        check_merge(&bytes)?;
    }

    #[test]
    fn mutated_pem_imports(pick in any::<Index>(), muts in mutations()) {
        let bytes = mutated(&samples().pem_import, &pick, &muts);
        check_import(&bytes)?;
        check_merge(&bytes)?;
        // Refusals go to .error files and the log: they quote no key.
        let key_text = key_lines(&pick.get(&samples().pem_import).1);
        for message in [
            import_formats::pem(&bytes, Some(PFX_PASSWORD)).err().map(|e| e.message().to_string()),
            import_formats::pem(&bytes, None).err().map(|e| e.message().to_string()),
            bundle::certificates_from_any(&bytes).err().map(|e| e.message().to_string()),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(!message.contains("-----"), "{}", message);
            for line in &key_text {
                for window in line.as_bytes().windows(16) {
                    let window = std::str::from_utf8(window).unwrap();
                    prop_assert!(!message.contains(window), "{} quotes the key: {}", message, window);
                }
            }
        }
    }

    #[test]
    fn mutated_merge_files(pick in any::<Index>(), muts in mutations()) {
        let bytes = mutated(&samples().merge, &pick, &muts);
        check_merge(&bytes)?;
        check_pkcs7(&bytes)?;
        check_der(&bytes);
    }

    #[test]
    fn mutated_keys_and_names(key in any::<bool>(), pick in any::<Index>(), muts in mutations()) {
        let s = samples();
        if key {
            let key: &Vec<u8> = pick.get(&s.keys_der);
            check_der(&apply(key, &muts));
        } else {
            check_dn_der(&mutated(&s.names_der, &pick, &muts));
        }
    }

    #[test]
    fn mutated_subjects(pick in any::<Index>(), muts in mutations()) {
        let bytes = apply(pick.get(&samples().subjects).as_bytes(), &muts);
        check_dn_text(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_policies(pick in any::<Index>(), muts in mutations()) {
        check_policy(&mutated(&samples().policies, &pick, &muts))?;
    }

    #[test]
    fn policies_with_a_node_replaced_or_added(
        pick in any::<Index>(),
        at in any::<Index>(),
        add in proptest::option::of(any::<Index>()),
        with in json_value(),
    ) {
        let doc = &pick.get(&samples().policies).1;
        let key = add.map(|k| *k.get(KEYS));
        check_policy(&edit_json(doc, &at, key, with))?;
    }

    #[test]
    fn mutated_documents(pick in any::<Index>(), muts in mutations()) {
        check_documents(&mutated(&samples().documents, &pick, &muts))?;
    }

    #[test]
    fn documents_with_a_node_replaced_or_added(
        pick in any::<Index>(),
        at in any::<Index>(),
        add in proptest::option::of(any::<Index>()),
        with in json_value(),
    ) {
        let doc = &pick.get(&samples().documents).1;
        let key = add.map(|k| *k.get(KEYS));
        check_documents(&edit_json(doc, &at, key, with))?;
    }

    #[test]
    fn mutated_backup_blobs(muts in mutations()) {
        let (key, blob) = backup_blob();
        let bytes = apply(blob, &muts);
        let opened = backup::open(key, &bytes);
        if bytes != blob {
            prop_assert!(opened.is_err(), "a changed blob must not open");
        }
    }
}

/// The base64 lines of the private key blocks in PEM text.
fn key_lines(pem_text: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem_text);
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            inside = line.contains("PRIVATE KEY");
        } else if line.starts_with("-----END") {
            inside = false;
        } else if inside && !line.contains(':') && line.len() >= 16 {
            out.push(line.to_string());
        }
    }
    out
}

/// Found by the storm: two armour lines run together by a lost newline
/// were quoted whole as a "label" in the error message (and so in the
/// log and the .error file). Labels are RFC 7468's now: no `-`.
#[test]
fn a_damaged_armour_line_is_not_quoted() {
    let mut file = samples().file("ec.key");
    file.extend(samples().file("ec.pem"));
    file.extend(samples().file("chain.pem"));
    // -----END CERTIFICATE----------BEGIN CERTIFICATE-----
    let at = file
        .windows(16)
        .position(|w| w == b"-----\n-----BEGIN")
        .unwrap();
    file.remove(at + 5);
    for e in [
        import_formats::pem(&file, None).unwrap_err(),
        bundle::certificates_from_any(&file).unwrap_err(),
    ] {
        assert!(!e.message().contains("-----"), "{}", e.message());
    }
}

/// The samples themselves are accepted, so the mutation tests start from valid input.
#[test]
fn the_samples_are_valid() {
    let s = samples();
    for (label, bytes) in &s.pfx {
        let password = (!label.ends_with("nopass")).then_some(PFX_PASSWORD);
        let imported =
            import_formats::pkcs12(bytes, password).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(imported.certificates.len(), 3, "{label}");
    }
    for (label, bytes) in &s.pem_import {
        let imported = import_formats::pem(bytes, Some(PFX_PASSWORD))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(imported.key.is_some(), "{label}");
    }
    for (label, bytes) in &s.merge {
        bundle::certificates_from_any(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    for (label, bytes) in &s.names_der {
        DistinguishedName::from_der(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    for subject in &s.subjects {
        DistinguishedName::parse(subject).unwrap_or_else(|e| panic!("{subject}: {e}"));
    }
    for (label, bytes) in &s.policies {
        Policy::parse(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    for key in &s.keys_der {
        PrivateKey::from_pkcs8_der(key).unwrap();
    }
    let doc = |label: &str| &s.documents.iter().find(|(l, _)| *l == label).unwrap().1;
    tags::parse(doc("tags")).unwrap();
    Contacts::parse(doc("contacts")).unwrap();
    IssuerBundle::parse_update(doc("issuer-digicert"), None).unwrap();
    IssuerBundle::parse_update(doc("issuer-globalsign"), None).unwrap();
    VaultSettings::parse_update(doc("vault"), &VaultSettings::default()).unwrap();
    operation::parse_update(doc("operation")).unwrap();
    let (key, blob) = backup_blob();
    backup::open(key, blob).unwrap();
}

/// Runs `f` on another thread; fails if it takes longer than `limit` (a
/// key derivation that would run for minutes, or allocate without bound).
fn within<T: Send + 'static>(
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("the parser did not answer in time: it ran a costly key derivation")
}

/// An encrypted key that asks for billions of PBKDF2 rounds, or for scrypt
/// with terabytes of memory, is refused at once instead of tying up (or
/// killing) the daemon; a normal one still reads (wrong password here).
#[test]
fn costly_key_derivations_are_refused_before_they_run() {
    let limit = std::time::Duration::from_secs(20);
    for (what, kdf) in [
        ("pbkdf2 4294967295 rounds", pbkdf2(u64::from(u32::MAX))),
        ("pbkdf2 2^31 rounds", pbkdf2(1 << 31)),
        ("scrypt N=2^40", scrypt(1 << 40, 8, 1)),
        ("scrypt N=2^20 r=1024", scrypt(1 << 20, 1024, 1)),
        ("scrypt p=65535", scrypt(1 << 14, 8, 65535)),
    ] {
        let text = pem_with_encrypted_key(kdf, &samples().file("ec.pem"));
        let result = within(limit, move || {
            import_formats::pem(&text, Some("pw")).map(|_| ())
        });
        let e = result.expect_err(what);
        assert!(
            matches!(e, certfs::pki::PkiError::Malformed(_)),
            "{what}: {e:?}"
        );
        assert!(
            e.message().contains("too costly"),
            "{what}: {}",
            e.message()
        );
    }
    for (what, kdf) in [
        ("pbkdf2 2048 rounds", pbkdf2(2048)),
        ("scrypt N=2^14", scrypt(1 << 14, 8, 1)),
    ] {
        let text = pem_with_encrypted_key(kdf, &samples().file("ec.pem"));
        let result = within(limit, move || {
            import_formats::pem(&text, Some("pw")).map(|_| ())
        });
        assert!(
            matches!(result, Err(certfs::pki::PkiError::WrongPassword(_))),
            "{what}: {result:?}"
        );
    }
}

/// Nesting deep enough to overflow a recursive parser's stack (which
/// would kill the daemon, not just fail) is refused. Runs on a thread
/// with the 2 MiB stack the daemon's action threads have.
#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    const DEPTH: usize = 200_000;
    let mut indefinite = [0x30, 0x80].repeat(DEPTH);
    indefinite.extend([0, 0].repeat(DEPTH));
    let mut definite = Vec::new();
    for _ in 0..DEPTH / 50 {
        definite = der(0x30, &definite);
    }
    let p7_like = [
        0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80,
    ]
    .iter()
    .copied()
    .chain(indefinite.clone())
    .collect::<Vec<u8>>();
    let json = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)).into_bytes();
    let json_in_policy = format!(
        r#"{{"x509_props": {{"subject": "CN=x", "ekus": {}{}}}}}"#,
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    )
    .into_bytes();
    let subject = "CN=".to_string() + &"\\".repeat(DEPTH) + &"+CN=a".repeat(DEPTH / 10);
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for bytes in [&indefinite, &definite, &p7_like] {
                assert!(bundle::certificates_from_any(bytes).is_err());
                assert!(pkcs7::certificates(bytes).is_err());
                assert!(import_formats::pkcs12(bytes, None).is_err());
                assert!(x509::inspect(bytes).is_err());
                assert!(DistinguishedName::from_der(bytes).is_err());
            }
            for bytes in [&json, &json_in_policy] {
                assert!(Policy::parse(bytes).is_err());
                check_documents(bytes).unwrap();
            }
            let _ = DistinguishedName::parse(&subject);
        })
        .unwrap();
    handle.join().expect("no panic");
}

/// The DER of a PEM certificate file among the samples.
fn cert_der(name: &str) -> Vec<u8> {
    pem::parse(samples().file(name)).unwrap().into_contents()
}

/// Found by the storm (tests/storm.rs): a chain was built by names alone,
/// so an intermediate damaged in transit, or another CA certificate with
/// the same name, went into chain.pem and TLS clients rejected the chain.
/// Now a link needs the issuer's key to verify the signature.
#[test]
fn the_chain_is_linked_by_signatures_not_names() {
    let key = PrivateKey::from_pkcs8_der(&samples().keys_der[1]).unwrap();
    let spki = key.public_key_der();
    let (leaf, int, root) = (
        cert_der("ec.pem"),
        cert_der("int.pem"),
        cert_der("root.pem"),
    );
    let rekeyed = cert_der("int-rekeyed.pem");
    let (_, chain) =
        x509::leaf_and_chain(&spki, &[leaf.clone(), int.clone(), root.clone()]).unwrap();
    assert_eq!(chain, [int.clone(), root.clone()]);
    // The right intermediate is picked from two with the same name, in either order.
    for certs in [
        [leaf.clone(), rekeyed.clone(), int.clone(), root.clone()],
        [leaf.clone(), int.clone(), rekeyed.clone(), root.clone()],
    ] {
        let (_, chain) = x509::leaf_and_chain(&spki, &certs).unwrap();
        assert_eq!(chain, [int.clone(), root.clone()]);
    }
    // Only the wrong one: refused, saying why.
    let e = x509::leaf_and_chain(&spki, &[leaf.clone(), rekeyed, root.clone()]).unwrap_err();
    assert!(e.message().contains("is not signed by"), "{}", e.message());
    // A bit flipped inside the intermediate (its subject key identifier):
    // still parses, but the root's signature on it no longer holds.
    const SKI: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];
    let at = int.windows(SKI.len()).position(|w| w == SKI).unwrap() + SKI.len() + 6;
    let mut damaged = int.clone();
    damaged[at] ^= 0x01;
    x509::inspect(&damaged).expect("the damage is not in the syntax");
    let e =
        x509::leaf_and_chain(&spki, &[leaf.clone(), damaged.clone(), root.clone()]).unwrap_err();
    assert!(e.message().contains("damaged"), "{}", e.message());
    // Read from a PEM import file, the same (the vault orders what it read).
    let mut file = samples().file("ec.key");
    file.extend(samples().file("ec.pem"));
    file.extend(certfs::pki::pem::certificates(&[damaged, root.clone()]).into_bytes());
    let read = import_formats::pem(&file, None).unwrap();
    assert!(x509::leaf_and_chain(&spki, &read.certificates).is_err());
    // A damaged root (its own signature fails) is refused too.
    let mut bad_root = root.clone();
    let last = bad_root.len() - 40;
    bad_root[last] ^= 0x01;
    if x509::inspect(&bad_root).is_ok() {
        let e = x509::leaf_and_chain(&spki, &[leaf.clone(), int.clone(), bad_root]).unwrap_err();
        assert!(e.message().contains("damaged"), "{}", e.message());
    }
    // A leaf alone, or with an issuer that is not in the file, still reads.
    assert!(x509::leaf_and_chain(&spki, std::slice::from_ref(&leaf)).is_ok());
    let (_, chain) = x509::leaf_and_chain(&spki, &[leaf, int.clone()]).unwrap();
    assert_eq!(chain, [int]);
}
