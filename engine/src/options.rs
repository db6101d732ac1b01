//! How a database is opened: its [`Options`] and [`Replication`], with their defaults.

use crate::catalog::DEFAULT_AZ;
use crate::storage::compaction::CompactionStyle;
use dynastore_replication::AckMode;
use dynastore_wal::{Durability, WalOptions};
use std::time::Duration;

/// The AZ directory every partition of an unreplicated database lives in.
pub const PRIMARY_AZ: &str = DEFAULT_AZ;

/// The AZs of a replicated database by default, as in DynamoDB: three, the first primary.
pub const DEFAULT_AZS: &[&str] = &["az-a", "az-b", "az-c"];

/// How partitions are replicated across availability zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// The AZs holding a copy of every partition; the first is every new partition's
    /// primary. Each is a directory under the data directory.
    pub azs: Vec<String>,
    /// When a `Sync` write is acknowledged: durable on the primary only, on the primary
    /// and one replica (`Quorum`, the default: DynamoDB's 2 of 3), or on every copy.
    /// (`Buffered` writes are acknowledged before they are durable anywhere, so they never
    /// wait for replicas; shipping follows the primary's syncs.)
    pub ack: AckMode,
    /// How long a write waits for its acknowledgements before failing with
    /// [`Error::Replication`](crate::Error::Replication).
    pub ack_timeout: Duration,
    /// How many records the replicas `ack` counts may lag a partition's newest record
    /// before `Buffered` writes to it wait for them (a write stall, as when flushing falls
    /// behind), at most `ack_timeout` each. This bounds replication lag under a load the
    /// replicas cannot keep up with; it holds writers back only while no replica `ack`
    /// counts is within reach (in `Quorum`, one keeping up is enough), and never in
    /// `Primary` mode. `u64::MAX` turns it off.
    pub max_lag_records: u64,
}

/// [`Replication::max_lag_records`]'s default: with ~200-byte records at a few hundred
/// thousand writes per second, tens of milliseconds of lag.
pub const DEFAULT_MAX_LAG_RECORDS: u64 = 4096;

impl Default for Replication {
    /// Three AZs ([`DEFAULT_AZS`]), `Quorum`, a 10-second acknowledgement timeout, and
    /// [`DEFAULT_MAX_LAG_RECORDS`].
    fn default() -> Self {
        Replication {
            azs: DEFAULT_AZS.iter().map(|az| (*az).to_owned()).collect(),
            ack: AckMode::Quorum,
            ack_timeout: Duration::from_secs(10),
            max_lag_records: DEFAULT_MAX_LAG_RECORDS,
        }
    }
}

/// How a database is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// When a write counts as done: `Sync` (default) acknowledges after fsync (shared by
    /// concurrent writers); `Buffered` syncs on an interval (see [`Database::sync`](crate::Database::sync)).
    pub durability: Durability,
    /// How many hash ranges (partitions) a new table's hash space is cut into.
    pub initial_partitions: u32,
    /// The size at which a partition's WAL starts a new segment.
    pub wal_segment_bytes: u64,
    /// A partition's memtable is flushed to an SSTable in the background once it holds
    /// about this many bytes.
    pub memtable_bytes: usize,
    /// When the memtables of all partitions together hold more than this many bytes, the
    /// largest are flushed in the background until they are under it.
    pub memtables_bytes_total: usize,
    /// How SSTables are merged in the background (default: leveled, size ratio 10).
    pub compaction: CompactionStyle,
    /// Whether a background thread merges SSTables as [`Options::compaction`] asks
    /// (default true). Without it merges happen only in [`Database::compact_pending`](crate::Database::compact_pending) and
    /// [`Database::compact`](crate::Database::compact) (as RocksDB's `disable_auto_compactions`, e.g. for a bulk
    /// load compacted once at the end); reads slow down as tables pile up meanwhile.
    pub auto_compaction: bool,
    /// Copies of every new table's partitions in several AZs, and when writes count as
    /// done (see [`Replication`]); `None` (the default) keeps one copy, in `az-a`. Tables
    /// keep the AZs they were created with (the CATALOG holds them).
    pub replication: Option<Replication>,
    /// The size past which a write may not grow an item collection of a table with local
    /// secondary indexes (see [`crate::Error::ItemCollectionSizeLimitExceeded`]): 10 GB,
    /// DynamoDB's limit, by default. Lower it only to test that limit.
    pub item_collection_bytes_max: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Sync,
            initial_partitions: 4,
            wal_segment_bytes: 64 << 20,
            memtable_bytes: 64 << 20,
            memtables_bytes_total: 256 << 20,
            compaction: CompactionStyle::default(),
            auto_compaction: true,
            replication: None,
            item_collection_bytes_max: crate::index::collection::ITEM_COLLECTION_BYTES_MAX,
        }
    }
}

impl Options {
    pub(crate) fn wal_options(&self) -> WalOptions {
        WalOptions {
            segment_bytes_max: self.wal_segment_bytes,
            durability: self.durability,
            ..WalOptions::default()
        }
    }
}
