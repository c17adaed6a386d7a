//! The Code tab. For JavaScript and Python functions, the Lambda console's
//! code source: the function's files (new, rename, delete), an editor with
//! line numbers, highlighting and find, an unsaved marker, *Deploy* (Ctrl+S)
//! and *Test* (deploys first), and the last error's line marked. For every
//! function, the code properties, as the console's "Code properties" panel
//! shows them (package size, `CodeSha256`, last modified) and what Lambdesk
//! knows beyond them: the file, the module's kind, its exports and imports,
//! and where its compiled code came from; *Reveal in folder* and *Copy path*.

use egui::{Key, KeyboardShortcut, Modifiers, RichText, Ui};

use super::code_editor;
use super::controller::code::{BufferState, CodeBuffer, INLINE_LIMIT};
use super::state::CodeForm;

use super::controller::{Command, Controller, DeployState};
use super::theme;
use crate::runtime::{CodeSource, ModuleKind, report::as_ms};

/// Most find matches counted.
const MAX_MATCHES: usize = 10_000;

pub(super) fn code_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    form: &mut CodeForm,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    if !entry.config.runtime.is_source() {
        properties_ui(ui, c, name, cmds);
        return;
    }
    egui::CollapsingHeader::new("Code properties")
        .id_salt("code-properties-header")
        .default_open(false)
        .show(ui, |ui| {
            ui.set_max_height(220.0);
            properties_ui(ui, c, name, cmds);
        });
    match c.code.get(name) {
        None => {
            cmds.push(Command::OpenCode(name.to_owned()));
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the files…");
            });
        }
        Some(b) => match &b.state {
            BufferState::Loading if b.files.is_empty() => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the files…");
                });
            }
            BufferState::Outside(why) => {
                ui.add(egui::Label::new(why.as_str()).wrap());
                reveal_button(ui, name, cmds);
            }
            BufferState::Failed(e) => {
                ui.label(RichText::new(e).color(theme::error(ui.visuals().dark_mode)));
                if ui.button("Read again").clicked() {
                    cmds.push(Command::ReloadCode(name.to_owned()));
                }
            }
            _ => source_ui(ui, c, name, b, form, cmds),
        },
    }
}

/// The last test's outcome in one line, as the Lambda console's
/// "Execution results": status, start, duration, and the response or error.
fn last_result_ui(ui: &mut Ui, c: &Controller, name: &str) {
    let (Some(record), _) = c.last_console_record(name, None) else {
        return;
    };
    let dark = ui.visuals().dark_mode;
    let text = match &record.result {
        Ok(inv) => {
            let start = match inv.start {
                crate::runtime::StartKind::Cold => "cold",
                crate::runtime::StartKind::Warm => "warm",
            };
            let payload = String::from_utf8_lossy(&inv.payload()).into_owned();
            let mut shown: String = payload.chars().take(160).collect();
            if shown.len() < payload.len() {
                shown.push('…');
            }
            let status = if inv.error().is_some() {
                "Failed"
            } else {
                "Succeeded"
            };
            format!(
                "Last test: {status} ({start}, {:.2} ms): {shown}",
                inv.report.duration_ms
            )
        }
        Err(e) => format!("Last test: not run: {e}"),
    };
    let failed = record
        .result
        .as_ref()
        .map_or(true, |inv| inv.error().is_some());
    let color = if failed {
        theme::error(dark)
    } else {
        theme::ok(dark)
    };
    ui.add(egui::Label::new(RichText::new(text).monospace().color(color)).truncate())
        .on_hover_text("The response and the log output are on the Test tab");
}

fn reveal_button(ui: &mut Ui, name: &str, cmds: &mut Vec<Command>) {
    if ui
        .button("Reveal in folder")
        .on_hover_text("Open the folder holding the code in the desktop's file manager")
        .clicked()
    {
        cmds.push(Command::RevealCode(name.to_owned()));
    }
}

