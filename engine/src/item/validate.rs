//! The limits of DynamoDB's data model, checked before anything is written.
//!
//! Every violation has its own [`ValidationError`] variant whose message is the one
//! DynamoDB returns for it (its `ValidationException`).

use super::number::NumberError;
use super::value::{AttributeType, AttributeValue, Item};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashSet;
use std::fmt;

/// The largest item, in bytes as [`Item::size_bytes`] counts them (400 KB).
pub const ITEM_BYTES_MAX: usize = 409_600;
/// The largest partition key value, in bytes.
pub const PARTITION_KEY_BYTES_MAX: usize = 2048;
/// The largest sort key value, in bytes.
pub const SORT_KEY_BYTES_MAX: usize = 1024;
/// The deepest nesting, counting a top-level attribute as level 1.
pub const NESTING_LEVELS_MAX: usize = 32;
/// The longest attribute name, in UTF-8 bytes.
pub const ATTRIBUTE_NAME_BYTES_MAX: usize = 65_535;

/// The types a key attribute can have.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl ScalarType {
    /// The attribute type this scalar type is.
    pub fn attribute_type(self) -> AttributeType {
        match self {
            ScalarType::S => AttributeType::S,
            ScalarType::N => AttributeType::N,
            ScalarType::B => AttributeType::B,
        }
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.attribute_type().fmt(f)
    }
}

/// A key attribute: its name and type.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct KeyAttribute {
    /// The attribute's name.
    pub name: String,
    /// Its type.
    pub scalar_type: ScalarType,
}

impl KeyAttribute {
    /// A key attribute named `name` of type `scalar_type`.
    pub fn new(name: impl Into<String>, scalar_type: ScalarType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            scalar_type,
        }
    }
}

/// A table's primary key: a partition key and an optional sort key.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct KeySchema {
    /// The partition (hash) key.
    pub partition_key: KeyAttribute,
    /// The sort (range) key, if the table has one.
    pub sort_key: Option<KeyAttribute>,
}

/// Why an item, key or attribute value is not valid. The messages are DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// An item lacks a key attribute.
    #[error("One or more parameter values were invalid: Missing the key {name} in the item")]
    MissingKey {
        /// The key attribute's name.
        name: String,
    },
    /// A key attribute has the wrong type.
    #[error(
        "One or more parameter values were invalid: Type mismatch for key {name} expected: {expected} actual: {actual}"
    )]
    KeyTypeMismatch {
        /// The key attribute's name.
        name: String,
        /// The type the schema declares.
        expected: ScalarType,
        /// The type given.
        actual: AttributeType,
    },
    /// A key attribute is an empty string or empty binary.
    #[error(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
        if *.binary { "binary" } else { "string" }
    )]
    EmptyKey {
        /// The key attribute's name.
        name: String,
        /// Whether it is binary (else a string).
        binary: bool,
    },
    /// A partition key value over 2048 bytes (DynamoDB's message has no space before the
    /// number).
    #[error(
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    )]
    PartitionKeyTooLarge {
        /// The key attribute's name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// A sort key value over 1024 bytes.
    #[error(
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    )]
    SortKeyTooLarge {
        /// The key attribute's name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// A key given to a read or delete has missing, extra or mistyped attributes.
    #[error("The provided key element does not match the schema")]
    KeyDoesNotMatchSchema,
    /// An item over 400 KB.
    #[error("Item size has exceeded the maximum allowed size")]
    ItemTooLarge {
        /// The item's size in bytes.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// An update would make the item larger than 400 KB.
    #[error("Item size to update has exceeded the maximum allowed size")]
    UpdatedItemTooLarge {
        /// The updated item's size in bytes.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Lists and maps nested more than 32 levels deep.
    #[error(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    )]
    NestingTooDeep {
        /// The top-level attribute holding the deep value.
        attribute: String,
        /// Its depth.
        depth: usize,
    },
    /// An empty SS, NS or BS.
    #[error("One or more parameter values were invalid: {}", empty_set_message(*.set_type))]
    EmptySet {
        /// The set's type.
        set_type: AttributeType,
    },
    /// A set with the same element twice (for NS, the same numeric value).
    #[error("One or more parameter values were invalid: {}", duplicate_message(*.set_type, .elements))]
    DuplicateInSet {
        /// The set's type.
        set_type: AttributeType,
        /// The set's elements as DynamoDB prints them.
        elements: Vec<String>,
    },
    /// An attribute name that is empty.
    #[error("One or more parameter values were invalid: An attribute name must not be empty")]
    EmptyAttributeName,
    /// An attribute name over 65,535 bytes.
    #[error("One or more parameter values were invalid: An attribute name is longer than 65535 bytes")]
    AttributeNameTooLong {
        /// The name's length in bytes.
        size: usize,
    },
    /// A number that is not valid.
    #[error("{0}")]
    InvalidNumber(#[from] NumberError),
    /// A request parameter that is not valid; the message is DynamoDB's.
    #[error("{0}")]
    InvalidParameter(String),
    /// DynamoDB JSON that is not a valid attribute value.
    #[error("{reason}")]
    MalformedAttributeValue {
        /// DynamoDB's description of what is wrong.
        reason: String,
    },
}

impl ValidationError {
    /// The name of DynamoDB's exception for this error.
    pub fn exception_name(&self) -> &'static str {
        "ValidationException"
    }
}

fn empty_set_message(set_type: AttributeType) -> &'static str {
    match set_type {
        AttributeType::Ns => "An number set  may not be empty",
        AttributeType::Bs => "Binary sets should not be empty",
        _ => "An string set  may not be empty",
    }
}

fn duplicate_message(set_type: AttributeType, elements: &[String]) -> String {
    let listed = elements.join(", ");
    match set_type {
        AttributeType::Ns => "Input collection contains duplicates".to_owned(),
        AttributeType::Bs => format!("Input collection [{listed}]of type BS contains duplicates."),
        _ => format!("Input collection [{listed}] contains duplicates."),
    }
}

/// Checks an attribute value: sets non-empty and without duplicates, at every depth.
/// (Numbers are valid by construction; nesting is checked per top-level attribute.)
pub fn validate_value(value: &AttributeValue) -> Result<(), ValidationError> {
    match value {
        AttributeValue::L(list) => list.iter().try_for_each(validate_value),
        AttributeValue::M(map) => map.iter().try_for_each(|(name, value)| {
            validate_name(name)?;
            validate_value(value)
        }),
        AttributeValue::Ss(set) => check_set(AttributeType::Ss, set, |s| s.clone()),
        AttributeValue::Ns(set) => check_set(AttributeType::Ns, set, |n| n.to_string()),
        // Named in the error as DynamoDB JSON writes binaries: standard, padded base64.
        AttributeValue::Bs(set) => check_set(AttributeType::Bs, set, |b| STANDARD.encode(b)),
        _ => Ok(()),
    }
}

fn check_set<T: Eq + std::hash::Hash>(
    set_type: AttributeType,
    set: &[T],
    print: impl Fn(&T) -> String,
) -> Result<(), ValidationError> {
    if set.is_empty() {
        return Err(ValidationError::EmptySet { set_type });
    }
    let mut seen = HashSet::with_capacity(set.len());
    if set.iter().all(|element| seen.insert(element)) {
        return Ok(());
    }
    Err(ValidationError::DuplicateInSet {
        set_type,
        elements: set.iter().map(print).collect(),
    })
}

fn validate_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::EmptyAttributeName);
    }
    if name.len() > ATTRIBUTE_NAME_BYTES_MAX {
        return Err(ValidationError::AttributeNameTooLong { size: name.len() });
    }
    Ok(())
}

