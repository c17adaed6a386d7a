//! Lambda's limits inside the sandbox that WASI preview 1 has no setting for,
//! enforced by wrapping a few WASI calls around wasmtime-wasi's own:
//!
//! - **File descriptors**: at most [`MAX_FDS`] open per environment
//!   (Lambda's limit, counting stdio and the preopened folders); the next
//!   `path_open` fails inside the guest with `EMFILE`, so the host's
//!   descriptors are never exhausted.
//! - **Ephemeral storage**: what `/tmp` holds (files counted by their size,
//!   so a sparse file counts whole) stays within the function's
//!   `ephemeral_storage_mb`; a write that would go past it fails with
//!   `ENOSPC`. Writes to files under `/tmp` are counted as they happen; the
//!   folder is measured again whenever the count says the limit is near.
//!
//! Each wrapper calls the original WASI function (from a linker that holds
//! only WASI) and keeps its own books in [`SandboxBooks`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wasmtime::{Caller, Extern, Func, Linker};

use super::host::HostState;

/// Lambda's open file descriptor limit per execution environment.
pub const MAX_FDS: usize = 1024;

/// WASI's `EMFILE`.
const ERRNO_MFILE: i32 = 33;
/// WASI's `ENOSPC`.
const ERRNO_NOSPC: i32 = 51;
/// The `/tmp` preopen's descriptor: the first preopen, after stdio.
pub(crate) const TMP_FD: u32 = 3;
/// Bytes written between two measurements of `/tmp` while far from the limit.
const MEASURE_EVERY: u64 = 64 * 1024;

/// What the wrappers know of one environment's descriptors and `/tmp`.
#[derive(Debug, Default)]
pub(crate) struct SandboxBooks {
    /// Descriptors the guest opened (not stdio or preopens).
    opened: HashSet<u32>,
    /// Of those, the ones under `/tmp` (and `/tmp` itself).
    in_tmp: HashSet<u32>,
    /// stdio and preopens.
    base_fds: usize,
    /// The host folder behind `/tmp`.
    tmp_dir: PathBuf,
    /// `/tmp`'s limit in bytes.
    tmp_limit: u64,
    /// `/tmp`'s size when last measured, plus what was written since.
    tmp_estimate: u64,
    /// Bytes written since the last measurement.
    since_measure: u64,
    /// The original WASI functions, resolved once per store.
    originals: Vec<(&'static str, Func)>,
}

impl SandboxBooks {
    /// Books for an environment with `preopens` folders and `/tmp` at `tmp_dir`.
    pub fn new(preopens: usize, tmp_dir: &Path, tmp_limit_mb: u32) -> Self {
        let mut in_tmp = HashSet::new();
        in_tmp.insert(TMP_FD);
        Self {
            in_tmp,
            base_fds: 3 + preopens,
            tmp_dir: tmp_dir.to_owned(),
            tmp_limit: u64::from(tmp_limit_mb) * 1024 * 1024,
            ..Self::default()
        }
    }

    fn open_count(&self) -> usize {
        self.base_fds + self.opened.len()
    }

    /// Whether `grow` more bytes fit in `/tmp`, measuring it when near the limit.
    fn tmp_has_room(&mut self, grow: u64) -> bool {
        if self.since_measure >= MEASURE_EVERY
            || self.tmp_estimate.saturating_add(grow) > self.tmp_limit
        {
            self.tmp_estimate = folder_size(&self.tmp_dir);
            self.since_measure = 0;
        }
        self.tmp_estimate.saturating_add(grow) <= self.tmp_limit
    }

