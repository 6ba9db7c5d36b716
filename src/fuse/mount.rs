//! Running a mount: options, the fuser session, and a clean unmount on SIGINT, SIGTERM or `umount`.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fuser::{Config, MountOption, Session, SessionACL};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::adapter::CertFs;
use crate::vault::VaultService;

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Let other users in (`allow_other`), with the kernel enforcing modes (`default_permissions`).
    pub allow_other: bool,
    /// Threads reading kernel requests.
    pub threads: usize,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: false,
            threads: 4,
        }
    }
}

/// Mounts `vault` at `mountpoint` and serves it until it is unmounted
/// (`umount`, `fusermount3 -u`) or the process gets SIGINT or SIGTERM,
/// which unmount it cleanly. `ready` runs once the mount is live.
pub fn run(
    vault: Arc<VaultService>,
    mountpoint: &Path,
    options: &MountOptions,
    ready: impl FnOnce(),
) -> io::Result<()> {
    let mut mount_options = vec![
        MountOption::FSName("certfs".into()),
        MountOption::Subtype("certfs".into()),
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
    ];
    let mut acl = SessionACL::Owner;
    if options.allow_other {
        mount_options.push(MountOption::DefaultPermissions);
        acl = SessionACL::All;
    }
    let mut config = Config::default();
    config.mount_options = mount_options;
    config.acl = acl;
    config.n_threads = Some(options.threads.max(1));
    config.clone_fd = true;

    let notifier = Arc::new(OnceLock::new());
    // Files show the daemon's own user and group.
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let fs = CertFs::new(vault, uid, gid, notifier.clone());
    let mut session = Session::new(fs, mountpoint, &config)?;
    let _ = notifier.set(session.notifier());
    let mut unmounter = session.unmount_callable();

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let signal_handle = signals.handle();
    let target = mountpoint.to_path_buf();
    let signal_thread = std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            log::info!("signal {signal}: unmounting {}", target.display());
            if let Err(e) = unmounter.unmount() {
                log::error!("unmount of {} failed: {e}", target.display());
            }
        }
    });
    ready();
    let result = session.run();
    signal_handle.close();
    let _ = signal_thread.join();
    result
}
