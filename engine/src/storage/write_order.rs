//! A partition's write order: the protocol between its writers and the freezing of its
//! memtable (the first step of a flush).
//!
//! # The protocol
//!
//! 1. A writer takes the write lock ([`WriteOrder::lock`]), reads the key's current
//!    version (the newest *pending* one if a write of the key is in flight, else the
//!    memtable and tables), enqueues its WAL record, which fixes its LSN, and notes its
//!    versions as in flight ([`WriteLock::enqueued`]).
//! 2. It releases the lock and waits for its record to be durable and acknowledged, so
//!    that concurrent writers share fsyncs (group commit).
//! 3. It *finishes*, under the write lock again: it applies its versions to the memtable
//!    ([`InFlight::apply`]) or, if its record never became durable, leaves them out
//!    ([`InFlight::abandon`]); either way it is no longer in flight.
//!
//! A freeze ([`WriteOrder::freeze`]) holds new writers out, waits until no write at all is
//! in flight, and only then sets the memtable aside.
//!
//! # The invariant, and why it holds
//!
//! *No version is ever applied behind a newer version of the same key that sits in a
//! frozen memtable or an SSTable.*
//!
//! Every write finishes in the memtable it was enqueued under: a freeze waits until the
//! count of writes in flight is zero, and no write is enqueued while a freeze is under way
//! (writers wait for it before they take the lock). So every version in a frozen memtable
//! (and so in an SSTable) was enqueued before the latest freeze, which is before any write
//! still in flight was enqueued; LSNs are assigned under the write lock, so it is older.
//! A version of the same key newer than a finishing write's was enqueued after it, in the
//! same memtable's lifetime: if it was applied, it is in the active memtable, where
//! [`crate::storage::memtable::apply`] sees it and keeps it.
//!
//! The count is of *writes*, not of keys. Two writes of one key in flight share the key's
//! pending entry (the newer replaces the older, for the next writer of the key to read),
//! so an empty set of pending keys does not mean that no write is in flight. A freeze that
//! waited for that set alone let the older of two such writes finish into the next
//! memtable, shadowing the newer one it had just frozen: an acknowledged update lost.
//!
//! The protocol is generic over its lock ([`Monitor`]) so that the interleaving tests can
//! run this very code under a scheduler that explores thread interleavings (`shuttle`).

use crate::storage::memtable::{Encoded, MemKey, Version};
use dynastore_wal::Lsn;
use std::collections::HashMap;
use std::ops::DerefMut;

/// A mutex with a condition variable: the blocking the protocol does. [`Parked`] in the
/// engine; the interleaving tests use one built on `shuttle`'s primitives.
pub(crate) trait Monitor<T>: Send + Sync {
    /// The lock held.
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;
    /// A monitor over `value`.
    fn new(value: T) -> Self;
    /// Takes the lock.
    fn lock(&self) -> Self::Guard<'_>;
    /// Releases the lock until [`Monitor::notify_all`] (or a spurious wake-up), then takes
    /// it again.
    fn wait<'a>(&'a self, guard: Self::Guard<'a>) -> Self::Guard<'a>;
    /// Wakes every waiter.
    fn notify_all(&self);
}

/// The engine's [`Monitor`]: a `parking_lot` mutex and condition variable.
#[derive(Debug, Default)]
pub(crate) struct Parked<T> {
    mutex: parking_lot::Mutex<T>,
    condvar: parking_lot::Condvar,
}

impl<T: Send> Monitor<T> for Parked<T> {
    type Guard<'a>
        = parking_lot::MutexGuard<'a, T>
    where
        Self: 'a;

    fn new(value: T) -> Self {
        Parked {
            mutex: parking_lot::Mutex::new(value),
            condvar: parking_lot::Condvar::new(),
        }
    }

    fn lock(&self) -> Self::Guard<'_> {
        self.mutex.lock()
    }

    fn wait<'a>(&'a self, mut guard: Self::Guard<'a>) -> Self::Guard<'a> {
        self.condvar.wait(&mut guard);
        guard
    }

    fn notify_all(&self) {
        self.condvar.notify_all();
    }
}

/// What the write lock guards.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Per key with a write in flight, the newest version enqueued: what the key's next
    /// writer reads.
    newest: HashMap<MemKey, Version>,
    /// Writes enqueued and not finished, over all keys.
    in_flight: usize,
    /// Whether a freeze is under way (new writers wait).
    freezing: bool,
    /// Freezes so far: a write must finish in the generation it was enqueued in.
    generation: u64,
}