    fn wrote(&mut self, n: u64) {
        self.tmp_estimate = self.tmp_estimate.saturating_add(n);
        self.since_measure = self.since_measure.saturating_add(n);
    }
}

/// The apparent size of everything below `dir` (links not followed).
fn folder_size(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}

/// The original `name` from the WASI-only linker, resolved once per store.
fn original(
    caller: &mut Caller<'_, HostState>,
    wasi: &Linker<HostState>,
    name: &'static str,
) -> wasmtime::Result<Func> {
    if let Some((_, f)) = caller
        .data()
        .books
        .originals
        .iter()
        .find(|(n, _)| *n == name)
    {
        return Ok(*f);
    }
    let Some(Extern::Func(f)) = wasi.get(&mut *caller, "wasi_snapshot_preview1", name) else {
        return Err(wasmtime::Error::msg(format!("WASI has no {name}")));
    };
    caller.data_mut().books.originals.push((name, f));
    Ok(f)
}

fn read_u32(caller: &mut Caller<'_, HostState>, ptr: i32) -> Option<u32> {
    let Some(Extern::Memory(mem)) = caller.get_export("memory") else {
        return None;
    };
    let mut buf = [0u8; 4];
    mem.read(&*caller, usize::try_from(ptr).ok()?, &mut buf).ok()?;
    Some(u32::from_le_bytes(buf))
}

/// Total length of the iovecs at `iovs` (`count` of them).
fn iovec_len(caller: &mut Caller<'_, HostState>, iovs: i32, count: i32) -> u64 {
    let mut total = 0u64;
    for i in 0..count.clamp(0, 1024) {
        if let Some(len) = read_u32(caller, iovs.wrapping_add(i * 8 + 4)) {
            total = total.saturating_add(u64::from(len));
        }
    }
    total
}

/// Replaces `path_open`, `fd_close`, `fd_renumber`, `fd_write`, `fd_pwrite`,
/// `fd_filestat_set_size` and `fd_allocate` in `linker` with wrappers that keep
/// the books and call the originals from `wasi` (a linker with only WASI).
pub(crate) fn add_to_linker(
    linker: &mut Linker<HostState>,
    wasi: &Linker<HostState>,
) -> wasmtime::Result<()> {
    const M: &str = "wasi_snapshot_preview1";
    linker.allow_shadowing(true);

    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "path_open",
        move |mut caller: Caller<'_, HostState>,
              args: (i32, i32, i32, i32, i32, i64, i64, i32, i32)| {
            let w = w.clone();
            Box::new(async move {
                if caller.data().books.open_count() >= MAX_FDS {
                    return Ok(ERRNO_MFILE);
                }
                let f = original(&mut caller, &w, "path_open")?;
                let f = f.typed::<(i32, i32, i32, i32, i32, i64, i64, i32, i32), i32>(&caller)?;
                let errno = f.call_async(&mut caller, args).await?;
                if errno == 0
                    && let Some(fd) = read_u32(&mut caller, args.8)
                {
                    let books = &mut caller.data_mut().books;
                    books.opened.insert(fd);
                    if books.in_tmp.contains(&(args.0 as u32)) {
                        books.in_tmp.insert(fd);
                    }
                }
                Ok(errno)
            })
        },
    )?;

