//! The inode table: vault [`Node`]s ↔ inode numbers, for as long as the kernel remembers them.
//!
//! A node's number is a hash of the node, so the same node gets the same
//! number whenever it is seen again (also after the kernel forgot it, and
//! in directory listings, which allocate nothing). The table holds only
//! what the kernel holds: every reply that hands the kernel an entry
//! counts one lookup, and FUSE `forget` gives them back; at zero the node
//! leaves the table. For each node it also remembers under which
//! (parent, name) the kernel saw it, which is what cache invalidation
//! needs; both directions are indexed.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use parking_lot::RwLock;

use crate::vault::Node;

/// The root directory's inode number (FUSE's `FUSE_ROOT_ID`).
pub const ROOT_INO: u64 = 1;

/// One node the kernel knows.
struct Slot {
    node: Node,
    /// Lookups the kernel holds (replies with this entry, minus forgets).
    lookups: u64,
    /// Where the kernel saw it: (parent inode, name).
    names: Vec<(u64, Box<str>)>,
}

/// The names the kernel saw under one directory, files apart from
/// directories (a change to a directory re-checks its files only).
#[derive(Default)]
struct Children {
    files: HashMap<Box<str>, u64>,
    dirs: HashMap<Box<str>, u64>,
}

impl Children {
    fn of_kind(&mut self, dir: bool) -> &mut HashMap<Box<str>, u64> {
        if dir { &mut self.dirs } else { &mut self.files }
    }
}

struct Table {
    slots: HashMap<u64, Slot>,
    /// Nodes held under another number than their hash (the root, a
    /// renamed inode, a hash taken by another node): few.
    moved: HashMap<Node, u64>,
    children: HashMap<u64, Children>,
}

impl Table {
    /// The inode of `node`, if the table holds it.
    fn get(&self, node: &Node) -> Option<u64> {
        if let Some(&ino) = self.moved.get(node) {
            return Some(ino);
        }
        let ino = hash_of(node);
        self.slots
            .get(&ino)
            .is_some_and(|slot| slot.node == *node)
            .then_some(ino)
    }

    /// The number `node` has, or would get now.
    fn number(&self, node: &Node) -> u64 {
        if let Some(ino) = self.get(node) {
            return ino;
        }
        let mut ino = hash_of(node);
        // A different node holding the hash (1 in 2^64 per pair) moves this one on.
        while ino <= ROOT_INO || self.slots.contains_key(&ino) {
            ino = ino.wrapping_add(1);
        }
        ino
    }

    /// Records that the kernel was given `node` as `name` under `parent`, as inode `ino`.
    fn record(&mut self, parent: u64, name: &str, node: &Node, ino: u64) {
        let slot = self.slots.entry(ino).or_insert_with(|| Slot {
            node: node.clone(),
            lookups: 0,
            names: Vec::new(),
        });
        slot.lookups += 1;
        if !slot.names.iter().any(|(p, n)| *p == parent && &**n == name) {
            slot.names.push((parent, name.into()));
        }
        if ino != hash_of(node) {
            self.moved.entry(node.clone()).or_insert(ino);
        }
        let previous = self
            .children
            .entry(parent)
            .or_default()
            .of_kind(node.is_dir())
            .insert(name.into(), ino);
        // The name meant another node before (a new version): that node is
        // no longer seen there.
        if let Some(old) = previous.filter(|old| *old != ino) {
            if let Some(slot) = self.slots.get_mut(&old) {
                slot.names.retain(|(p, n)| !(*p == parent && &**n == name));
            }
        }
    }

    /// Drops inode `ino` and every name it was seen under.
    fn remove(&mut self, ino: u64) {
        let Some(slot) = self.slots.remove(&ino) else {
            return;
        };
        if self.moved.get(&slot.node) == Some(&ino) {
            self.moved.remove(&slot.node);
        }
        let dir = slot.node.is_dir();
        for (parent, name) in &slot.names {
            if let Some(children) = self.children.get_mut(parent) {
                let names = children.of_kind(dir);
                if names.get(name) == Some(&ino) {
                    names.remove(name);
                }
                if children.files.is_empty() && children.dirs.is_empty() {
                    self.children.remove(parent);
                }
            }
        }
        self.children.remove(&ino);
    }
}

