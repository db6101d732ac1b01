//! Global secondary indexes: kept from the tables' logs by the index applier, queried and
//! scanned with DynamoDB's rules, and converging to exactly their table's contents after
//! reopens, flushes, compactions, replication and power loss.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use common::index_model::{Step, run_steps, step};
use common::{query_pages, scan_pages};
use dynastore_engine::item::key::encode_key_value;
use dynastore_engine::item::{KeyAttribute, ScalarType};
use dynastore_engine::{
    AckMode, AttributeValue, Database, DeleteItemInput, Error, IndexSchema, Item, KeySchema, Options, Path, Projection,
    PutItemInput, QueryInput, Replication, ScanInput, Select, SetValue, SortKeyCondition, TableSchema, UpdateAction,
    UpdateItemInput,
};
use dynastore_wal::fs::{FaultyFs, SharedFs};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

const DIR: &str = "/data";
const TABLE: &str = "Games";
const CAUGHT_UP: Duration = Duration::from_secs(20);

fn table_keys() -> KeySchema {
    KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    }
}

/// `Games` keyed by player (`pk`) and game (`sk`), with a KEYS_ONLY index by `city` (S)
/// and `score` (N), an ALL index by `score` alone, and a local index by `score` too.
fn schema() -> TableSchema {
    let keys = table_keys();
    TableSchema {
        name: TABLE.into(),
        indexes: vec![
            IndexSchema::global(
                "by_city",
                KeySchema {
                    partition_key: KeyAttribute::new("city", ScalarType::S),
                    sort_key: Some(KeyAttribute::new("score", ScalarType::N)),
                },
                Projection::KeysOnly,
            ),
            IndexSchema::global(
                "by_score",
                KeySchema {
                    partition_key: KeyAttribute::new("score", ScalarType::N),
                    sort_key: None,
                },
                Projection::All,
            ),
            IndexSchema::local(
                "local_score",
                &keys,
                KeyAttribute::new("score", ScalarType::N),
                Projection::KeysOnly,
            ),
        ],
        key_schema: keys,
    }
}

fn globals() -> Vec<IndexSchema> {
    schema()
        .indexes
        .into_iter()
        .filter(|index| index.kind == dynastore_engine::IndexKind::Global)
        .collect()
}

/// After power loss (`db` dropped, what was not durable lost): the database reopened,
/// its global indexes caught up.
fn recover(db: Database, faulty: &FaultyFs, fs: &SharedFs, options: &Options, seed: u64) -> Database {
    drop(db);
    faulty.restart();
    let db = open(fs, options);
    db.wait_for_indexes(CAUGHT_UP)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    db
}

fn open(fs: &SharedFs, options: &Options) -> Database {
    Database::open(fs.clone(), DIR, options.clone()).unwrap()
}

fn new_database(options: &Options) -> (FaultyFs, SharedFs, Database) {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let db = open(&fs, options);
    db.create_table(schema()).unwrap();
    (faulty, fs, db)
}

fn game(pk: &str, sk: i64) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

fn index_query(index: &str, partition_key: impl Into<AttributeValue>) -> QueryInput {
    let mut input = QueryInput::new(TABLE, partition_key);
    input.index_name = Some(index.into());
    input
}

fn encoded(values: &[&AttributeValue]) -> Vec<u8> {
    let mut key = Vec::new();
    for value in values {
        encode_key_value(value, &mut key);
    }
    key
}

/// What `index` holds of `items`, by index partition key, each in the index's order.
fn expected_index(items: &[Item], index: &IndexSchema) -> BTreeMap<Vec<u8>, Vec<Item>> {
    let keys = &index.key_schema;
    let mut entries: Vec<(Vec<u8>, Vec<u8>, Item)> = Vec::new();
    for item in items {
        let Some(partition) = item.get(&keys.partition_key.name) else {
            continue;
        };
        let sort = keys.sort_key.as_ref().map(|key| item.get(&key.name));
        if sort == Some(None) {
            continue;
        }
        let mut order: Vec<&AttributeValue> = sort.flatten().into_iter().collect();
        order.push(item.get("pk").unwrap());
        order.push(item.get("sk").unwrap());
        entries.push((
            encoded(&[partition]),
            encoded(&order),
            index.project(item, &table_keys()),
        ));
    }
    entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut by_partition: BTreeMap<Vec<u8>, Vec<Item>> = BTreeMap::new();
    for (partition, _, entry) in entries {
        by_partition.entry(partition).or_default().push(entry);
    }
    by_partition
}

