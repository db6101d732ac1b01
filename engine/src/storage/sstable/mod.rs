//! SSTables: immutable, sorted files of a partition's entries (format version 1).
//!
//! # File layout
//!
//! ```text
//! data block*  filter block  properties block  index block  footer
//! ```
//!
//! Every block is followed by a CRC-32 (IEEE, u32 LE) of its bytes; a *handle* is a
//! block's offset and size (without the checksum).
//!
//! - **Data blocks** (~4 KiB, [`block`] format, restart every 16 entries): storage key →
//!   value, where a value is one tag byte, `0` for a tombstone (nothing follows) or `1`
//!   for an item (the item codec follows).
//! - **Filter block**: a bloom filter over every key ([`bloom`]).
//! - **Properties block**: entry count, tombstone count, smallest and largest LSN (u64 LE
//!   each), then the smallest and the largest key (varint length + bytes).
//! - **Index block** ([`block`] format, restart every entry): for each data block, its last
//!   key → its handle (varint offset, varint size).
//! - **Footer** (64 bytes): the handles of the filter, properties and index blocks (u64 LE
//!   offset and size each), the format version (u32 LE, 1), a CRC-32 of the 52 bytes before
//!   it (u32 LE), and the magic number `DYNSST01` (8 bytes).
//!
//! A reader checks the footer when it opens a table and a block's checksum every time it
//! reads the block, so a flipped bit or a truncated file is reported as
//! [`Error::Corruption`] with the file and the offset, never as a wrong answer.

pub mod block;
pub mod bloom;

use crate::error::{Error, Result, io_error};
use block::{Block, BlockBuilder, get_varint, put_varint};
use dynastore_wal::fs::{FileSystem, FsFile, MappedBytes};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The magic number at the end of every SSTable.
pub const MAGIC: [u8; 8] = *b"DYNSST01";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The size of the footer.
pub const FOOTER_BYTES: usize = 64;
/// Data blocks are cut once they reach this size.
pub const BLOCK_BYTES: usize = 4096;
/// Entries between restart points in data blocks.
const RESTART_INTERVAL: usize = 16;

const TAG_TOMBSTONE: u8 = 0;
const TAG_VALUE: u8 = 1;

/// What an SSTable holds for a key: a value, or a tombstone hiding older values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The encoded item.
    Value(Vec<u8>),
    /// The key was deleted.
    Tombstone,
}

/// A table's properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// Entries, tombstones included.
    pub entries: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// The smallest LSN whose writes the table holds.
    pub min_lsn: u64,
    /// The largest LSN whose writes the table holds.
    pub max_lsn: u64,
    /// The smallest key.
    pub smallest_key: Vec<u8>,
    /// The largest key.
    pub largest_key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Handle {
    offset: u64,
    size: u64,
}

/// Writes an SSTable from entries in strictly increasing key order, streaming it to its
/// file: memory holds one block, a write buffer, the index and 8 bytes per key for the
/// filter, never the whole table.
#[derive(Debug)]
pub struct SsTableWriter {
    path: PathBuf,
    file: Arc<dyn FsFile>,
    /// Bytes not yet written to the file, which holds `written` bytes before them.
    buffer: Vec<u8>,
    written: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    key_hashes: Vec<u64>,
    last_key: Option<Vec<u8>>,
    /// The entry being added, tag and value (kept to reuse its allocation).
    value: Vec<u8>,
    properties: Properties,
}

/// Bytes buffered before they are written to the file.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

fn encode_handle(handle: Handle) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    put_varint(&mut out, handle.offset);
    put_varint(&mut out, handle.size);
    out
}

impl SsTableWriter {
    /// Creates the table's file at `path` (which must not exist) and a writer of it.
    ///
    /// Errors: [`Error::Io`].
    pub fn create(fs: &dyn FileSystem, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let file = fs.create_new(&path).map_err(io_error("creating", &path))?;
        Ok(SsTableWriter {
            path,
            file,
            buffer: Vec::with_capacity(WRITE_BUFFER_BYTES),
            written: 0,
            data: BlockBuilder::new(RESTART_INTERVAL),
            index: BlockBuilder::new(1),
            key_hashes: Vec::new(),
            last_key: None,
            value: Vec::new(),
            properties: Properties {
                min_lsn: u64::MAX,
                ..Properties::default()
            },
        })
    }

