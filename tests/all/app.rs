//! The real app driven through egui_kittest (no window, no GPU): loading the
//! samples, editing settings, templates, invoking cold and warm, invalid JSON,
//! timeouts, and a UI that keeps stepping while a function runs.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lambdesk::app::LambdeskApp;
use lambdesk::app::controller::Command;

use crate::common::TempDir;

fn harness(dir: &TempDir) -> Harness<'static, LambdeskApp> {
    let path = dir.path().to_owned();
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| LambdeskApp::new(cc, path, None).unwrap())
}

/// Steps frames until `done` holds; fails after `limit` with what it waited for.
fn step_until(
    h: &mut Harness<'_, LambdeskApp>,
    what: &str,
    limit: Duration,
    done: impl Fn(&Harness<'_, LambdeskApp>) -> bool,
) {
    let start = Instant::now();
    loop {
        h.step();
        if done(h) {
            return;
        }
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ready(h: &Harness<'_, LambdeskApp>, name: &str) -> bool {
    lambdesk::app::views::invoke_blocker(&h.state().controller, name).is_none()
}

fn select(h: &mut Harness<'_, LambdeskApp>, name: &str) {
    h.state_mut()
        .controller
        .handle(Command::Select(name.into()));
    step_until(h, name, Duration::from_secs(60), |h| ready(h, name));
}

fn has_label(h: &Harness<'_, LambdeskApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn samples_load_and_invoke_cold_then_warm() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    h.step();
    for name in [
        "hello",
        "sum",
        "s3-object-info",
        "counter",
        "behave",
        "http-request",
        "echo-wat",
        "ping-wat",
    ] {
        assert!(
            h.query_all_by_label(name).next().is_some(),
            "{name} is listed"
        );
    }
    select(&mut h, "hello");
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "the REPORT line", Duration::from_secs(30), |h| {
        has_label(h, "REPORT RequestId:")
    });
    assert!(has_label(&h, "Cold start"));
    assert!(
        has_label(&h, "\"Hello, Lambdesk!\""),
        "the response is shown"
    );
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "a warm start", Duration::from_secs(30), |h| {
        has_label(h, "Warm start")
    });
    assert_eq!(h.state().controller.records.len(), 2);
    // The workspace was written with the samples.
    step_until(
        &mut h,
        "the workspace file",
        Duration::from_secs(10),
        |_| dir.path().join("workspace.json").exists(),
    );
}

#[test]
fn memory_is_edited_applied_and_the_next_start_is_cold() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.get_by_label("Configuration").click();
    h.step();
    h.get_by_label("Memory (MB)").set_text_value_accesskit("64");
    h.step();
    h.step();
    assert!(
        has_label(&h, "64 is out of range; allowed 128–10240 MB"),
        "inline message"
    );
    h.get_by_label("Memory (MB)")
        .set_text_value_accesskit("512");
    h.step();
    h.step();
    assert!(has_label(&h, "applying makes the next start cold"));
    h.get_by_role_and_label(Role::Button, "Apply").click();
    step_until(&mut h, "the new memory", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .entry("hello")
            .unwrap()
            .config
            .memory_mb
            == 512
            && ready(h, "hello")
    });
    h.get_by_label("Test").click();
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "the invocation", Duration::from_secs(30), |h| {
        !h.state().controller.records.is_empty()
    });
    let record = &h.state().controller.records[0];
    let inv = record.result.as_ref().unwrap();
    assert_eq!(inv.report.memory_size_mb, 512);
    assert_eq!(inv.start, lambdesk::runtime::StartKind::Cold);
}

#[test]
fn event_from_template_and_invalid_json_disables_invoke() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "s3-object-info");
    h.get_by_label("New from template…").click();
    h.step();
    h.step();
    h.query_all_by_label("sqs")
        .next()
        .expect("the sqs template in the menu")
        .click();
    h.step();
    let entry = h
        .state()
        .controller
        .entry("s3-object-info")
        .unwrap()
        .clone();
    let event = &entry.events[entry.selected_event];
    assert_eq!(event.name, "sqs");
    assert!(event.body.contains("aws:sqs"));

    let i = entry.selected_event;
    h.state_mut().controller.handle(Command::EditEvent(
        "s3-object-info".into(),
        i,
        "{\n  \"a\": 1,\n  \"b\" 2\n}".into(),
    ));
    h.step();
    h.step();
    assert!(has_label(
        &h,
        "Invalid JSON at line 3, column 7: expected `:`"
    ));
    assert!(has_label(
        &h,
        "Invoke is disabled: The event is not valid JSON (line 3, column 7"
    ));
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    for _ in 0..5 {
        h.step();
    }
    assert!(
        h.state().controller.records.is_empty(),
        "a disabled Invoke does nothing"
    );
    assert!(h.state().controller.running.is_empty());
}

#[test]
fn timeout_is_shown_and_frames_keep_stepping_while_running() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "behave");
    let mut config = h.state().controller.entry("behave").unwrap().config.clone();
    config.timeout_s = 1;
    h.state_mut()
        .controller
        .handle(Command::ApplyConfig("behave".into(), config));
    h.state_mut().controller.handle(Command::EditEvent(
        "behave".into(),
        0,
        r#"{"action":"sleep","ms":4000}"#.into(),
    ));
    step_until(&mut h, "the redeploy", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .entry("behave")
            .unwrap()
            .config
            .timeout_s
            == 1
            && ready(h, "behave")
    });
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    // While the function sleeps, frames complete and show progress: the UI
    // thread never waits for the invocation.
    for _ in 0..5 {
        h.step();
    }
    assert!(
        !h.state().controller.running.is_empty(),
        "still running after 5 frames"
    );
    assert!(has_label(&h, "Running "), "elapsed time is shown");
    assert!(h.query_by_role_and_label(Role::Button, "Cancel").is_some());
    step_until(&mut h, "the timeout", Duration::from_secs(20), |h| {
        has_label(h, "Task timed out after 1.00 seconds")
    });
}

