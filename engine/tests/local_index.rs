//! Local secondary indexes: queries and scans of an index against a model of the
//! table, projections, paging, sparse items, DynamoDB's refusals, and the index staying
//! exactly its table's across reopens, flushes, compactions, replication and power loss.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use common::index_model::{Step, pk_name, run_steps, step};
use common::{query_pages, scan_pages};

use dynastore_engine::item::{KeyAttribute, ScalarType};
use dynastore_engine::{
    Database, DeleteItemInput, Error, IndexSchema, Item, KeySchema, Options, Path, Projection, PutItemInput,
    QueryInput, ScanInput, Select, SortKeyCondition, TableSchema, UpdateAction, UpdateItemInput,
};
use dynastore_wal::fs::{FaultyFs, SharedFs};
use proptest::prelude::*;
use std::collections::BTreeMap;

const DIR: &str = "/data";
const TABLE: &str = "Games";

fn table_keys() -> KeySchema {
    KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    }
}

/// `Games` keyed by player (`pk`) and game (`sk`), with a KEYS_ONLY index by `score`
/// (N), an INCLUDE index by `city` (S) holding `level`, and an ALL index by `when` (S).
fn schema() -> TableSchema {
    let keys = table_keys();
    TableSchema {
        name: TABLE.into(),
        indexes: vec![
            IndexSchema::local(
                "by_score",
                &keys,
                KeyAttribute::new("score", ScalarType::N),
                Projection::KeysOnly,
            ),
            IndexSchema::local(
                "by_city",
                &keys,
                KeyAttribute::new("city", ScalarType::S),
                Projection::Include(vec!["level".into()]),
            ),
            IndexSchema::local(
                "by_when",
                &keys,
                KeyAttribute::new("when", ScalarType::S),
                Projection::All,
            ),
        ],
        key_schema: keys,
    }
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

fn index_query(pk: &str, index: &str) -> QueryInput {
    let mut input = QueryInput::new(TABLE, pk);
    input.index_name = Some(index.into());
    input
}

fn set_action(name: &str, value: dynastore_engine::AttributeValue) -> UpdateAction {
    UpdateAction::Set(Path::attribute(name), dynastore_engine::SetValue::from(value))
}

fn game(pk: &str, sk: i64) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

/// What index `index` should hold of `items` for one partition key, in its order: the
/// items that have its sort key, sorted by it and then by the table's sort key, projected.
fn expected_entries(items: &[Item], index: &IndexSchema) -> Vec<Item> {
    let sort_key = &index.key_schema.sort_key.as_ref().unwrap().name;
    let mut indexed: Vec<&Item> = items.iter().filter(|item| item.get(sort_key).is_some()).collect();
    let order = |item: &Item| {
        let mut key = Vec::new();
        dynastore_engine::item::key::encode_key_value(item.get(sort_key).unwrap(), &mut key);
        dynastore_engine::item::key::encode_key_value(item.get("sk").unwrap(), &mut key);
        key
    };
    indexed.sort_by_key(|item| order(item));
    indexed
        .into_iter()
        .map(|item| index.project(item, &table_keys()))
        .collect()
}

/// Checks every index of the table against the table's own items: each partition key's
/// query of each index (in pages of 2) and a scan of each index return exactly what the
/// items give, and a scan of the table returns no entry.
fn assert_indexes_match_table(db: &Database, context: &str) {
    // The engine's own check (what `verify` runs) agrees, entry by entry.
    let check = db.check_indexes(std::time::Duration::from_secs(20)).unwrap();
    assert!(check.problems.is_empty(), "{context}: {:?}", check.problems);
    let items = scan_pages(db, ScanInput::new(TABLE), 3);
    let mut by_pk: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in &items {
        let pk = match item.get("pk") {
            Some(dynastore_engine::AttributeValue::S(pk)) => pk.clone(),
            other => panic!("{context}: an item without its key: {other:?}"),
        };
        assert!(
            item.get("sk").is_some(),
            "{context}: an entry read as an item: {item:?}"
        );
        by_pk.entry(pk).or_default().push(item.clone());
    }
    for index in &schema().indexes {
        let mut all_entries = 0;
        for (pk, items) in &by_pk {
            let expected = expected_entries(items, index);
            let found = query_pages(db, index_query(pk, &index.name), 2);
            assert_eq!(found, expected, "{context}: index {} of {pk}", index.name);
            all_entries += expected.len();
        }
        let mut scan = ScanInput::new(TABLE);
        scan.index_name = Some(index.name.clone());
        assert_eq!(
            scan_pages(db, scan, 2).len(),
            all_entries,
            "{context}: scan of index {}",
            index.name
        );
    }
}

#[test]
fn an_index_query_returns_its_items_in_index_order_with_its_projection() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    let items = [
        game("ann", 1)
            .with("score", 30)
            .with("city", "Oslo")
            .with("level", 3)
            .with("note", "a"),
        game("ann", 2)
            .with("score", 10)
            .with("city", "Bergen")
            .with("note", "b"),
        game("ann", 3).with("score", 20).with("when", "2024"),
        game("ann", 4).with("note", "outside every index"),
        game("bob", 1).with("score", 5),
    ];
    for item in &items {
        db.put_item(PutItemInput::new(TABLE, item.clone())).unwrap();
    }
    let by_score = query_pages(&db, index_query("ann", "by_score"), 10);
    assert_eq!(
        by_score,
        vec![
            game("ann", 2).with("score", 10),
            game("ann", 3).with("score", 20),
            game("ann", 1).with("score", 30),
        ]
    );
    // Reversed, narrowed by the index's sort key, paged one by one.
    let mut input = index_query("ann", "by_score");
    input.scan_index_forward = false;
    input.sort_key_condition = Some(SortKeyCondition::Ge(15.into()));
    let scores: Vec<_> = query_pages(&db, input, 1)
        .iter()
        .map(|item| item.get("sk").cloned())
        .collect();
    assert_eq!(scores, vec![Some(1.into()), Some(3.into())]);
    // INCLUDE holds `level`; ALL_ATTRIBUTES fetches the whole item from the table.
    assert_eq!(
        query_pages(&db, index_query("ann", "by_city"), 10),
        vec![
            game("ann", 2).with("city", "Bergen"),
            game("ann", 1).with("city", "Oslo").with("level", 3),
        ]
    );
    let mut all = index_query("ann", "by_city");
    all.select = Some(Select::AllAttributes);
    assert_eq!(query_pages(&db, all, 1), vec![items[1].clone(), items[0].clone()]);
    // A projection of an attribute the index does not hold fetches it too.
    let mut projected = index_query("ann", "by_score");
    projected.projection = Some(vec![Path::attribute("note")]);
    let notes = query_pages(&db, projected, 10);
    assert_eq!(
        notes,
        vec![
            Item::new().with("note", "b"),
            Item::new(),
            Item::new().with("note", "a")
        ]
    );
    // The table's own reads see no entry.
    assert_eq!(query_pages(&db, QueryInput::new(TABLE, "ann"), 2), items[..4].to_vec());
    assert_eq!(scan_pages(&db, ScanInput::new(TABLE), 2).len(), items.len());
    assert_indexes_match_table(&db, "after puts");
}

