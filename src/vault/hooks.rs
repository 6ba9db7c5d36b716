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
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use crate::as_user::{self, AsUserError, Identity};

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
    /// How long the command may run, in seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
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

    /// Whether there is anything to run.
    pub fn is_empty(&self) -> bool {
        self.command.is_empty() && self.signal.is_none()
    }

    /// `hooks.json` as read back.
    pub fn to_json(&self) -> String {
        super::pretty_json(self)
    }

    /// Runs the hooks for the certificate at `lineage` with DNS names
    /// `domains`: the command (with its timeout), then the signal. Returns
    /// whether all succeeded and what happened, in words. Blocks: call it
    /// on a thread of its own.
    pub fn run(&self, lineage: &str, domains: &[String]) -> (bool, String) {
        let mut ok = true;
        let mut said = Vec::new();
        if !self.command.is_empty() {
            let timeout =
                Duration::from_secs(self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT).into());
            match run_command(&self.command, lineage, domains, timeout) {
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
        (ok, said.join("; "))
    }
}

fn signal_number(name: &str) -> Option<i32> {
    let name = name.trim_start_matches("SIG");
    SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
}

/// Runs `command`, logs its output, kills it after `timeout`.
fn run_command(
    command: &[String],
    lineage: &str,
    domains: &[String],
    timeout: Duration,
) -> Result<String, HookFailure> {
    let program = &command[0];
    let mut child = Command::new(program)
        .args(&command[1..])
        .env("RENEWED_LINEAGE", lineage)
        .env("RENEWED_DOMAINS", domains.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HookFailure::Start {
            program: program.clone(),
            source,
        })?;
    // Read output on threads so a chatty command cannot fill a pipe and stall.
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = r.by_ref().take(64 * 1024).read_to_end(&mut text);
            // Drain the rest so the command never blocks on a full pipe.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
            String::from_utf8_lossy(&text).into_owned()
        })
    })
    .collect();
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                return Err(HookFailure::Wait {
                    program: program.clone(),
                    source,
                });
            }
        }
    };
    for reader in readers {
        for line in reader.join().unwrap_or_default().lines() {
            log::info!("hook {program}: {line}");
        }
    }
    match status {
        None => Err(HookFailure::Killed {
            program: program.clone(),
            after: timeout,
        }),
        Some(s) if s.success() => Ok(format!("command {program} succeeded")),
        Some(status) => Err(HookFailure::Exit {
            program: program.clone(),
            status,
        }),
    }
}

/// The pidfile's bytes, read as the daemon's own user (see the module's words).
fn read_pidfile(pidfile: &str) -> Result<Vec<u8>, AsUserError> {
    as_user::read_file(&Identity::daemon(), Path::new(pidfile), PIDFILE_MAX)
}

/// Sends `signal` to the process whose id is in `pidfile`.
fn send_signal(signal: &str, pidfile: &str) -> Result<String, HookFailure> {
    let name = signal.trim_start_matches("SIG");
    let number = signal_number(signal).ok_or_else(|| HookFailure::UnknownSignal(signal.into()))?;
    let bytes = read_pidfile(pidfile).map_err(HookFailure::Pidfile)?;
    let text = String::from_utf8_lossy(&bytes);
    let pid: i32 = text
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 1)
        .ok_or_else(|| HookFailure::NoPid(pidfile.into()))?;
    // SAFETY: kill(2) with a checked pid (> 1) and a known signal number.
    if unsafe { libc::kill(pid, number) } == 0 {
        Ok(format!("SIG{name} sent to process {pid}"))
    } else {
        Err(HookFailure::Signal {
            signal: name.into(),
            pid,
            source: std::io::Error::last_os_error(),
        })
    }
}

/// Why a hook did not do what it should; its words go to the log and the
/// run log (`status.json`).
#[derive(Debug)]
enum HookFailure {
    /// The command could not be started.
    Start {
        program: String,
        source: std::io::Error,
    },
    /// Waiting for the command failed.
    Wait {
        program: String,
        source: std::io::Error,
    },
    /// The command ran past its timeout and was killed.
    Killed { program: String, after: Duration },
    /// The command ended with a failure status.
    Exit {
        program: String,
        status: std::process::ExitStatus,
    },
    /// The signal's name is none certfs knows (a stored hooks.json of another version).
    UnknownSignal(String),
    /// The pidfile could not be read.
    Pidfile(AsUserError),
    /// The pidfile holds no process id.
    NoPid(String),
    /// kill(2) refused.
    Signal {
        signal: String,
        pid: i32,
        source: std::io::Error,
    },
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookFailure::Start { program, source } => {
                write!(f, "command {program} could not start: {source}")
            }
            HookFailure::Wait { program, source } => write!(f, "command {program}: {source}"),
            HookFailure::Killed { program, after } => {
                write!(f, "command {program} was killed after {}s", after.as_secs())
            }
            HookFailure::Exit { program, status } => {
                write!(f, "command {program} failed ({status})")
            }
            HookFailure::UnknownSignal(name) => write!(f, "unknown signal {name}"),
            HookFailure::Pidfile(e) => write!(f, "pidfile: {e}"),
            HookFailure::NoPid(pidfile) => write!(f, "pidfile {pidfile} holds no process id"),
            HookFailure::Signal {
                signal,
                pid,
                source,
            } => write!(f, "SIG{signal} to process {pid}: {source}"),
        }
    }
}

impl std::error::Error for HookFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HookFailure::Start { source, .. }
            | HookFailure::Wait { source, .. }
            | HookFailure::Signal { source, .. } => Some(source),
            HookFailure::Pidfile(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "hooks_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_hook_keeps_its_cause_and_names_what_failed() {
        use std::error::Error;
        let missing = run_command(
            &["/nonexistent/certfs-hook".into()],
            "/mnt/prod/web",
            &[],
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
        let (ok, words) = hooks.run("/mnt/prod/web", &["a.example".into(), "b.example".into()]);
        assert!(ok, "{words}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "/mnt/prod/web|a.example b.example\n"
        );
        let failing = Hooks {
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            ..Default::default()
        };
        let (ok, words) = failing.run("/x", &[]);
        assert!(!ok && words.contains("failed"), "{words}");
        let slow = Hooks {
            command: vec!["sleep".into(), "30".into()],
            timeout_seconds: Some(1),
            ..Default::default()
        };
        let (ok, words) = slow.run("/x", &[]);
        assert!(!ok && words.contains("killed after 1s"), "{words}");
        let missing = Hooks {
            signal: Some("HUP".into()),
            pidfile: Some("/nonexistent/pid".into()),
            ..Default::default()
        };
        let (ok, words) = missing.run("/x", &[]);
        assert!(!ok && words.contains("/nonexistent/pid"), "{words}");
        let device = Hooks {
            signal: Some("HUP".into()),
            pidfile: Some("/dev/zero".into()),
            ..Default::default()
        };
        let (ok, words) = device.run("/x", &[]);
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
