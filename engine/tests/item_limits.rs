//! Every limit of DynamoDB's data model, each with its own error and DynamoDB's message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_engine::item::validate::{ITEM_BYTES_MAX, NESTING_LEVELS_MAX};
use dynastore_engine::item::{
    AttributeType, AttributeValue, Item, KeyAttribute, KeySchema, NumberError, ScalarType, ValidationError,
    validate_item, validate_key,
};
use serde_json::json;
use std::collections::BTreeMap;

fn schema() -> KeySchema {
    KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    }
}

fn item(json: serde_json::Value) -> Item {
    Item::from_json(&json).unwrap()
}

fn check(json: serde_json::Value) -> Result<(), ValidationError> {
    validate_item(&item(json), &schema())
}

#[test]
fn size_follows_the_developer_guide_example() {
    let shirt = item(json!({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}}));
    assert_eq!(shirt.size_bytes(), 23);
    let nested = item(json!({"l": {"L": [{"S": "xy"}, {"NULL": true}]}, "m": {"M": {"ab": {"BOOL": false}}}}));
    // l: 1 + (3 + (2+1) + (1+1)) = 9; m: 1 + (3 + (2 + 1 + 1)) = 8.
    assert_eq!(nested.size_bytes(), 17);
    let sets = item(json!({"ss": {"SS": ["ab", "c"]}, "ns": {"NS": ["1", "-12.5"]}, "bs": {"BS": ["AQI="]}}));
    // ss: 2 + 3; ns: 2 + (2 + 4); bs: 2 + 2.
    assert_eq!(sets.size_bytes(), 17);
}

#[test]
fn item_of_exactly_400_kb_is_accepted_and_one_byte_more_is_refused() {
    let base = item(json!({"pk": {"S": "k"}, "sk": {"N": "1"}}));
    // pk: 2 + 1, sk: 2 + 2, and an attribute "x" of 1 + n bytes.
    let filler = ITEM_BYTES_MAX - base.size_bytes() - 1;
    let exact = base.clone().with("x", "y".repeat(filler));
    assert_eq!(exact.size_bytes(), 409_600);
    validate_item(&exact, &schema()).unwrap();
    let over = base.with("x", "y".repeat(filler + 1));
    assert_eq!(
        validate_item(&over, &schema()),
        Err(ValidationError::ItemTooLarge {
            size: 409_601,
            max: 409_600
        })
    );
    assert_eq!(
        validate_item(&over, &schema()).unwrap_err().to_string(),
        "Item size has exceeded the maximum allowed size"
    );
}

#[test]
fn missing_key_attribute_is_refused() {
    let error = check(json!({"sk": {"N": "1"}})).unwrap_err();
    assert_eq!(error, ValidationError::MissingKey { name: "pk".into() });
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Missing the key pk in the item"
    );
    assert_eq!(error.exception_name(), "ValidationException");
    assert!(matches!(check(json!({"pk": {"S": "a"}})), Err(ValidationError::MissingKey { name }) if name == "sk"));
}

#[test]
fn mistyped_key_attribute_is_refused() {
    let error = check(json!({"pk": {"S": "a"}, "sk": {"S": "1"}})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    );
    assert!(matches!(
        check(json!({"pk": {"N": "1"}, "sk": {"N": "1"}})),
        Err(ValidationError::KeyTypeMismatch { .. })
    ));
}

#[test]
fn empty_key_values_are_refused() {
    let error = check(json!({"pk": {"S": ""}, "sk": {"N": "1"}})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
    );
    let binary = KeySchema {
        partition_key: KeyAttribute::new("id", ScalarType::B),
        sort_key: None,
    };
    let error = validate_item(&item(json!({"id": {"B": ""}})), &binary).unwrap_err();
    assert_eq!(
        error,
        ValidationError::EmptyKey {
            name: "id".into(),
            binary: true
        }
    );
    assert!(
        error
            .to_string()
            .ends_with("cannot contain an empty binary value. Key: id")
    );
    // Empty strings are fine outside keys.
    check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "note": {"S": ""}, "b": {"B": ""}})).unwrap();
}

