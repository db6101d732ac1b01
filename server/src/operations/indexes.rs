//! The secondary indexes of CreateTable on the wire: reading `LocalSecondaryIndexes` and
//! `GlobalSecondaryIndexes` (their constraint violations noted with the request's
//! others), DynamoDB's checks of them against the attribute definitions in its order,
//! and DescribeTable's account of them.

use super::Context;
use super::schema_fields::{Named, throughput};
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::item::KeyAttribute;
use dynastore::{IndexKind, IndexSchema, KeySchema, Projection};
use serde_json::{Value, json};

/// One index as the request gives it.
pub(super) struct WireIndex<'a> {
    name: &'a str,
    keys: Vec<Named<'a>>,
    projection_type: Option<&'a str>,
    non_key_attributes: Option<Vec<String>>,
    throughput: Option<(i64, i64)>,
}

/// Reads the list of `kind`'s indexes, `None` if the request has none.
///
/// Errors: [`ApiError::Serialization`] for a field of the wrong JSON type.
pub(super) fn read<'a>(fields: &mut Fields<'a>, kind: IndexKind) -> Result<Option<Vec<WireIndex<'a>>>, ApiError> {
    let list_name = kind.list_name();
    if fields.list(list_name)?.is_none() {
        return Ok(None);
    }
    let mut indexes = Vec::new();
    for index in fields.structures(list_name)? {
        if let Some(index) = read_one(fields, index, kind)? {
            indexes.push(index);
        }
    }
    Ok(Some(indexes))
}

/// Reads one index's structure (`index`, a member of `fields`), noting its violations in
/// `fields`; `None` if it has no name.
///
/// Errors: [`ApiError::Serialization`] for a field of the wrong JSON type.
pub(super) fn read_one<'a>(
    fields: &mut Fields<'a>,
    mut index: Fields<'a>,
    kind: IndexKind,
) -> Result<Option<WireIndex<'a>>, ApiError> {
    index.require("IndexName");
    index.require("KeySchema");
    index.require("Projection");
    let name = index.name("IndexName")?;
    let mut keys = Vec::new();
    for mut element in index.structures("KeySchema")? {
        element.require("AttributeName");
        element.require("KeyType");
        if let (Some(name), Some(kind)) = (element.string("AttributeName")?, element.string("KeyType")?) {
            keys.push(Named { name, kind });
        }
        index.absorb(element);
    }
    if let Some(list) = index.list("KeySchema")? {
        let shown = Value::Array(list.clone()).to_string();
        if list.is_empty() {
            index.violation(
                "KeySchema",
                Some(&shown),
                "Member must have length greater than or equal to 1",
            );
        } else if list.len() > 2 {
            index.violation(
                "KeySchema",
                Some(&shown),
                "Member must have length less than or equal to 2",
            );
        }
    }
    let (projection_type, non_key_attributes) = match index.structure("Projection")? {
        Some(mut projection) => {
            let projection_type = projection.enumerated("ProjectionType", &["ALL", "INCLUDE", "KEYS_ONLY"])?;
            let non_key = projection.strings("NonKeyAttributes")?;
            if non_key.as_ref().is_some_and(Vec::is_empty) {
                projection.violation(
                    "NonKeyAttributes",
                    Some("[]"),
                    "Member must have length greater than or equal to 1",
                );
            }
            index.absorb(projection);
            (projection_type, non_key)
        }
        None => (None, None),
    };
    let throughput = match kind {
        IndexKind::Global => throughput(&mut index)?,
        IndexKind::Local => None,
    };
    let given_throughput = index.has("ProvisionedThroughput");
    fields.absorb(index);
    Ok(name.map(|name| WireIndex {
        name,
        keys,
        projection_type,
        non_key_attributes,
        // Given with a unit missing: refused by the violations already noted.
        throughput: throughput.or(given_throughput.then_some((0, 0))),
    }))
}

impl<'a> WireIndex<'a> {
    /// Its `IndexName`.
    pub(super) fn name(&self) -> &'a str {
        self.name
    }
}

fn invalid(message: impl std::fmt::Display) -> ApiError {
    ApiError::Validation(format!("One or more parameter values were invalid: {message}"))
}

/// What CreateTable knows when it checks the indexes.
pub(super) struct TableKeys<'r, 'a> {
    /// `AttributeDefinitions`, as given.
    pub definitions: &'r [Named<'a>],
    /// The table's key.
    pub key_schema: &'r KeySchema,
    /// Whether the table is billed per request (its indexes then take no throughput).
    pub pay_per_request: bool,
}

