//! The log writer: appends, group commit, segment rotation, durability, truncation.
//!
//! # Group commit
//! Appenders frame their record into a shared pending buffer under one mutex, taking the
//! next LSN. The first appender that needs I/O while no I/O is running becomes the
//! *leader*: it takes the whole pending buffer, releases the mutex, writes it with one
//! `write` per segment touched and, if durability is needed, one `fdatasync`, then
//! publishes the new durable LSN and wakes everyone. Appenders that arrived meanwhile
//! wait; whichever finds I/O idle and its record not yet durable leads the next round with
//! everything pending by then. So N concurrent `Sync` appenders share about one fsync.
//!
//! Left at that, rounds alternate: while one round syncs, the other half of the writers
//! queue up, and the next leader takes them before the writers just released can append
//! again, so 8 writers share fsyncs 4 by 4. Hence the *group window*: each round notes how
//! many records were in flight (its own plus those that queued during it); the next
//! leader waits for that many, but never longer than a quarter of the recent fsync time.
//! A lone writer never waits; a burst that ends costs at most one short window. Windows
//! in which nobody joined make the next rounds skip theirs, for exponentially more rounds
//! (see [`crate::group_window`]): writers that do not come straight back (a replicated
//! database's, waiting for a replica) would otherwise cost every round a window in vain.
//!
//! # Failure
//! If a write or sync fails, the bytes on disk are unknown (a failed `fsync` may even have
//! dropped dirty pages), so the log is *poisoned*: every waiting and later append gets an
//! error, and no record is ever reported durable that was not synced. Reopening recovers
//! what is really on disk.
//!
//! # Segment order
//! Before a new segment is created, the old one is cut to its last record and synced. So
//! a segment older than the newest is always complete, and recovery may treat any damage
//! in it as corruption.
//!
//! # Preallocation
//! An `fdatasync` that finds the file's size changed writes the inode as well as the data
//! (on ext4 without a journal: one device write more, a third of an append's time). So
//! the newest segment is extended with zeros ahead of its records, a
//! [`WalOptions::preallocate_bytes`] step at a time, and most syncs write the data alone.
//! Recovery keeps the zeros after the newest segment's last record as they are (no record
//! is all zeros); tailers read the newest segment only up to where the records written to
//! it end, and nothing in the write path `stat`s a live segment (see [`Wal::size_bytes`]).

use crate::error::{Error, Result, io_error};
use crate::fs::{FsFile, SharedFs};
use crate::group_window::GroupWindow;
use crate::record::{self, Frame, HEADER_BYTES, PAYLOAD_BYTES_MAX};
use crate::recovery::{self, RecoveryReport};
use crate::seek_index::{SeekIndex, SeekPoint};
use crate::segment::{self, SEGMENT_HEADER_BYTES};
use crate::tail::{TailSource, TailView, Tailer};
use crate::{Epoch, Lsn};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod io;
mod tailing;

/// The most records a leader waits for in its group window.
const GROUP_RECORDS_MAX: u64 = 1024;
/// The longest a leader waits for its group, however slow syncs are.
const GROUP_WINDOW_MAX: Duration = Duration::from_micros(500);

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `append` returns once the record is durable (fdatasync), shared with concurrent
    /// appenders by group commit.
    Sync,
    /// `append` returns once the record is in the log's buffer; a background thread
    /// writes and syncs every `interval`, and [`Wal::sync`] does it on demand. A crash
    /// may lose the records of the last interval, never corrupt earlier ones.
    Buffered {
        /// How often the background thread syncs.
        interval: Duration,
    },
    /// `append` returns once the record is written to its segment file, that is, handed
    /// to the operating system (concurrent appenders share one `write`), and a background
    /// thread syncs every `interval`. A process crash (`kill -9`) loses no returned
    /// record; a power loss may lose those of the last interval, never corrupt earlier
    /// ones. The level of fjall's and RocksDB's defaults.
    Written {
        /// How often the background thread syncs.
        interval: Duration,
    },
}

impl Durability {
    /// Whether an append returns before its record is durable (`Buffered`, `Written`).
    pub fn acknowledges_before_durable(self) -> bool {
        !matches!(self, Durability::Sync)
    }
}

