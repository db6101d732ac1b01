//! Which SSTables of a partition to merge next: the compaction policy, as a pure function
//! of the live tables' levels and sizes (the partition does the merging).
//!
//! A partition's tables form *sorted runs*, each run one SSTable, kept newest first: level
//! 0 holds tables flushed from memtables, deeper levels hold merge outputs, and every
//! table of level `i` holds newer writes than every table of level `i + 1`. So a merge
//! always takes a contiguous stretch of the list, and its output takes the stretch's place.
//!
//! Two styles (see [`CompactionStyle`]); both merge level 0 once it has
//! [`LEVEL0_TABLES_TRIGGER`] tables:
//!
//! - **Leveled** (the default): at most one run per level from level 1 down, level `i`
//!   holding up to `base · ratioⁱ⁻¹` bytes. Level 0 is merged into level 1's run; a level
//!   over its size is merged into the next level's run (or, if that level is empty,
//!   simply relabelled, a *move*, nothing rewritten). A read touches at most the level-0
//!   tables and one run per level; each byte is rewritten about `ratio / 2` times per level.
//! - **Tiered**: up to `ratio - 1` runs per level; once a level has `ratio`, they are
//!   merged into one new run of the next level. Each byte is rewritten about once per
//!   level, but a read may touch `ratio - 1` runs per level.
//!
//! A merge drops tombstones only when no table older than its inputs remains: then
//! nothing is left that a tombstone could hide.

use std::ops::Range;

/// Level 0 is merged once it holds this many tables.
pub const LEVEL0_TABLES_TRIGGER: usize = 4;
/// Writers wait (a write stall) while level 0 holds this many tables: compaction fell
/// behind, and reads would slow down with every further table.
pub const LEVEL0_TABLES_STOP: usize = 20;

/// How a partition's SSTables are merged (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionStyle {
    /// One run per level, each level `size_ratio` times the size of the one above.
    Leveled {
        /// The size ratio between adjacent levels (at least 2).
        size_ratio: u32,
    },
    /// Up to `size_ratio - 1` runs per level, merged into one run of the next level once
    /// there are `size_ratio`.
    Tiered {
        /// Runs that make a level full (at least 2).
        size_ratio: u32,
    },
}

impl Default for CompactionStyle {
    /// Leveled with a size ratio of 10, as RocksDB and fjall default to.
    fn default() -> Self {
        CompactionStyle::Leveled { size_ratio: 10 }
    }
}

/// A live table as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableShape {
    /// Its level.
    pub level: u32,
    /// Its file size.
    pub bytes: u64,
}

/// A merge to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The tables to merge: positions in the newest-first list of live tables.
    pub inputs: Range<usize>,
    /// The level of the output run.
    pub output_level: u32,
    /// Whether tombstones can be dropped (no table older than the inputs remains).
    pub drop_tombstones: bool,
    /// Whether the single input is only relabelled with `output_level`, not rewritten.
    pub is_move: bool,
}

/// The positions of the tables of level `level` in `tables` (contiguous, since tables are
/// ordered by level).
fn level_range(tables: &[TableShape], level: u32) -> Range<usize> {
    let start = tables.partition_point(|t| t.level < level);
    let end = tables.partition_point(|t| t.level <= level);
    start..end
}

/// The next merge `style` asks for, if any. `tables` are the live tables newest first
/// (so by non-decreasing level); `level1_bytes` is the size level 1 may reach under
/// `Leveled`.
pub fn pick(style: CompactionStyle, tables: &[TableShape], level1_bytes: u64) -> Option<Job> {
    let deepest = tables.last()?.level;
    let job = |inputs: Range<usize>, output_level: u32, is_move: bool| Job {
        drop_tombstones: inputs.end == tables.len(),
        inputs,
        output_level,
        is_move,
    };
    let level0 = level_range(tables, 0);
    match style {
        CompactionStyle::Leveled { size_ratio } => {
            if level0.len() >= LEVEL0_TABLES_TRIGGER {
                return Some(job(0..level_range(tables, 1).end, 1, false));
            }
            let ratio = u64::from(size_ratio.max(2));
            let mut capacity = level1_bytes.max(1);
            for level in 1..=deepest {
                let range = level_range(tables, level);
                let bytes: u64 = tables[range.clone()].iter().map(|t| t.bytes).sum();
                if range.len() > 1 || bytes > capacity {
                    let next = level_range(tables, level + 1);
                    if next.is_empty() && range.len() == 1 {
                        return Some(job(range, level + 1, true));
                    }
                    return Some(job(range.start..next.end, level + 1, false));
                }
                capacity = capacity.saturating_mul(ratio);
            }
            None
        }
        CompactionStyle::Tiered { size_ratio } => {
            let full = (size_ratio.max(2)) as usize;
            if level0.len() >= LEVEL0_TABLES_TRIGGER {
                return Some(job(level0, 1, false));
            }
            (1..=deepest).find_map(|level| {
                let range = level_range(tables, level);
                (range.len() >= full).then(|| job(range, level + 1, false))
            })
        }
    }
}

