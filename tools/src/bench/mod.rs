//! `dynastore bench`: a db_bench-like load generator. It runs workloads one after the
//! other on one database (fills, random and missing reads, queries, a parallel scan,
//! updates, a mix) and reports, for each, operations and megabytes per second, latency
//! percentiles, the bytes on disk and, for writes, the bytes written to storage per byte
//! of item data, write stalls and, with replication, each replica's lag in time.
//!
//! The database is `<data>/bench` when `--data` is given, and stays for the next run,
//! `stats` and `verify`; without it, a temporary directory removed at the end. As in
//! db_bench, a fill workload starts from an empty table; every other workload needs the
//! table a fill left.

mod keys;
mod report;
mod workers;

use crate::database_options::database_options;
pub use crate::database_options::{DurabilityArg, ReplicationArg};
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::lag::LagClock;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, KeySchema, Options, TableSchema};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keys::KeySpace;
use report::{Measured, Written};
use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use workers::{Plan, Shared};

/// The table the workloads use.
pub const TABLE: &str = "Bench";
/// The largest payload asked for: an item stays under DynamoDB's 400 KB limit.
const MAX_VALUE_BYTES: usize = 300 * 1024;
/// How often replicas' lag is sampled during a write workload.
const LAG_SAMPLE_EVERY: Duration = Duration::from_millis(1);
/// How often the progress bar moves otherwise.
const PROGRESS_EVERY: Duration = Duration::from_millis(10);

/// A workload (db_bench's names where it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadKind {
    /// Puts every item in key order, into an emptied table.
    Fillseq,
    /// Puts every item in a shuffled order, into an emptied table.
    Fillrandom,
    /// Gets items at random (every one exists after a fill of as many items).
    Readrandom,
    /// Gets keys no item has, at random.
    Readmissing,
    /// Queries a random partition key for its items (up to 10).
    Query,
    /// Scans the whole table, one segment per thread.
    Scan,
    /// Updates the payload of items at random (UpdateItem).
    Update,
    /// Half gets, half puts of items at random.
    Mixed,
}

impl WorkloadKind {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Fillseq => "fillseq",
            WorkloadKind::Fillrandom => "fillrandom",
            WorkloadKind::Readrandom => "readrandom",
            WorkloadKind::Readmissing => "readmissing",
            WorkloadKind::Query => "query",
            WorkloadKind::Scan => "scan",
            WorkloadKind::Update => "update",
            WorkloadKind::Mixed => "mixed",
        }
    }

    /// Whether it starts from an emptied table.
    fn fills(self) -> bool {
        matches!(self, WorkloadKind::Fillseq | WorkloadKind::Fillrandom)
    }

    /// Whether it writes.
    fn writes(self) -> bool {
        self.fills() || matches!(self, WorkloadKind::Update | WorkloadKind::Mixed)
    }

    /// Whether it reads.
    fn reads(self) -> bool {
        !self.fills() && self != WorkloadKind::Update
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The workloads, in order, on one database.
    pub workloads: Vec<WorkloadKind>,
    /// Items in the table's key space.
    pub items: u64,
    /// Operations per workload (default: `items`); a scan reads the table once.
    pub ops: Option<u64>,
    /// Bytes of each written item's `payload` attribute.
    pub value_size: usize,
    /// Threads.
    pub threads: usize,
    /// When a write returns.
    pub durability: DurabilityArg,
    /// Replication, if any.
    pub replication: ReplicationArg,
    /// Operations per second over every thread; `None` for as fast as they go.
    pub rate: Option<f64>,
    /// The most time a workload runs: it stops early, counting what it did.
    pub duration: Option<Duration>,
    /// The seed of the shuffles and random choices.
    pub seed: u64,
    /// One JSON object per workload on stdout instead of text.
    pub json: bool,
}

/// Runs `settings`' workloads on `<data>/bench` (kept), or without `data` on a temporary
/// database (removed), and prints what each measured.
///
/// Errors: a setting out of range, or a first workload other than a fill without a
/// database (both before anything is created); a workload other than a fill on a
/// database without the bench table; the first operation that failed.
pub fn run(data: Option<&Path>, settings: &Settings, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    check(settings)?;
    let first = settings.workloads[0];
    if !first.fills() && !data.is_some_and(|data| data.join("bench").exists()) {
        return Err(no_table(first, data.map(|data| data.join("bench"))).into());
    }
    let temporary;
    let dir = match data {
        Some(data) => data.join("bench"),
        None => {
            temporary = tempfile::Builder::new().prefix("dynastore-bench-").tempdir()?;
            temporary.path().to_owned()
        }
    };
    let db = Database::open(StdFs::shared(), &dir, options(settings))?;
    if !settings.json {
        writeln!(out, "bench: {}", describe(settings))?;
    }
    for &kind in &settings.workloads {
        prepare(&db, kind, &dir)?;
        let measured = measure(&db, &dir, kind, settings)?;
        if settings.json {
            writeln!(out, "{}", report::json(kind, settings, &measured))?;
        } else {
            report::text(out, kind, &measured)?;
        }
    }
    drop(db);
    if !settings.json {
        match data {
            Some(_) => writeln!(out, "data: {} (see `dynastore --data {0} stats`)", dir.display())?,
            None => writeln!(out, "data: a temporary directory, now removed (give --data to keep it)")?,
        }
    }
    Ok(())
}

