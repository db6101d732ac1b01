//! Replication, shipping: every AZ holds every acknowledged write, Quorum acknowledges
//! nothing unshipped, replica reads show only acknowledged versions, and failed replicas
//! heal by themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::replication::*;

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
