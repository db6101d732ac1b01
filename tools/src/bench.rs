//! `dynastore bench`: a timed PutItem workload on a fresh database, for measuring a
//! machine and a configuration without writing code. It reports throughput, latency
//! percentiles, the bytes written to storage per byte of item data, write stalls and,
//! with replication, each replica's lag in time.

use dynastore::device_writes::DeviceWrites;
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::lag::LagClock;
use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{AckMode, Database, Item, KeySchema, Options, PutItemInput, Replication, TableSchema};
use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The table the workload writes.
pub const TABLE: &str = "Bench";
/// The largest payload asked for: an item stays under DynamoDB's 400 KB limit.
const MAX_VALUE_BYTES: usize = 300 * 1024;
/// How often replicas' lag is sampled.
const LAG_SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// When a put returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    /// Once its record is durable (fsynced), and replicated as the ack mode asks.
    Sync,
    /// At once; the log is synced every 10 ms.
    Buffered,
}

/// Replication over the three default AZs, and when a `sync` put is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplicationArg {
    /// One copy, no replicas.
    None,
    /// Durable on the primary.
    Primary,
    /// Durable on the primary and one replica.
    Quorum,
    /// Durable on every copy.
    All,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Writer threads.
    pub threads: usize,
    /// How long they write.
    pub duration: Duration,
    /// When a put returns.
    pub durability: DurabilityArg,
    /// Replication, if any.
    pub replication: ReplicationArg,
    /// Puts per second over all writers; `None` for as fast as they go.
    pub rate: Option<f64>,
    /// Bytes of each item's `payload` attribute.
    pub value_bytes: usize,
}

/// Runs `workload` on a fresh database in `<data>/bench` (replacing it; it is left for
/// `dynastore stats` and `verify`) and prints what it measured.
pub fn run(data: &Path, workload: &Workload, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    if workload.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if workload.rate.is_some_and(|rate| rate.is_nan() || rate <= 0.0) {
        return Err("--rate must be a positive number of puts per second".into());
    }
    // Well under DynamoDB's 400 KB item limit, with room for the key attributes.
    if workload.value_bytes > MAX_VALUE_BYTES {
        return Err(format!("--value-bytes must be at most {MAX_VALUE_BYTES}").into());
    }
    let dir = data.join("bench");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let db = Arc::new(Database::open(StdFs::shared(), &dir, options(workload))?);
    db.create_table(TableSchema {
        name: TABLE.into(),
        key_schema: KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        },
    })?;
    writeln!(out, "bench: {}", describe(workload))?;

    // The device's count where there is one (see `dynastore::device_writes`), and the
    // process's beside it, which overcounts rewritten pages.
    let device = DeviceWrites::of(&dir);
    let written_before = Written::now(device.as_ref());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..workload.threads)
        .map(|writer| {
            let (db, stop, workload) = (Arc::clone(&db), Arc::clone(&stop), workload.clone());
            std::thread::spawn(move || write(&db, &stop, &workload, writer))
        })
        .collect();
    let mut lags = Vec::new();
    let mut clock = LagClock::new();
    while started.elapsed() < workload.duration {
        if workload.replication == ReplicationArg::None {
            std::thread::sleep(workload.duration.saturating_sub(started.elapsed()));
            continue;
        }
        std::thread::sleep(LAG_SAMPLE_EVERY);
        let report = db.stats()?;
        lags.extend(clock.observe(Instant::now(), &report).into_iter().map(|l| l.lag));
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut item_bytes = 0u64;
    let mut first_error = None;
    for writer in writers {
        let done = writer.join().map_err(|_| "a writer thread panicked")?;
        latencies.extend(done.latencies);
        item_bytes += done.item_bytes;
        first_error = first_error.or(done.error);
    }
    let elapsed = started.elapsed();
    let stalls = db.write_stalls();
    drop(db);
    let written = Written::now(device.as_ref()).since(&written_before);
    if let Some(error) = first_error {
        return Err(format!("a put failed: {error}").into());
    }

    report(
        out,
        &Measured {
            latencies,
            lags,
            elapsed,
            item_bytes,
            stalls,
            written,
            replicated: workload.replication != ReplicationArg::None,
        },
        device.as_ref(),
    )?;
    writeln!(out, "  data:     {} (see `dynastore --data {0} stats`)", dir.display())?;
    Ok(())
}

/// What a run measured, for [`report`].
struct Measured {
    latencies: Vec<Duration>,
    lags: Vec<Duration>,
    elapsed: Duration,
    item_bytes: u64,
    stalls: u64,
    written: Written,
    replicated: bool,
}

