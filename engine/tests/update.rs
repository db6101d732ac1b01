//! UpdateItem: SET, REMOVE, ADD, DELETE on top-level and nested paths, return values,
//! conditions, and refusals that change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore_engine::{
    AttributeValue, Condition, Database, Error, GetItemInput, Item, Path, PutItemInput, ReturnValues, SetValue,
    UpdateAction, UpdateItemInput, UpdateOperand, ValidationError,
};
use serde_json::{Value, json};
use std::sync::Arc;

fn database() -> Database {
    common::database_with_hash_keyed_table("Things")
}

fn key() -> Item {
    Item::new().with("pk", "k")
}

fn path(text: &str) -> Path {
    Path::parse(text).unwrap()
}

fn value(json: Value) -> AttributeValue {
    AttributeValue::from_json(&json).unwrap()
}

fn set(text: &str, json: Value) -> UpdateAction {
    UpdateAction::Set(path(text), SetValue::from(value(json)))
}

fn seed(db: &Database) {
    let item = Item::from_json(&json!({
        "pk": {"S": "k"},
        "n": {"N": "10"},
        "list": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "d"}]},
        "map": {"M": {"x": {"N": "1"}, "inner": {"M": {"y": {"S": "deep"}}}}},
        "tags": {"SS": ["red", "blue"]}
    }))
    .unwrap();
    db.put_item(PutItemInput::new("Things", item)).unwrap();
}

fn update(db: &Database, actions: Vec<UpdateAction>) -> Result<Option<Item>, Error> {
    db.update_item(UpdateItemInput::new("Things", key(), actions))
        .map(|output| output.attributes)
}

fn current(db: &Database) -> Value {
    db.get_item(GetItemInput::new("Things", key()))
        .unwrap()
        .item
        .unwrap()
        .to_json()
}

#[test]
fn set_writes_top_level_nested_and_list_paths() {
    let db = database();
    seed(&db);
    update(
        &db,
        vec![
            set("fresh", json!({"S": "new"})),
            set("map.inner.z", json!({"BOOL": true})),
            set("list[1]", json!({"S": "B"})),
            set("list[99]", json!({"S": "appended"})),
        ],
    )
    .unwrap();
    let item = current(&db);
    assert_eq!(item["fresh"], json!({"S": "new"}));
    assert_eq!(item["map"]["M"]["inner"]["M"]["z"], json!({"BOOL": true}));
    assert_eq!(
        item["list"],
        json!({"L": [{"S": "a"}, {"S": "B"}, {"S": "c"}, {"S": "d"}, {"S": "appended"}]})
    );
}

#[test]
fn set_arithmetic_if_not_exists_and_list_append() {
    let db = database();
    seed(&db);
    let operand = |json: Value| UpdateOperand::Value(value(json));
    update(
        &db,
        vec![
            UpdateAction::Set(
                path("n"),
                SetValue::Plus(UpdateOperand::Path(path("n")), operand(json!({"N": "0.5"}))),
            ),
            UpdateAction::Set(
                path("m"),
                SetValue::Minus(UpdateOperand::Path(path("map.x")), operand(json!({"N": "3"}))),
            ),
            UpdateAction::Set(
                path("counter"),
                SetValue::Plus(
                    UpdateOperand::IfNotExists(path("counter"), Box::new(operand(json!({"N": "0"})))),
                    operand(json!({"N": "1"})),
                ),
            ),
            UpdateAction::Set(
                path("list"),
                SetValue::Operand(UpdateOperand::ListAppend(
                    Box::new(UpdateOperand::Path(path("list"))),
                    Box::new(operand(json!({"L": [{"S": "e"}]}))),
                )),
            ),
        ],
    )
    .unwrap();
    let item = current(&db);
    assert_eq!(item["n"], json!({"N": "10.5"}));
    assert_eq!(item["m"], json!({"N": "-2"}));
    assert_eq!(item["counter"], json!({"N": "1"}));
    assert_eq!(item["list"]["L"].as_array().unwrap().len(), 5);
}

#[test]
fn remove_shifts_list_elements_and_ignores_missing_paths() {
    let db = database();
    seed(&db);
    let remove = |text: &str| UpdateAction::Remove(path(text));
    update(
        &db,
        vec![remove("list[0]"), remove("list[2]"), remove("map.x"), remove("nothing")],
    )
    .unwrap();
    let item = current(&db);
    assert_eq!(
        item["list"],
        json!({"L": [{"S": "b"}, {"S": "d"}]}),
        "indexes refer to the original list"
    );
    assert_eq!(item["map"], json!({"M": {"inner": {"M": {"y": {"S": "deep"}}}}}));
}

#[test]
fn add_and_delete_work_on_numbers_and_sets() {
    let db = database();
    seed(&db);
    update(
        &db,
        vec![
            UpdateAction::Add(path("n"), value(json!({"N": "-15"}))),
            UpdateAction::Add(path("new_count"), value(json!({"N": "3"}))),
            UpdateAction::Add(path("tags"), value(json!({"SS": ["green", "red"]}))),
            UpdateAction::Delete(path("gone"), value(json!({"SS": ["x"]}))),
        ],
    )
    .unwrap();
    let item = current(&db);
    assert_eq!(item["n"], json!({"N": "-5"}));
    assert_eq!(item["new_count"], json!({"N": "3"}));
    assert_eq!(item["tags"], json!({"SS": ["red", "blue", "green"]}));
    update(
        &db,
        vec![UpdateAction::Delete(
            path("tags"),
            value(json!({"SS": ["red", "blue", "green"]})),
        )],
    )
    .unwrap();
    assert!(current(&db).get("tags").is_none(), "an emptied set disappears");
}

