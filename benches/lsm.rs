//! dynastore against fjall, the leading Rust LSM, on the same workloads in the same run
//! (the LSM issue's targets are ratios):
//! - load N items (fillrandom) with buffered durability;
//! - random gets after a clean reopen; gets of absent keys (inside the key range, so that
//!   both must ask their bloom filters);
//! - reading 100 items under one prefix (a DynamoDB query);
//! - reopen time after a crash with a full memtable;
//! - space on disk after compaction, and write amplification (bytes written to storage
//!   per byte of user data, as the data directory's device counts them: see
//!   `common::written_bytes`).
//!
//! Criterion measures the reads first (at N = 200,000, `DYNASTORE_LSM_CRITERION_ITEMS`);
//! the summary then runs every workload once at full size. N is 1,000,000 unless `DYNASTORE_LSM_ITEMS` says otherwise. Items: 10,000 partition keys
//! of 100 items each; dynastore stores `{pk: S(8), sk: N, v: S(100)}`, fjall a 16-byte key
//! (prefix + big-endian order) and a 100-byte value.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{PER_PREFIX, VALUE_BYTES, create_bench_table, dir_bytes, prefix, written_bytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, GetItemInput, Item, Options, PutItemInput, QueryInput};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

fn items() -> u64 {
    common::env_count("DYNASTORE_LSM_ITEMS", 1_000_000)
}

fn shuffled(n: u64) -> impl Iterator<Item = u64> {
    common::shuffled(n, 0)
}

/// The `i`-th absent key: an existing prefix with a sort number past the loaded ones, so
/// that it falls inside every table's key range and only the bloom filter can rule it
/// out (a key outside the range, such as one of another prefix letter, would let fjall
/// skip its tables without consulting a filter, since its keys are ordered by prefix).
fn absent_key(i: u64, n: u64) -> (String, u64) {
    let prefixes = (n / PER_PREFIX).max(1);
    (prefix((i * 7919 % prefixes) * PER_PREFIX), PER_PREFIX + i % 1000)
}

