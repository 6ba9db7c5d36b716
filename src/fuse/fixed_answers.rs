//! The requests whose answer does not depend on the tree: `statfs`, and those certfs answers "not here" to, quietly and as a Linux filesystem without them does (extended attributes, special files, links, preallocation).
//!
//! fuser's defaults answer the latter too, but log a warning each time,
//! and `ls -la` asks for `security.selinux` on every file. The answers:
//!
//! - extended attributes: `ENOSYS`, which tells the kernel once for the
//!   whole mount that there are none (callers then get `EOPNOTSUPP` from
//!   the kernel itself, with no more requests: `ls`, `cp -a` and
//!   `rsync -X` carry on without them);
//! - `mknod` (FIFOs, sockets, devices), `symlink`, `link`: `EPERM`, as vfat
//!   answers: a vault holds certificates and documents, not links;
//! - `fallocate`: `EOPNOTSUPP` (nothing to preallocate: a written file is a
//!   buffer until it is closed);
//! - `copy_file_range`, `lseek` (`SEEK_DATA`/`SEEK_HOLE`), `fsyncdir`,
//!   `ioctl`: `ENOSYS`, after which the kernel does the generic thing
//!   (a read/write copy, whole-file data, nothing to sync, `ENOTTY`).

/// The methods of `fuser::Filesystem` for the requests above, expanded
/// inside the adapter's `impl` (one trait impl must hold them all).
macro_rules! fixed_answers {
    () => {
        fn statfs(&self, _: &Request, _: INodeNo, reply: fuser::ReplyStatfs) {
            self.counts.add(Op::Other);
            reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
        }

        fn getxattr(&self, _: &Request, _: INodeNo, _: &OsStr, _: u32, reply: fuser::ReplyXattr) {
            reply.error(Errno::ENOSYS);
        }

        fn listxattr(&self, _: &Request, _: INodeNo, _: u32, reply: fuser::ReplyXattr) {
            reply.error(Errno::ENOSYS);
        }

        #[allow(clippy::too_many_arguments)]
        fn setxattr(
            &self,
            _: &Request,
            _: INodeNo,
            _: &OsStr,
            _: &[u8],
            _: i32,
            _: u32,
            reply: ReplyEmpty,
        ) {
            reply.error(Errno::ENOSYS);
        }

        fn removexattr(&self, _: &Request, _: INodeNo, _: &OsStr, reply: ReplyEmpty) {
            reply.error(Errno::ENOSYS);
        }

        #[allow(clippy::too_many_arguments)]
        fn mknod(
            &self,
            _: &Request,
            _: INodeNo,
            _: &OsStr,
            _: u32,
            _: u32,
            _: u32,
            reply: ReplyEntry,
        ) {
            reply.error(Errno::EPERM);
        }

        fn symlink(
            &self,
            _: &Request,
            _: INodeNo,
            _: &OsStr,
            _: &std::path::Path,
            reply: ReplyEntry,
        ) {
            reply.error(Errno::EPERM);
        }

        fn link(&self, _: &Request, _: INodeNo, _: INodeNo, _: &OsStr, reply: ReplyEntry) {
            reply.error(Errno::EPERM);
        }

        #[allow(clippy::too_many_arguments)]
        fn fallocate(
            &self,
            _: &Request,
            _: INodeNo,
            _: FileHandle,
            _: u64,
            _: u64,
            _: i32,
            reply: ReplyEmpty,
        ) {
            reply.error(Errno::EOPNOTSUPP);
        }

        #[allow(clippy::too_many_arguments)]
        fn copy_file_range(
            &self,
            _: &Request,
            _: INodeNo,
            _: FileHandle,
            _: u64,
            _: INodeNo,
            _: FileHandle,
            _: u64,
            _: u64,
            _: fuser::CopyFileRangeFlags,
            reply: fuser::ReplyWrite,
        ) {
            reply.error(Errno::ENOSYS);
        }

        fn lseek(
            &self,
            _: &Request,
            _: INodeNo,
            _: FileHandle,
            _: i64,
            _: i32,
            reply: fuser::ReplyLseek,
        ) {
            reply.error(Errno::ENOSYS);
        }

        fn fsyncdir(&self, _: &Request, _: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
            reply.error(Errno::ENOSYS);
        }

        #[allow(clippy::too_many_arguments)]
        fn ioctl(
            &self,
            _: &Request,
            _: INodeNo,
            _: FileHandle,
            _: fuser::IoctlFlags,
            _: u32,
            _: &[u8],
            _: u32,
            reply: fuser::ReplyIoctl,
        ) {
            reply.error(Errno::ENOSYS);
        }
    };
}

pub(super) use fixed_answers;
