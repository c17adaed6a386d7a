//! SnapStart (`snap_start`, Lambda's `ApplyOn: PublishedVersions`):
//! publishing a version runs its INIT once (its output and an `INIT_REPORT`
//! line in the log then), snapshots the environment, and every cold start of
//! the version restores it: REPORT's `Restore Duration` instead of `Init
//! Duration`, INIT's state there, and randomness re-seeded so environments
//! restored from one snapshot draw their own numbers. For JavaScript,
//! Python, and a handler module with `_initialize` (`counter`).

use std::path::Path;

use lambdesk::model::{FunctionConfig, Language};
use lambdesk::runtime::{LogKind, Runtime, RuntimeOptions, StartKind};
use serde_json::Value;

use crate::common::{Logs, TempDir, sample};
use crate::javascript::{folder, response};

/// A runtime whose log lines (publishing's too) go to `logs`.
fn runtime(dir: &TempDir, logs: &Logs) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(std::env::temp_dir().join("lambdesk-test-js-module-cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 64,
        log_sink: Some(logs.sink()),
        ..RuntimeOptions::default()
    })
    .unwrap()
}

/// Publishes `code` as version 1 of `name` with SnapStart on.
fn publish(rt: &Runtime, name: &str, code: &Path, mut config: FunctionConfig) {
    config.snap_start = true;
    let bundle = rt.load_code_for(config.runtime, code).unwrap();
    rt.deploy_version(name, 1, &bundle, config)
        .unwrap_or_else(|e| panic!("publishing {name}: {e}"));
}

fn lines(logs: &Logs, kind: LogKind) -> Vec<String> {
    logs.0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, l)| l.kind == kind)
        .map(|(_, l)| l.text.clone())
        .collect()
}

/// Three cold starts of `key`: their responses; each REPORT says it was
/// restored, and INIT's own log line (`init_line`) is not written again.
fn restored_three_times(rt: &Runtime, logs: &Logs, key: &str, init_line: &str) -> Vec<Value> {
    let published = lines(logs, LogKind::Function);
    assert!(
        published.iter().any(|l| l.contains(init_line)),
        "INIT ran when publishing: {published:?}"
    );
    let reports = lines(logs, LogKind::Platform);
    let init_reports: Vec<&String> = reports
        .iter()
        .filter(|l| l.starts_with("INIT_REPORT"))
        .collect();
    assert_eq!(init_reports.len(), 1, "{reports:?}");
    assert!(
        init_reports[0].starts_with("INIT_REPORT Init Duration: ")
            && init_reports[0].ends_with(" ms\tPhase: init\tStatus: success"),
        "{}",
        init_reports[0]
    );
    logs.0.lock().unwrap().clear();
    let mut seen = Vec::new();
    for _ in 0..3 {
        rt.drop_environments(key);
        let inv = rt.invoke(key, b"{}").unwrap();
        assert_eq!(inv.start, StartKind::Cold);
        assert!(inv.report.init_duration_ms.is_none(), "{:?}", inv.report);
        assert!(inv.report.restore_duration_ms.is_some(), "{:?}", inv.report);
        let line = inv.report.line(&inv.request_id);
        assert!(
            line.contains("\tRestore Duration: ")
                && line.contains(" ms\tBilled Restore Duration: ")
                && !line.contains("Init Duration"),
            "{line}"
        );
        seen.push(response(&inv));
    }
    let after = lines(logs, LogKind::Function);
    assert!(
        !after.iter().any(|l| l.contains(init_line)),
        "INIT does not run again: {after:?}"
    );
    seen
}

#[test]
fn a_javascript_version_restores_its_init_and_draws_its_own_random_numbers() {
    let dir = TempDir::new("snap");
    let logs = Logs::default();
    let rt = runtime(&dir, &logs);
    let code = folder(
        &dir,
        "snap-js",
        &[(
            "index.js",
            r#"
const atInit = Math.random();
const config = { loaded: new Date().toISOString() };
let count = 0;
console.log('INIT: loading the configuration');
exports.handler = async () => ({
  atInit, loaded: config.loaded, count: ++count, now: Math.random(),
  uuid: crypto.randomUUID(), type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
});"#,
        )],
    );
    let config = FunctionConfig {
        runtime: Language::Javascript,
        handler: "index.handler".into(),
        ..FunctionConfig::default()
    };
    publish(&rt, "snap-js", &code, config);
    let seen = restored_three_times(&rt, &logs, "snap-js:1", "INIT: loading the configuration");
    for pair in seen.windows(2) {
        // INIT's state is the snapshot's: the same in every environment.
        assert_eq!(pair[0]["atInit"], pair[1]["atInit"]);
        assert_eq!(pair[0]["loaded"], pair[1]["loaded"]);
        // What the handler draws is each environment's own.
        assert_ne!(pair[0]["now"], pair[1]["now"], "{seen:?}");
        assert_ne!(pair[0]["uuid"], pair[1]["uuid"], "{seen:?}");
    }
    assert!(
        seen.iter()
            .all(|r| r["count"] == 1 && r["type"] == "snap-start")
    );
    // Warm starts continue from the restored state.
    let warm = rt.invoke("snap-js:1", b"{}").unwrap();
    assert_eq!(warm.start, StartKind::Warm);
    assert_eq!(response(&warm)["count"], 2);
}

