//! Replication, failover: a failed or planned promotion loses no acknowledged write and
//! repeats none, a former primary drops its unshipped tail, and `sync` tells what a
//! failover under it lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::replication::*;

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
