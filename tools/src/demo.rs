//! `dynastore demo`: the end-to-end tour README's first command runs.
//!
//! Today it tours the write-ahead log, laid out where a partition's log lives
//! (`<data>/demo/<az>/<table>/<partition>/wal`): concurrent durable writes with group
//! commit, reopen and recovery, a torn write cut off, tailing into a replica AZ, dropping
//! old segments, and a dump. Every step checks its own result and the demo fails loudly if
//! anything is off.

mod counters;

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

    let written = write_concurrently(&primary, out)?;
    reopen_and_check(&primary, &written, out)?;
    survive_torn_write(&primary, &written, out)?;
    ship_to_replica(&primary, &replica, out)?;
    drop_old_segments(&primary, out)?;
    dump_newest_segment(&primary, out)?;
    show_data_model(out)?;
    tables_and_partitions(&root.join("db"), out)?;
    queries_updates_conditions(&root.join("db"), out)?;
    compaction_and_verify(&root.join("db"), out)?;
    background_compaction(&root.join("busy"), out)?;
    replication_and_failover(&root.join("replicated"), out)?;
    replication_backpressure(&root.join("backpressure"), out)?;
    counters::counter_updates_racing_flushes(&root.join("counters"), out)?;
    writeln!(out, "\nEvery step checked its own result: the demo passed.")?;
    Ok(())
}

