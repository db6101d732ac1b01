//! The fields of a table's schema that CreateTable, UpdateTable and their index
//! definitions read alike: key schema elements, attribute definitions and provisioned
//! throughput, each with its violations noted as DynamoDB lists them.

use crate::error::ApiError;
use crate::input::Fields;

/// One `KeySchemaElement` or `AttributeDefinition`: a name and a kind.
pub(super) struct Named<'a> {
    /// `AttributeName`.
    pub name: &'a str,
    /// `KeyType` or `AttributeType`.
    pub kind: &'a str,
}

/// Reads a list of `{AttributeName, <kind_field>}` elements, noting their violations.
pub(super) fn named_list<'a>(
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

/// `ProvisionedThroughput`, if given: both units, each at least 1 (violations noted).
pub(super) fn throughput(fields: &mut Fields<'_>) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(mut throughput) = fields.structure("ProvisionedThroughput")? else {
        return Ok(None);
    };
    throughput.require("ReadCapacityUnits");
    throughput.require("WriteCapacityUnits");
    let read = throughput.integer("ReadCapacityUnits")?;
    let write = throughput.integer("WriteCapacityUnits")?;
    for (name, value) in [("ReadCapacityUnits", read), ("WriteCapacityUnits", write)] {
        if let Some(value) = value.filter(|value| *value < 1) {
            throughput.violation(
                name,
                Some(&value.to_string()),
                "Member must have value greater than or equal to 1",
            );
        }
    }
    fields.absorb(throughput);
    Ok(read.zip(write))
}
