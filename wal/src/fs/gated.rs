//! A disk that hangs on demand: [`GatedFs`] passes everything to another file system,
//! except that syncing a chosen file waits while its [`SyncGate`] is closed, and, if
//! asked, hard links fail as across devices. For tests and drills of what a hung fsync
//! holds up, and of what must work when each AZ is a device of its own.

use super::{FileLock, FileSystem, FsFile, MappedBytes, SharedFs};
use parking_lot::{Condvar, Mutex};
use std::fmt::{self, Debug};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a sync waits at a closed gate: it then goes on, and the gate records that
/// it gave up, so that a test that would wait for it forever ends (and can fail) instead.
const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// Syncs waiting at the gate now.
    waiting: usize,
    /// Syncs that found the gate closed, so far.
    held: u64,
    /// Whether a sync gave up waiting.
    gave_up: bool,
}

/// What gated syncs wait at while it is closed. It starts open.
#[derive(Debug, Default)]
pub struct SyncGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

impl SyncGate {
    /// Makes gated syncs wait from now on.
    pub fn close(&self) {
        self.state.lock().closed = true;
    }

    /// Lets every waiting and later gated sync through.
    pub fn open(&self) {
        self.state.lock().closed = false;
        self.changed.notify_all();
    }

    /// How many syncs found the gate closed so far.
    pub fn held(&self) -> u64 {
        self.state.lock().held
    }

    /// Whether a sync waited 20 s at the closed gate and went on without it opening.
    pub fn gave_up(&self) -> bool {
        self.state.lock().gave_up
    }

    /// Waits until a sync waits at the gate, at most `timeout`; false if none did.
    pub fn await_waiter(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        while state.waiting == 0 {
            if self.changed.wait_until(&mut state, deadline).timed_out() {
                return state.waiting > 0;
            }
        }
        true
    }

    /// Waits while the gate is closed (at most [`GIVE_UP_AFTER`]).
    fn pass(&self) {
        let mut state = self.state.lock();
        if !state.closed {
            return;
        }
        state.held += 1;
        state.waiting += 1;
        self.changed.notify_all();
        let deadline = Instant::now() + GIVE_UP_AFTER;
        while state.closed {
            if self.changed.wait_until(&mut state, deadline).timed_out() {
                state.gave_up = true;
                break;
            }
        }
        state.waiting -= 1;
    }
}

/// Another file system whose syncs of the files `gated` picks (by path) wait at a
/// [`SyncGate`] while it is closed. Directory syncs and everything else pass straight
/// through (but hard links, after [`GatedFs::without_hard_links`]).
pub struct GatedFs {
    inner: SharedFs,
    gate: Arc<SyncGate>,
    gated: Box<dyn Fn(&Path) -> bool + Send + Sync>,
    /// Whether hard links fail (as `link(2)` does across devices, `EXDEV`).
    no_hard_links: bool,
}

impl Debug for GatedFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatedFs")
            .field("inner", &self.inner)
            .field("gate", &self.gate)
            .field("no_hard_links", &self.no_hard_links)
            .finish_non_exhaustive()
    }
}

impl GatedFs {
    /// `inner`, with the syncs of the files `gated` picks held at a new, open gate.
    pub fn new(inner: SharedFs, gated: impl Fn(&Path) -> bool + Send + Sync + 'static) -> GatedFs {
        GatedFs {
            inner,
            gate: Arc::new(SyncGate::default()),
            gated: Box::new(gated),
            no_hard_links: false,
        }
    }

    /// This file system, with every hard link failing with
    /// [`io::ErrorKind::CrossesDevices`], as between devices.
    pub fn without_hard_links(mut self) -> GatedFs {
        self.no_hard_links = true;
        self
    }

    /// The gate the picked files' syncs wait at.
    pub fn gate(&self) -> Arc<SyncGate> {
        Arc::clone(&self.gate)
    }

    fn wrap(&self, path: &Path, file: Arc<dyn FsFile>) -> Arc<dyn FsFile> {
        if (self.gated)(path) {
            Arc::new(GatedFile {
                inner: file,
                gate: Arc::clone(&self.gate),
            })
        } else {
            file
        }
    }
}

#[derive(Debug)]
struct GatedFile {
    inner: Arc<dyn FsFile>,
    gate: Arc<SyncGate>,
}

impl FsFile for GatedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.gate.pass();
        self.inner.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

impl FileSystem for GatedFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        Ok(self.wrap(path, self.inner.create_new(path)?))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn FsFile>> {
        Ok(self.wrap(path, self.inner.open(path)?))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.read_dir(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.no_hard_links {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                "hard links are not supported here",
            ));
        }
        self.inner.hard_link(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.inner.try_lock(path)
    }
    fn map_immutable(&self, path: &Path) -> io::Result<MappedBytes> {
        self.inner.map_immutable(path)
    }
}
