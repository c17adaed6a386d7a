//! The Power tuning tab, as AWS Lambda Power Tuning takes its input: memory
//! sizes, invocations per size, the selected test event, parallel or one after
//! another, cold starts or warm, and a strategy (cost, speed, balanced with a
//! weight). Progress while it runs (cancellable); then the average duration
//! and cost per size as charts and a table, the recommendation against the
//! current memory, *Apply*, and the JSON in AWS Lambda Power Tuning's shape.

use egui::{RichText, Ui};

use super::controller::{Command, Controller};
use super::theme::{ERROR, OK};
use crate::host::tuning::{
    DEFAULT_INVOCATIONS, DEFAULT_SIZES, MIN_INVOCATIONS, Strategy, TuneOptions, TuneReport,
};

/// The tab's form (live, never saved).
#[derive(Clone, Debug)]
pub struct TuningForm {
    /// Memory sizes, comma-separated.
    pub sizes: String,
    /// Invocations per size.
    pub invocations: usize,
    /// Run each size's invocations at once.
    pub parallel: bool,
    /// Every invocation cold.
    pub cold: bool,
    /// 0 cost, 1 speed, 2 balanced.
    pub strategy: usize,
    /// Balanced: weight of cost (0–1).
    pub weight: f64,
    /// Weights of the function's test events (0 leaves one out), and whose
    /// events they are.
    pub event_weights: Vec<u32>,
    /// The function `event_weights` belong to.
    pub weights_for: String,
    /// Duration prices per GB-second, USD: x86 and arm64.
    pub prices: (f64, f64),
}

impl Default for TuningForm {
    fn default() -> Self {
        Self {
            sizes: DEFAULT_SIZES
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            invocations: DEFAULT_INVOCATIONS,
            parallel: false,
            cold: false,
            strategy: 0,
            weight: 0.5,
            event_weights: Vec::new(),
            weights_for: String::new(),
            prices: (
                crate::host::tuning::PRICE_X86_GB_S,
                crate::host::tuning::PRICE_ARM64_GB_S,
            ),
        }
    }
}

impl TuningForm {
    /// The sizes, or what is wrong with them.
    pub fn parse_sizes(&self) -> Result<Vec<u32>, String> {
        let mut sizes = Vec::new();
        for part in self
            .sizes
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let mb: u32 = part
                .parse()
                .map_err(|_| format!("`{part}` is not a whole number of MB"))?;
            crate::model::config::validate_memory_mb(mb).map_err(|e| e.to_string())?;
            if !sizes.contains(&mb) {
                sizes.push(mb);
            }
        }
        if sizes.is_empty() {
            return Err("give at least one memory size".into());
        }
        Ok(sizes)
    }

    fn strategy(&self) -> Strategy {
        match self.strategy {
            1 => Strategy::Speed,
            2 => Strategy::Balanced(self.weight),
            _ => Strategy::Cost,
        }
    }
}

