//! A code editor widget: monospace text with line numbers, syntax
//! highlighting (syntect's grammars through `egui_extras`, loaded on a
//! thread of its own so no frame waits for them), tab indentation, marked
//! lines and a selection that is scrolled into view (find, go to line).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use egui::text::{CCursor, CCursorRange, LayoutJob};
use egui::{Color32, Ui};
use egui_extras::syntax_highlighting::{CodeTheme, SyntectSettings};

/// Files larger than this are shown without highlighting: syntect lays out
/// the whole text again at every keystroke.
pub const HIGHLIGHT_LIMIT: usize = 256 * 1024;

static SYNTAX: OnceLock<SyntectSettings> = OnceLock::new();
static SYNTAX_LOADING: AtomicBool = AtomicBool::new(false);

/// syntect's grammars and themes, or `None` while a thread loads them (the
/// frame after, the editor highlights).
fn syntax(ctx: &egui::Context) -> Option<&'static SyntectSettings> {
    if let Some(s) = SYNTAX.get() {
        return Some(s);
    }
    if !SYNTAX_LOADING.swap(true, Ordering::AcqRel) {
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("lambdesk-syntax".into())
            .spawn(move || {
                let _ = SYNTAX.set(SyntectSettings::default());
                ctx.request_repaint();
            });
        if spawned.is_err() {
            SYNTAX_LOADING.store(false, Ordering::Release);
        }
    }
    None
}

/// The highlighter's name for a file's language, by its extension.
pub fn language_of(path: &str) -> &'static str {
    match path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("py") => "py",
        Some("js" | "mjs" | "cjs") => "js",
        Some("json") => "json",
        Some("md") => "md",
        Some("yaml" | "yml") => "yaml",
        Some("html") => "html",
        Some("css") => "css",
        Some("sh") => "sh",
        _ => "",
    }
}

/// What to select and scroll to: a char range of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// First char.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
}

/// The editor: returns the new text when it was edited.
pub fn code_editor(
    ui: &mut Ui,
    id_salt: &str,
    text: &str,
    language: &str,
    marked_line: Option<usize>,
    select: Option<Selection>,
) -> Option<String> {
    let dark = ui.visuals().dark_mode;
    let id = ui.make_persistent_id(id_salt);
    let syntax = if text.len() <= HIGHLIGHT_LIMIT && !language.is_empty() {
        syntax(ui.ctx())
    } else {
        None
    };
    let theme = CodeTheme::from_style(ui.style());
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let plain = if dark {
        Color32::from_gray(0xd4)
    } else {
        Color32::from_gray(0x20)
    };
    let marked: Vec<usize> = marked_line.into_iter().collect();
    let mark_color = super::theme::error(dark).gamma_multiply(0.3);
    let mut layouter = |ui: &Ui, t: &dyn egui::TextBuffer, _wrap_width: f32| {
        let mut job = match syntax {
            Some(s) => egui_extras::syntax_highlighting::highlight_with(
                ui.ctx(),
                ui.style(),
                &theme,
                t.as_str(),
                language,
                s,
            ),
            None => LayoutJob::simple(t.as_str().to_owned(), font.clone(), plain, f32::INFINITY),
        };
        // Code is not wrapped: a line is a row, so the numbers line up.
        job.wrap.max_width = f32::INFINITY;
        mark_lines(&mut job, t.as_str(), &marked, mark_color);
        ui.fonts_mut(|f| f.layout_job(job))
    };
    if let Some(sel) = select
        && let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), id)
    {
        state.cursor.set_char_range(Some(CCursorRange::two(
            CCursor::new(sel.start),
            CCursor::new(sel.end),
        )));
        state.store(ui.ctx(), id);
    }
    let mut body = text.to_owned();
    let mut edited = None;
    egui::ScrollArea::both()
        .id_salt(("code-scroll", id_salt))
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                ui.spacing_mut().item_spacing.x = 0.0;
                let lines = text.lines().count().max(1) + usize::from(text.ends_with('\n'));
                let digits = lines.to_string().len().max(2);
                let char_width = ui.fonts_mut(|f| f.glyph_width(&font, '0'));
                let gutter_width = digits as f32 * char_width + 14.0;
                let (gutter, _) =
                    ui.allocate_exact_size(egui::vec2(gutter_width, 0.0), egui::Sense::hover());
                let out = egui::TextEdit::multiline(&mut body)
                    .id(id)
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(24)
                    .frame(egui::Frame::NONE)
                    .layouter(&mut layouter)
                    .show(ui);
                if out.response.response.changed() {
                    edited = Some(body.clone());
                }
                // Line numbers beside each row (the gutter spans the editor).
                let painter = ui.painter();
                let weak = ui.visuals().weak_text_color();
                let mut line = 1;
                let mut line_start = true;
                for row in &out.galley.rows {
                    let y = out.galley_pos.y + row.pos.y;
                    if line_start {
                        let marked = marked_line == Some(line);
                        let color = if marked {
                            super::theme::error(dark)
                        } else {
                            weak
                        };
                        painter.text(
                            egui::pos2(gutter.right() - 8.0, y),
                            egui::Align2::RIGHT_TOP,
                            line.to_string(),
                            font.clone(),
                            color,
                        );
                    }
                    line_start = row.ends_with_newline;
                    if row.ends_with_newline {
                        line += 1;
                    }
                }
                // A selection made from outside (find, go to line) is shown.
                if let Some(sel) = select {
                    let start = out.galley.pos_from_cursor(CCursor::new(sel.start));
                    let end = out.galley.pos_from_cursor(CCursor::new(sel.end));
                    let rect = start
                        .union(end)
                        .translate(out.galley_pos.to_vec2())
                        .expand(8.0);
                    ui.scroll_to_rect(rect, Some(egui::Align::Center));
                    out.response.response.request_focus();
                }
            });
        });
    edited
}

