//! The live log viewer, read like CloudWatch: columns (time, function, log
//! stream, request, level, message), lines of one request grouped by a
//! coloured stripe, colour by level (errors red, warnings amber, START, END
//! and REPORT dim), every filter shown as a removable chip, follow-the-tail,
//! copy and clear; a virtualised list that lays out only the rows on screen.
//! Also the per-request "Log output" window.

use egui::{Color32, RichText, Ui};

use super::controller::Command;
use super::log_store::{Entry, Filter, Level, LevelFilter, LogStore};
use super::theme;
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

/// Most lines the per-request window shows.
const REQUEST_VIEW_LINES: usize = 2_000;

/// The text colour of a line's level.
pub fn level_color(level: Level, ui: &Ui) -> Color32 {
    let dark = ui.visuals().dark_mode;
    match level {
        Level::Error => theme::error(dark),
        Level::Warn | Level::Denied => theme::warm(dark),
        Level::Platform => theme::platform(dark),
        Level::Debug => ui.visuals().weak_text_color(),
        Level::Info => ui.visuals().text_color(),
    }
}

/// The short form of a log stream (its last 8 hex digits), as people tell
/// environments apart.
pub fn short_stream(stream: &str) -> String {
    let tail = stream.rsplit(']').next().unwrap_or(stream);
    let skip = tail.chars().count().saturating_sub(8);
    tail.chars().skip(skip).collect()
}

fn short_request(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A line written as Lambda's Node.js runtime writes one
/// (`<ISO time>\t<request id>\t<LEVEL>\t<message>`) or as its Python
/// runtime's logging does (`[LEVEL]\t<ISO time>\t<request id>\t<message>`):
/// its message, since the time, request and level have columns of their own.
fn runtime_message(text: &str) -> Option<&str> {
    let mut f = text.splitn(4, '\t');
    let (first, second, third, message) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let node_level = |l: &str| matches!(l, "INFO" | "WARN" | "ERROR" | "DEBUG" | "TRACE" | "FATAL");
    let python_level = |l: &str| {
        l.strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .is_some_and(|l| {
                matches!(
                    l,
                    "INFO" | "WARNING" | "ERROR" | "DEBUG" | "CRITICAL" | "TRACE"
                )
            })
    };
    let is_time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).is_ok();
    let node = node_level(third) && is_time(first);
    let python = python_level(first) && is_time(second);
    (node || python).then_some(message)
}

/// The message column: START, END and REPORT without the request id (the
/// request column has it), REPORT's fields in short words with separators,
/// so the whole report reads in one row (the exact line is one right-click
/// away); a Node.js console or Python logging line's message alone (its newlines, written as
/// `\r` to keep one record, as spaces); other lines as written.
pub fn message(e: &Entry) -> String {
    let strip = |t: &str| -> String {
        let rest = t.split_once("RequestId: ").map_or(t, |(_, r)| r);
        let rest = rest.split_once(['\t', ' ']).map_or("", |(_, r)| r);
        rest.trim().replace('\t', " · ")
    };
    match e.kind {
        LogKind::Start => format!("START {}", strip(&e.text)),
        LogKind::End => "END".to_owned(),
        LogKind::Report => {
            let mut s = format!("REPORT {}", strip(&e.text));
            for (long, short) in [
                ("Billed Duration: ", "Billed "),
                ("Memory Size: ", "Memory "),
                ("Max Memory Used: ", "Max used "),
                ("Init Duration: ", "Init "),
                ("Restore Duration: ", "Restore "),
                ("Duration: ", "Duration "),
            ] {
                s = s.replace(long, short);
            }
            s
        }
        LogKind::Function => match runtime_message(&e.text) {
            Some(m) => m.replace(['\r', '\t'], "  "),
            None => e.text.replace('\t', "  "),
        },
        _ => e.text.replace('\t', "  "),
    }
}

