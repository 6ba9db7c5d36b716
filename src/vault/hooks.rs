//! `hooks.json`: what runs after a new version of a certificate becomes current (a command, a signal to a pidfile's process), and running it.
//!
//! Hooks run as the daemon's user, on a thread of their own, after the
//! switch is published: a hook's failure is logged and shown in
//! `status.json`, never undoes the switch. The command gets certbot's
//! `RENEWED_LINEAGE` (the certificate's directory in the mount) and
//! `RENEWED_DOMAINS` (its DNS names, space-separated).
//!
//! The `pidfile` is read as the daemon's own user, the user hooks run as:
//! only the mount's owner (that user) or root may write `hooks.json`, so
//! this is its writer's identity or less. It must be a regular file (a
//! FIFO or a device is refused at once, never opened) of at most
//! [`PIDFILE_MAX`] bytes. When `hooks.json` is written, a pidfile that is
//! not there yet is accepted (nginx writes its own when it starts, as
//! systemd's `PIDFile=` and certbot's hooks expect), but one that is there
//! and is not a regular file is refused.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use crate::as_user::AsUserError;

/// The prefix of a certificate's hooks in the store: `hooks/<name>`.
pub const DOCUMENT_PREFIX: &str = "hooks/";

/// The most bytes read from a pidfile.
pub const PIDFILE_MAX: u64 = 4096;

/// The default time a command may run.
const DEFAULT_TIMEOUT: u32 = 60;

/// The signals a hook may send, by name.
const SIGNALS: [(&str, i32); 7] = [
    ("HUP", libc::SIGHUP),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("TERM", libc::SIGTERM),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("WINCH", libc::SIGWINCH),
];

/// A certificate's hooks, as `hooks.json` holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// The program and its arguments (no shell).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// A signal name (`HUP`, `USR1`, ...) to send to the process in `pidfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The file holding the process id to signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<String>,
    /// A signal name to send, after a switch, to each process that still
    /// holds an older version's key (the oldest of each program).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_consumers: Option<String>,
    /// How long the command may run, in seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// A running HAProxy to hand the new certificate to, with no reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<Box<HaproxyTarget>>,
    /// A server to check, once the hooks ran, for the new certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Box<Probe>>,
    /// What runs when a renewal, a hook or a probe fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Box<OnFailure>>,
}

/// No hooks: what most certificates have.
static NO_HOOKS: Hooks = Hooks {
    command: Vec::new(),
    signal: None,
    pidfile: None,
    signal_consumers: None,
    timeout_seconds: None,
    haproxy: None,
    probe: None,
    on_failure: None,
};

/// A certificate's hooks as it holds them: none set (the common case)
/// takes no allocation and a pointer's room.
#[derive(Debug, Clone, Default)]
pub(crate) struct CertificateHooks(Option<Box<Hooks>>);

impl From<Hooks> for CertificateHooks {
    fn from(hooks: Hooks) -> Self {
        CertificateHooks((hooks != NO_HOOKS).then(|| Box::new(hooks)))
    }
}

impl std::ops::Deref for CertificateHooks {
    type Target = Hooks;

    fn deref(&self) -> &Hooks {
        self.0.as_deref().unwrap_or(&NO_HOOKS)
    }
}

/// `hooks.json`'s `on_failure`: a command told what failed through
/// `CERTFS_VAULT`, `CERTFS_CERTIFICATE` and `CERTFS_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnFailure {
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
}

