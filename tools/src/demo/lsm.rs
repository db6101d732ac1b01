//! Steps 10-11: flushes, compaction and verification, and compaction in the background
//! under a write load.

use super::*;

/// Step 10: more flushes pile up SSTables; compaction merges each partition's into one,
/// dropping tombstones; `verify` checks every checksum and invariant.
pub(super) fn compaction_and_verify(dir: &Path, out: &mut dyn Write) -> DemoResult {
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
pub(super) fn background_compaction(dir: &Path, out: &mut dyn Write) -> DemoResult {
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
