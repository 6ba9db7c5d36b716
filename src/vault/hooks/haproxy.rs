//! HAProxy's runtime API: a new certificate for a running HAProxy, with no reload (`set ssl cert`, then `commit ssl cert`).
//!
//! Each command is one connection to the admin socket, as `socat` would
//! send it: HAProxy answers and closes. The payload is `bundle.pem` (the
//! key, then the certificate and its chain), which HAProxy takes in any
//! order. The socket is the one `hooks.json` names; only the mount's
//! owner writes that file.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::failure::HookFailure;

/// How long one command may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer kept.
const ANSWER_MAX: u64 = 64 * 1024;

/// Where a running HAProxy takes a new certificate: `hooks.json`'s `haproxy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxyTarget {
    /// The runtime API socket (`stats socket ... level admin`).
    pub socket: String,
    /// The certificate's name in HAProxy: the path its `crt` line used.
    pub crt: String,
}

impl HaproxyTarget {
    /// Why this target cannot be used, if it cannot.
    pub(super) fn refusal(&self) -> Option<String> {
        if !self.socket.starts_with('/') {
            return Some("hooks.json: haproxy.socket must be an absolute path".into());
        }
        if self.crt.is_empty()
            || self
                .crt
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Some(
                "hooks.json: haproxy.crt must be the path of the crt HAProxy loaded, with no spaces"
                    .into(),
            );
        }
        None
    }

    /// Hands `bundle` (PEM: key, certificate, chain) to HAProxy and commits
    /// it; says what HAProxy answered.
    pub(super) fn update(&self, bundle: &[u8]) -> Result<String, HookFailure> {
        let mut set = format!("set ssl cert {} <<\n", self.crt).into_bytes();
        set.extend_from_slice(bundle);
        if !bundle.ends_with(b"\n") {
            set.push(b'\n');
        }
        set.push(b'\n');
        let staged = self.ask(&set)?;
        if !staged.contains("Transaction created") && !staged.contains("Transaction updated") {
            return Err(self.refused(staged));
        }
        let committed = self.ask(format!("commit ssl cert {}\n", self.crt).as_bytes())?;
        if !committed.contains("Success") {
            return Err(self.refused(committed));
        }
        Ok(format!("HAProxy took the new certificate for {}", self.crt))
    }

    /// Sends one command and reads the answer until HAProxy closes.
    fn ask(&self, command: &[u8]) -> Result<String, HookFailure> {
        let socket = |source| HookFailure::Socket {
            socket: self.socket.clone(),
            source,
        };
        let mut stream = UnixStream::connect(Path::new(&self.socket)).map_err(socket)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(socket)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(socket)?;
        stream.write_all(command).map_err(socket)?;
        let mut answer = Vec::new();
        stream
            .take(ANSWER_MAX)
            .read_to_end(&mut answer)
            .map_err(socket)?;
        Ok(String::from_utf8_lossy(&answer).trim().to_owned())
    }

    fn refused(&self, answer: String) -> HookFailure {
        HookFailure::Haproxy {
            crt: self.crt.clone(),
            answer: if answer.is_empty() {
                "no answer (is this HAProxy's admin socket?)".into()
            } else {
                answer
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A socket that answers every connection with the next of `answers`
    /// and keeps what it was sent.
    fn fake(
        dir: &Path,
        answers: &'static [&'static str],
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let path = dir.join("admin.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let heard = std::thread::spawn(move || {
            let mut heard = Vec::new();
            for answer in answers {
                let (mut conn, _) = listener.accept().unwrap();
                let mut buf = [0u8; 65536];
                let mut got = Vec::new();
                // The command ends with a blank line (set) or a newline (commit).
                while !(got.ends_with(b"\n\n")
                    || got.starts_with(b"commit") && got.ends_with(b"\n"))
                {
                    let n = conn.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                heard.push(String::from_utf8(got).unwrap());
                conn.write_all(answer.as_bytes()).unwrap();
            }
            heard
        });
        (path.display().to_string(), heard)
    }

    #[test]
    fn a_new_certificate_is_set_then_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, heard) = fake(
            dir.path(),
            &[
                "Transaction created for certificate /etc/haproxy/web.pem!\n",
                "Committing /etc/haproxy/web.pem\nSuccess!\n",
            ],
        );
        let target = HaproxyTarget {
            socket,
            crt: "/etc/haproxy/web.pem".into(),
        };
        let said = target
            .update(b"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        assert!(said.contains("/etc/haproxy/web.pem"), "{said}");
        let heard = heard.join().unwrap();
        assert!(
            heard[0].starts_with("set ssl cert /etc/haproxy/web.pem <<\n-----BEGIN"),
            "{heard:?}"
        );
        assert!(
            heard[0].ends_with("-----END PRIVATE KEY-----\n\n"),
            "{heard:?}"
        );
        assert_eq!(heard[1], "commit ssl cert /etc/haproxy/web.pem\n");
    }

    #[test]
    fn haproxys_refusal_is_reported_in_its_words_and_a_missing_socket_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, heard) = fake(dir.path(), &["unknown certificate name '/nope.pem'\n"]);
        let target = HaproxyTarget {
            socket,
            crt: "/nope.pem".into(),
        };
        let refused = target.update(b"PEM\n").unwrap_err();
        assert!(
            refused.to_string().contains("unknown certificate name"),
            "{refused}"
        );
        heard.join().unwrap();
        let gone = HaproxyTarget {
            socket: dir.path().join("missing.sock").display().to_string(),
            crt: "/x.pem".into(),
        };
        let failed = gone.update(b"PEM\n").unwrap_err();
        assert!(failed.to_string().contains("missing.sock"), "{failed}");
        assert!(std::error::Error::source(&failed).is_some());
    }

    #[test]
    fn a_relative_socket_or_a_crt_with_spaces_is_refused() {
        let t = |socket: &str, crt: &str| HaproxyTarget {
            socket: socket.into(),
            crt: crt.into(),
        };
        assert!(
            t("/run/haproxy/admin.sock", "/etc/haproxy/web.pem")
                .refusal()
                .is_none()
        );
        assert!(t("admin.sock", "/etc/haproxy/web.pem").refusal().is_some());
        assert!(
            t("/run/haproxy/admin.sock", "/etc/a b.pem")
                .refusal()
                .is_some()
        );
        assert!(t("/run/haproxy/admin.sock", "").refusal().is_some());
    }
}
