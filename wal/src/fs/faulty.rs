//! An in-memory file system that fails on request and loses power on request.
//!
//! Modelled on LevelDB's fault-injection `Env` and redb's fuzzing `StorageBackend`, but
//! written from its own rules: it keeps, for every file, the bytes processes see and the
//! bytes that are durable, and for every directory, the entries processes see and the
//! entries that are durable. [`FaultyFs::restart`] throws away everything that is not
//! durable, exactly what a power cut does to a POSIX file system with no luck.
//!
//! Faults:
//! - [`FaultyFs::crash_after`]: the power goes off at the n-th mutating operation from now
//!   (that operation fails, a write may land partly); every operation after it fails until
//!   [`FaultyFs::restart`].
//! - [`FaultyFs::fail_after`]: after skipping n matching operations, every matching
//!   operation fails with an I/O error or "no space left" (a full disk stays full) until
//!   [`FaultyFs::clear_faults`].

use super::{FileLock, FileSystem, FsFile};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The kinds of operation a fault can be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Creating a file or directory.
    Create,
    /// Writing bytes or changing a file's length.
    Write,
    /// Syncing a file's data.
    Sync,
    /// Syncing a directory.
    SyncDir,
    /// Renaming a file.
    Rename,
    /// Removing a file.
    Remove,
    /// Reading a file or listing a directory.
    Read,
}

impl OpKind {
    fn mutates(self) -> bool {
        !matches!(self, OpKind::Read)
    }
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A plain I/O error (`EIO`).
    Io,
    /// The disk is full (`ENOSPC`); a failing write stores half its bytes first.
    NoSpace,
}

impl FaultKind {
    fn error(self) -> io::Error {
        match self {
            FaultKind::Io => io::Error::other("injected I/O error"),
            FaultKind::NoSpace => io::Error::new(io::ErrorKind::StorageFull, "injected: no space left on device"),
        }
    }
}

#[derive(Debug)]
struct FaultRule {
    kinds: Vec<OpKind>,
    skip: u64,
    kind: FaultKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir,
}

#[derive(Debug, Default, Clone)]
struct DirState {
    entries: BTreeMap<String, Entry>,
    durable: BTreeMap<String, Entry>,
}

#[derive(Debug, Default)]
struct FileState {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug)]
struct State {
    dirs: BTreeMap<PathBuf, DirState>,
    files: HashMap<u64, FileState>,
    next_file_id: u64,
    /// Bumped by every restart; handles opened before it fail, like a dead process's.
    generation: u64,
    power_off: bool,
    mutating_ops: u64,
    crash_at: Option<u64>,
    faults: Vec<FaultRule>,
    /// Paths locked by live guards; a restart (the process dying) releases them all.
    locks: HashSet<PathBuf>,
}

/// An in-memory, fault-injecting file system for tests. Cloning shares the same disk.
#[derive(Debug, Clone)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

impl Default for FaultyFs {
    fn default() -> Self {
        Self::new()
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let path = normalize(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let parent = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok((parent, name))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}: not found", path.display()))
}

impl State {
    /// Gatekeeper of every operation: power, stale handles, crash points, faults.
    fn begin(&mut self, op: OpKind, generation: Option<u64>) -> io::Result<()> {
        if self.power_off {
            return Err(io::Error::other("injected power loss: the disk is gone"));
        }
        if generation.is_some_and(|g| g != self.generation) {
            return Err(io::Error::other("file handle from before a restart"));
        }
        if op.mutates() {
            self.mutating_ops += 1;
            if self.crash_at == Some(self.mutating_ops) {
                self.power_off = true;
                return Err(io::Error::other("injected power loss"));
            }
        }
        for rule in &mut self.faults {
            if rule.kinds.contains(&op) {
                if rule.skip == 0 {
                    return Err(rule.kind.error());
                }
                rule.skip -= 1;
            }
        }
        Ok(())
    }

    /// Whether `path` is a directory linked into the tree: a removed directory's state is
    /// kept (power loss may bring it back) but it is gone until then.
    fn linked(&self, path: &Path) -> bool {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => {
                self.linked(parent)
                    && self
                        .dirs
                        .get(parent)
                        .is_some_and(|dir| dir.entries.get(&*name.to_string_lossy()) == Some(&Entry::Dir))
            }
            _ => self.dirs.contains_key(path),
        }
    }

    fn dir(&self, path: &Path) -> io::Result<&DirState> {
        if !self.linked(path) {
            return Err(not_found(path));
        }
        self.dirs.get(path).ok_or_else(|| not_found(path))
    }

