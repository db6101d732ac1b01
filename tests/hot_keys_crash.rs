//! Process crash during read-modify-write on hot keys, the pattern that lost acknowledged
//! updates when a flush raced two writes of one key (issue 24). A child process sends
//! counter updates from 4 threads to 3 hot keys (each adds 1 to `n` and a tag of its own
//! to the string set `tags`), flushing every 2 ms, and prints each acknowledged update;
//! with replication, a fifth thread fails and restores AZs and promotes replicas. The
//! parent SIGKILLs it at random moments, six lives over one data directory, and after
//! each reopens and checks every key: every acknowledged update's tag is there, the only
//! other tags are of updates in flight at the kill (at most one per writer per life), and
//! `n` equals the number of tags (no update half applied or applied twice). With
//! replication, every AZ's copy must hold the same items, and `verify` must be clean.
//!
//! The child is this test binary re-run with `DYNASTORE_HOT_KEYS_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::wal::fs::StdFs;
use dynastore::{
    AckMode, AttributeValue, Database, GetItemInput, Item, Options, Path, Replication, UpdateAction, UpdateItemInput,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

const CHILD_ENV: &str = "DYNASTORE_HOT_KEYS_CHILD";
/// Set (to anything) for a child whose database is replicated over three AZs.
const REPLICATED_ENV: &str = "DYNASTORE_HOT_KEYS_REPLICATED";
/// The first update number of the child's life: each life's tags are its own.
const FIRST_ENV: &str = "DYNASTORE_HOT_KEYS_FIRST";
const TABLE: &str = "Counters";
const WRITERS: u64 = 4;
const KEYS: u64 = 3;
const AZS: [&str; 3] = ["az-a", "az-b", "az-c"];

fn options(replicated: bool) -> Options {
    Options {
        initial_partitions: 2,
        // Small segments and memtables, so kills land in rotations and flushes.
        wal_segment_bytes: 16 << 10,
        memtable_bytes: 16 << 10,
        replication: replicated.then(|| Replication {
            ack: AckMode::Quorum,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

fn key(k: u64) -> Item {
    Item::new().with("pk", format!("hot-{k}"))
}

fn tag(writer: u64, seq: u64) -> String {
    format!("w{writer}-{seq}")
}

/// The child: `WRITERS` threads send updates `first..` round the keys, printing
/// `ack writer seq` for each acknowledged one; a thread flushes every 2 ms; with
/// replication, another fails, restores and promotes AZs every few milliseconds.
#[test]
#[ignore = "the child process of the hot-key crash test, run by it"]
fn hot_keys_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let replicated = std::env::var_os(REPLICATED_ENV).is_some();
    let first: u64 = std::env::var(FIRST_ENV).unwrap().parse().unwrap();
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, options(replicated)).unwrap());
    common::create_table_once(&db, TABLE, false);
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let print = move |line: &str| {
        let mut out = out.lock().unwrap();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (db, print) = (db.clone(), print.clone());
            std::thread::spawn(move || {
                for seq in first.. {
                    let actions = vec![
                        UpdateAction::Add(Path::parse("n").unwrap(), AttributeValue::N(1.into())),
                        UpdateAction::Add(Path::parse("tags").unwrap(), AttributeValue::Ss(vec![tag(writer, seq)])),
                    ];
                    // With one AZ down at a time, every update must succeed (the engine
                    // retries on a new primary): a failure is reported, not hidden.
                    match db.update_item(UpdateItemInput::new(TABLE, key(seq % KEYS), actions)) {
                        Ok(_) => print(&format!("ack {writer} {seq}")),
                        Err(error) => print(&format!("failed update {writer} {seq}: {error}")),
                    }
                }
            })
        })
        .collect();
    let _flusher = {
        let (db, print) = (db.clone(), print.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(2));
                if let Err(error) = db.flush() {
                    print(&format!("failed flush: {error}"));
                }
            }
        })
    };
    let _chaos = replicated.then(|| {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 1u64.. {
                std::thread::sleep(Duration::from_millis(7));
                let az = AZS[(round % 3) as usize];
                if round % 2 == 0 {
                    db.fail_az(az).unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                    db.restore_az(az).unwrap();
                } else {
                    for partition in 0..2 {
                        // Refused while the AZ's copy is behind; that is fine here.
                        let _ = db.promote(TABLE, partition, az);
                    }
                }
            }
        })
    });
    // The writers never stop: the parent kills the process.
    for writer in writers {
        writer.join().unwrap();
    }
}

/// What one key holds: its counter and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counter {
    n: usize,
    tags: BTreeSet<String>,
}

