//! Strategies shared by the engine's property tests.
#![allow(dead_code, clippy::unwrap_used)]

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
        name: name.to_owned(),
        key_schema: dynastore_engine::KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: None,
        },
    })
    .unwrap();
    db
}
