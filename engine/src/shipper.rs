//! The shipper thread: streams every primary partition's log to its replicas.
//!
//! One thread per replicated database walks every partition's [`ReplicaSet`] and pumps
//! its [`dynastore_replication::ShipStream`]. Writers wake it once their record is
//! durable (and it looks again every few milliseconds anyway, for records made durable by
//! a `Buffered` log's interval sync), so a record reaches the replicas about one fsync
//! after the primary's.

use crate::database::Table;
use crate::partition::Partition;
use dynastore_replication::{Acks, ReplicaSink, ReplicaState, ShipStream};
use dynastore_wal::{Lsn, Wal};
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the shipper sleeps when nobody wakes it: the bound on how late a record made
/// durable by a `Buffered` log's own interval sync is shipped.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// Wakes the shipper: writers notify it once their record is durable.
#[derive(Debug, Default)]
pub(crate) struct ShipSignal {
    state: Mutex<(bool, bool)>,
    condvar: Condvar,
}

impl ShipSignal {
    /// Asks the shipper to look for records to ship.
    pub(crate) fn notify(&self) {
        let mut state = self.state.lock();
        if !state.0 {
            state.0 = true;
            self.condvar.notify_one();
        }
    }

    /// Waits for a notification or `timeout`; false once asked to stop.
    fn wait(&self, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if !state.0 && !state.1 {
            self.condvar.wait_for(&mut state, timeout);
        }
        state.0 = false;
        !state.1
    }

    fn stop(&self) {
        self.state.lock().1 = true;
        self.condvar.notify_all();
    }
}

/// A replica AZ's copy of a partition. `None` while the AZ cannot hold it (failed, or
/// waiting to rejoin); it then counts for no acknowledgement.
#[derive(Debug)]
pub(crate) struct Member {
    /// The AZ.
    pub az: String,
    /// Its copy, if it has one in service.
    pub partition: RwLock<Option<Arc<Partition>>>,
}

/// A sink for a replica that has no copy in service: it takes nothing.
struct Absent;

impl ReplicaSink for Absent {
    fn append_framed(&self, _segment: Lsn, _bytes: &[u8]) -> dynastore_wal::Result<Lsn> {
        Err(dynastore_wal::Error::Closed)
    }

    fn durable_lsn(&self) -> Lsn {
        Lsn::ZERO
    }
}

/// A primary partition's replicas (one per replica AZ of its group) and the stream that
/// feeds them.
pub(crate) struct ReplicaSet {
    /// One per replica AZ, in the group's order.
    pub members: Vec<Member>,
    stream: Mutex<ShipStream>,
    /// Each replica's durable LSN, which writers wait on.
    pub acks: Arc<Acks>,
    /// Set once a promotion replaced this set: nothing more is shipped.
    stopped: AtomicBool,
}

impl std::fmt::Debug for ReplicaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaSet")
            .field("members", &self.members)
            .field("acks", &self.acks)
            .finish()
    }
}

impl ReplicaSet {
    /// A set shipping `primary`'s log to `members` (`None`: an AZ with no copy in service,
    /// marked failed at once), holding back shipping to the AZs in `paused`.
    pub(crate) fn new(
        primary: &Arc<Wal>,
        members: Vec<(String, Option<Arc<Partition>>)>,
        paused: &BTreeSet<String>,
    ) -> ReplicaSet {
        let sinks = members
            .iter()
            .map(|(_, partition)| match partition {
                Some(partition) => Arc::clone(partition) as Arc<dyn ReplicaSink>,
                None => Arc::new(Absent) as Arc<dyn ReplicaSink>,
            })
            .collect();
        let mut stream = ShipStream::new(Arc::clone(primary), sinks);
        let acks = stream.acks();
        for (index, (az, _)) in members.iter().enumerate() {
            stream.pause(index, paused.contains(az));
        }
        for (index, (az, partition)) in members.iter().enumerate() {
            if partition.is_none() {
                acks.fail(index, &format!("{az} has no copy in service"));
            }
        }
        ReplicaSet {
            members: members
                .into_iter()
                .map(|(az, partition)| Member {
                    az,
                    partition: RwLock::new(partition),
                })
                .collect(),
            stream: Mutex::new(stream),
            acks,
            stopped: AtomicBool::new(false),
        }
    }

    /// Ships what the replicas lack, one run each; returns the records shipped.
    pub(crate) fn pump(&self) -> u64 {
        if self.stopped.load(Ordering::Acquire) {
            return 0;
        }
        let mut stream = self.stream.lock();
        if self.stopped.load(Ordering::Acquire) {
            return 0;
        }
        stream.pump(Duration::ZERO)
    }

