//! WAL shipping to availability-zone replicas, and acknowledgement tracking.
//!
//! A primary partition's log is streamed, byte for byte, into each replica's log: a
//! [`ShipStream`] holds one [`dynastore_wal::Tailer`] per replica (so a slow replica never
//! holds back a fast one) and appends what it yields with
//! [`ReplicaSink::append_framed`], which makes it durable there. The tailer yields only
//! records durable on the primary, so a replica never holds a record the primary could
//! lose in a crash. Each replica's durable LSN goes into the stream's [`Acks`], where a
//! writer waits until its [`AckMode`] counts its record acknowledged.
//!
//! A replica whose append fails, or whose next record the primary no longer has, is
//! marked failed: it no longer counts towards acknowledgements and is not shipped to
//! until [`ShipStream::revive`] (after it caught up by other means). Records carry the
//! epoch of the primary that wrote them, and a log refuses records of an older epoch than
//! its last ([`dynastore_wal::Error::EpochRegressed`]), so a deposed primary's stream
//! cannot overwrite a newer history.
//!
//! Each replica has a lock of its own in the stream, so several threads may ship to
//! different replicas at once ([`ShipStream::pump_replica`]) while one replica's records
//! still go out in order.
//!
//! The decisions of failover and rejoining are pure functions here, each with
//! table-driven tests: which copy to promote ([`promotion`]), whether a rejoining copy
//! keeps its files, has a tail cut or is rebuilt ([`rejoin`]), and the epoch history that
//! tells which records a later epoch never had ([`epochs`]).
//!
//! The engine drives this crate: its replica partitions are the sinks (they apply what
//! they receive), its shipper threads pump every stream, and it carries out the decisions
//! (it holds the CATALOG, where every promotion is recorded first).

pub mod epochs;
pub mod promotion;
pub mod rejoin;

use dynastore_wal::{Lsn, TailChunk, Tailer, Wal};
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a write counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Once durable on the primary: a failure of the primary before shipping loses it.
    Primary,
    /// Once durable on the primary and at least one replica (DynamoDB's 2 of 3).
    #[default]
    Quorum,
    /// Once durable on the primary and every replica.
    All,
}

impl AckMode {
    /// How many of `replicas` must hold a record durably before it is acknowledged.
    pub fn replicas_needed(self, replicas: usize) -> usize {
        match self {
            AckMode::Primary => 0,
            AckMode::Quorum => replicas.min(1),
            AckMode::All => replicas,
        }
    }
}

/// Why a wait for acknowledgements gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// Too few replicas are alive to ever acknowledge.
    #[error("{needed} replica(s) must acknowledge but only {alive} are alive")]
    NotEnoughReplicas {
        /// Replicas the mode needs.
        needed: usize,
        /// Replicas not marked failed.
        alive: usize,
    },
    /// The primary's own log could not be read to ship it (its disk failed): no replica
    /// will get the record from it.
    #[error("the primary's log cannot be read to ship it: {reason}")]
    PrimaryFailed {
        /// The read error.
        reason: String,
    },
    /// The replicas did not make the record durable in time.
    #[error("replicas did not acknowledge LSN {lsn} within {waited:?}")]
    TimedOut {
        /// The record waited for.
        lsn: Lsn,
        /// How long.
        waited: Duration,
    },
}

/// A destination of shipped records: a replica's log (the engine's replica partitions
/// also apply what they receive).
pub trait ReplicaSink: Send + Sync {
    /// Appends records framed by the primary (from its segment `segment`), makes them
    /// durable, and calls `on_durable` with the last LSN now durable as soon as they are;
    /// returns that LSN. A sink that does more with the records (the engine's replicas
    /// apply them to their memtables) does it after `on_durable`, so that a writer waiting
    /// for the acknowledgement does not wait for it too.
    ///
    /// Errors: those of [`Wal::append_framed`] and [`Wal::sync`].
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn>;

    /// The LSN up to which this replica holds every record durably.
    fn durable_lsn(&self) -> Lsn;
}

impl ReplicaSink for Wal {
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn> {
        Wal::append_framed(self, segment, bytes)?;
        let durable = self.sync()?;
        on_durable(durable);
        Ok(durable)
    }

    fn durable_lsn(&self) -> Lsn {
        Wal::durable_lsn(self)
    }
}

