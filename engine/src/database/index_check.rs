//! Checking every secondary index against its table: each item has exactly the entries
//! its indexes' keys and projections make of it, and each entry stands for an item (what
//! `dynastore verify` runs after its file checks).

use super::*;
use crate::index::entry::{StoredKey, classify};
use crate::index::global::index_writes;
use crate::item::codec::encode_item;
use crate::storage::DerivedWrites;

/// What comparing the indexes with their tables found.
#[derive(Debug, Default)]
pub struct IndexCheck {
    /// Indexes (of one table partition for a local one) found exactly right.
    pub checked: Vec<String>,
    /// Indexes whose entries differ from what their table's items make, each with how.
    pub problems: Vec<String>,
}

/// The entries an index should hold: each entry's key and a hash of its value. Hashes
/// rather than entries keep the check of a large index within memory (a hash collision
/// could hide a wrong projection, at odds of 2^-64 per entry).
type Expected = BTreeMap<Vec<u8>, u64>;

/// How many differing keys a problem names.
const EXAMPLES: usize = 3;

fn entry_hash(entry: &Item, buffer: &mut Vec<u8>) -> u64 {
    buffer.clear();
    encode_item(entry, buffer);
    xxhash_rust::xxh3::xxh3_64(buffer)
}

/// Compares an index's `actual` entries, visited in key order, with what they should be.
#[derive(Default)]
struct Comparison {
    expected: Expected,
    /// Entries with no item that makes them.
    stale: Vec<Vec<u8>>,
    /// Entries whose value is not what the index projects of their item.
    wrong: Vec<Vec<u8>>,
    matched: u64,
    buffer: Vec<u8>,
}

impl Comparison {
    fn expect(&mut self, key: Vec<u8>, entry: &Item) {
        let hash = entry_hash(entry, &mut self.buffer);
        self.expected.insert(key, hash);
    }

    fn actual(&mut self, key: &[u8], entry: &Item) {
        let hash = entry_hash(entry, &mut self.buffer);
        match self.expected.remove(key) {
            Some(expected) if expected == hash => self.matched += 1,
            Some(_) => self.wrong.push(key.to_vec()),
            None => self.stale.push(key.to_vec()),
        }
    }

