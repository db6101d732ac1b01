//! The shipper threads: stream every primary partition's log to its replicas.
//!
//! - **A pool** ships what writers ask for: a `Sync` writer whose record is durable
//!   queues its partition's replicas (each at most once at a time), and a pool thread
//!   ships to each, so that shipping for different partitions and replicas runs in
//!   parallel, and a writer never waits on a replica's disk in its own thread (a slow
//!   replica holds up only the writes that need it). A `Quorum` writer queues one
//!   replica (idle, else furthest ahead), and the others too if it does not answer in a few times
//!   the usual time ([`ReplicaSet::acknowledge`]): one replica sync per write instead
//!   of one per replica.
//! - **A scanning thread** walks every partition's [`ReplicaSet`] every few
//!   milliseconds and queues to the pool every replica that lacks records it could be
//!   shipped: records made durable by a `Buffered` log's interval sync, the records a
//!   `Quorum` writer did not ask every replica for, and catching up. A pool run that
//!   leaves records behind queues its replica again, so a replica that fell behind has a
//!   pool thread on it until it caught up. The work is the pool's rather than the
//!   scanner's because the pool has a thread per replica being shipped to: shipping to
//!   every replica from one thread gave all of them one thread's share of the CPU
//!   against the writers', and under a heavy `Buffered` load the replicas fell hundreds
//!   of milliseconds behind (p99 lag 207-416 ms; with the pool alone, 37-92 ms).
//!
//! Bringing replicas into service (new, or failed on their own) is not these threads'
//! work but the repairer's (see [`crate::group::repairer`]): a hung disk there must not hold up
//! shipping.

use crate::storage::Partition;
use dynastore_replication::{AckError, AckMode, Acks, ReplicaSink, ReplicaState, ShipStream};
use dynastore_wal::{Lsn, Wal};
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the shipper sleeps when nobody wakes it: the bound on how late a record made
/// durable by a `Buffered` log's own interval sync is shipped.
const IDLE_POLL: Duration = Duration::from_millis(5);
/// Threads shipping what writers ask for, so that shipping for different partitions runs
/// in parallel (and a writer never waits on a replica's disk in its own thread).
const POOL_THREADS: usize = 8;
/// A `Quorum` writer asks the other replicas too once its wait for the first one is this
/// many times the usual acknowledgement time...
const HEDGE_FACTOR: u64 = 4;
/// ...and at least this long (so that ordinary jitter does not double the syncs).
const HEDGE_AFTER_MIN: Duration = Duration::from_millis(2);

/// Seeds for new replica sets' choice of replica to ask first.
static NEXT_SEED: AtomicUsize = AtomicUsize::new(0);

/// What the shipper threads wait on: notifications for the scanning thread, and the
/// queue of replicas to ship to now for the pool.
#[derive(Debug, Default)]
struct SignalState {
    /// Notifications so far.
    notifications: u64,
    /// Whether the threads must stop.
    stopped: bool,
    /// Replicas (of a set, by index) with records to ship, in request order.
    queue: VecDeque<(Weak<ReplicaSet>, usize)>,
}

/// Wakes the shipper threads: writers ask them to ship once their record is durable.
#[derive(Debug, Default)]
pub(crate) struct ShipSignal {
    state: Mutex<SignalState>,
    /// The scanning thread waits here.
    condvar: Condvar,
    /// The pool threads wait here.
    work: Condvar,
}

impl ShipSignal {
    /// Asks the scanning thread to look for records to ship.
    pub(crate) fn notify(&self) {
        self.state.lock().notifications += 1;
        self.condvar.notify_all();
    }

