//! Steps 1-6: the write-ahead log of one partition: concurrent durable writes with group
//! commit, reopening, a torn write cut off, shipping to a replica AZ, dropping old
//! segments, and a dump.

use super::*;

/// Step 1: 8 threads append with Sync durability; group commit shares the fsyncs.
pub(super) fn write_concurrently(dir: &Path, out: &mut dyn Write) -> Result<Records, Box<dyn Error>> {
    writeln!(
        out,
        "1. {WRITERS} threads append {RECORDS_PER_WRITER} orders each, every append durable (fdatasync) before it returns"
    )?;
    let (wal, _) = Wal::open(StdFs::shared(), dir, options())?;
    let wal = Arc::new(wal);
    let started = Instant::now();
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                (0..RECORDS_PER_WRITER)
                    .map(|seq| {
                        let bytes = order(writer, seq);
                        wal.append(Epoch(1), &bytes).map(|lsn| (lsn, bytes))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    let mut written = Vec::new();
    for thread in threads {
        written.extend(thread.join().map_err(|_| "a writer thread panicked")??);
    }
    let elapsed = started.elapsed();
    written.sort();
    let stats = wal.stats();
    writeln!(
        out,
        "   {} records in {:.2?} = {:.0} durable appends/s; {} fsyncs, {:.1} records per fsync (group commit); {} segments",
        stats.records,
        elapsed,
        stats.records as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.syncs,
        stats.records as f64 / stats.syncs.max(1) as f64,
        wal.segments().len(),
    )?;
    check(
        written.len() as u64 == WRITERS * RECORDS_PER_WRITER,
        "every append returned an LSN",
    )?;
    check(
        written.iter().enumerate().all(|(i, (lsn, _))| lsn.0 == i as u64 + 1),
        "LSNs are gapless from 1",
    )?;
    Ok(written)
}

pub(super) fn read_back(wal: &Wal) -> Result<Records, Box<dyn Error>> {
    Ok(wal
        .read_from(Lsn(1))?
        .map(|r| r.map(|r| (r.lsn, r.payload)))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Step 2: reopen; recovery checks every record's checksum.
pub(super) fn reopen_and_check(dir: &Path, written: &[(Lsn, Vec<u8>)], out: &mut dyn Write) -> DemoResult {
    writeln!(out, "\n2. Reopen: recovery reads every segment and checks every record")?;
    let started = Instant::now();
    let (wal, report) = Wal::open(StdFs::shared(), dir, options())?;
    writeln!(
        out,
        "   {} records in {} segments, LSN {}..={}, {} bytes truncated, in {:.2?}",
        report.records,
        report.segments,
        report.first_lsn,
        report.last_lsn,
        report.bytes_truncated,
        started.elapsed()
    )?;
    check(
        read_back(&wal)? == written,
        "every record reads back with its own payload",
    )
}

/// Step 3: a crash in the middle of a write leaves half a record; recovery cuts it off.
pub(super) fn survive_torn_write(dir: &Path, written: &[(Lsn, Vec<u8>)], out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n3. A crash mid-write: half a record is left at the end of the newest segment"
    )?;
    let newest = Wal::open(StdFs::shared(), dir, options())?.0.segments();
    let newest = newest.last().copied().unwrap_or(Lsn(1));
    let path = dynastore::wal::segment::segment_path(dir, newest);
    let mut torn = dynastore::wal::record::frame(Lsn(written.len() as u64 + 1), Epoch(1), &order(99, 0));
    torn.truncate(torn.len() / 2);
    // The half record goes where the next record would: right after the last one, into
    // the zeros the log preallocated there.
    let scan = dynastore::wal::scan::scan_segment(&StdFs, &path)?;
    let records_end = scan.file_len - scan.padding_bytes;
    let file = OpenOptions::new().write(true).open(&path)?;
    file.write_all_at(&torn, records_end)?;
    file.sync_all()?;
    drop(file);
    let (wal, report) = Wal::open(StdFs::shared(), dir, options())?;
    writeln!(
        out,
        "   recovery cut the {} torn bytes and the {} zeros preallocated after them; {} whole records kept, the last at LSN {}",
        torn.len(),
        report.bytes_truncated.saturating_sub(torn.len() as u64),
        report.records,
        report.last_lsn
    )?;
    check(
        report.bytes_truncated == scan.file_len.max(records_end + torn.len() as u64) - records_end,
        "exactly the bytes after the last whole record were cut",
    )?;
    let after = std::fs::metadata(&path)?.len();
    check(after == records_end, "the segment ends at its last whole record")?;
    check(read_back(&wal)? == written, "no acknowledged record was lost")
}

/// Step 4: a tailer streams durable records, byte for byte, into a replica AZ's log.
pub(super) fn ship_to_replica(primary_dir: &Path, replica_dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n4. Tail the log into a replica in az-b (what the replication shipper will do)"
    )?;
    let (primary, _) = Wal::open(StdFs::shared(), primary_dir, options())?;
    let (replica, _) = Wal::open(StdFs::shared(), replica_dir, options())?;
    let mut tailer = primary.tail(Lsn(1));
    let (mut chunks, mut bytes) = (0, 0);
    while let Some(chunk) = tailer.next_chunk(Duration::from_millis(50))? {
        replica.append_framed(chunk.segment, &chunk.bytes)?;
        chunks += 1;
        bytes += chunk.bytes.len();
    }
    // Each log preallocates zeros after its newest segment's last record on its own (the
    // primary's were cut with the torn record in step 3): the records are compared.
    let records = |dir: &Path, first: Lsn| {
        let path = dynastore::wal::segment::segment_path(dir, first);
        let scan = dynastore::wal::scan::scan_segment(&StdFs, &path).ok()?;
        let mut bytes = std::fs::read(&path).ok()?;
        bytes.truncate(usize::try_from(scan.file_len - scan.padding_bytes).ok()?);
        Some(bytes)
    };
    let identical = primary.segments() == replica.segments()
        && primary.segments().iter().all(|&first| {
            let a = records(primary_dir, first);
            a.is_some() && a == records(replica_dir, first)
        });
    writeln!(
        out,
        "   shipped {bytes} bytes in {chunks} chunks; replica at LSN {}; segment files byte-identical (up to preallocated zeros): {}",
        replica.last_lsn(),
        if identical { "yes" } else { "NO" }
    )?;
    check(identical, "the replica's segments equal the primary's")
}

/// Step 5: after a flush (a later issue), segments wholly below the flushed LSN go.
pub(super) fn drop_old_segments(dir: &Path, out: &mut dyn Write) -> DemoResult {
    let (wal, _) = Wal::open(StdFs::shared(), dir, options())?;
    let before = wal.segments().len();
    let flushed = Lsn(wal.last_lsn().0 / 2);
    writeln!(
        out,
        "\n5. Pretend the memtable was flushed up to LSN {flushed}: drop the segments wholly below it"
    )?;
    let removed = wal.truncate_before(flushed)?;
    writeln!(
        out,
        "   removed {removed} of {before} segments; the log now starts at LSN {}",
        wal.first_lsn()
    )?;
    check(
        wal.first_lsn() <= flushed && removed > 0,
        "only segments below the flushed LSN were dropped",
    )
}

/// Step 6: what `dynastore dump wal` shows.
pub(super) fn dump_newest_segment(dir: &Path, out: &mut dyn Write) -> DemoResult {
    writeln!(
        out,
        "\n6. `dynastore dump wal {}` (first lines of the newest segment):",
        dir.display()
    )?;
    let mut text = Vec::new();
    crate::dump::wal(dir, false, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let newest = lines.iter().rposition(|l| l.starts_with("segment ")).unwrap_or(0);
    for line in lines.iter().skip(newest).take(6) {
        writeln!(out, "   {line}")?;
    }
    writeln!(out, "   ...")?;
    if let Some(summary) = lines.last() {
        writeln!(out, "   {summary}")?;
    }
    check(text.contains(", 0 damaged segment(s)"), "the dump finds no damage")
}
