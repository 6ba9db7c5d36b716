//! A CA that takes orders and keeps them pending: a minimal DigiCert Services API v2 (order, order status) on a local port, for the latency figure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CA; it serves until the process ends.
pub struct PendingCa {
    /// Its base URL (an issuer file's `endpoint`).
    pub endpoint: String,
    /// Requests answered so far.
    pub requests: Arc<AtomicUsize>,
}

impl PendingCa {
    /// Starts it on a free local port.
    pub fn start() -> PendingCa {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || answer(stream));
            }
        });
        PendingCa { endpoint, requests }
    }

    /// The issuer file naming it.
    pub fn issuer_json(&self) -> String {
        format!(
            r#"{{"provider": "DigiCert", "credentials": {{"account_id": "1", "pwd": "bench-key"}},
 "org_details": {{"id": "1"}}, "endpoint": "{}"}}"#,
            self.endpoint
        )
    }
}

/// Answers requests on one connection: an order is taken (201, order 1),
/// and its status is always `pending`.
fn answer(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let method = line.split_whitespace().next().unwrap_or("").to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, json) = if method == "POST" {
            (
                "201 Created",
                r#"{"id": 1, "requests": [{"id": 1, "status": "pending"}]}"#,
            )
        } else {
            ("200 OK", r#"{"id": 1, "status": "pending"}"#)
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
