//! Background work, two threads per AZ: the flusher flushes the AZ's partitions whose
//! memtable passed its budget, so writers never wait for a flush (unless flushing falls
//! behind); the compactor merges SSTables as the compaction policy asks. They are apart
//! so that a long merge never holds up a flush, and each AZ has its own so that a slow or
//! hung disk in one AZ (each AZ is a disk of its own in a real deployment) holds up the
//! flushes and merges of its own copies only: a primary elsewhere goes on flushing, and
//! its writers never stall for a replica's disk.

use crate::database::Table;
use crate::partition::Partition;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

#[derive(Debug, Default)]
struct Wakeup {
    requested: bool,
    stop: bool,
}

type WakeupCell = Arc<(Mutex<Wakeup>, Condvar)>;

fn wake(cell: &WakeupCell) {
    let (state, condvar) = &**cell;
    state.lock().requested = true;
    condvar.notify_one();
}

/// Waits for a request; false once asked to stop.
fn wait(cell: &WakeupCell) -> bool {
    let (state, condvar) = &**cell;
    let mut wakeup = state.lock();
    while !wakeup.requested && !wakeup.stop {
        condvar.wait(&mut wakeup);
    }
    wakeup.requested = false;
    !wakeup.stop
}

fn stop(cell: &WakeupCell) {
    let (state, condvar) = &**cell;
    state.lock().stop = true;
    condvar.notify_all();
}

/// Wakes the flusher and the compactor; partitions hold one.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlushSignal {
    /// One per flusher thread.
    wakeups: Arc<Vec<WakeupCell>>,
    /// One per compactor thread.
    compaction_wakeups: Arc<Vec<WakeupCell>>,
    /// Background flushes and compactions that failed (retried at the next request).
    pub(crate) failures: Arc<AtomicU64>,
    /// The memtables of every partition of the database, in bytes, and the budget for
    /// all of them together.
    total_bytes: Arc<AtomicUsize>,
    total_bytes_max: usize,
}

impl FlushSignal {
    /// Accounts for memtable bytes added (or removed, negative) anywhere in the database,
    /// and asks for a flush when all memtables together pass their budget.
    pub(crate) fn memtables_grew(&self, bytes: isize) {
        let total = if bytes >= 0 {
            self.total_bytes.fetch_add(bytes.unsigned_abs(), Ordering::Relaxed) + bytes.unsigned_abs()
        } else {
            self.total_bytes.fetch_sub(bytes.unsigned_abs(), Ordering::Relaxed) - bytes.unsigned_abs()
        };
        if bytes > 0 && total > self.total_bytes_max {
            self.request();
        }
    }

    /// Asks the flusher to look for partitions over budget.
    pub(crate) fn request(&self) {
        self.wakeups.iter().for_each(wake);
    }

    /// Asks the compactor to look for partitions whose tables need merging.
    pub(crate) fn request_compaction(&self) {
        self.compaction_wakeups.iter().for_each(wake);
    }
}

/// The flusher and compactor threads; dropping this stops and joins them.
#[derive(Debug)]
pub(crate) struct Flusher {
    signal: FlushSignal,
    threads: Vec<JoinHandle<()>>,
}

