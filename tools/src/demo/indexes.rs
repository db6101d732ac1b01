//! Step 17: secondary indexes. A table with a local index (written in each item's own
//! log record, read strongly consistently) and a global index (partitions of its own,
//! kept from the table's log by the index applier): queries by each, an item moving
//! between global index keys, and both indexes exact again after the database reopens.

use super::{DemoResult, check};
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::wal::fs::StdFs;
use dynastore::{
    Database, DeleteItemInput, IndexSchema, Item, KeySchema, Options, Path, Projection, PutItemInput, QueryInput,
    SetValue, SortKeyCondition, TableSchema, UpdateAction, UpdateItemInput,
};
use std::io::Write;
use std::time::Duration;

const GENRES: [&str; 3] = ["jazz", "rock", "folk"];

/// `Tracks`, keyed by artist and title, with a local index by year and a global index
/// by genre and plays.
fn schema() -> TableSchema {
    let key_schema = KeySchema {
        partition_key: KeyAttribute::new("Artist", ScalarType::S),
        sort_key: Some(KeyAttribute::new("Title", ScalarType::S)),
    };
    TableSchema {
        name: "Tracks".into(),
        indexes: vec![
            IndexSchema::local(
                "ByYear",
                &key_schema,
                KeyAttribute::new("Year", ScalarType::N),
                Projection::KeysOnly,
            ),
            IndexSchema::global(
                "ByGenre",
                KeySchema {
                    partition_key: KeyAttribute::new("Genre", ScalarType::S),
                    sort_key: Some(KeyAttribute::new("Plays", ScalarType::N)),
                },
                Projection::Include(vec!["Year".into()]),
            ),
        ],
        key_schema,
    }
}

fn by_index(partition_key: &str, index: &str) -> QueryInput {
    let mut input = QueryInput::new("Tracks", partition_key);
    input.index_name = Some(index.into());
    input
}

fn titles(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item.get("Title") {
            Some(dynastore::AttributeValue::S(title)) => Some(title.clone()),
            _ => None,
        })
        .collect()
}

/// How many tracks of each genre the table holds, counted from the table itself.
fn genre_counts(db: &Database) -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    let mut counts = vec![0; GENRES.len()];
    let mut input = dynastore::ScanInput::new("Tracks");
    loop {
        let page = db.scan(input.clone())?;
        for item in &page.items {
            if let Some(at) = GENRES.iter().position(|g| item.get("Genre") == Some(&(*g).into())) {
                counts[at] += 1;
            }
        }
        match page.last_evaluated_key {
            Some(key) => input.exclusive_start_key = Some(key),
            None => return Ok(counts),
        }
    }
}

/// Each genre's count as the global index answers it.
fn index_counts(db: &Database) -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    GENRES
        .iter()
        .map(|genre| Ok(db.query(by_index(genre, "ByGenre"))?.count))
        .collect()
}

