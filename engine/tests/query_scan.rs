//! Query and Scan against a BTreeMap model, paging through LastEvaluatedKey.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_engine::api::query::PAGE_BYTES_MAX;
use dynastore_engine::item::{KeyAttribute, ScalarType};
use dynastore_engine::{
    AttributeValue, Database, Error, Item, KeySchema, Options, PutItemInput, QueryInput, ScanInput, SortKeyCondition,
    TableSchema,
};
use dynastore_wal::fs::FaultyFs;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn database(sort_type: ScalarType) -> Database {
    let db = Database::open(FaultyFs::new().shared(), "/data", Options::default()).unwrap();
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", sort_type)),
    };
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Tbl".into(),
        key_schema,
    })
    .unwrap();
    db
}

fn item(pk: &str, sk: i64) -> Item {
    Item::new()
        .with("pk", pk)
        .with("sk", sk)
        .with("v", format!("{pk}/{sk}"))
}

/// Every page of a query, following LastEvaluatedKey; checks each page's limit.
fn query_all(db: &Database, mut input: QueryInput) -> Vec<Item> {
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let page = db.query(input.clone()).unwrap();
        if let Some(limit) = input.limit {
            assert!(page.items.len() <= limit as usize);
        }
        assert_eq!(page.count, page.items.len());
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => input.exclusive_start_key = Some(key),
            None => return items,
        }
    }
    panic!("paging never ended");
}

/// A scan of table Tbl, as `set` changes it.
fn scan_input(set: impl FnOnce(&mut ScanInput)) -> ScanInput {
    let mut input = ScanInput::new("Tbl");
    set(&mut input);
    input
}

fn scan_all(db: &Database, mut input: ScanInput) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        let page = db.scan(input.clone()).unwrap();
        assert_eq!(page.count, page.items.len());
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => input.exclusive_start_key = Some(key),
            None => return items,
        }
    }
}

fn condition() -> impl Strategy<Value = Option<(u8, i64, i64)>> {
    proptest::option::of((0u8..6, -30i64..30, -30i64..30))
}

