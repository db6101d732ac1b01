//! What the engine's tests share: property-test strategies, schemas, and waiting for
//! replicas.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

pub mod index_model;
pub mod replication;

use dynastore_engine::item::{AttributeValue, Number};
use proptest::prelude::*;

pub fn number() -> impl Strategy<Value = Number> {
    (any::<bool>(), 0u128..10u128.pow(20), -40i64..40).prop_map(|(negative, mantissa, exponent)| {
        Number::from_parts(negative && mantissa != 0, mantissa, exponent).unwrap()
    })
}

pub fn value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        ".{0,8}".prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        proptest::collection::vec(".{0,4}", 1..4).prop_map(AttributeValue::Ss),
        proptest::collection::vec(number(), 1..4).prop_map(AttributeValue::Ns),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), 1..4).prop_map(AttributeValue::Bs),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            proptest::collection::btree_map(".{0,4}", inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

/// A table `name` keyed by `pk` (S) and `sk` (N), as the engine tests use.
pub fn orders_schema(name: &str) -> dynastore_engine::TableSchema {
    use dynastore_engine::item::{KeyAttribute, ScalarType};
    dynastore_engine::TableSchema {
        indexes: Vec::new(),
        name: name.to_owned(),
        key_schema: dynastore_engine::KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        },
    }
}

/// The key `{pk, sk}` of such a table.
pub fn order_key(pk: &str, sk: i64) -> dynastore_engine::Item {
    dynastore_engine::Item::new().with("pk", pk).with("sk", sk)
}

/// An in-memory database with table `name` keyed by `pk` (S) alone.
pub fn database_with_hash_keyed_table(name: &str) -> dynastore_engine::Database {
    use dynastore_engine::item::{KeyAttribute, ScalarType};
    let fs = dynastore_wal::fs::FaultyFs::new().shared();
    let db = dynastore_engine::Database::open(fs, "/data", dynastore_engine::Options::default()).unwrap();
    db.create_table(dynastore_engine::TableSchema {
        indexes: Vec::new(),
        name: name.to_owned(),
        key_schema: dynastore_engine::KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: None,
        },
    })
    .unwrap();
    db
}

/// Every created partition's report.
pub fn partitions(db: &dynastore_engine::Database) -> Vec<dynastore_engine::database::PartitionReport> {
    db.stats()
        .unwrap()
        .into_iter()
        .flat_map(|table| table.partitions)
        .filter(|p| p.stats.is_some())
        .collect()
}

/// Waits until every replica in service (not in a failed AZ) is live (the background
/// repair brings back one that failed) and holds everything durable on its primary.
pub fn wait_caught_up(db: &dynastore_engine::Database) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let behind = partitions(db)
            .iter()
            .flat_map(|p| &p.replicas)
            .filter(|r| r.state != dynastore_engine::ReplicaStatus::OutOfService)
            .any(|r| {
                r.state != dynastore_engine::ReplicaStatus::Live || r.lag_records > 0 || r.applied_lsn < r.durable_lsn
            });
        if !behind {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replicas did not catch up: {:?}",
            partitions(db)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Joins `thread`, failing the test if it has not finished within `limit`: a hang then
/// shows as a failure naming `what`, instead of holding the whole run up to CI's limit.
pub fn join_within<T: Send + 'static>(thread: std::thread::JoinHandle<T>, limit: std::time::Duration, what: &str) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(thread.join());
    });
    match receiver.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} was still running {limit:?} after it was asked to stop: hung"),
    }
}

/// Every page of `input`, with `limit` items per page.
pub fn query_pages(
    db: &dynastore_engine::Database,
    mut input: dynastore_engine::QueryInput,
    limit: u32,
) -> Vec<dynastore_engine::Item> {
    input.limit = Some(limit);
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

/// Every page of a scan, with `limit` items per page.
pub fn scan_pages(
    db: &dynastore_engine::Database,
    mut input: dynastore_engine::ScanInput,
    limit: u32,
) -> Vec<dynastore_engine::Item> {
    input.limit = Some(limit);
    let mut items = Vec::new();
    loop {
        let page = db.scan(input.clone()).unwrap();
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => input.exclusive_start_key = Some(key),
            None => return items,
        }
    }
}

/// Options for the index model tests: small memtables (so that flushes and compactions
/// happen among a few dozen writes), `Buffered` synced every 5 ms if `buffered`, and
/// three copies with `Quorum` acks if `replicated`.
pub fn model_options(buffered: bool, replicated: bool) -> dynastore_engine::Options {
    let mut options = dynastore_engine::Options {
        memtable_bytes: 2048,
        ..dynastore_engine::Options::default()
    };
    if buffered {
        options.durability = dynastore_wal::Durability::Buffered {
            interval: std::time::Duration::from_millis(5),
        };
    }
    if replicated {
        options.replication = Some(dynastore_engine::Replication {
            ack: dynastore_engine::AckMode::Quorum,
            ..dynastore_engine::Replication::default()
        });
    }
    options
}
