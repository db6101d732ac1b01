//! Checks of requests before anything is written (DynamoDB's messages), and the key
//! helpers the operations share.

use super::*;

/// The shortest and longest table names DynamoDB allows.
pub(super) const TABLE_NAME_BYTES: std::ops::RangeInclusive<usize> = 3..=255;

/// The longest key attribute name, in bytes.
pub(super) const KEY_NAME_BYTES_MAX: usize = 255;

pub(super) fn key_value<'a>(item: &'a Item, key: &KeyAttribute) -> Result<&'a AttributeValue> {
    item.get(&key.name)
        .ok_or_else(|| ValidationError::MissingKey { name: key.name.clone() }.into())
}

pub(crate) fn table_key(item: &Item, schema: &KeySchema) -> Result<Vec<u8>> {
    let partition = key_value(item, &schema.partition_key)?;
    let sort = schema.sort_key.as_ref().map(|k| key_value(item, k)).transpose()?;
    Ok(storage_key(partition, sort))
}

pub(crate) fn hash_of(storage_key: &[u8]) -> u64 {
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&storage_key[..8]);
    u64::from_be_bytes(hash)
}

pub(crate) fn validate_table_name(name: &str) -> Result<()> {
    validate_name_at(name, "tableName")
}

/// The most table names one ListTables page holds (DynamoDB's).
pub(crate) const LIST_TABLES_LIMIT_MAX: u32 = 100;

/// DynamoDB's refusal of a number parameter outside its range.
pub(crate) fn out_of_range(field: &str, value: u32, bound: &str) -> Error {
    Error::Validation(ValidationError::InvalidParameter(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {bound}"
    )))
}

/// Checks a table name given as parameter `field` (`tableName`, or
/// `exclusiveStartTableName`), with DynamoDB's messages.
pub(crate) fn validate_name_at(name: &str, field: &str) -> Result<()> {
    let invalid = |constraint: String| {
        Error::Validation(ValidationError::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: {constraint}"
        )))
    };
    if name.len() < *TABLE_NAME_BYTES.start() {
        return Err(invalid("Member must have length greater than or equal to 3".into()));
    }
    if name.len() > *TABLE_NAME_BYTES.end() {
        return Err(invalid("Member must have length less than or equal to 255".into()));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        return Err(invalid(
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".into(),
        ));
    }
    Ok(())
}

pub(crate) fn validate_key_schema(schema: &KeySchema) -> Result<()> {
    let keys = std::iter::once(&schema.partition_key).chain(schema.sort_key.as_ref());
    for key in keys {
        if key.name.is_empty() || key.name.len() > KEY_NAME_BYTES_MAX {
            return Err(ValidationError::InvalidParameter(format!(
                "One or more parameter values were invalid: the key attribute name {:?} must be 1 to 255 bytes",
                key.name
            ))
            .into());
        }
    }
    if schema
        .sort_key
        .as_ref()
        .is_some_and(|k| k.name == schema.partition_key.name)
    {
        return Err(ValidationError::InvalidParameter(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name".into(),
        )
        .into());
    }
    Ok(())
}
