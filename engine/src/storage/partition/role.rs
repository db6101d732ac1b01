//! What a partition copy does as its group's primary: its epoch, waiting for its
//! replicas' acknowledgements (through [`Shipping`], which the replication group
//! implements), being deposed by a failover, and turning writes away while it hands over.

use super::Partition;
use crate::error::Error;
use crate::error::Result;
use crate::item::Item;
use dynastore_replication::AckError;
use dynastore_replication::AckMode;
use dynastore_wal::Epoch;
use dynastore_wal::Lsn;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How a primary gets its records to its replicas: implemented by the replication group
/// (the shipper), so that a storage copy asks for shipping without knowing who ships.
pub(crate) trait Shipping: Send + Sync + std::fmt::Debug {
    /// Has record `lsn` shipped and waits until the replicas `mode` counts hold it, at
    /// most `timeout`.
    ///
    /// Errors: [`AckError`] (too few replicas, timed out, the primary failed).
    fn acknowledge(&self, lsn: Lsn, mode: AckMode, timeout: std::time::Duration) -> std::result::Result<(), AckError>;
    /// Asks for shipping soon, without waiting.
    fn wake(&self);
}

/// How a primary waits for its replicas before acknowledging a write.
#[derive(Debug)]
pub(crate) struct AckWait {
    /// The replicas' durable LSNs, updated by the shipper.
    pub acks: Arc<dynastore_replication::Acks>,
    /// How many replicas must hold a record.
    pub mode: dynastore_replication::AckMode,
    /// How long a writer waits for them before failing.
    pub timeout: std::time::Duration,
    /// How far (in records) they may lag before `Buffered` writers wait for them.
    pub max_lag_records: u64,
    /// Ships records to the replicas.
    pub shipping: Arc<dyn Shipping>,
}

/// Why a write attempt failed, with what the engine needs to retry it after a failover.
#[derive(Debug)]
pub(crate) struct WriteFailure {
    /// What went wrong.
    pub error: Error,
    /// The record's LSN and the item it replaced, if the record made it into the log.
    pub enqueued: Option<(Lsn, Option<Item>)>,
    /// Whether the partition was deposed (or its log failed): a new primary may take the
    /// write.
    pub primary_lost: bool,
    /// Whether the write was turned away, unlogged, while a promotion hands the primary's
    /// history over: it is to be retried once the promotion is done (or abandoned).
    pub handing_over: bool,
}

impl WriteFailure {
    pub(super) fn before_log(error: Error) -> WriteFailure {
        WriteFailure {
            error,
            enqueued: None,
            primary_lost: false,
            handing_over: false,
        }
    }
}

/// `Partition::deposed` of a partition no replica took over from.
pub(super) const NOT_DEPOSED: u64 = u64::MAX;

impl Partition {
    /// Whether the partition was taken out of service: retired (a replica copy closed, or
    /// its table deleted) or deposed. Its log may be fenced, so a flush or merge under way
    /// fails; it need not succeed, as the files are reopened or discarded. Both marks
    /// are set before the log is fenced, so a failure caused by the fence sees them.
    pub(super) fn out_of_service(&self) -> bool {
        self.retired.load(Ordering::Relaxed) || self.deposed_at().is_some()
    }

