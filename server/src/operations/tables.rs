//! CreateTable, DeleteTable, DescribeTable and ListTables on the wire.

use super::Context;
use super::indexes;
use super::schema_fields::{Named, named_list, throughput};
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::{
    BillingMode, Database, IndexKind, IndexSchema, KeySchema, ListTablesInput, TableDescription, TableSchema,
    TableSettings,
};
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
    // Every attribute the table's or an index's key names, once.
    let mut defined: Vec<&KeyAttribute> = Vec::new();
    let index_keys = description.indexes.iter().flat_map(IndexSchema::key_attributes);
    for key in std::iter::once(&schema.partition_key)
        .chain(&schema.sort_key)
        .chain(index_keys)
    {
        if defined.iter().all(|other| other.name != key.name) {
            defined.push(key);
        }
    }
    let created = description
        .creation_date_time
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |since| since.as_millis() as f64 / 1000.0);
    let settings = &description.settings;
    let mut json = json!({
        "TableName": description.name,
        "TableStatus": "ACTIVE",
        "TableArn": context.table_arn(&description.name),
        "TableId": context.table_id(&description.name, created),
        "CreationDateTime": created,
        "ItemCount": description.item_count,
        "TableSizeBytes": description.table_size_bytes,
        "KeySchema": indexes::key_schema_json(schema),
        "AttributeDefinitions": defined
            .iter()
            .map(|key| json!({"AttributeName": key.name, "AttributeType": scalar_name(key.scalar_type)}))
            .collect::<Vec<_>>(),
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": settings.read_capacity_units,
            "WriteCapacityUnits": settings.write_capacity_units,
        },
        "DeletionProtectionEnabled": false,
    });
    // A provisioned table carries no summary, as DynamoDB's created without a mode do.
    if settings.billing_mode == BillingMode::PayPerRequest {
        let since = match settings.pay_per_request_since_ms {
            0 => created,
            ms => ms as f64 / 1000.0,
        };
        json["BillingModeSummary"] =
            json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": since});
    }
    indexes::describe(
        &mut json,
        &description.name,
        &description.indexes,
        &description.index_sizes,
        &description.creating_indexes,
        context,
    );
    json
}

/// DynamoDB's refusal of units over its bound.
fn check_bounds(read: i64, write: i64) -> Result<(), ApiError> {
    for (value, what) in [(read, "ReadCapacityUnits"), (write, "WriteCapacityUnits")] {
        if value > 1_000_000_000_000 {
            return Err(ApiError::Validation(format!(
                "Given value {value} for {what} is out of bounds"
            )));
        }
    }
    Ok(())
}

