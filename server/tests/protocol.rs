//! Requests no SDK sends: each bad one gets DynamoDB's answer, writes nothing, and the
//! server stays up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestServer;
use dynastore::Options;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0123abcd";

/// One HTTP/1.1 exchange on its own connection; returns the status and the body.
async fn exchange(server: &TestServer, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // A server that answers before reading the whole body may close first.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    (status, body)
}

/// A POST with the given headers (each a full line) and body.
async fn post(server: &TestServer, headers: &[String], body: &str) -> (u16, String) {
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    exchange(server, &head, body.as_bytes()).await
}

/// The headers of a well-formed request for `operation`.
fn signed(operation: &str) -> Vec<String> {
    vec![
        "Content-Type: application/x-amz-json-1.0".into(),
        format!("X-Amz-Target: DynamoDB_20120810.{operation}"),
        "X-Amz-Date: 20261206T120000Z".into(),
        format!("Authorization: {AUTH}"),
    ]
}

async fn call(server: &TestServer, operation: &str, body: &Value) -> (u16, Value) {
    let (status, text) = post(server, &signed(operation), &body.to_string()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")),
    )
}

/// The (`__type`, message) of an error body.
fn error_of(body: &Value) -> (String, Option<String>) {
    let message = body.get("message").or_else(|| body.get("Message"));
    (
        body["__type"].as_str().unwrap_or_default().to_owned(),
        message.and_then(Value::as_str).map(str::to_owned),
    )
}