/// A stable colour for a request, to group its lines.
fn request_stripe(id: &str, dark: bool) -> Color32 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let hues = [
        (0x4a, 0x90, 0xe2),
        (0x2e, 0xb8, 0x8a),
        (0xc0, 0x6c, 0xe0),
        (0xe0, 0x8a, 0x2e),
        (0x3c, 0xb4, 0xc8),
        (0xd0, 0x5a, 0x8c),
    ];
    let (r, g, b) = hues[(hash % hues.len() as u64) as usize];
    let c = Color32::from_rgb(r, g, b);
    if dark { c } else { c.gamma_multiply(0.85) }
}

/// A removable chip: `label ×`. Returns true when removed.
fn chip(ui: &mut Ui, label: &str, tip: &str) -> bool {
    ui.add(
        egui::Button::new(format!("{label}  ×"))
            .corner_radius(10.0)
            .small(),
    )
    .on_hover_text(tip)
    .clicked()
}

/// The filters in force, each a chip that removes it; reserved height, so
/// nothing below moves when one appears.
fn chips_ui(ui: &mut Ui, filter: &mut Filter) {
    ui.horizontal(|ui| {
        ui.set_min_height(ui.spacing().interact_size.y);
        ui.label(RichText::new("Filters").weak());
        if filter.is_empty() {
            ui.label(RichText::new("none: every line is shown").weak());
        }
        if let Some(f) = filter.function.clone()
            && chip(ui, &format!("function: {f}"), "Show every function")
        {
            filter.function = None;
        }
        if let Some(s) = filter.log_stream.clone()
            && chip(ui, &format!("stream: …{}", short_stream(&s)), &s)
        {
            filter.log_stream = None;
        }
        if let Some(r) = filter.request_id.clone()
            && chip(ui, &format!("request: {}…", short_request(&r)), &r)
        {
            filter.request_id = None;
        }
        if filter.level != LevelFilter::All
            && chip(
                ui,
                &format!("level: {}", filter.level.label()),
                "Show every level",
            )
        {
            filter.level = LevelFilter::All;
        }
        if !filter.text.is_empty()
            && chip(
                ui,
                &format!("text: {}", filter.text),
                "Show lines with any text",
            )
        {
            filter.text.clear();
        }
        if !filter.is_empty() && ui.small_button("Clear filters").clicked() {
            *filter = Filter::default();
        }
    });
}

/// The toolbar, the chips and the list. `functions` feeds the function filter;
/// `request_view` opens the per-request window.
pub fn log_view_ui(
    ui: &mut Ui,
    store: &LogStore,
    filter: &mut Filter,
    view: &mut LogViewState,
    functions: &[String],
    request_view: &mut Option<String>,
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
        egui::ComboBox::from_id_salt("log-level")
            .selected_text(filter.level.label())
            .show_ui(ui, |ui| {
                for l in LevelFilter::ALL {
                    ui.selectable_value(&mut filter.level, l, l.label());
                }
            })
            .response
            .on_hover_text("Errors: timeouts, crashes and lines at ERROR; warnings: lines at WARN");
        ui.add(
            egui::TextEdit::singleline(&mut filter.text)
                .desired_width(140.0)
                .hint_text("Filter text"),
        )
        .on_hover_text("Only lines containing this text (case-insensitive)");
        if ui
            .button("Copy")
            .on_hover_text("Copy the lines shown, exactly as written")
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
        ui.label(RichText::new(format!(
            "{} of {} lines",
            store.matching_len(),
            store.len()
        )));
    });
    chips_ui(ui, filter);
    ui.separator();
    let columns = Columns::new(ui);
    columns.header_ui(ui);
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
    let total = store.matching_len();
    let mut clicked: Option<RowAction> = None;
    egui::ScrollArea::vertical()
        .id_salt("log-rows")
        .auto_shrink([false, false])
        .stick_to_bottom(view.follow_tail)
        .show_rows(ui, row_height, total, |ui, rows| {
            ui.spacing_mut().item_spacing.y = 0.0;
            for i in rows {
                let Some(e) = store.matching_entry(i) else {
                    continue;
                };
                let new_group = i == 0
                    || store
                        .matching_entry(i - 1)
                        .is_none_or(|p| p.request_id != e.request_id);
                if let Some(a) = columns.row_ui(ui, e, row_height, new_group) {
                    clicked = Some(a);
                }
            }
        });
    match clicked {
        Some(RowAction::FilterRequest(r)) => filter.request_id = Some(r),
        Some(RowAction::FilterStream(s)) => filter.log_stream = Some(s),
        Some(RowAction::FilterFunction(f)) => filter.function = Some(f),
        Some(RowAction::OpenRequest(r)) => *request_view = Some(r),
        None => {}
    }
    // The store follows the filter and the cap from the next frame on.
    if store.cap() != view.cap || store.filter() != filter {
        cmds.push(Command::SetLogView {
            cap: view.cap,
            filter: filter.clone(),
        });
    }
}

