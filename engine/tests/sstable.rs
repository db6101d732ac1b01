//! SSTables: round trips against a BTreeMap, the bloom filter's false-positive rate, and
//! damage anywhere detected, never returned as data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dynastore_engine::Error;
use dynastore_engine::sstable::{Entry, SsTable, SsTableWriter};
use dynastore_wal::fs::{FaultyFs, FileSystem, StdFs};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

type Model = BTreeMap<Vec<u8>, Entry>;

fn write(fs: &dyn FileSystem, path: &Path, model: &Model) {
    let mut writer = SsTableWriter::create(fs, path).unwrap();
    for (i, (key, entry)) in model.iter().enumerate() {
        writer.add(key, entry, 100 + i as u64).unwrap();
    }
    let properties = writer.finish().unwrap();
    assert_eq!(properties.entries, model.len() as u64);
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Entry::Value),
        1 => Just(Entry::Tombstone),
    ]
}

fn all(table: &SsTable, lower: Bound<&[u8]>) -> Vec<(Vec<u8>, Entry)> {
    table.iter_from(lower).collect::<Result<Vec<_>, _>>().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tables_round_trip_gets_and_ordered_iteration(
        model in proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 1..40), entry(), 0..1500),
        probes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..50),
    ) {
        let fs = FaultyFs::new();
        let path = Path::new("/t.sst");
        write(&fs, path, &model);
        let table = SsTable::open(&fs, path).unwrap();
        for (key, expected) in &model {
            prop_assert_eq!(table.get(key).unwrap(), Some(expected.clone()));
        }
        for probe in &probes {
            prop_assert_eq!(table.get(probe).unwrap(), model.get(probe).cloned());
            let from: Vec<_> = model.range::<Vec<u8>, _>((Bound::Excluded(probe.clone()), Bound::Unbounded)).map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(all(&table, Bound::Excluded(probe)), from);
        }
        if let [a, b, ..] = &probes[..] {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            let expected: Vec<_> = model.range::<Vec<u8>, _>((Bound::Included(low.clone()), Bound::Excluded(high.clone()))).map(|(k, v)| (k.clone(), v.clone())).collect();
            let forward: Vec<_> = table.range(Bound::Included(low), Bound::Excluded(high), false).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(&forward, &expected);
            let mut backward: Vec<_> = table.range(Bound::Included(low), Bound::Excluded(high), true).collect::<Result<_, _>>().unwrap();
            backward.reverse();
            prop_assert_eq!(&backward, &expected);
            // The in-place visit gives the same entries, both ways, and stops when asked.
            for reverse in [false, true] {
                let mut visited = Vec::new();
                table.range(Bound::Included(low), Bound::Excluded(high), reverse).visit(|key, value| {
                    let entry = value.map_or(Entry::Tombstone, |bytes| Entry::Value(bytes.to_vec()));
                    visited.push((key.to_vec(), entry));
                    true
                }).unwrap();
                if reverse {
                    visited.reverse();
                }
                prop_assert_eq!(&visited, &expected);
                let mut first_two = 0;
                table.range(Bound::Included(low), Bound::Excluded(high), reverse).visit(|_, _| {
                    first_two += 1;
                    first_two < 2
                }).unwrap();
                prop_assert_eq!(first_two, expected.len().min(2));
            }
        }
        let everything: Vec<_> = model.into_iter().collect();
        prop_assert_eq!(all(&table, Bound::Unbounded), everything);
    }
}

#[test]
fn properties_describe_the_table() {
    let fs = FaultyFs::new();
    let model: Model = (0..500u32)
        .map(|i| {
            (
                i.to_be_bytes().to_vec(),
                if i % 5 == 0 {
                    Entry::Tombstone
                } else {
                    Entry::Value(vec![1; 10])
                },
            )
        })
        .collect();
    write(&fs, Path::new("/t.sst"), &model);
    let table = SsTable::open(&fs, Path::new("/t.sst")).unwrap();
    let properties = table.properties();
    assert_eq!((properties.entries, properties.tombstones), (500, 100));
    assert_eq!((properties.min_lsn, properties.max_lsn), (100, 599));
    assert_eq!(properties.smallest_key, 0u32.to_be_bytes().to_vec());
    assert_eq!(properties.largest_key, 499u32.to_be_bytes().to_vec());
}

