//! Replication with hung disks: a replica whose disk hangs holds up no flush, write,
//! failover or rebuild of the others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::replication::*;

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
