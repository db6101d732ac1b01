//! DynamoDB's legacy parameters (`Expected`, `AttributeUpdates`, `AttributesToGet`,
//! `KeyConditions`, `QueryFilter`, `ScanFilter`, `ConditionalOperator`) do what the
//! equivalent expressions do, and their refusals carry DynamoDB's messages and change
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{order_key, orders_schema};
use dynastore_engine::expr::legacy::{
    AttributeAction, AttributeCondition, AttributeValueUpdate, ComparisonOperator as Op, ConditionalOperator,
    ExpectedAttributeValue,
};
use dynastore_engine::{
    AttributeValue, BatchGetInput, Database, DeleteItemInput, Error, GetItemInput, Item, KeysAndAttributes, Options,
    PutItemInput, QueryInput, ScanInput, UpdateItemInput,
};
use std::collections::{BTreeSet, HashMap};

fn db() -> Database {
    let fs = dynastore_wal::fs::FaultyFs::new().shared();
    let db = Database::open(fs, "/data", Options::default()).unwrap();
    db.create_table(orders_schema("Orders")).unwrap();
    db
}

/// Ten orders of User1 with a number `n`, a string `s`, a string set `tags` on some, and
/// no `missing` attribute.
fn orders(db: &Database) {
    for sk in 0..10 {
        let mut item = order_key("User1", sk)
            .with("n", sk * 10)
            .with("s", format!("item-{sk}"));
        if sk % 3 == 0 {
            item = item.with("tags", AttributeValue::Ss(vec!["red".into(), format!("t{sk}")]));
        }
        db.put_item(PutItemInput::new("Orders", item)).unwrap();
    }
}

fn cond(op: Op, values: Vec<AttributeValue>) -> AttributeCondition {
    AttributeCondition::new(op, values)
}

