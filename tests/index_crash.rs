//! Process crash with secondary indexes: a child process writes items of a table with a
//! global and a local index from 3 threads (`Sync`), moving each item between index keys
//! on every write and deleting some, flushing and compacting every few milliseconds, and
//! prints each acknowledged write; the parent SIGKILLs it at random moments, several times
//! over one data directory. After each kill: every acknowledged write is there, and once
//! the global index caught up, both indexes hold exactly what the table holds (no entry
//! lost, none stale, none twice).
//!
//! The child is this test binary re-run with `DYNASTORE_INDEX_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::wal::fs::StdFs;
use dynastore::{
    AttributeValue, Database, DeleteItemInput, Error, IndexSchema, Item, KeySchema, Options, Projection, PutItemInput,
    QueryInput, ScanInput, TableSchema,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

const CHILD_ENV: &str = "DYNASTORE_INDEX_CHILD";
const KEYS_PER_THREAD: u64 = 40;
const CITIES: u64 = 5;

fn options() -> Options {
    Options {
        wal_segment_bytes: 32 << 10,
        memtable_bytes: 32 << 10,
        ..Options::default()
    }
}

fn schema() -> TableSchema {
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    };
    TableSchema {
        name: "People".into(),
        indexes: vec![
            IndexSchema::global(
                "by_city",
                KeySchema {
                    partition_key: KeyAttribute::new("city", ScalarType::S),
                    sort_key: Some(KeyAttribute::new("seq", ScalarType::N)),
                },
                Projection::KeysOnly,
            ),
            IndexSchema::local(
                "by_seq",
                &key_schema,
                KeyAttribute::new("seq", ScalarType::N),
                Projection::All,
            ),
        ],
        key_schema,
    }
}

fn key(thread: u64, k: u64) -> Item {
    Item::new().with("pk", format!("t{thread}")).with("sk", k as i64)
}

/// The item a thread writes as its `seq`-th write of key `k`: in city `seq % CITIES`.
fn item(thread: u64, k: u64, seq: u64) -> Item {
    key(thread, k)
        .with("seq", seq as i64)
        .with("city", format!("city-{}", seq % CITIES))
        .with("body", "x".repeat((seq % 200) as usize))
}

/// The child: each thread writes its keys in turn (every seventh write a delete), printing
/// `ack thread k seq` once a put is acknowledged (`ack thread k 0` for a delete).
#[test]
#[ignore = "the child process of the crash test, run by it"]
fn index_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, options()).unwrap());
    match db.create_table(schema()) {
        Ok(_) | Err(Error::ResourceInUse { .. }) => {}
        Err(error) => panic!("{error}"),
    }
    let start: u64 = std::env::var("DYNASTORE_INDEX_SEQ").unwrap().parse().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..3u64)
        .map(|thread| {
            let (db, out) = (db.clone(), out.clone());
            std::thread::spawn(move || {
                for seq in start.. {
                    let k = seq % KEYS_PER_THREAD;
                    let acked = if seq % 7 == 0 {
                        db.delete_item(DeleteItemInput::new("People", key(thread, k))).unwrap();
                        0
                    } else {
                        db.put_item(PutItemInput::new("People", item(thread, k, seq))).unwrap();
                        seq
                    };
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {thread} {k} {acked}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    let flusher = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 1.. {
                std::thread::sleep(Duration::from_millis(15));
                db.flush().unwrap();
                if round % 3 == 0 {
                    db.compact().unwrap();
                }
            }
        })
    };
    for thread in threads {
        thread.join().unwrap();
    }
    flusher.join().unwrap();
}

/// Every page of `input`.
fn all_pages(db: &Database, mut input: QueryInput) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        let page = db.query(input.clone()).unwrap();
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => input.exclusive_start_key = Some(key),
            None => return items,
        }
    }
}

fn number(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
        other => panic!("{name}: {other:?}"),
    }
}

/// Every item of the table, page by page.
fn table_items(db: &Database) -> Vec<Item> {
    let mut items = Vec::new();
    let mut scan = ScanInput::new("People");
    loop {
        let page = db.scan(scan.clone()).unwrap();
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => scan.exclusive_start_key = Some(key),
            None => break,
        }
    }
    items
}

