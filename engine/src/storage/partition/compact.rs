//! Merging a partition copy's SSTables.
//!
//! [`crate::storage::compaction`] picks which contiguous stretch of the (newest-first) table list
//! to merge. The merge runs under the partition's compaction lock only, so flushes go on;
//! they only add level-0 tables in front, so the stretch stays contiguous and the output
//! takes its place. The MANIFEST records the output before the inputs are deleted, so a
//! crash leaves either set, whole. File numbers are never reused, even after a failure (a
//! MANIFEST save that reported an error may still have landed).

use super::LiveTable;
use super::Partition;
use crate::error::Error;
use crate::error::Result;
use crate::error::io_error;
use crate::storage::compaction;
use crate::storage::compaction::Job;
use crate::storage::compaction::LEVEL0_TABLES_TRIGGER;
use crate::storage::compaction::TableShape;
use crate::storage::manifest::TableFile;
use crate::storage::manifest::table_path;
use crate::storage::sstable::SsTable;
use crate::storage::sstable::SsTableWriter;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A merge looks this often (in entries) whether its partition was retired meanwhile.
pub(super) const RETIRED_CHECK_ENTRIES: u64 = 4096;

impl Partition {
    /// Does the next merge the compaction policy asks for, if any (see
    /// [`crate::storage::compaction`]); returns whether there was one. Flushes go on meanwhile.
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`]; on error the old tables stay live.
    pub fn compact_step(&self) -> Result<bool> {
        let style = self.compaction_style;
        let level1_bytes = (self.memtable_bytes_max * LEVEL0_TABLES_TRIGGER) as u64;
        self.run_compaction(|shapes| compaction::pick(style, shapes, level1_bytes))
    }

    /// Merges all of the partition's SSTables into one run at the deepest level, dropping
    /// every tombstone (a major compaction). Flushes go on meanwhile; a table flushed
    /// during the merge stays in front of the result.
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`]; on error the old tables stay live.
    pub fn compact_all(&self) -> Result<()> {
        self.run_compaction(compaction::pick_all).map(drop)
    }

    /// Runs the merge `pick` chooses from the tables' shapes. The merge itself holds only
    /// the compaction lock. Flushes meanwhile only add level-0 tables in front, so the
    /// inputs stay a contiguous run of the MANIFEST's list, and the output takes their
    /// place there; the MANIFEST records it before the inputs are deleted, so a crash at
    /// any point leaves either the old tables or the new one, whole.
    ///
    /// Once the partition is out of service, a merge stops (see `merge_tables`) and
    /// reports no merge rather than an error, as [`Partition::flush`] does.
    pub(super) fn run_compaction(&self, pick: impl FnOnce(&[TableShape]) -> Option<Job>) -> Result<bool> {
        match self.run_merge(pick) {
            Err(_) if self.out_of_service() => Ok(false),
            outcome => outcome,
        }
    }

    /// [`Partition::run_compaction`], whatever happened to the partition meanwhile.
    pub(super) fn run_merge(&self, pick: impl FnOnce(&[TableShape]) -> Option<Job>) -> Result<bool> {
        let _compacting = self.compacting.lock();
        if self.retired.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let (job, inputs) = {
            let state = self.state.read();
            let Some(job) = pick(&state.table_shapes()) else {
                return Ok(false);
            };
            // The policy only names stretches of the list it was given; anything else is
            // no merge at all.
            let Some(inputs) = state.tables.get(job.inputs.clone()).filter(|inputs| !inputs.is_empty()) else {
                return Ok(false);
            };
            (job, inputs.to_vec())
        };
        let first = inputs[0].clone();
        let output = if job.is_move {
            first.clone()
        } else {
            let number = {
                let mut manifest = self.manifest.lock();
                let number = manifest.next_file_number.max(1);
                manifest.next_file_number = number + 1;
                number
            };
            let table = self
                .merge_tables(number, &inputs, job.drop_tombstones)
                .inspect_err(|_| {
                    self.remove_unrecorded(number);
                })?;
            self.compacted_bytes.fetch_add(table.file_bytes(), Ordering::Relaxed);
            LiveTable {
                number,
                level: 0,
                table,
            }
        };
        let output = LiveTable {
            level: job.output_level,
            ..output
        };
        let mut manifest = self.manifest.lock();
        let start = manifest.tables.iter().position(|t| t.number == first.number);
        let Some(start) = start.filter(|&start| {
            let live = &manifest.tables[start..];
            live.len() >= inputs.len()
                && live
                    .iter()
                    .zip(&inputs)
                    .all(|(file, input)| file.number == input.number)
        }) else {
            // Only this function removes tables, under the compaction lock: a bug.
            return Err(Error::Corruption {
                file: self.dir.join(crate::storage::manifest::MANIFEST_FILE),
                offset: 0,
                reason: "compaction inputs are no longer live tables".into(),
            });
        };
        let replaced = start..start + inputs.len();
        let properties = output.table.properties();
        let mut next = manifest.clone();
        next.tables.splice(
            replaced.clone(),
            [TableFile {
                number: output.number,
                level: output.level,
                min_lsn: properties.min_lsn,
                max_lsn: properties.max_lsn,
            }],
        );
        // On failure the output stays: the save may have landed (the next open removes
        // it if not), and its number is never reused.
        next.save(self.fs.as_ref(), &self.dir)?;
        *manifest = next;
        self.state.write().tables.splice(replaced, [output]);
        drop(manifest);
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.wake_writers();
        if job.is_move {
            return Ok(true);
        }
        // Readers still holding an old table keep reading it (an unlinked file stays
        // readable); new reads use the output.
        let fs = self.fs.as_ref();
        for input in &inputs {
            let path = table_path(&self.dir, input.number);
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
        }
        let sst_dir = self.dir.join("sst");
        fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
        Ok(true)
    }

    /// Writes SSTable `number` holding the newest entry of every key of `inputs` (given
    /// newest first), without tombstones if `drop_tombstones`, durably, and opens it.
    /// Entries are copied as stored, not decoded.
    pub(super) fn merge_tables(
        &self,
        number: u64,
        inputs: &[LiveTable],
        drop_tombstones: bool,
    ) -> Result<Arc<SsTable>> {
        let fs = self.fs.as_ref();
        let path = self.fresh_table_path(number)?;
        let min_lsn = inputs.iter().map(|t| t.table.properties().min_lsn).min().unwrap_or(0);
        let max_lsn = inputs.iter().map(|t| t.table.properties().max_lsn).max().unwrap_or(0);
        let mut writer = SsTableWriter::create(fs, &path)?;
        let mut sources: Vec<_> = inputs
            .iter()
            .map(|t| t.table.iter_from(Bound::Unbounded).raw())
            .collect();
        let mut heads = sources
            .iter_mut()
            .map(|source| source.next().transpose())
            .collect::<Result<Vec<_>>>()?;
        for merged in 0u64.. {
            // A retired partition (deposed, or its table deleted) takes no new table: stop
            // rather than finish a merge nobody will install.
            if merged % RETIRED_CHECK_ENTRIES == 0 && self.retired.load(Ordering::Relaxed) {
                return Err(Error::Io {
                    op: "merging tables into",
                    path,
                    source: std::io::Error::other("the partition was retired during the merge"),
                });
            }
            // The smallest key; on a tie the newest source, which comes first.
            let mut best: Option<usize> = None;
            for (i, head) in heads.iter().enumerate() {
                let Some((key, _)) = head else { continue };
                let smaller = match best.and_then(|b| heads[b].as_ref()) {
                    None => true,
                    Some((best_key, _)) => key < best_key,
                };
                if smaller {
                    best = Some(i);
                }
            }
            let Some((key, value)) = best.and_then(|b| heads[b].take()) else {
                break;
            };
            // Older versions of the key are shadowed.
            for (head, source) in heads.iter_mut().zip(sources.iter_mut()) {
                if head.as_ref().is_none_or(|(other, _)| *other == key) {
                    *head = source.next().transpose()?;
                }
            }
            if !(drop_tombstones && value.is_none()) {
                writer.add_raw(&key, value, max_lsn)?;
            }
        }
        writer.set_lsn_range(min_lsn, max_lsn);
        writer.finish()?;
        let sst_dir = self.dir.join("sst");
        fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
        Ok(Arc::new(SsTable::open(fs, &path)?))
    }

    /// The path for new SSTable `number`, its directory created. A file already there is
    /// one an earlier, failed flush or compaction wrote but never recorded: nothing
    /// refers to it.
    pub(super) fn fresh_table_path(&self, number: u64) -> Result<PathBuf> {
        let fs = self.fs.as_ref();
        let path = table_path(&self.dir, number);
        let sst_dir = self.dir.join("sst");
        dynastore_wal::fs::create_dir_durable(fs, &sst_dir).map_err(io_error("creating", &sst_dir))?;
        if fs.exists(&path).map_err(io_error("checking", &path))? {
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
        }
        Ok(path)
    }

    /// Removes SSTable `number` after a failure while writing it (before any MANIFEST
    /// could list it). Best effort: if this fails too, the next open removes the orphan.
    pub(super) fn remove_unrecorded(&self, number: u64) {
        let _ = self.fs.remove_file(&table_path(&self.dir, number));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;

    use crate::storage::Partition;
    use crate::storage::partition::test_support::tiny;

    use std::path::Path;

    use std::sync::atomic::Ordering;

    /// Writes `keys` keys (value `a`: 0), flushes, writes them again (`a`: 1), flushes.
    fn two_flushed_tables(partition: &Partition, keys: u8) {
        for round in 0..2u8 {
            for i in 0..keys {
                partition
                    .write(vec![i; 12], false, |_| {
                        Ok(Some(Item::new().with("a", i64::from(round))))
                    })
                    .unwrap();
            }
            partition.flush().unwrap();
        }
    }

    /// A merge (`Database::compact`, or the compactor's) under way when its partition is
    /// taken out of service stops, and reports no merge rather than an error.
    #[test]
    fn a_merge_under_way_when_its_partition_is_retired_reports_no_error() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let partition = Partition::open(fs.shared(), Path::new("/data/az-b/T/p-0000"), tiny(), None).unwrap();
        two_flushed_tables(&partition, 20);
        // Retired once the merge is chosen, as a repair closing the copy would.
        let merged = partition.run_compaction(|shapes| {
            partition.retired.store(true, Ordering::Relaxed);
            compaction::pick_all(shapes)
        });
        assert!(matches!(merged, Ok(false)), "{merged:?}");
        assert_eq!(partition.state.read().tables.len(), 2, "the tables stay as they were");
    }

    /// A merge under way when its partition is retired stops instead of running to its end.
    #[test]
    fn a_merge_stops_once_its_partition_is_retired() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/data/az-a/T/p-0000");
        let partition = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
        two_flushed_tables(&partition, 50);
        let inputs = partition.state.read().tables.clone();
        assert_eq!(inputs.len(), 2);
        partition.retire();
        let merged = partition.merge_tables(99, &inputs, true);
        assert!(matches!(merged, Err(Error::Io { .. })), "{merged:?}");
        // The tables it read are untouched.
        assert_eq!(partition.get(vec![7; 12]).unwrap(), Some(Item::new().with("a", 1)));
    }
}
