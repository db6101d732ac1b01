//! DynamoDB's expression strings: the Developer Guide's examples parse into the typed
//! trees they mean, every refusal carries DynamoDB's message, random strings never make
//! the parser panic, and random trees written as strings parse back to themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore_engine::expr::parse::{
    ExpressionError, ExpressionKind, KeyTest, Placeholders, parse_condition, parse_key_condition, parse_projection,
    parse_update, print_condition, print_update,
};
use dynastore_engine::expr::{
    Comparator, Condition, Operand, Path, PathElement, SetValue, SortKeyCondition, UpdateAction, UpdateOperand,
};
use dynastore_engine::item::{AttributeType, AttributeValue};
use proptest::prelude::*;
use std::collections::HashMap;

/// Placeholder maps: `#`-names to names, `:`-values to strings or numbers (a value that
/// parses as a number is a number).
fn maps(names: &[(&str, &str)], values: &[(&str, &str)]) -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
    let names = names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let values = values
        .iter()
        .map(|(k, v)| {
            let value = match v.parse::<i64>() {
                Ok(n) => AttributeValue::from(n),
                Err(_) => AttributeValue::from(*v),
            };
            ((*k).to_owned(), value)
        })
        .collect();
    (names, values)
}

fn condition(source: &str, names: &[(&str, &str)], values: &[(&str, &str)]) -> Result<Condition, String> {
    let (names, values) = maps(names, values);
    let mut placeholders = Placeholders::new(&names, &values);
    let parsed = parse_condition(ExpressionKind::Condition, source, &mut placeholders).map_err(|e| e.to_string())?;
    placeholders.finish().map_err(|e| e.to_string())?;
    Ok(parsed)
}

fn update(source: &str, names: &[(&str, &str)], values: &[(&str, &str)]) -> Result<Vec<UpdateAction>, String> {
    let (names, values) = maps(names, values);
    let mut placeholders = Placeholders::new(&names, &values);
    let parsed = parse_update(source, &mut placeholders).map_err(|e| e.to_string())?;
    placeholders.finish().map_err(|e| e.to_string())?;
    Ok(parsed)
}

fn path(text: &str) -> Path {
    Path::parse(text).unwrap()
}

fn at(text: &str) -> Operand {
    Operand::Path(path(text))
}

fn val(value: impl Into<AttributeValue>) -> Operand {
    Operand::Value(value.into())
}

fn and(a: Condition, b: Condition) -> Condition {
    Condition::And(Box::new(a), Box::new(b))
}

fn or(a: Condition, b: Condition) -> Condition {
    Condition::Or(Box::new(a), Box::new(b))
}

/// A case: an expression, its names and values, and the tree it means.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>, Condition);

#[test]
fn the_guides_condition_examples_parse_into_what_they_mean() {
    let cases: Vec<Case<'_>> = vec![
        (
            "attribute_not_exists(Id)",
            vec![],
            vec![],
            Condition::AttributeNotExists(path("Id")),
        ),
        (
            "Price > :limit",
            vec![],
            vec![(":limit", "500")],
            Condition::Compare(at("Price"), Comparator::Gt, val(500)),
        ),
        (
            "ProductCategory IN (:cat1, :cat2) and Price between :lo and :hi",
            vec![],
            vec![
                (":cat1", "Sporting Goods"),
                (":cat2", "Gardening Supplies"),
                (":lo", "500"),
                (":hi", "600"),
            ],
            and(
                Condition::In(
                    at("ProductCategory"),
                    vec![val("Sporting Goods"), val("Gardening Supplies")],
                ),
                Condition::Between(at("Price"), val(500), val(600)),
            ),
        ),
        (
            "attribute_exists(#pr.FiveStar)",
            vec![("#pr", "ProductReviews")],
            vec![],
            Condition::AttributeExists(path("ProductReviews.FiveStar")),
        ),
        (
            "begins_with(Pictures.FrontView, :v_sub)",
            vec![],
            vec![(":v_sub", "http://")],
            Condition::BeginsWith(at("Pictures.FrontView"), val("http://")),
        ),
        (
            "contains(Color, :v_sub)",
            vec![],
            vec![(":v_sub", "Red")],
            Condition::Contains(at("Color"), val("Red")),
        ),
        (
            "size(VideoClip) > :v_sub",
            vec![],
            vec![(":v_sub", "64000")],
            Condition::Compare(Operand::Size(path("VideoClip")), Comparator::Gt, val(64000)),
        ),
        (
            "attribute_type(ProductReviews.FiveStar, :v_sub)",
            vec![],
            vec![(":v_sub", "L")],
            Condition::AttributeType(path("ProductReviews.FiveStar"), AttributeType::L),
        ),
        (
            "RelatedItems[1] <> :v AND NOT (a = :v OR b = :v) OR c < :v",
            vec![],
            vec![(":v", "1")],
            or(
                and(
                    Condition::Compare(at("RelatedItems[1]"), Comparator::Ne, val(1)),
                    Condition::Not(Box::new(or(
                        Condition::Compare(at("a"), Comparator::Eq, val(1)),
                        Condition::Compare(at("b"), Comparator::Eq, val(1)),
                    ))),
                ),
                Condition::Compare(at("c"), Comparator::Lt, val(1)),
            ),
        ),
        (
            "#status <= :v and (x >= :v)",
            vec![("#status", "status")],
            vec![(":v", "1")],
            and(
                Condition::Compare(at("status"), Comparator::Le, val(1)),
                Condition::Compare(at("x"), Comparator::Ge, val(1)),
            ),
        ),
    ];
    for (source, names, values, expected) in cases {
        assert_eq!(condition(source, &names, &values), Ok(expected), "{source}");
    }
}