#[test]
fn corrupted_workspace_is_kept_and_reported() {
    let dir = TempDir::new("app");
    std::fs::write(dir.path().join("workspace.json"), "{ this is not json").unwrap();
    let mut h = harness(&dir);
    h.step();
    assert!(has_label(&h, "the workspace file is damaged"));
    let backups: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("workspace.json.corrupt-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        "{ this is not json"
    );
    assert!(
        h.query_all_by_label("hello").next().is_some(),
        "the samples are there to work with"
    );
}

#[test]
fn triggers_tab_adds_a_queue_sends_a_message_disables_it_and_queues_an_event() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "echo-wat");
    h.get_by_label("Triggers").click();
    h.step();
    assert!(has_label(&h, "No trigger yet"));
    h.get_by_label("Add trigger").click();
    h.step();
    h.step();
    h.get_by_label("Queue (SQS)").click();
    h.step();
    h.get_by_label("Queue name")
        .set_text_value_accesskit("bad name");
    h.step();
    h.step();
    assert!(has_label(&h, "letters, digits, - and _"), "inline error");
    h.get_by_label("Queue name")
        .set_text_value_accesskit("orders");
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "Add").click();
    step_until(
        &mut h,
        "the queue's endpoint",
        Duration::from_secs(20),
        |h| has_label(h, "/lambdesk/queues/orders"),
    );
    h.get_by_label("Message")
        .set_text_value_accesskit("hello queue");
    h.step();
    h.get_by_role_and_label(Role::Button, "Send message")
        .click();
    step_until(
        &mut h,
        "the batch's invocation",
        Duration::from_secs(30),
        |h| {
            h.state().controller.records.iter().any(|r| {
                r.function == "echo-wat"
                    && r.source.as_deref().is_some_and(|s| s.starts_with("queue-"))
            })
        },
    );
    step_until(&mut h, "the last firing", Duration::from_secs(10), |h| {
        has_label(h, "1 fired, 0 failed")
    });
    // Disabled, and saved so.
    h.get_by_label("Enabled").click();
    step_until(&mut h, "the saved trigger", Duration::from_secs(10), |_| {
        std::fs::read_to_string(dir.path().join("workspace.json"))
            .is_ok_and(|t| t.contains("\"queue\": \"orders\"") && t.contains("\"enabled\": false"))
    });

    // Edited, it stays disabled.
    h.get_by_label("Edit").click();
    h.step();
    h.step();
    h.get_by_label("Batch size").set_value_accesskit(25.0);
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "Save").click();
    step_until(
        &mut h,
        "the edited trigger",
        Duration::from_secs(10),
        |_| {
            std::fs::read_to_string(dir.path().join("workspace.json"))
                .is_ok_and(|t| t.contains("\"batch_size\": 25") && t.contains("\"enabled\": false"))
        },
    );

    // An Event invocation of the selected test event, on the timeline.
    h.get_by_role_and_label(Role::Button, "Send test event as Event")
        .click();
    step_until(&mut h, "the async attempt", Duration::from_secs(30), |h| {
        h.state().controller.async_history.iter().any(|r| {
            r.function == "echo-wat"
                && matches!(r.step, lambdesk::host::async_queue::AsyncStep::Finished { ref condition, .. } if condition == "Success")
        })
    });
    assert!(has_label(&h, "Timeline of the last 1 event(s)"));
    // Its attempt ran under the id the 202 gave, as in Lambda; the outcome's
    // link shows that request's log lines.
    let id = h.state().controller.async_history[0].id.clone();
    assert!(h.state().controller.records.iter().any(|r| {
        r.source.as_deref() == Some("async")
            && r.result.as_ref().is_ok_and(|inv| inv.request_id == id)
    }));
    step_until(&mut h, "the outcome", Duration::from_secs(10), |h| {
        has_label(h, "Outcomes (newest first)")
    });
    h.get_by_label(&id).click();
    h.step();
    h.step();
    assert_eq!(
        h.state().ui.log_filter.request_id.as_deref(),
        Some(id.as_str())
    );
}

#[test]
fn a_logging_function_never_waits_for_the_console() {
    // The UI thread takes log lines when it draws a frame. A function that
    // logs more than the inbox holds while no frame runs is not held up: the
    // excess is dropped, counted and reported once frames run again.
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "behave");
    // Every sample deployed first: the JavaScript ones prepare and compile
    // their runtime on a fresh machine, which would take the CPU this
    // function's timed run needs.
    step_until(&mut h, "every sample", Duration::from_secs(240), |h| {
        let c = &h.state().controller;
        c.workspace.functions.iter().all(|f| ready(h, &f.name))
    });
    let runtime = h.state().controller.runtime.clone();
    // Full speed: 70,000 lines at 128 MB's CPU share would pass the timeout;
    // and a timeout with room for the other tests' load (this is about
    // lines, not time).
    runtime.set_cpu_share(lambdesk::model::CpuShare::Off);
    let (code, mut config) = {
        let c = &h.state().controller;
        let entry = c.entry("behave").unwrap();
        (c.code_path(entry), entry.config.clone())
    };
    config.timeout_s = 120;
    runtime.deploy("behave", &code, config).unwrap();
    let lines = lambdesk::app::controller::LOG_INBOX_LINES + 5_000;
    let event = format!(r#"{{"action":"log","lines":{lines}}}"#);
    let inv = runtime.invoke("behave", event.as_bytes()).unwrap();
    assert!(inv.error().is_none(), "{:?}", inv.error());
    let dropped_line = |h: &Harness<'_, LambdeskApp>| {
        let logs = &h.state().controller.logs;
        (0..logs.matching_len())
            .rev()
            .filter_map(|i| logs.matching_entry(i))
            .find(|e| e.text.contains("log line(s) were dropped"))
            .map(|e| e.text.clone())
    };
    step_until(
        &mut h,
        "the dropped-lines notice",
        Duration::from_secs(30),
        |h| dropped_line(h).is_some(),
    );
    let text = dropped_line(&h).unwrap();
    let dropped: usize = text.split(' ').next().unwrap().parse().unwrap();
    // The function's lines plus START, END and REPORT: kept or counted.
    assert!(
        dropped >= lines + 3 - lambdesk::app::controller::LOG_INBOX_LINES,
        "{text}"
    );
    assert!(text.ends_with("the console fell behind the functions writing them"));
}

#[test]
fn power_tuning_runs_shows_progress_and_applies_the_recommendation() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "behave");
    h.state_mut().controller.handle(Command::EditEvent(
        "behave".into(),
        0,
        r#"{"action":"work","units":3}"#.into(),
    ));
    {
        let ui = &mut h.state_mut().ui;
        ui.tab = lambdesk::app::Tab::Tuning;
        ui.live.tuning.sizes = "128, 1769, 3008".into();
        ui.live.tuning.invocations = 5;
        ui.live.tuning.strategy = 1; // speed
    }
    h.step();
    h.get_by_role_and_label(Role::Button, "Start tuning")
        .click();
    h.step();
    assert!(h.state().controller.tuning.is_some(), "the run started");
    h.step();
    assert!(has_label(&h, "of 15 invocations"), "progress is shown");
    assert!(h.query_by_role_and_label(Role::Button, "Cancel").is_some());
    step_until(&mut h, "the recommendation", Duration::from_secs(60), |h| {
        has_label(h, "Recommended (speed): ")
    });
    assert!(has_label(&h, "out of memory") || has_label(&h, "ok"));
    let report = &h.state().controller.tuning_results["behave"];
    assert_eq!(report.sizes.len(), 3);
    let best = report.recommended.unwrap();
    assert!(
        best == 1769 || best == 3008,
        "speed picks a full CPU: {best}"
    );
    h.get_by_role_and_label(Role::Button, &format!("Apply {best} MB"))
        .click();
    step_until(&mut h, "the new memory", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .entry("behave")
            .unwrap()
            .config
            .memory_mb
            == best
    });
}

