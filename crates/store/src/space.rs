//! Keyspaces: the logical trees (`profiles`, `objects`, `dedup`, `outbox`, `meta`) as
//! one-byte key prefixes of the single sled tree the store keeps.
//!
//! One sled tree lets a commit be one [`sled::Batch`] applied with
//! [`sled::Tree::apply_batch`], which sled recovers atomically after a crash (the same
//! log reservation a multi-tree transaction takes), without a transaction's read set,
//! write overlay and per-tree bookkeeping. A [`Space`] adds its prefix to every
//! key it is given and strips it from every key it returns, so the code above it sees
//! the key layouts of [`crate::keys`] unchanged.

use sled::{IVec, Tree};

/// One logical tree: a key prefix of the store's sled tree.
#[derive(Clone)]
pub(crate) struct Space {
    tree: Tree,
    prefix: u8,
}

impl Space {
    pub(crate) fn new(tree: Tree, prefix: u8) -> Self {
        Self { tree, prefix }
    }

    /// `key` with this space's prefix in front: the key in the sled tree.
    pub(crate) fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + key.len());
        out.push(self.prefix);
        out.extend_from_slice(key);
        out
    }

    fn strip(entry: sled::Result<(IVec, IVec)>) -> sled::Result<(IVec, IVec)> {
        let (key, value) = entry?;
        let len = key.len().saturating_sub(1);
        Ok((key.subslice(1.min(key.len()), len), value))
    }

    /// The first key past this space.
    fn end(&self) -> Vec<u8> {
        vec![self.prefix.saturating_add(1)]
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        self.tree.get(self.key(key.as_ref()))
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> sled::Result<bool> {
        self.tree.contains_key(self.key(key.as_ref()))
    }

    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> sled::Result<Option<IVec>> {
        self.tree.insert(self.key(key.as_ref()), value)
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        self.tree.remove(self.key(key.as_ref()))
    }

    pub(crate) fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> sled::Result<Result<(), sled::CompareAndSwapError>> {
        self.tree.compare_and_swap(self.key(key.as_ref()), old, new)
    }

    /// Entries whose key (without the space prefix) starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<> {
        self.tree.scan_prefix(self.key(prefix)).map(Self::strip)
    }

    /// Every entry of the space, in key order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> {
        self.scan_prefix(&[])
    }

    /// Entries with keys before `end`.
    pub(crate) fn range_to(
        &self,
        end: &[u8],
    ) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<> {
        self.tree
            .range(vec![self.prefix]..self.key(end))
            .map(Self::strip)
    }

    /// Entries with keys from `start` on.
    pub(crate) fn range_from(
        &self,
        start: &[u8],
    ) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> + use<> {
        self.tree
            .range(self.key(start)..self.end())
            .map(Self::strip)
    }

    /// Number of entries (walks the space).
    pub(crate) fn len(&self) -> usize {
        self.tree.scan_prefix([self.prefix]).keys().count()
    }
}