#[test]
fn an_update_of_a_missing_item_creates_it_with_its_key() {
    let db = database();
    update(&db, vec![UpdateAction::Add(path("visits"), value(json!({"N": "1"})))]).unwrap();
    assert_eq!(current(&db), json!({"pk": {"S": "k"}, "visits": {"N": "1"}}));
}

#[test]
fn return_values_follow_dynamodb() {
    let db = database();
    seed(&db);
    let with = |return_values, actions| {
        let mut input = UpdateItemInput::new("Things", key(), actions);
        input.return_values = return_values;
        db.update_item(input).unwrap().attributes.map(|i| i.to_json())
    };
    assert_eq!(with(ReturnValues::None, vec![set("a", json!({"N": "1"}))]), None);
    assert_eq!(
        with(ReturnValues::UpdatedOld, vec![set("a", json!({"N": "2"}))]),
        Some(json!({"a": {"N": "1"}}))
    );
    assert_eq!(
        with(ReturnValues::UpdatedNew, vec![set("map.inner.y", json!({"S": "new"}))]),
        Some(json!({"map": {"M": {"inner": {"M": {"y": {"S": "new"}}}}}}))
    );
    let all_new = with(ReturnValues::AllNew, vec![set("a", json!({"N": "3"}))]).unwrap();
    assert_eq!(all_new, current(&db));
    let all_old = with(ReturnValues::AllOld, vec![set("a", json!({"N": "4"}))]).unwrap();
    assert_eq!(all_old["a"], json!({"N": "3"}));
    assert_eq!(
        with(ReturnValues::UpdatedOld, vec![set("brand_new", json!({"N": "1"}))]),
        None,
        "nothing was there"
    );
}

fn refused(db: &Database, actions: Vec<UpdateAction>) -> String {
    let before = current(db);
    let message = match update(db, actions) {
        Err(Error::Validation(error)) => error.to_string(),
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(current(db), before, "a refused update changes nothing");
    message
}

#[test]
fn invalid_updates_are_refused_with_dynamodbs_messages_and_change_nothing() {
    let db = database();
    seed(&db);
    assert_eq!(
        refused(&db, vec![set("pk", json!({"S": "other"}))]),
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    );
    assert_eq!(
        refused(
            &db,
            vec![set("map", json!({"N": "1"})), UpdateAction::Remove(path("map.x"))]
        ),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [map], path two: [map, x]"
    );
    assert_eq!(
        refused(&db, vec![set("a", json!({"N": "1"})), UpdateAction::Remove(path("a"))]),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        refused(
            &db,
            vec![UpdateAction::Set(
                path("x"),
                SetValue::Operand(UpdateOperand::Path(path("missing")))
            )]
        ),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        refused(&db, vec![UpdateAction::Add(path("tags"), value(json!({"N": "1"})))]),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        refused(&db, vec![set("nothing.deeper", json!({"N": "1"}))]),
        "The document path provided in the update expression is invalid for update"
    );
    let big = "x".repeat(409_600);
    assert_eq!(
        refused(&db, vec![set("big", json!({"S": big}))]),
        "Item size to update has exceeded the maximum allowed size"
    );
    assert!(matches!(
        update(&db, vec![set("big", json!({"S": "x".repeat(409_600)}))]),
        Err(Error::Validation(ValidationError::UpdatedItemTooLarge { .. }))
    ));
}

#[test]
fn a_false_condition_fails_the_update() {
    let db = database();
    seed(&db);
    let mut input = UpdateItemInput::new("Things", key(), vec![set("n", json!({"N": "0"}))]);
    input.condition = Some(Condition::equals(path("n"), 11));
    assert!(matches!(
        db.update_item(input),
        Err(Error::ConditionalCheckFailed { .. })
    ));
    assert_eq!(current(&db)["n"], json!({"N": "10"}));
}

#[test]
fn puts_and_deletes_refuse_update_only_return_values() {
    let db = database();
    let mut put = PutItemInput::new("Things", key());
    put.return_values = ReturnValues::AllNew;
    assert!(
        matches!(db.put_item(put), Err(Error::Validation(ValidationError::InvalidParameter(m))) if m == "Return values set to invalid value")
    );
}

#[test]
fn concurrent_adds_land_exactly_once_each() {
    let db = Arc::new(database());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    update(&db, vec![UpdateAction::Add(path("count"), value(json!({"N": "1"})))]).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(current(&db)["count"], json!({"N": "400"}));
}

/// An update with no changes (DynamoDB's UpdateItem with neither `UpdateExpression` nor
/// `AttributeUpdates`) writes the key alone where there is no item, and leaves an item
/// that exists as it is; an empty expression string is still refused.
#[test]
fn an_update_without_changes_touches_the_key() {
    let db = database();
    assert_eq!(update(&db, vec![]).unwrap(), None);
    assert_eq!(current(&db), json!({"pk": {"S": "k"}}), "the key-only item");
    seed(&db);
    let before = current(&db);
    let mut all_new = UpdateItemInput::new("Things", key(), vec![]);
    all_new.return_values = dynastore_engine::ReturnValues::AllNew;
    let returned = db.update_item(all_new).unwrap().attributes.unwrap();
    assert_eq!(returned.to_json(), before);
    assert_eq!(current(&db), before, "an existing item is unchanged");
    let mut empty = UpdateItemInput::new("Things", key(), vec![]);
    empty.update_expression = Some(String::new());
    let error = db.update_item(empty).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Invalid UpdateExpression: The expression can not be empty;"
    );
    assert_eq!(current(&db), before);
}
