//! Adding a global secondary index to an open table with data, and deleting one.
//!
//! Adding makes a clean cut in every table partition's log: the table's writes note the
//! new index's key attributes from a point on (read under the partition's write lock, see
//! [`crate::index::local::IndexWrites`]), and that point, the LSN `S` of the partition's
//! last record then, is where the index applier starts applying the partition's records
//! to the new index. The partition's items up to `S` come from a backfill the applier
//! runs when it reaches `S`: it reads the partition's current items (which may already
//! hold records after `S`) and writes their entries, then applies the records after `S`
//! as usual. Applying a suffix of the log onto a later state leaves each entry as the
//! last record says, so the index converges; a crash during the backfill leaves `S` in
//! the CATALOG and the backfill runs again.

use super::*;
use crate::index::schema::validate_indexes;
use dynastore_wal::Lsn;

impl Database {
    /// Adds global index `index` to table `name`, CREATING until the applier filled it
    /// from the table's items; returns the table with its indexes.
    ///
    /// Errors: [`Error::ResourceNotFound`]; [`Error::Validation`] for an index DynamoDB
    /// refuses (a local one, a name in use, too many, a key attribute of another type);
    /// [`Error::Io`] (then nothing changed).
    pub(crate) fn add_global_index(&self, name: &str, index: IndexSchema) -> Result<Arc<Table>> {
        let table = self.table(name)?;
        if index.kind != IndexKind::Global {
            return Err(ValidationError::InvalidParameter(
                "One or more parameter values were invalid: only a global secondary index can be added to an existing table".into(),
            )
            .into());
        }
        let mut schemas = table.index_schemas.clone();
        schemas.push(index.clone());
        validate_indexes(&table.key_schema, &schemas)?;
        let ordinal = table
            .indexes
            .iter()
            .map(|entry| entry.ordinal)
            .max()
            .map_or(0, |max| max + 1);
        let azs = self.options.replication.as_ref().map_or(&[][..], |r| &r.azs[..]);
        let mut entry = IndexEntry::new(&index, ordinal);
        entry.partitions = TableEntry::new_partitions(self.options.initial_partitions, azs);
        // The cut: from here on every record notes the new index's keys; each partition's
        // last record under its write lock is where its backfill stops and its records
        // start being applied.
        let globals: Vec<IndexSchema> = schemas
            .iter()
            .filter(|s| s.kind == IndexKind::Global)
            .cloned()
            .collect();
        let before: Vec<IndexSchema> = globals[..globals.len() - 1].to_vec();
        table.home.indexed.store(true, Ordering::Release);
        table.index_writes.set_globals(globals);
        let catalog_applied = {
            let catalog = self.groups.catalog.lock();
            catalog.tables.get(name).map(|entry| {
                entry
                    .indexes
                    .iter()
                    .filter(|index| index.kind == IndexKind::Global)
                    .map(|index| index.applied.clone())
                    .collect::<Vec<_>>()
            })
        };
        for group in table.groups.iter() {
            let Some(primary) = group.open.read().clone() else {
                continue;
            };
            let mut cut = Lsn(0);
            primary.serialized(|| cut = primary.wal().last_lsn());
            entry.backfill_from.insert(group.id(), cut.0);
            // The applier starts where every index of the table has its records: no later
            // than the cut.
            let earlier = catalog_applied
                .iter()
                .flatten()
                .map(|applied| applied.get(&group.id()).copied().unwrap_or(0))
                .min()
                .unwrap_or(cut.0);
            entry.applied.insert(group.id(), cut.0);
            for copy in group.copies() {
                copy.hold_log_from(Lsn(earlier.min(cut.0) + 1));
            }
        }
        let home = Arc::new(TableHome {
            name: name.to_owned(),
            index: Some((index.name.clone(), ordinal)),
            indexed: AtomicBool::new(false),
            data: self.dir.clone(),
            deleted: AtomicBool::new(false),
        });
        let global = Arc::new(GlobalIndex {
            schema: index,
            groups: self.open_groups(&home, &entry.partitions)?,
            home,
            backfill: Mutex::new(entry.backfill_from.clone()),
            filled: Mutex::new(BTreeMap::new()),
            unclean: Mutex::new(BTreeSet::new()),
        });
        let mut catalog = self.groups.catalog.lock();
        let mut next = catalog.clone();
        let Some(recorded) = next
            .tables
            .get_mut(name)
            .filter(|recorded| recorded.created_at_ms == table.created_at_ms)
        else {
            table.index_writes.set_globals(before);
            return Err(Error::ResourceNotFound { table: name.to_owned() });
        };
        recorded.indexes.push(entry.clone());
        if let Err(error) = next.save(self.fs.as_ref(), &self.dir) {
            table.index_writes.set_globals(before);
            return Err(error);
        }
        *catalog = next;
        let mut globals = table.globals.clone();
        globals.push(global);
        let mut indexes = table.indexes.clone();
        indexes.push(entry);
        let changed = Arc::new(table.with_indexes(indexes, globals));
        self.tables.write().insert(name.to_owned(), Arc::clone(&changed));
        drop(catalog);
        Ok(changed)
    }

    /// Deletes global index `index_name` of table `name`: the CATALOG forgets it, reads
    /// stop finding it, and its partitions are removed.
    ///
    /// Errors: [`Error::ResourceNotFound`] for a table or index that does not exist (a
    /// local index cannot be deleted); [`Error::Io`].
    pub(crate) fn remove_global_index(&self, name: &str, index_name: &str) -> Result<Arc<Table>> {
        let table = self.table(name)?;
        let Some(gone) = table
            .globals
            .iter()
            .find(|index| index.schema.name == index_name)
            .cloned()
        else {
            return Err(Error::ResourceNotFound {
                table: format!("{name} (index {index_name})"),
            });
        };
        let mut catalog = self.groups.catalog.lock();
        let mut next = catalog.clone();
        if let Some(recorded) = next.tables.get_mut(name) {
            recorded.indexes.retain(|entry| entry.name != index_name);
        }
        next.save(self.fs.as_ref(), &self.dir)?;
        *catalog = next;
        gone.home.deleted.store(true, Ordering::Release);
        let globals: Vec<Arc<GlobalIndex>> = table
            .globals
            .iter()
            .filter(|index| index.schema.name != index_name)
            .cloned()
            .collect();
        let indexes = table
            .indexes
            .iter()
            .filter(|entry| entry.name != index_name)
            .cloned()
            .collect();
        table
            .index_writes
            .set_globals(globals.iter().map(|index| index.schema.clone()).collect());
        let changed = Arc::new(table.with_indexes(indexes, globals));
        self.tables.write().insert(name.to_owned(), Arc::clone(&changed));
        drop(catalog);
        // Nothing writes into the index's directories once they are removed.
        for group in &gone.groups {
            (0..group.repairing.len()).for_each(|at| drop(group.repairing_at(at)));
            if let Some(set) = group.replicas.read().clone() {
                set.halt();
            }
            for copy in group.copies() {
                copy.retire();
            }
        }
        let ordinal = table
            .indexes
            .iter()
            .find(|entry| entry.name == index_name)
            .map_or(0, |entry| entry.ordinal);
        for az in self.az_dirs()? {
            let dir = az.join(name).join(format!("gsi-{ordinal}"));
            if self.fs.exists(&dir).map_err(io_error("checking", &dir))? {
                fs::remove_tree(self.fs.as_ref(), &dir).map_err(io_error("removing", &dir))?;
            }
        }
        Ok(changed)
    }
}
