//! Where records start, every [`SEEK_STEP_BYTES`] of a log: a tailer that starts in the
//! middle of a segment (a replica's new stream after a failover or a rejoin) reads from the
//! nearest point before its record instead of from the start of a segment of up to 64 MiB
//! (which took 25-80 ms per tailer with 50 MB segments, on the first write after a
//! failover). In memory only: recovery rebuilds it as it checks the records.

use crate::Lsn;
use crate::segment::SEGMENT_HEADER_BYTES;

/// The log bytes between two points of a segment (at least).
pub(crate) const SEEK_STEP_BYTES: u64 = 1 << 20;

/// Record `lsn` starts at `offset` of segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeekPoint {
    pub lsn: Lsn,
    pub segment: Lsn,
    pub offset: u64,
}

/// Seek points in LSN order: one per [`SEEK_STEP_BYTES`] of each segment kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct SeekIndex {
    points: Vec<SeekPoint>,
}

impl SeekIndex {
    /// Notes that record `lsn` starts at `offset` of `segment`, if that is a step past the
    /// segment's last point (or its header). Records must be noted in LSN order.
    pub(crate) fn note(&mut self, lsn: Lsn, segment: Lsn, offset: u64) {
        let last = self
            .points
            .last()
            .filter(|point| point.segment == segment)
            .map_or(SEGMENT_HEADER_BYTES, |point| point.offset);
        if offset >= last + SEEK_STEP_BYTES {
            debug_assert!(self.points.last().is_none_or(|point| point.lsn < lsn));
            self.points.push(SeekPoint { lsn, segment, offset });
        }
    }

    /// The last point of `segment` at or before record `lsn`, if there is one.
    pub(crate) fn before(&self, segment: Lsn, lsn: Lsn) -> Option<SeekPoint> {
        let end = self.points.partition_point(|point| point.lsn <= lsn);
        self.points[..end]
            .last()
            .filter(|point| point.segment == segment)
            .copied()
    }

    /// Forgets the points of segments older than `oldest` (deleted).
    pub(crate) fn forget_segments_before(&mut self, oldest: Lsn) {
        self.points.retain(|point| point.segment >= oldest);
    }

    /// Forgets the points of records after `lsn` (cut from the log).
    pub(crate) fn forget_after(&mut self, lsn: Lsn) {
        self.points.retain(|point| point.lsn <= lsn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: u64 = SEEK_STEP_BYTES;

    #[test]
    fn a_point_is_noted_once_a_step_of_the_segment_passed() {
        let mut index = SeekIndex::default();
        index.note(Lsn(1), Lsn(1), SEGMENT_HEADER_BYTES);
        index.note(Lsn(2), Lsn(1), STEP);
        index.note(Lsn(3), Lsn(1), STEP + SEGMENT_HEADER_BYTES);
        index.note(Lsn(4), Lsn(1), 2 * STEP + SEGMENT_HEADER_BYTES);
        assert_eq!(index.before(Lsn(1), Lsn(2)), None);
        assert_eq!(index.before(Lsn(1), Lsn(3)).map(|p| p.lsn), Some(Lsn(3)));
        assert_eq!(index.before(Lsn(1), Lsn(100)).map(|p| p.lsn), Some(Lsn(4)));
        // A new segment starts its own steps; a point of an older one does not serve it.
        index.note(Lsn(5), Lsn(5), SEGMENT_HEADER_BYTES + 10);
        assert_eq!(index.before(Lsn(5), Lsn(5)), None);
        index.note(Lsn(6), Lsn(5), STEP + SEGMENT_HEADER_BYTES);
        assert_eq!(
            index.before(Lsn(5), Lsn(7)).map(|p| p.offset),
            Some(STEP + SEGMENT_HEADER_BYTES)
        );
        assert_eq!(index.before(Lsn(1), Lsn(4)).map(|p| p.lsn), Some(Lsn(4)));
    }

    #[test]
    fn points_of_deleted_segments_and_cut_records_are_forgotten() {
        let mut index = SeekIndex::default();
        for (lsn, segment, step) in [(3, 1, 1), (4, 1, 2), (8, 5, 1), (9, 5, 2)] {
            index.note(Lsn(lsn), Lsn(segment), step * STEP + SEGMENT_HEADER_BYTES);
        }
        index.forget_after(Lsn(8));
        assert_eq!(index.before(Lsn(5), Lsn(20)).map(|p| p.lsn), Some(Lsn(8)));
        index.forget_segments_before(Lsn(5));
        assert_eq!(index.before(Lsn(1), Lsn(4)), None);
        assert_eq!(index.points.len(), 1);
    }
}
