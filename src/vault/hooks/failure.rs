//! Why a hook did not do what it should: a typed error naming the program, pidfile or socket, with the system's error under it.

use std::time::Duration;

use crate::as_user::AsUserError;

/// Why a hook did not do what it should; its words go to the log and the
/// run log (`status.json`).
#[derive(Debug)]
pub(crate) enum HookFailure {
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
    /// HAProxy's runtime API socket could not be used.
    Socket {
        socket: String,
        source: std::io::Error,
    },
    /// HAProxy refused the certificate; `answer` is its own words.
    Haproxy { crt: String, answer: String },
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
            HookFailure::Socket { socket, source } => {
                write!(f, "HAProxy's socket {socket}: {source}")
            }
            HookFailure::Haproxy { crt, answer } => {
                write!(f, "HAProxy refused the certificate for {crt}: {answer}")
            }
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
            | HookFailure::Signal { source, .. }
            | HookFailure::Socket { source, .. } => Some(source),
            HookFailure::Pidfile(e) => Some(e),
            _ => None,
        }
    }
}