/// The code source: toolbar, files, editor, the error's place.
fn source_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    b: &CodeBuffer,
    form: &mut CodeForm,
    cmds: &mut Vec<Command>,
) {
    let dark = ui.visuals().dark_mode;
    let editable = b.state == BufferState::Ready;
    let unsaved = b.unsaved();
    let deploy = |cmds: &mut Vec<Command>| cmds.push(Command::DeployCode(name.to_owned()));
    // Shortcuts first, before the editor takes the keys.
    if editable
        && unsaved
        && ui.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::S)))
    {
        deploy(cmds);
    }
    if ui.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F))) {
        form.find_open = true;
        form.focus_find = true;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Code source").strong());
        if ui
            .add_enabled(editable && unsaved, egui::Button::new("Deploy"))
            .on_hover_text("Write the changed files and deploy them (Ctrl+S); the next start is cold")
            .clicked()
        {
            deploy(cmds);
        }
        let blocker = super::test_tab::invoke_blocker(c, name);
        let event = c
            .entry(name)
            .and_then(|e| e.events.get(e.selected_event))
            .map_or_else(String::new, |e| format!(" '{}'", e.name));
        let test = ui
            .add_enabled(
                blocker.is_none() && b.state != BufferState::Saving,
                egui::Button::new("Test"),
            )
            .on_hover_text(format!(
                "Deploy the changes if there are any, then invoke with the test event{event} (Ctrl+Enter; events are on the Test tab)"
            ));
        if let Some(why) = &blocker {
            test.clone().on_disabled_hover_text(why);
        }
        if test.clicked() {
            cmds.push(Command::Invoke {
                function: name.to_owned(),
                times: 1,
                parallel: 1,
            });
        }
        if b.state == BufferState::Saving {
            ui.spinner();
            ui.label("Deploying…");
        } else if unsaved {
            ui.label(RichText::new("Changes not deployed").color(theme::warm(dark)));
        }
        ui.separator();
        if ui
            .selectable_label(form.find_open, "Find")
            .on_hover_text("Find in the open file (Ctrl+F)")
            .clicked()
        {
            form.find_open = !form.find_open;
            form.focus_find = form.find_open;
        }
        reveal_button(ui, name, cmds);
        if let Some(entry) = c.entry(name) {
            ui.label(RichText::new(entry.config.runtime.engine()).weak());
        }
    });
    if b.disk_changed {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(
                    "The files changed on disk while you were editing them. Deploy writes your version over theirs; Reload takes theirs.",
                )
                .color(theme::warm(dark)),
            );
            if ui.button("Reload").clicked() {
                cmds.push(Command::ReloadCode(name.to_owned()));
            }
        });
    }
    last_result_ui(ui, c, name);
    let open = b.files.get(b.open);
    if form.find_open {
        find_ui(ui, open.map_or("", |f| f.text.as_str()), form);
    }
    if let Some(mark) = &b.mark {
        ui.horizontal_wrapped(|ui| {
            let at = match mark.line {
                Some(l) => format!("{}, line {l}", mark.file),
                None => mark.file.clone(),
            };
            ui.label(RichText::new(format!("{at}: {}", mark.text)).color(theme::error(dark)));
            if ui.small_button("Show").clicked()
                && let Some(i) = b.index_of(&mark.file)
            {
                cmds.push(Command::SelectCodeFile(name.to_owned(), i));
                form.select = mark
                    .line
                    .and_then(|l| code_editor::line_range(&b.files[i].text, l));
            }
        });
    }
    egui::Panel::left("code-files")
        .resizable(true)
        .default_size(200.0)
        .min_size(120.0)
        .show(ui, |ui| files_ui(ui, name, b, form, editable, cmds));
    egui::CentralPanel::default().show(ui, |ui| {
        let Some(f) = open else {
            ui.label(RichText::new("No files. Add one with New file.").weak());
            return;
        };
        if f.binary {
            ui.label(
                RichText::new(format!("{} is not text: it is deployed as it is.", f.path)).weak(),
            );
            return;
        }
        let marked = b
            .mark
            .as_ref()
            .filter(|m| m.file == f.path)
            .and_then(|m| m.line);
        let select = form.select.take();
        let id = format!("code-{name}-{}", f.path);
        let language = code_editor::language_of(&f.path);
        if let Some(text) = code_editor::code_editor(ui, &id, &f.text, language, marked, select)
            && editable
        {
            cmds.push(Command::EditCode(name.to_owned(), b.open, text));
        }
    });
}

