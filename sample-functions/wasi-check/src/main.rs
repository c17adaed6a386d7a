//! `wasi-check`: an unmodified WASI preview 1 command that checks what a
//! program may rely on, in the style of the official WASI test suite: files
//! (create, write, read, append, truncate, metadata), seek, directories
//! (create, list, rename, remove), symlinks (create, read, follow, refuse to
//! escape), rights (a read-only folder refuses writes), clocks (monotonic,
//! realtime, resolution), random bytes, and poll (sleeping a given time).
//!
//! It works in the folder given as its first argument (default `/tmp`), or in
//! `/data` when the role mounts one read-only as `/ro` too. It prints one line
//! per check and exits 0 when all pass, 1 at the first failure (saying which).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
    fn clock_res_get(id: u32, resolution: *mut u64) -> u16;
    fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
    fn path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize) -> u16;
}

/// `symlink(target, dir/name)` through WASI (std's is unstable on WASI).
fn symlink_in(dir: &Path, target: &str, name: &str) -> Check {
    use std::os::fd::AsRawFd;
    let d = io(fs::File::open(dir), "open the folder")?;
    // SAFETY: the pointers and lengths are of live strings.
    let errno = unsafe { path_symlink(target.as_ptr(), target.len(), d.as_raw_fd(), name.as_ptr(), name.len()) };
    ensure(errno == 0, format!("symlink {name} -> {target}: errno {errno}"))
}

type Check = Result<(), String>;

fn ensure(ok: bool, what: impl Into<String>) -> Check {
    if ok { Ok(()) } else { Err(what.into()) }
}

fn io<T>(r: std::io::Result<T>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn files(dir: &Path) -> Check {
    let p = dir.join("file.txt");
    io(fs::write(&p, b"hello"), "write")?;
    ensure(io(fs::read(&p), "read")? == b"hello", "read back what was written")?;
    let mut f = io(fs::OpenOptions::new().append(true).open(&p), "open for append")?;
    io(f.write_all(b", world"), "append")?;
    drop(f);
    ensure(io(fs::read_to_string(&p), "read")? == "hello, world", "append adds at the end")?;
    let meta = io(fs::metadata(&p), "metadata")?;
    ensure(meta.is_file() && meta.len() == 12, format!("metadata: file of 12 bytes, got {meta:?}"))?;
    let f = io(fs::OpenOptions::new().write(true).open(&p), "open for write")?;
    io(f.set_len(5), "truncate")?;
    io(f.set_len(100), "extend")?;
    drop(f);
    let bytes = io(fs::read(&p), "read")?;
    ensure(bytes.len() == 100 && &bytes[..5] == b"hello" && bytes[5..].iter().all(|&b| b == 0), "truncate then extend with zeros")?;
    let e = fs::OpenOptions::new().write(true).create_new(true).open(&p);
    ensure(e.as_ref().err().map(std::io::Error::kind) == Some(std::io::ErrorKind::AlreadyExists), format!("create_new on an existing file fails: {e:?}"))?;
    let e = fs::read(dir.join("missing"));
    ensure(e.as_ref().err().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound), "a missing file is NotFound")?;
    io(fs::remove_file(&p), "unlink")?;
    ensure(!p.exists(), "unlinked file is gone")
}

fn seek(dir: &Path) -> Check {
    let p = dir.join("seek.bin");
    let mut f = io(fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p), "open")?;
    io(f.write_all(b"0123456789"), "write")?;
    ensure(io(f.seek(SeekFrom::Start(3)), "seek start")? == 3, "seek from start")?;
    let mut two = [0u8; 2];
    io(f.read_exact(&mut two), "read")?;
    ensure(&two == b"34", "read after seek")?;
    ensure(io(f.seek(SeekFrom::Current(-1)), "seek current")? == 4, "seek from current")?;
    ensure(io(f.seek(SeekFrom::End(-2)), "seek end")? == 8, "seek from end")?;
    ensure(io(f.seek(SeekFrom::End(5)), "seek past end")? == 15, "seek past the end")?;
    io(f.write_all(b"X"), "write past end")?;
    ensure(io(f.metadata(), "metadata")?.len() == 16, "a write past the end extends the file")?;
    ensure(f.seek(SeekFrom::Current(-100)).is_err(), "seeking before the start fails")?;
    drop(f);
    io(fs::remove_file(&p), "unlink")
}

fn directories(dir: &Path) -> Check {
    let d = dir.join("tree");
    io(fs::create_dir_all(d.join("a/b/c")), "mkdir -p")?;
    for n in ["x", "y", "z"] {
        io(fs::write(d.join("a").join(n), n), "write")?;
    }
    let mut names: Vec<String> = io(fs::read_dir(d.join("a")), "readdir")?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("readdir entry: {e}"))?;
    names.sort();
    ensure(names == ["b", "x", "y", "z"], format!("readdir lists every entry once: {names:?}"))?;
    ensure(fs::remove_dir(d.join("a")).is_err(), "rmdir of a non-empty folder fails")?;
    io(fs::rename(d.join("a/x"), d.join("a/b/x2")), "rename a file")?;
    io(fs::rename(d.join("a/b"), d.join("b2")), "rename a folder")?;
    ensure(io(fs::read_to_string(d.join("b2/x2")), "read renamed")? == "x", "renamed file keeps its content")?;
    ensure(io(fs::metadata(d.join("b2/c")), "metadata")?.is_dir(), "renamed folder keeps its children")?;
    io(fs::remove_dir_all(&d), "rm -r")?;
    ensure(!d.exists(), "removed tree is gone")
}

