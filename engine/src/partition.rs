//! One partition: a write-ahead log and a memtable (SSTables come with the LSM issue).
//!
//! # Write order
//!
//! Writers of a partition take its write lock, read the current item, enqueue one WAL
//! record (which fixes its LSN and so its order) and note the new version as *pending*,
//! then release the lock and wait for the record to be durable. Waiting outside the lock
//! lets concurrent writers of one partition share fsyncs (group commit). The next writer
//! of the same key sees the pending version, so read-modify-write stays in LSN order;
//! readers see only the memtable, which gets a version once its record is durable (so a
//! read never returns a write that was not acknowledged). Versions carry their LSN and
//! the memtable keeps the newest, whatever order writers finish in.
//!
//! # Record format (version 1), the WAL payload of one write
//!
//! ```text
//! op u8 (1 = put, 2 = delete) | key_len u32 LE | storage key | item (put only; item codec)
//! op u8 (3 = batch) | count u32 LE | count × (write_len u32 LE | a put or delete as above)
//! ```
//!
//! A batch record carries several writes of one partition, so recovery keeps all of them
//! or none (BatchWriteItem never half-applies within a partition).

use crate::error::{Error, Result};
use crate::item::Item;
use crate::item::codec::{decode_item, encode_item};
use dynastore_wal::fs::SharedFs;
use dynastore_wal::{Epoch, Lsn, Wal, WalOptions};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

/// The epoch every record is written with until replication brings primaries and terms.
const SINGLE_PRIMARY_EPOCH: Epoch = Epoch(1);
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_BATCH: u8 = 3;

/// One write to one key: its storage key and the new item, or `None` to delete it.
pub(crate) type KeyWrite = (Vec<u8>, Option<Item>);

/// A memtable key: the storage key, with its first 8 bytes (the partition key's hash)
/// also held inline, so that comparing keys of different partition keys, most of the
/// comparisons of a lookup, does not touch the heap. It orders exactly as the storage key
/// bytes do (shorter keys are padded with zeros in the prefix, which keeps that order).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MemKey {
    prefix: u64,
    bytes: Vec<u8>,
}

impl MemKey {
    pub(crate) fn new(bytes: Vec<u8>) -> MemKey {
        let mut prefix = [0u8; 8];
        let n = bytes.len().min(8);
        prefix[..n].copy_from_slice(&bytes[..n]);
        MemKey {
            prefix: u64::from_be_bytes(prefix),
            bytes,
        }
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &MemKey) -> std::cmp::Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.bytes.cmp(&other.bytes))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &MemKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One version of one key: the item (or its absence) as of a WAL record.
#[derive(Clone, Debug)]
struct Version {
    lsn: Lsn,
    item: Option<Arc<Item>>,
}

/// A partition's durable state and its writers' order.
#[derive(Debug)]
pub(crate) struct Partition {
    wal: Wal,
    /// Acknowledged versions, in key order. Writers are serialised by `pending` anyway, so
    /// a B-tree under a read-write lock serves readers faster than a concurrent skiplist.
    memtable: RwLock<BTreeMap<MemKey, Version>>,
    /// The write lock; holds the versions enqueued but not yet applied.
    pending: Mutex<HashMap<MemKey, Version>>,
    /// `Buffered` durability acknowledges a write before it is durable, so it is applied
    /// under the write lock right after it is enqueued, without a pending version.
    apply_on_enqueue: bool,
}

fn encode_record(key: &[u8], item: Option<&Item>) -> Vec<u8> {
    let mut record = Vec::with_capacity(key.len() + 64);
    record.push(if item.is_some() { OP_PUT } else { OP_DELETE });
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(key);
    if let Some(item) = item {
        encode_item(item, &mut record);
    }
    record
}

fn encode_batch(writes: &[(MemKey, Option<Arc<Item>>)]) -> Vec<u8> {
    let mut record = vec![OP_BATCH];
    record.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for (key, item) in writes {
        let write = encode_record(&key.bytes, item.as_deref());
        record.extend_from_slice(&(write.len() as u32).to_le_bytes());
        record.extend_from_slice(&write);
    }
    record
}

/// Decodes a record into its writes (one, or several for a batch).
fn decode_writes(bytes: &[u8]) -> std::result::Result<Vec<KeyWrite>, String> {
    if bytes.first() != Some(&OP_BATCH) {
        return Ok(vec![decode_record(bytes)?]);
    }
    let u32_at = |at: usize| -> std::result::Result<usize, String> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("batch record cut short")?;
        Ok(u32::from_le_bytes(b) as usize)
    };
    let count = u32_at(1)?;
    let mut pos = 5;
    let mut writes = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = u32_at(pos)?;
        let write = bytes.get(pos + 4..pos + 4 + len).ok_or("batch record cut in a write")?;
        writes.push(decode_record(write)?);
        pos += 4 + len;
    }
    if pos != bytes.len() {
        return Err("trailing bytes after a batch".into());
    }
    Ok(writes)
}

