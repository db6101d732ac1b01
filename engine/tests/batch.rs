//! BatchWriteItem and BatchGetItem: limits, refusals that write nothing, and batches that
//! are all or nothing within a partition, even across power loss.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_engine::item::{KeyAttribute, ScalarType};
use dynastore_engine::{
    BatchGetInput, Database, Error, GetItemInput, Item, KeySchema, KeysAndAttributes, Options, TableSchema,
    WriteRequest,
};
use dynastore_wal::fs::{FaultyFs, SharedFs};

fn open(fs: &SharedFs, partitions: u32) -> Database {
    let options = Options {
        initial_partitions: partitions,
        ..Options::default()
    };
    Database::open(fs.clone(), "/data", options).unwrap()
}

fn database(fs: &SharedFs, partitions: u32) -> Database {
    let db = open(fs, partitions);
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: None,
    };
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Items".into(),
        key_schema,
    })
    .unwrap();
    db
}

fn item(i: u64, batch: u64) -> Item {
    Item::new().with("pk", format!("k{i}")).with("batch", batch as i64)
}

fn key(i: u64) -> Item {
    Item::new().with("pk", format!("k{i}"))
}

fn puts(range: std::ops::Range<u64>, batch: u64) -> Vec<(String, WriteRequest)> {
    range
        .map(|i| ("Items".to_owned(), WriteRequest::Put(item(i, batch))))
        .collect()
}

fn get(db: &Database, i: u64) -> Option<Item> {
    db.get_item(GetItemInput::new("Items", key(i))).unwrap().item
}

#[test]
fn a_batch_of_25_writes_lands_and_26_is_refused() {
    let fs = FaultyFs::new().shared();
    let db = database(&fs, 4);
    db.batch_write(puts(0..25, 1)).unwrap();
    assert!((0..25).all(|i| get(&db, i) == Some(item(i, 1))));
    assert!(matches!(db.batch_write(puts(100..126, 1)), Err(Error::Validation(_))));
    assert!(matches!(db.batch_write(vec![]), Err(Error::Validation(_))));
    assert!((100..126).all(|i| get(&db, i).is_none()));
    let mut mixed = vec![("Items".to_owned(), WriteRequest::Delete(key(3)))];
    mixed.extend(puts(30..32, 2));
    db.batch_write(mixed).unwrap();
    assert_eq!(get(&db, 3), None);
    assert_eq!(get(&db, 31), Some(item(31, 2)));
}

#[test]
fn one_bad_request_refuses_the_whole_batch() {
    let fs = FaultyFs::new().shared();
    let db = database(&fs, 4);
    let mut duplicate = puts(0..5, 1);
    duplicate.push(("Items".to_owned(), WriteRequest::Delete(key(2))));
    let error = db.batch_write(duplicate).unwrap_err();
    assert_eq!(error.to_string(), "Provided list of item keys contains duplicates");
    let mut invalid = puts(0..5, 1);
    invalid.push(("Items".to_owned(), WriteRequest::Put(Item::new().with("other", 1))));
    assert!(matches!(db.batch_write(invalid), Err(Error::Validation(_))));
    let mut unknown = puts(0..5, 1);
    unknown.push(("Nope".to_owned(), WriteRequest::Put(item(9, 1))));
    assert!(matches!(db.batch_write(unknown), Err(Error::ResourceNotFound { .. })));
    assert!((0..10).all(|i| get(&db, i).is_none()), "nothing was written");
}

#[test]
fn batch_get_returns_found_items_and_refuses_bad_requests() {
    let fs = FaultyFs::new().shared();
    let db = database(&fs, 4);
    db.batch_write(puts(0..10, 1)).unwrap();
    let keys = KeysAndAttributes::new((5..15).map(key).collect());
    let output = db.batch_get(BatchGetInput::new("Items", keys)).unwrap();
    assert_eq!(
        output.responses["Items"],
        (5..10).map(|i| item(i, 1)).collect::<Vec<_>>()
    );
    assert!(output.unprocessed_keys.is_empty());
    let too_many = KeysAndAttributes::new((0..101).map(key).collect());
    assert_eq!(
        db.batch_get(BatchGetInput::new("Items", too_many))
            .unwrap_err()
            .to_string(),
        "Too many items requested for the BatchGetItem call"
    );
    let twice = KeysAndAttributes::new(vec![key(1), key(1)]);
    assert_eq!(
        db.batch_get(BatchGetInput::new("Items", twice))
            .unwrap_err()
            .to_string(),
        "Provided list of item keys contains duplicates"
    );
}