fn conditions(pairs: Vec<(&str, AttributeCondition)>) -> HashMap<String, AttributeCondition> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn values(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// The sort keys of every item a scan returns.
fn scanned(db: &Database, input: ScanInput) -> BTreeSet<String> {
    db.scan(input)
        .unwrap()
        .items
        .iter()
        .map(|item| format!("{:?}", item.get("sk").unwrap()))
        .collect()
}

/// A legacy filter, its conditional operator, and the equivalent FilterExpression.
type FilterCase = (
    Vec<(&'static str, AttributeCondition)>,
    Option<ConditionalOperator>,
    &'static str,
);

/// Each ScanFilter selects exactly the items its equivalent FilterExpression selects,
/// and something but not everything (so that a filter ignored, or always false, fails).
#[test]
fn scan_filters_select_what_the_equivalent_expressions_select() {
    let db = db();
    orders(&db);
    let n = |v: i64| AttributeValue::from(v);
    let s = |v: &str| AttributeValue::from(v);
    let cases: Vec<FilterCase> = vec![
        (vec![("n", cond(Op::Eq, vec![n(30)]))], None, "n = :a"),
        (vec![("n", cond(Op::Ne, vec![n(30)]))], None, "n <> :a"),
        (vec![("n", cond(Op::Le, vec![n(30)]))], None, "n <= :a"),
        (vec![("n", cond(Op::Lt, vec![n(30)]))], None, "n < :a"),
        (vec![("n", cond(Op::Ge, vec![n(30)]))], None, "n >= :a"),
        (vec![("n", cond(Op::Gt, vec![n(30)]))], None, "n > :a"),
        (
            vec![("tags", cond(Op::NotNull, vec![]))],
            None,
            "attribute_exists(tags)",
        ),
        (
            vec![("tags", cond(Op::Null, vec![]))],
            None,
            "attribute_not_exists(tags)",
        ),
        (
            vec![("tags", cond(Op::Contains, vec![s("t3")]))],
            None,
            "contains(tags, :a)",
        ),
        (
            vec![("s", cond(Op::NotContains, vec![s("-1")]))],
            None,
            "NOT contains(s, :a)",
        ),
        (
            vec![("s", cond(Op::BeginsWith, vec![s("item-1")]))],
            None,
            "begins_with(s, :a)",
        ),
        (
            vec![("n", cond(Op::In, vec![n(10), n(40), n(99)]))],
            None,
            "n IN (:a, :b, :c)",
        ),
        (
            vec![("n", cond(Op::Between, vec![n(20), n(50)]))],
            None,
            "n BETWEEN :a AND :b",
        ),
        (
            vec![("n", cond(Op::Gt, vec![n(50)])), ("tags", cond(Op::NotNull, vec![]))],
            None,
            "n > :a AND attribute_exists(tags)",
        ),
        (
            vec![("n", cond(Op::Gt, vec![n(50)])), ("tags", cond(Op::NotNull, vec![]))],
            Some(ConditionalOperator::And),
            "n > :a AND attribute_exists(tags)",
        ),
        (
            vec![("n", cond(Op::Gt, vec![n(50)])), ("tags", cond(Op::NotNull, vec![]))],
            Some(ConditionalOperator::Or),
            "n > :a OR attribute_exists(tags)",
        ),
    ];
    for (filter, operator, expression) in cases {
        let mut legacy = ScanInput::new("Orders");
        let given: Vec<AttributeValue> = filter
            .iter()
            .flat_map(|(_, c)| c.attribute_value_list.clone())
            .collect();
        legacy.scan_filter = conditions(filter);
        legacy.conditional_operator = operator;
        let mut modern = ScanInput::new("Orders");
        modern.filter_expression = Some(expression.to_owned());
        let placeholders = [":a", ":b", ":c"];
        modern.expression_attribute_values = values(
            &given
                .into_iter()
                .enumerate()
                .map(|(i, v)| (placeholders[i], v))
                .collect::<Vec<_>>(),
        );
        let (from_legacy, from_expression) = (scanned(&db, legacy), scanned(&db, modern));
        assert_eq!(from_legacy, from_expression, "{expression}");
        assert!(
            !from_legacy.is_empty() && from_legacy.len() < 10,
            "{expression}: {from_legacy:?}"
        );
    }
}

/// KeyConditions (with a QueryFilter and AttributesToGet) read what the equivalent
/// KeyConditionExpression reads; an operator keys are not queried by, and a missing
/// partition key, are refused with DynamoDB's messages.
#[test]
fn key_conditions_query_as_key_condition_expressions_do() {
    let db = db();
    orders(&db);
    let mut legacy = QueryInput::with_key_conditions(
        "Orders",
        conditions(vec![
            ("pk", cond(Op::Eq, vec!["User1".into()])),
            ("sk", cond(Op::Between, vec![2.into(), 8.into()])),
        ]),
    );
    legacy.query_filter = conditions(vec![("tags", cond(Op::NotNull, vec![]))]);
    legacy.attributes_to_get = Some(vec!["sk".into(), "tags".into()]);
    let output = db.query(legacy.clone()).unwrap();
    let sks: Vec<AttributeValue> = output.items.iter().map(|i| i.get("sk").unwrap().clone()).collect();
    assert_eq!(sks, vec![AttributeValue::from(3), AttributeValue::from(6)]);
    assert_eq!(output.scanned_count, 7, "the filter runs after the key condition");
    assert!(
        output
            .items
            .iter()
            .all(|i| i.get("n").is_none() && i.get("pk").is_none())
    );

    let mut modern = QueryInput::with_key_condition("Orders", "pk = :p AND sk BETWEEN :lo AND :hi");
    modern.filter_expression = Some("attribute_exists(tags)".into());
    modern.projection_expression = Some("sk, tags".into());
    modern.expression_attribute_values = values(&[(":p", "User1".into()), (":lo", 2.into()), (":hi", 8.into())]);
    assert_eq!(db.query(modern).unwrap().items, output.items);

    let mut not_indexable = legacy.clone();
    not_indexable.key_conditions = conditions(vec![("pk", cond(Op::Ne, vec!["User1".into()]))]);
    let error = db.query(not_indexable).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Attempted conditional constraint is not an indexable operation"
    );
    assert_eq!(error.exception_name(), "ValidationException");

    let mut no_partition_key = legacy;
    no_partition_key.key_conditions = conditions(vec![("sk", cond(Op::Eq, vec![1.into()]))]);
    assert_eq!(
        db.query(no_partition_key).unwrap_err().to_string(),
        "Query condition missed key schema element: pk"
    );
}

/// Expected guards puts, deletes and updates as ConditionExpression does.
#[test]
fn expected_guards_writes() {
    let db = db();
    let key = order_key("User1", 1);
    let expect = |pairs: Vec<(&str, ExpectedAttributeValue)>| -> HashMap<String, ExpectedAttributeValue> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let absent = ExpectedAttributeValue {
        exists: Some(false),
        ..Default::default()
    };
    let mut create = PutItemInput::new("Orders", key.clone().with("n", 1));
    create.expected = expect(vec![("pk", absent.clone())]);
    db.put_item(create.clone()).unwrap();
    assert!(matches!(
        db.put_item(create).unwrap_err(),
        Error::ConditionalCheckFailed { .. }
    ));

    let equals = |v: i64| ExpectedAttributeValue {
        value: Some(v.into()),
        ..Default::default()
    };
    let mut update = UpdateItemInput::new("Orders", key.clone(), vec![]);
    update.attribute_updates = [(
        "n".to_owned(),
        AttributeValueUpdate {
            value: Some(5.into()),
            action: AttributeAction::Add,
        },
    )]
    .into();
    update.expected = expect(vec![("n", equals(2)), ("missing", absent.clone())]);
    assert!(matches!(
        db.update_item(update.clone()).unwrap_err(),
        Error::ConditionalCheckFailed { .. }
    ));
    update.conditional_operator = Some(ConditionalOperator::Or);
    db.update_item(update).unwrap();
    let item = db
        .get_item(GetItemInput::new("Orders", key.clone()))
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item.get("n"), Some(&AttributeValue::from(6)));

    let mut delete = DeleteItemInput::new("Orders", key.clone());
    delete.expected = expect(vec![(
        "n",
        ExpectedAttributeValue {
            comparison_operator: Some(Op::Gt),
            attribute_value_list: vec![10.into()],
            ..Default::default()
        },
    )]);
    assert!(matches!(
        db.delete_item(delete.clone()).unwrap_err(),
        Error::ConditionalCheckFailed { .. }
    ));
    delete.expected.get_mut("n").unwrap().attribute_value_list = vec![5.into()];
    db.delete_item(delete).unwrap();
    assert!(db.get_item(GetItemInput::new("Orders", key)).unwrap().item.is_none());
}