impl Hooks {
    /// Parses and checks a write to `hooks.json`. `{}` means no hooks.
    pub fn parse(bytes: &[u8]) -> Result<Self, VaultError> {
        let bad = |m: String| VaultError::BadParameter(m);
        let hooks: Hooks = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("hooks.json is not valid: {e}")))?;
        if hooks.command.first().is_some_and(|p| p.trim().is_empty()) {
            return Err(bad("hooks.json: command[0] must name a program".into()));
        }
        match (&hooks.signal, &hooks.pidfile) {
            (None, None) => {}
            (Some(signal), Some(pidfile)) => {
                signal_number(signal).ok_or_else(|| {
                    bad(format!(
                        "hooks.json: unknown signal '{signal}'; use one of {}",
                        SIGNALS.map(|(n, _)| n).join(", ")
                    ))
                })?;
                if !pidfile.starts_with('/') {
                    return Err(bad("hooks.json: pidfile must be an absolute path".into()));
                }
            }
            _ => {
                return Err(bad(
                    "hooks.json: signal and pidfile go together ({\"signal\": \"HUP\", \"pidfile\": \"/run/nginx.pid\"})".into(),
                ));
            }
        }
        if let Some(signal) = &hooks.signal_consumers {
            signal_number(signal).ok_or_else(|| {
                bad(format!(
                    "hooks.json: unknown signal_consumers '{signal}'; use one of {}",
                    SIGNALS.map(|(n, _)| n).join(", ")
                ))
            })?;
        }
        if let Some(why) = hooks.haproxy.as_deref().and_then(HaproxyTarget::refusal) {
            return Err(bad(why));
        }
        if let Some(why) = hooks.probe.as_deref().and_then(Probe::refusal) {
            return Err(bad(why));
        }
        if hooks
            .on_failure
            .as_ref()
            .is_some_and(|f| f.command.first().is_none_or(|p| p.trim().is_empty()))
        {
            return Err(bad(
                "hooks.json: on_failure.command[0] must name a program".into()
            ));
        }
        if hooks
            .timeout_seconds
            .is_some_and(|t| !(1..=3600).contains(&t))
        {
            return Err(bad("hooks.json: timeout_seconds must be 1 to 3600".into()));
        }
        Ok(hooks)
    }

    /// The write-time look at `pidfile`: one not there yet (or not
    /// readable now) is fine, it may be by the time hooks run; one that is
    /// there and is not a regular file (or is too large) is refused.
    /// Stored hooks are not looked at again when loaded.
    pub fn check_pidfile(&self) -> Result<(), VaultError> {
        let Some(pidfile) = &self.pidfile else {
            return Ok(());
        };
        match read_pidfile(pidfile) {
            Err(e @ (AsUserError::WrongKind { .. } | AsUserError::TooLarge { .. })) => Err(
                VaultError::BadParameter(format!("hooks.json: pidfile: {e}")),
            ),
            _ => Ok(()),
        }
    }

    /// Whether the document says nothing (`{}`).
    pub fn is_empty(&self) -> bool {
        *self == Hooks::default()
    }

    /// Whether anything runs after a switch of version.
    pub fn acts_on_switch(&self) -> bool {
        !self.command.is_empty()
            || self.signal.is_some()
            || self.signal_consumers.is_some()
            || self.haproxy.is_some()
            || self.probe.is_some()
    }

    /// `hooks.json` as read back.
    pub fn to_json(&self) -> String {
        super::pretty_json(self)
    }

    /// How long a command may run.
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT).into())
    }

    /// Runs the hooks for the certificate at `lineage` with DNS names
    /// `domains` and `bundle.pem`'s bytes `bundle`: HAProxy's update, the
    /// command (with its timeout), the signal, then `signal_consumers` to
    /// each of `stale` (processes, each the oldest of its program, that
    /// hold an older version's key). Returns whether all succeeded and
    /// what happened, in words. Blocks: call it on a thread of its own.
    pub(crate) fn run(
        &self,
        lineage: &str,
        domains: &[String],
        bundle: &[u8],
        stale: &[Consumer],
    ) -> (bool, String) {
        let mut ok = true;
        let mut said = Vec::new();
        if let Some(haproxy) = &self.haproxy {
            match haproxy.update(bundle) {
                Ok(words) => said.push(words),
                Err(failure) => {
                    ok = false;
                    said.push(failure.to_string());
                }
            }
        }
        if !self.command.is_empty() {
            let env = [
                ("RENEWED_LINEAGE", lineage.to_owned()),
                ("RENEWED_DOMAINS", domains.join(" ")),
            ];
            match run_command(&self.command, &env, self.timeout()) {
                Ok(words) => said.push(words),
                Err(failure) => {
                    ok = false;
                    said.push(failure.to_string());
                }
            }
        }
        if let (Some(signal), Some(pidfile)) = (&self.signal, &self.pidfile) {
            match send_signal(signal, pidfile) {
                Ok(words) => said.push(words),
                Err(failure) => {
                    ok = false;
                    said.push(failure.to_string());
                }
            }
        }
        if let Some(signal) = &self.signal_consumers {
            for consumer in stale {
                match signal_process(signal, consumer.pid, consumer.start_ticks) {
                    Ok(words) => said.push(format!("{words} ({})", consumer.command)),
                    Err(failure) => {
                        ok = false;
                        said.push(failure.to_string());
                    }
                }
            }
        }
        (ok, said.join("; "))
    }

    /// Runs `on_failure`, if there is one, for certificate `c` of vault
    /// `v` that failed with `error`; says how that went.
    pub fn run_on_failure(&self, v: &str, c: &str, error: &str) -> Option<String> {
        let command = &self.on_failure.as_ref()?.command;
        let env = [
            ("CERTFS_VAULT", v.to_owned()),
            ("CERTFS_CERTIFICATE", c.to_owned()),
            ("CERTFS_ERROR", error.to_owned()),
        ];
        Some(match run_command(command, &env, self.timeout()) {
            Ok(words) => format!("on_failure: {words}"),
            Err(failure) => format!("on_failure: {failure}"),
        })
    }
}

