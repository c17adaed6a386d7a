//! Power tuning over the samples: a CPU-bound function's durations fall with
//! memory until 1,769 MB and stay flat after (so speed gains nothing there,
//! and cost never picks the larger sizes); a memory-hungry function fails
//! below its need, is marked, and is never recommended there; the command
//! line prints AWS Lambda Power Tuning's JSON shape.

use std::sync::atomic::AtomicBool;

use lambdesk::host::tuning::{Strategy, TuneOptions, tune};

use crate::common::{TempDir, config, runtime, sample};

fn options(sizes: &[u32], event: &str, strategy: Strategy) -> TuneOptions {
    TuneOptions {
        sizes: sizes.to_vec(),
        invocations: 5,
        events: vec![(event.as_bytes().to_vec(), 1)],
        strategy,
        ..TuneOptions::default()
    }
}

#[test]
fn a_cpu_bound_function_gets_faster_until_1769_mb() {
    let _alone = crate::alone();
    let t = runtime();
    let mut c = config("handler");
    c.timeout_s = 30;
    let progress_calls = std::sync::atomic::AtomicUsize::new(0);
    let progress = |done: usize, total: usize| {
        assert!(done <= total);
        progress_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let sizes = [128, 512, 1769, 3008];
    let report = tune(
        &t.runtime,
        "behave",
        &sample("behave.wasm"),
        &c,
        &options(&sizes, r#"{"action":"work","units":4}"#, Strategy::Cost),
        &progress,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(progress_calls.into_inner(), 20);
    let ms: Vec<f64> = report.sizes.iter().map(|s| s.average_ms).collect();
    // Falling until 1,769 MB (the ratios themselves are cpu.rs's to check;
    // here other tests share the machine).
    assert!(
        ms[0] > ms[1] && ms[1] > ms[2] && ms[0] > ms[2] * 4.0,
        "{ms:?}"
    );
    assert!(
        (ms[3] / ms[2] - 1.0).abs() < 0.3,
        "flat above 1,769 MB: {ms:?}"
    );
    assert!(report.sizes.iter().all(|s| s.errors.is_empty()));
    // Cost: 3,008 MB costs more for the same duration.
    assert_ne!(report.recommended, Some(3008), "{:?}", report.to_json());
    let json = report.to_json();
    assert_eq!(json["stats"].as_array().unwrap().len(), 4);
    assert_eq!(json["stats"][0]["value"], 128);
    assert!(json["stats"][0]["averagePrice"].as_f64().unwrap() > 0.0);
    assert_eq!(json["power"], serde_json::json!(report.recommended));
    // The runtime's CPU share is as it was.
    assert_eq!(t.runtime.cpu_share(), lambdesk::model::CpuShare::Lambda);
    assert!(
        t.runtime.function_names().is_empty(),
        "the sizes' copies are removed"
    );
}

#[test]
fn sizes_that_run_out_of_memory_are_marked_and_not_recommended() {
    let _alone = crate::alone();
    // Cold starts: `alloc` keeps what it allocated, as a leaky function would.
    let t = runtime();
    let mut o = options(
        &[128, 512],
        r#"{"action":"alloc","mb":200}"#,
        Strategy::Speed,
    );
    o.cold = true;
    let report = tune(
        &t.runtime,
        "behave",
        &sample("behave.wasm"),
        &config("handler"),
        &o,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(
        report.sizes[0].out_of_memory(),
        "{:?}",
        report.sizes[0].errors
    );
    assert_eq!(report.sizes[0].errors.len(), 5);
    assert!(
        report.sizes[1].errors.is_empty(),
        "{:?}",
        report.sizes[1].errors
    );
    assert_eq!(report.recommended, Some(512));
    assert!(report.table().contains("out of memory"));
}

#[test]
fn too_few_invocations_and_cancelling_are_refused() {
    let _alone = crate::alone();
    let t = runtime();
    let mut o = options(&[128], "{}", Strategy::Cost);
    o.invocations = 4;
    let err = tune(
        &t.runtime,
        "hello",
        &sample("hello.wasm"),
        &config("handler"),
        &o,
        &|_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "4 invocations per size is too few; at least 5"
    );
    let o = options(&[128], "{}", Strategy::Cost);
    let err = tune(
        &t.runtime,
        "hello",
        &sample("hello.wasm"),
        &config("handler"),
        &o,
        &|_, _| {},
        &AtomicBool::new(true),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "tuning was cancelled");
}

#[test]
fn the_command_line_prints_power_tunings_json() {
    let _alone = crate::alone();
    let dir = TempDir::new("tune");
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"action":"work","units":2}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args([
            "tune",
            sample("behave.wasm").to_str().unwrap(),
            "--handler",
            "handler",
        ])
        .args([
            "--memory",
            "256,1769",
            "--num",
            "5",
            "--strategy",
            "speed",
            "--json",
            "--event",
        ])
        .arg(&event)
        .env("LAMBDESK_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["power"], 1769, "{v}");
    assert!(v["duration"].as_f64().unwrap() > 0.0);
    let stats = v["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 2);
    for s in stats {
        assert!(s["value"].is_u64() && s["averagePrice"].is_f64() && s["averageDuration"].is_f64());
    }
    assert_eq!(v["lambdesk"]["strategy"], "speed");
}

#[test]
fn the_command_line_tunes_a_workspace_function_with_its_event_and_prices() {
    let _alone = crate::alone();
    // A workspace folder: the function's settings and selected test event.
    let dir = TempDir::new("tune-ws");
    let ws = lambdesk::model::Workspace {
        version: 1,
        state_machines: Vec::new(),
        cpu_share: Default::default(),
        functions: vec![lambdesk::model::FunctionEntry {
            name: "behave".into(),
            code: sample("behave.wasm"),
            config: config("handler"),
            events: vec![lambdesk::model::TestEvent {
                name: "work".into(),
                body: r#"{"action":"work","units":2}"#.into(),
            }],
            ..Default::default()
        }],
    };
    ws.save(&dir.path().join("workspace.json")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .arg("tune")
        .arg(dir.path())
        .args([
            "--function",
            "behave",
            "--memory",
            "512,1769",
            "--num",
            "5",
            "--json",
        ])
        .args(["--price-x86", "1", "--price-arm64", "0.5"])
        .env("LAMBDESK_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["stats"][1];
    // 1 USD per GB-second: the cost is billed seconds × GB.
    let expected = s["averageDuration"].as_f64().unwrap().ceil() / 1000.0 * 1769.0 / 1024.0;
    assert!(
        (s["averagePrice"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{v}"
    );
    let arm = v["lambdesk"]["sizes"][1]["averagePriceArm64"]
        .as_f64()
        .unwrap();
    assert!((arm - expected / 2.0).abs() < 1e-12, "{v}");
    // Not `{}`: the event did work, so 512 MB took longer than 1,769 MB.
    assert!(v["stats"][0]["averageDuration"].as_f64() > v["stats"][1]["averageDuration"].as_f64());
    // Two functions and no --function: which one is asked.
    let mut two = ws.clone();
    two.functions.push(lambdesk::model::FunctionEntry {
        name: "other".into(),
        ..two.functions[0].clone()
    });
    two.save(&dir.path().join("workspace.json")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .arg("tune")
        .arg(dir.path())
        .env("LAMBDESK_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("has 2 functions; pick one with --function NAME")
    );
}

#[test]
fn the_command_line_explains_bad_tuning_settings() {
    let _alone = crate::alone();
    let dir = TempDir::new("tune-bad");
    let hello = sample("hello.wasm");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
            .arg("tune")
            .arg(&hello)
            .args(args)
            .env("LAMBDESK_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["--strategy", "fastest"]).contains("`fastest` is not a strategy"));
    assert!(
        run(&["--strategy", "balanced", "--balanced-weight", "2"])
            .contains("out of range; allowed 0–1")
    );
    assert!(run(&["--num", "4"]).contains("at least 5"));
    assert!(run(&["--memory", "64"]).contains("memory_mb: 64 is out of range"));
    assert!(run(&["--event", "missing.json@x"]).contains("the weight must be a whole number"));
    assert!(run(&["--event", "missing.json"]).contains("missing.json"));
}
