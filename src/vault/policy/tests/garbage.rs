//! Hostile and broken input: every case is refused with a clear message, and nothing panics.

use super::super::{MAX_POLICY_BYTES, Policy, messages};
use super::{AZ_DEFAULT, ok, refused, refused_bytes, rest};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

#[test]
fn over_one_mib_is_refused_and_exactly_one_mib_is_read() {
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(refused_bytes(&big), messages::TOO_LARGE);
    let mut padded = rest("", "").into_bytes();
    padded.resize(MAX_POLICY_BYTES, b' ');
    assert!(Policy::parse(&padded).is_ok());
    padded.push(b' ');
    assert_eq!(refused_bytes(&padded), messages::TOO_LARGE);
}

#[test]
fn non_utf8_empty_and_non_objects_are_refused() {
    assert_eq!(
        refused_bytes(b"{\"x509_props\": {\"subject\": \"CN=\xff\"}}"),
        messages::NOT_UTF8
    );
    assert_eq!(refused_bytes(&[0xfe, 0xff, 0, b'{']), messages::NOT_UTF8);
    for empty in ["", " ", "\n\t\r\n", "\u{feff}"] {
        assert_eq!(refused(empty), messages::EMPTY, "{empty:?}");
    }
    for not_object in [
        "[]",
        "\"policy\"",
        "12",
        "null",
        "true",
        "[{\"x509_props\": {}}]",
    ] {
        assert_eq!(refused(not_object), messages::NOT_OBJECT, "{not_object}");
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let with_bom = format!("\u{feff}{}", rest("", ""));
    assert_eq!(ok(&with_bom), ok(&rest("", "")));
}

#[test]
fn not_json_says_where() {
    let msg = refused("{\"x509_props\": {\"subject\": \"CN=a\"},}");
    assert!(msg.starts_with("The policy is not valid JSON: "), "{msg}");
    assert!(msg.contains("line 1 column"), "{msg}");
    let msg = refused("{\"a\": 1} {\"b\": 2}");
    assert!(msg.contains("trailing characters"), "{msg}");
}

#[test]
fn every_truncation_is_refused() {
    let text = AZ_DEFAULT.as_bytes();
    for len in 0..text.len() {
        assert!(
            Policy::parse(&text[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    assert!(Policy::parse(text).is_ok());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() >> 24) as u8).collect();
        let _ = Policy::parse(&bytes);
    }
}

#[test]
fn mutated_policies_never_panic_and_any_accepted_one_round_trips() {
    let mut rng = Rng(42);
    let alphabet = b"{}[]\":,0123456789-.eE nulltruefalse\\\x00\xc3\xa9";
    let seeds = [
        AZ_DEFAULT.as_bytes().to_vec(),
        super::REST_FULL.as_bytes().to_vec(),
    ];
    let mut accepted = 0;
    for round in 0..4000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        // An import's policy file goes through the same reader over a base.
        let base = Policy::parse(super::REST_FULL.as_bytes()).unwrap();
        let _ = Policy::parse_over(&bytes, &base);
        if let Ok(policy) = Policy::parse(&bytes) {
            accepted += 1;
            assert_eq!(Policy::parse(policy.to_json().as_bytes()), Ok(policy));
        }
    }
    // Some mutations (inside string values, white space) stay valid: the
    // round-trip assertion above was exercised.
    assert!(accepted > 0);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep_array = "[".repeat(100_000);
    assert!(
        refused(&deep_array).starts_with("The policy is not valid JSON: recursion limit exceeded")
    );
    let mut deep_attributes = rest("", r#", "attributes": "#);
    deep_attributes.truncate(deep_attributes.len() - 1);
    deep_attributes.push_str(&"{\"a\":".repeat(50_000));
    let msg = refused(&deep_attributes);
    assert!(msg.contains("recursion limit exceeded"), "{msg}");
    // Within the limit, deep but ignored attributes are fine.
    let nested = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    ok(&rest("", &format!(r#", "attributes": {nested}"#)));
}

#[test]
fn numbers_out_of_range_negative_and_fractional() {
    let size = |v: &str| refused(&rest("", &format!(r#", "key_props": {{"key_size": {v}}}"#)));
    let path = "key_props.key_size";
    assert_eq!(size("-2048"), messages::negative(path, "-2048"));
    assert_eq!(size("2048.5"), messages::not_integer(path, "2048.5"));
    assert_eq!(size("2048.0"), messages::not_integer(path, "2048.0"));
    assert_eq!(
        size("18446744073709551616"),
        messages::too_large(path, "1.8446744073709552e+19")
    );
    assert_eq!(size("1e300"), messages::too_large(path, "1e+300"));
    assert_eq!(
        size("-9223372036854775809"),
        messages::negative(path, "-9.223372036854776e+18")
    );
    assert_eq!(size("-0.5"), messages::negative(path, "-0.5"));
    assert_eq!(
        size("18446744073709551615"),
        messages::rsa_key_size(path, u64::MAX)
    );
    assert!(size("1e400").starts_with("The policy is not valid JSON: number out of range"));
    let months = refused(&rest(r#", "validity_months": -1"#, ""));
    assert_eq!(
        months,
        messages::negative("x509_props.validity_months", "-1")
    );
    let pct = refused(&rest(
        "",
        r#", "lifetime_actions": [{"trigger": {"lifetime_percentage": 80.5}}]"#,
    ));
    assert_eq!(
        pct,
        messages::not_integer("lifetime_actions[0].trigger.lifetime_percentage", "80.5")
    );
    let days = refused(&rest(
        "",
        r#", "lifetime_actions": [{"trigger": {"days_before_expiry": -3}}]"#,
    ));
    assert_eq!(
        days,
        messages::negative("lifetime_actions[0].trigger.days_before_expiry", "-3")
    );
}

#[test]
fn huge_strings_and_arrays_inside_the_limit_are_refused_by_the_rules() {
    let long_dns = "a".repeat(500_000);
    let msg = refused(&rest(
        &format!(r#", "sans": {{"dns_names": ["{long_dns}"]}}"#),
        "",
    ));
    assert!(
        msg.starts_with("`x509_props.sans.dns_names[0]` is 'aaaa"),
        "{msg:.60}"
    );
    assert!(msg.contains("a…', which is not a DNS name"), "{msg:.200}");
    assert!(
        msg.len() < 300,
        "a huge value is quoted whole: {} bytes",
        msg.len()
    );
    let long_key = "k".repeat(10_000);
    let msg = refused(&rest("", &format!(r#", "{long_key}": 1"#)));
    assert!(
        msg.len() < 400,
        "a huge key is quoted whole: {} bytes",
        msg.len()
    );
    let many = vec!["{}"; 100_000].join(",");
    assert_eq!(
        refused(&rest("", &format!(r#", "lifetime_actions": [{many}]"#))),
        messages::AT_MOST_ONE_ACTION
    );
}

#[test]
fn broken_basic_constraints_are_refused_naming_the_field() {
    for (text, word) in [
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":true}}"#,
            "basic_constraints",
        ),
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":{"ca":"yes"}}}"#,
            "ca",
        ),
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":{"ca":true,"path_len":-1}}}"#,
            "path_len",
        ),
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":{"ca":true,"path_len":256}}}"#,
            "between 0 and 255",
        ),
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":{"path_len":0}}}"#,
            "ca: true",
        ),
        (
            r#"{"x509_props":{"subject":"CN=a","basic_constraints":{"ca":false,"pathlen":0}}}"#,
            "pathlen",
        ),
    ] {
        let message = refused(text);
        assert!(message.contains(word), "{text}: {message}");
    }
}