fn value(i: u64) -> String {
    format!("{i:0width$}", width = VALUE_BYTES)
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

#[derive(Debug, Default)]
struct Figures {
    load: f64,
    get: f64,
    absent: f64,
    query: f64,
    reopen: Duration,
    space: u64,
    written: u64,
}

fn dynastore_options() -> Options {
    Options {
        durability: Durability::Buffered {
            interval: Duration::from_millis(100),
        },
        ..Options::default()
    }
}

fn dynastore_key(i: u64) -> Item {
    Item::new().with("pk", prefix(i)).with("sk", (i % PER_PREFIX) as i64)
}

fn dynastore_run(n: u64, dir: &Path) -> Figures {
    let mut figures = Figures::default();
    let before = written_bytes(dir);
    let db = Database::open(StdFs::shared(), dir, dynastore_options()).unwrap();
    create_bench_table(&db);
    let started = Instant::now();
    for i in shuffled(n) {
        db.put_item(PutItemInput::new("Bench", dynastore_key(i).with("v", value(i))))
            .unwrap();
    }
    figures.load = rate(n, started.elapsed());
    db.flush().unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    figures.written = written_bytes(dir) - before;
    figures.space = dir_bytes(dir);
    let db = Database::open(StdFs::shared(), dir, dynastore_options()).unwrap();
    let probes = (n / 10).max(1);
    let started = Instant::now();
    for i in shuffled(n).take(probes as usize) {
        assert!(black_box(db.get_item(GetItemInput::new("Bench", dynastore_key(i))).unwrap().item).is_some());
    }
    figures.get = rate(probes, started.elapsed());
    let started = Instant::now();
    for i in 0..probes {
        let (pk, sk) = absent_key(i, n);
        let absent = Item::new().with("pk", pk).with("sk", sk as i64);
        assert!(black_box(db.get_item(GetItemInput::new("Bench", absent)).unwrap().item).is_none());
    }
    figures.absent = rate(probes, started.elapsed());
    let prefixes = (n / PER_PREFIX).max(1);
    let queries = prefixes.min(2_000);
    let started = Instant::now();
    for q in 0..queries {
        let page = db
            .query(QueryInput::new("Bench", prefix((q * 7919 % prefixes) * PER_PREFIX)))
            .unwrap();
        assert_eq!(black_box(page).items.len() as u64, PER_PREFIX.min(n));
    }
    figures.query = rate(queries * PER_PREFIX.min(n), started.elapsed());
    drop(db);
    // A crash with a full memtable: write without flushing, drop (the WAL holds it), reopen.
    let crash_dir = dir.join("crash");
    let db = Database::open(
        StdFs::shared(),
        &crash_dir,
        Options {
            memtable_bytes: usize::MAX,
            ..dynastore_options()
        },
    )
    .unwrap();
    create_bench_table(&db);
    for i in shuffled(n / 4) {
        db.put_item(PutItemInput::new("Bench", dynastore_key(i).with("v", value(i))))
            .unwrap();
    }
    db.sync().unwrap();
    drop(db);
    let started = Instant::now();
    let db = Database::open(StdFs::shared(), &crash_dir, dynastore_options()).unwrap();
    figures.reopen = started.elapsed();
    drop(db);
    figures
}

fn fjall_key(i: u64) -> Vec<u8> {
    let mut key = prefix(i).into_bytes();
    key.extend_from_slice(&(i % PER_PREFIX).to_be_bytes());
    key
}

fn fjall_run(n: u64, dir: &Path) -> Figures {
    use fjall::{Database as Fjall, KeyspaceCreateOptions, PersistMode};
    let mut figures = Figures::default();
    let before = written_bytes(dir);
    let db = Fjall::builder(dir.join("db")).open().unwrap();
    let items = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    let started = Instant::now();
    for i in shuffled(n) {
        items.insert(fjall_key(i), value(i)).unwrap();
    }
    figures.load = rate(n, started.elapsed());
    db.persist(PersistMode::SyncAll).unwrap();
    drop(items);
    drop(db);
    figures.written = written_bytes(dir) - before;
    figures.space = dir_bytes(&dir.join("db"));
    let db = Fjall::builder(dir.join("db")).open().unwrap();
    let items = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    let probes = (n / 10).max(1);
    let started = Instant::now();
    for i in shuffled(n).take(probes as usize) {
        assert!(black_box(items.get(fjall_key(i)).unwrap()).is_some());
    }
    figures.get = rate(probes, started.elapsed());
    let started = Instant::now();
    for i in 0..probes {
        let (pk, sk) = absent_key(i, n);
        let mut key = pk.into_bytes();
        key.extend_from_slice(&sk.to_be_bytes());
        assert!(black_box(items.get(key).unwrap()).is_none());
    }
    figures.absent = rate(probes, started.elapsed());
    let prefixes = (n / PER_PREFIX).max(1);
    let queries = prefixes.min(2_000);
    let started = Instant::now();
    for q in 0..queries {
        // Read every key and value, as a query does.
        let mut count = 0;
        for entry in items.prefix(prefix((q * 7919 % prefixes) * PER_PREFIX)) {
            black_box(entry.into_inner().unwrap());
            count += 1;
        }
        assert_eq!(count as u64, PER_PREFIX.min(n));
    }
    figures.query = rate(queries * PER_PREFIX.min(n), started.elapsed());
    drop(items);
    drop(db);
    let crash = dir.join("crash");
    let db = Fjall::builder(&crash).open().unwrap();
    let items = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    for i in shuffled(n / 4) {
        items.insert(fjall_key(i), value(i)).unwrap();
    }
    db.persist(PersistMode::SyncAll).unwrap();
    drop(items);
    drop(db);
    let started = Instant::now();
    let db = Fjall::builder(&crash).open().unwrap();
    let _items = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    figures.reopen = started.elapsed();
    figures
}

/// Criterion groups for the steady-state reads, both engines on the same data (N is
/// `DYNASTORE_LSM_CRITERION_ITEMS`, default 200,000, loaded, compacted and reopened).
fn bench_reads(c: &mut Criterion) {
    use fjall::{Database as Fjall, KeyspaceCreateOptions, PersistMode};
    let n = common::env_count("DYNASTORE_LSM_CRITERION_ITEMS", 200_000);
    let dir = tempfile::tempdir().unwrap();
    let ours_dir = dir.path().join("dynastore");
    {
        let db = Database::open(StdFs::shared(), &ours_dir, dynastore_options()).unwrap();
        create_bench_table(&db);
        for i in shuffled(n) {
            db.put_item(PutItemInput::new("Bench", dynastore_key(i).with("v", value(i))))
                .unwrap();
        }
        db.flush().unwrap();
        db.compact().unwrap();
        db.close().unwrap();
    }
    let theirs_dir = dir.path().join("fjall");
    {
        let db = Fjall::builder(&theirs_dir).open().unwrap();
        let items = db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
        for i in shuffled(n) {
            items.insert(fjall_key(i), value(i)).unwrap();
        }
        db.persist(PersistMode::SyncAll).unwrap();
    }
    let ours = Database::open(StdFs::shared(), &ours_dir, dynastore_options()).unwrap();
    let theirs_db = Fjall::builder(&theirs_dir).open().unwrap();
    let theirs = theirs_db.keyspace("bench", KeyspaceCreateOptions::default).unwrap();
    let prefixes = (n / PER_PREFIX).max(1);
    let mut group = c.benchmark_group("lsm");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("get/dynastore", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            assert!(
                black_box(
                    ours.get_item(GetItemInput::new("Bench", dynastore_key(i)))
                        .unwrap()
                        .item
                )
                .is_some()
            );
        })
    });
    group.bench_function("get/fjall", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            assert!(black_box(theirs.get(fjall_key(i)).unwrap()).is_some());
        })
    });
    group.bench_function("absent_get/dynastore", |b| {
        b.iter(|| {
            i += 1;
            let (pk, sk) = absent_key(i, n);
            let key = Item::new().with("pk", pk).with("sk", sk as i64);
            assert!(black_box(ours.get_item(GetItemInput::new("Bench", key)).unwrap().item).is_none());
        })
    });
    group.bench_function("absent_get/fjall", |b| {
        b.iter(|| {
            i += 1;
            let (pk, sk) = absent_key(i, n);
            let mut key = pk.into_bytes();
            key.extend_from_slice(&sk.to_be_bytes());
            assert!(black_box(theirs.get(key).unwrap()).is_none());
        })
    });
    group.throughput(Throughput::Elements(PER_PREFIX.min(n)));
    group.bench_function("query_100/dynastore", |b| {
        b.iter(|| {
            i += 1;
            let page = ours
                .query(QueryInput::new("Bench", prefix(i * 7919 % prefixes * PER_PREFIX)))
                .unwrap();
            assert_eq!(black_box(page).items.len() as u64, PER_PREFIX.min(n));
        })
    });
    group.bench_function("query_100/fjall", |b| {
        b.iter(|| {
            i += 1;
            let mut count = 0;
            for entry in theirs.prefix(prefix(i * 7919 % prefixes * PER_PREFIX)) {
                black_box(entry.into_inner().unwrap());
                count += 1;
            }
            assert_eq!(count, PER_PREFIX.min(n));
        })
    });
    group.finish();
}

