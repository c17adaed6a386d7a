//! Power tuning benchmarks: the wall time of one tuning run of 7 sizes × 20
//! invocations of `hello` (AWS Lambda Power Tuning's defaults; the CPU share
//! on, as tuning always runs), against one warm invoke measured in the same
//! process; and the accuracy of the CPU share: for a fixed amount of work
//! (`behave`'s `work` action), the duration at each size against the
//! duration at 1,769 MB, as a measured share next to the target
//! (`memory / 1769`). Medians of 5 runs.
//!
//! `cargo bench --bench tuning` (release build).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lambdesk::host::tuning::{TuneOptions, tune};
use lambdesk::model::{CpuShare, FunctionConfig};
use lambdesk::runtime::{Runtime, RuntimeOptions};

mod support;
use support::{measure, median};

fn sample(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions/dist")
        .join(file)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.join("cache")),
        scratch_dir: dir.join("scratch"),
        pool_slots: 64,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let handler = FunctionConfig {
        handler: "handler".into(),
        timeout_s: 30,
        ..FunctionConfig::default()
    };
    runtime
        .deploy("hello", &sample("hello.wasm"), handler.clone())
        .expect("deploy hello");
    let warm = measure(100, 1000, || {
        runtime.invoke("hello", b"{}").expect("invoke");
    });

    let runs: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            tune(
                &runtime,
                "hello",
                &sample("hello.wasm"),
                &handler,
                &TuneOptions::default(),
                &|_, _| {},
                &AtomicBool::new(false),
            )
            .expect("tune");
            t.elapsed()
        })
        .collect();
    let tuning = median(runs);

    // CPU share accuracy over a fixed amount of work.
    let work = br#"{"action":"work","units":20}"#;
    let duration_at = |memory_mb: u32| -> f64 {
        let c = FunctionConfig {
            memory_mb,
            ..handler.clone()
        };
        runtime
            .deploy("behave", &sample("behave.wasm"), c)
            .expect("deploy behave");
        let _ = runtime.invoke("behave", work).expect("warm-up");
        let mut d: Vec<f64> = (0..5)
            .map(|_| {
                runtime
                    .invoke("behave", work)
                    .expect("invoke")
                    .report
                    .duration_ms
            })
            .collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let full = duration_at(1769);
    let sizes = [128u32, 256, 512, 1024, 1536, 3008];
    let measured: Vec<(u32, f64)> = sizes.iter().map(|&m| (m, duration_at(m))).collect();
    runtime.set_cpu_share(CpuShare::Off);
    let off = duration_at(128);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("lambdesk tuning benchmarks (medians)");
    println!(
        "{:<60} {:>12}",
        "baseline: warm invoke of hello",
        format!("{:.2} us", us(warm))
    );
    println!(
        "{:<60} {:>12}  x{:.0}",
        "tuning run: 7 sizes x 20 invocations of hello (CPU share on)",
        format!("{:.1} ms", us(tuning) / 1000.0),
        us(tuning) / us(warm)
    );
    println!("CPU share accuracy, behave work units=20 ({full:.2} ms at 1,769 MB):");
    println!(
        "{:>8} {:>12} {:>14} {:>10}",
        "memory", "duration", "measured share", "target"
    );
    for (m, d) in measured {
        let target = CpuShare::Lambda.fraction(m);
        println!(
            "{:>5} MB {:>9.2} ms {:>13.1} % {:>8.1} %",
            m,
            d,
            full / d * 100.0,
            target * 100.0
        );
    }
    println!("{:>5} MB {:>9.2} ms   (CPU share off)", 128, off);
    let _ = std::fs::remove_dir_all(&dir);
}
