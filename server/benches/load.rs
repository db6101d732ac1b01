//! Load over loopback from 16 concurrent clients of the official AWS SDK: PutItem
//! requests per second, then GetItem latency percentiles, as an application sees them.
//!
//! By default it measures a server it starts in this process (`Buffered` durability, two
//! worker threads; the clients run on a runtime of their own, and all share the machine's
//! cores). With `LOAD_ENDPOINTS=name=http://host:port,...` it measures those servers
//! instead, in turn and in the same run: `dynastore serve` and a peer, each started
//! outside this program, each with a fresh table per run. `LOAD_SECONDS` sets each
//! phase's length (default 5), `LOAD_CLIENTS` the number of clients (default 16).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use criterion::{Criterion, criterion_group, criterion_main};
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, Options};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many clients run at once: 16, or `LOAD_CLIENTS`.
fn client_count() -> u64 {
    std::env::var("LOAD_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDLOAD", "secret", None, None, "load"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

async fn create_table(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
}

fn key(i: u64) -> AttributeValue {
    AttributeValue::S(format!("user{i:010}"))
}

/// 16 clients putting distinct items for `seconds`; returns (requests per second, items).
async fn puts(endpoint: &str, table: &str, seconds: f64) -> (f64, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..client_count())
        .map(|_| {
            let (client, next, stop, table) = (client(endpoint), next.clone(), stop.clone(), table.to_owned());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    client
                        .put_item()
                        .table_name(&table)
                        .item("pk", key(i))
                        .item("payload", AttributeValue::S("x".repeat(100)))
                        .send()
                        .await
                        .expect("PutItem");
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let done = next.load(Ordering::Relaxed);
    (done as f64 / started.elapsed().as_secs_f64(), done)
}

/// 16 clients getting random written items for `seconds`; returns the latencies, sorted.
async fn gets(endpoint: &str, table: &str, items: u64, seconds: f64) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..client_count())
        .map(|c| {
            let (client, stop, table) = (client(endpoint), stop.clone(), table.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut state = c.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                while !stop.load(Ordering::Relaxed) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let started = Instant::now();
                    let found = client
                        .get_item()
                        .table_name(&table)
                        .key("pk", key(state % items))
                        .send()
                        .await
                        .expect("GetItem");
                    latencies.push(started.elapsed());
                    assert!(found.item().is_some());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

async fn measure(name: &str, endpoint: &str, seconds: f64) {
    let setup = client(endpoint);
    let table = format!(
        "Load{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    create_table(&setup, &table).await;
    let (rate, items) = puts(endpoint, &table, seconds).await;
    let latencies = gets(endpoint, &table, items, seconds).await;
    println!(
        "{name}: PutItem {rate:.0} requests/s ({items} items), GetItem {:.0} requests/s, p50 {:.0} µs, p99 {:.0} µs",
        latencies.len() as f64 / seconds,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

fn load(_: &mut Criterion) {
    let seconds: f64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let clients = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("\n{} SDK clients over loopback, {seconds} s per phase:", client_count());
    if let Ok(endpoints) = std::env::var("LOAD_ENDPOINTS") {
        for entry in endpoints.split(',') {
            let (name, endpoint) = entry.split_once('=').expect("name=url");
            clients.block_on(measure(name, endpoint, seconds));
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Buffered {
            interval: Duration::from_millis(10),
        },
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir.path(), options).unwrap());
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = server.spawn(dynastore_server::serve(
        Arc::clone(&db),
        listener,
        dynastore_server::ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    clients.block_on(measure("dynastore (in process, buffered)", &endpoint, seconds));
    let _ = stop.send(());
    server.block_on(served).unwrap();
}

criterion_group!(benches, load);
criterion_main!(benches);
