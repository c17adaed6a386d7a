//! Versions and aliases (`host::versions`) over real sample functions:
//! publishing (numbers never reused, unchanged code and settings answered
//! with the last version), immutability after the source changes or goes,
//! environments never shared between versions, the version in START lines
//! and the context, weighted routing, AWS's errors, and the store surviving
//! a restart.

use std::collections::BTreeMap;

use lambdesk::host::versions::{VersionError, Versions};
use lambdesk::runtime::{InvokeOptions, Outcome, StartKind, version_key};
use serde_json::Value;

use crate::common::{Logs, TempDir, TestRuntime, config, runtime, sample};

/// `behave` deployed from a copy of its module (so the test can change the
/// "source"), with a version store in the same folder.
fn setup() -> (
    TestRuntime,
    TempDir,
    std::sync::Arc<Versions>,
    std::path::PathBuf,
) {
    let t = runtime();
    let dir = TempDir::new("versions");
    let src = dir.path().join("behave.wasm");
    std::fs::copy(sample("behave.wasm"), &src).unwrap();
    t.runtime.deploy("behave", &src, config("handler")).unwrap();
    let (v, problems) = Versions::open(t.runtime.clone(), dir.path().join("versions"), None);
    assert!(problems.is_empty(), "{problems:?}");
    (t, dir, v, src)
}

fn response(
    t: &TestRuntime,
    key: &str,
    event: &str,
    options: &InvokeOptions,
) -> (Value, StartKind) {
    let inv = t
        .runtime
        .invoke_with(key, event.as_bytes(), options)
        .unwrap();
    match inv.outcome {
        Outcome::Response(b) => (serde_json::from_slice(&b).unwrap(), inv.start),
        Outcome::Error(e) => panic!("{key}: {e:?}"),
    }
}

fn weights(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, w)| ((*k).to_owned(), *w)).collect()
}

#[test]
fn publishing_numbers_versions_once_and_never_reuses_a_number() {
    let (t, _dir, v, src) = setup();
    let v1 = v.publish("behave", Some("first"), None, None).unwrap();
    assert_eq!((v1.version, v1.description.as_str()), (1, "first"));
    // Nothing changed: the same version again.
    assert_eq!(v.publish("behave", None, None, None).unwrap().version, 1);
    // A configuration-only change: a new version with the same code.
    let mut c = config("handler");
    c.memory_mb = 256;
    t.runtime.deploy("behave", &src, c).unwrap();
    let v2 = v.publish("behave", None, None, None).unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.code_sha256, v1.code_sha256);
    assert_eq!(v2.config.memory_mb, 256);
    // Deleted versions' numbers are not given again.
    v.delete_version("behave", 2).unwrap();
    let mut c = config("handler");
    c.memory_mb = 512;
    t.runtime.deploy("behave", &src, c).unwrap();
    assert_eq!(v.publish("behave", None, None, None).unwrap().version, 3);
    assert!(
        t.runtime.deploy_info("behave:2").is_none(),
        "version 2 is gone"
    );
    assert_eq!(
        v.versions("behave")
            .iter()
            .map(|p| p.version)
            .collect::<Vec<_>>(),
        [1, 3]
    );
}

#[test]
fn a_version_is_unchanged_by_later_edits_or_the_loss_of_its_source() {
    let (t, _dir, v, src) = setup();
    v.publish("behave", None, None, None).unwrap();
    // The source becomes another module, then disappears.
    std::fs::copy(sample("hello.wasm"), &src).unwrap();
    t.runtime.deploy("behave", &src, config("handler")).unwrap();
    let (latest, _) = response(&t, "behave", r#"{"name":"x"}"#, &InvokeOptions::default());
    assert_eq!(latest["message"], "Hello, x!", "$LATEST is the new code");
    std::fs::remove_file(&src).unwrap();
    let (old, _) = response(
        &t,
        "behave:1",
        r#"{"action":"echo","k":1}"#,
        &InvokeOptions::default(),
    );
    assert_eq!(old["k"], 1, "version 1 still runs behave");
    // Publishing the new $LATEST needs its source: a clear error.
    let e = v.publish("behave", None, None, None).unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.message().contains("reading the code"), "{e}");
}

