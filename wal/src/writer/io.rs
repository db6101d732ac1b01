//! The log's I/O: group commit (one writer leads a group's write and sync, the others
//! wait for it), preallocation and sealing of segments, cutting the log back, and the
//! `Buffered` flusher thread.

use super::*;

impl Shared {
    /// After a record is framed: wait for durability (`Sync`) or write out a full buffer.
    pub(super) fn finish_append(&self, mut state: MutexGuard<'_, State>, lsn: Lsn, gather: Gather) -> Result<()> {
        match self.options.durability {
            Durability::Sync => self.wait_durable(&mut state, lsn, gather),
            Durability::Written { .. } => self.wait_written(&mut state, lsn),
            Durability::Buffered { .. } => {
                let buffer = self.options.buffer_bytes.max(1);
                while state.pending_bytes >= buffer {
                    if !state.io_busy {
                        return self.lead_io(&mut state, false, Gather::Alone);
                    }
                    if state.pending_bytes < 4 * buffer {
                        break;
                    }
                    // Back-pressure: the writer is behind by more than four buffers.
                    self.changed.wait(&mut state);
                    if let Some(cause) = &state.poisoned {
                        return Err(Error::Poisoned { cause: cause.clone() });
                    }
                }
                Ok(())
            }
        }
    }

    /// Waits until `lsn` is durable, leading I/O rounds whenever none is running.
    pub(super) fn wait_durable(&self, state: &mut MutexGuard<'_, State>, lsn: Lsn, gather: Gather) -> Result<()> {
        self.wait_for(state, lsn, true, gather)
    }

    /// Waits until `lsn` is written to its file (not synced), leading write rounds
    /// whenever none is running: whoever leads writes everything pending, so concurrent
    /// appenders share one `write`.
    pub(super) fn wait_written(&self, state: &mut MutexGuard<'_, State>, lsn: Lsn) -> Result<()> {
        self.wait_for(state, lsn, false, Gather::Alone)
    }

    /// Waits until `lsn` is durable (`sync`) or written, leading rounds of that kind
    /// whenever no I/O is running.
    fn wait_for(&self, state: &mut MutexGuard<'_, State>, lsn: Lsn, sync: bool, gather: Gather) -> Result<()> {
        loop {
            let reached = if sync { state.durable_lsn } else { state.written_lsn };
            if reached >= lsn {
                return Ok(());
            }
            if let Some(cause) = &state.poisoned {
                return Err(Error::Poisoned { cause: cause.clone() });
            }
            if state.io_busy {
                self.changed.wait(state);
            } else {
                self.lead_io(state, sync, gather)?;
            }
        }
    }

    /// One I/O round: takes everything pending, writes it outside the lock, and syncs if
    /// `sync`. On failure the log is poisoned and the error returned.
    pub(super) fn lead_io(&self, state: &mut MutexGuard<'_, State>, sync: bool, gather: Gather) -> Result<()> {
        debug_assert!(!state.io_busy);
        state.io_busy = true;
        // Buffered logs sync on a timer or on request: nobody is waiting to join a group.
        if sync && gather == Gather::Group && self.options.durability == Durability::Sync {
            self.gather_group(state);
        }
        let batch = mem::take(&mut state.pending);
        let batch_records = mem::take(&mut state.pending_records);
        state.pending_bytes = 0;
        let batch_last = state.next_lsn.prev();
        let io_file = state.io_file.clone();
        let started = Instant::now();
        let result = MutexGuard::unlocked(state, || self.write_batch(batch, io_file, sync));
        state.io_busy = false;
        let outcome = match result {
            Ok((io_file, created)) => {
                state.io_file = io_file;
                state.segments.extend(created);
                state.written_lsn = batch_last;
                if sync {
                    state.durable_lsn = batch_last;
                    let round_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    state.sync_round_ns = (state.sync_round_ns / 8) * 7 + round_ns / 8;
                    state.expected_group = (batch_records + state.pending_records).clamp(1, GROUP_RECORDS_MAX);
                }
                Ok(())
            }
            Err(error) => {
                state.poisoned = Some(error.to_string());
                Err(error)
            }
        };
        self.changed.notify_all();
        outcome
    }