#[test]
fn updates_and_deletes_move_and_remove_entries() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    db.put_item(PutItemInput::new(
        TABLE,
        game("ann", 1).with("score", 1).with("city", "Oslo"),
    ))
    .unwrap();
    let set = |name: &str, value: dynastore_engine::AttributeValue| set_action(name, value);
    db.update_item(UpdateItemInput::new(
        TABLE,
        game("ann", 1),
        vec![set("score", 9.into())],
    ))
    .unwrap();
    db.update_item(UpdateItemInput::new(
        TABLE,
        game("ann", 1),
        vec![UpdateAction::Remove(Path::attribute("city"))],
    ))
    .unwrap();
    assert_eq!(
        query_pages(&db, index_query("ann", "by_score"), 5),
        vec![game("ann", 1).with("score", 9)]
    );
    assert!(query_pages(&db, index_query("ann", "by_city"), 5).is_empty());
    assert_indexes_match_table(&db, "after updates");
    db.delete_item(DeleteItemInput::new(TABLE, game("ann", 1))).unwrap();
    assert!(query_pages(&db, index_query("ann", "by_score"), 5).is_empty());
    assert_indexes_match_table(&db, "after the delete");
}

fn message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Validation(error)) => error.to_string(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn writes_with_index_keys_of_the_wrong_type_are_refused_and_change_nothing() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    let refused = db.put_item(PutItemInput::new(TABLE, game("ann", 1).with("score", "high")));
    assert_eq!(
        message(refused),
        "One or more parameter values were invalid: Type mismatch for Index Key score Expected: N Actual: S IndexName: by_score"
    );
    let empty = db.put_item(PutItemInput::new(TABLE, game("ann", 1).with("city", "")));
    assert_eq!(
        message(empty),
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by_city, IndexKey: city"
    );
    db.put_item(PutItemInput::new(TABLE, game("ann", 1).with("score", 1)))
        .unwrap();
    let update = UpdateItemInput::new(TABLE, game("ann", 1), vec![set_action("score", "x".into())]);
    assert!(message(db.update_item(update)).contains("Type mismatch for Index Key score"));
    assert_eq!(
        query_pages(&db, index_query("ann", "by_score"), 5),
        vec![game("ann", 1).with("score", 1)]
    );
}