    /// Adds what was found about the index described by `what` to `check`.
    fn report(self, what: &str, check: &mut IndexCheck) {
        let missing: Vec<Vec<u8>> = self.expected.into_keys().collect();
        if missing.is_empty() && self.stale.is_empty() && self.wrong.is_empty() {
            check
                .checked
                .push(format!("{what}: {} entries, each its item's", self.matched));
            return;
        }
        let mut problem = format!("{what}: {} entries right", self.matched);
        for (keys, kind) in [
            (&missing, "missing for an item"),
            (&self.stale, "with no item"),
            (&self.wrong, "not projecting their item"),
        ] {
            if !keys.is_empty() {
                let examples: Vec<String> = keys.iter().take(EXAMPLES).map(|key| hex(key)).collect();
                problem.push_str(&format!("; {} {kind} (keys {})", keys.len(), examples.join(", ")));
            }
        }
        check.problems.push(problem);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Database {
    /// Compares every secondary index of every table with the table's items, once the
    /// global indexes caught up: every item has exactly the entries its indexes make of
    /// it (its key in each index, with what each projects) and every entry stands for
    /// an item. Exact while nothing writes to the database; what `dynastore verify` runs
    /// on a closed data directory after opening it.
    ///
    /// Errors: [`Error::IndexesBehind`] if the global indexes did not catch up within
    /// `timeout`; [`Error::Corruption`] or [`Error::Wal`] reading a partition.
    pub fn check_indexes(&self, timeout: std::time::Duration) -> Result<IndexCheck> {
        self.wait_for_indexes(timeout)?;
        let mut tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        let mut check = IndexCheck::default();
        for table in tables.iter().filter(|table| !table.indexes.is_empty()) {
            check_table(table, &mut check)?;
        }
        Ok(check)
    }
}

/// Checks `table`'s local indexes partition by partition (their entries share it) and
/// its global indexes against all its items.
fn check_table(table: &Table, check: &mut IndexCheck) -> Result<()> {
    let partition_type = table.key_schema.partition_key.scalar_type;
    let has_local = table.index_writes.has_local();
    let mut globals: Vec<Comparison> = table.globals.iter().map(|_| Comparison::default()).collect();
    let mut derived = Vec::new();
    for group in &table.groups {
        let Some(primary) = group.open.read().clone() else {
            continue;
        };
        let mut local = Comparison::default();
        // Entries sort before their partition key's items: collect them, then compare
        // once every item was seen.
        let mut entries: Vec<(Vec<u8>, Item)> = Vec::new();
        primary.visit_range(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
            |key, item| {
                if has_local && classify(key, partition_type) != StoredKey::Item {
                    entries.push((key.to_vec(), item.clone()));
                    return true;
                }
                derived.clear();
                table.index_writes.derive(None, Some(item), &mut derived);
                for (entry_key, entry) in derived.drain(..) {
                    if let Some(entry) = entry {
                        local.expect(entry_key, &entry);
                    }
                }
                for (index, comparison) in table.globals.iter().zip(&mut globals) {
                    for (entry_key, entry) in index_writes(&table.key_schema, &index.schema, None, Some(item)) {
                        if let Some(entry) = entry {
                            comparison.expect(entry_key, &entry);
                        }
                    }
                }
                true
            },
        )?;
        if has_local {
            for (key, entry) in &entries {
                local.actual(key, entry);
            }
            local.report(
                &format!("table {} partition {}: local indexes", table.name, group.id()),
                check,
            );
        }
    }
    for (index, mut comparison) in table.globals.iter().zip(globals) {
        for group in &index.groups {
            let Some(primary) = group.open.read().clone() else {
                continue;
            };
            primary.visit_range(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
                |key, entry| {
                    comparison.actual(key, entry);
                    true
                },
            )?;
        }
        comparison.report(
            &format!("table {} global index {}", table.name, index.schema.name),
            check,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::index::Projection;
    use crate::index::global::global_entry_key;
    use crate::item::validate::ScalarType;
    use crate::storage::NoDerivedWrites;
    use crate::{PutItemInput, TableSchema};
    use dynastore_wal::fs::StdFs;
    use std::time::Duration;

    const TABLE: &str = "Games";

    fn schema() -> TableSchema {
        let keys = KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        };
        TableSchema {
            name: TABLE.into(),
            indexes: vec![
                IndexSchema::global(
                    "by_city",
                    KeySchema {
                        partition_key: KeyAttribute::new("city", ScalarType::S),
                        sort_key: None,
                    },
                    Projection::Include(vec!["score".into()]),
                ),
                IndexSchema::local(
                    "by_score",
                    &keys,
                    KeyAttribute::new("score", ScalarType::N),
                    Projection::KeysOnly,
                ),
            ],
            key_schema: keys,
        }
    }

    fn item(n: i64) -> Item {
        Item::new()
            .with("pk", format!("p{}", n % 4))
            .with("sk", n)
            .with("city", format!("c{}", n % 3))
            .with("score", n * 10)
    }

    /// Writes `writes` straight into the group holding the first key's hash, bypassing
    /// the item path (what a bug in index maintenance would leave).
    fn write_raw(db: &Database, groups: &[Group], writes: Vec<KeyWrite>) {
        let hash = super::validate::hash_of(&writes[0].0);
        let group = groups.iter().find(|g| hash <= g.range_end).unwrap();
        db.groups.write_batch(group, &writes, &NoDerivedWrites, true).unwrap();
    }

    #[test]
    fn finds_missing_stale_and_wrong_entries_of_both_kinds_of_index() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Database::open(StdFs::shared(), tmp.path(), Options::default()).unwrap();
        db.create_table(schema()).unwrap();
        for n in 0..40 {
            db.put_item(PutItemInput::new(TABLE, item(n))).unwrap();
        }
        let check = db.check_indexes(Duration::from_secs(20)).unwrap();
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        // One line per table partition for the local index, one for the global.
        assert!(
            check
                .checked
                .iter()
                .any(|line| line.contains("global index by_city: 40 entries"))
        );
        let local: u64 = check
            .checked
            .iter()
            .filter(|line| line.contains("local indexes"))
            .map(|line| {
                line.rsplit(": ")
                    .next()
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(local, 40);

        let table = db.table(TABLE).unwrap();
        let keys = &table.key_schema;
        let index = &table.globals[0];
        // A stale global entry (no item), and one projecting the wrong score.
        let ghost = item(99);
        let ghost_key = global_entry_key(keys, &index.schema.key_schema, &ghost).unwrap();
        write_raw(
            &db,
            &index.groups,
            vec![(ghost_key.clone(), Some(index.schema.project(&ghost, keys)))],
        );
        let wrong = item(7).with("score", 1);
        let wrong_key = global_entry_key(keys, &index.schema.key_schema, &wrong).unwrap();
        write_raw(
            &db,
            &index.groups,
            vec![(wrong_key, Some(index.schema.project(&wrong, keys)))],
        );
        // A local entry deleted.
        let mut entries = Vec::new();
        table.index_writes.derive(None, Some(&item(5)), &mut entries);
        let (local_key, _) = entries.remove(0);
        write_raw(&db, &table.groups, vec![(local_key, None)]);

        let check = db.check_indexes(Duration::from_secs(20)).unwrap();
        assert_eq!(check.problems.len(), 2, "{:?}", check.problems);
        let global = check
            .problems
            .iter()
            .find(|p| p.contains("global index by_city"))
            .unwrap();
        assert!(global.contains("39 entries right"), "{global}");
        assert!(global.contains("1 with no item"), "{global}");
        assert!(global.contains("1 not projecting their item"), "{global}");
        assert!(global.contains(&hex(&ghost_key)), "{global}");
        let local = check.problems.iter().find(|p| p.contains("local indexes")).unwrap();
        assert!(local.contains("1 missing for an item"), "{local}");
        db.close().unwrap();
    }
}
