//! Lambda's limits on the WASI calls that hold descriptors or fill `/tmp`.
//!
//! - At most 1,024 descriptors (Lambda's limit, `MAX_OPEN_DESCRIPTORS`) are
//!   open in an environment, counting stdin, stdout, stderr and the preopened
//!   folders: the next `path_open` fails inside the guest with `EMFILE`, so a
//!   guest cannot exhaust the host's descriptors.
//! - Writes with more than 1,024 iovecs, negative offsets or sizes are
//!   `EINVAL`, as POSIX answers them (wiggle would trap, and a write of that
//!   many iovecs would not be checked against `/tmp`'s size).
//! - `/tmp` holds at most the function's ephemeral storage (512–10,240 MB):
//!   a `fd_write`, `fd_pwrite` or `fd_filestat_set_size` that would grow a file
//!   under `/tmp` past it fails with `ENOSPC`, and nothing is written. Files
//!   count by their size, so a sparse file counts in full, as it would fill
//!   the disk once written. Like a small ext4 volume, `/tmp` also runs out of
//!   entries: one per 16 KiB of its size (32,768 at 512 MB).
//!
//! The calls are shadowed in the linker: each checks its limit, then runs
//! wasmtime-wasi's own implementation, so every other behaviour (rights,
//! sandboxing, errors) stays wasmtime's. The counts live in `fs_limits`.
//! Two clock calls are shadowed too, so an unknown clock id is `EINVAL` (as
//! POSIX answers) instead of a trap.

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::types::{Errno, Fdflags, Filetype};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1};
use wiggle::{GuestMemory, GuestPtr};

use super::host::HostState;

/// The most iovecs one write may name (WASI's and Linux's `IOV_MAX`).
const IOV_MAX: u32 = 1024;

/// The WASI module these calls belong to.
const MODULE: &str = "wasi_snapshot_preview1";

/// The guest's memory and the store's state, as wiggle's own glue takes them.
fn split<'a>(
    caller: &'a mut Caller<'_, HostState>,
) -> wasmtime::Result<(GuestMemory<'a>, &'a mut HostState)> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let (mem, state) = match caller.get_export("memory") {
        Some(Extern::Memory(m)) => {
            let (mem, state) = m.data_and_store_mut(caller);
            (GuestMemory::Unshared(mem), state)
        }
        Some(Extern::SharedMemory(_)) => {
            wasmtime::bail!(
                "a shared `memory` export is not supported (WASI preview 1 without threads)"
            )
        }
        _ => wasmtime::bail!("missing required memory export"),
    };
    state.wasi.set_hostcall_fuel(fuel);
    Ok((mem, state))
}

fn errno(e: Errno) -> i32 {
    e as i32
}

/// The bytes a write of `len` bytes to `fd` (at `offset`, or at the
/// descriptor's position) adds to its file; 0 when that cannot be told (the
/// write itself then reports the error).
async fn growth(
    state: &mut HostState,
    mem: &mut GuestMemory<'_>,
    fd: i32,
    offset: Option<u64>,
    len: u64,
) -> u64 {
    let Ok(fd) = u32::try_from(fd) else {
        return 0;
    };
    let Ok(stat) = state.wasi.fd_filestat_get(mem, fd.into()).await else {
        return 0;
    };
    if stat.filetype != Filetype::RegularFile {
        return 0;
    }
    let at = match offset {
        Some(o) => o,
        None => {
            let append = state
                .wasi
                .fd_fdstat_get(mem, fd.into())
                .await
                .is_ok_and(|s| s.fs_flags.contains(Fdflags::APPEND));
            if append {
                stat.size
            } else {
                state.wasi.fd_tell(mem, fd.into()).unwrap_or(stat.size)
            }
        }
    };
    at.saturating_add(len).saturating_sub(stat.size)
}

/// The total length of the `count` iovecs at `iovs` (at most [`IOV_MAX`]);
/// `None` when they are not all in memory (the write itself then reports the
/// fault).
fn iovecs_len(mem: &GuestMemory<'_>, iovs: i32, count: u32) -> Option<u64> {
    let iovs = u32::try_from(iovs).ok()?;
    let mut total = 0u64;
    for i in 0..count.min(IOV_MAX) {
        let at = iovs.checked_add(i.checked_mul(8)?)?.checked_add(4)?;
        let len = mem.read(GuestPtr::<u32>::new(at)).ok()?;
        total = total.saturating_add(u64::from(len));
    }
    Some(total)
}

/// What a write must be refused with before it runs, if anything: `EINVAL`
/// for more than [`IOV_MAX`] iovecs or a negative offset (as POSIX `writev`
/// and `pwrite` answer; wiggle would trap on the offset), `ENOSPC` when it
/// would grow `/tmp` past its size.
async fn refuse_write(
    state: &mut HostState,
    mem: &mut GuestMemory<'_>,
    fd: i32,
    iovs: i32,
    count: i32,
    offset: Option<i64>,
) -> Option<i32> {
    let Ok(count) = u32::try_from(count)
        .map_err(drop)
        .and_then(|c| if c > IOV_MAX { Err(()) } else { Ok(c) })
    else {
        return Some(errno(Errno::Inval));
    };
    let at = match offset.map(u64::try_from) {
        Some(Err(_)) => return Some(errno(Errno::Inval)),
        Some(Ok(at)) => Some(at),
        None => None,
    };
    if state.fs.in_tmp(fd)
        && let Some(len) = iovecs_len(mem, iovs, count)
    {
        let grow = growth(state, mem, fd, at, len).await;
        if !state.fs.reserve(grow) {
            return Some(errno(Errno::Nospc));
        }
    }
    None
}

