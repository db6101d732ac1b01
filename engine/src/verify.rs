//! Verification of a data directory: every checksum and invariant, read-only (what
//! `dynastore verify` runs). Run it on a closed database: an open one's background work
//! changes files while they are read. Then, for tables with secondary indexes,
//! [`verify_indexes`] opens the database and compares each index with its table.

use crate::catalog::{CATALOG_FILE, Catalog};
use crate::storage::manifest::{MANIFEST_FILE, Manifest, TableFile, parse_table_name, table_path};
use crate::storage::sstable::SsTable;
use crate::{Database, Options};
use dynastore_wal::fs::StdFs;
use dynastore_wal::scan;
use std::ops::Bound;
use std::path::Path;

/// What verification found.
#[derive(Debug, Default)]
pub struct Report {
    /// Things checked and found right.
    pub checked: Vec<String>,
    /// Problems, each with the file it concerns.
    pub problems: Vec<String>,
}

/// Checks one SSTable: every block's checksum, keys strictly increasing, the entry count
/// and LSN range its properties and MANIFEST entry claim.
fn verify_table(path: &Path, listed: &TableFile, report: &mut Report) {
    let table = match SsTable::open(&StdFs, path) {
        Ok(table) => table,
        Err(error) => return report.problems.push(error.to_string()),
    };
    let properties = table.properties();
    if (properties.min_lsn, properties.max_lsn) != (listed.min_lsn, listed.max_lsn) {
        report.problems.push(format!(
            "{}: holds LSNs {}..={}, but the MANIFEST says {}..={}",
            path.display(),
            properties.min_lsn,
            properties.max_lsn,
            listed.min_lsn,
            listed.max_lsn
        ));
    }
    let mut previous: Option<Vec<u8>> = None;
    let mut entries = 0u64;
    for entry in table.iter_from(Bound::Unbounded) {
        match entry {
            Ok((key, _)) => {
                if previous.as_ref().is_some_and(|p| *p >= key) {
                    report
                        .problems
                        .push(format!("{}: keys out of order after entry {entries}", path.display()));
                    return;
                }
                previous = Some(key);
                entries += 1;
            }
            Err(error) => return report.problems.push(error.to_string()),
        }
    }
    if entries != table.properties().entries {
        report.problems.push(format!(
            "{}: {entries} entries, but its properties say {}",
            path.display(),
            table.properties().entries
        ));
        return;
    }
    report.checked.push(format!(
        "{}: {entries} entries, every block checksum ok",
        path.display()
    ));
}

/// Checks the MANIFEST's invariants: tables listed newest first by level, each holding
/// only writes older than every newer table's (so a read may stop at the first version
/// it finds), none past the flushed LSN.
fn verify_table_order(dir: &Path, manifest: &Manifest, report: &mut Report) {
    let name = dir.join(MANIFEST_FILE);
    for pair in manifest.tables.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        if newer.level > older.level {
            report.problems.push(format!(
                "{}: table {} (level {}) is listed before table {} of the shallower level {}",
                name.display(),
                newer.number,
                newer.level,
                older.number,
                older.level
            ));
        }
        if older.max_lsn >= newer.min_lsn {
            report.problems.push(format!(
                "{}: table {} (LSNs up to {}) overlaps the newer table {} (from LSN {})",
                name.display(),
                older.number,
                older.max_lsn,
                newer.number,
                newer.min_lsn
            ));
        }
    }
    if let Some(table) = manifest.tables.iter().find(|t| t.max_lsn > manifest.flushed_lsn) {
        report.problems.push(format!(
            "{}: table {} holds LSN {}, past the flushed LSN {}",
            name.display(),
            table.number,
            table.max_lsn,
            manifest.flushed_lsn
        ));
    }
    let levels: Vec<String> = manifest.tables.iter().map(|t| t.level.to_string()).collect();
    report.checked.push(format!(
        "{}: {} table(s) at levels [{}], ordered, LSN ranges disjoint",
        name.display(),
        manifest.tables.len(),
        levels.join(", ")
    ));
}

/// Checks that the log continues the tables: it starts at or before the first record they
/// do not hold and reaches at least their last one. A log that ends before the flushed LSN
/// would hand covered LSNs to new writes, which replay would skip.
fn verify_log_covers_flushed(dir: &Path, manifest: &Manifest, segments: &[scan::SegmentScan], report: &mut Report) {
    let Some(first) = segments.first().and_then(|s| s.named_lsn) else {
        return;
    };
    let last_record = segments
        .iter()
        .flat_map(|s| &s.entries)
        .filter_map(|entry| match entry {
            scan::ScanEntry::Record { lsn, .. } => Some(lsn.0),
            scan::ScanEntry::Damaged { .. } => None,
        })
        .max();
    // An empty log ends right before its newest segment's first LSN.
    let newest_start = segments
        .iter()
        .filter_map(|s| s.named_lsn)
        .map(|l| l.0)
        .max()
        .unwrap_or(first.0);
    let last = last_record.unwrap_or(0).max(newest_start.saturating_sub(1));
    let wal = dir.join("wal");
    if first.0 > manifest.flushed_lsn + 1 {
        report.problems.push(format!(
            "{}: starts at LSN {}, but the tables hold only up to {}",
            wal.display(),
            first.0,
            manifest.flushed_lsn
        ));
    } else if last < manifest.flushed_lsn {
        report.problems.push(format!(
            "{}: ends at LSN {}, before the flushed LSN {} (new writes would reuse covered LSNs)",
            wal.display(),
            last,
            manifest.flushed_lsn
        ));
    } else {
        report.checked.push(format!(
            "{}: LSNs {}..={} continue the tables (flushed to {})",
            wal.display(),
            first.0,
            last,
            manifest.flushed_lsn
        ));
    }
}