enum RowAction {
    FilterRequest(String),
    FilterStream(String),
    FilterFunction(String),
    OpenRequest(String),
}

/// Column widths, from the monospace font.
struct Columns {
    char_w: f32,
    gap: f32,
}

const HEADERS: [(&str, usize); 5] = [
    ("Time", 12),
    ("Function", 14),
    ("Stream", 8),
    ("Request", 8),
    ("Level", 6),
];

impl Columns {
    fn new(ui: &Ui) -> Self {
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let char_w = ui.fonts_mut(|f| f.glyph_width(&font, '0'));
        Self { char_w, gap: 10.0 }
    }

    /// Left edges of the columns and of the message, from `left`.
    fn edges(&self, left: f32) -> [f32; 6] {
        let mut x = left + 6.0;
        let mut out = [0.0; 6];
        for (i, (_, chars)) in HEADERS.iter().enumerate() {
            out[i] = x;
            x += self.char_w * *chars as f32 + self.gap;
        }
        out[5] = x;
        out
    }

    fn header_ui(&self, ui: &mut Ui) {
        let h = ui.text_style_height(&egui::TextStyle::Body);
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), h), egui::Sense::hover());
        let edges = self.edges(rect.left());
        let color = ui.visuals().weak_text_color();
        let font = egui::TextStyle::Body.resolve(ui.style());
        for (x, (title, _)) in edges.iter().zip(HEADERS) {
            ui.painter().text(
                egui::pos2(*x, rect.center().y),
                egui::Align2::LEFT_CENTER,
                title,
                font.clone(),
                color,
            );
        }
        ui.painter().text(
            egui::pos2(edges[5], rect.center().y),
            egui::Align2::LEFT_CENTER,
            "Message",
            font,
            color,
        );
    }

    fn row_ui(&self, ui: &mut Ui, e: &Entry, height: f32, new_group: bool) -> Option<RowAction> {
        let (rect, row) = ui.allocate_exact_size(
            egui::vec2(ui.available_width(), height),
            egui::Sense::click(),
        );
        if !ui.is_rect_visible(rect) {
            return None;
        }
        let dark = ui.visuals().dark_mode;
        let painter = ui.painter();
        if row.hovered() {
            painter.rect_filled(rect, 0.0, ui.visuals().widgets.hovered.weak_bg_fill);
        }
        if !e.request_id.is_empty() {
            painter.rect_filled(
                egui::Rect::from_min_size(rect.min, egui::vec2(3.0, rect.height())),
                0.0,
                request_stripe(&e.request_id, dark),
            );
        }
        if new_group {
            painter.hline(
                rect.x_range(),
                rect.top(),
                egui::Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
            );
        }
        let level = e.level();
        let color = level_color(level, ui);
        let weak = ui.visuals().weak_text_color();
        let edges = self.edges(rect.left());
        let cell = |ui: &mut Ui, i: usize, text: String, color: Color32| {
            let right = edges
                .get(i + 1)
                .map_or(rect.right(), |x| x - self.gap * 0.5);
            let r =
                egui::Rect::from_x_y_ranges(edges[i]..=right.max(edges[i] + 1.0), rect.y_range());
            ui.scope_builder(
                egui::UiBuilder::new()
                    .max_rect(r)
                    .layout(egui::Layout::left_to_right(egui::Align::Center)),
                |ui| {
                    ui.add(
                        egui::Label::new(RichText::new(text).monospace().color(color))
                            .truncate()
                            .selectable(false),
                    );
                },
            );
        };
        cell(
            ui,
            0,
            e.time
                .with_timezone(&chrono::Local)
                .format("%H:%M:%S%.3f")
                .to_string(),
            weak,
        );
        cell(ui, 1, e.function.to_string(), weak);
        cell(ui, 2, short_stream(&e.log_stream), weak);
        cell(ui, 3, short_request(&e.request_id), weak);
        cell(ui, 4, level.label().to_owned(), color);
        cell(ui, 5, message(e), color);
        let mut action = None;
        if row.clicked() && !e.request_id.is_empty() {
            action = Some(RowAction::FilterRequest(e.request_id.to_string()));
        }
        let row = row.on_hover_ui_at_pointer(|ui| {
            ui.label(format!(
                "{} · {} · request {}\nClick: only this request · right-click: more",
                e.function, e.log_stream, e.request_id
            ));
        });
        row.context_menu(|ui| {
            if ui
                .button("Copy line")
                .on_hover_text("Exactly as written (tabs kept)")
                .clicked()
            {
                ui.ctx().copy_text(e.text.clone());
                ui.close();
            }
            if !e.request_id.is_empty() {
                if ui.button("Log output of this request").clicked() {
                    action = Some(RowAction::OpenRequest(e.request_id.to_string()));
                    ui.close();
                }
                if ui.button("Only this request").clicked() {
                    action = Some(RowAction::FilterRequest(e.request_id.to_string()));
                    ui.close();
                }
            }
            if !e.log_stream.is_empty() && ui.button("Only this log stream").clicked() {
                action = Some(RowAction::FilterStream(e.log_stream.to_string()));
                ui.close();
            }
            if ui.button("Only this function").clicked() {
                action = Some(RowAction::FilterFunction(e.function.to_string()));
                ui.close();
            }
        });
        action
    }
}

