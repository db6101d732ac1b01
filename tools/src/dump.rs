//! `dynastore dump wal`.

use dynastore::wal::fs::StdFs;
use dynastore::wal::scan::{self, ScanEntry, SegmentScan};
use serde_json::{Value, json};
use std::error::Error;
use std::io::Write;
use std::path::Path;

/// Scans a segment file or every segment of a WAL directory.
pub fn scan_path(path: &Path) -> Result<Vec<SegmentScan>, Box<dyn Error>> {
    if path.is_dir() {
        Ok(scan::scan_dir(&StdFs, path)?)
    } else {
        Ok(vec![scan::scan_segment(&StdFs, path)?])
    }
}

/// Prints the records of a segment file or a WAL directory, as text or JSON.
pub fn wal(path: &Path, as_json: bool, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let scans = scan_path(path)?;
    if as_json {
        serde_json::to_writer_pretty(&mut *out, &wal_json(&scans))?;
        writeln!(out)?;
    } else {
        write_wal_text(&scans, out)?;
    }
    Ok(())
}

/// What a set of segment scans adds up to.
struct Summary {
    records: usize,
    damaged: usize,
    first_lsn: Option<u64>,
    last_lsn: Option<u64>,
}

fn summarize(scans: &[SegmentScan]) -> Summary {
    let lsns = scans.iter().flat_map(|s| &s.entries).filter_map(|e| match e {
        ScanEntry::Record { lsn, .. } => Some(lsn.0),
        ScanEntry::Damaged { .. } => None,
    });
    Summary {
        records: scans.iter().map(SegmentScan::records).sum(),
        damaged: scans.iter().filter(|s| !s.is_clean()).count(),
        first_lsn: lsns.clone().min(),
        last_lsn: lsns.max(),
    }
}

fn write_wal_text(scans: &[SegmentScan], out: &mut dyn Write) -> std::io::Result<()> {
    for scan in scans {
        let header = match &scan.header {
            Ok(lsn) => format!("first LSN {lsn}"),
            Err(reason) => format!("BAD HEADER: {reason}"),
        };
        writeln!(
            out,
            "segment {} ({header}, {} bytes)",
            scan.path.display(),
            scan.file_len
        )?;
        writeln!(
            out,
            "  {:>10}  {:>10}  {:>6}  {:>8}  checksum",
            "offset", "lsn", "epoch", "len"
        )?;
        for entry in &scan.entries {
            match entry {
                ScanEntry::Record {
                    offset,
                    lsn,
                    epoch,
                    len,
                    in_sequence,
                } => {
                    let note = if *in_sequence { "" } else { "  OUT OF SEQUENCE" };
                    writeln!(out, "  {offset:>10}  {lsn:>10}  {epoch:>6}  {len:>8}  ok{note}")?;
                }
                ScanEntry::Damaged {
                    offset,
                    len,
                    reason,
                    claims,
                } => {
                    let claims = claims.map_or(String::new(), |(lsn, epoch, len)| {
                        format!(" (claims LSN {lsn}, epoch {epoch}, {len} bytes)")
                    });
                    writeln!(out, "  {offset:>10}  DAMAGED: {reason}{claims}; {len} bytes skipped")?;
                }
            }
        }
        if scan.padding_bytes > 0 {
            writeln!(
                out,
                "  {:>10}  {} bytes of zeros preallocated for the records to come",
                scan.file_len - scan.padding_bytes,
                scan.padding_bytes
            )?;
        }
    }
    let summary = summarize(scans);
    let range = match (summary.first_lsn, summary.last_lsn) {
        (Some(first), Some(last)) => format!(" (LSN {first}..={last})"),
        _ => String::new(),
    };
    writeln!(
        out,
        "summary: {} segment(s), {} record(s){range}, {} damaged segment(s)",
        scans.len(),
        summary.records,
        summary.damaged
    )
}

