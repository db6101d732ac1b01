//! The file-system seam: every byte dynastore reads or writes goes through [`FileSystem`].
//!
//! Two implementations exist: [`StdFs`], the real file system, and [`FaultyFs`], an in-memory
//! file system for tests that can fail chosen operations and simulate power loss by dropping
//! everything that was not made durable (file bytes not fsynced, directory entries whose
//! directory was not fsynced). [`GatedFs`] wraps either to make chosen files' syncs hang
//! on demand, and (optionally) to refuse hard links, as across devices; [`AzFs`] makes
//! whole availability-zone directories fail (the engine's `fail_az`). The durable
//! file-tree operations every layer above uses are here too: [`create_dir_durable`],
//! [`remove_tree`], [`replace_durable`] (atomic file replacement), [`copy_file`].
//! Crash-safety arguments in this project are stated against
//! the durability rules `FaultyFs` enforces, which are the POSIX ones:
//!
//! - bytes written to a file are durable only after [`FsFile::sync_data`] on that file;
//! - a created, renamed or removed directory entry is durable only after
//!   [`FileSystem::sync_dir`] on the directory that holds it.

mod az;
mod faulty;
mod gated;
mod std_fs;

pub use az::{AzFs, FailedAzs};
pub use faulty::{FaultKind, FaultyFs, OpKind};
pub use gated::{GatedFs, SyncGate};
pub use std_fs::StdFs;

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A shared handle to a file system.
pub type SharedFs = Arc<dyn FileSystem>;

/// An open file, addressed by position so that a writer and readers can share it
/// without a cursor.
pub trait FsFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file if needed. On error, a prefix
    /// of `buf` may have been written.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes the file's contents durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// The current length of the file in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cuts or extends the file to `len` bytes (not durable until [`FsFile::sync_data`]).
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// The operations dynastore needs from a file system.
pub trait FileSystem: Send + Sync + Debug {
    /// Creates a new file for reading and writing; fails if it exists already.
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn FsFile>>;
    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Arc<dyn FsFile>>;
    /// Creates `path` and every missing parent directory (not durable until the parents
    /// are synced; see [`create_dir_durable`]).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names of the entries of a directory, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Removes a file (not durable until the directory is synced).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Renames a file, replacing any file at `to` (not durable until the directories are
    /// synced).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes `to` a second name of the existing file `from` (a hard link), failing if `to`
    /// exists (not durable until the directory of `to` is synced). The two names share
    /// their bytes; the file must not be changed through either while both exist.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the entries of a directory durable (`fsync` on the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory (not durable until its parent is synced).
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on the file at `path` (creating it if missing), held until
    /// the returned guard is dropped. Fails with `io::ErrorKind::WouldBlock` if another
    /// process, or another guard in this one, holds it.
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
    /// The whole contents of an immutable file: memory-mapped on the real file system.
    /// The file must not change while mapped.
    fn map_immutable(&self, path: &Path) -> io::Result<MappedBytes>;
}

/// A held file lock; dropping it releases the lock.
pub trait FileLock: Send + Sync + Debug {}

/// The bytes of a file that will not change (an SSTable), readable without copying.
pub type MappedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Creates `path` and its missing parents, syncing each parent after an entry is made in
/// it, so that the whole chain survives power loss.
pub fn create_dir_durable(fs: &dyn FileSystem, path: &Path) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cursor = Some(path);
    while let Some(dir) = cursor {
        if dir.as_os_str().is_empty() || fs.exists(dir)? {
            break;
        }
        missing.push(dir.to_path_buf());
        cursor = dir.parent();
    }
    for dir in missing.iter().rev() {
        fs.create_dir_all(dir)?;
        // A relative path's top directory lives in the current directory.
        let parent = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs.sync_dir(parent)?;
    }
    Ok(())
}