/// Checks every global index against `items` (the table's contents): each index
/// partition key's query (in pages of 2) and a scan of the index (in pages of 3).
fn assert_indexes_hold(db: &Database, items: &[Item], context: &str) {
    assert_these_indexes_hold(db, items, &globals(), context);
}

/// [`assert_indexes_hold`] for `indexes`.
fn assert_these_indexes_hold(db: &Database, items: &[Item], indexes: &[IndexSchema], context: &str) {
    // The engine's own check (what `verify` runs) agrees, entry by entry.
    let check = db.check_indexes(CAUGHT_UP).unwrap();
    assert!(check.problems.is_empty(), "{context}: {:?}", check.problems);
    for index in indexes.iter().cloned() {
        let expected = expected_index(items, &index);
        let partition_name = &index.key_schema.partition_key.name;
        let mut total = 0;
        for entries in expected.values() {
            let partition_key = entries[0].get(partition_name).unwrap().clone();
            let found = query_pages(db, index_query(&index.name, partition_key.clone()), 2);
            assert_eq!(&found, entries, "{context}: index {} at {partition_key:?}", index.name);
            total += entries.len();
        }
        let mut scan = ScanInput::new(TABLE);
        scan.index_name = Some(index.name.clone());
        let scanned = scan_pages(db, scan, 3);
        assert_eq!(
            scanned.len(),
            total,
            "{context}: scan of index {}: {scanned:?}",
            index.name
        );
    }
}

fn table_items(db: &Database) -> Vec<Item> {
    let mut scan = ScanInput::new(TABLE);
    scan.consistent_read = true;
    scan_pages(db, scan, 5)
}

fn message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Validation(error)) => error.to_string(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_global_index_is_queried_by_its_own_key_once_caught_up() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    let items = [
        game("ann", 1).with("city", "Oslo").with("score", 30).with("note", "a"),
        game("ann", 2).with("city", "Bergen").with("score", 10),
        game("bob", 1).with("city", "Oslo").with("score", 20),
        game("bob", 2).with("city", "Oslo"),
        game("cid", 1).with("score", 10).with("note", "only a score"),
    ];
    for item in &items {
        db.put_item(PutItemInput::new(TABLE, item.clone())).unwrap();
    }
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    assert_eq!(
        query_pages(&db, index_query("by_city", "Oslo"), 1),
        vec![
            game("bob", 1).with("city", "Oslo").with("score", 20),
            game("ann", 1).with("city", "Oslo").with("score", 30),
        ]
    );
    let mut high = index_query("by_city", "Oslo");
    high.sort_key_condition = Some(SortKeyCondition::Gt(20.into()));
    assert_eq!(query_pages(&db, high, 5).len(), 1);
    // ALL projects everything; two items share the index key 10.
    assert_eq!(
        query_pages(&db, index_query("by_score", 10), 1),
        vec![items[1].clone(), items[4].clone()]
    );
    assert_indexes_hold(&db, &items, "after puts");
    // DescribeTable's estimate of each index's entries (exact with one version per key),
    // the local one first: three items have both of by_city's keys, four have a score.
    // The table counts its five items, not the local index's entries beside them.
    let described = db.describe_table(TABLE).unwrap();
    assert_eq!(described.item_count, 5);
    let sizes = described.index_sizes;
    let counts: Vec<(&str, u64)> = sizes.iter().map(|(name, count, _)| (name.as_str(), *count)).collect();
    assert_eq!(counts, [("local_score", 4), ("by_city", 3), ("by_score", 4)]);

    // Moving, leaving and deleting.
    let set = UpdateAction::Set(Path::attribute("city"), SetValue::from(AttributeValue::from("Bergen")));
    db.update_item(UpdateItemInput::new(TABLE, game("ann", 1), vec![set]))
        .unwrap();
    let remove = UpdateAction::Remove(Path::attribute("score"));
    db.update_item(UpdateItemInput::new(TABLE, game("bob", 1), vec![remove]))
        .unwrap();
    db.delete_item(DeleteItemInput::new(TABLE, game("cid", 1))).unwrap();
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    // `stats` shows the indexes' lag (none now) and their own partitions.
    let stats = db.stats().unwrap();
    let lags: Vec<Option<u64>> = stats[0]
        .partitions
        .iter()
        .filter(|p| p.stats.is_some())
        .map(|p| p.index_lag_records)
        .collect();
    assert!(!lags.is_empty() && lags.iter().all(|lag| *lag == Some(0)), "{lags:?}");
    let names: Vec<&str> = stats[0].global_indexes.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["by_city", "by_score"]);
    assert!(stats[0].global_indexes[0].1.iter().any(|p| p.stats.is_some()));
    assert!(query_pages(&db, index_query("by_city", "Oslo"), 5).is_empty());
    assert_indexes_hold(&db, &table_items(&db), "after updates and a delete");
}

