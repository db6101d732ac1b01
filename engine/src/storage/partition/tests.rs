//! The write path's tests: the write order against flushes (the interleaving that lost
//! updates, forced; blind puts checked against the log), stalls, and retirement.

use super::*;
use crate::storage::partition::copy::LogHold;
use crate::storage::partition::test_support::tiny;
use crate::storage::record::decode_writes;
use std::collections::HashMap;

#[test]
fn a_retired_partition_writes_no_table() {
    let fs = dynastore_wal::fs::FaultyFs::new();
    let dir = Path::new("/data/az-a/T/p-0000");
    let partition = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
    for i in 0..20u8 {
        partition
            .write(vec![i; 12], false, |_| Ok(Some(Item::new().with("a", i64::from(i)))))
            .unwrap();
    }
    partition.retire();
    partition.flush().unwrap();
    partition.compact_all().unwrap();
    use dynastore_wal::fs::FileSystem;
    assert!(!fs.exists(&dir.join("sst")).unwrap(), "no table written after retire");
    assert!(!fs.exists(&dir.join("MANIFEST")).unwrap());
    // Without retire the same partition would flush.
    let other = Path::new("/data/az-a/T/p-0001");
    let live = Partition::open(fs.shared(), other, tiny(), None).unwrap();
    live.write(vec![1; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
        .unwrap();
    live.flush().unwrap();
    assert!(fs.exists(&other.join("MANIFEST")).unwrap());
}

/// A writer stalled because flushing fell behind goes on once the partition is retired
/// (deposed by a failover, or its table deleted): no flush will ever come. This hung a
/// writer of a deposed primary for good (the quorum failover test, in one of the first
/// few looped runs).
#[test]
fn a_writer_stalled_for_a_flush_goes_on_once_its_partition_is_retired() {
    let fs = dynastore_wal::fs::FaultyFs::new();
    let dir = Path::new("/data/az-a/T/p-0000");
    // A flush signal no flusher listens to: nothing flushes unless asked here.
    let partition = Arc::new(Partition::open(fs.shared(), dir, tiny(), Some(FlushSignal::default())).unwrap());
    for round in 0..FROZEN_MEMTABLES_MAX as u8 {
        partition
            .write(vec![round; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
            .unwrap();
        partition.freeze();
    }
    assert!(partition.behind());
    let (sender, receiver) = std::sync::mpsc::channel();
    let writer = {
        let partition = Arc::clone(&partition);
        std::thread::spawn(move || {
            let written = partition.write(vec![9; 12], false, |_| Ok(Some(Item::new().with("a", 9))));
            sender.send(written.is_ok()).unwrap();
        })
    };
    // Stalled: behind, with nobody to flush.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while partition.stalls.load(Ordering::Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "the writer never stalled");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(receiver.try_recv().is_err(), "a stalled write finished");
    partition.retire();
    assert_eq!(
        receiver.recv_timeout(std::time::Duration::from_secs(30)),
        Ok(true),
        "the writer still waits"
    );
    writer.join().unwrap();
    assert_eq!(partition.get(vec![9; 12]).unwrap(), Some(Item::new().with("a", 9)));
}

/// The number under attribute `n` of an item, 0 without one.
fn count(item: Option<&Item>) -> i64 {
    match item.and_then(|item| item.get("n")) {
        Some(crate::item::AttributeValue::N(n)) => n.to_string().parse().unwrap_or(-1),
        _ => 0,
    }
}

/// Issue 24's interleaving, forced. Writer A of a key is held between its log append
/// and its apply; writer B of the same key enqueues after it and finishes; a flush
/// freezes the memtable; A is released. A freeze that waited only while some *key* had
/// a write pending set the memtable aside with B's version as soon as B finished (B's
/// entry had replaced A's), and A then applied its older version to the new memtable,
/// where it shadowed B's: B's acknowledged update was lost, and the next flush made
/// that permanent. The freeze must wait for A. With `read_old`, B increments what A
/// wrote (a counter, read-modify-write); without, both are blind puts.
fn held_older_write_outlives_no_newer_one(read_old: bool) {
    let fs = dynastore_wal::fs::FaultyFs::new();
    let dir = Path::new("/data/az-a/T/p-0000");
    let partition = Arc::new(Partition::open(fs.shared(), dir, tiny(), None).unwrap());
    let key = || vec![7u8; 12];
    let (reached, release) = (
        Arc::new(std::sync::Barrier::new(2)),
        Arc::new(std::sync::Barrier::new(2)),
    );
    let held = Arc::new(AtomicBool::new(false));
    {
        let (reached, release, held) = (Arc::clone(&reached), Arc::clone(&release), Arc::clone(&held));
        // The first write to get there (A) waits, once.
        partition.hooks.set_before_apply(move |_| {
            if !held.swap(true, Ordering::SeqCst) {
                reached.wait();
                release.wait();
            }
        });
    }
    let write = move |partition: &Partition, blind: i64| {
        partition
            .write(key(), read_old, |old| {
                let n = if read_old { count(old) + 1 } else { blind };
                Ok(Some(Item::new().with("n", n)))
            })
            .unwrap();
    };
    let writer_a = {
        let partition = Arc::clone(&partition);
        std::thread::spawn(move || write(&partition, 1))
    };
    reached.wait();
    write(&partition, 2);
    let flusher = {
        let partition = Arc::clone(&partition);
        std::thread::spawn(move || partition.flush().unwrap())
    };
    // Release A once the freeze is waiting for it (or, were it not to wait, is over).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !partition.order.freezing() && !flusher.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the flush never froze");
        std::thread::yield_now();
    }
    release.wait();
    writer_a.join().unwrap();
    flusher.join().unwrap();
    let newest = Some(Item::new().with("n", 2));
    assert_eq!(partition.get(key()).unwrap(), newest, "the newer write was shadowed");
    partition.flush().unwrap();
    assert_eq!(partition.get(key()).unwrap(), newest, "lost once flushed");
    drop(partition);
    let reopened = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
    assert_eq!(reopened.get(key()).unwrap(), newest, "lost after a reopen");
}

#[test]
fn a_freeze_waits_for_an_older_read_modify_write_of_a_key_whose_newer_one_finished() {
    held_older_write_outlives_no_newer_one(true);
}

#[test]
fn a_freeze_waits_for_an_older_blind_put_of_a_key_whose_newer_one_finished() {
    held_older_write_outlives_no_newer_one(false);
}

/// Concurrent blind puts of a few keys, with flushes all along. Each writer reads its
/// key right after its put is acknowledged: the version it reads must be its own or a
/// newer one (by LSN, read back from the log, which a hold keeps whole), so a newer
/// version shadowed even for a moment is caught. Afterwards each key holds its put
/// with the highest LSN, before and after a reopen. On a real disk: fsyncs keep
/// several writes of one key in flight at once, finishing in any order.
#[test]
fn concurrent_blind_puts_with_flushes_never_show_an_older_put_than_the_newest_acknowledged() {
    const THREADS: u64 = 4;
    const PUTS: u64 = 1500;
    const KEYS: u64 = 2;
    let tmp = tempfile::tempdir().unwrap();
    let fs = dynastore_wal::fs::StdFs::shared();
    let dir = tmp.path();
    let partition = Arc::new(Partition::open(fs.clone(), dir, tiny(), None).unwrap());
    let key = |k: u64| vec![k as u8; 12];
    let hold = LogHold::new(&partition, Lsn(1));
    let done = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (partition, done) = (Arc::clone(&partition), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut flushes = 0u64;
            while !done.load(Ordering::Relaxed) {
                partition.flush().unwrap();
                flushes += 1;
            }
            flushes
        })
    };
    let value_of = |item: Option<Item>| match item.as_ref().and_then(|item| item.get("v")) {
        Some(crate::item::AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
        other => panic!("no value: {other:?}"),
    };
    // Per writer: (the value it put, the value it read right after).
    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || {
                let mut seen = Vec::with_capacity(PUTS as usize);
                for i in 0..PUTS {
                    let value = (thread * PUTS + i) as i64;
                    let k = key(i % KEYS);
                    partition
                        .write(k.clone(), false, |_| Ok(Some(Item::new().with("v", value))))
                        .unwrap();
                    seen.push((value, value_of(partition.get(k).unwrap())));
                }
                seen
            })
        })
        .collect();
    let seen: Vec<(i64, i64)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    done.store(true, Ordering::Relaxed);
    let flushes = flusher.join().unwrap();
    assert!(flushes > 1, "the writes raced no flush");
    let mut lsn_of = HashMap::new();
    let mut newest = std::collections::BTreeMap::new();
    for record in partition.wal.read_from(Lsn(1)).unwrap() {
        let record = record.unwrap();
        for (key, value) in decode_writes(&record.payload).unwrap() {
            let item = value.map(|bytes| decode_in_memory(bytes).unwrap());
            lsn_of.insert(value_of(item.clone()), record.lsn);
            newest.insert(key.to_vec(), item);
        }
    }
    for (written, read) in seen {
        assert!(
            lsn_of[&read] >= lsn_of[&written],
            "put {written} (at {}) was acknowledged, then a read showed {read} (at {})",
            lsn_of[&written],
            lsn_of[&read]
        );
    }
    assert_eq!(newest.len() as u64, KEYS);
    for (key, item) in &newest {
        assert_eq!(&partition.get(key.clone()).unwrap(), item, "key {key:?}");
    }
    drop(hold);
    drop(partition);
    let reopened = Partition::open(fs, dir, tiny(), None).unwrap();
    for (key, item) in &newest {
        assert_eq!(&reopened.get(key.clone()).unwrap(), item, "key {key:?} after a reopen");
    }
}
