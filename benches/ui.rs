//! UI frame time: the whole app's frame (logic + layout, as egui_kittest runs
//! it, no GPU) with one million log lines, and on the Triggers tab with a full
//! asynchronous history, against the same app with an empty log in the same
//! process. Medians of many frames. Also a logging function's Duration while
//! the UI thread refilters a million lines, against the same function while
//! the UI is idle: a guest never waits for the console. And the Code tab
//! with a 3,000-line Python file, highlighted: idle frames, and the frame
//! after each keystroke (the file highlighted again).
//!
//! `cargo bench --bench ui` (release build).

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use lambdesk::app::LambdeskApp;
use lambdesk::host::async_queue::{AsyncRecord, AsyncStep};
use lambdesk::runtime::{LogKind, LogLine};

fn app(dir: &std::path::Path) -> Harness<'static, LambdeskApp> {
    let dir = dir.to_owned();
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| LambdeskApp::new(cc, dir, None).expect("app"))
}

/// Steps until every sample is deployed, so background compiles do not
/// disturb the measurement.
fn settle(h: &mut Harness<'_, LambdeskApp>) {
    let start = Instant::now();
    while h.state().controller.busy() && start.elapsed() < Duration::from_secs(60) {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn median_frame(h: &mut Harness<'_, LambdeskApp>, frames: usize) -> Duration {
    for _ in 0..20 {
        h.step();
    }
    let mut times: Vec<Duration> = (0..frames)
        .map(|_| {
            let t = Instant::now();
            h.step();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn fill(h: &mut Harness<'_, LambdeskApp>, lines: usize) {
    let store = &mut h.state_mut().controller.logs;
    store.set_cap(lines);
    let function: Arc<str> = Arc::from("hello");
    let stream: Arc<str> = Arc::from("2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef");
    for i in 0..lines {
        let request: Arc<str> = Arc::from(format!("req-{}", i / 4).as_str());
        store.push(LogLine {
            time: chrono::Utc::now(),
            function: function.clone(),
            log_stream: stream.clone(),
            request_id: request,
            kind: if i % 4 == 3 {
                LogKind::Report
            } else {
                LogKind::Function
            },
            text: format!("log line {i}: the quick brown fox jumps over the lazy dog"),
        });
    }
}

fn main() {
    let base = std::env::temp_dir().join(format!("lambdesk-ui-bench-{}", std::process::id()));
    let mut empty = app(&base.join("a"));
    settle(&mut empty);
    let baseline = median_frame(&mut empty, 300);
    let mut full = app(&base.join("b"));
    settle(&mut full);
    let lines = 1_000_000;
    fill(&mut full, lines);
    full.state_mut().ui.log_view.cap = lines;
    let with_lines = median_frame(&mut full, 300);
    // The newest function line (the one after it is a REPORT, shown in
    // short words) is on screen.
    assert!(
        egui_kittest::kittest::Queryable::query_all_by_label_contains(&full, "log line 999998")
            .next()
            .is_some(),
        "the newest line is on screen"
    );
    // Filtering a million lines happens when the filter changes, not per frame;
    // typing more of the text narrows the lines already matching.
    let mut refilter = Vec::new();
    for text in ["9", "99", "999"] {
        full.state_mut().ui.log_filter.text = text.into();
        let t = Instant::now();
        full.step();
        refilter.push(t.elapsed());
    }
    let filtered = median_frame(&mut full, 300);

    // The Triggers tab with the most asynchronous records the app keeps
    // (10,000: 2,500 events of four steps each) for the selected function.
    let mut triggers = app(&base.join("c"));
    settle(&mut triggers);
    {
        let state = triggers.state_mut();
        state.ui.tab = lambdesk::app::Tab::Triggers;
        let c = &mut state.controller;
        c.handle(lambdesk::app::controller::Command::Select("behave".into()));
        let t0 = chrono::Utc::now() - chrono::Duration::hours(1);
        let mut seq = 0;
        for e in 0..2_500i64 {
            let at = t0 + chrono::Duration::seconds(e);
            let id = format!("{e:08}-0000-4000-8000-000000000000");
            for step in [
                AsyncStep::Accepted("bench".into()),
                AsyncStep::Attempt {
                    n: 1,
                    ok: false,
                    detail: "Handled".into(),
                },
                AsyncStep::RetryAt(at + chrono::Duration::seconds(60)),
                AsyncStep::Finished {
                    condition: "Success".into(),
                    sent_to: vec!["file:/tmp/ok.jsonl".into()],
                },
            ] {
                seq += 1;
                c.async_history.push(AsyncRecord {
                    seq,
                    at,
                    id: id.clone(),
                    function: "behave".into(),
                    step,
                });
            }
        }
    }
    let triggers_frame = median_frame(&mut triggers, 300);
    assert!(
        egui_kittest::kittest::Queryable::query_all_by_label_contains(
            &triggers,
            "Timeline of the last 12 event(s)"
        )
        .next()
        .is_some(),
        "the timeline is on screen"
    );

    // A function logging 2,000 lines per invocation into `full`'s console,
    // invoked on another thread: its median Duration while `full`'s UI thread
    // changes the filter of its million-line log frame after frame, against
    // the same while a second app (not the one receiving the lines) does the
    // same work, so both runs share the machine alike.
    let logging_duration = |h: &mut Harness<'static, LambdeskApp>,
                            mut other: Option<&mut Harness<'static, LambdeskApp>>|
     -> f64 {
        let runtime = h.state().controller.runtime.clone();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done2 = done.clone();
        let worker = std::thread::Builder::new()
            .name("bench-logging".into())
            .spawn(move || {
                let mut d: Vec<f64> = (0..40)
                    .map(|_| {
                        let inv = runtime
                            .invoke("behave", br#"{"action":"log","lines":2000}"#)
                            .expect("invoke");
                        inv.report.duration_ms
                    })
                    .collect();
                done2.store(true, std::sync::atomic::Ordering::Release);
                d.sort_by(f64::total_cmp);
                d[d.len() / 2]
            })
            .expect("thread");
        let mut flip = false;
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            flip = !flip;
            let text: String = if flip { "9".into() } else { "8".into() };
            match other.as_deref_mut() {
                Some(busy) => {
                    busy.state_mut().ui.log_filter.text = text;
                    busy.step();
                    // The receiving app still takes its lines, as a real one does.
                    h.step();
                }
                None => {
                    h.state_mut().ui.log_filter.text = text;
                    h.step();
                }
            }
        }
        let median = worker.join().expect("join");
        for busy in [Some(&mut *h), other].into_iter().flatten() {
            busy.state_mut().ui.log_filter.text.clear();
            for _ in 0..50 {
                busy.step();
            }
        }
        median
    };
    full.state_mut()
        .controller
        .handle(lambdesk::app::controller::Command::Select("behave".into()));
    settle(&mut full);
    let mut other = app(&base.join("d"));
    settle(&mut other);
    fill(&mut other, lines);
    other.state_mut().ui.log_view.cap = lines;
    let _warm = logging_duration(&mut full, Some(&mut other));
    let other_busy_ms = logging_duration(&mut full, Some(&mut other));
    let busy_ms = logging_duration(&mut full, None);

    // The Code tab on a function whose file has 3,000 lines (about 100 KB).
    let mut code = app(&base.join("e"));
    settle(&mut code);
    let blueprint = lambdesk::model::function_blueprints::FUNCTION_BLUEPRINTS
        .iter()
        .position(|b| b.language == lambdesk::model::Language::Python)
        .expect("a Python blueprint");
    code.state_mut()
        .controller
        .handle(lambdesk::app::controller::Command::CreateFunction {
            blueprint,
            name: None,
            runtime_id: None,
        });
    let name = code.state().controller.selected.clone().expect("selected");
    let folder = base.join("e").join("functions").join(&name);
    let mut big = String::new();
    for i in 0..1_000 {
        big.push_str(&format!(
            "def handler_{i}(event, context):\n    return {{'n': {i}, 'body': json.dumps(event)}}  # number {i}\n\n"
        ));
    }
    std::fs::write(
        folder.join("lambda_function.py"),
        format!("import json\n{big}"),
    )
    .expect("write");
    code.state_mut().ui.tab = lambdesk::app::Tab::Code;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120)
        && !code.state().controller.code.get(&name).is_some_and(|b| {
            b.state == lambdesk::app::controller::code::BufferState::Ready
                && b.files.iter().any(|f| f.text.len() > 90_000)
        })
    {
        code.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // The grammars load on their own thread: give them time.
    for _ in 0..100 {
        code.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let code_idle = median_frame(&mut code, 100);
    // The editor alone in a bare egui context, as the app runs it: egui
    // writes the accessibility tree (one node per row of the text) only
    // when a screen reader asks, and kittest always asks.
    let editor_frame = |text: &str, accesskit: bool| -> Duration {
        let ctx = egui::Context::default();
        if accesskit {
            ctx.enable_accesskit();
        }
        let input = || egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1400.0, 900.0),
            )),
            ..Default::default()
        };
        let frame = || {
            let mut out = ctx.run_ui(input(), |ui| {
                lambdesk::app::code_editor::code_editor(ui, "bench", text, "py", None, None);
            });
            out.textures_delta.clear();
        };
        // The grammars load on a thread: wait for them.
        for _ in 0..200 {
            frame();
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut times: Vec<Duration> = (0..100)
            .map(|_| {
                let t = Instant::now();
                frame();
                t.elapsed()
            })
            .collect();
        times.sort();
        times[times.len() / 2]
    };
    let big_text = code.state().controller.code[&name].files[0].text.clone();
    let code_idle_plain = editor_frame(&big_text, false);
    let code_idle_a11y = editor_frame(&big_text, true);
    let file = code
        .state()
        .controller
        .code
        .get(&name)
        .and_then(|b| b.index_of("lambda_function.py"))
        .expect("the file");
    let mut text = code.state().controller.code[&name].files[file].text.clone();
    let mut keystrokes: Vec<Duration> = (0..40)
        .map(|i| {
            text.push(if i % 2 == 0 { '#' } else { ' ' });
            code.state_mut()
                .controller
                .handle(lambdesk::app::controller::Command::EditCode(
                    name.clone(),
                    file,
                    text.clone(),
                ));
            let t = Instant::now();
            code.step();
            t.elapsed()
        })
        .collect();
    keystrokes.sort();
    let keystroke = keystrokes[keystrokes.len() / 2];

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("lambdesk UI benchmarks (medians of 300 frames, egui_kittest, no GPU)");
    println!(
        "{:<52} {:>9.3} ms",
        "app frame, empty log (baseline)",
        ms(baseline)
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "app frame, 1,000,000 log lines, following the tail",
        ms(with_lines),
        ms(with_lines) / ms(baseline)
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "app frame, 1,000,000 lines, text filter `999`",
        ms(filtered),
        ms(filtered) / ms(baseline)
    );
    println!(
        "{:<52} {:>9.3} ms  (one frame)",
        "typing `9`: filtering 1,000,000 lines",
        ms(refilter[0])
    );
    println!(
        "{:<52} {:>9.3} ms  (one frame)",
        "typing `99`, `999`: narrowing the matches",
        ms(refilter[1].max(refilter[2]))
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "Triggers tab, 10,000 asynchronous records",
        ms(triggers_frame),
        ms(triggers_frame) / ms(baseline)
    );
    println!(
        "{:<52} {:>9.3} ms",
        "logging invoke's Duration, another app refiltering", other_busy_ms
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "the same while its own UI refilters",
        busy_ms,
        busy_ms / other_busy_ms
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "Code tab, 3,000-line Python file, idle",
        ms(code_idle),
        ms(code_idle) / ms(baseline)
    );
    println!(
        "{:<52} {:>9.3} ms",
        "the editor alone (bare egui), idle",
        ms(code_idle_plain),
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "the editor alone with the accessibility tree",
        ms(code_idle_a11y),
        ms(code_idle_a11y) / ms(code_idle_plain)
    );
    println!(
        "{:<52} {:>9.3} ms  x{:.2}",
        "the frame after a keystroke in it (highlighted again)",
        ms(keystroke),
        ms(keystroke) / ms(baseline)
    );
    let _ = std::fs::remove_dir_all(&base);
}
