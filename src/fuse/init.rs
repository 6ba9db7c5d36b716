//! What certfs asks of the kernel when a mount starts (`init`): `O_TRUNC` as a flag of `open`, listings with attributes, parallel lookups.

use fuser::{InitFlags, KernelConfig};

/// What certfs asks of the kernel at `init`, beyond the defaults.
pub(super) fn negotiate(config: &mut KernelConfig) {
    // open(O_TRUNC) must reach us as a flag, not as a separate truncate:
    // truncating policy.json alone is no action.
    if let Err(missing) = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC) {
        log::warn!("kernel lacks {missing:?}; O_TRUNC opens may misbehave");
    }
    // Listings hand out attributes with the names (`ls -l` needs no
    // lookup per entry), when the kernel sees they are wanted; lookups
    // in one directory run in parallel. Both are only speed.
    let speed = InitFlags::FUSE_DO_READDIRPLUS
        | InitFlags::FUSE_READDIRPLUS_AUTO
        | InitFlags::FUSE_PARALLEL_DIROPS;
    if let Err(missing) = config.add_capabilities(speed) {
        log::info!("kernel lacks {missing:?}: listings and lookups are slower");
    }
}
