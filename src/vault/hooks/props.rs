//! Property tests for `hooks.json` parsing (the module is private, so they live beside it): any bytes, any JSON and mutations of a valid file give a `Result`, never a panic, and what is accepted reads back the same.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::Hooks;

const VALID: &str = r#"{"command": ["/usr/sbin/nginx", "-s", "reload"], "signal": "HUP", "pidfile": "/run/nginx.pid", "timeout_seconds": 30}"#;

/// A value for one of the fields: the right type or a wrong one.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("HUP"),
            Just("USR1"),
            Just("SIGHUP"),
            Just("hup"),
            Just("/run/x.pid"),
            Just(""),
            Just(" ")
        ]
        .prop_map(|s| Value::String(s.into())),
        ".{0,20}".prop_map(Value::String),
        vec(".{0,10}", 0..4).prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
        vec(any::<i32>(), 0..3)
            .prop_map(|v| Value::Array(v.into_iter().map(Value::from).collect())),
    ]
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(hooks) = Hooks::parse(bytes) {
        let again = Hooks::parse(hooks.to_json().as_bytes());
        prop_assert_eq!(again.ok(), Some(hooks));
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_bytes(bytes in vec(any::<u8>(), 0..1024)) {
        check(&bytes)?;
    }

    #[test]
    fn any_fields(fields in vec((prop_oneof![Just("command"), Just("signal"), Just("pidfile"),
                                             Just("timeout_seconds"), Just("other")], field_value()), 0..5)) {
        let object: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        check(&serde_json::to_vec(&object).unwrap())?;
    }

    #[test]
    fn mutated_valid_file(cut in 0..VALID.len() + 1, at in 0..VALID.len(), byte in any::<u8>(), flip in any::<bool>()) {
        let mut bytes = VALID.as_bytes().to_vec();
        if flip {
            bytes[at] = byte;
        } else {
            bytes.insert(at, byte);
        }
        bytes.truncate(cut);
        check(&bytes)?;
    }
}
