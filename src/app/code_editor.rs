//! A code editor widget: monospace text with line numbers, syntax
//! highlighting, tab indentation, marked lines and a selection that is
//! scrolled into view (find, go to line).
//!
//! Highlighting is syntect's (Sublime Text grammars), incremental per line:
//! each line keeps the parser's state at its start, so a keystroke parses
//! again only from the changed line until the state meets the one before
//! (usually the next line), not the whole file. The grammars load on a thread
//! of their own, so no frame waits for them; the laid-out text is kept while
//! it is unchanged, so an idle frame does not lay it out again.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use egui::text::{CCursor, CCursorRange, LayoutJob, LayoutSection, TextFormat};
use egui::{Color32, FontId, Galley, Ui};
use syntect::highlighting::{
    FontStyle, HighlightState, Highlighter, RangedHighlightIterator, Theme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};

/// Files larger than this are shown without highlighting.
pub const HIGHLIGHT_LIMIT: usize = 1024 * 1024;
/// Lines longer than this (minified code) are shown without highlighting.
pub const LINE_LIMIT: usize = 10_000;

/// syntect's grammars and themes.
struct Syntax {
    syntaxes: SyntaxSet,
    themes: ThemeSet,
}

static SYNTAX: OnceLock<Syntax> = OnceLock::new();
static SYNTAX_LOADING: AtomicBool = AtomicBool::new(false);

/// The grammars, or `None` while a thread loads them (the frame after, the
/// editor highlights).
fn syntax(ctx: &egui::Context) -> Option<&'static Syntax> {
    if let Some(s) = SYNTAX.get() {
        return Some(s);
    }
    if !SYNTAX_LOADING.swap(true, Ordering::AcqRel) {
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("lambdesk-syntax".into())
            .spawn(move || {
                let _ = SYNTAX.set(Syntax {
                    syntaxes: SyntaxSet::load_defaults_newlines(),
                    themes: ThemeSet::load_defaults(),
                });
                ctx.request_repaint();
            });
        if spawned.is_err() {
            SYNTAX_LOADING.store(false, Ordering::Release);
        }
    }
    None
}

/// One line as last highlighted: its text, the parser's state at its start
/// and its coloured spans.
struct Line {
    text: String,
    start: (ParseState, HighlightState),
    spans: Vec<Span>,
}

/// A coloured part of a line: colour, italics, bytes.
type Span = (Color32, bool, Range<usize>);

/// A layout kept: text, marked line, font, highlighted, galley.
type Laid = (String, Option<usize>, FontId, bool, Arc<Galley>);

/// An editor's highlighting and layout, kept between frames.
#[derive(Default)]
struct EditorCache {
    /// Language and theme the lines were highlighted for.
    key: (String, bool),
    lines: Vec<Line>,
    /// The parser's state after the last line.
    end: Option<(ParseState, HighlightState)>,
    /// The last layout: its text, marked line, font, whether it is
    /// highlighted, and the galley.
    galley: Option<Laid>,
}