/// One replica's progress as acknowledgements count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaState {
    /// Shipping works; every record up to this LSN is durable on the replica.
    Live(Lsn),
    /// Shipping stopped at this LSN, for the reason given.
    Failed(Lsn, String),
    /// The replica's copy is being opened or created (off the writers' threads, so that
    /// a slow disk there holds up no write that does not need it); it is shipped to once
    /// it is in service. Not live, so it holds no record yet, but it counts as alive: a
    /// writer that needs it waits for it (up to its timeout) instead of giving up.
    Joining(Lsn),
}

impl ReplicaState {
    /// The replica's durable LSN.
    pub fn durable_lsn(&self) -> Lsn {
        match self {
            ReplicaState::Live(lsn) | ReplicaState::Failed(lsn, _) | ReplicaState::Joining(lsn) => *lsn,
        }
    }

    fn is_live(&self) -> bool {
        matches!(self, ReplicaState::Live(_))
    }

    /// Live, or joining: able to acknowledge, now or once it is in service.
    fn is_alive(&self) -> bool {
        matches!(self, ReplicaState::Live(_) | ReplicaState::Joining(_))
    }
}

/// Each replica's durable LSN for one primary log; writers wait here for their acks.
#[derive(Debug)]
pub struct Acks {
    replicas: Mutex<Vec<ReplicaState>>,
    /// Per replica: what its shipments report is ignored (set and read under `replicas`'
    /// lock). See [`ShipStream::finish`].
    frozen: Vec<AtomicBool>,
    /// Per replica: held out of service (its AZ is failed) until readmitted, whatever
    /// else happens to it: restarting it leaves it failed (set and read under
    /// `replicas`' lock). See [`ShipStream::hold_out`].
    held_out: Vec<AtomicBool>,
    /// Set when the primary's log could not be read: nothing more will be shipped.
    primary_failed: Mutex<Option<String>>,
    changed: Condvar,
}

impl Acks {
    fn new(durable: Vec<Lsn>) -> Acks {
        Acks {
            frozen: durable.iter().map(|_| AtomicBool::new(false)).collect(),
            held_out: durable.iter().map(|_| AtomicBool::new(false)).collect(),
            replicas: Mutex::new(durable.into_iter().map(ReplicaState::Live).collect()),
            primary_failed: Mutex::new(None),
            changed: Condvar::new(),
        }
    }

    /// Why the primary's log could not be read, if it could not.
    pub fn primary_failed(&self) -> Option<String> {
        self.primary_failed.lock().clone()
    }

    fn fail_primary(&self, reason: String) {
        self.primary_failed.lock().get_or_insert(reason);
        // Under the replicas' lock, so that no waiter misses the wake-up.
        drop(self.replicas.lock());
        self.changed.notify_all();
    }

    /// Whether replica `replica` is live (shipped to, counting for acknowledgements),
    /// without copying every replica's state.
    pub fn is_live(&self, replica: usize) -> bool {
        self.replicas.lock().get(replica).is_some_and(ReplicaState::is_live)
    }

    /// Replica `replica`'s durable LSN if it is live, without copying every replica's
    /// state.
    pub fn live_durable(&self, replica: usize) -> Option<Lsn> {
        match self.replicas.lock().get(replica) {
            Some(ReplicaState::Live(durable)) => Some(*durable),
            _ => None,
        }
    }

    /// Each replica's state, in the order the stream was given them.
    pub fn replicas(&self) -> Vec<ReplicaState> {
        self.replicas.lock().clone()
    }

