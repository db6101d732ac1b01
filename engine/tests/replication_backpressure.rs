//! Replication back-pressure: `Buffered` writes wait while no replica the ack mode counts
//! is within the lag bound, and a write whose replicas failed waits for their repair up to
//! its timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::replication::*;

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
