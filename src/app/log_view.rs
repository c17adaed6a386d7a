//! The live log viewer: filters, follow-the-tail, copy and clear, and a
//! virtualised list that lays out only the rows on screen.

use egui::{Color32, RichText, Ui};

use super::controller::Command;
use super::log_store::{Filter, LogStore};
use crate::runtime::LogKind;

/// Viewer settings kept between launches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LogViewState {
    /// Scroll to new lines as they arrive.
    pub follow_tail: bool,
    /// Lines kept.
    pub cap: usize,
}

impl Default for LogViewState {
    fn default() -> Self {
        Self {
            follow_tail: true,
            cap: super::log_store::DEFAULT_CAP,
        }
    }
}

fn color(kind: LogKind, is_error: bool, dark: bool) -> Color32 {
    match kind {
        LogKind::Start | LogKind::End => {
            if dark {
                Color32::from_rgb(0x8a, 0xb4, 0xf8)
            } else {
                Color32::from_rgb(0x1a, 0x55, 0xb0)
            }
        }
        LogKind::Report => {
            if dark {
                Color32::from_rgb(0xc3, 0x9b, 0xf0)
            } else {
                Color32::from_rgb(0x6a, 0x2c, 0xa8)
            }
        }
        LogKind::Platform => super::theme::ERROR,
        LogKind::Function if is_error => super::theme::ERROR,
        LogKind::Function => {
            if dark {
                Color32::from_gray(0xdd)
            } else {
                Color32::from_gray(0x20)
            }
        }
    }
}

/// The toolbar and the list. `functions` feeds the function filter.
pub fn log_view_ui(
    ui: &mut Ui,
    store: &LogStore,
    filter: &mut Filter,
    view: &mut LogViewState,
    functions: &[String],
    cmds: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        let title = ui.label(RichText::new("Logs").strong());
        ui.checkbox(&mut view.follow_tail, "Follow")
            .on_hover_text("Keep the newest line in view");
        egui::ComboBox::from_id_salt("log-function")
            .selected_text(
                filter
                    .function
                    .clone()
                    .unwrap_or_else(|| "All functions".into()),
            )
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(filter.function.is_none(), "All functions")
                    .clicked()
                {
                    filter.function = None;
                }
                for f in functions {
                    if ui
                        .selectable_label(filter.function.as_deref() == Some(f), f)
                        .clicked()
                    {
                        filter.function = Some(f.clone());
                    }
                }
            })
            .response
            .labelled_by(title.id)
            .on_hover_text("Show one function's lines");
        ui.add(
            egui::TextEdit::singleline(&mut filter.text)
                .desired_width(140.0)
                .hint_text("Filter text"),
        )
        .on_hover_text("Only lines containing this text (case-insensitive)");
        ui.checkbox(&mut filter.errors_only, "Errors only")
            .on_hover_text("Timeouts, crashes and lines that look like errors");
        if let Some(r) = filter.request_id.clone()
            && ui
                .button(format!("Request {}… ×", prefix(&r, 8)))
                .on_hover_text("Showing one invocation; click to show all")
                .clicked()
        {
            filter.request_id = None;
        }
        if let Some(s) = filter.log_stream.clone()
            && ui
                .button(format!(
                    "Stream {}… ×",
                    prefix(s.rsplit(']').next().unwrap_or(&s), 8)
                ))
                .on_hover_text("Showing one log stream; click to show all")
                .clicked()
        {
            filter.log_stream = None;
        }
        if ui
            .button("Copy")
            .on_hover_text("Copy the lines shown")
            .clicked()
        {
            ui.ctx().copy_text(store.matching_text());
        }
        if ui
            .button("Clear")
            .on_hover_text("Remove every line")
            .clicked()
        {
            cmds.push(Command::ClearLogs);
        }
        ui.add(
            egui::DragValue::new(&mut view.cap)
                .range(1_000..=5_000_000)
                .speed(1000.0)
                .prefix("keep "),
        )
        .on_hover_text("Most lines kept in memory; the oldest go first");
        ui.label(
            RichText::new(format!("{} of {} lines", store.matching_len(), store.len()))
                .small()
                .weak(),
        );
    });
    // The store follows the filter and the cap from the next frame on.
    if store.cap() != view.cap || store.filter() != filter {
        cmds.push(Command::SetLogView {
            cap: view.cap,
            filter: filter.clone(),
        });
    }
    ui.separator();
    let dark = ui.visuals().dark_mode;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    let total = store.matching_len();
    let mut clicked_request = None;
    egui::ScrollArea::both()
        .id_salt("log-rows")
        .auto_shrink([false, false])
        .stick_to_bottom(view.follow_tail)
        .show_rows(ui, row_height, total, |ui, rows| {
            for i in rows {
                let Some(e) = store.matching_entry(i) else {
                    continue;
                };
                let text = format!("{}  {}", e.time.format("%H:%M:%S%.3f"), e.text);
                let r = ui.add(
                    egui::Label::new(RichText::new(text).monospace().color(color(
                        e.kind,
                        e.is_error(),
                        dark,
                    )))
                    .extend()
                    .sense(egui::Sense::click()),
                );
                if r.clicked() && !e.request_id.is_empty() {
                    clicked_request = Some(e.request_id.to_string());
                }
                r.on_hover_ui(|ui| {
                    ui.label(format!(
                        "{} · {} · request {}",
                        e.function, e.log_stream, e.request_id
                    ));
                });
            }
        });
    if let Some(r) = clicked_request {
        filter.request_id = Some(r);
    }
}

fn prefix(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}