/// Shadows the WASI calls that open and close descriptors or grow files.
/// Must be added after wasmtime-wasi's own (with shadowing allowed).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        MODULE,
        "path_open",
        |mut caller: Caller<'_, HostState>,
         (fd, dirflags, path, path_len, oflags, base, inheriting, fdflags, out): (
            i32,
            i32,
            i32,
            i32,
            i32,
            i64,
            i64,
            i32,
            i32,
        )| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                if state.fs.descriptors_exhausted() {
                    return Ok(errno(Errno::Mfile));
                }
                let e = p1::path_open(
                    &mut state.wasi,
                    &mut mem,
                    fd,
                    dirflags,
                    path,
                    path_len,
                    oflags,
                    base,
                    inheriting,
                    fdflags,
                    out,
                )
                .await?;
                if e == errno(Errno::Success) {
                    let new_fd = u32::try_from(out)
                        .ok()
                        .and_then(|p| mem.read(GuestPtr::<u32>::new(p)).ok());
                    state.fs.opened(fd, new_fd);
                }
                Ok(e)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "fd_close",
        |mut caller: Caller<'_, HostState>, (fd,): (i32,)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                let e = p1::fd_close(&mut state.wasi, &mut mem, fd).await?;
                if e == errno(Errno::Success) {
                    state.fs.closed(fd);
                }
                Ok(e)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "fd_renumber",
        |mut caller: Caller<'_, HostState>, (from, to): (i32, i32)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                let e = p1::fd_renumber(&mut state.wasi, &mut mem, from, to).await?;
                if e == errno(Errno::Success) {
                    state.fs.renumbered(from, to);
                }
                Ok(e)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, HostState>, (fd, iovs, count, out): (i32, i32, i32, i32)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                if let Some(e) = refuse_write(state, &mut mem, fd, iovs, count, None).await {
                    return Ok(e);
                }
                p1::fd_write(&mut state.wasi, &mut mem, fd, iovs, count, out).await
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "fd_pwrite",
        |mut caller: Caller<'_, HostState>,
         (fd, iovs, count, offset, out): (i32, i32, i32, i64, i32)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                if let Some(e) = refuse_write(state, &mut mem, fd, iovs, count, Some(offset)).await
                {
                    return Ok(e);
                }
                p1::fd_pwrite(&mut state.wasi, &mut mem, fd, iovs, count, offset, out).await
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "fd_filestat_set_size",
        |mut caller: Caller<'_, HostState>, (fd, size): (i32, i64)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                // A size past i64::MAX is EINVAL, as POSIX `ftruncate`
                // answers a negative one (wiggle would trap).
                let Ok(new_size) = u64::try_from(size) else {
                    return Ok(errno(Errno::Inval));
                };
                if state.fs.in_tmp(fd) {
                    let grow = growth(state, &mut mem, fd, Some(new_size), 0).await;
                    if !state.fs.reserve(grow) {
                        return Ok(errno(Errno::Nospc));
                    }
                }
                p1::fd_filestat_set_size(&mut state.wasi, &mut mem, fd, size).await
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_rename",
        |mut caller: Caller<'_, HostState>,
         (fd, old, old_len, new_fd, new, new_len): (i32, i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                let e = p1::path_rename(
                    &mut state.wasi,
                    &mut mem,
                    fd,
                    old,
                    old_len,
                    new_fd,
                    new,
                    new_len,
                )
                .await?;
                if e == errno(Errno::Success) {
                    state.fs.moved(fd, new_fd);
                }
                Ok(e)
            })
        },
    )?;
    linker.func_wrap_async(
        MODULE,
        "path_link",
        |mut caller: Caller<'_, HostState>,
         (fd, flags, old, old_len, new_fd, new, new_len): (
            i32,
            i32,
            i32,
            i32,
            i32,
            i32,
            i32,
        )| {
            Box::new(async move {
                let (mut mem, state) = split(&mut caller)?;
                let e = p1::path_link(
                    &mut state.wasi,
                    &mut mem,
                    fd,
                    flags,
                    old,
                    old_len,
                    new_fd,
                    new,
                    new_len,
                )
                .await?;
                if e == errno(Errno::Success) {
                    state.fs.moved(fd, new_fd);
                }
                Ok(e)
            })
        },
    )?;
    // An unknown clock id is `EINVAL`, as POSIX's `clock_gettime` answers,
    // rather than wiggle's trap for a bad enum value.
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Caller<'_, HostState>, id: i32, precision: i64, out: i32| {
            if !known_clock(id) {
                return Ok(errno(Errno::Inval));
            }
            let (mut mem, state) = split(&mut caller)?;
            p1::clock_time_get(&mut state.wasi, &mut mem, id, precision, out)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        |mut caller: Caller<'_, HostState>, id: i32, out: i32| {
            if !known_clock(id) {
                return Ok(errno(Errno::Inval));
            }
            let (mut mem, state) = split(&mut caller)?;
            p1::clock_res_get(&mut state.wasi, &mut mem, id, out)
        },
    )?;
    Ok(())
}

/// WASI preview 1's clocks: realtime, monotonic, process and thread CPU time.
fn known_clock(id: i32) -> bool {
    (0..=3).contains(&id)
}
