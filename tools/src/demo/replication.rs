//! Steps 12-13: replication across AZs with failover, and replication back-pressure.

use super::*;
use dynastore::{AckMode, Database, GetItemInput, Item, Options, PutItemInput, Replication};
use std::sync::atomic::{AtomicBool, Ordering};

/// Step 12: every partition copied to three AZs; the primary AZ fails under writers; a
/// replica takes over with every acknowledged write; the old primary rejoins.
pub(super) fn replication_and_failover(dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n12. Replication to az-a, az-b, az-c (Quorum), a failed primary AZ, and a failover"
    )?;
    let options = Options {
        initial_partitions: 2,
        replication: Some(Replication {
            ack: AckMode::Quorum,
            ..Replication::default()
        }),
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir, options)?);
    db.create_table(orders_schema())?;
    let key = |writer: u64, seq: u64| {
        Item::new()
            .with("pk", format!("customer#{writer}"))
            .with("sk", seq as i64)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || -> Result<u64, dynastore::Error> {
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    db.put_item(PutItemInput::new("Orders", key(writer, seq).with("total", seq as i64)))?;
                    seq += 1;
                }
                Ok(seq)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let failed_at = Instant::now();
    db.fail_az("az-a")?;
    let failover = failed_at.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.join().map_err(|_| "a writer panicked")??);
    }
    let total: u64 = acknowledged.iter().sum();
    writeln!(
        out,
        "   4 writers: {total} acknowledged puts; az-a failed after 300 ms, failover took {:.1} ms",
        failover.as_secs_f64() * 1e3
    )?;
    let missing = missing_writes(&db, &acknowledged, key)?;
    check(missing == 0, "every acknowledged write is on the new primary")?;
    writeln!(out, "   every one of them reads back from the new primary")?;
    db.restore_az("az-a")?;
    wait_for_rejoin(&db)?;
    print_groups(&db, out)?;
    let db = Arc::try_unwrap(db).map_err(|_| "the database is still shared")?;
    db.close()?;
    let report = dynastore::verify::verify(dir);
    check(report.problems.is_empty(), "verify finds no problem in any AZ's copy")?;
    writeln!(
        out,
        "   verify: {} files checked across the three AZs, no problem",
        report.checked.len()
    )?;
    Ok(())
}

/// How many of the puts each writer had acknowledged (`acknowledged[writer]`, keys
/// `key(writer, 0..count)`) a consistent read does not find.
fn missing_writes(db: &Database, acknowledged: &[u64], key: impl Fn(u64, u64) -> Item) -> Result<u64, Box<dyn Error>> {
    let mut missing = 0;
    for (writer, &count) in acknowledged.iter().enumerate() {
        for seq in 0..count {
            let mut input = GetItemInput::new("Orders", key(writer as u64, seq));
            input.consistent_read = true;
            if db.get_item(input)?.item.is_none() {
                missing += 1;
            }
        }
    }
    Ok(missing)
}

/// Waits (at most 10 s) until every replica is live and caught up.
fn wait_for_rejoin(db: &Database) -> DemoResult {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught_up = db.stats()?.iter().flat_map(|t| &t.partitions).all(|p| {
            p.replicas.iter().all(|r| {
                r.state == dynastore::ReplicaStatus::Live && r.lag_records == 0 && r.applied_lsn == r.durable_lsn
            })
        });
        if caught_up || Instant::now() > deadline {
            check(caught_up, "the rejoined AZ catches up")?;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Prints each partition's group and replicas, checking that a replica took over.
fn print_groups(db: &Database, out: &mut dyn Write) -> DemoResult {
    for table in db.stats()? {
        for partition in table.partitions {
            let Some(stats) = partition.stats else { continue };
            let group = &partition.entry.group;
            writeln!(
                out,
                "   {}: primary {} (epoch {}, {} failover), durable to LSN {}",
                partition.entry.dir_name(),
                group.primary,
                group.epoch,
                group.failovers,
                stats.durable_lsn
            )?;
            check(
                group.primary != "az-a" && group.epoch == 2,
                "a replica took over in epoch 2",
            )?;
            for replica in &partition.replicas {
                writeln!(
                    out,
                    "      replica {}: {}, durable {} applied {}, lag {} records",
                    replica.az, replica.state, replica.durable_lsn, replica.applied_lsn, replica.lag_records
                )?;
            }
        }
    }
    Ok(())
}

/// Step 13: `Buffered` writers that outrun every replica wait for them
/// (`Replication::max_lag_records`), so the lag stays bounded; `Database::sync` returns
/// once a replica holds every write (`Quorum`), and says so when none can.
pub(super) fn replication_backpressure(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{Database, Item, Options, PutItemInput, Replication};

    writeln!(
        out,
        "\n13. Backpressure: Buffered writes wait while no replica is within 100 records"
    )?;
    let options = Options {
        initial_partitions: 1,
        durability: dynastore::wal::Durability::Buffered {
            interval: Duration::from_millis(5),
        },
        replication: Some(Replication {
            max_lag_records: 100,
            // Long enough for the stall below, short enough for the refused sync.
            ack_timeout: Duration::from_secs(1),
            ..Replication::default()
        }),
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir, options)?);
    db.create_table(orders_schema())?;
    db.pause_shipping("az-b", true)?;
    db.pause_shipping("az-c", true)?;
    let put = |db: &Database, seq: i64| {
        let item = Item::new().with("pk", "customer#1").with("sk", seq);
        db.put_item(PutItemInput::new("Orders", item))
    };
    for seq in 0..100 {
        put(&db, seq)?;
    }
    writeln!(
        out,
        "   shipping to az-b and az-c paused; 100 Buffered puts return at once (write stalls: {})",
        db.write_stalls()
    )?;
    let writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || -> Result<Duration, dynastore::Error> {
            let started = Instant::now();
            put(&db, 100)?;
            Ok(started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    check(!writer.is_finished(), "the 101st put waits for a replica")?;
    db.pause_shipping("az-c", false)?;
    let waited = writer.join().map_err(|_| "the writer panicked")??;
    check(db.write_stalls() == 1, "one write stall is counted")?;
    writeln!(
        out,
        "   the 101st waited {:.0} ms, until shipping to az-c resumed (write stalls: {})",
        waited.as_secs_f64() * 1e3,
        db.write_stalls()
    )?;

    // Sync is a Buffered writer's acknowledgement: under Quorum, durable on a replica too.
    db.pause_shipping("az-c", true)?;
    put(&db, 101)?;
    let refused = db.sync();
    check(
        matches!(refused, Err(dynastore::Error::Replication(_))),
        "sync fails while no replica can take the writes",
    )?;
    writeln!(
        out,
        "   both paused again, one more put: sync fails after ack_timeout ({})",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    )?;
    db.pause_shipping("az-c", false)?;
    db.sync()?;
    let tables = db.stats()?;
    let az_c = tables
        .iter()
        .flat_map(|table| &table.partitions)
        .flat_map(|partition| &partition.replicas)
        .find(|replica| replica.az == "az-c")
        .ok_or("no az-c replica")?;
    check(az_c.lag_records == 0, "after sync az-c holds every write")?;
    writeln!(
        out,
        "   az-c resumed: sync returns with az-c durable to LSN {} (lag {} records)",
        az_c.durable_lsn, az_c.lag_records
    )?;
    db.pause_shipping("az-b", false)?;
    let db = Arc::try_unwrap(db).map_err(|_| "the database is still shared")?;
    db.close()?;
    Ok(())
}
