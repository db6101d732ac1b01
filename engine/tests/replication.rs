//! Replication across AZ directories, driven by the engine: every AZ holds every
//! acknowledged write, a failed primary AZ is replaced by a replica without losing an
//! acknowledged write or repeating one, a former primary rejoins without its unshipped
//! tail, and replica reads never show a write the primary did not acknowledge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{join_within, orders_schema, partitions, wait_caught_up};
use dynastore_engine::catalog::Catalog;
use dynastore_engine::{
    AckMode, BatchGetInput, Database, DeleteItemInput, Error, GetItemInput, Item, KeysAndAttributes, Options,
    PutItemInput, ReplicaStatus, Replication,
};
use dynastore_wal::fs::{GatedFs, SharedFs, StdFs, SyncGate};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn options(ack: AckMode) -> Options {
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

fn key(pk: u64, sk: u64) -> Item {
    Item::new().with("pk", format!("user-{pk}")).with("sk", sk as i64)
}

fn item(pk: u64, sk: u64, version: u64) -> Item {
    key(pk, sk)
        .with("version", version as i64)
        .with("body", "b".repeat((version % 50) as usize))
}

fn put(db: &Database, item: Item) -> Result<Option<Item>, Error> {
    db.put_item(PutItemInput::new("Orders", item))
        .map(|output| output.attributes)
}

fn get(db: &Database, key: Item, consistent: bool) -> Option<Item> {
    let mut input = GetItemInput::new("Orders", key);
    input.consistent_read = consistent;
    db.get_item(input).unwrap().item
}

fn open(fs: &SharedFs, dir: &Path, options: Options) -> Database {
    Database::open(fs.clone(), dir, options.clone()).unwrap()
}

/// A database with `options` and table Orders, in a new temporary directory.
fn orders_db(options: Options) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&StdFs::shared(), dir.path(), options.clone());
    db.create_table(orders_schema("Orders")).unwrap();
    (dir, db)
}

/// Closes `db` and checks that `verify` finds nothing wrong in any AZ's copy.
/// [`close_and_verify`] for a database the test shared with its threads (all joined).
fn close_shared_and_verify(db: Arc<Database>, dir: &Path) {
    let Ok(db) = Arc::try_unwrap(db) else {
        panic!("the database is still shared")
    };
    close_and_verify(db, dir);
}

fn close_and_verify(db: Database, dir: &Path) {
    db.close().unwrap();
    let report = dynastore_engine::verify::verify(dir);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Puts `count` items over `pks` partition keys (item `i` under `i % pks`, sort key `sk`,
/// version `i`), flushing once item `flush_after` is in: some of the history in tables,
/// the rest in logs and memtables.
fn put_with_a_flush_after(db: &Database, count: u64, pks: u64, sk: u64, flush_after: u64) {
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
fn wait_every_replica_live(db: &Database, count: usize) {
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
fn items_in(db: &Database, az: &str, keys: &BTreeSet<(u64, u64)>) -> BTreeMap<(u64, u64), Option<Item>> {
    wait_caught_up(db);
    for p in partitions(db) {
        db.promote("Orders", p.entry.id, az).unwrap();
    }
    keys.iter()
        .map(|&(pk, sk)| ((pk, sk), get(db, key(pk, sk), true)))
        .collect()
}

#[test]
fn every_az_holds_every_acknowledged_write_and_verifies_clean() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    let mut keys = BTreeSet::new();
    let mut model = BTreeMap::new();
    for i in 0..600u64 {
        let (pk, sk) = (i % 37, i % 11);
        keys.insert((pk, sk));
        put(&db, item(pk, sk, i)).unwrap();
        model.insert((pk, sk), Some(item(pk, sk, i)));
        if i % 7 == 0 {
            let gone = (i % 37, (i + 3) % 11);
            db.delete_item(DeleteItemInput::new("Orders", key(gone.0, gone.1)))
                .unwrap();
            keys.insert(gone);
            model.insert(gone, None);
        }
    }
    db.flush().unwrap();
    wait_caught_up(&db);
    let reports = partitions(&db);
    assert_eq!(reports.len(), 4);
    for p in &reports {
        assert_eq!(p.entry.group.azs, ["az-a", "az-b", "az-c"]);
        assert_eq!(p.replicas.len(), 2, "{p:?}");
        // Replicas flush on their own: each has its tables.
        assert!(
            p.replicas
                .iter()
                .all(|r| r.state == ReplicaStatus::Live && r.lag_records == 0)
        );
    }
    let on_a = items_in(&db, "az-a", &keys);
    assert_eq!(on_a, model);
    assert_eq!(items_in(&db, "az-b", &keys), on_a);
    assert_eq!(items_in(&db, "az-c", &keys), on_a);
    db.close().unwrap();
    // Every AZ's copy of every partition has its directory and passes every check.
    let report = dynastore_engine::verify::verify(dir.path());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for az in ["az-a", "az-b", "az-c"] {
        assert!(dir.path().join(az).join("Orders").join("p-0000").is_dir());
    }
    let catalog = Catalog::load(&StdFs, dir.path()).unwrap();
    let groups: Vec<_> = catalog.tables["Orders"]
        .partitions
        .iter()
        .map(|p| (p.group.primary.as_str(), p.group.epoch))
        .collect();
    // Each partition was promoted to az-a (a no-op where it was primary), az-b, then az-c.
    assert!(
        groups.iter().all(|(primary, epoch)| *primary == "az-c" && *epoch == 3),
        "{groups:?}"
    );
}

#[test]
fn a_failed_primary_az_is_replaced_and_writing_goes_on() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    for i in 0..150u64 {
        put(&db, item(i % 23, 0, i)).unwrap();
    }
    // az-c gets none of the last writes, so az-b has the highest LSN everywhere.
    db.pause_shipping("az-c", true).unwrap();
    for i in 150..200u64 {
        put(&db, item(i % 23, 0, i)).unwrap();
    }
    db.fail_az("az-a").unwrap();
    db.pause_shipping("az-c", false).unwrap();
    for p in partitions(&db) {
        assert_eq!(p.entry.group.primary, "az-b", "the replica with the highest LSN");
        assert_eq!((p.entry.group.epoch, p.entry.group.failovers), (2, 1));
        let a = p.replicas.iter().find(|r| r.az == "az-a").unwrap();
        assert_eq!(a.state, ReplicaStatus::OutOfService);
    }
    // The last version of key `pk` among writes 0..n is the largest i < n with i % 23 == pk.
    let last = |pk: u64, n: u64| item(pk, 0, (0..n).rev().find(|i| i % 23 == pk).unwrap());
    for pk in 0..23u64 {
        assert_eq!(get(&db, key(pk, 0), true), Some(last(pk, 200)));
    }
    for i in 200..300u64 {
        put(&db, item(i % 23, 0, i)).unwrap();
    }
    db.restore_az("az-a").unwrap();
    wait_caught_up(&db);
    for p in partitions(&db) {
        assert!(p.replicas.iter().all(|r| r.state == ReplicaStatus::Live), "{p:?}");
    }
    // The former primary serves again once promoted back, with every write.
    for p in partitions(&db) {
        db.promote("Orders", p.entry.id, "az-a").unwrap();
    }
    for pk in 0..23u64 {
        assert_eq!(get(&db, key(pk, 0), true), Some(last(pk, 300)));
    }
    close_and_verify(db, dir.path());

    // Reopened: the CATALOG's primaries and epochs hold.
    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Quorum));
    for p in partitions(&db) {
        assert_eq!((p.entry.group.primary.as_str(), p.entry.group.epoch), ("az-a", 3));
    }
    for pk in 0..23u64 {
        assert_eq!(get(&db, key(pk, 0), true), Some(last(pk, 300)));
    }
}

#[test]
fn losing_every_replica_fails_quorum_writes_and_primary_mode_goes_on() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    put(&db, item(1, 1, 1)).unwrap();
    db.fail_az("az-b").unwrap();
    put(&db, item(1, 1, 2)).unwrap();
    db.fail_az("az-c").unwrap();
    let error = put(&db, item(1, 1, 3)).unwrap_err();
    assert!(matches!(error, Error::Replication(_)), "{error}");
    assert_eq!(error.exception_name(), "InternalServerError");
    // The write is durable on the primary, unacknowledged: its outcome is unknown, and
    // here it did take effect there.
    assert_eq!(get(&db, key(1, 1), true), Some(item(1, 1, 3)));
    db.restore_az("az-b").unwrap();
    put(&db, item(1, 1, 4)).unwrap();
    assert!(matches!(db.fail_az("az-x"), Err(Error::Validation(_))));
    drop(db);

    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Primary));
    db.fail_az("az-b").unwrap();
    db.fail_az("az-c").unwrap();
    put(&db, item(1, 1, 5)).unwrap();
    assert_eq!(get(&db, key(1, 1), false), Some(item(1, 1, 5)));
}

