//! DynamoDB JSON, as the AWS CLI and SDKs write it, round-trips exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::value;
use dynastore_engine::item::{AttributeValue, Item, ValidationError};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

proptest! {
    #[test]
    fn values_round_trip_through_dynamodb_json(value in value()) {
        let json = value.to_json();
        prop_assert_eq!(AttributeValue::from_json(&json).unwrap(), value);
        // And through text, as a CLI user would paste it.
        let text = serde_json::to_string(&json).unwrap();
        prop_assert_eq!(AttributeValue::from_json(&serde_json::from_str(&text).unwrap()).unwrap(), AttributeValue::from_json(&json).unwrap());
    }
}

#[test]
fn an_item_reads_and_writes_as_the_cli_shows_it() {
    let text = r#"{"pk": {"S": "User123"}, "n": {"N": "42.50"}, "b": {"B": "AQI="}, "ok": {"BOOL": true},
        "nothing": {"NULL": true}, "tags": {"SS": ["a", "b"]}, "m": {"M": {"l": {"L": [{"N": "1e3"}]}}}}"#;
    let item = Item::from_json_str(text).unwrap();
    assert_eq!(item.get("b"), Some(&AttributeValue::B(vec![1, 2])));
    assert_eq!(
        item.to_json(),
        json!({"pk": {"S": "User123"}, "n": {"N": "42.5"}, "b": {"B": "AQI="}, "ok": {"BOOL": true},
            "nothing": {"NULL": true}, "tags": {"SS": ["a", "b"]}, "m": {"M": {"l": {"L": [{"N": "1000"}]}}}})
    );
}

#[test]
fn malformed_attribute_values_are_refused_with_dynamodbs_messages() {
    let reason = |json: serde_json::Value| match AttributeValue::from_json(&json) {
        Err(ValidationError::MalformedAttributeValue { reason }) => reason,
        other => panic!("{json}: {other:?}"),
    };
    assert_eq!(
        reason(json!({})),
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    );
    assert_eq!(
        reason(json!({"S": "a", "N": "1"})),
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    );
    assert_eq!(
        reason(json!({"NULL": false})),
        "Null attribute value types must have the value of true"
    );
    assert!(reason(json!({"X": "a"})).contains("Unknown attribute value type X"));
    assert!(reason(json!({"S": 5})).contains("Expected a string"));
    assert!(reason(json!({"B": "not base64!"})).contains("base64"));
    assert!(reason(json!({"L": {}})).contains("Expected a list"));
    assert!(reason(json!("bare")).contains("Expected an attribute value object"));
    assert!(matches!(
        Item::from_json_str("{not json"),
        Err(ValidationError::MalformedAttributeValue { .. })
    ));
}

#[test]
fn maps_keep_every_name() {
    let map = BTreeMap::from([
        ("a".to_owned(), AttributeValue::from(1)),
        ("b".to_owned(), AttributeValue::Null),
    ]);
    let value = AttributeValue::M(map);
    assert_eq!(value.to_json(), json!({"M": {"a": {"N": "1"}, "b": {"NULL": true}}}));
}
