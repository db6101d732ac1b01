//! How partitions ask the background threads for work: a flush once a memtable passes
//! its budget (or all memtables together pass theirs), a merge once tables pile up. The
//! threads themselves are [`crate::background::flusher`]'s; this module sits below the partitions,
//! which hold a [`FlushSignal`].

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A background thread's pending request, and whether it is to stop.
#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    requested: bool,
    stop: bool,
}

/// Where a background thread waits for requests.
pub(crate) type WakeupCell = Arc<(Mutex<Wakeup>, Condvar)>;

fn wake(cell: &WakeupCell) {
    let (state, condvar) = &**cell;
    state.lock().requested = true;
    condvar.notify_one();
}

/// Waits for a request; false once asked to stop.
pub(crate) fn wait(cell: &WakeupCell) -> bool {
    let (state, condvar) = &**cell;
    let mut wakeup = state.lock();
    while !wakeup.requested && !wakeup.stop {
        condvar.wait(&mut wakeup);
    }
    wakeup.requested = false;
    !wakeup.stop
}

/// Asks the thread waiting at `cell` to stop.
pub(crate) fn stop(cell: &WakeupCell) {
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
    /// A signal for `flushers` flusher threads and `compactors` compactor threads, with
    /// `total_bytes_max` as the budget of all memtables together.
    pub(crate) fn new(flushers: usize, compactors: usize, total_bytes_max: usize) -> FlushSignal {
        let cells = |count: usize| (0..count).map(|_| WakeupCell::default()).collect::<Vec<_>>();
        FlushSignal {
            wakeups: Arc::new(cells(flushers)),
            compaction_wakeups: Arc::new(cells(compactors)),
            total_bytes_max,
            ..FlushSignal::default()
        }
    }

    /// Where flusher thread `index` waits.
    pub(crate) fn flush_wakeup(&self, index: usize) -> WakeupCell {
        Arc::clone(&self.wakeups[index])
    }

    /// Where compactor thread `index` waits, if there is one.
    pub(crate) fn compaction_wakeup(&self, index: usize) -> Option<WakeupCell> {
        self.compaction_wakeups.get(index).cloned()
    }

    /// Every thread's wake-up cell, flushers' and compactors'.
    pub(crate) fn wakeups(&self) -> impl Iterator<Item = &WakeupCell> {
        self.wakeups.iter().chain(self.compaction_wakeups.iter())
    }

    /// Whether all memtables together hold more than their budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.total_bytes.load(Ordering::Relaxed) > self.total_bytes_max
    }

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
