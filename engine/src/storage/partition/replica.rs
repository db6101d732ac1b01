//! A partition copy as a replica: it takes records shipped from its primary's log, byte
//! for byte, into its own log and applies them to its memtable.

use super::Partition;
use crate::storage::memtable::MemKey;
use crate::storage::memtable::Version;
use crate::storage::record::decode_writes;
use dynastore_wal::Lsn;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A partition is also a replica: it takes records shipped from its primary's log, byte
/// for byte, into its own log and applies them to its memtable, then flushes and compacts
/// them as its own writes.
impl dynastore_replication::ReplicaSink for Partition {
    /// Checks that every record decodes before any lands; appends them durably (a log
    /// refuses records that do not continue it or come from an older epoch); applies them.
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn> {
        let mut records = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let frame =
                dynastore_wal::record::decode(&bytes[pos..]).map_err(|e| dynastore_wal::Error::InvalidFrame {
                    offset: pos,
                    reason: e.to_string(),
                })?;
            let writes = decode_writes(frame.payload).map_err(|reason| dynastore_wal::Error::InvalidFrame {
                offset: pos,
                reason: format!("record {} does not decode: {reason}", frame.lsn),
            })?;
            // Fencing: once this replica moved to a newer epoch (a promotion), a deposed
            // primary's records are refused even where its own log would take them.
            if frame.epoch < self.epoch() && frame.lsn.0 >= self.epoch_first_lsn.load(Ordering::Relaxed) {
                return Err(dynastore_wal::Error::EpochRegressed {
                    epoch: frame.epoch,
                    last: self.epoch(),
                });
            }
            records.push((frame.lsn, writes));
            pos += frame.framed_len();
        }
        // Under the write lock, as a local write: a flush's freeze sees the log and the
        // memtable agree.
        let lock = self.lock_pending();
        let last = self.wal.append_framed(segment, bytes)?;
        self.wal.sync()?;
        // Acknowledged before it is applied: readers of this copy go by `applied_lsn`, and
        // a promotion waits for this shipment, apply included.
        on_durable(last);
        self.apply_versions(records.into_iter().flat_map(|(lsn, writes)| {
            writes.into_iter().map(move |(key, value)| {
                let value = value.map(Arc::from);
                (MemKey::new(key.to_vec()), Version { lsn, value })
            })
        }));
        self.applied_lsn.fetch_max(last.0, Ordering::AcqRel);
        drop(lock);
        Ok(last)
    }

    fn durable_lsn(&self) -> Lsn {
        self.wal.durable_lsn()
    }
}

#[cfg(test)]
mod tests {

    use crate::item::Item;

    use crate::storage::Partition;
    use crate::storage::memtable::{MemKey, encode};
    use crate::storage::partition::test_support::tiny;
    use crate::storage::record::encode_batch;
    use dynastore_wal::Epoch;
    use std::path::Path;
    use std::sync::Arc;

    /// A partition fed by a ship stream from another holds the same items, keeps them
    /// through its own flush and a reopen, and refuses records that do not decode.
    #[test]
    fn a_replica_partition_applies_what_its_primary_ships() {
        use dynastore_replication::{AckMode, ReplicaSink, ShipStream};
        let fs = dynastore_wal::fs::FaultyFs::new();
        let primary = Partition::open(fs.shared(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap();
        let replica_dir = Path::new("/data/az-b/T/p-0000");
        let replica = Arc::new(Partition::open(fs.shared(), replica_dir, tiny(), None).unwrap());
        let stream = ShipStream::new(
            Arc::clone(&primary.wal),
            vec![Arc::clone(&replica) as Arc<dyn ReplicaSink>],
        );
        let key = |i: u8| vec![i; 12];
        for i in 0..40u8 {
            primary
                .write(key(i % 20), false, |_| Ok(Some(Item::new().with("a", i64::from(i)))))
                .unwrap();
        }
        primary.write(key(3), false, |_| Ok(None)).unwrap();
        while stream.pump(std::time::Duration::from_millis(20)) > 0 {}
        stream
            .acks()
            .wait(primary.wal.last_lsn(), AckMode::All, std::time::Duration::ZERO)
            .unwrap();
        let expected = |i: u8| (i != 3).then(|| Item::new().with("a", i64::from(i) + 20));
        for i in 0..20u8 {
            assert_eq!(replica.get(key(i)).unwrap(), expected(i), "key {i}");
        }
        replica.flush().unwrap();
        assert_eq!(replica.stats().unwrap().tables.len(), 1);
        // Shipping goes on after the replica's own flush (and the rotation it did).
        primary
            .write(key(0), false, |_| Ok(Some(Item::new().with("a", 20))))
            .unwrap();
        assert_eq!(stream.pump(std::time::Duration::from_millis(20)), 1);
        drop(stream);
        drop(replica);
        let reopened = Partition::open(fs.shared(), replica_dir, tiny(), None).unwrap();
        for i in 0..20u8 {
            assert_eq!(reopened.get(key(i)).unwrap(), expected(i), "key {i} after reopen");
        }
        let next = reopened.wal.last_lsn().next();
        let garbage = dynastore_wal::record::frame(next, Epoch(1), b"not a record");
        let mut called = false;
        let refused = ReplicaSink::append_framed(&reopened, next, &garbage, &mut |_| called = true);
        assert!(refused.is_err() && !called, "refused, and never reported durable");
        assert_eq!(reopened.wal.last_lsn().next(), next, "nothing landed");
        // A good record is reported durable before it is applied, then applied.
        let writes = vec![(MemKey::new(key(7).to_vec()), Some(encode(&Item::new().with("a", 77))))];
        let record = dynastore_wal::record::frame(next, Epoch(1), &encode_batch(&writes, &[]));
        let mut seen = None;
        let durable = ReplicaSink::append_framed(&reopened, next, &record, &mut |lsn| {
            seen = Some((lsn, reopened.wal.durable_lsn(), reopened.applied_lsn()));
        })
        .unwrap();
        assert_eq!(durable, next);
        assert_eq!(seen, Some((next, next, next.prev())), "durable, not yet applied");
        assert_eq!(reopened.applied_lsn(), next);
        assert_eq!(reopened.get(key(7)).unwrap(), Some(Item::new().with("a", 77)));
    }
}
