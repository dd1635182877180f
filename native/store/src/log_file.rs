//! The `.log` file of one segment: appended to with positioned writes, read
//! through a shared read-only mapping that zero-copy readers (and JavaScript
//! Buffers) hold on to.
//!
//! Why not append through a writable mapping: on ext4 the first store to each
//! page of a mapped file faults twice (read the page in, then `page_mkwrite`),
//! which measured at less than half the throughput of `pwrite` into the page
//! cache. The page cache is shared, so the read mapping sees each write at once.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use std::io::IoSlice;

use memmap2::{Mmap, MmapOptions};
use rustix::mm::{MapFlags, ProtFlags};

use crate::error::{IoContext, Result, StoreError};

static NEXT_MAP_ID: AtomicU64 = AtomicU64::new(1);
static LIVE_MAPS: AtomicUsize = AtomicUsize::new(0);

/// Read-only mappings of segment files alive in this process, held by the
/// store or by readers (zero-copy Buffers) that outlive their segment.
pub fn live_read_maps() -> usize {
    LIVE_MAPS.load(Ordering::SeqCst)
}

/// A read-only shared mapping of a segment file. Bytes below the segment's
/// valid size never change while the mapping lives: the store never rewrites
/// them and never shrinks a file under a mapping without first replacing the
/// cut pages with anonymous zero pages. It keeps the file open, so a private
/// mapping of some of its bytes (`FetchMap`) can be made even after the
/// segment was deleted; a `FetchMap` holds its `ReadMap`. Truncation always
/// writes the kept prefix to a new file and renames it over, so the inode a
/// fetch maps is never shortened.
pub struct ReadMap {
    id: u64,
    map: Mmap,
    file: Arc<File>,
}

impl ReadMap {
    fn new(file: &Arc<File>, len: usize, path: &Path) -> Result<Arc<ReadMap>> {
        // SAFETY: the file is only ever appended to or replaced; see the type's docs.
        let map = unsafe { MmapOptions::new().len(len.max(1)).map(&**file) }.ctx("mmap", path)?;
        LIVE_MAPS.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(ReadMap { id: NEXT_MAP_ID.fetch_add(1, Ordering::Relaxed), map, file: file.clone() }))
    }

    /// The mapped file (for private mappings of part of it).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// A process-unique id (`Log::live_map_ids` lists those the log holds).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }

    /// Length of the mapping (the segment's capacity, not its valid size).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn slice(&self, start: usize, len: usize) -> &[u8] {
        &self.map[start..start + len]
    }

    /// Replaces the pages past `keep` bytes with anonymous zero pages, so the
    /// file can be shortened below this mapping without SIGBUS for anyone
    /// who touches them.
    fn cover_tail(&self, keep: usize) -> Result<()> {
        let page = rustix::param::page_size();
        let from = keep.div_ceil(page) * page;
        if from >= self.map.len() {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping; MAP_FIXED replaces those
        // pages atomically and the bytes there are past the valid data.
        unsafe {
            rustix::mm::mmap_anonymous(
                (self.map.as_ptr() as *mut u8).add(from).cast(),
                self.map.len() - from,
                ProtFlags::READ,
                MapFlags::PRIVATE | MapFlags::FIXED,
            )
        }
        .map_err(|e| StoreError::io("mmap", Path::new("<anonymous>"), e.into()))?;
        Ok(())
    }
}

