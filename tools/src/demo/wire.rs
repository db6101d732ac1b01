//! Step 16: the database behind DynamoDB's own wire protocol: `dynastore serve` on a
//! loopback port, spoken to with the JSON requests every AWS SDK sends (here written out
//! by hand, so the exchange can be read): a table, a create-only put and its refusal, a
//! query, and the write still there after the server stops and the database reopens.

use super::{DemoResult, check};
use dynastore::Database;
use dynastore::wal::fs::StdFs;
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// `call`, printing the operation, the request and the answer.
fn show(
    addr: SocketAddr,
    operation: &str,
    body: &Value,
    out: &mut dyn Write,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    writeln!(out, "   > {operation} {body}")?;
    let (status, answer) = dynastore_server::plain_client::call(addr, operation, body)?;
    writeln!(out, "   < {status} {answer}")?;
    Ok((status, answer))
}

pub(super) fn served_over_dynamodbs_protocol(dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n16. DynamoDB's wire protocol: `dynastore serve`, as every AWS SDK and the AWS CLI speak to it"
    )?;
    let db = Arc::new(Database::open(StdFs::shared(), dir, dynastore::Options::default())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    writeln!(out, "   serving on http://{addr} (loopback, Sync durability)")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(dynastore_server::serve(
        Arc::clone(&db),
        listener,
        dynastore_server::ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));

    let (status, _) = show(
        addr,
        "CreateTable",
        &json!({"TableName": "Music",
                "KeySchema": [{"AttributeName": "Artist", "KeyType": "HASH"}, {"AttributeName": "SongTitle", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": "Artist", "AttributeType": "S"}, {"AttributeName": "SongTitle", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST"}),
        out,
    )?;
    check(status == 200, "CreateTable answers 200")?;
    let song = json!({"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}, "Plays": {"N": "1"}});
    let create_only = json!({"TableName": "Music", "Item": song, "ConditionExpression": "attribute_not_exists(Artist)",
                             "ReturnConsumedCapacity": "TOTAL"});
    let (status, answer) = show(addr, "PutItem", &create_only, out)?;
    check(
        status == 200 && answer["ConsumedCapacity"]["CapacityUnits"] == json!(1.0),
        "the first create-only put is written, 1 write unit",
    )?;
    let (status, answer) = show(addr, "PutItem", &create_only, out)?;
    check(
        status == 400 && answer["__type"] == json!("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"),
        "the second is refused as DynamoDB refuses it",
    )?;
    let (status, answer) = show(
        addr,
        "UpdateItem",
        &json!({"TableName": "Music", "Key": {"Artist": {"S": "No One You Know"}, "SongTitle": {"S": "Call Me Today"}},
                "UpdateExpression": "ADD Plays :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "UPDATED_NEW"}),
        out,
    )?;
    check(
        status == 200 && answer["Attributes"]["Plays"] == json!({"N": "2"}),
        "the update returns the new play count",
    )?;
    let (status, answer) = show(
        addr,
        "Query",
        &json!({"TableName": "Music", "KeyConditionExpression": "Artist = :a AND begins_with(SongTitle, :t)",
                "ExpressionAttributeValues": {":a": {"S": "No One You Know"}, ":t": {"S": "Call"}}}),
        out,
    )?;
    check(status == 200 && answer["Count"] == json!(1), "the query finds the song")?;

    let _ = stop.send(());
    runtime.block_on(server)?;
    drop(runtime);
    let db = Arc::try_unwrap(db).map_err(|_| "the server let go of the database")?;
    db.close()?;
    let db = Database::open(StdFs::shared(), dir, dynastore::Options::default())?;
    let key = dynastore::Item::new()
        .with("Artist", "No One You Know")
        .with("SongTitle", "Call Me Today");
    let item = db.get_item(dynastore::GetItemInput::new("Music", key))?.item;
    check(
        item.and_then(|item| item.get("Plays").cloned()) == Some(2.into()),
        "after the server stopped and the database reopened, the song has 2 plays",
    )?;
    db.close()?;
    writeln!(out, "   stopped, reopened: the acknowledged writes are there")?;
    Ok(())
}
