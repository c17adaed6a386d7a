//! WASI conformance: unmodified WASI preview 1 programs, in the style of the
//! official WASI test suite, run as commands with a root preopen at `/` (as
//! `wasmtime --dir HOST::/`) and a read-only folder: files, seek,
//! directories, symlinks (and escapes refused), rights, clocks, random, poll.
//! Each program exits 0 only when every check passed, and prints how many.
//! `wasi-check` is Rust (std plus raw WASI imports), `wasi-check-c` is C on
//! wasi-libc, `wasi-check-as` is AssemblyScript on the raw imports; all are in
//! `sample-functions/` and built by its `build.sh`.

use lambdesk::model::Mount;

use crate::common::{config, runtime, sample};

fn run(program: &str, args: &[&str], mounts: Vec<Mount>) -> serde_json::Value {
    let t = runtime();
    let mut c = config("_start");
    c.timeout_s = 30;
    c.args = args.iter().map(|a| (*a).to_owned()).collect();
    c.role.mounts = mounts;
    t.runtime.deploy("check", &sample(program), c).unwrap();
    let inv = t.runtime.invoke("check", b"{}").unwrap();
    assert!(
        inv.error().is_none(),
        "{program}: {:?}",
        inv.error().map(|e| &e.error_message)
    );
    serde_json::from_slice(&inv.payload()).unwrap()
}

fn root_and_read_only(dir: &std::path::Path) -> Vec<Mount> {
    let root = dir.join("root");
    let ro = dir.join("ro");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("keep.txt"), "kept").unwrap();
    vec![
        Mount {
            host_path: root,
            guest_path: "/".into(),
            read_only: false,
        },
        Mount {
            host_path: ro,
            guest_path: "/ro".into(),
            read_only: true,
        },
    ]
}

#[test]
fn a_rust_wasi_program_passes_in_tmp() {
    assert_eq!(
        run("wasi-check.wasm", &[], Vec::new()),
        serde_json::json!({"passed": 8})
    );
}

#[test]
fn a_rust_wasi_program_passes_under_a_root_preopen() {
    let dir = crate::common::TempDir::new("wasi");
    let mounts = root_and_read_only(dir.path());
    assert_eq!(
        run("wasi-check.wasm", &["/", "/ro"], mounts),
        serde_json::json!({"passed": 9})
    );
    // It cleaned up after itself, and the read-only folder is untouched.
    assert_eq!(
        std::fs::read_dir(dir.path().join("root")).unwrap().count(),
        0
    );
    assert_eq!(std::fs::read_dir(dir.path().join("ro")).unwrap().count(), 1);
}

#[test]
fn a_c_wasi_program_passes_in_tmp() {
    // Built with clang and wasi-libc: POSIX calls only.
    assert_eq!(
        run("wasi-check-c.wasm", &[], Vec::new()),
        serde_json::json!({"passed": 7})
    );
}

#[test]
fn a_c_wasi_program_passes_under_a_root_preopen() {
    let dir = crate::common::TempDir::new("wasi-c");
    let mounts = root_and_read_only(dir.path());
    assert_eq!(
        run("wasi-check-c.wasm", &["/", "/ro"], mounts),
        serde_json::json!({"passed": 8})
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("root")).unwrap().count(),
        0
    );
    assert_eq!(std::fs::read_dir(dir.path().join("ro")).unwrap().count(), 1);
}

#[test]
fn an_assemblyscript_wasi_program_passes_in_tmp() {
    // AssemblyScript has no file API: this one calls the WASI imports itself.
    assert_eq!(
        run("wasi-check-as.wasm", &[], Vec::new()),
        serde_json::json!({"passed": 7})
    );
}

#[test]
fn an_assemblyscript_wasi_program_passes_under_a_root_preopen() {
    let dir = crate::common::TempDir::new("wasi-as");
    let mounts = root_and_read_only(dir.path());
    assert_eq!(
        run("wasi-check-as.wasm", &["/"], mounts),
        serde_json::json!({"passed": 7})
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("root")).unwrap().count(),
        0
    );
}
