//! The repairer threads, one per AZ: they bring that AZ's replica copies into service.
//!
//! A copy is brought into service here when it is new (a partition's first write creates
//! its primary copy in the writer's thread, and leaves its replicas to these threads), and
//! when it failed on its own (an I/O error on its disk): reopened (dropping a tail the
//! primary never had) or rebuilt from the primary's tables, then caught up by the shipper.
//!
//! Why threads of their own, one per AZ: creating or rebuilding a copy writes and syncs
//! its AZ's disk. In a writer's thread, a replica whose disk hangs would hold up the first
//! write to every new partition, even in `Primary` mode; in the shipper's scanning thread,
//! it would hold up shipping to every replica. With one thread per AZ, a hung disk holds
//! up its own AZ's copies only: a `Quorum` write to a new partition waits for the first
//! replica that joins, not for the slowest.

use crate::group::shipper::ShipSignal;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the threads look for failed replicas without being asked: the bound on how
/// long a copy that failed on its own stays out of service once its disk works again.
const REPAIR_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
struct State {
    /// Requests so far.
    requests: u64,
    stopped: bool,
}

/// Wakes the repairer threads: a new partition has replicas to create.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepairSignal {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl RepairSignal {
    /// Asks every repairer thread to look for copies to bring into service now.
    pub(crate) fn request(&self) {
        let (state, condvar) = &*self.inner;
        state.lock().requests += 1;
        condvar.notify_all();
    }

    /// Waits for a request after the `seen`-th (updating it), at most [`REPAIR_EVERY`];
    /// false once asked to stop.
    fn wait(&self, seen: &mut u64) -> bool {
        let (state, condvar) = &*self.inner;
        let mut state = state.lock();
        if state.requests == *seen && !state.stopped {
            condvar.wait_for(&mut state, REPAIR_EVERY);
        }
        *seen = state.requests;
        !state.stopped
    }

    fn stop(&self) {
        let (state, condvar) = &*self.inner;
        state.lock().stopped = true;
        condvar.notify_all();
    }
}

/// The repairer threads; dropping this stops and joins them.
#[derive(Debug)]
pub(crate) struct Repairer {
    signal: RepairSignal,
    threads: Vec<JoinHandle<()>>,
}

impl Repairer {
    /// Starts a thread for each of `azs` that runs `repairs` for the AZ's copies whenever
    /// `signal` asks, and every [`REPAIR_EVERY`]; copies in an AZ not listed are the
    /// first thread's. After a pass that put a copy in service, it wakes `ship`, so the
    /// copy is caught up at once.
    pub(crate) fn start(
        repairs: Arc<dyn Repairs>,
        signal: RepairSignal,
        azs: Vec<String>,
        ship: Arc<ShipSignal>,
    ) -> std::io::Result<Repairer> {
        let mut repairer = Repairer {
            signal: signal.clone(),
            threads: Vec::new(),
        };
        for (index, az) in azs.iter().enumerate() {
            let (repairs, ship, signal) = (Arc::clone(&repairs), Arc::clone(&ship), signal.clone());
            let mine = AzFilter {
                az: az.clone(),
                others: (index == 0).then(|| azs.clone()),
            };
            repairer.threads.push(
                std::thread::Builder::new()
                    .name(format!("dynastore-repair-{az}"))
                    .spawn(move || run(&signal, repairs.as_ref(), &mine, &ship))?,
            );
        }
        Ok(repairer)
    }
}

/// The repairs the threads run: the database implements it, so that the threads need
/// nothing of its tables.
pub(crate) trait Repairs: Send + Sync {
    /// Brings into service the replica copies `mine` covers that are joining (new) or
    /// failed on their own, in AZs that are not failed; returns how many it put in
    /// service. A failure is tried again at the next pass.
    fn repair(&self, mine: &AzFilter) -> usize;
}

/// Which AZs' copies a thread repairs: its own, and (the first thread) any AZ without a
/// thread of its own.
pub(crate) struct AzFilter {
    az: String,
    /// For the first thread: every AZ that has a thread.
    others: Option<Vec<String>>,
}

impl AzFilter {
    /// Whether copies in `az` are this thread's.
    pub(crate) fn covers(&self, az: &str) -> bool {
        az == self.az
            || self
                .others
                .as_ref()
                .is_some_and(|with_threads| !with_threads.iter().any(|a| a == az))
    }
}

fn run(signal: &RepairSignal, repairs: &dyn Repairs, mine: &AzFilter, ship: &ShipSignal) {
    let mut seen = 0;
    while signal.wait(&mut seen) {
        if repairs.repair(mine) > 0 {
            ship.notify();
        }
    }
}

impl Drop for Repairer {
    fn drop(&mut self) {
        self.signal.stop();
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
