//! The FUSE adapter: inodes, handles and errno; it asks the vault service and replies.