/// AttributeUpdates puts, adds (numbers and sets), deletes set elements and removes
/// attributes; a key attribute cannot be updated.
#[test]
fn attribute_updates_change_the_item() {
    let db = db();
    let key = order_key("User1", 1);
    let start = key
        .clone()
        .with("n", 1)
        .with("tags", AttributeValue::Ss(vec!["a".into(), "b".into()]))
        .with("gone", "x");
    db.put_item(PutItemInput::new("Orders", start)).unwrap();
    let update = |pairs: Vec<(&str, Option<AttributeValue>, AttributeAction)>| {
        let mut input = UpdateItemInput::new("Orders", key.clone(), vec![]);
        input.attribute_updates = pairs
            .into_iter()
            .map(|(name, value, action)| (name.to_owned(), AttributeValueUpdate { value, action }))
            .collect();
        input
    };
    db.update_item(update(vec![
        ("s", Some("new".into()), AttributeAction::Put),
        ("n", Some(41.into()), AttributeAction::Add),
        ("more", Some(AttributeValue::Ss(vec!["z".into()])), AttributeAction::Add),
        (
            "tags",
            Some(AttributeValue::Ss(vec!["a".into()])),
            AttributeAction::Delete,
        ),
        ("gone", None, AttributeAction::Delete),
    ]))
    .unwrap();
    let expected = key
        .clone()
        .with("n", 42)
        .with("s", "new")
        .with("more", AttributeValue::Ss(vec!["z".into()]))
        .with("tags", AttributeValue::Ss(vec!["b".into()]));
    let item = db
        .get_item(GetItemInput::new("Orders", key.clone()))
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item, expected);

    let error = db
        .update_item(update(vec![("sk", Some(2.into()), AttributeAction::Put)]))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Cannot update attribute sk. This attribute is part of the key"
    );
    let error = db
        .update_item(update(vec![("n", None, AttributeAction::Add)]))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
    );
    let item_after = db.get_item(GetItemInput::new("Orders", key)).unwrap().item.unwrap();
    assert_eq!(item_after, expected, "refused updates changed nothing");
}