/// The tab.
pub fn tuning_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    form: &mut TuningForm,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    let running = c.tuning.as_ref();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(
            RichText::new(
                "Runs the function at each memory size (CPU in proportion to memory, as in Lambda) \
                 and recommends the cheapest, the fastest, or a balance.",
            )
            .weak(),
        );
            let sizes = form.parse_sizes();
            egui::Grid::new("tuning-form")
                .num_columns(2)
                .spacing([12.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Memory sizes (MB)");
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(&mut form.sizes).desired_width(320.0));
                        if let Err(e) = &sizes {
                            ui.label(RichText::new(e).color(super::theme::error(ui.visuals().dark_mode)));
                        }
                    });
                    ui.end_row();
                    ui.label("Invocations per size");
                    ui.add(
                        egui::DragValue::new(&mut form.invocations).range(MIN_INVOCATIONS..=1000),
                    );
                    ui.end_row();
                    // The test events, weighted: the selected one by default.
                    if form.weights_for != name || form.event_weights.len() != entry.events.len() {
                        form.weights_for = name.to_owned();
                        form.event_weights = (0..entry.events.len())
                            .map(|i| u32::from(i == entry.selected_event))
                            .collect();
                    }
                    ui.label("Events (weights)").on_hover_text(
                        "Invocations are shared out by weight; 0 leaves an event out",
                    );
                    ui.vertical(|ui| {
                        for (e, w) in entry.events.iter().zip(form.event_weights.iter_mut()) {
                            ui.horizontal(|ui| {
                                ui.add(egui::DragValue::new(w).range(0..=100));
                                ui.label(&e.name);
                            });
                        }
                        if entry.events.is_empty() {
                            ui.label("{} (the function has no test events)");
                        }
                    });
                    ui.end_row();
                    ui.label("Run");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut form.parallel, "in parallel");
                        ui.checkbox(&mut form.cold, "cold starts only");
                    });
                    ui.end_row();
                    ui.label("Prices per GB-second")
                .on_hover_text("Lambda's published duration prices (us-east-1); change them for another region or a discount");
            ui.horizontal(|ui| {
                ui.label("x86 $");
                ui.add(egui::DragValue::new(&mut form.prices.0).range(0.0..=1.0).speed(1e-7).max_decimals(10));
                ui.label("arm64 $");
                ui.add(egui::DragValue::new(&mut form.prices.1).range(0.0..=1.0).speed(1e-7).max_decimals(10));
            });
            ui.end_row();
            ui.label("Strategy");
                    ui.horizontal(|ui| {
                        for (i, label, tip) in [
                            (0, "Cost", "The lowest average cost per invocation"),
                            (1, "Speed", "The lowest average duration"),
                            (2, "Balanced", "Weighs cost against duration"),
                        ] {
                            ui.radio_value(&mut form.strategy, i, label)
                                .on_hover_text(tip);
                        }
                        if form.strategy == 2 {
                            ui.add(
                                egui::Slider::new(&mut form.weight, 0.0..=1.0).text("cost weight"),
                            );
                        }
                    });
                    ui.end_row();
                });
            ui.add_space(6.0);
            ui.horizontal(|ui| match running {
                Some(run) => {
                    let done = run.done.load(std::sync::atomic::Ordering::Relaxed);
                    let of = run.total.max(1);
                    ui.add(
                        egui::ProgressBar::new(done as f32 / of as f32)
                            .desired_width(260.0)
                            .text(format!(
                                "{done} of {} invocations ({})",
                                run.total, run.function
                            )),
                    );
                    if ui.button("Cancel").clicked() {
                        cmds.push(Command::CancelTuning);
                    }
                }
                None => {
                    let ok = sizes.is_ok();
                    let start = ui.add_enabled(ok, egui::Button::new("Start tuning"));
                    if start.clicked()
                        && let Ok(sizes) = &sizes
                    {
                        let mut events: Vec<(Vec<u8>, u32)> = entry
                            .events
                            .iter()
                            .zip(&form.event_weights)
                            .filter(|(_, w)| **w > 0)
                            .map(|(e, w)| (e.body.clone().into_bytes(), *w))
                            .collect();
                        if events.is_empty() {
                            events.push((b"{}".to_vec(), 1));
                        }
                        cmds.push(Command::StartTuning(
                            name.to_owned(),
                            TuneOptions {
                                sizes: sizes.clone(),
                                invocations: form.invocations.max(MIN_INVOCATIONS),
                                events,
                                parallel: form.parallel,
                                cold: form.cold,
                                strategy: form.strategy(),
                                ..TuneOptions::default()
                            },
                        ));
                    }
                }
            });
            if let Some(report) = c.tuning_results.get(name) {
                ui.separator();
                report_ui(ui, name, entry.config.memory_mb, report, cmds);
            }
        });
}