#[test]
fn quorum_failovers_under_concurrent_writers_lose_and_repeat_nothing() {
    let (_dir, db) = orders_db(options(AckMode::Quorum));
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|thread| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    // A new key each time, written only if absent: a retried write whose
                    // first record reached the new primary would fail its own condition.
                    let mut input = PutItemInput::new("Orders", item(thread * 1_000_000 + seq, 0, seq));
                    input.condition = Some(dynastore_engine::Condition::AttributeNotExists(
                        dynastore_engine::Path::attribute("pk"),
                    ));
                    match db.put_item(input) {
                        Ok(_) => acknowledged.push(seq),
                        Err(error) => panic!(
                            "write {thread}/{seq} failed: {error:?} {:?}",
                            db.stats().map(|t| t
                                .into_iter()
                                .flat_map(|t| t.partitions)
                                .map(|p| (
                                    p.entry.group.primary,
                                    p.replicas.into_iter().map(|r| (r.az, r.state)).collect::<Vec<_>>()
                                ))
                                .collect::<Vec<_>>())
                        ),
                    }
                    seq += 1;
                }
                (thread, acknowledged)
            })
        })
        .collect();
    wait_every_replica_live(&db, 4);
    let azs = ["az-a", "az-b", "az-c"];
    for round in 0..9 {
        std::thread::sleep(Duration::from_millis(40 + 17 * round as u64));
        if round % 3 == 2 {
            // A planned failover of every partition to the next AZ.
            for p in partitions(&db) {
                match db.promote("Orders", p.entry.id, azs[round % 3]) {
                    Ok(()) | Err(Error::Unavailable { .. }) => {}
                    Err(error) => panic!("promoting: {error}"),
                }
            }
            continue;
        }
        // The AZ most partitions use as primary now.
        let primary = partitions(&db)[0].entry.group.primary.clone();
        db.fail_az(&primary).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        db.restore_az(&primary).unwrap();
        assert!(azs.contains(&primary.as_str()));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for writer in writers {
        // Each finishes the write it is in, within a few acknowledgement timeouts at most.
        let (thread, acknowledged) = join_within(writer, Duration::from_secs(120), "a writer");
        for seq in acknowledged {
            total += 1;
            assert_eq!(
                get(&db, key(thread * 1_000_000 + seq, 0), true),
                Some(item(thread * 1_000_000 + seq, 0, seq)),
                "acknowledged write {thread}/{seq}"
            );
        }
    }
    assert!(total > 100, "only {total} writes in the run");
    let failovers: u64 = partitions(&db).iter().map(|p| p.entry.group.failovers).sum();
    assert!(failovers >= 6, "{failovers}");
}

/// Reads every key in `keys` from every AZ's copy (each made primary in turn).
fn same_on_every_az(db: &Database, keys: &BTreeSet<(u64, u64)>) -> BTreeMap<(u64, u64), Option<Item>> {
    let on_a = items_in(db, "az-a", keys);
    assert_eq!(items_in(db, "az-b", keys), on_a, "az-b differs from az-a");
    assert_eq!(items_in(db, "az-c", keys), on_a, "az-c differs from az-a");
    on_a
}

/// A planned promotion never loses a write the primary made durable: when the chosen
/// copy could not be handed every such record (here shipping to every replica is cut, in
/// `Primary` mode, so no replica is further ahead), it is refused with `Unavailable` and
/// nothing changes; once the replicas caught up, it goes through with every write there.
/// (It used to promote the copy anyway, and the writes only the primary held were lost.)
#[test]
fn a_planned_promotion_refuses_a_copy_that_lacks_durable_writes() {
    let mut options = options(AckMode::Primary);
    options.initial_partitions = 1;
    let (dir, db) = orders_db(options);
    for i in 0..10u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    wait_caught_up(&db);
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for i in 10..20u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    let refused = db.promote("Orders", 0, "az-b");
    assert!(
        matches!(&refused, Err(Error::Unavailable { reason, .. }) if reason.contains("behind the primary")),
        "{refused:?}"
    );
    let group = partitions(&db)[0].entry.group.clone();
    assert_eq!((group.primary.as_str(), group.failovers), ("az-a", 0), "{group:?}");
    for i in 0..20u64 {
        assert_eq!(
            get(&db, key(i, 0), true),
            Some(item(i, 0, i)),
            "key {i} after the refusal"
        );
    }
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    wait_caught_up(&db);
    db.promote("Orders", 0, "az-b").unwrap();
    assert_eq!(partitions(&db)[0].entry.group.primary, "az-b");
    for i in 0..20u64 {
        assert_eq!(get(&db, key(i, 0), true), Some(item(i, 0, i)), "key {i} on az-b");
    }
    close_and_verify(db, dir.path());
}

/// `Primary` mode acknowledges a write once it is durable on the primary alone. This test
/// documents what that costs: writes the shipper had not yet shipped when the primary's
/// AZ failed are lost (here: every write made while shipping was cut off), and none is
/// lost once the shipper had caught up. The former primary then rejoins: the tail the
/// new primary never had is dropped, and every AZ ends up with identical items.
#[test]
fn primary_mode_loses_unshipped_writes_and_the_former_primary_drops_its_tail() {
    let (dir, db) = orders_db(options(AckMode::Primary));
    let mut keys = BTreeSet::new();
    for i in 0..100u64 {
        keys.insert((i % 40, 1));
        put(&db, item(i % 40, 1, i)).unwrap();
    }
    // The last of writes 0..100 to key pk.
    let last = |pk: u64| item(pk, 1, if pk + 80 < 100 { pk + 80 } else { pk + 40 });
    // Caught up: a failure now loses nothing.
    wait_caught_up(&db);
    db.fail_az("az-a").unwrap();
    for pk in 0..40u64 {
        assert_eq!(get(&db, key(pk, 1), true), Some(last(pk)));
    }
    db.restore_az("az-a").unwrap();
    wait_caught_up(&db);

    // Cut shipping off, and write: acknowledged in Primary mode, held by az-b alone now.
    db.pause_shipping("az-a", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for i in 100..130u64 {
        put(&db, item(i % 40, 1, i)).unwrap();
    }
    db.fail_az("az-b").unwrap();
    db.pause_shipping("az-a", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    // Lost: those 30 acknowledged writes.
    for pk in 0..40u64 {
        assert_eq!(get(&db, key(pk, 1), true), Some(last(pk)), "key {pk}");
    }
    // The new primary takes new writes at the LSNs the lost ones had on az-b.
    for i in 130..150u64 {
        keys.insert((i % 40, 2));
        put(&db, item(i % 40, 2, i)).unwrap();
    }
    db.restore_az("az-b").unwrap();
    wait_caught_up(&db);
    let items = same_on_every_az(&db, &keys);
    for pk in 0..40u64 {
        assert_eq!(items[&(pk, 1)], Some(last(pk)), "az-b's tail came back for {pk}");
    }
    close_and_verify(db, dir.path());
}

/// In `Quorum` mode a write no replica receives is never acknowledged, so cutting
/// shipping off and failing the primary loses nothing that was acknowledged.
#[test]
fn quorum_mode_acknowledges_nothing_unshipped() {
    let mut options = options(AckMode::Quorum);
    if let Some(replication) = options.replication.as_mut() {
        // Long enough for a loaded machine's fsyncs, short enough to wait out once.
        replication.ack_timeout = Duration::from_millis(500);
    }
    let (_dir, db) = orders_db(options);
    put(&db, item(7, 7, 1)).unwrap();
    // One replica not keeping up blocks nothing: the other acknowledges (within the
    // timeout).
    db.pause_shipping("az-b", true).unwrap();
    for version in 2..20 {
        put(&db, item(7, 7, version)).unwrap();
    }
    db.pause_shipping("az-b", false).unwrap();
    wait_caught_up(&db);
    put(&db, item(7, 7, 1)).unwrap();
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    let error = put(&db, item(7, 7, 2)).unwrap_err();
    assert!(matches!(error, Error::Replication(_)), "{error}");
    db.fail_az("az-a").unwrap();
    assert_eq!(get(&db, key(7, 7), true), Some(item(7, 7, 1)));
}

/// Eventually consistent reads go to replicas as well as the primary, and never return a
/// version the primary did not acknowledge, nor one older than an acknowledged write.
#[test]
fn replica_reads_return_only_acknowledged_versions() {
    let (_dir, db) = orders_db(options(AckMode::Quorum));
    let db = Arc::new(db);
    let acknowledged = Arc::new(parking_lot::Mutex::new(BTreeMap::<u64, u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, acknowledged, stop) = (Arc::clone(&db), Arc::clone(&acknowledged), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut version = 0;
            while !stop.load(Ordering::Relaxed) {
                version += 1;
                let pk = version % 8;
                put(&db, item(pk, 0, version)).unwrap();
                acknowledged.lock().insert(pk, version);
            }
        })
    };
    let mut reads = 0;
    let deadline = Instant::now() + Duration::from_millis(400);
    while Instant::now() < deadline {
        for pk in 0..8u64 {
            let floor = acknowledged.lock().get(&pk).copied();
            let seen = get(&db, key(pk, 0), false).map(|item| match item.get("version") {
                Some(dynastore_engine::AttributeValue::N(n)) => n.to_string().parse::<u64>().unwrap(),
                other => panic!("{other:?}"),
            });
            let ceiling = acknowledged.lock().get(&pk).copied();
            reads += 1;
            // Not older than what was acknowledged before the read began...
            assert!(
                seen >= floor,
                "key {pk}: read {seen:?} after {floor:?} was acknowledged"
            );
            // ...and nothing the writer was not at least about to have acknowledged.
            if let Some(seen) = seen {
                assert_eq!(seen % 8, pk);
                assert!(seen <= ceiling.unwrap_or(0) + 8, "key {pk}: {seen} was never written");
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(reads > 100);
}

/// The primary AZ's disk is lost while the database is closed: reopening promotes the
/// replica with the highest LSN (recorded in the CATALOG), every acknowledged write is
/// there, and the lost AZ's copies are rebuilt from the new primary.
#[test]
fn a_primary_az_lost_while_closed_is_replaced_at_open() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    put_with_a_flush_after(&db, 300, 50, 3, 150);
    db.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("az-a")).unwrap();

    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Quorum));
    for p in partitions(&db) {
        assert_ne!(p.entry.group.primary, "az-a");
        assert_eq!((p.entry.group.epoch, p.entry.group.failovers), (2, 1));
    }
    for pk in 0..50u64 {
        assert_eq!(get(&db, key(pk, 3), true), Some(item(pk, 3, 250 + pk)), "key {pk}");
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..50).map(|pk| (pk, 3)).collect();
    let items = same_on_every_az(&db, &keys);
    assert!(items.values().all(Option::is_some));
    close_and_verify(db, dir.path());
    let catalog = Catalog::load(&StdFs, dir.path()).unwrap();
    assert!(catalog.tables["Orders"].partitions.iter().all(|p| p.group.epoch >= 2));
}