#[test]
fn global_index_reads_are_refused_as_dynamodb_refuses_them() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    let mut consistent = index_query("by_city", "Oslo");
    consistent.consistent_read = true;
    assert_eq!(
        message(db.query(consistent)),
        "Consistent reads are not supported on global secondary indexes"
    );
    let mut scan = ScanInput::new(TABLE);
    scan.index_name = Some("by_city".into());
    scan.consistent_read = true;
    assert_eq!(
        message(db.scan(scan)),
        "Consistent reads are not supported on global secondary indexes"
    );
    let mut all = index_query("by_city", "Oslo");
    all.select = Some(Select::AllAttributes);
    assert_eq!(
        message(db.query(all)),
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index by_city because its projection type is not ALL"
    );
    let mut wrong_type = index_query("by_city", 5);
    wrong_type.sort_key_condition = None;
    assert_eq!(
        message(db.query(wrong_type)),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    let refused = db.put_item(PutItemInput::new(TABLE, game("ann", 1).with("city", 7)));
    assert_eq!(
        message(refused),
        "One or more parameter values were invalid: Type mismatch for Index Key city Expected: S Actual: N IndexName: by_city"
    );
}

fn run_model(steps: &[Step], options: &Options) {
    let (_faulty, fs, db) = new_database(options);
    let (db, model) = run_steps(db, steps, || open(&fs, options));
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    let items: Vec<Item> = model.values().cloned().collect();
    assert_indexes_hold(&db, &items, "model");
    // And again after a reopen, from what the applier recorded.
    db.close().unwrap();
    let db = open(&fs, options);
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    assert_indexes_hold(&db, &items, "model, reopened");
    db.close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random puts, updates and deletes (adding, moving and removing index keys) with
    /// flushes, compactions and reopens among them: once caught up, every global index
    /// query equals the model's.
    #[test]
    fn global_indexes_converge_to_a_model_of_the_table(
        steps in proptest::collection::vec(step(5), 1..60),
        buffered in any::<bool>(),
        replicated in any::<bool>(),
    ) {
        run_model(&steps, &common::model_options(buffered, replicated));
    }
}

/// Power loss at a point chosen by the seed, during writes that move items between
/// index keys, with flushes among them: after recovery every global index converges to
/// exactly the table (no entry lost, none stale, none twice).
#[test]
fn after_power_loss_every_global_index_converges_to_its_table() {
    let options = Options {
        memtable_bytes: 1024,
        ..Options::default()
    };
    for seed in 0..40u64 {
        let (faulty, fs, db) = new_database(&options);
        faulty.crash_after(1 + (seed * 7919) % 300);
        for i in 0..150i64 {
            let pk = format!("p{}", (i * 7 + seed as i64) % 4);
            let sk = i % 5;
            let result = if i % 6 == 5 {
                db.delete_item(DeleteItemInput::new(TABLE, game(&pk, sk))).map(|_| ())
            } else {
                let mut item = game(&pk, sk).with("n", i);
                if i % 3 != 0 {
                    item = item.with("score", (i * 13) % 7).with("city", format!("c{}", i % 4));
                }
                db.put_item(PutItemInput::new(TABLE, item)).map(|_| ())
            };
            if result.is_err() || ((i + seed as i64) % 23 == 0 && db.flush().is_err()) {
                break;
            }
        }
        let db = recover(db, &faulty, &fs, &options, seed);
        let items = table_items(&db);
        assert_indexes_hold(&db, &items, &format!("seed {seed}"));
    }
}

