//! The server driven end to end by the official AWS SDK for Rust, as a user's program
//! would: tables, items, conditions, updates, paging, batches, and the SDK's own typed
//! errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, PutRequest,
    ReturnItemCollectionMetrics, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select,
    TableStatus, WriteRequest,
};
use common::TestServer;
use dynastore::Options;
use std::collections::HashMap;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// Creates `name` with partition key `pk` (S) and sort key `sk` (N).
fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("a key element")
}

fn definition(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("a definition")
}

async fn create_orders(client: &Client, name: &str) {
    let created = client
        .create_table()
        .table_name(name)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .attribute_definitions(definition("sk", ScalarAttributeType::N))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
    let description = created.table_description().expect("a description");
    assert_eq!(description.table_name(), Some(name));
    assert_eq!(description.table_status(), Some(&TableStatus::Active));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_created_described_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    for name in ["Alpha", "Beta", "Gamma"] {
        create_orders(&client, name).await;
    }
    let again = client
        .create_table()
        .table_name("Alpha")
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect_err("the table exists");
    assert_eq!(again.code(), Some("ResourceInUseException"));

    let described = client.describe_table().table_name("Beta").send().await.unwrap();
    let table = described.table().unwrap();
    assert_eq!(
        table.table_arn(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/Beta")
    );
    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|key| (key.attribute_name(), key.key_type()))
        .collect();
    assert_eq!(keys, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    assert_eq!(table.item_count(), Some(0));

    let first = client.list_tables().limit(2).send().await.unwrap();
    assert_eq!(first.table_names(), ["Alpha", "Beta"]);
    assert_eq!(first.last_evaluated_table_name(), Some("Beta"));
    let rest = client
        .list_tables()
        .exclusive_start_table_name("Beta")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.table_names(), ["Gamma"]);
    assert_eq!(rest.last_evaluated_table_name(), None);

    let endpoints = client.describe_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints().len(), 1);
    assert_eq!(endpoints.endpoints()[0].address(), server.addr.to_string());
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.table_max_write_capacity_units(), Some(40000));

    client.delete_table().table_name("Beta").send().await.unwrap();
    let gone = client
        .describe_table()
        .table_name("Beta")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        gone.message(),
        Some("Requested resource not found: Table: Beta not found")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_written_read_updated_and_deleted_with_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;

    client
        .put_item()
        .table_name("Orders")
        .item("pk", s("User123"))
        .item("sk", n(1))
        .item("status", s("new"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .expect("a create-only put of a new item");

    // The same create-only put fails with the SDK's own error type, carrying the item.
    let failed = client
        .put_item()
        .table_name("Orders")
        .item("pk", s("User123"))
        .item("sk", n(1))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("the item exists");
    match failed.into_service_error() {
        PutItemError::ConditionalCheckFailedException(error) => {
            assert_eq!(error.message(), Some("The conditional request failed"));
            assert_eq!(error.item().and_then(|item| item.get("status")), Some(&s("new")));
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }

    let updated = client
        .update_item()
        .table_name("Orders")
        .key("pk", s("User123"))
        .key("sk", n(1))
        .update_expression("SET #s = :shipped, orderTotal = if_not_exists(orderTotal, :zero) + :amount ADD tags :tag")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":shipped", s("shipped"))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":amount", n(42))
        .expression_attribute_values(":tag", AttributeValue::Ss(vec!["gift".into()]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let item = updated.attributes().unwrap();
    assert_eq!(item.get("status"), Some(&s("shipped")));
    assert_eq!(item.get("orderTotal"), Some(&n(42)));
    assert_eq!(item.get("tags"), Some(&AttributeValue::Ss(vec!["gift".into()])));

    let read = client
        .get_item()
        .table_name("Orders")
        .key("pk", s("User123"))
        .key("sk", n(1))
        .projection_expression("orderTotal, #s")
        .expression_attribute_names("#s", "status")
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let expected: HashMap<String, AttributeValue> =
        [("orderTotal".to_owned(), n(42)), ("status".to_owned(), s("shipped"))].into();
    assert_eq!(read.item(), Some(&expected));

    let reserved = client
        .update_item()
        .table_name("Orders")
        .key("pk", s("User123"))
        .key("sk", n(1))
        .update_expression("SET status = :v")
        .expression_attribute_values(":v", s("lost"))
        .send()
        .await
        .expect_err("a reserved word");
    assert_eq!(reserved.code(), Some("ValidationException"));
    assert_eq!(
        reserved.message(),
        Some("Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status")
    );

    let deleted = client
        .delete_item()
        .table_name("Orders")
        .key("pk", s("User123"))
        .key("sk", n(1))
        .condition_expression("orderTotal > :min")
        .expression_attribute_values(":min", n(10))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted.attributes().and_then(|item| item.get("status")),
        Some(&s("shipped"))
    );
    let missing = client
        .get_item()
        .table_name("Orders")
        .key("pk", s("User123"))
        .key("sk", n(1))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.item(), None);

    // An UpdateItem with no update at all writes the key alone, as DynamoDB does.
    client
        .update_item()
        .table_name("Orders")
        .key("pk", s("Touched"))
        .key("sk", n(7))
        .send()
        .await
        .unwrap();
    let touched = client
        .get_item()
        .table_name("Orders")
        .key("pk", s("Touched"))
        .key("sk", n(7))
        .send()
        .await
        .unwrap();
    let key_only: HashMap<String, AttributeValue> = [("pk".to_owned(), s("Touched")), ("sk".to_owned(), n(7))].into();
    assert_eq!(touched.item(), Some(&key_only));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_and_scans_page_through_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;
    for customer in ["a", "b"] {
        for order in 0..25 {
            client
                .put_item()
                .table_name("Orders")
                .item("pk", s(customer))
                .item("sk", n(order))
                .item("odd", AttributeValue::Bool(order % 2 == 1))
                .send()
                .await
                .unwrap();
        }
    }

    // Pages of 10, followed by LastEvaluatedKey, descending.
    let mut orders = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page = client
            .query()
            .table_name("Orders")
            .key_condition_expression("pk = :p AND sk >= :from")
            .expression_attribute_values(":p", s("a"))
            .expression_attribute_values(":from", n(5))
            .scan_index_forward(false)
            .limit(10)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        pages += 1;
        for item in page.items() {
            let AttributeValue::N(order) = &item["sk"] else {
                panic!("sk is a number")
            };
            orders.push(order.parse::<i64>().unwrap());
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    assert_eq!(orders, (5..25).rev().collect::<Vec<_>>());
    assert!(pages >= 2, "{pages} pages");

    // The SDK's paginator, with a filter: Count after it, ScannedCount before.
    let filtered: Vec<_> = client
        .query()
        .table_name("Orders")
        .key_condition_expression("pk = :p")
        .filter_expression("odd = :t")
        .expression_attribute_values(":p", s("b"))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .limit(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let count: i32 = filtered.iter().map(|page| page.count()).sum();
    let scanned: i32 = filtered.iter().map(|page| page.scanned_count()).sum();
    assert_eq!((count, scanned), (12, 25));

    let counted = client
        .scan()
        .table_name("Orders")
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.count(), 50);
    assert!(counted.items().is_empty());

    // Two parallel segments together see every item once.
    let mut seen = 0;
    for segment in 0..2 {
        let pages: Vec<_> = client
            .scan()
            .table_name("Orders")
            .segment(segment)
            .total_segments(2)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        seen += pages.iter().map(|page| page.items().len()).sum::<usize>();
    }
    assert_eq!(seen, 50);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_write_and_read_and_refuse_too_many() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;
    let put = |order: i64| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("pk", s("batch"))
                    .item("sk", n(order))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let written = client
        .batch_write_item()
        .request_items("Orders", (0..25).map(put).collect())
        .send()
        .await
        .unwrap();
    assert!(written.unprocessed_items().is_none_or(HashMap::is_empty));

    let too_many = client
        .batch_write_item()
        .request_items("Orders", (0..26).map(put).collect())
        .send()
        .await
        .expect_err("26 requests");
    assert_eq!(too_many.code(), Some("ValidationException"));

    let keys = (0..30)
        .map(|order| HashMap::from([("pk".to_owned(), s("batch")), ("sk".to_owned(), n(order))]))
        .collect::<Vec<_>>();
    let read = client
        .batch_get_item()
        .request_items(
            "Orders",
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("sk")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut found: Vec<i64> = read.responses().unwrap()["Orders"]
        .iter()
        .map(|item| match &item["sk"] {
            AttributeValue::N(n) => n.parse().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        (0..25).collect::<Vec<_>>(),
        "the 25 written; 5 keys have no item"
    );
    assert!(read.unprocessed_keys().is_none_or(HashMap::is_empty));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_is_served_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;
    let mut writers = Vec::new();
    for writer in 0..8 {
        let client = client.clone();
        writers.push(tokio::spawn(async move {
            for order in 0..40 {
                client
                    .put_item()
                    .table_name("Orders")
                    .item("pk", s(&format!("w{writer}")))
                    .item("sk", n(order))
                    .send()
                    .await
                    .expect("a put");
            }
        }));
    }
    // Readers at the same time: every item a reader finds is whole.
    let mut readers = Vec::new();
    for reader in 0..4 {
        let client = client.clone();
        readers.push(tokio::spawn(async move {
            let mut found = 0;
            for order in 0..40 {
                let read = client
                    .get_item()
                    .table_name("Orders")
                    .key("pk", s(&format!("w{reader}")))
                    .key("sk", n(order))
                    .send()
                    .await
                    .expect("a get");
                if let Some(item) = read.item() {
                    assert_eq!(item.get("sk"), Some(&n(order)));
                    found += 1;
                }
            }
            found
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for reader in readers {
        assert!(reader.await.unwrap() <= 40);
    }
    // Once the writers are done, every acknowledged write is readable.
    for writer in 0..8 {
        let page = client
            .query()
            .table_name("Orders")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(&format!("w{writer}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.count(), 40, "writer {writer}");
    }
    server.stop().await;

    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let pages: Vec<_> = client
        .scan()
        .table_name("Orders")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let items: usize = pages.iter().map(|page| page.items().len()).sum();
    assert_eq!(items, 8 * 40);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_credentials_only_correct_signatures_pass() {
    use dynastore_server::ServerConfig;
    use dynastore_server::auth::Credentials;
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        credentials: Some(Credentials::single("AKIDGOOD", "the-secret")),
    };
    let server = TestServer::start_with(dir.path(), Options::default(), config).await;
    let good = common::client_with(&server.endpoint(), "AKIDGOOD", "the-secret");
    create_orders(&good, "Orders").await;
    good.put_item()
        .table_name("Orders")
        .item("pk", s("a"))
        .item("sk", n(1))
        .send()
        .await
        .expect("a correctly signed put");

    let wrong_secret = common::client_with(&server.endpoint(), "AKIDGOOD", "not-the-secret");
    let refused = wrong_secret
        .put_item()
        .table_name("Orders")
        .item("pk", s("b"))
        .item("sk", n(1))
        .send()
        .await
        .expect_err("a wrong secret");
    assert_eq!(refused.code(), Some("InvalidSignatureException"));
    assert_eq!(
        refused.message(),
        Some(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
    );
    let stranger = common::client_with(&server.endpoint(), "AKIDWHO", "the-secret");
    let refused = stranger.list_tables().send().await.expect_err("an unknown key");
    assert_eq!(refused.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        refused.message(),
        Some("The security token included in the request is invalid.")
    );

    let scan = good.scan().table_name("Orders").send().await.unwrap();
    assert_eq!(scan.count(), 1, "only the signed put was written");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumed_capacity_follows_dynamodbs_rules() {
    use aws_sdk_dynamodb::types::ReturnConsumedCapacity as Report;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;
    // About 3 KB each: "payload" (7) + 3000 characters, plus the key.
    let blob = s(&"x".repeat(3000));
    let put = client
        .put_item()
        .table_name("Orders")
        .item("pk", s("cap"))
        .item("sk", n(1))
        .item("payload", blob.clone())
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    let consumed = put.consumed_capacity().unwrap();
    assert_eq!(consumed.table_name(), Some("Orders"));
    assert_eq!(consumed.capacity_units(), Some(3.0), "3 KB written: 3 write units");
    assert!(consumed.table().is_none(), "TOTAL gives no per-table share");

    let get = |consistent: bool| {
        client
            .get_item()
            .table_name("Orders")
            .key("pk", s("cap"))
            .key("sk", n(1))
            .projection_expression("pk")
            .consistent_read(consistent)
            .return_consumed_capacity(Report::Indexes)
            .send()
    };
    let eventual = get(false).await.unwrap();
    let consumed = eventual.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(0.5), "one 4 KB unit, halved");
    assert_eq!(consumed.table().and_then(|table| table.capacity_units()), Some(0.5));
    let strong = get(true).await.unwrap();
    assert_eq!(strong.consumed_capacity().unwrap().capacity_units(), Some(1.0));

    let update = client
        .update_item()
        .table_name("Orders")
        .key("pk", s("cap"))
        .key("sk", n(1))
        .update_expression("REMOVE payload")
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(
        update.consumed_capacity().unwrap().capacity_units(),
        Some(3.0),
        "the larger of before and after"
    );

    let put = |order: i64| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("pk", s("cap"))
                    .item("sk", n(order))
                    .item("payload", blob.clone())
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let batch = client
        .batch_write_item()
        .request_items("Orders", vec![put(2), put(3), put(4)])
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    let consumed = batch.consumed_capacity();
    assert_eq!(consumed.len(), 1);
    assert_eq!(consumed[0].capacity_units(), Some(9.0));

    // Three 3 KB items read by one query: 9 KB, three 4 KB units (1.5 eventually consistent).
    let query = client
        .query()
        .table_name("Orders")
        .key_condition_expression("pk = :p AND sk >= :two")
        .expression_attribute_values(":p", s("cap"))
        .expression_attribute_values(":two", n(2))
        .select(Select::Count)
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(query.count(), 3);
    assert_eq!(query.consumed_capacity().unwrap().capacity_units(), Some(1.5));

    // Each key of a batch read on its own: three 3 KB items, 0.5 each.
    let keys = (2..5)
        .map(|order| HashMap::from([("pk".to_owned(), s("cap")), ("sk".to_owned(), n(order))]))
        .collect::<Vec<_>>();
    let read = client
        .batch_get_item()
        .request_items(
            "Orders",
            KeysAndAttributes::builder().set_keys(Some(keys)).build().unwrap(),
        )
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(read.consumed_capacity()[0].capacity_units(), Some(1.5));

    let delete = client
        .delete_item()
        .table_name("Orders")
        .key("pk", s("cap"))
        .key("sk", n(2))
        .return_consumed_capacity(Report::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.consumed_capacity().unwrap().capacity_units(), Some(3.0));
    let none = client
        .delete_item()
        .table_name("Orders")
        .key("pk", s("cap"))
        .key("sk", n(2))
        .send()
        .await
        .unwrap();
    assert!(none.consumed_capacity().is_none(), "only when asked");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_throughput_and_tags_are_kept_across_restarts() {
    use aws_sdk_dynamodb::types::{ProvisionedThroughput, Tag};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let throughput = |read: i64, write: i64| {
        ProvisionedThroughput::builder()
            .read_capacity_units(read)
            .write_capacity_units(write)
            .build()
            .unwrap()
    };
    let created = client
        .create_table()
        .table_name("Billed")
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .provisioned_throughput(throughput(5, 7))
        .tags(Tag::builder().key("team").value("orders").build().unwrap())
        .send()
        .await
        .unwrap();
    let description = created.table_description().unwrap();
    let units = description.provisioned_throughput().unwrap();
    assert_eq!(
        (units.read_capacity_units(), units.write_capacity_units()),
        (Some(5), Some(7))
    );
    assert!(
        description.billing_mode_summary().is_none(),
        "provisioned, as DynamoDB's default"
    );

    let arn = description.table_arn().unwrap().to_owned();
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();

    let same = client
        .update_table()
        .table_name("Billed")
        .provisioned_throughput(throughput(5, 7))
        .send()
        .await
        .expect_err("no change");
    assert!(
        same.message()
            .unwrap()
            .starts_with("The provisioned throughput for the table will not change."),
        "{same:?}"
    );
    let updated = client
        .update_table()
        .table_name("Billed")
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let description = updated.table_description().unwrap();
    assert_eq!(
        description
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    assert_eq!(
        description.provisioned_throughput().unwrap().read_capacity_units(),
        Some(0)
    );

    let missing = client
        .list_tags_of_resource()
        .resource_arn("arn:aws:dynamodb:us-east-1:000000000000:table/Nope")
        .send()
        .await
        .expect_err("no such table");
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    server.stop().await;

    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let tags = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|tag| (tag.key(), tag.value())).collect();
    assert_eq!(tags, [("env", "dev")]);
    let described = client.describe_table().table_name("Billed").send().await.unwrap();
    assert_eq!(
        described
            .table()
            .and_then(|table| table.billing_mode_summary())
            .and_then(|summary| summary.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    server.stop().await;
}

/// `Orders` keyed by `pk` (S) and `sk` (N), with a local index `by_cost` sorted by `cost`
/// (N) projecting `projection`.
async fn create_orders_by_cost(client: &Client, projection: aws_sdk_dynamodb::types::Projection) {
    let index = aws_sdk_dynamodb::types::LocalSecondaryIndex::builder()
        .index_name("by_cost")
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("cost", KeyType::Range))
        .projection(projection)
        .build()
        .unwrap();
    client
        .create_table()
        .table_name("Orders")
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .attribute_definitions(definition("sk", ScalarAttributeType::N))
        .attribute_definitions(definition("cost", ScalarAttributeType::N))
        .local_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable with a local index");
}

/// A table with a local secondary index, as the SDK creates, describes and queries it:
/// the index's order and projection, paging with the index's keys, fetching attributes
/// it does not hold, and a write whose index key has the wrong type refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_indexes_are_created_described_and_queried() {
    use aws_sdk_dynamodb::types::{Projection, ProjectionType};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let include = Projection::builder()
        .projection_type(ProjectionType::Include)
        .non_key_attributes("status")
        .build();
    create_orders_by_cost(&client, include).await;
    let described = client.describe_table().table_name("Orders").send().await.unwrap();
    let table = described.table().unwrap();
    let locals = table.local_secondary_indexes();
    assert_eq!(locals.len(), 1);
    assert_eq!(locals[0].index_name(), Some("by_cost"));
    assert_eq!(locals[0].key_schema()[1].attribute_name(), "cost");
    assert_eq!(
        locals[0].projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::Include)
    );
    assert!(locals[0].index_arn().unwrap().ends_with("table/Orders/index/by_cost"));
    assert_eq!(table.attribute_definitions().len(), 3);

    for order in 0..12 {
        let mut put = client
            .put_item()
            .table_name("Orders")
            .item("pk", s("ann"))
            .item("sk", n(order))
            .item("status", s(if order % 2 == 0 { "open" } else { "shipped" }))
            .item("note", s("not projected"));
        // Every third order has no total: it is not in the index.
        if order % 3 != 0 {
            put = put.item("cost", n(100 - order * 7));
        }
        put.send().await.unwrap();
    }
    // The table counts its 12 items; the index its 8 entries.
    let described = client.describe_table().table_name("Orders").send().await.unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.item_count(), Some(12));
    assert_eq!(table.local_secondary_indexes()[0].item_count(), Some(8));
    // The index's order (total ascending) in pages of 3, each LastEvaluatedKey holding the
    // table's key and the index's.
    let mut totals = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name("Orders")
            .index_name("by_cost")
            .key_condition_expression("pk = :p AND cost > :t")
            .expression_attribute_values(":p", s("ann"))
            .expression_attribute_values(":t", n(30))
            .limit(3)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            assert!(item.contains_key("status") && !item.contains_key("note"), "{item:?}");
            totals.push(item["cost"].as_n().unwrap().parse::<i64>().unwrap());
        }
        match page.last_evaluated_key() {
            Some(last) => {
                let mut names: Vec<&String> = last.keys().collect();
                names.sort();
                assert_eq!(names, ["cost", "pk", "sk"]);
                start = Some(last.clone());
            }
            None => break,
        }
    }
    let mut expected: Vec<i64> = (0..12)
        .filter(|o| o % 3 != 0)
        .map(|o| 100 - o * 7)
        .filter(|t| *t > 30)
        .collect();
    expected.sort();
    assert_eq!(totals, expected);
    // ALL_ATTRIBUTES fetches what the index does not hold.
    let all = client
        .query()
        .table_name("Orders")
        .index_name("by_cost")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("ann"))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(all.count(), 8);
    assert!(all.items().iter().all(|item| item.contains_key("note")));
    // A scan of the index, and an index that does not exist.
    let scanned = client
        .scan()
        .table_name("Orders")
        .index_name("by_cost")
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.count(), 8);
    let missing = client
        .scan()
        .table_name("Orders")
        .index_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        missing.message(),
        Some("The table does not have the specified index: nope")
    );
    let mismatch = client
        .put_item()
        .table_name("Orders")
        .item("pk", s("ann"))
        .item("sk", n(99))
        .item("cost", s("lots"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Some("ValidationException"));
    assert_eq!(
        mismatch.message(),
        Some(
            "One or more parameter values were invalid: Type mismatch for Index Key cost Expected: N Actual: S IndexName: by_cost"
        )
    );
    // ReturnItemCollectionMetrics: SIZE reports the collection's key and size in GB.
    let put = client
        .put_item()
        .table_name("Orders")
        .item("pk", s("ann"))
        .item("sk", n(50))
        .item("cost", n(5))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let metrics = put.item_collection_metrics().expect("ItemCollectionMetrics");
    assert_eq!(metrics.item_collection_key().unwrap()["pk"], s("ann"));
    assert_eq!(metrics.size_estimate_range_gb(), [0.0, 1.0]);
    let deleted = client
        .delete_item()
        .table_name("Orders")
        .key("pk", s("bob"))
        .key("sk", n(1))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted
            .item_collection_metrics()
            .unwrap()
            .item_collection_key()
            .unwrap()["pk"],
        s("bob")
    );
    let batch = client
        .batch_write_item()
        .request_items(
            "Orders",
            ["ann", "cid", "ann"]
                .iter()
                .enumerate()
                .map(|(sk, pk)| {
                    let put = PutRequest::builder()
                        .item("pk", s(pk))
                        .item("sk", n(60 + sk as i64))
                        .build()
                        .unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect(),
        )
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let collections = &batch.item_collection_metrics().unwrap()["Orders"];
    let mut keys: Vec<&AttributeValue> = collections
        .iter()
        .map(|m| &m.item_collection_key().unwrap()["pk"])
        .collect();
    keys.sort_by_key(|value| value.as_s().unwrap().clone());
    assert_eq!(keys, [&s("ann"), &s("cid")]);
    // Not asked for: none.
    let quiet = client
        .put_item()
        .table_name("Orders")
        .item("pk", s("ann"))
        .item("sk", n(51))
        .send()
        .await
        .unwrap();
    assert!(quiet.item_collection_metrics().is_none());
    server.stop().await;
}

/// An item collection (a partition key's items and local index entries) may not grow past
/// its limit: the write is refused with DynamoDB's exception and changes nothing, while
/// writes that shrink it, and other collections, go on. (The limit is 10 GB; the test
/// lowers it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_collection_past_its_limit_refuses_growth() {
    use aws_sdk_dynamodb::types::{Projection, ProjectionType};
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        item_collection_bytes_max: 8_000,
        ..Options::default()
    };
    let server = TestServer::start(dir.path(), options).await;
    let client = server.client();
    let keys_only = Projection::builder().projection_type(ProjectionType::KeysOnly).build();
    create_orders_by_cost(&client, keys_only).await;
    let put = |pk: &str, sk: i64| {
        client
            .put_item()
            .table_name("Orders")
            .item("pk", s(pk))
            .item("sk", n(sk))
            .item("cost", n(sk))
            .item("text", s(&"x".repeat(1_000)))
            .send()
    };
    let mut written = 0;
    let refused = loop {
        match put("ann", written).await {
            Ok(_) => written += 1,
            Err(error) => break error,
        }
        assert!(written < 100, "never refused");
    };
    assert_eq!(refused.code(), Some("ItemCollectionSizeLimitExceededException"));
    assert_eq!(
        refused.message(),
        Some("The total size of an item collection has exceeded the maximum limit of 10 gigabytes.")
    );
    assert!(written >= 6, "{written} items of about 1 KB fit in 8,000 bytes");
    let get = client
        .get_item()
        .table_name("Orders")
        .key("pk", s("ann"))
        .key("sk", n(written))
        .send()
        .await
        .unwrap();
    assert!(get.item().is_none(), "the refused put wrote nothing");
    // Another collection is not limited by this one; a delete shrinks this one, after
    // which a put fits again.
    put("bob", 0).await.unwrap();
    client
        .delete_item()
        .table_name("Orders")
        .key("pk", s("ann"))
        .key("sk", n(0))
        .send()
        .await
        .unwrap();
    put("ann", written).await.unwrap();
    server.stop().await;
}

/// A table with a global secondary index, as the SDK creates, describes and queries it:
/// DynamoDB updates such an index asynchronously, so the test waits for it as a client
/// would, then checks its order, its paging key and its refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_indexes_are_created_described_and_queried() {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let index = GlobalSecondaryIndex::builder()
        .index_name("by_city")
        .key_schema(key("city", KeyType::Hash))
        .key_schema(key("rank", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
        .build()
        .unwrap();
    client
        .create_table()
        .table_name("People")
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .attribute_definitions(definition("city", ScalarAttributeType::S))
        .attribute_definitions(definition("rank", ScalarAttributeType::N))
        .global_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable with a global index");
    let described = client.describe_table().table_name("People").send().await.unwrap();
    let globals = described.table().unwrap().global_secondary_indexes();
    assert_eq!(globals.len(), 1);
    assert_eq!(globals[0].index_name(), Some("by_city"));
    assert_eq!(
        globals[0].index_status(),
        Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
    );
    for person in 0..20 {
        client
            .put_item()
            .table_name("People")
            .item("pk", s(&format!("person-{person}")))
            .item("city", s(if person % 2 == 0 { "Oslo" } else { "Bergen" }))
            .item("rank", n(100 - person))
            .item("bio", s("not projected"))
            .send()
            .await
            .unwrap();
    }
    let query = || {
        client
            .query()
            .table_name("People")
            .index_name("by_city")
            .key_condition_expression("city = :c AND #r < :r")
            .expression_attribute_names("#r", "rank")
            .expression_attribute_values(":c", s("Oslo"))
            .expression_attribute_values(":r", n(95))
    };
    // Eventually consistent: poll until the index has caught up, as a client would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let count = query().send().await.unwrap().count();
        if count == 7 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the index has {count} of 7");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let page = query().limit(3).send().await.unwrap();
    let ranks: Vec<&str> = page
        .items()
        .iter()
        .map(|item| item["rank"].as_n().unwrap().as_str())
        .collect();
    assert_eq!(ranks, ["82", "84", "86"]);
    assert!(page.items().iter().all(|item| !item.contains_key("bio")));
    let last = page.last_evaluated_key().unwrap();
    let mut names: Vec<&String> = last.keys().collect();
    names.sort();
    assert_eq!(names, ["city", "pk", "rank"]);
    // A put writes the table and the index: one unit each, reported apart with INDEXES.
    let put = client
        .put_item()
        .table_name("People")
        .item("pk", s("person-new"))
        .item("city", s("Oslo"))
        .item("rank", n(1))
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let consumed = put.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(2.0));
    assert_eq!(consumed.table().and_then(|t| t.capacity_units()), Some(1.0));
    let index_share = consumed.global_secondary_indexes().unwrap()["by_city"].capacity_units();
    assert_eq!(index_share, Some(1.0));
    let consistent = query().consistent_read(true).send().await.unwrap_err();
    assert_eq!(
        consistent.message(),
        Some("Consistent reads are not supported on global secondary indexes")
    );
    server.stop().await;
}

/// UpdateTable adds a global index to a table with data (CREATING, then ACTIVE once
/// filled, as a client polls for) and deletes it; two index changes at once are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_index_is_added_to_a_table_with_data_and_deleted() {
    use aws_sdk_dynamodb::types::{
        CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, IndexStatus,
        Projection, ProjectionType,
    };
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    create_orders(&client, "Orders").await;
    for order in 0..60 {
        client
            .put_item()
            .table_name("Orders")
            .item("pk", s(&format!("customer-{}", order % 6)))
            .item("sk", n(order))
            .item("state", s(if order % 3 == 0 { "open" } else { "shipped" }))
            .send()
            .await
            .unwrap();
    }
    let create = |name: &str| {
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(name)
                    .key_schema(key("state", KeyType::Hash))
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let two = client
        .update_table()
        .table_name("Orders")
        .attribute_definitions(definition("state", ScalarAttributeType::S))
        .global_secondary_index_updates(create("by_state"))
        .global_secondary_index_updates(create("by_state_too"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(two.code(), Some("LimitExceededException"));
    client
        .update_table()
        .table_name("Orders")
        .attribute_definitions(definition("state", ScalarAttributeType::S))
        .global_secondary_index_updates(create("by_state"))
        .send()
        .await
        .expect("UpdateTable adding a global index");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let described = client.describe_table().table_name("Orders").send().await.unwrap();
        let status = described.table().unwrap().global_secondary_indexes()[0]
            .index_status()
            .cloned();
        if status == Some(IndexStatus::Active) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let open = client
        .query()
        .table_name("Orders")
        .index_name("by_state")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(":s", s("open"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.count(), 20);
    let delete = GlobalSecondaryIndexUpdate::builder()
        .delete(
            DeleteGlobalSecondaryIndexAction::builder()
                .index_name("by_state")
                .build()
                .unwrap(),
        )
        .build();
    client
        .update_table()
        .table_name("Orders")
        .global_secondary_index_updates(delete)
        .send()
        .await
        .expect("UpdateTable deleting the index");
    let described = client.describe_table().table_name("Orders").send().await.unwrap();
    assert!(described.table().unwrap().global_secondary_indexes().is_empty());
    server.stop().await;
}

/// CreateTable's index refusals, sent by the SDK: each a ValidationException with
/// DynamoDB's message, and no table created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_refuses_bad_indexes_with_dynamodbs_messages() {
    use aws_sdk_dynamodb::types::{
        GlobalSecondaryIndex, LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput,
    };
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default()).await;
    let client = server.client();
    let all = || Projection::builder().projection_type(ProjectionType::All).build();
    let local = |name: &str, hash: &str, sort: Option<&str>, projection: Projection| {
        let mut index = LocalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .projection(projection);
        if let Some(sort) = sort {
            index = index.key_schema(key(sort, KeyType::Range));
        }
        index.build().unwrap()
    };
    let global = |name: &str, throughput: bool| {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key("g", KeyType::Hash))
            .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build());
        if throughput {
            let units = ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap();
            index = index.provisioned_throughput(units);
        }
        index.build().unwrap()
    };
    let lsk = |name: &str| local(name, "pk", Some("lsk"), all());
    let cases: Vec<(Vec<LocalSecondaryIndex>, Vec<GlobalSecondaryIndex>, &str)> = vec![
        (
            vec![local("idx", "pk", Some("nope"), all())],
            vec![global("gidx", false)],
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk, nope], AttributeDefinitions: [pk, sk, lsk, g]",
        ),
        (
            vec![local("idx", "g", Some("lsk"), all())],
            vec![global("gidx", false)],
            "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: idx. index hash key: g, table hash key: pk",
        ),
        (
            vec![local("idx", "pk", None, all())],
            vec![global("gidx", false)],
            "One or more parameter values were invalid: Index KeySchema does not have a range key for index: idx",
        ),
        (
            vec![local(
                "idx",
                "pk",
                Some("lsk"),
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .non_key_attributes("a")
                    .build(),
            )],
            vec![global("gidx", false)],
            "One or more parameter values were invalid: ProjectionType is ALL, but NonKeyAttributes is specified",
        ),
        (
            vec![lsk("idx"), lsk("idx")],
            vec![global("gidx", false)],
            "One or more parameter values were invalid: Duplicate index name: idx",
        ),
        (
            (0..6).map(|i| lsk(&format!("idx{i}"))).collect(),
            vec![global("gidx", false)],
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5",
        ),
        (
            vec![lsk("idx")],
            vec![global("gidx", true)],
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: gidx when BillingMode is PAY_PER_REQUEST",
        ),
        (
            vec![lsk("idx")],
            (0..21).map(|i| global(&format!("gidx{i}"), false)).collect(),
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20",
        ),
        (
            vec![lsk("idx")],
            Vec::new(),
            "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [pk, sk, lsk, g], keys used: [pk, sk, lsk]",
        ),
        (
            vec![lsk("i")],
            Vec::new(),
            "1 validation error detected: Value 'i' at 'localSecondaryIndexes.1.member.indexName' failed to satisfy constraint: Member must have length greater than or equal to 3",
        ),
    ];
    for (locals, globals, expected) in cases {
        let error = client
            .create_table()
            .table_name("Tab1")
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(definition("pk", ScalarAttributeType::S))
            .attribute_definitions(definition("sk", ScalarAttributeType::N))
            .attribute_definitions(definition("lsk", ScalarAttributeType::S))
            .attribute_definitions(definition("g", ScalarAttributeType::S))
            .set_local_secondary_indexes(Some(locals))
            .set_global_secondary_indexes((!globals.is_empty()).then_some(globals))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("ValidationException"), "{expected}");
        assert_eq!(error.message(), Some(expected));
    }
    let listed = client.list_tables().send().await.unwrap();
    assert!(listed.table_names().is_empty(), "no refused table was created");
    server.stop().await;
}