/// Queries and scans may be served by replicas too, but never by one that lacks an
/// acknowledged write: with shipping cut off to every replica, they still see it.
#[test]
fn eventually_consistent_queries_and_scans_see_every_acknowledged_write() {
    let (_dir, db) = orders_db(options(AckMode::Primary));
    for i in 0..40u64 {
        put(&db, item(i % 4, i, i)).unwrap();
    }
    wait_caught_up(&db);
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    put(&db, item(1, 1000, 1000)).unwrap();
    for _ in 0..6 {
        let mut query = dynastore_engine::QueryInput::new("Orders", "user-1");
        query.consistent_read = false;
        let page = db.query(query).unwrap();
        assert_eq!(page.items.len(), 11);
        assert_eq!(page.items.last(), Some(&item(1, 1000, 1000)));
        let mut scan = dynastore_engine::ScanInput::new("Orders");
        scan.consistent_read = false;
        assert_eq!(db.scan(scan).unwrap().items.len(), 41);
    }
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    wait_caught_up(&db);
    let mut scan = dynastore_engine::ScanInput::new("Orders");
    scan.consistent_read = false;
    assert_eq!(db.scan(scan).unwrap().items.len(), 41);
}

/// I/O errors on whatever copy they hit (a primary's log, a replica's append, a flush):
/// a write that fails is retried on a new primary or reports the error; failed replicas
/// are repaired in the background once the disk works again; every acknowledged write
/// stays readable and all AZs end up identical.
#[test]
fn transient_io_errors_fail_over_and_failed_replicas_heal_by_themselves() {
    use dynastore_wal::fs::{FaultKind, FaultyFs, OpKind};
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let db = open(&fs, Path::new("/data"), options(AckMode::Quorum));
    db.create_table(orders_schema("Orders")).unwrap();
    let mut model = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    let mut seq = 0u64;
    for round in 0..10u64 {
        for _ in 0..30 {
            seq += 1;
            let (pk, sk) = (seq % 13, seq % 5);
            put(&db, item(pk, sk, seq)).unwrap_or_else(|e| panic!("round {round}, write {seq}: {e}"));
            model.insert((pk, sk), seq);
            unknown.remove(&(pk, sk));
        }
        // The next sync or write anywhere fails, and every one after it until cleared.
        let kinds = if round % 2 == 0 {
            [OpKind::Sync]
        } else {
            [OpKind::Write]
        };
        faulty.fail_after(&kinds, round % 3, FaultKind::Io);
        seq += 1;
        let (pk, sk) = (seq % 13, seq % 5);
        match put(&db, item(pk, sk, seq)) {
            Ok(_) => {
                model.insert((pk, sk), seq);
            }
            // Refused or unknown: the old version or this one may be read.
            Err(_) => {
                unknown.insert((pk, sk));
            }
        }
        faulty.clear_faults();
    }
    // Writing goes on, and the background repair brings every replica back.
    for _ in 0..50 {
        seq += 1;
        let (pk, sk) = (seq % 13, seq % 5);
        put(&db, item(pk, sk, seq)).unwrap_or_else(|e| panic!("after the faults, write {seq}: {e}"));
        model.insert((pk, sk), seq);
        unknown.remove(&(pk, sk));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !partitions(&db)
        .iter()
        .all(|p| p.replicas.iter().all(|r| r.state == ReplicaStatus::Live))
    {
        assert!(
            Instant::now() < deadline,
            "replicas not repaired: {:?}",
            partitions(&db)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = model.keys().copied().collect();
    let items = same_on_every_az(&db, &keys);
    for (&(pk, sk), &version) in &model {
        if !unknown.contains(&(pk, sk)) {
            assert_eq!(items[&(pk, sk)], Some(item(pk, sk, version)), "key {pk}/{sk}");
        }
    }
}

/// When the primary's copy is lost while closed, the replica holding the most of the
/// partition's *history* is promoted: a former primary with a longer log does not win if
/// its extra records are a tail the next primary never had.
#[test]
fn a_lost_primary_is_replaced_by_the_copy_with_the_most_history_not_the_longest_log() {
    let mut options = options(AckMode::Primary);
    options.initial_partitions = 1;
    let (dir, db) = orders_db(options.clone());
    for i in 0..20u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    wait_caught_up(&db);
    // az-a writes a tail nobody receives, then fails: az-b takes over and writes on.
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for i in 100..130u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    db.fail_az("az-a").unwrap();
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    assert_eq!(partitions(&db)[0].entry.group.primary, "az-b");
    for i in 200..210u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    wait_caught_up(&db);
    // Every copy's log is emptied into its tables: a copy's epoch must survive that.
    db.flush().unwrap();
    drop(db);
    // az-b's copy is lost. az-a's log is longer (20 + 30 records) than az-c's (20 + 10),
    // but its last 30 are the tail az-b never had.
    std::fs::remove_dir_all(dir.path().join("az-b")).unwrap();
    let db = open(&StdFs::shared(), dir.path(), options.clone());
    let group = &partitions(&db)[0].entry.group;
    assert_eq!((group.primary.as_str(), group.epoch), ("az-c", 3));
    for i in (0..20u64).chain(200..210) {
        assert_eq!(get(&db, key(i, 0), true), Some(item(i, 0, i)), "acknowledged {i}");
    }
    for i in 100..130u64 {
        assert_eq!(get(&db, key(i, 0), true), None, "az-a's tail {i} came back");
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..20).chain(100..130).chain(200..210).map(|i| (i, 0)).collect();
    same_on_every_az(&db, &keys);
    close_and_verify(db, dir.path());
}

/// Deleting a replicated table removes its copies in every AZ; a table created again
/// under the name starts empty everywhere.
#[test]
fn deleting_a_replicated_table_removes_every_copy() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    for i in 0..50u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    wait_caught_up(&db);
    for az in ["az-a", "az-b", "az-c"] {
        assert!(dir.path().join(az).join("Orders").is_dir());
    }
    db.delete_table("Orders").unwrap();
    for az in ["az-a", "az-b", "az-c"] {
        assert!(!dir.path().join(az).join("Orders").exists(), "{az} kept its copy");
    }
    db.create_table(orders_schema("Orders")).unwrap();
    put(&db, item(1, 0, 1)).unwrap();
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..50).map(|i| (i, 0)).collect();
    let items = same_on_every_az(&db, &keys);
    assert_eq!(items.values().filter(|item| item.is_some()).count(), 1);
}

/// Power loss at random points of a replicated database's life (writes, shipping,
/// promotions, rejoins, rebuilds, flushes; every AZ on the one machine loses what it
/// did not make durable): after reopening, every acknowledged write is there and all AZs
/// converge to identical items.
#[test]
fn acknowledged_writes_survive_power_loss_during_shipping_and_promotion() {
    use dynastore_wal::fs::FaultyFs;
    let azs = ["az-a", "az-b", "az-c"];
    for seed in 0..100u64 {
        let faulty = FaultyFs::new();
        let fs = faulty.shared();
        let mut options = options(AckMode::Quorum);
        options.initial_partitions = 2;
        options.memtable_bytes = 8 << 10;
        let db = open(&fs, Path::new("/data"), options.clone());
        db.create_table(orders_schema("Orders")).unwrap();
        faulty.crash_after(1 + (seed * 7919) % 1500);
        let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut attempted: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for i in 0..300u64 {
            let (pk, sk) = ((i * 7 + seed) % 11, i % 3);
            attempted.insert((pk, sk), i);
            if put(&db, item(pk, sk, i)).is_err() {
                break;
            }
            acked.insert((pk, sk), i);
            let step = match i % 50 {
                10 => db.promote("Orders", (i / 50 % 2) as u32, azs[((i / 50 + seed) % 3) as usize]),
                25 => db.fail_az(azs[((i / 50 + seed + 1) % 3) as usize]),
                35 => db.restore_az(azs[((i / 50 + seed + 1) % 3) as usize]),
                45 => db.flush(),
                _ => Ok(()),
            };
            // Refusals (a replica behind) are fine; a failed disk ends the life.
            if matches!(step, Err(Error::Io { .. } | Error::Wal(_))) {
                break;
            }
        }
        drop(db);
        faulty.restart();
        let db = open(&fs, Path::new("/data"), options.clone());
        for (&(pk, sk), &version) in &acked {
            let found = get(&db, key(pk, sk), true).unwrap_or_else(|| panic!("seed {seed}: {pk}/{sk} lost"));
            let found_version = match found.get("version") {
                Some(dynastore_engine::AttributeValue::N(n)) => n.to_string().parse::<u64>().unwrap(),
                other => panic!("{other:?}"),
            };
            // The last acknowledged version, or the one write after it that was in flight.
            assert!(
                found_version == version || found_version == attempted[&(pk, sk)],
                "seed {seed}: {pk}/{sk} is version {found_version}, acknowledged {version}"
            );
            assert_eq!(found, item(pk, sk, found_version), "seed {seed}: not whole");
        }
        wait_caught_up(&db);
        let keys: BTreeSet<(u64, u64)> = attempted.keys().copied().collect();
        same_on_every_az(&db, &keys);
    }
}

/// Partitions created while an AZ is failed: a failed replica AZ gets its copy once it is
/// restored, and a failed first AZ is not made the new partition's primary.
#[test]
fn partitions_created_while_an_az_is_failed_get_their_copies_on_restore() {
    let (_dir, db) = orders_db(options(AckMode::Quorum));
    db.fail_az("az-a").unwrap();
    db.fail_az("az-c").unwrap();
    // Only az-b is up: its copy is every partition's primary, and nothing can acknowledge.
    assert!(matches!(put(&db, item(1, 0, 1)), Err(Error::Replication(_))));
    db.restore_az("az-c").unwrap();
    for i in 0..40u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    for p in partitions(&db) {
        assert_eq!(p.entry.group.primary, "az-b");
        assert_eq!(
            p.entry.group.epoch, 1,
            "a new partition's primary is chosen, not promoted"
        );
    }
    db.restore_az("az-a").unwrap();
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..40).map(|i| (i, 0)).collect();
    let items = same_on_every_az(&db, &keys);
    assert!(items.values().all(Option::is_some));
}

