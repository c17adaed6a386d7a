//! The Configuration tab: the settings form with a message next to each
//! field that is out of Lambda's range.

use egui::{Color32, RichText, Ui};

use super::controller::{Command, Controller};
use super::state::UiState;
use super::theme::{ERROR, WARM};

pub(super) fn config_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    if let Some(q) = c.qualifier(name) {
        published_config_ui(ui, c, name, q, cmds);
        return;
    }
    let draft = state
        .live
        .drafts
        .entry(name.to_owned())
        .or_insert_with(|| super::config_form::ConfigDraft::from_config(&entry.config));
    if let Some((for_name, i, path)) = &c.picked_mount
        && for_name == name
    {
        if let Some(m) = draft.mounts.get_mut(*i) {
            m.host = path.display().to_string();
        }
        cmds.push(Command::TakePickedMount);
    }
    let result = draft.to_config();
    let errors = result.as_ref().err().cloned().unwrap_or_default();
    // Every problem of the field (several grants can be wrong at once).
    let field_error = |ui: &mut Ui, field: &str| {
        for e in errors.iter().filter(|e| e.field == field) {
            ui.label(RichText::new(&e.message).color(super::theme::error(ui.visuals().dark_mode)));
        }
    };
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("config").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            let l = ui.label("Handler").on_hover_text("The export to call: `_start` for a WASI command, or a function a handler module exports");
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.handler).desired_width(200.0)).labelled_by(l.id);
                field_error(ui, "handler");
            });
            ui.end_row();

            let l = ui.label("Description").on_hover_text("Free text, as Lambda's Description (at most 256 characters)");
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.description).desired_width(320.0)).labelled_by(l.id);
                field_error(ui, "description");
            });
            ui.end_row();

            let l = ui.label("Memory (MB)").on_hover_text("128–10,240 MB in 1 MB steps; caps the module's linear memory (wasm32 modules can use at most 4,096 MB)");
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    let mut mb: u32 = draft.memory.trim().parse().unwrap_or(128).clamp(128, 10_240);
                    if ui.add(egui::Slider::new(&mut mb, 128..=10_240).logarithmic(true).show_value(false)).changed() {
                        draft.memory = mb.to_string();
                    }
                    ui.add(egui::TextEdit::singleline(&mut draft.memory).desired_width(70.0)).labelled_by(l.id);
                });
                field_error(ui, "memory_mb");
            });
            ui.end_row();

            number_row_ui(ui, "Timeout (s)", "1–900 seconds; Lambda's default is 3", &mut draft.timeout, "", &errors, "timeout_s");

            let l = ui.label("SnapStart").on_hover_text("Lambda's SnapStart on published versions: publishing runs INIT once and snapshots the environment; the version's cold starts restore it (REPORT shows Restore Duration). Code that runs at INIT runs once, not per environment: make unique values in the handler.");
            ui.checkbox(&mut draft.snap_start, "Published versions").labelled_by(l.id);
            ui.end_row();
            number_row_ui(
                ui,
                "Ephemeral storage (MB)",
                "Size of /tmp, 512–10,240 MB; writes beyond it fail with ENOSPC inside the function",
                &mut draft.ephemeral,
                "",
                &errors,
                "ephemeral_storage_mb",
            );

            ui.label("Environment variables").on_hover_text("Keys plus values may total 4 KB; names reserved by Lambda are refused");
            ui.vertical(|ui| {
                let mut remove = None;
                for (i, (k, v)) in draft.env.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(k).desired_width(140.0).hint_text("KEY"));
                        ui.add(egui::TextEdit::singleline(v).desired_width(220.0).hint_text("value"));
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    draft.env.remove(i);
                }
                ui.horizontal(|ui| {
                    if ui.small_button("Add variable").clicked() {
                        draft.env.push((String::new(), String::new()));
                    }
                    let used = draft.env_bytes();
                    let color = if used > super::config_form::ENVIRONMENT_LIMIT { ERROR } else { Color32::GRAY };
                    ui.label(RichText::new(format!("{used} of {} bytes", super::config_form::ENVIRONMENT_LIMIT)).color(color));
                });
                field_error(ui, "environment");
            });
            ui.end_row();

            ui.label("Role").on_hover_text("What the function may touch: host folders mounted at guest paths, and the network destinations it may call. Nothing else of the host or the network is reachable. /tmp is private to each environment.");
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.role).desired_width(200.0).hint_text("role name"));
                let mut remove = None;
                for (i, m) in draft.mounts.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(&mut m.host).desired_width(220.0).hint_text("host folder"));
                        if ui.small_button("Browse…").on_hover_text("Pick the host folder").clicked() {
                            cmds.push(Command::PickMountFolder(name.to_owned(), i));
                        }
                        ui.label("at");
                        ui.add(egui::TextEdit::singleline(&mut m.guest).desired_width(100.0).hint_text("/data"));
                        ui.checkbox(&mut m.read_only, "read-only");
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    draft.mounts.remove(i);
                }
                if ui.small_button("Add folder").clicked() {
                    draft.mounts.push(super::config_form::MountDraft { read_only: true, ..Default::default() });
                }
                field_error(ui, "role.mounts");
                ui.add_space(4.0);
                let outbound_label = ui.label("Outbound HTTP, one destination per line").on_hover_text(
                    "scheme://host[:port]: https://api.example.com, https://*.example.com (subdomains), \
                     http://10.0.0.0/8:8000..8099 (a block, a port range), *://*:* (every public host). \
                     Nothing is reachable without a grant; loopback (127.0.0.1, localhost), link-local \
                     and the metadata address 169.254.169.254 only when a line names them. Port 25 is \
                     always blocked, as in Lambda. Denied requests show in the log as [DENIED] lines.",
                );
                ui.add(
                    egui::TextEdit::multiline(&mut draft.outbound)
                        .desired_rows(2)
                        .desired_width(360.0)
                        .font(egui::TextStyle::Monospace)
                        .hint_text("https://api.example.com"),
                )
                .labelled_by(outbound_label.id);
                field_error(ui, "role.outbound");
            });
            ui.end_row();

            number_row_ui(
                ui,
                "Reserved concurrency",
                "Most environments running at once; empty for unreserved, 0 throttles every invocation",
                &mut draft.reserved,
                "unreserved",
                &errors,
                "reserved_concurrency",
            );
            number_row_ui(
                ui,
                "Idle time (s)",
                "An environment idle this long is shut down; the next start is cold",
                &mut draft.idle,
                "",
                &errors,
                "idle_timeout_s",
            );

            ui.label("Arguments").on_hover_text("argv for command modules, one per line");
            ui.add(egui::TextEdit::multiline(&mut draft.args).desired_rows(2).desired_width(300.0));
            ui.end_row();
        });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let changed = result.as_ref().is_ok_and(|cfg| *cfg != entry.config);
            let apply = ui.add_enabled(result.is_ok() && changed, egui::Button::new("Apply"));
            let apply = if result.is_err() {
                apply.on_disabled_hover_text("Fix the fields marked in red first")
            } else {
                apply.on_hover_text("Save and redeploy; the next start is cold")
            };
            if apply.clicked()
                && let Ok(cfg) = &result
            {
                cmds.push(Command::ApplyConfig(name.to_owned(), cfg.clone()));
            }
            if ui.button("Revert").clicked() {
                *draft = super::config_form::ConfigDraft::from_config(&entry.config);
            }
            if changed {
                ui.label(RichText::new("Unapplied changes: applying makes the next start cold").color(WARM));
            }
        });
    });
}

