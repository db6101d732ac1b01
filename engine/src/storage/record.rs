//! The WAL payload of a write (format version 1; docs/format/wal-payload.md):
//!
//! ```text
//! op u8 (1 = put)    | key_len u32 LE | storage key | item (the item codec)
//! op u8 (2 = delete) | key_len u32 LE | storage key
//! op u8 (3 = batch)  | count u32 LE   | count × (write_len u32 LE | a put, delete or note)
//! op u8 (4 = note)   | key_len u32 LE | storage key | item (the item codec)
//! ```
//!
//! A batch record carries several writes of one partition, so recovery keeps all of them
//! or none (BatchWriteItem never half-applies within a partition, and an item's local
//! index entries are written with it). A note, only ever inside a batch, is never
//! applied: it tells the global index applier what the item under its key was keyed by
//! in the global indexes before the record (see `docs/format/wal-payload.md`).

use crate::item::codec::decode_item;
use crate::storage::memtable::Encoded;
use crate::storage::memtable::MemKey;

pub(super) const OP_PUT: u8 = 1;

pub(super) const OP_DELETE: u8 = 2;

pub(super) const OP_BATCH: u8 = 3;

pub(super) const OP_NOTE: u8 = 4;

pub(super) fn encode_record(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut record = Vec::with_capacity(1 + 4 + key.len() + value.map_or(0, <[u8]>::len));
    record.push(if value.is_some() { OP_PUT } else { OP_DELETE });
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(key);
    if let Some(value) = value {
        record.extend_from_slice(value);
    }
    record
}

/// A batch record of `writes`, then `notes` (each a storage key and an encoded item).
pub(super) fn encode_batch(writes: &[(MemKey, Option<Encoded>)], notes: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut record = vec![OP_BATCH];
    record.extend_from_slice(&((writes.len() + notes.len()) as u32).to_le_bytes());
    let mut push = |write: Vec<u8>| {
        record.extend_from_slice(&(write.len() as u32).to_le_bytes());
        record.extend_from_slice(&write);
    };
    for (key, value) in writes {
        push(encode_record(&key.bytes, value.as_deref()));
    }
    for (key, item) in notes {
        let mut note = Vec::with_capacity(5 + key.len() + item.len());
        note.push(OP_NOTE);
        note.extend_from_slice(&(key.len() as u32).to_le_bytes());
        note.extend_from_slice(key);
        note.extend_from_slice(item);
        push(note);
    }
    record
}

/// One write as a record holds it: the storage key and the encoded item, or `None`.
pub(super) type RecordWrite<'a> = (&'a [u8], Option<&'a [u8]>);

/// Decodes a record into its writes (one, or several for a batch), checking that every
/// item decodes; notes are left out.
pub(super) fn decode_writes(bytes: &[u8]) -> std::result::Result<Vec<RecordWrite<'_>>, String> {
    Ok(decode_parts(bytes)?
        .into_iter()
        .filter_map(|(op, key, value)| (op != OP_NOTE).then_some((key, value)))
        .collect())
}

/// A record's writes and its notes: each note a storage key and the encoded item noted.
pub(crate) type RecordParts<'a> = (Vec<RecordWrite<'a>>, Vec<(&'a [u8], &'a [u8])>);

/// Decodes a record into its writes and its notes (for the global index applier).
pub(crate) fn decode_with_notes(bytes: &[u8]) -> std::result::Result<RecordParts<'_>, String> {
    let mut writes = Vec::new();
    let mut notes = Vec::new();
    for (op, key, value) in decode_parts(bytes)? {
        match (op, value) {
            (OP_NOTE, Some(item)) => notes.push((key, item)),
            _ => writes.push((key, value)),
        }
    }
    Ok((writes, notes))
}

/// One part of a record: its operation, its key, and its item if it has one.
type RecordPart<'a> = (u8, &'a [u8], Option<&'a [u8]>);

/// Every part of a record with its operation: one write, or a batch's writes and notes.
fn decode_parts(bytes: &[u8]) -> std::result::Result<Vec<RecordPart<'_>>, String> {
    if bytes.first() != Some(&OP_BATCH) {
        let (key, value) = decode_record(bytes)?;
        return Ok(vec![(bytes[0], key, value)]);
    }
    let u32_at = |at: usize| -> std::result::Result<usize, String> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("batch record cut short")?;
        Ok(u32::from_le_bytes(b) as usize)
    };
    let count = u32_at(1)?;
    let mut pos = 5;
    let mut writes = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = u32_at(pos)?;
        let write = bytes.get(pos + 4..pos + 4 + len).ok_or("batch record cut in a write")?;
        let (key, value) = decode_record(write)?;
        writes.push((write[0], key, value));
        pos += 4 + len;
    }
    if pos != bytes.len() {
        return Err("trailing bytes after a batch".into());
    }
    Ok(writes)
}

pub(super) fn decode_record(bytes: &[u8]) -> std::result::Result<RecordWrite<'_>, String> {
    let (&op, rest) = bytes.split_first().ok_or("empty record")?;
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("record cut in its key length")?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let key = rest.get(4..4 + len).ok_or("record cut in its key")?;
    let body = &rest[4 + len..];
    match op {
        OP_PUT | OP_NOTE => {
            decode_item(body).map_err(|e| e.to_string())?;
            Ok((key, Some(body)))
        }
        OP_DELETE if body.is_empty() => Ok((key, None)),
        _ => Err(format!("unknown record operation {op}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;
    use crate::item::codec::decode_item;
    use crate::storage::memtable::{MemKey, encode};

    #[test]
    fn batch_records_round_trip_and_refuse_damage() {
        let item = Item::new().with("a", 1);
        let writes = vec![
            (MemKey::new(b"key-one".to_vec()), Some(encode(&item))),
            (MemKey::new(b"key-two".to_vec()), None),
        ];
        let record = encode_batch(&writes, &[(b"key-one".to_vec(), encode(&item).to_vec())]);
        let decoded = decode_writes(&record).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].0, b"key-one");
        assert_eq!(
            decoded[0].1.map(|bytes| decode_item(bytes).unwrap()),
            Some(item.clone())
        );
        assert_eq!(decoded[1], (&b"key-two"[..], None));
        let (writes, notes) = decode_with_notes(&record).unwrap();
        assert_eq!(writes, decoded);
        assert_eq!(notes.len(), 1);
        assert_eq!(decode_item(notes[0].1).unwrap(), item);
        for cut in 0..record.len() {
            assert!(decode_writes(&record[..cut]).is_err(), "cut at {cut}");
        }
    }
}
