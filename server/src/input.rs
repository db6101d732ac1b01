//! Reading a request body: its fields by DynamoDB's names, each checked for its JSON type
//! (a wrong one is a `SerializationException`, as DynamoDB's framework words it), and the
//! constraint violations of the fields collected into one `ValidationException`.

use crate::error::{ApiError, constraint, validation_errors};
use dynastore::{AttributeValue, Item};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The fields of one JSON object of a request, and the constraint violations found so far.
#[derive(Debug)]
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// Where this object is in the request (`requestItems.Orders.member.1`), for messages.
    path: String,
    violations: Vec<String>,
}

/// What DynamoDB's framework says of a JSON value found where a `target` was expected.
fn type_error(value: &Value, target: &str) -> ApiError {
    let found = match value {
        Value::Bool(true) => "TRUE_VALUE cannot be converted to ".to_owned() + target,
        Value::Bool(false) => "FALSE_VALUE cannot be converted to ".to_owned() + target,
        Value::Number(n) if n.is_f64() => "DECIMAL_VALUE cannot be converted to ".to_owned() + target,
        Value::Number(_) => "NUMBER_VALUE cannot be converted to ".to_owned() + target,
        Value::String(_) => "STRING_VALUE cannot be converted to ".to_owned() + target,
        Value::Array(_) => format!("Unrecognized collection type class java.lang.{target}"),
        Value::Object(_) => "Start of structure or map found where not expected".to_owned(),
        Value::Null => "Unexpected null".to_owned(),
    };
    ApiError::Serialization(Some(found))
}

/// A structure's or map's JSON found as something else.
fn not_an_object(value: &Value) -> ApiError {
    ApiError::Serialization(Some(match value {
        Value::Array(_) => "Start of list found where not expected".to_owned(),
        _ => "Unexpected field type".to_owned(),
    }))
}

/// DynamoDB's parameter names start with a capital; its messages name them with a small one.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An attribute value from DynamoDB JSON, refused as a `ValidationException` with the
/// engine's (DynamoDB's) message.
pub fn attribute_value(json: &Value) -> Result<AttributeValue, ApiError> {
    AttributeValue::from_json(json).map_err(|error| ApiError::Engine(error.into()))
}

