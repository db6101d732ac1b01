//! Replication benchmarks (targets from the replication issue):
//! - `Quorum` put_item with `Sync` from 8 threads: at least 50% of the throughput of the
//!   same workload without replication (criterion group `replication/sync_put_8_threads`);
//! - failover time, from `fail_az` on the primary AZ to the first acknowledged write on the
//!   new primary, with 64 MiB memtables (filled to 48 MiB first): p99 under 1 s (one-shot
//!   summary after the group);
//! - replication lag under a sustained `Buffered` load: p99 under 100 ms. The summary
//!   samples every replica each millisecond: its lag is how long ago the oldest record it
//!   lacks became durable on the primary (a record is shipped once durable there; the
//!   `Buffered` interval before that is the durability mode's, not replication's). It
//!   runs at 80% of the unreplicated maximum (as the target says) and at 80% and 50% of
//!   the replicated maximum (the three copies share this machine's cores, so the
//!   replicated database cannot carry the former).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynastore::lag::LagClock;
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{AckMode, Database, Item, Options, PutItemInput, Replication, WriteRequest};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const THREADS: u64 = 8;

fn open(dir: &std::path::Path, durability: Durability, replication: Option<Replication>) -> Database {
    let options = Options {
        durability,
        replication,
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), dir, options).unwrap();
    common::create_bench_table(&db);
    db
}

fn quorum() -> Option<Replication> {
    Some(Replication {
        ack: AckMode::Quorum,
        ..Replication::default()
    })
}

fn item(i: u64) -> Item {
    Item::new()
        .with("pk", format!("user#{:012}", i % 100_000))
        .with("sk", (i / 100_000) as i64)
        .with("payload", format!("{:064}", i))
}

/// `iters` Sync puts spread over 8 threads; the time they took.
fn sync_puts(db: &Arc<Database>, iters: u64, next: &AtomicU64) -> Duration {
    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = Arc::clone(db);
            let first = next.fetch_add(iters, Ordering::Relaxed);
            std::thread::spawn(move || {
                let mut t = 0;
                while t * THREADS < iters {
                    db.put_item(PutItemInput::new("Bench", item(first + t))).unwrap();
                    t += 1;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    start.elapsed()
}

fn sync_put_8_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication/sync_put_8_threads");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, replication) in [("unreplicated", None), ("quorum_3_azs", quorum())] {
        let tmp = tempfile::tempdir().unwrap();
        let db = Arc::new(open(tmp.path(), Durability::Sync, replication));
        let next = AtomicU64::new(0);
        group.bench_function(name, |b| b.iter_custom(|iters| sync_puts(&db, iters, &next)));
    }
    group.finish();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Bytes each partition's memtable holds before the failovers are timed: most of the
/// 64 MiB budget, with room for the rounds' writes before a flush would start.
const FAILOVER_MEMTABLE_BYTES: u64 = 48 << 20;

/// Batches of 25 items of 1 KiB that [`fill_memtables`] writes at most: twice what the
/// four partitions' memtables hold at [`FAILOVER_MEMTABLE_BYTES`], should flushes keep
/// them smaller.
const FILL_BATCHES_MAX: u64 = 2 * 4 * FAILOVER_MEMTABLE_BYTES / (25 * 1024);

/// Fills every partition's memtable (on every copy) to [`FAILOVER_MEMTABLE_BYTES`], in
/// batches of 25 items of 1 KiB under one partition key (one log record each), from 8
/// threads, writing at most [`FILL_BATCHES_MAX`] batches; returns the smallest memtable
/// then.
fn fill_memtables(db: &Arc<Database>) -> u64 {
    let smallest = |db: &Database| {
        let tables = db.stats().unwrap();
        let sizes = tables[0].partitions.iter().filter_map(|p| p.stats.as_ref());
        sizes.map(|stats| stats.memtable_bytes).min().unwrap_or(0)
    };
    let next = Arc::new(AtomicU64::new(0));
    while smallest(db) < FAILOVER_MEMTABLE_BYTES && next.load(Ordering::Relaxed) < FILL_BATCHES_MAX {
        let loaders: Vec<_> = (0..THREADS)
            .map(|_| {
                let (db, next) = (Arc::clone(db), Arc::clone(&next));
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let batch = next.fetch_add(1, Ordering::Relaxed);
                        let requests = (0..25)
                            .map(|sk| {
                                let item = Item::new()
                                    .with("pk", format!("fill#{batch:08}"))
                                    .with("sk", sk as i64)
                                    .with("payload", "x".repeat(1024));
                                ("Bench".to_owned(), WriteRequest::Put(item))
                            })
                            .collect();
                        let output = db.batch_write(requests).unwrap();
                        assert!(output.unprocessed_items.is_empty(), "a bench write was not processed");
                    }
                })
            })
            .collect();
        for loader in loaders {
            loader.join().unwrap();
        }
    }
    smallest(db)
}

