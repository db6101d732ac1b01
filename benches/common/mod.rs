//! Helpers the LSM benchmarks share: the workload's keys, and what the process wrote.
#![allow(dead_code, clippy::unwrap_used)]

use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::{Database, KeySchema, TableSchema};
use std::path::Path;

/// Items per partition key.
pub const PER_PREFIX: u64 = 100;
/// Bytes of each item's payload.
pub const VALUE_BYTES: usize = 100;

/// `name` from the environment as a number, else `default`.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// A fixed pseudo-random permutation of `0..n` (multiplicative, stride coprime with n);
/// each `salt` gives another.
pub fn shuffled(n: u64, salt: u64) -> impl Iterator<Item = u64> {
    let stride = (0..)
        .map(|k| 7919 + 2 * k + 2 * salt)
        .find(|s| gcd(*s, n) == 1)
        .unwrap_or(1);
    (0..n).map(move |i| (i * stride) % n)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The partition key of item `i`.
pub fn prefix(i: u64) -> String {
    format!("c{:07}", i / PER_PREFIX)
}

/// Bytes written to storage so far: the count of the block device holding `dir` (every
/// process's writes to it) where there is one, else the kernel's count for this process,
/// which charges a whole page-cache folio each time a write dirties it (see
/// `dynastore::device_writes`).
pub fn written_bytes(dir: &Path) -> u64 {
    if let Some(bytes) = dynastore::device_writes::DeviceWrites::of(dir).and_then(|device| device.bytes()) {
        return bytes;
    }
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("write_bytes: ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// The size of every file below `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        total += if path.is_dir() {
            dir_bytes(&path)
        } else {
            entry.metadata().map(|m| m.len()).unwrap_or(0)
        };
    }
    total
}

/// Creates table `Bench` (pk: S, sk: N).
pub fn create_bench_table(db: &Database) {
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: "Bench".into(),
        key_schema: KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        },
    })
    .unwrap();
}
