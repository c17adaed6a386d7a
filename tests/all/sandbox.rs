//! Lambda's limits inside the sandbox, in `_obeyed` / `_violated` pairs over
//! small WAT guests and the real samples: deployment package sizes, scratch
//! folders, pool slots under discarded environments, exit statuses WASI
//! refuses, host-call errors, guest paths.

use lambdesk::model::FunctionConfig;
use lambdesk::runtime::{InvokeOptions, Runtime, RuntimeOptions, StartKind};

use crate::common::{TempDir, config, runtime, sample, wat};

fn zip(dir: &std::path::Path, entries: &[(&str, &[u8])]) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("bundle.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    path
}

#[test]
fn unzipped_package_size_obeyed() {
    let t = runtime();
    let hello = std::fs::read(sample("hello.wasm")).unwrap();
    let filler = vec![0u8; 10 << 20];
    let z = zip(
        t.dir.path(),
        &[("hello.wasm", &hello), ("data.bin", &filler)],
    );
    t.runtime.deploy("z", &z, config("handler")).unwrap();
    assert!(t.runtime.invoke("z", b"{}").unwrap().error().is_none());
}

#[test]
fn unzipped_package_size_violated() {
    // A zip bomb: 260 MB of zeros deflate to a few hundred KB; it is refused
    // while inflating, and nothing of it stays in the scratch folder.
    let t = runtime();
    let hello = std::fs::read(sample("hello.wasm")).unwrap();
    let zeros = vec![0u8; 260 << 20];
    let z = zip(
        t.dir.path(),
        &[("hello.wasm", &hello), ("zeros.bin", &zeros)],
    );
    drop(zeros);
    assert!(std::fs::metadata(&z).unwrap().len() < 2 << 20);
    let err = t.runtime.deploy("z", &z, config("handler")).unwrap_err();
    assert!(
        err.to_string()
            .contains("Unzipped size must be smaller than 262144000 bytes"),
        "{err}"
    );
    let bundles = t.runtime.scratch_dir().join("bundles");
    let left = std::fs::read_dir(&bundles).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        left,
        0,
        "a partial bundle was left in {}",
        bundles.display()
    );
}

#[test]
fn zipped_package_size_violated() {
    let t = runtime();
    let path = t.dir.path().join("huge.zip");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(51 << 20).unwrap();
    let err = t.runtime.deploy("z", &path, config("handler")).unwrap_err();
    assert!(
        err.to_string()
            .contains("Zipped size must be smaller than 52428800 bytes"),
        "{err}"
    );
}

#[test]
fn scratch_folders_are_private_new_and_leftovers_go() {
    use std::os::unix::fs::PermissionsExt;
    let parent = TempDir::new("scratch-parent");
    // A folder a dead process left (pid 999999999 cannot run here), and one
    // that looks like ours but is a file, not a folder: only the first goes.
    let stale = parent.path().join("lambdesk-999999999-abc");
    std::fs::create_dir_all(stale.join("tmp-x")).unwrap();
    let planted = parent.path().join("lambdesk-999999998-file");
    std::fs::write(&planted, b"x").unwrap();
    let new = || {
        Runtime::new(RuntimeOptions {
            scratch_dir: parent.path().to_owned(),
            cache_dir: None,
            pool_slots: 4,
            ..RuntimeOptions::default()
        })
        .unwrap()
    };
    let (a, b) = (new(), new());
    assert_ne!(a.scratch_dir(), b.scratch_dir());
    for rt in [&a, &b] {
        let mode = std::fs::metadata(rt.scratch_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{}", rt.scratch_dir().display());
        let name = rt
            .scratch_dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("lambdesk-{}-", std::process::id())),
            "{name}"
        );
    }
    assert!(!stale.exists(), "a dead process's folder was left");
    assert!(planted.exists(), "a file was taken for a folder");
    let a_dir = a.scratch_dir().to_owned();
    drop(a);
    assert!(!a_dir.exists(), "a runtime's folder outlived it");
}