fn wal_json(scans: &[SegmentScan]) -> Value {
    let segments: Vec<Value> =
        scans
            .iter()
            .map(|scan| {
                let entries: Vec<Value> = scan
                .entries
                .iter()
                .map(|entry| match entry {
                    ScanEntry::Record { offset, lsn, epoch, len, in_sequence } => json!({
                        "offset": offset, "lsn": lsn.0, "epoch": epoch.0, "len": len,
                        "checksum_ok": true, "in_sequence": in_sequence,
                    }),
                    ScanEntry::Damaged { offset, len, reason, claims } => json!({
                        "offset": offset, "checksum_ok": false, "damaged": true, "reason": reason,
                        "skipped_bytes": len,
                        "claims": claims.map(|(lsn, epoch, len)| json!({"lsn": lsn.0, "epoch": epoch.0, "len": len})),
                    }),
                })
                .collect();
                json!({
                    "path": scan.path.display().to_string(),
                    "bytes": scan.file_len,
                    "first_lsn": scan.header.as_ref().ok().map(|l| l.0),
                    "header_error": scan.header.as_ref().err(),
                    "clean": scan.is_clean(),
                    "padding_bytes": scan.padding_bytes,
                    "entries": entries,
                })
            })
            .collect();
    let summary = summarize(scans);
    json!({
        "segments": segments,
        "summary": {
            "segments": scans.len(),
            "records": summary.records,
            "first_lsn": summary.first_lsn,
            "last_lsn": summary.last_lsn,
            "damaged_segments": summary.damaged,
        },
    })
}

/// How a storage key reads for humans: its hash, then the rest as hex.
fn describe_key(key: &[u8]) -> String {
    let (hash, rest) = key.split_at(key.len().min(8));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    format!("{}:{}", hex(hash), hex(rest))
}

