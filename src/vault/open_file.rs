//! [`OpenFile`]: a file open for writing, and the rules of when its bytes become an action (which close acts, truncation, the size limit).
//!
//! Writes collect in memory; a file of certfs acts once, on its whole
//! bytes, when it is closed. Which close acts is decided here, not by the
//! caller's transport:
//!
//! - only the opener's close acts, and only on bytes written since the
//!   last action: other processes sharing the file (`{ cat a; cat b; } > f`)
//!   and a close before anything was written (`cmd > f` closes a duplicate
//!   first) do not;
//! - the release of the file acts on whatever no close acted on (nothing
//!   written before the opener's close, another thread's close, a writer
//!   that died);
//! - opening with `O_TRUNC` or creating starts empty, and counts as a change;
//! - a write past [`MAX_WRITE_SIZE`] keeps one byte more than the limit, so
//!   that the action says the file is too large.

use super::access::{Caller, Want};
use super::error::VaultError;
use super::node::{Attr, Node};
use super::service::{MAX_WRITE_SIZE, VaultService};

/// A file open for writing (or reading and writing): its bytes so far and
/// what of them no action has taken yet. `Debug` shows the length of the
/// bytes, never the bytes (they may be a key, a PFX or an API key).
pub struct OpenFile {
    node: Node,
    data: Vec<u8>,
    /// Changed since the last action (written, truncated or newly created).
    dirty: bool,
    /// Changed by a write or a resize since the last action, not only by
    /// `O_TRUNC` or creation.
    written: bool,
    /// The process (thread group id) that opened the file.
    opener: u32,
    /// Who opened it: the action is theirs.
    caller: Caller,
    /// Other users who wrote through the handle (a descriptor handed to
    /// another process: `sudo -u m tool > file`), once each.
    also: Vec<Caller>,
    /// The scratch file opened, when `node` is one ([`super::side::SideFile::id`]).
    side_id: Option<u64>,
    /// The last action's outcome, which later closes report again.
    outcome: Result<(), VaultError>,
}

/// An action due: `caller` wrote `data` to `node` (see
/// [`VaultService::write_as`]). `Debug` shows the length of the bytes only.
#[derive(Clone, PartialEq, Eq)]
pub struct Pending {
    /// The file written.
    pub node: Node,
    /// Its whole bytes.
    pub data: Vec<u8>,
    /// Who opened it.
    pub caller: Caller,
    /// Other users who wrote through the handle: their bytes are in `data` too.
    pub also: Vec<Caller>,
    /// The scratch file opened, when `node` is one.
    pub side_id: Option<u64>,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("node", &self.node)
            .field("bytes", &self.data.len())
            .field("dirty", &self.dirty)
            .field("written", &self.written)
            .field("opener", &self.opener)
            .field("caller", &self.caller)
            .field("also", &self.also)
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("node", &self.node)
            .field("bytes", &self.data.len())
            .field("caller", &self.caller)
            .field("also", &self.also)
            .finish()
    }
}

impl OpenFile {
    /// `node` opened by process `opener` for `caller`, holding `data`
    /// (`None`: truncated at open, which is a change already).
    pub fn new(node: Node, caller: Caller, opener: u32, data: Option<Vec<u8>>) -> Self {
        let truncated = data.is_none();
        OpenFile {
            node,
            data: data.unwrap_or_default(),
            dirty: truncated,
            written: false,
            opener,
            caller,
            also: Vec::new(),
            side_id: None,
            outcome: Ok(()),
        }
    }

    /// The file being written.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Its size as written so far.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Whether nothing is in it.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The part of the bytes so far a read of `size` bytes at `offset` returns.
    pub fn read_at(&self, offset: u64, size: u32) -> &[u8] {
        window(&self.data, offset, size)
    }

    /// Writes `bytes` at `offset`, filling a gap with zeros; returns how
    /// many were taken. Past [`MAX_WRITE_SIZE`] the write is refused, and
    /// the file keeps one byte more than the limit so that its action
    /// refuses it too.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<usize, VaultError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(bytes.len());
        self.dirty = true;
        self.written = true;
        if end > MAX_WRITE_SIZE + 1 {
            self.data.resize(MAX_WRITE_SIZE + 1, 0);
            return Err(too_large());
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[start..end].copy_from_slice(bytes);
        Ok(bytes.len())
    }