#[test]
fn discarded_environments_free_their_pool_slot() {
    // 16 slots, 300 cold starts in a row (--cold), then 300 panics in a row:
    // every one runs, none is refused for want of a slot.
    let dir = TempDir::new("slots");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 16,
        ..RuntimeOptions::default()
    })
    .unwrap();
    if !rt.uses_pooling() {
        return;
    }
    rt.deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    rt.deploy("behave", &sample("behave.wasm"), config("handler"))
        .unwrap();
    let cold = InvokeOptions {
        discard_environment: true,
        ..InvokeOptions::default()
    };
    for i in 0..300 {
        let inv = rt.invoke_with("hello", b"{}", &cold).unwrap();
        assert!(inv.error().is_none(), "cold start {i}: {:?}", inv.error());
        assert_eq!(inv.start, StartKind::Cold);
    }
    for i in 0..300 {
        let inv = rt.invoke("behave", br#"{"action":"panic"}"#).unwrap();
        let e = inv.error().unwrap_or_else(|| panic!("panic {i} succeeded"));
        assert_eq!(e.error_type, "Runtime.Trap", "panic {i}: {e:?}");
    }
}

#[test]
fn idle_environments_are_reclaimed_for_a_cold_start() {
    // 4 slots held by idle environments of four functions: a fifth
    // function's cold start reclaims the least recently used one.
    let dir = TempDir::new("reclaim");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 4,
        ..RuntimeOptions::default()
    })
    .unwrap();
    if !rt.uses_pooling() {
        return;
    }
    for i in 0..5 {
        rt.deploy(&format!("h{i}"), &sample("hello.wasm"), config("handler"))
            .unwrap();
    }
    for i in 0..4 {
        assert!(
            rt.invoke(&format!("h{i}"), b"{}")
                .unwrap()
                .error()
                .is_none()
        );
    }
    let inv = rt.invoke("h4", b"{}").unwrap();
    assert!(inv.error().is_none(), "{:?}", inv.error());
    assert!(
        rt.environments("h0").is_empty(),
        "the oldest idle one was kept"
    );
    assert_eq!(rt.environments("h3").len(), 1);
}

#[test]
fn exit_statuses_wasi_refuses_keep_their_status() {
    // AssemblyScript's abort exits with 134, which WASI refuses to pass on.
    let t = runtime();
    let m = wat(
        t.dir.path(),
        "abort",
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 134))))"#,
    );
    t.runtime.deploy("abort", &m, config("_start")).unwrap();
    let inv = t.runtime.invoke("abort", b"{}").unwrap();
    let e = inv.error().unwrap();
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert_eq!(
        e.error_message,
        "Runtime exited with error: exit status 134"
    );
}

#[test]
fn host_call_errors_say_what_failed() {
    // fd_write with an iovec pointing outside memory: the real cause, not
    // wasmtime's "error while executing".
    let t = runtime();
    let m = wat(
        t.dir.path(),
        "badptr",
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $w (i32.const 1) (i32.const 70000) (i32.const 1) (i32.const 0)))))"#,
    );
    t.runtime.deploy("badptr", &m, config("_start")).unwrap();
    let inv = t.runtime.invoke("badptr", b"{}").unwrap();
    let e = inv.error().unwrap();
    assert_ne!(e.error_type, "Runtime.Unknown", "{e:?}");
    assert!(!e.error_message.contains("error while executing"), "{e:?}");
}

#[test]
fn a_status_without_an_error_object_says_so() {
    let t = runtime();
    let m = wat(
        t.dir.path(),
        "status",
        r#"(module
  (memory (export "memory") 1)
  (func (export "handler") (result i32) (i32.const 3)))"#,
    );
    t.runtime.deploy("status", &m, config("handler")).unwrap();
    let inv = t.runtime.invoke("status", b"{}").unwrap();
    let e = inv.error().unwrap();
    assert_eq!(
        e.error_message,
        "the handler `handler` returned status 3 without writing an error object"
    );
}

#[test]
fn a_root_mount_serves_the_guest_root() {
    // A role granting a folder at `/` (as `wasmtime --dir HOST::/`); `//` is `/`.
    let dir = TempDir::new("root-mount");
    std::fs::write(dir.path().join("hello.txt"), b"from the root").unwrap();
    for guest in ["/", "//"] {
        let mount = lambdesk::model::Mount {
            host_path: dir.path().to_owned(),
            guest_path: guest.to_owned(),
            read_only: true,
        };
        assert!(
            lambdesk::model::config::validate_mount(&mount).is_ok(),
            "{guest}"
        );
    }
    let relative = lambdesk::model::Mount {
        host_path: dir.path().to_owned(),
        guest_path: "data".to_owned(),
        read_only: true,
    };
    let err = lambdesk::model::config::validate_mount(&relative).unwrap_err();
    assert!(err.message.contains("is relative"), "{}", err.message);
    let t = runtime();
    let cfg = FunctionConfig {
        role: lambdesk::model::Role {
            name: "root".into(),
            mounts: vec![lambdesk::model::Mount {
                host_path: dir.path().to_owned(),
                guest_path: "/".into(),
                read_only: true,
            }],
            ..Default::default()
        },
        ..config("handler")
    };
    t.runtime
        .deploy("behave", &sample("behave.wasm"), cfg)
        .unwrap();
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"read","path":"/hello.txt"}"#)
        .unwrap();
    assert!(inv.error().is_none(), "{:?}", inv.error());
    assert!(
        String::from_utf8_lossy(&inv.payload()).contains("from the root"),
        "{}",
        String::from_utf8_lossy(&inv.payload())
    );
}

