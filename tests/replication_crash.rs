//! Process crash of a replicated database: a child process writes from 4 threads in
//! `Quorum` mode over three AZs while another thread keeps promoting replicas and failing
//! and restoring AZs, so that SIGKILL lands during shipping, during promotions and during
//! rejoins. After each kill the parent reopens the data directory and checks that every
//! acknowledged write is on the primary, that all three AZs converge to identical items,
//! and that `verify` is clean on every AZ.
//!
//! A second test destroys every partition's primary copy after each kill, before
//! reopening. A third runs the same child with `Buffered` writes, acknowledged by
//! `Database::sync`, and destroys the primary copies likewise (each partition's directory
//! in the AZ the CATALOG names primary): every acknowledged write, and every write a
//! completed sync covered, must still be there, from a replica (`Quorum`'s promise for
//! the loss of the primary's AZ).
//!
//! The child is this test binary re-run with `DYNASTORE_REPLICATION_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::catalog::Catalog;
use dynastore::wal::fs::StdFs;
use dynastore::{AckMode, Database, GetItemInput, Item, Options, PutItemInput, Replication};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const CHILD_ENV: &str = "DYNASTORE_REPLICATION_CHILD";
/// Set (to anything) for a child whose writes are `Buffered` and acknowledged by syncs.
const BUFFERED_ENV: &str = "DYNASTORE_REPLICATION_BUFFERED";
const KEYS_PER_THREAD: u64 = 40;
const AZS: [&str; 3] = ["az-a", "az-b", "az-c"];