fn symlinks(dir: &Path) -> Check {
    let target = dir.join("target.txt");
    let link = dir.join("link.txt");
    io(fs::write(&target, "through the link"), "write")?;
    symlink_in(dir, "target.txt", "link.txt")?;
    ensure(io(fs::read_link(&link), "readlink")? == Path::new("target.txt"), "readlink gives the target")?;
    ensure(io(fs::read_to_string(&link), "read through link")? == "through the link", "a symlink is followed")?;
    ensure(io(fs::symlink_metadata(&link), "lstat")?.file_type().is_symlink(), "lstat sees a symlink")?;
    // A link that leaves the preopened folder is refused when followed.
    let escape = dir.join("escape");
    symlink_in(dir, "../../../../../../etc/passwd", "escape")?;
    ensure(fs::read(&escape).is_err(), "a symlink out of the sandbox cannot be followed")?;
    io(fs::remove_file(&escape), "unlink")?;
    io(fs::remove_file(&link), "unlink link")?;
    ensure(target.exists(), "removing a link keeps its target")?;
    io(fs::remove_file(&target), "unlink target")?;
    ensure(fs::read("/../../etc/passwd").is_err(), "`..` cannot leave the root")
}

fn rights(read_only: &Path) -> Check {
    let listed = io(fs::read_dir(read_only), "readdir of the read-only folder")?.count();
    ensure(listed > 0, "the read-only folder can be listed")?;
    let e = fs::write(read_only.join("new.txt"), "no");
    ensure(e.is_err(), "a read-only folder refuses a new file")?;
    ensure(fs::create_dir(read_only.join("newdir")).is_err(), "a read-only folder refuses mkdir")?;
    let first = io(fs::read_dir(read_only), "readdir")?.next().ok_or("empty")?.map_err(|e| e.to_string())?;
    ensure(fs::remove_file(first.path()).is_err(), "a read-only folder refuses unlink")
}

fn clocks() -> Check {
    let (mut res, mut t1, mut t2) = (0u64, 0u64, 0u64);
    // SAFETY: WASI calls writing one u64 each into locals.
    unsafe {
        ensure(clock_res_get(1, &mut res) == 0 && res > 0 && res <= 1_000_000, format!("monotonic resolution ≤ 1 ms: {res} ns"))?;
        ensure(clock_time_get(1, 1, &mut t1) == 0, "monotonic clock")?;
        ensure(clock_time_get(1, 1, &mut t2) == 0 && t2 >= t1, "monotonic never goes back")?;
        ensure(clock_time_get(99, 1, &mut t2) != 0, "an unknown clock id is refused")?;
    }
    let now = io(SystemTime::now().duration_since(UNIX_EPOCH).map_err(std::io::Error::other), "realtime")?;
    ensure(now.as_secs() > 1_700_000_000, format!("realtime is after 2023: {now:?}"))
}

fn random() -> Check {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    // SAFETY: WASI fills the buffers it is given.
    unsafe {
        ensure(random_get(a.as_mut_ptr(), a.len()) == 0, "random_get")?;
        ensure(random_get(b.as_mut_ptr(), b.len()) == 0, "random_get")?;
    }
    ensure(a != b && a.iter().any(|&x| x != 0), "random bytes differ between calls")
}

fn poll() -> Check {
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    let slept = start.elapsed();
    ensure(slept >= Duration::from_millis(30) && slept < Duration::from_secs(2), format!("poll_oneoff sleeps 30 ms: {slept:?}"))
}

fn environment() -> Check {
    let args: Vec<String> = std::env::args().collect();
    ensure(!args.is_empty(), "argv[0] is set")?;
    ensure(std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok(), "Lambda's variables are set")
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_owned());
    let mut tag = [0u8; 4];
    // SAFETY: WASI fills the buffer it is given.
    unsafe { random_get(tag.as_mut_ptr(), tag.len()) };
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let dir = Path::new(&dir).join(format!("wasi-check-{tag}"));
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("FAIL setup: {}: {e}", dir.display());
        std::process::exit(1);
    }
    let read_only = std::env::args().nth(2);
    let mut checks: Vec<(&str, Box<dyn Fn() -> Check>)> = vec![
        ("files", Box::new(|| files(&dir))),
        ("seek", Box::new(|| seek(&dir))),
        ("directories", Box::new(|| directories(&dir))),
        ("symlinks", Box::new(|| symlinks(&dir))),
        ("clocks", Box::new(clocks)),
        ("random", Box::new(random)),
        ("poll", Box::new(poll)),
        ("environment", Box::new(environment)),
    ];
    if let Some(ro) = read_only.clone() {
        checks.push(("rights", Box::new(move || rights(Path::new(&ro)))));
    }
    let mut passed = 0;
    for (name, check) in &checks {
        match check() {
            Ok(()) => {
                eprintln!("ok {name}");
                passed += 1;
            }
            Err(e) => {
                eprintln!("FAIL {name}: {e}");
                println!("{{\"passed\":{passed},\"failed\":\"{name}\"}}");
                std::process::exit(1);
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
    println!("{{\"passed\":{passed}}}");
}
