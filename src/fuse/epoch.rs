//! [`Epochs`]: telling the kernel to drop every name it caches at once (`FUSE_NOTIFY_INC_EPOCH`, Linux 6.16+), a notification fuser cannot send.
//!
//! After the notification, every cached entry (found or missing) is
//! looked up again at its next use; an entry whose lookup was sent before
//! it is never kept. It takes no lock in the kernel (an atomic increment),
//! so it may be sent while the vault's model is write-locked: that is
//! what makes a switch of version atomic for cached names.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, OnceLock};

/// `FUSE_NOTIFY_INC_EPOCH` in `enum fuse_notify_code` (include/uapi/linux/fuse.h).
const FUSE_NOTIFY_INC_EPOCH: i32 = 8;

/// A handle on the mount's `/dev/fuse` connection, for epoch notifications.
pub struct Epochs {
    dev: File,
}

impl Epochs {
    /// A handle on the connection behind `fuse` if the kernel takes epoch
    /// notifications (one is sent to find out: harmless at start).
    pub fn probe(fuse: BorrowedFd<'_>) -> Option<Epochs> {
        let epochs = Epochs {
            dev: File::from(fuse.try_clone_to_owned().ok()?),
        };
        match epochs.bump() {
            Ok(()) => Some(epochs),
            Err(e) => {
                log::info!(
                    "the kernel cannot drop all cached names at once ({e}; Linux 6.16+ can): \
                     a certificate's top-level names are looked up at each open"
                );
                None
            }
        }
    }

    /// What the vault calls on each switch of version: a new epoch, once
    /// `epochs` is set (a failure only means the connection is gone).
    pub fn hook(epochs: Arc<OnceLock<Epochs>>) -> crate::vault::SwitchHook {
        Box::new(move || {
            if let Some(Err(e)) = epochs.get().map(Epochs::bump) {
                log::debug!("epoch notification: {e}");
            }
        })
    }

    /// Makes every name the kernel cached stale.
    pub fn bump(&self) -> io::Result<()> {
        // struct fuse_out_header { u32 len; i32 error (the code); u64 unique (0) }
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&16u32.to_ne_bytes());
        header[4..8].copy_from_slice(&FUSE_NOTIFY_INC_EPOCH.to_ne_bytes());
        // One message is one write(2) on /dev/fuse.
        let written = (&self.dev).write(&header)?;
        if written == header.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "short write of an epoch notification: {written} bytes"
            )))
        }
    }
}
