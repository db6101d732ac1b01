//! Reading records in LSN order across segments.

use crate::error::{Error, Result, io_error};
use crate::fs::{self, SharedFs};
use crate::record;
use crate::segment::{self, SEGMENT_HEADER_BYTES};
use crate::{Epoch, Lsn};
use std::io;
use std::path::PathBuf;

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The epoch of the primary that wrote it.
    pub epoch: Epoch,
    /// The payload, as appended.
    pub payload: Vec<u8>,
}

/// An iterator over the records of a log from one LSN to another, in order. It holds one
/// segment in memory at a time. Any damage yields [`Error::Corruption`] and ends it.
#[derive(Debug)]
pub struct WalReader {
    fs: SharedFs,
    dir: PathBuf,
    segments: Vec<Lsn>,
    index: usize,
    path: PathBuf,
    bytes: Vec<u8>,
    pos: usize,
    next: Lsn,
    end: Lsn,
    failed: bool,
}

impl WalReader {
    pub(crate) fn new(fs: SharedFs, dir: PathBuf, segments: Vec<Lsn>, from: Lsn, end: Lsn) -> Result<Self> {
        let from = from.max(Lsn::FIRST);
        let oldest = segments.first().copied().unwrap_or(Lsn::FIRST);
        if from < oldest && from <= end {
            return Err(Error::LsnTruncated {
                requested: from,
                oldest,
            });
        }
        let index = segments.iter().rposition(|&first| first <= from).unwrap_or(0);
        Ok(WalReader {
            fs,
            dir,
            segments,
            index,
            path: PathBuf::new(),
            bytes: Vec::new(),
            pos: 0,
            next: from,
            end,
            failed: false,
        })
    }

    fn corruption(&self, reason: String) -> Error {
        Error::Corruption {
            segment: self.path.clone(),
            offset: self.pos as u64,
            reason,
        }
    }

    /// Loads segment `self.index`, checking its header.
    fn load(&mut self) -> Result<()> {
        let first = self.segments[self.index];
        self.path = segment::segment_path(&self.dir, first);
        self.bytes = match fs::read_file(self.fs.as_ref(), &self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::LsnTruncated {
                    requested: self.next,
                    oldest: first.next(),
                });
            }
            Err(e) => return Err(io_error("reading", &self.path)(e)),
        };
        self.pos = 0;
        match segment::decode_header(&self.bytes) {
            Ok(named) if named == first => {}
            Ok(named) => {
                return Err(self.corruption(format!("header names first LSN {named}, the file name {first}")));
            }
            Err(reason) => return Err(self.corruption(reason)),
        }
        self.pos = SEGMENT_HEADER_BYTES as usize;
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Record>> {
        loop {
            if self.next > self.end || self.index >= self.segments.len() {
                return Ok(None);
            }
            if self.pos == 0 {
                self.load()?;
            }
            if self.pos >= self.bytes.len() {
                self.index += 1;
                self.pos = 0;
                if self.index >= self.segments.len() {
                    return Err(self.corruption(format!("the log ends before LSN {}", self.next)));
                }
                continue;
            }
            let frame = record::decode(&self.bytes[self.pos..]).map_err(|e| self.corruption(e.to_string()))?;
            if frame.lsn > self.next {
                return Err(self.corruption(format!("record has LSN {}, expected {}", frame.lsn, self.next)));
            }
            self.pos += frame.framed_len();
            if frame.lsn == self.next {
                self.next = self.next.next();
                return Ok(Some(Record {
                    lsn: frame.lsn,
                    epoch: frame.epoch,
                    payload: frame.payload.to_vec(),
                }));
            }
        }
    }
}

impl Iterator for WalReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.step().transpose();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}