/// Each table of a batch read has its own projection and consistency; keys over two
/// tables count together against the 100; a table with no keys is refused.
#[test]
fn batch_get_reads_each_table_with_its_projection_and_consistency() {
    use dynastore_engine::Path;
    let fs = FaultyFs::new().shared();
    let db = database(&fs, 4);
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Other".into(),
        key_schema: KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: None,
        },
    })
    .unwrap();
    db.batch_write(puts(0..10, 1)).unwrap();
    db.batch_write(vec![("Other".to_owned(), WriteRequest::Put(item(3, 7)))])
        .unwrap();
    let mut projected = KeysAndAttributes::new(vec![key(1), key(2)]);
    projected.projection = Some(vec![Path::attribute("batch")]);
    let mut consistent = KeysAndAttributes::new(vec![key(3), key(4)]);
    consistent.consistent_read = true;
    let output = db
        .batch_get(BatchGetInput::new("Items", projected).with("Other", consistent))
        .unwrap();
    assert_eq!(
        output.responses["Items"],
        vec![Item::new().with("batch", 1), Item::new().with("batch", 1)]
    );
    assert_eq!(output.responses["Other"], vec![item(3, 7)]);

    let split = BatchGetInput::new("Items", KeysAndAttributes::new((0..60).map(key).collect()))
        .with("Other", KeysAndAttributes::new((0..41).map(key).collect()));
    assert_eq!(
        db.batch_get(split).unwrap_err().to_string(),
        "Too many items requested for the BatchGetItem call"
    );
    let empty =
        BatchGetInput::new("Items", KeysAndAttributes::new(vec![key(1)])).with("Other", KeysAndAttributes::new(vec![]));
    assert!(matches!(db.batch_get(empty), Err(Error::Validation(_))));
    assert!(matches!(
        db.batch_get(BatchGetInput::default()),
        Err(Error::Validation(_))
    ));
}

/// With one partition a batch is one WAL record: after power loss at any point, every
/// acknowledged batch is whole and the batch in flight is whole or absent.
#[test]
fn a_batch_is_all_or_nothing_within_a_partition_across_power_loss() {
    for seed in 0..60u64 {
        let faulty = FaultyFs::new();
        let fs = faulty.shared();
        let db = database(&fs, 1);
        faulty.crash_after(1 + (seed * 37) % 60);
        let mut acknowledged = 0;
        for batch in 1..=20u64 {
            // Every batch rewrites keys 0..25 with its own number.
            if db.batch_write(puts(0..25, batch)).is_err() {
                break;
            }
            acknowledged = batch;
        }
        drop(db);
        faulty.restart_keeping(|unsynced| unsynced / 2);
        let db = open(&fs, 1);
        let batches: Vec<i64> = (0..25)
            .map(|i| match get(&db, i).and_then(|item| item.get("batch").cloned()) {
                Some(dynastore_engine::AttributeValue::N(n)) => n.to_string().parse().unwrap(),
                None => 0,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            batches.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: a batch was half applied: {batches:?}"
        );
        assert!(
            batches[0] >= acknowledged as i64,
            "seed {seed}: acknowledged batch {acknowledged} lost"
        );
        assert!(
            batches[0] <= acknowledged as i64 + 1,
            "seed {seed}: a batch never written appeared"
        );
    }
}

/// A partition whose write fails does not stop the others: its requests come back as
/// unprocessed (DynamoDB's UnprocessedItems), all of them, and only they are missing; sent
/// again once the disk works, they land. When no partition could be written, the batch
/// fails with the error.
#[test]
fn a_failed_partition_s_requests_come_back_unprocessed() {
    use dynastore_wal::fs::{FaultKind, OpKind};
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let db = database(&fs, 2);
    // Both partitions exist first, so that each group of the batch needs one log sync.
    let requests = puts(0..20, 0);
    let output = db.batch_write(requests.clone()).unwrap();
    assert!(output.unprocessed_items.is_empty());
    let created = db.stats().unwrap()[0]
        .partitions
        .iter()
        .filter(|p| p.stats.is_some())
        .count();
    assert_eq!(created, 2, "the keys reach both partitions");

    // The second group's log sync fails.
    faulty.fail_after(&[OpKind::Sync], 1, FaultKind::Io);
    let output = db.batch_write(puts(0..20, 1)).unwrap();
    faulty.clear_faults();
    let unprocessed = output.unprocessed_items;
    assert!(
        !unprocessed.is_empty() && unprocessed.len() < 20,
        "{} unprocessed",
        unprocessed.len()
    );
    let is_unprocessed = |i: u64| {
        unprocessed
            .iter()
            .any(|(_, request)| *request == WriteRequest::Put(item(i, 1)))
    };
    for i in 0..20 {
        let expected = if is_unprocessed(i) { item(i, 0) } else { item(i, 1) };
        assert_eq!(get(&db, i), Some(expected), "key {i}");
    }
    let in_request_order: Vec<_> = puts(0..20, 1)
        .into_iter()
        .filter(|(_, r)| unprocessed.iter().any(|(_, u)| u == r))
        .collect();
    assert_eq!(unprocessed, in_request_order);

    // The failed partition's log is poisoned until the database is opened again.
    drop(db);
    let db = open(&fs, 2);
    let output = db.batch_write(unprocessed).unwrap();
    assert!(output.unprocessed_items.is_empty());
    for i in 0..20 {
        assert_eq!(get(&db, i), Some(item(i, 1)), "key {i} after the retry");
    }

    // Nothing written at all: the error.
    faulty.fail_after(&[OpKind::Sync], 0, FaultKind::Io);
    let result = db.batch_write(puts(0..20, 2));
    faulty.clear_faults();
    assert!(matches!(result, Err(Error::Wal(_))), "{result:?}");
}