#[test]
fn without_a_native_dialog_the_in_app_browser_adds_a_function() {
    // No XDG portal (the case here and on many desktops): Add function opens
    // the app's own file browser at once, with no error, and its pick is added.
    let dir = TempDir::new("app");
    let code = dir.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(crate::common::sample("hello.wasm"), code.join("mine.wasm")).unwrap();
    std::fs::write(code.join("notes.txt"), "not a module").unwrap();
    let mut h = harness(&dir);
    h.step();
    h.state_mut().controller.native_dialogs = lambdesk::app::controller::NativeDialogs::Missing;
    h.get_by_role_and_label(Role::Button, "Add function…")
        .click();
    h.step();
    h.step();
    assert!(
        h.state().file_dialog.is_some(),
        "the in-app browser is open"
    );
    assert!(h.state().controller.notices.iter().all(|n| !n.is_error));
    h.state_mut()
        .file_dialog
        .as_mut()
        .unwrap()
        .1
        .set_path(&code);
    h.step();
    assert!(has_label(&h, "mine.wasm"));
    assert!(
        !has_label(&h, "notes.txt"),
        "only .wasm, .wat and .zip are listed"
    );
    h.query_all_by_label_contains("mine.wasm")
        .next()
        .unwrap()
        .click();
    h.step();
    h.get_by_role_and_label(Role::Button, "Open").click();
    step_until(&mut h, "the new function", Duration::from_secs(30), |h| {
        h.state().controller.entry("mine").is_some()
    });
    assert!(h.state().file_dialog.is_none());
    assert!(h.state().controller.in_app_dialog.is_none());
    // Cancelling closes it and adds nothing.
    h.state_mut()
        .controller
        .handle(Command::OpenWorkspaceDialog);
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.step();
    h.step();
    assert!(h.state().controller.in_app_dialog.is_none());
}

#[test]
fn the_test_tab_keeps_its_own_result_when_something_else_invokes() {
    // The console's result stays; an asynchronous invocation (as a trigger
    // or the API makes) goes to Monitor and is counted beside it. Invoking
    // clears a request filter that would hide the new logs.
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.state_mut().ui.log_filter.request_id = Some("some-old-request".into());
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(
        &mut h,
        "the console's result",
        Duration::from_secs(30),
        |h| h.state().controller.running.is_empty() && !h.state().controller.records.is_empty(),
    );
    assert!(
        h.state().ui.log_filter.request_id.is_none(),
        "the old request filter is gone"
    );
    let mine = h.state().controller.records.last().unwrap().id;
    h.state_mut()
        .controller
        .handle(Command::InvokeAsync("hello".into()));
    step_until(
        &mut h,
        "the async invocation",
        Duration::from_secs(30),
        |h| {
            h.state()
                .controller
                .records
                .iter()
                .any(|r| r.source.is_some())
        },
    );
    h.step();
    let (shown, others) = h.state().controller.last_console_record("hello", None);
    assert_eq!(shown.map(|r| r.id), Some(mine));
    assert_eq!(others, 1);
    assert!(has_label(
        &h,
        "1 invocation(s) by triggers or the API since"
    ));
}

#[test]
fn a_run_of_n_ends_with_counts_percentiles_and_its_failures() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "behave");
    h.state_mut().controller.handle(Command::EditEvent(
        "behave".into(),
        0,
        r#"{"action":"error"}"#.into(),
    ));
    h.state_mut().ui.invoke_times = 4;
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke ×4").click();
    step_until(&mut h, "the run", Duration::from_secs(30), |h| {
        h.state().controller.running.is_empty() && h.state().controller.records.len() >= 4
    });
    h.step();
    assert!(has_label(&h, "Run of 4"));
    assert!(has_label(&h, "4 failed"));
    assert!(has_label(&h, "0 throttled"));
    h.get_by_role_and_label(Role::Button, "Show first failure")
        .click();
    h.step();
    h.step();
    let first = h
        .state()
        .controller
        .records
        .iter()
        .find(|r| r.batch.is_some())
        .unwrap()
        .id;
    assert_eq!(h.state().ui.live.shown_record, Some(first));
    assert!(has_label(&h, "BehaveError"));
    // A run that succeeds: percentiles and the histogram's axis.
    h.state_mut().controller.handle(Command::EditEvent(
        "behave".into(),
        0,
        r#"{"action":"echo"}"#.into(),
    ));
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke ×4").click();
    step_until(&mut h, "the second run", Duration::from_secs(30), |h| {
        h.state().controller.running.is_empty() && h.state().controller.records.len() >= 8
    });
    h.step();
    assert!(has_label(&h, "4 succeeded"));
    assert!(has_label(&h, "Duration p50 "));
    assert!(
        h.state().ui.live.shown_record.is_none(),
        "a new run shows its own result"
    );
}

/// The Monitor's numbers for `name` over the session.
fn totals(h: &Harness<'_, LambdeskApp>, name: &str) -> lambdesk::app::metrics::Period {
    h.state().controller.metrics.totals(
        name,
        lambdesk::app::metrics::Window::Session,
        chrono::Utc::now(),
    )
}

