//! The server's own cost per request, without the network: a PutItem and a GetItem
//! through everything the server does (content-type and target checks, JSON parsing,
//! the Authorization header, translation, the hop to a blocking thread, the engine call,
//! serialising the response with its CRC), against the same engine call made directly.
//! The difference is the server's overhead; the paired summary prints it as the median of
//! alternating rounds, which separate criterion runs are too noisy to show.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, GetItemInput, Item, Options, PutItemInput};
use dynastore_server::http::{State, respond_to};
use hyper::Request;
use hyper::http::request::Parts;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn database() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Buffered {
            interval: Duration::from_millis(10),
        },
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), dir.path(), options).unwrap();
    db.create_table(dynastore::TableSchema {
        indexes: Vec::new(),
        name: "Bench".into(),
        key_schema: dynastore::KeySchema {
            partition_key: dynastore::item::KeyAttribute::new("pk", dynastore::item::ScalarType::S),
            sort_key: None,
        },
    })
    .unwrap();
    (dir, Arc::new(db))
}

fn item_json(i: u64) -> serde_json::Value {
    json!({"pk": {"S": format!("user{i:08}")}, "name": {"S": "a typical name"}, "count": {"N": i.to_string()},
           "payload": {"S": "x".repeat(60)}})
}

fn parts(operation: &str) -> Parts {
    Request::post("/")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20261206T120000Z")
        .header("authorization", AUTH)
        .body(())
        .unwrap()
        .into_parts()
        .0
}

fn put_body(i: u64) -> Bytes {
    Bytes::from(json!({"TableName": "Bench", "Item": item_json(i)}).to_string())
}

fn get_body(i: u64) -> Bytes {
    Bytes::from(json!({"TableName": "Bench", "Key": {"pk": {"S": format!("user{i:08}")}}}).to_string())
}

fn direct_put(db: &Database, i: u64) {
    db.put_item(PutItemInput::new("Bench", Item::from_json(&item_json(i)).unwrap()))
        .unwrap();
}

fn direct_get(db: &Database, i: u64) {
    let key = Item::new().with("pk", format!("user{i:08}"));
    assert!(db.get_item(GetItemInput::new("Bench", key)).unwrap().item.is_some());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn requests(c: &mut Criterion) {
    let (_dir, db) = database();
    let state = Arc::new(State::new(Arc::clone(&db), None));
    let runtime = runtime();
    let (put, get) = (parts("PutItem"), parts("GetItem"));
    let mut group = c.benchmark_group("server");
    let mut i = 0u64;
    group.bench_function("put_item_engine_direct", |b| {
        b.iter(|| {
            i += 1;
            direct_put(&db, i);
        })
    });
    group.bench_function("put_item_through_server", |b| {
        b.iter(|| {
            i += 1;
            let response = runtime.block_on(respond_to(&state, &put, &put_body(i)));
            assert!(response.status().is_success());
        })
    });
    let written = i;
    let mut j = 0u64;
    group.bench_function("get_item_engine_direct", |b| {
        b.iter(|| {
            j = j % written + 1;
            direct_get(&db, j);
        })
    });
    group.bench_function("get_item_through_server", |b| {
        b.iter(|| {
            j = j % written + 1;
            let response = runtime.block_on(respond_to(&state, &get, &get_body(j)));
            assert!(response.status().is_success());
        })
    });
    group.finish();
}

/// Alternating rounds of direct and served requests; prints the median difference.
fn paired_overhead(_: &mut Criterion) {
    const ROUNDS: usize = 21;
    const REQUESTS: u64 = 5_000;
    let (_dir, db) = database();
    let state = Arc::new(State::new(Arc::clone(&db), None));
    let runtime = runtime();
    let (put, get) = (parts("PutItem"), parts("GetItem"));
    let mut next = 0u64;
    let per_request = |started: Instant| started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64;
    let mut put_overheads = Vec::new();
    let mut get_overheads = Vec::new();
    println!("\nServer overhead, alternating rounds of {REQUESTS} requests (µs per request):");
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..REQUESTS {
            next += 1;
            direct_put(&db, next);
        }
        let direct = per_request(started);
        let started = Instant::now();
        for _ in 0..REQUESTS {
            next += 1;
            let response = runtime.block_on(respond_to(&state, &put, &put_body(next)));
            assert!(response.status().is_success());
        }
        let served = per_request(started);
        put_overheads.push(served - direct);

        let started = Instant::now();
        for k in 1..=REQUESTS {
            direct_get(&db, k);
        }
        let direct_read = per_request(started);
        let started = Instant::now();
        for k in 1..=REQUESTS {
            let response = runtime.block_on(respond_to(&state, &get, &get_body(k)));
            assert!(response.status().is_success());
        }
        let served_read = per_request(started);
        get_overheads.push(served_read - direct_read);
        println!("  put {direct:.2} vs {served:.2}, get {direct_read:.2} vs {served_read:.2}");
    }
    put_overheads.sort_by(f64::total_cmp);
    get_overheads.sort_by(f64::total_cmp);
    println!(
        "  median overhead: PutItem {:.2} µs, GetItem {:.2} µs (target: under 20 µs)",
        put_overheads[ROUNDS / 2],
        get_overheads[ROUNDS / 2]
    );
}

criterion_group!(benches, requests, paired_overhead);
criterion_main!(benches);