/// Both indexes against the table's items.
fn assert_indexes_match(db: &Database, seed: u64) {
    // The engine's own check (what `verify` runs) agrees, entry by entry.
    let check = db.check_indexes(Duration::from_secs(60)).unwrap();
    assert!(check.problems.is_empty(), "seed {seed}: {:?}", check.problems);
    let items = table_items(db);
    for city in 0..CITIES {
        let city = format!("city-{city}");
        // The index's order: its sort key, then the table's key.
        let mut expected: Vec<((i64, String, i64), Item)> = items
            .iter()
            .filter(|item| item.get("city") == Some(&city.as_str().into()))
            .map(|item| {
                let entry: Item = ["pk", "sk", "city", "seq"]
                    .iter()
                    .map(|name| (name.to_string(), item.get(name).unwrap().clone()))
                    .collect();
                let pk = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.clone(),
                    other => panic!("pk: {other:?}"),
                };
                ((number(item, "seq"), pk, number(item, "sk")), entry)
            })
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let expected: Vec<Item> = expected.into_iter().map(|(_, entry)| entry).collect();
        let mut query = QueryInput::new("People", city.as_str());
        query.index_name = Some("by_city".into());
        assert_eq!(all_pages(db, query), expected, "seed {seed}: by_city {city}");
    }
    for thread in 0..3u64 {
        let mut expected: Vec<Item> = items
            .iter()
            .filter(|item| item.get("pk") == Some(&format!("t{thread}").into()))
            .cloned()
            .collect();
        expected.sort_by_key(|item| number(item, "seq"));
        let mut query = QueryInput::new("People", format!("t{thread}"));
        query.index_name = Some("by_seq".into());
        query.consistent_read = true;
        assert_eq!(all_pages(db, query), expected, "seed {seed}: by_seq t{thread}");
    }
}

/// Whether key `k`, last acknowledged as written at `seq`, may be gone: a write of it not
/// acknowledged (in flight at a kill) may have been a delete. Those are the next write of
/// it in the same life (`seq + KEYS_PER_THREAD`) and the first write of it in each later
/// life (lives start at `starts`).
fn may_be_deleted(seq: u64, k: u64, starts: &[u64]) -> bool {
    let first_in = |start: u64| start + (k + KEYS_PER_THREAD - start % KEYS_PER_THREAD) % KEYS_PER_THREAD;
    let in_flight = std::iter::once(seq + KEYS_PER_THREAD).chain(
        starts
            .iter()
            .filter(|start| **start > seq)
            .map(|start| first_in(*start)),
    );
    in_flight.into_iter().any(|next| next.is_multiple_of(7))
}