/// A stable 64-bit number for `node` (SipHash with fixed keys).
fn hash_of(node: &Node) -> u64 {
    #[allow(deprecated)] // SipHasher's fixed keys are the point: the same node, the same number.
    let mut h = std::hash::SipHasher::new();
    node.hash(&mut h);
    h.finish()
}

/// Thread-safe map between nodes and inode numbers.
pub struct Inodes {
    table: RwLock<Table>,
}

impl Inodes {
    /// A table holding only the root.
    pub fn new() -> Self {
        let mut slots = HashMap::new();
        slots.insert(
            ROOT_INO,
            Slot {
                node: Node::Root,
                lookups: 1,
                names: Vec::new(),
            },
        );
        let mut moved = HashMap::new();
        moved.insert(Node::Root, ROOT_INO);
        Inodes {
            table: RwLock::new(Table {
                slots,
                moved,
                children: HashMap::new(),
            }),
        }
    }

    /// The node behind `ino`, if the kernel holds it.
    pub fn node(&self, ino: u64) -> Option<Node> {
        self.table.read().slots.get(&ino).map(|s| s.node.clone())
    }

    /// The inode for `node`, seen as `name` under `parent`, counting one
    /// lookup: call it for each entry the kernel is given (lookup, mkdir,
    /// create, readdirplus).
    pub fn intern(&self, parent: u64, name: &str, node: &Node) -> u64 {
        let mut t = self.table.write();
        let ino = t.number(node);
        t.record(parent, name, node, ino);
        ino
    }

    /// As [`intern`](Self::intern), but counts the lookup only if `give`
    /// (handing the entry to the kernel, with its number) returns true.
    pub fn intern_if(
        &self,
        parent: u64,
        name: &str,
        node: &Node,
        give: impl FnOnce(u64) -> bool,
    ) -> bool {
        let mut t = self.table.write();
        let ino = t.number(node);
        let given = give(ino);
        if given {
            t.record(parent, name, node, ino);
        }
        given
    }

    /// The number `node` has or would get, without counting a lookup (for
    /// directory listings, which give the kernel no entry).
    pub fn number(&self, node: &Node) -> u64 {
        self.table.read().number(node)
    }

    /// The kernel forgot `count` lookups of `ino`; at none left it leaves the table.
    pub fn forget(&self, ino: u64, count: u64) {
        if ino == ROOT_INO {
            return;
        }
        let mut t = self.table.write();
        let Some(slot) = t.slots.get_mut(&ino) else {
            return;
        };
        slot.lookups = slot.lookups.saturating_sub(count);
        if slot.lookups == 0 {
            t.remove(ino);
        }
    }

    /// The inode of `node` if the kernel holds it.
    pub fn get(&self, node: &Node) -> Option<u64> {
        self.table.read().get(node)
    }

    /// Every (parent inode, name) under which the kernel was shown `ino`.
    pub fn names_of(&self, ino: u64) -> Vec<(u64, String)> {
        self.table
            .read()
            .slots
            .get(&ino)
            .map(|s| s.names.iter().map(|(p, n)| (*p, n.to_string())).collect())
            .unwrap_or_default()
    }

    /// Every (name, inode) of a file the kernel may have cached under `parent`.
    pub fn files(&self, parent: u64) -> Vec<(String, u64)> {
        self.table
            .read()
            .children
            .get(&parent)
            .map(|c| c.files.iter().map(|(n, i)| (n.to_string(), *i)).collect())
            .unwrap_or_default()
    }

    /// The inode the kernel was shown as `name` under `parent`, if any.
    pub fn child(&self, parent: u64, name: &str) -> Option<u64> {
        let t = self.table.read();
        let children = t.children.get(&parent)?;
        children
            .files
            .get(name)
            .or_else(|| children.dirs.get(name))
            .copied()
    }