#[test]
fn monitor_numbers_match_the_invocations_made() {
    // Three successes, two function errors and one throttle (reserved
    // concurrency 1, two at once): the Monitor counts what was made.
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "behave");
    let run = |h: &mut Harness<'_, LambdeskApp>, body: &str, times, parallel| {
        let before = h.state().controller.records.len();
        h.state_mut()
            .controller
            .handle(Command::EditEvent("behave".into(), 0, body.into()));
        h.state_mut().controller.handle(Command::Invoke {
            function: "behave".into(),
            times,
            parallel,
        });
        step_until(h, body, Duration::from_secs(30), |h| {
            h.state().controller.running.is_empty()
                && h.state().controller.records.len() >= before + times * parallel
        });
    };
    run(&mut h, r#"{"action":"echo"}"#, 3, 1);
    run(&mut h, r#"{"action":"error"}"#, 2, 1);
    let mut config = h.state().controller.entry("behave").unwrap().config.clone();
    config.reserved_concurrency = Some(1);
    h.state_mut()
        .controller
        .handle(Command::ApplyConfig("behave".into(), config));
    step_until(&mut h, "the redeploy", Duration::from_secs(30), |h| {
        ready(h, "behave")
            && h.state()
                .controller
                .runtime
                .config("behave")
                .unwrap()
                .reserved_concurrency
                == Some(1)
    });
    run(&mut h, r#"{"action":"sleep","ms":300}"#, 1, 2);
    let t = totals(&h, "behave");
    assert_eq!(t.invocations, 6, "3 + 2 + the one of two that ran");
    assert_eq!(t.errors, 2);
    assert_eq!(t.throttles, 1);
    assert_eq!(t.cold_starts, 2, "the first and the one after the redeploy");
    assert_eq!(t.init.count(), 2);
    assert!((t.success_rate() - 400.0 / 6.0).abs() < 1e-9);
    // Percentiles agree with the records within the histogram's 1 %.
    let mut durations: Vec<f64> = h
        .state()
        .controller
        .records
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .map(|i| i.report.duration_ms)
        .collect();
    durations.sort_by(f64::total_cmp);
    let exact = lambdesk::runtime::report::percentile(&durations, 50.0);
    let got = t.duration.percentile(50.0);
    assert!((got - exact).abs() <= exact * 0.011, "p50 {got} vs {exact}");
    assert_eq!(t.duration.max_ms(), *durations.last().unwrap());
    // The same numbers on screen, and after switching functions and back.
    h.get_by_label("Monitor").click();
    h.step();
    h.step();
    assert!(has_label(&h, "Invocations"));
    assert!(has_label(&h, "66.7 %"), "success rate shown");
    select(&mut h, "hello");
    select(&mut h, "behave");
    h.step();
    assert_eq!(totals(&h, "behave").invocations, 6, "kept across switches");
    assert!(has_label(&h, "66.7 %"));
}

#[test]
fn background_changes_wake_the_ui_without_input() {
    // An event accepted by the asynchronous queue from another thread (as the
    // Lambda API does) wakes the UI by itself; one frame takes it in.
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    // Let the app go idle: no repaint pending.
    for _ in 0..5 {
        h.step();
    }
    let host = h.state().controller.triggers.clone().unwrap();
    let before = h.state().controller.async_history.len();
    std::thread::Builder::new()
        .name("test-api-client".into())
        .spawn(move || {
            host.async_queue()
                .accept_from("hello", br#"{"from":"elsewhere"}"#, "api")
                .unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    let start = Instant::now();
    while !h.ctx.has_requested_repaint() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the queue never woke the UI"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
    assert!(
        h.state().controller.async_history.len() > before,
        "one frame after the wake, the timeline has the event"
    );
}

#[test]
fn text_colours_pass_a_contrast_check_in_both_themes() {
    use lambdesk::app::theme;
    for (dark, visuals) in [
        (true, egui::Visuals::dark()),
        (false, egui::Visuals::light()),
    ] {
        for background in [
            visuals.panel_fill,
            visuals.window_fill,
            visuals.extreme_bg_color,
        ] {
            for (name, colour) in theme::text_colours(dark) {
                let ratio = theme::contrast(colour, background);
                assert!(
                    ratio >= 4.5,
                    "{name} on {background:?} ({}) is {ratio:.2}:1",
                    if dark { "dark" } else { "light" }
                );
            }
        }
    }
    // The check itself: black on white is 21:1, a colour on itself 1:1.
    assert!((theme::contrast(egui::Color32::BLACK, egui::Color32::WHITE) - 21.0).abs() < 0.01);
    assert!((theme::contrast(theme::WARM, theme::WARM) - 1.0).abs() < 1e-9);
    // The old pale warm badge on the light theme failed it.
    assert!(theme::contrast(theme::WARM, egui::Visuals::light().panel_fill) < 4.5);
}

#[test]
fn a_notice_does_not_move_the_controls() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.step();
    let before = h.get_by_role_and_label(Role::Button, "Invoke").rect();
    // A file that is not a module makes an error notice.
    h.state_mut()
        .controller
        .handle(Command::AddFunctions(vec![dir.path().join("notes.txt")]));
    h.step();
    h.step();
    assert!(!h.state().controller.notices.is_empty());
    assert!(has_label(&h, "Dismiss"));
    let after = h.get_by_role_and_label(Role::Button, "Invoke").rect();
    assert_eq!(before, after, "Invoke stays where it was");
}

#[test]
fn log_filters_show_as_chips_and_a_request_opens_its_log_output() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "the result", Duration::from_secs(30), |h| {
        h.state().controller.running.is_empty() && !h.state().controller.records.is_empty()
    });
    h.step();
    let id = h.state().controller.records[0]
        .result
        .as_ref()
        .unwrap()
        .request_id
        .clone();
    // The Test tab's log output has the invocation's REPORT line.
    assert!(has_label(&h, "Log output"));
    assert!(has_label(&h, &format!("REPORT RequestId: {id}")));
    // REPORT reads whole in the log panel: its fields, not cut off.
    assert!(has_label(&h, "REPORT Duration "));
    // A filter the user did not type is a visible chip; clicking removes it.
    h.state_mut().ui.log_filter.request_id = Some(id.clone());
    h.step();
    h.step();
    let chip = format!("request: {}…  ×", &id[..8]);
    h.get_by_role_and_label(Role::Button, &chip).click();
    h.step();
    assert!(h.state().ui.log_filter.request_id.is_none());
    // A history row opens the per-request window.
    h.get_by_label("Monitor").click();
    h.step();
    // The history is below the charts (under the log panel at this size):
    // clicked the way a screen reader clicks it.
    h.query_all_by_label_contains(" · ok")
        .next()
        .expect("a history row")
        .click_accesskit();
    h.step();
    h.step();
    assert_eq!(h.state().ui.live.request_view.as_deref(), Some(id.as_str()));
    assert!(has_label(&h, &format!("Request {id}")));
}

#[test]
fn dry_run_checks_without_running_and_event_queues() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.state_mut().ui.invocation_type = lambdesk::app::state::InvocationType::DryRun;
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    h.step();
    h.step();
    assert!(has_label(&h, "DryRun: 204 No Content"));
    assert!(h.state().controller.records.is_empty(), "nothing ran");
    // A bad payload is refused as the Invoke API refuses it.
    h.state_mut()
        .controller
        .handle(Command::EditEvent("hello".into(), 0, "{not json".into()));
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    h.step();
    h.step();
    assert!(has_label(&h, "InvalidRequestContentException"));
    h.state_mut()
        .controller
        .handle(Command::EditEvent("hello".into(), 0, "{}".into()));
    h.state_mut().ui.invocation_type = lambdesk::app::state::InvocationType::Event;
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(
        &mut h,
        "the queued event ran",
        Duration::from_secs(30),
        |h| {
            h.state()
                .controller
                .records
                .iter()
                .any(|r| r.source.as_deref() == Some("async"))
        },
    );
    assert!(has_label(&h, "202 Accepted"));
}

#[test]
fn the_code_tab_shows_lambdas_code_sha256_and_the_exports() {
    use base64::Engine;
    use sha2::Digest;
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    h.get_by_label("Code").click();
    h.step();
    h.step();
    let entry = h.state().controller.entry("hello").unwrap().clone();
    let bytes = std::fs::read(h.state().controller.code_path(&entry)).unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    assert!(has_label(&h, &sha), "CodeSha256 {sha} shown");
    assert!(has_label(&h, "handler (func)"));
    assert!(has_label(&h, "wasi_snapshot_preview1.fd_write (func)"));
    assert!(has_label(&h, "Reveal in folder"));
}

#[test]
fn versions_tab_publishes_and_a_weighted_alias_splits_invocations() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "hello");
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    let published = |h: &Harness<'_, LambdeskApp>| {
        h.state()
            .controller
            .versions_of("hello")
            .map_or(0, |f| f.versions.len())
    };
    h.get_by_label("Versions").click();
    h.step();
    h.get_by_role_and_label(Role::Button, "Publish new version")
        .click();
    step_until(&mut h, "version 1", Duration::from_secs(30), |h| {
        published(h) == 1
    });
    // A second version after a settings change.
    let mut config = h.state().controller.entry("hello").unwrap().config.clone();
    config.memory_mb = 256;
    h.state_mut()
        .controller
        .handle(Command::ApplyConfig("hello".into(), config));
    step_until(&mut h, "the redeploy", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .runtime
            .config("hello")
            .unwrap()
            .memory_mb
            == 256
    });
    h.get_by_role_and_label(Role::Button, "Publish new version")
        .click();
    step_until(&mut h, "version 2", Duration::from_secs(30), |h| {
        published(h) == 2
    });
    assert!(has_label(&h, "Versions (2)"));
    // An alias through the editor: 50 % to version 1, 50 % to version 2.
    h.get_by_role_and_label(Role::Button, "Create alias…")
        .click();
    h.step();
    {
        let form = h.state_mut().ui.live.versions.alias.as_mut().unwrap();
        form.name = "live".into();
        form.version = "1".into();
        form.routed = true;
        form.routing_version = "2".into();
        form.percent = 50.0;
    }
    h.step();
    assert!(has_label(
        &h,
        "50 % of invocations run version 1, 50 % run version 2"
    ));
    h.get_by_role_and_label(Role::Button, "Save").click();
    step_until(&mut h, "the alias", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .versions_of("hello")
            .is_some_and(|f| f.aliases.contains_key("live"))
    });
    assert!(has_label(&h, "50 % to 1, 50 % to 2"));
    // Invoked through the alias, both versions run.
    h.state_mut()
        .controller
        .handle(Command::SetQualifier("hello".into(), Some("live".into())));
    h.state_mut().controller.handle(Command::Invoke {
        function: "hello".into(),
        times: 40,
        parallel: 1,
    });
    step_until(&mut h, "the run", Duration::from_secs(60), |h| {
        h.state().controller.running.is_empty() && h.state().controller.records.len() >= 40
    });
    let ran = |v: &str| {
        h.state()
            .controller
            .records
            .iter()
            .filter(|r| r.result.as_ref().is_ok_and(|i| i.version == v))
            .count()
    };
    assert_eq!(ran("1") + ran("2"), 40);
    assert!(
        ran("1") > 0 && ran("2") > 0,
        "{} and {}",
        ran("1"),
        ran("2")
    );
    h.get_by_label("Monitor").click();
    h.step();
    h.step();
    assert!(has_label(&h, "By executed version"));
    // A published version's settings are read-only.
    h.get_by_label("Configuration").click();
    h.step();
    h.step();
    assert!(has_label(&h, "Version 1 is published"));
    h.get_by_role_and_label(Role::Button, "Edit $LATEST")
        .click();
    h.step();
    assert_eq!(h.state().controller.qualifier("hello"), None);
}