#[test]
fn a_python_version_restores_its_init_and_draws_its_own_random_numbers() {
    let dir = TempDir::new("snap");
    let logs = Logs::default();
    let rt = runtime(&dir, &logs);
    let code = folder(
        &dir,
        "snap-py",
        &[(
            "lambda_function.py",
            r#"
import os, random, uuid
AT_INIT = random.random()
print("INIT: loading the model")

def lambda_handler(event, context):
    return {"atInit": AT_INIT, "now": random.random(), "uuid": str(uuid.uuid4()),
            "type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"#,
        )],
    );
    let config = FunctionConfig {
        runtime: Language::Python,
        handler: "lambda_function.lambda_handler".into(),
        ..FunctionConfig::default()
    };
    publish(&rt, "snap-py", &code, config);
    let seen = restored_three_times(&rt, &logs, "snap-py:1", "INIT: loading the model");
    for pair in seen.windows(2) {
        assert_eq!(pair[0]["atInit"], pair[1]["atInit"]);
        assert_ne!(pair[0]["now"], pair[1]["now"], "{seen:?}");
        assert_ne!(pair[0]["uuid"], pair[1]["uuid"], "{seen:?}");
    }
    assert!(seen.iter().all(|r| r["type"] == "snap-start"), "{seen:?}");
}

#[test]
fn a_handler_module_with_initialize_is_restored_and_latest_is_not() {
    let dir = TempDir::new("snap");
    let logs = Logs::default();
    let rt = runtime(&dir, &logs);
    let mut config = FunctionConfig {
        handler: "handler".into(),
        ..FunctionConfig::default()
    };
    publish(&rt, "counter", &sample("counter.wasm"), config.clone());
    let seen = restored_three_times(&rt, &logs, "counter:1", "counter: INIT");
    assert!(seen.iter().all(|r| r["count"] == 1), "{seen:?}");
    // SnapStart applies to published versions: $LATEST starts with INIT.
    config.snap_start = true;
    rt.deploy("counter", &sample("counter.wasm"), config)
        .unwrap();
    let inv = rt.invoke("counter", b"{}").unwrap();
    assert!(inv.report.init_duration_ms.is_some());
    assert!(inv.report.restore_duration_ms.is_none());
}

#[test]
fn an_init_that_fails_fails_the_publishing_with_its_error() {
    let dir = TempDir::new("snap");
    let logs = Logs::default();
    let rt = runtime(&dir, &logs);
    let code = folder(
        &dir,
        "broken",
        &[("index.js", "throw new Error('no database');")],
    );
    let config = FunctionConfig {
        runtime: Language::Javascript,
        handler: "index.handler".into(),
        snap_start: true,
        ..FunctionConfig::default()
    };
    let bundle = rt.load_code_for(Language::Javascript, &code).unwrap();
    let e = rt
        .deploy_version("broken", 1, &bundle, config)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SnapStart: INIT failed while publishing version 1: Error: no database"),
        "{e}"
    );
    let reports = lines(&logs, LogKind::Platform);
    assert!(
        reports.iter().any(
            |l| l.starts_with("INIT_REPORT") && l.ends_with("Status: error\tError Type: Error")
        ),
        "{reports:?}"
    );
    // Nothing was published.
    assert!(rt.invoke("broken:1", b"{}").is_err());
}

#[test]
fn a_kept_snapshot_is_restored_after_a_restart_and_init_does_not_run_again() {
    use lambdesk::runtime::KeptSnapshot;
    let dir = TempDir::new("snap-kept");
    let code = folder(
        &dir,
        "kept",
        &[(
            "index.js",
            "console.log('INIT: kept');\nconst atInit = Math.random();\nexports.handler = async () => ({ atInit });",
        )],
    );
    let config = FunctionConfig {
        runtime: Language::Javascript,
        handler: "index.handler".into(),
        snap_start: true,
        ..FunctionConfig::default()
    };
    let path = dir.path().join("snapshots/kept-1.wasm");
    let deploy = |rt: &Runtime, reuse: bool| {
        let bundle = rt.load_code_for(config.runtime, &code).unwrap();
        rt.deploy_version_kept(
            "kept",
            1,
            &bundle,
            config.clone(),
            Some(&KeptSnapshot {
                path: path.clone(),
                reuse,
            }),
        )
        .unwrap();
    };
    let init_ran = |logs: &Logs| {
        let reports = lines(logs, LogKind::Platform);
        let inits = reports
            .iter()
            .filter(|l| l.starts_with("INIT_REPORT"))
            .count();
        let line = lines(logs, LogKind::Function)
            .iter()
            .any(|l| l.contains("INIT: kept"));
        assert_eq!(inits > 0, line, "{reports:?}");
        inits
    };
    // Publishing runs INIT and keeps the snapshot.
    let logs = Logs::default();
    let first = runtime(&dir, &logs);
    deploy(&first, false);
    assert_eq!(init_ran(&logs), 1);
    assert!(path.is_file());
    let at_init = response(&first.invoke("kept:1", b"{}").unwrap())["atInit"].clone();
    // A restart deploys the version from the kept snapshot: INIT does not
    // run again, and its state is the one made when publishing.
    let logs = Logs::default();
    let second = runtime(&dir, &logs);
    deploy(&second, true);
    assert_eq!(init_ran(&logs), 0);
    let inv = second.invoke("kept:1", b"{}").unwrap();
    assert!(inv.report.restore_duration_ms.is_some(), "{:?}", inv.report);
    assert_eq!(response(&inv)["atInit"], at_init);
    // Publishing again (not reusing) makes it anew.
    let logs = Logs::default();
    deploy(&runtime(&dir, &logs), false);
    assert_eq!(init_ran(&logs), 1);
    // A damaged kept snapshot is not trusted: INIT runs and it is kept anew.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let logs = Logs::default();
    let third = runtime(&dir, &logs);
    deploy(&third, true);
    assert_eq!(init_ran(&logs), 1);
    assert!(std::fs::read(&path).unwrap().len() > bytes.len() / 2);
    assert!(third.invoke("kept:1", b"{}").unwrap().error().is_none());
}