/// Step 1: 8 threads append with Sync durability; group commit shares the fsyncs.
fn write_concurrently(dir: &Path, out: &mut dyn Write) -> Result<Records, Box<dyn Error>> {
    writeln!(
        out,
        "1. {WRITERS} threads append {RECORDS_PER_WRITER} orders each, every append durable (fdatasync) before it returns"
    )?;
    let (wal, _) = Wal::open(StdFs::shared(), dir, options())?;
    let wal = Arc::new(wal);
    let started = Instant::now();
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                (0..RECORDS_PER_WRITER)
                    .map(|seq| {
                        let bytes = order(writer, seq);
                        wal.append(Epoch(1), &bytes).map(|lsn| (lsn, bytes))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    let mut written = Vec::new();
    for thread in threads {
        written.extend(thread.join().map_err(|_| "a writer thread panicked")??);
    }
    let elapsed = started.elapsed();
    written.sort();
    let stats = wal.stats();
    writeln!(
        out,
        "   {} records in {:.2?} = {:.0} durable appends/s; {} fsyncs, {:.1} records per fsync (group commit); {} segments",
        stats.records,
        elapsed,
        stats.records as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.syncs,
        stats.records as f64 / stats.syncs.max(1) as f64,
        wal.segments().len(),
    )?;
    check(
        written.len() as u64 == WRITERS * RECORDS_PER_WRITER,
        "every append returned an LSN",
    )?;
    check(
        written.iter().enumerate().all(|(i, (lsn, _))| lsn.0 == i as u64 + 1),
        "LSNs are gapless from 1",
    )?;
    Ok(written)
}

fn read_back(wal: &Wal) -> Result<Records, Box<dyn Error>> {
    Ok(wal
        .read_from(Lsn(1))?
        .map(|r| r.map(|r| (r.lsn, r.payload)))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Step 2: reopen; recovery checks every record's checksum.
fn reopen_and_check(dir: &Path, written: &[(Lsn, Vec<u8>)], out: &mut dyn Write) -> DemoResult {
    writeln!(out, "\n2. Reopen: recovery reads every segment and checks every record")?;
    let started = Instant::now();
    let (wal, report) = Wal::open(StdFs::shared(), dir, options())?;
    writeln!(
        out,
        "   {} records in {} segments, LSN {}..={}, {} bytes truncated, in {:.2?}",
        report.records,
        report.segments,
        report.first_lsn,
        report.last_lsn,
        report.bytes_truncated,
        started.elapsed()
    )?;
    check(
        read_back(&wal)? == written,
        "every record reads back with its own payload",
    )
}

/// Step 3: a crash in the middle of a write leaves half a record; recovery cuts it off.
fn survive_torn_write(dir: &Path, written: &[(Lsn, Vec<u8>)], out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n3. A crash mid-write: half a record is left at the end of the newest segment"
    )?;
    let newest = Wal::open(StdFs::shared(), dir, options())?.0.segments();
    let newest = newest.last().copied().unwrap_or(Lsn(1));
    let path = dynastore::wal::segment::segment_path(dir, newest);
    let mut torn = dynastore::wal::record::frame(Lsn(written.len() as u64 + 1), Epoch(1), &order(99, 0));
    torn.truncate(torn.len() / 2);
    // The half record goes where the next record would: right after the last one, into
    // the zeros the log preallocated there.
    let scan = dynastore::wal::scan::scan_segment(&StdFs, &path)?;
    let records_end = scan.file_len - scan.padding_bytes;
    let file = OpenOptions::new().write(true).open(&path)?;
    file.write_all_at(&torn, records_end)?;
    file.sync_all()?;
    drop(file);
    let (wal, report) = Wal::open(StdFs::shared(), dir, options())?;
    writeln!(
        out,
        "   recovery cut the {} torn bytes and the {} zeros preallocated after them; {} whole records kept, the last at LSN {}",
        torn.len(),
        report.bytes_truncated.saturating_sub(torn.len() as u64),
        report.records,
        report.last_lsn
    )?;
    check(
        report.bytes_truncated == scan.file_len.max(records_end + torn.len() as u64) - records_end,
        "exactly the bytes after the last whole record were cut",
    )?;
    let after = std::fs::metadata(&path)?.len();
    check(after == records_end, "the segment ends at its last whole record")?;
    check(read_back(&wal)? == written, "no acknowledged record was lost")
}

/// Step 4: a tailer streams durable records, byte for byte, into a replica AZ's log.
fn ship_to_replica(primary_dir: &Path, replica_dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n4. Tail the log into a replica in az-b (what the replication shipper will do)"
    )?;
    let (primary, _) = Wal::open(StdFs::shared(), primary_dir, options())?;
    let (replica, _) = Wal::open(StdFs::shared(), replica_dir, options())?;
    let mut tailer = primary.tail(Lsn(1));
    let (mut chunks, mut bytes) = (0, 0);
    while let Some(chunk) = tailer.next_chunk(Duration::from_millis(50))? {
        replica.append_framed(chunk.segment, &chunk.bytes)?;
        chunks += 1;
        bytes += chunk.bytes.len();
    }
    // Each log preallocates zeros after its newest segment's last record on its own (the
    // primary's were cut with the torn record in step 3): the records are compared.
    let records = |dir: &Path, first: Lsn| {
        let path = dynastore::wal::segment::segment_path(dir, first);
        let scan = dynastore::wal::scan::scan_segment(&StdFs, &path).ok()?;
        let mut bytes = std::fs::read(&path).ok()?;
        bytes.truncate(usize::try_from(scan.file_len - scan.padding_bytes).ok()?);
        Some(bytes)
    };
    let identical = primary.segments() == replica.segments()
        && primary.segments().iter().all(|&first| {
            let a = records(primary_dir, first);
            a.is_some() && a == records(replica_dir, first)
        });
    writeln!(
        out,
        "   shipped {bytes} bytes in {chunks} chunks; replica at LSN {}; segment files byte-identical (up to preallocated zeros): {}",
        replica.last_lsn(),
        if identical { "yes" } else { "NO" }
    )?;
    check(identical, "the replica's segments equal the primary's")
}

/// Step 5: after a flush (a later issue), segments wholly below the flushed LSN go.
fn drop_old_segments(dir: &Path, out: &mut dyn Write) -> DemoResult {
    let (wal, _) = Wal::open(StdFs::shared(), dir, options())?;
    let before = wal.segments().len();
    let flushed = Lsn(wal.last_lsn().0 / 2);
    writeln!(
        out,
        "\n5. Pretend the memtable was flushed up to LSN {flushed}: drop the segments wholly below it"
    )?;
    let removed = wal.truncate_before(flushed)?;
    writeln!(
        out,
        "   removed {removed} of {before} segments; the log now starts at LSN {}",
        wal.first_lsn()
    )?;
    check(
        wal.first_lsn() <= flushed && removed > 0,
        "only segments below the flushed LSN were dropped",
    )
}

/// Step 6: what `dynastore dump wal` shows.
fn dump_newest_segment(dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n6. `dynastore dump wal {}` (first lines of the newest segment):",
        dir.display()
    )?;
    let mut text = Vec::new();
    crate::dump::wal(dir, false, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let newest = lines.iter().rposition(|l| l.starts_with("segment ")).unwrap_or(0);
    for line in lines.iter().skip(newest).take(6) {
        writeln!(out, "   {line}")?;
    }
    writeln!(out, "   ...")?;
    if let Some(summary) = lines.last() {
        writeln!(out, "   {summary}")?;
    }
    check(text.contains(", 0 damaged segment(s)"), "the dump finds no damage")
}

/// Step 7: the engine's data model: DynamoDB JSON, item sizes, limits, key order.
fn show_data_model(out: &mut dyn Write) -> DemoResult {
    use dynastore::item::key::storage_key;
    use dynastore::item::{KeyAttribute, ScalarType, validate_item};
    use dynastore::{AttributeValue, Item, KeySchema};

    writeln!(
        out,
        "\n7. The data model the engine will store: DynamoDB JSON, sizes, limits, key order"
    )?;
    let schema = KeySchema {
        partition_key: KeyAttribute::new("pk", ScalarType::S),
        sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
    };
    let text = r#"{"pk": {"S": "customer#0017"}, "sk": {"N": "1.50E2"}, "tags": {"SS": ["new", "gift"]}}"#;
    let item = Item::from_json_str(text)?;
    validate_item(&item, &schema)?;
    writeln!(
        out,
        "   {text}\n   reads back as {} ({} bytes by DynamoDB's rules)",
        item.to_json(),
        item.size_bytes()
    )?;
    let too_big = item.clone().with("blob", "x".repeat(409_600));
    let refused = validate_item(&too_big, &schema)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    writeln!(out, "   a {}-byte item is refused: {refused}", too_big.size_bytes())?;
    let missing = Item::new().with("sk", 1);
    let refused_key = validate_item(&missing, &schema)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    writeln!(out, "   an item without its partition key is refused: {refused_key}")?;
    let pk = AttributeValue::from("customer#0017");
    let mut sort_keys: Vec<&str> = vec!["10", "-2.5", "1e-3", "7", "-10", "0"];
    sort_keys.sort_by_key(|n| {
        n.parse()
            .map(|n| storage_key(&pk, Some(&AttributeValue::N(n))))
            .unwrap_or_default()
    });
    writeln!(out, "   sort keys in storage-key byte order: {}", sort_keys.join(" < "))?;
    check(
        refused.starts_with("Item size has exceeded") && refused_key.contains("Missing the key pk"),
        "limits enforced",
    )?;
    check(
        sort_keys == ["-10", "-2.5", "0", "1e-3", "7", "10"],
        "numbers sort numerically as bytes",
    )
}

/// Step 8: a database: a table, its hash ranges, partitions created by the first write
/// into each range, PutItem / GetItem / DeleteItem, and every item back after reopen.
fn tables_and_partitions(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{Database, DeleteItemInput, GetItemInput, Item, Options, PutItemInput};

    writeln!(
        out,
        "\n8. A database in {}: table Orders (pk: S, sk: N), 4 hash ranges",
        dir.display()
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    db.create_table(orders_schema())?;
    let order = |customer: u64, n: i64| {
        Item::new()
            .with("pk", format!("customer#{customer:04}"))
            .with("sk", n)
            .with("total", n * 7 + customer as i64)
    };
    let started = Instant::now();
    let mut written = 0;
    for customer in 0..3u64 {
        for n in 0..100 {
            db.put_item(PutItemInput::new("Orders", order(customer, n)))?;
            written += 1;
        }
    }
    writeln!(
        out,
        "   {written} durable puts of 3 customers' orders in {:.2?}",
        started.elapsed()
    )?;
    for partition in db.describe_table("Orders")?.partitions {
        let state = if partition.created {
            format!(
                "created: {}",
                Path::new("az-a/Orders").join(partition.dir_name()).display()
            )
        } else {
            "no write yet, no directory".to_owned()
        };
        writeln!(
            out,
            "   hash {:#018x}..={:#018x}  {state}",
            partition.range.start, partition.range.end
        )?;
    }
    let key = Item::new().with("pk", "customer#0001").with("sk", 42);
    let found = db.get_item(GetItemInput::new("Orders", key.clone()))?.item;
    writeln!(
        out,
        "   GetItem {} -> {}",
        key.to_json(),
        found.as_ref().map(Item::to_json).unwrap_or_default()
    )?;
    db.delete_item(DeleteItemInput::new("Orders", key.clone()))?;
    db.flush()?;
    let mut tables = Vec::new();
    let mut segments = 0;
    for partition in db.describe_table("Orders")?.partitions.iter().filter(|p| p.created) {
        let partition_dir = dir.join("az-a/Orders").join(partition.dir_name());
        for entry in std::fs::read_dir(partition_dir.join("sst"))? {
            let path = entry?.path();
            let properties = dynastore::sstable::SsTable::open(&StdFs, &path)?.properties().clone();
            tables.push(format!(
                "{}/sst/{} ({} entries, {} tombstones)",
                partition.dir_name(),
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                properties.entries,
                properties.tombstones
            ));
        }
        segments += std::fs::read_dir(partition_dir.join("wal"))?.count();
    }
    writeln!(
        out,
        "   Database::flush: memtables became SSTables, the WAL they cover was dropped ({segments} segments left):"
    )?;
    for table in &tables {
        writeln!(out, "     {table}")?;
    }
    drop(db);
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    let mut intact = 0;
    for customer in 0..3u64 {
        for n in 0..100 {
            let key = Item::new().with("pk", format!("customer#{customer:04}")).with("sk", n);
            let found = db.get_item(GetItemInput::new("Orders", key))?.item;
            if found == Some(order(customer, n)) || (customer == 1 && n == 42 && found.is_none()) {
                intact += 1;
            }
        }
    }
    writeln!(
        out,
        "   after DeleteItem, flush and a reopen (SSTables + WAL replay): {intact} of {written} items exactly as expected"
    )?;
    check(found == Some(order(1, 42)), "GetItem returns the item put")?;
    check(!tables.is_empty(), "the flush wrote SSTables")?;
    check(
        intact == written,
        "every item survives reopen, the deleted one stays deleted",
    )
}

/// Step 9: Query with a sort-key condition and paging, UpdateItem, a failed condition,
/// and a batch write.
fn queries_updates_conditions(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{
        Condition, Database, Error, GetItemInput, Item, Options, Path as DocPath, QueryInput, ReturnValues,
        SortKeyCondition, UpdateAction, UpdateItemInput, WriteRequest,
    };

    writeln!(
        out,
        "\n9. Query, UpdateItem, conditions and BatchWriteItem on the same table"
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    let mut query = QueryInput::new("Orders", "customer#0002");
    query.sort_key_condition = Some(SortKeyCondition::Between(10.into(), 19.into()));
    query.scan_index_forward = false;
    query.limit = Some(4);
    let (mut pages, mut orders) = (0, Vec::new());
    loop {
        let page = db.query(query.clone())?;
        pages += 1;
        orders.extend(page.items.iter().filter_map(|item| {
            item.get("sk")
                .and_then(|sk| sk.to_json()["N"].as_str().map(str::to_owned))
        }));
        match page.last_evaluated_key {
            Some(key) => query.exclusive_start_key = Some(key),
            None => break,
        }
    }
    writeln!(
        out,
        "   Query customer#0002, sk BETWEEN 10 AND 19, descending, Limit 4: {} orders in {pages} pages: {}",
        orders.len(),
        orders.join(" ")
    )?;
    let key = Item::new().with("pk", "customer#0002").with("sk", 10);
    let mut update = UpdateItemInput::new(
        "Orders",
        key.clone(),
        vec![
            UpdateAction::Add(DocPath::attribute("total"), 5.into()),
            UpdateAction::Set(
                DocPath::attribute("status"),
                dynastore::SetValue::from(dynastore::AttributeValue::from("shipped")),
            ),
        ],
    );
    update.return_values = ReturnValues::UpdatedNew;
    let updated = db.update_item(update)?.attributes.unwrap_or_default();
    writeln!(
        out,
        "   UpdateItem ADD total 5, SET status: returns {}",
        updated.to_json()
    )?;
    let mut guarded = UpdateItemInput::new(
        "Orders",
        key.clone(),
        vec![UpdateAction::Remove(DocPath::attribute("status"))],
    );
    guarded.condition = Some(Condition::equals(DocPath::attribute("status"), "pending"));
    let failed = db.update_item(guarded);
    let message = match &failed {
        Err(error @ Error::ConditionalCheckFailed { .. }) => format!("{} ({})", error.exception_name(), error),
        other => format!("unexpected: {other:?}"),
    };
    writeln!(out, "   UpdateItem REMOVE status IF status = \"pending\": {message}")?;
    let batch: Vec<(String, WriteRequest)> = (0..25)
        .map(|n| {
            (
                "Orders".to_owned(),
                WriteRequest::Put(Item::new().with("pk", "customer#0009").with("sk", n).with("total", 1)),
            )
        })
        .collect();
    let unprocessed = db.batch_write(batch)?.unprocessed_items;
    check(unprocessed.is_empty(), "the batch wrote every request")?;
    let written = db.query(QueryInput::new("Orders", "customer#0009"))?.items.len();
    writeln!(
        out,
        "   BatchWriteItem of 25 orders (one WAL record per partition): {written} orders now under customer#0009"
    )?;
    let still = db
        .get_item(GetItemInput::new("Orders", key))?
        .item
        .and_then(|item| item.get("status").cloned());
    check(
        orders.len() == 10 && pages == 3,
        "the query pages through 10 orders, newest first",
    )?;
    check(
        updated.get("status").is_some() && updated.get("pk").is_none(),
        "UPDATED_NEW returns the updated attributes only",
    )?;
    check(
        matches!(failed, Err(Error::ConditionalCheckFailed { .. })) && still.is_some(),
        "a failed condition writes nothing",
    )?;
    check(written == 25, "the whole batch landed")
}

/// Step 10: more flushes pile up SSTables; compaction merges each partition's into one,
/// dropping tombstones; `verify` checks every checksum and invariant.
fn compaction_and_verify(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{Database, DeleteItemInput, GetItemInput, Item, Options, PutItemInput};

    writeln!(
        out,
        "\n10. SSTables pile up with each flush; compaction merges them; verify checks everything"
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    for round in 0..3i64 {
        for n in 0..100 {
            let item = Item::new()
                .with("pk", "customer#0000")
                .with("sk", n)
                .with("total", round * 1000 + n);
            db.put_item(PutItemInput::new("Orders", item))?;
        }
        db.delete_item(DeleteItemInput::new(
            "Orders",
            Item::new().with("pk", "customer#0000").with("sk", 50 + round),
        ))?;
        db.flush()?;
    }
    let count_tables = || -> std::io::Result<usize> {
        let mut tables = 0;
        for partition in std::fs::read_dir(dir.join("az-a/Orders"))? {
            if let Ok(files) = std::fs::read_dir(partition?.path().join("sst")) {
                tables += files.count();
            }
        }
        Ok(tables)
    };
    let before = count_tables()?;
    db.compact()?;
    let after = count_tables()?;
    writeln!(
        out,
        "   3 rounds of updates and deletes, each flushed: {before} SSTables; after compaction: {after}"
    )?;
    let latest = db
        .get_item(GetItemInput::new(
            "Orders",
            Item::new().with("pk", "customer#0000").with("sk", 7),
        ))?
        .item;
    // The last round deleted sort key 52 after writing it (51, deleted a round earlier,
    // was written again).
    let deleted = db
        .get_item(GetItemInput::new(
            "Orders",
            Item::new().with("pk", "customer#0000").with("sk", 52),
        ))?
        .item;
    drop(db);
    let report = dynastore::verify::verify(dir);
    writeln!(
        out,
        "   `dynastore --data {} verify`: {} checked, {} problem(s)",
        dir.display(),
        report.checked.len(),
        report.problems.len()
    )?;
    check(after < before, "compaction reduced the number of tables")?;
    check(
        latest.and_then(|i| i.get("total").cloned()) == Some(2007.into()),
        "the newest version survives compaction",
    )?;
    check(deleted.is_none(), "a deleted item stays deleted after compaction")?;
    check(report.problems.is_empty(), "verify finds no problem")
}

/// Step 11: a busy table with small memtables: the flusher and the compactor work in the
/// background, leveled compaction keeps one run per level, and every item is right.
fn background_compaction(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{CompactionStyle, Database, GetItemInput, Item, Options, QueryInput};

    writeln!(
        out,
        "\n11. Background flushes and leveled compaction under a busy table (256 KiB memtables)"
    )?;
    let options = Options {
        durability: dynastore::wal::Durability::Buffered {
            interval: std::time::Duration::from_millis(20),
        },
        initial_partitions: 2,
        memtable_bytes: 256 << 10,
        compaction: CompactionStyle::Leveled { size_ratio: 4 },
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), dir, options)?;
    db.create_table(orders_schema())?;
    let (customers, per_customer) = (400i64, 100i64);
    let mut user_bytes = 0u64;
    for round in 0..2i64 {
        for i in 0..customers * per_customer {
            let n = (i * 7919) % (customers * per_customer);
            let item = Item::new()
                .with("pk", format!("customer#{:04}", n / per_customer))
                .with("sk", n % per_customer)
                .with("total", round * 1_000_000 + n)
                .with("note", "x".repeat(60));
            user_bytes += item.size_bytes() as u64;
            db.put_item(dynastore::PutItemInput::new("Orders", item))?;
        }
    }
    db.flush()?;
    db.compact_pending()?;
    let mut written = 0;
    for table in db.stats()? {
        for partition in table.partitions {
            let Some(stats) = partition.stats else { continue };
            written += stats.flushed_bytes + stats.compacted_bytes;
            let levels: Vec<String> = stats.tables.iter().map(|t| format!("L{}", t.level)).collect();
            writeln!(
                out,
                "   {}: {} flushes, {} compactions; tables now [{}]",
                partition.entry.dir_name(),
                stats.flushes,
                stats.compactions,
                levels.join(", ")
            )?;
            let mut seen = std::collections::HashSet::new();
            let one_run_per_level = stats.tables.iter().all(|t| t.level == 0 || seen.insert(t.level));
            check(one_run_per_level, "leveled compaction keeps one run per level")?;
        }
    }
    writeln!(
        out,
        "   {} puts of {user_bytes} bytes; flushes and compactions wrote {written} SSTable bytes ({:.2}x)",
        2 * customers * per_customer,
        written as f64 / user_bytes as f64
    )?;
    let page = db.query(QueryInput::new("Orders", "customer#0123"))?;
    let last = db
        .get_item(GetItemInput::new(
            "Orders",
            Item::new().with("pk", "customer#0399").with("sk", 99),
        ))?
        .item;
    db.close()?;
    let report = dynastore::verify::verify(dir);
    check(page.items.len() == 100, "a query reads all 100 orders of a customer")?;
    check(
        last.and_then(|i| i.get("total").cloned()) == Some((1_000_000 + 39_999).into()),
        "the second round's version is the one read",
    )?;
    check(
        report.problems.is_empty(),
        "verify finds no problem after background compaction",
    )
}

/// Step 12: every partition copied to three AZs; the primary AZ fails under writers; a
/// replica takes over with every acknowledged write; the old primary rejoins.
fn replication_and_failover(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{AckMode, Database, GetItemInput, Item, Options, PutItemInput, Replication};
    use std::sync::atomic::{AtomicBool, Ordering};

    writeln!(
        out,
        "\n12. Replication to az-a, az-b, az-c (Quorum), a failed primary AZ, and a failover"
    )?;
    let options = Options {
        initial_partitions: 2,
        replication: Some(Replication {
            ack: AckMode::Quorum,
            ..Replication::default()
        }),
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir, options)?);
    db.create_table(orders_schema())?;
    let key = |writer: u64, seq: u64| {
        Item::new()
            .with("pk", format!("customer#{writer}"))
            .with("sk", seq as i64)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || -> Result<u64, dynastore::Error> {
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    db.put_item(PutItemInput::new("Orders", key(writer, seq).with("total", seq as i64)))?;
                    seq += 1;
                }
                Ok(seq)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let failed_at = Instant::now();
    db.fail_az("az-a")?;
    let failover = failed_at.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.join().map_err(|_| "a writer panicked")??);
    }
    let total: u64 = acknowledged.iter().sum();
    writeln!(
        out,
        "   4 writers: {total} acknowledged puts; az-a failed after 300 ms, failover took {:.1} ms",
        failover.as_secs_f64() * 1e3
    )?;
    let mut missing = 0;
    for (writer, &count) in acknowledged.iter().enumerate() {
        for seq in 0..count {
            let mut input = GetItemInput::new("Orders", key(writer as u64, seq));
            input.consistent_read = true;
            if db.get_item(input)?.item.is_none() {
                missing += 1;
            }
        }
    }
    check(missing == 0, "every acknowledged write is on the new primary")?;
    writeln!(out, "   every one of them reads back from the new primary")?;
    db.restore_az("az-a")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught_up = db.stats()?.iter().flat_map(|t| &t.partitions).all(|p| {
            p.replicas.iter().all(|r| {
                r.state == dynastore::ReplicaStatus::Live && r.lag_records == 0 && r.applied_lsn == r.durable_lsn
            })
        });
        if caught_up || Instant::now() > deadline {
            check(caught_up, "the rejoined AZ catches up")?;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for table in db.stats()? {
        for partition in table.partitions {
            let Some(stats) = partition.stats else { continue };
            let group = &partition.entry.group;
            writeln!(
                out,
                "   {}: primary {} (epoch {}, {} failover), durable to LSN {}",
                partition.entry.dir_name(),
                group.primary,
                group.epoch,
                group.failovers,
                stats.durable_lsn
            )?;
            check(
                group.primary != "az-a" && group.epoch == 2,
                "a replica took over in epoch 2",
            )?;
            for replica in &partition.replicas {
                writeln!(
                    out,
                    "      replica {}: {}, durable {} applied {}, lag {} records",
                    replica.az, replica.state, replica.durable_lsn, replica.applied_lsn, replica.lag_records
                )?;
            }
        }
    }
    let db = Arc::try_unwrap(db).map_err(|_| "the database is still shared")?;
    db.close()?;
    let report = dynastore::verify::verify(dir);
    check(report.problems.is_empty(), "verify finds no problem in any AZ's copy")?;
    writeln!(
        out,
        "   verify: {} files checked across the three AZs, no problem",
        report.checked.len()
    )?;
    Ok(())
}

/// Step 13: `Buffered` writers that outrun every replica wait for them
/// (`Replication::max_lag_records`), so the lag stays bounded; `Database::sync` returns
/// once a replica holds every write (`Quorum`), and says so when none can.
fn replication_backpressure(dir: &Path, out: &mut dyn Write) -> DemoResult {
    use dynastore::{Database, Item, Options, PutItemInput, Replication};

    writeln!(
        out,
        "\n13. Backpressure: Buffered writes wait while no replica is within 100 records"
    )?;
    let options = Options {
        initial_partitions: 1,
        durability: dynastore::wal::Durability::Buffered {
            interval: Duration::from_millis(5),
        },
        replication: Some(Replication {
            max_lag_records: 100,
            // Long enough for the stall below, short enough for the refused sync.
            ack_timeout: Duration::from_secs(1),
            ..Replication::default()
        }),
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir, options)?);
    db.create_table(orders_schema())?;
    db.pause_shipping("az-b", true)?;
    db.pause_shipping("az-c", true)?;
    let put = |db: &Database, seq: i64| {
        let item = Item::new().with("pk", "customer#1").with("sk", seq);
        db.put_item(PutItemInput::new("Orders", item))
    };
    for seq in 0..100 {
        put(&db, seq)?;
    }
    writeln!(
        out,
        "   shipping to az-b and az-c paused; 100 Buffered puts return at once (write stalls: {})",
        db.write_stalls()
    )?;
    let writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || -> Result<Duration, dynastore::Error> {
            let started = Instant::now();
            put(&db, 100)?;
            Ok(started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    check(!writer.is_finished(), "the 101st put waits for a replica")?;
    db.pause_shipping("az-c", false)?;
    let waited = writer.join().map_err(|_| "the writer panicked")??;
    check(db.write_stalls() == 1, "one write stall is counted")?;
    writeln!(
        out,
        "   the 101st waited {:.0} ms, until shipping to az-c resumed (write stalls: {})",
        waited.as_secs_f64() * 1e3,
        db.write_stalls()
    )?;

    // Sync is a Buffered writer's acknowledgement: under Quorum, durable on a replica too.
    db.pause_shipping("az-c", true)?;
    put(&db, 101)?;
    let refused = db.sync();
    check(
        matches!(refused, Err(dynastore::Error::Replication(_))),
        "sync fails while no replica can take the writes",
    )?;
    writeln!(
        out,
        "   both paused again, one more put: sync fails after ack_timeout ({})",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    )?;
    db.pause_shipping("az-c", false)?;
    db.sync()?;
    let tables = db.stats()?;
    let az_c = tables
        .iter()
        .flat_map(|table| &table.partitions)
        .flat_map(|partition| &partition.replicas)
        .find(|replica| replica.az == "az-c")
        .ok_or("no az-c replica")?;
    check(az_c.lag_records == 0, "after sync az-c holds every write")?;
    writeln!(
        out,
        "   az-c resumed: sync returns with az-c durable to LSN {} (lag {} records)",
        az_c.durable_lsn, az_c.lag_records
    )?;
    db.pause_shipping("az-b", false)?;
    let db = Arc::try_unwrap(db).map_err(|_| "the database is still shared")?;
    db.close()?;
    Ok(())
}
