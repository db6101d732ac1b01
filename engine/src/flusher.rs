//! The background flusher: one thread per database that flushes partitions whose memtable
//! passed its budget, so writers never wait for a flush (unless flushing falls behind),
//! and compacts partitions that have gathered enough SSTables.

use crate::database::Table;
use crate::partition::COMPACTION_TABLES_TRIGGER;
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

/// Wakes the flusher; partitions hold one.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlushSignal {
    wakeup: Arc<(Mutex<Wakeup>, Condvar)>,
    /// Background flushes that failed (they are retried at the next request).
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
        let (state, condvar) = &*self.wakeup;
        state.lock().requested = true;
        condvar.notify_one();
    }
}

/// The flusher thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Flusher {
    signal: FlushSignal,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread, which flushes the partitions of `tables` that need it whenever
    /// a signal asks.
    pub(crate) fn start(
        tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
        memtables_bytes_total: usize,
    ) -> std::io::Result<Flusher> {
        let signal = FlushSignal {
            total_bytes_max: memtables_bytes_total,
            ..FlushSignal::default()
        };
        let worker = signal.clone();
        let thread = std::thread::Builder::new()
            .name("dynastore-flusher".to_owned())
            .spawn(move || run(&worker, &tables))?;
        Ok(Flusher {
            signal,
            thread: Some(thread),
        })
    }

    /// A handle partitions use to wake the flusher.
    pub(crate) fn signal(&self) -> FlushSignal {
        self.signal.clone()
    }
}

fn run(signal: &FlushSignal, tables: &RwLock<HashMap<String, Arc<Table>>>) {
    let (state, condvar) = &*signal.wakeup;
    loop {
        {
            let mut wakeup = state.lock();
            while !wakeup.requested && !wakeup.stop {
                condvar.wait(&mut wakeup);
            }
            if wakeup.stop {
                return;
            }
            wakeup.requested = false;
        }
        let open: Vec<Arc<Table>> = tables.read().values().cloned().collect();
        let partitions: Vec<_> = open.iter().flat_map(|table| table.open_partitions()).collect();
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
        {
            for partition in partitions {
                // A failure keeps the frozen memtable readable and the WAL intact; the
                // partition asks again at its next write.
                if partition.needs_flush() && partition.flush().is_err() {
                    signal.failures.fetch_add(1, Ordering::Relaxed);
                }
                if partition.table_count() >= COMPACTION_TABLES_TRIGGER && partition.compact().is_err() {
                    signal.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        let (state, condvar) = &*self.signal.wakeup;
        state.lock().stop = true;
        condvar.notify_all();
        if let Some(thread) = self.thread.take() {
            // A flusher that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
