//! Running a mount: options, the fuser session, a clean unmount on SIGINT, SIGTERM or `umount`, and SIGHUP to look at renewals again.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::adapter::CertFs;
use super::epoch::Epochs;
use crate::vault::VaultService;

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Let other users in (`allow_other`); certfs checks modes, owners and vault roles itself.
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
    let mount_options = vec![
        MountOption::FSName("certfs".into()),
        MountOption::Subtype("certfs".into()),
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
    ];
    // With --allow-other every user reaches certfs, which decides each
    // request itself (modes and owners, and the vaults' roles, which one
    // mode word cannot say): no `default_permissions`.
    let acl = if options.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    let mut config = Config::default();
    config.mount_options = mount_options;
    config.acl = acl;
    config.n_threads = Some(options.threads.max(1));
    config.clone_fd = true;

    let notifier = Arc::new(OnceLock::new());
    // Files show the daemon's own user and group.
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    vault.set_mount_owner(uid, gid, options.allow_other);
    // Work off the request path (actions at close, renames) gets at least
    // as many threads as the kernel's requests.
    let offload_threads = super::offload::default_threads().max(options.threads);
    // Taken before the mount appears: a signal sent as soon as it is there
    // (a SIGHUP's default would end the process) waits for the thread below.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let signal_handle = signals.handle();
    let looker = Arc::downgrade(&vault);
    let ending = Arc::new(OnceLock::new());
    let epochs = Arc::new(OnceLock::new());
    let kernel = (notifier.clone(), epochs.clone());
    let mut fs = CertFs::new(vault, uid, gid, kernel, offload_threads);
    fs.end = Some(quiet_end(ending.clone(), mountpoint.to_path_buf()));
    if let Some(path) = std::env::var_os(super::counts::COUNTS_FILE) {
        super::counts::dump_on_signal(fs.counts(), path.into())?;
    }
    // What reading the store at mount allocated and freed (the index's
    // records, a whole store's snapshot) goes back to the system now,
    // rather than staying in the heap for the daemon's life.
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
    let mut session = Session::new(fs, mountpoint, &config)?;
    let _ = notifier.set(session.notifier());
    if let Some(handle) = Epochs::probe(std::os::fd::AsFd::as_fd(&session)) {
        let _ = epochs.set(handle);
    }
    let _ = ending.set(parking_lot::Mutex::new(session.unmount_callable()));
    let mut unmounter = session.unmount_callable();

    let target = mountpoint.to_path_buf();
    let signal_thread = std::thread::spawn(move || {
        // SIGHUP (`systemctl reload`): the renewal scheduler looks again.
        let mut stops = signals.forever().filter(|&signal| {
            if let (SIGHUP, Some(vault)) = (signal, looker.upgrade()) {
                vault.look_again();
            }
            signal != SIGHUP
        });
        let Some(signal) = stops.next() else {
            return;
        };
        log::info!("signal {signal}: unmounting {}", target.display());
        match unmounter.unmount() {
            Ok(()) => return,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // As libfuse does: detach it now, so the mountpoint is free;
                // the kernel ends the session when the last user lets go.
                log::warn!(
                    "{} is busy (a process has a file open or its working directory there): \
                     detached it; certfs exits when the last of them lets go, or at once on another signal",
                    target.display()
                );
                if let Err(e) = detach(&target) {
                    log::error!("lazy unmount of {} failed: {e}", target.display());
                }
            }
            Err(e) => log::error!("unmount of {} failed: {e}", target.display()),
        }
        if let Some(signal) = stops.next() {
            log::warn!(
                "signal {signal} again: exiting now; processes still inside {} get \
                 'Transport endpoint is not connected'",
                target.display()
            );
            std::process::exit(0);
        }
    });
    ready();
    let result = session.run();
    signal_handle.close();
    let _ = signal_thread.join();
    result
}

/// What runs when the session's requests have ended: the kernel let go of
/// the mount (after a signal or an `umount`, it is gone already, and the
/// unmount fuser tries when the session drops would fail and warn about
/// nothing). The mount is taken from fuser here: unmounted if it is still
/// there (a failure is then ours to say), forgotten quietly if not.
fn quiet_end(
    unmounter: Arc<OnceLock<parking_lot::Mutex<SessionUnmounter>>>,
    mountpoint: std::path::PathBuf,
) -> Box<dyn FnOnce() + Send + Sync> {
    Box::new(move || {
        let Some(unmounter) = unmounter.get() else {
            return;
        };
        let still = still_mounted(&mountpoint);
        if let Err(e) = unmounter.lock().unmount()
            && still
        {
            log::warn!("unmount of {} failed: {e}", mountpoint.display());
        }
    })
}

/// Whether a certfs mount is still at `mountpoint` (`/proc/self/mountinfo`
/// says so, or the path cannot be resolved: a dead mount answers ENOTCONN).
fn still_mounted(mountpoint: &Path) -> bool {
    let Ok(path) = mountpoint.canonicalize() else {
        return true;
    };
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    // Field 5 is the mount point, with space, tab, newline and backslash
    // written as octal escapes; the filesystem type follows " - ".
    let escaped = path
        .to_string_lossy()
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012");
    table.lines().any(|line| {
        line.split(' ').nth(4) == Some(escaped.as_str())
            && line
                .split_once(" - ")
                .is_some_and(|(_, rest)| rest.starts_with("fuse.certfs "))
    })
}

/// A lazy unmount (`umount -l`): the mount leaves the namespace at once and
/// the kernel keeps it for processes still inside until they let go.
fn detach(mountpoint: &Path) -> io::Result<()> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(mountpoint.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: umount2 reads a NUL-terminated path that outlives the call.
        if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
            return Ok(());
        }
        return Err(io::Error::last_os_error());
    }
    let status = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(mountpoint)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("fusermount3 -u -z: {status}")))
    }
}