/// `Quorum` options with `Buffered` writes that become durable only when `Database::sync`
/// makes them so (the interval outlasts any test), and acknowledgements awaited for at
/// most `ack_timeout`.
fn synced_by_hand(ack_timeout: Duration) -> Options {
    let mut options = options(AckMode::Quorum);
    options.durability = dynastore_wal::Durability::Buffered {
        interval: Duration::from_secs(3600),
    };
    if let Some(replication) = options.replication.as_mut() {
        replication.ack_timeout = ack_timeout;
    }
    options
}

/// `Database::sync` makes every `Buffered` write so far durable as the ack mode counts
/// it: under `Quorum`, on the primary and on a replica, so that losing the primary's AZ
/// right after it returns loses none of them. While no replica can take them (shipping to
/// both is cut) it fails with the acknowledgement timeout, as a `Sync` put would, instead
/// of returning `Ok` for writes only the primary holds. (It used to sync the primary's
/// log alone: the first `sync` below returned `Ok`, and `fail_az` then lost the writes.)
#[test]
fn sync_returns_once_buffered_writes_are_durable_on_a_replica() {
    // Short enough for the refused sync, long enough for a loaded machine's replica fsync.
    let (dir, db) = orders_db(synced_by_hand(Duration::from_secs(2)));
    for i in 0..40u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    wait_every_replica_live(&db, 4);
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for i in 40..80u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    let refused = db.sync();
    assert!(
        matches!(
            refused,
            Err(Error::Replication(dynastore_replication::AckError::TimedOut { .. }))
        ),
        "{refused:?}"
    );

    // az-b alone may take them now: sync returns once it holds every write.
    db.pause_shipping("az-b", false).unwrap();
    db.sync().unwrap();
    db.fail_az("az-a").unwrap();
    for i in 0..80u64 {
        assert_eq!(
            get(&db, key(i, 0), true),
            Some(item(i, 0, i)),
            "key {i} after az-a failed"
        );
    }
    db.pause_shipping("az-c", false).unwrap();
    db.restore_az("az-a").unwrap();
    wait_caught_up(&db);
    close_and_verify(db, dir.path());
}

/// A `Database::sync` under way when the primary's AZ fails before any replica took the
/// writes (shipping to both is cut) reports that they are lost instead of returning
/// `Ok`: the failover hands the new primary only what a replica held. Syncs after it
/// work on the new primary, and the former primary drops those writes when it rejoins.
#[test]
fn a_sync_reports_writes_lost_when_the_primary_az_fails_under_it() {
    let mut options = synced_by_hand(Duration::from_secs(20));
    options.initial_partitions = 1;
    let (dir, db) = orders_db(options);
    for i in 0..20u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    db.sync().unwrap();
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for i in 20..40u64 {
        put(&db, item(i, 0, i)).unwrap();
    }
    let db = Arc::new(db);
    let syncer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.sync())
    };
    // The sync waits for a replica (up to its 20 s timeout) while the AZ fails.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!syncer.is_finished(), "the sync waits for a replica");
    db.fail_az("az-a").unwrap();
    let synced = join_within(syncer, Duration::from_secs(10), "the sync");
    assert!(matches!(&synced, Err(Error::LostInFailover { .. })), "{synced:?}");
    for i in 0..20u64 {
        assert_eq!(get(&db, key(i, 0), true), Some(item(i, 0, i)), "synced key {i}");
    }
    for i in 20..40u64 {
        assert_eq!(get(&db, key(i, 0), true), None, "key {i}, lost with az-a");
    }
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    put(&db, item(99, 0, 99)).unwrap();
    db.sync().unwrap();
    db.restore_az("az-a").unwrap();
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..40).chain([99]).map(|pk| (pk, 0)).collect();
    let items = same_on_every_az(&db, &keys);
    assert_eq!(items.values().filter(|item| item.is_some()).count(), 21);
    close_shared_and_verify(db, dir.path());
}

/// Planned promotions under `Buffered` writers: writes are acknowledged before they are
/// durable, and a planned promotion (the primary healthy) must still hand every one of
/// them over: none is lost.
#[test]
fn planned_promotions_lose_no_buffered_write() {
    let mut options = options(AckMode::Quorum);
    options.durability = dynastore_wal::Durability::Buffered {
        interval: Duration::from_millis(50),
    };
    let (_dir, db) = orders_db(options);
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|thread| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seq = 0;
                // Paced, so that the writes spread over every promotion.
                while !stop.load(Ordering::Relaxed) && seq < 20_000 {
                    put(&db, item(thread * 1_000_000 + seq, 0, seq)).unwrap_or_else(|e| panic!("{thread}/{seq}: {e}"));
                    seq += 1;
                    if seq % 64 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                (thread, seq)
            })
        })
        .collect();
    let azs = ["az-b", "az-c", "az-a"];
    for round in 0..12 {
        std::thread::sleep(Duration::from_millis(15));
        for p in partitions(&db) {
            match db.promote("Orders", p.entry.id, azs[round % 3]) {
                Ok(()) | Err(Error::Unavailable { .. }) => {}
                Err(error) => panic!("promoting: {error}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for writer in writers {
        let (thread, count) = writer.join().unwrap();
        for seq in 0..count {
            total += 1;
            assert_eq!(
                get(&db, key(thread * 1_000_000 + seq, 0), true),
                Some(item(thread * 1_000_000 + seq, 0, seq)),
                "acknowledged write {thread}/{seq}"
            );
        }
    }
    let failovers: u64 = partitions(&db).iter().map(|p| p.entry.group.failovers).sum();
    assert!(total > 100 && failovers > 4, "{total} writes, {failovers} failovers");
}

/// A primary copy found damaged when the database opens is not served: a replica takes
/// over, every acknowledged write is there, and the damaged copy is rebuilt.
#[test]
fn a_damaged_primary_copy_at_open_fails_over_and_is_rebuilt() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    put_with_a_flush_after(&db, 100, 30, 0, 60);
    wait_caught_up(&db);
    db.close().unwrap();
    // Damage az-a's copy of every partition: its MANIFEST no longer matches its checksum.
    for p in 0..4 {
        let manifest = dir.path().join(format!("az-a/Orders/p-{p:04}/MANIFEST"));
        let mut bytes = std::fs::read(&manifest).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        std::fs::write(&manifest, bytes).unwrap();
    }
    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Quorum));
    for p in partitions(&db) {
        assert_ne!(p.entry.group.primary, "az-a", "{p:?}");
        assert_eq!(p.entry.group.failovers, 1);
    }
    every_key_holds_its_last_write_on_every_az(db, dir.path(), 100);
}

