//! File access, behind a trait so that tests can inject faults.
//!
//! Everything storage does to a disk goes through [`Fs`] and [`File`]:
//! positional reads and writes (`pread`/`pwrite`, no shared cursor, so reads
//! never wait for appends), `fdatasync`, truncation, renames and directory
//! syncs. [`OsFs`] is the real thing; [`FaultyFs`] wraps it and can tear a
//! write, fail an fsync or pretend the disk is full, so tests can show that
//! nothing acknowledged is lost when the disk misbehaves.
//!
//! Why positional I/O on our own threads and not io_uring: an append is one
//! `pwrite` into the page cache (a memcpy) and the durable path is bounded by
//! `fdatasync`, which io_uring does not make faster; batching fsyncs across
//! partitions (group commit) is what makes durability cheap. Revisit with a
//! benchmark if a profile shows syscall overhead.

use std::fmt::Debug;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An open file.
pub trait File: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `position`; 0 means end of file.
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `position`.
    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()>;
    /// `fdatasync`: data and the size are on disk when this returns.
    fn sync_data(&self) -> io::Result<()>;
    /// Starts writing the file's dirty pages to the device, without
    /// waiting, metadata or a device cache flush (Linux
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`).
    fn start_write_back(&self) -> io::Result<()>;
    /// Writes the file's dirty pages and waits until the device has taken
    /// them (into its volatile cache: durable only after a later flush, as
    /// any `sync_data` on the same file system issues). No metadata.
    fn wait_write_back(&self) -> io::Result<()>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    fn size(&self) -> io::Result<u64>;
    /// The descriptor, for zero-copy sends (`sendfile`); `None` where there
    /// is no real file behind it.
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>>;

    /// Fills `buf` from `position`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut position: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, position) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("end of file at {position}"),
                    ));
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    position += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A file system.
pub trait Fs: Send + Sync + Debug {
    /// Opens for reading and writing, creating the file if `create`.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn File>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of a directory, sorted by name.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    fn exists(&self, path: &Path) -> bool;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Whether the file system under `dir` writes data over a file's
    /// existing blocks in place, so that [`File::wait_write_back`] and a
    /// later device flush make such an overwrite durable with no metadata
    /// to commit: ext2/3/4 (unless mounted `data=journal`) and XFS. Not
    /// btrfs or ZFS, which copy on write (an overwrite is new blocks, so new
    /// metadata), nor anything unknown. (A file given ext4's per-file data
    /// journaling, `chattr +j`, is not detected.)
    fn overwrites_in_place(&self, dir: &Path) -> bool;
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(std::fs::File);

impl File for OsFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.0.read_at(buf, position)
    }

    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        self.0.write_all_at(buf, position)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn start_write_back(&self) -> io::Result<()> {
        sync_file_range(&self.0, false)
    }

    fn wait_write_back(&self) -> io::Result<()> {
        sync_file_range(&self.0, true)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        Some(self.0.as_fd())
    }
}

impl Fs for OsFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn File>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(OsFile(file)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }

    fn overwrites_in_place(&self, dir: &Path) -> bool {
        overwrites_in_place(dir)
    }
}

/// `sync_file_range` over the whole file: start the write-back, or also
/// wait for it (and for any write-back already under way).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // no safe binding of sync_file_range exists (nix, rustix)
fn sync_file_range(file: &std::fs::File, wait: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = if wait {
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER
    } else {
        libc::SYNC_FILE_RANGE_WRITE
    };
    // SAFETY: the descriptor is open for as long as `file` is borrowed;
    // offset 0 and length 0 name the whole file.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere there is no write-back without a flush: the flush itself.
#[cfg(not(target_os = "linux"))]
fn sync_file_range(file: &std::fs::File, _wait: bool) -> io::Result<()> {
    file.sync_data()
}

#[cfg(target_os = "linux")]
fn overwrites_in_place(dir: &Path) -> bool {
    const EXT_SUPER_MAGIC: i64 = 0xEF53;
    const XFS_SUPER_MAGIC: i64 = 0x5846_5342;
    let Ok(stat) = rustix::fs::statfs(dir) else {
        return false;
    };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let kind = stat.f_type as i64;
    if kind == XFS_SUPER_MAGIC {
        return true;
    }
    if kind != EXT_SUPER_MAGIC {
        return false;
    }
    // ext3/4 with data=journal writes file data through the journal: a
    // write-back alone does not put it where a flush makes it durable.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(mountinfo) => !journals_data(&mountinfo, &dir),
        Err(_) => false,
    }
}

#[cfg(target_os = "linux")]
/// Whether the mount holding `dir` (the longest mount point above it; the
/// last one mounted there) has the `data=journal` option, in the format of
/// `/proc/self/mountinfo`.
fn journals_data(mountinfo: &str, dir: &Path) -> bool {
    let mut best: Option<(usize, bool)> = None;
    for line in mountinfo.lines() {
        let Some(mount_point) = line.split(' ').nth(4) else {
            continue;
        };
        let Some((_, tail)) = line.split_once(" - ") else {
            continue;
        };
        let super_options = tail.split(' ').nth(2).unwrap_or("");
        let mount_point = unescape_mount_point(mount_point);
        if dir.starts_with(&mount_point) {
            let depth = mount_point.components().count();
            if best.is_none_or(|(d, _)| depth >= d) {
                let journaled = super_options.split(',').any(|o| o == "data=journal");
                best = Some((depth, journaled));
            }
        }
    }
    best.is_some_and(|(_, journaled)| journaled)
}

#[cfg(target_os = "linux")]
/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape_mount_point(escaped: &str) -> PathBuf {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(not(target_os = "linux"))]
fn overwrites_in_place(_dir: &Path) -> bool {
    false
}

/// Faults a [`FaultyFs`] injects; each can be switched on at any time.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every `sync_data`, `sync_dir` and write-back fails with EIO.
    pub fail_sync: AtomicBool,
    /// Every write fails with EIO.
    pub fail_write: AtomicBool,
    /// Bytes that may still be written before writes fail with ENOSPC
    /// (`u64::MAX`: no limit). A write that does not fit writes what fits
    /// first, as a real full disk tears a write.
    pub space_left: AtomicU64,
    /// The file of each `sync_data` call that reached the file system, in
    /// order (recorded, not faults).
    pub synced_files: std::sync::Mutex<Vec<PathBuf>>,
    /// `wait_write_back` calls that reached the file system.
    pub write_backs: AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults {
            space_left: AtomicU64::new(u64::MAX),
            ..Faults::default()
        })
    }
}

/// [`OsFs`] with injected faults, for tests.
#[derive(Debug, Clone)]
pub struct FaultyFs {
    pub faults: Arc<Faults>,
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn File>,
    path: PathBuf,
    faults: Arc<Faults>,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl File for FaultyFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.inner.read_at(buf, position)
    }

    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        if self.faults.fail_write.load(Ordering::SeqCst) {
            return Err(eio("write failed"));
        }
        let want = buf.len() as u64;
        let granted = self
            .faults
            .space_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(left.saturating_sub(want))
            })
            // fetch_update with a closure that always returns Some cannot fail.
            .unwrap_or(0);
        if granted >= want {
            return self.inner.write_all_at(buf, position);
        }
        // Tear the write: what fits lands, the rest does not.
        self.inner
            .write_all_at(&buf[..granted as usize], position)?;
        Err(io::Error::from_raw_os_error(28)) // ENOSPC
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(eio("fsync failed"));
        }
        if let Ok(mut files) = self.faults.synced_files.lock() {
            files.push(self.path.clone());
        }
        self.inner.sync_data()
    }

    fn start_write_back(&self) -> io::Result<()> {
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(eio("write-back failed"));
        }
        self.inner.start_write_back()
    }

    fn wait_write_back(&self) -> io::Result<()> {
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(eio("write-back failed"));
        }
        self.faults.write_backs.fetch_add(1, Ordering::SeqCst);
        self.inner.wait_write_back()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.fd()
    }
}

impl FaultyFs {
    pub fn new() -> FaultyFs {
        FaultyFs {
            faults: Faults::new(),
        }
    }
}

impl Default for FaultyFs {
    fn default() -> Self {
        FaultyFs::new()
    }
}

impl Fs for FaultyFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn File>> {
        Ok(Arc::new(FaultyFile {
            inner: OsFs.open(path, create)?,
            path: path.to_owned(),
            faults: self.faults.clone(),
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        OsFs.remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.faults.fail_write.load(Ordering::SeqCst) {
            return Err(eio("rename failed"));
        }
        OsFs.rename(from, to)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        OsFs.create_dir_all(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        OsFs.remove_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        OsFs.read_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        OsFs.exists(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(eio("directory fsync failed"));
        }
        OsFs.sync_dir(path)
    }

    fn overwrites_in_place(&self, dir: &Path) -> bool {
        OsFs.overwrites_in_place(dir)
    }
}

/// Replaces `path` with `contents` so that a crash leaves the old file or the
/// new one, never a mix: write `path.tmp`, fsync it, rename over `path`,
/// fsync the directory.
pub fn write_atomically(fs: &dyn Fs, path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let file = fs.open(&tmp, true)?;
        file.set_len(0)?;
        file.write_all_at(contents, 0)?;
        file.sync_data()?;
    }
    fs.rename(&tmp, path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs.sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temp dir")
    }

    #[test]
    fn positional_writes_and_reads_meet() {
        let dir = temp_dir();
        let file = OsFs.open(&dir.path().join("f"), true).unwrap();
        file.write_all_at(b"world", 6).unwrap();
        file.write_all_at(b"hello ", 0).unwrap();
        let mut buf = [0u8; 11];
        file.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello world");
        assert_eq!(file.size().unwrap(), 11);
        let mut past = [0u8; 4];
        assert_eq!(
            file.read_exact_at(&mut past, 9).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn full_disk_tears_the_write_and_says_enospc() {
        let dir = temp_dir();
        let fs = FaultyFs::new();
        fs.faults.space_left.store(3, Ordering::SeqCst);
        let file = fs.open(&dir.path().join("f"), true).unwrap();
        let err = file.write_all_at(b"abcdef", 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
        assert_eq!(file.size().unwrap(), 3, "what fitted was written");
    }

    #[test]
    fn failed_fsync_is_reported() {
        let dir = temp_dir();
        let fs = FaultyFs::new();
        let file = fs.open(&dir.path().join("f"), true).unwrap();
        file.write_all_at(b"x", 0).unwrap();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        assert!(file.sync_data().is_err());
        assert!(fs.sync_dir(dir.path()).is_err());
    }

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temp_file() {
        let dir = temp_dir();
        let path = dir.path().join("checkpoint");
        write_atomically(&OsFs, &path, b"first, longer contents").unwrap();
        write_atomically(&OsFs, &path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(OsFs.read_dir(dir.path()).unwrap(), vec![path]);
    }

    #[test]
    fn atomic_write_that_fails_keeps_the_old_file() {
        let dir = temp_dir();
        let path = dir.path().join("checkpoint");
        write_atomically(&OsFs, &path, b"old").unwrap();
        let fs = FaultyFs::new();
        fs.faults.fail_sync.store(true, Ordering::SeqCst);
        assert!(write_atomically(&fs, &path, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn data_journal_is_read_from_the_mount_that_holds_the_dir() {
        let mountinfo = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 254:1 / /data rw,relatime - ext4 /dev/vdb rw,data=journal
41 27 254:2 / /data/fast rw,relatime - ext4 /dev/vdc rw,data=ordered
42 27 254:3 / /my\\040logs rw - ext4 /dev/vdd rw,data=journal
43 27 0:30 / /data/fast rw - ext4 /dev/vde rw,data=journal
";
        let journaled = |dir: &str| journals_data(mountinfo, Path::new(dir));
        assert!(!journaled("/var/strata"));
        assert!(journaled("/data/strata"));
        assert!(
            !journaled("/database"),
            "a path prefix is not a mount above it"
        );
        assert!(
            journaled("/data/fast/x"),
            "the last mount on a mount point wins"
        );
        assert!(journaled("/my logs/strata"));
        assert!(!journaled("/my"));
    }
}