#[test]
fn each_version_has_its_own_environments_and_says_which_it_is() {
    let (t, _dir, v, _src) = setup();
    v.publish("behave", None, None, None).unwrap();
    v.create_alias("behave", "live", "1", None, &weights(&[]))
        .unwrap();
    let logs = Logs::default();
    let options = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..InvokeOptions::default()
    };
    let ctx = r#"{"action":"context"}"#;
    let (_, s) = response(&t, "behave", ctx, &options);
    assert_eq!(s, StartKind::Cold);
    let (_, s) = response(&t, "behave:1", ctx, &options);
    assert_eq!(
        s,
        StartKind::Cold,
        "$LATEST's warm environment is not version 1's"
    );
    let (_, s) = response(&t, "behave", ctx, &options);
    assert_eq!(s, StartKind::Warm);
    // Through the alias: version 1 runs, its context names the alias's ARN.
    let r = v.resolve("behave", Some("live")).unwrap();
    assert_eq!(
        (r.key.as_str(), r.executed_version.as_str()),
        ("behave:1", "1")
    );
    let options = InvokeOptions {
        log_sink: Some(logs.sink()),
        invoked_arn: Some(r.invoked_arn.clone().into()),
        ..InvokeOptions::default()
    };
    let (c, s) = response(&t, &r.key, ctx, &options);
    assert_eq!(s, StartKind::Warm);
    assert_eq!(c["functionVersion"], "1");
    assert_eq!(c["functionName"], "behave");
    assert!(
        c["invokedFunctionArn"]
            .as_str()
            .unwrap()
            .ends_with(":function:behave:live"),
        "{c}"
    );
    assert!(c["logStreamName"].as_str().unwrap().contains("/[1]"), "{c}");
    let texts = logs.texts();
    assert!(texts.iter().any(|l| l.ends_with("Version: $LATEST")));
    assert!(
        texts.iter().filter(|l| l.ends_with("Version: 1")).count() == 2,
        "{texts:?}"
    );
    assert_eq!(t.runtime.environments("behave:1").len(), 1);
    assert_eq!(t.runtime.environments("behave").len(), 1);
    assert_eq!(
        t.runtime.function_names(),
        ["behave"],
        "versions are not functions"
    );
}

#[test]
fn a_weighted_alias_splits_invocations_by_its_weight() {
    let (t, _dir, v, src) = setup();
    v.publish("behave", None, None, None).unwrap();
    let mut c = config("handler");
    c.timeout_s = 10;
    t.runtime.deploy("behave", &src, c).unwrap();
    v.publish("behave", None, None, None).unwrap();
    v.create_alias("behave", "canary", "1", None, &weights(&[("2", 0.2)]))
        .unwrap();
    let mut to_two = 0;
    for _ in 0..1000 {
        let r = v.resolve("behave", Some("canary")).unwrap();
        if r.executed_version == "2" {
            to_two += 1;
            assert_eq!(r.key, version_key("behave", "2"));
        }
    }
    assert!(
        (150..=250).contains(&to_two),
        "{to_two} of 1000 went to version 2"
    );
    // The draw decides: below the weight, the additional version.
    assert_eq!(
        v.resolve_with("behave", Some("canary"), 0.19)
            .unwrap()
            .executed_version,
        "2"
    );
    assert_eq!(
        v.resolve_with("behave", Some("canary"), 0.2)
            .unwrap()
            .executed_version,
        "1"
    );
    // And real invocations through it run the picked version.
    let r = v.resolve_with("behave", Some("canary"), 0.0).unwrap();
    let (c, _) = response(
        &t,
        &r.key,
        r#"{"action":"context"}"#,
        &InvokeOptions::default(),
    );
    assert_eq!(c["functionVersion"], "2");
}

#[test]
fn alias_rules_and_errors_are_aws_s() {
    let (t, _dir, v, src) = setup();
    v.publish("behave", None, None, None).unwrap();
    let mut c = config("handler");
    c.memory_mb = 256;
    t.runtime.deploy("behave", &src, c).unwrap();
    v.publish("behave", None, None, None).unwrap();
    let none = weights(&[]);
    let a = v
        .create_alias("behave", "live", "1", Some("prod"), &none)
        .unwrap();
    // Duplicate: 409.
    let e = v
        .create_alias("behave", "live", "2", None, &none)
        .unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(
        e.message()
            .starts_with("Alias already exists: arn:aws:lambda:"),
        "{e}"
    );
    // Unknown version: 404; an alias as target: refused.
    assert_eq!(
        v.create_alias("behave", "x", "9", None, &none)
            .unwrap_err()
            .status(),
        404
    );
    assert!(matches!(
        v.create_alias("behave", "x", "live", None, &none),
        Err(VersionError::Validation(_))
    ));
    // Bad names.
    for bad in ["123", "a b", ""] {
        assert!(
            matches!(
                v.create_alias("behave", bad, "1", None, &none),
                Err(VersionError::Validation(_))
            ),
            "{bad}"
        );
    }
    // Routing: weight out of range, two versions, the primary again, $LATEST, unknown.
    let cases: [(&str, BTreeMap<String, f64>, &str); 5] = [
        ("1", weights(&[("2", 1.5)]), "ValidationException"),
        (
            "1",
            weights(&[("2", 0.1), ("3", 0.1)]),
            "InvalidParameterValueException",
        ),
        (
            "1",
            weights(&[("1", 0.5)]),
            "InvalidParameterValueException",
        ),
        (
            "$LATEST",
            weights(&[("2", 0.5)]),
            "InvalidParameterValueException",
        ),
        ("1", weights(&[("7", 0.5)]), "ResourceNotFoundException"),
    ];
    for (main, w, error) in cases {
        let e = v
            .create_alias("behave", "routed", main, None, &w)
            .unwrap_err();
        assert_eq!(e.error_type(), error, "{main} {w:?}: {e}");
    }
    // Update with a stale revision: 412; with the right one it changes it.
    let e = v
        .update_alias("behave", "live", Some("2"), None, None, Some("stale"))
        .unwrap_err();
    assert_eq!(e.status(), 412);
    let b = v
        .update_alias(
            "behave",
            "live",
            Some("2"),
            None,
            None,
            Some(&a.revision_id),
        )
        .unwrap();
    assert_eq!(b.function_version, "2");
    assert_ne!(b.revision_id, a.revision_id);
    assert_eq!(b.description, "prod", "kept when not given");
    // Missing alias: 404 to get and update, nothing to delete (as AWS).
    assert_eq!(v.alias("behave", "nope").unwrap_err().status(), 404);
    assert_eq!(
        v.update_alias("behave", "nope", None, None, None, None)
            .unwrap_err()
            .status(),
        404
    );
    v.delete_alias("behave", "nope").unwrap();
    // A version an alias uses cannot be deleted.
    let e = v.delete_version("behave", 2).unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(e.message().contains("[live]"), "{e}");
    // Publish preconditions.
    let e = v
        .publish("behave", None, Some("bm90IGl0"), None)
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidParameterValueException");
    assert!(
        e.message()
            .starts_with("CodeSHA256 (bm90IGl0) is different from current CodeSHA256 in $LATEST ("),
        "{e}"
    );
    let e = v.publish("behave", None, None, Some("stale")).unwrap_err();
    assert_eq!(e.status(), 412);
    let rev = v.latest_revision("behave").unwrap();
    assert_eq!(
        v.publish("behave", None, None, Some(&rev)).unwrap().version,
        2
    );
    // Unknown function and qualifiers.
    assert_eq!(
        v.publish("nobody", None, None, None).unwrap_err().status(),
        404
    );
    assert_eq!(v.resolve("behave", Some("9")).unwrap_err().status(), 404);
    assert_eq!(v.resolve("behave", Some("nope")).unwrap_err().status(), 404);
    assert_eq!(
        v.resolve("behave", Some("bad/one")).unwrap_err().status(),
        404
    );
}