impl Flusher {
    /// Starts a flusher thread (and, with `auto_compaction`, a compactor thread) for each
    /// of `azs`, which flush (and merge) the AZ's copies of the partitions of `tables`
    /// whenever a signal asks. Copies in an AZ not listed are the first AZ's threads'.
    pub(crate) fn start(
        tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
        memtables_bytes_total: usize,
        auto_compaction: bool,
        azs: Vec<String>,
    ) -> std::io::Result<Flusher> {
        let cells = || azs.iter().map(|_| WakeupCell::default()).collect::<Vec<_>>();
        let signal = FlushSignal {
            total_bytes_max: memtables_bytes_total,
            wakeups: Arc::new(cells()),
            compaction_wakeups: Arc::new(if auto_compaction { cells() } else { Vec::new() }),
            ..FlushSignal::default()
        };
        let mut flusher = Flusher {
            signal: signal.clone(),
            threads: Vec::new(),
        };
        for (index, az) in azs.iter().enumerate() {
            let copies = AzCopies::new(&tables, &azs, index);
            let (worker, cell) = (signal.clone(), Arc::clone(&signal.wakeups[index]));
            flusher.threads.push(
                std::thread::Builder::new()
                    .name(format!("dynastore-flusher-{az}"))
                    .spawn(move || run_flusher(&worker, &cell, &copies))?,
            );
            if let Some(cell) = signal.compaction_wakeups.get(index) {
                let (worker, cell, copies) = (signal.clone(), Arc::clone(cell), AzCopies::new(&tables, &azs, index));
                flusher.threads.push(
                    std::thread::Builder::new()
                        .name(format!("dynastore-compactor-{az}"))
                        .spawn(move || run_compactor(&worker, &cell, &copies))?,
                );
            }
        }
        // Partitions opened with tables may already need merging.
        flusher.signal.request_compaction();
        Ok(flusher)
    }

    /// A handle partitions use to wake the flusher.
    pub(crate) fn signal(&self) -> FlushSignal {
        self.signal.clone()
    }
}

/// The copies one AZ's background threads look after.
struct AzCopies {
    tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
    az: String,
    /// Every AZ with threads of its own.
    with_threads: Vec<String>,
    /// Whether copies in an AZ without threads of its own are this one's too.
    catch_all: bool,
}

impl AzCopies {
    /// The copies of the AZ `azs[index]`, the first of which also takes the copies in AZs
    /// not in `azs`.
    fn new(tables: &Arc<RwLock<HashMap<String, Arc<Table>>>>, azs: &[String], index: usize) -> AzCopies {
        AzCopies {
            tables: Arc::clone(tables),
            az: azs[index].clone(),
            with_threads: azs.to_vec(),
            catch_all: index == 0,
        }
    }

    /// The open copies in this AZ (and, for the catch-all, in AZs without threads).
    fn open(&self) -> Vec<Arc<Partition>> {
        let open: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        let mut copies = Vec::new();
        for table in open {
            copies.extend(
                table
                    .open_partitions()
                    .into_iter()
                    .filter(|partition| match table.az_of(partition) {
                        Some(az) if az == self.az => true,
                        Some(az) => self.catch_all && !self.with_threads.contains(&az),
                        None => self.catch_all,
                    }),
            );
        }
        copies
    }
}

fn run_flusher(signal: &FlushSignal, wakeup: &WakeupCell, copies: &AzCopies) {
    while wait(wakeup) {
        let partitions = copies.open();
        // Over the database-wide budget: flush this AZ's largest memtables first until
        // under it (each partition at most once per round, so a failing one cannot spin;
        // every AZ's thread does the same, so memtables stuck behind a hung disk make the
        // other AZs flush sooner, never stop them).
        let mut by_size: Vec<_> = partitions.iter().map(|p| (p.memtable_bytes(), Arc::clone(p))).collect();
        by_size.sort_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));
        for (_, partition) in by_size {
            if signal.total_bytes.load(Ordering::Relaxed) <= signal.total_bytes_max {
                break;
            }
            if partition.flush().is_err() {
                signal.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        for partition in partitions {
            // A failure keeps the frozen memtable readable and the WAL intact; the
            // partition asks again at its next write.
            if partition.needs_flush() && partition.flush().is_err() {
                signal.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn run_compactor(signal: &FlushSignal, wakeup: &WakeupCell, copies: &AzCopies) {
    while wait(wakeup) {
        for partition in copies.open() {
            // Merge until the policy is satisfied; a failure leaves the old tables live,
            // and the next flush asks again.
            loop {
                match partition.compact_step() {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(_) => {
                        signal.failures.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.signal.wakeups.iter().for_each(stop);
        self.signal.compaction_wakeups.iter().for_each(stop);
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