/// The merge of every table into one run (a major compaction, `Database::compact`): at
/// the deepest level there is, at least 1, tombstones dropped.
pub fn pick_all(tables: &[TableShape]) -> Option<Job> {
    let deepest = tables.last()?.level.max(1);
    (tables.len() > 1 || tables.first().is_some_and(|t| t.level == 0)).then_some(Job {
        inputs: 0..tables.len(),
        output_level: deepest,
        drop_tombstones: true,
        is_move: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shapes(levels: &[(u32, u64)]) -> Vec<TableShape> {
        levels
            .iter()
            .map(|&(level, bytes)| TableShape { level, bytes })
            .collect()
    }

    /// Applies `job` to `tables` as the partition would: the inputs replaced by one run
    /// of their total size (a move keeps the table).
    fn apply(tables: &mut Vec<TableShape>, job: &Job) {
        let bytes = tables[job.inputs.clone()].iter().map(|t| t.bytes).sum();
        tables.splice(
            job.inputs.clone(),
            [TableShape {
                level: job.output_level,
                bytes,
            }],
        );
    }

    #[test]
    fn leveled_merges_level0_into_level1_and_spills_full_levels_down() {
        let leveled = CompactionStyle::Leveled { size_ratio: 10 };
        assert_eq!(pick(leveled, &shapes(&[(0, 1), (0, 1), (0, 1)]), 100), None);
        let job = pick(
            leveled,
            &shapes(&[(0, 1), (0, 1), (0, 1), (0, 1), (1, 50), (2, 900)]),
            100,
        )
        .unwrap();
        assert_eq!((job.inputs, job.output_level, job.drop_tombstones), (0..5, 1, false));
        // Level 1 over 100 bytes merges into level 2, the deepest: tombstones go.
        let job = pick(leveled, &shapes(&[(0, 1), (1, 150), (2, 900)]), 100).unwrap();
        assert_eq!((job.inputs, job.output_level, job.drop_tombstones), (1..3, 2, true));
        // With level 2 empty it is a move.
        let job = pick(leveled, &shapes(&[(1, 150)]), 100).unwrap();
        assert!(job.is_move && job.output_level == 2);
        assert_eq!(pick(leveled, &shapes(&[(1, 90), (2, 999)]), 100), None);
    }

    #[test]
    fn tiered_merges_a_full_level_into_a_new_run_below() {
        let tiered = CompactionStyle::Tiered { size_ratio: 4 };
        let job = pick(tiered, &shapes(&[(0, 1), (0, 1), (0, 1), (0, 1), (1, 4)]), 100).unwrap();
        assert_eq!((job.inputs, job.output_level, job.drop_tombstones), (0..4, 1, false));
        let job = pick(tiered, &shapes(&[(1, 4), (1, 4), (1, 4), (1, 4)]), 100).unwrap();
        assert_eq!((job.inputs, job.output_level, job.drop_tombstones), (0..4, 2, true));
        assert_eq!(
            pick(tiered, &shapes(&[(0, 1), (1, 4), (1, 4), (1, 4), (2, 16)]), 100),
            None
        );
    }

    #[test]
    fn a_major_compaction_takes_everything_to_the_deepest_level() {
        let job = pick_all(&shapes(&[(0, 1), (1, 5), (3, 9)])).unwrap();
        assert_eq!((job.inputs, job.output_level, job.drop_tombstones), (0..3, 3, true));
        assert_eq!(pick_all(&shapes(&[(2, 5)])), None, "one run is already compacted");
        assert!(
            pick_all(&shapes(&[(0, 5)])).is_some(),
            "a flushed table still has tombstones to drop"
        );
        assert_eq!(pick_all(&[]), None);
    }

    fn style() -> impl Strategy<Value = CompactionStyle> {
        prop_oneof![
            (2u32..12).prop_map(|size_ratio| CompactionStyle::Leveled { size_ratio }),
            (2u32..6).prop_map(|size_ratio| CompactionStyle::Tiered { size_ratio }),
        ]
    }

    proptest! {
        /// Flushing and compacting until the policy is satisfied keeps the tables ordered
        /// by level, and the number a read touches within the style's bound.
        #[test]
        fn compaction_keeps_reads_bounded(style in style(), flushes in proptest::collection::vec(1u64..50, 1..300)) {
            let mut tables: Vec<TableShape> = Vec::new();
            let mut written = 0u64;
            for bytes in flushes {
                tables.insert(0, TableShape { level: 0, bytes });
                written += bytes;
                let mut rounds = 0;
                while let Some(job) = pick(style, &tables, 100) {
                    prop_assert!(job.inputs.end <= tables.len() && !job.inputs.is_empty());
                    apply(&mut tables, &job);
                    rounds += 1;
                    prop_assert!(rounds < 100, "compaction does not settle");
                }
                prop_assert!(tables.windows(2).all(|w| w[0].level <= w[1].level));
                prop_assert_eq!(tables.iter().map(|t| t.bytes).sum::<u64>(), written);
                let deepest = tables.last().map_or(0, |t| t.level) as usize;
                let bound = match style {
                    CompactionStyle::Leveled { .. } => LEVEL0_TABLES_TRIGGER - 1 + deepest,
                    CompactionStyle::Tiered { size_ratio } => (LEVEL0_TABLES_TRIGGER - 1) + (size_ratio as usize - 1) * deepest,
                };
                prop_assert!(tables.len() <= bound, "{} tables over the bound {}", tables.len(), bound);
                // Levels grow geometrically, so there are only logarithmically many.
                prop_assert!(deepest <= 1 + (written as f64).log2() as usize);
            }
        }
    }
}