/// The database's options. `buffered`: writes are `Buffered`, acknowledged by
/// `Database::sync` alone (the interval is longer than any child lives).
fn options(buffered: bool) -> Options {
    let durability = if buffered {
        dynastore::wal::Durability::Buffered {
            interval: Duration::from_secs(3600),
        }
    } else {
        dynastore::wal::Durability::Sync
    };
    Options {
        initial_partitions: 2,
        // Small segments and memtables, so kills also land in rotations, flushes and
        // replica rebuilds.
        wal_segment_bytes: 16 << 10,
        memtable_bytes: 32 << 10,
        durability,
        replication: Some(Replication {
            ack: AckMode::Quorum,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

fn key(thread: u64, k: u64) -> Item {
    Item::new().with("pk", format!("t{thread}-k{k}")).with("sk", 0)
}

fn item(thread: u64, k: u64, seq: u64) -> Item {
    key(thread, k)
        .with("seq", seq as i64)
        .with("body", "r".repeat((seq % 200) as usize))
}

fn seq_of(item: &Item) -> u64 {
    match item.get("seq") {
        Some(dynastore::AttributeValue::N(n)) => n.to_string().parse().unwrap(),
        other => panic!("bad seq {other:?}"),
    }
}

/// The child: 4 writers overwrite their keys, printing `ack thread k seq` per
/// acknowledged write, while a fifth thread promotes, fails and restores AZs. With
/// `Buffered` writes, a sixth thread syncs every few milliseconds and prints the writes
/// made before each sync that returned `Ok`: those are the acknowledged ones.
#[test]
#[ignore = "the child process of the replication crash test, run by it"]
fn replication_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let buffered = std::env::var_os(BUFFERED_ENV).is_some();
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, options(buffered)).unwrap());
    common::create_table_once(&db, "Items", true);
    let start: u64 = std::env::var("DYNASTORE_REPLICATION_SEQ").unwrap().parse().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let print = move |line: &str| {
        let mut out = out.lock().unwrap();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    // Buffered writes that returned, waiting for a sync to acknowledge them.
    let unsynced = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4u64)
        .map(|thread| {
            let (db, print, unsynced) = (db.clone(), print.clone(), unsynced.clone());
            std::thread::spawn(move || {
                for seq in start.. {
                    let k = seq % KEYS_PER_THREAD;
                    // With one AZ down at a time, every Quorum write must succeed (the engine
                    // retries on a new primary): a failure is reported, not hidden.
                    match db.put_item(PutItemInput::new("Items", item(thread, k, seq))) {
                        Ok(_) if buffered => unsynced.lock().unwrap().push(format!("ack {thread} {k} {seq}")),
                        Ok(_) => print(&format!("ack {thread} {k} {seq}")),
                        Err(error) => print(&format!("failed write {thread} {k} {seq}: {error}")),
                    }
                }
            })
        })
        .collect();
    let syncer = buffered.then(|| {
        let db = db.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(2));
                let covered = std::mem::take(&mut *unsynced.lock().unwrap());
                // A sync may fail while a failover loses writes not yet durable (as a crash
                // would): those are not acknowledged, and that is no failure of the test.
                if db.sync().is_ok() {
                    for line in &covered {
                        print(line);
                    }
                }
            }
        })
    });
    let chaos = {
        let db = db.clone();
        std::thread::spawn(move || {
            // From az-b: the first step then changes something.
            for round in 1u64.. {
                std::thread::sleep(Duration::from_millis(7));
                let az = AZS[(round % 3) as usize];
                match round % 4 {
                    // A planned failover of each partition to the next AZ.
                    0 | 2 => {
                        for partition in 0..2 {
                            // Refused while the AZ's copy is behind; that is fine here.
                            let _ = db.promote("Items", partition, az);
                        }
                    }
                    // An AZ fails (its partitions fail over) and comes back.
                    _ => {
                        db.fail_az(az).unwrap();
                        std::thread::sleep(Duration::from_millis(3));
                        db.restore_az(az).unwrap();
                    }
                }
            }
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    chaos.join().unwrap();
    if let Some(syncer) = syncer {
        syncer.join().unwrap();
    }
}

/// One child life: the acknowledged `(thread, k) -> seq`, the newest per key.
fn run_child_and_kill(dir: &Path, start: u64, run_for: Duration, buffered: bool) -> BTreeMap<(u64, u64), u64> {
    let mut env = vec![
        (CHILD_ENV, dir.display().to_string()),
        ("DYNASTORE_REPLICATION_SEQ", start.to_string()),
    ];
    if buffered {
        env.push((BUFFERED_ENV, "1".to_owned()));
    }
    let (acks, failures) = common::run_child_and_kill_reporting("replication_crash_child", &env, run_for);
    assert!(failures.is_empty(), "writes failed: {failures:?}");
    common::newest_per_key(acks)
}

/// Promotions recorded in the CATALOG, over every partition.
fn failovers_of(db: &Database) -> u64 {
    db.stats()
        .unwrap()
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.entry.group.failovers)
        .sum()
}

#[test]
fn acknowledged_writes_survive_sigkill_during_shipping_and_promotion() {
    crash_rounds(false, false);
}

/// As above, and after each kill the primary copy of every partition is destroyed before
/// the database is opened again (the loss of the primary's AZ): every acknowledged
/// `Quorum` write is on a replica, which takes over.
#[test]
fn acknowledged_writes_survive_sigkill_and_the_loss_of_every_primary_copy() {
    crash_rounds(false, true);
}

/// `Buffered` writes acknowledged by `Database::sync`, and after each kill the primary
/// copy of every partition is destroyed before the database is opened again: every
/// write a completed sync covered is on a replica, which takes over.
#[test]
fn synced_writes_survive_sigkill_and_the_loss_of_every_primary_copy() {
    crash_rounds(true, true);
}

/// The tests of this file run one at a time: a child that one of them spawns holds a copy
/// of the process's open files until it execs, among them another test's LOCK file, whose
/// flock then outlives that database's close for a moment (its reopen failed with
/// `Locked`, 1 run in 14 of this file's three tests).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Six child lives, each SIGKILLed at a random moment. After each, if `lose_primary`,
/// every partition's primary copy is removed (as if its AZ's disk were gone); then the
/// database is opened and checked: every acknowledged write there, every AZ identical
/// once caught up, `verify` clean.
fn crash_rounds(buffered: bool, lose_primary: bool) {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    // Failovers the children did (the checks below promote too; those are not counted).
    let (mut by_children, mut after_checks) = (0, 0);
    for round in 0..6u64 {
        let mut run_for = Duration::from_millis(10 + (seed.rotate_left(round as u32 * 11) % 150));
        // The last life runs long enough to fail over if no earlier one did (six short lives
        // left none, 1 run in 100): the kills must land among failovers for this test to
        // test what it says.
        if round == 5 && by_children == 0 {
            run_for = Duration::from_millis(400);
        }
        let start = (round + 1) * 1_000_000;
        let mine = run_child_and_kill(tmp.path(), start, run_for, buffered);
        assert!(
            !mine.is_empty(),
            "seed {seed}, round {round}: the child acknowledged nothing"
        );
        println!(
            "round {round}: killed after {run_for:?}, {} keys acknowledged",
            mine.len()
        );
        acked.extend(mine);

        let catalog = Catalog::load(&StdFs, tmp.path()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let partitions = catalog.tables.get("Items").map_or(&[][..], |t| &t.partitions[..]);
        let failovers: u64 = partitions.iter().map(|p| p.group.failovers).sum();
        by_children += failovers - after_checks;
        println!("round {round}: {failovers} failovers so far, {by_children} by the children");
        if lose_primary {
            for entry in partitions.iter().filter(|p| p.created) {
                let copy = tmp
                    .path()
                    .join(&entry.group.primary)
                    .join("Items")
                    .join(entry.dir_name());
                std::fs::remove_dir_all(&copy).unwrap_or_else(|e| panic!("removing {}: {e}", copy.display()));
                println!("round {round}: removed the primary copy {}", copy.display());
            }
        }

        let db = Database::open(StdFs::shared(), tmp.path(), options(buffered))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let read = |db: &Database, thread: u64, k: u64| {
            let mut input = GetItemInput::new("Items", key(thread, k));
            input.consistent_read = true;
            db.get_item(input).unwrap().item
        };
        for (&(thread, k), &seq) in &acked {
            let stored =
                read(&db, thread, k).unwrap_or_else(|| panic!("seed {seed}: acknowledged t{thread}-k{k} lost"));
            // The newest acknowledged write, or one after it that was in flight.
            assert!(
                seq_of(&stored) >= seq,
                "seed {seed}: t{thread}-k{k} went back from {seq}"
            );
            assert_eq!(stored, item(thread, k, seq_of(&stored)), "seed {seed}: not whole");
        }
        // Every AZ converges to the same items: each is made primary in turn and read.
        common::wait_caught_up(&db, seed);
        let mut per_az = Vec::new();
        for az in AZS {
            for partition in 0..2 {
                db.promote("Items", partition, az)
                    .unwrap_or_else(|e| panic!("seed {seed}: promoting {az}: {e}"));
            }
            let items: BTreeMap<_, _> = acked.keys().map(|&(t, k)| ((t, k), read(&db, t, k))).collect();
            per_az.push(items);
            common::wait_caught_up(&db, seed);
        }
        assert_eq!(per_az[0], per_az[1], "seed {seed}: az-a and az-b differ");
        assert_eq!(per_az[0], per_az[2], "seed {seed}: az-a and az-c differ");
        db.close().unwrap();
        let report = dynastore::verify::verify(tmp.path());
        assert!(report.problems.is_empty(), "seed {seed}: verify: {:?}", report.problems);
        let db = Database::open(StdFs::shared(), tmp.path(), options(buffered)).unwrap();
        after_checks = failovers_of(&db);
    }
    assert!(
        by_children > 0,
        "seed {seed}: no child failed over before it was killed"
    );
}
