//! The sample functions: every one has a test, the embedded copies match the
//! files, and (when the wasm target is installed) the committed .wasm files are
//! what their sources build to.

use std::path::Path;
use std::process::Command;

use lambdesk::store::samples::SAMPLES;

use crate::common::{runtime, sample};

#[test]
fn every_sample_runs_with_its_own_test_event() {
    let t = runtime();
    for s in SAMPLES {
        // A module is a file of dist/ or wat/; source code a folder of its own.
        let (file, code) = if s.runtime.is_source() {
            let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("sample-functions")
                .join(s.runtime.name())
                .join(s.name);
            (folder.join(s.file_name), folder)
        } else {
            (sample(s.file_name), sample(s.file_name))
        };
        assert_eq!(
            std::fs::read(&file).unwrap(),
            s.code,
            "{} differs from its file",
            s.name
        );
        t.runtime.deploy(s.name, &code, s.config()).unwrap();
        let event = if s.name == "behave" {
            r#"{"action":"echo"}"#
        } else {
            s.event.1
        };
        let inv = t.runtime.invoke(s.name, event.as_bytes()).unwrap();
        if s.name == "http-request" {
            // Its role grants nothing yet: the first run shows the denial.
            let e = inv.error().unwrap();
            assert_eq!(e.error_type, "OutboundDenied");
            assert_eq!(
                e.error_message,
                "GET https://checkip.amazonaws.com:443/ not in the role's outbound grants"
            );
            continue;
        }
        assert!(inv.error().is_none(), "{}: {:?}", s.name, inv.error());
    }
    // Each sample has dedicated tests in runtime.rs (http-request in
    // outbound.rs, the node-* ones in javascript.rs, the py-* ones in
    // python.rs); this list keeps that
    // honest.
    let tested = [
        "hello",
        "sum",
        "s3-object-info",
        "counter",
        "behave",
        "http-request",
        "echo-wat",
        "ping-wat",
        "node-sum",
        "node-api",
        "node-sqs",
        "node-counter",
        "py-hello",
        "py-api",
        "py-sqs",
        "py-counter",
    ];
    let names: Vec<&str> = SAMPLES.iter().map(|s| s.name).collect();
    assert_eq!(names, tested);
}

#[test]
fn committed_modules_are_current() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-wasip1")
        })
        .unwrap_or(false);
    if !installed {
        eprintln!(
            "skipped: the wasm32-wasip1 target is not installed (rustup target add wasm32-wasip1)"
        );
        return;
    }
    // The samples, and the language runtimes embedded in the binary.
    for script in ["sample-functions/build.sh", "runtimes/build.sh"] {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let out = Command::new("bash")
            .arg(&script)
            .arg("--check")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