    fn dir_mut(&mut self, path: &Path) -> io::Result<&mut DirState> {
        if !self.linked(path) {
            return Err(not_found(path));
        }
        self.dirs.get_mut(path).ok_or_else(|| not_found(path))
    }

    fn lookup_file(&self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        match self.dir(&parent)?.entries.get(&name) {
            Some(Entry::File(id)) => Ok(*id),
            Some(Entry::Dir) => Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory")),
            None => Err(not_found(path)),
        }
    }
}

impl FaultyFs {
    /// An empty disk holding only the root directory `/`.
    pub fn new() -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::from("/"), DirState::default());
        FaultyFs {
            state: Arc::new(Mutex::new(State {
                dirs,
                files: HashMap::new(),
                next_file_id: 1,
                generation: 0,
                power_off: false,
                mutating_ops: 0,
                crash_at: None,
                faults: Vec::new(),
                locks: HashSet::new(),
            })),
        }
    }

    /// A shared handle to this disk, as the rest of dynastore takes it.
    pub fn shared(&self) -> super::SharedFs {
        Arc::new(self.clone())
    }

    /// How many mutating operations (create, write, sync, rename, remove) have run.
    pub fn mutating_ops(&self) -> u64 {
        self.state.lock().mutating_ops
    }

    /// Cuts the power at the `n`-th mutating operation from now (`n >= 1`): that operation
    /// fails (a write may store a prefix) and so does everything after it until
    /// [`FaultyFs::restart`].
    pub fn crash_after(&self, n: u64) {
        let mut state = self.state.lock();
        state.crash_at = Some(state.mutating_ops + n.max(1));
    }

    /// Cuts the power now.
    pub fn power_off(&self) {
        self.state.lock().power_off = true;
    }

    /// Whether the power is off.
    pub fn is_powered_off(&self) -> bool {
        self.state.lock().power_off
    }

    /// After `skip` matching operations succeed, every operation of one of `kinds` fails
    /// with `kind` until [`FaultyFs::clear_faults`].
    pub fn fail_after(&self, kinds: &[OpKind], skip: u64, kind: FaultKind) {
        self.state.lock().faults.push(FaultRule {
            kinds: kinds.to_vec(),
            skip,
            kind,
        });
    }

    /// Removes every injected fault and pending crash point.
    pub fn clear_faults(&self) {
        let mut state = self.state.lock();
        state.faults.clear();
        state.crash_at = None;
    }

    /// Simulates power loss and reboot: every directory keeps only its durable entries,
    /// every file only its durable bytes, unreachable files and directories vanish, old
    /// handles stop working, and faults are cleared.
    pub fn restart(&self) {
        self.restart_keeping(|_| 0);
    }

    /// Like [`FaultyFs::restart`], but a file whose unsynced bytes extend its durable ones
    /// keeps the first `keep(unsynced_len)` of them: the disk happened to write part of
    /// the tail, which is how torn records arise.
    pub fn restart_keeping(&self, mut keep: impl FnMut(usize) -> usize) {
        let mut state = self.state.lock();
        for dir in state.dirs.values_mut() {
            dir.entries = dir.durable.clone();
        }
        // Keep only directories reachable from the root through durable entries.
        let mut reachable = BTreeMap::new();
        let mut stack = vec![PathBuf::from("/")];
        while let Some(path) = stack.pop() {
            if let Some(dir) = state.dirs.get(&path) {
                for (name, entry) in &dir.entries {
                    if *entry == Entry::Dir {
                        stack.push(path.join(name));
                    }
                }
                reachable.insert(path.clone(), dir.clone());
            }
        }
        state.dirs = reachable;
        let live: Vec<u64> = state
            .dirs
            .values()
            .flat_map(|d| d.entries.values())
            .filter_map(|e| match e {
                Entry::File(id) => Some(*id),
                Entry::Dir => None,
            })
            .collect();
        state.files.retain(|id, _| live.contains(id));
        for file in state.files.values_mut() {
            let extends = file.data.len() > file.durable.len() && file.data.starts_with(&file.durable);
            let kept = if extends {
                let unsynced = file.data.len() - file.durable.len();
                keep(unsynced).min(unsynced)
            } else {
                0
            };
            let end = file.durable.len() + kept;
            if extends {
                file.data.truncate(end);
            } else {
                file.data = file.durable.clone();
            }
            file.durable = file.data.clone();
        }
        state.generation += 1;
        state.power_off = false;
        state.crash_at = None;
        state.faults.clear();
        state.locks.clear();
    }

    /// Simulates the process dying (SIGKILL) and starting again, with the machine still
    /// up: every byte written and every directory entry made stays, as the OS has them,
    /// durable or not; old handles stop working, and faults are cleared.
    pub fn restart_process(&self) {
        let mut state = self.state.lock();
        state.generation += 1;
        state.power_off = false;
        state.crash_at = None;
        state.faults.clear();
        state.locks.clear();
    }

    /// Flips one bit of a file, bypassing faults (a disk error nobody reported). The
    /// change is durable.
    pub fn flip_bit(&self, path: &Path, byte: u64, bit: u8) -> io::Result<()> {
        let mut state = self.state.lock();
        let id = state.lookup_file(&normalize(path))?;
        let file = state.files.get_mut(&id).ok_or_else(|| not_found(path))?;
        let index = usize::try_from(byte).map_err(|_| io::Error::other("offset too large"))?;
        for bytes in [&mut file.data, &mut file.durable] {
            if let Some(b) = bytes.get_mut(index) {
                *b ^= 1 << (bit % 8);
            }
        }
        Ok(())
    }

    fn file_handle(&self, id: u64, generation: u64) -> Arc<dyn FsFile> {
        Arc::new(FaultyFile {
            state: Arc::clone(&self.state),
            id,
            generation,
        })
    }
}

