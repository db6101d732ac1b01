//! What a tailer reads of the log ([`crate::tail::TailSource`]), from its shared state.

use super::*;

impl TailSource for Shared {
    fn fs(&self) -> &dyn crate::fs::FileSystem {
        self.fs.as_ref()
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits up to `timeout` until a record at or after `lsn` is durable or the log is cut
    /// back (its rewind count differs from `rewinds`), then returns a view of the log;
    /// `None` on timeout.
    fn wait_for_durable(&self, lsn: Lsn, rewinds: u64, timeout: Duration) -> Result<Option<TailView>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        while state.durable_lsn < lsn && state.rewinds == rewinds {
            if state.closed {
                return Err(Error::Closed);
            }
            if let Some(cause) = &state.poisoned {
                return Err(Error::Poisoned { cause: cause.clone() });
            }
            if self.changed.wait_until(&mut state, deadline).timed_out() {
                return Ok(None);
            }
        }
        Ok(Some(TailView {
            durable_lsn: state.durable_lsn,
            newest_written_end: state.io_file.written_end,
            segments: state.segments.clone(),
            rewinds: state.rewinds,
            rewound_to: state.rewound_to,
        }))
    }

    /// The last seek point of `segment` at or before record `lsn` (see
    /// [`crate::seek_index`]).
    fn seek_point(&self, segment: Lsn, lsn: Lsn) -> Option<SeekPoint> {
        self.state.lock().seek_index.before(segment, lsn)
    }

    /// How many times the log was cut back.
    fn rewinds(&self) -> u64 {
        self.state.lock().rewinds
    }
}
