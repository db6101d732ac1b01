//! What a secondary index is (its name, kind, key and projection) and DynamoDB's rules
//! for the indexes of a new table, with DynamoDB's messages.

use crate::item::validate::{KeyAttribute, KeySchema, ValidationError};
use crate::item::{AttributeValue, Item};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most local secondary indexes a table can have (DynamoDB's limit).
pub const LOCAL_INDEXES_MAX: usize = 5;
/// The most global secondary indexes a table can have (DynamoDB's default quota).
pub const GLOBAL_INDEXES_MAX: usize = 20;
/// The most `NonKeyAttributes` all of a table's indexes may name together.
pub const PROJECTED_ATTRIBUTES_MAX: usize = 100;

/// Whether an index shares the table's partition key (local) or has its own (global).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// A local secondary index: the table's partition key and another sort key; its
    /// entries live in the item's partition, written atomically with the item.
    Local,
    /// A global secondary index: a partition key (and sort key) of its own.
    Global,
}

impl IndexKind {
    /// DynamoDB's name for the kind's list in requests and descriptions.
    pub fn list_name(self) -> &'static str {
        match self {
            IndexKind::Local => "LocalSecondaryIndexes",
            IndexKind::Global => "GlobalSecondaryIndexes",
        }
    }
}

/// Which attributes an index holds besides the table's and the index's keys (DynamoDB's
/// `Projection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// Only the keys (`KEYS_ONLY`).
    KeysOnly,
    /// The keys and these attributes (`INCLUDE` with `NonKeyAttributes`).
    Include(Vec<String>),
    /// Every attribute (`ALL`).
    All,
}

impl Projection {
    /// DynamoDB's `ProjectionType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
            Projection::All => "ALL",
        }
    }
}

/// A secondary index of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSchema {
    /// Its name: 3 to 255 characters of `[A-Za-z0-9_.-]`, unique among the table's
    /// indexes.
    pub name: String,
    /// Local or global.
    pub kind: IndexKind,
    /// Its key: for a local index, the table's partition key and a sort key of its own.
    pub key_schema: KeySchema,
    /// The attributes it holds.
    pub projection: Projection,
    /// A global index's provisioned read and write capacity units (`(0, 0)` when on
    /// demand, and for a local index, which uses the table's).
    pub throughput: (u64, u64),
}

impl IndexSchema {
    /// A local secondary index `name` sorting the table's items of one partition key by
    /// `sort_key`, holding `projection`.
    pub fn local(name: impl Into<String>, table: &KeySchema, sort_key: KeyAttribute, projection: Projection) -> Self {
        IndexSchema {
            name: name.into(),
            kind: IndexKind::Local,
            key_schema: KeySchema {
                partition_key: table.partition_key.clone(),
                sort_key: Some(sort_key),
            },
            projection,
            throughput: (0, 0),
        }
    }

    /// A global secondary index `name` keyed by `key_schema`, holding `projection`.
    pub fn global(name: impl Into<String>, key_schema: KeySchema, projection: Projection) -> Self {
        IndexSchema {
            name: name.into(),
            kind: IndexKind::Global,
            key_schema,
            projection,
            throughput: (0, 0),
        }
    }

    /// The index's key attributes, partition key first.
    pub fn key_attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.key_schema.partition_key).chain(self.key_schema.sort_key.as_ref())
    }

    /// Whether the index holds attribute `name` of its items (the table's and the index's
    /// keys always).
    pub fn projects(&self, name: &str, table: &KeySchema) -> bool {
        let is_key = |schema: &KeySchema| {
            schema.partition_key.name == name || schema.sort_key.as_ref().is_some_and(|key| key.name == name)
        };
        match &self.projection {
            Projection::All => true,
            _ if is_key(table) || is_key(&self.key_schema) => true,
            Projection::KeysOnly => false,
            Projection::Include(names) => names.iter().any(|projected| projected == name),
        }
    }

    /// What the index holds of `item`: the attributes it projects.
    pub fn project(&self, item: &Item, table: &KeySchema) -> Item {
        match self.projection {
            Projection::All => item.clone(),
            _ => item.subset(|name| self.projects(name, table)),
        }
    }

    /// Whether `item` is in the index: it has every index key attribute (an item without
    /// one is left out: the index is sparse). Types were checked when it was written.
    pub fn indexes(&self, item: &Item) -> bool {
        self.key_attributes().all(|key| item.get(&key.name).is_some())
    }
}

fn invalid(message: impl std::fmt::Display) -> ValidationError {
    ValidationError::InvalidParameter(format!("One or more parameter values were invalid: {message}"))
}