/// `Tags`: a list of `{Key, Value}`, keys 1 to 128 characters, values up to 256.
fn tags(fields: &mut Fields<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let mut tags = Vec::new();
    for mut tag in fields.structures("Tags")? {
        tag.require("Key");
        tag.require("Value");
        let key = tag.string("Key")?;
        let value = tag.string("Value")?;
        if let Some(key) = key.filter(|key| !(1..=128).contains(&key.chars().count())) {
            let rule = if key.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 128"
            };
            tag.violation("Key", Some(key), rule);
        }
        if let Some(value) = value.filter(|value| value.chars().count() > 256) {
            tag.violation(
                "Value",
                Some(value),
                "Member must have length less than or equal to 256",
            );
        }
        fields.absorb(tag);
        if let (Some(key), Some(value)) = (key, value) {
            tags.push((key.to_owned(), value.to_owned()));
        }
    }
    Ok(tags)
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
    let capacity = throughput(&mut fields)?;
    let given_throughput = fields.structure("ProvisionedThroughput")?.is_some();
    let tags = tags(&mut fields)?;
    let locals = indexes::read(&mut fields, IndexKind::Local)?;
    let globals = indexes::read(&mut fields, IndexKind::Global)?;
    fields.string("TableClass")?;
    fields.finish()?;

    let invalid = |message: &str| ApiError::Validation(format!("One or more parameter values were invalid: {message}"));
    let mut settings = TableSettings::default();
    if billing_mode == Some("PAY_PER_REQUEST") {
        if given_throughput {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
    } else {
        // PROVISIONED is DynamoDB's default mode.
        let Some((read, write)) = capacity else {
            return Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        };
        check_bounds(read, write)?;
        settings.billing_mode = BillingMode::Provisioned;
        settings.read_capacity_units = read.unsigned_abs();
        settings.write_capacity_units = write.unsigned_abs();
    }
    settings.tags = tags.into_iter().collect();
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
    if locals.is_none() && globals.is_none() && keys.len() != definitions.len() {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let attribute = |name: &str| KeyAttribute::new(name, indexes::definition_type(&definitions, name));
    let key_schema = KeySchema {
        partition_key: attribute(keys[0].name),
        sort_key: keys.get(1).map(|key| attribute(key.name)),
    };
    let table_keys = indexes::TableKeys {
        definitions: &definitions,
        key_schema: &key_schema,
        pay_per_request: billing_mode == Some("PAY_PER_REQUEST"),
    };
    let indexes = indexes::check(&table_keys, locals.as_deref(), globals.as_deref())?;
    let schema = TableSchema {
        indexes,
        name: name.to_owned(),
        key_schema,
    };
    let description = db.create_table_with(schema, settings)?;
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

/// UpdateTable: the billing mode and throughput.
pub fn update_table(db: &Database, mut fields: Fields<'_>, context: &Context) -> Result<Value, ApiError> {
    let name = table_name(&fields)?;
    let billing_mode = fields.enumerated("BillingMode", &["PROVISIONED", "PAY_PER_REQUEST"])?;
    let capacity = throughput(&mut fields)?;
    let given_throughput = fields.structure("ProvisionedThroughput")?.is_some();
    let others = [
        "UpdateStreamEnabled",
        "GlobalSecondaryIndexUpdates",
        "SSESpecification",
        "ReplicaUpdates",
    ]
    .iter()
    .any(|other| fields.has(other));
    let definitions = named_list(&mut fields, "AttributeDefinitions", "AttributeType", &["B", "N", "S"])?;
    let index_updates = index_updates(&mut fields)?;
    fields.finish()?;
    if billing_mode.is_none() && !given_throughput && !others {
        return Err(ApiError::Validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required".into(),
        ));
    }
    let invalid = |message: &str| ApiError::Validation(format!("One or more parameter values were invalid: {message}"));
    if billing_mode == Some("PROVISIONED") && !given_throughput {
        return Err(invalid(
            "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
        ));
    }
    if let Some((read, write)) = capacity {
        check_bounds(read, write)?;
    }
    let changes_settings = billing_mode.is_some() || given_throughput;
    if let Some(description) = apply_index_updates(db, name, &definitions, index_updates)?
        && !changes_settings
    {
        return Ok(json!({ "TableDescription": description_json(&description, context) }));
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let description = db.update_table_settings(name, |settings| {
        let mode = match billing_mode {
            Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
            Some(_) => BillingMode::Provisioned,
            None => settings.billing_mode,
        };
        if given_throughput && mode == BillingMode::PayPerRequest {
            return Err(dynastore::ValidationError::InvalidParameter(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST".into(),
            )
            .into());
        }
        if let Some((read, write)) = capacity {
            let (read, write) = (read.unsigned_abs(), write.unsigned_abs());
            if settings.billing_mode == BillingMode::Provisioned
                && read == settings.read_capacity_units
                && write == settings.write_capacity_units
            {
                return Err(dynastore::ValidationError::InvalidParameter(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. \
                     Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {read}. \
                     Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {write}. \
                     Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    settings.read_capacity_units, settings.write_capacity_units
                ))
                .into());
            }
            settings.read_capacity_units = read;
            settings.write_capacity_units = write;
        }
        if mode == BillingMode::PayPerRequest && settings.billing_mode != BillingMode::PayPerRequest {
            settings.read_capacity_units = 0;
            settings.write_capacity_units = 0;
            settings.pay_per_request_since_ms = now_ms;
        }
        settings.billing_mode = mode;
        Ok(())
    })?;
    Ok(json!({ "TableDescription": description_json(&description, context) }))
}

/// What `GlobalSecondaryIndexUpdates` asks: each element's `Create` (an index to add),
/// `Delete` (the name of one to delete), or `Update` (throughput, kept as given nowhere).
#[derive(Default)]
struct IndexUpdates<'a> {
    creates: Vec<indexes::WireIndex<'a>>,
    deletes: Vec<&'a str>,
    /// Names of every element, in order, and whether one had no action at all.
    names: Vec<&'a str>,
    empty: bool,
}

/// Reads `GlobalSecondaryIndexUpdates`, noting violations.
///
/// Errors: [`ApiError::Serialization`] for a field of the wrong JSON type.
fn index_updates<'a>(fields: &mut Fields<'a>) -> Result<IndexUpdates<'a>, ApiError> {
    let mut updates = IndexUpdates::default();
    for mut update in fields.structures("GlobalSecondaryIndexUpdates")? {
        let (create, delete, change) = (
            update.structure("Create")?,
            update.structure("Delete")?,
            update.structure("Update")?,
        );
        updates.empty |= create.is_none() && delete.is_none() && change.is_none();
        if let Some(create) = create
            && let Some(index) = indexes::read_one(&mut update, create, IndexKind::Global)?
        {
            updates.names.push(index.name());
            updates.creates.push(index);
        }
        for (mut named, is_delete) in [(delete, true), (change, false)]
            .into_iter()
            .filter_map(|(named, is_delete)| named.map(|named| (named, is_delete)))
        {
            named.require("IndexName");
            if let Some(index) = named.name("IndexName")? {
                updates.names.push(index);
                if is_delete {
                    updates.deletes.push(index);
                }
            }
            update.absorb(named);
        }
        fields.absorb(update);
    }
    Ok(updates)
}

