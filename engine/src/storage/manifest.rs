//! A partition's MANIFEST: which SSTables are live, and up to which LSN the WAL has been
//! flushed into them.
//!
//! `<partition>/MANIFEST` is a checked file (`checked_file`, kind
//! `dynastore-manifest`) whose body is JSON: the flushed LSN, the next file number, and
//! the live tables (file number, level, LSN range), newest first. Tables live in
//! `<partition>/sst/<number>.sst`, numbered as 20 decimal digits. A table file not in the
//! MANIFEST is an orphan of a crash (written but never recorded) and may be deleted.

use crate::checked_file;
use crate::error::Result;
use dynastore_wal::fs::FileSystem;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The MANIFEST's file name in a partition directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
const FILE_KIND: &str = "dynastore-manifest";

/// One live SSTable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFile {
    /// Its file number.
    pub number: u64,
    /// Its level (0: flushed from a memtable).
    pub level: u32,
    /// The LSN range of the writes it holds.
    pub min_lsn: u64,
    /// The LSN range of the writes it holds.
    pub max_lsn: u64,
}

/// A partition's MANIFEST.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every write up to this LSN is in the live tables; the WAL holds the writes after it.
    pub flushed_lsn: u64,
    /// The number the next SSTable gets.
    pub next_file_number: u64,
    /// The live tables, newest first.
    pub tables: Vec<TableFile>,
    /// The epoch of the write at `flushed_lsn` (0 in MANIFESTs written before epochs were
    /// recorded): a copy whose log was emptied into its tables still knows which epoch's
    /// history it holds.
    #[serde(default)]
    pub flushed_epoch: u64,
}

/// The path of SSTable `number` in partition directory `dir`.
pub fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join("sst").join(format!("{number:020}.sst"))
}

/// The file number an SSTable file name gives, if it is one.
pub fn parse_table_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".sst")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl Manifest {
    /// Reads the MANIFEST of partition directory `dir`; an empty one if there is none.
    ///
    /// Errors: [`crate::Error::Corruption`], [`crate::Error::Io`].
    pub fn load(fs: &dyn FileSystem, dir: &Path) -> Result<Manifest> {
        Ok(checked_file::read_json(fs, dir, MANIFEST_FILE, FILE_KIND)?.unwrap_or_default())
    }

    /// Replaces the MANIFEST of `dir` with this one, atomically and durably.
    ///
    /// Errors: [`crate::Error::Io`].
    pub fn save(&self, fs: &dyn FileSystem, dir: &Path) -> Result<()> {
        checked_file::write_json(fs, dir, MANIFEST_FILE, FILE_KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynastore_wal::fs::FaultyFs;

    fn sample(flushed: u64) -> Manifest {
        Manifest {
            flushed_lsn: flushed,
            flushed_epoch: 2,
            next_file_number: 3,
            tables: vec![
                TableFile {
                    number: 2,
                    level: 0,
                    min_lsn: 11,
                    max_lsn: flushed,
                },
                TableFile {
                    number: 1,
                    level: 0,
                    min_lsn: 1,
                    max_lsn: 10,
                },
            ],
        }
    }

    #[test]
    fn a_missing_manifest_is_empty_and_a_saved_one_reads_back() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/p")).unwrap();
        assert_eq!(Manifest::load(&fs, Path::new("/p")).unwrap(), Manifest::default());
        sample(20).save(&fs, Path::new("/p")).unwrap();
        assert_eq!(Manifest::load(&fs, Path::new("/p")).unwrap(), sample(20));
    }

    #[test]
    fn power_loss_during_a_save_leaves_the_old_or_the_new_manifest() {
        for crash_at in 1..12 {
            let fs = FaultyFs::new();
            fs.create_dir_all(Path::new("/p")).unwrap();
            fs.sync_dir(Path::new("/")).unwrap();
            sample(20).save(&fs, Path::new("/p")).unwrap();
            fs.crash_after(crash_at);
            let saved = sample(30).save(&fs, Path::new("/p")).is_ok();
            fs.restart();
            let found = Manifest::load(&fs, Path::new("/p")).unwrap();
            assert!(
                found == sample(20) || found == sample(30),
                "crash {crash_at}: {found:?}"
            );
            if saved {
                assert_eq!(found, sample(30), "crash {crash_at}: an acknowledged save was lost");
            }
        }
    }

    #[test]
    fn a_damaged_manifest_is_reported() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/p")).unwrap();
        sample(20).save(&fs, Path::new("/p")).unwrap();
        fs.flip_bit(Path::new("/p/MANIFEST"), 60, 1).unwrap();
        assert!(matches!(
            Manifest::load(&fs, Path::new("/p")),
            Err(crate::Error::Corruption { .. })
        ));
    }

    #[test]
    fn table_names_round_trip() {
        let path = table_path(Path::new("/p"), 42);
        assert_eq!(path, Path::new("/p/sst/00000000000000000042.sst"));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap();
        assert_eq!(parse_table_name(name), Some(42));
        assert_eq!(parse_table_name("42.sst"), None);
        assert_eq!(parse_table_name("00000000000000000042.tmp"), None);
    }
}