/// AttributesToGet projects GetItem and BatchGetItem as a ProjectionExpression does.
#[test]
fn attributes_to_get_project_gets() {
    let db = db();
    orders(&db);
    let mut get = GetItemInput::new("Orders", order_key("User1", 3));
    get.attributes_to_get = Some(vec!["n".into(), "tags".into(), "nothere".into()]);
    let item = db.get_item(get).unwrap().item.unwrap();
    let expected = Item::new()
        .with("n", 30)
        .with("tags", AttributeValue::Ss(vec!["red".into(), "t3".into()]));
    assert_eq!(item, expected);

    let mut keys = KeysAndAttributes::new(vec![order_key("User1", 3), order_key("User1", 4)]);
    keys.attributes_to_get = Some(vec!["s".into()]);
    let output = db.batch_get(BatchGetInput::new("Orders", keys)).unwrap();
    let mut strings: Vec<Item> = output.responses["Orders"].clone();
    strings.sort_by_key(|i| format!("{:?}", i.get("s")));
    assert_eq!(
        strings,
        vec![Item::new().with("s", "item-3"), Item::new().with("s", "item-4")]
    );
}

/// Each refusal has DynamoDB's message and changes nothing.
#[test]
fn refusals_carry_dynamodb_messages_and_change_nothing() {
    let db = db();
    let key = order_key("User1", 1);
    db.put_item(PutItemInput::new("Orders", key.clone().with("n", 1)))
        .unwrap();
    let expected_put = |entries: Vec<(&str, ExpectedAttributeValue)>, operator: Option<ConditionalOperator>| {
        let mut put = PutItemInput::new("Orders", key.clone().with("n", 2));
        put.expected = entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        put.conditional_operator = operator;
        put
    };
    let op = |operator: Op, values: Vec<AttributeValue>| ExpectedAttributeValue {
        comparison_operator: Some(operator),
        attribute_value_list: values,
        ..Default::default()
    };
    let mut mixed = expected_put(vec![("n", op(Op::NotNull, vec![]))], None);
    mixed.condition_expression = Some("attribute_exists(n)".into());
    let cases: Vec<(PutItemInput, &str)> = vec![
        (
            mixed,
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
        ),
        (
            expected_put(vec![("n", op(Op::Eq, vec![]))], None),
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
        (
            expected_put(vec![("n", op(Op::Between, vec![1.into()]))], None),
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator",
        ),
        (
            expected_put(vec![("n", op(Op::NotNull, vec![1.into()]))], None),
            "One or more parameter values were invalid: Invalid number of argument(s) for the NOT_NULL ComparisonOperator",
        ),
        (
            expected_put(vec![("n", op(Op::Gt, vec![AttributeValue::Bool(true)]))], None),
            "One or more parameter values were invalid: ComparisonOperator GT is not valid for BOOL AttributeValue type",
        ),
        (
            expected_put(vec![("n", op(Op::Between, vec![1.into(), "z".into()]))], None),
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            expected_put(
                vec![(
                    "n",
                    ExpectedAttributeValue {
                        value: Some(1.into()),
                        exists: Some(false),
                        ..Default::default()
                    },
                )],
                None,
            ),
            "One or more parameter values were invalid: Cannot expect an attribute to have a specified value while expecting it to not exist",
        ),
        (
            expected_put(
                vec![(
                    "n",
                    ExpectedAttributeValue {
                        exists: Some(true),
                        ..Default::default()
                    },
                )],
                None,
            ),
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: n",
        ),
        (
            expected_put(vec![("n", op(Op::NotNull, vec![]))], Some(ConditionalOperator::Or)),
            "One or more parameter values were invalid: ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ),
    ];
    for (put, message) in cases {
        let error = db.put_item(put).unwrap_err();
        assert_eq!(error.to_string(), message);
        assert_eq!(error.exception_name(), "ValidationException");
    }
    let mut mixed_scan = ScanInput::new("Orders");
    mixed_scan.attributes_to_get = Some(vec!["n".into()]);
    mixed_scan.filter_expression = Some("n > :z".into());
    mixed_scan.expression_attribute_values = values(&[(":z", 0.into())]);
    assert_eq!(
        db.scan(mixed_scan).unwrap_err().to_string(),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {FilterExpression}"
    );
    let item = db
        .get_item(GetItemInput::new("Orders", key.clone()))
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item, key.with("n", 1), "nothing refused was written");
}
