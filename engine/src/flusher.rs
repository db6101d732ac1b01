//! Background work, two threads per database: the flusher flushes partitions whose
//! memtable passed its budget, so writers never wait for a flush (unless flushing falls
//! behind); the compactor merges SSTables as the compaction policy asks. They are apart
//! so that a long merge never holds up a flush.

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
    wakeup: WakeupCell,
    compaction_wakeup: WakeupCell,
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
        wake(&self.wakeup);
    }

    /// Asks the compactor to look for partitions whose tables need merging.
    pub(crate) fn request_compaction(&self) {
        wake(&self.compaction_wakeup);
    }
}

/// The flusher and compactor threads; dropping this stops and joins them.
#[derive(Debug)]
pub(crate) struct Flusher {
    signal: FlushSignal,
    threads: Vec<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread, which flushes the partitions of `tables` that need it whenever
    /// a signal asks.
    pub(crate) fn start(
        tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
        memtables_bytes_total: usize,
        auto_compaction: bool,
    ) -> std::io::Result<Flusher> {
        let signal = FlushSignal {
            total_bytes_max: memtables_bytes_total,
            ..FlushSignal::default()
        };
        let mut flusher = Flusher {
            signal: signal.clone(),
            threads: Vec::new(),
        };
        let (worker, open) = (signal.clone(), Arc::clone(&tables));
        flusher.threads.push(
            std::thread::Builder::new()
                .name("dynastore-flusher".to_owned())
                .spawn(move || run_flusher(&worker, &open))?,
        );
        if auto_compaction {
            flusher.threads.push(
                std::thread::Builder::new()
                    .name("dynastore-compactor".to_owned())
                    .spawn(move || run_compactor(&signal, &tables))?,
            );
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

fn open_partitions(tables: &RwLock<HashMap<String, Arc<Table>>>) -> Vec<Arc<Partition>> {
    let open: Vec<Arc<Table>> = tables.read().values().cloned().collect();
    open.iter().flat_map(|table| table.open_partitions()).collect()
}

fn run_flusher(signal: &FlushSignal, tables: &RwLock<HashMap<String, Arc<Table>>>) {
    while wait(&signal.wakeup) {
        let partitions = open_partitions(tables);
        // Over the database-wide budget: flush the largest memtables first until under it
        // (each partition at most once per round, so a failing one cannot spin).
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

fn run_compactor(signal: &FlushSignal, tables: &RwLock<HashMap<String, Arc<Table>>>) {
    while wait(&signal.compaction_wakeup) {
        for partition in open_partitions(tables) {
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
        stop(&self.signal.wakeup);
        stop(&self.signal.compaction_wakeup);
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