fn read(db: &Database, k: u64) -> Option<Counter> {
    let mut input = GetItemInput::new(TABLE, key(k));
    input.consistent_read = true;
    let item = db.get_item(input).unwrap().item?;
    let n = match item.get("n") {
        Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
        other => panic!("hot-{k} has no counter: {other:?}"),
    };
    let tags = match item.get("tags") {
        Some(AttributeValue::Ss(tags)) => tags.iter().cloned().collect(),
        other => panic!("hot-{k} has no tags: {other:?}"),
    };
    Some(Counter { n, tags })
}

/// Every update so far: the tags acknowledged, and those that may have been in flight
/// at a kill (each writer's next update after its last acknowledged one, per life).
#[derive(Debug, Default)]
struct Ledger {
    acknowledged: BTreeMap<u64, BTreeSet<String>>,
    in_flight: BTreeSet<String>,
}

impl Ledger {
    /// Records one life, whose updates were numbered from `first`.
    fn add_life(&mut self, first: u64, acks: Vec<Vec<u64>>) {
        let mut next = BTreeMap::new();
        for fields in acks {
            if let [writer, seq] = fields[..] {
                self.acknowledged
                    .entry(seq % KEYS)
                    .or_default()
                    .insert(tag(writer, seq));
                let after = next.entry(writer).or_insert(first);
                *after = (*after).max(seq + 1);
            }
        }
        for writer in 0..WRITERS {
            self.in_flight
                .insert(tag(writer, next.get(&writer).copied().unwrap_or(first)));
        }
    }

    /// Checks every key (see the module docs); returns what was read.
    fn check(&self, db: &Database, when: &str) -> BTreeMap<u64, Option<Counter>> {
        let mut read_back = BTreeMap::new();
        for (&k, acknowledged) in &self.acknowledged {
            let counter = read(db, k).unwrap_or_else(|| panic!("{when}: hot-{k} is gone"));
            let lost: Vec<_> = acknowledged.difference(&counter.tags).collect();
            assert!(lost.is_empty(), "{when}: hot-{k} lost acknowledged updates {lost:?}");
            let unknown: Vec<_> = counter
                .tags
                .iter()
                .filter(|t| !acknowledged.contains(*t) && !self.in_flight.contains(*t))
                .collect();
            assert!(
                unknown.is_empty(),
                "{when}: hot-{k} holds tags of no update: {unknown:?}"
            );
            assert_eq!(
                counter.n,
                counter.tags.len(),
                "{when}: hot-{k} counts {} updates but holds {} tags",
                counter.n,
                counter.tags.len()
            );
            read_back.insert(k, Some(counter));
        }
        read_back
    }
}

#[test]
fn acknowledged_counter_updates_survive_sigkill_exactly_once() {
    crash_rounds(false);
}

#[test]
fn acknowledged_counter_updates_survive_sigkill_and_failovers_exactly_once_on_every_az() {
    crash_rounds(true);
}

/// The tests of this file run one at a time: a child that one of them spawns holds a copy
/// of the process's open files until it execs, among them the other test's LOCK file.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Six child lives, each SIGKILLed at a random moment, each followed by the checks.
fn crash_rounds(replicated: bool) {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut ledger = Ledger::default();
    for round in 0..6u64 {
        let run_for = Duration::from_millis(20 + (seed.rotate_left(round as u32 * 11) % 200));
        let first = (round + 1) * 1_000_000;
        let mut env = vec![
            (CHILD_ENV, tmp.path().display().to_string()),
            (FIRST_ENV, first.to_string()),
        ];
        if replicated {
            env.push((REPLICATED_ENV, "1".to_owned()));
        }
        let (acks, failures) = common::run_child_and_kill_reporting("hot_keys_crash_child", &env, run_for);
        assert!(failures.is_empty(), "seed {seed}, round {round}: {failures:?}");
        assert!(!acks.is_empty(), "seed {seed}, round {round}: nothing acknowledged");
        println!(
            "round {round}: killed after {run_for:?}, {} updates acknowledged",
            acks.len()
        );
        ledger.add_life(first, acks);

        let db = Database::open(StdFs::shared(), tmp.path(), options(replicated))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let when = format!("seed {seed}, round {round}");
        let on_primary = ledger.check(&db, &when);
        if replicated {
            for az in AZS {
                common::wait_caught_up(&db, seed);
                for partition in 0..2 {
                    // A partition no update reached has no copies to promote.
                    if let Err(error) = db.promote(TABLE, partition, az) {
                        assert!(matches!(error, dynastore::Error::Unavailable { .. }), "{when}: {error}");
                    }
                }
                assert_eq!(
                    ledger.check(&db, &format!("{when}, {az}")),
                    on_primary,
                    "{when}: {az} differs"
                );
            }
        }
        db.close().unwrap();
        let report = dynastore::verify::verify(tmp.path());
        assert!(report.problems.is_empty(), "{when}: verify: {:?}", report.problems);
    }
}
