//! Shipping a primary log to replicas: byte-identical copies, only durable records
//! shipped, acknowledgements counted per mode, failed replicas left behind without
//! blocking the others, and older epochs fenced off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_replication::{AckError, AckMode, ReplicaSink, ReplicaState, ShipStream};
use dynastore_wal::fs::{FaultKind, FaultyFs, FileSystem, OpKind, SharedFs, read_file};
use dynastore_wal::{Durability, Epoch, Lsn, Wal, WalOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_millis(20);

fn small_segments() -> WalOptions {
    WalOptions {
        segment_bytes_max: 2048,
        ..WalOptions::default()
    }
}

fn open(fs: &SharedFs, dir: &str, options: WalOptions) -> Arc<Wal> {
    Arc::new(Wal::open(fs.clone(), dir, options).unwrap().0)
}

fn payload(seq: u64) -> Vec<u8> {
    let len = 10 + (seq as usize * 37) % 300;
    (0..len).map(|i| (seq as usize + i) as u8).collect()
}

/// Pumps until nothing more is shipped.
fn drain(stream: &mut ShipStream) -> u64 {
    let mut total = 0;
    loop {
        let shipped = stream.pump(WAIT);
        if shipped == 0 {
            return total;
        }
        total += shipped;
    }
}

fn files(fs: &dyn FileSystem, dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut names = fs.read_dir(dir.as_ref()).unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = read_file(fs, &std::path::Path::new(dir).join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn replicas_get_byte_identical_logs_and_every_mode_acknowledges() {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let primary = open(&fs, "/az-a/wal", small_segments());
    let replicas: Vec<Arc<dyn ReplicaSink>> = ["/az-b/wal", "/az-c/wal"]
        .iter()
        .map(|dir| open(&fs, dir, small_segments()) as Arc<dyn ReplicaSink>)
        .collect();
    let mut stream = ShipStream::new(Arc::clone(&primary), replicas);
    let acks = stream.acks();
    let mut last = Lsn(0);
    for seq in 0..300 {
        last = primary.append(Epoch(1), &payload(seq)).unwrap();
    }
    assert!(primary.segments().len() > 10, "the records span many segments");
    assert!(
        matches!(acks.wait(last, AckMode::Quorum, Duration::ZERO), Err(AckError::TimedOut { lsn, .. }) if lsn == last),
        "nothing shipped yet"
    );
    assert_eq!(drain(&mut stream), 2 * 300);
    for mode in [AckMode::Primary, AckMode::Quorum, AckMode::All] {
        acks.wait(last, mode, Duration::ZERO).unwrap();
    }
    assert_eq!(
        acks.replicas(),
        vec![ReplicaState::Live(last), ReplicaState::Live(last)]
    );
    let original = files(fs.as_ref(), "/az-a/wal");
    assert_eq!(
        files(fs.as_ref(), "/az-b/wal"),
        original,
        "segment for segment, byte for byte"
    );
    assert_eq!(files(fs.as_ref(), "/az-c/wal"), original);
}

#[test]
fn only_records_durable_on_the_primary_are_shipped() {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let buffered = WalOptions {
        durability: Durability::Buffered {
            interval: Duration::from_secs(3600),
        },
        ..WalOptions::default()
    };
    let primary = open(&fs, "/az-a/wal", buffered);
    let replica = open(&fs, "/az-b/wal", WalOptions::default());
    let mut stream = ShipStream::new(Arc::clone(&primary), vec![Arc::clone(&replica) as Arc<dyn ReplicaSink>]);
    for seq in 0..10 {
        primary.append(Epoch(1), &payload(seq)).unwrap();
    }
    assert_eq!(stream.pump(WAIT), 0, "nothing is durable on the primary yet");
    assert_eq!(replica.last_lsn(), Lsn(0));
    let durable = primary.sync().unwrap();
    assert_eq!(drain(&mut stream), 10);
    assert_eq!(replica.durable_lsn(), durable);
}

#[test]
fn a_failed_replica_is_left_behind_and_counts_for_no_acknowledgement() {
    let fs = FaultyFs::new().shared();
    let broken_disk = FaultyFs::new();
    let primary = open(&fs, "/az-a/wal", WalOptions::default());
    let healthy = open(&fs, "/az-b/wal", WalOptions::default());
    let broken = open(&broken_disk.shared(), "/az-c/wal", WalOptions::default());
    let mut stream = ShipStream::new(
        Arc::clone(&primary),
        vec![healthy as Arc<dyn ReplicaSink>, broken as Arc<dyn ReplicaSink>],
    );
    let acks = stream.acks();
    broken_disk.fail_after(&[OpKind::Write], 0, FaultKind::Io);
    let last = primary.append(Epoch(1), b"one").unwrap();
    drain(&mut stream);
    let states = acks.replicas();
    assert_eq!(states[0], ReplicaState::Live(last));
    assert!(
        matches!(&states[1], ReplicaState::Failed(Lsn(0), reason) if reason.contains("appending")),
        "{states:?}"
    );
    acks.wait(last, AckMode::Quorum, Duration::ZERO).unwrap();
    assert_eq!(
        acks.wait(last, AckMode::All, Duration::from_secs(5)),
        Err(AckError::NotEnoughReplicas { needed: 2, alive: 1 }),
        "All gives up at once: the failed replica will not come back by itself"
    );
    // The healthy replica keeps up; nothing more goes to the failed one.
    let next = primary.append(Epoch(1), b"two").unwrap();
    assert_eq!(drain(&mut stream), 1);
    acks.wait(next, AckMode::Quorum, Duration::ZERO).unwrap();
}

/// A sink whose appends fail while `down` is set.
struct Flaky {
    wal: Arc<Wal>,
    down: AtomicBool,
}

impl ReplicaSink for Flaky {
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn> {
        if self.down.load(Ordering::Relaxed) {
            return Err(dynastore_wal::Error::Closed);
        }
        ReplicaSink::append_framed(self.wal.as_ref(), segment, bytes, on_durable)
    }

    fn durable_lsn(&self) -> Lsn {
        self.wal.durable_lsn()
    }
}

#[test]
fn quorum_waits_while_no_replica_keeps_up_and_a_revived_replica_catches_up() {
    let fs = FaultyFs::new().shared();
    let primary = open(&fs, "/az-a/wal", WalOptions::default());
    let flaky = Arc::new(Flaky {
        wal: open(&fs, "/az-b/wal", WalOptions::default()),
        down: AtomicBool::new(true),
    });
    let mut stream = ShipStream::new(Arc::clone(&primary), vec![Arc::clone(&flaky) as Arc<dyn ReplicaSink>]);
    let acks = stream.acks();
    let first = primary.append(Epoch(1), b"one").unwrap();
    // Primary mode acknowledges what the primary holds, whatever the replicas do.
    acks.wait(first, AckMode::Primary, Duration::ZERO).unwrap();
    assert!(matches!(
        acks.wait(first, AckMode::Quorum, Duration::from_millis(30)),
        Err(AckError::TimedOut { .. })
    ));
    stream.pump(WAIT);
    assert_eq!(
        acks.wait(first, AckMode::Quorum, Duration::ZERO),
        Err(AckError::NotEnoughReplicas { needed: 1, alive: 0 })
    );
    let second = primary.append(Epoch(1), b"two").unwrap();
    assert_eq!(stream.pump(WAIT), 0, "a failed replica is not shipped to");
    flaky.down.store(false, Ordering::Relaxed);
    stream.revive(0);
    assert_eq!(drain(&mut stream), 2, "it resumes from its own durable LSN");
    acks.wait(second, AckMode::All, Duration::ZERO).unwrap();
}

#[test]
fn a_replica_that_moved_to_a_newer_epoch_refuses_the_old_primary() {
    let fs = FaultyFs::new().shared();
    let old_primary = open(&fs, "/az-a/wal", WalOptions::default());
    let replica = open(&fs, "/az-b/wal", WalOptions::default());
    let first = old_primary.append(Epoch(1), b"one").unwrap();
    let mut stream = ShipStream::new(
        Arc::clone(&old_primary),
        vec![Arc::clone(&replica) as Arc<dyn ReplicaSink>],
    );
    assert_eq!(drain(&mut stream), 1);
    // The replica is promoted and writes under epoch 2; the deposed primary goes on.
    let promoted = replica.append(Epoch(2), b"new history").unwrap();
    old_primary.append(Epoch(1), b"stale").unwrap();
    drain(&mut stream);
    let states = stream.acks().replicas();
    assert!(
        matches!(&states[0], ReplicaState::Failed(lsn, _) if *lsn == promoted),
        "{states:?}"
    );
    assert_eq!(replica.last_lsn(), first.next(), "the stale record never landed");
}

/// Writers wait for Quorum while a shipper thread pumps: every acknowledged record is
/// durable on the replica by the time its writer hears so.
#[test]
fn concurrent_writers_are_acknowledged_only_once_a_replica_holds_their_record() {
    let fs = FaultyFs::new().shared();
    let primary = open(&fs, "/az-a/wal", small_segments());
    let replica = open(&fs, "/az-b/wal", small_segments());
    let stream = ShipStream::new(Arc::clone(&primary), vec![Arc::clone(&replica) as Arc<dyn ReplicaSink>]);
    let acks = stream.acks();
    let stop = Arc::new(AtomicBool::new(false));
    let shipper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                stream.pump(Duration::from_millis(5));
            }
        })
    };
    let writers: Vec<_> = (0..4u64)
        .map(|thread| {
            let (primary, replica, acks) = (Arc::clone(&primary), Arc::clone(&replica), Arc::clone(&acks));
            std::thread::spawn(move || {
                for seq in 0..50 {
                    let lsn = primary.append(Epoch(1), &payload(thread * 1000 + seq)).unwrap();
                    acks.wait(lsn, AckMode::Quorum, Duration::from_secs(10)).unwrap();
                    assert!(replica.durable_lsn() >= lsn, "acknowledged before the replica held it");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    shipper.join().unwrap();
    assert_eq!(replica.durable_lsn(), primary.last_lsn());
}

#[test]
fn deposing_wakes_waiters_and_a_replaced_replica_resumes_from_its_own_log() {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let primary = open(&fs, "/az-a/wal", small_segments());
    let replicas: Vec<Arc<dyn ReplicaSink>> = vec![
        open(&fs, "/az-b/wal", small_segments()),
        open(&fs, "/az-c/wal", small_segments()),
    ];
    let mut stream = ShipStream::new(Arc::clone(&primary), replicas);
    let acks = stream.acks();
    for seq in 0..10 {
        primary.append(Epoch(1), &payload(seq)).unwrap();
    }
    drain(&mut stream);
    assert_eq!(acks.min_live_durable(), Some(Lsn(10)));
    acks.fail(1, "az-c is down");
    assert_eq!(acks.replicas()[1], ReplicaState::Failed(Lsn(10), "az-c is down".into()));
    for seq in 10..15 {
        primary.append(Epoch(1), &payload(seq)).unwrap();
    }
    drain(&mut stream);
    // The failed replica no longer holds back the primary's log, nor gets records.
    assert_eq!(acks.min_live_durable(), Some(Lsn(15)));
    assert_eq!(acks.replicas()[1].durable_lsn(), Lsn(10));

    // A rebuilt replica (here a fresh log fed the first 10 records) resumes from its own end.
    let rebuilt = open(&fs, "/az-c/rebuilt", small_segments());
    for seq in 0..10 {
        rebuilt.append(Epoch(1), &payload(seq)).unwrap();
    }
    stream.replace(1, Arc::clone(&rebuilt) as Arc<dyn ReplicaSink>);
    drain(&mut stream);
    assert_eq!(rebuilt.durable_lsn(), Lsn(15));
    acks.wait(Lsn(15), AckMode::All, Duration::ZERO).unwrap();

    // A writer waiting for a record no replica holds wakes when every replica fails.
    let lsn = primary.append(Epoch(1), &payload(15)).unwrap();
    let waiter = {
        let acks = Arc::clone(&acks);
        std::thread::spawn(move || acks.wait(lsn, AckMode::Quorum, Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(20));
    acks.fail_all("deposed");
    assert_eq!(
        waiter.join().unwrap(),
        Err(AckError::NotEnoughReplicas { needed: 1, alive: 0 })
    );
    assert_eq!(acks.min_live_durable(), None);
}

/// Shipping from several threads at once (a thread per replica, and writers shipping
/// their own records, racing them) keeps every replica's log an exact, ordered copy.
#[test]
fn shipping_from_several_threads_keeps_every_replica_an_exact_copy() {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let primary = open(&fs, "/az-a/wal", small_segments());
    let replicas: Vec<Arc<dyn ReplicaSink>> = vec![
        open(&fs, "/az-b/wal", small_segments()),
        open(&fs, "/az-c/wal", small_segments()),
    ];
    let stream = Arc::new(ShipStream::new(Arc::clone(&primary), replicas));
    let acks = stream.acks();
    let done = Arc::new(AtomicBool::new(false));
    let shippers: Vec<_> = (0..2)
        .map(|replica| {
            let (stream, done) = (Arc::clone(&stream), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    stream.pump_replica(replica);
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let (primary, stream, acks) = (Arc::clone(&primary), Arc::clone(&stream), Arc::clone(&acks));
            std::thread::spawn(move || {
                for seq in 0..100 {
                    let lsn = primary.append(Epoch(1), &payload(writer * 1000 + seq)).unwrap();
                    // Writers ship too, racing the threads for each replica's lock.
                    stream.pump_replica((writer % 2) as usize);
                    acks.wait(lsn, AckMode::Quorum, Duration::from_secs(30)).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    acks.wait(Lsn(400), AckMode::All, Duration::from_secs(30)).unwrap();
    done.store(true, Ordering::Relaxed);
    for shipper in shippers {
        shipper.join().unwrap();
    }
    let expected = files(&faulty, "/az-a/wal");
    assert_eq!(files(&faulty, "/az-b/wal"), expected);
    assert_eq!(files(&faulty, "/az-c/wal"), expected);
}

#[test]
fn a_writer_waits_for_a_joining_replica_and_gives_up_once_it_fails() {
    let faulty = FaultyFs::new();
    let fs = faulty.shared();
    let primary = open(&fs, "/az-a/wal", small_segments());
    // Neither replica has a copy in service yet: both are being created.
    let absent: Vec<Arc<dyn ReplicaSink>> = vec![
        open(&fs, "/az-b/placeholder", small_segments()),
        open(&fs, "/az-c/placeholder", small_segments()),
    ];
    let mut stream = ShipStream::new(Arc::clone(&primary), absent);
    let acks = stream.acks();
    acks.join(0);
    acks.join(1);
    assert_eq!(
        acks.replicas(),
        vec![ReplicaState::Joining(Lsn(0)), ReplicaState::Joining(Lsn(0))]
    );
    let lsn = primary.append(Epoch(1), &payload(0)).unwrap();
    primary.sync().unwrap();
    // A joining replica is not shipped to, and holds nothing...
    assert_eq!(drain(&mut stream), 0);
    assert!(!acks.acknowledged(lsn, AckMode::Quorum));
    assert_eq!(acks.min_live_durable(), None);
    // ...but a Quorum writer waits for it rather than giving up at once.
    assert!(matches!(
        acks.wait(lsn, AckMode::Quorum, WAIT),
        Err(AckError::TimedOut { .. })
    ));

    // Once a copy is in service, it is shipped to and the waiting writer is acknowledged.
    let waiter = {
        let acks = Arc::clone(&acks);
        std::thread::spawn(move || acks.wait(lsn, AckMode::Quorum, Duration::from_secs(30)))
    };
    stream.replace(0, open(&fs, "/az-b/wal", small_segments()) as Arc<dyn ReplicaSink>);
    assert_eq!(drain(&mut stream), 1);
    assert_eq!(waiter.join().unwrap(), Ok(()));
    assert_eq!(acks.replicas()[0], ReplicaState::Live(lsn));
    assert_eq!(acks.replicas()[1], ReplicaState::Joining(Lsn(0)));

    // `All` waits for the other one too, and gives up as soon as it fails to join.
    let waiter = {
        let acks = Arc::clone(&acks);
        std::thread::spawn(move || acks.wait(lsn, AckMode::All, Duration::from_secs(30)))
    };
    std::thread::sleep(WAIT);
    acks.fail(1, "creating its copy failed");
    assert_eq!(
        waiter.join().unwrap(),
        Err(AckError::NotEnoughReplicas { needed: 2, alive: 1 })
    );
}

/// A sink whose appends wait while `held` is set (a disk whose fsync hangs), once the
/// records are in its log.
struct Hanging {
    wal: Arc<Wal>,
    held: parking_lot::Mutex<bool>,
    released: parking_lot::Condvar,
    /// Set once an append is waiting.
    waiting: AtomicBool,
}

impl ReplicaSink for Hanging {
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn> {
        let mut held = self.held.lock();
        while *held {
            self.waiting.store(true, Ordering::Release);
            self.released.wait(&mut held);
        }
        ReplicaSink::append_framed(self.wal.as_ref(), segment, bytes, on_durable)
    }

    fn durable_lsn(&self) -> Lsn {
        self.wal.durable_lsn()
    }
}

/// A stream from a primary to two replicas, the first of which hangs in a shipment of
/// the primary's first record (under way in `shipping`, which returns the records it
/// shipped once `hanging` is released), the second free.
struct OneShipmentHung {
    fs: SharedFs,
    primary: Arc<Wal>,
    hanging: Arc<Hanging>,
    free: Arc<Wal>,
    stream: Arc<ShipStream>,
    first: Lsn,
    shipping: std::thread::JoinHandle<u64>,
}

fn one_shipment_hung() -> OneShipmentHung {
    let fs = FaultyFs::new().shared();
    let primary = open(&fs, "/az-a/wal", WalOptions::default());
    let hanging = Arc::new(Hanging {
        wal: open(&fs, "/az-b/wal", WalOptions::default()),
        held: parking_lot::Mutex::new(true),
        released: parking_lot::Condvar::new(),
        waiting: AtomicBool::new(false),
    });
    let free = open(&fs, "/az-c/wal", WalOptions::default());
    let stream = Arc::new(ShipStream::new(
        Arc::clone(&primary),
        vec![
            Arc::clone(&hanging) as Arc<dyn ReplicaSink>,
            Arc::clone(&free) as Arc<dyn ReplicaSink>,
        ],
    ));
    let first = primary.append(Epoch(1), b"one").unwrap();
    let shipping = {
        let stream = Arc::clone(&stream);
        std::thread::spawn(move || stream.pump_replica(0))
    };
    while !hanging.waiting.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
    OneShipmentHung {
        fs,
        primary,
        hanging,
        free,
        stream,
        first,
        shipping,
    }
}

impl Hanging {
    /// Lets the appends waiting (and later ones) through.
    fn release(&self) {
        *self.held.lock() = false;
        self.released.notify_all();
    }
}

/// Finishing a stream (a promotion) hands every replica that is free what the primary
/// made durable, and does not wait for one whose shipment hangs: that one is marked
/// failed, and what its shipment reports once it ends acknowledges nothing, because
/// the promotion did not see it. `finish_replica` waits for it (a promotion that chose
/// it), and `resume` (a promotion that could not go on) ships to it again.
#[test]
fn finishing_leaves_a_hung_shipment_out_and_it_acknowledges_nothing() {
    let OneShipmentHung {
        fs: _,
        primary,
        hanging,
        free,
        stream,
        first,
        shipping,
    } = one_shipment_hung();
    let acks = stream.acks();
    let second = primary.append(Epoch(1), b"two").unwrap();
    assert_eq!(stream.finish(WAIT), vec![true, false]);
    assert_eq!(
        free.durable_lsn(),
        second,
        "the free replica was handed everything durable"
    );
    assert!(matches!(acks.replicas()[0], ReplicaState::Failed(..)));
    // Nothing more is shipped, and the hung shipment, once over, counts for nothing.
    let third = primary.append(Epoch(1), b"three").unwrap();
    assert_eq!(stream.pump_replica(1), 0);
    hanging.release();
    assert_eq!(shipping.join().unwrap(), 1);
    assert_eq!(hanging.durable_lsn(), first);
    assert!(matches!(acks.replicas()[0], ReplicaState::Failed(..)));
    assert!(!acks.acknowledged(first, AckMode::All));
    // A promotion that chose it hands it the rest, still acknowledging nothing.
    stream.finish_replica(0);
    assert_eq!(hanging.durable_lsn(), third);
    assert!(!acks.acknowledged(first, AckMode::All));
    // A promotion that could not go on: shipping resumes, and counts again.
    stream.resume();
    assert_eq!(stream.pump_replica(0) + stream.pump_replica(1), 1);
    acks.wait(third, AckMode::All, Duration::ZERO).unwrap();
}

/// Taking a replica out of service while a shipment to it hangs does not wait for it: the
/// replica is failed at once, and that shipment, once over, neither acknowledges its
/// record nor marks the replica live again, even after the stream resumes from a
/// promotion that could not go on. A copy put in its place is shipped to, and counts.
#[test]
fn a_replica_failed_during_a_hung_shipment_stays_failed_until_replaced() {
    let OneShipmentHung {
        fs,
        primary,
        hanging,
        free: _,
        stream,
        first,
        shipping,
    } = one_shipment_hung();
    let acks = stream.acks();
    // Returns although the shipment to replica 0 is under way (this thread would hang
    // otherwise: nothing releases the sink until it returns).
    stream.fail_replica(0, "az-b failed");
    assert!(matches!(&acks.replicas()[0], ReplicaState::Failed(_, reason) if reason == "az-b failed"));
    hanging.release();
    assert_eq!(shipping.join().unwrap(), 1, "the hung shipment went through");
    assert_eq!(hanging.durable_lsn(), first);
    assert!(matches!(acks.replicas()[0], ReplicaState::Failed(..)));
    assert!(!acks.acknowledged(first, AckMode::All), "a failed replica acknowledged");
    // Not shipped to, and a resumed stream (an aborted promotion) leaves it failed.
    let second = primary.append(Epoch(1), b"two").unwrap();
    assert_eq!(stream.finish(WAIT), vec![false, false]);
    stream.resume();
    assert_eq!(stream.pump_replica(0), 0);
    assert!(matches!(acks.replicas()[0], ReplicaState::Failed(..)));
    // A copy put in its place is shipped to from its own durable LSN, and counts.
    let replacement = open(&fs, "/az-b2/wal", WalOptions::default());
    stream.replace(0, Arc::clone(&replacement) as Arc<dyn ReplicaSink>);
    while stream.pump_replica(0) > 0 {}
    assert_eq!(replacement.durable_lsn(), second);
    acks.wait(second, AckMode::All, Duration::ZERO).unwrap();
}

/// A replica held out of service (its AZ failed) stays failed through everything that
/// would make it live again: a shipment under way that ends, a copy put in its place (a
/// repair that raced the failure), being marked joining, and a resumed stream. Readmitted,
/// the next copy put in its place is live and acknowledges.
#[test]
fn a_replica_held_out_stays_failed_until_readmitted() {
    let OneShipmentHung {
        fs,
        primary,
        hanging,
        free: _,
        stream,
        first,
        shipping,
    } = one_shipment_hung();
    let acks = stream.acks();
    stream.hold_out(0, "az-b failed");
    assert!(acks.is_held_out(0));
    hanging.release();
    assert_eq!(shipping.join().unwrap(), 1);
    assert!(
        !acks.acknowledged(first, AckMode::All),
        "the hung shipment acknowledged"
    );
    // A copy put in service just as the AZ failed is not live, and is shipped nothing.
    let raced = open(&fs, "/az-b/raced", WalOptions::default());
    assert!(!stream.replace(0, Arc::clone(&raced) as Arc<dyn ReplicaSink>));
    acks.join(0);
    assert!(!stream.revive(0));
    assert_eq!(stream.finish(WAIT), vec![false, false]);
    stream.resume();
    let second = primary.append(Epoch(1), b"two").unwrap();
    assert_eq!(stream.pump_replica(0), 0);
    assert_eq!(raced.durable_lsn(), Lsn::ZERO);
    assert!(matches!(&acks.replicas()[0], ReplicaState::Failed(_, reason) if reason == "az-b failed"));
    // Back: the next copy goes live, catches up and counts.
    stream.readmit(0);
    assert!(!acks.is_held_out(0));
    let back = open(&fs, "/az-b/back", WalOptions::default());
    assert!(stream.replace(0, Arc::clone(&back) as Arc<dyn ReplicaSink>));
    while stream.pump_replica(0) > 0 {}
    assert_eq!(back.durable_lsn(), second);
    while stream.pump_replica(1) > 0 {}
    acks.wait(second, AckMode::All, Duration::ZERO).unwrap();
}

/// A replica taken out to be brought back (a repair reopening its copy) is joining at
/// once, not failed: an `All` writer that needs it keeps waiting instead of giving up,
/// the hung shipment under way acknowledges nothing when it ends, and once a copy is put
/// in its place the writer is acknowledged. A replica held out (its AZ failed) stays
/// failed, and the writer gives up.
#[test]
fn a_replica_taken_out_to_rejoin_is_waited_for() {
    let OneShipmentHung {
        fs,
        primary,
        hanging,
        free,
        stream,
        first,
        shipping,
    } = one_shipment_hung();
    let acks = stream.acks();
    while stream.pump_replica(1) > 0 {}
    assert_eq!(free.durable_lsn(), first);
    // Returns although the shipment to replica 0 is under way.
    stream.rejoin_replica(0);
    assert_eq!(acks.replicas()[0], ReplicaState::Joining(Lsn::ZERO));
    let waiter = {
        let acks = Arc::clone(&acks);
        std::thread::spawn(move || acks.wait(first, AckMode::All, Duration::from_secs(30)))
    };
    hanging.release();
    assert_eq!(shipping.join().unwrap(), 1, "the hung shipment went through");
    assert_eq!(
        acks.replicas()[0],
        ReplicaState::Joining(Lsn::ZERO),
        "the hung shipment counted"
    );
    assert!(!waiter.is_finished(), "the writer gave up on a joining replica");
    assert_eq!(stream.pump_replica(0), 0, "a joining replica was shipped to");
    let rebuilt = open(&fs, "/az-b/rebuilt", WalOptions::default());
    assert!(stream.replace(0, Arc::clone(&rebuilt) as Arc<dyn ReplicaSink>));
    assert_eq!(stream.pump_replica(0), 1);
    assert_eq!(waiter.join().unwrap(), Ok(()));

    // Held out, it is not made joining: a writer that needs it gives up at once.
    let second = primary.append(Epoch(1), b"two").unwrap();
    stream.hold_out(0, "az-b failed");
    stream.rejoin_replica(0);
    assert!(matches!(&acks.replicas()[0], ReplicaState::Failed(_, reason) if reason == "az-b failed"));
    assert_eq!(
        acks.wait(second, AckMode::All, Duration::from_secs(30)),
        Err(AckError::NotEnoughReplicas { needed: 2, alive: 1 })
    );
}