fn files_ui(
    ui: &mut Ui,
    name: &str,
    b: &CodeBuffer,
    form: &mut CodeForm,
    editable: bool,
    cmds: &mut Vec<Command>,
) {
    ui.label(RichText::new("Files").strong());
    let size: usize = b.files.iter().map(|f| f.text.len()).sum();
    ui.label(
        RichText::new(format!(
            "{} file(s), {:.0} of {:.0} KB inline",
            b.files.len(),
            size as f64 / 1024.0,
            INLINE_LIMIT as f64 / 1024.0
        ))
        .weak()
        .small(),
    );
    let fixed = b.single_file;
    let why_fixed =
        "The function's code is a single file: make it a folder to add, rename or delete files";
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(editable && !fixed, egui::Button::new("New file").small())
            .on_disabled_hover_text(why_fixed)
            .clicked()
        {
            form.naming = Some((name.to_owned(), None, String::new()));
        }
        let has_open = b.files.get(b.open).is_some_and(|f| !f.binary);
        if ui
            .add_enabled(
                editable && !fixed && has_open,
                egui::Button::new("Rename").small(),
            )
            .on_disabled_hover_text(why_fixed)
            .clicked()
        {
            let current = b
                .files
                .get(b.open)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            form.naming = Some((name.to_owned(), Some(b.open), current));
        }
        if ui
            .add_enabled(
                editable && !fixed && !b.files.is_empty(),
                egui::Button::new("Delete").small(),
            )
            .on_hover_text("Delete the open file (from disk at the next Deploy)")
            .on_disabled_hover_text(why_fixed)
            .clicked()
        {
            cmds.push(Command::DeleteCodeFile(name.to_owned(), b.open));
        }
    });
    if let Some((function, renaming, text)) = &mut form.naming
        && function == name
    {
        let hint = if renaming.is_some() {
            "new path"
        } else {
            "path, e.g. lib/util.js"
        };
        let field = ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(f32::INFINITY),
        );
        if !field.has_focus() && !field.lost_focus() {
            field.request_focus();
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.small_button("OK").clicked() || enter {
                cmds.push(match renaming {
                    Some(i) => Command::RenameCodeFile(name.to_owned(), *i, text.clone()),
                    None => Command::NewCodeFile(name.to_owned(), text.clone()),
                });
                done = true;
            }
            if ui.small_button("Cancel").clicked() || ui.input(|i| i.key_pressed(Key::Escape)) {
                done = true;
            }
        });
        if done {
            form.naming = None;
        }
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("code-files-list")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            // Long paths are cut, whole in the tooltip.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
            for (i, f) in b.files.iter().enumerate() {
                let mut label = f.path.clone();
                if f.unsaved() {
                    label.push_str(" *");
                }
                let mut text = RichText::new(label).monospace();
                if f.binary {
                    text = text.weak();
                }
                if b.mark.as_ref().is_some_and(|m| m.file == f.path) {
                    text = text.color(theme::error(ui.visuals().dark_mode));
                }
                let r = ui.selectable_label(i == b.open, text);
                let r = if f.unsaved() {
                    r.on_hover_text("Changed: not deployed yet")
                } else {
                    r
                };
                if r.clicked() {
                    cmds.push(Command::SelectCodeFile(name.to_owned(), i));
                }
            }
            if !b.removed.is_empty() {
                ui.label(
                    RichText::new(format!(
                        "Deleted at the next Deploy: {}",
                        b.removed.join(", ")
                    ))
                    .weak()
                    .small(),
                );
            }
        });
}

/// The find bar: matches in the open file, Next (Enter) and Previous
/// (Shift+Enter) select them in the editor.
fn find_ui(ui: &mut Ui, text: &str, form: &mut CodeForm) {
    ui.horizontal(|ui| {
        ui.label("Find");
        let field = ui.add(
            egui::TextEdit::singleline(&mut form.find)
                .id_salt("code-find")
                .desired_width(220.0),
        );
        if form.focus_find {
            field.request_focus();
            form.focus_find = false;
        }
        if field.changed() {
            form.find_index = 0;
        }
        ui.checkbox(&mut form.match_case, "Match case");
        let matches = code_editor::find_all(text, &form.find, form.match_case, MAX_MATCHES);
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let back = enter && ui.input(|i| i.modifiers.shift);
        let mut step: Option<bool> = None;
        if ui
            .add_enabled(!matches.is_empty(), egui::Button::new("Previous"))
            .clicked()
            || back
        {
            step = Some(false);
        } else if ui
            .add_enabled(!matches.is_empty(), egui::Button::new("Next"))
            .clicked()
            || enter
        {
            step = Some(true);
        }
        if let Some(forward) = step
            && !matches.is_empty()
        {
            let n = matches.len();
            form.find_index = if forward {
                (form.find_index + 1) % n
            } else {
                (form.find_index + n - 1) % n
            };
            form.select = matches.get(form.find_index).copied();
        }
        if form.find_index >= matches.len() {
            form.find_index = 0;
        }
        let count = match matches.len() {
            0 if form.find.is_empty() => String::new(),
            0 => "No results".to_owned(),
            n if n >= MAX_MATCHES => format!("{} of {MAX_MATCHES}+", form.find_index + 1),
            n => format!("{} of {n}", form.find_index + 1),
        };
        ui.label(RichText::new(count).weak());
        if ui.small_button("Close").clicked() {
            form.find_open = false;
        }
    });
}

