//! UI frame time: the whole app's frame (logic + layout, as egui_kittest runs
//! it, no GPU) with one million log lines, against the same app with an empty
//! log in the same process. Medians of many frames.
//!
//! `cargo bench --bench ui` (release build).

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use lambdesk::app::LambdeskApp;
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
    let mut store = h.state().controller.logs.lock().expect("log store");
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
    assert!(
        egui_kittest::kittest::Queryable::query_all_by_label_contains(&full, "log line 999999")
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
    let _ = std::fs::remove_dir_all(&base);
}
