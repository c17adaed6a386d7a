//! The Monitor tab: durations this session and the invocation history.

use egui::{RichText, Ui};

use super::controller::{Command, Controller, Record};
use super::state::UiState;
use super::theme::{COLD, OK, WARM};
use crate::runtime::{Outcome, StartKind};

pub(super) fn monitor_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let records: Vec<&Record> = c.records.iter().filter(|r| r.function == name).collect();
    ui.label(RichText::new("Durations this session").strong());
    let (cold, warm): (Vec<[f64; 2]>, Vec<[f64; 2]>) = {
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Ok(inv) = &r.result {
                let total = inv.report.duration_ms + inv.report.init_duration_ms.unwrap_or(0.0);
                let p = [i as f64 + 1.0, total];
                if inv.start == StartKind::Cold {
                    cold.push(p)
                } else {
                    warm.push(p)
                }
            }
        }
        (cold, warm)
    };
    egui_plot::Plot::new("durations")
        .height(180.0)
        .legend(egui_plot::Legend::default())
        .x_axis_label("invocation")
        .x_axis_formatter(|mark, _| {
            // Invocations are counted: label whole numbers only.
            if mark.value.fract() == 0.0 {
                format!("{}", mark.value)
            } else {
                String::new()
            }
        })
        .y_axis_label("ms (init + handler)")
        // From zero, with headroom, so the axis always has labelled steps.
        .include_y(0.0)
        .set_margin_fraction(egui::vec2(0.05, 0.25))
        .show(ui, |plot| {
            plot.points(egui_plot::Points::new("cold", cold).color(COLD).radius(3.0));
            plot.points(egui_plot::Points::new("warm", warm).color(WARM).radius(2.5));
        });
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
                    ui.label(if e.busy {
                        RichText::new("busy").color(OK)
                    } else {
                        RichText::new("idle").color(WARM)
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
    ui.add_space(6.0);
    ui.label(RichText::new("History (newest first; click to see its log lines)").strong());
    egui::ScrollArea::vertical()
        .id_salt("history")
        .auto_shrink([false, false])
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
                if ui.selectable_label(false, text).clicked()
                    && let Ok(inv) = &r.result
                {
                    state.log_filter.request_id = Some(inv.request_id.clone());
                }
            }
        });
}
