//! The Monitor tab, as CloudWatch shows Lambda's metrics: Invocations,
//! Errors and success rate, Throttles, Duration (p50/p90/p99/max),
//! ConcurrentExecutions, cold starts and Init Duration over a chosen window,
//! as numbers and charts; each invocation's duration (cold and warm apart);
//! the function's environments; and the history.

use chrono::{Local, TimeZone, Utc};
use egui::{RichText, Ui};

use super::controller::{Command, Controller, Record};
use super::metrics::{Period, Window};
use super::state::UiState;
use super::theme::{self, COLD, WARM};
use crate::runtime::{Outcome, StartKind};

/// Height of each chart.
const CHART_HEIGHT: f32 = 150.0;

pub(super) fn monitor_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    egui::ScrollArea::vertical()
        .id_salt("monitor")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            metrics_ui(ui, c, name, state);
            environments_ui(ui, c, name, state, cmds);
            history_ui(ui, c, name, state);
        });
}

/// The window picker, the numbers and the charts.
fn metrics_ui(ui: &mut Ui, c: &Controller, name: &str, state: &mut UiState) {
    let now = Utc::now();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Metrics").strong());
        for w in Window::ALL {
            if ui
                .selectable_label(state.monitor.window == w, w.label())
                .on_hover_text("The window the numbers and charts cover")
                .clicked()
            {
                state.monitor.window = w;
            }
        }
        ui.separator();
        ui.checkbox(&mut state.monitor.log_scale, "Log scale")
            .on_hover_text(
                "Durations on a logarithmic axis, so a slow outlier does not flatten the rest",
            );
    });
    let window = state.monitor.window;
    let t = c.metrics.totals(name, window, now);
    let pct = |p: f64| t.duration.percentile(p);
    ui.horizontal_wrapped(|ui| {
        tile(ui, "Invocations", t.invocations.to_string(), None);
        let errors = tile_color(t.errors > 0, ui);
        tile(ui, "Errors", t.errors.to_string(), errors);
        tile(
            ui,
            "Success rate",
            format!("{:.1} %", t.success_rate()),
            None,
        );
        let throttled = tile_color(t.throttles > 0, ui);
        tile(ui, "Throttles", t.throttles.to_string(), throttled);
        tile(
            ui,
            "Duration p50 · p90 · p99",
            format!("{} · {} · {}", ms(pct(50.0)), ms(pct(90.0)), ms(pct(99.0))),
            None,
        );
        tile(ui, "Duration max", ms(t.duration.max_ms()), None);
        tile(ui, "Concurrent executions", t.concurrent.to_string(), None);
        let init = if t.init.count() > 0 {
            format!("{} (init avg {})", t.cold_starts, ms(t.init.mean_ms()))
        } else {
            t.cold_starts.to_string()
        };
        tile(ui, "Cold starts", init, None);
        let denied = tile_color(t.denied > 0, ui);
        tile(ui, "Denied outbound", t.denied.to_string(), denied);
    });
    denials_ui(ui, c, name, state);
    by_version_ui(ui, c, name, window, now);
    let series = c.metrics.series(name, window, now);
    let log = state.monitor.log_scale;
    let wide = ui.available_width() > 900.0;
    let draw = |ui: &mut Ui, chart: usize| match chart {
        0 => invocations_chart(ui, &series),
        1 => duration_chart(ui, &series, log),
        2 => concurrency_chart(ui, &series),
        _ => each_invocation_chart(ui, c, name, log),
    };
    if wide {
        for pair in [[0, 1], [2, 3]] {
            ui.columns(2, |cols| {
                for (col, chart) in cols.iter_mut().zip(pair) {
                    draw(col, chart);
                }
            });
        }
    } else {
        for chart in 0..4 {
            draw(ui, chart);
        }
    }
}

