//! `load` and `export`: a table's items in and out as JSON lines.
//!
//! `load` reads one item per line: DynamoDB JSON (`{"pk":{"S":"a"}}`), or a line of
//! DynamoDB's S3 export (`{"Item":{...}}`); a file holding the output of `aws dynamodb
//! scan` (`{"Items":[...]}`) is read whole. Items are written 25 at a time
//! (BatchWriteItem), with `Buffered` durability and one sync at the end, so that every
//! loaded item is durable when the command returns. A line that is not an item, or an
//! item the table refuses, is reported with its line number and stops the load
//! (`--on-error stop`, the default: the lines before it are loaded, and the summary says
//! so) or is skipped and counted (`--on-error skip`). `export` writes every item of a
//! table as one line of DynamoDB JSON, the inverse of `load`.

use clap::ValueEnum;
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, Item, Options, PutItemInput, ScanInput, WriteRequest};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What `load` does with a bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Stop the load at the first bad line (the lines before it are loaded).
    Stop,
    /// Report the line, skip it, and go on.
    Skip,
}

/// The most requests of one BatchWriteItem.
const BATCH: usize = 25;
/// How often a `Buffered` log is synced during a load.
const SYNC_EVERY: Duration = Duration::from_millis(10);

type CommandResult = Result<(), Box<dyn Error>>;

fn engine(error: dynastore::Error) -> Box<dyn Error> {
    format!("{}: {error}", error.exception_name()).into()
}

/// A bad line: its number and why.
struct BadLine {
    line: usize,
    reason: String,
}

/// Items of one batch, with their line numbers. (A batch holding one key twice is
/// refused, and then written item by item, in line order: the later line wins, as a put
/// would.)
#[derive(Default)]
struct Batch {
    items: Vec<(usize, Item)>,
}

/// A load in progress: its table, counts and bad lines.
struct Load<'a> {
    db: &'a Database,
    table: String,
    on_error: OnError,
    loaded: u64,
    bad: Vec<BadLine>,
    progress: ProgressBar,
}

impl Load<'_> {
    /// Records a bad line; an error if the load is to stop.
    fn bad_line(&mut self, line: usize, reason: String) -> CommandResult {
        self.progress.suspend(|| eprintln!("line {line}: {reason}"));
        self.bad.push(BadLine { line, reason });
        match self.on_error {
            OnError::Skip => Ok(()),
            OnError::Stop => Err(format!("line {line} is not loaded, and the load stopped there").into()),
        }
    }

    /// Adds `item` (line `line`) to `batch`, writing the batch first if it is full.
    fn add(&mut self, batch: &mut Batch, line: usize, item: Item) -> CommandResult {
        if batch.items.len() == BATCH {
            self.write(batch)?;
        }
        batch.items.push((line, item));
        Ok(())
    }

    /// Writes `batch` as one BatchWriteItem; if the table refuses it (an item breaks a
    /// limit, say), item by item, so that each refused item is reported with its line.
    fn write(&mut self, batch: &mut Batch) -> CommandResult {
        let items = std::mem::take(&mut batch.items);
        if items.is_empty() {
            return Ok(());
        }
        let requests = items
            .iter()
            .map(|(_, item)| (self.table.clone(), WriteRequest::Put(item.clone())))
            .collect();
        match self.db.batch_write(requests) {
            Ok(output) if output.unprocessed_items.is_empty() => {
                self.loaded += items.len() as u64;
                self.progress.inc(items.len() as u64);
                Ok(())
            }
            Ok(_) | Err(dynastore::Error::Validation(_)) => {
                for (line, item) in items {
                    match self.db.put_item(PutItemInput::new(self.table.clone(), item)) {
                        Ok(_) => {
                            self.loaded += 1;
                            self.progress.inc(1);
                        }
                        Err(error @ dynastore::Error::Validation(_)) => {
                            self.bad_line(line, format!("{}: {error}", error.exception_name()))?
                        }
                        Err(error) => return Err(engine(error)),
                    }
                }
                Ok(())
            }
            Err(error) => Err(engine(error)),
        }
    }
}

/// A line's number and what it holds.
type ParsedLine = (usize, Parsed);

/// What a line holds.
enum Parsed {
    /// Items.
    Items(Vec<Item>),
    /// No item: why (a bad line, reported, stopping or skipped).
    Bad(String),
    /// It could not be read (an I/O error): the load stops, whatever `--on-error` says.
    Unreadable(String),
}

/// Lines per message from the reading thread, and how many messages it may be ahead.
const LINES_PER_CHUNK: usize = 512;
const CHUNKS_AHEAD: usize = 8;