pub(super) fn signal_number(name: &str) -> Option<i32> {
    let name = name.trim_start_matches("SIG");
    SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
}

mod command;
mod failure;
mod haproxy;
mod probe;

use super::consumers::Consumer;
use command::{read_pidfile, run_command, send_signal, signal_process};
pub use haproxy::HaproxyTarget;
pub use probe::Probe;
pub(crate) use probe::Seen;

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::failure::HookFailure;
    use super::*;

    #[test]
    fn a_certificate_without_hooks_holds_no_allocation() {
        let none = CertificateHooks::from(Hooks::default());
        assert!(none.0.is_none());
        assert_eq!(*none, Hooks::default());
        let set = CertificateHooks::from(Hooks {
            signal: Some("HUP".into()),
            ..Hooks::default()
        });
        assert_eq!(set.signal.as_deref(), Some("HUP"));
        assert!(set.0.is_some());
    }

    #[test]
    fn a_failed_hook_keeps_its_cause_and_names_what_failed() {
        use std::error::Error;
        let missing = run_command(
            &["/nonexistent/certfs-hook".into()],
            &[("RENEWED_LINEAGE", "/mnt/prod/web".into())],
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/certfs-hook"),
            "{missing}"
        );
        let cause = missing
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(cause.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("nginx.pid");
        std::fs::write(&pidfile, "not a pid\n").unwrap();
        let no_pid = send_signal("HUP", pidfile.to_str().unwrap()).unwrap_err();
        assert!(matches!(no_pid, HookFailure::NoPid(_)), "{no_pid}");
    }

    #[test]
    fn delivery_checks_parse_and_refuse_what_cannot_work() {
        let all = Hooks::parse(
            br#"{"haproxy": {"socket": "/run/haproxy/admin.sock", "crt": "/etc/haproxy/web.pem"},
                 "probe": {"connect": "127.0.0.1:443", "server_name": "web.example.test", "retry_for_s": 60},
                 "on_failure": {"command": ["/usr/local/bin/page-oncall"]}}"#,
        )
        .unwrap();
        assert!(all.acts_on_switch());
        assert_eq!(Hooks::parse(all.to_json().as_bytes()).unwrap(), all);
        let only_on_failure = Hooks::parse(br#"{"on_failure": {"command": ["true"]}}"#).unwrap();
        assert!(!only_on_failure.is_empty() && !only_on_failure.acts_on_switch());
        for bad in [
            &br#"{"haproxy": {"socket": "admin.sock", "crt": "/etc/haproxy/web.pem"}}"#[..],
            br#"{"haproxy": {"socket": "/run/a.sock", "crt": "/etc/a b.pem"}}"#,
            br#"{"haproxy": {"socket": "/run/a.sock"}}"#,
            br#"{"haproxy": {"socket": "/run/a.sock", "crt": "/a.pem", "level": "admin"}}"#,
            br#"{"probe": {"connect": "127.0.0.1", "server_name": "web"}}"#,
            br#"{"probe": {"connect": "127.0.0.1:443", "server_name": "bad name"}}"#,
            br#"{"probe": {"connect": "127.0.0.1:443", "server_name": "web", "timeout_s": 0}}"#,
            br#"{"on_failure": {"command": []}}"#,
            br#"{"on_failure": {"command": [" "]}}"#,
            br#"{"on_failure": ["page-oncall"]}"#,
            br#"{"signal_consumers": "BOOM"}"#,
        ] {
            let refused = Hooks::parse(bad).unwrap_err();
            assert_eq!(
                refused.code(),
                "BadParameter",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn on_failure_is_told_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let hooks = Hooks {
            on_failure: Some(Box::new(OnFailure {
                command: vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "printf '%s|%s|%s' \"$CERTFS_VAULT\" \"$CERTFS_CERTIFICATE\" \"$CERTFS_ERROR\" > {}",
                        out.display()
                    ),
                ],
            })),
            ..Hooks::default()
        };
        let said = hooks
            .run_on_failure("prod", "web", "the CA said no")
            .unwrap();
        assert!(said.contains("succeeded"), "{said}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "prod|web|the CA said no"
        );
        assert_eq!(Hooks::default().run_on_failure("prod", "web", "x"), None);
    }

    #[test]
    fn hooks_parse_and_refuse_what_cannot_run() {
        let h = Hooks::parse(br#"{"command": ["systemctl", "reload", "nginx"], "signal": "HUP", "pidfile": "/run/nginx.pid"}"#).unwrap();
        assert_eq!(h.command, ["systemctl", "reload", "nginx"]);
        assert!(Hooks::parse(b"{}").unwrap().is_empty());
        for bad in [
            &br#"{"signal": "HUP"}"#[..],
            br#"{"signal": "BOOM", "pidfile": "/x"}"#,
            br#"{"signal": "HUP", "pidfile": "relative"}"#,
            br#"{"command": [""]}"#,
            br#"{"command": "nginx -s reload"}"#,
            br#"{"timeout_seconds": 0}"#,
            br#"{"other": 1}"#,
            b"garbage",
            b"",
        ] {
            assert!(
                Hooks::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_command_gets_the_certbot_environment_and_its_outcome_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let script = format!(
            "echo \"$RENEWED_LINEAGE|$RENEWED_DOMAINS\" > {}",
            out.display()
        );
        let hooks = Hooks {
            command: vec!["sh".into(), "-c".into(), script],
            ..Default::default()
        };
        let (ok, words) = hooks.run(
            "/mnt/prod/web",
            &["a.example".into(), "b.example".into()],
            b"",
            &[],
        );
        assert!(ok, "{words}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "/mnt/prod/web|a.example b.example\n"
        );
        let failing = Hooks {
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            ..Default::default()
        };
        let (ok, words) = failing.run("/x", &[], b"", &[]);
        assert!(!ok && words.contains("failed"), "{words}");
        let slow = Hooks {
            command: vec!["sleep".into(), "30".into()],
            timeout_seconds: Some(1),
            ..Default::default()
        };
        let (ok, words) = slow.run("/x", &[], b"", &[]);
        assert!(!ok && words.contains("killed after 1s"), "{words}");
        let missing = Hooks {
            signal: Some("HUP".into()),
            pidfile: Some("/nonexistent/pid".into()),
            ..Default::default()
        };
        let (ok, words) = missing.run("/x", &[], b"", &[]);
        assert!(!ok && words.contains("/nonexistent/pid"), "{words}");
        let device = Hooks {
            signal: Some("HUP".into()),
            pidfile: Some("/dev/zero".into()),
            ..Default::default()
        };
        let (ok, words) = device.run("/x", &[], b"", &[]);
        assert!(!ok && words.contains("not a regular file"), "{words}");
    }

    #[test]
    fn a_pidfile_not_there_yet_is_accepted_but_a_device_is_not() {
        let later = Hooks::parse(br#"{"signal": "HUP", "pidfile": "/run/certfs-test-none.pid"}"#);
        later.unwrap().check_pidfile().unwrap();
        let device = Hooks::parse(br#"{"signal": "HUP", "pidfile": "/dev/zero"}"#).unwrap();
        let err = device.check_pidfile().unwrap_err();
        assert!(err.message().contains("not a regular file"), "{err}");
    }
}