impl EditorCache {
    /// Highlights `text`, parsing only the lines that changed (and those
    /// after them until the parser's state meets the old one).
    fn highlight(&mut self, syntax: &Syntax, language: &str, dark: bool, text: &str) -> Option<()> {
        let grammar = syntax.syntaxes.find_syntax_by_extension(language)?;
        let theme: &Theme = syntax.themes.themes.get(if dark {
            "base16-mocha.dark"
        } else {
            "InspiredGitHub"
        })?;
        let highlighter = Highlighter::new(theme);
        let key = (language.to_owned(), dark);
        if self.key != key {
            self.key = key;
            self.lines.clear();
            self.end = None;
        }
        let new: Vec<&str> = syntect::util::LinesWithEndings::from(text).collect();
        let old = std::mem::take(&mut self.lines);
        let old_end = self.end.take();
        let prefix = old
            .iter()
            .zip(&new)
            .take_while(|(o, n)| o.text == **n)
            .count();
        let room = old.len().min(new.len()) - prefix;
        let suffix = (0..room)
            .take_while(|k| old[old.len() - 1 - k].text == new[new.len() - 1 - k])
            .count();
        let old_len = old.len();
        let mut state = match (old.get(prefix), prefix) {
            (Some(line), _) => line.start.clone(),
            (None, 0) => (
                ParseState::new(grammar),
                HighlightState::new(&highlighter, ScopeStack::new()),
            ),
            (None, _) => old_end.clone()?,
        };
        let mut old: Vec<Option<Line>> = old.into_iter().map(Some).collect();
        let mut lines: Vec<Line> = Vec::with_capacity(new.len());
        lines.extend(old[..prefix].iter_mut().filter_map(Option::take));
        let mut reused_tail = false;
        for (j, text) in new.iter().enumerate().skip(prefix) {
            if j >= new.len() - suffix {
                let o = old_len - (new.len() - j);
                if old[o].as_ref().is_some_and(|l| l.start == state) {
                    // The same text from the same state: the rest is as before.
                    lines.extend(old[o..].iter_mut().filter_map(Option::take));
                    self.end = old_end;
                    reused_tail = true;
                    break;
                }
            }
            let start = state.clone();
            if text.len() > LINE_LIMIT {
                // A minified line: shown plain (the parser's regexes would
                // take seconds on it, at every keystroke).
                let plain = highlighter.get_default().foreground;
                lines.push(Line {
                    text: (*text).to_owned(),
                    start,
                    spans: vec![(
                        Color32::from_rgb(plain.r, plain.g, plain.b),
                        false,
                        0..text.len(),
                    )],
                });
                continue;
            }
            let ops = state.0.parse_line(text, &syntax.syntaxes).ok()?;
            let spans = RangedHighlightIterator::new(&mut state.1, &ops, text, &highlighter)
                .map(|(style, _, range)| {
                    let fg = style.foreground;
                    (
                        Color32::from_rgb(fg.r, fg.g, fg.b),
                        style.font_style.contains(FontStyle::ITALIC),
                        range,
                    )
                })
                .collect();
            lines.push(Line {
                text: (*text).to_owned(),
                start,
                spans,
            });
        }
        if !reused_tail {
            self.end = Some(state);
        }
        self.lines = lines;
        Some(())
    }

    /// The highlighted lines as a layout job.
    fn job(&self, font: &FontId) -> LayoutJob {
        let mut job = LayoutJob::default();
        for line in &self.lines {
            let offset = job.text.len();
            job.text.push_str(&line.text);
            for (color, italics, range) in &line.spans {
                job.sections.push(LayoutSection {
                    leading_space: 0.0,
                    byte_range: egui::text::ByteIndex(offset + range.start)
                        ..egui::text::ByteIndex(offset + range.end),
                    format: TextFormat {
                        font_id: font.clone(),
                        color: *color,
                        italics: *italics,
                        ..Default::default()
                    },
                });
            }
        }
        job
    }
}