    /// Counts records just framed into the pending buffer, and completes a gathering
    /// leader's group.
    pub(super) fn record_pending(&self, state: &mut State, records: u64) {
        state.pending_records += records;
        self.counters.records.fetch_add(records, Ordering::Relaxed);
        if state.gathering && state.pending_records >= state.expected_group {
            self.group_filled.notify_one();
        }
    }

    /// The group window: as a leader of a `Sync` round, waits until as many records are
    /// pending as the last round saw in flight, or a quarter of the recent sync time;
    /// unless recent windows gathered nobody.
    pub(super) fn gather_group(&self, state: &mut MutexGuard<'_, State>) {
        if state.pending_records >= state.expected_group {
            return;
        }
        if !state.group_window.should_wait() {
            self.counters.group_windows_skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counters.group_windows.fetch_add(1, Ordering::Relaxed);
        let window = Duration::from_nanos(state.sync_round_ns / 4).min(GROUP_WINDOW_MAX);
        let deadline = Instant::now() + window;
        let pending_before = state.pending_records;
        state.gathering = true;
        while state.pending_records < state.expected_group {
            if self.group_filled.wait_until(state, deadline).timed_out() {
                break;
            }
        }
        state.gathering = false;
        let gathered = state.pending_records > pending_before;
        state.group_window.waited(gathered);
    }

    /// Writes `batch` in order, creating segments as it goes; returns the newest segment
    /// file and the segments created.
    pub(super) fn write_batch(&self, batch: Vec<Chunk>, mut io: IoFile, sync: bool) -> Result<(IoFile, Vec<Lsn>)> {
        let fs = self.fs.as_ref();
        let mut created = Vec::new();
        for chunk in batch {
            if chunk.starts_segment {
                // The old segment must be complete on disk before a newer one exists.
                self.seal(&io)?;
                let file = segment::create_segment(fs, &self.dir, chunk.segment)?;
                io = IoFile {
                    segment: chunk.segment,
                    file,
                    written_end: SEGMENT_HEADER_BYTES,
                    len: SEGMENT_HEADER_BYTES,
                };
                self.counters.segments_created.fetch_add(1, Ordering::Relaxed);
                created.push(chunk.segment);
            }
            if !chunk.bytes.is_empty() {
                debug_assert_eq!(chunk.offset, io.written_end, "records are written back to back");
                io.file
                    .write_all_at(&chunk.bytes, chunk.offset)
                    .map_err(self.segment_error("writing", io.segment))?;
                io.written_end = chunk.offset + chunk.bytes.len() as u64;
                self.preallocate(&mut io)?;
                self.counters.writes.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .bytes
                    .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
            }
        }
        if sync {
            self.sync_file(&io)?;
        }
        Ok((io, created))
    }

    /// Zeroes the file ahead of its records once they reach its end: up to the next
    /// multiple of `preallocate_bytes` (at most `segment_bytes_max`), so that the length
    /// of a file follows from the records it holds (a replica's segment stays
    /// byte-identical to its primary's). The zeros become durable with the round's sync,
    /// with the records.
    pub(super) fn preallocate(&self, io: &mut IoFile) -> Result<()> {
        let step = self.options.preallocate_bytes;
        if step == 0 || io.written_end <= io.len {
            io.len = io.len.max(io.written_end);
            return Ok(());
        }
        // No further than the segment may grow: small segments are not padded to a step.
        let segment_max = self.options.segment_bytes_max.max(io.written_end);
        let new_len = io.written_end.div_ceil(step).saturating_mul(step).min(segment_max);
        let zeros = vec![0u8; usize::try_from(new_len - io.written_end).unwrap_or(0)];
        if !zeros.is_empty() {
            io.file
                .write_all_at(&zeros, io.written_end)
                .map_err(self.segment_error("preallocating", io.segment))?;
        }
        io.len = io.written_end + zeros.len() as u64;
        Ok(())
    }

    /// Makes a segment that a newer one follows complete on disk: cut to its last record
    /// (recovery and readers of older segments see no preallocated zeros) and synced.
    pub(super) fn seal(&self, io: &IoFile) -> Result<()> {
        if io.len > io.written_end {
            io.file
                .set_len(io.written_end)
                .map_err(self.segment_error("truncating", io.segment))?;
        }
        self.sync_file(io)
    }

    pub(super) fn sync_file(&self, io: &IoFile) -> Result<()> {
        io.file.sync_data().map_err(self.segment_error("syncing", io.segment))?;
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The error of `op` on segment `segment`, its path made only if it happens (not on
    /// every write of the hot path).
    pub(super) fn segment_error(&self, op: &'static str, segment: Lsn) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            op,
            path: segment::segment_path(&self.dir, segment),
            source,
        }
    }

    /// The body of `truncate_after`, with the log quiesced and the lock held.
    pub(super) fn cut_after(&self, state: &mut MutexGuard<'_, State>, lsn: Lsn) -> Result<()> {
        let (fs, dir) = (self.fs.as_ref(), &self.dir);
        // Newest first, each removal durable before the next: a crash leaves a prefix.
        while state.segments.len() > 1 && state.segments.last().is_some_and(|&first| first > lsn.next()) {
            if let Some(first) = state.segments.pop() {
                let path = segment::segment_path(dir, first);
                fs.remove_file(&path).map_err(io_error("removing", &path))?;
                fs.sync_dir(dir).map_err(io_error("syncing directory", dir))?;
            }
        }
        let tail = *state.segments.last().unwrap_or(&Lsn::FIRST);
        let path = segment::segment_path(dir, tail);
        let file = fs.open(&path).map_err(io_error("opening", &path))?;
        let bytes = crate::fs::read_file(fs, &path).map_err(io_error("reading", &path))?;
        let (cut_at, epoch_at_cut) = offset_after(&bytes, &path, lsn)?;
        file.set_len(cut_at).map_err(io_error("truncating", &path))?;
        file.sync_data().map_err(io_error("syncing", &path))?;
        state.io_file = IoFile {
            segment: tail,
            file,
            written_end: cut_at,
            len: cut_at,
        };
        state.tail_segment = tail;
        state.tail_len = cut_at;
        state.seek_index.forget_after(lsn);
        state.next_lsn = lsn.next();
        state.written_lsn = lsn;
        state.durable_lsn = lsn;
        state.last_epoch = match epoch_at_cut {
            Some(epoch) => epoch,
            None => self.epoch_before(&state.segments, lsn)?,
        };
        Ok(())
    }

    /// The epoch of record `lsn` when it is not in the newest segment: it is then the last
    /// record of the segment before; `Epoch(0)` if the log no longer holds it.
    pub(super) fn epoch_before(&self, segments: &[Lsn], lsn: Lsn) -> Result<Epoch> {
        let Some(&previous) = segments.len().checked_sub(2).and_then(|i| segments.get(i)) else {
            return Ok(Epoch(0));
        };
        let path = segment::segment_path(&self.dir, previous);
        let bytes = crate::fs::read_file(self.fs.as_ref(), &path).map_err(io_error("reading", &path))?;
        Ok(offset_after(&bytes, &path, lsn)?.1.unwrap_or(Epoch(0)))
    }

    /// The background sync of `Buffered` and `Written` logs.
    pub(super) fn run_flusher(&self, interval: Duration) {
        let mut state = self.state.lock();
        loop {
            let deadline = Instant::now() + interval;
            while !state.closed && Instant::now() < deadline {
                self.changed.wait_until(&mut state, deadline);
            }
            if state.closed || state.poisoned.is_some() {
                return;
            }
            if state.durable_lsn < state.next_lsn.prev() && !state.io_busy {
                // A failure poisons the log; appenders and `sync` report it.
                let _ = self.lead_io(&mut state, true, Gather::Alone);
            }
        }
    }
}

/// Where the record after `lsn` starts in a segment's bytes, and the epoch of record
/// `lsn` if the segment holds it.
pub(super) fn offset_after(bytes: &[u8], path: &Path, lsn: Lsn) -> Result<(u64, Option<Epoch>)> {
    let mut pos = SEGMENT_HEADER_BYTES as usize;
    let mut epoch = None;
    while pos < bytes.len() && !record::is_padding(&bytes[pos..]) {
        let frame = record::decode(&bytes[pos..]).map_err(|e| Error::Corruption {
            segment: path.to_path_buf(),
            offset: pos as u64,
            reason: e.to_string(),
        })?;
        if frame.lsn > lsn {
            break;
        }
        epoch = Some(frame.epoch);
        pos += frame.framed_len();
    }
    Ok((pos as u64, epoch))
}