async fn scan_count(server: &TestServer) -> u64 {
    let (status, body) = call(server, "Scan", &json!({"TableName": "Orders"})).await;
    assert_eq!(status, 200, "{body}");
    body["Count"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_dynamodbs_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let create = json!({
        "TableName": "Orders",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    assert_eq!(call(&server, "CreateTable", &create).await.0, 200);
    let item = json!({"TableName": "Orders", "Item": {"pk": {"S": "a"}}}).to_string();

    // The transport's refusals.
    let (status, body) = post(
        &server,
        &[
            "Content-Type: text/plain".into(),
            "X-Amz-Target: DynamoDB_20120810.PutItem".into(),
            format!("Authorization: {AUTH}"),
        ],
        &item,
    )
    .await;
    assert_eq!((status, body.as_str()), (404, "<UnknownOperationException/>\n"));
    let too_big = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\r\n",
        16 * 1024 * 1024 + 1
    );
    assert_eq!(exchange(&server, &too_big, b"{").await.0, 413);

    let cases: Vec<(Vec<String>, String, &str, Option<&str>)> = vec![
        (
            signed("PutItem"),
            "{not json".into(),
            "com.amazon.coral.service#SerializationException",
            None,
        ),
        (
            signed("Frobnicate"),
            item.clone(),
            "com.amazon.coral.service#UnknownOperationException",
            None,
        ),
        (
            {
                let mut headers = signed("PutItem");
                headers[1] = "X-Amz-Target: DynamoDBStreams_20120810.ListStreams".into();
                headers
            },
            "{}".into(),
            "com.amazon.coral.service#UnknownOperationException",
            None,
        ),
        (
            signed("PutItem")[..3].to_vec(),
            item.clone(),
            "com.amazon.coral.service#MissingAuthenticationTokenException",
            Some("Request is missing Authentication Token"),
        ),
        (
            {
                let mut headers = signed("PutItem");
                headers[3] = "Authorization: AWS4-HMAC-SHA256 Signature=x".into();
                headers
            },
            item.clone(),
            "com.amazon.coral.service#IncompleteSignatureException",
            Some(
                "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Signature=x",
            ),
        ),
        (
            signed("PutItem"),
            json!({"TableName": 5, "Item": {"pk": {"S": "a"}}}).to_string(),
            "com.amazon.coral.service#SerializationException",
            Some("NUMBER_VALUE cannot be converted to String"),
        ),
        (
            signed("PutItem"),
            json!({"TableName": "Orders", "Item": [1]}).to_string(),
            "com.amazon.coral.service#SerializationException",
            Some("Start of list found where not expected"),
        ),
        (
            signed("PutItem"),
            "{}".into(),
            "com.amazon.coral.validate#ValidationException",
            Some(
                "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value null at 'item' failed to satisfy constraint: Member must not be null",
            ),
        ),
        (
            signed("PutItem"),
            json!({"TableName": "Orders", "Item": {"pk": {"S": "a"}}, "ReturnValues": "SOME"}).to_string(),
            "com.amazon.coral.validate#ValidationException",
            Some(
                "1 validation error detected: Value 'SOME' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
            ),
        ),
        (
            signed("PutItem"),
            json!({"TableName": "Orders", "Item": {"pk": {"S": "a"}, "blob": {"S": "x".repeat(409_600)}}}).to_string(),
            "com.amazon.coral.validate#ValidationException",
            Some("Item size has exceeded the maximum allowed size"),
        ),
        (
            signed("PutItem"),
            json!({"TableName": "Missing", "Item": {"pk": {"S": "a"}}}).to_string(),
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
            Some("Requested resource not found: Table: Missing not found"),
        ),
        (
            signed("PutItem"),
            json!({"TableName": "Orders", "Item": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_exists(pk)"})
                .to_string(),
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            Some("The conditional request failed"),
        ),
        (
            signed("TagResource"),
            json!({"ResourceArn": "not-an-arn", "Tags": [{"Key": "k", "Value": "v"}]}).to_string(),
            "com.amazon.coral.service#AccessDeniedException",
            Some(
                "User: arn:aws:iam::000000000000:user/dynastore is not authorized to perform: dynamodb:TagResource on resource: not-an-arn",
            ),
        ),
        (
            signed("TagResource"),
            json!({"ResourceArn": "arn:aws:s3:::bucket/key", "Tags": [{"Key": "k", "Value": "v"}]}).to_string(),
            "com.amazon.coral.validate#ValidationException",
            Some("Invalid TableArn: Invalid ResourceArn provided as input arn:aws:s3:::bucket/key"),
        ),
        (
            signed("TagResource"),
            json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/Orders", "Tags": []}).to_string(),
            "com.amazon.coral.validate#ValidationException",
            Some("Atleast one Tag needs to be provided as Input."),
        ),
        (
            signed("UpdateTable"),
            json!({"TableName": "Orders"}).to_string(),
            "com.amazon.coral.validate#ValidationException",
            Some(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ),
        ),
        (
            signed("DescribeTable"),
            "{}".into(),
            "com.amazon.coral.validate#ValidationException",
            Some("The parameter 'TableName' is required but was not present in the request"),
        ),
    ];
    for (headers, body, expected_type, expected_message) in cases {
        let (status, text) = post(&server, &headers, &body).await;
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        assert_eq!(status, 400, "{json}");
        let (kind, message) = error_of(&json);
        assert_eq!(kind, expected_type, "{headers:?} {json}");
        assert_eq!(message.as_deref(), expected_message, "{json}");
        assert_eq!(scan_count(&server).await, 0, "nothing written by {json}");
    }

    // Still up, and still writing.
    assert_eq!(
        call(&server, "PutItem", &serde_json::from_str(&item).unwrap()).await.0,
        200
    );
    assert_eq!(scan_count(&server).await, 1);
    let (status, health) = exchange(&server, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"").await;
    assert_eq!(
        (status, health.as_str()),
        (200, "healthy: dynamodb.us-east-1.amazonaws.com ")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_checks_its_key_schema_as_dynamodb_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let key = |name: &str, kind: &str| json!({"AttributeName": name, "KeyType": kind});
    let definition = |name: &str, kind: &str| json!({"AttributeName": name, "AttributeType": kind});
    let cases = vec![
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("pk", "S")]}),
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("pk", "S")],
                   "BillingMode": "PAY_PER_REQUEST", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}),
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("other", "S")],
                   "BillingMode": "PAY_PER_REQUEST"}),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
        ),
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "RANGE")], "AttributeDefinitions": [definition("pk", "S")],
                   "BillingMode": "PAY_PER_REQUEST"}),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("pk", "S"), definition("x", "N")],
                   "BillingMode": "PAY_PER_REQUEST"}),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            json!({"TableName": "Tab1", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("pk", "X")],
                   "BillingMode": "PAY_PER_REQUEST"}),
            "1 validation error detected: Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
        ),
        (
            json!({"TableName": "Tab1", "AttributeDefinitions": [definition("pk", "S")], "BillingMode": "PAY_PER_REQUEST"}),
            "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null",
        ),
        (
            json!({"TableName": "ab", "KeySchema": [key("pk", "HASH")], "AttributeDefinitions": [definition("pk", "S")]}),
            "TableName must be at least 3 characters long and at most 255 characters long",
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = call(&server, "CreateTable", &request).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            error_of(&body),
            (
                "com.amazon.coral.validate#ValidationException".to_owned(),
                Some(expected.to_owned())
            ),
            "{request}"
        );
    }
    let (_, listed) = call(&server, "ListTables", &json!({})).await;
    assert_eq!(listed["TableNames"], json!([]), "no refused table was created");
    server.stop().await;
}