/// How a log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is closed and a new one started when the next record would take it past
    /// this size (a single record larger than this gets a segment of its own).
    pub segment_bytes_max: u64,
    /// When an append counts as done.
    pub durability: Durability,
    /// With `Buffered` durability, pending bytes are written to the OS (without sync) once
    /// they reach this size; appenders wait if 4 times this is pending.
    pub buffer_bytes: usize,
    /// The newest segment is extended with zeros this many bytes at a time, ahead of its
    /// records (0: never). A record written into space already zeroed changes neither
    /// the file's size nor its block map, so its `fdatasync` writes the data alone
    /// instead of the data and the inode: on ext4 this made a `Sync` append about a
    /// third faster. A segment is cut to its last record when a newer one begins. The
    /// default, 64 KiB, costs one extension per few hundred small records; 1 MiB was no
    /// faster over seconds of writes, and slower in short ones (a new segment's first
    /// write syncs the whole step: the slowest put of a 3 s run took 7-8 ms against
    /// 2.4-2.7 ms, and criterion's fresh-database `Sync` puts were 11% slower).
    pub preallocate_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes_max: 64 << 20,
            durability: Durability::Sync,
            buffer_bytes: 1 << 20,
            preallocate_bytes: 64 << 10,
        }
    }
}

/// Counters of a log's work since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended.
    pub records: u64,
    /// Bytes written to segment files (framed records).
    pub bytes: u64,
    /// `write` calls on segment files.
    pub writes: u64,
    /// `fdatasync` calls on segment files.
    pub syncs: u64,
    /// Segments created.
    pub segments_created: u64,
    /// `Sync` rounds whose leader waited for its group (see the module docs).
    pub group_windows: u64,
    /// `Sync` rounds whose leader would have waited for its group but did not, because
    /// recent windows gathered nobody.
    pub group_windows_skipped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
    segments_created: AtomicU64,
    group_windows: AtomicU64,
    group_windows_skipped: AtomicU64,
}

/// The newest segment file, as the I/O leader writes it.
#[derive(Debug, Clone)]
struct IoFile {
    /// The segment's first LSN (its name).
    segment: Lsn,
    file: Arc<dyn FsFile>,
    /// Where the bytes handed to the OS end: the end of the segment's last record.
    written_end: u64,
    /// The file's length: `written_end`, then any zeros preallocated after it.
    len: u64,
}

/// Framed records that go to one segment at one offset.
#[derive(Debug)]
struct Chunk {
    segment: Lsn,
    /// The I/O leader must create this segment before writing the bytes.
    starts_segment: bool,
    offset: u64,
    bytes: Vec<u8>,
}

/// Whether a `Sync` round's leader waits a moment for other writers' records to share its
/// fsync (see `Shared::gather_group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gather {
    /// Concurrent writers may join: wait for the group the last round saw.
    Group,
    /// Nobody else is appending (a replica's log is fed by one shipper at a time), or the
    /// round was asked for (a sync, a rotation): start at once.
    Alone,
}

#[derive(Debug)]
struct State {
    /// The LSN the next record gets.
    next_lsn: Lsn,
    /// The epoch of the newest record.
    last_epoch: Epoch,
    /// First LSNs of the segments on disk, oldest first.
    segments: Vec<Lsn>,
    /// The newest segment file on disk, where the I/O leader writes.
    io_file: IoFile,
    /// The segment new records go to and its length including pending bytes.
    tail_segment: Lsn,
    tail_len: u64,
    pending: Vec<Chunk>,
    pending_bytes: usize,
    pending_records: u64,
    /// How many records the last `Sync` round saw in flight: the next leader waits for
    /// that many (see the module docs).
    expected_group: u64,
    /// A leader is waiting for its group to fill.
    gathering: bool,
    /// Whether the next leader waits for its group at all.
    group_window: GroupWindow,
    /// Moving average of a sync round's duration, in nanoseconds.
    sync_round_ns: u64,
    /// Every record up to this LSN has been handed to the OS.
    written_lsn: Lsn,
    /// Every record up to this LSN is durable.
    durable_lsn: Lsn,
    io_busy: bool,
    poisoned: Option<String>,
    closed: bool,
    /// Bumped by every `truncate_after`, so tailers notice the log went back.
    rewinds: u64,
    /// The LSN the last `truncate_after` cut back to.
    rewound_to: Lsn,
    /// Where records start, a step apart, for tailers that start mid-segment.
    seek_index: SeekIndex,
}

