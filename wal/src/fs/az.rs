//! A file system that can make whole availability zones unusable: the fault injection
//! behind the engine's `Database::fail_az`, for tests and failover drills.
//!
//! Every path under `<data>/<az>/` of a failed AZ fails with an I/O error, and so does
//! every operation on a file opened there before the AZ failed, exactly as if the AZ's
//! disks had gone away. (SSTables already mapped into memory stay readable: the engine
//! stops reading them anyway once a replica took over.)

use super::{FileLock, FileSystem, FsFile, MappedBytes, SharedFs};
use parking_lot::RwLock;
use std::collections::BTreeSet;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The AZs currently failed, shared by the file system and whoever fails them.
pub type FailedAzs = Arc<RwLock<BTreeSet<String>>>;

/// Wraps a file system, failing everything under the data directory's failed AZs.
#[derive(Debug)]
pub struct AzFs {
    inner: SharedFs,
    data: PathBuf,
    failed: FailedAzs,
}

impl AzFs {
    /// `inner`, with the AZ directories of `data` failing while named in `failed`.
    pub fn new(inner: SharedFs, data: &Path, failed: FailedAzs) -> AzFs {
        AzFs {
            inner,
            data: data.to_path_buf(),
            failed,
        }
    }

    fn check(&self, path: &Path) -> io::Result<()> {
        check(&self.data, &self.failed, path)
    }
}

/// The AZ of a path under `data`, if any.
fn az_of<'a>(data: &Path, path: &'a Path) -> Option<&'a str> {
    match path.strip_prefix(data).ok()?.components().next()? {
        Component::Normal(name) => name.to_str(),
        _ => None,
    }
}

fn check(data: &Path, failed: &FailedAzs, path: &Path) -> io::Result<()> {
    match az_of(data, path) {
        Some(az) if failed.read().contains(az) => Err(io::Error::other(format!(
            "availability zone {az} is failed (Database::fail_az); {} is unreachable",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// A file opened through [`AzFs`]: fails once its AZ does.
#[derive(Debug)]
struct AzFile {
    inner: Arc<dyn FsFile>,
    data: PathBuf,
    path: PathBuf,
    failed: FailedAzs,
}

impl AzFile {
    fn check(&self) -> io::Result<()> {
        check(&self.data, &self.failed, &self.path)
    }
}

impl FsFile for AzFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.check()?;
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check()?;
        self.inner.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.check()?;
        self.inner.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        self.check()?;
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
}

impl AzFs {
    fn wrap(&self, path: &Path, file: Arc<dyn FsFile>) -> Arc<dyn FsFile> {
        Arc::new(AzFile {
            inner: file,
            data: self.data.clone(),
            path: path.to_path_buf(),
            failed: Arc::clone(&self.failed),
        })
    }
}

impl FileSystem for AzFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        self.check(path)?;
        Ok(self.wrap(path, self.inner.create_new(path)?))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        self.check(path)?;
        Ok(self.wrap(path, self.inner.open(path)?))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        self.inner.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.check(path)?;
        self.inner.read_dir(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.check(path)?;
        self.inner.exists(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.rename(from, to)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.hard_link(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        self.inner.sync_dir(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        self.inner.remove_dir(path)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.check(path)?;
        self.inner.try_lock(path)
    }
    fn map_immutable(&self, path: &Path) -> io::Result<MappedBytes> {
        self.check(path)?;
        self.inner.map_immutable(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::FaultyFs;

    #[test]
    fn a_failed_az_fails_paths_and_open_files_until_restored() {
        let failed = FailedAzs::default();
        let fs = AzFs::new(FaultyFs::new().shared(), Path::new("/data"), Arc::clone(&failed));
        fs.create_dir_all(Path::new("/data/az-a/T")).unwrap();
        fs.create_dir_all(Path::new("/data/az-b/T")).unwrap();
        let file = fs.create_new(Path::new("/data/az-a/T/f")).unwrap();
        file.write_all_at(b"x", 0).unwrap();
        failed.write().insert("az-a".into());
        assert!(file.write_all_at(b"y", 1).is_err());
        assert!(file.sync_data().is_err());
        assert!(fs.open(Path::new("/data/az-a/T/f")).is_err());
        assert!(fs.read_dir(Path::new("/data/az-a")).is_err());
        // Other AZs and the data directory itself are untouched.
        assert!(fs.create_new(Path::new("/data/az-b/T/f")).is_ok());
        assert!(fs.read_dir(Path::new("/data")).is_ok());
        failed.write().remove("az-a");
        file.write_all_at(b"y", 1).unwrap();
        assert_eq!(file.len().unwrap(), 2);
    }
}