/// Checks the indexes as DynamoDB does, in its order: each local index, their count, each
/// global index, their count; then that every attribute definition is used. Returns the
/// indexes' schemas.
///
/// Errors: a `ValidationException` with DynamoDB's message.
pub(super) fn check(
    table: &TableKeys<'_, '_>,
    locals: Option<&[WireIndex<'_>]>,
    globals: Option<&[WireIndex<'_>]>,
) -> Result<Vec<IndexSchema>, ApiError> {
    let mut schemas: Vec<IndexSchema> = Vec::new();
    if let Some(locals) = locals {
        if locals.is_empty() {
            return Err(invalid("List of LocalSecondaryIndexes is empty"));
        }
        if table.key_schema.sort_key.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        for index in locals {
            check_keys(index, table)?;
            if index.keys.len() != 2 {
                return Err(invalid(format!(
                    "Index KeySchema does not have a range key for index: {}",
                    index.name
                )));
            }
            let (index_hash, table_hash) = (index.keys[0].name, &table.key_schema.partition_key.name);
            if index_hash != table_hash {
                return Err(invalid(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {index_hash}, table hash key: {table_hash}",
                    index.name
                )));
            }
            schemas.push(schema(index, IndexKind::Local, table, &schemas)?);
        }
        if locals.len() > 5 {
            return Err(invalid("Number of LocalSecondaryIndexes exceeds per-table limit of 5"));
        }
    }
    if let Some(globals) = globals {
        if globals.is_empty() {
            return Err(invalid("List of GlobalSecondaryIndexes is empty"));
        }
        for index in globals {
            schemas.push(check_added(table, index, &schemas)?);
        }
        if globals.len() > 20 {
            return Err(invalid("GlobalSecondaryIndex count exceeds the per-table limit of 20"));
        }
    }
    check_definitions_used(table, &schemas)?;
    Ok(schemas)
}

/// Checks a global index CreateTable or UpdateTable adds: its keys against the request's
/// definitions, its throughput against the table's billing mode, its projection, and its
/// name unique among the table's `existing` indexes; returns its schema.
///
/// Errors: a `ValidationException` with DynamoDB's message.
pub(super) fn check_added(
    table: &TableKeys<'_, '_>,
    index: &WireIndex<'_>,
    existing: &[IndexSchema],
) -> Result<IndexSchema, ApiError> {
    check_keys(index, table)?;
    if table.pay_per_request && index.throughput.is_some() {
        return Err(invalid(format!(
            "ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
            index.name
        )));
    }
    if !table.pay_per_request && index.throughput.is_none() {
        return Err(invalid(format!(
            "ProvisionedThroughput must be specified for index: {}",
            index.name
        )));
    }
    schema(index, IndexKind::Global, table, existing)
}

/// An index's key against the definitions, with the messages the table's key gets.
fn check_keys(index: &WireIndex<'_>, table: &TableKeys<'_, '_>) -> Result<(), ApiError> {
    let defined: Vec<&str> = table.definitions.iter().map(|d| d.name).collect();
    let names: Vec<&str> = index.keys.iter().map(|key| key.name).collect();
    if names.iter().any(|name| !defined.contains(name)) {
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            defined.join(", ")
        )));
    }
    if names.len() == 2 && names[0] == names[1] {
        return Err(ApiError::Validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name".into(),
        ));
    }
    if index.keys.first().is_some_and(|key| key.kind != "HASH") {
        return Err(ApiError::Validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".into(),
        ));
    }
    if index.keys.get(1).is_some_and(|key| key.kind != "RANGE") {
        return Err(ApiError::Validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type".into(),
        ));
    }
    Ok(())
}