/// Waits until every created partition, the global indexes' too, has both replicas in
/// service (a failover needs one to promote).
fn wait_replicas_live(db: &Database) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stats = db.stats().unwrap();
        let reports: Vec<_> = stats
            .iter()
            .flat_map(|table| {
                table
                    .partitions
                    .iter()
                    .chain(table.global_indexes.iter().flat_map(|(_, partitions)| partitions))
            })
            .filter(|report| report.stats.is_some())
            .collect();
        let live = reports.iter().all(|report| {
            report.replicas.len() == 2
                && report
                    .replicas
                    .iter()
                    .all(|replica| replica.state == dynastore_engine::ReplicaStatus::Live)
        });
        if live {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replicas not in service: {reports:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn replicated(ack: AckMode) -> Options {
    Options {
        memtable_bytes: 16 << 10,
        wal_segment_bytes: 16 << 10,
        replication: Some(Replication {
            ack,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

/// Writers move items between index keys while the primaries' AZs fail, come back and are
/// promoted away from: once caught up, every global index is exactly the table on
/// whichever copies are primaries now.
#[test]
fn global_indexes_converge_on_new_primaries_after_failovers_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_faulty, _fs, db) = new_database(&replicated(AckMode::Quorum));
    let db = Arc::new(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2i64)
        .map(|thread| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let key = game(&format!("p{}", (i + thread) % 5), i % 7);
                    let result = match i % 4 {
                        3 => db.delete_item(DeleteItemInput::new(TABLE, key)).map(|_| ()),
                        _ => {
                            let item = key.with("city", format!("c{}", i % 3)).with("score", (i * 7) % 5);
                            db.put_item(PutItemInput::new(TABLE, item)).map(|_| ())
                        }
                    };
                    if let Err(error) = result {
                        panic!("write {thread}/{i}: {error}");
                    }
                    i += 1;
                }
                i
            })
        })
        .collect();
    let azs = ["az-a", "az-b", "az-c"];
    for round in 0..6usize {
        std::thread::sleep(Duration::from_millis(30));
        // Every copy, the index partitions' too (created by the first index write), in
        // service: a failover needs a replica to promote.
        wait_replicas_live(&db);
        let partitions = common::partitions(&db);
        let Some(first) = partitions.first() else { continue };
        let primary = first.entry.group.primary.clone();
        if round % 2 == 1 {
            for partition in &partitions {
                match db.promote(TABLE, partition.entry.id, azs[(round / 2) % 3]) {
                    Ok(()) | Err(Error::Unavailable { .. }) => {}
                    Err(error) => panic!("promoting: {error}"),
                }
            }
        } else {
            db.fail_az(&primary).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            db.restore_az(&primary).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written: i64 = writers
        .into_iter()
        .map(|writer| common::join_within(writer, Duration::from_secs(120), "a writer"))
        .sum();
    assert!(written > 50, "only {written} writes");
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    assert_indexes_hold(&db, &table_items(&db), "after failovers");
}

/// In `Primary` mode a write the primary alone holds is acknowledged, and lost if the
/// primary's AZ fails: its index entry must never have been made. The applier applies
/// only records a replica holds too.
#[test]
fn a_write_lost_in_a_failover_leaves_no_index_entry() {
    let (_faulty, _fs, db) = new_database(&replicated(AckMode::Primary));
    db.put_item(PutItemInput::new(
        TABLE,
        game("ann", 1).with("city", "Oslo").with("score", 1),
    ))
    .unwrap();
    common::wait_caught_up(&db);
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    db.pause_shipping("az-b", true).unwrap();
    db.pause_shipping("az-c", true).unwrap();
    for sk in 2..6 {
        let item = game("ann", sk).with("city", "Lost").with("score", sk);
        db.put_item(PutItemInput::new(TABLE, item)).unwrap();
    }
    // Time enough for an applier that did not wait for a replica to apply them.
    std::thread::sleep(Duration::from_millis(100));
    db.fail_az("az-a").unwrap();
    db.pause_shipping("az-b", false).unwrap();
    db.pause_shipping("az-c", false).unwrap();
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    let items = table_items(&db);
    assert_eq!(items.len(), 1, "the unshipped writes are lost: {items:?}");
    assert!(query_pages(&db, index_query("by_city", "Lost"), 5).is_empty());
    assert_indexes_hold(&db, &items, "after losing unshipped writes");
    db.restore_az("az-a").unwrap();
}

/// `verify` checks the global indexes' partitions as it checks the table's: a sound one
/// passes, a damaged index SSTable is reported.
#[test]
fn verify_checks_global_index_partitions_too() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Database::open(dynastore_wal::fs::StdFs::shared(), tmp.path(), Options::default()).unwrap();
    db.create_table(schema()).unwrap();
    for sk in 0..20 {
        let item = game("ann", sk).with("city", "Oslo").with("score", sk);
        db.put_item(PutItemInput::new(TABLE, item)).unwrap();
    }
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let report = dynastore_engine::verify::verify(tmp.path());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let index_dir = tmp.path().join("az-a").join(TABLE).join("gsi-0");
    assert!(
        report
            .checked
            .iter()
            .any(|line| line.contains(index_dir.to_str().unwrap())),
        "{:?}",
        report.checked
    );
    // Damage one of the index's SSTables: verify says so.
    let table_file = std::fs::read_dir(&index_dir)
        .unwrap()
        .flat_map(|partition| std::fs::read_dir(partition.unwrap().path().join("sst")).unwrap())
        .map(|file| file.unwrap().path())
        .next()
        .expect("the index has an SSTable after the flush");
    let mut bytes = std::fs::read(&table_file).unwrap();
    bytes[10] ^= 0xFF;
    std::fs::write(&table_file, bytes).unwrap();
    let report = dynastore_engine::verify::verify(tmp.path());
    assert!(
        report.problems.iter().any(|line| line.contains("gsi-0")),
        "{:?}",
        report.problems
    );
}

/// BatchWriteItem keeps both kinds of index as single writes do: puts move items between
/// index keys, deletes remove their entries, in one record per partition.
#[test]
fn batch_writes_keep_local_and_global_indexes() {
    use dynastore_engine::WriteRequest;
    let (_faulty, _fs, db) = new_database(&Options::default());
    let batch = |requests: Vec<WriteRequest>| {
        let requests = requests
            .into_iter()
            .map(|request| (TABLE.to_owned(), request))
            .collect();
        let output = db.batch_write(requests).unwrap();
        assert!(output.unprocessed_items.is_empty());
    };
    batch(
        (0..20)
            .map(|sk| {
                WriteRequest::Put(
                    game(&format!("p{}", sk % 3), sk)
                        .with("city", "Oslo")
                        .with("score", sk % 4),
                )
            })
            .collect(),
    );
    batch(
        (0..20)
            .map(|sk| match sk % 3 {
                0 => WriteRequest::Delete(game(&format!("p{}", sk % 3), sk)),
                _ => WriteRequest::Put(
                    game(&format!("p{}", sk % 3), sk)
                        .with("city", "Bergen")
                        .with("score", sk),
                ),
            })
            .collect(),
    );
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    let items = table_items(&db);
    assert_eq!(items.len(), 13);
    assert_indexes_hold(&db, &items, "after batches");
    // The local index, read strongly consistently, per partition key.
    for pk in ["p0", "p1", "p2"] {
        let mut input = index_query("local_score", pk);
        input.consistent_read = true;
        let scores: Vec<i64> = query_pages(&db, input, 2)
            .iter()
            .map(|entry| match entry.get("score") {
                Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        let mut expected: Vec<i64> = items
            .iter()
            .filter(|item| item.get("pk") == Some(&pk.into()))
            .map(|item| match item.get("score") {
                Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        expected.sort();
        assert_eq!(scores, expected, "local index of {pk}");
    }
}

/// A table keyed as `Games` with no index yet.
fn bare_schema() -> TableSchema {
    TableSchema {
        indexes: Vec::new(),
        ..schema()
    }
}

fn by_city() -> IndexSchema {
    globals().remove(0)
}

/// A global index added to a table with data while writers move items between its keys:
/// it is CREATING and refuses reads until filled, then holds exactly the table's items;
/// deleting it makes it unknown and removes its data.
#[test]
fn a_global_index_added_to_a_table_with_data_is_filled_while_writes_go_on() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_bytes: 64 << 10,
        ..Options::default()
    };
    let db = Arc::new(Database::open(dynastore_wal::fs::StdFs::shared(), tmp.path(), options).unwrap());
    db.create_table(bare_schema()).unwrap();
    for i in 0..3000i64 {
        let item = game(&format!("p{}", i % 50), i)
            .with("city", format!("c{}", i % 7))
            .with("score", i % 11);
        db.put_item(PutItemInput::new(TABLE, item)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let key = game(&format!("p{}", i % 50), (i * 37) % 3000);
                if i % 5 == 4 {
                    db.delete_item(DeleteItemInput::new(TABLE, key)).unwrap();
                } else {
                    let item = key.with("city", format!("c{}", (i * 3) % 7)).with("score", i % 13);
                    db.put_item(PutItemInput::new(TABLE, item)).unwrap();
                }
                i += 1;
            }
            i
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let created = db.create_global_index(TABLE, by_city()).unwrap();
    assert!(created.indexes.iter().any(|index| index.name == "by_city"));
    if created.creating_indexes == ["by_city"] {
        // Still filling (it usually is, this early): reads are refused as DynamoDB does.
        match db.query(index_query("by_city", "c1")) {
            Err(Error::Validation(error)) => assert_eq!(
                error.to_string(),
                "Cannot read from backfilling global secondary index: by_city"
            ),
            Ok(_) => {}
            Err(other) => panic!("{other}"),
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 10, "only {writes} writes during the fill");
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    assert!(db.describe_table(TABLE).unwrap().creating_indexes.is_empty());
    assert_these_indexes_hold(&db, &table_items(&db), &[by_city()], "after the fill");

    // Reopened: the index is there, active, and still exact.
    let db = Arc::try_unwrap(db).unwrap_or_else(|_| panic!("the writer let go"));
    db.close().unwrap();
    let db = Database::open(dynastore_wal::fs::StdFs::shared(), tmp.path(), Options::default()).unwrap();
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    assert_these_indexes_hold(&db, &table_items(&db), &[by_city()], "reopened");

    let deleted = db.delete_global_index(TABLE, "by_city").unwrap();
    assert!(deleted.indexes.is_empty());
    assert_eq!(
        message(db.query(index_query("by_city", "c1"))),
        "The table does not have the specified index: by_city"
    );
    assert!(!tmp.path().join("az-a").join(TABLE).join("gsi-0").exists());
    db.close().unwrap();
    let db = Database::open(dynastore_wal::fs::StdFs::shared(), tmp.path(), Options::default()).unwrap();
    assert!(db.describe_table(TABLE).unwrap().indexes.is_empty());
}

/// Power loss at a point chosen by the seed while a new global index is filled and
/// writes go on: after recovery the fill finishes (again, from scratch, if it was not
/// recorded) and the index holds exactly the table's items.
#[test]
fn power_loss_during_a_fill_leaves_the_index_exactly_the_table_once_refilled() {
    let options = Options {
        memtable_bytes: 8 << 10,
        ..Options::default()
    };
    for seed in 0..20u64 {
        let faulty = FaultyFs::new();
        let fs = faulty.shared();
        let db = open(&fs, &options);
        db.create_table(bare_schema()).unwrap();
        for i in 0..300i64 {
            let item = game(&format!("p{}", i % 9), i)
                .with("city", format!("c{}", i % 4))
                .with("score", i % 5);
            db.put_item(PutItemInput::new(TABLE, item)).unwrap();
        }
        faulty.crash_after(1 + (seed * 7919) % 400);
        let mut created = false;
        for i in 0..200i64 {
            if i == 20 {
                created = db.create_global_index(TABLE, by_city()).is_ok();
                if !created {
                    break;
                }
            }
            let item = game(&format!("p{}", i % 9), (i * 7) % 300).with("city", format!("c{}", i % 3));
            if db.put_item(PutItemInput::new(TABLE, item)).is_err() {
                break;
            }
        }
        let db = recover(db, &faulty, &fs, &options, seed);
        let has_index = !db.describe_table(TABLE).unwrap().indexes.is_empty();
        assert!(
            has_index || !created,
            "seed {seed}: an index created before the crash is gone"
        );
        if has_index {
            assert_these_indexes_hold(&db, &table_items(&db), &[by_city()], &format!("seed {seed}"));
        }
    }
}

/// A batch's consumed capacity counts the index entries each request changed, as PutItem
/// and DeleteItem count them: a new entry, a moved one twice, an unchanged one not at all.
#[test]
fn batch_writes_consume_index_write_units_as_single_writes_do() {
    use dynastore_engine::{ConsumedCapacity, ReturnConsumedCapacity, WriteRequest};
    let (_faulty, _fs, db) = new_database(&Options::default());
    let placed = game("ann", 1).with("city", "Oslo").with("score", 10);
    let moved = game("ann", 1).with("city", "Bergen").with("score", 10);
    let shares = |consumed: &ConsumedCapacity| {
        let mut shares: Vec<(String, f64)> = consumed
            .local_indexes
            .iter()
            .chain(&consumed.global_indexes)
            .cloned()
            .collect();
        shares.sort_by(|a, b| a.0.cmp(&b.0));
        (consumed.capacity_units, shares)
    };
    let batch = |request: WriteRequest| {
        let out = db.batch_write(vec![(TABLE.to_owned(), request)]).unwrap();
        shares(&out.consumed_capacity[0])
    };
    let single_put = |item: &Item| {
        let mut put = PutItemInput::new(TABLE, item.clone());
        put.return_consumed_capacity = ReturnConsumedCapacity::Indexes;
        shares(&db.put_item(put).unwrap().consumed_capacity.unwrap())
    };
    let units = |pairs: &[(&str, f64)]| -> Vec<(String, f64)> {
        pairs.iter().map(|(name, units)| (name.to_string(), *units)).collect()
    };
    // New: one unit in each index the item is in.
    let added = batch(WriteRequest::Put(placed.clone()));
    assert_eq!(
        added,
        (4.0, units(&[("by_city", 1.0), ("by_score", 1.0), ("local_score", 1.0)]))
    );
    // Moved to another city: by_city's entry moves (two units), by_score's (ALL) changes
    // in place, the local index's is unchanged. PutItem counts the same.
    let moving = batch(WriteRequest::Put(moved.clone()));
    assert_eq!(moving, (4.0, units(&[("by_city", 2.0), ("by_score", 1.0)])));
    assert_eq!(single_put(&placed), moving);
    // A delete removes every entry.
    let deleted = batch(WriteRequest::Delete(game("ann", 1)));
    assert_eq!(
        deleted,
        (4.0, units(&[("by_city", 1.0), ("by_score", 1.0), ("local_score", 1.0)]))
    );
    db.close().unwrap();
}

/// A parallel scan of an index (DynamoDB's `Segment` and `TotalSegments`): the segments
/// together return every entry once, of a global index as of a local one.
#[test]
fn a_parallel_scan_of_an_index_sees_every_entry_once() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    for i in 0..60i64 {
        let mut item = game(&format!("p{}", i % 7), i).with("score", i % 11);
        if i % 4 != 0 {
            item = item.with("city", format!("c{}", i % 5));
        }
        db.put_item(PutItemInput::new(TABLE, item)).unwrap();
    }
    db.wait_for_indexes(CAUGHT_UP).unwrap();
    for (index, expected) in [("by_city", 45), ("by_score", 60), ("local_score", 60)] {
        let mut seen: Vec<(String, i64)> = Vec::new();
        for segment in 0..3 {
            let mut scan = ScanInput::new(TABLE);
            scan.index_name = Some(index.into());
            scan.segment = Some((segment, 3));
            for item in scan_pages(&db, scan, 4) {
                let key = match (item.get("pk"), item.get("sk")) {
                    (Some(AttributeValue::S(pk)), Some(AttributeValue::N(sk))) => {
                        (pk.clone(), sk.to_string().parse().unwrap())
                    }
                    other => panic!("{index}: an entry without the table's key: {other:?}"),
                };
                seen.push(key);
            }
        }
        seen.sort();
        let count = seen.len();
        seen.dedup();
        assert_eq!((count, seen.len()), (expected, expected), "{index}");
    }
    db.close().unwrap();
}
