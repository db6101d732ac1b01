//! Conditions: DynamoDB's evaluation rules, and conditional writes that change nothing
//! when false.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore_engine::item::AttributeType;
use dynastore_engine::{
    AttributeValue, Comparator, Condition, Database, DeleteItemInput, Error, GetItemInput, Item, Number, Operand, Path,
    PutItemInput, ReturnValues,
};
use serde_json::json;
use std::sync::Arc;

fn path(text: &str) -> Path {
    Path::parse(text).unwrap()
}

fn p(text: &str) -> Operand {
    Operand::Path(path(text))
}

fn v(value: impl Into<AttributeValue>) -> Operand {
    Operand::Value(value.into())
}

fn cmp(a: Operand, comparator: Comparator, b: Operand) -> Condition {
    Condition::Compare(a, comparator, b)
}

fn sample() -> Item {
    Item::from_json(&json!({
        "pk": {"S": "k"},
        "n": {"N": "10"},
        "s": {"S": "hello"},
        "b": {"B": "AQID"},
        "tags": {"SS": ["red", "blue"]},
        "nums": {"NS": ["1", "2"]},
        "list": {"L": [{"S": "a"}, {"N": "5"}, {"M": {"deep": {"BOOL": true}}}]},
        "map": {"M": {"inner": {"N": "3"}, "l": {"L": [{"S": "x"}]}}},
        "nothing": {"NULL": true}
    }))
    .unwrap()
}

