//! Runtime benchmarks: warm and cold starts, command-style invokes, the disk
//! cache, first compile and throughput, each as a median, with a raw wasmtime
//! call measured in the same process as the baseline. The CPU share is off:
//! these measure the runtime's own overhead, not Lambda's CPU allocation.
//!
//! `cargo bench --bench runtime` (release build).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambdesk::model::FunctionConfig;
use lambdesk::runtime::{InvokeOptions, Runtime, RuntimeOptions};

mod support;
use support::{measure, median};

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn sample(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions/dist")
        .join(file)
}

fn runtime(dir: &Path, cache: Option<PathBuf>) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: cache,
        scratch_dir: dir.join(format!("scratch-{}", uuid::Uuid::new_v4().simple())),
        cpu_share: lambdesk::model::CpuShare::Off,
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

fn config(handler: &str) -> FunctionConfig {
    FunctionConfig {
        handler: handler.to_owned(),
        ..FunctionConfig::default()
    }
}

/// The floor: wasmtime calling an empty export, no WASI, no bookkeeping.
fn baseline_call() -> Duration {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, r#"(module (func (export "f")))"#).expect("module");
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
    let f = instance
        .get_typed_func::<(), ()>(&mut store, "f")
        .expect("f");
    measure(2_000, 20_000, || f.call(&mut store, ()).expect("call"))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let cache = dir.join("cache");
    let event = {
        let pad = "x".repeat(1024 - 40);
        format!(r#"{{"name":"bench","pad":"{pad}"}}"#)
    };
    assert!((1000..=1100).contains(&event.len()));

    // First compile of a ~100 KB module (no cache).
    let hello_size = std::fs::metadata(sample("hello.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    let compile = median(
        (0..5)
            .map(|_| {
                let rt = runtime(&dir, None);
                rt.deploy("hello", &sample("hello.wasm"), config("handler"))
                    .expect("deploy")
                    .load
                    .1
            })
            .collect(),
    );

    let rt = runtime(&dir, Some(cache.clone()));
    rt.deploy("hello", &sample("hello.wasm"), config("handler"))
        .expect("deploy hello");
    rt.deploy("sum", &sample("sum.wasm"), config("_start"))
        .expect("deploy sum");

    // Warm, cold and command-style invokes in interleaved rounds, so a noisy
    // neighbour hurts all three alike; the figure is the median of the rounds' medians.
    let discard = InvokeOptions {
        discard_environment: true,
        ..InvokeOptions::default()
    };
    let sum_event = br#"{"value1": 20, "value2": 22}"#;
    let mut cold_phases = Vec::new();
    let (mut warm, mut cold, mut command, mut floor) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        floor.push(baseline_call());
        warm.push(measure(2_000, 20_000, || {
            black_box(rt.invoke("hello", event.as_bytes()).expect("invoke"));
        }));
        cold.push(measure(50, 500, || {
            let inv = rt
                .invoke_with("hello", event.as_bytes(), &discard)
                .expect("invoke");
            cold_phases.push(inv.phases.instantiate + inv.phases.init + inv.phases.handler);
        }));
        command.push(measure(50, 1_000, || {
            black_box(rt.invoke("sum", sum_event).expect("invoke"));
        }));
    }
    let (warm, cold, command, baseline) =
        (median(warm), median(cold), median(command), median(floor));
    // A second "process": a new runtime over the same on-disk cache.
    let second = median(
        (0..10)
            .map(|_| {
                let rt2 = runtime(&dir, Some(cache.clone()));
                let t = Instant::now();
                rt2.deploy("hello", &sample("hello.wasm"), config("handler"))
                    .expect("deploy");
                rt2.invoke("hello", event.as_bytes()).expect("invoke");
                t.elapsed()
            })
            .collect(),
    );

    // Throughput of warm invokes across all cores.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let window = Duration::from_secs(3);
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let rt = &rt;
                let event = &event;
                std::thread::Builder::new()
                    .name(format!("bench-{i}"))
                    .spawn_scoped(s, move || {
                        let start = Instant::now();
                        let mut n = 0u64;
                        while start.elapsed() < window {
                            black_box(rt.invoke("hello", event.as_bytes()).expect("invoke"));
                            n += 1;
                        }
                        n
                    })
                    .expect("thread")
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let per_second = total as f64 / window.as_secs_f64();

    println!(
        "lambdesk runtime benchmarks (medians; pooling allocator: {})",
        rt.uses_pooling()
    );
    println!("{:<58} {:>12} {:>10}", "measure", "median", "x baseline");
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<58} {:>9.2} us {:>10.1}",
            us(d),
            us(d) / us(baseline)
        );
    };
    row("baseline: raw wasmtime call of an empty export", baseline);
    row("warm invoke of hello, 1 KB event, full bookkeeping", warm);
    row("cold start from compiled module (wall, hello)", cold);
    row(
        "cold start phases: instantiate + init + handler",
        median(cold_phases),
    );
    row("command-style invoke of sum (fresh instance)", command);
    row(
        "new runtime, module in disk cache: deploy + first invoke",
        second,
    );
    row(
        &format!("first compile of hello.wasm ({} KB)", hello_size / 1024),
        compile,
    );
    println!(
        "{:<58} {:>9.0} /s ({threads} threads)",
        "warm invokes per second (hello)", per_second
    );
    let _ = std::fs::remove_dir_all(&dir);
}