/// The latest outbound requests the role's grants refused, as they were
/// attempted: each opens its invocation's log output, and the log viewer
/// can show every one.
fn denials_ui(ui: &mut Ui, c: &Controller, name: &str, state: &mut UiState) {
    let denials: Vec<_> = c.metrics.denials(name).collect();
    if denials.is_empty() {
        return;
    }
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Denied outbound requests (newest first)").strong());
        if ui
            .button("Show in the log")
            .on_hover_text("Filter the log to this function's [DENIED] lines")
            .clicked()
        {
            state.log_filter.function = Some(name.to_owned());
            state.log_filter.level = super::log_store::LevelFilter::Denied;
        }
        if c.entry(name)
            .is_none_or(|e| e.config.role.outbound.is_empty())
        {
            ui.label("The role grants no outbound destination: add them in Configuration, Role.");
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("denials")
        .max_height(140.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for d in denials.iter().rev() {
                let when = d.at.with_timezone(&Local).format("%H:%M:%S%.3f");
                let text = d.text.strip_prefix("[DENIED] ").unwrap_or(&d.text);
                if ui
                    .selectable_label(
                        false,
                        RichText::new(format!("{when} · {text}"))
                            .color(theme::warm(ui.visuals().dark_mode)),
                    )
                    .on_hover_text("Show this invocation's log output")
                    .clicked()
                {
                    state.live.request_view = Some(d.request_id.to_string());
                }
            }
        });
}

/// Invocations by the version that ran, in the window: how a weighted
/// alias's traffic actually split.
fn by_version_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    window: Window,
    now: chrono::DateTime<Utc>,
) {
    let since = match window {
        Window::Last5Minutes => Some(now - chrono::Duration::minutes(5)),
        Window::LastHour => Some(now - chrono::Duration::hours(1)),
        Window::Session => None,
    };
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for r in c.records.iter().filter(|r| r.function == name) {
        if since.is_some_and(|s| r.at.with_timezone(&Utc) < s) {
            continue;
        }
        if let Ok(inv) = &r.result {
            *counts.entry(inv.version.clone()).or_default() += 1;
        }
    }
    if counts.len() < 2 && counts.keys().all(|v| v == "$LATEST") {
        return;
    }
    let total: usize = counts.values().sum();
    let parts: Vec<String> = counts
        .iter()
        .map(|(v, n)| {
            format!(
                "{v}: {n} ({:.0} %)",
                100.0 * *n as f64 / total.max(1) as f64
            )
        })
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("By executed version").strong());
        ui.label(parts.join(" · "));
    });
}

fn tile_color(alarm: bool, ui: &Ui) -> Option<egui::Color32> {
    alarm.then(|| theme::error(ui.visuals().dark_mode))
}

/// One number with its name above, as a CloudWatch number widget; a fixed
/// size, so that a narrow window wraps whole tiles instead of squeezing one.
fn tile(ui: &mut Ui, title: &str, value: String, color: Option<egui::Color32>) {
    let font = egui::TextStyle::Heading.resolve(ui.style());
    let value_w = ui.fonts_mut(|f| {
        f.layout_no_wrap(value.clone(), font, egui::Color32::WHITE)
            .size()
            .x
    });
    let width = value_w.max(title.chars().count() as f32 * 7.5).max(90.0) + 16.0;
    let height = ui.text_style_height(&egui::TextStyle::Body)
        + ui.text_style_height(&egui::TextStyle::Heading)
        + 18.0;
    ui.allocate_ui(egui::vec2(width, height), |ui| {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_min_width(width - 14.0);
            ui.vertical(|ui| {
                ui.label(RichText::new(title).weak());
                let mut text = RichText::new(value).heading();
                if let Some(color) = color {
                    text = text.color(color);
                }
                ui.label(text);
            });
        });
    });
}

/// A duration for people: µs below a millisecond, ms below ten seconds, else s.
pub fn ms(v: f64) -> String {
    if v <= 0.0 {
        "0 ms".into()
    } else if v < 1.0 {
        format!("{:.0} µs", v * 1000.0)
    } else if v < 10_000.0 {
        format!("{v:.2} ms")
    } else {
        format!("{:.2} s", v / 1000.0)
    }
}

fn time_label(secs: f64) -> String {
    match Local.timestamp_opt(secs as i64, 0).single() {
        Some(t) => t.format("%H:%M:%S").to_string(),
        None => String::new(),
    }
}