/// After `writes` puts over 30 keys (as [`put_with_a_flush_after`] makes them), each key
/// holds its last write on the primary and, once the replicas caught up, on every AZ;
/// then the database is closed and every AZ verified.
fn every_key_holds_its_last_write_on_every_az(db: Database, dir: &Path, writes: u64) {
    let last = |pk: u64| item(pk, 0, (0..writes).rev().find(|i| i % 30 == pk).unwrap());
    for pk in 0..30u64 {
        assert_eq!(get(&db, key(pk, 0), true), Some(last(pk)), "key {pk}");
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..30).map(|pk| (pk, 0)).collect();
    same_on_every_az(&db, &keys);
    close_and_verify(db, dir);
}

/// The primary AZ's whole directory is gone when the database opens (its disk was
/// replaced), with the replicas not caught up: every partition fails over to the replica
/// holding the most, every acknowledged write is there, and az-a is rebuilt as a replica.
#[test]
fn a_primary_az_gone_at_open_fails_over_and_is_rebuilt() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    put_with_a_flush_after(&db, 300, 30, 0, 160);
    db.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("az-a")).unwrap();
    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Quorum));
    for p in partitions(&db) {
        assert_ne!(p.entry.group.primary, "az-a", "{p:?}");
        assert_eq!(p.entry.group.failovers, 1, "{p:?}");
    }
    every_key_holds_its_last_write_on_every_az(db, dir.path(), 300);
}

/// A primary lost while closed, with one replica whose rebuild a crash cut short (a log
/// past its tables, and no MANIFEST yet, which opening refuses): the sound replica is
/// promoted, and the half-built one is rebuilt from it. (The half-built copy failed the
/// whole open: the promotion opened every replica with `?`.)
#[test]
fn a_primary_lost_at_open_beside_a_half_rebuilt_replica_fails_over_to_the_sound_one() {
    let (dir, db) = orders_db(options(AckMode::Quorum));
    put_with_a_flush_after(&db, 300, 30, 0, 160);
    wait_caught_up(&db);
    db.flush().unwrap();
    db.close().unwrap();
    std::fs::remove_dir_all(dir.path().join("az-a")).unwrap();
    // Every az-c copy as a rebuild leaves it when cut short before its MANIFEST is written.
    let mut half_built = 0;
    for copy in std::fs::read_dir(dir.path().join("az-c").join("Orders")).unwrap() {
        let manifest = copy.unwrap().path().join("MANIFEST");
        if manifest.exists() {
            std::fs::remove_file(&manifest).unwrap();
            half_built += 1;
        }
    }
    assert!(half_built > 0);
    let db = open(&StdFs::shared(), dir.path(), options(AckMode::Quorum));
    for p in partitions(&db) {
        assert_eq!(p.entry.group.primary, "az-b", "{p:?}");
    }
    every_key_holds_its_last_write_on_every_az(db, dir.path(), 300);
}

/// A read (Scan, GetItem, Query) that finds a copy's files damaged (a block checksum that
/// does not hold) is served by a sound copy instead: the damaged primary is replaced by a replica, a damaged
/// replica taken out, and the damaged copy rebuilt from the primary.
#[test]
fn a_damaged_copy_found_by_a_read_is_replaced_and_rebuilt() {
    let mut options = options(AckMode::Quorum);
    options.initial_partitions = 1;
    let (dir, db) = orders_db(options.clone());
    // 400 items: 100 partition keys with 4 sort keys each.
    for i in 0..400u64 {
        put(&db, item(i % 100, i / 100, i)).unwrap();
    }
    db.flush().unwrap();
    wait_caught_up(&db);
    db.close().unwrap();
    // Damage the first data block of every table of az-a's (the primary's) copy and of
    // az-c's (a replica's). (Two copies damaged where one would fail over to the other is
    // not handled: a rebuilt copy links the tables of the copy it is rebuilt from.)
    for az in ["az-a", "az-c"] {
        for table in std::fs::read_dir(dir.path().join(az).join("Orders/p-0000/sst")).unwrap() {
            let table = table.unwrap().path();
            let mut bytes = std::fs::read(&table).unwrap();
            bytes[40] ^= 0x10;
            std::fs::write(&table, bytes).unwrap();
        }
    }
    let db = open(&StdFs::shared(), dir.path(), options.clone());
    let expected = |i: u64| Some(item(i % 100, i / 100, i));
    // Every item reads right, eventually consistent reads and queries included.
    for consistent in [true, false, false] {
        // A scan first: it meets the damage part way through a page.
        let mut scan = dynastore_engine::ScanInput::new("Orders");
        scan.consistent_read = consistent;
        assert_eq!(db.scan(scan).unwrap().items.len(), 400);
        let mut keys = KeysAndAttributes::new((0..100).map(|i| key(i % 100, i / 100)).collect());
        keys.consistent_read = true;
        assert_eq!(
            db.batch_get(BatchGetInput::new("Orders", keys)).unwrap().responses["Orders"].len(),
            100
        );
        for i in 0..400u64 {
            assert_eq!(get(&db, key(i % 100, i / 100), consistent), expected(i), "item {i}");
        }
        let mut query = dynastore_engine::QueryInput::new("Orders", "user-7");
        query.consistent_read = consistent;
        let page = db.query(query).unwrap();
        assert_eq!(
            page.items,
            (0..4).map(|sk| item(7, sk, 7 + 100 * sk)).collect::<Vec<_>>()
        );
    }
    let group = partitions(&db)[0].entry.group.clone();
    assert_eq!((group.primary.as_str(), group.failovers), ("az-b", 1), "{group:?}");
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..400).map(|i| (i % 100, i / 100)).collect();
    same_on_every_az(&db, &keys);
    close_and_verify(db, dir.path());
}

/// The real file system, except that syncing a file with extension `extension` (`log`,
/// `sst`) under `<data>/<az>/` hangs while the returned gate is closed.
fn hanging_fs(az: &str, extension: &'static str) -> (SharedFs, Arc<SyncGate>) {
    let az = az.to_owned();
    let fs = GatedFs::new(StdFs::shared(), move |path| {
        path.components().any(|c| c.as_os_str() == az.as_str()) && path.extension().is_some_and(|e| e == extension)
    });
    let gate = fs.gate();
    (Arc::new(fs), gate)
}

/// The primary's flushes so far, over every partition.
fn primary_flushes(db: &Database) -> u64 {
    partitions(db)
        .iter()
        .filter_map(|p| p.stats.as_ref())
        .map(|s| s.flushes)
        .sum()
}

/// A replica whose disk hangs while it writes a table holds up no write and no flush of
/// the primary, in `Quorum` and in `Primary` mode: each AZ flushes its own copies, so the
/// primary's memtables never wait behind the hung replica's flush. (With one flusher for
/// every AZ, the primary flushed once in these 6000 writes: its memtable grew past its
/// budget, and its log with it, for as long as the replica's disk hung.) Once the disk
/// answers, the replica finishes its flush and catches up.
#[test]
fn a_replica_whose_disk_hangs_in_a_flush_holds_up_no_flush_of_the_primary() {
    for mode in [AckMode::Quorum, AckMode::Primary] {
        let (fs, gate) = hanging_fs("az-c", "sst");
        let mut options = options(mode);
        options.initial_partitions = 1;
        if let Some(replication) = options.replication.as_mut() {
            replication.ack_timeout = Duration::from_secs(5);
        }
        let dir = tempfile::tempdir().unwrap();
        let db = open(&fs, dir.path(), options.clone());
        db.create_table(orders_schema("Orders")).unwrap();
        put(&db, item(0, 0, 0)).unwrap();
        gate.close();
        let flushes_before = primary_flushes(&db);
        let mut keys = BTreeSet::from([(0, 0)]);
        // About ten memtables' worth: the replica in az-c flushes (and hangs) after the
        // first, the primary flushes every one.
        for i in 1..6000u64 {
            keys.insert((i % 20, i));
            put(&db, item(i % 20, i, i)).unwrap_or_else(|e| panic!("{mode:?} write {i} with az-c hung: {e}"));
        }
        assert!(
            gate.held() > 0,
            "{mode:?}: az-c never synced a table: the test hung nothing"
        );
        assert!(!gate.gave_up(), "{mode:?}: a write waited for az-c's hung disk");
        let flushed = primary_flushes(&db) - flushes_before;
        assert!(
            flushed >= 5,
            "{mode:?}: the primary flushed {flushed} times while az-c hung"
        );
        gate.open();
        wait_caught_up(&db);
        let items = same_on_every_az(&db, &keys);
        assert_eq!(items[&(7, 4567)], Some(item(7, 4567, 4567)), "{mode:?}");
        close_and_verify(db, dir.path());
    }
}