/// Removes the directory `path` and everything below it, then syncs its parent, so that
/// the removal survives power loss. An error names the entry it failed on.
pub fn remove_tree(fs: &dyn FileSystem, path: &Path) -> io::Result<()> {
    let at = |op: &str, entry: &Path| {
        let entry = entry.display().to_string();
        let op = op.to_owned();
        move |error: io::Error| io::Error::new(error.kind(), format!("{op} {entry}: {error}"))
    };
    for name in fs.read_dir(path).map_err(at("listing", path))? {
        let child = path.join(&name);
        if fs.read_dir(&child).is_ok() {
            remove_tree(fs, &child)?;
        } else {
            fs.remove_file(&child).map_err(at("removing", &child))?;
        }
    }
    fs.remove_dir(path).map_err(at("removing", path))?;
    if let Some(parent) = path.parent() {
        fs.sync_dir(parent).map_err(at("syncing", parent))?;
    }
    Ok(())
}

/// Where [`replace_durable`] writes the new contents of `path` before renaming them over
/// it: `path` with `.tmp` appended.
pub fn replacement_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Replaces the file at `path` by one holding `bytes`, atomically and durably: the bytes go
/// to [`replacement_path`], are synced, renamed over `path`, and the directory is synced.
/// After a crash at any point `path` holds the old bytes or the new ones, whole (a
/// leftover replacement is for [`discard_unfinished_replacement`]). An error names the
/// step it failed at.
pub fn replace_durable(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let at = |op: &'static str| move |error: io::Error| io::Error::new(error.kind(), format!("{op}: {error}"));
    let tmp = replacement_path(path);
    if fs.exists(&tmp)? {
        fs.remove_file(&tmp).map_err(at("removing an unfinished replacement"))?;
    }
    let file = fs.create_new(&tmp).map_err(at("creating the replacement"))?;
    file.write_all_at(bytes, 0).map_err(at("writing the replacement"))?;
    file.sync_data().map_err(at("syncing the replacement"))?;
    fs.rename(&tmp, path).map_err(at("renaming the replacement"))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs.sync_dir(dir).map_err(at("syncing the directory")),
        _ => fs.sync_dir(Path::new(".")).map_err(at("syncing the directory")),
    }
}

/// Removes what a [`replace_durable`] of `path` cut short by a crash left (its
/// replacement, never renamed), durably. Returns whether there was one.
pub fn discard_unfinished_replacement(fs: &dyn FileSystem, path: &Path) -> io::Result<bool> {
    let tmp = replacement_path(path);
    if !fs.exists(&tmp)? {
        return Ok(false);
    }
    fs.remove_file(&tmp)?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs.sync_dir(dir)?;
    }
    Ok(true)
}

/// How much [`copy_file`] reads and writes at a time.
const COPY_CHUNK: usize = 1 << 20;

/// Writes the whole contents of `from` into a new file at `to` and makes its bytes
/// durable (its directory entry is durable once the directory is synced). Fails if `to`
/// exists.
pub fn copy_file(fs: &dyn FileSystem, from: &dyn FsFile, to: &Path) -> io::Result<()> {
    let len = from.len()?;
    let copy = fs.create_new(to)?;
    let mut offset = 0;
    while offset < len {
        let chunk = read_range(from, offset, len.min(offset + COPY_CHUNK as u64))?;
        if chunk.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was copied",
            ));
        }
        copy.write_all_at(&chunk, offset)?;
        offset += chunk.len() as u64;
    }
    copy.sync_data()
}

/// Reads the whole file at `path`.
pub fn read_file(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let file = fs.open(path)?;
    read_range(file.as_ref(), 0, file.len()?)
}

