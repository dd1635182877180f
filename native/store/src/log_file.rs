//! The `.log` file of one segment: a writable mapping for appends while the
//! segment is active, and a shared read-only mapping that zero-copy readers
//! (and JavaScript Buffers) hold on to.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use memmap2::{Mmap, MmapOptions, MmapRaw};
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
/// cut pages with anonymous zero pages.
pub struct ReadMap {
    id: u64,
    map: Mmap,
}

impl ReadMap {
    fn new(file: &File, len: usize, path: &Path) -> Result<Arc<ReadMap>> {
        // SAFETY: the file is only ever appended to or replaced; see the type's docs.
        let map = unsafe { MmapOptions::new().len(len.max(1)).map(file) }.ctx("mmap", path)?;
        LIVE_MAPS.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(ReadMap { id: NEXT_MAP_ID.fetch_add(1, Ordering::Relaxed), map }))
    }

    /// A process-unique id, so a binding can cache one external buffer per mapping.
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
    /// Bytes the mappings span; appends never go past it.
    pub capacity: usize,
    /// Bytes reserved on disk (fallocate), so a write through the mapping can
    /// never fault on a full disk.
    allocated: usize,
    write: Option<MmapRaw>,
    read: OnceLock<Arc<ReadMap>>,
}

/// Disk reservation grows with the file, between these steps.
const MIN_ALLOCATION_STEP: usize = 8 << 20;
const MAX_ALLOCATION_STEP: usize = 64 << 20;

impl LogFile {
    /// Opens (creating if asked) a file for appending, mapping `capacity` bytes.
    pub fn open_active(path: &Path, capacity: usize, create: bool) -> Result<LogFile> {
        let file = OpenOptions::new().read(true).write(true).create(create).open(path).ctx("open", path)?;
        let allocated = file.metadata().ctx("stat", path)?.len() as usize;
        let capacity = capacity.max(allocated);
        let write = MmapOptions::new().len(capacity.max(1)).map_raw(&file).ctx("mmap", path)?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Arc::new(file),
            capacity,
            allocated,
            write: Some(write),
            read: OnceLock::new(),
        })
    }

    /// Opens a sealed file for reading only; it is mapped on first read.
    pub fn open_sealed(path: &Path) -> Result<LogFile> {
        let file = OpenOptions::new().read(true).write(true).open(path).ctx("open", path)?;
        let len = file.metadata().ctx("stat", path)?.len() as usize;
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Arc::new(file),
            capacity: len,
            allocated: len,
            write: None,
            read: OnceLock::new(),
        })
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

    /// True when a reader outside the store holds this file's mapping.
    pub fn is_shared(&self) -> bool {
        self.read.get().is_some_and(|m| Arc::strong_count(m) > 1)
    }

    /// Reserves disk blocks up to `end`, growing in steps, so that mapped
    /// writes below `end` cannot fault.
    pub fn reserve(&mut self, end: usize) -> Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let step = self.allocated.clamp(MIN_ALLOCATION_STEP, MAX_ALLOCATION_STEP);
        let target = (self.allocated + step).min(self.capacity).max(end);
        match rustix::fs::fallocate(&*self.file, rustix::fs::FallocateFlags::empty(), 0, target as u64) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::OPNOTSUPP => {
                self.file.set_len(target as u64).ctx("extend", &self.path)?
            }
            Err(e) => return Err(StoreError::io("fallocate", &self.path, e.into())),
        }
        self.allocated = target;
        Ok(())
    }

    /// Copies `bytes` to `position` through the writable mapping; returns the
    /// destination so the caller can patch offsets in place.
    pub fn write_at(&mut self, position: usize, bytes: &[u8]) -> Result<&mut [u8]> {
        self.reserve(position + bytes.len())?;
        let map = self.write.as_ref().expect("append to a sealed segment");
        assert!(position + bytes.len() <= map.len());
        // SAFETY: within the mapping and the reserved length; no reader sees
        // these bytes until the caller publishes the new size.
        unsafe {
            let dst = std::slice::from_raw_parts_mut(map.as_mut_ptr().add(position), bytes.len());
            dst.copy_from_slice(bytes);
            Ok(dst)
        }
    }

    /// Shortens the file to `size` bytes and drops the writable mapping. A
    /// read mapping that readers may hold is first covered past `size`.
    pub fn seal(&mut self, size: usize) -> Result<()> {
        self.write = None;
        if let Some(map) = self.read.get() {
            map.cover_tail(size)?;
        }
        self.set_len(size)
    }

    fn set_len(&mut self, size: usize) -> Result<()> {
        self.file.set_len(size as u64).ctx("truncate", &self.path)?;
        self.allocated = size;
        Ok(())
    }

    pub fn file_len(&self) -> Result<usize> {
        Ok(self.file.metadata().ctx("stat", &self.path)?.len() as usize)
    }
}
