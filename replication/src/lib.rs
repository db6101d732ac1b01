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
//! Not yet here (the engine's part, next): replicas applying what they receive to their
//! own memtables and tables, promotion, and rejoining.

use dynastore_wal::{Lsn, Tailer, Wal};
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
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
    /// Appends records framed by the primary (from its segment `segment`) and makes them
    /// durable; returns the last LSN now durable.
    ///
    /// Errors: those of [`Wal::append_framed`] and [`Wal::sync`].
    fn append_framed(&self, segment: Lsn, bytes: &[u8]) -> dynastore_wal::Result<Lsn>;

    /// The LSN up to which this replica holds every record durably.
    fn durable_lsn(&self) -> Lsn;
}

impl ReplicaSink for Wal {
    fn append_framed(&self, segment: Lsn, bytes: &[u8]) -> dynastore_wal::Result<Lsn> {
        Wal::append_framed(self, segment, bytes)?;
        self.sync()
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
}

impl ReplicaState {
    /// The replica's durable LSN.
    pub fn durable_lsn(&self) -> Lsn {
        match self {
            ReplicaState::Live(lsn) | ReplicaState::Failed(lsn, _) => *lsn,
        }
    }

    fn is_live(&self) -> bool {
        matches!(self, ReplicaState::Live(_))
    }
}

/// Each replica's durable LSN for one primary log; writers wait here for their acks.
#[derive(Debug)]
pub struct Acks {
    replicas: Mutex<Vec<ReplicaState>>,
    changed: Condvar,
}

impl Acks {
    fn new(durable: Vec<Lsn>) -> Acks {
        Acks {
            replicas: Mutex::new(durable.into_iter().map(ReplicaState::Live).collect()),
            changed: Condvar::new(),
        }
    }

    /// Each replica's state, in the order the stream was given them.
    pub fn replicas(&self) -> Vec<ReplicaState> {
        self.replicas.lock().clone()
    }

    fn update(&self, replica: usize, change: impl FnOnce(&mut ReplicaState)) {
        let mut replicas = self.replicas.lock();
        if let Some(state) = replicas.get_mut(replica) {
            change(state);
        }
        drop(replicas);
        self.changed.notify_all();
    }

    /// Waits until `mode` counts record `lsn` acknowledged by the replicas (its
    /// durability on the primary is the caller's to ensure), at most `timeout`.
    ///
    /// Errors: [`AckError::NotEnoughReplicas`] as soon as too few replicas are alive,
    /// [`AckError::TimedOut`].
    pub fn wait(&self, lsn: Lsn, mode: AckMode, timeout: Duration) -> Result<(), AckError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut replicas = self.replicas.lock();
        let needed = mode.replicas_needed(replicas.len());
        loop {
            let holding = replicas
                .iter()
                .filter(|r| r.is_live() && r.durable_lsn() >= lsn)
                .count();
            if holding >= needed {
                return Ok(());
            }
            let alive = replicas.iter().filter(|r| r.is_live()).count();
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

struct Destination {
    sink: Arc<dyn ReplicaSink>,
    tailer: Tailer,
}

/// Streams one primary log to its replicas (see the [crate docs](crate)).
pub struct ShipStream {
    primary: Arc<Wal>,
    destinations: Vec<Destination>,
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

impl ShipStream {
    /// A stream from `primary` to `replicas`, each resumed after its own durable LSN.
    pub fn new(primary: Arc<Wal>, replicas: Vec<Arc<dyn ReplicaSink>>) -> ShipStream {
        let acks = Arc::new(Acks::new(replicas.iter().map(|r| r.durable_lsn()).collect()));
        let destinations = replicas
            .into_iter()
            .map(|sink| Destination {
                tailer: primary.tail(sink.durable_lsn().next()),
                sink,
            })
            .collect();
        ShipStream {
            primary,
            destinations,
            acks,
        }
    }

    /// The acknowledgements writers wait on.
    pub fn acks(&self) -> Arc<Acks> {
        Arc::clone(&self.acks)
    }

    /// Ships to every live replica what it lacks of the primary's durable records, one
    /// run (one segment's worth) each, waiting up to `timeout` for the first live replica
    /// to have something. Returns the number of records shipped. A replica that fails is
    /// marked so in [`ShipStream::acks`] and skipped from then on.
    pub fn pump(&mut self, timeout: Duration) -> u64 {
        let mut shipped = 0;
        let mut wait = timeout;
        for (index, destination) in self.destinations.iter_mut().enumerate() {
            if !self.acks.replicas.lock()[index].is_live() {
                continue;
            }
            let chunk = match destination.tailer.next_chunk(wait) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => continue,
                Err(error) => {
                    let durable = destination.sink.durable_lsn();
                    self.acks.update(index, |state| {
                        *state = ReplicaState::Failed(durable, format!("reading the primary's log: {error}"));
                    });
                    continue;
                }
            };
            wait = Duration::ZERO;
            match destination.sink.append_framed(chunk.segment, &chunk.bytes) {
                Ok(durable) => {
                    shipped += chunk.last_lsn.0 + 1 - chunk.first_lsn.0;
                    self.acks.update(index, |state| *state = ReplicaState::Live(durable));
                }
                Err(error) => {
                    let durable = destination.sink.durable_lsn();
                    self.acks.update(index, |state| {
                        *state = ReplicaState::Failed(durable, format!("appending to the replica: {error}"));
                    });
                }
            }
        }
        shipped
    }

    /// Ships to a replica again after it failed (it has been repaired or caught up by
    /// other means), from its durable LSN on.
    pub fn revive(&mut self, replica: usize) {
        if let Some(destination) = self.destinations.get_mut(replica) {
            let durable = destination.sink.durable_lsn();
            destination.tailer = self.primary.tail(durable.next());
            self.acks.update(replica, |state| *state = ReplicaState::Live(durable));
        }
    }
}
