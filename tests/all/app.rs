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
    let runtime = h.state().controller.runtime.clone();
    // Full speed: 70,000 lines at 128 MB's CPU share would pass the timeout.
    runtime.set_cpu_share(lambdesk::model::CpuShare::Off);
    let lines = lambdesk::app::controller::LOG_INBOX_LINES + 5_000;
    let event = format!(r#"{{"action":"log","lines":{lines}}}"#);
    let inv = runtime.invoke("behave", event.as_bytes()).unwrap();
    assert!(inv.error().is_none());
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