    /// The table's size so far, in bytes (the block being built not included).
    pub fn bytes_written(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    /// Adds an entry written at `lsn`.
    ///
    /// Errors: [`Error::Corruption`] (a bug upstream, reported, never written) if `key` is
    /// not greater than the previous key; [`Error::Io`].
    pub fn add(&mut self, key: &[u8], entry: &Entry, lsn: u64) -> Result<()> {
        let value = match entry {
            Entry::Value(bytes) => Some(bytes.as_slice()),
            Entry::Tombstone => None,
        };
        self.add_raw(key, value, lsn)
    }

    /// [`SsTableWriter::add`] of a value by reference: `Some(encoded item)`, or `None`
    /// for a tombstone.
    ///
    /// Errors: as [`SsTableWriter::add`].
    pub fn add_raw(&mut self, key: &[u8], value: Option<&[u8]>, lsn: u64) -> Result<()> {
        if self.last_key.as_deref().is_some_and(|last| last >= key) {
            return Err(Error::Corruption {
                file: self.path.clone(),
                offset: self.bytes_written(),
                reason: "SSTable keys must be added in strictly increasing order".into(),
            });
        }
        self.value.clear();
        match value {
            Some(bytes) => {
                self.value.push(TAG_VALUE);
                self.value.extend_from_slice(bytes);
            }
            None => {
                self.value.push(TAG_TOMBSTONE);
                self.properties.tombstones += 1;
            }
        }
        self.data.add(key, &self.value);
        self.key_hashes.push(bloom::hash(key));
        if self.properties.entries == 0 {
            self.properties.smallest_key = key.to_vec();
        }
        match &mut self.last_key {
            Some(last) => {
                last.clear();
                last.extend_from_slice(key);
            }
            None => self.last_key = Some(key.to_vec()),
        }
        self.properties.entries += 1;
        self.properties.min_lsn = self.properties.min_lsn.min(lsn);
        self.properties.max_lsn = self.properties.max_lsn.max(lsn);
        if self.data.estimated_size() >= BLOCK_BYTES {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Appends a block and its checksum; returns its handle.
    fn append_block(&mut self, block: &[u8]) -> Result<Handle> {
        let handle = Handle {
            offset: self.bytes_written(),
            size: block.len() as u64,
        };
        self.buffer.extend_from_slice(block);
        self.buffer.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
        if self.buffer.len() >= WRITE_BUFFER_BYTES {
            self.write_buffer()?;
        }
        Ok(handle)
    }

    fn write_buffer(&mut self) -> Result<()> {
        self.file
            .write_all_at(&self.buffer, self.written)
            .map_err(io_error("writing", &self.path))?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let last_key = self.data.last_key().to_vec();
        let block = self.data.finish();
        let handle = self.append_block(&block)?;
        self.index.add(&last_key, &encode_handle(handle));
        Ok(())
    }

    /// Records the LSN range of the writes the table holds when its entries carry no LSN
    /// of their own (a compaction's output spans its inputs' ranges).
    pub fn set_lsn_range(&mut self, min_lsn: u64, max_lsn: u64) {
        self.properties.min_lsn = min_lsn;
        self.properties.max_lsn = max_lsn;
    }

    /// Writes the rest of the table and syncs the file. The caller syncs the directory
    /// before recording the table anywhere. Returns its properties.
    ///
    /// Errors: [`Error::Io`]; the file is then incomplete, and the caller removes it.
    pub fn finish(mut self) -> Result<Properties> {
        self.flush_data_block()?;
        let filter = bloom::build(&self.key_hashes);
        let filter_handle = self.append_block(&filter)?;
        if self.properties.entries == 0 {
            self.properties.min_lsn = 0;
        }
        self.properties.largest_key = self.last_key.take().unwrap_or_default();
        let properties_handle = self.append_block(&encode_properties(&self.properties))?;
        let index = self.index.finish();
        let index_handle = self.append_block(&index)?;
        let mut footer = Vec::with_capacity(FOOTER_BYTES);
        for handle in [filter_handle, properties_handle, index_handle] {
            footer.extend_from_slice(&handle.offset.to_le_bytes());
            footer.extend_from_slice(&handle.size.to_le_bytes());
        }
        footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(&MAGIC);
        self.buffer.extend_from_slice(&footer);
        self.write_buffer()?;
        self.file.sync_data().map_err(io_error("syncing", &self.path))?;
        Ok(self.properties)
    }
}

fn encode_properties(properties: &Properties) -> Vec<u8> {
    let mut out = Vec::new();
    for value in [
        properties.entries,
        properties.tombstones,
        properties.min_lsn,
        properties.max_lsn,
    ] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    for key in [&properties.smallest_key, &properties.largest_key] {
        put_varint(&mut out, key.len() as u64);
        out.extend_from_slice(key);
    }
    out
}

/// An open SSTable: its bytes (memory-mapped on the real file system), checked footer,
/// filter, properties and index.
pub struct SsTable {
    path: PathBuf,
    bytes: MappedBytes,
    /// The bloom filter, checked once at open and kept in memory: every lookup reads it.
    filter: Vec<u8>,
    properties: Properties,
    /// Each data block's last key and handle, in order.
    index: Vec<(Vec<u8>, Handle)>,
}

impl std::fmt::Debug for SsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsTable")
            .field("path", &self.path)
            .field("properties", &self.properties)
            .finish()
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

impl SsTable {
    /// Opens the table at `path`, checking its footer and its filter, properties and index
    /// blocks.
    ///
    /// Errors: [`Error::Corruption`] with the offset of the damage, [`Error::Io`].
    pub fn open(fs: &dyn FileSystem, path: &Path) -> Result<SsTable> {
        let bytes = fs.map_immutable(path).map_err(io_error("mapping", path))?;
        let mut table = SsTable {
            path: path.to_path_buf(),
            bytes,
            filter: Vec::new(),
            properties: Properties::default(),
            index: Vec::new(),
        };
        let (filter, properties, index) = table.read_footer()?;
        table.filter = table.block(filter)?.to_vec();
        table.properties = table.read_properties(properties)?;
        table.index = table.read_index(index)?;
        Ok(table)
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            file: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn file(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    fn read_footer(&self) -> Result<(Handle, Handle, Handle)> {
        let file = self.file();
        let at = file
            .len()
            .checked_sub(FOOTER_BYTES)
            .ok_or_else(|| self.corrupt(0, format!("file of {} bytes is shorter than a footer", file.len())))?;
        let footer = &file[at..];
        if footer[56..64] != MAGIC {
            return Err(self.corrupt(at as u64 + 56, "bad magic number: not a dynastore SSTable"));
        }
        let crc = u32::from_le_bytes([footer[52], footer[53], footer[54], footer[55]]);
        if crc32fast::hash(&footer[..52]) != crc {
            return Err(self.corrupt(at as u64, "footer checksum mismatch"));
        }
        let version = u32::from_le_bytes([footer[48], footer[49], footer[50], footer[51]]);
        if version != FORMAT_VERSION {
            return Err(self.corrupt(at as u64 + 48, format!("unsupported SSTable format version {version}")));
        }
        let handle = |i: usize| Handle {
            offset: u64_at(footer, 16 * i),
            size: u64_at(footer, 16 * i + 8),
        };
        Ok((handle(0), handle(1), handle(2)))
    }

    /// A block's bytes, after checking its bounds and checksum.
    fn block(&self, handle: Handle) -> Result<&[u8]> {
        let file = self.file();
        let start =
            usize::try_from(handle.offset).map_err(|_| self.corrupt(handle.offset, "block offset too large"))?;
        let size = usize::try_from(handle.size).map_err(|_| self.corrupt(handle.offset, "block size too large"))?;
        let end = start
            .checked_add(size)
            .filter(|end| end.checked_add(4).is_some_and(|e| e <= file.len()))
            .ok_or_else(|| self.corrupt(handle.offset, "block extends past the end of the file"))?;
        let block = &file[start..end];
        let crc = u32::from_le_bytes([file[end], file[end + 1], file[end + 2], file[end + 3]]);
        if crc32fast::hash(block) != crc {
            return Err(self.corrupt(handle.offset, "block checksum mismatch"));
        }
        Ok(block)
    }

    fn read_properties(&self, handle: Handle) -> Result<Properties> {
        let bytes = self.block(handle)?;
        let bad = || self.corrupt(handle.offset, "properties block does not decode");
        if bytes.len() < 32 {
            return Err(bad());
        }
        let mut pos = 32;
        let mut key = || -> Option<Vec<u8>> {
            let len = usize::try_from(get_varint(bytes, &mut pos)?).ok()?;
            let key = bytes.get(pos..pos.checked_add(len)?)?.to_vec();
            pos += len;
            Some(key)
        };
        let (smallest_key, largest_key) = (key().ok_or_else(bad)?, key().ok_or_else(bad)?);
        Ok(Properties {
            entries: u64_at(bytes, 0),
            tombstones: u64_at(bytes, 8),
            min_lsn: u64_at(bytes, 16),
            max_lsn: u64_at(bytes, 24),
            smallest_key,
            largest_key,
        })
    }

    fn read_index(&self, handle: Handle) -> Result<Vec<(Vec<u8>, Handle)>> {
        let bytes = self.block(handle)?;
        let block = Block::parse(bytes).map_err(|reason| self.corrupt(handle.offset, reason))?;
        block
            .iter()
            .map(|entry| {
                let (key, value) = entry.map_err(|reason| self.corrupt(handle.offset, reason))?;
                let mut pos = 0;
                let offset = get_varint(value, &mut pos);
                let size = get_varint(value, &mut pos);
                match (offset, size) {
                    (Some(offset), Some(size)) if pos == value.len() => Ok((key, Handle { offset, size })),
                    _ => Err(self.corrupt(handle.offset, "index entry does not decode")),
                }
            })
            .collect()
    }

    /// Each data block's last key, offset and size, in order (for `dump sst`).
    pub fn index_entries(&self) -> impl Iterator<Item = (&[u8], u64, u64)> {
        self.index
            .iter()
            .map(|(key, handle)| (key.as_slice(), handle.offset, handle.size))
    }

    /// The table file's size in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.file().len() as u64
    }

    /// The table's properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The table's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the bloom filter rules `key` out (then the table surely does not hold it).
    pub fn filter_excludes(&self, key: &[u8]) -> Result<bool> {
        Ok(!bloom::may_contain(&self.filter, bloom::hash(key)))
    }

    /// An entry's value without copying it: the stored bytes, or `None` for a tombstone.
    fn decode_entry_ref<'a>(&self, offset: u64, value: &'a [u8]) -> Result<Option<&'a [u8]>> {
        match value.split_first() {
            Some((&TAG_VALUE, bytes)) => Ok(Some(bytes)),
            Some((&TAG_TOMBSTONE, [])) => Ok(None),
            _ => Err(self.corrupt(offset, "entry value has an unknown tag")),
        }
    }

    /// The entry for `key`, if the table has one. Skips the table by key range and bloom
    /// filter before reading any data block.
    ///
    /// Errors: [`Error::Corruption`] for a damaged block.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.get_hashed(key, bloom::hash(key))
    }

    /// [`SsTable::get`] for a key whose [`bloom::hash`] the caller computed once for all
    /// the tables it probes.
    ///
    /// Errors: [`Error::Corruption`] for a damaged block.
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Result<Option<Entry>> {
        Ok(self.lookup(key, hash)?.map(|value| match value {
            Some(bytes) => Entry::Value(bytes.to_vec()),
            None => Entry::Tombstone,
        }))
    }

    /// [`SsTable::get_hashed`] without copying the value out of the file: `None` if the
    /// table has no entry for `key`, `Some(None)` for a tombstone, `Some(Some(item))` for
    /// the encoded item.
    ///
    /// Errors: [`Error::Corruption`] for a damaged block.
    pub fn lookup(&self, key: &[u8], hash: u64) -> Result<Option<Option<&[u8]>>> {
        if self.properties.entries == 0
            || key < self.properties.smallest_key.as_slice()
            || key > self.properties.largest_key.as_slice()
            || !bloom::may_contain(&self.filter, hash)
        {
            return Ok(None);
        }
        let index = self.index.partition_point(|(last, _)| last.as_slice() < key);
        let Some(&(_, handle)) = self.index.get(index) else {
            return Ok(None);
        };
        let block = Block::parse(self.block(handle)?).map_err(|reason| self.corrupt(handle.offset, reason))?;
        match block.seek(key).map_err(|reason| self.corrupt(handle.offset, reason))? {
            Some(value) => self.decode_entry_ref(handle.offset, value).map(Some),
            None => Ok(None),
        }
    }

    /// The entries with keys in `(lower, upper)`, in key order or reversed, block by block.
    pub fn range(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>, reverse: bool) -> SsTableRange<'_> {
        let first = match lower {
            Bound::Unbounded => 0,
            Bound::Included(key) | Bound::Excluded(key) => {
                self.index.partition_point(|(last, _)| last.as_slice() < key)
            }
        };
        // The block holding the upper bound is the first whose last key reaches it.
        let last = match upper {
            Bound::Unbounded => self.index.len(),
            Bound::Included(key) | Bound::Excluded(key) => {
                (self.index.partition_point(|(last, _)| last.as_slice() < key) + 1).min(self.index.len())
            }
        };
        let owned = |bound: Bound<&[u8]>| match bound {
            Bound::Included(key) => Bound::Included(key.to_vec()),
            Bound::Excluded(key) => Bound::Excluded(key.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        SsTableRange {
            table: self,
            lower: owned(lower),
            upper: owned(upper),
            blocks: first..last.max(first),
            reverse,
            keys: Vec::new(),
            spans: Vec::new(),
            next_span: 0,
            failed: false,
        }
    }

    /// Every entry with a key at or after `lower`, in key order, block by block.
    pub fn iter_from(&self, lower: Bound<&[u8]>) -> SsTableRange<'_> {
        self.range(lower, Bound::Unbounded, false)
    }
}

/// An entry with its value borrowed from the file: the key, and `Some(encoded item)` or
/// `None` for a tombstone.
pub type RawEntry<'a> = (Vec<u8>, Option<&'a [u8]>);