#[test]
fn versions_and_aliases_survive_a_restart_and_a_damaged_file_is_kept() {
    let (t, dir, v, _src) = setup();
    v.publish("behave", Some("kept"), None, None).unwrap();
    v.create_alias("behave", "live", "1", None, &weights(&[]))
        .unwrap();
    drop(v);
    // A new runtime, as after a restart: the version is deployed again.
    let t2 = runtime();
    t2.runtime
        .deploy("behave", &sample("behave.wasm"), config("handler"))
        .unwrap();
    let (v2, problems) = Versions::open(t2.runtime.clone(), dir.path().join("versions"), None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v2.versions("behave")[0].description, "kept");
    let r = v2.resolve("behave", Some("live")).unwrap();
    let (c, _) = response(
        &t2,
        &r.key,
        r#"{"action":"context"}"#,
        &InvokeOptions::default(),
    );
    assert_eq!(c["functionVersion"], "1");
    drop(t);
    // Damaged: kept aside, reported, and the store starts empty.
    std::fs::write(dir.path().join("versions/versions.json"), b"{not json").unwrap();
    let (v3, problems) = Versions::open(t2.runtime.clone(), dir.path().join("versions"), None);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("damaged"));
    assert!(v3.versions("behave").is_empty());
    let kept = std::fs::read_dir(dir.path().join("versions"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("versions.json.corrupt-")
        });
    assert!(kept, "the damaged file is kept");
}

#[test]
fn a_javascript_function_publishes_versions_that_keep_their_code() {
    let t = runtime();
    let dir = TempDir::new("versions-js");
    let src = dir.path().join("fn");
    std::fs::create_dir_all(src.join("lib")).unwrap();
    std::fs::write(src.join("lib/word.js"), "module.exports = 'one';").unwrap();
    std::fs::write(
        src.join("index.js"),
        "exports.handler = async () => ({ word: require('./lib/word') });",
    )
    .unwrap();
    let config = lambdesk::model::FunctionConfig {
        runtime: lambdesk::model::Language::Javascript,
        handler: "index.handler".into(),
        ..Default::default()
    };
    t.runtime.deploy("js", &src, config.clone()).unwrap();
    let (v, _) = Versions::open(t.runtime.clone(), dir.path().join("versions"), None);
    assert_eq!(v.publish("js", None, None, None).unwrap().version, 1);
    // The folder changes: $LATEST runs the new code, version 1 the kept one.
    std::fs::write(src.join("lib/word.js"), "module.exports = 'two';").unwrap();
    t.runtime.deploy("js", &src, config).unwrap();
    let opts = InvokeOptions::default();
    assert_eq!(response(&t, "js", "{}", &opts).0["word"], "two");
    assert_eq!(response(&t, "js:1", "{}", &opts).0["word"], "one");
    assert_eq!(v.publish("js", None, None, None).unwrap().version, 2);
    assert_eq!(response(&t, "js:2", "{}", &opts).0["word"], "two");
}