impl FileSystem for FaultyFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        let mut state = self.state.lock();
        state.begin(OpKind::Create, None)?;
        let (parent, name) = split(path)?;
        let id = state.next_file_id;
        let dir = state.dir_mut(&parent)?;
        if dir.entries.contains_key(&name) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
        }
        dir.entries.insert(name, Entry::File(id));
        state.next_file_id += 1;
        state.files.insert(id, FileState::default());
        let generation = state.generation;
        drop(state);
        Ok(self.file_handle(id, generation))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        let mut state = self.state.lock();
        state.begin(OpKind::Read, None)?;
        let id = state.lookup_file(path)?;
        let generation = state.generation;
        drop(state);
        Ok(self.file_handle(id, generation))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        let path = normalize(path);
        let mut current = PathBuf::from("/");
        for component in path.components().skip(1) {
            let name = component.as_os_str().to_string_lossy().into_owned();
            let child = current.join(&name);
            match state.dir(&current)?.entries.get(&name) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a file is in the way"));
                }
                None => {
                    state.begin(OpKind::Create, None)?;
                    state.dir_mut(&current)?.entries.insert(name, Entry::Dir);
                    state.dirs.insert(child.clone(), DirState::default());
                }
            }
            current = child;
        }
        Ok(())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut state = self.state.lock();
        state.begin(OpKind::Read, None)?;
        Ok(state.dir(&normalize(path))?.entries.keys().cloned().collect())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut state = self.state.lock();
        state.begin(OpKind::Read, None)?;
        let path = normalize(path);
        if state.linked(&path) {
            return Ok(true);
        }
        let (parent, name) = split(&path)?;
        Ok(state.dir(&parent).is_ok_and(|d| d.entries.contains_key(&name)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin(OpKind::Remove, None)?;
        state.lookup_file(path)?;
        let (parent, name) = split(path)?;
        state.dir_mut(&parent)?.entries.remove(&name);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin(OpKind::Rename, None)?;
        let id = state.lookup_file(from)?;
        let (from_parent, from_name) = split(from)?;
        let (to_parent, to_name) = split(to)?;
        state.dir(&to_parent)?;
        state.dir_mut(&from_parent)?.entries.remove(&from_name);
        state.dir_mut(&to_parent)?.entries.insert(to_name, Entry::File(id));
        Ok(())
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin(OpKind::Create, None)?;
        let id = state.lookup_file(from)?;
        let (to_parent, to_name) = split(to)?;
        let dir = state.dir_mut(&to_parent)?;
        if dir.entries.contains_key(&to_name) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
        }
        dir.entries.insert(to_name, Entry::File(id));
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin(OpKind::SyncDir, None)?;
        let dir = state.dir_mut(&normalize(path))?;
        dir.durable = dir.entries.clone();
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.begin(OpKind::Remove, None)?;
        let path = normalize(path);
        if !state.dir(&path)?.entries.is_empty() {
            return Err(io::Error::new(io::ErrorKind::DirectoryNotEmpty, "directory not empty"));
        }
        let (parent, name) = split(&path)?;
        state.dir_mut(&parent)?.entries.remove(&name);
        // The directory's own state stays until a restart drops unreachable directories,
        // so an unsynced removal can still be undone by power loss.
        Ok(())
    }

    fn map_immutable(&self, path: &Path) -> io::Result<super::MappedBytes> {
        // A snapshot of the bytes processes see: what a mapping of an immutable file reads.
        let bytes = super::read_file(self, path)?;
        Ok(Arc::new(bytes))
    }

    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        if !self.exists(path)? {
            drop(self.create_new(path)?);
        }
        let mut state = self.state.lock();
        let path = normalize(path);
        if !state.locks.insert(path.clone()) {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        let generation = state.generation;
        Ok(Box::new(FaultyLock {
            state: Arc::clone(&self.state),
            path,
            generation,
        }))
    }
}

