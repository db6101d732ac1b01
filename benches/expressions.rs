//! Parsing DynamoDB's expression strings: a typical three-clause UpdateExpression and a
//! ConditionExpression (the target: under 5 µs for the update); and a `Buffered` put with
//! a ConditionExpression string against the same put with the typed condition (the
//! target: no more than 10% slower), also in alternating rounds after the criterion groups.
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
    group.bench_function("parse_attribute_not_exists", |b| {
        let (no_names, no_values) = (HashMap::new(), HashMap::new());
        b.iter(|| {
            let mut placeholders = Placeholders::new(&no_names, &no_values);
            let parsed = parse_condition(
                ExpressionKind::Condition,
                black_box("attribute_not_exists(pk)"),
                &mut placeholders,
            );
            black_box(parsed.is_ok() && placeholders.finish().is_ok())
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

/// A fresh database with the bench table, `Buffered`: each put benchmark gets its own, so
/// that neither pays for the other's items (the second would otherwise write into a
/// larger memtable and flush more).
fn fresh_database() -> (tempfile::TempDir, Database) {
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Buffered {
            interval: Duration::from_millis(100),
        },
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), tmp.path(), options).unwrap();
    create_bench_table(&db);
    (tmp, db)
}

fn conditional_puts(c: &mut Criterion) {
    let mut group = c.benchmark_group("expressions");
    group.bench_function("put_typed_condition", |b| {
        let (_tmp, db) = fresh_database();
        let mut next = 0u64;
        b.iter(|| {
            next += 1;
            let mut put = PutItemInput::new("Bench", item(next));
            put.condition = Some(Condition::AttributeNotExists(Path::attribute("pk")));
            db.put_item(put).unwrap()
        })
    });
    group.bench_function("put_condition_expression", |b| {
        let (_tmp, db) = fresh_database();
        let mut next = 0u64;
        b.iter(|| {
            next += 1;
            let mut put = PutItemInput::new("Bench", item(next));
            put.condition_expression = Some("attribute_not_exists(pk)".into());
            db.put_item(put).unwrap()
        })
    });
    group.finish();
}

/// Puts of both kinds in alternating rounds, each kind on a database of its own, so that
/// machine noise and the databases' growth fall on both alike: prints each round's ratio
/// and their median (criterion's separate runs of the two differed by more than the gap
/// on this machine).
fn paired_summary(_: &mut Criterion) {
    const ROUNDS: usize = 41;
    const PUTS: u64 = 5_000;
    let ((_typed_dir, typed_db), (_string_dir, string_db)) = (fresh_database(), fresh_database());
    let mut next = 0u64;
    let mut round = |db: &Database, string: bool| {
        let started = std::time::Instant::now();
        for _ in 0..PUTS {
            next += 1;
            let mut put = PutItemInput::new("Bench", item(next));
            if string {
                put.condition_expression = Some("attribute_not_exists(pk)".into());
            } else {
                put.condition = Some(Condition::AttributeNotExists(Path::attribute("pk")));
            }
            db.put_item(put).unwrap();
        }
        started.elapsed().as_secs_f64() * 1e9 / PUTS as f64
    };
    let mut ratios = Vec::new();
    println!("\nConditional puts, alternating rounds of {PUTS} (ns per put, typed vs string):");
    for _ in 0..ROUNDS {
        let (typed, string) = (round(&typed_db, false), round(&string_db, true));
        ratios.push(string / typed);
        println!("  {typed:.0} vs {string:.0}: {:+.1}%", (string / typed - 1.0) * 100.0);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  median: {:+.1}% (target: at most +10%)",
        (ratios[ROUNDS / 2] - 1.0) * 100.0
    );
}

criterion_group!(benches, parse, conditional_puts, paired_summary);
criterion_main!(benches);
