//! Helpers shared by the WAL's integration tests.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_wal::fs::{FaultyFs, SharedFs};
use dynastore_wal::{Durability, Epoch, Lsn, Record, Wal, WalOptions};
use std::path::Path;
use std::time::Duration;

pub use dynastore_testkit::{Rng, seeds};

/// The payload writer `writer` appends as its `seq`-th record: its identity in the first
/// 16 bytes, then `len - 16` bytes derived from it, so any payload read back can be checked
/// against what was really written.
pub fn payload(writer: u64, seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&writer.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let mut rng = Rng::new(writer.wrapping_mul(1_000_003) ^ seq);
    while out.len() < len {
        out.push(rng.next_u64() as u8);
    }
    out
}

/// The (writer, seq) a payload claims, after checking the rest of it matches.
pub fn identify(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.len() < 16 {
        return None;
    }
    let writer = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
    let seq = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    (payload(writer, seq, bytes.len()) == bytes).then_some((writer, seq))
}

pub fn sync_options(segment_bytes_max: u64) -> WalOptions {
    WalOptions {
        segment_bytes_max,
        durability: Durability::Sync,
        ..WalOptions::default()
    }
}

pub fn buffered_options(segment_bytes_max: u64, interval: Duration) -> WalOptions {
    WalOptions {
        segment_bytes_max,
        durability: Durability::Buffered { interval },
        buffer_bytes: 4096,
        ..WalOptions::default()
    }
}

pub fn open(fs: &SharedFs, dir: &Path, options: WalOptions) -> Wal {
    Wal::open(fs.clone(), dir, options).unwrap().0
}

pub fn read_all(wal: &Wal) -> Vec<Record> {
    wal.read_from(wal.first_lsn())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Appends `payloads` with epoch 1 and returns their LSNs.
pub fn append_all(wal: &Wal, payloads: &[Vec<u8>]) -> Vec<Lsn> {
    payloads.iter().map(|p| wal.append(Epoch(1), p).unwrap()).collect()
}

pub fn faulty() -> (FaultyFs, SharedFs) {
    let fs = FaultyFs::new();
    let shared = fs.shared();
    (fs, shared)
}
