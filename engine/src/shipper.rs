//! The shipper thread: streams every primary partition's log to its replicas.
//!
//! A replicated database runs one shipper thread per replica position (two, for three
//! AZs): thread `i` walks every partition's [`ReplicaSet`] and ships to its `i`-th
//! replica, so the replicas' fsyncs run side by side. A writer waiting for its
//! acknowledgement also ships its record itself, to a replica no thread is shipping to
//! at the moment, so that shipping for different partitions runs in parallel. Writers
//! wake the threads once their record is durable (and they look again every few
//! milliseconds anyway, for records made durable by a `Buffered` log's interval sync).
//! Every 200 ms the first thread also repairs replicas that failed on their own (an I/O
//! error on their disk): each is reopened or rebuilt, and caught up.

use crate::database::{Copies, Table};
use crate::partition::Partition;
use dynastore_replication::{Acks, ReplicaSink, ReplicaState, ShipStream};
use dynastore_wal::{Lsn, Wal};
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the shipper sleeps when nobody wakes it: the bound on how late a record made
/// durable by a `Buffered` log's own interval sync is shipped.
const IDLE_POLL: Duration = Duration::from_millis(5);
/// How often failed replicas (in AZs not failed on purpose) are brought back into
/// service: rebuilt, or reopened, and caught up.
const REPAIR_EVERY: Duration = Duration::from_millis(200);

/// Wakes the shipper threads: writers notify them once their record is durable.
#[derive(Debug, Default)]
pub(crate) struct ShipSignal {
    /// Notifications so far, and whether the threads must stop.
    state: Mutex<(u64, bool)>,
    condvar: Condvar,
}

impl ShipSignal {
    /// Asks every shipper thread to look for records to ship.
    pub(crate) fn notify(&self) {
        self.state.lock().0 += 1;
        self.condvar.notify_all();
    }

    /// Waits for a notification after the `seen`-th (updating it) or for `timeout`; false
    /// once asked to stop.
    fn wait(&self, seen: &mut u64, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if state.0 == *seen && !state.1 {
            self.condvar.wait_for(&mut state, timeout);
        }
        *seen = state.0;
        !state.1
    }

    fn stopped(&self) -> bool {
        self.state.lock().1
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
    stream: ShipStream,
    /// Each replica's durable LSN, which writers wait on.
    pub acks: Arc<Acks>,
    /// True once a promotion replaced this set: nothing more is shipped. Every shipping
    /// holds it for reading throughout, so setting it waits for shipping under way.
    stopped: RwLock<bool>,
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
        let stream = ShipStream::new(Arc::clone(primary), sinks);
        let acks = stream.acks();
        for (index, (az, partition)) in members.iter().enumerate() {
            stream.pause(index, paused.contains(az));
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
            stream,
            acks,
            stopped: RwLock::new(false),
        }
    }

    /// Ships what replica `index` lacks, one run, unless someone else is shipping to it;
    /// returns the records shipped.
    pub(crate) fn pump_replica(&self, index: usize) -> u64 {
        let stopped = self.stopped.read();
        if *stopped {
            return 0;
        }
        self.stream.pump_replica(index)
    }

    /// Ships a writer's record (and whatever else is durable) to one replica nobody else
    /// is shipping to, in the caller's thread; returns whether it shipped.
    pub(crate) fn try_pump(&self) -> bool {
        let Some(stopped) = self.stopped.try_read() else {
            return false;
        };
        !*stopped && self.stream.ship_one()
    }

    /// Stops shipping for good (a promotion is replacing this set), waiting for shipping
    /// under way, and returns the stream so that the caller can drain it first.
    pub(crate) fn stop(&self) -> &ShipStream {
        *self.stopped.write() = true;
        &self.stream
    }

    /// Undoes [`ReplicaSet::stop`] (a promotion that could not go on).
    pub(crate) fn resume(&self) {
        *self.stopped.write() = false;
    }

    /// Puts `partition` in service as the copy of member `index` and ships to it from its
    /// own durable LSN on.
    pub(crate) fn replace(&self, index: usize, partition: Arc<Partition>) {
        if let Some(member) = self.members.get(index) {
            *member.partition.write() = Some(Arc::clone(&partition));
            self.stream.replace(index, partition);
        }
    }

    /// Holds back (or resumes) shipping to the member in `az`, if there is one.
    pub(crate) fn pause(&self, az: &str, paused: bool) {
        if let Some(index) = self.index_of(az) {
            self.stream.pause(index, paused);
        }
    }

    /// Takes member `index` out of service (its AZ failed): it counts for nothing and is
    /// not shipped to.
    pub(crate) fn take_out(&self, index: usize, reason: &str) -> Option<Arc<Partition>> {
        let mut taken = None;
        self.stream.with_replica(index, || {
            self.acks.fail(index, reason);
            taken = self
                .members
                .get(index)
                .and_then(|member| member.partition.write().take());
        });
        taken
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

/// The shipper threads; dropping this stops and joins them.
#[derive(Debug)]
pub(crate) struct Shipper {
    signal: Arc<ShipSignal>,
    threads: Vec<JoinHandle<()>>,
}

impl Shipper {
    /// Starts `replicas` threads over the replica sets of `tables`, one per replica
    /// position.
    pub(crate) fn start(
        tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
        replicas: usize,
        copies: Arc<Copies>,
    ) -> std::io::Result<Shipper> {
        let signal = Arc::new(ShipSignal::default());
        let mut shipper = Shipper {
            signal: Arc::clone(&signal),
            threads: Vec::new(),
        };
        for index in 0..replicas.max(1) {
            let (worker, tables) = (Arc::clone(&signal), Arc::clone(&tables));
            // The first thread also brings failed replicas back into service.
            let copies = (index == 0).then(|| Arc::clone(&copies));
            shipper.threads.push(
                std::thread::Builder::new()
                    .name(format!("dynastore-shipper-{index}"))
                    .spawn(move || run(&worker, &tables, index, copies.as_deref()))?,
            );
        }
        Ok(shipper)
    }

    /// The signal writers wake the shipper with.
    pub(crate) fn signal(&self) -> Arc<ShipSignal> {
        Arc::clone(&self.signal)
    }
}

fn run(signal: &ShipSignal, tables: &RwLock<HashMap<String, Arc<Table>>>, replica: usize, copies: Option<&Copies>) {
    let (mut shipped, mut seen) = (0, 0);
    let mut repaired_at = Instant::now();
    loop {
        if let Some(copies) = copies
            && repaired_at.elapsed() >= REPAIR_EVERY
        {
            repaired_at = Instant::now();
            let open: Vec<Arc<Table>> = tables.read().values().cloned().collect();
            for table in &open {
                copies.repair_failed(table);
            }
        }
        // Keep going without sleeping while there is work: a round that shipped something
        // may have left more behind (one run per replica per round).
        if shipped == 0 && !signal.wait(&mut seen, IDLE_POLL) {
            return;
        }
        shipped = 0;
        let open: Vec<Arc<Table>> = tables.read().values().cloned().collect();
        for table in &open {
            for set in table.replica_sets() {
                shipped += set.pump_replica(replica);
            }
        }
        if shipped > 0 && signal.stopped() {
            return;
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.signal.stop();
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to release.
            let _ = thread.join();
        }
    }
}