    /// The epoch this partition's records carry.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Relaxed))
    }

    /// Moves the partition to a newer epoch whose primary began writing at `first_lsn` (a
    /// promotion): as a primary its records carry it; as a replica it refuses, from
    /// `first_lsn` on, shipped records of older epochs (a deposed primary's).
    pub fn set_epoch(&self, epoch: Epoch, first_lsn: Lsn) {
        if self.epoch.fetch_max(epoch.0, Ordering::Relaxed) < epoch.0 {
            self.epoch_first_lsn.store(first_lsn.0, Ordering::Relaxed);
        }
    }

    /// Makes writers wait for `wait`'s replicas (or, with `None`, for none) before a write
    /// is acknowledged, and keeps in the log every record a live replica still lacks.
    pub(crate) fn set_ack_wait(&self, wait: Option<Arc<AckWait>>) {
        *self.ack_wait.write() = wait;
    }

    /// Deposes this primary: a replica holding its history up to `last_lsn` took over.
    /// Writes in flight fail (their callers retry on the new primary, or succeed if their
    /// record is at or before `last_lsn`), the log is fenced so nothing more reaches its
    /// files, and background flushes and compactions stop.
    pub(crate) fn depose(&self, last_lsn: Lsn) {
        self.deposed.store(last_lsn.0, Ordering::Release);
        self.wal
            .fence("the partition was deposed: a replica took over as primary");
        if let Some(wait) = self.ack_wait.read().as_ref() {
            wait.acks.fail_all("the primary was deposed");
        }
        self.retire();
    }

    /// The last LSN of this partition's history a new primary took over, if it was deposed.
    pub(crate) fn deposed_at(&self) -> Option<Lsn> {
        match self.deposed.load(Ordering::Acquire) {
            NOT_DEPOSED => None,
            lsn => Some(Lsn(lsn)),
        }
    }

    /// Turns new writes away while a promotion hands this primary's history over (they
    /// retry on whichever copy ends up primary); writes already in the log finish. Called
    /// with the write lock taken, so no write is between its check and its record.
    pub(crate) fn stop_writes(&self) {
        self.order
            .serialized(|| self.handing_over.store(true, Ordering::Release));
    }

    /// Undoes [`Partition::stop_writes`] (a promotion that could not go on).
    pub(crate) fn resume_writes(&self) {
        self.handing_over.store(false, Ordering::Release);
    }

    pub(super) fn check_primary(&self) -> std::result::Result<(), WriteFailure> {
        let deposed = self.deposed_at().is_some();
        let handing_over = self.handing_over.load(Ordering::Acquire);
        if !deposed && !handing_over {
            return Ok(());
        }
        Err(WriteFailure {
            error: Error::Wal(dynastore_wal::Error::Poisoned {
                cause: "the partition was deposed: a replica took over as primary".into(),
            }),
            enqueued: None,
            primary_lost: deposed,
            handing_over: !deposed,
        })
    }

    /// A failure after the record was enqueued: the primary counts as lost if its log
    /// failed or it was deposed meanwhile.
    pub(super) fn failure(&self, error: Error, enqueued: Option<(Lsn, Option<Item>)>) -> WriteFailure {
        let primary_lost = matches!(
            error,
            Error::Wal(_) | Error::Replication(dynastore_replication::AckError::PrimaryFailed { .. })
        ) || self.deposed_at().is_some();
        WriteFailure {
            error,
            enqueued,
            primary_lost,
            handing_over: false,
        }
    }

    /// Waits until the replicas acknowledge record `lsn` as the ack mode asks (at once
    /// without replicas).
    pub(crate) fn await_replicas(&self, lsn: Lsn) -> Result<()> {
        let Some(wait) = self.ack_wait.read().clone() else {
            return Ok(());
        };
        wait.shipping
            .acknowledge(lsn, wait.mode, wait.timeout)
            .map_err(Error::Replication)
    }

    /// Holds a `Buffered` write (record `lsn`, applied) back while the replicas the ack
    /// mode counts lag it by more than `max_lag_records`: a write stall that keeps the
    /// lag bounded when writers outrun shipping (a `Sync` write waits for its own
    /// acknowledgements instead). Nothing is held back without replicas, in `Primary`
    /// mode, or when no replica could catch up (too few are live, or the primary
    /// failed): waiting would not help, and repair and failover are the next write's.
    ///
    /// Errors: [`Error::Replication`] ([`AckError::TimedOut`]) if they stay out of reach
    /// for the acknowledgement timeout; the record stays in the log's history, applied,
    /// as a `Sync` write's whose acknowledgements time out.
    pub(super) fn keep_replicas_within_reach(&self, lsn: Lsn) -> Result<()> {
        let (wait, within) = {
            let guard = self.ack_wait.read();
            let Some(wait) = guard.as_ref() else {
                return Ok(());
            };
            // There is no record 0: the first `max_lag_records` writes have nothing to
            // wait for, even while the replicas are still joining.
            let Some(within) = lsn.0.checked_sub(wait.max_lag_records).filter(|&within| within > 0) else {
                return Ok(());
            };
            if wait.mode == AckMode::Primary || wait.acks.acknowledged(Lsn(within), wait.mode) {
                return Ok(());
            }
            (Arc::clone(wait), Lsn(within))
        };
        self.stalls.fetch_add(1, Ordering::Relaxed);
        // The scanning thread queues lagging replicas every few milliseconds; now is sooner.
        wait.shipping.wake();
        match wait.acks.wait(within, wait.mode, wait.timeout) {
            Err(error @ AckError::TimedOut { .. }) => Err(Error::Replication(error)),
            Ok(()) | Err(AckError::NotEnoughReplicas { .. } | AckError::PrimaryFailed { .. }) => Ok(()),
        }
    }

    /// [`Partition::sync`], then waits until the replicas acknowledge every write so far
    /// as the ack mode asks (see [`Partition::await_replicas`]): what `Database::sync`
    /// promises a `Buffered` writer. On failure, tells what [`Partition::write_attempt`]
    /// tells, with the last record so far as the one enqueued: a failover that handed it
    /// over lost none of them.
    pub(crate) fn sync_attempt(&self) -> std::result::Result<(), WriteFailure> {
        let last = self.wal.last_lsn();
        let acknowledged = self
            .wal
            .sync()
            .map_err(Error::from)
            .and_then(|_| self.await_replicas(last));
        acknowledged.map_err(|error| self.failure(error, Some((last, None))))
    }
}