    let w = wasi.clone();
    linker.func_wrap_async(M, "fd_close", move |mut caller: Caller<'_, HostState>, (fd,): (i32,)| {
        let w = w.clone();
        Box::new(async move {
            let f = original(&mut caller, &w, "fd_close")?.typed::<i32, i32>(&caller)?;
            let errno = f.call_async(&mut caller, fd).await?;
            if errno == 0 {
                let books = &mut caller.data_mut().books;
                books.opened.remove(&(fd as u32));
                books.in_tmp.remove(&(fd as u32));
            }
            Ok(errno)
        })
    })?;

    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "fd_renumber",
        move |mut caller: Caller<'_, HostState>, (from, to): (i32, i32)| {
            let w = w.clone();
            Box::new(async move {
                let f = original(&mut caller, &w, "fd_renumber")?.typed::<(i32, i32), i32>(&caller)?;
                let errno = f.call_async(&mut caller, (from, to)).await?;
                if errno == 0 && from != to {
                    let books = &mut caller.data_mut().books;
                    let (from, to) = (from as u32, to as u32);
                    books.opened.remove(&to);
                    let was_tmp = books.in_tmp.remove(&from);
                    books.in_tmp.remove(&to);
                    if books.opened.remove(&from) {
                        books.opened.insert(to);
                    }
                    if was_tmp {
                        books.in_tmp.insert(to);
                    }
                }
                Ok(errno)
            })
        },
    )?;

    // Writes: fd_write(fd, iovs, count, nwritten) and fd_pwrite(fd, iovs, count, offset, nwritten).
    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "fd_write",
        move |mut caller: Caller<'_, HostState>, args: (i32, i32, i32, i32)| {
            let w = w.clone();
            Box::new(async move {
                let tmp = caller.data().books.in_tmp.contains(&(args.0 as u32));
                let n = if tmp { iovec_len(&mut caller, args.1, args.2) } else { 0 };
                if tmp && !caller.data_mut().books.tmp_has_room(n) {
                    return Ok(ERRNO_NOSPC);
                }
                let f = original(&mut caller, &w, "fd_write")?.typed::<(i32, i32, i32, i32), i32>(&caller)?;
                let errno = f.call_async(&mut caller, args).await?;
                if tmp && errno == 0 {
                    caller.data_mut().books.wrote(n);
                }
                Ok(errno)
            })
        },
    )?;

    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "fd_pwrite",
        move |mut caller: Caller<'_, HostState>, args: (i32, i32, i32, i64, i32)| {
            let w = w.clone();
            Box::new(async move {
                let tmp = caller.data().books.in_tmp.contains(&(args.0 as u32));
                let n = if tmp { iovec_len(&mut caller, args.1, args.2) } else { 0 };
                if tmp && !caller.data_mut().books.tmp_has_room(n) {
                    return Ok(ERRNO_NOSPC);
                }
                let f = original(&mut caller, &w, "fd_pwrite")?
                    .typed::<(i32, i32, i32, i64, i32), i32>(&caller)?;
                let errno = f.call_async(&mut caller, args).await?;
                if tmp && errno == 0 {
                    // A write far past the end makes a sparse file, which
                    // counts by its size: measure before the next write.
                    let books = &mut caller.data_mut().books;
                    books.wrote(n);
                    books.since_measure = MEASURE_EVERY;
                }
                Ok(errno)
            })
        },
    )?;

    // fd_filestat_set_size(fd, size) and fd_allocate(fd, offset, len) can grow a file.
    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "fd_filestat_set_size",
        move |mut caller: Caller<'_, HostState>, (fd, size): (i32, i64)| {
            let w = w.clone();
            Box::new(async move {
                // Growing a file this way makes it sparse: it counts by its
                // size from the next write on.
                let tmp = caller.data().books.in_tmp.contains(&(fd as u32));
                let f = original(&mut caller, &w, "fd_filestat_set_size")?
                    .typed::<(i32, i64), i32>(&caller)?;
                let errno = f.call_async(&mut caller, (fd, size)).await?;
                if tmp {
                    caller.data_mut().books.since_measure = MEASURE_EVERY;
                }
                Ok(errno)
            })
        },
    )?;

    let w = wasi.clone();
    linker.func_wrap_async(
        M,
        "fd_allocate",
        move |mut caller: Caller<'_, HostState>, (fd, offset, len): (i32, i64, i64)| {
            let w = w.clone();
            Box::new(async move {
                let tmp = caller.data().books.in_tmp.contains(&(fd as u32));
                // Allocation takes real blocks: count its length.
                let grow = u64::try_from(len).unwrap_or(0);
                if tmp && !caller.data_mut().books.tmp_has_room(grow) {
                    return Ok(ERRNO_NOSPC);
                }
                let f = original(&mut caller, &w, "fd_allocate")?
                    .typed::<(i32, i64, i64), i32>(&caller)?;
                let errno = f.call_async(&mut caller, (fd, offset, len)).await?;
                if tmp {
                    caller.data_mut().books.since_measure = MEASURE_EVERY;
                }
                Ok(errno)
            })
        },
    )?;

    linker.allow_shadowing(false);
    Ok(())
}