#[test]
fn key_size_limits_are_2048_and_1024_bytes() {
    let utf8 = |bytes: usize| "é".repeat(bytes / 2);
    check(json!({"pk": {"S": utf8(2048)}, "sk": {"N": "1"}})).unwrap();
    let error = check(json!({"pk": {"S": utf8(2050)}, "sk": {"N": "1"}})).unwrap_err();
    assert_eq!(
        error,
        ValidationError::PartitionKeyTooLarge {
            name: "pk".into(),
            size: 2050
        }
    );
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    );
    let string_sort = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::S)),
    };
    validate_item(
        &item(json!({"pk": {"S": "a"}, "sk": {"S": "x".repeat(1024)}})),
        &string_sort,
    )
    .unwrap();
    let error = validate_item(
        &item(json!({"pk": {"S": "a"}, "sk": {"S": "x".repeat(1025)}})),
        &string_sort,
    )
    .unwrap_err();
    assert_eq!(
        error,
        ValidationError::SortKeyTooLarge {
            name: "sk".into(),
            size: 1025
        }
    );
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    );
}

fn nested(levels: usize) -> AttributeValue {
    let mut value = AttributeValue::from("leaf");
    for i in 0..levels - 1 {
        value = if i % 2 == 0 {
            AttributeValue::M(BTreeMap::from([("n".to_owned(), value)]))
        } else {
            AttributeValue::L(vec![value])
        };
    }
    value
}

#[test]
fn nesting_of_32_levels_is_accepted_and_33_is_refused() {
    let base = item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}}));
    let deepest = nested(NESTING_LEVELS_MAX);
    assert_eq!(deepest.depth(), 32);
    validate_item(&base.clone().with("d", deepest), &schema()).unwrap();
    let error = validate_item(&base.with("d", nested(33)), &schema()).unwrap_err();
    assert_eq!(
        error,
        ValidationError::NestingTooDeep {
            attribute: "d".into(),
            depth: 33
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("Nesting Levels have exceeded supported limits")
    );
}

#[test]
fn empty_sets_are_refused_with_dynamodbs_messages() {
    for (set, message) in [
        (json!({"SS": []}), "An string set  may not be empty"),
        (json!({"NS": []}), "An number set  may not be empty"),
        (json!({"BS": []}), "Binary sets should not be empty"),
    ] {
        let error = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": set})).unwrap_err();
        assert!(matches!(error, ValidationError::EmptySet { .. }));
        assert_eq!(
            error.to_string(),
            format!("One or more parameter values were invalid: {message}")
        );
    }
    // Empty lists and maps are fine.
    check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "l": {"L": []}, "m": {"M": {}}})).unwrap();
}

#[test]
fn duplicate_set_elements_are_refused_including_equal_numbers_written_differently() {
    let error = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"SS": ["a", "a"]}})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
    );
    let error = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"NS": ["1", "1.0"]}})).unwrap_err();
    assert!(matches!(
        error,
        ValidationError::DuplicateInSet {
            set_type: AttributeType::Ns,
            ..
        }
    ));
    let error = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"BS": ["Yg==", "Yg=="]}})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS contains duplicates."
    );
    // Sets nested in maps and lists are checked too.
    let nested = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "m": {"M": {"x": {"L": [{"SS": []}]}}}}));
    assert!(matches!(nested, Err(ValidationError::EmptySet { .. })));
}

#[test]
fn invalid_numbers_are_refused_when_read() {
    for (text, expected) in [
        ("abc", NumberError::NotANumber("abc".into())),
        ("1".repeat(39).as_str(), NumberError::TooManyDigits),
        ("1e126", NumberError::Overflow),
        ("1e-131", NumberError::Underflow),
    ] {
        let error = Item::from_json(&json!({"n": {"N": text}})).unwrap_err();
        assert_eq!(error, ValidationError::InvalidNumber(expected));
    }
}

#[test]
fn keys_for_reads_must_match_the_schema_exactly() {
    let key = |json: serde_json::Value| validate_key(&item(json), &schema());
    key(json!({"pk": {"S": "a"}, "sk": {"N": "1"}})).unwrap();
    for bad in [
        json!({"pk": {"S": "a"}}),
        json!({"pk": {"S": "a"}, "sk": {"S": "1"}}),
        json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "extra": {"S": "x"}}),
        json!({"pk": {"S": "a"}, "other": {"N": "1"}}),
    ] {
        let error = key(bad.clone()).unwrap_err();
        assert_eq!(error, ValidationError::KeyDoesNotMatchSchema, "{bad}");
        assert_eq!(error.to_string(), "The provided key element does not match the schema");
    }
    assert!(matches!(
        key(json!({"pk": {"S": ""}, "sk": {"N": "1"}})),
        Err(ValidationError::EmptyKey { .. })
    ));
}

#[test]
fn empty_attribute_names_are_refused() {
    let error = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "": {"S": "x"}})).unwrap_err();
    assert_eq!(error, ValidationError::EmptyAttributeName);
    let nested = check(json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "m": {"M": {"": {"S": "x"}}}}));
    assert_eq!(nested, Err(ValidationError::EmptyAttributeName));
}
