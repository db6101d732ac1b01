//! A partition copy's numbers: what `stats` reports, and the estimates of its size that
//! DescribeTable and the item collection limit read (from counters and table properties,
//! without visiting entries).

use super::Partition;
use crate::error::Result;
use crate::storage::partition::{PartitionStats, SsTableStats};
use std::sync::atomic::Ordering;

impl Partition {
    /// The partition's numbers.
    ///
    /// Errors: [`Error::Wal`] if the WAL's files cannot be read.
    pub fn stats(&self) -> Result<PartitionStats> {
        let state = self.state.read();
        let tables = state
            .tables
            .iter()
            .map(|live| {
                let properties = live.table.properties();
                SsTableStats {
                    level: live.level,
                    entries: properties.entries,
                    tombstones: properties.tombstones,
                    bytes: live.table.file_bytes(),
                }
            })
            .collect();
        Ok(PartitionStats {
            memtable_entries: (state.memtable.len() + state.frozen.iter().map(|(f, ..)| f.len()).sum::<usize>()) as u64,
            memtable_bytes: self.memtable_bytes.load(Ordering::Relaxed) as u64,
            frozen_memtables: state.frozen.len() as u64,
            tables,
            wal_segments: self.wal.segments().len() as u64,
            wal_bytes: self.wal.size_bytes()?,
            flushed_lsn: self.manifest_flushed_lsn.load(Ordering::Relaxed),
            durable_lsn: self.wal.durable_lsn().0,
            flushes: self.flushes.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            flushed_bytes: self.flushed_bytes.load(Ordering::Relaxed),
            compacted_bytes: self.compacted_bytes.load(Ordering::Relaxed),
            write_stalls: self.stalls.load(Ordering::Relaxed),
        })
    }

    /// About how many items this copy holds, and in how many bytes: the live versions
    /// less the tombstones of its memtables and SSTables (a key counts once per source
    /// holding a version of it, so exact once a merge brought them together), and its
    /// memtables' budget use plus its SSTables' bytes.
    pub(crate) fn approximate_size(&self) -> (u64, u64) {
        let state = self.state.read();
        let in_memory = std::iter::once(&state.memtable).chain(state.frozen.iter().map(|(frozen, ..)| &**frozen));
        let (mut puts, mut tombstones) = (0u64, 0u64);
        for memtable in in_memory {
            let deleted = memtable.values().filter(|version| version.value.is_none()).count() as u64;
            tombstones += deleted;
            puts += memtable.len() as u64 - deleted;
        }
        let mut bytes = self.memtable_bytes() as u64;
        for live in &state.tables {
            let properties = live.table.properties();
            puts += properties.entries.saturating_sub(properties.tombstones);
            tombstones += properties.tombstones;
            bytes += live.table.file_bytes();
        }
        (puts.saturating_sub(tombstones), bytes)
    }

    /// An upper bound of what any key range of the partition holds: the bytes of every
    /// version in its memtables and SSTables, each counted `per_entry` more (what a
    /// caller adds per entry, as DynamoDB adds 100 bytes per local index entry to an item
    /// collection). Cheap: no entry is visited.
    pub(crate) fn stored_bound(&self, per_entry: u64) -> u64 {
        let state = self.state.read();
        let mut entries = state.memtable.len() as u64;
        let mut bytes = self.memtable_bytes() as u64;
        for (frozen, _, _, frozen_bytes) in &state.frozen {
            entries += frozen.len() as u64;
            bytes += *frozen_bytes as u64;
        }
        for live in &state.tables {
            entries += live.table.properties().entries;
            bytes += live.table.file_bytes();
        }
        bytes + entries * per_entry
    }
}