#[test]
fn paths_parse_and_resolve_nested_values() {
    let item = sample();
    assert_eq!(path("map.inner").resolve(&item), Some(&AttributeValue::from(3)));
    assert_eq!(path("list[2].deep").resolve(&item), Some(&AttributeValue::Bool(true)));
    assert_eq!(path("map.l[0]").resolve(&item), Some(&AttributeValue::from("x")));
    assert_eq!(path("list[9]").resolve(&item), None);
    assert_eq!(path("s.inner").resolve(&item), None);
    assert_eq!(path("map.l[0]").to_string(), "map.l[0]");
    for bad in ["", "a..b", "[1]", "a[x]", "a[1", "a.", "a]b"] {
        assert!(Path::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn comparisons_with_missing_operands_are_false_except_not_equal() {
    let item = sample();
    for comparator in [
        Comparator::Eq,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ] {
        assert!(
            !cmp(p("missing"), comparator, v(1)).evaluate(Some(&item)),
            "{comparator:?}"
        );
        assert!(
            !cmp(p("missing"), comparator, p("gone")).evaluate(Some(&item)),
            "{comparator:?}"
        );
    }
    assert!(cmp(p("missing"), Comparator::Ne, v(1)).evaluate(Some(&item)));
    assert!(cmp(p("missing"), Comparator::Ne, p("gone")).evaluate(Some(&item)));
    assert!(
        cmp(p("n"), Comparator::Ne, v(1)).evaluate(None),
        "no item: every path is missing"
    );
}

#[test]
fn comparisons_follow_types() {
    let item = Some(sample());
    let item = item.as_ref();
    assert!(cmp(p("n"), Comparator::Eq, v(Number::from(10))).evaluate(item));
    assert!(cmp(p("n"), Comparator::Eq, v("10".parse::<Number>().unwrap())).evaluate(item));
    assert!(cmp(p("n"), Comparator::Gt, v(9)).evaluate(item));
    assert!(
        !cmp(p("n"), Comparator::Gt, v("9")).evaluate(item),
        "a number is not ordered against a string"
    );
    assert!(
        cmp(p("n"), Comparator::Ne, v("10")).evaluate(item),
        "different types are not equal"
    );
    assert!(cmp(p("s"), Comparator::Lt, v("help")).evaluate(item));
    assert!(
        !cmp(p("tags"), Comparator::Lt, p("tags")).evaluate(item),
        "sets are not ordered"
    );
    let reordered = AttributeValue::Ss(vec!["blue".into(), "red".into()]);
    assert!(
        cmp(p("tags"), Comparator::Eq, v(reordered)).evaluate(item),
        "sets compare without order"
    );
    assert!(Condition::Between(p("n"), v(10), v(12)).evaluate(item));
    assert!(!Condition::Between(p("n"), v(11), v(12)).evaluate(item));
    assert!(Condition::In(p("s"), vec![v("x"), v("hello")]).evaluate(item));
    assert!(!Condition::In(p("s"), vec![v("x")]).evaluate(item));
}

#[test]
fn functions_follow_dynamodb() {
    let item = Some(sample());
    let item = item.as_ref();
    assert!(
        Condition::AttributeExists(path("nothing")).evaluate(item),
        "NULL exists"
    );
    assert!(Condition::AttributeNotExists(path("missing")).evaluate(item));
    assert!(Condition::AttributeType(path("nums"), AttributeType::Ns).evaluate(item));
    assert!(!Condition::AttributeType(path("nums"), AttributeType::Ss).evaluate(item));
    assert!(Condition::BeginsWith(p("s"), v("he")).evaluate(item));
    assert!(Condition::BeginsWith(p("b"), v(AttributeValue::B(vec![1, 2]))).evaluate(item));
    assert!(!Condition::BeginsWith(p("n"), v("1")).evaluate(item));
    assert!(Condition::Contains(p("s"), v("ell")).evaluate(item));
    assert!(Condition::Contains(p("tags"), v("red")).evaluate(item));
    assert!(Condition::Contains(p("nums"), v(2)).evaluate(item));
    assert!(Condition::Contains(p("list"), v(5)).evaluate(item));
    assert!(!Condition::Contains(p("tags"), v("green")).evaluate(item));
    assert!(cmp(Operand::Size(path("s")), Comparator::Eq, v(5)).evaluate(item));
    assert!(cmp(Operand::Size(path("tags")), Comparator::Eq, v(2)).evaluate(item));
    assert!(cmp(Operand::Size(path("list")), Comparator::Eq, v(3)).evaluate(item));
    assert!(
        !cmp(Operand::Size(path("n")), Comparator::Ge, v(0)).evaluate(item),
        "a number has no size"
    );
    let both = Condition::AttributeExists(path("s")).and(Condition::AttributeNotExists(path("x")));
    assert!(both.evaluate(item));
    assert!(!both.clone().negate().evaluate(item));
    assert!(both.negate().or(Condition::AttributeExists(path("n"))).evaluate(item));
}

#[test]
fn in_lists_are_limited_to_100_operands() {
    assert!(Condition::In(p("a"), vec![v(1); 100]).validate().is_ok());
    assert!(Condition::In(p("a"), vec![v(1); 101]).validate().is_err());
    assert!(Condition::In(p("a"), vec![]).validate().is_err());
}

fn database() -> Database {
    common::database_with_hash_keyed_table("Accounts")
}

fn account(pk: &str, balance: i64) -> Item {
    Item::new().with("pk", pk).with("balance", balance)
}

fn get(db: &Database, pk: &str) -> Option<Item> {
    db.get_item(GetItemInput::new("Accounts", Item::new().with("pk", pk)))
        .unwrap()
        .item
}

#[test]
fn a_false_condition_fails_the_write_and_changes_nothing() {
    let db = database();
    let create_only = |item: Item| {
        let mut input = PutItemInput::new("Accounts", item);
        input.condition = Some(Condition::AttributeNotExists(Path::attribute("pk")));
        input
    };
    db.put_item(create_only(account("a", 1))).unwrap();
    let mut again = create_only(account("a", 2));
    let error = db.put_item(again.clone()).unwrap_err();
    assert!(matches!(error, Error::ConditionalCheckFailed { item: None }));
    assert_eq!(error.to_string(), "The conditional request failed");
    assert_eq!(error.exception_name(), "ConditionalCheckFailedException");
    again.return_values_on_condition_check_failure = ReturnValues::AllOld;
    assert!(
        matches!(db.put_item(again), Err(Error::ConditionalCheckFailed { item: Some(item) }) if item == account("a", 1))
    );
    assert_eq!(get(&db, "a"), Some(account("a", 1)));

    let mut delete = DeleteItemInput::new("Accounts", Item::new().with("pk", "a"));
    delete.condition = Some(Condition::equals(Path::attribute("balance"), 5));
    assert!(matches!(
        db.delete_item(delete.clone()),
        Err(Error::ConditionalCheckFailed { .. })
    ));
    assert_eq!(get(&db, "a"), Some(account("a", 1)));
    delete.condition = Some(Condition::equals(Path::attribute("balance"), 1));
    db.delete_item(delete).unwrap();
    assert_eq!(get(&db, "a"), None);

    // A condition on an item that was never written sees no item.
    let mut missing = DeleteItemInput::new("Accounts", Item::new().with("pk", "never"));
    missing.condition = Some(Condition::AttributeExists(Path::attribute("pk")));
    assert!(matches!(
        db.delete_item(missing),
        Err(Error::ConditionalCheckFailed { item: None })
    ));
}

/// A counter incremented by compare-and-swap from 8 threads: every increment lands once.
#[test]
fn compare_and_swap_counter_loses_no_update() {
    let db = Arc::new(database());
    db.put_item(PutItemInput::new("Accounts", account("counter", 0)))
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut retries = 0;
                for _ in 0..50 {
                    loop {
                        let current = match get(&db, "counter").and_then(|i| i.get("balance").cloned()) {
                            Some(AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
                            other => panic!("{other:?}"),
                        };
                        let mut input = PutItemInput::new("Accounts", account("counter", current + 1));
                        input.condition = Some(Condition::equals(Path::attribute("balance"), current));
                        match db.put_item(input) {
                            Ok(_) => break,
                            Err(Error::ConditionalCheckFailed { .. }) => retries += 1,
                            Err(other) => panic!("{other}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        get(&db, "counter"),
        Some(account("counter", 400)),
        "after {retries} retries"
    );
}