    /// Asks the pool to ship what `set`'s replicas lack now (each replica queued at most
    /// once at a time): to replica `only` alone if given, and only to replicas that do
    /// not hold record `lsn` yet (a shipment for another writer of its group may have
    /// brought it already; `Lsn::ZERO` asks regardless).
    fn ship(&self, set: &Arc<ReplicaSet>, only: Option<usize>, lsn: Lsn) {
        let wanted = |index: usize| {
            let holds = || set.acks.live_durable(index).is_some_and(|durable| durable >= lsn);
            only.is_none_or(|only| only == index) && !(lsn > Lsn::ZERO && holds())
        };
        let mut state = self.state.lock();
        for (index, queued) in set.queued.iter().enumerate() {
            if !wanted(index) {
                continue;
            }
            // A writer's request (for its record `lsn`) is noted before the queued flag
            // is read, so that a run under way sees it when it finishes (see `run_pool`).
            if lsn > Lsn::ZERO {
                set.asked[index].store(true, Ordering::SeqCst);
            }
            if !queued.swap(true, Ordering::SeqCst) {
                state.queue.push_back((Arc::downgrade(set), index));
                self.work.notify_one();
            }
        }
    }

    /// The next replica to ship to; `None` once asked to stop.
    fn next_job(&self) -> Option<(Weak<ReplicaSet>, usize)> {
        let mut state = self.state.lock();
        loop {
            if state.stopped {
                return None;
            }
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            self.work.wait(&mut state);
        }
    }

    /// Waits for a notification after the `seen`-th (updating it) or for `timeout`; false
    /// once asked to stop.
    fn wait(&self, seen: &mut u64, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if state.notifications == *seen && !state.stopped {
            self.condvar.wait_for(&mut state, timeout);
        }
        *seen = state.notifications;
        !state.stopped
    }

    fn stop(&self) {
        self.state.lock().stopped = true;
        self.condvar.notify_all();
        self.work.notify_all();
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
    fn append_framed(
        &self,
        _segment: Lsn,
        _bytes: &[u8],
        _on_durable: &mut dyn FnMut(Lsn),
    ) -> dynastore_wal::Result<Lsn> {
        Err(dynastore_wal::Error::Closed)
    }

    fn durable_lsn(&self) -> Lsn {
        Lsn::ZERO
    }
}

/// What [`ReplicaSet::take_out`] came to.
#[derive(Debug)]
pub(crate) enum TakenOut {
    /// The member's copy, now out of service: the caller closes it.
    Copy(Arc<Partition>),
    /// The member had no copy in service; it is marked failed all the same.
    Nothing,
    /// The set is stopped (a promotion is replacing it, or its table is deleted): nothing
    /// changed, and the member's copy is the next set's.
    Stopped,
}

/// A primary partition's replicas (one per replica AZ of its group) and the stream that
/// feeds them.
pub(crate) struct ReplicaSet {
    /// One per replica AZ, in the group's order.
    pub members: Vec<Member>,
    stream: ShipStream,
    /// Each replica's durable LSN, which writers wait on.
    pub acks: Arc<Acks>,
    /// True once a promotion is replacing this set (or its table is deleted): no copy is
    /// put in service. Putting one in service holds it for reading, so setting it waits
    /// for that. (Shipping stops through the stream: see [`ReplicaSet::stop`].)
    stopped: RwLock<bool>,
    /// Per replica: whether it is in the shipper pool's queue.
    queued: Vec<AtomicBool>,
    /// Per replica: whether a writer asked for it since its last pool run finished.
    asked: Vec<AtomicBool>,
    /// Where this set's choice of replica to ask first starts, so that different
    /// partitions spread their first requests over the AZs.
    seed: usize,
    /// A moving average of how long acknowledgements took, in nanoseconds: a writer asks
    /// the other replicas too once its wait is well past it.
    ack_nanos: AtomicU64,
}

/// Shipping for a primary with replica set `set`: records go out through the shipper
/// pool (see [`ReplicaSet::acknowledge`]). Once the set is gone (the partition's group
/// changed), a writer still waiting only wakes the shipper and waits on the acks.
#[derive(Debug)]
pub(crate) struct ShipToSet {
    set: Weak<ReplicaSet>,
    acks: Arc<Acks>,
    signal: Arc<ShipSignal>,
}

impl ShipToSet {
    /// Shipping to `set`'s replicas, waking the shipper through `signal`.
    pub(crate) fn new(set: &Arc<ReplicaSet>, signal: Arc<ShipSignal>) -> ShipToSet {
        ShipToSet {
            set: Arc::downgrade(set),
            acks: Arc::clone(&set.acks),
            signal,
        }
    }
}

impl ShipToSet {
    /// Has record `lsn` shipped and waits until the replicas `mode` counts hold it, at
    /// most `timeout`.
    ///
    /// Errors: [`AckError`] (too few replicas, timed out, the primary failed).
    pub(crate) fn acknowledge(&self, lsn: Lsn, mode: AckMode, timeout: Duration) -> Result<(), AckError> {
        match self.set.upgrade() {
            Some(set) => set.acknowledge(&self.signal, lsn, mode, timeout),
            None => {
                self.signal.notify();
                self.acks.wait(lsn, mode, timeout)
            }
        }
    }