/// Checks a partition directory: its MANIFEST, its SSTables (all listed ones present and
/// sound, none unlisted), and its WAL segments.
fn verify_partition(dir: &Path, report: &mut Report) {
    let manifest = if dir.join(MANIFEST_FILE).is_file() {
        match Manifest::load(&StdFs, dir) {
            Ok(manifest) => manifest,
            Err(error) => return report.problems.push(error.to_string()),
        }
    } else {
        Manifest::default()
    };
    verify_table_order(dir, &manifest, report);
    for table in &manifest.tables {
        let path = table_path(dir, table.number);
        if path.is_file() {
            verify_table(&path, table, report);
        } else {
            report
                .problems
                .push(format!("{}: listed in the MANIFEST but missing", path.display()));
        }
    }
    if let Ok(files) = std::fs::read_dir(dir.join("sst")) {
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let listed = parse_table_name(&name).is_some_and(|n| manifest.tables.iter().any(|t| t.number == n));
            if !listed {
                report.problems.push(format!(
                    "{}: not in the MANIFEST (left by a crash; opening the database removes it)",
                    file.path().display()
                ));
            }
        }
    }
    match scan::scan_dir(&StdFs, &dir.join("wal")) {
        Ok(segments) => {
            verify_log_covers_flushed(dir, &manifest, &segments, report);
            for segment in segments {
                if segment.is_clean() {
                    report.checked.push(format!(
                        "{}: {} records, clean",
                        segment.path.display(),
                        segment.records()
                    ));
                } else {
                    report.problems.push(format!(
                        "{}: damaged or torn (see `dynastore dump wal`)",
                        segment.path.display()
                    ));
                }
            }
        }
        Err(error) => report.problems.push(error.to_string()),
    }
}

/// Verifies the data directory `data` on the real file system.
pub fn verify(data: &Path) -> Report {
    let mut report = Report::default();
    if !data.join(CATALOG_FILE).is_file() {
        report
            .problems
            .push(format!("{}: no CATALOG (not a data directory?)", data.display()));
        return report;
    }
    let catalog = match Catalog::load(&StdFs, data) {
        Ok(catalog) => catalog,
        Err(error) => {
            report.problems.push(error.to_string());
            return report;
        }
    };
    report.checked.push(format!(
        "{}: {} table(s), checksum ok",
        data.join(CATALOG_FILE).display(),
        catalog.tables.len()
    ));
    for table in catalog.tables.values() {
        // The table's partitions, then each global index's (`<table>/gsi-<ordinal>/`).
        let indexes = table
            .indexes
            .iter()
            .map(|index| (format!("gsi-{}", index.ordinal), &index.partitions));
        for (sub, partitions) in std::iter::once((String::new(), &table.partitions)).chain(indexes) {
            for partition in partitions.iter().filter(|p| p.created) {
                for az in &partition.group.azs {
                    let dir = data.join(az).join(&table.name).join(&sub).join(partition.dir_name());
                    verify_partition(&dir, &mut report);
                }
            }
        }
    }
    report
}

/// How long [`verify_indexes`] waits for global indexes to apply what their tables' logs
/// hold beyond them (what the database was closed with).
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(600);

/// Compares every secondary index in the data directory `data` with its table (see
/// [`Database::check_indexes`]), if any table has one. Unlike [`verify`], this opens the
/// database, so it recovers it as any open does and its global indexes first apply what
/// their tables' logs hold beyond them; run it after [`verify`] found the files sound,
/// with nothing else using the directory.
pub fn verify_indexes(data: &Path) -> Report {
    let mut report = Report::default();
    let indexed =
        Catalog::load(&StdFs, data).is_ok_and(|catalog| catalog.tables.values().any(|t| !t.indexes.is_empty()));
    if !indexed {
        return report;
    }
    let checked = Database::open(StdFs::shared(), data, Options::default()).and_then(|db| {
        let check = db.check_indexes(CATCH_UP)?;
        db.close()?;
        Ok(check)
    });
    match checked {
        Ok(check) => {
            report.checked = check.checked;
            report.problems = check.problems;
        }
        Err(error) => report
            .problems
            .push(format!("{}: checking the indexes: {error}", data.display())),
    }
    report
}