/// Failover time p50/p99 over `rounds` failures of the primary AZ under a writer, with
/// every memtable holding [`FAILOVER_MEMTABLE_BYTES`] first.
fn failover_times(rounds: usize) -> (f64, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let options = Options {
        durability: Durability::Sync,
        replication: quorum(),
        // Room for 64 MiB in each memtable of the 4 partitions' 3 copies: the default
        // total budget flushes the largest ones long before.
        memtables_bytes_total: 1 << 30,
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), tmp.path(), options).unwrap();
    common::create_bench_table(&db);
    let db = Arc::new(db);
    let filled = fill_memtables(&db);
    println!(
        "   (failovers below with every memtable holding at least {} MiB of its 64 MiB)",
        filled >> 20
    );
    let mut times = Vec::new();
    let mut i = 0;
    for _ in 0..rounds {
        for _ in 0..500 {
            db.put_item(PutItemInput::new("Bench", item(i))).unwrap();
            i += 1;
        }
        let primary = db.stats().unwrap()[0]
            .partitions
            .iter()
            .find(|p| p.stats.is_some())
            .unwrap()
            .entry
            .group
            .primary
            .clone();
        let failed = Instant::now();
        db.fail_az(&primary).unwrap();
        db.put_item(PutItemInput::new("Bench", item(i))).unwrap();
        times.push(failed.elapsed().as_secs_f64() * 1e3);
        i += 1;
        db.restore_az(&primary).unwrap();
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Replication lag (ms) p50/p99 under a Buffered load of 4 writers at `rate` puts/s.
fn lag_under_load(rate: f64, seconds: f64) -> (f64, f64, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let durability = Durability::Buffered {
        interval: Duration::from_millis(10),
    };
    let db = Arc::new(open(tmp.path(), durability, quorum()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Paced: each writer does a quarter of the rate.
                    let due = start + Duration::from_secs_f64(n as f64 * 4.0 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    db.put_item(PutItemInput::new("Bench", item(w * 1_000_000_000 + n)))
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let (mut lags, mut best_lags) = (Vec::new(), Vec::new());
    let mut clock = LagClock::new();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        std::thread::sleep(Duration::from_millis(1));
        let now = Instant::now();
        let sample = clock.observe(now, &db.stats().unwrap());
        let mut best: HashMap<u32, f64> = HashMap::new();
        for replica in sample {
            let lag = replica.lag.as_secs_f64() * 1e3;
            lags.push(lag);
            let partition_best = best.entry(replica.partition).or_insert(f64::MAX);
            *partition_best = partition_best.min(lag);
        }
        best_lags.extend(best.into_values());
    }
    stop.store(true, Ordering::Relaxed);
    let done: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    println!("   (write stalls on every copy meanwhile: {})", db.write_stalls());
    lags.sort_by(f64::total_cmp);
    let achieved = done as f64 / started.elapsed().as_secs_f64();
    best_lags.sort_by(f64::total_cmp);
    println!(
        "   (the replica keeping up best, which Quorum waits for: p50 {:.1} ms, p99 {:.1} ms)",
        percentile(&best_lags, 0.5),
        percentile(&best_lags, 0.99)
    );
    (achieved, percentile(&lags, 0.5), percentile(&lags, 0.99))
}

/// The maximum Buffered put rate of 4 writers, with `replication` or without.
fn buffered_max(replication: Option<Replication>) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let durability = Durability::Buffered {
        interval: Duration::from_millis(10),
    };
    let db = Arc::new(open(tmp.path(), durability, replication));
    let start = Instant::now();
    let per = 100_000u64;
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for n in 0..per {
                    db.put_item(PutItemInput::new("Bench", item(w * 1_000_000_000 + n)))
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    (4 * per) as f64 / start.elapsed().as_secs_f64()
}

fn summary(_: &mut Criterion) {
    let (p50, p99) = failover_times(20);
    println!(
        "failover (fail_az to first acknowledged write, 20 rounds): p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 < 1000 ms)"
    );
    let max = buffered_max(None);
    // Three runs: on a saturated machine one run's p99 varies by tens of milliseconds.
    for run in 1..=3 {
        let (achieved, lag50, lag99) = lag_under_load(0.8 * max, 3.0);
        println!(
            "replication lag at 80% of the unreplicated Buffered maximum ({max:.0} puts/s; achieved {achieved:.0}/s), run {run} of 3: p50 {lag50:.1} ms, p99 {lag99:.1} ms (target p99 < 100 ms)"
        );
    }
    // The three copies share this machine's cores, so the replicated database cannot carry
    // that load: the lag at 80% of what it can carry.
    let replicated_max = buffered_max(quorum());
    for share in [0.8, 0.5] {
        let (achieved, lag50, lag99) = lag_under_load(share * replicated_max, 3.0);
        println!(
            "replication lag at {:.0}% of the replicated Buffered maximum ({replicated_max:.0} puts/s; achieved {achieved:.0}/s): p50 {lag50:.1} ms, p99 {lag99:.1} ms",
            share * 100.0
        );
    }
}

criterion_group!(benches, sync_put_8_threads, summary);
criterion_main!(benches);