/// CreateTable's checks of secondary indexes, with DynamoDB's messages (dynalite's
/// expectations, written against DynamoDB), and nothing created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_checks_its_indexes_as_dynamodb_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let key = |name: &str, kind: &str| json!({"AttributeName": name, "KeyType": kind});
    let definition = |name: &str, kind: &str| json!({"AttributeName": name, "AttributeType": kind});
    let table = |indexes: Value| {
        let mut request = json!({
            "TableName": "Tab1", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [key("pk", "HASH"), key("sk", "RANGE")],
            "AttributeDefinitions": [definition("pk", "S"), definition("sk", "N"), definition("lsk", "S"), definition("g", "S")],
        });
        for (list, value) in indexes.as_object().unwrap() {
            request[list] = value.clone();
        }
        request
    };
    let local = |name: &str, sort: &str| json!({"IndexName": name, "KeySchema": [key("pk", "HASH"), key(sort, "RANGE")], "Projection": {"ProjectionType": "ALL"}});
    let global = |name: &str| json!({"IndexName": name, "KeySchema": [key("g", "HASH")], "Projection": {"ProjectionType": "KEYS_ONLY"}});
    let cases = vec![
        (
            table(json!({"LocalSecondaryIndexes": []})),
            "One or more parameter values were invalid: List of LocalSecondaryIndexes is empty",
        ),
        (
            table(json!({"LocalSecondaryIndexes": [local("idx", "nope")], "GlobalSecondaryIndexes": [global("gidx")]})),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk, nope], AttributeDefinitions: [pk, sk, lsk, g]",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [{"IndexName": "idx", "KeySchema": [key("g", "HASH"), key("lsk", "RANGE")], "Projection": {"ProjectionType": "ALL"}}], "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: idx. index hash key: g, table hash key: pk",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [{"IndexName": "idx", "KeySchema": [key("pk", "HASH")], "Projection": {"ProjectionType": "ALL"}}], "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: Index KeySchema does not have a range key for index: idx",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [{"IndexName": "idx", "KeySchema": [key("pk", "HASH"), key("lsk", "RANGE")], "Projection": {"ProjectionType": "ALL", "NonKeyAttributes": ["a"]}}], "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: ProjectionType is ALL, but NonKeyAttributes is specified",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [{"IndexName": "idx", "KeySchema": [key("pk", "HASH"), key("lsk", "RANGE")], "Projection": {}}], "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: Unknown ProjectionType: null",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [local("idx", "lsk"), local("idx", "lsk")], "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: Duplicate index name: idx",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": (0..6).map(|i| local(&format!("idx{i}"), "lsk")).collect::<Vec<_>>(), "GlobalSecondaryIndexes": [global("gidx")]}),
            ),
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [local("idx", "lsk")], "GlobalSecondaryIndexes": [{"IndexName": "gidx", "KeySchema": [key("g", "HASH")], "Projection": {"ProjectionType": "ALL"}, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}]}),
            ),
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: gidx when BillingMode is PAY_PER_REQUEST",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [local("idx", "lsk")], "GlobalSecondaryIndexes": (0..21).map(|i| global(&format!("gidx{i}"))).collect::<Vec<_>>()}),
            ),
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20",
        ),
        (
            table(json!({"LocalSecondaryIndexes": [local("idx", "lsk")]})),
            "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [pk, sk, lsk, g], keys used: [pk, sk, lsk]",
        ),
        (
            table(
                json!({"LocalSecondaryIndexes": [{"IndexName": "i", "KeySchema": [key("pk", "HASH"), key("lsk", "RANGE")], "Projection": {"ProjectionType": "ALL"}}]}),
            ),
            "1 validation error detected: Value 'i' at 'localSecondaryIndexes.1.member.indexName' failed to satisfy constraint: Member must have length greater than or equal to 3",
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = call(&server, "CreateTable", &request).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            error_of(&body),
            (
                "com.amazon.coral.validate#ValidationException".to_owned(),
                Some(expected.to_owned())
            ),
            "{request}"
        );
    }
    let (_, listed) = call(&server, "ListTables", &json!({})).await;
    assert_eq!(listed["TableNames"], json!([]), "no refused table was created");
    server.stop().await;
}