/// The replica states `stats` shows in `az`, as it displays them, over every created
/// partition.
fn replica_states_in(db: &Database, az: &str) -> Vec<String> {
    partitions(db)
        .iter()
        .flat_map(|p| &p.replicas)
        .filter(|r| r.az == az)
        .map(|r| r.state.to_string())
        .collect()
}

/// Puts writes `range` over 40 keys (write `i` is `item(i % 40, 0, i)`), each of which
/// must succeed, noting the keys in `keys`.
fn put_over_40_keys(db: &Database, range: std::ops::Range<u64>, keys: &mut BTreeSet<(u64, u64)>, context: &str) {
    for i in range {
        keys.insert((i % 40, 0));
        put(db, item(i % 40, 0, i)).unwrap_or_else(|e| panic!("{context}: write {i}: {e}"));
    }
}

/// Waits until every replica caught up, with az-c's copies live, then checks that every
/// AZ holds the last of writes 0..200 of [`put_over_40_keys`], and closes and verifies.
fn az_c_caught_up_with_200_writes(db: Database, dir: &Path, keys: &BTreeSet<(u64, u64)>, context: &str) {
    wait_caught_up(&db);
    let created = partitions(&db).len();
    assert_eq!(replica_states_in(&db, "az-c"), vec!["live"; created], "{context}");
    let items = same_on_every_az(&db, keys);
    for pk in 0..40u64 {
        assert_eq!(items[&(pk, 0)], Some(item(pk, 0, 160 + pk)), "{context}: key {pk}");
    }
    close_and_verify(db, dir);
}

/// A replica AZ whose disk hangs holds up no first write to a new partition, in `Quorum`
/// and in `Primary` mode: a partition's first write creates its primary copy and leaves
/// its replicas to the repairer threads, one per AZ, so the hung AZ's copies wait (shown
/// as joining) while az-b's are created and acknowledge. (When the writer created every
/// AZ's copy itself, each new partition's first write waited for az-c's disk.) Once the
/// disk answers, az-c's copies are created and catch up.
#[test]
fn a_replica_whose_disk_hangs_holds_up_no_first_write_to_a_new_partition() {
    for mode in [AckMode::Quorum, AckMode::Primary] {
        // Every file sync under az-c hangs while the gate is closed.
        let fs = GatedFs::new(StdFs::shared(), |path| {
            path.components().any(|c| c.as_os_str() == "az-c")
        });
        let gate = fs.gate();
        let fs: SharedFs = Arc::new(fs);
        let mut options = options(mode);
        if let Some(replication) = options.replication.as_mut() {
            replication.ack_timeout = Duration::from_secs(5);
        }
        let dir = tempfile::tempdir().unwrap();
        let db = open(&fs, dir.path(), options.clone());
        db.create_table(orders_schema("Orders")).unwrap();
        assert!(partitions(&db).is_empty(), "a partition exists before any write");
        gate.close();
        let mut keys = BTreeSet::new();
        put_over_40_keys(&db, 0..200, &mut keys, &format!("{mode:?} with az-c hung"));
        assert!(
            gate.await_waiter(Duration::from_secs(10)),
            "{mode:?}: az-c never synced a file"
        );
        assert!(!gate.gave_up(), "{mode:?}: a write waited for az-c's hung disk");
        let created = partitions(&db).len();
        assert!(created > 1, "{mode:?}: the writes created {created} partition(s)");
        assert!(
            replica_states_in(&db, "az-c").iter().all(|state| state == "joining"),
            "{mode:?}: {:?}",
            replica_states_in(&db, "az-c")
        );
        gate.open();
        az_c_caught_up_with_200_writes(db, dir.path(), &keys, &format!("{mode:?}"));
    }
}

/// A replica AZ that cannot create its copies (here a file stands where its table
/// directory goes) fails no write, and keeps no database from opening: its copies are out
/// of service, shown failed with the reason, `Quorum` writes are acknowledged by az-b,
/// and the repairer threads create the copies once the AZ can hold them. (When the writer
/// created every AZ's copy itself, the first write to each new partition failed with the
/// replica's I/O error, and so did opening the database.)
#[test]
fn a_replica_az_that_cannot_create_its_copies_fails_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::shared();
    let db = open(&fs, dir.path(), options(AckMode::Quorum));
    db.create_table(orders_schema("Orders")).unwrap();
    let blocker = dir.path().join("az-c").join("Orders");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"not a directory").unwrap();
    let mut keys = BTreeSet::new();
    put_over_40_keys(&db, 0..100, &mut keys, "with az-c unusable");
    // The repairer threads report the failure (and go on trying).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !replica_states_in(&db, "az-c")
        .iter()
        .all(|state| state.starts_with("failed"))
    {
        assert!(Instant::now() < deadline, "{:?}", replica_states_in(&db, "az-c"));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(partitions(&db).iter().all(|p| {
        p.replicas
            .iter()
            .any(|r| r.az == "az-b" && r.state == ReplicaStatus::Live)
    }));

    // Reopened with az-c still unusable: the database opens and takes writes.
    db.close().unwrap();
    let db = open(&fs, dir.path(), options(AckMode::Quorum));
    put_over_40_keys(&db, 100..200, &mut keys, "after reopening");
    assert!(
        replica_states_in(&db, "az-c")
            .iter()
            .all(|state| state.starts_with("failed")),
        "{:?}",
        replica_states_in(&db, "az-c")
    );

    // Once az-c can hold them, its copies are created and catch up.
    std::fs::remove_file(&blocker).unwrap();
    az_c_caught_up_with_200_writes(db, dir.path(), &keys, "az-c usable again");
}

/// The keys of the writes a test made.
type Keys = BTreeSet<(u64, u64)>;

