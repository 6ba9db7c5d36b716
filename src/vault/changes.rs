//! What an action changed, as the directories whose kernel caches must go.

use super::name::{CertificateName, VaultName};
use super::node::Node;

/// Directories whose listing changed because of an action; the adapter
/// drops the kernel's cached entries and attributes under them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The changed directories: each one whose attributes, listing or files
    /// changed. A directory removed other than by the `rmdir` or `rename`
    /// that returns these changes (a scheduled purge, say) is listed too,
    /// so its cached entry goes.
    pub dirs: Vec<Node>,
}

/// Who is told of changes made in the background.
pub type Listener = Box<dyn Fn(&Changes) + Send + Sync>;

/// Who is told, synchronously and with the model's write lock held, that
/// the top-level names of a certificate now lead to another version's
/// nodes (nodes whose [`super::node::Attr::current`] is set). Whatever it
/// does must not wait: readers of the model wait for it. The FUSE layer
/// makes the kernel drop every cached name at once (a new epoch), so no
/// lookup answered after the switch can sit beside a name cached before
/// it.
pub type SwitchHook = Box<dyn Fn() + Send + Sync>;

impl Changes {
    /// Everything a new version or operation of `c` changes.
    pub(crate) fn of_certificate(v: &VaultName, c: &CertificateName) -> Changes {
        Changes {
            dirs: vec![
                Node::Vault(v.clone()),
                Node::Certificate(v.clone(), c.clone()),
                Node::Versions(v.clone(), c.clone()),
                Node::Merge(v.clone(), c.clone()),
                Node::LiveCertificate(v.clone(), c.clone()),
                Node::Live,
            ],
        }
    }
}
