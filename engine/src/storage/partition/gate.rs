//! How a copy's writes pass its replication group, without the copy knowing its role:
//! the group sets a [`WriteGate`] on the copy it makes primary (see `group::primary`), and
//! the write path asks it whether a write may enter the log, waits on it before a `Sync`
//! write is applied, and lets it hold a `Buffered` writer back. A copy with no gate set
//! (a replica, or the only copy) admits every write and waits for nothing.
//!
//! A copy's gate is set at most once (a primary keeps its role until it is deposed, and
//! a deposed copy is never made primary again: it rejoins as a freshly opened copy), so
//! it is read without a lock: every write asks it, from every writer thread.

use super::Partition;
use crate::error::Error;
use crate::error::Result;
use crate::item::Item;
use dynastore_wal::Lsn;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a copy's replication group decides of its writes (implemented by the group).
pub(crate) trait WriteGate: Send + Sync + std::fmt::Debug {
    /// Whether a write may enter the log now. Asked under the copy's write lock, so that a
    /// gate that closes under that lock (see [`Partition::serialized`]) has no write
    /// between its check and its record.
    ///
    /// Errors: the [`Refusal`].
    fn admit(&self) -> std::result::Result<(), Refusal>;
    /// Waits until record `lsn` (durable here) is acknowledged as the group requires,
    /// before a `Sync` write is applied and answered.
    ///
    /// Errors: [`Error::Replication`] if it was not.
    fn acknowledge(&self, lsn: Lsn) -> Result<()>;
    /// Holds a `Buffered` write (record `lsn`, applied) back while the group's replicas
    /// lag too far, calling `stalled` first if it does (a write stall).
    ///
    /// Errors: [`Error::Replication`] if they stay out of reach too long.
    fn keep_within_reach(&self, lsn: Lsn, stalled: &dyn Fn()) -> Result<()>;
    /// The last LSN of this copy's history a successor took over, if the group deposed
    /// it (nothing more is written here).
    fn deposed_at(&self) -> Option<Lsn>;
    /// The oldest LSN the log must keep for the group (the next record a live replica
    /// still lacks), if it needs any: a flush drops no record from it on.
    fn log_needed_from(&self) -> Option<Lsn>;
    /// The newest record no failover can lose: held durably by a replica as well, when
    /// the copy has replicas; `None` if every durable record counts (no replica).
    fn replicated_through(&self) -> Option<Lsn> {
        None
    }
}

/// Why a gate turned a write away before it entered the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A successor took over from this copy.
    Deposed,
    /// A promotion is handing this copy's history over: retry once it is done.
    HandingOver,
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

impl Partition {
    /// Whether the partition was taken out of service: retired (a replica copy closed, or
    /// its table deleted) or deposed. Its log may be fenced, so a flush or merge under way
    /// fails; it need not succeed, as the files are reopened or discarded. Both marks
    /// are set before the log is fenced, so a failure caused by the fence sees them.
    pub(super) fn out_of_service(&self) -> bool {
        self.retired.load(Ordering::Relaxed) || self.deposed_at().is_some()
    }

    /// Sets the gate this copy's writes pass (see [`WriteGate`]), once: the group makes
    /// the copy its primary. A second gate is refused (returned): a copy is made primary
    /// once.
    pub(crate) fn set_gate(&self, gate: Arc<dyn WriteGate>) -> std::result::Result<(), Arc<dyn WriteGate>> {
        self.gate.set(gate)
    }

    /// Whether the group set a gate on this copy (made it a primary).
    pub(crate) fn has_gate(&self) -> bool {
        self.gate.get().is_some()
    }

    /// The gate the group set, if it set one.
    pub(super) fn gate(&self) -> Option<&dyn WriteGate> {
        self.gate.get().map(|gate| &**gate)
    }

    /// The newest record of this copy's log that no failover can lose (see
    /// [`WriteGate::replicated_through`]); `None` if every durable one counts.
    pub(crate) fn replicated_through(&self) -> Option<Lsn> {
        self.gate().and_then(|gate| gate.replicated_through())
    }

    /// The last LSN of this copy's history a successor took over, if its group deposed it.
    pub(crate) fn deposed_at(&self) -> Option<Lsn> {
        self.gate().and_then(|gate| gate.deposed_at())
    }

    /// Runs `change` under the write lock: no write is between its gate check and its
    /// record meanwhile (how a gate closes for good).
    pub(crate) fn serialized(&self, change: impl FnOnce()) {
        self.order.serialized(change);
    }

    /// Fences the log: nothing more reaches its files (`reason` is what later writes are
    /// told). The group deposed the copy (its gate reports that before this is called);
    /// [`Partition::retire`] then stops its background work.
    pub(crate) fn fence(&self, reason: &str) {
        self.wal.fence(reason);
    }

    pub(super) fn check_gate(&self) -> std::result::Result<(), WriteFailure> {
        let refusal = match self.gate().map(|gate| gate.admit()) {
            None | Some(Ok(())) => return Ok(()),
            Some(Err(refusal)) => refusal,
        };
        Err(WriteFailure {
            error: Error::Wal(dynastore_wal::Error::Poisoned {
                cause: "the partition was deposed: a replica took over as primary".into(),
            }),
            enqueued: None,
            primary_lost: refusal == Refusal::Deposed,
            handing_over: refusal == Refusal::HandingOver,
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

    /// Waits until the group acknowledges record `lsn` (at once without a gate).
    pub(crate) fn await_replicas(&self, lsn: Lsn) -> Result<()> {
        self.gate().map_or(Ok(()), |gate| gate.acknowledge(lsn))
    }

    /// Holds a `Buffered` write (record `lsn`, applied) back while the group's replicas
    /// lag too far, counting a write stall if it did.
    ///
    /// Errors: [`Error::Replication`] if they stay out of reach for the acknowledgement
    /// timeout; the record stays in the log's history, applied, as a `Sync` write's whose
    /// acknowledgements time out.
    pub(super) fn keep_replicas_within_reach(&self, lsn: Lsn) -> Result<()> {
        let Some(gate) = self.gate() else {
            return Ok(());
        };
        gate.keep_within_reach(lsn, &|| {
            self.stalls.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// [`Partition::sync`], then waits until the group acknowledges every write so far
    /// (see [`Partition::await_replicas`]): what `Database::sync` promises a `Buffered`
    /// writer. On failure, tells what [`Partition::write_attempt`] tells, with the last
    /// record so far as the one enqueued: a failover that handed it over lost none of
    /// them.
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
