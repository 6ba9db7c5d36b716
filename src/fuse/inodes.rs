//! The inode table: vault [`Node`]s ↔ inode numbers, stable for the life of the mount.
//!
//! Numbers are handed out on first sight and never reused while mounted,
//! so `stat` shows the same inode for a name until what it names changes.
//! The table also remembers under which (parent, name) each inode was seen,
//! which is what kernel cache invalidation needs.

use std::collections::{BTreeMap, HashMap};

use parking_lot::RwLock;

use crate::vault::Node;

/// The root directory's inode number (FUSE's `FUSE_ROOT_ID`).
pub const ROOT_INO: u64 = 1;

#[derive(Default)]
struct Table {
    by_node: HashMap<Node, u64>,
    nodes: Vec<Node>,
    /// parent inode → name → child inode, as the kernel was told.
    children: HashMap<u64, BTreeMap<String, u64>>,
}

/// Thread-safe map between nodes and inode numbers.
pub struct Inodes {
    table: RwLock<Table>,
}

impl Inodes {
    /// A table holding only the root.
    pub fn new() -> Self {
        let mut table = Table::default();
        table.nodes.push(Node::Root); // index 0 = inode 1
        table.by_node.insert(Node::Root, ROOT_INO);
        Inodes {
            table: RwLock::new(table),
        }
    }

    /// The node behind `ino`, if the kernel was ever told about it.
    pub fn node(&self, ino: u64) -> Option<Node> {
        let index = usize::try_from(ino.checked_sub(1)?).ok()?;
        self.table.read().nodes.get(index).cloned()
    }

    /// The inode for `node`, seen as `name` under `parent`; allocates on first sight.
    pub fn intern(&self, parent: u64, name: &str, node: &Node) -> u64 {
        {
            // One read guard: a second one taken while a writer waits would
            // deadlock (parking_lot's lock is fair).
            let t = self.table.read();
            if let Some(&ino) = t.by_node.get(node) {
                if t.children.get(&parent).and_then(|c| c.get(name)) == Some(&ino) {
                    return ino;
                }
            }
        }
        let mut t = self.table.write();
        let ino = match t.by_node.get(node) {
            Some(&ino) => ino,
            None => {
                t.nodes.push(node.clone());
                let ino = t.nodes.len() as u64;
                t.by_node.insert(node.clone(), ino);
                ino
            }
        };
        t.children
            .entry(parent)
            .or_default()
            .insert(name.to_owned(), ino);
        ino
    }

    /// The inode of `node` if it has one, without allocating.
    pub fn get(&self, node: &Node) -> Option<u64> {
        self.table.read().by_node.get(node).copied()
    }

    /// Every (parent inode, name) under which the kernel was shown `ino`.
    pub fn names_of(&self, ino: u64) -> Vec<(u64, String)> {
        let t = self.table.read();
        let mut out = Vec::new();
        for (parent, names) in &t.children {
            for (name, child) in names {
                if *child == ino {
                    out.push((*parent, name.clone()));
                }
            }
        }
        out
    }

    /// The inode the kernel was shown as `name` under `parent`, if any.
    pub fn child(&self, parent: u64, name: &str) -> Option<u64> {
        self.table.read().children.get(&parent)?.get(name).copied()
    }

    /// Every (name, child inode) the kernel may have cached under `parent`.
    pub fn children(&self, parent: u64) -> Vec<(String, u64)> {
        self.table
            .read()
            .children
            .get(&parent)
            .map(|c| c.iter().map(|(n, i)| (n.clone(), *i)).collect())
            .unwrap_or_default()
    }
}

impl Default for Inodes {
    fn default() -> Self {
        Self::new()
    }
}

impl Inodes {
    /// Records a successful rename: the kernel now shows inode `ino` as
    /// `new_name` under `new_parent`, so it must resolve to `node`, the
    /// vault's node at that name. The old node loses its inode; if it still
    /// exists it gets a new one at its next lookup.
    pub fn renamed(
        &self,
        ino: u64,
        old_parent: u64,
        old_name: &str,
        new_parent: u64,
        new_name: &str,
        node: &Node,
    ) {
        let mut t = self.table.write();
        let Some(index) = usize::try_from(ino.wrapping_sub(1))
            .ok()
            .filter(|i| *i < t.nodes.len())
        else {
            return;
        };
        let old = std::mem::replace(&mut t.nodes[index], node.clone());
        if t.by_node.get(&old) == Some(&ino) {
            t.by_node.remove(&old);
        }
        // Later lookups of the new name find the inode the kernel already shows there.
        t.by_node.insert(node.clone(), ino);
        if let Some(children) = t.children.get_mut(&old_parent) {
            children.remove(old_name);
        }
        t.children
            .entry(new_parent)
            .or_default()
            .insert(new_name.to_owned(), ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::name::VaultName;

    fn vault(i: usize) -> Node {
        Node::Vault(VaultName::parse(&format!("vault{i}")).unwrap())
    }

    #[test]
    fn numbers_are_stable_and_never_reused() {
        let inodes = Inodes::new();
        let a = inodes.intern(ROOT_INO, "vault1", &vault(1));
        let b = inodes.intern(ROOT_INO, "vault2", &vault(2));
        assert_ne!(a, b);
        assert_eq!(
            inodes.intern(ROOT_INO, "VAULT1", &vault(1)),
            a,
            "same node, same inode"
        );
        assert_eq!(inodes.node(a), Some(vault(1)));
        assert_eq!(inodes.node(ROOT_INO), Some(Node::Root));
        assert_eq!(inodes.node(0), None);
        assert_eq!(inodes.node(999), None);
    }

    #[test]
    fn known_and_new_names_interned_together_do_not_deadlock() {
        // Readers of known names and writers of new ones at once: with two
        // read guards in one call this hung forever.
        let inodes = std::sync::Arc::new(Inodes::new());
        inodes.intern(ROOT_INO, "vault0", &vault(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let inodes = inodes.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        if t % 2 == 0 {
                            inodes.intern(ROOT_INO, "vault0", &vault(0));
                        } else {
                            let n = 1 + (i % 500) * 2 + t;
                            inodes.intern(ROOT_INO, &format!("vault{n}"), &vault(n));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