/// A partition's write lock and its writes in flight (see the module docs).
#[derive(Debug)]
pub(crate) struct WriteOrder<M = Parked<Pending>> {
    monitor: M,
}

impl<M: Monitor<Pending>> Default for WriteOrder<M> {
    fn default() -> Self {
        WriteOrder {
            monitor: M::new(Pending::default()),
        }
    }
}

impl<M: Monitor<Pending>> WriteOrder<M> {
    /// Takes the write lock once no freeze is under way and `hold_back` returns false. It
    /// is asked again after every wake-up ([`WriteOrder::wake`]), with the lock held.
    pub(crate) fn lock(&self, mut hold_back: impl FnMut() -> bool) -> WriteLock<'_, M> {
        let mut pending = self.monitor.lock();
        while pending.freezing || hold_back() {
            pending = self.monitor.wait(pending);
        }
        WriteLock { order: self, pending }
    }

    /// Runs `f` under the write lock without waiting for a freeze under way: no write is
    /// then between its checks and its enqueue.
    pub(crate) fn serialized<R>(&self, f: impl FnOnce() -> R) -> R {
        let _pending = self.monitor.lock();
        f()
    }

    /// Wakes the writers waiting in [`WriteOrder::lock`], to ask `hold_back` again.
    pub(crate) fn wake(&self) {
        // Taken first, so that no writer is between its check and its wait: none misses it.
        drop(self.monitor.lock());
        self.monitor.notify_all();
    }

    /// Holds new writers out, waits until no write is in flight, and runs `set_aside`
    /// (which swaps the memtable for an empty one) with the write lock held.
    pub(crate) fn freeze<R>(&self, set_aside: impl FnOnce() -> R) -> R {
        let mut pending = self.monitor.lock();
        while pending.freezing {
            pending = self.monitor.wait(pending);
        }
        pending.freezing = true;
        while pending.in_flight > 0 {
            pending = self.monitor.wait(pending);
        }
        // Every write in flight leaves its key's entry once the newest of them finishes.
        debug_assert!(pending.newest.is_empty(), "no write in flight, yet pending keys");
        let set = set_aside();
        pending.generation += 1;
        pending.freezing = false;
        drop(pending);
        self.monitor.notify_all();
        set
    }

    /// Whether a freeze is under way (for tests that must see one wait).
    #[cfg(test)]
    pub(crate) fn freezing(&self) -> bool {
        self.monitor.lock().freezing
    }
}

/// The write lock, held.
pub(crate) struct WriteLock<'a, M: Monitor<Pending> + 'a = Parked<Pending>> {
    order: &'a WriteOrder<M>,
    pending: M::Guard<'a>,
}

impl<'a, M: Monitor<Pending>> WriteLock<'a, M> {
    /// The newest version of `key` a write in flight enqueued, if any: it is newer than
    /// any in the memtable or tables.
    pub(crate) fn newest(&self, key: &MemKey) -> Option<&Version> {
        self.pending.newest.get(key)
    }

    /// Notes `writes`, all of the record just enqueued at `lsn`, as in flight: until the
    /// returned [`InFlight`] finishes, the keys' next writers read these versions, and no
    /// freeze sets the memtable aside.
    pub(crate) fn enqueued(&mut self, lsn: Lsn, writes: Vec<(MemKey, Option<Encoded>)>) -> InFlight<'a, M> {
        let versions: Vec<(MemKey, Version)> = writes
            .into_iter()
            .map(|(key, value)| (key, Version { lsn, value }))
            .collect();
        for (key, version) in &versions {
            self.pending.newest.insert(key.clone(), version.clone());
        }
        self.pending.in_flight += 1;
        InFlight {
            order: self.order,
            lsn,
            generation: self.pending.generation,
            versions: Some(versions),
        }
    }
}

/// A write between its enqueue and its apply. It must finish ([`InFlight::apply`] or
/// [`InFlight::abandon`]); dropped, it is abandoned, so that a freeze never waits for a
/// write that will not come.
#[must_use = "a write in flight holds every freeze back until it finishes"]
pub(crate) struct InFlight<'a, M: Monitor<Pending> = Parked<Pending>> {
    order: &'a WriteOrder<M>,
    lsn: Lsn,
    generation: u64,
    /// Taken when it finishes.
    versions: Option<Vec<(MemKey, Version)>>,
}