#[test]
fn a_function_created_through_the_lambda_api_appears_and_is_saved() {
    use base64::Engine;
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    let endpoint = format!(
        "http://{}",
        h.state()
            .controller
            .triggers
            .as_ref()
            .unwrap()
            .lambda_addr()
    );
    let wasm = std::fs::read(crate::common::sample("hello.wasm")).unwrap();
    let body = serde_json::json!({
        "FunctionName": "from-api",
        "Runtime": "provided.al2023",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Handler": "handler",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(&wasm) },
    });
    // The API answers without waiting for a frame (none runs meanwhile).
    let reply = lambdesk::api::client::request(
        &endpoint,
        "POST",
        "/2015-03-31/functions",
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    step_until(
        &mut h,
        "the new function listed",
        Duration::from_secs(10),
        |h| has_label(h, "from-api"),
    );
    assert!(ready(&h, "from-api"), "deployed and ready to invoke");
    step_until(
        &mut h,
        "the workspace saved",
        Duration::from_secs(10),
        |_| {
            std::fs::read_to_string(dir.path().join("workspace.json"))
                .is_ok_and(|t| t.contains("from-api"))
        },
    );
    // Deleted through the API: gone from the list.
    let reply =
        lambdesk::api::client::request(&endpoint, "DELETE", "/2015-03-31/functions/from-api", b"")
            .unwrap();
    assert_eq!(reply.status, 204);
    step_until(&mut h, "the function gone", Duration::from_secs(10), |h| {
        h.state().controller.entry("from-api").is_none()
    });
}

#[test]
fn outbound_grants_are_edited_and_denials_are_listed_and_filtered() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    select(&mut h, "http-request");
    h.get_by_label("Configuration").click();
    h.step();
    h.get_by_label("Outbound HTTP, one destination per line")
        .set_text_value_accesskit("ftp://example.com\nhttps://exa*mple.com");
    h.step();
    h.step();
    // Every wrong line says what is wrong, at once.
    assert!(has_label(
        &h,
        "`ftp://example.com`: the scheme must be http, https or *, not `ftp`"
    ));
    assert!(has_label(
        &h,
        "`https://exa*mple.com`: `exa*mple.com`: a wildcard is"
    ));
    h.get_by_label("Outbound HTTP, one destination per line")
        .set_text_value_accesskit("https://api.example.com\n\n");
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "Apply").click();
    step_until(&mut h, "the grant applied", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .entry("http-request")
            .unwrap()
            .config
            .role
            .outbound
            == ["https://api.example.com"]
            && ready(h, "http-request")
    });
    // The sample's event calls a host the grant does not name.
    h.get_by_label("Test").click();
    h.step();
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "the denial", Duration::from_secs(30), |h| {
        totals(h, "http-request").denied == 1
    });
    h.get_by_label("Monitor").click();
    h.step();
    assert!(has_label(&h, "Denied outbound requests (newest first)"));
    assert!(has_label(
        &h,
        "GET https://checkip.amazonaws.com:443/ not in the role's outbound grants"
    ));
    h.get_by_role_and_label(Role::Button, "Show in the log")
        .click();
    h.step();
    let filter = &h.state().ui.log_filter;
    assert_eq!(filter.function.as_deref(), Some("http-request"));
    assert_eq!(filter.level, lambdesk::app::log_store::LevelFilter::Denied);
    // The log shows the line, at its own level.
    h.step();
    assert!(has_label(&h, "DENIED"));
}

