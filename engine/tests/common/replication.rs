//! What the replication scenario tests (`replication_*.rs`) share: a replicated `Orders`
//! database, its keys and items, and checks of what every AZ holds. Its imports are
//! re-exported, so that a scenario file needs only `use common::replication::*`.
// A prelude: each scenario file uses part of what it re-exports.
#![allow(unused_imports, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub use super::{join_within, orders_schema, partitions, wait_caught_up};
pub use dynastore_engine::catalog::Catalog;
pub use dynastore_engine::{
    AckMode, BatchGetInput, Database, DeleteItemInput, Error, GetItemInput, Item, KeysAndAttributes, Options,
    PutItemInput, ReplicaStatus, Replication,
};
pub use dynastore_wal::fs::{GatedFs, SharedFs, StdFs, SyncGate};
pub use std::collections::{BTreeMap, BTreeSet};
pub use std::path::Path;
pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicBool, Ordering};
pub use std::time::{Duration, Instant};

pub fn options(ack: AckMode) -> Options {
    Options {
        wal_segment_bytes: 16 << 10,
        memtable_bytes: 64 << 10,
        replication: Some(Replication {
            ack,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

pub fn key(pk: u64, sk: u64) -> Item {
    Item::new().with("pk", format!("user-{pk}")).with("sk", sk as i64)
}

pub fn item(pk: u64, sk: u64, version: u64) -> Item {
    key(pk, sk)
        .with("version", version as i64)
        .with("body", "b".repeat((version % 50) as usize))
}

pub fn put(db: &Database, item: Item) -> Result<Option<Item>, Error> {
    db.put_item(PutItemInput::new("Orders", item))
        .map(|output| output.attributes)
}

pub fn get(db: &Database, key: Item, consistent: bool) -> Option<Item> {
    let mut input = GetItemInput::new("Orders", key);
    input.consistent_read = consistent;
    db.get_item(input).unwrap().item
}

pub fn open(fs: &SharedFs, dir: &Path, options: Options) -> Database {
    Database::open(fs.clone(), dir, options.clone()).unwrap()
}

/// A database with `options` and table Orders, in a new temporary directory.
pub fn orders_db(options: Options) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&StdFs::shared(), dir.path(), options.clone());
    db.create_table(orders_schema("Orders")).unwrap();
    (dir, db)
}

/// Closes `db` and checks that `verify` finds nothing wrong in any AZ's copy.
/// [`close_and_verify`] for a database the test shared with its threads (all joined).
pub fn close_shared_and_verify(db: Arc<Database>, dir: &Path) {
    let Ok(db) = Arc::try_unwrap(db) else {
        panic!("the database is still shared")
    };
    close_and_verify(db, dir);
}

pub fn close_and_verify(db: Database, dir: &Path) {
    db.close().unwrap();
    let report = dynastore_engine::verify::verify(dir);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Puts `count` items over `pks` partition keys (item `i` under `i % pks`, sort key `sk`,
/// version `i`), flushing once item `flush_after` is in: some of the history in tables,
/// the rest in logs and memtables.
pub fn put_with_a_flush_after(db: &Database, count: u64, pks: u64, sk: u64, flush_after: u64) {
    for i in 0..count {
        put(db, item(i % pks, sk, i)).unwrap();
        if i == flush_after {
            db.flush().unwrap();
        }
    }
}

/// Waits until `count` partitions exist, each with its two replicas live: a new
/// partition's replicas are created in the background, and an AZ failed before then
/// leaves the partition no copy to promote (its writes fail, as they should).
pub fn wait_every_replica_live(db: &Database, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reports = partitions(db);
        let ready = reports.len() == count
            && reports
                .iter()
                .all(|p| p.replicas.len() == 2 && p.replicas.iter().all(|r| r.state == ReplicaStatus::Live));
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "replicas not in service: {reports:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every item of every partition, read from the copy in `az` (made primary for the read,
/// once every copy is in service: a former primary rejoins in the background).
pub fn items_in(db: &Database, az: &str, keys: &BTreeSet<(u64, u64)>) -> BTreeMap<(u64, u64), Option<Item>> {
    wait_caught_up(db);
    for p in partitions(db) {
        db.promote("Orders", p.entry.id, az).unwrap();
    }
    keys.iter()
        .map(|&(pk, sk)| ((pk, sk), get(db, key(pk, sk), true)))
        .collect()
}

/// Reads every key in `keys` from every AZ's copy (each made primary in turn).
pub fn same_on_every_az(db: &Database, keys: &BTreeSet<(u64, u64)>) -> BTreeMap<(u64, u64), Option<Item>> {
    let on_a = items_in(db, "az-a", keys);
    assert_eq!(items_in(db, "az-b", keys), on_a, "az-b differs from az-a");
    assert_eq!(items_in(db, "az-c", keys), on_a, "az-c differs from az-a");
    on_a
}

/// `Quorum` options with `Buffered` writes that become durable only when `Database::sync`
/// makes them so (the interval outlasts any test), and acknowledgements awaited for at
/// most `ack_timeout`.
pub fn synced_by_hand(ack_timeout: Duration) -> Options {
    let mut options = options(AckMode::Quorum);
    options.durability = dynastore_wal::Durability::Buffered {
        interval: Duration::from_secs(3600),
    };
    if let Some(replication) = options.replication.as_mut() {
        replication.ack_timeout = ack_timeout;
    }
    options
}

/// After `writes` puts over 30 keys (as [`put_with_a_flush_after`] makes them), each key
/// holds its last write on the primary and, once the replicas caught up, on every AZ;
/// then the database is closed and every AZ verified.
pub fn every_key_holds_its_last_write_on_every_az(db: Database, dir: &Path, writes: u64) {
    let last = |pk: u64| item(pk, 0, (0..writes).rev().find(|i| i % 30 == pk).unwrap());
    for pk in 0..30u64 {
        assert_eq!(get(&db, key(pk, 0), true), Some(last(pk)), "key {pk}");
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..30).map(|pk| (pk, 0)).collect();
    same_on_every_az(&db, &keys);
    close_and_verify(db, dir);
}

/// The real file system, except that syncing a file with extension `extension` (`log`,
/// `sst`) under `<data>/<az>/` hangs while the returned gate is closed.
pub fn hanging_fs(az: &str, extension: &'static str) -> (SharedFs, Arc<SyncGate>) {
    let az = az.to_owned();
    let fs = GatedFs::new(StdFs::shared(), move |path| {
        path.components().any(|c| c.as_os_str() == az.as_str()) && path.extension().is_some_and(|e| e == extension)
    });
    let gate = fs.gate();
    (Arc::new(fs), gate)
}

/// The primary's flushes so far, over every partition.
pub fn primary_flushes(db: &Database) -> u64 {
    partitions(db)
        .iter()
        .filter_map(|p| p.stats.as_ref())
        .map(|s| s.flushes)
        .sum()
}

/// The replica states `stats` shows in `az`, as it displays them, over every created
/// partition.
pub fn replica_states_in(db: &Database, az: &str) -> Vec<String> {
    partitions(db)
        .iter()
        .flat_map(|p| &p.replicas)
        .filter(|r| r.az == az)
        .map(|r| r.state.to_string())
        .collect()
}

/// Puts writes `range` over 40 keys (write `i` is `item(i % 40, 0, i)`), each of which
/// must succeed, noting the keys in `keys`.
pub fn put_over_40_keys(db: &Database, range: std::ops::Range<u64>, keys: &mut BTreeSet<(u64, u64)>, context: &str) {
    for i in range {
        keys.insert((i % 40, 0));
        put(db, item(i % 40, 0, i)).unwrap_or_else(|e| panic!("{context}: write {i}: {e}"));
    }
}

/// Waits until every replica caught up, with az-c's copies live, then checks that every
/// AZ holds the last of writes 0..200 of [`put_over_40_keys`], and closes and verifies.
pub fn az_c_caught_up_with_200_writes(db: Database, dir: &Path, keys: &BTreeSet<(u64, u64)>, context: &str) {
    wait_caught_up(&db);
    let created = partitions(&db).len();
    assert_eq!(replica_states_in(&db, "az-c"), vec!["live"; created], "{context}");
    let items = same_on_every_az(&db, keys);
    for pk in 0..40u64 {
        assert_eq!(items[&(pk, 0)], Some(item(pk, 0, 160 + pk)), "{context}: key {pk}");
    }
    close_and_verify(db, dir);
}

/// The keys of the writes a test made.
pub type Keys = BTreeSet<(u64, u64)>;

/// A one-partition `Quorum` database where a shipment to az-c hangs in its log's fsync
/// (until the gate opens), after 300 acknowledged writes of [`put_20_keys`] (noted in
/// the keys returned): the last 200 acknowledged by az-b alone.
pub fn az_c_log_hung_in_a_shipment() -> (tempfile::TempDir, Arc<Database>, Arc<SyncGate>, Keys) {
    let (fs, gate) = hanging_fs("az-c", "log");
    let (dir, db) = one_partition_quorum_db(fs);
    let mut keys = BTreeSet::new();
    put_20_keys(&db, 0..100, &mut keys);
    wait_caught_up(&db);
    gate.close();
    put_20_keys(&db, 100..300, &mut keys);
    assert!(gate.await_waiter(Duration::from_secs(10)), "az-c's log never synced");
    (dir, db, gate, keys)
}

/// A `Quorum` database (5 s acknowledgement timeout) with table Orders in one partition,
/// on a file system where hard links fail (each AZ a device of its own) and syncing a
/// table in az-c hangs while the returned gate is closed.
pub fn one_partition_where_az_c_tables_hang_without_links() -> (tempfile::TempDir, Arc<Database>, Arc<SyncGate>) {
    let gated = GatedFs::new(StdFs::shared(), |path: &Path| {
        path.components().any(|c| c.as_os_str() == "az-c") && path.extension().is_some_and(|e| e == "sst")
    })
    .without_hard_links();
    let gate = gated.gate();
    let (dir, db) = one_partition_quorum_db(Arc::new(gated));
    (dir, db, gate)
}

/// A `Quorum` database (5 s acknowledgement timeout) on `fs`, with table Orders in one
/// partition.
pub fn one_partition_quorum_db(fs: SharedFs) -> (tempfile::TempDir, Arc<Database>) {
    let mut options = options(AckMode::Quorum);
    options.initial_partitions = 1;
    if let Some(replication) = options.replication.as_mut() {
        replication.ack_timeout = Duration::from_secs(5);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(&fs, dir.path(), options.clone()));
    db.create_table(orders_schema("Orders")).unwrap();
    (dir, db)
}

/// Every AZ holds every write of [`put_20_keys`] noted in `keys`, as written.
pub fn assert_every_az_holds_20_key_writes(db: &Database, keys: &Keys, context: &str) {
    let items = same_on_every_az(db, keys);
    for &(pk, i) in keys {
        assert_eq!(items[&(pk, i)], Some(item(pk, i, i)), "{context}: write {i}");
    }
}

/// Puts writes `range` over 20 partition keys (write `i` is `item(i % 20, i, i)`), each
/// of which must succeed, noting the keys in `keys`.
pub fn put_20_keys(db: &Database, range: std::ops::Range<u64>, keys: &mut BTreeSet<(u64, u64)>) {
    for i in range {
        keys.insert((i % 20, i));
        put(db, item(i % 20, i, i)).unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
}

/// Runs `action` on `db` in a thread of its own and returns its result, or panics if it
/// has not returned within 10 s (the tests' hung disks hold a sync for 20 s).
pub fn within_10s(
    db: &Arc<Database>,
    context: &str,
    action: impl FnOnce(&Database) -> Result<(), Error> + Send + 'static,
) {
    let (done, result) = std::sync::mpsc::channel();
    let db = Arc::clone(db);
    std::thread::spawn(move || {
        let _ = done.send(action(&db));
    });
    match result.recv_timeout(Duration::from_secs(10)) {
        Ok(outcome) => outcome.unwrap_or_else(|e| panic!("{context}: {e}")),
        Err(_) => panic!("{context} waited for az-c's hung disk"),
    }
}

/// [`within_10s`] for a planned failover of partition 0 of Orders to `az`.
pub fn promote_within_10s(db: &Arc<Database>, az: &'static str, context: &str) {
    within_10s(db, context, move |db| db.promote("Orders", 0, az));
}

/// Options for the replication-backpressure tests: one partition (so every write counts
/// against the same log), `Buffered` writes, replicas allowed 50 records behind.
pub fn buffered_with_lag_bound(ack: AckMode, ack_timeout: Duration) -> Options {
    let mut options = options(ack);
    options.initial_partitions = 1;
    options.durability = dynastore_wal::Durability::Buffered {
        interval: Duration::from_millis(2),
    };
    if let Some(replication) = options.replication.as_mut() {
        replication.max_lag_records = 50;
        replication.ack_timeout = ack_timeout;
    }
    options
}