/// One grid row: a label, a short number field and its inline error.
fn number_row_ui(
    ui: &mut Ui,
    label: &str,
    tip: &str,
    text: &mut String,
    hint: &str,
    errors: &[crate::model::ConfigError],
    field: &str,
) {
    let l = ui.label(label).on_hover_text(tip);
    ui.vertical(|ui| {
        ui.add(
            egui::TextEdit::singleline(text)
                .desired_width(70.0)
                .hint_text(hint),
        )
        .labelled_by(l.id);
        if let Some(m) = super::config_form::message_for(errors, field) {
            ui.label(RichText::new(m).color(super::theme::error(ui.visuals().dark_mode)));
        }
    });
    ui.end_row();
}

/// A published version's settings (or an alias's version's): read-only, as
/// in the Lambda console; only `$LATEST` is edited.
fn published_config_ui(ui: &mut Ui, c: &Controller, name: &str, q: &str, cmds: &mut Vec<Command>) {
    let f = c.versions_of(name);
    let number = match f.and_then(|f| f.aliases.get(q)) {
        Some(a) => a.function_version.clone(),
        None => q.to_owned(),
    };
    let version = number
        .parse::<u64>()
        .ok()
        .and_then(|n| f.and_then(|f| f.versions.get(&n)));
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "Version {number} is published: its configuration cannot change. Edit $LATEST and publish a new version."
            ))
            .weak(),
        );
        if ui.button("Edit $LATEST").clicked() {
            cmds.push(Command::SetQualifier(name.to_owned(), None));
        }
    });
    let Some(v) = version else {
        ui.label(format!("{q} runs $LATEST"));
        return;
    };
    let config = &v.config;
    egui::Grid::new("published-config")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let rows = [
                ("Handler", config.handler.clone()),
                ("Description", config.description.clone()),
                ("Memory", format!("{} MB", config.memory_mb)),
                ("Timeout", format!("{} s", config.timeout_s)),
                (
                    "SnapStart",
                    if config.snap_start {
                        "On (restored from its snapshot)"
                    } else {
                        "Off"
                    }
                    .to_owned(),
                ),
                (
                    "Ephemeral storage",
                    format!("{} MB", config.ephemeral_storage_mb),
                ),
                (
                    "Environment",
                    config
                        .environment
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                (
                    "Reserved concurrency",
                    config
                        .reserved_concurrency
                        .map_or("none".to_owned(), |n| n.to_string()),
                ),
                ("Mounts", config.role.mounts.len().to_string()),
                (
                    "Outbound",
                    if config.role.outbound.is_empty() {
                        "none (no network)".to_owned()
                    } else {
                        config.role.outbound.join(", ")
                    },
                ),
                ("CodeSha256", v.code_sha256_base64()),
            ];
            for (k, value) in rows {
                ui.label(k);
                ui.add(egui::Label::new(value).wrap());
                ui.end_row();
            }
        });
}