/// A one-partition `Quorum` database where a shipment to az-c hangs in its log's fsync
/// (until the gate opens), after 300 acknowledged writes of [`put_20_keys`] (noted in
/// the keys returned): the last 200 acknowledged by az-b alone.
fn az_c_log_hung_in_a_shipment() -> (tempfile::TempDir, Arc<Database>, Arc<SyncGate>, Keys) {
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
fn one_partition_where_az_c_tables_hang_without_links() -> (tempfile::TempDir, Arc<Database>, Arc<SyncGate>) {
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
fn one_partition_quorum_db(fs: SharedFs) -> (tempfile::TempDir, Arc<Database>) {
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
fn assert_every_az_holds_20_key_writes(db: &Database, keys: &Keys, context: &str) {
    let items = same_on_every_az(db, keys);
    for &(pk, i) in keys {
        assert_eq!(items[&(pk, i)], Some(item(pk, i, i)), "{context}: write {i}");
    }
}

/// Puts writes `range` over 20 partition keys (write `i` is `item(i % 20, i, i)`), each
/// of which must succeed, noting the keys in `keys`.
fn put_20_keys(db: &Database, range: std::ops::Range<u64>, keys: &mut BTreeSet<(u64, u64)>) {
    for i in range {
        keys.insert((i % 20, i));
        put(db, item(i % 20, i, i)).unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
}

/// A replica rebuilt where the file system cannot hard-link (each AZ a device of its
/// own) gets copies of the primary's tables; while its disk hangs writing them, the
/// primary goes on taking writes and flushing: the rebuild holds the primary's MANIFEST
/// lock only while it picks the tables, and a hold on the primary's log keeps the records
/// the copy needs. Once the disk answers, the copy is in service and catches up. (When
/// rebuilding only linked, it failed here with the link's error, and it held the
/// primary's MANIFEST lock throughout, which would have stopped its flushes.)
#[test]
fn a_replica_is_rebuilt_by_copying_where_links_fail_without_holding_up_the_primary() {
    let (dir, db, gate) = one_partition_where_az_c_tables_hang_without_links();
    let mut keys = BTreeSet::new();
    let mut put_range = |db: &Database, range: std::ops::Range<u64>| put_20_keys(db, range, &mut keys);
    put_range(&db, 0..2000);
    // az-c misses writes the primary then flushes and drops from its log: az-c's copy
    // can only be rebuilt from the primary's tables.
    db.fail_az("az-c").unwrap();
    put_range(&db, 2000..2500);
    db.flush().unwrap();
    assert!(primary_flushes(&db) > 1);
    gate.close();
    let restoring = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.restore_az("az-c"))
    };
    assert!(
        gate.await_waiter(Duration::from_secs(10)),
        "the rebuild never synced a table in az-c"
    );
    let flushes_before = primary_flushes(&db);
    put_range(&db, 2500..5500);
    let flushed = primary_flushes(&db) - flushes_before;
    assert!(
        flushed >= 2,
        "the primary flushed {flushed} times while az-c's rebuild hung"
    );
    assert!(!gate.gave_up(), "something waited for az-c's hung disk");
    gate.open();
    restoring.join().unwrap().unwrap();
    wait_caught_up(&db);
    let items = same_on_every_az(&db, &keys);
    assert_eq!(items[&(3, 4443)], Some(item(3, 4443, 4443)));
    close_shared_and_verify(db, dir.path());
}

/// Runs `action` on `db` in a thread of its own and returns its result, or panics if it
/// has not returned within 10 s (the tests' hung disks hold a sync for 20 s).
fn within_10s(db: &Arc<Database>, context: &str, action: impl FnOnce(&Database) -> Result<(), Error> + Send + 'static) {
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
fn promote_within_10s(db: &Arc<Database>, az: &'static str, context: &str) {
    within_10s(db, context, move |db| db.promote("Orders", 0, az));
}

/// A replica whose rebuild hangs on its disk holds up no failover, and no write after
/// one: a promotion leaves the copies the new primary's log cannot reach, and the former
/// primary, to the repairer threads (they show as joining meanwhile), and a repair holds
/// no lock a promotion needs. Here az-c misses so many writes that the new primary's log
/// no longer reaches it, so it is rebuilt from the new primary's tables (copied: no hard
/// links), and every table sync in az-c hangs. Both promotions (to az-b, and back to
/// az-a while az-c's rebuild still hangs) return at once and writing goes on; once the
/// disk answers, az-c is rebuilt from the current primary (the rebuild from the deposed
/// one is not put in service) and every AZ holds the same items. (When a promotion
/// repaired copies itself, the first one waited for az-c's disk; when a repair held the
/// partition's lock, the second one did.)
#[test]
fn a_replica_rebuild_on_a_hung_disk_holds_up_no_failover() {
    let (dir, db, gate) = one_partition_where_az_c_tables_hang_without_links();
    let mut keys = BTreeSet::new();
    let mut put_range = |db: &Database, range: std::ops::Range<u64>| put_20_keys(db, range, &mut keys);
    put_range(&db, 0..1000);
    // az-c stays in service but receives nothing while az-a and az-b flush many times
    // and drop those records from their logs.
    db.pause_shipping("az-c", true).unwrap();
    put_range(&db, 1000..4000);
    db.flush().unwrap();
    gate.close();
    promote_within_10s(&db, "az-b", "the first promotion");
    assert!(
        gate.await_waiter(Duration::from_secs(10)),
        "az-c's copy was never rebuilt: the test hung nothing"
    );
    put_range(&db, 4000..4500);
    promote_within_10s(&db, "az-a", "the second promotion");
    put_range(&db, 4500..5000);
    assert_eq!(replica_states_in(&db, "az-c"), vec!["joining"]);
    assert!(!gate.gave_up(), "something waited for az-c's hung disk");
    db.pause_shipping("az-c", false).unwrap();
    gate.open();
    wait_caught_up(&db);
    assert_eq!(replica_states_in(&db, "az-c"), vec!["live"]);
    let items = same_on_every_az(&db, &keys);
    assert_eq!(items.len(), 5000);
    assert_eq!(items[&(7, 4987)], Some(item(7, 4987, 4987)));
    assert_eq!(items[&(3, 123)], Some(item(3, 123, 123)));
    close_shared_and_verify(db, dir.path());
}

/// A replica whose disk hangs (its log's fsync does not return) holds up no `Quorum`
/// write: the writer's request goes to the other replica, which acknowledges. Without
/// that, every write would fail after the acknowledgement timeout. Once the disk answers,
/// the replica catches up and every AZ holds the same items.
#[test]
fn a_replica_whose_disk_hangs_holds_up_no_quorum_write() {
    for hung in ["az-b", "az-c"] {
        let (fs, gate) = hanging_fs(hung, "log");
        let mut options = options(AckMode::Quorum);
        if let Some(replication) = options.replication.as_mut() {
            replication.ack_timeout = Duration::from_secs(5);
        }
        let dir = tempfile::tempdir().unwrap();
        let db = open(&fs, dir.path(), options.clone());
        db.create_table(orders_schema("Orders")).unwrap();
        // The partitions exist before the disk hangs: this is about writes to existing
        // ones (new ones: see `a_replica_whose_disk_hangs_holds_up_no_first_write...`).
        for pk in 0..20u64 {
            put(&db, item(pk, 0, 0)).unwrap();
        }
        gate.close();
        let mut keys = BTreeSet::new();
        for i in 0..200u64 {
            keys.insert((i % 20, 0));
            put(&db, item(i % 20, 0, i)).unwrap_or_else(|e| panic!("write {i} with {hung} hung: {e}"));
        }
        assert!(gate.held() > 0, "{hung}'s log never synced: the test hung nothing");
        assert!(!gate.gave_up(), "a write waited for {hung}'s hung disk");
        gate.open();
        wait_caught_up(&db);
        let items = same_on_every_az(&db, &keys);
        for pk in 0..20u64 {
            assert_eq!(items[&(pk, 0)], Some(item(pk, 0, 180 + pk)), "key {pk}");
        }
        close_and_verify(db, dir.path());
    }
}

/// `stats` (and so `dynastore stats`) answers while a flush is writing its table: it does
/// not wait for the MANIFEST's lock, which a flush holds until its table is written (with
/// a slow disk, for as long as that takes). Here the table's fsync hangs until the test
/// has its stats.
#[test]
fn stats_answer_while_a_flush_writes_its_table() {
    let (fs, gate) = hanging_fs("az-a", "sst");
    let mut options = options(AckMode::Quorum);
    // Flushes only when asked.
    options.memtable_bytes = Options::default().memtable_bytes;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(&fs, dir.path(), options.clone()));
    db.create_table(orders_schema("Orders")).unwrap();
    for i in 0..100u64 {
        put(&db, item(i % 10, i / 10, i)).unwrap();
    }
    gate.close();
    let flushing = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.flush())
    };
    while gate.held() == 0 {
        assert!(!flushing.is_finished(), "the flush never synced a table in az-a");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let reading = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || sender.send(db.stats().map(|tables| tables.len())))
    };
    let answer = receiver.recv_timeout(Duration::from_secs(10));
    gate.open();
    assert!(matches!(answer, Ok(Ok(1))), "stats waited for the flush: {answer:?}");
    reading.join().unwrap().unwrap();
    flushing.join().unwrap().unwrap();
    assert!(!gate.gave_up(), "the flush gave up waiting");
    close_shared_and_verify(db, dir.path());
}

/// Options for the replication-backpressure tests: one partition (so every write counts
/// against the same log), `Buffered` writes, replicas allowed 50 records behind.
fn buffered_with_lag_bound(ack: AckMode, ack_timeout: Duration) -> Options {
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

/// A `Buffered` writer that outruns every replica waits for them once they lag by more
/// than `max_lag_records` (a write stall), goes on as soon as one catches up, and fails
/// with the acknowledgement timeout if none does; the write that timed out is applied,
/// as a `Sync` write whose acknowledgements time out is.
#[test]
fn buffered_writes_wait_while_no_replica_is_within_the_lag_bound() {
    let (dir, db) = orders_db(buffered_with_lag_bound(AckMode::Quorum, Duration::from_secs(60)));
    let db = Arc::new(db);
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    // Records 1..=50 are within the bound of nothing shipped.
    for i in 0..50u64 {
        put(&db, item(i, 1, i)).unwrap();
    }
    assert_eq!(db.write_stalls(), 0);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let result = put(&db, item(50, 1, 50));
            done.store(true, Ordering::SeqCst);
            result
        })
    };
    // Record 51 is one past the bound: its writer waits while shipping stays paused.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!done.load(Ordering::SeqCst), "the write did not wait for the replicas");
    assert_eq!(db.write_stalls(), 1);
    // One replica is enough in Quorum mode.
    db.pause_shipping("az-c", false).unwrap();
    writer.join().unwrap().unwrap();
    for i in 51..200u64 {
        put(&db, item(i, 1, i)).unwrap();
    }
    drop(db);
    let db = Arc::new(open(
        &StdFs::shared(),
        dir.path(),
        buffered_with_lag_bound(AckMode::Quorum, Duration::from_millis(200)),
    ));
    // With no replica shipped to, the writer gives up after the acknowledgement timeout.
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    let failed = (200..400u64)
        .map(|i| (i, put(&db, item(i, 1, i))))
        .find(|(_, result)| result.is_err());
    let Some((i, Err(Error::Replication(dynastore_replication::AckError::TimedOut { .. })))) = failed else {
        panic!("no write timed out waiting for the replicas: {failed:?}");
    };
    assert!(i < 200 + 51, "write {i} timed out; the bound is 50 records");
    assert_eq!(
        get(&db, key(i, 1), true),
        Some(item(i, 1, i)),
        "the timed-out write is applied"
    );
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    put(&db, item(400, 1, 400)).unwrap();
    wait_caught_up(&db);
    let db = Arc::into_inner(db).unwrap();
    close_and_verify(db, dir.path());
}