#[test]
fn a_state_machine_from_a_blueprint_validates_runs_and_colours_its_graph() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    let choice = lambdesk::model::states::blueprints::BLUEPRINTS
        .iter()
        .position(|b| b.name == "choice")
        .unwrap();
    h.state_mut().controller.handle(Command::NewMachine(choice));
    h.step();
    assert!(has_label(&h, "Definition: valid"));
    // The graph has the blueprint's states (each a clickable box).
    for state in ["Add", "Big or small?", "Big", "Small"] {
        assert!(has_label(&h, state), "{state} on the graph");
    }
    // A broken definition lists its problem at its line; the last valid one stays.
    let text = h
        .state()
        .controller
        .machine("choice")
        .unwrap()
        .definition
        .clone();
    h.state_mut().controller.handle(Command::EditDefinition(
        "choice".into(),
        text.replace("\"Default\": \"Small\"", "\"Default\": \"Nowhere\""),
    ));
    h.step();
    h.step();
    assert!(
        has_label(
            &h,
            "/States/Big or small?/Default: 'Nowhere' is not a state of this machine"
        ),
        "the problem is listed"
    );
    assert!(has_label(&h, "line "), "with its line");
    // The missing target, and "Small" no longer reachable.
    assert_eq!(h.state().controller.machine_status["choice"].problems, 2);
    assert!(has_label(&h, "invalid"), "the list says so");
    h.state_mut()
        .controller
        .handle(Command::EditDefinition("choice".into(), text));
    h.step();
    // Run it: 70 + 50 is big.
    h.get_by_role_and_label(Role::Button, "Start execution")
        .click();
    h.step();
    step_until(&mut h, "the execution", Duration::from_secs(30), |h| {
        let c = &h.state().controller;
        c.triggers.as_ref().is_some_and(|t| {
            t.state_machines()
                .executions_of("choice")
                .first()
                .is_some_and(|e| e.status() == lambdesk::host::states::Status::Succeeded)
        })
    });
    h.step();
    h.step();
    assert!(has_label(&h, "SUCCEEDED"));
    let status = h.state().controller.machine_status["choice"];
    assert_eq!(
        (status.problems, status.running),
        (0, 0),
        "recounted when it ended"
    );
    assert!(
        has_label(&h, "Log output"),
        "a task links to its invocation's logs"
    );
    // The task's invocation is in the function's history, by `states`.
    step_until(&mut h, "the history record", Duration::from_secs(10), |h| {
        h.state()
            .controller
            .records
            .iter()
            .any(|r| r.function == "sum" && r.source.as_deref() == Some("states"))
    });
    let progress = {
        let c = &h.state().controller;
        let e = c
            .triggers
            .as_ref()
            .unwrap()
            .state_machines()
            .executions_of("choice")[0]
            .record();
        lambdesk::app::states_graph::progress(&e.events)
    };
    use lambdesk::app::states_graph::Progress;
    assert_eq!(progress.get("Add"), Some(&Progress::Succeeded));
    assert_eq!(progress.get("Big"), Some(&Progress::Succeeded));
    assert_eq!(progress.get("Small"), None);
    // Saved with the workspace.
    h.state_mut().controller.save_now().unwrap();
    let saved = lambdesk::model::Workspace::load(&dir.path().join("workspace.json"))
        .expect("the saved workspace loads back")
        .unwrap();
    assert_eq!(saved.state_machines[0].name, "choice");
}

#[test]
fn a_state_machine_keeps_several_saved_inputs() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    step_until(&mut h, "the trigger host", Duration::from_secs(30), |h| {
        h.state().controller.triggers.is_some()
    });
    let choice = lambdesk::model::states::blueprints::BLUEPRINTS
        .iter()
        .position(|b| b.name == "choice")
        .unwrap();
    h.state_mut().controller.handle(Command::NewMachine(choice));
    h.step();
    h.get_by_role_and_label(Role::Button, "Executions").click();
    h.step();
    let inputs = |h: &Harness<'_, LambdeskApp>| {
        h.state()
            .controller
            .machine("choice")
            .unwrap()
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.body.clone()))
            .collect::<Vec<_>>()
    };
    let first = inputs(&h);
    assert_eq!(first.len(), 1, "the blueprint's input");
    // "Save as new" keeps the input under a new name and selects it; edits
    // go to the selected one only.
    h.get_by_role_and_label(Role::Button, "Save as new").click();
    h.step();
    h.state_mut().controller.handle(Command::EditMachineInput(
        "choice".into(),
        r#"{"value1": 1, "value2": 2}"#.into(),
    ));
    h.state_mut().controller.handle(Command::RenameMachineInput(
        "choice".into(),
        1,
        "small".into(),
    ));
    h.step();
    let now = inputs(&h);
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], first[0], "the first input is unchanged");
    assert_eq!(now[1].0, "small");
    assert!(has_label(&h, "Input (JSON): valid"));
    // The execution runs with the selected input (1 + 2 is small: it fails).
    h.state_mut()
        .controller
        .handle(Command::StartExecution("choice".into()));
    step_until(&mut h, "the execution", Duration::from_secs(30), |h| {
        h.state().controller.triggers.as_ref().is_some_and(|t| {
            t.state_machines()
                .executions_of("choice")
                .first()
                .is_some_and(|e| e.status() != lambdesk::host::states::Status::Running)
        })
    });
    let record = h
        .state()
        .controller
        .triggers
        .as_ref()
        .unwrap()
        .state_machines()
        .executions_of("choice")[0]
        .record();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&record.input).unwrap(),
        serde_json::json!({"value1": 1, "value2": 2})
    );
    // A duplicate name is refused; deleting leaves the other selected.
    h.state_mut().controller.handle(Command::RenameMachineInput(
        "choice".into(),
        1,
        first[0].0.clone(),
    ));
    assert_eq!(inputs(&h)[1].0, "small");
    h.get_by_role_and_label(Role::Button, "Delete input")
        .click();
    h.step();
    assert_eq!(inputs(&h), first);
    assert_eq!(
        h.state()
            .controller
            .machine("choice")
            .unwrap()
            .selected_input,
        0
    );
}