/// The layout of an editor's text: highlighted (incrementally) when the
/// grammars are loaded and the file is not too large, plain otherwise; kept
/// while the text, the marked line and the font stay the same.
fn layout(
    ui: &Ui,
    id: egui::Id,
    text: &str,
    language: &str,
    marked_line: Option<usize>,
) -> Arc<Galley> {
    let dark = ui.visuals().dark_mode;
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let cache: Arc<Mutex<EditorCache>> = ui.data_mut(|d| {
        d.get_temp_mut_or_default::<Arc<Mutex<EditorCache>>>(id)
            .clone()
    });
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let wanted = text.len() <= HIGHLIGHT_LIMIT && !language.is_empty();
    // A plain layout made while the grammars loaded is made again once
    // they are there.
    if let Some((t, m, f, highlighted, galley)) = &cache.galley
        && t == text
        && *m == marked_line
        && *f == font
        && cache.key.1 == dark
        && (*highlighted || !wanted || SYNTAX.get().is_none())
    {
        return galley.clone();
    }
    let highlighted = wanted
        .then(|| syntax(ui.ctx()))
        .flatten()
        .and_then(|s| cache.highlight(s, language, dark, text));
    let mut job = match highlighted {
        Some(()) => cache.job(&font),
        None => {
            cache.key.1 = dark;
            let plain = if dark {
                Color32::from_gray(0xd4)
            } else {
                Color32::from_gray(0x20)
            };
            LayoutJob::simple(text.to_owned(), font.clone(), plain, f32::INFINITY)
        }
    };
    // Code is not wrapped: a line is a row, so the numbers line up.
    job.wrap.max_width = f32::INFINITY;
    let marked: Vec<usize> = marked_line.into_iter().collect();
    mark_lines(
        &mut job,
        text,
        &marked,
        super::theme::error(dark).gamma_multiply(0.3),
    );
    let galley = ui.fonts_mut(|f| f.layout_job(job));
    cache.galley = Some((
        text.to_owned(),
        marked_line,
        font,
        highlighted.is_some(),
        galley.clone(),
    ));
    galley
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
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let cache_id = id.with("layout");
    let mut layouter = |ui: &Ui, t: &dyn egui::TextBuffer, _wrap_width: f32| {
        layout(ui, cache_id, t.as_str(), language, marked_line)
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
                // Only the rows in view (a long file has thousands).
                let clip = ui.clip_rect();
                for row in &out.galley.rows {
                    let y = out.galley_pos.y + row.pos.y;
                    let visible = y + row.row.size.y >= clip.top() && y <= clip.bottom();
                    if line_start && visible {
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

    fn spans(c: &EditorCache) -> Vec<(String, Vec<Span>)> {
        c.lines
            .iter()
            .map(|l| (l.text.clone(), l.spans.clone()))
            .collect()
    }

    #[test]
    fn incremental_highlighting_matches_highlighting_afresh() {
        let syntax = Syntax {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            themes: ThemeSet::load_defaults(),
        };
        let base = "import json\n\ndef f(x):\n    return json.dumps(x)\n\nvalue = 1\n";
        let edits = [
            // A keystroke in a line.
            "import json\n\ndef f(x):\n    return json.dumps(x) + 1\n\nvalue = 1\n",
            // An open string: every line after it changes colour.
            "import json\n'''\ndef f(x):\n    return json.dumps(x)\n\nvalue = 1\n",
            // Lines removed, added at the end, all gone.
            "import json\nvalue = 1\n",
            "import json\n\ndef f(x):\n    return json.dumps(x)\n\nvalue = 1\nmore = 2\n",
            "",
        ];
        for dark in [true, false] {
            for edit in edits {
                let mut incremental = EditorCache::default();
                incremental.highlight(&syntax, "py", dark, base).unwrap();
                incremental.highlight(&syntax, "py", dark, edit).unwrap();
                let mut fresh = EditorCache::default();
                fresh.highlight(&syntax, "py", dark, edit).unwrap();
                assert_eq!(spans(&incremental), spans(&fresh), "{edit:?}");
                assert!(incremental.end == fresh.end, "{edit:?}");
            }
        }
        // A minified line is one plain span; the lines after it are
        // highlighted as usual.
        let minified = format!("var a=[{}];\nvar b = 'x';\n", "1,".repeat(LINE_LIMIT));
        let mut m = EditorCache::default();
        m.highlight(&syntax, "js", true, &minified).unwrap();
        assert_eq!(m.lines[0].spans.len(), 1);
        assert!(m.lines[1].spans.len() > 2, "{:?}", m.lines[1].spans);
        // The open string really changes the next lines' colours.
        let mut a = EditorCache::default();
        a.highlight(&syntax, "py", true, base).unwrap();
        let mut b = EditorCache::default();
        b.highlight(&syntax, "py", true, edits[1]).unwrap();
        assert_ne!(spans(&a)[2], spans(&b)[2]);
    }

    #[test]
    fn text_laid_out_while_the_grammars_load_is_highlighted_once_they_are_there() {
        let ctx = egui::Context::default();
        let text = "def f(x):\n    return 'x'\n";
        let colours = |ctx: &egui::Context| {
            let mut n = 0;
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                let g = layout(ui, egui::Id::NULL.with("t"), text, "py", None);
                let mut seen: Vec<Color32> =
                    g.job.sections.iter().map(|s| s.format.color).collect();
                seen.dedup();
                n = seen.len();
            });
            out.textures_delta.clear();
            n
        };
        colours(&ctx);
        let start = std::time::Instant::now();
        while SYNTAX.get().is_none() {
            assert!(start.elapsed() < std::time::Duration::from_secs(30));
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            colours(&ctx) > 2,
            "highlighted once the grammars are loaded"
        );
    }

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
