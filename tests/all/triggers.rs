//! The trigger host over the real samples: triggers started, changed,
//! disabled and removed while everything runs; queues keeping their messages
//! while their mapping is off; routes appearing and disappearing; folders
//! firing through the asynchronous queue; conflicts and bad settings refused
//! with a clear status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambdesk::host::async_queue::AsyncStep;
use lambdesk::host::{HostOptions, TriggerHost, TriggerStatus};
use lambdesk::model::trigger::PayloadFormat;
use lambdesk::model::{Trigger, TriggerSource};

use crate::common::{TempDir, TestRuntime, config, runtime_in, sample};
use crate::serve::http;

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A host on free ports with hello, behave and s3-object-info deployed; the
/// observer's (function, source) pairs are collected. The runtime's folder
/// lives as long as the host's test.
fn host(dir: &TempDir) -> (TriggerHost, Seen, TempDir) {
    let rt = runtime_in(TempDir::new("triggers-rt"));
    rt.runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    rt.runtime
        .deploy("behave", &sample("behave.wasm"), config("handler"))
        .unwrap();
    rt.runtime
        .deploy("s3", &sample("s3-object-info.wasm"), config("_start"))
        .unwrap();
    let seen: Seen = Arc::default();
    let mut options = HostOptions::new(dir.path().join("queue"));
    options.state_dir = Some(dir.path().join("state"));
    options.lambda_port = 0;
    options.sfn_port = 0;
    options.http_port = 0;
    let s = seen.clone();
    options.observer = Some(Arc::new(move |function, source, _, _| {
        s.lock()
            .unwrap()
            .push((function.to_owned(), source.to_owned()));
    }));
    let TestRuntime { runtime, dir } = rt;
    (
        lambdesk::api::start_host(runtime, options).unwrap(),
        seen,
        dir,
    )
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(host: &TriggerHost, id: &str) -> TriggerStatus {
    host.status(id).unwrap()
}

#[test]
fn a_disabled_queue_mapping_keeps_messages_until_it_is_enabled() {
    let dir = TempDir::new("triggers");
    let (host, seen, _rt) = host(&dir);
    let (_, source) = TriggerSource::parse_spec("queue", "jobs=behave").unwrap();
    let mut t = Trigger::new(source);
    assert!(host.apply("behave", std::slice::from_ref(&t)).is_empty());
    let s = status(&host, &t.id);
    assert!(s.running);
    assert_eq!(
        s.endpoint.as_deref(),
        Some(format!("http://{}/lambdesk/queues/jobs", host.lambda_addr()).as_str())
    );
    host.send_message("jobs", "one".into()).unwrap();
    wait_for("the first batch", || status(&host, &t.id).fired == 1);
    let last = status(&host, &t.id).last.unwrap();
    assert!(last.ok, "{last:?}");
    assert!(
        seen.lock()
            .unwrap()
            .contains(&("behave".to_owned(), t.id.clone())),
        "the observer hears which trigger invoked"
    );

    t.enabled = false;
    host.apply("behave", std::slice::from_ref(&t));
    // Over the Lambda API's port too, as a script would send it.
    let r = http(
        host.lambda_addr().port(),
        "POST",
        "/lambdesk/queues/jobs",
        &[],
        b"two",
    );
    assert_eq!(
        r.status, 200,
        "a disabled mapping's queue still takes messages"
    );
    std::thread::sleep(Duration::from_millis(600));
    let s = status(&host, &t.id);
    assert_eq!((s.fired, s.waiting, s.running), (1, Some(1), false));

    t.enabled = true;
    host.apply("behave", std::slice::from_ref(&t));
    wait_for("the waiting message", || {
        let s = status(&host, &t.id);
        s.fired == 2 && s.waiting == Some(0)
    });

    // New settings keep the waiting messages too.
    t.enabled = false;
    host.apply("behave", std::slice::from_ref(&t));
    host.send_message("jobs", "three".into()).unwrap();
    if let TriggerSource::Queue { batch_size, .. } = &mut t.source {
        *batch_size = 5;
    }
    t.enabled = true;
    host.apply("behave", std::slice::from_ref(&t));
    wait_for("the message kept through new settings", || {
        status(&host, &t.id).fired == 3
    });

    host.apply("behave", &[]);
    assert!(host.status(&t.id).is_none());
    assert!(host.send_message("jobs", "gone".into()).is_err());
}

#[test]
fn routes_come_and_go_while_the_http_api_runs_and_conflicts_are_refused() {
    let dir = TempDir::new("triggers");
    let (host, _, _rt) = host(&dir);
    let route = Trigger::new(TriggerSource::Http {
        method: "GET".into(),
        path: "/greet/{name}".into(),
        payload_format: PayloadFormat::V2,
    });
    assert!(host.apply("hello", std::slice::from_ref(&route)).is_empty());
    let port = host.http_addr().unwrap().port();
    assert_eq!(
        status(&host, &route.id).endpoint.as_deref(),
        Some(format!("http://127.0.0.1:{port}/greet/{{name}}").as_str())
    );
    let r = http(port, "GET", "/greet/ann", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Hello, world!");
    assert_eq!(status(&host, &route.id).fired, 1);

    // Another function cannot take the same route.
    let copy = Trigger::new(route.source.clone());
    let problems = host.apply("behave", std::slice::from_ref(&copy));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let error = status(&host, &copy.id).error.unwrap();
    assert!(
        error.contains(&format!("already used by trigger {} of hello", route.id)),
        "{error}"
    );

    host.apply("hello", &[]);
    assert_eq!(http(port, "GET", "/greet/ann", &[], b"").status, 404);
    // Freed, the route can be claimed by the other function.
    assert!(
        host.apply("behave", &[Trigger::new(route.source.clone())])
            .is_empty()
    );
}

#[test]
fn folders_fire_through_the_asynchronous_queue() {
    let dir = TempDir::new("triggers");
    let (host, seen, _rt) = host(&dir);
    let uploads = dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let t = Trigger::new(TriggerSource::Folder {
        dir: uploads.clone(),
        prefix: String::new(),
        suffix: ".txt".into(),
    });
    assert!(host.apply("s3", std::slice::from_ref(&t)).is_empty());
    std::fs::write(uploads.join("a.txt"), "hello").unwrap();
    wait_for("the object event's attempt", || {
        host.async_queue()
            .history_since(0)
            .iter()
            .any(|r| matches!(r.step, AsyncStep::Attempt { ok: true, .. }))
    });
    let history = host.async_queue().history_since(0);
    assert_eq!(history[0].step, AsyncStep::Accepted(t.id.clone()));
    assert!(
        status(&host, &t.id)
            .last
            .unwrap()
            .text
            .starts_with("queued as ")
    );
    assert!(
        seen.lock()
            .unwrap()
            .contains(&("s3".to_owned(), "async".to_owned())),
        "the queue's attempt is reported as asynchronous"
    );
    // Only the new records, by sequence number.
    let last = history.last().unwrap().seq;
    assert!(host.async_queue().history_since(last).is_empty());
}

#[test]
fn broken_triggers_say_why_and_schedules_show_their_next_firings() {
    let dir = TempDir::new("triggers");
    let (host, _, _rt) = host(&dir);
    let missing = Trigger::new(TriggerSource::Folder {
        dir: dir.path().join("nope"),
        prefix: String::new(),
        suffix: String::new(),
    });
    let schedule = Trigger::new(TriggerSource::Schedule {
        expression: "cron(0 12 ? * MON-FRI *)".into(),
    });
    let problems = host.apply("hello", &[missing.clone(), schedule.clone()]);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("is not a folder"), "{problems:?}");
    assert!(!status(&host, &missing.id).running);
    let s = status(&host, &schedule.id);
    assert!(s.running);
    assert_eq!(s.next.len(), 5);
    assert!(s.next.windows(2).all(|w| w[0] < w[1]));
    let disabled = Trigger {
        enabled: false,
        ..schedule.clone()
    };
    host.apply("hello", &[disabled]);
    assert!(status(&host, &schedule.id).next.is_empty());

    // A hand-edited workspace cannot aim a stream's folder outside its own:
    // the name is refused, and removing the trigger removes nothing.
    let sentinel = dir.path().join("state").join("keep.txt");
    std::fs::create_dir_all(sentinel.parent().unwrap()).unwrap();
    std::fs::write(&sentinel, "mine").unwrap();
    let bad: Trigger =
        serde_json::from_str(r#"{"id":"stream-bad","type":"stream","stream":".."}"#).unwrap();
    let problems = host.apply("hello", std::slice::from_ref(&bad));
    assert!(problems[0].contains("stream: 1–80 letters"), "{problems:?}");
    host.apply("hello", &[]);
    assert!(
        sentinel.exists(),
        "nothing outside the stream folders was removed"
    );
}

#[test]
fn serve_starts_the_workspaces_saved_triggers() {
    let dir = TempDir::new("serve-saved");
    let route = Trigger::new(TriggerSource::Http {
        method: "ANY".into(),
        path: "/saved".into(),
        payload_format: PayloadFormat::V2,
    });
    let ws = lambdesk::model::Workspace {
        version: 1,
        state_machines: Vec::new(),
        cpu_share: Default::default(),
        functions: vec![lambdesk::model::FunctionEntry {
            name: "hello".into(),
            code: sample("hello.wasm"),
            config: config("handler"),
            triggers: vec![route],
            ..Default::default()
        }],
    };
    ws.save(&dir.path().join("workspace.json")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args([
            "serve",
            "--lambda-port",
            "0",
            "--http-port",
            "0",
            "--sfn-port",
            "0",
            "--workspace",
        ])
        .arg(dir.path())
        .env("LAMBDESK_CACHE_DIR", dir.path().join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut http_port = None;
    let mut listed = false;
    for _ in 0..20 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("HTTP API listening on ") {
            http_port = url.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        }
        listed |= line.contains("API Gateway ANY /saved -> hello");
        if line.starts_with("functions:") {
            break;
        }
    }
    let port = http_port.expect("the saved route starts the HTTP API");
    assert!(listed, "the trigger is listed");
    let r = http(port, "POST", "/saved", &[], b"{}");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Hello, world!");
}

#[test]
fn the_command_line_sends_messages_and_records_to_a_running_host() {
    let dir = TempDir::new("triggers");
    let (host, _, _rt) = host(&dir);
    let (_, queue) = TriggerSource::parse_spec("queue", "jobs=behave").unwrap();
    let (_, stream) = TriggerSource::parse_spec("stream", "clicks=behave?shards=2").unwrap();
    // Disabled mappings: what is sent waits, so it can be counted.
    let triggers: Vec<Trigger> = [queue, stream]
        .into_iter()
        .map(|s| Trigger {
            enabled: false,
            ..Trigger::new(s)
        })
        .collect();
    assert!(host.apply("behave", &triggers).is_empty());
    let endpoint = format!("http://{}", host.lambda_addr());
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
            .args(args)
            .args(["--endpoint", &endpoint])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, id, _) = cli(&["queue", "send", "jobs", "hello from the shell"]);
    assert_eq!(code, Some(0));
    assert_eq!(id.len(), 36, "a message id: {id}");
    assert_eq!(cli(&["queue", "count", "jobs"]).1, "1");
    let (code, out, _) = cli(&[
        "stream",
        "put",
        "clicks",
        "data",
        "--partition-key",
        "user 1",
    ]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("shardId-"), "{out}");
    assert_eq!(host.status(&triggers[1].id).unwrap().waiting, Some(1));
    let (code, _, err) = cli(&["queue", "send", "nope", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no queue `nope`"), "{err}");
    let (code, _, err) = cli(&["stream", "put", "clicks", "no key"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("partitionKey"), "{err}");
    drop(host);
    let (code, _, err) = cli(&["queue", "count", "jobs"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("start `lambdesk serve` or the app"), "{err}");
}

#[test]
fn queues_and_streams_keep_their_messages_across_a_restart() {
    let dir = TempDir::new("triggers");
    let (_, queue) = TriggerSource::parse_spec("queue", "jobs=behave").unwrap();
    let (_, stream) = TriggerSource::parse_spec("stream", "clicks=behave?shards=2").unwrap();
    let mut triggers: Vec<Trigger> = [queue, stream]
        .into_iter()
        .map(|s| Trigger {
            enabled: false,
            ..Trigger::new(s)
        })
        .collect();
    {
        let (host, _, _rt) = host(&dir);
        assert!(host.apply("behave", &triggers).is_empty());
        for body in ["one", "two"] {
            host.send_message("jobs", body.into()).unwrap();
        }
        for key in ["a", "b", "c"] {
            host.put_record("clicks", Some(key), key.as_bytes().to_vec())
                .unwrap();
        }
    }
    let files = |kind: &str, name: &str| {
        std::fs::read_dir(dir.path().join("state").join(kind).join(name))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(
        (files("queues", "jobs"), files("streams", "clicks")),
        (2, 3)
    );

    // Restarted: what was sent is there, and is delivered once enabled.
    let (host, _, _rt) = host(&dir);
    assert!(host.apply("behave", &triggers).is_empty());
    assert_eq!(status(&host, &triggers[0].id).waiting, Some(2));
    assert_eq!(status(&host, &triggers[1].id).waiting, Some(3));
    for t in &mut triggers {
        t.enabled = true;
    }
    assert!(host.apply("behave", &triggers).is_empty());
    wait_for("everything delivered", || {
        status(&host, &triggers[0].id).waiting == Some(0)
            && status(&host, &triggers[1].id).waiting == Some(0)
    });
    wait_for("the files removed", || {
        files("queues", "jobs") == 0 && files("streams", "clicks") == 0
    });
    // Another record after the restart gets a later sequence number than
    // the stored ones had.
    let (_, seq) = host.put_record("clicks", Some("d"), b"d".to_vec()).unwrap();
    assert!(seq.parse::<u128>().unwrap() > 49_590_338_271_490_256_608_559_692_538_361_571_098);

    // Deleting the triggers deletes the queue and stream with their folders.
    host.apply("behave", &[]);
    assert!(!dir.path().join("state/queues/jobs").exists());
    assert!(!dir.path().join("state/streams/clicks").exists());
}

#[test]
fn a_trigger_aimed_at_an_alias_runs_the_aliased_version() {
    let dir = TempDir::new("triggers");
    let (host, _seen, _rt) = host(&dir);
    let v = host.versions();
    v.publish("behave", None, None, None).unwrap();
    v.create_alias("behave", "live", "1", None, &Default::default())
        .unwrap();
    let (_, source) = TriggerSource::parse_spec("queue", "jobs=behave").unwrap();
    let trigger = Trigger {
        qualifier: Some("live".into()),
        ..Trigger::new(source)
    };
    assert!(
        host.apply("behave", std::slice::from_ref(&trigger))
            .is_empty()
    );
    // A bad qualifier is refused with a clear status.
    let (_, other) = TriggerSource::parse_spec("queue", "other=behave").unwrap();
    let bad = Trigger {
        qualifier: Some("not/valid".into()),
        ..Trigger::new(other)
    };
    let problems = host.apply("behave", &[trigger.clone(), bad]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("qualifier `not/valid`"),
        "{problems:?}"
    );
    assert!(
        host.apply("behave", std::slice::from_ref(&trigger))
            .is_empty()
    );
    host.send_message("jobs", r#"{"action":"context"}"#.into())
        .unwrap();
    wait_for("the queue's invocation", || {
        host.status(&trigger.id).is_some_and(|s| s.fired > 0)
    });
    let s = host.status(&trigger.id).unwrap();
    assert_eq!(s.failed, 0, "{:?}", s.last);
    // The version's environment served it: $LATEST has none.
    assert_eq!(host.runtime().environments("behave:1").len(), 1);
    assert!(host.runtime().environments("behave").is_empty());
}
