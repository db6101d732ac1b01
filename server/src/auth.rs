//! The `Authorization` header of AWS Signature Version 4, read and checked for its form
//! as DynamoDB checks it before anything else of a request: a missing or foreign scheme,
//! missing parts, a credential scope without its five elements.

use crate::error::ApiError;

/// The parts of a well-formed SigV4 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The algorithm, `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// The access key id (the first element of the credential scope).
    pub access_key: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    /// The scope's region, e.g. `us-east-1`.
    pub region: String,
    /// The scope's service, `dynamodb`.
    pub service: String,
    /// The signed headers, lowercase, in the header's order.
    pub signed_headers: Vec<String>,
    /// The signature, hex.
    pub signature: String,
}

/// Reads `header` (the `Authorization` header, if any); `has_date` tells whether the
/// request carries an `X-Amz-Date` or `Date` header.
///
/// Errors: [`ApiError::MissingAuthenticationToken`] without a header or with one of
/// another scheme; [`ApiError::IncompleteSignature`] with DynamoDB's message when a part
/// is missing or the credential scope is not five elements.
pub fn parse(header: Option<&str>, has_date: bool) -> Result<Authorization, ApiError> {
    let header = header.ok_or(ApiError::MissingAuthenticationToken)?;
    let trimmed = header.trim();
    if !trimmed.starts_with("AWS4-") {
        return Err(ApiError::MissingAuthenticationToken);
    }
    let (algorithm, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split([',', ' ']).map(str::trim).filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none() {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if !has_date {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(ApiError::IncompleteSignature(format!(
            "{missing}Authorization={header}"
        )));
    };
    if !missing.is_empty() {
        return Err(ApiError::IncompleteSignature(format!(
            "{missing}Authorization={header}"
        )));
    }
    let scope: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
    let [access_key, date, region, service, _terminator] = scope.as_slice() else {
        return Err(ApiError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    Ok(Authorization {
        algorithm: algorithm.to_owned(),
        access_key: (*access_key).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed_headers.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-west-2/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc123";

    #[test]
    fn a_well_formed_header_gives_its_parts() {
        let auth = parse(Some(GOOD), true).unwrap();
        assert_eq!(auth.access_key, "AKID");
        assert_eq!(auth.region, "us-west-2");
        assert_eq!(auth.service, "dynamodb");
        assert_eq!(
            auth.signed_headers,
            ["content-type", "host", "x-amz-date", "x-amz-target"]
        );
        assert_eq!(auth.signature, "abc123");
    }

    #[test]
    fn refusals_carry_dynamodbs_messages() {
        assert!(matches!(parse(None, true), Err(ApiError::MissingAuthenticationToken)));
        assert!(matches!(
            parse(Some("Basic abc"), true),
            Err(ApiError::MissingAuthenticationToken)
        ));
        let Err(ApiError::IncompleteSignature(message)) = parse(Some("AWS4-HMAC-SHA256 Signature=b"), false) else {
            panic!("an incomplete header is refused");
        };
        assert_eq!(
            message,
            "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=AWS4-HMAC-SHA256 Signature=b"
        );
        let Err(ApiError::IncompleteSignature(message)) = parse(
            Some("AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=x"),
            true,
        ) else {
            panic!("a short scope is refused");
        };
        assert_eq!(
            message,
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"
        );
    }
}