/// The lines of one request, whole (wrapped), as the Lambda console's
/// "Log output": in the Test tab under a result and in the per-request window.
pub fn request_lines_ui(ui: &mut Ui, store: &LogStore, request_id: &str) {
    let lines = store.request_lines(request_id, REQUEST_VIEW_LINES);
    if lines.is_empty() {
        ui.label(RichText::new("No log lines kept for this request").weak());
        return;
    }
    for e in lines {
        let color = level_color(e.level(), ui);
        ui.add(
            egui::Label::new(
                RichText::new(format!(
                    "{}  {}",
                    e.time.with_timezone(&chrono::Local).format("%H:%M:%S%.3f"),
                    e.text.replace('\t', "    ")
                ))
                .monospace()
                .color(color),
            )
            .wrap(),
        );
    }
}

/// The exact text of a request's lines, for copying.
pub fn request_text(store: &LogStore, request_id: &str) -> String {
    store
        .request_lines(request_id, REQUEST_VIEW_LINES)
        .iter()
        .map(|e| format!("{}\n", e.text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::runtime_message;

    #[test]
    fn node_and_python_log_lines_show_their_message_alone() {
        let id = "6465f04b-5a7b-4815-9832-629ce91939a7";
        assert_eq!(
            runtime_message(&format!(
                "2026-12-07T14:03:49.402Z\t{id}\tINFO\trequest {{ a: 1 }}"
            )),
            Some("request { a: 1 }")
        );
        assert_eq!(
            runtime_message("2026-12-07T14:03:49.402Z\tundefined\tWARN\tat\tINIT"),
            Some("at\tINIT")
        );
        assert_eq!(
            runtime_message(&format!(
                "[WARNING]\t2026-12-07T14:03:49.402Z\t{id}\tdisk almost full"
            )),
            Some("disk almost full")
        );
        assert_eq!(
            runtime_message("[INFO]\t2026-12-07T14:03:49.402Z\t\tat INIT"),
            Some("at INIT")
        );
        // Anything else is shown as written.
        for other in [
            "plain text",
            "not a time\tid\tINFO\tmessage",
            "2026-12-07T14:03:49.402Z\tid\tNOTICE\tmessage",
            "[NOTICE]\t2026-12-07T14:03:49.402Z\tid\tpython",
            "[INFO]\tyesterday\tid\tpython",
        ] {
            assert_eq!(runtime_message(other), None, "{other}");
        }
    }
}