fn check(settings: &Settings) -> Result<(), Box<dyn Error>> {
    if settings.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if settings.items == 0 {
        return Err("--items must be at least 1".into());
    }
    if settings.ops == Some(0) {
        return Err("--ops must be at least 1".into());
    }
    if settings.rate.is_some_and(|rate| rate.is_nan() || rate <= 0.0) {
        return Err("--rate must be a positive number of operations per second".into());
    }
    // Well under DynamoDB's 400 KB item limit, with room for the key attributes.
    if settings.value_size > MAX_VALUE_BYTES {
        return Err(format!("--value-size must be at most {MAX_VALUE_BYTES}").into());
    }
    if settings.workloads.is_empty() {
        return Err("--workload names no workload".into());
    }
    Ok(())
}

/// Why `kind` cannot run on `dir` (or on a new temporary database).
fn no_table(kind: WorkloadKind, dir: Option<PathBuf>) -> String {
    let place = dir.map_or("a temporary database".to_owned(), |dir| dir.display().to_string());
    format!(
        "{} needs the {TABLE} table, and {place} has none: run fillseq or fillrandom first (e.g. --workload fillrandom,{0})",
        kind.name()
    )
}

/// Empties the table for a fill (deleting and creating it); any other workload needs it.
fn prepare(db: &Database, kind: WorkloadKind, dir: &Path) -> Result<(), Box<dyn Error>> {
    let exists = db.describe_table(TABLE).is_ok();
    if !kind.fills() {
        if !exists {
            return Err(no_table(kind, Some(dir.to_owned())).into());
        }
        return Ok(());
    }
    if exists {
        db.delete_table(TABLE)?;
    }
    db.create_table(TableSchema {
        indexes: Vec::new(),
        name: TABLE.into(),
        key_schema: KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        },
    })?;
    Ok(())
}

/// Runs one workload over its threads while sampling lag and moving the progress bar.
fn measure(db: &Database, dir: &Path, kind: WorkloadKind, settings: &Settings) -> Result<Measured, Box<dyn Error>> {
    let plan = Plan {
        kind,
        ops: settings.ops.unwrap_or(settings.items),
        threads: settings.threads,
        keys: KeySpace::new(settings.items, settings.seed),
        value_size: settings.value_size,
        rate: settings.rate,
        seed: settings.seed,
    };
    let expected = if kind == WorkloadKind::Scan {
        settings.items
    } else {
        plan.ops
    };
    let progress = ProgressBar::with_draw_target(Some(expected), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_message(kind.name());
    let sample_lag = kind.writes() && settings.replication != ReplicationArg::None;
    let device = dynastore::device_writes::DeviceWrites::of(dir);
    let written_before = Written::now(device.as_ref());
    let stalls_before = db.write_stalls();
    let shared = Shared::default();
    let (mut lags, mut clock, mut sampling) = (Vec::new(), LagClock::new(), Ok(()));
    let started = Instant::now();
    let finished = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..plan.threads)
            .map(|thread| {
                let (plan, shared) = (&plan, &shared);
                scope.spawn(move || workers::run(db, plan, thread, shared))
            })
            .collect();
        while !threads.iter().all(|thread| thread.is_finished()) {
            if settings.duration.is_some_and(|limit| started.elapsed() >= limit) {
                shared.stop.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(if sample_lag { LAG_SAMPLE_EVERY } else { PROGRESS_EVERY });
            if sample_lag && sampling.is_ok() {
                sampling = db
                    .stats()
                    .map(|report| lags.extend(clock.observe(Instant::now(), &report).into_iter().map(|l| l.lag)));
            }
            progress.set_position(shared.done.load(Ordering::Relaxed));
        }
        threads.into_iter().map(|thread| thread.join()).collect::<Vec<_>>()
    });
    progress.finish_and_clear();
    sampling?;
    let finished = finished
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "a bench thread panicked")?;
    // Until the last thread ended, not until this thread noticed.
    let ended = finished.iter().filter_map(|done| done.ended).max().unwrap_or(started);
    let mut measured = Measured::new(ended.duration_since(started), lags, sample_lag);
    for done in finished {
        if let Some(error) = done.error {
            return Err(format!(
                "{}: an operation failed: {}: {error}",
                kind.name(),
                error.exception_name()
            )
            .into());
        }
        measured.add(done);
    }
    if kind.writes() {
        measured.stalls = Some(db.write_stalls().saturating_sub(stalls_before));
        measured.written = Some(Written::now(device.as_ref()).since(&written_before));
        measured.device = device.map(|d| d.name().to_owned());
    }
    measured.found_counted = kind.reads();
    measured.finish();
    measured.disk_bytes = report::disk_bytes(dir);
    Ok(measured)
}

fn options(settings: &Settings) -> Options {
    database_options(settings.durability, settings.replication)
}

fn describe(settings: &Settings) -> String {
    let replication = match settings.replication {
        ReplicationArg::None => "no replication".to_owned(),
        ack => format!(
            "{ack:?} acknowledgement over {}",
            dynastore::engine_layout::DEFAULT_AZS.join(", ")
        ),
    };
    let pace = settings.rate.map_or("as fast as they go".to_owned(), |rate| {
        format!("paced at {rate:.0} ops/s")
    });
    let limit = settings
        .duration
        .map_or(String::new(), |d| format!(", at most {:.1} s each", d.as_secs_f64()));
    format!(
        "{} item(s), {}-byte payloads, {} thread(s), {:?} writes, {replication}, {pace}{limit}, seed {}",
        settings.items, settings.value_size, settings.threads, settings.durability, settings.seed,
    )
}
