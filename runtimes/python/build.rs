//! A larger shadow stack than wasm-ld's 1 MiB default: Python's default
//! recursion limit (1000 frames) must end in `RecursionError`, not a trap.
//! 2 MiB was enough (measured); 4 MiB leaves room for larger frames.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=-zstack-size=4194304");
    }
}
