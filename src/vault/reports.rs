//! `.error` reports: the reason a write, mkdir, rmdir, unlink or rename was refused, left beside its name (certfs' own files, never a user's), and cleared when a later action on the name is accepted.

use std::sync::Arc;

use super::changes::Changes;
use super::clock::now;
use super::error::VaultError;
use super::node::Node;
use super::service::VaultService;
use super::side::{self, Guard, SideFile};

impl VaultService {
    /// Leaves `<name>.error` for a refusal, or removes a stale one after success.
    pub(super) fn report<T>(&self, node: &Node, result: &Result<T, VaultError>) {
        let Some((dir, name)) = self.location(node) else {
            return;
        };
        let error_name = side::error_name(&name);
        let mut side = self.scratch();
        match result {
            Ok(_) => {
                side.remove(&dir, &error_name);
            }
            Err(e) => {
                log::warn!("{name}: {e}");
                side.put(&dir, &error_name, self.report_file(e));
            }
        }
    }

    /// The report of `e`: the mount's owner's, readable by all who see the
    /// folder (it says what was refused and why, never a secret).
    pub(super) fn report_file(&self, e: &VaultError) -> SideFile {
        let data = Arc::from(e.to_error_json().into_bytes());
        SideFile::holding(data, self.mount_owner(), 0o644, Guard::default(), now())
    }

    /// The directory and name of a file node.
    fn location(&self, node: &Node) -> Option<(Node, String)> {
        match node {
            Node::CertificateFile(v, c, f) => Some((
                Node::Certificate(v.clone(), c.clone()),
                f.file_name().into(),
            )),
            Node::Side(dir, name) => Some(((**dir).clone(), name.clone())),
            Node::VaultFile(v, f) => Some((Node::Vault(v.clone()), f.file_name().into())),
            Node::IssuerFile(v, name) => Some((Node::Issuers(v.clone()), format!("{name}.json"))),
            Node::VersionFile {
                vault,
                cert,
                version,
                file,
                current,
            } => {
                let dir = if *current {
                    Node::Certificate(vault.clone(), cert.clone())
                } else {
                    Node::Version(vault.clone(), cert.clone(), version.clone())
                };
                Some((dir, file.file_name().into()))
            }
            _ => None,
        }
    }

    /// Leaves the reason a `mkdir`, `rmdir` or `unlink` of `name` was
    /// refused in `<name>.error` beside it, or clears an old one when it was
    /// done. Not for names that are not there (the kernel asks about those
    /// only in races) or a file where a folder was meant. True when a
    /// report was cleared (the folder's listing changed).
    pub(super) fn report_in(
        &self,
        dir: &Node,
        name: &str,
        result: Result<(), &VaultError>,
    ) -> bool {
        let holds_reports = matches!(
            dir,
            Node::Root
                | Node::Vault(_)
                | Node::Certificate(..)
                | Node::Import(_)
                | Node::Merge(..)
                | Node::Issuers(_)
                | Node::Restore(_)
                | Node::Deleted(_)
        );
        if !holds_reports || name.ends_with(side::ERROR_SUFFIX) {
            return false;
        }
        let error_name = side::error_name(name);
        match result {
            Ok(()) => self.scratch().remove_report(dir, &error_name),
            Err(
                VaultError::NotFound(_) | VaultError::IsDirectory(_) | VaultError::NotDirectory(_),
            ) => false,
            Err(e) => {
                let report = self.report_file(e);
                self.scratch().put(dir, &error_name, report);
                false
            }
        }
    }

    /// Leaves or clears the report of a `rmdir` or `unlink` (see
    /// [`Self::report_in`]); a cleared one is a change of `dir`.
    pub(super) fn reported(
        &self,
        dir: &Node,
        name: &str,
        result: Result<Changes, VaultError>,
    ) -> Result<Changes, VaultError> {
        let cleared = self.report_in(dir, name, result.as_ref().map(|_| ()));
        result.map(|mut changes| {
            if cleared {
                changes.dirs.push(dir.clone());
            }
            changes
        })
    }
}