#[test]
fn the_guides_update_examples_parse_into_their_actions() {
    let parsed = update(
        "SET ProductCategory = :c, Price = :p, #hits = #hits + :one REMOVE Brand, RelatedItems[1] \
         ADD Color :colors DELETE Tags :t",
        &[("#hits", "Hits")],
        &[
            (":c", "Hardware"),
            (":p", "60"),
            (":one", "1"),
            (":colors", "Orange"),
            (":t", "x"),
        ],
    );
    assert_eq!(
        parsed,
        Ok(vec![
            UpdateAction::Set(
                path("ProductCategory"),
                SetValue::Operand(UpdateOperand::Value("Hardware".into()))
            ),
            UpdateAction::Set(path("Price"), SetValue::Operand(UpdateOperand::Value(60.into()))),
            UpdateAction::Set(
                path("Hits"),
                SetValue::Plus(UpdateOperand::Path(path("Hits")), UpdateOperand::Value(1.into()))
            ),
            UpdateAction::Remove(path("Brand")),
            UpdateAction::Remove(path("RelatedItems[1]")),
            UpdateAction::Add(path("Color"), "Orange".into()),
            UpdateAction::Delete(path("Tags"), "x".into()),
        ])
    );
    let functions = update(
        "set Price = if_not_exists(Price, :p), #ri = list_append(#ri, :vals), Stock = Stock - :one",
        &[("#ri", "RelatedItems")],
        &[(":p", "100"), (":vals", "Hammer"), (":one", "1")],
    );
    assert_eq!(
        functions,
        Ok(vec![
            UpdateAction::Set(
                path("Price"),
                SetValue::Operand(UpdateOperand::IfNotExists(
                    path("Price"),
                    Box::new(UpdateOperand::Value(100.into()))
                ))
            ),
            UpdateAction::Set(
                path("RelatedItems"),
                SetValue::Operand(UpdateOperand::ListAppend(
                    Box::new(UpdateOperand::Path(path("RelatedItems"))),
                    Box::new(UpdateOperand::Value("Hammer".into()))
                ))
            ),
            UpdateAction::Set(
                path("Stock"),
                SetValue::Minus(UpdateOperand::Path(path("Stock")), UpdateOperand::Value(1.into()))
            ),
        ])
    );
}