    /// Every (name, inode) the kernel may have cached under `parent`, files and directories.
    pub fn children(&self, parent: u64) -> Vec<(String, u64)> {
        self.table
            .read()
            .children
            .get(&parent)
            .map(|c| {
                c.files
                    .iter()
                    .chain(&c.dirs)
                    .map(|(n, i)| (n.to_string(), *i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many nodes the table holds (the root included).
    pub fn len(&self) -> usize {
        self.table.read().slots.len()
    }

    /// Whether the table holds only the root (never: kept for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a successful rename: the kernel now shows inode `ino` as
    /// `new_name` under `new_parent`, so it must resolve to `node`, the
    /// vault's node at that name. The old node loses this inode; if it
    /// still exists it gets another number at its next lookup.
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
        let Some(slot) = t.slots.get_mut(&ino) else {
            return;
        };
        let old = std::mem::replace(&mut slot.node, node.clone());
        slot.names
            .retain(|(p, n)| !(*p == old_parent && &**n == old_name));
        if !slot
            .names
            .iter()
            .any(|(p, n)| *p == new_parent && &**n == new_name)
        {
            slot.names.push((new_parent, new_name.into()));
        }
        if t.moved.get(&old) == Some(&ino) {
            t.moved.remove(&old);
        }
        // Later lookups of the new name find the inode the kernel already
        // shows there (another inode the node had stays until forgotten).
        if ino != hash_of(node) {
            t.moved.insert(node.clone(), ino);
        }
        if let Some(children) = t.children.get_mut(&old_parent) {
            let names = children.of_kind(old.is_dir());
            if names.get(old_name) == Some(&ino) {
                names.remove(old_name);
            }
        }
        t.children
            .entry(new_parent)
            .or_default()
            .of_kind(node.is_dir())
            .insert(new_name.into(), ino);
    }
}

impl Default for Inodes {
    fn default() -> Self {
        Self::new()
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
    fn forgotten_nodes_leave_and_come_back_with_their_number() {
        let inodes = Inodes::new();
        let a = inodes.intern(ROOT_INO, "vault1", &vault(1));
        assert_eq!(inodes.number(&vault(1)), a);
        inodes.intern(ROOT_INO, "vault1", &vault(1));
        inodes.forget(a, 1);
        assert_eq!(inodes.node(a), Some(vault(1)), "one lookup is still held");
        inodes.forget(a, 1);
        assert_eq!(inodes.node(a), None, "all lookups forgotten");
        assert_eq!(inodes.len(), 1, "only the root is left");
        assert!(inodes.children(ROOT_INO).is_empty());
        assert_eq!(inodes.intern(ROOT_INO, "vault1", &vault(1)), a);
        inodes.forget(ROOT_INO, 100);
        assert_eq!(inodes.node(ROOT_INO), Some(Node::Root), "the root stays");
    }

    #[test]
    fn names_are_indexed_both_ways() {
        let inodes = Inodes::new();
        let a = inodes.intern(ROOT_INO, "vault1", &vault(1));
        inodes.intern(ROOT_INO, "VAULT1", &vault(1));
        let mut names = inodes.names_of(a);
        names.sort();
        assert_eq!(
            names,
            vec![
                (ROOT_INO, "VAULT1".to_owned()),
                (ROOT_INO, "vault1".to_owned())
            ]
        );
        assert!(inodes.files(ROOT_INO).is_empty(), "vaults are directories");
        assert_eq!(inodes.children(ROOT_INO).len(), 2);
    }

    #[test]
    fn a_refused_entry_counts_no_lookup() {
        let inodes = Inodes::new();
        assert!(!inodes.intern_if(ROOT_INO, "vault1", &vault(1), |_| false));
        assert_eq!(inodes.get(&vault(1)), None);
        assert!(inodes.intern_if(ROOT_INO, "vault1", &vault(1), |_| true));
        assert!(inodes.get(&vault(1)).is_some());
    }

    #[test]
    fn known_and_new_names_interned_together_do_not_deadlock() {
        let inodes = std::sync::Arc::new(Inodes::new());
        inodes.intern(ROOT_INO, "vault0", &vault(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let inodes = inodes.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        if t % 2 == 0 {
                            inodes.intern(ROOT_INO, "vault0", &vault(0));
                            inodes.names_of(2);
                        } else {
                            let n = 1 + (i % 500) * 2 + t;
                            let ino = inodes.intern(ROOT_INO, &format!("vault{n}"), &vault(n));
                            inodes.forget(ino, 1);
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