/// The char range of 1-based `line` (without its newline).
pub fn line_range(text: &str, line: usize) -> Option<Selection> {
    let mut start = 0;
    for (i, l) in text.split('\n').enumerate() {
        let len = l.chars().count();
        if i + 1 == line {
            return Some(Selection {
                start,
                end: start + len,
            });
        }
        start += len + 1;
    }
    None
}

/// Where `needle` occurs in `text`: char ranges, at most `limit`.
pub fn find_all(text: &str, needle: &str, match_case: bool, limit: usize) -> Vec<Selection> {
    if needle.is_empty() {
        return Vec::new();
    }
    let lowered;
    let (hay, pin) = if match_case {
        (text, needle.to_owned())
    } else {
        lowered = text.to_lowercase();
        // Lower-casing that changes byte lengths would shift the offsets.
        if lowered.len() == text.len() {
            (lowered.as_str(), needle.to_lowercase())
        } else {
            (text, needle.to_owned())
        }
    };
    let mut out = Vec::new();
    let mut chars_before = 0;
    let mut last_byte = 0;
    for (byte, m) in hay.match_indices(pin.as_str()) {
        chars_before += hay[last_byte..byte].chars().count();
        let len = m.chars().count();
        out.push(Selection {
            start: chars_before,
            end: chars_before + len,
        });
        chars_before += len;
        last_byte = byte + m.len();
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// Gives `lines` (1-based) of a laid-out text a background colour.
pub fn mark_lines(job: &mut LayoutJob, text: &str, lines: &[usize], color: Color32) {
    if lines.is_empty() {
        return;
    }
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let ranges: Vec<std::ops::Range<usize>> = lines
        .iter()
        .filter_map(|&l| {
            let start = *starts.get(l.checked_sub(1)?)?;
            let end = starts.get(l).copied().unwrap_or(text.len());
            Some(start..end)
        })
        .collect();
    let mut sections = Vec::with_capacity(job.sections.len());
    for s in job.sections.drain(..) {
        // Split a section where a marked line starts or ends.
        let (start, end) = (s.byte_range.start.0, s.byte_range.end.0);
        let mut cuts = vec![start, end];
        for r in &ranges {
            for p in [r.start, r.end] {
                if p > start && p < end {
                    cuts.push(p);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let mut part = s.clone();
            part.byte_range = egui::text::ByteIndex(w[0])..egui::text::ByteIndex(w[1]);
            if ranges.iter().any(|r| w[0] >= r.start && w[1] <= r.end) {
                part.format.background = color;
            }
            sections.push(part);
        }
    }
    job.sections = sections;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_gives_char_ranges() {
        let text = "é = 1\nlet É = é + 1";
        let found = find_all(text, "é", true, 10);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], Selection { start: 0, end: 1 });
        assert_eq!(found[1], Selection { start: 14, end: 15 });
        assert_eq!(find_all("Abc abc", "abc", false, 10).len(), 2);
        assert_eq!(find_all("Abc abc", "abc", true, 10).len(), 1);
        assert_eq!(find_all("aaaa", "a", true, 3).len(), 3);
        assert!(find_all("x", "", true, 3).is_empty());
    }

    #[test]
    fn lines_are_char_ranges() {
        assert_eq!(
            line_range("ab\ncd\n", 2),
            Some(Selection { start: 3, end: 5 })
        );
        assert_eq!(
            line_range("ab\ncd\n", 3),
            Some(Selection { start: 6, end: 6 })
        );
        assert_eq!(line_range("ab", 4), None);
        assert_eq!(language_of("lib/util.MJS"), "js");
        assert_eq!(language_of("lambda_function.py"), "py");
        assert_eq!(language_of("README"), "");
    }
}