#[test]
fn a_folder_file_over_s3s_5_gb_limit_is_reported_not_read() {
    // A sparse 6 GB file next to a small one: the small one gets its event
    // with the MD5 eTag; the large one gets none (and is never read).
    let dir = TempDir::new("folder-5gb");
    let source = lambdesk::model::TriggerSource::Folder {
        dir: dir.path().to_owned(),
        prefix: String::new(),
        suffix: String::new(),
    };
    let mut watch = lambdesk::host::folder::FolderWatch::new("f", &source).unwrap();
    std::fs::write(dir.path().join("small.txt"), b"hello").unwrap();
    let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
    big.set_len(6 << 30).unwrap();
    let events = watch.scan();
    let keys: Vec<String> = events
        .iter()
        .map(|e| {
            e["Records"][0]["s3"]["object"]["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys, ["small.txt"]);
    assert_eq!(
        events[0]["Records"][0]["s3"]["object"]["eTag"],
        "5d41402abc4b2a76b9719d911017c592"
    );
}

fn behave_response(t: &crate::common::TestRuntime, event: serde_json::Value) -> serde_json::Value {
    let inv = t
        .runtime
        .invoke("behave", event.to_string().as_bytes())
        .unwrap();
    assert!(
        inv.error().is_none(),
        "{}",
        String::from_utf8_lossy(&inv.payload())
    );
    serde_json::from_slice(&inv.payload()).unwrap()
}

fn deploy_behave(t: &crate::common::TestRuntime, f: impl FnOnce(&mut FunctionConfig)) {
    // A full CPU and time enough to write half a gigabyte.
    let mut c = config("handler");
    c.memory_mb = 2048;
    c.timeout_s = 60;
    f(&mut c);
    t.runtime
        .deploy("behave", &sample("behave.wasm"), c)
        .unwrap();
}

/// WASI's errno numbers, as the guest sees them.
const EMFILE: u64 = 33;
const ENOSPC: u64 = 51;

#[test]
fn open_descriptors_obeyed() {
    // stdin, stdout, stderr and /tmp are open: 1,020 more fit, again and
    // again in a warm environment (closing gives them back).
    let t = runtime();
    deploy_behave(&t, |_| {});
    for _ in 0..3 {
        let r = behave_response(&t, serde_json::json!({"action": "open", "files": 1020}));
        assert_eq!(r["opened"], 1020, "{r}");
        assert!(r["stopped"].is_null(), "{r}");
    }
}

#[test]
fn open_descriptors_violated() {
    // The 1,025th descriptor fails inside the guest with EMFILE; the host
    // process keeps its own descriptors, and the environment stays usable.
    let t = runtime();
    deploy_behave(&t, |_| {});
    let r = behave_response(&t, serde_json::json!({"action": "open", "files": 20_000}));
    assert_eq!(r["opened"], 1020, "{r}");
    assert_eq!(r["stopped"]["errno"], EMFILE, "{r}");
    let r = behave_response(&t, serde_json::json!({"action": "open", "files": 10}));
    assert_eq!(r["opened"], 10, "{r}");
}

#[test]
fn ephemeral_storage_obeyed() {
    // 500 MB fit in the default 512 MB; removing the file makes room again,
    // and a larger setting takes more.
    let t = runtime();
    deploy_behave(&t, |_| {});
    let r = behave_response(&t, serde_json::json!({"action": "fill", "mb": 500}));
    assert_eq!(r["written_mb"], 500, "{r}");
    behave_response(&t, serde_json::json!({"action": "rm", "path": "/tmp/fill"}));
    let r = behave_response(&t, serde_json::json!({"action": "fill", "mb": 500}));
    assert_eq!(r["written_mb"], 500, "{r}");
    deploy_behave(&t, |c| c.ephemeral_storage_mb = 1024);
    let r = behave_response(&t, serde_json::json!({"action": "sparse", "mb": 1000}));
    assert!(r["stopped"].is_null(), "{r}");
}

#[test]
fn ephemeral_storage_violated() {
    // Writing past 512 MB stops with ENOSPC at the limit; a sparse file
    // counts by its size; writes elsewhere (a granted folder) are not /tmp's.
    let t = runtime();
    let data = t.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    deploy_behave(&t, |c| {
        c.role.mounts.push(lambdesk::model::Mount {
            host_path: data.clone(),
            guest_path: "/data".into(),
            read_only: false,
        })
    });
    let r = behave_response(&t, serde_json::json!({"action": "fill", "mb": 600}));
    assert_eq!(r["written_mb"], 512, "{r}");
    assert_eq!(r["stopped"]["errno"], ENOSPC, "{r}");
    let r = behave_response(&t, serde_json::json!({"action": "sparse", "mb": 1}));
    assert_eq!(r["stopped"]["errno"], ENOSPC, "{r}");
    behave_response(&t, serde_json::json!({"action": "rm", "path": "/tmp/fill"}));
    let r = behave_response(&t, serde_json::json!({"action": "sparse", "mb": 513}));
    assert_eq!(r["stopped"]["errno"], ENOSPC, "a sparse 513 MB file: {r}");
    let r = behave_response(&t, serde_json::json!({"action": "sparse", "mb": 512}));
    assert!(r["stopped"].is_null(), "{r}");
    let r = behave_response(
        &t,
        serde_json::json!({"action": "fill", "mb": 20, "path": "/data/big"}),
    );
    assert_eq!(r["written_mb"], 20, "{r}");
}

#[test]
fn ephemeral_storage_setting_violated() {
    let t = runtime();
    let mut c = config("handler");
    c.ephemeral_storage_mb = 10_241;
    let err = t
        .runtime
        .deploy("behave", &sample("behave.wasm"), c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ephemeral_storage_mb: 10241 is out of range; allowed 512–10240 MB"),
        "{err}"
    );
}

/// A guest that opens `/tmp/f` and then calls what the `/tmp` limit checks
/// with arguments that make no sense, then `tail`.
fn tmp_abuse(dir: &std::path::Path, name: &str, tail: &str) -> std::path::PathBuf {
    wat(
        dir,
        name,
        &format!(
            r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "f")
  (data (i32.const 32) "\00\00\00\00\01\00\00\00")
  (func (export "_start") (local $fd i32)
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1)
                    (i64.const 0x1FFFFFFF) (i64.const 0x1FFFFFFF) (i32.const 0) (i32.const 16))
      (then (call $exit (i32.const 1))))
    (local.set $fd (i32.load (i32.const 16)))
    ;; A negative offset, a negative size, an iovec count past IOV_MAX: errors, not writes.
    (if (i32.eqz (call $pwrite (local.get $fd) (i32.const 32) (i32.const 1) (i64.const -1) (i32.const 24)))
      (then (call $exit (i32.const 2))))
    (if (i32.eqz (call $size (local.get $fd) (i64.const -5)))
      (then (call $exit (i32.const 3))))
    (if (i32.ne (call $write (local.get $fd) (i32.const 32) (i32.const 5000) (i32.const 24)) (i32.const 28))
      (then (call $exit (i32.const 4))))
    {tail}))"#
        ),
    )
}