    /// The lowest durable LSN among live replicas (`None` with no live replica): the
    /// primary must keep every record after it in its log, to ship it.
    pub fn min_live_durable(&self) -> Option<Lsn> {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.is_live())
            .map(ReplicaState::durable_lsn)
            .min()
    }

    /// Marks replica `replica` failed for `reason` (its AZ is down, or it is being
    /// rebuilt): it stops counting and is not shipped to until revived.
    pub fn fail(&self, replica: usize, reason: &str) {
        self.update(replica, |state| {
            *state = ReplicaState::Failed(state.durable_lsn(), reason.to_owned())
        });
    }

    /// Marks replica `replica` joining: its copy is being opened or created, and it is
    /// not shipped to until [`ShipStream::replace`] puts one in service (or it is marked
    /// failed), but writers waiting for acknowledgements wait for it. Not while it is
    /// held out ([`ShipStream::hold_out`]): nobody is to wait for it then.
    pub fn join(&self, replica: usize) {
        let mut replicas = self.replicas.lock();
        if let Some(state) = replicas.get_mut(replica)
            && !self.is_held_out(replica)
        {
            *state = ReplicaState::Joining(state.durable_lsn());
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// Whether replica `replica` is held out of service ([`ShipStream::hold_out`]).
    pub fn is_held_out(&self, replica: usize) -> bool {
        self.held_out
            .get(replica)
            .is_some_and(|held| held.load(Ordering::Relaxed))
    }

    /// Marks every replica failed (the primary is being deposed): every waiting writer
    /// wakes with [`AckError::NotEnoughReplicas`] unless its record was already counted.
    pub fn fail_all(&self, reason: &str) {
        let mut replicas = self.replicas.lock();
        for state in replicas.iter_mut() {
            *state = ReplicaState::Failed(state.durable_lsn(), reason.to_owned());
        }
        drop(replicas);
        self.changed.notify_all();
    }

    fn update(&self, replica: usize, change: impl FnOnce(&mut ReplicaState)) {
        let mut replicas = self.replicas.lock();
        if let Some(state) = replicas.get_mut(replica) {
            change(state);
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// [`Acks::update`] for what a shipment to `replica` came to: ignored while the
    /// replica is frozen.
    fn update_shipped(&self, replica: usize, change: impl FnOnce(&mut ReplicaState)) {
        let mut replicas = self.replicas.lock();
        if self
            .frozen
            .get(replica)
            .is_some_and(|frozen| frozen.load(Ordering::Relaxed))
        {
            return;
        }
        if let Some(state) = replicas.get_mut(replica) {
            change(state);
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// Marks `replica` failed for `reason`, and ignores what its shipments report from
    /// now on, until thawed: a shipment under way counts for nothing.
    fn freeze(&self, replica: usize, reason: &str) {
        self.take_out(replica, true, |durable| {
            ReplicaState::Failed(durable, reason.to_owned())
        });
    }

    /// Puts `replica` in the state `out` makes of its durable LSN (failed, or joining),
    /// in one step under the lock; with `freeze`, what its shipments report is ignored
    /// from now on, until thawed. A replica held out stays failed.
    fn take_out(&self, replica: usize, freeze: bool, out: impl FnOnce(Lsn) -> ReplicaState) {
        let mut replicas = self.replicas.lock();
        if let (Some(frozen), Some(state)) = (self.frozen.get(replica), replicas.get_mut(replica)) {
            if freeze {
                frozen.store(true, Ordering::Relaxed);
            }
            let next = out(state.durable_lsn());
            if !(self.is_held_out(replica) && matches!(next, ReplicaState::Joining(_))) {
                *state = next;
            }
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// Undoes [`Acks::freeze`]: `replica`'s shipments count again (it stays failed until
    /// shipped to again). Not while it is held out.
    fn thaw(&self, replica: usize) {
        let _replicas = self.replicas.lock();
        if let Some(frozen) = self.frozen.get(replica)
            && !self.is_held_out(replica)
        {
            frozen.store(false, Ordering::Relaxed);
        }
    }

    /// [`Acks::freeze`], and holds `replica` out until [`Acks::readmit`].
    fn hold_out(&self, replica: usize, reason: &str) {
        let mut replicas = self.replicas.lock();
        if let (Some(held), Some(frozen), Some(state)) = (
            self.held_out.get(replica),
            self.frozen.get(replica),
            replicas.get_mut(replica),
        ) {
            held.store(true, Ordering::Relaxed);
            frozen.store(true, Ordering::Relaxed);
            *state = ReplicaState::Failed(state.durable_lsn(), reason.to_owned());
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// Ends [`Acks::hold_out`]: `replica` stays failed until restarted.
    fn readmit(&self, replica: usize) {
        let _replicas = self.replicas.lock();
        if let Some(held) = self.held_out.get(replica) {
            held.store(false, Ordering::Relaxed);
        }
    }

    /// Makes `replica` live at `durable`, its shipments counting again, unless it is held
    /// out; returns whether it did. One step under the lock, so that a replica held out
    /// meanwhile is never live, even for a moment.
    fn go_live(&self, replica: usize, durable: Lsn) -> bool {
        let mut replicas = self.replicas.lock();
        let (Some(frozen), Some(state)) = (self.frozen.get(replica), replicas.get_mut(replica)) else {
            return false;
        };
        if self.is_held_out(replica) {
            return false;
        }
        frozen.store(false, Ordering::Relaxed);
        *state = ReplicaState::Live(durable);
        drop(replicas);
        self.changed.notify_all();
        true
    }

    /// The newest LSN that enough live replicas hold durably for `mode` to count it
    /// acknowledged (every record up to it then survives a failover to the most
    /// up-to-date replica); `None` if `mode` needs no replica.
    pub fn acknowledged_through(&self, mode: AckMode) -> Option<Lsn> {
        let replicas = self.replicas.lock();
        let needed = mode.replicas_needed(replicas.len());
        if needed == 0 {
            return None;
        }
        let mut durable: Vec<Lsn> = replicas
            .iter()
            .filter(|r| r.is_live())
            .map(ReplicaState::durable_lsn)
            .collect();
        durable.sort_unstable_by(|a, b| b.cmp(a));
        Some(durable.get(needed - 1).copied().unwrap_or(Lsn(0)))
    }

    /// Whether `mode` counts record `lsn` acknowledged by the replicas now (its
    /// durability on the primary is the caller's to know): [`Acks::wait`] without
    /// waiting.
    pub fn acknowledged(&self, lsn: Lsn, mode: AckMode) -> bool {
        let replicas = self.replicas.lock();
        holding(&replicas, lsn) >= mode.replicas_needed(replicas.len())
    }

    /// Waits until `mode` counts record `lsn` acknowledged by the replicas (its
    /// durability on the primary is the caller's to ensure), at most `timeout`.
    ///
    /// Errors: [`AckError::NotEnoughReplicas`] as soon as too few replicas are alive
    /// (live or joining),
    /// [`AckError::PrimaryFailed`] once the primary's log cannot be read (unless enough
    /// replicas hold the record already), [`AckError::TimedOut`].
    pub fn wait(&self, lsn: Lsn, mode: AckMode, timeout: Duration) -> Result<(), AckError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut replicas = self.replicas.lock();
        let needed = mode.replicas_needed(replicas.len());
        loop {
            if holding(&replicas, lsn) >= needed {
                return Ok(());
            }
            if let Some(reason) = self.primary_failed.lock().clone() {
                return Err(AckError::PrimaryFailed { reason });
            }
            let alive = replicas.iter().filter(|r| r.is_alive()).count();
            if alive < needed {
                return Err(AckError::NotEnoughReplicas { needed, alive });
            }
            if self.changed.wait_until(&mut replicas, deadline).timed_out() {
                return Err(AckError::TimedOut {
                    lsn,
                    waited: started.elapsed(),
                });
            }
        }
    }
}

/// How many live replicas hold record `lsn` durably.
fn holding(replicas: &[ReplicaState], lsn: Lsn) -> usize {
    replicas
        .iter()
        .filter(|r| r.is_live() && r.durable_lsn() >= lsn)
        .count()
}

struct Destination {
    sink: Arc<dyn ReplicaSink>,
    tailer: Tailer,
}

/// Appends one chunk to a replica and records the outcome in `acks`; returns the records
/// shipped.
fn ship(acks: &Acks, index: usize, sink: &dyn ReplicaSink, chunk: &TailChunk) -> u64 {
    let mut reported = None;
    let mut report = |durable: Lsn| {
        reported = Some(durable);
        acks.update_shipped(index, |state| *state = ReplicaState::Live(durable));
    };
    match sink.append_framed(chunk.segment, &chunk.bytes, &mut report) {
        Ok(durable) => {
            if reported != Some(durable) {
                acks.update_shipped(index, |state| *state = ReplicaState::Live(durable));
            }
            chunk.last_lsn.0 + 1 - chunk.first_lsn.0
        }
        Err(error) => {
            let durable = sink.durable_lsn();
            acks.update_shipped(index, |state| {
                *state = ReplicaState::Failed(durable, format!("appending to the replica: {error}"));
            });
            0
        }
    }
}

/// Streams one primary log to its replicas (see the [crate docs](crate)).
///
/// Each replica has a lock of its own, so different threads can ship to different
/// replicas at once (the engine's pool threads, one per replica being shipped to), while
/// the records of one replica go out in order.
pub struct ShipStream {
    primary: Arc<Wal>,
    destinations: Vec<Mutex<Destination>>,
    /// Per replica: shipping held back (a cut link, injected by tests and drills): still
    /// live, but shipped nothing. Outside the replica's lock, so that it can be read while
    /// a shipment is under way.
    paused: Vec<AtomicBool>,
    /// Set by [`ShipStream::finish`]: nothing more is shipped (but by `finish` itself).
    finished: AtomicBool,
    /// Per replica: left out by [`ShipStream::finish`] with a shipment under way (frozen
    /// by it, so thawed by [`ShipStream::resume`]; a replica [`ShipStream::fail_replica`]
    /// froze stays out until it is restarted).
    left_out: Vec<AtomicBool>,
    acks: Arc<Acks>,
}

impl std::fmt::Debug for ShipStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipStream")
            .field("primary", &self.primary.dir())
            .field("acks", &self.acks)
            .finish()
    }
}

/// What shipping one replica's next chunk came to.
enum Shipped {
    /// This many records (0 if the append failed, or there was nothing to ship).
    Records(u64),
    /// The primary's own log failed: nothing more can be shipped from it.
    PrimaryFailed,
}

impl ShipStream {
    /// A stream from `primary` to `replicas`, each resumed after its own durable LSN.
    pub fn new(primary: Arc<Wal>, replicas: Vec<Arc<dyn ReplicaSink>>) -> ShipStream {
        let acks = Arc::new(Acks::new(replicas.iter().map(|r| r.durable_lsn()).collect()));
        let paused = replicas.iter().map(|_| AtomicBool::new(false)).collect();
        let left_out = replicas.iter().map(|_| AtomicBool::new(false)).collect();
        let destinations = replicas
            .into_iter()
            .map(|sink| {
                Mutex::new(Destination {
                    tailer: primary.tail(sink.durable_lsn().next()),
                    sink,
                })
            })
            .collect();
        ShipStream {
            primary,
            destinations,
            paused,
            finished: AtomicBool::new(false),
            left_out,
            acks,
        }
    }

    /// The acknowledgements writers wait on.
    pub fn acks(&self) -> Arc<Acks> {
        Arc::clone(&self.acks)
    }

    /// Ships the next chunk (one segment's worth at most) of what replica `index` lacks,
    /// waiting up to `wait` for a durable record.
    fn ship_next(&self, index: usize, destination: &mut Destination, wait: Duration) -> Shipped {
        if self.finished.load(Ordering::Acquire) {
            return Shipped::Records(0);
        }
        self.ship_chunk(index, destination, wait)
    }

    /// [`ShipStream::ship_next`], whether or not the stream is finished.
    fn ship_chunk(&self, index: usize, destination: &mut Destination, wait: Duration) -> Shipped {
        if self.is_paused(index) || !self.acks.replicas.lock()[index].is_live() {
            return Shipped::Records(0);
        }
        match destination.tailer.next_chunk(wait) {
            Ok(Some(chunk)) => Shipped::Records(ship(&self.acks, index, destination.sink.as_ref(), &chunk)),
            Ok(None) => Shipped::Records(0),
            // The primary no longer holds what this replica needs next: the replica must
            // be rebuilt by other means.
            Err(error @ (dynastore_wal::Error::LsnTruncated { .. } | dynastore_wal::Error::LogRewound { .. })) => {
                let durable = destination.sink.durable_lsn();
                self.acks.update_shipped(index, |state| {
                    *state = ReplicaState::Failed(durable, format!("the primary's log lacks its next record: {error}"));
                });
                Shipped::Records(0)
            }
            // Anything else is the primary's own failure, not the replica's.
            Err(error) => {
                self.acks.fail_primary(error.to_string());
                Shipped::PrimaryFailed
            }
        }
    }

    /// Ships to every live replica what it lacks of the primary's durable records, one
    /// run (one segment's worth) each, waiting up to `timeout` for the first live replica
    /// to have something (and for a replica another thread is shipping to). Returns the
    /// number of records shipped. A replica that fails is marked so in
    /// [`ShipStream::acks`] and skipped from then on.
    pub fn pump(&self, timeout: Duration) -> u64 {
        let mut shipped = 0;
        let mut wait = timeout;
        for (index, destination) in self.destinations.iter().enumerate() {
            match self.ship_next(index, &mut destination.lock(), wait) {
                Shipped::Records(0) => {}
                Shipped::Records(records) => {
                    shipped += records;
                    wait = Duration::ZERO;
                }
                Shipped::PrimaryFailed => break,
            }
        }
        shipped
    }

    /// Stops shipping for good (a promotion replaces this stream), first handing each
    /// replica every record durable on the primary that it lacks. A replica another thread
    /// is shipping to is waited for at most `wait` (its disk may hang): past that it is
    /// left out, marked failed, and what its shipment under way reports counts for
    /// nothing, so that no writer is acknowledged by a record the promotion did not see.
    /// Returns, per replica, whether it was left out with a shipment under way (then
    /// its log may still grow; [`ShipStream::finish_replica`] waits for it).
    pub fn finish(&self, wait: Duration) -> Vec<bool> {
        self.finished.store(true, Ordering::Release);
        self.destinations
            .iter()
            .enumerate()
            .map(|(index, destination)| match destination.try_lock_for(wait) {
                Some(mut destination) => {
                    self.drain(index, &mut destination);
                    false
                }
                None => {
                    self.left_out[index].store(true, Ordering::Relaxed);
                    self.acks
                        .freeze(index, "a shipment was under way when shipping stopped");
                    true
                }
            })
            .collect()
    }

    /// Waits for the shipment under way to replica `replica` that [`ShipStream::finish`]
    /// left out, then hands it the rest of the primary's durable records. What it is
    /// shipped still counts for nothing (it stays frozen).
    pub fn finish_replica(&self, replica: usize) {
        if let Some(destination) = self.destinations.get(replica) {
            let mut destination = destination.lock();
            let durable = destination.sink.durable_lsn();
            // Shipped nothing if it is held out meanwhile (its AZ failed).
            self.acks.go_live(replica, durable);
            self.drain(replica, &mut destination);
            self.acks
                .freeze(replica, "a shipment was under way when shipping stopped");
        }
    }

    /// Undoes [`ShipStream::finish`] (a promotion that could not go on): shipping goes on,
    /// and a replica left out is shipped to again once its shipment under way is over.
    pub fn resume(&self) {
        self.finished.store(false, Ordering::Release);
        for replica in 0..self.destinations.len() {
            if self.left_out[replica].swap(false, Ordering::Relaxed) {
                self.acks.thaw(replica);
                if let Some(mut destination) = self.destinations[replica].try_lock() {
                    self.restart(replica, &mut destination);
                }
            }
        }
    }

    /// Ships replica `index` everything durable on the primary that it lacks.
    fn drain(&self, index: usize, destination: &mut Destination) {
        while let Shipped::Records(1..) = self.ship_chunk(index, destination, Duration::ZERO) {}
    }

    /// Ships one run to replica `replica` unless another thread is shipping to it right
    /// now, without waiting. Returns the number of records shipped.
    pub fn pump_replica(&self, replica: usize) -> u64 {
        let Some(mut destination) = self.destinations.get(replica).and_then(Mutex::try_lock) else {
            return 0;
        };
        match self.ship_next(replica, &mut destination, Duration::ZERO) {
            Shipped::Records(records) => records,
            Shipped::PrimaryFailed => 0,
        }
    }

    /// Whether live replica `replica` lacks records durable on the primary that it could be
    /// shipped now (false while it is paused or failed).
    pub fn lags(&self, replica: usize) -> bool {
        self.lacks(replica, self.primary.durable_lsn())
    }

    /// Whether live replica `replica` lacks record `lsn` (false while it is paused or
    /// failed).
    pub fn lacks(&self, replica: usize, lsn: Lsn) -> bool {
        !self.is_paused(replica) && self.acks.live_durable(replica).is_some_and(|durable| durable < lsn)
    }

    /// The primary's durable LSN: the last record that can be shipped now.
    pub fn primary_durable_lsn(&self) -> Lsn {
        self.primary.durable_lsn()
    }

    /// Holds back (or resumes) shipping to replica `replica`, as if the link to it were
    /// cut: it stays live, and gets nothing until resumed.
    pub fn pause(&self, replica: usize, paused: bool) {
        if let (Some(flag), Some(destination)) = (self.paused.get(replica), self.destinations.get(replica)) {
            flag.store(paused, Ordering::Release);
            // A shipment under way finishes before the link counts as cut.
            drop(destination.lock());
        }
    }

    /// Whether shipping to replica `replica` is held back ([`ShipStream::pause`]); true
    /// for an index out of range.
    pub fn is_paused(&self, replica: usize) -> bool {
        self.paused.get(replica).is_none_or(|flag| flag.load(Ordering::Acquire))
    }

    /// Replaces replica `replica` by `sink` (a rebuilt copy) and ships to it from its
    /// durable LSN on. Returns whether it is live: not while it is held out
    /// ([`ShipStream::hold_out`]).
    pub fn replace(&self, replica: usize, sink: Arc<dyn ReplicaSink>) -> bool {
        self.destinations.get(replica).is_some_and(|destination| {
            let mut destination = destination.lock();
            destination.sink = sink;
            self.restart(replica, &mut destination)
        })
    }

    /// Ships to a replica again after it failed (it has been repaired or caught up by
    /// other means), from its durable LSN on. Returns whether it is live: not while it
    /// is held out.
    pub fn revive(&self, replica: usize) -> bool {
        self.destinations
            .get(replica)
            .is_some_and(|destination| self.restart(replica, &mut destination.lock()))
    }

    /// Holds replica `replica` out of service until [`ShipStream::readmit`] (its AZ is
    /// failed): it is failed for `reason` at once, without waiting for a shipment under
    /// way to it (whose report counts for nothing), and stays failed through anything
    /// that would make it live again ([`ShipStream::replace`], [`ShipStream::revive`],
    /// [`ShipStream::resume`], [`Acks::join`]), so that a copy put in service just as its
    /// AZ fails never acknowledges a record.
    pub fn hold_out(&self, replica: usize, reason: &str) {
        self.acks.hold_out(replica, reason);
    }

    /// Ends [`ShipStream::hold_out`] (its AZ is back): the replica stays failed until a
    /// copy is put in service ([`ShipStream::replace`]).
    pub fn readmit(&self, replica: usize) {
        self.acks.readmit(replica);
    }

    /// Marks replica `replica` failed for `reason` (taken out of service) without
    /// waiting for a shipment under way to it (its disk may hang): whatever that
    /// shipment reports counts for nothing, so it can neither acknowledge a write nor
    /// mark the replica live again. It is shipped to again once restarted
    /// ([`ShipStream::replace`], [`ShipStream::revive`]).
    pub fn fail_replica(&self, replica: usize, reason: &str) {
        let Some(destination) = self.destinations.get(replica) else {
            return;
        };
        match destination.try_lock() {
            Some(_idle) => self.acks.fail(replica, reason),
            None => self.acks.freeze(replica, reason),
        }
    }

    /// Takes replica `replica` out of service to bring it back (its copy is reopened or
    /// rebuilt), as [`ShipStream::fail_replica`] does, but joining rather than failed, in
    /// one step: writers that need it wait for it (up to their timeout) instead of giving
    /// up while it is away. It is shipped to again once [`ShipStream::replace`] puts a
    /// copy in service. A replica held out stays failed.
    pub fn rejoin_replica(&self, replica: usize) {
        let Some(destination) = self.destinations.get(replica) else {
            return;
        };
        // Held while the state changes, as in `fail_replica`: a shipment that starts
        // meanwhile finds the replica out of service.
        let idle = destination.try_lock();
        self.acks.take_out(replica, idle.is_none(), ReplicaState::Joining);
        drop(idle);
    }

    /// Ships to `replica` from its sink's durable LSN on, unless it is held out; returns
    /// whether it is live now. The caller holds the replica's lock: no shipment is under
    /// way, and what the next ones report counts again.
    fn restart(&self, replica: usize, destination: &mut Destination) -> bool {
        self.left_out[replica].store(false, Ordering::Relaxed);
        let durable = destination.sink.durable_lsn();
        destination.tailer = self.primary.tail(durable.next());
        self.acks.go_live(replica, durable)
    }
}