/// Prints what a run measured: puts per second, latency percentiles, bytes written per
/// item byte, stalls and (replicated) the replicas' lag.
fn report(out: &mut dyn Write, measured: &Measured, device: Option<&DeviceWrites>) -> Result<(), Box<dyn Error>> {
    let Measured {
        latencies,
        lags,
        elapsed,
        item_bytes,
        stalls,
        written,
        replicated,
    } = measured;
    let (mut latencies, mut lags, elapsed, item_bytes) = (latencies.clone(), lags.clone(), *elapsed, *item_bytes);
    latencies.sort_unstable();
    let puts = latencies.len() as u64;
    writeln!(
        out,
        "  puts:     {puts} in {:.2} s = {:.0}/s",
        elapsed.as_secs_f64(),
        puts as f64 / elapsed.as_secs_f64()
    )?;
    writeln!(out, "  latency:  {}", percentiles(&latencies))?;
    let per_item_byte = |bytes: u64| bytes as f64 / item_bytes.max(1) as f64;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    match (written.device, device) {
        (Some(bytes), Some(device)) => writeln!(
            out,
            "  written:  {:.1} MB to {} for {:.1} MB of items: {:.1} bytes per byte (every copy's log, SSTables and compactions; the device's count, so other processes' writes to it count too)",
            mb(bytes),
            device.name(),
            mb(item_bytes),
            per_item_byte(bytes),
        )?,
        _ => writeln!(
            out,
            "  written:  unknown to the device (no block device statistics for this directory)"
        )?,
    }
    if let Some(bytes) = written.process {
        writeln!(
            out,
            "            {:.1} MB charged to this process: {:.1} bytes per byte (/proc/self/io, which charges a whole page-cache folio each time a write dirties it)",
            mb(bytes),
            per_item_byte(bytes),
        )?;
    }
    writeln!(
        out,
        "  stalls:   {stalls} (writes that waited for flushing, compaction or replication)"
    )?;
    if *replicated {
        lags.sort_unstable();
        writeln!(
            out,
            "  lag:      {} (every replica, sampled every {} ms: how long ago the oldest record it lacked became durable on the primary)",
            percentiles(&lags),
            LAG_SAMPLE_EVERY.as_millis()
        )?;
    }
    Ok(())
}

fn options(workload: &Workload) -> Options {
    let ack = match workload.replication {
        ReplicationArg::None => None,
        ReplicationArg::Primary => Some(AckMode::Primary),
        ReplicationArg::Quorum => Some(AckMode::Quorum),
        ReplicationArg::All => Some(AckMode::All),
    };
    Options {
        durability: match workload.durability {
            DurabilityArg::Sync => Durability::Sync,
            DurabilityArg::Buffered => Durability::Buffered {
                interval: Duration::from_millis(10),
            },
        },
        replication: ack.map(|ack| Replication {
            ack,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

fn describe(workload: &Workload) -> String {
    let replication = match workload.replication {
        ReplicationArg::None => "no replication".to_owned(),
        ack => format!(
            "{ack:?} acknowledgement over {}",
            dynastore::engine_layout::DEFAULT_AZS.join(", ")
        ),
    };
    let pace = workload.rate.map_or("as fast as they go".to_owned(), |rate| {
        format!("paced at {rate:.0} puts/s")
    });
    format!(
        "{} writer thread(s) for {:.1} s, {:?} puts, {replication}, {}-byte payloads, {pace}",
        workload.threads,
        workload.duration.as_secs_f64(),
        workload.durability,
        workload.value_bytes,
    )
}

/// What one writer did.
struct Done {
    /// Each acknowledged put's latency.
    latencies: Vec<Duration>,
    /// The DynamoDB size of the items it wrote.
    item_bytes: u64,
    /// The error that stopped it, if one did.
    error: Option<dynastore::Error>,
}

/// Puts distinct items until `stop`, paced if the workload asks.
fn write(db: &Database, stop: &AtomicBool, workload: &Workload, writer: usize) -> Done {
    let payload = "x".repeat(workload.value_bytes);
    let mut done = Done {
        latencies: Vec::new(),
        item_bytes: 0,
        error: None,
    };
    let started = Instant::now();
    let interval = workload.rate.map(|rate| workload.threads as f64 / rate);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(interval) = interval {
            let due = started + Duration::from_secs_f64(n as f64 * interval);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let item = Item::new()
            .with("pk", format!("user#{writer:03}#{:08}", n % 10_000_000))
            .with("sk", (n / 10_000_000) as i64)
            .with("payload", payload.as_str());
        let bytes = item.size_bytes() as u64;
        let put = Instant::now();
        if let Err(error) = db.put_item(PutItemInput::new(TABLE, item)) {
            done.error = Some(error);
            break;
        }
        done.latencies.push(put.elapsed());
        done.item_bytes += bytes;
        n += 1;
    }
    done
}

/// p50, p90, p99, p99.9 and the maximum of `sorted`, in milliseconds.
fn percentiles(sorted: &[Duration]) -> String {
    let Some(max) = sorted.last() else {
        return "no samples".to_owned();
    };
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(0.999)),
        ms(*max)
    )
}

/// Bytes written so far, as counted by the device and by the kernel for this process.
struct Written {
    device: Option<u64>,
    process: Option<u64>,
}

impl Written {
    fn now(device: Option<&DeviceWrites>) -> Written {
        Written {
            device: device.and_then(DeviceWrites::bytes),
            process: process_written_bytes(),
        }
    }

    /// What was written between `before` and this count.
    fn since(&self, before: &Written) -> Written {
        let delta = |after: Option<u64>, before: Option<u64>| Some(after?.saturating_sub(before?));
        Written {
            device: delta(self.device, before.device),
            process: delta(self.process, before.process),
        }
    }
}

/// Bytes this process caused to be written to storage so far (Linux), counted when pages
/// are dirtied, so writeback after the run is included; but a page-cache folio is charged
/// whole each time it is dirtied again (see `dynastore::device_writes`).
fn process_written_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("write_bytes: "))
        .and_then(|value| value.trim().parse().ok())
}
