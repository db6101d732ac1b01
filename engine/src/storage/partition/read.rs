//! Reading a partition copy: one key (memtable, frozen memtables, then SSTables newest
//! first, the first version found winning) and ranges (the same sources merged in key
//! order, newest version first, tombstones hiding older ones).

use super::LiveTable;
use super::Partition;
use crate::error::Error;
use crate::error::Result;
use crate::item::Item;
use crate::item::codec::decode_item;
use crate::storage::memtable::MemKey;
use crate::storage::memtable::Memtable;
use crate::storage::sstable::bloom;
use std::borrow::Cow;
use std::ops::Bound;
use std::path::Path;
use std::path::PathBuf;

/// One ordered source of a merged range read: keys with their encoded item, or `None`
/// for a tombstone.
pub(super) type Source<'a> = Box<dyn Iterator<Item = Result<(Cow<'a, [u8]>, Option<&'a [u8]>)>> + 'a>;

/// A memtable's versions between two bounds as a merge source.
pub(super) fn memtable_source<'a>(
    map: &'a Memtable,
    lower: Bound<MemKey>,
    upper: Bound<MemKey>,
    reverse: bool,
) -> Source<'a> {
    let entries = map
        .range((lower, upper))
        .map(|(key, version)| Ok((Cow::Borrowed(key.bytes.as_slice()), version.value.as_deref())));
    if reverse {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    }
}

/// Merges sources given newest first, each with its file (`None`: a memtable): for each
/// key, in order (or reversed), the version of the newest source holding it, decoded;
/// tombstones and shadowed versions are skipped without decoding.
pub(super) fn merge(
    mut sources: Vec<(Source<'_>, Option<&Path>)>,
    reverse: bool,
    mut visit: impl FnMut(&[u8], &Item) -> bool,
) -> Result<()> {
    let mut heads = Vec::with_capacity(sources.len());
    for (source, _) in &mut sources {
        heads.push(source.next().transpose()?);
    }
    loop {
        let mut best: Option<usize> = None;
        for (i, head) in heads.iter().enumerate() {
            let Some((key, _)) = head else { continue };
            let better = match best.and_then(|b| heads[b].as_ref()) {
                None => true,
                Some((best_key, _)) => {
                    if reverse {
                        key.as_ref() > best_key.as_ref()
                    } else {
                        key.as_ref() < best_key.as_ref()
                    }
                }
            };
            if better {
                best = Some(i);
            }
        }
        let Some(best) = best else { return Ok(()) };
        let Some((key, value)) = heads[best].take() else {
            return Ok(());
        };
        // Older sources' versions of the same key are shadowed: skip them.
        for i in 0..heads.len() {
            let same = heads[i]
                .as_ref()
                .is_some_and(|(other, _)| other.as_ref() == key.as_ref());
            if i == best || same {
                heads[i] = sources[i].0.next().transpose()?;
            }
        }
        if let Some(value) = value {
            let item = match sources[best].1 {
                Some(file) => decode_stored(file, value)?,
                None => decode_in_memory(value)?,
            };
            if !visit(&key, &item) {
                return Ok(());
            }
        }
    }
}

/// Decodes an item stored in SSTable `file`; a value that does not decode is corruption.
pub(super) fn decode_stored(file: &Path, bytes: &[u8]) -> Result<Item> {
    decode_item(bytes).map_err(|e| Error::Corruption {
        file: file.to_path_buf(),
        offset: 0,
        reason: format!("stored item does not decode: {e}"),
    })
}

/// Decodes an item of a memtable. Only this process encoded it (or recovery checked it),
/// so a failure is a bug, reported rather than served.
pub(super) fn decode_in_memory(bytes: &[u8]) -> Result<Item> {
    decode_item(bytes).map_err(|e| Error::Corruption {
        file: PathBuf::from("<memtable>"),
        offset: 0,
        reason: format!("an item in memory does not decode: {e}"),
    })
}

impl Partition {
    /// The acknowledged item under `key`, if any.
    ///
    /// Errors: [`Error::Corruption`] if an SSTable that must be read is damaged.
    pub fn get(&self, key: Vec<u8>) -> Result<Option<Item>> {
        self.get_key(&MemKey::new(key))
    }

    pub(super) fn get_key(&self, key: &MemKey) -> Result<Option<Item>> {
        let state = self.state.read();
        let in_memory = std::iter::once(&state.memtable).chain(state.frozen.iter().map(|(frozen, ..)| &**frozen));
        for memtable in in_memory {
            if let Some(version) = memtable.get(key) {
                return version.value.as_deref().map(decode_in_memory).transpose();
            }
        }
        if state.tables.is_empty() {
            return Ok(None);
        }
        let hash = bloom::hash(&key.bytes);
        for LiveTable { table, .. } in &state.tables {
            match table.lookup(&key.bytes, hash)? {
                Some(Some(bytes)) => return decode_stored(table.path(), bytes).map(Some),
                Some(None) => return Ok(None),
                None => {}
            }
        }
        Ok(None)
    }

    /// Visits acknowledged items with keys in `(lower, upper)`, in key order or reversed,
    /// until `visit` returns false, merging the memtable, frozen memtables and SSTables
    /// (newest version wins; tombstones hide older versions). The read state is locked
    /// meanwhile, so callers keep the visit short (a page).
    ///
    /// Errors: [`Error::Corruption`] if an SSTable is damaged.
    pub fn visit_range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        mut visit: impl FnMut(&[u8], &Item) -> bool,
    ) -> Result<()> {
        let state = self.state.read();
        if let ([LiveTable { table, .. }], true, true) =
            (&state.tables[..], state.memtable.is_empty(), state.frozen.is_empty())
        {
            // One table and nothing in memory, as after a compaction: nothing to merge, so
            // read it in place, decoding only the items visited.
            let mut failure = None;
            table.range(lower, upper, reverse).visit(|key, value| {
                let Some(value) = value else { return true };
                match decode_stored(table.path(), value) {
                    Ok(item) => visit(key, &item),
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })?;
            return failure.map_or(Ok(()), Err);
        }
        let owned = |bound: Bound<&[u8]>| match bound {
            Bound::Included(key) => Bound::Included(MemKey::new(key.to_vec())),
            Bound::Excluded(key) => Bound::Excluded(MemKey::new(key.to_vec())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut sources: Vec<(Source<'_>, Option<&Path>)> = vec![(
            memtable_source(&state.memtable, owned(lower), owned(upper), reverse),
            None,
        )];
        for (frozen, ..) in &state.frozen {
            sources.push((memtable_source(frozen, owned(lower), owned(upper), reverse), None));
        }
        for LiveTable { table, .. } in &state.tables {
            let entries = table
                .range(lower, upper, reverse)
                .raw()
                .map(|entry| entry.map(|(key, value)| (Cow::Owned(key), value)));
            sources.push((Box::new(entries), Some(table.path())));
        }
        merge(sources, reverse, |key, item| visit(key, item))
    }
}