#[test]
fn a_javascript_function_is_created_from_a_blueprint_and_picked_up_when_edited() {
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    h.step();
    // The JavaScript and Python samples are listed with the others.
    for name in [
        "node-sum",
        "node-api",
        "node-sqs",
        "node-counter",
        "py-hello",
        "py-api",
        "py-sqs",
        "py-counter",
    ] {
        assert!(has_label(&h, name), "{name} is listed");
    }
    h.get_by_role_and_label(Role::Button, "Create…").click();
    h.step();
    h.step();
    // The Lambda console's Create function: author from scratch or a
    // blueprint, in the runtime chosen (Node.js 22.x at first).
    for label in [
        "Author from scratch (hello-world)",
        "Blueprint: api-gateway",
        "Blueprint: s3-event",
        "Blueprint: sqs-batch",
    ] {
        assert!(has_label(&h, label), "{label} is offered");
    }
    h.get_by_role_and_label(Role::ComboBox, "Runtime").click();
    h.step();
    h.step();
    h.get_by_label("Python 3.13").click();
    h.step();
    h.step();
    assert_eq!(
        h.state().ui.live.create.as_ref().unwrap().runtime_id,
        "python3.13"
    );
    assert!(has_label(&h, "Blueprint: sqs-batch"), "Python's blueprints");
    h.get_by_role_and_label(Role::ComboBox, "Runtime").click();
    h.step();
    h.step();
    h.get_by_label("Node.js 22.x").click();
    h.step();
    h.step();
    // A name is required and checked as the console checks it.
    let create_enabled = |h: &Harness<'_, LambdeskApp>| {
        let button = h.get_by_role_and_label(Role::Button, "Create function");
        !egui_kittest::kittest::NodeT::accesskit_node(&button).is_disabled()
    };
    assert!(has_label(&h, "Enter a name for the function"));
    assert!(!create_enabled(&h));
    h.get_by_role_and_label(Role::TextInput, "Function name")
        .focus();
    h.step();
    focused_field(&h).type_text("has space");
    h.step();
    h.step();
    assert!(has_label(&h, "Function name must be 1 to 64 characters"));
    assert!(!create_enabled(&h));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    focused_field(&h).type_text("hello");
    h.step();
    h.step();
    assert!(
        has_label(&h, "Function already exist: hello"),
        "the sample's name is taken"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    focused_field(&h).type_text("api-gateway");
    h.step();
    h.get_by_label("Blueprint: api-gateway").click();
    h.step();
    assert!(create_enabled(&h));
    h.get_by_role_and_label(Role::Button, "Create function")
        .click();
    h.step();
    h.step();
    assert!(h.state().ui.live.create.is_none(), "the window closes");
    assert_eq!(
        h.state()
            .controller
            .entry("api-gateway")
            .map(|f| f.config.runtime_id.as_str()),
        Some("nodejs22.x"),
        "the runtime chosen is kept"
    );
    let folder = dir.path().join("functions/api-gateway");
    assert!(folder.join("index.js").is_file(), "its files are written");
    {
        let c = &h.state().controller;
        let f = c.entry("api-gateway").expect("the function is added");
        assert_eq!(f.config.runtime, lambdesk::model::Language::Javascript);
        assert_eq!(f.config.handler, "index.handler");
        assert_eq!(f.events[0].name, "apigateway-http");
        assert_eq!(c.selected.as_deref(), Some("api-gateway"));
    }
    // The first JavaScript deploy on a machine also prepares the runtime's
    // snapshot and compiles it (seconds; longer on a loaded machine).
    step_until(&mut h, "deployed", Duration::from_secs(240), |h| {
        ready(h, "api-gateway")
    });
    h.get_by_role_and_label(Role::Button, "Invoke").click();
    step_until(&mut h, "the REPORT line", Duration::from_secs(30), |h| {
        has_label(h, "REPORT RequestId:")
    });
    assert!(has_label(&h, "statusCode"), "the response is shown");
    // Another editor changes the code: the next start is cold and runs it.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        folder.join("index.js"),
        "exports.handler = async () => ({ edited: true });",
    )
    .unwrap();
    step_until(&mut h, "the reload", Duration::from_secs(30), |h| {
        has_label(h, "Code updated on disk")
    });
    step_until(&mut h, "deployed again", Duration::from_secs(60), |h| {
        ready(h, "api-gateway")
    });
    let inv = h
        .state()
        .controller
        .runtime
        .invoke("api-gateway", b"{}")
        .unwrap();
    assert_eq!(inv.payload().as_ref(), br#"{"edited":true}"#);
    // A second one from the same blueprint gets a name of its own.
    h.state_mut().controller.handle(Command::CreateFunction {
        blueprint: 1,
        name: None,
        runtime_id: None,
    });
    assert!(h.state().controller.entry("api-gateway-2").is_some());
    // The Code tab says what runs it.
    h.state_mut()
        .controller
        .handle(Command::Select("api-gateway".into()));
    h.get_by_label("Code").click();
    step_until(&mut h, "the Code tab", Duration::from_secs(10), |h| {
        has_label(h, "JavaScript (Boa")
    });
}

/// The editor of the Code tab (the one multi-line text field there).
fn editor<'a>(h: &'a Harness<'_, LambdeskApp>) -> egui_kittest::Node<'a> {
    h.get_by_role(Role::MultilineTextInput)
}

/// Replaces the editor's text by typing, as a person would.
fn type_code(h: &mut Harness<'_, LambdeskApp>, text: &str) {
    editor(h).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    editor(h).type_text(text);
    h.step();
    h.step();
}

fn code_buffer(
    h: &Harness<'_, LambdeskApp>,
    name: &str,
) -> lambdesk::app::controller::code::CodeBuffer {
    h.state()
        .controller
        .code
        .get(name)
        .expect("the Code tab read the files")
        .clone()
}

/// The one-line text field that has the focus.
fn focused_field<'a>(h: &'a Harness<'_, LambdeskApp>) -> egui_kittest::Node<'a> {
    h.query_all_by_role(Role::TextInput)
        .find(|n| n.is_focused())
        .expect("a focused text field")
}

/// The Code tab's Test button (the Test tab has the same name).
fn click_test_button(h: &Harness<'_, LambdeskApp>) {
    let buttons: Vec<_> = h
        .query_all_by_role_and_label(Role::Button, "Test")
        .collect();
    let lowest = buttons
        .iter()
        .max_by(|a, b| a.rect().top().total_cmp(&b.rect().top()))
        .expect("a Test button");
    lowest.click();
}

