//! CPU in proportion to memory: a fixed amount of work (`behave`'s `work`
//! action, not a fixed time) takes `1769 / memory_mb` times as long below
//! 1,769 MB, the same above it, and at full speed with the share off; a
//! sleeping function is not slowed. Each size's duration is the least of a
//! few warm runs; the tests of this binary run one at a time (a lock), and no
//! other binary's tests run meanwhile.

use lambdesk::model::CpuShare;

use crate::common::{config, runtime, sample};

/// The least REPORT Duration (ms) of `runs` warm invocations at `memory_mb`.
fn least_duration(t: &crate::common::TestRuntime, memory_mb: u32, event: &str, runs: usize) -> f64 {
    let mut c = config("handler");
    c.memory_mb = memory_mb;
    c.timeout_s = 60;
    t.runtime
        .deploy("behave", &sample("behave.wasm"), c)
        .unwrap();
    (0..runs + 1)
        .map(|_| {
            let inv = t.runtime.invoke("behave", event.as_bytes()).unwrap();
            assert!(inv.error().is_none(), "{:?}", inv.error());
            inv.report.duration_ms
        })
        .skip(1)
        .fold(f64::INFINITY, f64::min)
}

const WORK: &str = r#"{"action":"work","units":10}"#;

#[test]
fn cpu_share_obeyed_and_switched() {
    let _alone = crate::alone();
    // One test, so the sizes are not measured against each other's load; the
    // full-speed reference is the least of runs before and after the others.
    let t = runtime();
    let before = least_duration(&t, 1769, WORK, 5);
    let sizes: Vec<(u32, f64)> = [128u32, 256, 512]
        .iter()
        .map(|&m| (m, least_duration(&t, m, WORK, 5)))
        .collect();
    let big = least_duration(&t, 3008, WORK, 5);
    let full = before.min(least_duration(&t, 1769, WORK, 5));
    // As for the reference, the least of two spells, so a burst of other
    // tests during one does not read as a slower guest.
    let big = big.min(least_duration(&t, 3008, WORK, 5));
    for (memory, d) in sizes {
        let expected = 1769.0 / f64::from(memory);
        let ratio = d / full;
        assert!(
            (ratio / expected - 1.0).abs() < 0.15,
            "{memory} MB: {d:.1} ms against {full:.1} ms at 1,769 MB, ×{ratio:.2} (expected ×{expected:.2})"
        );
    }
    // Above 1,769 MB a single-threaded guest gets no more.
    assert!(
        (big / full - 1.0).abs() < 0.15,
        "3,008 MB: {big:.1} ms against {full:.1} ms"
    );

    // Off: full speed at 128 MB; on again: running environments follow at once.
    t.runtime.set_cpu_share(CpuShare::Off);
    let small = least_duration(&t, 128, WORK, 5);
    // Throttled it would take about 14 times as long; off, it is full speed
    // (with room for a loaded machine).
    assert!(
        small < full * 3.0,
        "128 MB with the share off: {small:.1} ms against {full:.1} ms"
    );
    t.runtime.set_cpu_share(CpuShare::Lambda);
    let inv = t.runtime.invoke("behave", WORK.as_bytes()).unwrap();
    assert!(
        inv.report.duration_ms > full * 8.0,
        "{}",
        inv.report.duration_ms
    );
}

#[test]
fn a_sleeping_function_is_not_throttled() {
    let _alone = crate::alone();
    // Blocked in a host call (WASI's poll_oneoff) is not running.
    let t = runtime();
    let d = least_duration(&t, 128, r#"{"action":"sleep","ms":100}"#, 2);
    assert!(
        (100.0..160.0).contains(&d),
        "sleeping 100 ms at 128 MB took {d:.1} ms"
    );
}