fn report_ui(
    ui: &mut Ui,
    name: &str,
    current_mb: u32,
    report: &TuneReport,
    cmds: &mut Vec<Command>,
) {
    let best = report
        .recommended
        .and_then(|mb| report.sizes.iter().find(|s| s.memory_mb == mb));
    let now = report.sizes.iter().find(|s| s.memory_mb == current_mb);
    ui.horizontal_wrapped(|ui| match best {
        Some(b) => {
            ui.label(
                RichText::new(format!(
                    "Recommended ({}): {} MB, {:.2} ms, ${:.10} per invocation",
                    report.strategy.name(),
                    b.memory_mb,
                    b.average_ms,
                    b.cost_x86
                ))
                .strong()
                .color(OK),
            );
            if let Some(n) = now.filter(|n| n.errors.is_empty() && n.memory_mb != b.memory_mb) {
                let cheaper = (1.0 - b.cost_x86 / n.cost_x86.max(f64::MIN_POSITIVE)) * 100.0;
                let faster = n.average_ms / b.average_ms.max(f64::MIN_POSITIVE);
                ui.label(format!(
                    "against the current {current_mb} MB: {cheaper:+.0} % cost saved, ×{faster:.2} speed"
                ));
            }
            if b.memory_mb != current_mb && ui.button(format!("Apply {} MB", b.memory_mb)).clicked() {
                cmds.push(Command::ApplyTunedMemory(name.to_owned(), b.memory_mb));
            }
        }
        None => {
            ui.label(RichText::new("No recommendation: every size failed").color(ERROR));
        }
    });
    if ui
        .button("Copy JSON")
        .on_hover_text("AWS Lambda Power Tuning's output: power, cost, duration, stats")
        .clicked()
    {
        ui.ctx().copy_text(report.to_json().to_string());
    }
    let ok: Vec<&crate::host::tuning::SizeStats> = report
        .sizes
        .iter()
        .filter(|s| !s.durations_ms.is_empty())
        .collect();
    let duration: Vec<[f64; 2]> = ok
        .iter()
        .map(|s| [f64::from(s.memory_mb), s.average_ms])
        .collect();
    let cost: Vec<[f64; 2]> = ok
        .iter()
        .map(|s| [f64::from(s.memory_mb), s.cost_x86 * 1e6])
        .collect();
    let cost_arm: Vec<[f64; 2]> = ok
        .iter()
        .map(|s| [f64::from(s.memory_mb), s.cost_arm64 * 1e6])
        .collect();
    ui.columns(2, |cols| {
        egui_plot::Plot::new("tuning-duration")
            .height(170.0)
            .x_axis_label("memory (MB)")
            .y_axis_label("average duration (ms)")
            .include_y(0.0)
            // Headroom, so the axis always has labelled steps.
            .set_margin_fraction(egui::vec2(0.05, 0.25))
            .allow_scroll(false)
            .show(&mut cols[0], |plot| {
                plot.line(egui_plot::Line::new("duration", duration.clone()));
                plot.points(egui_plot::Points::new("sizes", duration).radius(3.0));
            });
        egui_plot::Plot::new("tuning-cost")
            .height(170.0)
            .legend(egui_plot::Legend::default())
            .x_axis_label("memory (MB)")
            .y_axis_label("cost per invocation (µ$)")
            .include_y(0.0)
            .set_margin_fraction(egui::vec2(0.05, 0.25))
            .allow_scroll(false)
            .show(&mut cols[1], |plot| {
                plot.line(egui_plot::Line::new("x86", cost));
                plot.line(egui_plot::Line::new("arm64", cost_arm));
            });
    });
    egui::Grid::new("tuning-table")
        .striped(true)
        .num_columns(10)
        .show(ui, |ui| {
            for h in [
                "memory",
                "invocations",
                "avg ms",
                "cold / warm ms",
                "p50",
                "p90",
                "p99",
                "max",
                "$/inv x86",
                "result",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for s in &report.sizes {
                ui.label(format!("{} MB", s.memory_mb));
                ui.label(format!("{}", s.durations_ms.len() + s.errors.len()));
                ui.label(format!("{:.2}", s.average_ms));
                let part = |n: usize, ms: f64| {
                    if n > 0 {
                        format!("{ms:.2}")
                    } else {
                        "–".to_owned()
                    }
                };
                ui.label(format!(
                    "{} / {}",
                    part(s.cold, s.cold_average_ms),
                    part(s.durations_ms.len() - s.cold, s.warm_average_ms)
                ));
                for v in [s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms] {
                    ui.label(format!("{v:.2}"));
                }
                ui.label(format!("{:.10}", s.cost_x86));
                match (s.failure(), s.errors.first()) {
                    (Some(what), Some((t, m))) => {
                        ui.label(
                            RichText::new(format!("{what} ({} of them)", s.errors.len()))
                                .color(ERROR),
                        )
                        .on_hover_text(format!("{t}: {m}"));
                    }
                    _ => {
                        ui.label("ok");
                    }
                }
                ui.end_row();
            }
        });
}