/// Adds or deletes the global index `updates` asks for (one at most, as DynamoDB allows
/// per UpdateTable); returns the table's description if it did either.
///
/// Errors: DynamoDB's `ValidationException`s and `LimitExceededException`; the engine's.
fn apply_index_updates(
    db: &Database,
    name: &str,
    definitions: &[Named<'_>],
    updates: IndexUpdates<'_>,
) -> Result<Option<TableDescription>, ApiError> {
    let invalid =
        |message: String| ApiError::Validation(format!("One or more parameter values were invalid: {message}"));
    if updates.empty {
        return Err(invalid(
            "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null".into(),
        ));
    }
    for (at, index) in updates.names.iter().enumerate() {
        if updates.names[..at].contains(index) {
            return Err(invalid(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {index}"
            )));
        }
    }
    if updates.creates.len() + updates.deletes.len() > 1 {
        return Err(ApiError::LimitExceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table".into(),
        ));
    }
    if let Some(index) = updates.creates.first() {
        let table = db.describe_table(name)?;
        let keys = indexes::TableKeys {
            definitions,
            key_schema: &table.key_schema,
            pay_per_request: table.settings.billing_mode == BillingMode::PayPerRequest,
        };
        let schema = indexes::check_added(&keys, index, &table.indexes)?;
        return Ok(Some(db.create_global_index(name, schema)?));
    }
    if let Some(index) = updates.deletes.first() {
        let table = db.describe_table(name)?;
        if !table
            .indexes
            .iter()
            .any(|known| known.name == *index && known.kind == IndexKind::Global)
        {
            return Err(ApiError::ResourceNotFound(format!(
                "Requested resource not found: Index: {index} not found in table {name}"
            )));
        }
        return Ok(Some(db.delete_global_index(name, index)?));
    }
    Ok(None)
}

/// The table an ARN names, refused as DynamoDB refuses a malformed one.
///
/// Errors: `AccessDeniedException` for text that is no ARN at all, a
/// `ValidationException` for an ARN that is not a table's, for `operation`.
fn table_of_arn<'a>(arn: Option<&'a str>, operation: &str) -> Result<&'a str, ApiError> {
    let arn = arn.ok_or_else(|| ApiError::Validation("Invalid TableArn".into()))?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, _, _, _, resource] = parts.as_slice() else {
        return Err(ApiError::AccessDenied(format!(
            "User: arn:aws:iam::000000000000:user/dynastore is not authorized to perform: dynamodb:{operation} on resource: {arn}"
        )));
    };
    let table = resource
        .strip_prefix("table/")
        .filter(|name| name.len() >= 3 && !name.contains('/'));
    match (parts[0], parts[1], parts[2], table) {
        ("arn", "aws", "dynamodb", Some(table)) if parts[4].bytes().all(|b| b.is_ascii_digit()) => Ok(table),
        _ => Err(ApiError::Validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))),
    }
}

/// The engine's not-found as DynamoDB words it for a resource ARN.
fn arn_not_found(arn: &str) -> impl Fn(dynastore::Error) -> ApiError + '_ {
    move |error| match error {
        dynastore::Error::ResourceNotFound { .. } => {
            ApiError::ResourceNotFound(format!("Requested resource not found: ResourcArn: {arn} not found"))
        }
        other => ApiError::Engine(other),
    }
}

/// TagResource.
pub fn tag_resource(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let arn = fields.string("ResourceArn")?;
    let given = fields.list("Tags")?.map(Vec::len);
    let tags = tags(&mut fields)?;
    let table = table_of_arn(arn, "TagResource")?;
    if given.is_none() {
        fields.require("Tags");
    }
    fields.finish()?;
    if tags.is_empty() {
        return Err(ApiError::Validation(
            "Atleast one Tag needs to be provided as Input.".into(),
        ));
    }
    let arn = arn.unwrap_or_default();
    db.update_table_settings(table, |settings| {
        settings.tags.extend(tags);
        Ok(())
    })
    .map_err(arn_not_found(arn))?;
    Ok(json!({}))
}

/// UntagResource.
pub fn untag_resource(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let arn = fields.string("ResourceArn")?;
    let keys = fields.strings("TagKeys")?;
    let table = table_of_arn(arn, "UntagResource")?;
    fields.require("TagKeys");
    fields.finish()?;
    let keys = keys.unwrap_or_default();
    if keys.is_empty() {
        return Err(ApiError::Validation(
            "Atleast one Tag Key needs to be provided as Input.".into(),
        ));
    }
    let arn = arn.unwrap_or_default();
    db.update_table_settings(table, |settings| {
        for key in &keys {
            settings.tags.remove(key);
        }
        Ok(())
    })
    .map_err(arn_not_found(arn))?;
    Ok(json!({}))
}

/// ListTagsOfResource: every tag, in key order, in one page.
pub fn list_tags_of_resource(db: &Database, fields: Fields<'_>) -> Result<Value, ApiError> {
    let arn = fields.string("ResourceArn")?;
    fields.string("NextToken")?;
    let table = table_of_arn(arn, "ListTagsOfResource")?;
    fields.finish()?;
    let description = db
        .describe_table(table)
        .map_err(arn_not_found(arn.unwrap_or_default()))?;
    let tags: Vec<Value> = description
        .settings
        .tags
        .iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect();
    Ok(json!({ "Tags": tags }))
}
