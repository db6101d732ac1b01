//! Background work, two threads per AZ: the flusher flushes the AZ's partitions whose
//! memtable passed its budget, so writers never wait for a flush (unless flushing falls
//! behind); the compactor merges SSTables as the compaction policy asks. They are apart
//! so that a long merge never holds up a flush, and each AZ has its own so that a slow or
//! hung disk in one AZ (each AZ is a disk of its own in a real deployment) holds up the
//! flushes and merges of its own copies only: a primary elsewhere goes on flushing, and
//! its writers never stall for a replica's disk.

use crate::storage::Partition;
use crate::storage::flush_signal::{FlushSignal, WakeupCell, stop, wait};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

/// The flusher and compactor threads; dropping this stops and joins them.
#[derive(Debug)]
pub(crate) struct Flusher {
    signal: FlushSignal,
    threads: Vec<JoinHandle<()>>,
}

impl Flusher {
    /// Starts a flusher thread (and, with `auto_compaction`, a compactor thread) for each
    /// of `azs`, which flush (and merge) the AZ's `copies`
    /// whenever a signal asks. Copies in an AZ not listed are the first AZ's threads'.
    pub(crate) fn start(
        copies: Arc<dyn OpenCopies>,
        memtables_bytes_total: usize,
        auto_compaction: bool,
        azs: Vec<String>,
    ) -> std::io::Result<Flusher> {
        let compactors = if auto_compaction { azs.len() } else { 0 };
        let signal = FlushSignal::new(azs.len(), compactors, memtables_bytes_total);
        let mut flusher = Flusher {
            signal: signal.clone(),
            threads: Vec::new(),
        };
        for (index, az) in azs.iter().enumerate() {
            let (worker, cell, mine) = (
                signal.clone(),
                signal.flush_wakeup(index),
                AzCopies::new(&copies, &azs, index),
            );
            flusher.threads.push(
                std::thread::Builder::new()
                    .name(format!("dynastore-flusher-{az}"))
                    .spawn(move || run_flusher(&worker, &cell, &mine))?,
            );
            if let Some(cell) = signal.compaction_wakeup(index) {
                let (worker, mine) = (signal.clone(), AzCopies::new(&copies, &azs, index));
                flusher.threads.push(
                    std::thread::Builder::new()
                        .name(format!("dynastore-compactor-{az}"))
                        .spawn(move || run_compactor(&worker, &cell, &mine))?,
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

/// The copies the background threads look after: the database's tables implement it, so
/// that the threads need nothing of them but their open copies.
pub(crate) trait OpenCopies: Send + Sync {
    /// Every open copy (primaries and replicas in service), with the AZ its directory is
    /// in, if it names one.
    fn open_copies(&self) -> Vec<(Arc<Partition>, Option<String>)>;
}

/// The copies one AZ's background threads look after.
struct AzCopies {
    copies: Arc<dyn OpenCopies>,
    az: String,
    /// Every AZ with threads of its own.
    with_threads: Vec<String>,
    /// Whether copies in an AZ without threads of its own are this one's too.
    catch_all: bool,
}

impl AzCopies {
    /// The copies of the AZ `azs[index]`, the first of which also takes the copies in AZs
    /// not in `azs`.
    fn new(copies: &Arc<dyn OpenCopies>, azs: &[String], index: usize) -> AzCopies {
        AzCopies {
            copies: Arc::clone(copies),
            az: azs[index].clone(),
            with_threads: azs.to_vec(),
            catch_all: index == 0,
        }
    }

    /// The open copies in this AZ (and, for the catch-all, in AZs without threads).
    fn open(&self) -> Vec<Arc<Partition>> {
        let mine = |az: &Option<String>| match az {
            Some(az) if *az == self.az => true,
            Some(az) => self.catch_all && !self.with_threads.contains(az),
            None => self.catch_all,
        };
        self.copies
            .open_copies()
            .into_iter()
            .filter(|(_, az)| mine(az))
            .map(|(partition, _)| partition)
            .collect()
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
            if !signal.over_budget() {
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
        self.signal.wakeups().for_each(stop);
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
