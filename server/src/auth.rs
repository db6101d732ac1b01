//! AWS Signature Version 4: the `Authorization` header read and checked for its form as
//! DynamoDB checks it before anything else of a request (a missing or foreign scheme,
//! missing parts, a credential scope without its five elements), and, when the server
//! knows its clients' secrets, the signature verified: the date window, the scope, the
//! access key, then the signature itself.

use crate::error::ApiError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far a request's date may be from the server's clock (DynamoDB's 15 minutes).
pub const DATE_WINDOW: Duration = Duration::from_secs(15 * 60);

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
    /// The scope's terminator, `aws4_request`.
    pub terminator: String,
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
    let [access_key, date, region, service, terminator] = scope.as_slice() else {
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
        terminator: (*terminator).to_owned(),
        signed_headers: signed_headers.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_owned(),
    })
}

/// Access key ids and their secret keys: the clients a server with `--auth` accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    secrets: HashMap<String, String>,
}

impl Credentials {
    /// Reads credentials from text: one `ACCESS_KEY_ID SECRET_ACCESS_KEY` pair per line,
    /// blank lines and lines starting with `#` ignored.
    ///
    /// Errors: the number (1-based) and text of the first line that is not a pair.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut secrets = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [id, secret] = parts.as_slice() else {
                return Err(format!(
                    "line {}: expected ACCESS_KEY_ID SECRET_ACCESS_KEY, got {line:?}",
                    number + 1
                ));
            };
            secrets.insert((*id).to_owned(), (*secret).to_owned());
        }
        Ok(Credentials { secrets })
    }

    /// Credentials of one client.
    pub fn single(access_key: &str, secret: &str) -> Credentials {
        Credentials {
            secrets: HashMap::from([(access_key.to_owned(), secret.to_owned())]),
        }
    }

    /// How many clients there are.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// What of a request its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The method, `POST`.
    pub method: &'a str,
    /// The path, `/`.
    pub path: &'a str,
    /// The query string, without `?` (empty for DynamoDB's requests).
    pub query: &'a str,
    /// The headers.
    pub headers: &'a hyper::HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// A header's value by its lowercase name (the first, if repeated).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for a time, as SigV4 writes dates.
pub fn amz_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The time of a `YYYYMMDDTHHMMSSZ` date, or `None` if it is not one.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Howard Hinnant's days-from-civil algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Verifies a request's signature against `credentials`, at time `now`.
///
/// Errors, in DynamoDB's order: [`ApiError::IncompleteSignature`] for a date that is not
/// ISO-8601 basic format or an algorithm other than `AWS4-HMAC-SHA256`;
/// [`ApiError::InvalidSignature`] for a date outside [`DATE_WINDOW`], a `host` that is
/// not signed, or a scope of the wrong date, service or terminator;
/// [`ApiError::UnrecognizedClient`] for an unknown access key; and
/// [`ApiError::InvalidSignature`] for a signature that does not match.
pub fn verify(
    authorization: &Authorization,
    request: &SignedRequest<'_>,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<(), ApiError> {
    let date_text = request
        .header("x-amz-date")
        .or_else(|| request.header("date"))
        .unwrap_or("");
    let date = parse_amz_date(date_text).ok_or_else(|| {
        ApiError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date_text}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })?;
    if date + DATE_WINDOW < now {
        return Err(ApiError::InvalidSignature(format!(
            "Signature expired: {date_text} is now earlier than {} ({} - 15 min.)",
            amz_date(now - DATE_WINDOW),
            amz_date(now)
        )));
    }
    if date > now + DATE_WINDOW {
        return Err(ApiError::InvalidSignature(format!(
            "Signature not yet current: {date_text} is still later than {} ({} + 15 min.)",
            amz_date(now + DATE_WINDOW),
            amz_date(now)
        )));
    }
    if !authorization.signed_headers.iter().any(|name| name == "host") {
        return Err(ApiError::InvalidSignature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if authorization.algorithm != "AWS4-HMAC-SHA256" {
        return Err(ApiError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{}' (only AWS4-HMAC-SHA256 for now). ",
            authorization.algorithm
        )));
    }
    let mut scope_problems = String::new();
    if authorization.service != "dynamodb" {
        scope_problems.push_str("Credential should be scoped to correct service: 'dynamodb'. ");
    }
    if authorization.terminator != "aws4_request" {
        scope_problems.push_str(&format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            authorization.terminator
        ));
    }
    if authorization.date != date_text.get(..8).unwrap_or("") {
        scope_problems.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date_text}'.",
            authorization.date,
            date_text.get(..8).unwrap_or("")
        ));
    }
    if !scope_problems.is_empty() {
        return Err(ApiError::InvalidSignature(scope_problems.trim_end().to_owned()));
    }
    let secret = credentials
        .secrets
        .get(&authorization.access_key)
        .ok_or(ApiError::UnrecognizedClient)?;

    let canonical_headers: String = authorization
        .signed_headers
        .iter()
        .map(|name| {
            let value = request.header(name).unwrap_or("");
            format!("{name}:{}\n", value.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect();
    let payload_hash = match request.header("x-amz-content-sha256") {
        Some(hash) => hash.to_owned(),
        None => hex(&Sha256::digest(request.body)),
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        request.method,
        request.path,
        request.query,
        authorization.signed_headers.join(";")
    );
    let scope = format!(
        "{}/{}/{}/{}",
        authorization.date, authorization.region, authorization.service, authorization.terminator
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_text}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), authorization.date.as_bytes());
    for part in [&authorization.region, &authorization.service, &authorization.terminator] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, string_to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), authorization.signature.as_bytes()) {
        return Err(ApiError::InvalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ));
    }
    Ok(())
}