/// Checks a new table's indexes against its key schema, in DynamoDB's order: each local
/// index (its key, its projection, its name unique), their count, then each global index
/// likewise, then the attributes projected in all.
///
/// Errors: [`ValidationError::InvalidParameter`] with DynamoDB's message.
pub fn validate_indexes(table: &KeySchema, indexes: &[IndexSchema]) -> Result<(), ValidationError> {
    let mut names = BTreeSet::new();
    let locals: Vec<&IndexSchema> = indexes.iter().filter(|index| index.kind == IndexKind::Local).collect();
    let globals: Vec<&IndexSchema> = indexes.iter().filter(|index| index.kind == IndexKind::Global).collect();
    if !locals.is_empty() && table.sort_key.is_none() {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ));
    }
    for index in &locals {
        validate_index(index, &mut names)?;
        let Some(_) = &index.key_schema.sort_key else {
            return Err(invalid(format!(
                "Index KeySchema does not have a range key for index: {}",
                index.name
            )));
        };
        let (index_hash, table_hash) = (&index.key_schema.partition_key.name, &table.partition_key.name);
        if index_hash != table_hash {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {index_hash}, table hash key: {table_hash}",
                index.name
            )));
        }
    }
    if locals.len() > LOCAL_INDEXES_MAX {
        return Err(invalid(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {LOCAL_INDEXES_MAX}"
        )));
    }
    for index in &globals {
        validate_index(index, &mut names)?;
    }
    if globals.len() > GLOBAL_INDEXES_MAX {
        return Err(invalid(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {GLOBAL_INDEXES_MAX}"
        )));
    }
    let projected: usize = indexes
        .iter()
        .map(|index| match &index.projection {
            Projection::Include(names) => names.len(),
            _ => 0,
        })
        .sum();
    if projected > PROJECTED_ATTRIBUTES_MAX {
        return Err(invalid(format!(
            "Number of projected attributes in all indexes exceeds limit of {PROJECTED_ATTRIBUTES_MAX}, number of projected attributes: {projected}"
        )));
    }
    check_types(table, indexes)
}

/// One index's own rules: its name, its key's names, its projection, and a name no other
/// index of the table has.
fn validate_index(index: &IndexSchema, names: &mut BTreeSet<String>) -> Result<(), ValidationError> {
    let name_ok = (3..=255).contains(&index.name.len())
        && index
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !name_ok {
        return Err(invalid(format!(
            "Index name {:?} must be 3 to 255 characters of [a-zA-Z0-9_.-]",
            index.name
        )));
    }
    if let Some(sort_key) = &index.key_schema.sort_key
        && sort_key.name == index.key_schema.partition_key.name
    {
        return Err(ValidationError::InvalidParameter(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name".into(),
        ));
    }
    if let Projection::Include(attributes) = &index.projection
        && attributes.is_empty()
    {
        return Err(invalid(format!(
            "NonKeyAttributes of index {} must name at least one attribute",
            index.name
        )));
    }
    if !names.insert(index.name.clone()) {
        return Err(invalid(format!("Duplicate index name: {}", index.name)));
    }
    Ok(())
}

/// An attribute that keys the table and an index, or two indexes, has one type
/// (DynamoDB's AttributeDefinitions give each attribute one).
fn check_types(table: &KeySchema, indexes: &[IndexSchema]) -> Result<(), ValidationError> {
    let table_keys = std::iter::once(&table.partition_key).chain(table.sort_key.as_ref());
    let mut seen: Vec<&KeyAttribute> = Vec::new();
    for key in table_keys.chain(indexes.iter().flat_map(IndexSchema::key_attributes)) {
        if let Some(other) = seen.iter().find(|other| other.name == key.name)
            && other.scalar_type != key.scalar_type
        {
            return Err(invalid(format!(
                "Attribute {} is defined with two types: {:?} and {:?}",
                key.name, other.scalar_type, key.scalar_type
            )));
        }
        seen.push(key);
    }
    Ok(())
}

/// Checks `item`'s index key attributes for `indexes`, as DynamoDB does on every write: an
/// index key attribute the item has must be of the index's type and, if a string or
/// binary, not empty (an item without it is simply not in the index).
///
/// Errors: [`ValidationError::InvalidParameter`] with DynamoDB's message.
pub fn validate_index_keys(item: &Item, indexes: &[IndexSchema]) -> Result<(), ValidationError> {
    // DynamoDB checks the global indexes' keys first, then the local ones'.
    let ordered = indexes
        .iter()
        .filter(|index| index.kind == IndexKind::Global)
        .chain(indexes.iter().filter(|index| index.kind == IndexKind::Local));
    for index in ordered {
        for key in index.key_attributes() {
            let Some(value) = item.get(&key.name) else { continue };
            let (actual, expected) = (value.attribute_type(), key.scalar_type.attribute_type());
            if actual != expected {
                return Err(invalid(format!(
                    "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    key.name,
                    expected.descriptor(),
                    actual.descriptor(),
                    index.name
                )));
            }
            let empty = match value {
                AttributeValue::S(s) => s.is_empty(),
                AttributeValue::B(b) => b.is_empty(),
                _ => false,
            };
            if empty {
                return Err(ValidationError::InvalidParameter(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                    if matches!(value, AttributeValue::S(_)) {
                        "string"
                    } else {
                        "binary"
                    },
                    index.name,
                    key.name
                )));
            }
        }
    }
    Ok(())
}
