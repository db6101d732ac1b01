//! DynamoDB's data model: attribute values, items, numbers, their limits, their JSON, and
//! the order-preserving encoding of keys.

pub mod codec;
pub mod json;
pub mod key;
pub mod number;
pub mod validate;
pub mod value;

pub use number::{Number, NumberConversionError, NumberError};
pub use validate::{KeyAttribute, KeySchema, ScalarType, ValidationError, validate_item, validate_key, validate_value};
pub use value::{AttributeType, AttributeValue, Item};