/// A chart over time: the x axis carries wall-clock times and spans the
/// whole window (`series`), however few periods have data.
fn time_plot(id: &str, y_label: &str, series: &[Period]) -> egui_plot::Plot<'static> {
    let mut plot = egui_plot::Plot::new(id.to_owned());
    if let (Some(a), Some(b)) = (series.first(), series.last()) {
        plot = plot
            .include_x(a.start as f64)
            .include_x(b.start as f64 + width_secs(series));
    }
    // The newest data is on the right: the legend sits on the left.
    plot.height(CHART_HEIGHT)
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop))
        .x_axis_formatter(|mark, _| time_label(mark.value))
        .y_axis_label(y_label.to_owned())
        .include_y(0.0)
        .allow_scroll(false)
        .set_margin_fraction(egui::vec2(0.02, 0.2))
}

fn width_secs(series: &[Period]) -> f64 {
    match series {
        [a, b, ..] => (b.start - a.start) as f64,
        _ => 10.0,
    }
}

fn invocations_chart(ui: &mut Ui, series: &[Period]) {
    ui.label(RichText::new("Invocations, errors and throttles").strong());
    let w = width_secs(series);
    let bars = |f: fn(&Period) -> u64, offset: f64| -> Vec<egui_plot::Bar> {
        series
            .iter()
            .map(|p| egui_plot::Bar::new(p.start as f64 + w * offset, f(p) as f64).width(w * 0.28))
            .collect()
    };
    let dark = ui.visuals().dark_mode;
    time_plot("m-invocations", "count", series).show(ui, |plot| {
        plot.bar_chart(
            egui_plot::BarChart::new("Invocations", bars(|p| p.invocations, 0.25))
                .color(theme::cold(dark)),
        );
        plot.bar_chart(
            egui_plot::BarChart::new("Errors", bars(|p| p.errors, 0.5)).color(theme::error(dark)),
        );
        plot.bar_chart(
            egui_plot::BarChart::new("Throttles", bars(|p| p.throttles, 0.75))
                .color(theme::warm(dark)),
        );
    });
}

/// Durations on a linear axis or, with `log`, as log10(ms) labelled in ms.
fn y_value(ms: f64, log: bool) -> f64 {
    if log { ms.max(0.001).log10() } else { ms }
}

fn duration_plot(id: &str, log: bool, series: &[Period]) -> egui_plot::Plot<'static> {
    let plot = time_plot(id, if log { "ms (log)" } else { "ms" }, series);
    if log {
        plot.include_y(-1.0)
            .y_axis_formatter(|mark, _| ms(10f64.powf(mark.value)))
    } else {
        plot
    }
}

fn duration_chart(ui: &mut Ui, series: &[Period], log: bool) {
    ui.label(RichText::new("Duration p50, p90, p99").strong());
    let w = width_secs(series) / 2.0;
    let line = |p: f64| -> Vec<[f64; 2]> {
        series
            .iter()
            .filter(|s| s.duration.count() > 0)
            .map(|s| [s.start as f64 + w, y_value(s.duration.percentile(p), log)])
            .collect()
    };
    let dark = ui.visuals().dark_mode;
    duration_plot("m-duration", log, series).show(ui, |plot| {
        for (p, color) in [
            (50.0, theme::ok(dark)),
            (90.0, theme::warm(dark)),
            (99.0, theme::error(dark)),
        ] {
            let points = line(p);
            let name = format!("p{p}");
            plot.line(egui_plot::Line::new(name.clone(), points.clone()).color(color));
            plot.points(
                egui_plot::Points::new(name, points)
                    .radius(2.5)
                    .color(color),
            );
        }
    });
}

fn concurrency_chart(ui: &mut Ui, series: &[Period]) {
    ui.label(RichText::new("Concurrent executions (max)").strong());
    let w = width_secs(series);
    let bars: Vec<egui_plot::Bar> = series
        .iter()
        .map(|p| {
            egui_plot::Bar::new(p.start as f64 + w / 2.0, f64::from(p.concurrent)).width(w * 0.8)
        })
        .collect();
    let dark = ui.visuals().dark_mode;
    time_plot("m-concurrency", "executions", series).show(ui, |plot| {
        plot.bar_chart(egui_plot::BarChart::new("Concurrent", bars).color(theme::ok(dark)));
    });
}

