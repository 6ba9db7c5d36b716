//! Tests of the subject parser, its encodings and its refusals.

use super::*;
use AttributeType::*;

fn parse(text: &str) -> Vec<Vec<(AttributeType, String)>> {
    match DistinguishedName::parse(text) {
        Ok(dn) => dn.rdns,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn single(pairs: &[(AttributeType, &str)]) -> Vec<Vec<(AttributeType, String)>> {
    pairs
        .iter()
        .map(|(t, v)| vec![(t.clone(), (*v).to_string())])
        .collect()
}

fn refusal(text: &str) -> String {
    match DistinguishedName::parse(text) {
        Err(PkiError::InvalidName(m)) => m,
        other => panic!("{text:?} should be refused, got {other:?}"),
    }
}

#[test]
fn simple_and_key_vault_names() {
    assert_eq!(
        parse("CN=web.example.com"),
        single(&[(CommonName, "web.example.com")])
    );
    assert_eq!(
        parse(
            "CN=a, O=b, OU=c, C=US, ST=WA, S=Wash, L=Redmond, E=a@b.c, STREET=1 Main St, DC=com, SERIALNUMBER=42"
        ),
        single(&[
            (CommonName, "a"),
            (Organization, "b"),
            (OrganizationalUnit, "c"),
            (Country, "US"),
            (State, "WA"),
            (State, "Wash"),
            (Locality, "Redmond"),
            (Email, "a@b.c"),
            (Street, "1 Main St"),
            (DomainComponent, "com"),
            (SerialNumber, "42"),
        ])
    );
}

#[test]
fn quoted_and_escaped_commas() {
    assert_eq!(
        parse(r#"CN=web.example.com, O="Contoso, Inc.""#),
        single(&[
            (CommonName, "web.example.com"),
            (Organization, "Contoso, Inc.")
        ])
    );
    assert_eq!(
        parse(r"OU=Docs\, Contoso, CN=x"),
        single(&[(OrganizationalUnit, "Docs, Contoso"), (CommonName, "x")])
    );
    assert_eq!(
        parse(r#"O="a \"b\" \\ c""#),
        single(&[(Organization, r#"a "b" \ c"#)])
    );
    assert_eq!(
        parse(r#"O="  padded  ""#),
        single(&[(Organization, "  padded  ")])
    );
    assert_eq!(parse(r"O=a\2Cb\C3\A9"), single(&[(Organization, "a,bé")]));
    assert_eq!(
        parse(r"O=trailing\ "),
        single(&[(Organization, "trailing ")])
    );
    let message = refusal("O=Smith+Jones, CN=x");
    assert!(message.contains("quote or escape"), "{message}");
}

#[test]
fn repeated_attributes_are_kept_in_order() {
    assert_eq!(
        parse("CN=x, OU=A, OU=B, OU=C"),
        single(&[
            (CommonName, "x"),
            (OrganizationalUnit, "A"),
            (OrganizationalUnit, "B"),
            (OrganizationalUnit, "C")
        ])
    );
    assert_eq!(
        parse("DC=www,DC=example,DC=com"),
        single(&[
            (DomainComponent, "www"),
            (DomainComponent, "example"),
            (DomainComponent, "com")
        ])
    );
}

#[test]
fn plus_makes_multi_valued_rdns() {
    assert_eq!(
        parse("CN=x + UID=jdoe, O=y"),
        vec![
            vec![
                (CommonName, "x".into()),
                (Oid(vec![0, 9, 2342, 19200300, 100, 1, 1]), "jdoe".into())
            ],
            vec![(Organization, "y".into())],
        ]
    );
    assert_eq!(parse(r#"CN="a+b""#), single(&[(CommonName, "a+b")]));
    assert_eq!(parse(r"CN=a\+b"), single(&[(CommonName, "a+b")]));
}

#[test]
fn spacing_separators_and_case() {
    let want = single(&[(CommonName, "a b"), (Organization, "c")]);
    for text in [
        "CN=a b,O=c",
        "  CN = a b ,  O =  c  ",
        "cn=a b; o=c",
        "Cn=a b;O=c",
        "CN=a b , o=c\t",
    ] {
        assert_eq!(parse(text), want, "{text:?}");
    }
    assert_eq!(parse("EMAILADDRESS=a@b"), single(&[(Email, "a@b")]));
    assert_eq!(parse("emailAddress=a@b"), single(&[(Email, "a@b")]));
    assert_eq!(parse("commonName=z"), single(&[(CommonName, "z")]));
}

#[test]
fn dotted_oids_and_extra_names() {
    assert_eq!(
        parse("2.5.4.12=Manager"),
        single(&[(Oid(vec![2, 5, 4, 12]), "Manager")])
    );
    assert_eq!(parse("OID.2.5.4.12=Manager"), parse("T=Manager"));
    assert_eq!(parse("2.5.4.3=x"), single(&[(CommonName, "x")]));
    assert_eq!(
        parse("SN=Doe, G=John"),
        single(&[
            (Oid(vec![2, 5, 4, 4]), "Doe"),
            (Oid(vec![2, 5, 4, 42]), "John")
        ])
    );
}

#[test]
fn every_refusal_says_why() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("   ", "empty"),
        ("CN", "has no `=`"),
        ("CN=a, O", "`O` has no `=`"),
        ("FOO=bar", "unknown attribute type `FOO`"),
        ("3.5=x", "unknown attribute type `3.5`"),
        (r#"O="Contoso, Inc."#, "unterminated quote"),
        (r"CN=abc\", "ends with a backslash"),
        ("CN=", "CN has an empty value"),
        ("CN=  , O=x", "CN has an empty value"),
        (r#"O="""#, "O has an empty value"),
        ("CN=a,,O=b", "empty attribute before `,`"),
        ("CN=a,", "ends with a separator"),
        ("=x", "no attribute type"),
        (r#"O="a"b"#, "after the closing quote"),
        ("C=USA", "two-letter country code"),
        ("C=1A", "two-letter country code"),
        ("E=jö@example.com", "must be ASCII"),
        ("DC=exämple", "must be ASCII"),
        ("SERIALNUMBER=a_b", "SERIALNUMBER may only hold"),
        ("CN=a\u{0}b", "control character"),
        (r"CN=\FF", "not valid UTF-8"),
    ];
    for (text, needle) in cases {
        let message = refusal(text);
        assert!(message.contains(needle), "{text:?}: {message}");
    }
    assert_eq!(
        DistinguishedName::parse("").unwrap_err().to_string(),
        "invalid name: the name is empty: write at least one attribute, e.g. CN=www.contoso.com"
    );
}

#[test]
fn common_name_is_the_first_cn() {
    let dn = DistinguishedName::parse("O=x, CN=first, CN=second").unwrap();
    assert_eq!(dn.common_name(), Some("first"));
    assert_eq!(DistinguishedName::parse("O=x").unwrap().common_name(), None);
    assert!(DistinguishedName { rdns: vec![] }.is_empty());
    assert!(!dn.is_empty());
}

#[test]
fn display_round_trips() {
    for text in [
        r#"CN=web.example.com, O="Contoso, Inc.", OU="Docs, Contoso", OU=B, E=a@b.c, C=US"#,
        r#"CN=x + 2.5.4.45=y, O="a \"q\" \\ b", L=" lead", ST="semi;colon", DC=com"#,
        "CN=plain, T=Manager, SN=Doe",
    ] {
        let dn = DistinguishedName::parse(text).unwrap();
        assert_eq!(dn.to_string(), text);
        assert_eq!(DistinguishedName::parse(&dn.to_string()).unwrap(), dn);
    }
    assert_eq!(
        DistinguishedName::parse(r"OU=Docs\, Contoso, s=WA, email=a@b")
            .unwrap()
            .to_string(),
        r#"OU="Docs, Contoso", ST=WA, E=a@b"#
    );
}

#[test]
fn der_encoding_uses_the_right_string_types_and_sorts_sets() {
    let dn = DistinguishedName::parse("C=US, E=a@b, CN=x").unwrap();
    let der_name = dn.to_der().unwrap();
    let expected: Vec<u8> = [
        &[0x30, 0x2d][..],
        &[
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U', b'S',
        ],
        &[
            0x31, 0x12, 0x30, 0x10, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
            0x01,
        ],
        &[0x16, 0x03, b'a', b'@', b'b'],
        &[
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'x',
        ],
    ]
    .concat();
    assert_eq!(der_name, expected);
    assert_eq!(DistinguishedName::from_der(&der_name).unwrap(), dn);
    // Both orders of a multi-valued RDN encode the same (DER SET OF is sorted).
    let a = DistinguishedName::parse("CN=x+O=y")
        .unwrap()
        .to_der()
        .unwrap();
    let b = DistinguishedName::parse("O=y+CN=x")
        .unwrap()
        .to_der()
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(
        DistinguishedName { rdns: vec![] }.to_der().unwrap(),
        [0x30, 0x00]
    );
    let bad = DistinguishedName {
        rdns: vec![vec![(Country, "USA".into())]],
    };
    assert!(matches!(bad.to_der(), Err(PkiError::InvalidName(_))));
    let bad_oid = DistinguishedName {
        rdns: vec![vec![(Oid(vec![7]), "x".into())]],
    };
    assert!(bad_oid.to_der().is_err());
}

#[test]
fn from_der_refuses_garbage_without_panic() {
    let good = DistinguishedName::parse("CN=x, OU=A, OU=B")
        .unwrap()
        .to_der()
        .unwrap();
    for len in 0..good.len() {
        assert!(DistinguishedName::from_der(&good[..len]).is_err());
    }
    for i in 0..good.len() {
        let mut copy = good.clone();
        copy[i] ^= 0xff;
        let _ = DistinguishedName::from_der(&copy);
    }
}

#[test]
fn rcgen_name_matches_our_encoding_and_keeps_repeats() {
    use rcgen::{CertificateParams, KeyPair};
    let key = KeyPair::generate().unwrap();
    for text in [
        "CN=x, OU=A, OU=B, O=o, C=US, E=a@b",
        "O=a, O=b, CN=c, CN=d, L=l, ST=s",
    ] {
        let dn = DistinguishedName::parse(text).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = dn.to_rcgen().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        assert_eq!(
            parsed.subject().as_raw(),
            dn.to_der().unwrap().as_slice(),
            "{text}"
        );
    }
    for text in ["OU=A, OU=B, OU=C", "DC=a, DC=b", "CN=x+O=y"] {
        let dn = DistinguishedName::parse(text).unwrap();
        assert!(
            matches!(dn.to_rcgen(), Err(PkiError::InvalidName(_))),
            "{text}"
        );
    }
}