#[test]
fn indexes_converge_to_their_table_after_sigkills() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut starts = Vec::new();
    for round in 0..5u64 {
        let run_for = Duration::from_millis(5 + (seed.rotate_left(round as u32 * 11) % 150));
        let start = (round + 1) * 1_000_000 + 1;
        starts.push(start);
        let env = [
            (CHILD_ENV, tmp.path().display().to_string()),
            ("DYNASTORE_INDEX_SEQ", start.to_string()),
        ];
        let acks = common::run_child_and_kill("index_crash_child", &env, run_for);
        assert!(!acks.is_empty(), "round {round}: the child acknowledged nothing");
        // The last acknowledged write per key, in print order (a delete prints seq 0).
        for fields in acks {
            if let [thread, k, seq] = fields[..] {
                acked.insert((thread, k), seq);
            }
        }
        println!("round {round}: killed after {run_for:?}");
        let db = Database::open(StdFs::shared(), tmp.path(), options()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        db.wait_for_indexes(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for (&(thread, k), &seq) in &acked {
            let stored = db
                .get_item(dynastore::GetItemInput::new("People", key(thread, k)))
                .unwrap()
                .item;
            // The last acknowledged write, or the thread's next write of the key (a put or,
            // every seventh, a delete), in flight at the kill.
            match (seq, &stored) {
                (0, None) => {}
                (_, Some(found)) => assert!(
                    number(found, "seq") as u64 >= seq,
                    "seed {seed}: t{thread}-{k} went back from {seq}: {found:?}"
                ),
                (_, None) => assert!(
                    may_be_deleted(seq, k, &starts),
                    "seed {seed}: acknowledged t{thread}-{k} seq {seq} lost"
                ),
            }
        }
        assert_indexes_match(&db, seed);
        db.close().unwrap();
        assert_files_verify(tmp.path(), seed);
    }
}

/// `verify`'s file checks find nothing wrong once the database is closed after a kill.
fn assert_files_verify(dir: &std::path::Path, seed: u64) {
    let report = dynastore::verify::verify(dir);
    assert!(report.problems.is_empty(), "seed {seed}: {:?}", report.problems);
}

const FILL_CHILD_ENV: &str = "DYNASTORE_FILL_CHILD";

/// The child of the fill test: a table of 3,000 items (made on its first life); each life
/// deletes the global index if it is there and adds it again, so that a fill runs, while 2
/// threads write, printing `ack thread k seq` per acknowledged put.
#[test]
#[ignore = "the child process of the crash test, run by it"]
fn fill_crash_child() {
    let Ok(dir) = std::env::var(FILL_CHILD_ENV) else {
        return;
    };
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, options()).unwrap());
    let bare = TableSchema {
        indexes: Vec::new(),
        ..schema()
    };
    if db.describe_table("People").is_err() {
        db.create_table(bare).unwrap();
        for k in 0..3000u64 {
            db.put_item(PutItemInput::new("People", item(9, k, k))).unwrap();
        }
    }
    let by_city = schema().indexes.remove(0);
    if db
        .describe_table("People")
        .unwrap()
        .indexes
        .iter()
        .any(|index| index.name == "by_city")
    {
        db.delete_global_index("People", "by_city").unwrap();
    }
    db.create_global_index("People", by_city).unwrap();
    let start: u64 = std::env::var("DYNASTORE_INDEX_SEQ").unwrap().parse().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..2u64)
        .map(|thread| {
            let (db, out) = (db.clone(), out.clone());
            std::thread::spawn(move || {
                for seq in start.. {
                    let k = seq % KEYS_PER_THREAD;
                    db.put_item(PutItemInput::new("People", item(thread, k, seq))).unwrap();
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {thread} {k} {seq}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// SIGKILLs during fills of a global index added to a table with data: after each kill
/// the fill finishes (from scratch, if it was not recorded) and the index holds exactly
/// the table's items, acknowledged writes included.
#[test]
fn a_global_index_filled_across_sigkills_converges_to_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for round in 0..5u64 {
        let run_for = Duration::from_millis(5 + (seed.rotate_left(round as u32 * 13) % 120));
        let start = (round + 1) * 1_000_000 + 1;
        let env = [
            (FILL_CHILD_ENV, tmp.path().display().to_string()),
            ("DYNASTORE_INDEX_SEQ", start.to_string()),
        ];
        acked.extend(common::newest_per_key(common::run_child_and_kill(
            "fill_crash_child",
            &env,
            run_for,
        )));
        println!("round {round}: killed after {run_for:?}");
        let db = Database::open(StdFs::shared(), tmp.path(), options()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        db.wait_for_indexes(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for (&(thread, k), &seq) in &acked {
            let stored = db
                .get_item(dynastore::GetItemInput::new("People", key(thread, k)))
                .unwrap()
                .item
                .unwrap_or_else(|| panic!("seed {seed}: acknowledged t{thread}-{k} lost"));
            assert!(
                number(&stored, "seq") as u64 >= seq,
                "seed {seed}: t{thread}-{k} went back"
            );
        }
        if db.describe_table("People").unwrap().indexes.is_empty() {
            // Killed between the delete and the create: no index to check this time.
            db.close().unwrap();
            assert_files_verify(tmp.path(), seed);
            continue;
        }
        let by_city = |city: u64| {
            let mut query = QueryInput::new("People", format!("city-{city}"));
            query.index_name = Some("by_city".into());
            all_pages(&db, query).len()
        };
        let items = table_items(&db);
        for city in 0..CITIES {
            let expected = items
                .iter()
                .filter(|item| item.get("city") == Some(&format!("city-{city}").into()))
                .count();
            assert_eq!(by_city(city), expected, "seed {seed}: round {round}: city-{city}");
        }
        let check = db.check_indexes(Duration::from_secs(60)).unwrap();
        assert!(
            check.problems.is_empty(),
            "seed {seed}: round {round}: {:?}",
            check.problems
        );
        db.close().unwrap();
        assert_files_verify(tmp.path(), seed);
    }
}