/// Reads `reader`'s lines and sends them parsed, in chunks, until the end, a read error
/// (sent as that line's error) or the receiver is gone.
fn read_and_parse(reader: Box<dyn Read + Send>, parsed: &std::sync::mpsc::SyncSender<Vec<ParsedLine>>) {
    let mut chunk = Vec::with_capacity(LINES_PER_CHUNK);
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let line_number = index + 1;
        let (stop, entry) = match line {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => match items_of(&text) {
                Ok(items) => (false, Parsed::Items(items)),
                Err(reason) => (false, Parsed::Bad(reason)),
            },
            Err(error) => (
                true,
                Parsed::Unreadable(format!("reading line {line_number} failed: {error}")),
            ),
        };
        chunk.push((line_number, entry));
        if stop || chunk.len() == LINES_PER_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(LINES_PER_CHUNK));
            // Stopped after an unreadable line, or the writer is gone.
            if parsed.send(full).is_err() || stop {
                return;
            }
        }
    }
    let _ = parsed.send(chunk);
}

/// The items of one line: an item, an S3 export line's item, or a scan output's items.
fn items_of(text: &str) -> Result<Vec<Item>, String> {
    let json: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let parse = |value: &Value| Item::from_json(value).map_err(|error| format!("not a DynamoDB JSON item: {error}"));
    match &json {
        Value::Object(map) if map.len() == 1 && map.get("Item").is_some_and(Value::is_object) => {
            Ok(vec![parse(&map["Item"])?])
        }
        Value::Object(map) if map.get("Items").is_some_and(Value::is_array) => match &map["Items"] {
            Value::Array(items) => items.iter().map(parse).collect(),
            _ => Ok(Vec::new()),
        },
        _ => Ok(vec![parse(&json)?]),
    }
}

/// Loads the items of `source` (a file, or `-` for stdin) into `table`; prints a summary.
pub fn load(data: &Path, table: &str, source: &str, on_error: OnError, out: &mut dyn Write) -> CommandResult {
    let options = Options {
        durability: Durability::Buffered { interval: SYNC_EVERY },
        ..Options::default()
    };
    let db = Database::open(StdFs::shared(), data, options).map_err(engine)?;
    db.describe_table(table).map_err(engine)?;
    let reader: Box<dyn Read + Send> = match source {
        "-" => Box::new(std::io::stdin()),
        path => Box::new(std::fs::File::open(path).map_err(|error| format!("cannot read {path}: {error}"))?),
    };
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos} items loaded ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut load = Load {
        db: &db,
        table: table.to_owned(),
        on_error,
        loaded: 0,
        bad: Vec::new(),
        progress,
    };
    let started = Instant::now();
    let mut batch = Batch::default();
    let mut outcome = Ok(());
    // Lines are read and parsed in a thread of their own while this one writes: parsing
    // JSON costs about as much as writing the items does.
    std::thread::scope(|scope| {
        let (parsed, chunks) = std::sync::mpsc::sync_channel::<Vec<ParsedLine>>(CHUNKS_AHEAD);
        scope.spawn(move || read_and_parse(reader, &parsed));
        'chunks: for chunk in chunks {
            for (line_number, parsed) in chunk {
                let added = match parsed {
                    Parsed::Items(items) => items
                        .into_iter()
                        .try_for_each(|item| load.add(&mut batch, line_number, item)),
                    Parsed::Bad(reason) => load.bad_line(line_number, reason),
                    Parsed::Unreadable(reason) => Err(reason.into()),
                };
                if let Err(error) = added {
                    outcome = Err(error);
                    // Dropping the receiver stops the reading thread.
                    break 'chunks;
                }
            }
        }
    });
    // What was read before a stop is loaded, and said so.
    let written = load.write(&mut batch);
    let synced = db.sync().map_err(engine);
    load.progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "loaded {} items into {table} in {elapsed:.2} s ({:.0} items/s); {} bad line(s){}",
        load.loaded,
        load.loaded as f64 / elapsed.max(1e-9),
        load.bad.len(),
        match load.bad.first() {
            Some(first) => format!(", the first line {}: {}", first.line, first.reason),
            None => String::new(),
        }
    )?;
    outcome.and(written).and(synced)?;
    db.close().map_err(engine)
}

/// Writes every item of `table` as one line of DynamoDB JSON to `target` (a file, or
/// stdout without one).
pub fn export(data: &Path, table: &str, target: Option<&Path>, out: &mut dyn Write) -> CommandResult {
    let db = Database::open(StdFs::shared(), data, Options::default()).map_err(engine)?;
    // No file is created for a table that does not exist.
    db.describe_table(table).map_err(engine)?;
    let mut file;
    let sink: &mut dyn Write = match target {
        Some(path) => {
            file = std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|error| format!("cannot create {}: {error}", path.display()))?,
            );
            &mut file
        }
        None => out,
    };
    let mut input = ScanInput::new(table);
    loop {
        let page = db.scan(input.clone()).map_err(engine)?;
        for item in &page.items {
            writeln!(sink, "{}", item.to_json())?;
        }
        match page.last_evaluated_key {
            Some(last) => input.exclusive_start_key = Some(last),
            None => break,
        }
    }
    sink.flush()?;
    db.close().map_err(engine)
}
