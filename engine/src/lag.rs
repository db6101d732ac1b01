//! Replication lag in time, from successive [`Database::stats`](crate::Database::stats)
//! reports.
//!
//! The stats give each replica's lag in records and bytes; what a user of a replicated
//! store asks is how *old* the newest data a replica lacks is. [`LagClock`] answers that
//! by remembering when each primary's durable LSN was first seen: a replica's lag is how
//! long ago the oldest record it lacks became durable on the primary. Records are shipped
//! only once durable on the primary, so the time a `Buffered` record waits for its
//! primary's sync is the durability mode's, not replication's, and is not counted. The
//! figure is exact to the sampling period: sample often (every millisecond or so) for a
//! fine-grained figure.

use crate::database::TableStats;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// One replica's lag at one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLag {
    /// The table.
    pub table: String,
    /// The partition's id within the table.
    pub partition: u32,
    /// The replica's AZ.
    pub az: String,
    /// How long ago the oldest record durable on the primary that this replica lacks was
    /// first seen durable there; zero when it holds every such record.
    pub lag: Duration,
}

/// Remembers, per partition, when each primary durable LSN was first seen, back to the
/// oldest record some replica still lacks.
#[derive(Debug, Default)]
pub struct LagClock {
    /// Per (table, partition): (first seen, primary durable LSN), oldest first, LSNs
    /// strictly increasing.
    durable_at: HashMap<(String, u32), VecDeque<(Instant, u64)>>,
}

impl LagClock {
    /// A clock that has seen nothing yet.
    pub fn new() -> LagClock {
        LagClock::default()
    }

    /// Takes a stats report made at `now` and returns every replica's lag at that
    /// moment, in report order. A partition first seen in this report has lag zero for
    /// the records already durable on its primary (nothing says how old they are). Times
    /// must not go backwards from one call to the next.
    pub fn observe(&mut self, now: Instant, report: &[TableStats]) -> Vec<ReplicaLag> {
        let mut lags = Vec::new();
        for table in report {
            for partition in &table.partitions {
                let Some(stats) = &partition.stats else { continue };
                let samples = self
                    .durable_at
                    .entry((table.name.clone(), partition.entry.id))
                    .or_default();
                // A promotion may bring a new primary whose durable LSN is behind the old
                // one's last sample; what came before is then not this primary's history.
                if samples.back().is_some_and(|&(_, lsn)| lsn > stats.durable_lsn) {
                    samples.clear();
                }
                // On the first look, what is already durable counts from now on.
                if samples.back().is_none_or(|&(_, lsn)| lsn < stats.durable_lsn) {
                    samples.push_back((now, stats.durable_lsn));
                }
                for replica in &partition.replicas {
                    // The first sample whose LSN the replica lacks: the records after the
                    // sample before it became durable by then.
                    let lag = samples
                        .iter()
                        .find(|&&(_, lsn)| lsn > replica.durable_lsn)
                        .map_or(Duration::ZERO, |&(seen, _)| now.saturating_duration_since(seen));
                    lags.push(ReplicaLag {
                        table: table.name.clone(),
                        partition: partition.entry.id,
                        az: replica.az.clone(),
                        lag,
                    });
                }
                // Forget samples every replica is past, keeping the newest.
                let slowest = partition.replicas.iter().map(|r| r.durable_lsn).min();
                while samples.len() > 1 && slowest.is_none_or(|slowest| samples[1].1 <= slowest) {
                    samples.pop_front();
                }
            }
        }
        lags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{HashRange, PartitionEntry, ReplicationGroup};
    use crate::database::{PartitionReport, ReplicaReport};
    use crate::storage::PartitionStats;

    fn report(primary_durable: u64, replicas: &[u64]) -> Vec<TableStats> {
        let stats = PartitionStats {
            durable_lsn: primary_durable,
            ..PartitionStats::default()
        };
        let replicas = replicas
            .iter()
            .enumerate()
            .map(|(i, &durable_lsn)| ReplicaReport {
                az: format!("az-{i}"),
                state: crate::database::ReplicaStatus::Live,
                durable_lsn,
                applied_lsn: durable_lsn,
                lag_records: primary_durable.saturating_sub(durable_lsn),
                lag_bytes: 0,
            })
            .collect();
        vec![TableStats {
            name: "T".to_owned(),
            partitions: vec![PartitionReport {
                entry: PartitionEntry {
                    id: 0,
                    range: HashRange {
                        start: 0,
                        end: u64::MAX,
                    },
                    created: true,
                    group: ReplicationGroup::default(),
                },
                stats: Some(stats),
                replicas,
                index_lag_records: None,
            }],
            global_indexes: Vec::new(),
        }]
    }

    fn lags(lags: &[ReplicaLag]) -> Vec<u128> {
        lags.iter().map(|l| l.lag.as_millis()).collect()
    }

    #[test]
    fn a_replica_lags_by_the_age_of_the_oldest_record_it_lacks() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut clock = LagClock::new();
        // First look: 10 records durable, one replica behind; their age is unknown, so
        // they count from now.
        assert_eq!(lags(&clock.observe(at(0), &report(10, &[10, 4]))), [0, 0]);
        // Records 11..=20 were first seen at 5 ms: replica 0 lacks them since then, to the
        // sampling period; replica 1 lacks 5..=10, seen at 0 ms.
        assert_eq!(lags(&clock.observe(at(5), &report(20, &[10, 4]))), [0, 5]);
        assert_eq!(lags(&clock.observe(at(9), &report(30, &[10, 4]))), [4, 9]);
        // Replica 0 took 11..=20 and lacks 21..=30 (seen at 9 ms); replica 1 took 5..=10.
        assert_eq!(lags(&clock.observe(at(10), &report(30, &[20, 10]))), [1, 5]);
        assert_eq!(lags(&clock.observe(at(12), &report(30, &[25, 30]))), [12 - 9, 0]);
        assert_eq!(lags(&clock.observe(at(20), &report(30, &[30, 30]))), [0, 0]);
    }

    #[test]
    fn a_primary_behind_the_last_sample_starts_a_new_history() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut clock = LagClock::new();
        clock.observe(at(0), &report(10, &[10]));
        assert_eq!(lags(&clock.observe(at(10), &report(50, &[10]))), [0]);
        // A failover to a copy that held 40 records: the lag counts from now.
        assert_eq!(lags(&clock.observe(at(20), &report(40, &[30]))), [0]);
        assert_eq!(lags(&clock.observe(at(25), &report(45, &[30]))), [5]);
        assert_eq!(lags(&clock.observe(at(26), &report(45, &[40]))), [1]);
    }
}
