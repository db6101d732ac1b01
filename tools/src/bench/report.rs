//! What a bench workload measured, and how it is printed: a few lines of text, or one
//! JSON object.

use super::workers::Done;
use super::{ReplicationArg, Settings, WorkloadKind};
use dynastore::device_writes::DeviceWrites;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// What one workload measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Operations over every thread (a scan's: items read).
    pub ops: u64,
    /// How long the workload ran.
    pub elapsed: Duration,
    /// Every operation's latency in nanoseconds, sorted by [`Measured::finish`].
    latencies: Vec<u64>,
    /// DynamoDB size of the items written or read.
    pub item_bytes: u64,
    /// Reads that found an item (queries and scans: items returned).
    pub found: u64,
    /// Whether `found` means anything (the workload reads).
    pub found_counted: bool,
    /// Write stalls during a write workload.
    pub stalls: Option<u64>,
    /// Bytes written to storage during a write workload.
    pub written: Option<Written>,
    /// The device `written` counts, if known.
    pub device: Option<String>,
    /// Replicas' lag samples, when sampled.
    lags: Vec<Duration>,
    lag_sampled: bool,
    /// Bytes of every file of the database after the workload.
    pub disk_bytes: u64,
}

impl Measured {
    /// A measurement of `elapsed`, with the lag samples taken (if `lag_sampled`).
    pub fn new(elapsed: Duration, lags: Vec<Duration>, lag_sampled: bool) -> Measured {
        Measured {
            elapsed,
            lags,
            lag_sampled,
            ..Measured::default()
        }
    }

    /// Adds what one thread did.
    pub fn add(&mut self, done: Done) {
        self.ops += done.ops;
        self.item_bytes += done.bytes;
        self.found += done.found;
        self.latencies.extend(done.latencies);
    }

    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mb_per_sec(&self) -> f64 {
        self.item_bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Sorts the samples, once every thread's are in.
    pub fn finish(&mut self) {
        self.latencies.sort_unstable();
        self.lags.sort_unstable();
    }

    fn latency(&self) -> Percentiles {
        Percentiles::of(&self.latencies)
    }

    fn lag(&self) -> Option<Percentiles> {
        let nanos: Vec<u64> = self.lags.iter().map(|lag| lag.as_nanos() as u64).collect();
        self.lag_sampled.then(|| Percentiles::of(&nanos))
    }
}

/// p50, p90, p99, p99.9 and the maximum of some samples, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Percentiles {
    /// The percentiles of `sorted` (nanoseconds); all zero without samples.
    fn of(sorted: &[u64]) -> Percentiles {
        let Some(&max) = sorted.last() else {
            return Percentiles::default();
        };
        let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: max as f64 / 1e3,
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
            self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
}

/// Prints a workload's figures as text.
pub fn text(out: &mut dyn Write, kind: WorkloadKind, measured: &Measured) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} ops in {:.2} s = {:.0} ops/s, {:.1} MB/s",
        kind.name(),
        measured.ops,
        measured.elapsed.as_secs_f64(),
        measured.ops_per_sec(),
        measured.mb_per_sec()
    )?;
    writeln!(out, "  latency:  {}", measured.latency())?;
    if measured.found_counted {
        writeln!(out, "  found:    {} item(s)", measured.found)?;
    }
    let per_item_byte = |bytes: u64| bytes as f64 / measured.item_bytes.max(1) as f64;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    if let Some(written) = &measured.written {
        match (written.device, &measured.device) {
            (Some(bytes), Some(device)) => writeln!(
                out,
                "  written:  {:.1} MB to {device} for {:.1} MB of items: {:.1} bytes per byte (every copy's log, SSTables and compactions; the device's count, so other processes' writes to it count too)",
                mb(bytes),
                mb(measured.item_bytes),
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
    }
    if let Some(stalls) = measured.stalls {
        writeln!(
            out,
            "  stalls:   {stalls} (writes that waited for flushing, compaction or replication)"
        )?;
    }
    if let Some(lag) = measured.lag() {
        writeln!(
            out,
            "  lag:      {lag} (every replica, sampled every ms: how long ago the oldest record it lacked became durable on the primary)",
        )?;
    }
    writeln!(out, "  disk:     {:.1} MB", mb(measured.disk_bytes))
}

/// A workload's figures as one JSON object.
pub fn json(kind: WorkloadKind, settings: &Settings, measured: &Measured) -> Value {
    let latency = measured.latency();
    let lag = measured.lag();
    let written = measured.written.as_ref();
    json!({
        "workload": kind.name(),
        "items": settings.items,
        "value_size": settings.value_size,
        "threads": settings.threads,
        "durability": format!("{:?}", settings.durability).to_lowercase(),
        "replication": replication_name(settings.replication),
        "seed": settings.seed,
        "ops": measured.ops,
        "secs": measured.elapsed.as_secs_f64(),
        "ops_per_sec": measured.ops_per_sec(),
        "mb_per_sec": measured.mb_per_sec(),
        "item_bytes": measured.item_bytes,
        "p50_us": latency.p50,
        "p90_us": latency.p90,
        "p99_us": latency.p99,
        "p999_us": latency.p999,
        "max_us": latency.max,
        "found": measured.found_counted.then_some(measured.found),
        "stalls": measured.stalls,
        "device_written_bytes": written.and_then(|w| w.device),
        "process_written_bytes": written.and_then(|w| w.process),
        "lag_p50_us": lag.map(|l| l.p50),
        "lag_p99_us": lag.map(|l| l.p99),
        "disk_bytes": measured.disk_bytes,
    })
}

fn replication_name(replication: ReplicationArg) -> &'static str {
    match replication {
        ReplicationArg::None => "none",
        ReplicationArg::Primary => "primary",
        ReplicationArg::Quorum => "quorum",
        ReplicationArg::All => "all",
    }
}

/// The bytes of every file under `dir` (0 for what cannot be read).
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Bytes written so far, as counted by the device and by the kernel for this process.
#[derive(Debug, Clone)]
pub struct Written {
    /// The device's count, if known.
    pub device: Option<u64>,
    /// The kernel's count for this process, if known.
    pub process: Option<u64>,
}

impl Written {
    /// The counts now.
    pub fn now(device: Option<&DeviceWrites>) -> Written {
        Written {
            device: device.and_then(DeviceWrites::bytes),
            process: process_written_bytes(),
        }
    }

    /// What was written between `before` and this count.
    pub fn since(&self, before: &Written) -> Written {
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
