//! Tests whose results are times (the CPU share, power tuning), in a binary
//! of their own: cargo runs test binaries one after another, so no other
//! test shares the machine while these measure (in the `all` binary, tests
//! compiling the language runtimes or serving HTTP skewed the ratios on a
//! 2-core machine), and each holds [`alone`] so they do not time each other.

use std::sync::{Mutex, MutexGuard};

#[path = "../all/common.rs"]
#[allow(dead_code, reason = "the helpers the `all` binary uses too")]
mod common;
mod cpu;
mod tuning;

/// Held by each test here while it measures.
pub fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}