#[test]
fn the_bloom_filter_answers_absent_keys_with_about_one_percent_false_positives() {
    let fs = FaultyFs::new();
    let model: Model = (0..10_000u64)
        .map(|i| (format!("present-{i:08}").into_bytes(), Entry::Value(vec![0])))
        .collect();
    write(&fs, Path::new("/t.sst"), &model);
    let table = SsTable::open(&fs, Path::new("/t.sst")).unwrap();
    assert!(
        model.keys().all(|key| !table.filter_excludes(key).unwrap()),
        "no false negatives"
    );
    let false_positives = (0..10_000u64)
        .filter(|i| !table.filter_excludes(format!("absent-{i:08}").as_bytes()).unwrap())
        .count();
    let rate = false_positives as f64 / 10_000.0;
    assert!((0.002..0.025).contains(&rate), "false-positive rate {rate}");
}

#[test]
fn out_of_order_keys_are_refused() {
    let fs = FaultyFs::new();
    let mut writer = SsTableWriter::create(&fs, "/t.sst").unwrap();
    writer.add(b"b", &Entry::Tombstone, 1).unwrap();
    assert!(matches!(
        writer.add(b"a", &Entry::Tombstone, 2),
        Err(Error::Corruption { .. })
    ));
    assert!(writer.add(b"b", &Entry::Tombstone, 2).is_err(), "duplicates too");
}

/// Opens the table and reads everything; the first error, if any.
fn read_everything(fs: &dyn FileSystem, path: &Path, model: &Model) -> Result<(), Error> {
    let table = SsTable::open(fs, path)?;
    for item in table.iter_from(Bound::Unbounded) {
        item?;
    }
    for key in model.keys() {
        table.get(key)?;
    }
    Ok(())
}

#[test]
fn a_flipped_bit_anywhere_is_detected_never_returned_as_data() {
    let fs = FaultyFs::new();
    let path = Path::new("/t.sst");
    let model: Model = (0..300u32)
        .map(|i| (format!("key-{i:05}").into_bytes(), Entry::Value(vec![i as u8; 50])))
        .collect();
    write(&fs, path, &model);
    let original = dynastore_wal::fs::read_file(&fs, path).unwrap();
    // Every 7th byte, so data blocks, filter, properties, index and footer are all hit.
    for offset in (0..original.len()).step_by(7) {
        fs.flip_bit(path, offset as u64, (offset % 8) as u8).unwrap();
        let result = read_everything(&fs, path, &model);
        assert!(
            matches!(result, Err(Error::Corruption { .. })),
            "flip at {offset} of {}: {result:?}",
            original.len()
        );
        fs.flip_bit(path, offset as u64, (offset % 8) as u8).unwrap();
    }
    read_everything(&fs, path, &model).unwrap();
}

#[test]
fn a_truncated_table_is_detected() {
    let fs = FaultyFs::new();
    let path = Path::new("/t.sst");
    let model: Model = (0..100u32)
        .map(|i| (i.to_be_bytes().to_vec(), Entry::Value(vec![7; 20])))
        .collect();
    write(&fs, path, &model);
    let original = dynastore_wal::fs::read_file(&fs, path).unwrap();
    for cut in (0..original.len()).step_by(13) {
        let file = fs.open(path).unwrap();
        file.set_len(cut as u64).unwrap();
        assert!(
            matches!(SsTable::open(&fs, path), Err(Error::Corruption { .. })),
            "cut at {cut}"
        );
        file.write_all_at(&original, 0).unwrap();
    }
}

#[test]
fn tables_are_read_through_a_memory_map_on_the_real_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("000001.sst");
    let model: Model = (0..2000u32)
        .map(|i| (i.to_be_bytes().to_vec(), Entry::Value(i.to_le_bytes().to_vec())))
        .collect();
    write(&StdFs, &path, &model);
    let table = SsTable::open(&StdFs, &path).unwrap();
    assert_eq!(
        table.get(&1234u32.to_be_bytes()).unwrap(),
        Some(Entry::Value(1234u32.to_le_bytes().to_vec()))
    );
    assert_eq!(all(&table, Bound::Unbounded).len(), 2000);
}