    /// Ships what the replicas lack, in the caller's thread, unless someone else is
    /// shipping this set right now; returns whether it shipped.
    pub(crate) fn try_pump(&self) -> bool {
        let Some(mut stream) = self.stream.try_lock() else {
            return false;
        };
        if self.stopped.load(Ordering::Acquire) {
            return false;
        }
        stream.pump(Duration::ZERO);
        true
    }

    /// Stops shipping for good (a promotion is replacing this set) and returns the stream,
    /// locked, so that the caller can drain it first.
    pub(crate) fn stop(&self) -> MutexGuard<'_, ShipStream> {
        let stream = self.stream.lock();
        self.stopped.store(true, Ordering::Release);
        stream
    }

    /// Undoes [`ReplicaSet::stop`] (a promotion that could not go on).
    pub(crate) fn resume(&self) {
        self.stopped.store(false, Ordering::Release);
    }

    /// Puts `partition` in service as the copy of member `index` and ships to it from its
    /// own durable LSN on.
    pub(crate) fn replace(&self, index: usize, partition: Arc<Partition>) {
        let mut stream = self.stream.lock();
        if let Some(member) = self.members.get(index) {
            *member.partition.write() = Some(Arc::clone(&partition));
            stream.replace(index, partition);
        }
    }

    /// Holds back (or resumes) shipping to the member in `az`, if there is one.
    pub(crate) fn pause(&self, az: &str, paused: bool) {
        if let Some(index) = self.index_of(az) {
            self.stream.lock().pause(index, paused);
        }
    }

    /// Takes member `index` out of service (its AZ failed): it counts for nothing and is
    /// not shipped to.
    pub(crate) fn take_out(&self, index: usize, reason: &str) -> Option<Arc<Partition>> {
        let _stream = self.stream.lock();
        self.acks.fail(index, reason);
        self.members
            .get(index)
            .and_then(|member| member.partition.write().take())
    }

    /// The index of the member in `az`.
    pub(crate) fn index_of(&self, az: &str) -> Option<usize> {
        self.members.iter().position(|member| member.az == az)
    }

    /// The copies in service that shipping keeps up to date (live), for reads.
    pub(crate) fn live_copies(&self) -> Vec<Arc<Partition>> {
        let states = self.acks.replicas();
        self.members
            .iter()
            .zip(states)
            .filter(|(_, state)| matches!(state, ReplicaState::Live(_)))
            .filter_map(|(member, _)| member.partition.read().clone())
            .collect()
    }

    /// The copies in service, with their AZ and shipping state.
    pub(crate) fn in_service(&self) -> Vec<(String, Arc<Partition>, ReplicaState)> {
        let states = self.acks.replicas();
        self.members
            .iter()
            .zip(states)
            .filter_map(|(member, state)| {
                let partition = member.partition.read().clone()?;
                Some((member.az.clone(), partition, state))
            })
            .collect()
    }
}

/// The shipper thread; dropping this stops and joins it.
#[derive(Debug)]
pub(crate) struct Shipper {
    signal: Arc<ShipSignal>,
    thread: Option<JoinHandle<()>>,
}

impl Shipper {
    /// Starts the thread over the replica sets of `tables`.
    pub(crate) fn start(tables: Arc<RwLock<HashMap<String, Arc<Table>>>>) -> std::io::Result<Shipper> {
        let signal = Arc::new(ShipSignal::default());
        let worker = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("dynastore-shipper".to_owned())
            .spawn(move || run(&worker, &tables))?;
        Ok(Shipper {
            signal,
            thread: Some(thread),
        })
    }

    /// The signal writers wake the shipper with.
    pub(crate) fn signal(&self) -> Arc<ShipSignal> {
        Arc::clone(&self.signal)
    }
}

fn run(signal: &ShipSignal, tables: &RwLock<HashMap<String, Arc<Table>>>) {
    let mut shipped = 0;
    loop {
        // Keep going without sleeping while there is work: a round that shipped something
        // may have left more behind (one run per replica per round).
        if shipped == 0 && !signal.wait(IDLE_POLL) {
            return;
        }
        shipped = 0;
        let open: Vec<Arc<Table>> = tables.read().values().cloned().collect();
        for table in &open {
            for set in table.replica_sets() {
                shipped += set.pump();
            }
        }
        if shipped > 0 && signal.state.lock().1 {
            return;
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.signal.stop();
        if let Some(thread) = self.thread.take() {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
