//! CreateTable, DeleteTable, DescribeTable and ListTables on the wire.

use super::Context;
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::{Database, KeySchema, ListTablesInput, TableDescription, TableSchema};
use serde_json::{Value, json};
use std::time::UNIX_EPOCH;

/// The `TableName` of a table operation, which DynamoDB checks before anything else.
///
/// Errors: a `ValidationException` when it is missing or not 3 to 255 characters long.
fn table_name<'a>(fields: &Fields<'a>) -> Result<&'a str, ApiError> {
    let name = fields.string("TableName")?.ok_or_else(|| {
        ApiError::Validation("The parameter 'TableName' is required but was not present in the request".into())
    })?;
    if !(3..=255).contains(&name.chars().count()) {
        return Err(ApiError::Validation(
            "TableName must be at least 3 characters long and at most 255 characters long".into(),
        ));
    }
    Ok(name)
}

fn scalar_name(scalar: ScalarType) -> &'static str {
    match scalar {
        ScalarType::S => "S",
        ScalarType::N => "N",
        ScalarType::B => "B",
    }
}

/// A table's description as DynamoDB's `TableDescription`.
pub fn description_json(description: &TableDescription, context: &Context) -> Value {
    let schema = &description.key_schema;
    let keys: Vec<(&KeyAttribute, &str)> = std::iter::once((&schema.partition_key, "HASH"))
        .chain(schema.sort_key.as_ref().map(|key| (key, "RANGE")))
        .collect();
    let created = description
        .creation_date_time
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |since| since.as_millis() as f64 / 1000.0);
    json!({
        "TableName": description.name,
        "TableStatus": "ACTIVE",
        "TableArn": context.table_arn(&description.name),
        "TableId": context.table_id(&description.name, created),
        "CreationDateTime": created,
        "ItemCount": description.item_count,
        "TableSizeBytes": description.table_size_bytes,
        "KeySchema": keys.iter().map(|(key, kind)| json!({"AttributeName": key.name, "KeyType": kind})).collect::<Vec<_>>(),
        "AttributeDefinitions": keys
            .iter()
            .map(|(key, _)| json!({"AttributeName": key.name, "AttributeType": scalar_name(key.scalar_type)}))
            .collect::<Vec<_>>(),
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": created},
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        "DeletionProtectionEnabled": false,
    })
}

/// One `KeySchemaElement` or `AttributeDefinition`: a name and a kind.
struct Named<'a> {
    name: &'a str,
    kind: &'a str,
}

/// Reads a list of `{AttributeName, <kind_field>}` elements, noting their violations.
fn named_list<'a>(
    fields: &mut Fields<'a>,
    list: &str,
    kind_field: &str,
    kinds: &[&str],
) -> Result<Vec<Named<'a>>, ApiError> {
    let mut named = Vec::new();
    for mut element in fields.structures(list)? {
        element.require("AttributeName");
        element.require(kind_field);
        let kind = element.enumerated(kind_field, kinds)?;
        let name = element.string("AttributeName")?;
        if let (Some(name), Some(kind)) = (name, kind) {
            named.push(Named { name, kind });
        }
        fields.absorb(element);
    }
    Ok(named)
}

