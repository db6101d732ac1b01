//! Parsing DynamoDB's expression strings: a typical three-clause UpdateExpression and a
//! ConditionExpression (the target: under 5 µs for the update); and a `Buffered` put with
//! a ConditionExpression string against the same put with the typed condition (the
//! target: no more than 10% slower).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::create_bench_table;
use criterion::{Criterion, criterion_group, criterion_main};
use dynastore::expr::parse::{ExpressionKind, Placeholders, parse_condition, parse_update};
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{AttributeValue, Condition, Database, Item, Options, Path, PutItemInput};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

fn parse(c: &mut Criterion) {
    let names: HashMap<String, String> = [("#c".to_owned(), "count".to_owned())].into();
    let values: HashMap<String, AttributeValue> = [
        (":one".to_owned(), AttributeValue::from(1)),
        (":now".to_owned(), AttributeValue::from("2026-12-06")),
        (":tag".to_owned(), AttributeValue::Ss(vec!["new".to_owned()])),
    ]
    .into();
    let update = "SET #c = if_not_exists(#c, :one) + :one, updated = :now REMOVE draft ADD tags :tag";
    let condition = "attribute_exists(pk) AND (#c < :one OR updated <> :now) AND NOT contains(tags, :now)";
    let mut group = c.benchmark_group("expressions");
    group.bench_function("parse_update_3_clauses", |b| {
        b.iter(|| {
            let mut placeholders = Placeholders::new(&names, &values);
            black_box(parse_update(black_box(update), &mut placeholders).map(|actions| actions.len()))
        })
    });
    group.bench_function("parse_condition", |b| {
        b.iter(|| {
            let mut placeholders = Placeholders::new(&names, &values);
            black_box(parse_condition(ExpressionKind::Condition, black_box(condition), &mut placeholders).is_ok())
        })
    });
    group.finish();
}

/// A ~100-byte item with a fresh key.
fn item(i: u64) -> Item {
    Item::new()
        .with("pk", format!("user{:08}", i % 4096))
        .with("sk", i as i64)
        .with("payload", "x".repeat(64))
}

fn conditional_puts(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Buffered {
            interval: Duration::from_millis(100),
        },
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), tmp.path(), options).unwrap();
    create_bench_table(&db);
    let mut group = c.benchmark_group("expressions");
    let mut next = 0u64;
    group.bench_function("put_typed_condition", |b| {
        b.iter(|| {
            next += 1;
            let mut put = PutItemInput::new("Bench", item(next));
            put.condition = Some(Condition::AttributeNotExists(Path::attribute("pk")));
            db.put_item(put).unwrap()
        })
    });
    group.bench_function("put_condition_expression", |b| {
        b.iter(|| {
            next += 1;
            let mut put = PutItemInput::new("Bench", item(next));
            put.condition_expression = Some("attribute_not_exists(pk)".into());
            db.put_item(put).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, parse, conditional_puts);
criterion_main!(benches);
