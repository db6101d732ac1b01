//! What one bench thread does: its share of a workload's operations, each timed.

use super::keys::{ITEMS_PER_PARTITION_KEY, KeySpace, Rng};
use super::{TABLE, WorkloadKind};
use dynastore::{
    AttributeValue, Database, GetItemInput, Item, Path, PutItemInput, QueryInput, ScanInput, UpdateAction,
    UpdateItemInput,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What an operation returns.
type Result<T> = std::result::Result<T, dynastore::Error>;

/// What every thread of a run shares.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set when the run's time is up: threads stop before their next operation.
    pub stop: AtomicBool,
    /// Operations done so far, over every thread (for the progress bar).
    pub done: AtomicU64,
}

/// One workload as the threads run it.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The workload.
    pub kind: WorkloadKind,
    /// Operations over every thread (a scan reads the whole table whatever this says).
    pub ops: u64,
    /// Threads.
    pub threads: usize,
    /// The table's keys.
    pub keys: KeySpace,
    /// Bytes of each written item's payload.
    pub value_size: usize,
    /// Operations per second over every thread, or as fast as they go.
    pub rate: Option<f64>,
    /// The seed of every random choice.
    pub seed: u64,
}

/// What one thread did.
#[derive(Debug, Default)]
pub struct Done {
    /// Each operation's latency in nanoseconds (a scan's: each page's).
    pub latencies: Vec<u64>,
    /// Operations done (a scan's: items read).
    pub ops: u64,
    /// DynamoDB size of the items written or read.
    pub bytes: u64,
    /// Reads that found their item (queries: items returned).
    pub found: u64,
    /// The error that stopped the thread, if one did.
    pub error: Option<dynastore::Error>,
    /// When the thread finished.
    pub ended: Option<Instant>,
}

/// Runs thread `thread`'s share of `plan` until it is done or `shared.stop` is set.
pub fn run(db: &Database, plan: &Plan, thread: usize, shared: &Shared) -> Done {
    let mut done = match plan.kind {
        WorkloadKind::Scan => scan(db, plan, thread, shared),
        _ => operations(db, plan, thread, shared),
    };
    done.ended = Some(Instant::now());
    done
}

/// Thread `thread`'s share of `plan`'s operations, one at a time.
fn operations(db: &Database, plan: &Plan, thread: usize, shared: &Shared) -> Done {
    let threads = plan.threads as u64;
    let share = (plan.ops * thread as u64 / threads)..(plan.ops * (thread as u64 + 1) / threads);
    let mut rng = Rng::new(plan.seed, (plan.kind as u64) << 32 | thread as u64);
    let payload = rng.text(plan.value_size);
    let interval = plan.rate.map(|rate| plan.threads as f64 / rate);
    let started = Instant::now();
    let mut done = Done::default();
    for (n, index) in share.enumerate() {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(interval) = interval {
            let due = started + Duration::from_secs_f64(n as f64 * interval);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let began = Instant::now();
        if let Err(error) = one(db, plan, index, &mut rng, &payload, &mut done) {
            done.error = Some(error);
            break;
        }
        done.latencies.push(began.elapsed().as_nanos() as u64);
        done.ops += 1;
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    done
}

/// One operation of `plan` (the `index`th of the run), counted into `done`.
fn one(db: &Database, plan: &Plan, index: u64, rng: &mut Rng, payload: &str, done: &mut Done) -> Result<()> {
    let keys = &plan.keys;
    match plan.kind {
        WorkloadKind::Fillseq => put(db, KeySpace::item(index % keys.items(), payload), done),
        WorkloadKind::Fillrandom => put(db, KeySpace::item(keys.shuffled(index), payload), done),
        WorkloadKind::Readrandom => get(db, KeySpace::key(rng.below(keys.items())), done),
        WorkloadKind::Readmissing => get(db, KeySpace::missing_key(rng.below(keys.items())), done),
        WorkloadKind::Query => query(db, rng.below(keys.partition_keys()), done),
        WorkloadKind::Update => {
            let actions = vec![UpdateAction::Set(
                Path::attribute("payload"),
                AttributeValue::from(payload).into(),
            )];
            let key = KeySpace::key(rng.below(keys.items()));
            db.update_item(UpdateItemInput::new(TABLE, key, actions))?;
            done.bytes += payload.len() as u64;
            Ok(())
        }
        WorkloadKind::Mixed if rng.below(2) == 0 => get(db, KeySpace::key(rng.below(keys.items())), done),
        WorkloadKind::Mixed => put(db, KeySpace::item(rng.below(keys.items()), payload), done),
        // `run` scans a segment a page at a time; as one operation, a scan reads a page.
        WorkloadKind::Scan => scan_page(db, ScanInput::new(TABLE), done).map(|_| ()),
    }
}

fn put(db: &Database, item: Item, done: &mut Done) -> Result<()> {
    let bytes = item.size_bytes() as u64;
    db.put_item(PutItemInput::new(TABLE, item))?;
    done.bytes += bytes;
    Ok(())
}

fn get(db: &Database, key: Item, done: &mut Done) -> Result<()> {
    if let Some(item) = db.get_item(GetItemInput::new(TABLE, key))?.item {
        done.bytes += item.size_bytes() as u64;
        done.found += 1;
    }
    Ok(())
}

/// Every item under one partition key (up to [`ITEMS_PER_PARTITION_KEY`]).
fn query(db: &Database, partition_key: u64, done: &mut Done) -> Result<()> {
    let mut input = QueryInput::new(TABLE, KeySpace::partition_key(partition_key));
    input.limit = Some(ITEMS_PER_PARTITION_KEY as u32);
    let output = db.query(input)?;
    done.found += output.items.len() as u64;
    done.bytes += output.items.iter().map(|item| item.size_bytes() as u64).sum::<u64>();
    Ok(())
}

/// Reads one page of a scan; returns where the next starts.
fn scan_page(db: &Database, input: ScanInput, done: &mut Done) -> Result<Option<Item>> {
    let output = db.scan(input)?;
    done.found += output.items.len() as u64;
    done.bytes += output.items.iter().map(|item| item.size_bytes() as u64).sum::<u64>();
    Ok(output.last_evaluated_key)
}

/// Thread `thread`'s segment of a parallel scan of the whole table, a page at a time.
fn scan(db: &Database, plan: &Plan, thread: usize, shared: &Shared) -> Done {
    let mut done = Done::default();
    let mut start = None;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let mut input = ScanInput::new(TABLE);
        input.segment = Some((thread as u32, plan.threads as u32));
        input.exclusive_start_key = start;
        let (began, found_before) = (Instant::now(), done.found);
        match scan_page(db, input, &mut done) {
            Ok(next) => start = next,
            Err(error) => {
                done.error = Some(error);
                break;
            }
        }
        done.latencies.push(began.elapsed().as_nanos() as u64);
        shared.done.fetch_add(done.found - found_before, Ordering::Relaxed);
        if start.is_none() {
            break;
        }
    }
    done.ops = done.found;
    done
}