/// `Primary` mode never holds a writer back for replicas, and in `Quorum` one replica
/// keeping up is enough: a paused one holds nobody back.
#[test]
fn buffered_writes_never_wait_for_replicas_the_ack_mode_does_not_need() {
    for (ack, paused) in [
        (AckMode::Primary, &["az-b", "az-c"][..]),
        (AckMode::Quorum, &["az-c"][..]),
    ] {
        // A generous timeout: a wrong wait for the paused replica fails on its first stall.
        let (dir, db) = orders_db(buffered_with_lag_bound(ack, Duration::from_secs(5)));
        for az in paused {
            db.pause_shipping(az, true).unwrap();
        }
        for i in 0..500u64 {
            put(&db, item(i, 1, i)).unwrap_or_else(|e| panic!("{ack:?}: write {i}: {e}"));
        }
        if ack == AckMode::Primary {
            assert_eq!(db.write_stalls(), 0, "Primary mode never waits for replicas");
        }
        for az in paused {
            db.pause_shipping(az, false).unwrap();
        }
        wait_caught_up(&db);
        close_and_verify(db, dir.path());
    }
}

/// A replica whose log hangs in the middle of a shipment (its fsync does not return)
/// holds up no failover, planned or not, and no write after one: the failover waits at
/// most 100 ms for the shipment, then leaves that replica out (what the shipment
/// reports counts for nothing, so no write is acknowledged past what the new primary
/// holds) and it rejoins once its disk answers, its log cut back to the new primary's
/// history. Every acknowledged write is then on every AZ. (When a failover waited for
/// every shipment under way, it waited for the hung disk, holding every writer of the
/// partition.)
#[test]
fn a_replica_whose_log_hangs_holds_up_no_failover() {
    for planned in [true, false] {
        let context = if planned { "promote az-b" } else { "fail az-a" };
        let (dir, db, gate, mut keys) = az_c_log_hung_in_a_shipment();
        if planned {
            promote_within_10s(&db, "az-b", context);
        } else {
            within_10s(&db, context, |db| db.fail_az("az-a"));
            // Quorum writes need a replica that keeps up: az-a's copy rejoins.
            within_10s(&db, "restoring az-a", |db| db.restore_az("az-a"));
        }
        put_20_keys(&db, 300..400, &mut keys);
        assert_ne!(replica_states_in(&db, "az-c"), vec!["live"], "{context}");
        assert!(!gate.gave_up(), "{context}: something waited for az-c's hung disk");
        gate.open();
        wait_caught_up(&db);
        assert_every_az_holds_20_key_writes(&db, &keys, context);
        close_shared_and_verify(db, dir.path());
    }
}

/// A `Quorum` write whose replicas have all failed waits for their AZs' repairs, up to its
/// acknowledgement timeout, and does not repair them itself: while both replicas'
/// rebuilds hang on their disks, a write ends with `TimedOut` after the timeout, and a
/// failover meanwhile is not held up. Once the disks answer, the rebuilt replicas are in
/// service and the writes go on. (When the writer repaired them itself, holding the
/// partition, it waited for the hung rebuilds, and so did any failover.)
#[test]
fn a_write_whose_replicas_failed_waits_for_their_repair_up_to_its_timeout() {
    use dynastore_replication::AckError;
    let gated = GatedFs::new(StdFs::shared(), |path: &Path| {
        let replica = path
            .components()
            .any(|c| c.as_os_str() == "az-b" || c.as_os_str() == "az-c");
        replica && path.extension().is_some_and(|e| e == "sst")
    })
    .without_hard_links();
    let gate = gated.gate();
    let mut options = options(AckMode::Quorum);
    options.initial_partitions = 1;
    options.memtable_bytes = 8 << 10;
    if let Some(replication) = options.replication.as_mut() {
        replication.ack_timeout = Duration::from_millis(300);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(&(Arc::new(gated) as SharedFs), dir.path(), options.clone()));
    db.create_table(orders_schema("Orders")).unwrap();
    let big = |i: u64| item(i, 0, i).with("padding", "p".repeat(6000));
    for i in 0..5 {
        put(&db, big(i)).unwrap();
    }
    wait_caught_up(&db);
    // Neither replica receives these (each write is refused, but stays on the primary),
    // and the primary flushes them and drops them from its log: both replicas can only
    // be rebuilt, and their rebuilds (copying tables) hang on their disks.
    for az in ["az-b", "az-c"] {
        db.fail_az(az).unwrap();
    }
    for i in 5..15 {
        let refused = put(&db, big(i));
        assert!(
            matches!(refused, Err(Error::Replication(AckError::NotEnoughReplicas { .. }))),
            "{refused:?}"
        );
    }
    db.flush().unwrap();
    gate.close();
    let restoring: Vec<_> = ["az-b", "az-c"]
        .into_iter()
        .map(|az| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.restore_az(az))
        })
        .collect();
    assert!(
        gate.await_waiter(Duration::from_secs(10)),
        "no replica rebuild synced a table: the test hung nothing"
    );
    let writing = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || put(&db, big(15)))
    };
    std::thread::sleep(Duration::from_millis(50));
    within_10s(&db, "failing over while the write waits", |db| {
        match db.promote("Orders", 0, "az-b") {
            // Nothing to promote: az-b's copy is still being rebuilt.
            Err(Error::Unavailable { .. }) => Ok(()),
            other => other,
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !writing.is_finished() {
        assert!(Instant::now() < deadline, "the write waited for the hung rebuilds");
        std::thread::sleep(Duration::from_millis(10));
    }
    let written = writing.join().unwrap();
    assert!(
        matches!(written, Err(Error::Replication(AckError::TimedOut { .. }))),
        "{written:?}"
    );
    assert!(!gate.gave_up(), "something waited for the hung disks");
    gate.open();
    for restored in restoring {
        restored.join().unwrap().unwrap();
    }
    wait_every_replica_live(&db, 1);
    for i in 16..20 {
        put(&db, big(i)).unwrap();
    }
    wait_caught_up(&db);
    let keys: BTreeSet<(u64, u64)> = (0..20).map(|i| (i, 0)).collect();
    let items = same_on_every_az(&db, &keys);
    for i in 0..20 {
        assert_eq!(items[&(i, 0)], Some(big(i)), "write {i}");
    }
    close_shared_and_verify(db, dir.path());
}

/// Failing an AZ whose replica log hangs in the middle of a shipment does not wait for
/// that disk: the copy is out of service at once (its shipment under way acknowledges
/// nothing), `Quorum` writes go on through the other replica, and the copy is closed
/// once its disk answers. Restoring the AZ then brings it back, caught up. (When
/// `fail_az` took the copy out under its shipping lock, and closed it in its own thread,
/// it waited for the hung fsync.)
#[test]
fn failing_an_az_whose_log_hangs_does_not_wait_for_its_disk() {
    let (dir, db, gate, mut keys) = az_c_log_hung_in_a_shipment();
    within_10s(&db, "failing az-c", |db| db.fail_az("az-c"));
    assert_eq!(replica_states_in(&db, "az-c"), vec!["out of service"]);
    put_20_keys(&db, 300..400, &mut keys);
    // Failing it again, and failing over meanwhile, do not wait for it either.
    within_10s(&db, "failing az-c again", |db| db.fail_az("az-c"));
    within_10s(&db, "promoting az-b", |db| db.promote("Orders", 0, "az-b"));
    within_10s(&db, "restoring az-a", |db| db.restore_az("az-a"));
    put_20_keys(&db, 400..500, &mut keys);
    assert!(!gate.gave_up(), "something waited for az-c's hung disk");
    gate.open();
    db.restore_az("az-c").unwrap();
    wait_caught_up(&db);
    assert_eq!(replica_states_in(&db, "az-c"), vec!["live"]);
    assert_every_az_holds_20_key_writes(&db, &keys, "after az-c was restored");
    close_shared_and_verify(db, dir.path());
}