impl Drop for ReadMap {
    fn drop(&mut self) {
        LIVE_MAPS.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct LogFile {
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes the read mapping spans; appends never go past it.
    pub capacity: usize,
    /// An active file is kept (sparsely) `capacity` long, so no page of the
    /// read mapping lies past the end of the file: touching any byte of it
    /// reads data or zeros, never SIGBUS. Sealing trims it to its data.
    active: bool,
    read: OnceLock<Arc<ReadMap>>,
}

/// Largest iovec count one `pwritev` takes (Linux `IOV_MAX`).
const MAX_IOVECS: usize = 1024;

impl LogFile {
    /// Opens (creating if asked) a file to append to, up to `capacity` bytes.
    pub fn open_active(path: &Path, capacity: usize, create: bool) -> Result<LogFile> {
        let file = OpenOptions::new().read(true).write(true).create(create).open(path).ctx("open", path)?;
        let len = file.metadata().ctx("stat", path)?.len() as usize;
        Ok(LogFile { path: path.to_path_buf(), file: Arc::new(file), capacity: capacity.max(len), active: true, read: OnceLock::new() })
    }

    /// Opens a sealed file for reading only; it is mapped on first read.
    pub fn open_sealed(path: &Path) -> Result<LogFile> {
        let file = OpenOptions::new().read(true).write(true).open(path).ctx("open", path)?;
        let len = file.metadata().ctx("stat", path)?.len() as usize;
        Ok(LogFile { path: path.to_path_buf(), file: Arc::new(file), capacity: len, active: false, read: OnceLock::new() })
    }

    /// Extends an active file to its capacity with a hole (no disk used).
    pub fn preallocate(&self) -> Result<()> {
        if self.active && self.file_len()? < self.capacity {
            self.file.set_len(self.capacity as u64).ctx("extend", &self.path)?;
        }
        Ok(())
    }

    /// Raises the capacity of an active file that holds no data yet; the read
    /// mapping is made again at the new size on next use.
    pub fn grow(&mut self, capacity: usize) -> Result<()> {
        if capacity > self.capacity {
            self.file.set_len(capacity as u64).ctx("extend", &self.path)?;
            self.capacity = capacity;
            self.read = OnceLock::new();
        }
        Ok(())
    }

    /// Where the data after `from` ends: the next hole, or the end of the file.
    pub fn data_end(&self, from: usize) -> Result<usize> {
        match rustix::fs::seek(&*self.file, rustix::fs::SeekFrom::Hole(from as u64)) {
            Ok(end) => Ok(end as usize),
            Err(_) => self.file_len(),
        }
    }

    /// The shared read-only mapping, created on first use.
    pub fn read_map(&self) -> Result<Arc<ReadMap>> {
        if let Some(map) = self.read.get() {
            return Ok(map.clone());
        }
        let map = ReadMap::new(&self.file, self.capacity, &self.path)?;
        Ok(self.read.get_or_init(|| map).clone())
    }

    /// The read mapping if one was made; `None` means no reader can hold it.
    pub fn existing_read_map(&self) -> Option<&Arc<ReadMap>> {
        self.read.get()
    }

    /// Writes `slices` back to back at `position`. On failure (a full disk,
    /// the file size limit) whatever part was written is cut off again, so
    /// no partial batch stays in the file for a later recovery to find.
    pub fn write_at(&self, position: usize, mut slices: &mut [IoSlice<'_>]) -> Result<()> {
        let mut at = position as u64;
        while !slices.is_empty() {
            let chunk = &slices[..slices.len().min(MAX_IOVECS)];
            let error = match rustix::io::pwritev(&*self.file, chunk, at) {
                Ok(0) => std::io::ErrorKind::WriteZero.into(),
                Ok(n) => {
                    at += n as u64;
                    IoSlice::advance_slices(&mut slices, n);
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => e.into(),
            };
            // A write not undone leaves the file in a state nobody knows: the
            // op tells the log to go offline (see `StoreError::is_refused_append`).
            let op = if self.undo(position, at as usize) { "append" } else { "undo append" };
            return Err(StoreError::io(op, &self.path, error));
        }
        Ok(())
    }

    /// Turns the bytes written in `[from, to)` back into a hole. Punching
    /// keeps the file's length, so an active file stays at its capacity even
    /// where it could not be extended again (the file size limit); without
    /// hole punching, cut the file and extend it again. False when neither worked.
    fn undo(&self, from: usize, to: usize) -> bool {
        if to <= from {
            return true;
        }
        let punch = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
        rustix::fs::fallocate(&*self.file, punch, from as u64, (to - from) as u64).is_ok()
            || self.file.set_len(from as u64).and_then(|_| self.file.set_len(self.capacity as u64)).is_ok()
    }

    /// Makes the file end at `size` bytes. A read mapping that readers may
    /// hold is first covered past `size`, so they can never fault there.
    pub fn seal(&mut self, size: usize) -> Result<()> {
        self.active = false;
        if let Some(map) = self.read.get() {
            map.cover_tail(size)?;
        }
        if self.file_len()? != size {
            self.file.set_len(size as u64).ctx("truncate", &self.path)?;
        }
        Ok(())
    }

    pub fn file_len(&self) -> Result<usize> {
        Ok(self.file.metadata().ctx("stat", &self.path)?.len() as usize)
    }
}
