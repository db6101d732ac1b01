//! Step 14: counter updates on one hot item while flushes run, the most common DynamoDB
//! pattern there is (an atomic counter); every acknowledged update must be there once.

use super::{DemoResult, check};
use dynastore::wal::fs::StdFs;
use dynastore::{AttributeValue, Database, GetItemInput, Item, Options, Path, UpdateAction, UpdateItemInput};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WRITERS: u64 = 4;
const UPDATES_PER_WRITER: u64 = 500;
const FLUSH_EVERY: Duration = Duration::from_millis(5);

fn key() -> Item {
    Item::new().with("pk", "page#home").with("sk", 0)
}

/// `n` and the number of tags of the hot item.
fn counts(db: &Database) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let mut input = GetItemInput::new("Orders", key());
    input.consistent_read = true;
    let item = db.get_item(input)?.item.ok_or("the counter item is gone")?;
    let n = match item.get("n") {
        Some(AttributeValue::N(n)) => n.to_string().parse()?,
        _ => return Err("the counter has no n".into()),
    };
    let tags = match item.get("tags") {
        Some(AttributeValue::Ss(tags)) => tags.len() as u64,
        _ => return Err("the counter has no tags".into()),
    };
    Ok((n, tags))
}

/// `WRITERS` threads each send `UPDATES_PER_WRITER` updates of `ADD n 1, tags {<own>}`
/// to one item, with 16 KiB memtables and a flush every 5 ms; the item must count every
/// update, and so must a reopen.
pub(super) fn counter_updates_racing_flushes(dir: &std::path::Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n14. An atomic counter: {WRITERS} threads send {UPDATES_PER_WRITER} updates each (ADD n 1, ADD tags {{own tag}}) to one item while flushes run"
    )?;
    let options = Options {
        initial_partitions: 1,
        memtable_bytes: 16 << 10,
        ..Options::default()
    };
    let db = Arc::new(Database::open(StdFs::shared(), dir, options.clone())?);
    db.create_table(super::orders_schema())?;
    let done = Arc::new(AtomicBool::new(false));
    let flushes = Arc::new(AtomicU64::new(0));
    let flusher = {
        let (db, done, flushes) = (Arc::clone(&db), Arc::clone(&done), Arc::clone(&flushes));
        std::thread::spawn(move || -> Result<(), dynastore::Error> {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY);
                db.flush()?;
                flushes.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                for i in 0..UPDATES_PER_WRITER {
                    let actions = vec![
                        UpdateAction::Add(Path::parse("n")?, AttributeValue::N(1.into())),
                        UpdateAction::Add(Path::parse("tags")?, AttributeValue::Ss(vec![format!("w{writer}-{i}")])),
                    ];
                    db.update_item(UpdateItemInput::new("Orders", key(), actions))?;
                }
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer
            .join()
            .map_err(|_| "a writer panicked")?
            .map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    flusher.join().map_err(|_| "the flusher panicked")??;
    let sent = WRITERS * UPDATES_PER_WRITER;
    let (n, tags) = counts(&db)?;
    writeln!(
        out,
        "   {sent} updates acknowledged in {:.2?} ({:.0}/s) across {} flushes: n = {n}, {tags} tags",
        elapsed,
        sent as f64 / elapsed.as_secs_f64().max(1e-9),
        flushes.load(Ordering::Relaxed)
    )?;
    check(
        n == sent && tags == sent,
        "the counter holds every acknowledged update once",
    )?;
    let db = Arc::try_unwrap(db).map_err(|_| "the database is still shared")?;
    db.close()?;
    let db = Database::open(StdFs::shared(), dir, options)?;
    let (n, tags) = counts(&db)?;
    check(
        n == sent && tags == sent,
        "a reopen holds every acknowledged update once",
    )?;
    writeln!(out, "   reopened: n = {n}, {tags} tags")?;
    db.close()?;
    Ok(())
}
