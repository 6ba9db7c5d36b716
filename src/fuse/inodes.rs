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

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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
    names: Vec<(u64, Arc<str>)>,
}

/// The names the kernel saw, by (parent inode, whether a directory,
/// name): the names under one directory are one range, its files apart
/// from its directories (a change to a directory re-checks its files
/// only). One ordered map, not a map per directory: the kernel may hold a
/// name in each of 100,000 certificate directories.
#[derive(Default)]
struct Children(BTreeMap<(u64, bool, Arc<str>), u64>);

impl Children {
    fn get(&self, parent: u64, dir: bool, name: &str) -> Option<u64> {
        self.0.get(&(parent, dir, Arc::from(name))).copied()
    }

    fn insert(&mut self, parent: u64, dir: bool, name: &Arc<str>, ino: u64) -> Option<u64> {
        self.0.insert((parent, dir, name.clone()), ino)
    }

    /// Removes `name` under `parent` if it is `ino`.
    fn remove_if(&mut self, parent: u64, dir: bool, name: &str, ino: u64) {
        let key = (parent, dir, Arc::from(name));
        if self.0.get(&key) == Some(&ino) {
            self.0.remove(&key);
        }
    }

    /// The (name, inode) pairs under `parent`: its files, or its files and directories.
    fn under(&self, parent: u64, dirs_too: bool) -> impl Iterator<Item = (&str, u64)> {
        self.0
            .range((parent, false, Arc::from(""))..)
            .take_while(move |((p, dir, _), _)| *p == parent && (dirs_too || !*dir))
            .map(|((_, _, name), ino)| (&**name, *ino))
    }

    /// Forgets every name under `parent`.
    fn remove_all(&mut self, parent: u64) {
        let keys: Vec<_> = self
            .0
            .range((parent, false, Arc::from(""))..)
            .take_while(|((p, _, _), _)| *p == parent)
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.0.remove(&key);
        }
    }
}

struct Table {
    /// Boxed: the map's slack (up to half its capacity) costs a pointer
    /// per empty slot, not a whole slot.
    slots: HashMap<u64, Box<Slot>>,
    /// Nodes held under another number than their hash (the root, a
    /// renamed inode, a hash taken by another node): few.
    moved: HashMap<Node, u64>,
    children: Children,
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
        let slot = self.slots.entry(ino).or_insert_with(|| {
            Box::new(Slot {
                node: node.clone(),
                lookups: 0,
                names: Vec::new(),
            })
        });
        slot.lookups += 1;
        // One copy of the name, for the slot and the directory's index.
        let shared = match slot
            .names
            .iter()
            .find(|(p, n)| *p == parent && &**n == name)
        {
            Some((_, n)) => n.clone(),
            None => {
                let n: Arc<str> = Arc::from(name);
                slot.names.push((parent, n.clone()));
                n
            }
        };
        if ino != hash_of(node) {
            self.moved.entry(node.clone()).or_insert(ino);
        }
        let previous = self.children.insert(parent, node.is_dir(), &shared, ino);
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
            self.children.remove_if(*parent, dir, name, ino);
        }
        self.children.remove_all(ino);
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
            Box::new(Slot {
                node: Node::Root,
                lookups: 1,
                names: Vec::new(),
            }),
        );
        let mut moved = HashMap::new();
        moved.insert(Node::Root, ROOT_INO);
        Inodes {
            table: RwLock::new(Table {
                slots,
                moved,
                children: Children::default(),
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
        let t = self.table.read();
        t.children
            .under(parent, false)
            .map(|(n, i)| (n.to_owned(), i))
            .collect()
    }

    /// The inode the kernel was shown as `name` under `parent`, if any.
    pub fn child(&self, parent: u64, name: &str) -> Option<u64> {
        let t = self.table.read();
        t.children
            .get(parent, false, name)
            .or_else(|| t.children.get(parent, true, name))
    }

    /// Every (name, inode) the kernel may have cached under `parent`, files and directories.
    pub fn children(&self, parent: u64) -> Vec<(String, u64)> {
        let t = self.table.read();
        t.children
            .under(parent, true)
            .map(|(n, i)| (n.to_owned(), i))
            .collect()
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
        let shared = match slot
            .names
            .iter()
            .find(|(p, n)| *p == new_parent && &**n == new_name)
        {
            Some((_, n)) => n.clone(),
            None => {
                let n: Arc<str> = Arc::from(new_name);
                slot.names.push((new_parent, n.clone()));
                n
            }
        };
        if t.moved.get(&old) == Some(&ino) {
            t.moved.remove(&old);
        }
        // Later lookups of the new name find the inode the kernel already
        // shows there (another inode the node had stays until forgotten).
        if ino != hash_of(node) {
            t.moved.insert(node.clone(), ino);
        }
        t.children
            .remove_if(old_parent, old.is_dir(), old_name, ino);
        t.children.insert(new_parent, node.is_dir(), &shared, ino);
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