#[test]
fn reads_of_an_index_are_checked_as_dynamodb_checks_them() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    db.put_item(PutItemInput::new(TABLE, game("ann", 1).with("score", 1)))
        .unwrap();
    assert_eq!(
        message(db.query(index_query("ann", "nope"))),
        "The table does not have the specified index: nope"
    );
    let mut scan = ScanInput::new(TABLE);
    scan.index_name = Some("nope".into());
    assert_eq!(
        message(db.scan(scan)),
        "The table does not have the specified index: nope"
    );
    // The index's own sort key is the one a key condition may name.
    let mut wrong_type = index_query("ann", "by_score");
    wrong_type.sort_key_condition = Some(SortKeyCondition::Eq("x".into()));
    assert_eq!(
        message(db.query(wrong_type)),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    // A start key of an index holds the table's key and the index's.
    let mut start = index_query("ann", "by_score");
    start.exclusive_start_key = Some(game("ann", 1));
    assert_eq!(
        message(db.query(start)),
        "The provided starting key is invalid: The provided key element does not match the schema"
    );
    let mut projected = index_query("ann", "by_score");
    projected.select = Some(Select::AllProjectedAttributes);
    assert_eq!(
        db.query(projected).unwrap().items,
        vec![game("ann", 1).with("score", 1)]
    );
}

