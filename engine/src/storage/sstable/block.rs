//! Blocks: sorted entries with prefix-compressed keys and restart points.
//!
//! ```text
//! block   := entry* restart_offset(u32 LE)* restart_count(u32 LE)
//! entry   := varint(shared) varint(unshared) varint(value_len) key[shared..] value
//! ```
//!
//! `shared` is how many leading bytes the key has in common with the previous key; at a
//! restart point (every `restart_interval` entries) it is 0, so a reader can binary
//! search the restart points and decode forward from one. On disk every block is followed
//! by a CRC-32 (IEEE, u32 LE) of its bytes.

/// Appends a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint at `*pos`, advancing it; `None` if malformed or cut short.
pub fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Builds one block.
#[derive(Debug)]
pub struct BlockBuilder {
    bytes: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    count: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// An empty block restarting every `restart_interval` entries.
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            bytes: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            count: 0,
            last_key: Vec::new(),
        }
    }

    /// Adds an entry; keys must come in strictly increasing order (the writer checks).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.count.is_multiple_of(self.restart_interval) {
            self.restarts.push(self.bytes.len() as u32);
            0
        } else {
            key.iter().zip(&self.last_key).take_while(|(a, b)| a == b).count()
        };
        put_varint(&mut self.bytes, shared as u64);
        put_varint(&mut self.bytes, (key.len() - shared) as u64);
        put_varint(&mut self.bytes, value.len() as u64);
        self.bytes.extend_from_slice(&key[shared..]);
        self.bytes.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.count += 1;
    }

    /// The size the block would have if finished now.
    pub fn estimated_size(&self) -> usize {
        self.bytes.len() + 4 * self.restarts.len() + 4
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The finished block's bytes; the builder is reset for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        for restart in &self.restarts {
            bytes.extend_from_slice(&restart.to_le_bytes());
        }
        bytes.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.count = 0;
        self.last_key.clear();
        bytes
    }
}

/// Why a block's bytes do not decode.
pub type BlockError = &'static str;

/// A view of a block's entries and its restart array (read in place, not copied).
#[derive(Debug)]
pub struct Block<'a> {
    entries: &'a [u8],
    restarts: &'a [u8],
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes one entry header at `pos`: `(shared, unshared, value_len)`, advancing `pos`.
fn entry_header(entries: &[u8], pos: &mut usize) -> Result<(usize, usize, usize), BlockError> {
    let shared = get_varint(entries, pos).ok_or("bad shared length")? as usize;
    let unshared = get_varint(entries, pos).ok_or("bad key length")? as usize;
    let value_len = get_varint(entries, pos).ok_or("bad value length")? as usize;
    Ok((shared, unshared, value_len))
}

impl<'a> Block<'a> {
    /// Parses a block's restart array (its checksum was checked by the caller).
    pub fn parse(bytes: &'a [u8]) -> Result<Block<'a>, BlockError> {
        let count_at = bytes
            .len()
            .checked_sub(4)
            .ok_or("block shorter than its restart count")?;
        let count = u32_at(bytes, count_at).ok_or("block restart count unreadable")? as usize;
        let array_at = count_at
            .checked_sub(count.checked_mul(4).ok_or("restart count too large")?)
            .ok_or("restart array past the block's start")?;
        let block = Block {
            entries: &bytes[..array_at],
            restarts: &bytes[array_at..count_at],
        };
        if (0..count).any(|i| block.restart(i) >= array_at) {
            return Err("restart offset past the entries");
        }
        Ok(block)
    }

    fn restart_count(&self) -> usize {
        self.restarts.len() / 4
    }

    fn restart(&self, i: usize) -> usize {
        u32_at(self.restarts, 4 * i).unwrap_or(u32::MAX) as usize
    }

    /// The key stored whole at restart point `i` (restart entries share no prefix).
    fn restart_key(&self, i: usize) -> Result<&'a [u8], BlockError> {
        let mut pos = self.restart(i);
        let (shared, unshared, _) = entry_header(self.entries, &mut pos)?;
        if shared != 0 {
            return Err("restart entry shares a prefix");
        }
        self.entries.get(pos..pos + unshared).ok_or("key past the block's end")
    }