/// The one-shot workloads (a load, a crash reopen, space and bytes written) and the
/// ratios the targets are stated in, at N = `DYNASTORE_LSM_ITEMS`.
fn summary(_: &mut Criterion) {
    let n = items();
    let user_bytes = n * (16 + VALUE_BYTES as u64);
    let ours_dir = tempfile::tempdir().unwrap();
    let ours = dynastore_run(n, ours_dir.path());
    drop(ours_dir);
    let theirs_dir = tempfile::tempdir().unwrap();
    let theirs = fjall_run(n, theirs_dir.path());
    drop(theirs_dir);
    println!("LSM summary, {n} items (16-byte keys, 100-byte values; {user_bytes} user bytes), same run:");
    println!("  {:<34} {:>14} {:>14} {:>8}", "", "dynastore", "fjall", "ratio");
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!(
            "  {name:<34} {:>14} {:>14} {:>7.2}x",
            format!("{a:.0}{unit}"),
            format!("{b:.0}{unit}"),
            a / b
        );
    };
    row("load (fillrandom), items/s", ours.load, theirs.load, "");
    row("random get after reopen, /s", ours.get, theirs.get, "");
    row("absent-key get, /s", ours.absent, theirs.absent, "");
    row("query of 100 items, items/s", ours.query, theirs.query, "");
    row(
        "reopen after crash (1/4 N), ms",
        ours.reopen.as_secs_f64() * 1e3,
        theirs.reopen.as_secs_f64() * 1e3,
        "",
    );
    row(
        "space on disk / user bytes",
        ours.space as f64 / user_bytes as f64 * 100.0,
        theirs.space as f64 / user_bytes as f64 * 100.0,
        "%",
    );
    row(
        "written / user bytes",
        ours.written as f64 / user_bytes as f64 * 100.0,
        theirs.written as f64 / user_bytes as f64 * 100.0,
        "%",
    );
}

criterion_group!(benches, bench_reads, summary);
criterion_main!(benches);