/// CreateTable.
pub fn create_table(db: &Database, mut fields: Fields<'_>, context: &Context) -> Result<Value, ApiError> {
    let name = table_name(&fields)?;
    fields.require("AttributeDefinitions");
    fields.require("KeySchema");
    let definitions = named_list(&mut fields, "AttributeDefinitions", "AttributeType", &["B", "N", "S"])?;
    let keys = named_list(&mut fields, "KeySchema", "KeyType", &["HASH", "RANGE"])?;
    if let Some(list) = fields.list("KeySchema")? {
        let shown = Value::Array(list.clone()).to_string();
        if list.is_empty() {
            fields.violation(
                "KeySchema",
                Some(&shown),
                "Member must have length greater than or equal to 1",
            );
        } else if list.len() > 2 {
            fields.violation(
                "KeySchema",
                Some(&shown),
                "Member must have length less than or equal to 2",
            );
        }
    }
    let billing_mode = fields.enumerated("BillingMode", &["PROVISIONED", "PAY_PER_REQUEST"])?;
    let throughput = fields.structure("ProvisionedThroughput")?;
    let capacity = match &throughput {
        Some(throughput) => Some((
            throughput.integer("ReadCapacityUnits")?,
            throughput.integer("WriteCapacityUnits")?,
        )),
        None => None,
    };
    fields.string("TableClass")?;
    fields.finish()?;

    let invalid = |message: &str| ApiError::Validation(format!("One or more parameter values were invalid: {message}"));
    if billing_mode == Some("PAY_PER_REQUEST") {
        if capacity.is_some() {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
    } else {
        match capacity {
            Some((Some(read), Some(write))) if read >= 1 && write >= 1 => {
                for (value, what) in [(read, "ReadCapacityUnits"), (write, "WriteCapacityUnits")] {
                    if value > 1_000_000_000_000 {
                        return Err(ApiError::Validation(format!(
                            "Given value {value} for {what} is out of bounds"
                        )));
                    }
                }
            }
            _ => {
                return Err(invalid(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            }
        }
    }
    let defined: Vec<&str> = definitions.iter().map(|d| d.name).collect();
    let key_names: Vec<&str> = keys.iter().map(|k| k.name).collect();
    if key_names.len() > defined.len() {
        return Err(ApiError::Validation(
            "Invalid KeySchema: Some index key attribute have no definition".into(),
        ));
    }
    if key_names.iter().any(|key| !defined.contains(key)) {
        return Err(invalid(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            key_names.join(", "),
            defined.join(", ")
        )));
    }
    if key_names.len() == 2 && key_names[0] == key_names[1] {
        return Err(ApiError::Validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name".into(),
        ));
    }
    if keys[0].kind != "HASH" {
        return Err(ApiError::Validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".into(),
        ));
    }
    if keys.get(1).is_some_and(|key| key.kind != "RANGE") {
        return Err(ApiError::Validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type".into(),
        ));
    }
    if keys.len() != definitions.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let attribute = |name: &str| -> KeyAttribute {
        let kind = definitions.iter().find(|d| d.name == name).map_or("S", |d| d.kind);
        let scalar = match kind {
            "N" => ScalarType::N,
            "B" => ScalarType::B,
            _ => ScalarType::S,
        };
        KeyAttribute::new(name, scalar)
    };
    let schema = TableSchema {
        name: name.to_owned(),
        key_schema: KeySchema {
            partition_key: attribute(keys[0].name),
            sort_key: keys.get(1).map(|key| attribute(key.name)),
        },
    };
    let description = db.create_table(schema)?;
    Ok(json!({ "TableDescription": description_json(&description, context) }))
}

/// DeleteTable: the description as it was, `DELETING`.
pub fn delete_table(db: &Database, fields: Fields<'_>, context: &Context) -> Result<Value, ApiError> {
    let name = table_name(&fields)?;
    fields.finish()?;
    let description = db.delete_table(name)?;
    let mut json = description_json(&description, context);
    json["TableStatus"] = Value::from("DELETING");
    Ok(json!({ "TableDescription": json }))
}

/// DescribeTable.
pub fn describe_table(db: &Database, fields: Fields<'_>, context: &Context) -> Result<Value, ApiError> {
    let name = table_name(&fields)?;
    fields.finish()?;
    let description = db.describe_table(name)?;
    Ok(json!({ "Table": description_json(&description, context) }))
}

/// ListTables.
pub fn list_tables(db: &Database, fields: Fields<'_>) -> Result<Value, ApiError> {
    let mut input = ListTablesInput::default();
    input.exclusive_start_table_name = fields.string("ExclusiveStartTableName")?.map(str::to_owned);
    // Out-of-range limits are the engine's to refuse, with DynamoDB's message.
    input.limit = fields
        .integer("Limit")?
        .map(|limit| u32::try_from(limit.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX));
    fields.finish()?;
    let page = db.list_tables(input)?;
    let mut out = json!({ "TableNames": page.table_names });
    if let Some(last) = page.last_evaluated_table_name {
        out["LastEvaluatedTableName"] = Value::from(last);
    }
    Ok(out)
}
