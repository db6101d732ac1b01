//! BatchWriteItem and BatchGetItem on the wire.

use super::items::{capacity, capacity_json, collection_json, reports};
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::{
    BatchGetInput, ConsumedCapacity, Database, Item, KeysAndAttributes, ReturnConsumedCapacity, WriteRequest,
};
use serde_json::{Map, Value, json};

/// BatchWriteItem: `RequestItems` of tables to lists of `PutRequest`/`DeleteRequest`;
/// answers `UnprocessedItems` in the same shape.
pub fn batch_write_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    fields.require("RequestItems");
    let mut requests = Vec::new();
    let empty = Map::new();
    // The request's own map: its lifetime is the body's, not `fields`'s.
    let tables = fields.map("RequestItems")?.unwrap_or(&empty);
    for (table, list) in tables {
        let path = format!("{}.{table}", fields.path_of("RequestItems"));
        let Value::Array(list) = list else {
            return Err(ApiError::Serialization(Some("Unexpected field type".into())));
        };
        for (i, element) in list.iter().enumerate() {
            let mut request = Fields::nested(element, format!("{path}.{}.member", i + 1))?;
            let put = request.structure("PutRequest")?;
            let delete = request.structure("DeleteRequest")?;
            let write = match (put, delete) {
                (Some(mut put), None) => {
                    put.require("Item");
                    let item = put.item("Item")?;
                    request.absorb(put);
                    item.map(WriteRequest::Put)
                }
                (None, Some(mut delete)) => {
                    delete.require("Key");
                    let key = delete.item("Key")?;
                    request.absorb(delete);
                    key.map(WriteRequest::Delete)
                }
                // DynamoDB words a request with neither or both as it does an attribute value.
                _ => {
                    return Err(ApiError::Validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes".into(),
                    ));
                }
            };
            fields.absorb(request);
            if let Some(write) = write {
                requests.push((table.clone(), write));
            }
        }
    }
    let (mode, collection_metrics) = reports(&mut fields)?;
    fields.finish()?;
    let out = db.batch_write_reporting(requests, collection_metrics)?;
    let mut unprocessed: Map<String, Value> = Map::new();
    for (table, request) in out.unprocessed_items {
        let json = match request {
            WriteRequest::Put(item) => json!({ "PutRequest": { "Item": item.to_json() } }),
            WriteRequest::Delete(key) => json!({ "DeleteRequest": { "Key": key.to_json() } }),
        };
        if let Value::Array(list) = unprocessed.entry(table).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(json);
        }
    }
    let mut json = json!({ "UnprocessedItems": unprocessed });
    if mode.wanted() {
        json["ConsumedCapacity"] = consumed_json(&out.consumed_capacity, mode);
    }
    if collection_metrics {
        // Per table, one entry per item collection the written requests touched.
        let mut tables: Map<String, Value> = Map::new();
        for (table, metrics) in &out.item_collection_metrics {
            if let Value::Array(list) = tables.entry(table.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                list.push(collection_json(metrics));
            }
        }
        json["ItemCollectionMetrics"] = Value::Object(tables);
    }
    Ok(json)
}

/// BatchGetItem: `RequestItems` of tables to `KeysAndAttributes`; answers `Responses`
/// and `UnprocessedKeys` (each with the table's projection and consistency as asked).
pub fn batch_get_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    fields.require("RequestItems");
    let empty = Map::new();
    let tables = fields.map("RequestItems")?.unwrap_or(&empty);
    let mut input = BatchGetInput::default();
    for (table, request) in tables {
        let mut request = Fields::nested(request, format!("{}.{table}.member", fields.path_of("RequestItems")))?;
        request.require("Keys");
        let keys = match request.list("Keys")? {
            Some(list) => list
                .iter()
                .map(|key| match key {
                    Value::Object(_) => Item::from_json(key).map_err(|e| ApiError::Engine(e.into())),
                    _ => Err(ApiError::Serialization(Some("Unexpected field type".into()))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let mut wanted = KeysAndAttributes::new(keys);
        wanted.projection_expression = request.string("ProjectionExpression")?.map(str::to_owned);
        wanted.expression_attribute_names = request.names("ExpressionAttributeNames")?;
        wanted.consistent_read = request.boolean("ConsistentRead")?.unwrap_or(false);
        wanted.attributes_to_get = request.attributes_to_get()?;
        fields.absorb(request);
        input = input.with(table.clone(), wanted);
    }
    input.return_consumed_capacity = capacity(&mut fields)?;
    fields.finish()?;
    let mode = input.return_consumed_capacity;
    let out = db.batch_get(input)?;
    let responses: Map<String, Value> = out
        .responses
        .into_iter()
        .map(|(table, items)| (table, Value::Array(items.iter().map(Item::to_json).collect())))
        .collect();
    let mut unprocessed = Map::new();
    for (table, keys) in out.unprocessed_keys {
        // As asked: the request's own projection, names and consistency for this table.
        let mut again = tables.get(&table).cloned().unwrap_or_else(|| json!({}));
        again["Keys"] = Value::Array(keys.keys.iter().map(Item::to_json).collect());
        unprocessed.insert(table, again);
    }
    let mut json = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    if mode.wanted() {
        json["ConsumedCapacity"] = consumed_json(&out.consumed_capacity, mode);
    }
    Ok(json)
}

/// A batch's `ConsumedCapacity`: one entry per table.
fn consumed_json(consumed: &[ConsumedCapacity], mode: ReturnConsumedCapacity) -> Value {
    Value::Array(consumed.iter().map(|table| capacity_json(table, mode)).collect())
}