/// Compares without stopping at the first difference, so the time taken tells nothing of
/// how much of a guessed signature was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[test]
    fn dates_convert_both_ways() {
        for text in [
            "19700101T000000Z",
            "20261206T235959Z",
            "20000229T120000Z",
            "21060207T062815Z",
        ] {
            let time = parse_amz_date(text).unwrap();
            assert_eq!(amz_date(time), text);
        }
        assert_eq!(parse_amz_date("2026-12-06T00:00:00Z"), None);
        assert_eq!(parse_amz_date("20261306T000000Z"), None);
    }

    fn headers(date: &str) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("host", "localhost:8000".parse().unwrap());
        headers.insert("x-amz-date", date.parse().unwrap());
        headers
    }

    /// The signature a client with `secret` computes for a POST of `body` at `date`,
    /// signing `host` and `x-amz-date`, written out step by step as the AWS
    /// documentation gives them (the SDK end-to-end test checks the same against a real
    /// client).
    fn sign(secret: &str, date: &str, body: &[u8]) -> String {
        let canonical = format!(
            "POST\n/\n\nhost:localhost:8000\nx-amz-date:{date}\n\nhost;x-amz-date\n{}",
            hex(&Sha256::digest(body))
        );
        let day = &date[..8];
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{day}/us-east-1/dynamodb/aws4_request\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
        for part in ["us-east-1", "dynamodb", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        hex(&hmac(&key, to_sign.as_bytes()))
    }

    #[test]
    fn signatures_are_checked_for_date_scope_key_and_value() {
        let now = parse_amz_date("20261206T120000Z").unwrap();
        let credentials = Credentials::single("AKID", "secret");
        let check = |date: &str, scope_date: &str, key: &str, signature: &str, body: &[u8]| {
            let header = format!(
                "AWS4-HMAC-SHA256 Credential={key}/{scope_date}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
            );
            let auth = parse(Some(&header), true).unwrap();
            let headers = headers(date);
            let request = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            };
            verify(&auth, &request, &credentials, now)
        };
        let date = "20261206T115500Z";
        let good = sign("secret", date, b"{}");
        assert!(check(date, "20261206", "AKID", &good, b"{}").is_ok());
        // The body is signed: another body under the same signature is refused.
        assert!(matches!(
            check(date, "20261206", "AKID", &good, b"{ }"),
            Err(ApiError::InvalidSignature(_))
        ));
        assert!(matches!(
            check(date, "20261206", "AKID", &sign("wrong", date, b"{}"), b"{}"),
            Err(ApiError::InvalidSignature(_))
        ));
        assert!(matches!(
            check(date, "20261206", "NOBODY", &good, b"{}"),
            Err(ApiError::UnrecognizedClient)
        ));
        let old = "20261206T114400Z";
        let Err(ApiError::InvalidSignature(message)) =
            check(old, "20261206", "AKID", &sign("secret", old, b"{}"), b"{}")
        else {
            panic!("a date 16 minutes old is refused");
        };
        assert_eq!(
            message,
            "Signature expired: 20261206T114400Z is now earlier than 20261206T114500Z (20261206T120000Z - 15 min.)"
        );
        let Err(ApiError::InvalidSignature(message)) = check(date, "20261205", "AKID", &good, b"{}") else {
            panic!("a scope of another day is refused");
        };
        assert!(
            message.starts_with("Date in Credential scope does not match"),
            "{message}"
        );
        assert!(matches!(
            check("yesterday", "20261206", "AKID", &good, b"{}"),
            Err(ApiError::IncompleteSignature(_))
        ));
    }

    #[test]
    fn credential_files_are_pairs_per_line() {
        let credentials = Credentials::parse("# clients\nAKID1 secret1\n\n  AKID2   secret2  \n").unwrap();
        assert_eq!(credentials.len(), 2);
        assert_eq!(
            Credentials::parse("AKID1 secret1\njust-one\n").unwrap_err(),
            "line 2: expected ACCESS_KEY_ID SECRET_ACCESS_KEY, got \"just-one\""
        );
    }
}
