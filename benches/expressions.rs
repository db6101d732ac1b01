//! Parsing DynamoDB's expression strings: a typical three-clause UpdateExpression and a
//! ConditionExpression (the target: under 5 µs for the update).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use dynastore::AttributeValue;
use dynastore::expr::parse::{ExpressionKind, Placeholders, parse_condition, parse_update};
use std::collections::HashMap;
use std::hint::black_box;

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

criterion_group!(benches, parse);
criterion_main!(benches);
