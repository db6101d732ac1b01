//! The compaction styles side by side, on the same workload in the same run: the measure
//! behind the default (`CompactionStyle::default()`).
//!
//! N items (`DYNASTORE_COMPACTION_ITEMS`, default 400,000) are loaded in random order,
//! then half of them are overwritten, with `Buffered` durability and a 1 MiB memtable,
//! so that a few hundred flushes build several levels. For each style it reports:
//! - load rate (puts/s, including the time the compactor takes from the writers);
//! - write amplification: SSTable bytes written by flushes and compactions, and all
//!   bytes written to storage (WAL included, as the data directory's device counts them:
//!   see `common::written_bytes`), per byte of user data;
//! - read cost: SSTables per partition once the compactor is done, and random gets,
//!   absent-key gets and 100-item queries per second;
//! - space on disk per byte of live user data.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{PER_PREFIX, VALUE_BYTES, create_bench_table, dir_bytes, prefix, shuffled, written_bytes};
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{CompactionStyle, Database, GetItemInput, Item, Options, PutItemInput, QueryInput};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn key(i: u64) -> Item {
    Item::new().with("pk", prefix(i)).with("sk", (i % PER_PREFIX) as i64)
}

struct Row {
    load: f64,
    sst_written: f64,
    all_written: f64,
    tables: f64,
    get: f64,
    absent: f64,
    query: f64,
    space: f64,
    stalls: u64,
}

fn run(style: CompactionStyle, n: u64, dir: &Path) -> Row {
    let options = Options {
        durability: Durability::Buffered {
            interval: std::time::Duration::from_millis(100),
        },
        memtable_bytes: 1 << 20,
        compaction: style,
        ..Options::default()
    };
    let before = written_bytes(dir);
    let db = Database::open(StdFs::shared(), dir, options).unwrap();
    create_bench_table(&db);
    let puts = n + n / 2;
    let started = Instant::now();
    for (round, count) in [(0, n), (1, n / 2)] {
        for i in shuffled(n, round).take(count as usize) {
            let item = key(i).with("v", format!("{:0width$}", i + round, width = VALUE_BYTES));
            db.put_item(PutItemInput::new("Bench", item)).unwrap();
        }
    }
    db.flush().unwrap();
    db.compact_pending().unwrap();
    let load = puts as f64 / started.elapsed().as_secs_f64();
    db.sync().unwrap();
    let all_written = written_bytes(dir) - before;
    let stats = db.stats().unwrap();
    let partitions: Vec<_> = stats[0].partitions.iter().filter_map(|p| p.stats.clone()).collect();
    let sst_written: u64 = partitions.iter().map(|p| p.flushed_bytes + p.compacted_bytes).sum();
    let stalls = db.write_stalls();
    let tables = partitions.iter().map(|p| p.tables.len()).sum::<usize>() as f64 / partitions.len() as f64;
    let user_bytes = (puts * (16 + VALUE_BYTES as u64)) as f64;
    let live_bytes = (n * (16 + VALUE_BYTES as u64)) as f64;
    let probes = (n / 4).max(1);
    let started = Instant::now();
    for i in shuffled(n, 7).take(probes as usize) {
        assert!(black_box(db.get_item(GetItemInput::new("Bench", key(i))).unwrap().item).is_some());
    }
    let get = probes as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..probes {
        let absent = Item::new().with("pk", format!("x{i:07}")).with("sk", 0);
        assert!(black_box(db.get_item(GetItemInput::new("Bench", absent)).unwrap().item).is_none());
    }
    let absent = probes as f64 / started.elapsed().as_secs_f64();
    let prefixes = (n / PER_PREFIX).max(1);
    let queries = prefixes.min(2_000);
    let started = Instant::now();
    for q in 0..queries {
        let pk = prefix(q * 7919 % prefixes * PER_PREFIX);
        black_box(db.query(QueryInput::new("Bench", pk)).unwrap());
    }
    let query = (queries * PER_PREFIX) as f64 / started.elapsed().as_secs_f64();
    db.close().unwrap();
    Row {
        load,
        sst_written: sst_written as f64 / user_bytes,
        all_written: all_written as f64 / user_bytes,
        tables,
        get,
        absent,
        query,
        space: dir_bytes(dir) as f64 / live_bytes,
        stalls,
    }
}

fn main() {
    let n = common::env_count("DYNASTORE_COMPACTION_ITEMS", 400_000);
    println!(
        "Compaction styles, {n} items loaded then {} overwritten (16-byte keys, 100-byte values), 1 MiB memtables, 4 partitions:",
        n / 2
    );
    println!(
        "  {:<22} {:>10} {:>9} {:>9} {:>8} {:>10} {:>10} {:>12} {:>7} {:>7}",
        "style", "load/s", "SST w-amp", "all w-amp", "tables", "get/s", "absent/s", "query items/s", "space", "stalls"
    );
    for style in [
        CompactionStyle::Leveled { size_ratio: 10 },
        CompactionStyle::Leveled { size_ratio: 4 },
        CompactionStyle::Tiered { size_ratio: 4 },
        CompactionStyle::Tiered { size_ratio: 8 },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let row = run(style, n, dir.path());
        let name = match style {
            CompactionStyle::Leveled { size_ratio } => format!("leveled, ratio {size_ratio}"),
            CompactionStyle::Tiered { size_ratio } => format!("tiered, ratio {size_ratio}"),
        };
        println!(
            "  {name:<22} {:>10.0} {:>8.2}x {:>8.2}x {:>8.1} {:>10.0} {:>10.0} {:>12.0} {:>6.2}x {:>7}",
            row.load,
            row.sst_written,
            row.all_written,
            row.tables,
            row.get,
            row.absent,
            row.query,
            row.space,
            row.stalls
        );
    }
}
