//! systemd readiness for `Type=notify` units: `READY=1` once the mount is there, `STOPPING=1` when it is being taken down; nothing at all without `$NOTIFY_SOCKET`.
//!
//! The protocol (one datagram to the socket `$NOTIFY_SOCKET` names,
//! abstract names included) is the `sd-notify` crate's. Readiness is sent
//! from the mount's `ready` callback, which runs after the mount(2) call
//! returned: a unit ordered after certfs.service finds the mount in place.
//! `STOPPING=1` goes out on the first SIGINT or SIGTERM (the mount's own
//! handler unmounts; this one only tells systemd), or when the mount ends
//! otherwise (`umount`), once either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sd_notify::NotifyState;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Tells systemd about one mount's life. Without `$NOTIFY_SOCKET` every
/// call does nothing.
pub struct Notifier {
    stopping_sent: Arc<AtomicBool>,
    signals: Option<(Handle, std::thread::JoinHandle<()>)>,
}

impl Notifier {
    /// A notifier for one mount; nothing is sent yet.
    pub fn new() -> Notifier {
        Notifier {
            stopping_sent: Arc::new(AtomicBool::new(false)),
            signals: None,
        }
    }

    /// `READY=1`, with the mountpoint in `STATUS=`; from now on the first
    /// SIGINT or SIGTERM also says `STOPPING=1`. Called from the mount's
    /// `ready` callback, when the mount's own signal handler (which
    /// unmounts) is in place: a handler of this module's alone would
    /// swallow the signal.
    pub fn ready(&mut self, mountpoint: &str) {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return;
        }
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                let handle = signals.handle();
                let sent = self.stopping_sent.clone();
                let thread = std::thread::spawn(move || {
                    if signals.forever().next().is_some() {
                        stopping(&sent);
                    }
                });
                self.signals = Some((handle, thread));
            }
            Err(e) => log::warn!("cannot watch signals to tell systemd of a stop: {e}"),
        }
        let status = format!("serving {mountpoint}");
        send(&[NotifyState::Ready, NotifyState::Status(&status)]);
    }

    /// `STOPPING=1` (unless a signal already said it), and the signal
    /// watch ends.
    pub fn stopped(self) {
        stopping(&self.stopping_sent);
        if let Some((handle, thread)) = self.signals {
            handle.close();
            let _ = thread.join();
        }
    }
}

fn stopping(sent: &AtomicBool) {
    if !sent.swap(true, Ordering::SeqCst) {
        send(&[NotifyState::Stopping]);
    }
}

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("cannot notify systemd ($NOTIFY_SOCKET): {e}");
    }
}
