//! JSON in the app: syntax highlighting for the event editor, validation that
//! says where the error is, pretty-printing and a collapsible tree.

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat, Ui};
use serde_json::Value;

/// Where and why a text is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonProblem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The parser's message.
    pub message: String,
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Checks that `text` is JSON.
pub fn check(text: &str) -> Result<Value, JsonProblem> {
    serde_json::from_str::<Value>(text).map_err(|e| {
        let full = e.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_owned();
        JsonProblem {
            line: e.line(),
            column: e.column(),
            message,
        }
    })
}

/// Pretty-prints `text` if it is JSON.
pub fn format(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    serde_json::to_string_pretty(&v).ok()
}

/// Colours for highlighting.
struct Palette {
    key: Color32,
    string: Color32,
    number: Color32,
    literal: Color32,
    punct: Color32,
}

fn palette(dark: bool) -> Palette {
    if dark {
        Palette {
            key: Color32::from_rgb(0x9c, 0xdc, 0xfe),
            string: Color32::from_rgb(0xce, 0x91, 0x78),
            number: Color32::from_rgb(0xb5, 0xce, 0xa8),
            literal: Color32::from_rgb(0x56, 0x9c, 0xd6),
            punct: Color32::from_gray(0xb0),
        }
    } else {
        Palette {
            key: Color32::from_rgb(0x00, 0x4c, 0x99),
            string: Color32::from_rgb(0xa3, 0x15, 0x15),
            number: Color32::from_rgb(0x09, 0x86, 0x58),
            literal: Color32::from_rgb(0x00, 0x00, 0xcc),
            punct: Color32::from_gray(0x50),
        }
    }
}

/// A highlighted layout of JSON text (tolerates invalid JSON).
pub fn highlight(text: &str, font: FontId, dark: bool) -> LayoutJob {
    let p = palette(dark);
    let mut job = LayoutJob::default();
    let fmt = |color| TextFormat::simple(font.clone(), color);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let color = match c {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
                // A string followed by `:` is a key.
                let rest = text[i..].trim_start();
                if rest.starts_with(':') {
                    p.key
                } else {
                    p.string
                }
            }
            b'-' | b'0'..=b'9' => {
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                p.number
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                p.literal
            }
            _ => {
                i += 1;
                while i < bytes.len()
                    && !matches!(bytes[i], b'"' | b'-' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
                {
                    i += 1;
                }
                p.punct
            }
        };
        // Keep slices on char boundaries.
        while i < bytes.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        job.append(&text[start..i], 0.0, fmt(color));
    }
    job
}

/// A collapsible tree of a JSON value.
pub fn tree_ui(ui: &mut Ui, id: egui::Id, key: &str, value: &Value, depth: usize) {
    match value {
        Value::Object(map) => {
            egui::CollapsingHeader::new(format!("{key} {{{}}}", map.len()))
                .id_salt(id.with(key).with(depth))
                .default_open(depth < 2)
                .show(ui, |ui| {
                    for (k, v) in map {
                        tree_ui(ui, id.with(key), k, v, depth + 1);
                    }
                });
        }
        Value::Array(items) => {
            egui::CollapsingHeader::new(format!("{key} [{}]", items.len()))
                .id_salt(id.with(key).with(depth))
                .default_open(depth < 2)
                .show(ui, |ui| {
                    for (i, v) in items.iter().enumerate() {
                        tree_ui(ui, id.with(key), &i.to_string(), v, depth + 1);
                    }
                });
        }
        leaf => {
            ui.horizontal(|ui| {
                ui.monospace(format!("{key}:"));
                ui.monospace(leaf.to_string());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_have_line_and_column() {
        let p = check("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!((p.line, p.column), (3, 7));
        assert_eq!(p.message, "expected `:`");
        assert!(check("{}").is_ok());
    }

    #[test]
    fn highlight_covers_all_text() {
        let text = r#"{"k": ["v", 1.5e3, true, null], "ü": "é"}"#;
        let job = highlight(text, FontId::monospace(12.0), true);
        assert_eq!(job.text, text);
    }
}