#[test]
fn a_table_with_invalid_indexes_is_refused_with_dynamodbs_messages() {
    let db = Database::open(FaultyFs::new().shared(), DIR, Options::default()).unwrap();
    let keys = table_keys();
    let local = |name: &str, sort: &str| {
        IndexSchema::local(name, &keys, KeyAttribute::new(sort, ScalarType::S), Projection::All)
    };
    let with = |indexes: Vec<IndexSchema>, key_schema: KeySchema| TableSchema {
        name: "Bad".into(),
        key_schema,
        indexes,
    };
    let hash_only = KeySchema {
        partition_key: keys.partition_key.clone(),
        sort_key: None,
    };
    let mut other_hash = local("other_hash", "a");
    other_hash.key_schema.partition_key = KeyAttribute::new("player", ScalarType::S);
    let mut no_range = local("no_range", "a");
    no_range.key_schema.sort_key = None;
    let cases = [
        (
            with(vec![local("idx", "a")], hash_only),
            "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ),
        (
            with(vec![other_hash], keys.clone()),
            "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: other_hash. index hash key: player, table hash key: pk",
        ),
        (
            with(vec![no_range], keys.clone()),
            "One or more parameter values were invalid: Index KeySchema does not have a range key for index: no_range",
        ),
        (
            with(vec![local("twice", "a"), local("twice", "b")], keys.clone()),
            "One or more parameter values were invalid: Duplicate index name: twice",
        ),
        (
            with((0..6).map(|i| local(&format!("idx{i}"), "a")).collect(), keys.clone()),
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5",
        ),
    ];
    for (schema, expected) in cases {
        assert_eq!(message(db.create_table(schema)), expected);
    }
    assert!(db.list_tables(Default::default()).unwrap().table_names.is_empty());
}

fn run_model(steps: &[Step], options: &Options) {
    let (_faulty, fs, db) = new_database(options);
    let (db, model) = run_steps(db, steps, || open(&fs, options));
    for pk in 0..3u8 {
        let items: Vec<Item> = model
            .range((pk, 0)..(pk + 1, 0))
            .map(|(_, item)| item.clone())
            .collect();
        for index in &schema().indexes {
            let mut input = index_query(&pk_name(pk), &index.name);
            input.consistent_read = true;
            assert_eq!(
                query_pages(&db, input, 2),
                expected_entries(&items, index),
                "index {} of p{pk}",
                index.name
            );
        }
        check_sort_key_conditions(&db, &pk_name(pk), &items);
        let mut table = QueryInput::new(TABLE, pk_name(pk));
        table.consistent_read = true;
        assert_eq!(query_pages(&db, table, 3), items, "table items of p{pk}");
    }
    db.close().unwrap();
}

/// Each kind of sort-key condition on the indexes' sort keys, against the model: entries
/// whose index sort key ties are all in or all out.
fn check_sort_key_conditions(db: &Database, pk: &str, items: &[Item]) {
    use dynastore_engine::AttributeValue;
    let n = |v: i64| AttributeValue::from(v);
    let s = |v: &str| AttributeValue::from(v);
    type Keeps = Box<dyn Fn(&AttributeValue) -> bool>;
    let cases: Vec<(&str, SortKeyCondition, Keeps)> = vec![
        ("by_score", SortKeyCondition::Eq(n(2)), Box::new(move |v| *v == n(2))),
        (
            "by_score",
            SortKeyCondition::Lt(n(2)),
            Box::new(move |v| *v == n(0) || *v == n(1)),
        ),
        (
            "by_score",
            SortKeyCondition::Le(n(2)),
            Box::new(move |v| *v != n(3) && *v != n(4)),
        ),
        (
            "by_score",
            SortKeyCondition::Gt(n(2)),
            Box::new(move |v| *v == n(3) || *v == n(4)),
        ),
        (
            "by_score",
            SortKeyCondition::Ge(n(2)),
            Box::new(move |v| *v != n(0) && *v != n(1)),
        ),
        (
            "by_score",
            SortKeyCondition::Between(n(1), n(3)),
            Box::new(move |v| *v != n(0) && *v != n(4)),
        ),
        (
            "by_city",
            SortKeyCondition::BeginsWith(s("c1")),
            Box::new(move |v| *v == s("c1")),
        ),
        (
            "by_city",
            SortKeyCondition::Between(s("c0"), s("c1")),
            Box::new(move |v| *v != s("c2")),
        ),
    ];
    let indexes = schema().indexes;
    for (name, condition, keeps) in cases {
        let index = indexes.iter().find(|index| index.name == name).unwrap();
        let sort_key = &index.key_schema.sort_key.as_ref().unwrap().name;
        let expected: Vec<Item> = expected_entries(items, index)
            .into_iter()
            .filter(|entry| keeps(entry.get(sort_key).unwrap()))
            .collect();
        for forward in [true, false] {
            let mut input = index_query(pk, name);
            input.sort_key_condition = Some(condition.clone());
            input.scan_index_forward = forward;
            input.consistent_read = true;
            let mut found = query_pages(db, input, 2);
            if !forward {
                found.reverse();
            }
            assert_eq!(found, expected, "{name} {condition:?} forward {forward} of {pk}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random puts, updates and deletes (adding, changing and removing index keys) with
    /// flushes, compactions and reopens among them: every index query equals the model's.
    #[test]
    fn index_queries_match_a_model_of_the_table(
        steps in proptest::collection::vec(step(6), 1..80),
        buffered in any::<bool>(),
        replicated in any::<bool>(),
    ) {
        run_model(&steps, &common::model_options(buffered, replicated));
    }
}

/// Power loss at a point chosen by the seed, during writes that move items in and out of
/// the indexes, with flushes among them: after recovery every index is exactly its
/// table's, and every acknowledged write is there.
#[test]
fn after_power_loss_every_index_is_exactly_its_table() {
    let options = Options {
        memtable_bytes: 1024,
        ..Options::default()
    };
    for seed in 0..60u64 {
        let (faulty, fs, db) = new_database(&options);
        faulty.crash_after(1 + (seed * 7919) % 250);
        let mut acked: BTreeMap<(String, i64), Option<Item>> = BTreeMap::new();
        for i in 0..150i64 {
            let pk = format!("p{}", (i * 7 + seed as i64) % 4);
            let sk = i % 5;
            let result = if i % 6 == 5 {
                db.delete_item(DeleteItemInput::new(TABLE, game(&pk, sk))).map(|_| None)
            } else {
                let mut item = game(&pk, sk).with("n", i);
                if i % 3 != 0 {
                    item = item.with("score", (i * 13) % 7).with("city", format!("c{}", i % 4));
                }
                db.put_item(PutItemInput::new(TABLE, item.clone())).map(|_| Some(item))
            };
            match result {
                Ok(value) => {
                    acked.insert((pk, sk), value);
                }
                Err(_) => break,
            }
            if (i + seed as i64) % 23 == 0 && db.flush().is_err() {
                break;
            }
        }
        drop(db);
        faulty.restart();
        let db = open(&fs, &options);
        assert_indexes_match_table(&db, &format!("seed {seed}"));
        // Every write was acknowledged under Sync, so every one is there.
        for ((pk, sk), value) in &acked {
            let found = db
                .get_item(dynastore_engine::GetItemInput::new(TABLE, game(pk, *sk)))
                .unwrap()
                .item;
            assert_eq!(&found, value, "seed {seed}: {pk}/{sk}");
        }
    }
}

/// An item collection (a partition key's items and local index entries) may not grow past
/// its limit: each item counts its size, each entry its size and 100 bytes. The refused
/// write changes nothing; writes that do not grow the collection, and other collections,
/// go on. A write asking for it reports the collection's size in GB.
#[test]
fn an_item_collection_is_limited_and_reports_its_size() {
    // An item with every index key: in all three indexes.
    let item = |pk: &str, sk: i64| {
        game(pk, sk)
            .with("score", sk)
            .with("city", "Oslo")
            .with("level", 3)
            .with("when", "2026")
            .with("text", "x".repeat(500))
    };
    // What one such item counts for: itself, and each index's entry (what it projects)
    // with the overhead.
    let counts = |sk: i64| {
        let keys_only = game("a", sk).with("score", sk);
        let include = game("a", sk).with("city", "Oslo").with("level", 3);
        (item("a", sk).size_bytes()
            + (keys_only.size_bytes() + 100)
            + (include.size_bytes() + 100)
            + (item("a", sk).size_bytes() + 100)) as u64
    };
    let ten: u64 = (0..10).map(counts).sum();
    let limit = ten + counts(10) / 2;
    let options = Options {
        item_collection_bytes_max: limit,
        ..Options::default()
    };
    let (_faulty, _fs, db) = new_database(&options);
    for sk in 0..10 {
        db.put_item(PutItemInput::new(TABLE, item("a", sk))).unwrap();
    }
    // The 11th would take it to 11 items' worth, past 10.5.
    let refused = db.put_item(PutItemInput::new(TABLE, item("a", 10))).unwrap_err();
    assert!(
        matches!(refused, Error::ItemCollectionSizeLimitExceeded { size, .. } if size == ten + counts(10)),
        "{refused:?}"
    );
    assert_eq!(refused.exception_name(), "ItemCollectionSizeLimitExceededException");
    let got = db
        .get_item(dynastore_engine::GetItemInput::new(TABLE, game("a", 10)))
        .unwrap();
    assert_eq!(got.item, None, "the refused put wrote nothing");
    // Growing an item by an update is refused too; rewriting one as it is is not.
    let grow = UpdateAction::Set(
        Path::attribute("more"),
        dynastore_engine::SetValue::from(dynastore_engine::AttributeValue::from("y".repeat(600))),
    );
    let refused = db
        .update_item(UpdateItemInput::new(TABLE, game("a", 3), vec![grow]))
        .unwrap_err();
    assert_eq!(refused.exception_name(), "ItemCollectionSizeLimitExceededException");
    db.put_item(PutItemInput::new(TABLE, item("a", 3))).unwrap();
    // A batch's put into the full collection is refused before anything is written.
    let batch = vec![
        (TABLE.to_owned(), dynastore_engine::WriteRequest::Put(item("b", 1))),
        (TABLE.to_owned(), dynastore_engine::WriteRequest::Put(item("a", 11))),
    ];
    assert_eq!(
        db.batch_write(batch).unwrap_err().exception_name(),
        "ItemCollectionSizeLimitExceededException"
    );
    let got = db
        .get_item(dynastore_engine::GetItemInput::new(TABLE, game("b", 1)))
        .unwrap();
    assert_eq!(got.item, None, "nothing of the refused batch was written");
    // Another collection is its own; a delete shrinks this one, and a put fits again.
    db.put_item(PutItemInput::new(TABLE, item("b", 0))).unwrap();
    db.delete_item(DeleteItemInput::new(TABLE, game("a", 0))).unwrap();
    let mut put = PutItemInput::new(TABLE, item("a", 10));
    put.return_item_collection_metrics = true;
    let metrics = db.put_item(put).unwrap().item_collection_metrics.unwrap();
    assert_eq!(metrics.key, Item::new().with("pk", "a"));
    assert_eq!(metrics.size_estimate_range_gb, [0.0, 1.0]);
    // Not asked for: none. A batch reports each collection it touched once.
    let quiet = db.put_item(PutItemInput::new(TABLE, item("c", 0))).unwrap();
    assert_eq!(quiet.item_collection_metrics, None);
    let batch = vec![
        (TABLE.to_owned(), dynastore_engine::WriteRequest::Put(item("c", 1))),
        (TABLE.to_owned(), dynastore_engine::WriteRequest::Put(item("c", 2))),
        (TABLE.to_owned(), dynastore_engine::WriteRequest::Delete(game("b", 0))),
    ];
    let reported = db.batch_write_reporting(batch, true).unwrap().item_collection_metrics;
    let mut keys: Vec<Item> = reported.into_iter().map(|(_, metrics)| metrics.key).collect();
    keys.sort_by_key(|key| format!("{key:?}"));
    assert_eq!(keys, [Item::new().with("pk", "b"), Item::new().with("pk", "c")]);
    db.close().unwrap();
}

/// A table without local indexes has no item collections to report.
#[test]
fn a_table_without_local_indexes_reports_no_collection() {
    let faulty = FaultyFs::new();
    let db = open(&faulty.shared(), &Options::default());
    db.create_table(TableSchema {
        name: "Plain".into(),
        indexes: Vec::new(),
        key_schema: table_keys(),
    })
    .unwrap();
    let mut put = PutItemInput::new("Plain", game("a", 1));
    put.return_item_collection_metrics = true;
    assert_eq!(db.put_item(put).unwrap().item_collection_metrics, None);
    db.close().unwrap();
}

/// DescribeTable's numbers: the table's item count and size are its items' alone, and each
/// local index reports its own entries, exact while a partition is small.
#[test]
fn a_local_index_reports_its_own_entries_and_the_table_its_items() {
    let (_faulty, _fs, db) = new_database(&Options::default());
    for sk in 0..12 {
        let mut item = game("a", sk).with("payload", "x".repeat(100));
        if sk % 3 != 0 {
            item = item.with("score", sk);
        }
        if sk % 4 == 0 {
            item = item.with("city", "Oslo");
        }
        db.put_item(PutItemInput::new(TABLE, item)).unwrap();
    }
    let described = db.describe_table(TABLE).unwrap();
    assert_eq!(described.item_count, 12);
    let counts: Vec<(&str, u64)> = described
        .index_sizes
        .iter()
        .map(|(name, count, _)| (name.as_str(), *count))
        .collect();
    assert_eq!(counts, [("by_score", 8), ("by_city", 3), ("by_when", 0)]);
    // KEYS_ONLY entries are smaller than the items they stand for.
    let score_bytes = described.index_sizes[0].2;
    assert!(
        score_bytes > 0 && score_bytes < described.table_size_bytes / 2,
        "{described:?}"
    );
    db.close().unwrap();
}
