// wasi-check-as: the AssemblyScript counterpart of wasi-check, on the raw
// WASI preview 1 imports (AssemblyScript has no file API). It finds the
// preopened folder named by argv[1] (default /tmp) and checks files, seek,
// directories, symlinks (and an escape refused), clocks, random bytes and
// poll. One line per check on stderr; {"passed":N} on stdout; a failed check
// aborts (AssemblyScript's abort exits with status 255, kept by Lambdesk).
import {
  clock_res_get, clock_time_get, clockid, errno, eventtype, fd, fd_close,
  fd_filestat_get, fd_prestat_dir_name, fd_prestat_get, fd_read, fd_seek,
  fd_write, filestat, filetype, iovec, lookupflags, oflags, path_create_directory,
  path_filestat_get, path_open, path_readlink, path_remove_directory,
  path_symlink, path_unlink_file, poll_oneoff, prestat_dir, random_get, rights,
  subscription_clock, whence, event, prestat,
} from "bindings/wasi_snapshot_preview1";

const scratch = memory.data(4096, 16);
let passed = 0;

function check(ok: bool, what: string): void {
  if (!ok) {
    process.stderr.write("FAIL " + what + "\n");
    process.stdout.write('{"passed":' + passed.toString() + ',"failed":"' + what + '"}\n');
    process.exit(1);
  }
}

function done(name: string): void {
  process.stderr.write("ok " + name + "\n");
  passed++;
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false);
}

/** The preopened folder whose guest path is `name`, or -1. */
function preopen(name: string): i32 {
  for (let f: fd = 3; f < 64; f++) {
    if (fd_prestat_get(f, changetype<prestat>(scratch)) != errno.SUCCESS) continue;
    const len = changetype<prestat_dir>(scratch).name_len;
    if (fd_prestat_dir_name(f, scratch + 64, len) != errno.SUCCESS) continue;
    const got = String.UTF8.decodeUnsafe(scratch + 64, len, false);
    if (got == name) return <i32>f;
  }
  return -1;
}

const ALL: u64 = 0x1FFFFFFF;

function open(dir: fd, path: string, flags: u16): i64 {
  const p = utf8(path);
  const e = path_open(dir, lookupflags.SYMLINK_FOLLOW, changetype<usize>(p), p.byteLength, flags, ALL, ALL, 0, scratch);
  if (e != errno.SUCCESS) return -<i64>e;
  return <i64>load<u32>(scratch);
}

function write(f: fd, s: string): usize {
  const b = utf8(s);
  const iov = changetype<iovec>(scratch + 128);
  iov.buf = changetype<usize>(b);
  iov.buf_len = b.byteLength;
  check(fd_write(f, scratch + 128, 1, scratch + 160) == errno.SUCCESS, "fd_write");
  return load<usize>(scratch + 160);
}

function read(f: fd, max: usize): string {
  const buf = new ArrayBuffer(<i32>max);
  const iov = changetype<iovec>(scratch + 128);
  iov.buf = changetype<usize>(buf);
  iov.buf_len = max;
  check(fd_read(f, scratch + 128, 1, scratch + 160) == errno.SUCCESS, "fd_read");
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), load<usize>(scratch + 160), false);
}

function seekTo(f: fd, offset: i64, from: u8): u64 {
  check(fd_seek(f, offset, from, scratch + 200) == errno.SUCCESS, "fd_seek");
  return load<u64>(scratch + 200);
}

function files(dir: fd): void {
  const f = open(dir, "as.txt", oflags.CREAT | oflags.TRUNC);
  check(f >= 0, "create a file");
  check(write(<fd>f, "hello, world") == 12, "write");
  check(seekTo(<fd>f, 0, whence.SET) == 0, "rewind");
  check(read(<fd>f, 64) == "hello, world", "read back what was written");
  check(fd_filestat_get(<fd>f, changetype<filestat>(scratch + 256)) == errno.SUCCESS, "fstat");
  const st = changetype<filestat>(scratch + 256);
  check(st.filetype == filetype.REGULAR_FILE && st.size == 12, "fstat: a file of 12 bytes");
  check(fd_close(<fd>f) == errno.SUCCESS, "close");
  check(open(dir, "as.txt", oflags.CREAT | oflags.EXCL) == -<i64>errno.EXIST, "O_EXCL on an existing file is EEXIST");
  check(open(dir, "missing", 0) == -<i64>errno.NOENT, "a missing file is ENOENT");
  const p = utf8("as.txt");
  check(path_unlink_file(dir, changetype<usize>(p), p.byteLength) == errno.SUCCESS, "unlink");
  check(open(dir, "as.txt", 0) == -<i64>errno.NOENT, "unlinked file is gone");
  done("files");
}

function seeking(dir: fd): void {
  const f = open(dir, "as.bin", oflags.CREAT | oflags.TRUNC);
  check(f >= 0 && write(<fd>f, "0123456789") == 10, "write");
  check(seekTo(<fd>f, 3, whence.SET) == 3, "SEEK_SET");
  check(read(<fd>f, 2) == "34", "read after seek");
  check(seekTo(<fd>f, -1, whence.CUR) == 4, "SEEK_CUR");
  check(seekTo(<fd>f, -2, whence.END) == 8, "SEEK_END");
  check(fd_seek(<fd>f, -100, whence.CUR, scratch + 200) == errno.INVAL, "seeking before the start is EINVAL");
  fd_close(<fd>f);
  const p = utf8("as.bin");
  path_unlink_file(dir, changetype<usize>(p), p.byteLength);
  done("seek");
}