impl<M: Monitor<Pending>> InFlight<'_, M> {
    /// The LSN of its record.
    pub(crate) fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Finishes the write: `apply` puts its versions into the memtable, under the write
    /// lock (see the module docs for why no newer version can then be elsewhere than in
    /// the memtable).
    pub(crate) fn apply<R>(mut self, apply: impl FnOnce(Vec<(MemKey, Version)>) -> R) -> R {
        self.finish(apply)
    }

    /// Finishes the write without applying it: its record never became durable.
    pub(crate) fn abandon(mut self) {
        self.finish(drop);
    }

    fn finish<R>(&mut self, apply: impl FnOnce(Vec<(MemKey, Version)>) -> R) -> R {
        let versions = self.versions.take().unwrap_or_default();
        let mut pending = self.order.monitor.lock();
        debug_assert_eq!(
            pending.generation, self.generation,
            "a freeze set the memtable aside while record {} was in flight",
            self.lsn
        );
        for (key, _) in &versions {
            if pending.newest.get(key).is_some_and(|newest| newest.lsn == self.lsn) {
                pending.newest.remove(key);
            }
        }
        pending.in_flight -= 1;
        let drained = pending.in_flight == 0;
        let applied = apply(versions);
        drop(pending);
        if drained {
            self.order.monitor.notify_all();
        }
        applied
    }
}