/// An entry with its key borrowed from the iterator and its value from the file.
type BorrowedEntry<'k, 'a> = (&'k [u8], Option<&'a [u8]>);

/// Iterates an SSTable's entries between two bounds; see [`SsTable::range`].
pub struct SsTableRange<'a> {
    table: &'a SsTable,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    blocks: std::ops::Range<usize>,
    reverse: bool,
    /// The current block's keys within the bounds, end to end, and for each (in the
    /// order they are yielded) its span in `keys` and its value; reused from block to
    /// block, so a range read allocates per key only what its caller keeps.
    keys: Vec<u8>,
    spans: Vec<(usize, usize, Option<&'a [u8]>)>,
    next_span: usize,
    failed: bool,
}

fn within(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(bound) => key >= bound.as_slice(),
        Bound::Excluded(bound) => key > bound.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(bound) => key <= bound.as_slice(),
        Bound::Excluded(bound) => key < bound.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

impl<'a> SsTableRange<'a> {
    /// The entries without copying their values out of the file: `None` is a tombstone.
    pub fn raw(mut self) -> impl Iterator<Item = Result<RawEntry<'a>>> + 'a {
        std::iter::from_fn(move || self.next_raw())
    }

    fn next_raw(&mut self) -> Option<Result<RawEntry<'a>>> {
        self.next_ref()
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value)))
    }

    /// Calls `visit` with every entry (`None`: a tombstone), its key borrowed, until it
    /// returns false: a range read that allocates nothing per entry.
    ///
    /// Errors: [`Error::Corruption`] for a damaged block.
    pub fn visit(mut self, mut visit: impl FnMut(&[u8], Option<&'a [u8]>) -> bool) -> Result<()> {
        if !self.reverse {
            // Forward, entries are visited as the block decodes them: nothing is buffered.
            let table = self.table;
            for index in self.blocks.clone() {
                let handle = table.index[index].1;
                let block =
                    Block::parse(table.block(handle)?).map_err(|reason| table.corrupt(handle.offset, reason))?;
                let mut entries = block.iter();
                while let Some(entry) = entries.next_ref() {
                    let (key, value) = entry.map_err(|reason| table.corrupt(handle.offset, reason))?;
                    if !within(key, &self.lower, &self.upper) {
                        if matches!(&self.upper, Bound::Included(upper) | Bound::Excluded(upper) if key >= upper.as_slice())
                        {
                            return Ok(());
                        }
                        continue;
                    }
                    if !visit(key, table.decode_entry_ref(handle.offset, value)?) {
                        return Ok(());
                    }
                }
            }
            return Ok(());
        }
        while let Some(entry) = self.next_ref() {
            let (key, value) = entry?;
            if !visit(key, value) {
                break;
            }
        }
        Ok(())
    }

    fn next_ref(&mut self) -> Option<Result<BorrowedEntry<'_, 'a>>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(&(start, end, value)) = self.spans.get(self.next_span) {
                self.next_span += 1;
                return Some(Ok((&self.keys[start..end], value)));
            }
            match self.load_block() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
    }

    fn load_block(&mut self) -> Result<bool> {
        let next = if self.reverse {
            self.blocks.next_back()
        } else {
            self.blocks.next()
        };
        let Some(index) = next else {
            return Ok(false);
        };
        let table = self.table;
        let handle = table.index[index].1;
        let block = Block::parse(table.block(handle)?).map_err(|reason| table.corrupt(handle.offset, reason))?;
        self.keys.clear();
        self.spans.clear();
        self.next_span = 0;
        let mut entries = block.iter();
        while let Some(entry) = entries.next_ref() {
            let (key, value) = entry.map_err(|reason| table.corrupt(handle.offset, reason))?;
            if within(key, &self.lower, &self.upper) {
                let start = self.keys.len();
                self.keys.extend_from_slice(key);
                self.spans
                    .push((start, self.keys.len(), table.decode_entry_ref(handle.offset, value)?));
            }
        }
        if self.reverse {
            self.spans.reverse();
        }
        Ok(true)
    }
}

impl Iterator for SsTableRange<'_> {
    type Item = Result<(Vec<u8>, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_raw().map(|entry| {
            entry.map(|(key, value)| {
                let entry = match value {
                    Some(bytes) => Entry::Value(bytes.to_vec()),
                    None => Entry::Tombstone,
                };
                (key, entry)
            })
        })
    }
}