fn to_condition((op, a, b): (u8, i64, i64)) -> (SortKeyCondition, Box<dyn Fn(i64) -> bool>) {
    let (low, high) = (a.min(b), a.max(b));
    match op {
        0 => (SortKeyCondition::Eq(a.into()), Box::new(move |sk| sk == a)),
        1 => (SortKeyCondition::Lt(a.into()), Box::new(move |sk| sk < a)),
        2 => (SortKeyCondition::Le(a.into()), Box::new(move |sk| sk <= a)),
        3 => (SortKeyCondition::Gt(a.into()), Box::new(move |sk| sk > a)),
        4 => (SortKeyCondition::Ge(a.into()), Box::new(move |sk| sk >= a)),
        _ => (
            SortKeyCondition::Between(low.into(), high.into()),
            Box::new(move |sk| low <= sk && sk <= high),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn query_pages_match_the_model(
        keys in proptest::collection::btree_set((0u8..3, -25i64..25), 0..60),
        pk in 0u8..3,
        condition in condition(),
        forward in any::<bool>(),
        limit in proptest::option::of(1u32..7),
    ) {
        let db = database(ScalarType::N);
        for (p, s) in &keys {
            db.put_item(PutItemInput::new("Tbl", item(&format!("p{p}"), *s))).unwrap();
        }
        let mut input = QueryInput::new("Tbl", format!("p{pk}"));
        input.scan_index_forward = forward;
        input.limit = limit;
        let mut expected: Vec<i64> = keys.iter().filter(|(p, _)| *p == pk).map(|(_, s)| *s).collect();
        if let Some(c) = condition {
            let (condition, matches) = to_condition(c);
            input.sort_key_condition = Some(condition);
            expected.retain(|sk| matches(*sk));
        }
        if !forward {
            expected.reverse();
        }
        let got = query_all(&db, input);
        let expected: Vec<Item> = expected.iter().map(|s| item(&format!("p{pk}"), *s)).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn scan_segments_partition_the_table_and_pages_cover_it(
        keys in proptest::collection::btree_set((0u8..20, -5i64..5), 0..80),
        total in 1u32..6,
        limit in proptest::option::of(1u32..9),
    ) {
        let db = database(ScalarType::N);
        for (p, s) in &keys {
            db.put_item(PutItemInput::new("Tbl", item(&format!("p{p}"), *s))).unwrap();
        }
        let whole = scan_all(&db, scan_input(|input| input.limit = limit));
        prop_assert_eq!(whole.len(), keys.len());
        let mut seen = BTreeSet::new();
        for segment in 0..total {
            let input = scan_input(|input| {
                input.limit = limit;
                input.segment = Some((segment, total));
            });
            for found in scan_all(&db, input) {
                prop_assert!(seen.insert(format!("{:?}", found.get("v"))), "an item in two segments");
            }
        }
        prop_assert_eq!(seen.len(), keys.len());
        // A partition key's items are contiguous and in sort-key order within a scan.
        let mut by_pk: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut order = Vec::new();
        for found in &whole {
            let Some(AttributeValue::S(pk)) = found.get("pk") else { panic!() };
            let Some(AttributeValue::N(sk)) = found.get("sk") else { panic!() };
            if order.last() != Some(pk) {
                prop_assert!(!order.contains(pk), "{} is not contiguous", pk);
                order.push(pk.clone());
            }
            by_pk.entry(pk.clone()).or_default().push(sk.to_string().parse().unwrap());
        }
        for sks in by_pk.values() {
            prop_assert!(sks.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

#[test]
fn begins_with_matches_string_prefixes_exactly() {
    let db = database(ScalarType::S);
    for sk in ["a", "a\0", "a\0b", "ab", "abc", "b", "", "\u{1}"] {
        if sk.is_empty() {
            continue;
        }
        db.put_item(PutItemInput::new("Tbl", Item::new().with("pk", "x").with("sk", sk)))
            .unwrap();
    }
    db.put_item(PutItemInput::new("Tbl", Item::new().with("pk", "y").with("sk", "ab")))
        .unwrap();
    let sks = |prefix: &str, forward: bool| -> Vec<String> {
        let mut input = QueryInput::new("Tbl", "x");
        input.sort_key_condition = Some(SortKeyCondition::BeginsWith(prefix.into()));
        input.scan_index_forward = forward;
        query_all(&db, input)
            .iter()
            .map(|i| match i.get("sk") {
                Some(AttributeValue::S(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(sks("a", true), vec!["a", "a\0", "a\0b", "ab", "abc"]);
    assert_eq!(sks("a\0", true), vec!["a\0", "a\0b"]);
    assert_eq!(sks("ab", false), vec!["abc", "ab"]);
    assert!(sks("c", true).is_empty());
}

#[test]
fn pages_stop_at_one_megabyte_and_return_the_last_key() {
    let db = database(ScalarType::N);
    let big = |sk: i64| item("p", sk).with("blob", "x".repeat(100_000));
    for sk in 0..25 {
        db.put_item(PutItemInput::new("Tbl", big(sk))).unwrap();
    }
    let page = db.query(QueryInput::new("Tbl", "p")).unwrap();
    let size = big(0).size_bytes();
    let expected = PAGE_BYTES_MAX.div_ceil(size);
    assert_eq!(page.items.len(), expected, "the item that crosses 1 MB is the last one");
    assert_eq!(
        page.last_evaluated_key,
        Some(Item::new().with("pk", "p").with("sk", expected as i64 - 1))
    );
    assert_eq!(query_all(&db, QueryInput::new("Tbl", "p")).len(), 25);
}

#[test]
fn last_evaluated_key_appears_when_the_limit_is_reached_even_at_the_end() {
    let db = database(ScalarType::N);
    db.put_item(PutItemInput::new("Tbl", item("p", 1))).unwrap();
    let mut input = QueryInput::new("Tbl", "p");
    input.limit = Some(1);
    let page = db.query(input.clone()).unwrap();
    assert_eq!(page.last_evaluated_key, Some(Item::new().with("pk", "p").with("sk", 1)));
    input.exclusive_start_key = page.last_evaluated_key;
    let next = db.query(input).unwrap();
    assert!(next.items.is_empty() && next.last_evaluated_key.is_none());
}

fn validation_message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Validation(error)) => error.to_string(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn invalid_queries_and_scans_are_refused_with_dynamodbs_messages() {
    let db = database(ScalarType::N);
    let query = |f: &dyn Fn(&mut QueryInput)| {
        let mut input = QueryInput::new("Tbl", "p");
        f(&mut input);
        validation_message(db.query(input))
    };
    assert_eq!(
        query(&|i| i.limit = Some(0)),
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        query(&|i| i.sort_key_condition = Some(SortKeyCondition::BeginsWith(1.into()))),
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        query(&|i| i.sort_key_condition = Some(SortKeyCondition::Between(5.into(), 1.into()))),
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"
    );
    assert_eq!(
        query(&|i| i.sort_key_condition = Some(SortKeyCondition::Eq("1".into()))),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    assert_eq!(
        query(&|i| i.partition_key = Some(1.into())),
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    );
    assert_eq!(
        query(&|i| i.exclusive_start_key = Some(Item::new().with("pk", "p"))),
        "The provided starting key is invalid: The provided key element does not match the schema"
    );
    assert_eq!(
        query(&|i| i.exclusive_start_key = Some(Item::new().with("pk", "other").with("sk", 1))),
        "The provided starting key is outside query boundaries based on provided conditions"
    );
    let scan = |segment| validation_message(db.scan(scan_input(|input| input.segment = Some(segment))));
    assert_eq!(
        scan((0, 0)),
        "1 validation error detected: Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        scan((4, 4)),
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4"
    );
    assert!(matches!(
        db.query(QueryInput::new("Missing", "p")),
        Err(Error::ResourceNotFound { .. })
    ));
}

#[test]
fn a_sort_key_condition_on_a_table_without_sort_key_is_refused() {
    let db = Database::open(FaultyFs::new().shared(), "/data", Options::default()).unwrap();
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: None,
    };
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Hash".into(),
        key_schema,
    })
    .unwrap();
    let mut input = QueryInput::new("Hash", "p");
    input.sort_key_condition = Some(SortKeyCondition::Eq(1.into()));
    assert_eq!(validation_message(db.query(input)), "Query key condition not supported");
}

#[test]
fn filters_apply_after_reading_so_count_is_at_most_scanned_count() {
    use dynastore_engine::{Comparator, Condition, Operand, Path};
    let db = database(ScalarType::N);
    for sk in 0..10 {
        db.put_item(PutItemInput::new("Tbl", item("p", sk).with("even", sk % 2 == 0)))
            .unwrap();
    }
    let even = Condition::equals(Path::attribute("even"), true);
    let mut input = QueryInput::new("Tbl", "p");
    input.filter = Some(even.clone());
    input.limit = Some(4);
    let page = db.query(input.clone()).unwrap();
    assert_eq!(
        (page.items.len(), page.scanned_count),
        (2, 4),
        "the limit counts items read, not returned"
    );
    assert!(page.last_evaluated_key.is_some());
    let all: Vec<Item> = query_all(&db, input.clone());
    assert_eq!(all.len(), 5);
    // A page whose items are all filtered out still carries LastEvaluatedKey.
    input.filter = Some(Condition::Compare(
        Operand::Path(Path::attribute("v")),
        Comparator::Eq,
        Operand::Value("none".into()),
    ));
    let page = db.query(input).unwrap();
    assert!(page.items.is_empty() && page.scanned_count == 4 && page.last_evaluated_key.is_some());
    let scan = db.scan(scan_input(|input| input.filter = Some(even))).unwrap();
    assert_eq!((scan.items.len(), scan.scanned_count), (5, 10));
}

#[test]
fn a_query_filter_may_not_name_key_attributes() {
    use dynastore_engine::{Condition, Path};
    let db = database(ScalarType::N);
    let mut input = QueryInput::new("Tbl", "p");
    input.filter = Some(Condition::equals(Path::attribute("sk"), 1));
    assert_eq!(
        validation_message(db.query(input)),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    );
}

#[test]
fn projections_return_only_the_named_paths() {
    use dynastore_engine::{GetItemInput, Path};
    let db = database(ScalarType::N);
    let doc = Item::from_json(&serde_json::json!({
        "pk": {"S": "p"}, "sk": {"N": "1"}, "a": {"S": "x"},
        "m": {"M": {"keep": {"N": "1"}, "drop": {"N": "2"}}}, "l": {"L": [{"S": "l0"}, {"S": "l1"}, {"S": "l2"}]}
    }))
    .unwrap();
    db.put_item(PutItemInput::new("Tbl", doc)).unwrap();
    let paths = vec![
        Path::parse("a").unwrap(),
        Path::parse("m.keep").unwrap(),
        Path::parse("l[2]").unwrap(),
        Path::parse("l[0]").unwrap(),
        Path::parse("missing").unwrap(),
    ];
    let expected =
        serde_json::json!({"a": {"S": "x"}, "m": {"M": {"keep": {"N": "1"}}}, "l": {"L": [{"S": "l0"}, {"S": "l2"}]}});
    let mut query = QueryInput::new("Tbl", "p");
    query.projection = Some(paths.clone());
    assert_eq!(db.query(query).unwrap().items[0].to_json(), expected);
    let scan = db
        .scan(scan_input(|input| input.projection = Some(paths.clone())))
        .unwrap();
    assert_eq!(scan.items[0].to_json(), expected);
    let mut get = GetItemInput::new("Tbl", Item::new().with("pk", "p").with("sk", 1));
    get.projection = Some(paths);
    assert_eq!(db.get_item(get).unwrap().item.unwrap().to_json(), expected);
}

/// `Select: COUNT` returns the number of items that pass the filter and no items, with
/// ScannedCount and paging as a query or scan of the items would have them; without it,
/// `count` is the number of items returned.
#[test]
fn select_count_returns_the_count_and_no_items_and_pages_as_usual() {
    use dynastore_engine::{Condition, Path, Select};
    let db = database(ScalarType::N);
    for sk in 0..10 {
        db.put_item(PutItemInput::new("Tbl", item("p", sk).with("even", sk % 2 == 0)))
            .unwrap();
    }
    let even = Condition::equals(Path::attribute("even"), true);
    let mut query = QueryInput::new("Tbl", "p");
    query.filter = Some(even.clone());
    query.limit = Some(4);
    let items = db.query(query.clone()).unwrap();
    assert_eq!((items.items.len(), items.count, items.scanned_count), (2, 2, 4));
    query.select = Some(Select::Count);
    let counted = db.query(query.clone()).unwrap();
    assert!(counted.items.is_empty(), "COUNT returns no items");
    assert_eq!((counted.count, counted.scanned_count), (2, 4));
    assert_eq!(
        counted.last_evaluated_key, items.last_evaluated_key,
        "COUNT pages as usual"
    );
    // The pages of a COUNT add up to the items that pass the filter.
    let mut total = 0;
    loop {
        let page = db.query(query.clone()).unwrap();
        total += page.count;
        match page.last_evaluated_key {
            Some(key) => query.exclusive_start_key = Some(key),
            None => break,
        }
    }
    assert_eq!(total, 5);

    let counted = db
        .scan(scan_input(|input| {
            input.filter = Some(even);
            input.select = Some(Select::Count);
        }))
        .unwrap();
    assert!(counted.items.is_empty());
    assert_eq!((counted.count, counted.scanned_count), (5, 10));
    let all = db
        .scan(scan_input(|input| input.select = Some(Select::AllAttributes)))
        .unwrap();
    assert_eq!((all.items.len(), all.count), (10, 10));
}

/// `Select` against the projection, with DynamoDB's messages: a Query's carry the
/// "1 validation error detected: " prefix, a Scan's do not. They are checked before the
/// table is looked up, as DynamoDB validates a request before it looks for the table.
#[test]
fn select_refusals_carry_dynamodbs_messages() {
    use dynastore_engine::{Path, Select};
    let db = database(ScalarType::N);
    db.put_item(PutItemInput::new("Tbl", item("p", 1))).unwrap();
    let projection = Some(vec![Path::attribute("v")]);
    let cases = [
        (
            Some(Select::AllAttributes),
            true,
            "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
        ),
        (
            Some(Select::AllProjectedAttributes),
            true,
            "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
        ),
        (
            Some(Select::Count),
            true,
            "Cannot specify the ProjectionExpression when choosing to get only the Count",
        ),
        (
            Some(Select::SpecificAttributes),
            false,
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        ),
        (
            Some(Select::AllProjectedAttributes),
            false,
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ),
    ];
    for (select, with_projection, message) in cases {
        for table in ["Tbl", "Missing"] {
            let mut query = QueryInput::new(table, "p");
            query.select = select;
            query.projection = projection.clone().filter(|_| with_projection);
            assert_eq!(
                validation_message(db.query(query)),
                format!("1 validation error detected: {message}"),
                "query of {table}, {select:?}"
            );
            let mut scan = ScanInput::new(table);
            scan.select = select;
            scan.projection = projection.clone().filter(|_| with_projection);
            assert_eq!(
                validation_message(db.scan(scan)),
                message,
                "scan of {table}, {select:?}"
            );
        }
    }
    // What is allowed: a projection with SPECIFIC_ATTRIBUTES or no Select.
    for select in [Some(Select::SpecificAttributes), None] {
        let mut query = QueryInput::new("Tbl", "p");
        query.select = select;
        query.projection = projection.clone();
        let page = db.query(query).unwrap();
        assert_eq!(page.items, vec![Item::new().with("v", "p/1")]);
    }
}
