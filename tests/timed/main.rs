//! Tests that time a guest's work against the CPU share, in a binary of their
//! own: cargo runs test binaries one after another, so no other test shares
//! the machine while these measure (in the `all` binary, tests compiling the
//! JavaScript runtime or serving HTTP skewed the ratios on a 2-core machine).

#[path = "../all/common.rs"]
#[allow(dead_code, reason = "the helpers the `all` binary uses too")]
mod common;
mod cpu;