fn properties_ui(ui: &mut Ui, c: &Controller, name: &str, cmds: &mut Vec<Command>) {
    let Some(entry) = c.entry(name) else { return };
    let path = c.code_path(entry);
    let status = c.status.get(name);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Code properties").strong());
        if ui
            .button("Reveal in folder")
            .on_hover_text("Open the folder holding the code in the desktop's file manager")
            .clicked()
        {
            cmds.push(Command::RevealCode(name.to_owned()));
        }
        if ui.button("Copy path").clicked() {
            ui.ctx().copy_text(path.display().to_string());
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("code-tab")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("code-properties")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    row(ui, "File", path.display().to_string());
                    let modified = status
                        .and_then(|s| s.code_mtime)
                        .map(|t| {
                            chrono::DateTime::<chrono::Local>::from(t)
                                .format("%Y-%m-%d %H:%M:%S")
                                .to_string()
                        })
                        .unwrap_or_else(|| "unknown".into());
                    row(ui, "Last modified", modified);
                    row(ui, "Runtime", entry.config.runtime.engine().into());
                    match status.map(|s| &s.deploy) {
                        Some(DeployState::Ready(info)) => {
                            row(
                                ui,
                                "Package size",
                                format!("{} ({} bytes)", size(info.code_size), info.code_size),
                            );
                            ui.label("CodeSha256");
                            ui.horizontal(|ui| {
                                let sha = info.code_sha256_base64();
                                ui.label(RichText::new(&sha).monospace())
                                    .on_hover_text(format!("SHA-256 (hex): {}", info.code_sha256));
                                if ui.small_button("Copy").clicked() {
                                    ui.ctx().copy_text(sha);
                                }
                            });
                            ui.end_row();
                            row(
                                ui,
                                "Kind",
                                module_kind_text(
                                    info.kind,
                                    &entry.config.handler,
                                    entry.config.runtime,
                                ),
                            );
                            let (source, d) = info.load;
                            let cache = match source {
                                CodeSource::Compiled => {
                                    "Compiled now (then kept in the compile cache)"
                                }
                                CodeSource::DiskCache => "Loaded from the compile cache",
                                CodeSource::Memory => "Already compiled in this session",
                            };
                            row(ui, "Compiled code", format!("{cache}, {:.1} ms", as_ms(d)));
                        }
                        Some(DeployState::Failed(e)) => {
                            ui.label("State");
                            ui.add(
                                egui::Label::new(
                                    RichText::new(format!("Cannot run: {e}"))
                                        .color(theme::error(ui.visuals().dark_mode)),
                                )
                                .wrap(),
                            );
                            ui.end_row();
                        }
                        Some(DeployState::Deploying) | None => {
                            row(ui, "State", "Loading…".into());
                        }
                    }
                });
            if let Some(DeployState::Ready(info)) = status.map(|s| &s.deploy) {
                ui.add_space(8.0);
                names_ui(ui, "Exports", &info.exports);
                names_ui(ui, "Imports", &info.imports);
            }
        });
}

fn row(ui: &mut Ui, title: &str, value: String) {
    ui.label(title);
    ui.add(egui::Label::new(value).wrap());
    ui.end_row();
}

fn names_ui(ui: &mut Ui, title: &str, names: &[String]) {
    egui::CollapsingHeader::new(format!("{title} ({})", names.len()))
        .id_salt(title)
        .default_open(names.len() <= 12)
        .show(ui, |ui| {
            for n in names {
                ui.label(RichText::new(n).monospace());
            }
        });
}

/// Bytes for people.
fn size(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / 1_048_576.0)
    }
}

/// What kind of module runs and how, in one sentence (the header and the
/// Code tab).
pub fn module_kind_text(
    kind: ModuleKind,
    handler: &str,
    runtime: crate::model::Language,
) -> String {
    if runtime.is_source() {
        return format!(
            "{}: handler `{handler}`; the module's own code runs once, at INIT",
            runtime.title()
        );
    }
    match kind {
        ModuleKind::Command => {
            "Command module: `_start` runs once per invocation, in a fresh instance".to_owned()
        }
        ModuleKind::Handler { has_initialize, .. } => format!(
            "Handler module: export `{handler}` is called per invocation{}",
            if has_initialize {
                "; `_initialize` runs once at INIT"
            } else {
                ""
            }
        ),
    }
}