/// Prints an SSTable's properties, index and entries (items as DynamoDB JSON).
pub fn sst(path: &Path, as_json: bool, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    use dynastore::item::codec::decode_item;
    use dynastore::sstable::{Entry, SsTable};
    use std::ops::Bound;

    let table = SsTable::open(&StdFs, path)?;
    let properties = table.properties().clone();
    let mut entries = Vec::new();
    for entry in table.iter_from(Bound::Unbounded) {
        let (key, entry) = entry?;
        let value = match entry {
            Entry::Tombstone => None,
            Entry::Value(bytes) => Some(
                decode_item(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .to_json(),
            ),
        };
        entries.push((key, value));
    }
    let index: Vec<(String, u64, u64)> = table
        .index_entries()
        .map(|(key, offset, size)| (describe_key(key), offset, size))
        .collect();
    if as_json {
        let json = json!({
            "path": path.display().to_string(),
            "properties": {
                "entries": properties.entries, "tombstones": properties.tombstones,
                "min_lsn": properties.min_lsn, "max_lsn": properties.max_lsn,
                "smallest_key": describe_key(&properties.smallest_key), "largest_key": describe_key(&properties.largest_key),
            },
            "index": index.iter().map(|(key, offset, size)| json!({"last_key": key, "offset": offset, "size": size})).collect::<Vec<_>>(),
            "entries": entries.iter().map(|(key, item)| json!({"key": describe_key(key), "item": item, "tombstone": item.is_none()})).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "sstable {}", path.display())?;
    writeln!(
        out,
        "  {} entries ({} tombstones), LSN {}..={}, keys {} ..= {}",
        properties.entries,
        properties.tombstones,
        properties.min_lsn,
        properties.max_lsn,
        describe_key(&properties.smallest_key),
        describe_key(&properties.largest_key)
    )?;
    writeln!(out, "  index: {} data blocks", index.len())?;
    for (key, offset, size) in &index {
        writeln!(out, "    block at {offset:>8}, {size:>5} bytes, last key {key}")?;
    }
    for (key, item) in &entries {
        match item {
            Some(item) => writeln!(out, "  {}  {item}", describe_key(key))?,
            None => writeln!(out, "  {}  TOMBSTONE", describe_key(key))?,
        }
    }
    Ok(())
}

/// Prints a partition's MANIFEST.
pub fn manifest(dir: &Path, as_json: bool, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    use dynastore::manifest::{MANIFEST_FILE, Manifest};
    if !dir.join(MANIFEST_FILE).is_file() {
        return Err(format!(
            "{}: no MANIFEST (not a partition directory, or nothing flushed yet)",
            dir.display()
        )
        .into());
    }
    let manifest = Manifest::load(&StdFs, dir)?;
    if as_json {
        let tables: Vec<Value> = manifest
            .tables
            .iter()
            .map(|t| json!({"number": t.number, "level": t.level, "min_lsn": t.min_lsn, "max_lsn": t.max_lsn}))
            .collect();
        let json = json!({"flushed_lsn": manifest.flushed_lsn, "next_file_number": manifest.next_file_number, "tables": tables});
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "manifest {}", dir.join(MANIFEST_FILE).display())?;
    writeln!(
        out,
        "  flushed LSN {}, next file number {}",
        manifest.flushed_lsn, manifest.next_file_number
    )?;
    writeln!(out, "  {} live SSTable(s), newest first:", manifest.tables.len())?;
    for table in &manifest.tables {
        writeln!(
            out,
            "    sst/{:020}.sst  level {}  LSN {}..={}",
            table.number, table.level, table.min_lsn, table.max_lsn
        )?;
    }
    Ok(())
}

/// Prints the data directory's CATALOG.
pub fn catalog(data: &Path, as_json: bool, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    use dynastore::catalog::{CATALOG_FILE, Catalog};
    if !data.join(CATALOG_FILE).is_file() {
        return Err(format!("{}: no CATALOG (not a data directory?)", data.display()).into());
    }
    let catalog = Catalog::load(&StdFs, data)?;
    if as_json {
        serde_json::to_writer_pretty(&mut *out, &catalog)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "catalog {} ({} table(s))",
        data.join(CATALOG_FILE).display(),
        catalog.tables.len()
    )?;
    for table in catalog.tables.values() {
        let schema = table.key_schema();
        let sort = schema
            .sort_key
            .map(|k| format!(", sort key {} ({})", k.name, k.scalar_type))
            .unwrap_or_default();
        writeln!(
            out,
            "  table {}: partition key {} ({}){sort}",
            table.name, schema.partition_key.name, schema.partition_key.scalar_type
        )?;
        write_partitions(&table.partitions, "", out)?;
        for index in &table.indexes {
            let schema = index.schema();
            let keys = std::iter::once(&schema.key_schema.partition_key)
                .chain(&schema.key_schema.sort_key)
                .map(|k| format!("{} ({})", k.name, k.scalar_type))
                .collect::<Vec<_>>()
                .join(", ");
            let state = if index.backfill_from.is_empty() {
                String::new()
            } else {
                format!(", filling from {} partition(s)", index.backfill_from.len())
            };
            writeln!(
                out,
                "    {} index {} (ordinal {}): key {keys}, projection {}{state}",
                match index.kind {
                    dynastore::IndexKind::Local => "local",
                    dynastore::IndexKind::Global => "global",
                },
                index.name,
                index.ordinal,
                index.projection.type_name()
            )?;
            // A global index's partitions live under `<az>/<table>/gsi-<ordinal>/`.
            write_partitions(&index.partitions, &format!("gsi-{}/", index.ordinal), out)?;
            for (partition, lsn) in &index.applied {
                writeln!(out, "      applied table partition {partition} through LSN {lsn}")?;
            }
        }
    }
    Ok(())
}

/// Prints one line per partition, its directory under the table's (`sub`, then the
/// partition's own).
fn write_partitions(
    partitions: &[dynastore::catalog::PartitionEntry],
    sub: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for partition in partitions {
        let state = if partition.created {
            "created"
        } else {
            "not created yet"
        };
        let group = &partition.group;
        let replication = if group.azs.len() > 1 {
            format!(
                "; AZs {} (primary {}, epoch {}, {} failover(s))",
                group.azs.join(", "),
                group.primary,
                group.epoch,
                group.failovers
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "    {sub}{}  hash {:#018x}..={:#018x}  {state}{replication}",
            partition.dir_name(),
            partition.range.start,
            partition.range.end
        )?;
    }
    Ok(())
}
