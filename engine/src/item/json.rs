//! DynamoDB JSON: items as the AWS CLI and SDKs write them,
//! `{"pk": {"S": "User123"}, "n": {"N": "42"}, "b": {"B": "AQI="}}`.
//!
//! Binary values are base64 (standard alphabet, padded). Numbers travel as strings.

use super::number::Number;
use super::validate::ValidationError;
use super::value::{AttributeType, AttributeValue, Item};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Encodes bytes as standard, padded base64.
pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn malformed(reason: impl Into<String>) -> ValidationError {
    ValidationError::MalformedAttributeValue { reason: reason.into() }
}

fn expect_str<'a>(value: &'a Value, descriptor: &str) -> Result<&'a str, ValidationError> {
    value.as_str().ok_or_else(|| {
        malformed(format!(
            "Expected a string for attribute value type {descriptor}, got {value}"
        ))
    })
}

fn expect_array<'a>(value: &'a Value, descriptor: &str) -> Result<&'a Vec<Value>, ValidationError> {
    value.as_array().ok_or_else(|| {
        malformed(format!(
            "Expected a list for attribute value type {descriptor}, got {value}"
        ))
    })
}

fn decode_base64(text: &str) -> Result<Vec<u8>, ValidationError> {
    STANDARD
        .decode(text)
        .map_err(|e| malformed(format!("Invalid base64 in a binary attribute value: {e}")))
}

impl AttributeValue {
    /// Reads a value from DynamoDB JSON: an object with exactly one type descriptor.
    ///
    /// Errors: [`ValidationError::MalformedAttributeValue`] (no descriptor, several, an
    /// unknown one, a value of the wrong JSON type, `NULL` not `true`, bad base64),
    /// [`ValidationError::InvalidNumber`]. Sets are not checked here (see
    /// [`super::validate_value`]).
    pub fn from_json(json: &Value) -> Result<AttributeValue, ValidationError> {
        let object = json
            .as_object()
            .ok_or_else(|| malformed(format!("Expected an attribute value object, got {json}")))?;
        let mut entries = object.iter();
        let (descriptor, inner) = match (entries.next(), entries.next()) {
            (None, _) => {
                return Err(malformed(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ));
            }
            (Some(entry), None) => entry,
            (Some(_), Some(_)) => {
                return Err(malformed(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ));
            }
        };
        let attribute_type = AttributeType::from_descriptor(descriptor)
            .ok_or_else(|| malformed(format!("Unknown attribute value type {descriptor}")))?;
        Ok(match attribute_type {
            AttributeType::S => AttributeValue::S(expect_str(inner, descriptor)?.to_owned()),
            AttributeType::N => AttributeValue::N(expect_str(inner, descriptor)?.parse::<Number>()?),
            AttributeType::B => AttributeValue::B(decode_base64(expect_str(inner, descriptor)?)?),
            AttributeType::Bool => AttributeValue::Bool(
                inner
                    .as_bool()
                    .ok_or_else(|| malformed(format!("Expected true or false for BOOL, got {inner}")))?,
            ),
            AttributeType::Null => match inner {
                Value::Bool(true) => AttributeValue::Null,
                _ => {
                    return Err(malformed("Null attribute value types must have the value of true"));
                }
            },
            AttributeType::L => AttributeValue::L(
                expect_array(inner, descriptor)?
                    .iter()
                    .map(AttributeValue::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            AttributeType::M => AttributeValue::M(map_from_json(
                inner
                    .as_object()
                    .ok_or_else(|| malformed(format!("Expected an object for M, got {inner}")))?,
            )?),
            AttributeType::Ss => AttributeValue::Ss(
                expect_array(inner, descriptor)?
                    .iter()
                    .map(|v| expect_str(v, descriptor).map(str::to_owned))
                    .collect::<Result<_, _>>()?,
            ),
            AttributeType::Ns => AttributeValue::Ns(
                expect_array(inner, descriptor)?
                    .iter()
                    .map(|v| Ok(expect_str(v, descriptor)?.parse::<Number>()?))
                    .collect::<Result<_, ValidationError>>()?,
            ),
            AttributeType::Bs => AttributeValue::Bs(
                expect_array(inner, descriptor)?
                    .iter()
                    .map(|v| decode_base64(expect_str(v, descriptor)?))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Writes the value as DynamoDB JSON.
    pub fn to_json(&self) -> Value {
        let (descriptor, inner) = match self {
            AttributeValue::S(s) => ("S", Value::String(s.clone())),
            AttributeValue::N(n) => ("N", Value::String(n.to_string())),
            AttributeValue::B(b) => ("B", Value::String(base64_encode(b))),
            AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
            AttributeValue::Null => ("NULL", Value::Bool(true)),
            AttributeValue::L(list) => ("L", Value::Array(list.iter().map(AttributeValue::to_json).collect())),
            AttributeValue::M(map) => ("M", Value::Object(map_to_json(map.iter()))),
            AttributeValue::Ss(set) => ("SS", set.iter().cloned().map(Value::String).collect()),
            AttributeValue::Ns(set) => ("NS", set.iter().map(|n| Value::String(n.to_string())).collect()),
            AttributeValue::Bs(set) => ("BS", set.iter().map(|b| Value::String(base64_encode(b))).collect()),
        };
        let mut object = Map::new();
        object.insert(descriptor.to_owned(), inner);
        Value::Object(object)
    }
}

fn map_from_json(object: &Map<String, Value>) -> Result<BTreeMap<String, AttributeValue>, ValidationError> {
    object
        .iter()
        .map(|(name, value)| Ok((name.clone(), AttributeValue::from_json(value)?)))
        .collect()
}

fn map_to_json<'a>(map: impl Iterator<Item = (&'a String, &'a AttributeValue)>) -> Map<String, Value> {
    map.map(|(name, value)| (name.clone(), value.to_json())).collect()
}

impl Item {
    /// Reads an item from DynamoDB JSON (an object of attribute names to values).
    ///
    /// Errors: those of [`AttributeValue::from_json`].
    pub fn from_json(json: &Value) -> Result<Item, ValidationError> {
        let object = json
            .as_object()
            .ok_or_else(|| malformed(format!("Expected an item object, got {json}")))?;
        Ok(Item::from(map_from_json(object)?))
    }

    /// Parses DynamoDB JSON text into an item.
    ///
    /// Errors: [`ValidationError::MalformedAttributeValue`] for text that is not JSON, and
    /// those of [`Item::from_json`].
    pub fn from_json_str(text: &str) -> Result<Item, ValidationError> {
        let json: Value = serde_json::from_str(text).map_err(|e| malformed(format!("Invalid JSON: {e}")))?;
        Item::from_json(&json)
    }

    /// Writes the item as DynamoDB JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(map_to_json(self.iter()))
    }
}