/// The part of a log shared by its handle, its flusher thread and its tailers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) fs: SharedFs,
    pub(crate) dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Signalled whenever the durable LSN moves, I/O finishes, or the log fails or closes.
    changed: Condvar,
    /// Signalled when a gathering leader's group is complete.
    group_filled: Condvar,
    counters: Counters,
}

/// A segmented write-ahead log, safe to share between threads (`&Wal` appends).
///
/// Guarantees: LSNs are gapless and start at 1; an append that returned `Ok` under
/// `Sync` durability (or was followed by a successful [`Wal::sync`]) survives a crash
/// and power loss; recovery never returns a damaged record.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, recovering it: see [`RecoveryReport`].
    ///
    /// Errors: [`Error::Corruption`] for damage recovery must not skip, [`Error::Io`].
    pub fn open(fs: SharedFs, dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, RecoveryReport)> {
        Self::open_and_replay(fs, dir, options, Lsn(u64::MAX), |_| {})
    }

    /// Like [`Wal::open`], and hands every recovered record with an LSN of at least
    /// `replay_from` to `visit`, oldest first, in the same pass that checks them.
    pub fn open_and_replay(
        fs: SharedFs,
        dir: impl AsRef<Path>,
        options: WalOptions,
        replay_from: Lsn,
        mut visit: impl FnMut(Frame<'_>),
    ) -> Result<(Wal, RecoveryReport)> {
        let dir = dir.as_ref().to_path_buf();
        let recovered = recovery::recover(fs.as_ref(), &dir, replay_from, &mut visit)?;
        let report = recovered.report.clone();
        let tail_segment = *recovered.segments.last().unwrap_or(&Lsn::FIRST);
        let shared = Arc::new(Shared {
            fs,
            dir,
            options,
            state: Mutex::new(State {
                next_lsn: report.last_lsn.next(),
                last_epoch: report.last_epoch,
                segments: recovered.segments,
                io_file: IoFile {
                    segment: tail_segment,
                    file: recovered.tail_file,
                    written_end: recovered.tail_len,
                    len: recovered.tail_file_len,
                },
                tail_segment,
                tail_len: recovered.tail_len,
                pending: Vec::new(),
                pending_bytes: 0,
                pending_records: 0,
                expected_group: 1,
                group_window: GroupWindow::default(),
                gathering: false,
                sync_round_ns: 0,
                written_lsn: report.last_lsn,
                durable_lsn: report.last_lsn,
                io_busy: false,
                poisoned: None,
                closed: false,
                rewinds: 0,
                rewound_to: Lsn::ZERO,
                seek_index: recovered.seek_index,
            }),
            changed: Condvar::new(),
            group_filled: Condvar::new(),
            counters: Counters::default(),
        });
        let flusher = match options.durability {
            Durability::Sync => None,
            Durability::Buffered { interval } | Durability::Written { interval } => {
                let shared = Arc::clone(&shared);
                let thread = std::thread::Builder::new()
                    .name("dynastore-wal-flusher".to_owned())
                    .spawn(move || shared.run_flusher(interval))
                    .map_err(io_error("starting the flusher thread for", PathBuf::new()))?;
                Some(thread)
            }
        };
        Ok((Wal { shared, flusher }, report))
    }

    /// Appends one record with `epoch`, returning its LSN. Under `Sync` durability it
    /// returns once the record is durable.
    ///
    /// Errors: [`Error::PayloadTooLarge`] over [`PAYLOAD_BYTES_MAX`],
    /// [`Error::EpochRegressed`] if `epoch` is older than the log's newest record,
    /// [`Error::Io`] / [`Error::Poisoned`] if a write or sync failed (the record is then
    /// not known to be durable), [`Error::Closed`].
    pub fn append(&self, epoch: Epoch, payload: &[u8]) -> Result<Lsn> {
        let lsn = self.enqueue(epoch, payload)?;
        self.commit(lsn)?;
        Ok(lsn)
    }

    /// The first half of [`Wal::append`]: assigns the record its LSN and queues it, without
    /// waiting for anything. Records are written in LSN order, so a caller that must
    /// order its records (a partition under its write lock) enqueues under its lock and
    /// calls [`Wal::commit`] after releasing it, letting concurrent writers share fsyncs.
    ///
    /// Errors: [`Error::PayloadTooLarge`], [`Error::EpochRegressed`],
    /// [`Error::Poisoned`], [`Error::Closed`].
    pub fn enqueue(&self, epoch: Epoch, payload: &[u8]) -> Result<Lsn> {
        if payload.len() > PAYLOAD_BYTES_MAX {
            return Err(Error::PayloadTooLarge {
                size: payload.len(),
                max: PAYLOAD_BYTES_MAX,
            });
        }
        // Checksum the payload before taking the lock; only the header is hashed inside.
        let payload_hasher = record::payload_crc(payload);
        let shared = &self.shared;
        let mut state = shared.state.lock();
        state.check_writable(epoch)?;
        let lsn = state.next_lsn;
        let framed_len = HEADER_BYTES + payload.len();
        let chunk = state.chunk_for(framed_len, shared.options.segment_bytes_max);
        record::encode(&mut chunk.bytes, lsn, epoch, payload, &payload_hasher);
        state.next_lsn = lsn.next();
        state.last_epoch = epoch;
        shared.record_pending(&mut state, 1);
        Ok(lsn)
    }

    /// The second half of [`Wal::append`] for a record [`Wal::enqueue`] returned: under
    /// `Sync` durability, waits until it is durable; under `Written`, until it is written
    /// to the file; under `Buffered`, writes the buffer out if it is full.
    ///
    /// Errors: [`Error::Io`] / [`Error::Poisoned`] if a write or sync failed.
    pub fn commit(&self, lsn: Lsn) -> Result<()> {
        let state = self.shared.state.lock();
        self.shared.finish_append(state, lsn, Gather::Group)
    }

    /// Appends records framed by another log (a primary), byte for byte, so that this
    /// log's segment files end up identical to the primary's where the two logs' segment
    /// boundaries agree. `segment` is the first LSN of the primary's segment the bytes
    /// come from: when it begins at the next record and is newer than this log's newest
    /// segment, a new segment starting there is begun; otherwise (this log rotated on its
    /// own, as a replica does after a flush, or the primary's log did, as a promoted
    /// replica's) the records go into this log's newest segment. Returns the last LSN
    /// appended.
    ///
    /// Errors: [`Error::InvalidFrame`] if the bytes are not whole records with valid
    /// checksums, consecutive LSNs and non-decreasing epochs; [`Error::LsnGap`] if they do not continue this log;
    /// [`Error::EpochRegressed`]; and the errors of [`Wal::append`].
    pub fn append_framed(&self, segment: Lsn, bytes: &[u8]) -> Result<Lsn> {
        let frames = validate_frames(bytes)?;
        let shared = &self.shared;
        let mut state = shared.state.lock();
        state.check_writable(frames.first_epoch)?;
        if frames.first_lsn != state.next_lsn {
            return Err(Error::LsnGap {
                expected: state.next_lsn,
                found: frames.first_lsn,
            });
        }
        // Follow the primary's segment boundaries where they fall at the next record, so the
        // files stay identical; a replica's own boundaries may differ (it rotates after its
        // own flushes, and a promoted replica's log had its own), and then the records go
        // on in this log's newest segment.
        if segment > state.tail_segment && segment == state.next_lsn {
            state.start_segment(segment);
        }
        let chunk = state.chunk_for(bytes.len(), u64::MAX);
        chunk.bytes.extend_from_slice(bytes);
        state.next_lsn = frames.last_lsn.next();
        state.last_epoch = frames.last_epoch;
        shared.record_pending(&mut state, frames.count);
        // Nobody else appends to a log fed by a primary: there is no group to gather.
        shared.finish_append(state, frames.last_lsn, Gather::Alone)?;
        Ok(frames.last_lsn)
    }

    /// Starts a new segment now (if the newest one holds any record), so that a following
    /// [`Wal::truncate_before`] can drop every segment up to here: after a flush, the
    /// flushed records need not stay in the log. Everything appended so far is synced.
    ///
    /// Errors: [`Error::Io`] / [`Error::Poisoned`].
    pub fn rotate(&self) -> Result<()> {
        let shared = &self.shared;
        let mut state = shared.state.lock();
        state.check_writable(state.last_epoch)?;
        if state.tail_len > SEGMENT_HEADER_BYTES {
            let next = state.next_lsn;
            state.start_segment(next);
        }
        let target = state.next_lsn.prev();
        while state.io_busy {
            shared.changed.wait(&mut state);
        }
        if !state.pending.is_empty() {
            shared.lead_io(&mut state, true, Gather::Alone)?;
        }
        shared.wait_durable(&mut state, target, Gather::Alone)
    }

    /// Makes every record appended so far durable, returning the durable LSN.
    ///
    /// Errors: [`Error::Io`] / [`Error::Poisoned`] if a write or sync failed.
    pub fn sync(&self) -> Result<Lsn> {
        let mut state = self.shared.state.lock();
        let target = state.next_lsn.prev();
        self.shared.wait_durable(&mut state, target, Gather::Alone)?;
        Ok(target)
    }

    /// The LSN up to which every record is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.state.lock().durable_lsn
    }

    /// The LSN of the newest record appended (durable or not); `Lsn(0)` if none.
    pub fn last_lsn(&self) -> Lsn {
        self.shared.state.lock().next_lsn.prev()
    }

    /// The LSN of the oldest record still kept (the next LSN if the log is empty).
    pub fn first_lsn(&self) -> Lsn {
        let state = self.shared.state.lock();
        state.segments.first().copied().unwrap_or(state.next_lsn)
    }

    /// The epoch of the newest record.
    pub fn last_epoch(&self) -> Epoch {
        self.shared.state.lock().last_epoch
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The first LSNs of the segment files, oldest first.
    pub fn segments(&self) -> Vec<Lsn> {
        self.shared.state.lock().segments.clone()
    }

    /// The bytes of the segment files up to their last record written: the older
    /// segments' lengths (read from the files) and the newest one's headers and records
    /// (not the zeros preallocated after them).
    ///
    /// The newest file's length is deliberately not read: on Linux 6.13 and later, a
    /// `stat` of a file makes its next write take a fine-grained timestamp, which dirties
    /// the inode, and on ext4 without a journal that puts the inode back into every
    /// `fdatasync` that preallocation spares it. An older segment dropped while this
    /// runs counts for nothing.
    ///
    /// Errors: [`Error::Io`].
    pub fn size_bytes(&self) -> Result<u64> {
        let (older, newest_end) = {
            let state = self.shared.state.lock();
            let older = state
                .segments
                .split_last()
                .map_or(Vec::new(), |(_, older)| older.to_vec());
            (older, state.io_file.written_end)
        };
        let mut total = newest_end;
        for first in older {
            let path = segment::segment_path(&self.shared.dir, first);
            let file = match self.shared.fs.open(&path) {
                Ok(file) => file,
                // Dropped since the list was taken (`truncate_before`, after a flush): no
                // longer part of the log. This failed `stats` during flushes.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error("opening", &path)(error)),
            };
            total += file.len().map_err(io_error("reading", &path))?;
        }
        Ok(total)
    }

    /// Counters of the work done since the log was opened.
    pub fn stats(&self) -> WalStats {
        let c = &self.shared.counters;
        WalStats {
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            segments_created: c.segments_created.load(Ordering::Relaxed),
            group_windows: c.group_windows.load(Ordering::Relaxed),
            group_windows_skipped: c.group_windows_skipped.load(Ordering::Relaxed),
        }
    }

    /// Reads the records from `from` to the newest one written to the file system.
    ///
    /// Errors: [`Error::LsnTruncated`] if `from` was dropped, [`Error::Corruption`],
    /// [`Error::Io`].
    pub fn read_from(&self, from: Lsn) -> Result<crate::reader::WalReader> {
        let (segments, written) = {
            let state = self.shared.state.lock();
            (state.segments.clone(), state.written_lsn)
        };
        crate::reader::WalReader::new(
            Arc::clone(&self.shared.fs),
            self.shared.dir.clone(),
            segments,
            from,
            written,
        )
    }

    /// A tailer that yields durable records from `from` on, waiting for new ones.
    pub fn tail(&self, from: Lsn) -> Tailer {
        Tailer::new(Arc::clone(&self.shared) as Arc<dyn TailSource>, from)
    }

    /// Deletes every segment all of whose records are below `lsn` (never the newest
    /// segment), oldest first, each deletion made durable before the next, so a crash
    /// leaves a log that still starts at a segment boundary. Returns how many were deleted.
    ///
    /// Errors: [`Error::Io`].
    pub fn truncate_before(&self, lsn: Lsn) -> Result<usize> {
        let victims: Vec<Lsn> = {
            let mut state = self.shared.state.lock();
            // Segment i holds only records below `lsn` if segment i+1 starts at or below it.
            let keep_from = state.segments.windows(2).take_while(|pair| pair[1] <= lsn).count();
            let victims = state.segments.drain(..keep_from).collect();
            let oldest = state.segments.first().copied().unwrap_or(state.next_lsn);
            state.seek_index.forget_segments_before(oldest);
            victims
        };
        let (fs, dir) = (&self.shared.fs, &self.shared.dir);
        for first in &victims {
            let path = segment::segment_path(dir, *first);
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
            fs.sync_dir(dir).map_err(io_error("syncing directory", dir))?;
        }
        Ok(victims.len())
    }

    /// Cuts every record after `lsn` from the log, durably (a replica dropping a tail the
    /// new primary never had). Appends wait while it runs; the next record gets `lsn + 1`,
    /// and the log's last epoch becomes that of record `lsn` (`Epoch(0)` if the log no
    /// longer holds it).
    /// Segments are removed newest first and the remaining one is truncated last, so a
    /// crash part way leaves a valid, shorter log.
    ///
    /// Errors: [`Error::LsnTruncated`] if records at or before `lsn` were already dropped
    /// by [`Wal::truncate_before`] (except when `lsn` is right before the oldest kept
    /// one), [`Error::Poisoned`], [`Error::Io`].
    pub fn truncate_after(&self, lsn: Lsn) -> Result<()> {
        let shared = &self.shared;
        let mut state = shared.state.lock();
        // Quiesce: nothing pending, no I/O running, so the files are the whole log.
        loop {
            if let Some(cause) = &state.poisoned {
                return Err(Error::Poisoned { cause: cause.clone() });
            }
            if state.io_busy {
                shared.changed.wait(&mut state);
            } else if !state.pending.is_empty() || state.written_lsn < state.next_lsn.prev() {
                let target = state.next_lsn.prev();
                shared.wait_durable(&mut state, target, Gather::Alone)?;
            } else {
                break;
            }
        }
        if lsn >= state.next_lsn.prev() {
            return Ok(());
        }
        let oldest = state.segments.first().copied().unwrap_or(state.next_lsn);
        if lsn.next() < oldest {
            return Err(Error::LsnTruncated { requested: lsn, oldest });
        }
        let result = shared.cut_after(&mut state, lsn);
        if let Err(error) = &result {
            state.poisoned = Some(error.to_string());
        }
        state.rewinds += 1;
        state.rewound_to = lsn;
        shared.changed.notify_all();
        result
    }

    /// Why the log refuses writes, if it does: a write or sync failed (or it was fenced),
    /// so it must be reopened.
    pub fn poisoned(&self) -> Option<String> {
        self.shared.state.lock().poisoned.clone()
    }

    /// Stops this log for good, without touching its files: every waiting and later append,
    /// commit or sync fails with [`Error::Poisoned`] carrying `reason`, and records not yet
    /// written are never written. Waits for a write already under way, so that once this
    /// returns nothing more reaches the files. For a deposed primary, whose history a newer primary
    /// has taken over.
    pub fn fence(&self, reason: &str) {
        let mut state = self.shared.state.lock();
        state.poisoned.get_or_insert_with(|| reason.to_owned());
        self.shared.changed.notify_all();
        // A write or sync already under way finishes first: once this returns, nothing
        // more reaches the files (another log may then be opened on them).
        while state.io_busy {
            self.shared.changed.wait(&mut state);
        }
    }

    /// Syncs everything and stops the background thread.
    ///
    /// Errors: those of [`Wal::sync`].
    pub fn close(mut self) -> Result<()> {
        let result = self.sync().map(|_| ());
        self.stop_flusher();
        result
    }

    fn stop_flusher(&mut self) {
        self.shared.state.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.flusher.take() {
            // A panicked flusher has nothing left to clean up; the log is closing anyway.
            let _ = thread.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if self.flusher.is_some() || !self.shared.state.lock().closed {
            // Best effort: a buffered log should not lose its tail on a clean drop.
            // Errors cannot be reported from drop; `close` reports them.
            let _ = self.sync();
            self.stop_flusher();
        }
    }
}

struct ValidatedFrames {
    first_lsn: Lsn,
    last_lsn: Lsn,
    first_epoch: Epoch,
    last_epoch: Epoch,
    count: u64,
}

fn validate_frames(bytes: &[u8]) -> Result<ValidatedFrames> {
    let invalid = |offset: usize, reason: String| Error::InvalidFrame { offset, reason };
    let first = record::decode(bytes).map_err(|e| invalid(0, e.to_string()))?;
    let mut frames = ValidatedFrames {
        first_lsn: first.lsn,
        last_lsn: first.lsn,
        first_epoch: first.epoch,
        last_epoch: first.epoch,
        count: 1,
    };
    let mut pos = first.framed_len();
    while pos < bytes.len() {
        let frame = record::decode(&bytes[pos..]).map_err(|e| invalid(pos, e.to_string()))?;
        if frame.lsn != frames.last_lsn.next() {
            return Err(invalid(
                pos,
                format!("LSN {} does not follow {}", frame.lsn, frames.last_lsn),
            ));
        }
        if frame.epoch < frames.last_epoch {
            return Err(invalid(
                pos,
                format!("epoch {} is older than {}", frame.epoch, frames.last_epoch),
            ));
        }
        frames.last_lsn = frame.lsn;
        frames.last_epoch = frame.epoch;
        frames.count += 1;
        pos += frame.framed_len();
    }
    Ok(frames)
}

impl State {
    fn check_writable(&self, epoch: Epoch) -> Result<()> {
        if let Some(cause) = &self.poisoned {
            return Err(Error::Poisoned { cause: cause.clone() });
        }
        if self.closed {
            return Err(Error::Closed);
        }
        if epoch < self.last_epoch {
            return Err(Error::EpochRegressed {
                epoch,
                last: self.last_epoch,
            });
        }
        Ok(())
    }

    /// Begins a new segment at `first` for the records that follow.
    fn start_segment(&mut self, first: Lsn) {
        self.tail_segment = first;
        self.tail_len = SEGMENT_HEADER_BYTES;
        self.pending.push(Chunk {
            segment: first,
            starts_segment: true,
            offset: SEGMENT_HEADER_BYTES,
            bytes: Vec::new(),
        });
    }

    /// The pending chunk that `framed_len` more bytes go into, rotating to a new segment
    /// first if the record would take a non-empty segment past `segment_bytes_max`.
    fn chunk_for(&mut self, framed_len: usize, segment_bytes_max: u64) -> &mut Chunk {
        let framed_len = framed_len as u64;
        if self.tail_len > SEGMENT_HEADER_BYTES && self.tail_len + framed_len > segment_bytes_max {
            self.start_segment(self.next_lsn);
        } else if self.pending.last().is_none_or(|c| c.segment != self.tail_segment) {
            self.pending.push(Chunk {
                segment: self.tail_segment,
                starts_segment: false,
                offset: self.tail_len,
                bytes: Vec::new(),
            });
        }
        self.seek_index.note(self.next_lsn, self.tail_segment, self.tail_len);
        self.tail_len += framed_len;
        self.pending_bytes += framed_len as usize;
        let last = self.pending.len() - 1;
        &mut self.pending[last]
    }
}