/// The schema of a checked index: its projection checked, its name unique among `earlier`.
fn schema(
    index: &WireIndex<'_>,
    kind: IndexKind,
    table: &TableKeys<'_, '_>,
    earlier: &[IndexSchema],
) -> Result<IndexSchema, ApiError> {
    let projection = match (index.projection_type, &index.non_key_attributes) {
        (None, _) => return Err(invalid("Unknown ProjectionType: null")),
        (Some(kind), Some(_)) if kind != "INCLUDE" => {
            return Err(invalid(format!(
                "ProjectionType is {kind}, but NonKeyAttributes is specified"
            )));
        }
        (Some("INCLUDE"), Some(names)) => Projection::Include(names.clone()),
        (Some("INCLUDE"), None) => {
            return Err(invalid(
                "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
            ));
        }
        (Some("KEYS_ONLY"), _) => Projection::KeysOnly,
        (Some(_), _) => Projection::All,
    };
    if earlier.iter().any(|other| other.name == index.name) {
        return Err(invalid(format!("Duplicate index name: {}", index.name)));
    }
    let attribute = |name: &str| KeyAttribute::new(name, definition_type(table.definitions, name));
    let (read, write) = index.throughput.unwrap_or((0, 0));
    Ok(IndexSchema {
        name: index.name.to_owned(),
        kind,
        key_schema: KeySchema {
            partition_key: attribute(index.keys[0].name),
            sort_key: index.keys.get(1).map(|key| attribute(key.name)),
        },
        projection,
        throughput: (read.unsigned_abs(), write.unsigned_abs()),
    })
}

/// The scalar type `name` is defined with (S if it is not: the caller checked it is).
pub(super) fn definition_type(definitions: &[Named<'_>], name: &str) -> dynastore::item::ScalarType {
    use dynastore::item::ScalarType;
    match definitions.iter().find(|d| d.name == name).map_or("S", |d| d.kind) {
        "N" => ScalarType::N,
        "B" => ScalarType::B,
        _ => ScalarType::S,
    }
}

/// Every attribute definition keys the table or an index.
fn check_definitions_used(table: &TableKeys<'_, '_>, indexes: &[IndexSchema]) -> Result<(), ApiError> {
    let mut used: Vec<&str> = Vec::new();
    let table_keys = std::iter::once(&table.key_schema.partition_key).chain(&table.key_schema.sort_key);
    for key in table_keys.chain(indexes.iter().flat_map(IndexSchema::key_attributes)) {
        if !used.contains(&key.name.as_str()) {
            used.push(&key.name);
        }
    }
    let defined: Vec<&str> = table.definitions.iter().map(|d| d.name).collect();
    if defined.len() != used.len() || defined.iter().any(|name| !used.contains(name)) {
        return Err(invalid(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            defined.join(", "),
            used.join(", ")
        )));
    }
    Ok(())
}

/// A key schema as DynamoDB's `KeySchema` list.
pub(super) fn key_schema_json(schema: &KeySchema) -> Value {
    let hash = std::iter::once(json!({"AttributeName": schema.partition_key.name, "KeyType": "HASH"}));
    let range = schema
        .sort_key
        .iter()
        .map(|key| json!({"AttributeName": key.name, "KeyType": "RANGE"}));
    Value::Array(hash.chain(range).collect())
}

/// The `LocalSecondaryIndexes` and `GlobalSecondaryIndexes` of a description (each only
/// if the table has such indexes).
pub(super) fn describe(
    table_json: &mut Value,
    table: &str,
    indexes: &[IndexSchema],
    sizes: &[(String, u64, u64)],
    creating: &[String],
    context: &Context,
) {
    for kind in [IndexKind::Local, IndexKind::Global] {
        let described: Vec<Value> = indexes
            .iter()
            .filter(|index| index.kind == kind)
            .map(|index| {
                let mut projection = json!({ "ProjectionType": index.projection.type_name() });
                if let Projection::Include(names) = &index.projection {
                    projection["NonKeyAttributes"] = json!(names);
                }
                let (items, bytes) = sizes
                    .iter()
                    .find(|(name, _, _)| *name == index.name)
                    .map_or((0, 0), |(_, items, bytes)| (*items, *bytes));
                let mut json = json!({
                    "IndexName": index.name,
                    "KeySchema": key_schema_json(&index.key_schema),
                    "Projection": projection,
                    "IndexSizeBytes": bytes,
                    "ItemCount": items,
                    "IndexArn": format!("{}/index/{}", context.table_arn(table), index.name),
                });
                if kind == IndexKind::Global && creating.contains(&index.name) {
                    json["IndexStatus"] = json!("CREATING");
                    json["Backfilling"] = json!(true);
                } else if kind == IndexKind::Global {
                    json["IndexStatus"] = json!("ACTIVE");
                }
                if kind == IndexKind::Global {
                    json["ProvisionedThroughput"] = json!({
                        "NumberOfDecreasesToday": 0,
                        "ReadCapacityUnits": index.throughput.0,
                        "WriteCapacityUnits": index.throughput.1,
                    });
                }
                json
            })
            .collect();
        if !described.is_empty() {
            table_json[kind.list_name()] = Value::Array(described);
        }
    }
}
