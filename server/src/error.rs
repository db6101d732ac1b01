//! The errors the server answers with, as DynamoDB sends them: an HTTP status and a JSON
//! body `{"__type": "<namespace>#<Name>", "message": ...}`.
//!
//! Each refusal the protocol layer makes before a request reaches the engine is its own
//! variant; the engine's errors keep theirs ([`dynastore::Error::exception_name`]).

use serde_json::{Map, Value};

/// The namespace of DynamoDB's own exceptions.
const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
/// The namespace of the request-validation exceptions.
const VALIDATE: &str = "com.amazon.coral.validate";
/// The namespace of the service framework's exceptions (serialization, operation, auth).
const SERVICE: &str = "com.amazon.coral.service";

/// A refusal or failure, as the client will see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or a field has the wrong JSON type (HTTP 400,
    /// `SerializationException`; DynamoDB sends a bare body for unparsable JSON).
    #[error("SerializationException: {}", .0.as_deref().unwrap_or(""))]
    Serialization(Option<String>),
    /// A request that breaks a rule of the operation (HTTP 400, `ValidationException`).
    #[error("ValidationException: {0}")]
    Validation(String),
    /// The `X-Amz-Target` names no operation this server knows (HTTP 400).
    #[error("UnknownOperationException")]
    UnknownOperation,
    /// No `Authorization` header, or one that is not AWS Signature V4 (HTTP 400).
    #[error("MissingAuthenticationTokenException: Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// An `Authorization` header that lacks a part (HTTP 400).
    #[error("IncompleteSignatureException: {0}")]
    IncompleteSignature(String),
    /// A signature that does not verify, or is out of its date window (HTTP 400).
    #[error("InvalidSignatureException: {0}")]
    InvalidSignature(String),
    /// A request for a resource outside what the caller may reach, such as an ARN that is
    /// not one (HTTP 400, `AccessDeniedException`).
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    /// A resource named by ARN that does not exist (HTTP 400,
    /// `ResourceNotFoundException`, worded for the ARN).
    #[error("ResourceNotFoundException: {0}")]
    ResourceNotFound(String),
    /// More of a limited thing at once than DynamoDB allows, such as two global index
    /// changes in one UpdateTable (HTTP 400, `LimitExceededException`).
    #[error("LimitExceededException: {0}")]
    LimitExceeded(String),
    /// An access key this server does not know (HTTP 400).
    #[error("UnrecognizedClientException: The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The engine refused or failed the operation.
    #[error("{}: {}", .0.exception_name(), .0)]
    Engine(#[from] dynastore::Error),
    /// The server itself failed (HTTP 500): a worker thread was lost.
    #[error("InternalServerError: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status DynamoDB answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Engine(error) => match error.exception_name() {
                "InternalServerError" => 500,
                "ServiceUnavailable" => 503,
                _ => 400,
            },
            ApiError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The exception's name without its namespace, e.g. `ValidationException`.
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::Serialization(_) => "SerializationException",
            ApiError::Validation(_) => "ValidationException",
            ApiError::UnknownOperation => "UnknownOperationException",
            ApiError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ApiError::IncompleteSignature(_) => "IncompleteSignatureException",
            ApiError::InvalidSignature(_) => "InvalidSignatureException",
            ApiError::UnrecognizedClient => "UnrecognizedClientException",
            ApiError::AccessDenied(_) => "AccessDeniedException",
            ApiError::ResourceNotFound(_) => "ResourceNotFoundException",
            ApiError::LimitExceeded(_) => "LimitExceededException",
            ApiError::Engine(error) => error.exception_name(),
            ApiError::Internal(_) => "InternalServerError",
        }
    }

    /// The `__type` DynamoDB gives this exception: its namespace, `#`, its name.
    pub fn type_name(&self) -> String {
        let namespace = match self {
            ApiError::Validation(_) => VALIDATE,
            ApiError::Engine(error) if error.exception_name() == "ValidationException" => VALIDATE,
            ApiError::Engine(_)
            | ApiError::Internal(_)
            | ApiError::UnrecognizedClient
            | ApiError::ResourceNotFound(_)
            | ApiError::LimitExceeded(_) => DYNAMODB,
            _ => SERVICE,
        };
        format!("{namespace}#{}", self.name())
    }

    /// The message, as DynamoDB words it; `None` where DynamoDB sends none.
    pub fn message(&self) -> Option<String> {
        match self {
            ApiError::Serialization(message) => message.clone(),
            ApiError::UnknownOperation => None,
            ApiError::Validation(message)
            | ApiError::IncompleteSignature(message)
            | ApiError::InvalidSignature(message)
            | ApiError::AccessDenied(message)
            | ApiError::ResourceNotFound(message)
            | ApiError::LimitExceeded(message)
            | ApiError::Internal(message) => Some(message.clone()),
            ApiError::MissingAuthenticationToken => Some("Request is missing Authentication Token".into()),
            ApiError::UnrecognizedClient => Some("The security token included in the request is invalid.".into()),
            ApiError::Engine(error) => Some(error.to_string()),
        }
    }

    /// The JSON body of the error response. A failed condition whose request asked for
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD` carries the item as it is.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("__type".into(), Value::String(self.type_name()));
        if let Some(message) = self.message() {
            // The framework's serialization errors spell it `Message`.
            let key = if matches!(self, ApiError::Serialization(_)) {
                "Message"
            } else {
                "message"
            };
            body.insert(key.into(), Value::String(message));
        }
        if let ApiError::Engine(dynastore::Error::ConditionalCheckFailed { item: Some(item) }) = self {
            body.insert("Item".into(), item.to_json());
        }
        Value::Object(body)
    }
}

/// DynamoDB's refusal of several constraint violations at once:
/// `N validation error(s) detected: A; B`.
pub fn validation_errors(errors: &[String]) -> ApiError {
    let plural = if errors.len() == 1 { "" } else { "s" };
    ApiError::Validation(format!(
        "{} validation error{plural} detected: {}",
        errors.len(),
        errors.join("; ")
    ))
}

/// One constraint violation, as DynamoDB lists them: `Value 'v' at 'path' failed to
/// satisfy constraint: Member must ...` (`Value null` for a missing one).
pub fn constraint(value: Option<&str>, path: &str, rule: &str) -> String {
    let value = value.map_or_else(|| "null".to_owned(), |value| format!("'{value}'"));
    format!("Value {value} at '{path}' failed to satisfy constraint: {rule}")
}
