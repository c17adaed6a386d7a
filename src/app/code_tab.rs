//! The Code tab: the function's code properties, as the Lambda console's
//! "Code properties" panel shows them (package size, `CodeSha256`, last
//! modified) and what Lambdesk knows beyond them: the file, the module's
//! kind, its exports and imports, and where its compiled code came from;
//! *Reveal in folder* and *Copy path*.

use egui::{RichText, Ui};

use super::controller::{Command, Controller, DeployState};
use super::theme;
use crate::runtime::{CodeSource, ModuleKind, report::as_ms};

pub(super) fn code_tab_ui(ui: &mut Ui, c: &Controller, name: &str, cmds: &mut Vec<Command>) {
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