#[test]
fn the_code_tab_edits_files_deploys_tests_and_marks_an_init_error_at_its_line() {
    use lambdesk::app::controller::code::{BufferState, CodeMark};
    use lambdesk::model::Language;
    use lambdesk::model::function_blueprints::FUNCTION_BLUEPRINTS;
    use lambdesk::runtime::StartKind;
    let dir = TempDir::new("app");
    let mut h = harness(&dir);
    h.step();
    let blueprint = FUNCTION_BLUEPRINTS
        .iter()
        .position(|b| b.name == "hello-world" && b.language == Language::Python)
        .unwrap();
    h.state_mut().controller.handle(Command::CreateFunction {
        blueprint,
        name: None,
        runtime_id: None,
    });
    let name = "hello-world-py";
    let folder = dir.path().join("functions").join(name);
    // The first Python deploy on a machine snapshots and compiles the runtime.
    step_until(&mut h, "deployed", Duration::from_secs(300), |h| {
        ready(h, name)
    });
    h.get_by_label("Code").click();
    step_until(&mut h, "the files", Duration::from_secs(10), |h| {
        h.state()
            .controller
            .code
            .get(name)
            .is_some_and(|b| b.state == BufferState::Ready)
    });
    assert!(
        has_label(&h, "lambda_function.py"),
        "the handler's file is listed"
    );
    assert!(!has_label(&h, "Changes not deployed"));

    // Typed in the editor: marked unsaved, not yet on disk.
    let edited = "def lambda_handler(event, context):\n\treturn {'edited': True}\n";
    type_code(&mut h, edited);
    assert_eq!(code_buffer(&h, name).files[0].text, edited, "tab indents");
    assert!(has_label(&h, "Changes not deployed"));
    assert!(has_label(&h, "lambda_function.py *"), "the file is marked");
    assert_ne!(
        std::fs::read_to_string(folder.join("lambda_function.py")).unwrap(),
        edited
    );
    // Ctrl+S deploys: the file is written, the next start is cold and runs it.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    step_until(&mut h, "deployed", Duration::from_secs(60), |h| {
        !h.state().controller.code_unsaved(name) && ready(h, name)
    });
    assert_eq!(
        std::fs::read_to_string(folder.join("lambda_function.py")).unwrap(),
        edited
    );
    assert!(!has_label(&h, "Changes not deployed"));
    let inv = h.state().controller.runtime.invoke(name, b"{}").unwrap();
    assert_eq!(inv.start, StartKind::Cold);
    assert_eq!(inv.payload().as_ref(), br#"{"edited": true}"#);

    // A syntax error on line 4, then Test: deployed first, and the error
    // shown with its file and line, the line marked.
    type_code(
        &mut h,
        "import json\n\ndef lambda_handler(event, context):\n    return json.dumps(event\n",
    );
    click_test_button(&h);
    step_until(&mut h, "the error's place", Duration::from_secs(60), |h| {
        has_label(h, "lambda_function.py, line 4: Runtime.UserCodeSyntaxError")
    });
    assert!(
        std::fs::read_to_string(folder.join("lambda_function.py"))
            .unwrap()
            .contains("dumps(event\n")
    );
    let mark = code_buffer(&h, name).mark.unwrap();
    assert_eq!(
        (mark.file.as_str(), mark.line),
        ("lambda_function.py", Some(4))
    );

    // Files: a new one, renamed, imported; deployed together.
    h.get_by_role_and_label(Role::Button, "New file").click();
    h.step();
    h.step();
    focused_field(&h).type_text("helper.py");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert!(has_label(&h, "helper.py *"), "a new file is unsaved");
    type_code(&mut h, "def greet():\n    return 'hi'\n");
    h.get_by_role_and_label(Role::Button, "Rename").click();
    h.step();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    focused_field(&h).type_text("greeting.py");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    let i = code_buffer(&h, name)
        .index_of("lambda_function.py")
        .unwrap();
    h.state_mut()
        .controller
        .handle(Command::SelectCodeFile(name.into(), i));
    h.step();
    type_code(
        &mut h,
        "import greeting\n\ndef lambda_handler(event, context):\n    return greeting.greet()\n",
    );
    click_test_button(&h);
    step_until(&mut h, "the new response", Duration::from_secs(60), |h| {
        h.state()
            .controller
            .records
            .last()
            .and_then(|r| r.result.as_ref().ok())
            .is_some_and(|inv| inv.payload().as_ref() == br#""hi""#)
    });
    h.step();
    assert!(
        has_label(&h, "Last test: Succeeded (") && has_label(&h, "\"hi\""),
        "the test's outcome is shown in the Code tab"
    );
    assert!(folder.join("greeting.py").is_file());
    assert!(
        !folder.join("helper.py").exists(),
        "the renamed file's old name is gone"
    );
    assert!(
        code_buffer(&h, name).mark.is_none(),
        "a success clears the mark"
    );

    // Deleting the imported file: an import error marked at the import.
    let i = code_buffer(&h, name).index_of("greeting.py").unwrap();
    h.state_mut()
        .controller
        .handle(Command::SelectCodeFile(name.into(), i));
    h.step();
    h.get_by_role_and_label(Role::Button, "Delete").click();
    h.step();
    h.step();
    assert!(has_label(&h, "Deleted at the next Deploy: greeting.py"));
    assert!(folder.join("greeting.py").is_file(), "not before Deploy");
    click_test_button(&h);
    step_until(&mut h, "the import error", Duration::from_secs(60), |h| {
        has_label(h, "lambda_function.py, line 1: Runtime.ImportModuleError")
    });
    assert!(has_label(&h, "Last test: Failed ("));
    assert!(!folder.join("greeting.py").exists());
    assert_eq!(
        code_buffer(&h, name).mark,
        Some(CodeMark {
            file: "lambda_function.py".into(),
            line: Some(1),
            text: "Runtime.ImportModuleError: Unable to import module 'lambda_function': No module named 'greeting'".into(),
        })
    );

    // Find: Ctrl+F, then the matches are counted and selected.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.step();
    h.step();
    focused_field(&h).type_text("greeting");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert!(
        has_label(&h, "2 of 2") || has_label(&h, "1 of 2"),
        "two matches"
    );

    // Another editor changes the file: the editor shows the change.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        folder.join("lambda_function.py"),
        "def lambda_handler(e, c):\n    return 'outside'\n",
    )
    .unwrap();
    step_until(&mut h, "the change on disk", Duration::from_secs(30), |h| {
        h.state()
            .controller
            .code
            .get(name)
            .is_some_and(|b| b.files.iter().any(|f| f.text.contains("outside")))
    });
}