    /// Asks for shipping soon, without waiting.
    pub(crate) fn wake(&self) {
        self.signal.notify();
    }
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
        failed: &BTreeSet<String>,
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
            if failed.contains(az) {
                stream.hold_out(index, &format!("{az} failed"));
            }
        }
        ReplicaSet {
            queued: members.iter().map(|_| AtomicBool::new(false)).collect(),
            asked: members.iter().map(|_| AtomicBool::new(false)).collect(),
            seed: NEXT_SEED.fetch_add(1, Ordering::Relaxed),
            ack_nanos: AtomicU64::new(0),
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

    /// Waits until `mode` counts record `lsn` (durable on the primary) acknowledged, at
    /// most `timeout`, asking `signal`'s pool to ship it.
    ///
    /// When one replica of several is enough (`Quorum`), only one is asked at first (see
    /// [`ReplicaSet::first_to_ask`]), so that the others' disks are not made to sync for
    /// every write: the scanning thread queues them for the records a few milliseconds
    /// later, in larger runs. If that replica has not acknowledged after a few times the
    /// usual wait (a slow or stuck disk), the others are asked too: a replica that is not
    /// keeping up holds a write back by that delay at most, as long as another one is.
    pub(crate) fn acknowledge(
        self: &Arc<Self>,
        signal: &ShipSignal,
        lsn: Lsn,
        mode: AckMode,
        timeout: Duration,
    ) -> Result<(), AckError> {
        let started = Instant::now();
        let first = match mode.replicas_needed(self.members.len()) {
            1 if self.members.len() > 1 => self.first_to_ask(),
            // `Primary` mode ships to all at once too: the sooner a record is on a replica,
            // the less a failure of the primary loses.
            _ => None,
        };
        signal.ship(self, first, lsn);
        let hedge = self.hedge_after().min(timeout);
        let outcome = match self.acks.wait(lsn, mode, if first.is_some() { hedge } else { timeout }) {
            Err(AckError::TimedOut { .. }) if first.is_some() => {
                signal.ship(self, None, lsn);
                self.acks
                    .wait(lsn, mode, timeout.saturating_sub(started.elapsed()))
                    .map_err(|error| match error {
                        AckError::TimedOut { lsn, .. } => AckError::TimedOut {
                            lsn,
                            waited: started.elapsed(),
                        },
                        other => other,
                    })
            }
            other => other,
        };
        if outcome.is_ok() {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let average = self.ack_nanos.load(Ordering::Relaxed);
            // A racy update loses a sample now and then, which an average can afford.
            self.ack_nanos
                .store(average - average / 16 + nanos / 16, Ordering::Relaxed);
        }
        outcome
    }

    /// How long a writer waits for the replica it asked first before asking the others.
    fn hedge_after(&self) -> Duration {
        Duration::from_nanos(self.ack_nanos.load(Ordering::Relaxed).saturating_mul(HEDGE_FACTOR)).max(HEDGE_AFTER_MIN)
    }

    /// The replica to ask first: a live, unpaused one, preferably with no run of the pool
    /// queued or under way for it (so that the record does not wait for a sync in
    /// progress), then the one with the highest durable LSN; ties go round from the set's
    /// seed. `None` if there is none.
    fn first_to_ask(&self) -> Option<usize> {
        let count = self.members.len();
        (0..count)
            .map(|k| (self.seed + k) % count)
            .filter(|&index| !self.stream.is_paused(index))
            .filter_map(|index| {
                let idle = !self.queued[index].load(Ordering::SeqCst);
                Some((index, (idle, self.acks.live_durable(index)?)))
            })
            .fold(None, |best: Option<(usize, (bool, Lsn))>, (index, rank)| match best {
                Some((_, best_rank)) if best_rank >= rank => best,
                _ => Some((index, rank)),
            })
            .map(|(index, _)| index)
    }

    /// Ships what replica `index` lacks, one run, unless someone else is shipping to it;
    /// returns the records shipped.
    pub(crate) fn pump_replica(&self, index: usize) -> u64 {
        self.stream.pump_replica(index)
    }

    /// Whether replica `index` still lacks records it could be shipped now.
    pub(crate) fn lags(&self, index: usize) -> bool {
        self.stream.lags(index)
    }

    /// Whether replica `index` still lacks record `lsn`.
    fn lacks(&self, index: usize, lsn: Lsn) -> bool {
        self.stream.lacks(index, lsn)
    }

    /// Stops shipping for good (a promotion is replacing this set) once each replica has
    /// what is durable on the primary, and puts no more copies in service. A replica whose
    /// shipment under way takes longer than `wait` (its disk may hang) is not waited for:
    /// it is marked failed and its shipment counts for nothing. Returns, per member,
    /// whether it was left out so (see [`ShipStream::finish`]).
    pub(crate) fn stop(&self, wait: Duration) -> Vec<bool> {
        *self.stopped.write() = true;
        self.stream.finish(wait)
    }

    /// Waits for member `index`'s shipment under way, which [`ReplicaSet::stop`] left out,
    /// and hands it the rest of the primary's durable records (a promotion chose it).
    pub(crate) fn finish_member(&self, index: usize) {
        self.stream.finish_replica(index);
    }

    /// Stops shipping for good and waits for shipping under way (the table is deleted:
    /// nothing may write into its directories afterwards).
    pub(crate) fn halt(&self) {
        *self.stopped.write() = true;
        self.stream.finish(Duration::MAX);
    }

    /// Undoes [`ReplicaSet::stop`] (a promotion that could not go on).
    pub(crate) fn resume(&self) {
        *self.stopped.write() = false;
        self.stream.resume();
    }

    /// Puts `partition` in service as the copy of member `index` and ships to it from its
    /// own durable LSN on, unless this set is stopped (a promotion is replacing it: the
    /// copy was brought in line with a primary that is being deposed) or the member is
    /// held out (its AZ failed, however late: see `ReplicaSet::hold_out`). Returns
    /// whether it did. A promotion stops the set only once no copy is being put in
    /// service, so it sees every copy this put in service.
    pub(crate) fn replace(&self, index: usize, partition: Arc<Partition>) -> bool {
        let stopped = self.stopped.read();
        if *stopped {
            return false;
        }
        let Some(member) = self.members.get(index) else {
            return false;
        };
        *member.partition.write() = Some(Arc::clone(&partition));
        if self
            .stream
            .replace(index, Arc::clone(&partition) as Arc<dyn ReplicaSink>)
        {
            return true;
        }
        // Held out (its AZ failed just now): the copy is not in service after all.
        let mut copy = member.partition.write();
        if copy.as_ref().is_some_and(|copy| Arc::ptr_eq(copy, &partition)) {
            *copy = None;
        }
        false
    }

    #[cfg(feature = "drills")]
    /// Holds member `index` out of service while its AZ is failed: see
    /// [`ShipStream::hold_out`]. [`ReplicaSet::readmit`] ends it.
    pub(crate) fn hold_out(&self, index: usize, reason: &str) {
        self.stream.hold_out(index, reason);
    }

    #[cfg(feature = "drills")]
    /// Ends [`ReplicaSet::hold_out`] (its AZ is back); a repair puts a copy in service.
    pub(crate) fn readmit(&self, index: usize) {
        self.stream.readmit(index);
    }

    #[cfg(feature = "drills")]
    /// Holds back (or resumes) shipping to the member in `az`, if there is one.
    pub(crate) fn pause(&self, az: &str, paused: bool) {
        if let Some(index) = self.index_of(az) {
            self.stream.pause(index, paused);
        }
    }

    /// Takes member `index` out of service (its AZ failed, or its copy is to be reopened
    /// or rebuilt): it counts for nothing and is not shipped to. Refused once the set is
    /// stopped: a promotion builds the next set from the members' copies after stopping
    /// this one, so a copy taken out (and closed) after that would stay in service there.
    pub(crate) fn take_out(&self, index: usize, reason: &str) -> TakenOut {
        self.take_out_with(index, |stream| stream.fail_replica(index, reason))
    }

    /// [`ReplicaSet::take_out`] for a repair that brings the member back (its copy is
    /// reopened or rebuilt): joining rather than failed meanwhile, so that a `Quorum`
    /// write that needs it waits for it instead of failing (see
    /// [`ShipStream::rejoin_replica`]).
    pub(crate) fn take_out_to_rejoin(&self, index: usize) -> TakenOut {
        self.take_out_with(index, |stream| stream.rejoin_replica(index))
    }

    /// Takes member `index`'s copy out, then marks it in the stream with `mark`.
    fn take_out_with(&self, index: usize, mark: impl FnOnce(&ShipStream)) -> TakenOut {
        let stopped = self.stopped.read();
        if *stopped {
            return TakenOut::Stopped;
        }
        let taken = self
            .members
            .get(index)
            .and_then(|member| member.partition.write().take());
        // Not under the stop lock: a promotion sees the member empty from here on.
        drop(stopped);
        // Not waiting for a shipment under way to the copy either (its disk may hang):
        // what that shipment reports counts for nothing.
        mark(&self.stream);
        match taken {
            Some(copy) => TakenOut::Copy(copy),
            None => TakenOut::Nothing,
        }
    }

    /// The index of the member in `az`.
    pub(crate) fn index_of(&self, az: &str) -> Option<usize> {
        self.members.iter().position(|member| member.az == az)
    }

    /// For the `turn`-th read spread over the primary and the live replica copies: the
    /// replica whose turn it is, or `None` for the primary's turn. Allocates nothing: it
    /// runs on every eventually consistent read.
    pub(crate) fn live_copy(&self, turn: usize) -> Option<Arc<Partition>> {
        let live = |index: usize| self.acks.is_live(index) && self.members[index].partition.read().is_some();
        let count = (0..self.members.len()).filter(|&index| live(index)).count();
        let pick = turn % (count + 1);
        (0..self.members.len())
            .filter(|&index| live(index))
            .nth(pick)
            .and_then(|index| self.members[index].partition.read().clone())
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
    /// Starts the scanning thread and the pool over the replica sets of `tables`.
    pub(crate) fn start(tables: Arc<dyn ReplicaSets>) -> std::io::Result<Shipper> {
        let signal = Arc::new(ShipSignal::default());
        let mut shipper = Shipper {
            signal: Arc::clone(&signal),
            threads: Vec::new(),
        };
        let (scanner, tables) = (Arc::clone(&signal), Arc::clone(&tables));
        shipper.threads.push(
            std::thread::Builder::new()
                .name("dynastore-shipper-scan".into())
                .spawn(move || scan(&scanner, tables.as_ref()))?,
        );
        for index in 0..POOL_THREADS {
            let worker = Arc::clone(&signal);
            shipper.threads.push(
                std::thread::Builder::new()
                    .name(format!("dynastore-ship-pool-{index}"))
                    .spawn(move || run_pool(&worker))?,
            );
        }
        Ok(shipper)
    }

    /// The signal writers wake the shipper with.
    pub(crate) fn signal(&self) -> Arc<ShipSignal> {
        Arc::clone(&self.signal)
    }
}

/// The replica sets the scanning thread looks after: the database's tables implement it,
/// so that the shipper needs nothing of them but their replica sets.
pub(crate) trait ReplicaSets: Send + Sync {
    /// The replica sets of every partition open now.
    fn replica_sets(&self) -> Vec<Arc<ReplicaSet>>;
}

/// The scanning thread: every few milliseconds (or when notified), hands every replica
/// that lacks records it could be shipped to the pool.
fn scan(signal: &ShipSignal, sets: &dyn ReplicaSets) {
    let mut seen = 0;
    while signal.wait(&mut seen, IDLE_POLL) {
        for set in sets.replica_sets() {
            for index in 0..set.members.len() {
                if set.lags(index) {
                    signal.ship(&set, Some(index), Lsn::ZERO);
                }
            }
        }
    }
}

/// A pool thread: ships to the replicas writers asked for, one run each, queueing a
/// replica again while there is more.
fn run_pool(signal: &ShipSignal) {
    while let Some((set, index)) = signal.next_job() {
        let Some(set) = set.upgrade() else { continue };
        let backlog = set.stream.primary_durable_lsn();
        let n = set.pump_replica(index);
        // Cleared only after the run, so that writers whose records became durable during
        // it do not queue runs bound to find this one shipping. Their records are not
        // lost: a writer notes its request before it looks at the flag, and the run looks
        // at the requests only after clearing it (SeqCst on both sides, so that neither
        // misses the other).
        set.queued[index].store(false, Ordering::SeqCst);
        let asked = set.asked[index].swap(false, Ordering::SeqCst);
        // Again while the replica lacks records that were durable before this run (a
        // backlog: a run is bounded), or records a writer waits for. Not merely because
        // more became durable meanwhile: a replica a `Quorum` writer did not ask for
        // would then be synced for every write, and the scanning thread brings it those
        // records a few milliseconds later, in one run.
        if n > 0 && (set.lacks(index, backlog) || (asked && set.lags(index))) {
            signal.ship(&set, Some(index), Lsn::ZERO);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::PartitionOptions;
    use dynastore_wal::WalOptions;
    use std::path::Path;

    fn open(fs: &dynastore_wal::fs::FaultyFs, dir: &str) -> Arc<Partition> {
        let options = PartitionOptions {
            wal: WalOptions::default(),
            memtable_bytes_max: 1 << 20,
            compaction: crate::storage::compaction::CompactionStyle::default(),
            auto_compaction: false,
            epoch: dynastore_wal::Epoch(1),
            epoch_first_lsn: Lsn(1),
        };
        Arc::new(Partition::open(fs.shared(), Path::new(dir), options, None).unwrap())
    }

    /// Once a promotion stopped a set, no copy is taken out of it (a repair, or a failed
    /// AZ, would close a copy the promotion is putting in its next set): the member keeps
    /// its copy, still open. Resumed (the promotion gave up), taking out works again.
    #[test]
    fn a_stopped_set_keeps_its_copies() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let primary = open(&fs, "/data/az-a/T/p-0000");
        let replica = open(&fs, "/data/az-b/T/p-0000");
        let set = ReplicaSet::new(
            primary.wal(),
            vec![("az-b".to_owned(), Some(Arc::clone(&replica)))],
            &BTreeSet::new(),
            &BTreeSet::new(),
        );
        set.stop(Duration::from_millis(100));
        assert!(matches!(set.take_out(0, "rejoining"), TakenOut::Stopped));
        let kept = set.members[0].partition.read().clone();
        assert!(kept.is_some_and(|copy| Arc::ptr_eq(&copy, &replica)));
        assert_eq!(replica.wal().poisoned(), None);

        set.resume();
        match set.take_out(0, "rejoining") {
            TakenOut::Copy(copy) => assert!(Arc::ptr_eq(&copy, &replica)),
            other => panic!("{other:?}"),
        }
        assert!(set.members[0].partition.read().is_none());
        assert!(matches!(set.acks.replicas()[0], ReplicaState::Failed(..)));
        assert!(matches!(set.take_out(0, "again"), TakenOut::Nothing));

        // Taken out to rejoin (a repair), the member is joining, not failed, while its
        // copy is away; stopped, the set refuses that too.
        assert!(set.replace(0, Arc::clone(&replica)));
        assert!(matches!(set.take_out_to_rejoin(0), TakenOut::Copy(_)));
        assert!(matches!(set.acks.replicas()[0], ReplicaState::Joining(_)));
        assert!(set.replace(0, Arc::clone(&replica)));
        set.stop(Duration::from_millis(100));
        assert!(matches!(set.take_out_to_rejoin(0), TakenOut::Stopped));
        assert!(matches!(set.acks.replicas()[0], ReplicaState::Live(_)));
    }
}