/// Checks one key attribute's value against its declaration.
fn validate_key_value(
    key: &KeyAttribute,
    value: &AttributeValue,
    bytes_max: usize,
    too_large: impl FnOnce(String, usize) -> ValidationError,
) -> Result<(), ValidationError> {
    let mismatch = || ValidationError::KeyTypeMismatch {
        name: key.name.clone(),
        expected: key.scalar_type,
        actual: value.attribute_type(),
    };
    let size = match (key.scalar_type, value) {
        (ScalarType::S, AttributeValue::S(s)) => s.len(),
        (ScalarType::B, AttributeValue::B(b)) => b.len(),
        // A number holds at most 38 digits: it is always within the key size limits.
        (ScalarType::N, AttributeValue::N(_)) => return Ok(()),
        _ => return Err(mismatch()),
    };
    if size == 0 {
        return Err(ValidationError::EmptyKey {
            name: key.name.clone(),
            binary: key.scalar_type == ScalarType::B,
        });
    }
    if size > bytes_max {
        return Err(too_large(key.name.clone(), size));
    }
    Ok(())
}

fn validate_key_attributes(item: &Item, schema: &KeySchema) -> Result<(), ValidationError> {
    let keys = std::iter::once((&schema.partition_key, true)).chain(schema.sort_key.iter().map(|k| (k, false)));
    for (key, is_partition) in keys {
        let value = item
            .get(&key.name)
            .ok_or_else(|| ValidationError::MissingKey { name: key.name.clone() })?;
        if is_partition {
            validate_key_value(key, value, PARTITION_KEY_BYTES_MAX, |name, size| {
                ValidationError::PartitionKeyTooLarge { name, size }
            })?;
        } else {
            validate_key_value(key, value, SORT_KEY_BYTES_MAX, |name, size| {
                ValidationError::SortKeyTooLarge { name, size }
            })?;
        }
    }
    Ok(())
}

/// Checks an item to be written: every attribute name and value, nesting depth, the key
/// attributes (present, of the declared type, non-empty, within size), and the item's size.
pub fn validate_item(item: &Item, schema: &KeySchema) -> Result<(), ValidationError> {
    for (name, value) in item.iter() {
        validate_name(name)?;
        validate_value(value)?;
        let depth = value.depth();
        if depth > NESTING_LEVELS_MAX {
            return Err(ValidationError::NestingTooDeep {
                attribute: name.clone(),
                depth,
            });
        }
    }
    validate_key_attributes(item, schema)?;
    let size = item.size_bytes();
    if size > ITEM_BYTES_MAX {
        return Err(ValidationError::ItemTooLarge {
            size,
            max: ITEM_BYTES_MAX,
        });
    }
    Ok(())
}

/// Checks a key given to a read or delete: exactly the schema's key attributes, of the
/// declared types ([`ValidationError::KeyDoesNotMatchSchema`] otherwise), non-empty and
/// within size.
pub fn validate_key(key: &Item, schema: &KeySchema) -> Result<(), ValidationError> {
    let expected = 1 + usize::from(schema.sort_key.is_some());
    let declared =
        |name: &str| schema.partition_key.name == name || schema.sort_key.as_ref().is_some_and(|k| k.name == name);
    if key.len() != expected || !key.iter().all(|(name, _)| declared(name)) {
        return Err(ValidationError::KeyDoesNotMatchSchema);
    }
    match validate_key_attributes(key, schema) {
        Err(ValidationError::KeyTypeMismatch { .. } | ValidationError::MissingKey { .. }) => {
            Err(ValidationError::KeyDoesNotMatchSchema)
        }
        other => other,
    }
}