#[test]
fn projections_and_key_conditions_parse() {
    let (names, values) = maps(
        &[("#d", "Description")],
        &[(":pk", "User123"), (":lo", "10"), (":hi", "20")],
    );
    let mut placeholders = Placeholders::new(&names, &values);
    let paths = parse_projection("Title, #d, RelatedItems[0], ProductReviews.FiveStar", &mut placeholders).unwrap();
    assert_eq!(
        paths,
        [
            path("Title"),
            path("Description"),
            path("RelatedItems[0]"),
            path("ProductReviews.FiveStar")
        ]
    );
    let tests = parse_key_condition("pk = :pk AND sk BETWEEN :lo AND :hi", &mut placeholders).unwrap();
    assert_eq!(
        tests,
        [
            KeyTest {
                attribute: "pk".into(),
                comparison: SortKeyCondition::Eq("User123".into())
            },
            KeyTest {
                attribute: "sk".into(),
                comparison: SortKeyCondition::Between(10.into(), 20.into())
            },
        ]
    );
    placeholders.finish().unwrap();
    let (names, values) = maps(&[], &[(":pk", "User123"), (":p", "Order#")]);
    let mut placeholders = Placeholders::new(&names, &values);
    let tests = parse_key_condition("begins_with(sk, :p) and pk = :pk", &mut placeholders).unwrap();
    assert_eq!(tests[0].comparison, SortKeyCondition::BeginsWith("Order#".into()));
    assert_eq!(tests[1].attribute, "pk");
}

/// Each refusal and DynamoDB's message for it.
#[test]
fn every_refusal_carries_dynamodbs_message() {
    let v = [(":v", "1")];
    let cases: Vec<(Result<Condition, String>, &str)> = vec![
        (
            condition("", &[], &[]),
            "Invalid ConditionExpression: The expression can not be empty;",
        ),
        (
            condition("   ", &[], &[]),
            "Invalid ConditionExpression: The expression can not be empty;",
        ),
        (
            condition("a = = :v", &[], &v),
            "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = :v\"",
        ),
        (
            condition("a =", &[], &[]),
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"",
        ),
        (
            condition("a = :v b", &[], &v),
            "Invalid ConditionExpression: Syntax error; token: \"b\", near: \":v b\"",
        ),
        (
            condition("status = :v", &[], &v),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
        ),
        (
            condition("#s = :v", &[], &v),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #s",
        ),
        (
            condition("a = :w", &[], &[]),
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :w",
        ),
        (
            condition("a = :v", &[("#unused", "x")], &v),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
        ),
        (
            condition("a = :v", &[], &[(":v", "1"), (":b", "2"), (":a", "3")]),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}",
        ),
        (
            condition("exists(a)", &[], &[]),
            "Invalid ConditionExpression: Invalid function name; function: exists",
        ),
        (
            condition("attribute_exists(a, b)", &[], &[]),
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
        (
            condition("attribute_exists(:v)", &[], &v),
            "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists",
        ),
        (
            condition("begins_with(a, :v)", &[], &v),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: NUMBER",
        ),
        (
            condition("a = :v;", &[], &v),
            "Invalid ConditionExpression: Syntax error; token: \";\", near: \":v;\"",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.as_ref().map_err(String::as_str), Err(message));
    }
    let long = format!("a = :v{}", " ".repeat(4096));
    assert_eq!(
        condition(&long, &[], &v).unwrap_err(),
        format!(
            "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: {}",
            long.len()
        )
    );
    let many: Vec<String> = (0..101).map(|_| ":v".to_owned()).collect();
    assert_eq!(
        condition(&format!("a IN ({})", many.join(", ")), &[], &v).unwrap_err(),
        "Invalid ConditionExpression: Too many operands for the IN operator; number of operands: 101, maximum allowed: 100"
    );
    let operators: Vec<String> = (0..151).map(|_| "a = :v".to_owned()).collect();
    assert!(
        condition(&operators.join(" AND "), &[], &v).unwrap_err().starts_with(
            "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
        )
    );
    let update_cases = [
        (
            update("SET a = :v SET b = :v", &[], &v),
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
        ),
        (
            update("REMOVE a remove b", &[], &[]),
            "Invalid UpdateExpression: The \"REMOVE\" section can only be used once in an update expression;",
        ),
        (
            update("INVALID SYNTAX HERE", &[], &[]),
            "Invalid UpdateExpression: Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\"",
        ),
        (
            update("SET a = :v +", &[], &v),
            "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"+\"",
        ),
        (
            update("SET a = if_not_exists(:v, a)", &[], &v),
            "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            update("SET a = list_append(a)", &[], &[]),
            "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1",
        ),
        (
            update("SET a = size(a)", &[], &[]),
            "Invalid UpdateExpression: Invalid function name; function: size",
        ),
        (
            update("ADD a b", &[], &[]),
            "Invalid UpdateExpression: Syntax error; token: \"b\", near: \"a b\"",
        ),
    ];
    for (result, message) in update_cases {
        assert_eq!(result.as_ref().map(|_| ()).map_err(String::as_str), Err(message));
    }
    let (names, values) = maps(&[], &[(":v", "1")]);
    for (source, operator) in [
        ("pk = :v OR sk = :v", "OR"),
        ("NOT pk = :v", "NOT"),
        ("pk IN (:v)", "IN"),
        ("pk <> :v", "<>"),
        ("attribute_exists(pk)", "attribute_exists"),
    ] {
        let error = parse_key_condition(source, &mut Placeholders::new(&names, &values)).unwrap_err();
        assert_eq!(
            error,
            ExpressionError::KeyConditionOperator {
                operator: operator.to_owned()
            },
            "{source}"
        );
        assert_eq!(
            error.to_string(),
            format!("Invalid operator used in KeyConditionExpression: {operator}")
        );
    }
}