fn decode_record(bytes: &[u8]) -> std::result::Result<KeyWrite, String> {
    let (&op, rest) = bytes.split_first().ok_or("empty record")?;
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("record cut in its key length")?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let key = rest.get(4..4 + len).ok_or("record cut in its key")?.to_vec();
    let body = &rest[4 + len..];
    match op {
        OP_PUT => Ok((key, Some(decode_item(body).map_err(|e| e.to_string())?))),
        OP_DELETE if body.is_empty() => Ok((key, None)),
        _ => Err(format!("unknown record operation {op}")),
    }
}

impl Partition {
    /// Opens the partition in `dir` (its log in `dir/wal`), replaying the log into the
    /// memtable.
    ///
    /// Errors: [`Error::Wal`] (I/O, or corruption recovery must not skip),
    /// [`Error::Corruption`] for a record that passes its checksum but does not decode.
    pub fn open(fs: SharedFs, dir: &Path, wal_options: WalOptions) -> Result<Partition> {
        let wal_dir = dir.join("wal");
        let mut memtable = BTreeMap::new();
        let mut bad_record = None;
        let (wal, _report) =
            Wal::open_and_replay(fs, &wal_dir, wal_options, Lsn::FIRST, |frame| {
                match decode_writes(frame.payload) {
                    Ok(writes) => {
                        for (key, item) in writes {
                            memtable.insert(
                                MemKey::new(key),
                                Version {
                                    lsn: frame.lsn,
                                    item: item.map(Arc::new),
                                },
                            );
                        }
                    }
                    Err(reason) => {
                        bad_record.get_or_insert((frame.lsn, reason));
                    }
                }
            })?;
        if let Some((lsn, reason)) = bad_record {
            return Err(Error::Corruption {
                file: wal_dir,
                offset: lsn.0,
                reason: format!("WAL record at LSN {lsn} does not decode: {reason}"),
            });
        }
        Ok(Partition {
            wal,
            memtable: RwLock::new(memtable),
            pending: Mutex::new(HashMap::new()),
            apply_on_enqueue: matches!(wal_options.durability, dynastore_wal::Durability::Buffered { .. }),
        })
    }

    /// The acknowledged item under `key`, if any.
    pub fn get(&self, key: Vec<u8>) -> Option<Arc<Item>> {
        self.get_key(&MemKey::new(key))
    }

    fn get_key(&self, key: &MemKey) -> Option<Arc<Item>> {
        self.memtable.read().get(key).and_then(|version| version.item.clone())
    }

    /// Writes under `key` the item `compute` derives from the current one (`None` deletes),
    /// and returns the item it replaced. `compute` runs under the write lock, so it sees
    /// every earlier write of the key; if it fails, nothing is written. With `read_old`
    /// false (a blind write), the current item is not looked up: `compute` sees `None` and
    /// nothing is returned.
    ///
    /// Errors: `compute`'s error; [`Error::Wal`] if the record could not be made durable.
    pub fn write(
        &self,
        key: Vec<u8>,
        read_old: bool,
        compute: impl FnOnce(Option<&Item>) -> Result<Option<Item>>,
    ) -> Result<Option<Arc<Item>>> {
        let key = MemKey::new(key);
        let (lsn, old, new) = {
            let mut pending = self.pending.lock();
            let old = match pending.get(&key) {
                _ if !read_old => None,
                Some(version) => version.item.clone(),
                None => self.get_key(&key),
            };
            let new = compute(old.as_deref())?.map(Arc::new);
            let lsn = self
                .wal
                .enqueue(SINGLE_PRIMARY_EPOCH, &encode_record(&key.bytes, new.as_deref()))?;
            if self.apply_on_enqueue {
                // Nothing can be pending: every write of this partition applies here.
                self.memtable.write().insert(key, Version { lsn, item: new });
                drop(pending);
                self.wal.commit(lsn)?;
                return Ok(old);
            }
            pending.insert(key.clone(), Version { lsn, item: new.clone() });
            (lsn, old, new)
        };
        let committed = self.wal.commit(lsn);
        let mut pending = self.pending.lock();
        let newest_pending = pending.get(&key).is_some_and(|version| version.lsn == lsn);
        if newest_pending {
            pending.remove(&key);
        }
        if committed.is_ok() {
            let mut memtable = self.memtable.write();
            // If this is still the newest version enqueued for the key, nothing newer can
            // have been applied; otherwise a later writer may have finished first.
            if newest_pending || memtable.get(&key).is_none_or(|version| version.lsn < lsn) {
                memtable.insert(key, Version { lsn, item: new });
            }
        }
        committed?;
        Ok(old)
    }