    /// `ftruncate`: cuts or extends (with zeros) the bytes to `size`.
    pub fn set_len(&mut self, size: u64) -> Result<(), VaultError> {
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= MAX_WRITE_SIZE)
            .ok_or_else(too_large)?;
        self.data.resize(size, 0);
        self.dirty = true;
        self.written = true;
        Ok(())
    }

    /// A close by `process`: the action due, if this close is the one that acts.
    pub fn on_flush(&mut self, process: u32) -> Option<Pending> {
        if !(self.dirty && self.written && process == self.opener) {
            return None;
        }
        self.dirty = false;
        self.written = false;
        Some(self.pending(self.data.clone()))
    }

    /// The last close: the action no close took, if any.
    pub fn on_release(&mut self) -> Option<Pending> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        self.written = false;
        let data = std::mem::take(&mut self.data);
        Some(self.pending(data))
    }

    /// Records how the last action ended.
    pub fn record(&mut self, outcome: Result<(), VaultError>) {
        self.outcome = outcome;
    }

    /// How the last action ended (`Ok` before any): what a close reports.
    pub fn outcome(&self) -> Result<(), VaultError> {
        self.outcome.clone()
    }

    fn pending(&self, data: Vec<u8>) -> Pending {
        Pending {
            node: self.node.clone(),
            data,
            caller: self.caller.clone(),
            also: self.also.clone(),
            side_id: self.side_id,
        }
    }

    /// The handle is on scratch file `id` (see [`super::side::SideFile::id`]).
    fn on_side(self, side_id: Option<u64>) -> Self {
        OpenFile { side_id, ..self }
    }

    /// A write through the handle by user `uid`: when that is not the
    /// opener, `who` (asked only then) is kept as a writer of the bytes too.
    pub fn written_by(&mut self, uid: u32, who: impl FnOnce() -> Caller) {
        if uid != self.caller.uid && !self.also.iter().any(|w| w.uid == uid) {
            self.also.push(who());
        }
    }
}

impl VaultService {
    /// The id of scratch file `node`, if it is one.
    fn side_id(&self, node: &Node) -> Option<u64> {
        match node {
            Node::Side(dir, name) => self.side_files().id(dir, name),
            _ => None,
        }
    }

    /// `open` for writing by process `opener` (`reads`: for reading too,
    /// `O_RDWR`): refused as [`VaultService::open_write`] refuses, and for
    /// `O_RDWR` as a read of the file would be (the handle reads its
    /// bytes); otherwise the file's bytes now, or none with `truncate`
    /// (`O_TRUNC`).
    pub fn open_file_as(
        &self,
        caller: &Caller,
        node: &Node,
        opener: u32,
        truncate: bool,
        reads: bool,
    ) -> Result<OpenFile, VaultError> {
        self.open_write(caller, node)?;
        if reads {
            let read = self.authorize(caller, node, Want::Read);
            if self.is_secret(node) {
                self.audit(caller, node, None, "read", &read);
            }
            read?;
        }
        let data = if truncate {
            None
        } else {
            Some(self.read(node)?.to_vec())
        };
        Ok(OpenFile::new(node.clone(), caller.clone(), opener, data).on_side(self.side_id(node)))
    }

    /// `create` of `name` in `dir` by process `opener`: the new file, empty
    /// and open for writing (see [`VaultService::create_as`]).
    pub fn create_file_as(
        &self,
        caller: &Caller,
        dir: &Node,
        name: &str,
        mode: u16,
        opener: u32,
    ) -> Result<(Node, Attr, OpenFile), VaultError> {
        let (node, attr) = self.create_as(caller, dir, name, mode)?;
        let file =
            OpenFile::new(node.clone(), caller.clone(), opener, None).on_side(self.side_id(&node));
        Ok((node, attr, file))
    }

    /// `truncate` of a file no handle names: only to nothing, which acts
    /// as [`VaultService::truncate_as`] says.
    pub fn set_len_as(&self, caller: &Caller, node: &Node, size: u64) -> Result<(), VaultError> {
        if size != 0 {
            return Err(VaultError::BadParameter(
                "A file not open for writing can only be truncated to nothing".into(),
            ));
        }
        self.truncate_as(caller, node)
    }
}

fn too_large() -> VaultError {
    VaultError::TooLarge(format!(
        "The file is larger than {MAX_WRITE_SIZE} bytes (1 MiB), the most certfs accepts"
    ))
}