#[test]
fn nonsense_arguments_to_tmp_calls_obeyed_as_errors() {
    // Refused with an errno inside the guest; the environment goes on.
    let t = runtime();
    let m = tmp_abuse(t.dir.path(), "abuse", "(call $exit (i32.const 0))");
    t.runtime.deploy("abuse", &m, config("_start")).unwrap();
    for _ in 0..2 {
        let inv = t.runtime.invoke("abuse", b"{}").unwrap();
        assert!(inv.error().is_none(), "{:?}", inv.error());
    }
}

#[test]
fn an_iovec_outside_memory_on_a_tmp_file_violated() {
    // Straddling the end of memory: the host call fails with its cause,
    // nothing is written, and the next invocation runs.
    let t = runtime();
    let m = tmp_abuse(
        t.dir.path(),
        "straddle",
        "(drop (call $write (local.get $fd) (i32.const 65532) (i32.const 1) (i32.const 24)))",
    );
    t.runtime.deploy("straddle", &m, config("_start")).unwrap();
    let inv = t.runtime.invoke("straddle", b"{}").unwrap();
    let e = inv.error().unwrap();
    assert_eq!(e.error_type, "Runtime.HostCallError", "{e:?}");
    assert!(
        t.runtime
            .invoke("straddle", b"{}")
            .unwrap()
            .error()
            .is_some()
    );
}
