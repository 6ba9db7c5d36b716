//! Running a hook's parts: the command with certbot's environment and its timeout, the signal to a pidfile's process.
#![allow(unsafe_code)] // kill(2), with its SAFETY comments

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::failure::HookFailure;
use super::{PIDFILE_MAX, signal_number};
use crate::as_user::{self, AsUserError, Identity};
use crate::procs::Process;

/// Runs `command`, logs its output, kills it after `timeout`.
pub(super) fn run_command(
    command: &[String],
    env: &[(&str, String)],
    timeout: Duration,
) -> Result<String, HookFailure> {
    let program = &command[0];
    let mut child = Command::new(program)
        .args(&command[1..])
        .envs(env.iter().map(|(name, value)| (name, value)))
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
pub(super) fn read_pidfile(pidfile: &str) -> Result<Vec<u8>, AsUserError> {
    as_user::read_file(&Identity::daemon(), Path::new(pidfile), PIDFILE_MAX)
}

/// Sends `signal` to the process whose id is in `pidfile`.
pub(super) fn send_signal(signal: &str, pidfile: &str) -> Result<String, HookFailure> {
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

/// Sends `signal` to process `pid` if it is still the process that
/// started at `start_ticks` (a consumer of a key; never a reused pid).
pub(super) fn signal_process(
    signal: &str,
    pid: u32,
    start_ticks: u64,
) -> Result<String, HookFailure> {
    let name = signal.trim_start_matches("SIG");
    let number = signal_number(signal).ok_or_else(|| HookFailure::UnknownSignal(signal.into()))?;
    if pid <= 1 || !Process::lives(pid, start_ticks) {
        return Ok(format!("process {pid} is gone: no SIG{name} sent"));
    }
    let Ok(target) = i32::try_from(pid) else {
        return Ok(format!("process {pid} is out of range: no SIG{name} sent"));
    };
    // SAFETY: kill(2) with a pid just seen alive and a known signal number.
    if unsafe { libc::kill(target, number) } == 0 {
        Ok(format!("SIG{name} sent to process {pid}"))
    } else {
        Err(HookFailure::Signal {
            signal: name.into(),
            pid: target,
            source: std::io::Error::last_os_error(),
        })
    }
}