/// The part of `data` a read of `size` bytes at `offset` returns.
pub fn window(data: &[u8], offset: u64, size: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = start.saturating_add(size as usize).min(data.len());
    &data[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENER: u32 = 100;
    const OTHER: u32 = 200;

    fn caller() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            pid: OPENER,
            groups: Vec::new(),
        }
    }

    fn opened(data: &[u8]) -> OpenFile {
        OpenFile::new(Node::Root, caller(), OPENER, Some(data.to_vec()))
    }

    fn truncated() -> OpenFile {
        OpenFile::new(Node::Root, caller(), OPENER, None)
    }

    #[test]
    fn debug_shows_lengths_never_bytes() {
        let secret = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n";
        let mut f = truncated();
        f.write_at(0, secret).unwrap();
        let shown = format!("{f:?}");
        assert!(
            shown.contains(&format!("bytes: {}", secret.len())),
            "{shown}"
        );
        let pending = f.on_flush(OPENER).expect("acts");
        for shown in [shown, format!("{pending:?}")] {
            assert!(
                !shown.contains("PRIVATE") && !shown.contains("c2Vj"),
                "{shown}"
            );
        }
    }

    #[test]
    fn the_openers_close_acts_on_written_bytes() {
        let mut f = opened(b"old");
        assert_eq!(f.write_at(0, b"new!").unwrap(), 4);
        let pending = f.on_flush(OPENER).expect("the opener's close acts");
        assert_eq!(pending.data, b"new!");
        assert_eq!(pending.node, Node::Root);
        assert_eq!(pending.caller, caller());
        // Acted on: neither another close nor the release acts again.
        assert_eq!(f.on_flush(OPENER), None);
        assert_eq!(f.on_release(), None);
    }

    #[test]
    fn another_processs_close_does_not_act_and_release_does() {
        let mut f = opened(b"");
        f.write_at(0, b"mine").unwrap();
        assert_eq!(f.on_flush(OTHER), None);
        assert_eq!(f.on_release().unwrap().data, b"mine");
        assert_eq!(f.on_release(), None);
    }

    #[test]
    fn a_close_before_any_write_does_not_act() {
        // `cmd > f`: the shell opens with O_TRUNC and closes a duplicate
        // before the command writes.
        let mut f = truncated();
        assert_eq!(f.on_flush(OPENER), None);
        f.write_at(0, b"late").unwrap();
        assert_eq!(f.on_flush(OPENER).unwrap().data, b"late");
    }

    #[test]
    fn a_truncating_open_nobody_writes_acts_at_release_on_nothing() {
        let mut f = truncated();
        assert!(f.is_empty());
        assert_eq!(f.on_release().unwrap().data, b"");
    }

    #[test]
    fn an_open_without_changes_never_acts() {
        let mut f = opened(b"kept");
        assert_eq!(f.read_at(0, 100), b"kept");
        assert_eq!(f.on_flush(OPENER), None);
        assert_eq!(f.on_release(), None);
    }

    #[test]
    fn a_write_after_an_action_acts_again_on_all_bytes() {
        let mut f = opened(b"");
        f.write_at(0, b"one").unwrap();
        assert!(f.on_flush(OPENER).is_some());
        f.write_at(3, b"two").unwrap();
        assert_eq!(f.on_flush(OPENER).unwrap().data, b"onetwo");
    }

    #[test]
    fn writes_past_the_end_fill_with_zeros_and_overwrite_in_place() {
        let mut f = opened(b"abcdef");
        f.write_at(2, b"XY").unwrap();
        assert_eq!(f.read_at(0, 100), b"abXYef");
        f.write_at(8, b"!").unwrap();
        assert_eq!(f.read_at(0, 100), b"abXYef\0\0!");
        assert_eq!(f.len(), 9);
        assert_eq!(f.read_at(7, 1), b"\0");
        assert_eq!(f.read_at(100, 1), b"");
    }

    #[test]
    fn a_write_past_the_limit_is_too_large_and_keeps_one_byte_more() {
        let mut f = opened(b"");
        let at_limit = vec![b'a'; MAX_WRITE_SIZE];
        assert_eq!(f.write_at(0, &at_limit).unwrap(), MAX_WRITE_SIZE);
        assert!(matches!(
            f.write_at(MAX_WRITE_SIZE as u64, b"bc"),
            Err(VaultError::TooLarge(_))
        ));
        assert_eq!(f.len(), MAX_WRITE_SIZE as u64 + 1);
        // The action sees the oversize bytes, and says so itself.
        assert_eq!(f.on_flush(OPENER).unwrap().data.len(), MAX_WRITE_SIZE + 1);
        assert!(matches!(
            opened(b"").write_at(u64::MAX, b"x"),
            Err(VaultError::TooLarge(_))
        ));
    }

    #[test]
    fn set_len_resizes_and_counts_as_written() {
        let mut f = opened(b"abcdef");
        f.set_len(3).unwrap();
        assert_eq!(f.read_at(0, 100), b"abc");
        f.set_len(5).unwrap();
        assert_eq!(f.read_at(0, 100), b"abc\0\0");
        assert_eq!(f.on_flush(OPENER).unwrap().data, b"abc\0\0");
    }

    #[test]
    fn set_len_past_the_limit_is_too_large_and_changes_nothing() {
        let mut f = opened(b"abc");
        assert!(matches!(
            f.set_len(MAX_WRITE_SIZE as u64 + 1),
            Err(VaultError::TooLarge(_))
        ));
        assert_eq!(f.read_at(0, 100), b"abc");
        assert_eq!(f.on_release(), None);
    }

    #[test]
    fn the_last_outcome_is_reported_again() {
        let mut f = opened(b"");
        assert_eq!(f.outcome(), Ok(()));
        let refused = VaultError::BadParameter("no".into());
        f.record(Err(refused.clone()));
        assert_eq!(f.outcome(), Err(refused));
    }
}
