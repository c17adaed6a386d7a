//! The counts behind Lambda's limits on descriptors and `/tmp` for one
//! environment (see `wasi_limits` for the WASI calls that consult them).
//!
//! The bytes in `/tmp` are an upper bound (the last measurement plus every
//! growth since); deletions and truncations are not tracked, so when the bound
//! would pass the limit, or something entered `/tmp` by a rename or link from
//! another folder, the folder is measured again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lambda's limit on open file descriptors per execution environment.
pub const MAX_OPEN_DESCRIPTORS: u32 = 1024;

/// The guest descriptor of `/tmp`: the first preopened folder, after stdin,
/// stdout and stderr.
pub(crate) const TMP_FD: u32 = 3;

/// Bytes of `/tmp` per directory entry it can hold (ext4's default inode ratio).
const BYTES_PER_ENTRY: u64 = 16 * 1024;

/// Per-environment counts behind the limits.
#[derive(Debug)]
pub(crate) struct FsLimits {
    /// Descriptors open now.
    open: u32,
    /// Most descriptors open at once.
    max_open: u32,
    /// Guest descriptors that refer to `/tmp` or to something under it.
    tmp_fds: BTreeSet<u32>,
    /// The host folder behind `/tmp`.
    tmp_dir: PathBuf,
    /// The ephemeral storage size, in bytes.
    tmp_limit: u64,
    /// Bytes in `/tmp` at most: the last measurement plus growth since.
    tmp_upper: u64,
    /// Set when something may have entered `/tmp` without a write.
    tmp_stale: bool,
}

impl FsLimits {
    /// Limits for an environment whose `/tmp` (host folder `tmp_dir`, empty)
    /// is guest descriptor `tmp_fd`, with `preopens` folders in all.
    pub fn new(tmp_fd: u32, preopens: u32, tmp_dir: PathBuf, tmp_limit_bytes: u64) -> Self {
        Self {
            open: 3 + preopens,
            max_open: MAX_OPEN_DESCRIPTORS,
            tmp_fds: BTreeSet::from([tmp_fd]),
            tmp_dir,
            tmp_limit: tmp_limit_bytes,
            tmp_upper: 0,
            tmp_stale: true,
        }
    }

    /// Limits that never refuse (for stores that run no guest).
    pub fn none() -> Self {
        Self {
            open: 0,
            max_open: u32::MAX,
            tmp_fds: BTreeSet::new(),
            tmp_dir: PathBuf::new(),
            tmp_limit: u64::MAX,
            tmp_upper: 0,
            tmp_stale: false,
        }
    }

    /// Whether `fd` refers to `/tmp` or something under it.
    pub fn in_tmp(&self, fd: i32) -> bool {
        u32::try_from(fd).is_ok_and(|fd| self.tmp_fds.contains(&fd))
    }

    /// Whether the next open must fail with `EMFILE`.
    pub fn descriptors_exhausted(&self) -> bool {
        self.open >= self.max_open
    }

    /// Outbound connections were opened: they count as descriptors.
    pub fn connections_opened(&mut self, n: usize) {
        self.open = self
            .open
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Outbound connections were closed.
    pub fn connections_closed(&mut self, n: usize) {
        self.open = self
            .open
            .saturating_sub(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// `new_fd` was opened relative to `dir_fd`.
    pub fn opened(&mut self, dir_fd: i32, new_fd: Option<u32>) {
        self.open += 1;
        if self.in_tmp(dir_fd)
            && let Some(fd) = new_fd
        {
            self.tmp_fds.insert(fd);
        }
    }

    /// `fd` was closed.
    pub fn closed(&mut self, fd: i32) {
        self.open = self.open.saturating_sub(1);
        if let Ok(fd) = u32::try_from(fd) {
            self.tmp_fds.remove(&fd);
        }
    }

    /// `from` was renumbered to `to` (which was open, and is closed first).
    pub fn renumbered(&mut self, from: i32, to: i32) {
        if from == to {
            return;
        }
        self.open = self.open.saturating_sub(1);
        let moved = self.in_tmp(from);
        if let (Ok(from), Ok(to)) = (u32::try_from(from), u32::try_from(to)) {
            self.tmp_fds.remove(&from);
            self.tmp_fds.remove(&to);
            if moved {
                self.tmp_fds.insert(to);
            }
        }
    }

    /// A path under `from_dir` was renamed or linked to one under `to_dir`.
    pub fn moved(&mut self, from_dir: i32, to_dir: i32) {
        if self.in_tmp(to_dir) && !self.in_tmp(from_dir) {
            self.tmp_stale = true;
        }
    }

    /// Makes room for `growth` more bytes in `/tmp`, or says there is none.
    pub fn reserve(&mut self, growth: u64) -> bool {
        if growth == 0 {
            return true;
        }
        if !self.tmp_stale && self.tmp_upper.saturating_add(growth) <= self.tmp_limit {
            self.tmp_upper += growth;
            return true;
        }
        self.tmp_stale = false;
        let max_entries = (self.tmp_limit / BYTES_PER_ENTRY).max(1);
        match measure(&self.tmp_dir, max_entries) {
            Some(used) if used.saturating_add(growth) <= self.tmp_limit => {
                self.tmp_upper = used + growth;
                true
            }
            Some(used) => {
                self.tmp_upper = used;
                false
            }
            None => false,
        }
    }
}

/// The bytes of every file under `dir` by their size, or `None` when it holds
/// more than `max_entries` entries.
fn measure(dir: &Path, max_entries: u64) -> Option<u64> {
    let mut total = 0u64;
    let mut entries = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(list) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in list.flatten() {
            entries += 1;
            if entries > max_entries {
                return None;
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_counts_sizes_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        let f = std::fs::File::create(dir.path().join("sub/sparse")).unwrap();
        f.set_len(1 << 30).unwrap();
        assert_eq!(measure(dir.path(), 10), Some(100 + (1 << 30)));
        assert_eq!(measure(dir.path(), 2), None);
    }

    #[test]
    fn reserve_measures_again_only_near_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = FsLimits::new(3, 1, dir.path().to_path_buf(), 1000);
        assert!(l.reserve(600));
        std::fs::write(dir.path().join("a"), [0u8; 600]).unwrap();
        assert!(!l.reserve(500), "600 + 500 > 1000");
        std::fs::remove_file(dir.path().join("a")).unwrap();
        assert!(l.reserve(500), "the deletion is seen when measured again");
        assert!(l.reserve(0));
    }
}
