//! What a copy is as its group's primary: its [`PrimaryRole`], the [`WriteGate`] the group
//! sets on it. The role turns writes away while a promotion hands the copy's history over
//! and once it is deposed, makes a `Sync` write wait for the replicas its ack mode counts,
//! and holds `Buffered` writers back while the replicas lag too far.

use super::shipper::ShipToSet;
use crate::error::{Error, Result};
use crate::storage::{Partition, Refusal, WriteGate};
use dynastore_replication::{AckError, AckMode, Acks};
use dynastore_wal::Lsn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// `PrimaryRole::deposed` of a primary no replica took over from.
const NOT_DEPOSED: u64 = u64::MAX;

/// How a primary waits for its replicas before acknowledging a write.
#[derive(Debug)]
pub(crate) struct AckWait {
    /// The replicas' durable LSNs, updated by the shipper.
    pub acks: Arc<Acks>,
    /// How many replicas must hold a record.
    pub mode: AckMode,
    /// How long a writer waits for them before failing.
    pub timeout: Duration,
    /// How far (in records) they may lag before `Buffered` writers wait for them.
    pub max_lag_records: u64,
    /// Ships records to the replicas.
    pub shipping: ShipToSet,
}

/// A copy's role as its group's primary (see the module docs).
#[derive(Debug)]
pub(crate) struct PrimaryRole {
    /// How writers wait for the replicas.
    wait: AckWait,
    /// Set when a replica took over: the last LSN of this primary's history the new
    /// primary holds (`NOT_DEPOSED` until then: an atomic, as every write checks it).
    deposed: AtomicU64,
    /// Set while a promotion hands this primary's history over: new writes are turned
    /// away (to retry on whichever copy ends up primary).
    handing_over: AtomicBool,
}

impl PrimaryRole {
    /// A primary whose writers wait for its replicas as `wait` says.
    pub(crate) fn new(wait: AckWait) -> PrimaryRole {
        PrimaryRole {
            wait,
            deposed: AtomicU64::new(NOT_DEPOSED),
            handing_over: AtomicBool::new(false),
        }
    }

    /// Turns new writes to `copy` (whose role this is) away while a promotion hands its
    /// history over (they retry on whichever copy ends up primary); writes already in
    /// the log finish. Set under the copy's write lock, so no write is between its check
    /// and its record.
    pub(crate) fn stop_writes(&self, copy: &Partition) {
        copy.serialized(|| self.handing_over.store(true, Ordering::Release));
    }

    /// Undoes [`PrimaryRole::stop_writes`] (a promotion that could not go on).
    pub(crate) fn resume_writes(&self) {
        self.handing_over.store(false, Ordering::Release);
    }

    /// Deposes `copy` (whose role this is): a replica holding its history up to
    /// `last_lsn` took over. Writes in flight fail (their callers retry on the new
    /// primary, or succeed if their record is at or before `last_lsn`), the copy's log is
    /// fenced so nothing more reaches its files, and its background flushes and
    /// compactions stop.
    pub(crate) fn depose(&self, copy: &Partition, last_lsn: Lsn) {
        self.deposed.store(last_lsn.0, Ordering::Release);
        copy.fence("the partition was deposed: a replica took over as primary");
        // Writers waiting for acknowledgements wake before retiring waits for a flush.
        self.wait.acks.fail_all("the primary was deposed");
        copy.retire();
    }
}

impl WriteGate for PrimaryRole {
    fn admit(&self) -> std::result::Result<(), Refusal> {
        if self.deposed_at().is_some() {
            Err(Refusal::Deposed)
        } else if self.handing_over.load(Ordering::Acquire) {
            Err(Refusal::HandingOver)
        } else {
            Ok(())
        }
    }

    fn acknowledge(&self, lsn: Lsn) -> Result<()> {
        let wait = &self.wait;
        wait.shipping
            .acknowledge(lsn, wait.mode, wait.timeout)
            .map_err(Error::Replication)
    }

    /// A write stall that keeps the lag bounded when `Buffered` writers outrun shipping
    /// (a `Sync` write waits for its own acknowledgements instead). Nothing is held back
    /// in `Primary` mode, or when no replica could catch up (too few are live, or the
    /// primary failed): waiting would not help, and repair and failover are the next
    /// write's.
    fn keep_within_reach(&self, lsn: Lsn, stalled: &dyn Fn()) -> Result<()> {
        let wait = &self.wait;
        // There is no record 0: the first `max_lag_records` writes have nothing to wait
        // for, even while the replicas are still joining.
        let Some(within) = lsn.0.checked_sub(wait.max_lag_records).filter(|&within| within > 0) else {
            return Ok(());
        };
        if wait.mode == AckMode::Primary || wait.acks.acknowledged(Lsn(within), wait.mode) {
            return Ok(());
        }
        stalled();
        // The scanning thread queues lagging replicas every few milliseconds; now is sooner.
        wait.shipping.wake();
        match wait.acks.wait(Lsn(within), wait.mode, wait.timeout) {
            Err(error @ AckError::TimedOut { .. }) => Err(Error::Replication(error)),
            Ok(()) | Err(AckError::NotEnoughReplicas { .. } | AckError::PrimaryFailed { .. }) => Ok(()),
        }
    }

    fn deposed_at(&self) -> Option<Lsn> {
        match self.deposed.load(Ordering::Acquire) {
            NOT_DEPOSED => None,
            lsn => Some(Lsn(lsn)),
        }
    }

    fn log_needed_from(&self) -> Option<Lsn> {
        self.wait.acks.min_live_durable().map(Lsn::next)
    }

    fn replicated_through(&self) -> Option<Lsn> {
        // A quorum's worth of replicas, whatever the writers' ack mode: a record only the
        // primary holds may be gone after a failover.
        self.wait
            .acks
            .acknowledged_through(dynastore_replication::AckMode::Quorum)
    }
}
