//! `dynastore stats`: per table and partition, what is in memory, on disk, and what the
//! background work did.

use dynastore::wal::fs::StdFs;
use dynastore::{Database, Options};
use std::error::Error;
use std::io::Write;
use std::path::Path;

/// Opens the database in `data` (taking its LOCK) and prints its numbers.
pub fn run(data: &Path, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    if !data.join(dynastore::catalog::CATALOG_FILE).is_file() {
        return Err(format!("{}: no CATALOG (not a data directory?)", data.display()).into());
    }
    let db = Database::open(StdFs::shared(), data, Options::default())?;
    for table in db.stats()? {
        writeln!(out, "table {}", table.name)?;
        for partition in table.partitions {
            partition_lines(&partition, "", out)?;
        }
        for (index, partitions) in table.global_indexes {
            writeln!(out, "  global index {index}")?;
            for partition in partitions {
                partition_lines(&partition, "  ", out)?;
            }
        }
    }
    Ok(())
}

/// The lines of one partition (of a table, or indented by `indent` of a global index).
fn partition_lines(
    report: &dynastore::engine_stats::PartitionReport,
    indent: &str,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    let dynastore::engine_stats::PartitionReport {
        entry,
        stats,
        replicas,
        index_lag_records,
    } = report;
    let Some(stats) = stats else {
        writeln!(out, "{indent}  {}  no write yet", entry.dir_name())?;
        return Ok(());
    };
    let table_entries: u64 = stats.tables.iter().map(|t| t.entries).sum();
    let table_bytes: u64 = stats.tables.iter().map(|t| t.bytes).sum();
    let mut levels = std::collections::BTreeMap::new();
    for dynastore::engine_stats::SsTableStats { level, .. } in &stats.tables {
        *levels.entry(*level).or_insert(0) += 1;
    }
    let levels: Vec<String> = levels
        .iter()
        .map(|(level, count)| format!("L{level}: {count}"))
        .collect();
    writeln!(
        out,
        "{indent}  {}  memtable {} entries ({} bytes, {} frozen); SSTables {} [{}] with {} entries, {} bytes",
        entry.dir_name(),
        stats.memtable_entries,
        stats.memtable_bytes,
        stats.frozen_memtables,
        stats.tables.len(),
        levels.join(", "),
        table_entries,
        table_bytes
    )?;
    writeln!(
        out,
        "           WAL {} segment(s), {} bytes, flushed to LSN {}; since open: {} flushes ({} bytes), {} compactions ({} bytes), {} write stalls",
        stats.wal_segments,
        stats.wal_bytes,
        stats.flushed_lsn,
        stats.flushes,
        stats.flushed_bytes,
        stats.compactions,
        stats.compacted_bytes,
        stats.write_stalls
    )?;
    let group = &entry.group;
    if group.azs.len() > 1 {
        writeln!(
            out,
            "           primary {} (epoch {}, {} failover(s)); durable to LSN {}",
            group.primary, group.epoch, group.failovers, stats.durable_lsn
        )?;
    }
    for replica in replicas {
        writeln!(
            out,
            "           replica {}: {}; durable LSN {}, applied LSN {}, lag {} record(s) (~{} bytes)",
            replica.az, replica.state, replica.durable_lsn, replica.applied_lsn, replica.lag_records, replica.lag_bytes
        )?;
    }
    if let Some(lag) = index_lag_records {
        writeln!(out, "{indent}           global indexes {lag} record(s) behind")?;
    }
    Ok(())
}