/// Reads the bytes `[offset, end)` of `file`, or fewer if the file is shorter.
pub fn read_range(file: &dyn FsFile, offset: u64, end: u64) -> io::Result<Vec<u8>> {
    let want = usize::try_from(end.saturating_sub(offset))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range too large"))?;
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_removes_every_level_and_survives_power_loss() {
        let fs = FaultyFs::new();
        create_dir_durable(&fs, Path::new("/data/az-a/Orders/p-0000/wal")).unwrap();
        create_dir_durable(&fs, Path::new("/data/az-a/Orders/p-0000/sst")).unwrap();
        for file in [
            "/data/az-a/Orders/p-0000/wal/1.log",
            "/data/az-a/Orders/p-0000/MANIFEST",
        ] {
            fs.create_new(Path::new(file)).unwrap().sync_data().unwrap();
            fs.sync_dir(Path::new(file).parent().unwrap()).unwrap();
        }
        remove_tree(&fs, Path::new("/data/az-a/Orders")).unwrap();
        fs.restart();
        assert!(!fs.exists(Path::new("/data/az-a/Orders")).unwrap());
        assert!(fs.exists(Path::new("/data/az-a")).unwrap());
    }

    /// A replacement cut short at every mutating step by a power loss leaves the old
    /// contents or the new ones, whole, and discarding what it left makes the next
    /// replacement succeed.
    #[test]
    fn replace_durable_leaves_old_or_new_contents_whole_at_every_crash_point() {
        let path = Path::new("/d/CATALOG");
        let (old, new) = (b"old contents".to_vec(), b"the new, longer contents".to_vec());
        let mut crash_point = 1;
        loop {
            let fs = FaultyFs::new();
            create_dir_durable(&fs, Path::new("/d")).unwrap();
            replace_durable(&fs, path, &old).unwrap();
            fs.crash_after(crash_point);
            let finished = replace_durable(&fs, path, &new).is_ok();
            fs.restart();
            let held = read_file(&fs, path).unwrap();
            assert!(held == old || held == new, "crash point {crash_point}: {held:?}");
            if finished {
                assert_eq!(held, new, "a finished replacement is durable");
                break;
            }
            discard_unfinished_replacement(&fs, path).unwrap();
            assert!(!fs.exists(&replacement_path(path)).unwrap());
            replace_durable(&fs, path, &new).unwrap();
            assert_eq!(read_file(&fs, path).unwrap(), new);
            crash_point += 1;
        }
        // Create, write, sync, rename and the directory sync each crashed once.
        assert_eq!(crash_point, 6, "every step was crashed at");
    }

    #[test]
    fn remove_tree_names_the_entry_it_failed_on() {
        let fs = FaultyFs::new();
        let error = remove_tree(&fs, Path::new("/nowhere")).unwrap_err();
        assert!(error.to_string().starts_with("listing /nowhere: "), "{error}");
    }

    #[test]
    fn create_dir_durable_makes_every_new_level_survive_power_loss() {
        let fs = FaultyFs::new();
        create_dir_durable(&fs, Path::new("/data/az-a/Orders/p-0000/wal")).unwrap();
        fs.restart();
        assert!(fs.exists(Path::new("/data/az-a/Orders/p-0000/wal")).unwrap());
    }

    /// A copy spanning several chunks holds the same bytes, durably once its directory
    /// is synced, and an existing target is refused.
    #[test]
    fn copy_file_copies_every_byte_durably() {
        let fs = FaultyFs::new();
        create_dir_durable(&fs, Path::new("/a")).unwrap();
        create_dir_durable(&fs, Path::new("/b")).unwrap();
        let bytes: Vec<u8> = (0..COPY_CHUNK * 5 / 2).map(|i| (i * 7 % 251) as u8).collect();
        let from = fs.create_new(Path::new("/a/t.sst")).unwrap();
        from.write_all_at(&bytes, 0).unwrap();
        from.sync_data().unwrap();
        fs.sync_dir(Path::new("/a")).unwrap();
        copy_file(&fs, from.as_ref(), Path::new("/b/t.sst")).unwrap();
        fs.sync_dir(Path::new("/b")).unwrap();
        let refused = copy_file(&fs, from.as_ref(), Path::new("/b/t.sst"));
        assert_eq!(refused.map_err(|e| e.kind()), Err(io::ErrorKind::AlreadyExists));
        fs.restart();
        assert_eq!(read_file(&fs, Path::new("/b/t.sst")).unwrap(), bytes);
    }
}
