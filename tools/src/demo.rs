//! `dynastore demo`: the end-to-end tour README's first command runs.
//!
//! It tours the write-ahead log, laid out where a partition's log lives
//! (`<data>/demo/<az>/<table>/<partition>/wal`) ([`wal`]), then a database: the data
//! model, tables and partitions, queries and updates ([`items`]), flushes and compaction
//! ([`lsm`]), replication and failover ([`replication`]), counters racing flushes
//! ([`counters`]), the seed's story told with the `dynastore` command ([`shell`]), the
//! database served over DynamoDB's wire protocol ([`wire`]), and secondary indexes
//! ([`indexes`]).
//! Every step checks its own result and the demo fails loudly if anything is off.

mod counters;
mod indexes;
mod items;
mod lsm;
mod replication;
mod shell;
mod wal;
mod wire;

use dynastore::wal::fs::StdFs;
use dynastore::wal::{Durability, Epoch, Lsn, Wal, WalOptions};
use std::error::Error;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITERS: u64 = 8;
const RECORDS_PER_WRITER: u64 = 1_500;

type DemoResult = Result<(), Box<dyn Error>>;
/// Records as the demo wrote or read them: LSN and payload.
type Records = Vec<(Lsn, Vec<u8>)>;

/// The record a writer appends: an order item as DynamoDB JSON.
fn order(writer: u64, seq: u64) -> Vec<u8> {
    format!(
        r#"{{"pk":{{"S":"customer#{writer:04}"}},"sk":{{"S":"order#{seq:06}"}},"total":{{"N":"{}.{:02}"}}}}"#,
        seq * 3 + writer,
        seq % 100
    )
    .into_bytes()
}

fn options() -> WalOptions {
    WalOptions {
        segment_bytes_max: 256 << 10,
        durability: Durability::Sync,
        ..WalOptions::default()
    }
}

/// The demo's table: Orders, keyed by customer (S) and order number (N).
fn orders_schema() -> dynastore::TableSchema {
    use dynastore::item::{KeyAttribute, ScalarType};
    dynastore::TableSchema {
        indexes: Vec::new(),
        name: "Orders".into(),
        key_schema: dynastore::KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        },
    }
}

fn check(ok: bool, what: &str) -> DemoResult {
    if ok {
        Ok(())
    } else {
        Err(format!("demo check failed: {what}").into())
    }
}

/// Runs the tour under `<data>/demo`, printing to `out`.
pub fn run(data: &Path, out: &mut dyn Write) -> DemoResult {
    let root = data.join("demo");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let primary = root.join("az-a").join("Orders").join("p-0000").join("wal");
    let replica = root.join("az-b").join("Orders").join("p-0000").join("wal");
    writeln!(
        out,
        "dynastore demo: the write-ahead log of one partition, under {}\n",
        root.display()
    )?;

    let written = wal::write_concurrently(&primary, out)?;
    wal::reopen_and_check(&primary, &written, out)?;
    wal::survive_torn_write(&primary, &written, out)?;
    wal::ship_to_replica(&primary, &replica, out)?;
    wal::drop_old_segments(&primary, out)?;
    wal::dump_newest_segment(&primary, out)?;
    items::show_data_model(out)?;
    items::tables_and_partitions(&root.join("db"), out)?;
    items::queries_updates_conditions(&root.join("db"), out)?;
    lsm::compaction_and_verify(&root.join("db"), out)?;
    lsm::background_compaction(&root.join("busy"), out)?;
    replication::replication_and_failover(&root.join("replicated"), out)?;
    replication::replication_backpressure(&root.join("backpressure"), out)?;
    counters::counter_updates_racing_flushes(&root.join("counters"), out)?;
    shell::orders_from_the_shell(&root.join("shell"), out)?;
    wire::served_over_dynamodbs_protocol(&root.join("wire"), out)?;
    indexes::local_and_global_indexes(&root.join("indexes"), out)?;
    writeln!(out, "\nEvery step checked its own result: the demo passed.")?;
    Ok(())
}
