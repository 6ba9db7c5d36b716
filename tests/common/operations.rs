//! `operation.json` of a certificate in vault `prod`, read and waited on the way a user polls Key Vault's pending operation.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Mount;

/// How long a CA order may take in a test before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(90);

/// `prod/<cert>/operation.json`, parsed; a missing or unparsable file fails the test.
pub fn operation(m: &Mount, cert: &str) -> Value {
    let text = fs::read_to_string(m.path(&format!("prod/{cert}/operation.json")))
        .unwrap_or_else(|e| panic!("operation.json of {cert}: {e}\n{}", m.logs()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `prod/<cert>/operation.json` parsed, or `Null` while there is none.
pub fn operation_or_null(m: &Mount, cert: &str) -> Value {
    fs::read(m.path(&format!("prod/{cert}/operation.json")))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// The operation's `status` (empty when it has none).
pub fn status(op: &Value) -> &str {
    op["status"].as_str().unwrap_or("")
}

/// Reads the operation (or `Null`) until `done` holds; [`LIMIT`] bounds it.
pub fn wait_operation(m: &Mount, cert: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let op = operation_or_null(m, cert);
        if done(&op) {
            return op;
        }
        assert!(
            start.elapsed() < LIMIT,
            "operation.json of {cert} never showed {what}; last: {op:#}\n{}",
            m.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the operation's status is `want`; any other final status fails the test.
pub fn wait_status(m: &Mount, cert: &str, want: &str) -> Value {
    wait_operation(m, cert, want, |op| {
        let now = status(op);
        assert!(
            now == want || now == "inProgress",
            "expected {want}: {op:#}\n{}",
            m.logs()
        );
        now == want
    })
}

/// Waits until the operation, still in progress, satisfies `ready`; returns it.
pub fn wait_in_progress(m: &Mount, cert: &str, ready: impl Fn(&Value) -> bool) -> Value {
    wait_operation(m, cert, "readiness", |op| {
        assert_eq!(op["status"], "inProgress", "{op:#}\n{}", m.logs());
        ready(op)
    })
}

/// Waits until the in-progress operation carries the CA's order id; returns it.
pub fn wait_request_id(m: &Mount, cert: &str) -> String {
    let op = wait_in_progress(m, cert, |op| op["request_id"].is_string());
    op["request_id"].as_str().unwrap().to_owned()
}