/// A lock on a [`FaultyFs`] path, released on drop (unless a restart already did).
#[derive(Debug)]
struct FaultyLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    generation: u64,
}

impl FileLock for FaultyLock {}

impl Drop for FaultyLock {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        if state.generation == self.generation {
            state.locks.remove(&self.path);
        }
    }
}

#[derive(Debug)]
struct FaultyFile {
    state: Arc<Mutex<State>>,
    id: u64,
    generation: u64,
}

impl FaultyFile {
    fn with<T>(&self, op: OpKind, f: impl FnOnce(&mut FileState) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.state.lock();
        state.begin(op, Some(self.generation))?;
        let file = state
            .files
            .get_mut(&self.id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file vanished"))?;
        f(file)
    }
}

fn write_into(data: &mut Vec<u8>, buf: &[u8], offset: usize) {
    let end = offset + buf.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[offset..end].copy_from_slice(buf);
}

impl FsFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.with(OpKind::Read, |file| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(file.data.len());
            let n = buf.len().min(file.data.len() - start);
            buf[..n].copy_from_slice(&file.data[start..start + n]);
            Ok(n)
        })
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let offset = usize::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        let mut state = self.state.lock();
        match state.begin(OpKind::Write, Some(self.generation)) {
            Ok(()) => {}
            Err(error) => {
                // A full disk or a power cut may leave part of the write behind.
                let partial = error.kind() == io::ErrorKind::StorageFull || state.power_off;
                if partial && let Some(file) = state.files.get_mut(&self.id) {
                    write_into(&mut file.data, &buf[..buf.len() / 2], offset);
                }
                return Err(error);
            }
        }
        let file = state
            .files
            .get_mut(&self.id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file vanished"))?;
        write_into(&mut file.data, buf, offset);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(OpKind::Sync, |file| {
            file.durable = file.data.clone();
            Ok(())
        })
    }

    fn len(&self) -> io::Result<u64> {
        self.with(OpKind::Read, |file| Ok(file.data.len() as u64))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::other("length too large"))?;
        self.with(OpKind::Write, |file| {
            file.data.resize(len, 0);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(fs: &FaultyFs, path: &str, bytes: &[u8], sync: bool) -> Arc<dyn FsFile> {
        let file = fs.create_new(Path::new(path)).unwrap();
        file.write_all_at(bytes, 0).unwrap();
        if sync {
            file.sync_data().unwrap();
        }
        file
    }

    #[test]
    fn unsynced_bytes_are_lost_at_power_loss() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/db")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        let file = write_file(&fs, "/db/a", b"durable", true);
        fs.sync_dir(Path::new("/db")).unwrap();
        file.write_all_at(b" lost", 7).unwrap();
        fs.restart();
        assert_eq!(super::super::read_file(&fs, Path::new("/db/a")).unwrap(), b"durable");
    }

    #[test]
    fn entries_of_unsynced_directories_are_lost_at_power_loss() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/db")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        write_file(&fs, "/db/a", b"x", true);
        fs.restart();
        assert!(!fs.exists(Path::new("/db/a")).unwrap());
        assert!(fs.exists(Path::new("/db")).unwrap());
    }

    #[test]
    fn unsynced_directory_vanishes_with_its_files() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/db/wal")).unwrap();
        fs.sync_dir(Path::new("/db/wal")).unwrap();
        write_file(&fs, "/db/wal/a", b"x", true);
        fs.sync_dir(Path::new("/db/wal")).unwrap();
        fs.restart();
        assert!(!fs.exists(Path::new("/db")).unwrap());
    }

    #[test]
    fn a_hard_link_shares_bytes_and_is_durable_after_directory_sync() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/x")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        write_file(&fs, "/a", b"shared", true);
        fs.sync_dir(Path::new("/")).unwrap();
        fs.hard_link(Path::new("/a"), Path::new("/x/b")).unwrap();
        assert!(fs.hard_link(Path::new("/a"), Path::new("/x/b")).is_err());
        assert_eq!(super::super::read_file(&fs, Path::new("/x/b")).unwrap(), b"shared");
        fs.restart();
        assert!(!fs.exists(Path::new("/x/b")).unwrap());
        fs.hard_link(Path::new("/a"), Path::new("/x/b")).unwrap();
        fs.sync_dir(Path::new("/x")).unwrap();
        fs.remove_file(Path::new("/a")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        fs.restart();
        assert_eq!(super::super::read_file(&fs, Path::new("/x/b")).unwrap(), b"shared");
    }

    #[test]
    fn a_removed_directory_is_gone_and_comes_back_empty() {
        let fs = FaultyFs::new();
        fs.create_dir_all(Path::new("/db/sst")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        fs.sync_dir(Path::new("/db")).unwrap();
        write_file(&fs, "/db/sst/1", b"x", true);
        fs.remove_file(Path::new("/db/sst/1")).unwrap();
        fs.remove_dir(Path::new("/db/sst")).unwrap();
        fs.remove_dir(Path::new("/db")).unwrap();
        assert!(!fs.exists(Path::new("/db")).unwrap());
        assert!(!fs.exists(Path::new("/db/sst")).unwrap());
        assert!(fs.read_dir(Path::new("/db/sst")).is_err());
        fs.create_dir_all(Path::new("/db/sst")).unwrap();
        assert!(fs.read_dir(Path::new("/db/sst")).unwrap().is_empty());
    }

    #[test]
    fn rename_is_durable_only_after_directory_sync() {
        let fs = FaultyFs::new();
        write_file(&fs, "/a", b"1", true);
        fs.sync_dir(Path::new("/")).unwrap();
        fs.rename(Path::new("/a"), Path::new("/b")).unwrap();
        fs.restart();
        assert!(fs.exists(Path::new("/a")).unwrap());
        assert!(!fs.exists(Path::new("/b")).unwrap());
        fs.rename(Path::new("/a"), Path::new("/b")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        fs.restart();
        assert!(!fs.exists(Path::new("/a")).unwrap());
        assert!(fs.exists(Path::new("/b")).unwrap());
    }

    #[test]
    fn crash_point_fails_that_operation_and_all_after_it() {
        let fs = FaultyFs::new();
        let file = write_file(&fs, "/a", b"abc", true);
        fs.crash_after(2);
        file.write_all_at(b"d", 3).unwrap();
        assert!(file.sync_data().is_err());
        assert!(file.write_all_at(b"e", 4).is_err());
        assert!(fs.read_dir(Path::new("/")).is_err());
        fs.restart();
        assert!(file.len().is_err(), "handles from before the restart are dead");
    }

    #[test]
    fn full_disk_fails_writes_after_the_skipped_ones_and_stays_full() {
        let fs = FaultyFs::new();
        let file = write_file(&fs, "/a", b"", false);
        fs.fail_after(&[OpKind::Write], 1, FaultKind::NoSpace);
        file.write_all_at(b"ok", 0).unwrap();
        let error = file.write_all_at(b"full", 2).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert!(file.write_all_at(b"x", 0).is_err());
        assert_eq!(file.len().unwrap(), 4, "half of the failed write landed");
        fs.clear_faults();
        file.write_all_at(b"x", 0).unwrap();
    }

    #[test]
    fn process_restart_keeps_unsynced_bytes_and_entries_but_kills_handles() {
        let fs = FaultyFs::new();
        let file = write_file(&fs, "/a", b"unsynced", false);
        fs.crash_after(1);
        assert!(file.write_all_at(b"x", 0).is_err());
        fs.restart_process();
        assert!(file.len().is_err());
        assert_eq!(super::super::read_file(&fs, Path::new("/a")).unwrap(), b"unsynced");
    }

    #[test]
    fn restart_keeping_keeps_a_prefix_of_the_unsynced_tail() {
        let fs = FaultyFs::new();
        let file = write_file(&fs, "/a", b"abc", true);
        fs.sync_dir(Path::new("/")).unwrap();
        file.write_all_at(b"defg", 3).unwrap();
        fs.restart_keeping(|unsynced| {
            assert_eq!(unsynced, 4);
            2
        });
        assert_eq!(super::super::read_file(&fs, Path::new("/a")).unwrap(), b"abcde");
    }
}