pub(super) fn local_and_global_indexes(dir: &std::path::Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n17. Secondary indexes: a local one by year, a global one by genre and plays"
    )?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    db.create_table(schema())?;
    for track in 0..30i64 {
        let item = Item::new()
            .with("Artist", format!("artist-{}", track % 3))
            .with("Title", format!("track-{track:02}"))
            .with("Year", 1990 + (track * 7) % 30)
            .with("Genre", GENRES[(track % 3) as usize])
            .with("Plays", (track * 37) % 100)
            .with("Lyrics", "la ".repeat(20));
        db.put_item(PutItemInput::new("Tracks", item))?;
    }
    // The local index is read strongly consistently, at once: its entries were written
    // in the same log records as the items.
    let mut nineties = by_index("artist-1", "ByYear");
    nineties.sort_key_condition = Some(SortKeyCondition::Lt(2000.into()));
    nineties.consistent_read = true;
    let found = db.query(nineties)?.items;
    writeln!(
        out,
        "   ByYear (local): artist-1 before 2000, oldest first: {}",
        titles(&found).join(", ")
    )?;
    check(found.len() == 3, "three of artist-1's tracks are from before 2000")?;
    check(
        found.iter().all(|item| item.get("Lyrics").is_none()),
        "a KEYS_ONLY index holds no other attribute",
    )?;

    // An item collection (one artist's tracks and their local index entries) reports its
    // size when asked; DynamoDB limits one to 10 GB.
    let mut encore = PutItemInput::new(
        "Tracks",
        Item::new()
            .with("Artist", "artist-1")
            .with("Title", "track-99")
            .with("Year", 2024)
            .with("Genre", GENRES[0])
            .with("Plays", 1),
    );
    encore.return_item_collection_metrics = true;
    let metrics = db
        .put_item(encore)?
        .item_collection_metrics
        .ok_or("no item collection metrics")?;
    writeln!(
        out,
        "   artist-1's item collection: {:?} GB",
        metrics.size_estimate_range_gb
    )?;
    check(
        metrics.size_estimate_range_gb == [0.0, 1.0] && metrics.key.get("Artist") == Some(&"artist-1".into()),
        "the collection is keyed by its partition key and under 1 GB",
    )?;
    let gone = Item::new().with("Artist", "artist-1").with("Title", "track-99");
    db.delete_item(DeleteItemInput::new("Tracks", gone))?;

    // The global index follows the table's log: wait for it, as a test or tool would.
    db.wait_for_indexes(Duration::from_secs(10))?;
    let mut most_played = by_index("jazz", "ByGenre");
    most_played.scan_index_forward = false;
    most_played.limit = Some(3);
    let top = db.query(most_played)?.items;
    writeln!(
        out,
        "   ByGenre (global): jazz, most played first: {}",
        titles(&top).join(", ")
    )?;
    check(top.len() == 3, "three jazz tracks in the page")?;

    // A track changes genre and another is deleted: the index drops the old entries.
    let moved = Item::new().with("Artist", "artist-0").with("Title", "track-00");
    let to_rock = UpdateAction::Set(
        Path::attribute("Genre"),
        SetValue::from(dynastore::AttributeValue::from("rock")),
    );
    db.update_item(UpdateItemInput::new("Tracks", moved, vec![to_rock]))?;
    let gone = Item::new().with("Artist", "artist-1").with("Title", "track-01");
    db.delete_item(DeleteItemInput::new("Tracks", gone))?;
    db.wait_for_indexes(Duration::from_secs(10))?;
    let (table, index) = (genre_counts(&db)?, index_counts(&db)?);
    writeln!(
        out,
        "   jazz/rock/folk tracks: {table:?} in the table, {index:?} in ByGenre"
    )?;
    check(
        table == index && table == vec![9, 10, 10],
        "the global index counts what the table holds",
    )?;
    let lag: u64 = db.stats()?[0]
        .partitions
        .iter()
        .filter_map(|partition| partition.index_lag_records)
        .sum();
    writeln!(
        out,
        "   stats: the global index is {lag} record(s) behind the table's log"
    )?;
    check(lag == 0, "caught up")?;

    // Reopened, both indexes answer as before.
    db.close()?;
    let db = Database::open(StdFs::shared(), dir, Options::default())?;
    db.wait_for_indexes(Duration::from_secs(10))?;
    check(index_counts(&db)? == vec![9, 10, 10], "the global index after a reopen")?;
    let mut all_years = by_index("artist-2", "ByYear");
    all_years.consistent_read = true;
    check(db.query(all_years)?.count == 10, "the local index after a reopen")?;
    writeln!(out, "   reopened: both indexes answer as before")?;
    // What `dynastore verify` runs after its file checks: every entry against its item.
    let report = db.check_indexes(Duration::from_secs(10))?;
    check(report.problems.is_empty(), "each index entry is its item's")?;
    check(!report.checked.is_empty(), "the indexes were checked")?;
    writeln!(
        out,
        "   verify: {} index check(s), every entry its item's and every item's entries there",
        report.checked.len()
    )?;
    db.close()?;
    Ok(())
}