fn name() -> impl Strategy<Value = String> {
    // Reserved words too: a printed tree names every attribute by placeholder.
    prop_oneof![
        Just("status".to_owned()),
        Just("a".to_owned()),
        "[A-Za-z_][A-Za-z0-9_]{0,6}"
    ]
}

fn path_strategy() -> impl Strategy<Value = Path> {
    (
        name(),
        proptest::collection::vec(
            prop_oneof![
                name().prop_map(PathElement::Name),
                (0usize..20).prop_map(PathElement::Index)
            ],
            0..3,
        ),
    )
        .prop_map(|(first, rest)| {
            let mut elements = vec![PathElement::Name(first)];
            elements.extend(rest);
            Path::from_elements(elements).unwrap()
        })
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        path_strategy().prop_map(Operand::Path),
        common::value().prop_map(Operand::Value),
        path_strategy().prop_map(Operand::Size),
    ]
}

fn comparator() -> impl Strategy<Value = Comparator> {
    prop_oneof![
        Just(Comparator::Eq),
        Just(Comparator::Ne),
        Just(Comparator::Lt),
        Just(Comparator::Le),
        Just(Comparator::Gt),
        Just(Comparator::Ge)
    ]
}

fn leaf() -> impl Strategy<Value = Condition> {
    let string_or_path = prop_oneof![
        ".{0,6}".prop_map(|s: String| Operand::Value(AttributeValue::S(s))),
        path_strategy().prop_map(Operand::Path),
    ];
    let attribute_type = prop_oneof![
        Just(AttributeType::S),
        Just(AttributeType::N),
        Just(AttributeType::Bool),
        Just(AttributeType::M),
        Just(AttributeType::Ns)
    ];
    prop_oneof![
        (operand(), comparator(), operand()).prop_map(|(a, c, b)| Condition::Compare(a, c, b)),
        (operand(), operand(), operand()).prop_map(|(a, b, c)| Condition::Between(a, b, c)),
        (operand(), proptest::collection::vec(operand(), 1..5)).prop_map(|(a, list)| Condition::In(a, list)),
        path_strategy().prop_map(Condition::AttributeExists),
        path_strategy().prop_map(Condition::AttributeNotExists),
        (path_strategy(), attribute_type).prop_map(|(p, t)| Condition::AttributeType(p, t)),
        (operand(), string_or_path).prop_map(|(a, b)| Condition::BeginsWith(a, b)),
        (operand(), operand()).prop_map(|(a, b)| Condition::Contains(a, b)),
    ]
}

fn condition_tree() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(|a| Condition::Not(Box::new(a))),
        ]
    })
}

fn update_operand() -> impl Strategy<Value = UpdateOperand> {
    let simple = prop_oneof![
        path_strategy().prop_map(UpdateOperand::Path),
        common::value().prop_map(UpdateOperand::Value),
    ];
    simple.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (path_strategy(), inner.clone()).prop_map(|(p, o)| UpdateOperand::IfNotExists(p, Box::new(o))),
            (inner.clone(), inner).prop_map(|(a, b)| UpdateOperand::ListAppend(Box::new(a), Box::new(b))),
        ]
    })
}

