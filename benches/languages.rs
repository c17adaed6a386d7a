//! Language runtimes benchmark (release build, CPU share off, medians): a
//! warm invoke of a JavaScript and a Python hello against the Rust `hello`
//! sample (the baseline, in the same process), a cold start (INIT: the
//! runtime restored from its snapshot, the handler's module loaded) of each,
//! a cold start of a version published with SnapStart (restored from its own
//! snapshot, INIT done), and the first preparation and compile of each
//! runtime's module (once per machine, then cached).
//!
//! `cargo bench --bench languages`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambdesk::model::{FunctionConfig, Language};
use lambdesk::runtime::{Runtime, RuntimeOptions};

mod support;
use support::{measure, median};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn runtime(dir: &Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.join("cache")),
        scratch_dir: dir.join("scratch"),
        cpu_share: lambdesk::model::CpuShare::Off,
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

/// A hello function in `language`: its folder and configuration.
fn hello(dir: &Path, language: Language) -> (PathBuf, FunctionConfig) {
    let (folder, file, text) = match language {
        Language::Python => (
            "hello-py",
            "lambda_function.py",
            "def lambda_handler(event, context):\n    return {'message': f\"Hello, {event['name']}!\"}\n",
        ),
        _ => (
            "hello-js",
            "index.js",
            "exports.handler = async (event) => ({ message: `Hello, ${event.name}!` });\n",
        ),
    };
    let code = dir.join(folder);
    std::fs::create_dir_all(&code).expect("bench dir");
    std::fs::write(code.join(file), text).expect("hello");
    let config = FunctionConfig {
        runtime: language,
        handler: language.default_handler().into(),
        ..FunctionConfig::default()
    };
    (code, config)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-lang-{}", std::process::id()));
    let languages = [Language::Javascript, Language::Python];
    let functions: Vec<(Language, PathBuf, FunctionConfig)> = languages
        .iter()
        .map(|&l| {
            let (code, config) = hello(&dir, l);
            (l, code, config)
        })
        .collect();

    // First preparation (snapshot) and compile of a runtime's module: a
    // fresh cache each time.
    let first: Vec<Duration> = functions
        .iter()
        .map(|(l, code, config)| {
            median(
                (0..3)
                    .map(|i| {
                        let rt = runtime(&dir.join(format!("first-{}-{i}", l.name())));
                        let started = Instant::now();
                        rt.deploy(l.name(), code, config.clone()).expect("deploy");
                        started.elapsed()
                    })
                    .collect(),
            )
        })
        .collect();

    let rt = runtime(&dir);
    let hello_wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-functions/dist/hello.wasm");
    let wasm = FunctionConfig {
        handler: "handler".into(),
        ..FunctionConfig::default()
    };
    rt.deploy("wasm", &hello_wasm, wasm).expect("deploy wasm");
    for (l, code, config) in &functions {
        rt.deploy(l.name(), code, config.clone()).expect("deploy");
    }
    let event = br#"{"name":"bench"}"#;
    let warm = |name: &str| {
        measure(200, 2_000, || {
            let inv = rt.invoke(name, event).expect("invoke");
            assert!(inv.error().is_none(), "{:?}", inv.error());
        })
    };
    // Cold: every environment dropped first; INIT (or, restored from a
    // SnapStart snapshot, the restore) as the REPORT line says it, and the
    // whole cold invoke.
    let cold = |name: &str| {
        let mut init = Vec::new();
        let mut total = Vec::new();
        for _ in 0..60 {
            rt.drop_environments(name);
            let started = Instant::now();
            let inv = rt.invoke(name, event).expect("invoke");
            assert!(inv.error().is_none(), "{:?}", inv.error());
            total.push(started.elapsed());
            let start_up = inv
                .report
                .init_duration_ms
                .or(inv.report.restore_duration_ms)
                .unwrap_or(0.0);
            init.push(Duration::from_secs_f64(start_up / 1e3));
        }
        (median(init), median(total))
    };
    // SnapStart: version 1 of each, published with it on.
    for (l, code, config) in &functions {
        let mut config = config.clone();
        config.snap_start = true;
        let bundle = rt.load_code_for(*l, code).expect("code");
        rt.deploy_version(l.name(), 1, &bundle, config)
            .expect("publish with SnapStart");
    }
    let warm_wasm = warm("wasm");
    let (init_wasm, cold_wasm) = cold("wasm");

    println!("Language runtimes (release, CPU share off, medians):");
    println!(
        "  Rust hello (baseline): warm {:>7.1} µs, cold start {:>6.2} ms (Init Duration {:.2} ms)",
        us(warm_wasm),
        ms(cold_wasm),
        ms(init_wasm)
    );
    for ((l, _, _), first) in functions.iter().zip(first) {
        let warm_l = warm(l.name());
        let (init_l, cold_l) = cold(l.name());
        let (restore, cold_snap) = cold(&format!("{}:1", l.name()));
        let (warm_target, cold_target, snap_target, lambda_init) = match l {
            Language::Python => ("≤ 200 µs", "≤ 100 ms", "≤ 3 ms", "about 80 ms"),
            _ => ("≤ 50 µs", "≤ 2 ms", "≤ 1 ms", "about 120 ms"),
        };
        println!("  {} hello:", l.title());
        println!(
            "    warm invoke {:>8.1} µs ({:.1}× Rust's; target {warm_target})",
            us(warm_l),
            warm_l.as_secs_f64() / warm_wasm.as_secs_f64().max(1e-9)
        );
        println!(
            "    cold start  {:>8.2} ms ({:.1}× Rust's; target {cold_target}), Init Duration {:.2} ms (Lambda's: {lambda_init})",
            ms(cold_l),
            cold_l.as_secs_f64() / cold_wasm.as_secs_f64().max(1e-9),
            ms(init_l)
        );
        println!(
            "    cold start restored from a SnapStart snapshot {:>8.2} ms ({:.1}× Rust's; target {snap_target}), Restore Duration {:.2} ms",
            ms(cold_snap),
            cold_snap.as_secs_f64() / cold_wasm.as_secs_f64().max(1e-9),
            ms(restore)
        );
        println!(
            "    first preparation and compile of the runtime module: {:.2} s (once per machine, then cached)",
            first.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
