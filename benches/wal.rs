//! WAL benchmarks. Targets are ratios to a baseline measured in the same run:
//! - buffered appends of 128-byte payloads: at least 2 million records/s on one thread;
//! - one thread of `Sync` appends: each within 1.5x of a bare 4 KiB write + fdatasync;
//! - `Sync` appends from 8 threads: at least 4x the one-thread `Sync` rate.
//!
//! After the criterion groups, a summary measures each workload once more and prints the
//! ratios and records per fsync.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynastore::wal::fs::StdFs;
use dynastore::wal::{Durability, Epoch, Wal, WalOptions};
use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SMALL: usize = 128;
/// A payload whose framed record is exactly 4 KiB, to compare with the 4 KiB baseline.
const PAGE_PAYLOAD: usize = 4096 - dynastore::wal::record::HEADER_BYTES;

fn open(dir: &std::path::Path, durability: Durability) -> Wal {
    let options = WalOptions {
        durability,
        ..WalOptions::default()
    };
    Wal::open(StdFs::shared(), dir, options).unwrap().0
}

fn buffered() -> Durability {
    Durability::Buffered {
        interval: Duration::from_millis(100),
    }
}

/// `iters` bare 4 KiB writes, each followed by fdatasync, on a fresh file.
fn bare_write_fdatasync(iters: u64) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let file = File::create(tmp.path().join("baseline")).unwrap();
    let page = [0x5Au8; 4096];
    let started = Instant::now();
    for i in 0..iters {
        file.write_all_at(&page, i * 4096).unwrap();
        file.sync_data().unwrap();
    }
    started.elapsed()
}

/// `iters` appends of `len`-byte payloads split over `threads` threads, on a fresh log.
/// Returns the elapsed time and the log's (records, fsyncs).
fn appends(iters: u64, threads: u64, len: usize, durability: Durability) -> (Duration, u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(open(tmp.path(), durability));
    let payload = vec![0xA5u8; len];
    let started = Instant::now();
    if threads == 1 {
        for _ in 0..iters {
            black_box(wal.append(Epoch(1), &payload).unwrap());
        }
    } else {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (wal, payload) = (Arc::clone(&wal), payload.clone());
                let n = iters / threads + u64::from(t < iters % threads);
                std::thread::spawn(move || {
                    for _ in 0..n {
                        black_box(wal.append(Epoch(1), &payload).unwrap());
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
    let elapsed = started.elapsed();
    let stats = wal.stats();
    (elapsed, stats.records, stats.syncs)
}

fn bench_wal(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_4k_write_fdatasync", |b| b.iter_custom(bare_write_fdatasync));
    group.bench_function("buffered_append_128b_1_thread", |b| {
        b.iter_custom(|iters| appends(iters, 1, SMALL, buffered()).0)
    });
    group.bench_function("sync_append_4k_1_thread", |b| {
        b.iter_custom(|iters| appends(iters, 1, PAGE_PAYLOAD, Durability::Sync).0)
    });
    group.bench_function("sync_append_128b_1_thread", |b| {
        b.iter_custom(|iters| appends(iters, 1, SMALL, Durability::Sync).0)
    });
    group.bench_function("sync_append_128b_8_threads", |b| {
        b.iter_custom(|iters| appends(iters, 8, SMALL, Durability::Sync).0)
    });
    group.finish();
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Measures each workload once more and prints the ratios the targets are stated in.
fn summary(_: &mut Criterion) {
    let fsync_n = 2_000;
    let baseline_us = bare_write_fdatasync(fsync_n).as_secs_f64() * 1e6 / fsync_n as f64;
    let (elapsed, _, _) = appends(fsync_n, 1, PAGE_PAYLOAD, Durability::Sync);
    let sync_4k_us = elapsed.as_secs_f64() * 1e6 / fsync_n as f64;
    let (elapsed, _, _) = appends(fsync_n, 1, SMALL, Durability::Sync);
    let sync_1 = per_second(fsync_n, elapsed);
    let n8 = 40_000;
    let (elapsed, records, syncs) = appends(n8, 8, SMALL, Durability::Sync);
    let sync_8 = per_second(n8, elapsed);
    let nb = 5_000_000;
    let (elapsed, _, _) = appends(nb, 1, SMALL, buffered());
    let buffered_rate = per_second(nb, elapsed);
    println!("\nWAL summary (same run):");
    println!("  bare 4 KiB write + fdatasync:      {baseline_us:8.1} µs");
    println!(
        "  Sync append, 4 KiB record, 1 thread: {sync_4k_us:8.1} µs = {:.2}x the baseline (target <= 1.5x)",
        sync_4k_us / baseline_us
    );
    println!("  Sync append, 128 B, 1 thread:      {sync_1:10.0} records/s");
    println!(
        "  Sync append, 128 B, 8 threads:     {sync_8:10.0} records/s = {:.2}x one thread (target >= 4x); {:.1} records per fsync",
        sync_8 / sync_1,
        records as f64 / syncs.max(1) as f64
    );
    println!("  Buffered append, 128 B, 1 thread:  {buffered_rate:10.0} records/s (target >= 2,000,000)");
}

criterion_group!(benches, bench_wal, summary);
criterion_main!(benches);