impl<M: Monitor<Pending>> Drop for InFlight<'_, M> {
    fn drop(&mut self) {
        if self.versions.is_some() {
            self.finish(drop);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The protocol under `shuttle`, which runs the threads one step at a time and chooses
    //! every switch between them (randomly, and by PCT, which weights the schedules that
    //! trip rare orderings): writers read-modify-write and blind-put a few keys, and a
    //! flusher freezes and moves frozen memtables to tables, over this module's real code
    //! with a model log (an LSN counter), model memtables and model tables.

    use super::*;
    use crate::storage::memtable::{self, Memtable};
    use shuttle::scheduler::{PctScheduler, RandomScheduler};
    use shuttle::sync::{Condvar, Mutex, MutexGuard};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, PoisonError};

    /// A [`Monitor`] whose blocking and waking the scheduler controls.
    struct Shuttled<T> {
        mutex: Mutex<T>,
        condvar: Condvar,
    }

    impl<T: Send> Monitor<T> for Shuttled<T> {
        type Guard<'a>
            = MutexGuard<'a, T>
        where
            Self: 'a;

        fn new(value: T) -> Self {
            Shuttled {
                mutex: Mutex::new(value),
                condvar: Condvar::new(),
            }
        }

        fn lock(&self) -> Self::Guard<'_> {
            self.mutex.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn wait<'a>(&'a self, guard: Self::Guard<'a>) -> Self::Guard<'a> {
            self.condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
        }

        fn notify_all(&self) {
            self.condvar.notify_all();
        }
    }

    /// The memtable, the frozen memtables and the tables, each list newest first.
    #[derive(Default)]
    struct Memtables {
        active: Memtable,
        frozen: Vec<Memtable>,
        tables: Vec<Memtable>,
    }

    /// A partition reduced to the protocol: the real [`WriteOrder`], an LSN counter for a
    /// log, and memtables.
    #[derive(Default)]
    struct Model {
        order: WriteOrder<Shuttled<Pending>>,
        memtables: Mutex<Memtables>,
        last_lsn: AtomicU64,
    }

    fn key(k: u8) -> MemKey {
        MemKey::new(vec![k; 9])
    }

    fn number(value: u64) -> Option<Encoded> {
        Some(Arc::from(value.to_be_bytes().as_slice()))
    }

    fn number_of(version: &Version) -> u64 {
        let bytes = version.value.as_deref().and_then(|bytes| bytes.try_into().ok());
        bytes.map_or(0, u64::from_be_bytes)
    }

    impl Model {
        /// What a read sees: the first version in the memtable, the frozen ones and the
        /// tables, newest first.
        fn read(&self, key: &MemKey) -> Option<Version> {
            let memtables = self.memtables.lock().unwrap_or_else(PoisonError::into_inner);
            std::iter::once(&memtables.active)
                .chain(&memtables.frozen)
                .chain(&memtables.tables)
                .find_map(|memtable| memtable.get(key).cloned())
        }

        /// One write of `key`: `next` derives its value from the current one. Returns its
        /// LSN once it is applied, as a partition acknowledges it.
        fn write(&self, key: &MemKey, next: impl FnOnce(Option<Version>) -> u64) -> Lsn {
            let mut lock = self.order.lock(|| false);
            let current = lock.newest(key).cloned().or_else(|| self.read(key));
            let value = number(next(current));
            let lsn = Lsn(self.last_lsn.fetch_add(1, Ordering::Relaxed) + 1);
            let in_flight = lock.enqueued(lsn, vec![(key.clone(), value)]);
            drop(lock);
            // The wait for the record to be durable: other writers and the flusher run.
            shuttle::thread::yield_now();
            in_flight.apply(|versions| {
                let mut memtables = self.memtables.lock().unwrap_or_else(PoisonError::into_inner);
                for (key, version) in versions {
                    memtable::apply(&mut memtables.active, key, version);
                }
            });
            lsn
        }

        /// A flush: the memtable is frozen, then (as its table is written, outside the
        /// write lock) the oldest frozen memtable becomes the newest table.
        fn flush(&self) {
            self.order.freeze(|| {
                let mut memtables = self.memtables.lock().unwrap_or_else(PoisonError::into_inner);
                let frozen = std::mem::take(&mut memtables.active);
                memtables.frozen.insert(0, frozen);
            });
            shuttle::thread::yield_now();
            let mut memtables = self.memtables.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(oldest) = memtables.frozen.pop() {
                memtables.tables.insert(0, oldest);
            }
        }
    }

    const WRITERS: u64 = 3;
    const WRITES_EACH: u64 = 2;

    /// One run: writers increment a counter and blind-put a second key, a flusher flushes
    /// twice. Every acknowledged write is read back at once as itself or newer; at the end
    /// the counter counts every increment, and the blind key holds its highest-LSN put.
    fn writers_and_a_flusher() {
        let model = Arc::new(Model::default());
        let (counter, blind) = (key(1), key(2));
        let flusher = {
            let model = Arc::clone(&model);
            shuttle::thread::spawn(move || {
                model.flush();
                model.flush();
            })
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (model, counter, blind) = (Arc::clone(&model), counter.clone(), blind.clone());
                shuttle::thread::spawn(move || {
                    let mut puts = Vec::new();
                    for i in 0..WRITES_EACH {
                        let lsn = model.write(&counter, |current| current.as_ref().map_or(0, number_of) + 1);
                        let seen = model.read(&counter).map(|version| version.lsn);
                        assert!(seen >= Some(lsn), "increment {lsn} acknowledged, then {seen:?} read");
                        let value = writer * WRITES_EACH + i;
                        let lsn = model.write(&blind, |_| value);
                        let seen = model.read(&blind).map(|version| version.lsn);
                        assert!(seen >= Some(lsn), "put {lsn} acknowledged, then {seen:?} read");
                        puts.push((lsn, value));
                    }
                    puts
                })
            })
            .collect();
        let mut puts = Vec::new();
        for writer in writers {
            puts.extend(writer.join().unwrap_or_default());
        }
        flusher.join().unwrap_or_default();
        let total = model.read(&counter).as_ref().map(number_of);
        assert_eq!(total, Some(WRITERS * WRITES_EACH), "increments lost");
        let newest = puts.iter().max().map(|&(_, value)| value);
        assert_eq!(model.read(&blind).as_ref().map(number_of), newest, "not the newest put");
    }

    #[test]
    fn no_acknowledged_write_is_lost_or_shadowed_under_random_schedules() {
        let scheduler = RandomScheduler::new_from_seed(dynastore_testkit::seed(), 10_000);
        shuttle::Runner::new(scheduler, shuttle::Config::default()).run(writers_and_a_flusher);
    }

    #[test]
    fn no_acknowledged_write_is_lost_or_shadowed_under_pct_schedules() {
        let scheduler = PctScheduler::new_from_seed(dynastore_testkit::seed(), 3, 10_000);
        shuttle::Runner::new(scheduler, shuttle::Config::default()).run(writers_and_a_flusher);
    }
}