/// A server embedded in a current-thread runtime still answers (its engine calls go to
/// the blocking pool there).
#[tokio::test(flavor = "current_thread")]
async fn a_current_thread_runtime_serves_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let (status, body) = call(&server, "ListTables", &json!({})).await;
    assert_eq!((status, &body["TableNames"]), (200, &json!([])));
    server.stop().await;
}

/// The violations DynamoDB lists together, in any order (the order is DynamoDB's own
/// business): each expected entry must be one of the message's.
fn assert_violations(body: &Value, expected: &[&str]) {
    let (kind, message) = error_of(body);
    assert_eq!(kind, "com.amazon.coral.validate#ValidationException", "{body}");
    let message = message.unwrap_or_default();
    let plural = if expected.len() == 1 { "" } else { "s" };
    let prefix = format!("{} validation error{plural} detected: ", expected.len());
    let listed: Vec<&str> = message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{message}"))
        .split("; ")
        .collect();
    for entry in expected {
        assert!(listed.contains(entry), "{entry:?} not in {listed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_operations_list_every_violation_together() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let (_, body) = call(&server, "GetItem", &json!({})).await;
    assert_violations(
        &body,
        &[
            "Value null at 'key' failed to satisfy constraint: Member must not be null",
            "Value null at 'tableName' failed to satisfy constraint: Member must not be null",
        ],
    );
    let (_, body) = call(&server, "GetItem", &json!({"TableName": "a;"})).await;
    assert_violations(
        &body,
        &[
            "Value 'a;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            "Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
            "Value null at 'key' failed to satisfy constraint: Member must not be null",
        ],
    );
    let (_, body) = call(
        &server,
        "GetItem",
        &json!({"TableName": "abc;", "ReturnConsumedCapacity": "hi", "AttributesToGet": []}),
    )
    .await;
    assert_violations(
        &body,
        &[
            "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
            "Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
            "Value null at 'key' failed to satisfy constraint: Member must not be null",
            "Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ],
    );
    let long = "a".repeat(256);
    let (_, body) = call(&server, "Query", &json!({"TableName": long})).await;
    assert_violations(
        &body,
        &[&format!(
            "Value '{long}' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255"
        )],
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expression_parameters_are_checked_before_attribute_values() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let cases = [
        (
            "PutItem",
            json!({"TableName": "abc", "Item": {"a": {}}, "Expected": {"a": {}}, "ExpressionAttributeNames": {},
                   "ExpressionAttributeValues": {}, "ConditionExpression": ""}),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
        ),
        (
            "PutItem",
            json!({"TableName": "abc", "Item": {"a": {}}, "Expected": {"a": {}}, "ExpressionAttributeNames": {},
                   "ExpressionAttributeValues": {}}),
            "ExpressionAttributeNames can only be specified when using expressions",
        ),
        (
            "PutItem",
            json!({"TableName": "abc", "Item": {"a": {}}, "Expected": {"a": {}}, "ExpressionAttributeValues": {}}),
            "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null",
        ),
        (
            "UpdateItem",
            json!({"TableName": "abc", "Key": {"a": {}}, "ExpressionAttributeValues": {}}),
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null",
        ),
        (
            "GetItem",
            json!({"TableName": "abc", "Key": {"a": {}}, "AttributesToGet": ["a"], "ExpressionAttributeNames": {},
                   "ProjectionExpression": ""}),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        ),
        (
            "Query",
            json!({"TableName": "abc", "KeyConditions": {}, "KeyConditionExpression": "a = :a", "QueryFilter": {},
                   "FilterExpression": "b = :b"}),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {QueryFilter, KeyConditions} Expression parameters: {FilterExpression, KeyConditionExpression}",
        ),
        (
            "PutItem",
            json!({"TableName": "abc", "Item": {"a": {}}}),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
    ];
    for (operation, request, expected) in cases {
        let (status, body) = call(&server, operation, &request).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            error_of(&body),
            (
                "com.amazon.coral.validate#ValidationException".to_owned(),
                Some(expected.to_owned())
            ),
            "{operation} {request}"
        );
    }
    server.stop().await;
}