    /// Writes several items (or deletions) under distinct keys as one WAL record: after a
    /// crash all of them are there or none.
    ///
    /// Errors: [`Error::Wal`] if the record could not be made durable.
    pub fn write_batch(&self, writes: Vec<KeyWrite>) -> Result<()> {
        let writes: Vec<(MemKey, Option<Item>)> =
            writes.into_iter().map(|(key, item)| (MemKey::new(key), item)).collect();
        let writes: Vec<(MemKey, Option<Arc<Item>>)> = writes
            .into_iter()
            .map(|(key, item)| (key, item.map(Arc::new)))
            .collect();
        let lsn = {
            let mut pending = self.pending.lock();
            let lsn = self.wal.enqueue(SINGLE_PRIMARY_EPOCH, &encode_batch(&writes))?;
            if self.apply_on_enqueue {
                let mut memtable = self.memtable.write();
                for (key, item) in writes {
                    memtable.insert(key, Version { lsn, item });
                }
                drop(memtable);
                drop(pending);
                self.wal.commit(lsn)?;
                return Ok(());
            }
            for (key, item) in &writes {
                pending.insert(
                    key.clone(),
                    Version {
                        lsn,
                        item: item.clone(),
                    },
                );
            }
            lsn
        };
        let committed = self.wal.commit(lsn);
        let mut pending = self.pending.lock();
        let mut memtable = committed.is_ok().then(|| self.memtable.write());
        for (key, item) in writes {
            let newest_pending = pending.get(&key).is_some_and(|version| version.lsn == lsn);
            if newest_pending {
                pending.remove(&key);
            }
            if let Some(memtable) = memtable.as_mut()
                && (newest_pending || memtable.get(&key).is_none_or(|version| version.lsn < lsn))
            {
                memtable.insert(key, Version { lsn, item });
            }
        }
        committed?;
        Ok(())
    }

    /// Visits acknowledged items with keys in `(lower, upper)`, in key order or reversed,
    /// until `visit` returns false. The memtable is read-locked meanwhile, so callers keep
    /// the visit short (a page).
    pub fn visit_range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        mut visit: impl FnMut(&[u8], &Item) -> bool,
    ) {
        let owned = |bound: Bound<&[u8]>| match bound {
            Bound::Included(key) => Bound::Included(MemKey::new(key.to_vec())),
            Bound::Excluded(key) => Bound::Excluded(MemKey::new(key.to_vec())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let memtable = self.memtable.read();
        let range = memtable.range((owned(lower), owned(upper)));
        let mut step = |(key, version): (&MemKey, &Version)| match &version.item {
            Some(item) => visit(&key.bytes, item),
            None => true,
        };
        if reverse {
            for entry in range.rev() {
                if !step(entry) {
                    break;
                }
            }
        } else {
            for entry in range {
                if !step(entry) {
                    break;
                }
            }
        }
    }

    /// Makes every write so far durable (for `Buffered` durability).
    pub fn sync(&self) -> Result<()> {
        self.wal.sync()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        // Short keys and a small alphabet, so that equal prefixes and zero padding are common.
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8)], 0..12)
    }

    proptest! {
        #[test]
        fn memtable_keys_order_exactly_as_their_bytes(a in bytes(), b in bytes()) {
            prop_assert_eq!(MemKey::new(a.clone()).cmp(&MemKey::new(b.clone())), a.cmp(&b));
        }
    }

    #[test]
    fn batch_records_round_trip_and_refuse_damage() {
        let writes = vec![
            (
                MemKey::new(b"key-one".to_vec()),
                Some(Arc::new(Item::new().with("a", 1))),
            ),
            (MemKey::new(b"key-two".to_vec()), None),
        ];
        let record = encode_batch(&writes);
        let decoded = decode_writes(&record).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0], (b"key-one".to_vec(), Some(Item::new().with("a", 1))));
        assert_eq!(decoded[1], (b"key-two".to_vec(), None));
        for cut in 0..record.len() {
            assert!(decode_writes(&record[..cut]).is_err(), "cut at {cut}");
        }
    }
}