fn action() -> impl Strategy<Value = UpdateAction> {
    let set_value = prop_oneof![
        update_operand().prop_map(SetValue::Operand),
        (update_operand(), update_operand()).prop_map(|(a, b)| SetValue::Plus(a, b)),
        (update_operand(), update_operand()).prop_map(|(a, b)| SetValue::Minus(a, b)),
    ];
    prop_oneof![
        (path_strategy(), set_value).prop_map(|(p, v)| UpdateAction::Set(p, v)),
        path_strategy().prop_map(UpdateAction::Remove),
        (path_strategy(), common::value()).prop_map(|(p, v)| UpdateAction::Add(p, v)),
        (path_strategy(), common::value()).prop_map(|(p, v)| UpdateAction::Delete(p, v)),
    ]
}

/// Actions grouped by clause, as an update expression keeps them (the order of clauses
/// is the order their kinds first appear).
fn grouped(actions: Vec<UpdateAction>) -> Vec<UpdateAction> {
    let clause = |action: &UpdateAction| match action {
        UpdateAction::Set(..) => 0,
        UpdateAction::Remove(_) => 1,
        UpdateAction::Add(..) => 2,
        UpdateAction::Delete(..) => 3,
    };
    let mut order: Vec<usize> = Vec::new();
    for action in &actions {
        if !order.contains(&clause(action)) {
            order.push(clause(action));
        }
    }
    order
        .into_iter()
        .flat_map(|c| {
            actions
                .iter()
                .filter(move |a| clause(a) == c)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// No string makes any parser panic; each returns a tree or an error.
    #[test]
    fn random_strings_never_panic(source in "[ a-zA-Z_#:,.()\\[\\]0-9=<>+-]{0,60}|.{0,40}") {
        let (names, values) = maps(&[("#a", "a")], &[(":v", "1")]);
        let _ = parse_condition(ExpressionKind::Filter, &source, &mut Placeholders::new(&names, &values));
        let _ = parse_update(&source, &mut Placeholders::new(&names, &values));
        let _ = parse_projection(&source, &mut Placeholders::new(&names, &values));
        let _ = parse_key_condition(&source, &mut Placeholders::new(&names, &values));
    }

    /// A condition written as a string (every name and value a placeholder) parses back
    /// to itself, using every placeholder.
    #[test]
    fn printed_conditions_parse_back_to_themselves(tree in condition_tree()) {
        let printed = print_condition(&tree);
        let mut placeholders = Placeholders::new(&printed.names, &printed.values);
        let parsed = parse_condition(ExpressionKind::Condition, &printed.expression, &mut placeholders);
        prop_assert_eq!(parsed.as_ref(), Ok(&tree), "{}", printed.expression);
        prop_assert_eq!(placeholders.finish(), Ok(()));
    }

    /// Update actions written as an expression parse back to themselves, grouped by clause.
    #[test]
    fn printed_updates_parse_back_to_themselves(actions in proptest::collection::vec(action(), 1..6)) {
        let printed = print_update(&actions);
        let mut placeholders = Placeholders::new(&printed.names, &printed.values);
        let parsed = parse_update(&printed.expression, &mut placeholders);
        prop_assert_eq!(parsed, Ok(grouped(actions)), "{}", printed.expression);
        prop_assert_eq!(placeholders.finish(), Ok(()));
    }
}

mod operations {
    //! The item operations take expression strings as DynamoDB's API does.

    use super::common::{order_key, orders_schema};
    use dynastore_engine::expr::parse::ExpressionError;
    use dynastore_engine::{
        AttributeValue, Database, DeleteItemInput, Error, GetItemInput, Item, Options, PutItemInput, QueryInput,
        ReturnValues, ScanInput, UpdateItemInput,
    };
    use std::collections::HashMap;

    fn db() -> Database {
        let fs = dynastore_wal::fs::FaultyFs::new().shared();
        let db = Database::open(fs, "/data", Options::default()).unwrap();
        db.create_table(orders_schema("Orders")).unwrap();
        db
    }

    fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn values(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn get(db: &Database) -> Option<Item> {
        db.get_item(GetItemInput::new("Orders", order_key("User123", 1)))
            .unwrap()
            .item
    }

    fn create_only(item: Item) -> PutItemInput {
        let mut put = PutItemInput::new("Orders", item);
        put.condition_expression = Some("attribute_not_exists(pk)".into());
        put
    }

    fn counter_update() -> UpdateItemInput {
        let mut update = UpdateItemInput::new("Orders", order_key("User123", 1), vec![]);
        update.update_expression = Some("SET #n = if_not_exists(#n, :zero) + :one ADD tags :t REMOVE gone".into());
        update.expression_attribute_names = names(&[("#n", "count")]);
        update.expression_attribute_values = values(&[
            (":zero", 0.into()),
            (":one", 1.into()),
            (":t", AttributeValue::Ss(vec!["a".into()])),
        ]);
        update.return_values = ReturnValues::UpdatedNew;
        update
    }

    #[test]
    fn puts_updates_deletes_and_gets_take_expression_strings() {
        let db = db();
        let item = order_key("User123", 1).with("gone", "x");
        db.put_item(create_only(item.clone())).unwrap();
        let again = db.put_item(create_only(order_key("User123", 1).with("other", 1)));
        assert!(matches!(again, Err(Error::ConditionalCheckFailed { .. })), "{again:?}");
        assert_eq!(get(&db), Some(item));

        for expected in 1..=3i64 {
            let output = db.update_item(counter_update()).unwrap();
            assert_eq!(
                output.attributes.and_then(|a| a.get("count").cloned()),
                Some(AttributeValue::from(expected))
            );
        }
        let updated = get(&db).unwrap();
        assert_eq!(updated.get("count"), Some(&AttributeValue::from(3)));
        assert_eq!(updated.get("gone"), None);

        let mut projected = GetItemInput::new("Orders", order_key("User123", 1));
        projected.projection_expression = Some("#n, tags".into());
        projected.expression_attribute_names = names(&[("#n", "count")]);
        let item = db.get_item(projected).unwrap().item.unwrap();
        assert_eq!(item.len(), 2, "{item:?}");

        let delete_if = |count: i64| {
            let mut delete = DeleteItemInput::new("Orders", order_key("User123", 1));
            delete.condition_expression = Some("#n = :c".into());
            delete.expression_attribute_names = names(&[("#n", "count")]);
            delete.expression_attribute_values = values(&[(":c", count.into())]);
            db.delete_item(delete)
        };
        assert!(matches!(delete_if(2), Err(Error::ConditionalCheckFailed { .. })));
        assert!(get(&db).is_some());
        delete_if(3).unwrap();
        assert_eq!(get(&db), None);
    }

    /// A refused expression is a ValidationException with DynamoDB's message, checked
    /// before the table is looked up, and nothing is written.
    #[test]
    fn a_refused_expression_changes_nothing() {
        let db = db();
        db.put_item(PutItemInput::new("Orders", order_key("User123", 1).with("count", 7)))
            .unwrap();
        let before = get(&db);
        let mut malformed = counter_update();
        malformed.update_expression = Some("SET count = count + :one".into());
        let mut both = counter_update();
        both.actions = vec![dynastore_engine::UpdateAction::Remove(
            dynastore_engine::Path::attribute("x"),
        )];
        let mut unused = counter_update();
        unused.expression_attribute_values.insert(":extra".into(), 1.into());
        let mut no_table = counter_update();
        no_table.table_name = "Missing".into();
        no_table.update_expression = Some("SET a = = :one".into());
        let mut without = PutItemInput::new("Orders", order_key("User123", 1));
        without.expression_attribute_values = values(&[(":v", 1.into())]);
        let cases: Vec<(Result<(), Error>, &str)> = vec![
            (
                db.update_item(malformed).map(|_| ()),
                "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: count",
            ),
            (
                db.update_item(both).map(|_| ()),
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {actions} Expression parameters: {UpdateExpression}",
            ),
            (
                db.update_item(unused).map(|_| ()),
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {:extra}",
            ),
            (
                db.update_item(no_table).map(|_| ()),
                "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"= = :one\"",
            ),
            (
                db.put_item(without).map(|_| ()),
                "ExpressionAttributeValues can only be specified when using expressions",
            ),
        ];
        for (result, message) in cases {
            let error = result.unwrap_err();
            assert!(matches!(error, Error::Expression(_)), "{error:?}");
            assert_eq!(error.exception_name(), "ValidationException");
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(get(&db), before);
        let mut names_alone = GetItemInput::new("Orders", order_key("User123", 1));
        names_alone.expression_attribute_names = names(&[("#n", "count")]);
        assert!(matches!(
            db.get_item(names_alone),
            Err(Error::Expression(ExpressionError::NamesWithoutExpression))
        ));
    }

    fn load(db: &Database) {
        for sk in 1..=10i64 {
            let item = order_key("User123", sk).with("count", sk * 10).with("note", "n");
            db.put_item(PutItemInput::new("Orders", item)).unwrap();
        }
        db.put_item(PutItemInput::new("Orders", order_key("Other", 1))).unwrap();
    }

    fn key_query(expression: &str, pairs: &[(&str, AttributeValue)]) -> QueryInput {
        let mut query = QueryInput::with_key_condition("Orders", expression);
        query.expression_attribute_values = values(pairs);
        query
    }

    #[test]
    fn queries_and_scans_take_key_condition_filter_and_projection_expressions() {
        let db = db();
        load(&db);
        let mut query = key_query(
            "pk = :pk AND sk BETWEEN :lo AND :hi",
            &[
                (":pk", "User123".into()),
                (":lo", 3.into()),
                (":hi", 8.into()),
                (":min", 50.into()),
            ],
        );
        query.filter_expression = Some("#n > :min".into());
        query.projection_expression = Some("sk, #n".into());
        query.expression_attribute_names = names(&[("#n", "count")]);
        let page = db.query(query).unwrap();
        let sort_keys: Vec<AttributeValue> = page.items.iter().filter_map(|item| item.get("sk").cloned()).collect();
        assert_eq!(sort_keys, [6i64, 7, 8].map(AttributeValue::from));
        assert!(
            page.items
                .iter()
                .all(|item| item.len() == 2 && item.get("note").is_none())
        );

        let mut scan = ScanInput::new("Orders");
        scan.filter_expression = Some("attribute_not_exists(#n) OR #n = :ten".into());
        scan.expression_attribute_names = names(&[("#n", "count")]);
        scan.expression_attribute_values = values(&[(":ten", 10.into())]);
        let scanned = db.scan(scan).unwrap();
        assert_eq!(scanned.items.len(), 2, "{:?}", scanned.items);
    }

    #[test]
    fn a_key_condition_must_test_the_keys_as_dynamodb_allows() {
        let db = db();
        load(&db);
        let pk = || (":pk", AttributeValue::from("User123"));
        let v = || (":v", AttributeValue::from(1));
        let cases = [
            (
                key_query("sk = :v", &[v()]),
                "Query condition missed key schema element: pk",
            ),
            (
                key_query("pk = :pk AND note = :v", &[pk(), v()]),
                "Query key condition not supported",
            ),
            (key_query("pk > :pk", &[pk()]), "Query key condition not supported"),
            (
                key_query("pk = :pk AND sk > :v AND sk < :v", &[pk(), v()]),
                "KeyConditionExpressions must only contain one condition per key",
            ),
            (
                key_query("pk = :pk OR sk = :v", &[pk(), v()]),
                "Invalid operator used in KeyConditionExpression: OR",
            ),
        ];
        for (query, message) in cases {
            let error = db.query(query).unwrap_err();
            assert_eq!(error.exception_name(), "ValidationException");
            assert_eq!(error.to_string(), message);
        }
        let mut neither = key_query("pk = :pk", &[]);
        neither.key_condition_expression = None;
        assert_eq!(
            db.query(neither).unwrap_err().to_string(),
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
        );
    }

    #[test]
    fn a_batch_get_takes_a_projection_expression_per_table() {
        let db = db();
        load(&db);
        let mut request =
            dynastore_engine::KeysAndAttributes::new(vec![order_key("User123", 1), order_key("User123", 2)]);
        request.projection_expression = Some("sk, #n".into());
        request.expression_attribute_names = names(&[("#n", "count")]);
        let mut input = dynastore_engine::BatchGetInput::default();
        input.request_items.insert("Orders".into(), request);
        let output = db.batch_get(input).unwrap();
        let items = &output.responses["Orders"];
        assert_eq!(items.len(), 2);
        assert!(
            items.iter().all(|item| item.len() == 2 && item.get("note").is_none()),
            "{items:?}"
        );
        let mut refused = dynastore_engine::KeysAndAttributes::new(vec![order_key("User123", 1)]);
        refused.projection_expression = Some("sk, #unknown".into());
        let mut input = dynastore_engine::BatchGetInput::default();
        input.request_items.insert("Orders".into(), refused);
        assert_eq!(
            db.batch_get(input).unwrap_err().to_string(),
            "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #unknown"
        );
    }
}
