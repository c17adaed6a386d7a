//! JavaScript functions benchmark (release build, CPU share off, medians):
//! a warm invoke of a JavaScript hello against the Rust `hello` sample (the
//! baseline, in the same process), a cold start (INIT: the realm, the
//! runtime's globals, the handler's module) of each, and the first compile
//! of the JavaScript runtime's module (once per machine, then cached).
//!
//! `cargo bench --bench javascript`

use std::path::Path;
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

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-js-{}", std::process::id()));
    let code = dir.join("hello-js");
    std::fs::create_dir_all(&code).expect("bench dir");
    std::fs::write(
        code.join("index.js"),
        "exports.handler = async (event) => ({ message: `Hello, ${event.name}!` });\n",
    )
    .expect("hello.js");
    let js = FunctionConfig {
        runtime: Language::Javascript,
        handler: "index.handler".into(),
        ..FunctionConfig::default()
    };
    let wasm = FunctionConfig {
        handler: "handler".into(),
        ..FunctionConfig::default()
    };
    let hello_wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-functions/dist/hello.wasm");

    // First compile of the runtime's module: a fresh cache each time.
    let compiles: Vec<Duration> = (0..3)
        .map(|i| {
            let fresh = dir.join(format!("compile-{i}"));
            let rt = runtime(&fresh);
            let started = Instant::now();
            rt.deploy("js", &code, js.clone()).expect("deploy js");
            started.elapsed()
        })
        .collect();
    let compile = median(compiles);

    let rt = runtime(&dir);
    rt.deploy("js", &code, js).expect("deploy js");
    rt.deploy("wasm", &hello_wasm, wasm).expect("deploy wasm");
    let event = br#"{"name":"bench"}"#;
    let warm = |name: &str| {
        measure(200, 2_000, || {
            let inv = rt.invoke(name, event).expect("invoke");
            assert!(inv.error().is_none(), "{:?}", inv.error());
        })
    };
    let warm_wasm = warm("wasm");
    let warm_js = warm("js");
    // Cold: every environment dropped first; INIT as the REPORT line says it,
    // and the whole cold invoke.
    let cold = |name: &str| {
        let mut init = Vec::new();
        let mut total = Vec::new();
        for _ in 0..60 {
            rt.drop_environments(name);
            let started = Instant::now();
            let inv = rt.invoke(name, event).expect("invoke");
            total.push(started.elapsed());
            init.push(Duration::from_secs_f64(
                inv.report.init_duration_ms.unwrap_or(0.0) / 1e3,
            ));
        }
        (median(init), median(total))
    };
    let (init_wasm, cold_wasm) = cold("wasm");
    let (init_js, cold_js) = cold("js");

    println!("JavaScript functions (release, CPU share off, medians):");
    println!(
        "  warm invoke   Rust hello (baseline) {:>8.1} µs   JavaScript hello {:>8.1} µs ({:.1}×; target ≤ 50 µs)",
        us(warm_wasm),
        us(warm_js),
        warm_js.as_secs_f64() / warm_wasm.as_secs_f64().max(1e-9)
    );
    println!(
        "  cold start    Rust hello (baseline) {:>8.2} ms   JavaScript hello {:>8.2} ms ({:.1}×; target ≤ 2 ms without a snapshot)",
        ms(cold_wasm),
        ms(cold_js),
        cold_js.as_secs_f64() / cold_wasm.as_secs_f64().max(1e-9)
    );
    println!(
        "  Init Duration Rust hello            {:>8.2} ms   JavaScript hello {:>8.2} ms (Lambda's Node.js: about 120 ms)",
        ms(init_wasm),
        ms(init_js)
    );
    println!(
        "  first compile of the JavaScript runtime module: {:.2} s (once per machine, then cached)",
        compile.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