    /// The value stored under exactly `key`, if any: a binary search of the restart points,
    /// then a scan of at most one restart interval, without copying keys.
    pub fn seek(&self, key: &[u8]) -> Result<Option<&'a [u8]>, BlockError> {
        let (mut low, mut high) = (0, self.restart_count());
        if high == 0 {
            return Ok(None);
        }
        while high - low > 1 {
            let mid = (low + high) / 2;
            if self.restart_key(mid)? <= key {
                low = mid;
            } else {
                high = mid;
            }
        }
        let end = if high < self.restart_count() && high > low {
            self.restart(high)
        } else {
            self.entries.len()
        };
        let mut pos = self.restart(low);
        let mut current: Vec<u8> = Vec::new();
        while pos < end {
            let (shared, unshared, value_len) = entry_header(self.entries, &mut pos)?;
            if shared > current.len() {
                return Err("shared prefix longer than the previous key");
            }
            let delta = self
                .entries
                .get(pos..pos + unshared)
                .ok_or("key past the block's end")?;
            current.truncate(shared);
            current.extend_from_slice(delta);
            pos += unshared;
            let value = self
                .entries
                .get(pos..pos + value_len)
                .ok_or("value past the block's end")?;
            pos += value_len;
            match current.as_slice().cmp(key) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(value)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Every entry, in order.
    pub fn iter(&self) -> BlockIter<'a> {
        BlockIter {
            entries: self.entries,
            pos: 0,
            key: Vec::new(),
        }
    }
}

/// Decodes a block's entries forward.
#[derive(Debug)]
pub struct BlockIter<'a> {
    entries: &'a [u8],
    pos: usize,
    key: Vec<u8>,
}

/// An entry as [`BlockIter::next_ref`] gives it: the key (borrowed from the iterator) and
/// the value (borrowed from the block).
pub type EntryRef<'k, 'a> = (&'k [u8], &'a [u8]);

impl<'a> BlockIter<'a> {
    /// The next entry, its key borrowed from the iterator (no allocation per entry).
    pub fn next_ref(&mut self) -> Option<Result<EntryRef<'_, 'a>, BlockError>> {
        if self.pos >= self.entries.len() {
            return None;
        }
        match self.step() {
            Ok(value) => Some(Ok((self.key.as_slice(), value))),
            Err(error) => {
                self.pos = self.entries.len();
                Some(Err(error))
            }
        }
    }

    /// Decodes the entry at `pos` into `key`, returning its value.
    fn step(&mut self) -> Result<&'a [u8], BlockError> {
        let shared = get_varint(self.entries, &mut self.pos).ok_or("bad shared length")? as usize;
        let unshared = get_varint(self.entries, &mut self.pos).ok_or("bad key length")? as usize;
        let value_len = get_varint(self.entries, &mut self.pos).ok_or("bad value length")? as usize;
        if shared > self.key.len() {
            return Err("shared prefix longer than the previous key");
        }
        let key_end = self.pos.checked_add(unshared).ok_or("key length overflows")?;
        let value_end = key_end.checked_add(value_len).ok_or("value length overflows")?;
        let delta = self.entries.get(self.pos..key_end).ok_or("key past the block's end")?;
        let value = self
            .entries
            .get(key_end..value_end)
            .ok_or("value past the block's end")?;
        self.key.truncate(shared);
        self.key.extend_from_slice(delta);
        self.pos = value_end;
        Ok(value)
    }
}

impl<'a> Iterator for BlockIter<'a> {
    type Item = Result<(Vec<u8>, &'a [u8]), BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_ref()
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value)))
    }
}