impl<'a> Fields<'a> {
    /// The fields of a request body, which must be a JSON object.
    ///
    /// Errors: [`ApiError::Serialization`] for any other JSON value.
    pub fn of_body(body: &'a Value) -> Result<Fields<'a>, ApiError> {
        match body {
            Value::Object(object) => Ok(Fields::at(object, String::new())),
            other => Err(not_an_object(other)),
        }
    }

    /// The fields of a structure nested in a map or list, at `path` for messages.
    ///
    /// Errors: [`ApiError::Serialization`] if `value` is not a JSON object.
    pub fn nested(value: &'a Value, path: String) -> Result<Fields<'a>, ApiError> {
        match value {
            Value::Object(object) => Ok(Fields::at(object, path)),
            other => Err(not_an_object(other)),
        }
    }

    fn at(object: &'a Map<String, Value>, path: String) -> Fields<'a> {
        Fields {
            object,
            path,
            violations: Vec::new(),
        }
    }

    /// The path of field `name` in messages: `tableName`, `keySchema.1.member.keyType`.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            lower_first(name)
        } else {
            format!("{}.{}", self.path, lower_first(name))
        }
    }

    /// Field `name`, absent when missing or JSON `null` (DynamoDB ignores nulls).
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|value| !value.is_null())
    }

    /// Whether field `name` is given (and not null).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A string field.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON string.
    pub fn string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(type_error(other, "String")),
        }
    }

    /// A boolean field.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON boolean.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(other) => Err(type_error(other, "Boolean")),
        }
    }

    /// An integer field (DynamoDB's `Integer` and `Long`); a fraction is cut off, as
    /// DynamoDB's framework does.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON number.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => Ok(Some(
                number
                    .as_i64()
                    .or_else(|| number.as_f64().map(|f| f.floor() as i64))
                    .unwrap_or(i64::MAX),
            )),
            Some(other) => Err(type_error(other, "Long")),
        }
    }

    /// A nested structure.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON object.
    pub fn structure(&self, name: &str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(Fields::at(object, self.path_of(name)))),
            Some(other) => Err(not_an_object(other)),
        }
    }

    /// A map field: its entries in the request's order.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON object.
    pub fn map(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object)),
            Some(other) => Err(not_an_object(other)),
        }
    }

    /// A list field.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON array.
    pub fn list(&self, name: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(Value::Object(_)) => Err(ApiError::Serialization(Some(
                "Start of structure or map found where not expected".into(),
            ))),
            Some(_) => Err(ApiError::Serialization(Some("Unexpected field type".into()))),
        }
    }

    /// Each element of a list of structures, with its path (`keySchema.1.member`).
    ///
    /// Errors: [`ApiError::Serialization`] if the field is not a list of JSON objects.
    pub fn structures(&self, name: &str) -> Result<Vec<Fields<'a>>, ApiError> {
        let Some(list) = self.list(name)? else {
            return Ok(Vec::new());
        };
        list.iter()
            .enumerate()
            .map(|(i, element)| match element {
                Value::Object(object) => Ok(Fields::at(object, format!("{}.{}.member", self.path_of(name), i + 1))),
                other => Err(not_an_object(other)),
            })
            .collect()
    }

    /// A list of strings.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON array of strings.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        list.iter()
            .map(|element| match element {
                Value::String(text) => Ok(text.clone()),
                other => Err(type_error(other, "String")),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// An item (a map of attribute names to DynamoDB JSON values): `Item`, `Key`,
    /// `ExclusiveStartKey`.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a JSON object; a
    /// `ValidationException` for a value that is not valid DynamoDB JSON.
    pub fn item(&self, name: &str) -> Result<Option<Item>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Item::from_json(value).map(Some).map_err(|e| ApiError::Engine(e.into())),
            Some(other) => Err(not_an_object(other)),
        }
    }

    /// One attribute value (DynamoDB JSON).
    ///
    /// Errors: a `ValidationException` for a value that is not valid DynamoDB JSON.
    pub fn attribute(&self, name: &str) -> Result<Option<AttributeValue>, ApiError> {
        self.get(name).map(attribute_value).transpose()
    }

    /// `ExpressionAttributeValues`: placeholders to attribute values.
    ///
    /// Errors: as [`Fields::item`].
    pub fn values(&self, name: &str) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let Some(map) = self.map(name)? else {
            return Ok(HashMap::new());
        };
        map.iter()
            .map(|(key, value)| Ok((key.clone(), attribute_value(value)?)))
            .collect()
    }

    /// `ExpressionAttributeNames`: placeholders to attribute names.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not an object of strings.
    pub fn names(&self, name: &str) -> Result<HashMap<String, String>, ApiError> {
        let Some(map) = self.map(name)? else {
            return Ok(HashMap::new());
        };
        map.iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key.clone(), text.clone())),
                other => Err(type_error(other, "String")),
            })
            .collect()
    }

    /// Notes a constraint violation of field `name` (its value as text, `None` for null).
    pub fn violation(&mut self, name: &str, value: Option<&str>, rule: &str) {
        let path = self.path_of(name);
        self.violations.push(constraint(value, &path, rule));
    }

    /// Notes that field `name` is missing, if it is (`Member must not be null`).
    pub fn require(&mut self, name: &str) {
        if self.get(name).is_none() {
            self.violation(name, None, "Member must not be null");
        }
    }

    /// `TableName`, required: its violations (pattern, 3 to 255 characters) noted.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a string.
    pub fn table_name(&mut self) -> Result<&'a str, ApiError> {
        let Some(name) = self.string("TableName")? else {
            self.require("TableName");
            return Ok("");
        };
        self.check_name("TableName", name);
        Ok(name)
    }

    /// An optional table or index name, `IndexName`: its violations noted as
    /// [`Fields::table_name`]'s are.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a string.
    pub fn name(&mut self, field: &str) -> Result<Option<&'a str>, ApiError> {
        let name = self.string(field)?;
        if let Some(name) = name {
            self.check_name(field, name);
        }
        Ok(name)
    }

    /// Notes the violations of a table or index name: the pattern `[a-zA-Z0-9_.-]+`, 3
    /// to 255 characters.
    fn check_name(&mut self, field: &str, name: &str) {
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) || name.is_empty() {
            self.violation(
                field,
                Some(name),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
        if name.chars().count() < 3 {
            self.violation(field, Some(name), "Member must have length greater than or equal to 3");
        }
        if name.chars().count() > 255 {
            self.violation(field, Some(name), "Member must have length less than or equal to 255");
        }
    }

    /// `AttributesToGet`: a list of names, at least one when given.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a list of strings.
    pub fn attributes_to_get(&mut self) -> Result<Option<Vec<String>>, ApiError> {
        let names = self.strings("AttributesToGet")?;
        if names.as_ref().is_some_and(Vec::is_empty) {
            self.violation(
                "AttributesToGet",
                Some("[]"),
                "Member must have length greater than or equal to 1",
            );
        }
        Ok(names)
    }

    /// Checks a string field against DynamoDB's enumeration of its values, and returns it.
    ///
    /// Errors: [`ApiError::Serialization`] if it is not a string.
    pub fn enumerated(&mut self, name: &str, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
        let value = self.string(name)?;
        if let Some(text) = value
            && !allowed.contains(&text)
        {
            let rule = format!("Member must satisfy enum value set: [{}]", allowed.join(", "));
            self.violation(name, Some(text), &rule);
        }
        Ok(value)
    }

    /// Takes the violations of a nested structure into this one's.
    pub fn absorb(&mut self, nested: Fields<'_>) {
        self.violations.extend(nested.violations);
    }

    /// The checks DynamoDB makes after the fields' types and before their attribute
    /// values: every constraint violation noted so far (one `ValidationException`
    /// listing them), then the rules for `expressions` beside the `legacy` parameters
    /// that do the same job: not both kinds, and no placeholders without an expression.
    ///
    /// Errors: [`ApiError::Validation`] with DynamoDB's message.
    pub fn check_parameters(&self, expressions: &[&str], legacy: &[&str]) -> Result<(), ApiError> {
        if !self.violations.is_empty() {
            return Err(validation_errors(&self.violations));
        }
        let given_expressions: Vec<&str> = expressions.iter().copied().filter(|name| self.has(name)).collect();
        if !given_expressions.is_empty() {
            // KeyConditions with a FilterExpression alone is refused later, by the engine.
            let key_conditions_alone = self.has("KeyConditions") && !self.has("KeyConditionExpression");
            let given_legacy: Vec<&str> = legacy
                .iter()
                .copied()
                .filter(|name| self.has(name) && !(key_conditions_alone && *name == "KeyConditions"))
                .collect();
            if !given_legacy.is_empty() {
                return Err(ApiError::Validation(format!(
                    "Can not use both expression and non-expression parameters in the same request: \
                     Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
                    given_legacy.join(", "),
                    given_expressions.join(", ")
                )));
            }
        }
        if self.has("ExpressionAttributeNames") && given_expressions.is_empty() {
            return Err(ApiError::Validation(
                "ExpressionAttributeNames can only be specified when using expressions".into(),
            ));
        }
        let value_expressions: Vec<&str> = expressions
            .iter()
            .copied()
            .filter(|name| *name != "ProjectionExpression")
            .collect();
        if !value_expressions.is_empty()
            && self.has("ExpressionAttributeValues")
            && value_expressions.iter().all(|name| !self.has(name))
        {
            let verb = if value_expressions.len() > 1 { "are" } else { "is" };
            return Err(ApiError::Validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
                value_expressions.join(" and ")
            )));
        }
        Ok(())
    }

    /// Ends the reading: one `ValidationException` listing every violation noted, if any.
    ///
    /// Errors: [`ApiError::Validation`] when something was noted.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(validation_errors(&self.violations))
        }
    }
}