function directories(dir: fd): void {
  const d = utf8("as-dir");
  check(path_create_directory(dir, changetype<usize>(d), d.byteLength) == errno.SUCCESS, "mkdir");
  check(path_create_directory(dir, changetype<usize>(d), d.byteLength) == errno.EXIST, "mkdir of an existing folder is EEXIST");
  check(path_filestat_get(dir, 0, changetype<usize>(d), d.byteLength, changetype<filestat>(scratch + 256)) == errno.SUCCESS, "stat");
  check(changetype<filestat>(scratch + 256).filetype == filetype.DIRECTORY, "a folder is a directory");
  const inner = open(dir, "as-dir/inner", oflags.CREAT);
  check(inner >= 0, "create inside");
  fd_close(<fd>inner);
  check(path_remove_directory(dir, changetype<usize>(d), d.byteLength) == errno.NOTEMPTY, "rmdir of a non-empty folder is ENOTEMPTY");
  const i = utf8("as-dir/inner");
  check(path_unlink_file(dir, changetype<usize>(i), i.byteLength) == errno.SUCCESS, "unlink inside");
  check(path_remove_directory(dir, changetype<usize>(d), d.byteLength) == errno.SUCCESS, "rmdir");
  done("directories");
}

function symlinks(dir: fd): void {
  const f = open(dir, "as-target", oflags.CREAT | oflags.TRUNC);
  check(f >= 0 && write(<fd>f, "linked") == 6, "write target");
  fd_close(<fd>f);
  const t = utf8("as-target");
  const l = utf8("as-link");
  check(path_symlink(changetype<usize>(t), t.byteLength, dir, changetype<usize>(l), l.byteLength) == errno.SUCCESS, "symlink");
  check(path_readlink(dir, changetype<usize>(l), l.byteLength, scratch + 512, 64, scratch + 600) == errno.SUCCESS, "readlink");
  check(String.UTF8.decodeUnsafe(scratch + 512, load<usize>(scratch + 600), false) == "as-target", "readlink gives the target");
  const g = open(dir, "as-link", 0);
  check(g >= 0 && read(<fd>g, 64) == "linked", "a symlink is followed");
  fd_close(<fd>g);
  const o = utf8("../../../../etc/passwd");
  const e = utf8("as-escape");
  check(path_symlink(changetype<usize>(o), o.byteLength, dir, changetype<usize>(e), e.byteLength) == errno.SUCCESS, "symlink out");
  check(open(dir, "as-escape", 0) < 0, "a link out of the sandbox cannot be followed");
  check(open(dir, "../../etc/passwd", 0) < 0, "`..` cannot leave the folder");
  for (let k = 0; k < 3; k++) {
    const n = utf8(k == 0 ? "as-escape" : k == 1 ? "as-link" : "as-target");
    check(path_unlink_file(dir, changetype<usize>(n), n.byteLength) == errno.SUCCESS, "unlink");
  }
  done("symlinks");
}

function clocks(): void {
  check(clock_res_get(clockid.MONOTONIC, scratch + 304) == errno.SUCCESS && load<u64>(scratch + 304) > 0, "clock_res_get");
  check(clock_time_get(clockid.MONOTONIC, 1, scratch + 304) == errno.SUCCESS, "monotonic");
  const a = load<u64>(scratch + 304);
  check(clock_time_get(clockid.MONOTONIC, 1, scratch + 304) == errno.SUCCESS && load<u64>(scratch + 304) >= a, "monotonic never goes back");
  check(clock_time_get(clockid.REALTIME, 1, scratch + 304) == errno.SUCCESS && load<u64>(scratch + 304) > 1700000000000000000, "realtime is after 2023");
  check(clock_time_get(99, 1, scratch + 304) == errno.INVAL, "an unknown clock is EINVAL");
  done("clocks");
}

function randomBytes(): void {
  check(random_get(scratch + 1024, 32) == errno.SUCCESS && random_get(scratch + 1056, 32) == errno.SUCCESS, "random_get");
  check(memory.compare(scratch + 1024, scratch + 1056, 32) != 0, "random bytes differ between calls");
  done("random");
}

function polling(): void {
  clock_time_get(clockid.MONOTONIC, 1, scratch + 304);
  const before = load<u64>(scratch + 304);
  const sub = changetype<subscription_clock>(scratch + 2048);
  sub.userdata = 7;
  sub.type = eventtype.CLOCK;
  sub.clock_id = clockid.MONOTONIC;
  sub.timeout = 30_000_000;
  sub.precision = 1000;
  sub.flags = 0;
  check(poll_oneoff(scratch + 2048, scratch + 2200, 1, scratch + 2400) == errno.SUCCESS, "poll_oneoff");
  check(load<u32>(scratch + 2400) == 1 && changetype<event>(scratch + 2200).userdata == 7, "one clock event");
  clock_time_get(clockid.MONOTONIC, 1, scratch + 304);
  const slept = load<u64>(scratch + 304) - before;
  check(slept >= 30_000_000 && slept < 2_000_000_000, "poll_oneoff sleeps 30 ms");
  done("poll");
}

// The program: top-level code is the command's `_start`.
{
  const name = process.argv.length > 1 ? process.argv[1] : "/tmp";
  const dir = preopen(name);
  check(dir >= 0, "a preopened folder named " + name);
  files(<fd>dir);
  seeking(<fd>dir);
  directories(<fd>dir);
  symlinks(<fd>dir);
  clocks();
  randomBytes();
  polling();
  process.stdout.write('{"passed":' + passed.toString() + '}\n');
}