/// Each invocation of the session kept in the history, cold and warm apart.
fn each_invocation_chart(ui: &mut Ui, c: &Controller, name: &str, log: bool) {
    ui.label(RichText::new("Each invocation (init + handler)").strong());
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for r in c.records.iter().filter(|r| r.function == name) {
        if let Ok(inv) = &r.result {
            let total = inv.report.duration_ms + inv.report.init_duration_ms.unwrap_or(0.0);
            let at = r.at.timestamp_millis() as f64 / 1000.0;
            let p = [at, y_value(total, log)];
            if inv.start == StartKind::Cold {
                cold.push(p);
            } else {
                warm.push(p);
            }
        }
    }
    duration_plot("m-each", log, &[]).show(ui, |plot| {
        plot.points(egui_plot::Points::new("cold", cold).color(COLD).radius(3.0));
        plot.points(egui_plot::Points::new("warm", warm).color(WARM).radius(2.5));
    });
}

fn environments_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Environments").strong());
        if ui
            .button("Force cold start")
            .on_hover_text("Drop this function's environments; the next invocation starts cold")
            .clicked()
        {
            cmds.push(Command::ForceCold(name.to_owned()));
        }
    });
    let envs = c.runtime.environments(name);
    if envs.is_empty() {
        ui.label(RichText::new("No environment: the next start is cold").weak());
    } else {
        egui::Grid::new("envs")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for h in [
                    "Id",
                    "State",
                    "Age",
                    "Invocations",
                    "Peak memory",
                    "Log stream",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for e in envs {
                    ui.label(e.id.to_string());
                    let dark = ui.visuals().dark_mode;
                    ui.label(if e.busy {
                        RichText::new("busy").color(theme::ok(dark))
                    } else {
                        RichText::new("idle").color(theme::warm(dark))
                    });
                    let age = e.created.elapsed().unwrap_or_default();
                    ui.label(format!("{:.0} s", age.as_secs_f64()));
                    ui.label(e.invocations.to_string());
                    ui.label(format!(
                        "{:.1} MB",
                        e.peak_memory_bytes as f64 / 1_048_576.0
                    ));
                    if ui
                        .link(&*e.log_stream)
                        .on_hover_text("Show only this stream's log lines")
                        .clicked()
                    {
                        state.log_filter.log_stream = Some(e.log_stream.to_string());
                    }
                    ui.end_row();
                }
            });
    }
}

fn history_ui(ui: &mut Ui, c: &Controller, name: &str, state: &mut UiState) {
    let records: Vec<&Record> = c.records.iter().filter(|r| r.function == name).collect();
    ui.add_space(6.0);
    ui.label(RichText::new("History (newest first; click to see its log lines)").strong());
    egui::ScrollArea::vertical()
        .id_salt("history")
        .max_height(320.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for r in records.iter().rev().take(200) {
                let source = r
                    .source
                    .as_ref()
                    .map(|s| format!(" · by {s}"))
                    .unwrap_or_default();
                let text = match &r.result {
                    Ok(inv) => {
                        let status = match &inv.outcome {
                            Outcome::Response(_) => "ok".to_owned(),
                            Outcome::Error(e) => e.error_type.clone(),
                        };
                        format!(
                            "{} · {} · {:.2} ms · {status}{source}",
                            r.at.format("%H:%M:%S%.3f"),
                            inv.start.label(),
                            inv.report.duration_ms
                        )
                    }
                    Err(e) => format!(
                        "{} · {}{source}",
                        r.at.format("%H:%M:%S%.3f"),
                        e.error_type()
                    ),
                };
                if ui
                    .selectable_label(false, text)
                    .on_hover_text("Show this invocation's log output")
                    .clicked()
                    && let Ok(inv) = &r.result
                {
                    state.live.request_view = Some(inv.request_id.clone());
                }
            }
        });
}
