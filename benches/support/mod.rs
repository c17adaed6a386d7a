//! Timing helpers shared by the bench binaries: medians of repeated runs.

use std::time::{Duration, Instant};

/// The median of `v`.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `f` `n` times after `warmup` calls; returns the median.
pub fn measure(warmup: usize, n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}
