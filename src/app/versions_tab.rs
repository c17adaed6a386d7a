//! The Versions tab, as the Lambda console's "Versions" and "Aliases":
//! *Publish new version* with a description; the versions (number,
//! description, CodeSha256, date, settings, environments, invocations),
//! each with *Use* (view and invoke through it) and *Delete*; the aliases
//! with their split, and an editor: target version, an additional version
//! with a weight slider, the resulting split in words. The qualifier picker
//! for the header lives here too.

use egui::{RichText, Ui};

use super::controller::{AliasEdit, Command, Controller};
use super::theme;
use crate::model::versions::{Alias, FunctionVersions};

/// The tab's forms (never saved).
#[derive(Clone, Debug, Default)]
pub struct VersionsForm {
    /// The description of the next version.
    pub description: String,
    /// The alias being created or edited.
    pub alias: Option<AliasForm>,
}

/// The alias editor.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasForm {
    /// The function it belongs to.
    pub function: String,
    /// Its name.
    pub name: String,
    /// `$LATEST` or a version number.
    pub version: String,
    /// Free text.
    pub description: String,
    /// Route part of the invocations to another version.
    pub routed: bool,
    /// The additional version.
    pub routing_version: String,
    /// Its share, 0–100 %.
    pub percent: f64,
    /// A new alias.
    pub create: bool,
}

impl AliasForm {
    fn new(function: &str, versions: Option<&FunctionVersions>) -> Self {
        let last = versions
            .and_then(|v| v.versions.keys().next_back())
            .map_or("$LATEST".to_owned(), u64::to_string);
        Self {
            function: function.to_owned(),
            name: String::new(),
            version: last,
            description: String::new(),
            routed: false,
            routing_version: String::new(),
            percent: 10.0,
            create: true,
        }
    }

    fn from_alias(function: &str, a: &Alias) -> Self {
        Self {
            function: function.to_owned(),
            name: a.name.clone(),
            version: a.function_version.clone(),
            description: a.description.clone(),
            routed: a.routing.is_some(),
            routing_version: a
                .routing
                .as_ref()
                .map(|r| r.version.clone())
                .unwrap_or_default(),
            percent: a.routing.as_ref().map_or(10.0, |r| r.weight * 100.0),
            create: false,
        }
    }

    fn to_edit(&self) -> AliasEdit {
        AliasEdit {
            function: self.function.clone(),
            name: self.name.trim().to_owned(),
            version: self.version.clone(),
            description: self.description.clone(),
            routing: self
                .routed
                .then(|| (self.routing_version.clone(), self.percent / 100.0)),
            create: self.create,
        }
    }
}

/// How an alias splits invocations, in words.
pub fn split_text(a: &Alias) -> String {
    match &a.routing {
        Some(r) => format!(
            "{:.0} % to {}, {:.0} % to {}",
            (1.0 - r.weight) * 100.0,
            a.function_version,
            r.weight * 100.0,
            r.version
        ),
        None => format!("100 % to {}", a.function_version),
    }
}

/// The header's picker: `$LATEST`, each version, each alias.
pub fn qualifier_ui(ui: &mut Ui, c: &Controller, name: &str, cmds: &mut Vec<Command>) {
    let current = c.qualifier(name).unwrap_or("$LATEST").to_owned();
    let versions = c.versions_of(name);
    let label = ui.label("Qualifier");
    egui::ComboBox::from_id_salt("qualifier")
        .selected_text(&current)
        .show_ui(ui, |ui| {
            if ui.selectable_label(current == "$LATEST", "$LATEST").clicked() {
                cmds.push(Command::SetQualifier(name.to_owned(), None));
            }
            for v in versions.iter().flat_map(|f| f.versions.keys()) {
                let text = v.to_string();
                if ui.selectable_label(current == text, format!("Version {v}")).clicked() {
                    cmds.push(Command::SetQualifier(name.to_owned(), Some(text)));
                }
            }
            for a in versions.iter().flat_map(|f| f.aliases.values()) {
                if ui
                    .selectable_label(current == a.name, format!("Alias {} ({})", a.name, split_text(a)))
                    .clicked()
                {
                    cmds.push(Command::SetQualifier(name.to_owned(), Some(a.name.clone())));
                }
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text("What the Test tab invokes and the Configuration tab shows: $LATEST (editable), a published version or an alias");
}

pub(super) fn versions_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    form: &mut VersionsForm,
    cmds: &mut Vec<Command>,
) {
    if c.triggers.is_none() {
        ui.label(
            RichText::new(
                "Versions need the local services, which are not running (see the message above)",
            )
            .weak(),
        );
        return;
    }
    let versions = c.versions_of(name);
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Publish new version")
            .on_hover_text(
                "An immutable copy of $LATEST's code and configuration, numbered 1, 2, …",
            )
            .clicked()
        {
            cmds.push(Command::PublishVersion(
                name.to_owned(),
                form.description.clone(),
            ));
            form.description.clear();
        }
        ui.add(
            egui::TextEdit::singleline(&mut form.description)
                .hint_text("Version description")
                .desired_width(260.0),
        );
    });
    ui.add_space(6.0);
    egui::ScrollArea::both()
        .id_salt("versions-tab")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            versions_grid_ui(ui, c, name, versions, cmds);
            ui.add_space(10.0);
            aliases_ui(ui, c, name, versions, form, cmds);
        });
}

fn invocations_of(c: &Controller, name: &str, version: &str) -> usize {
    c.records
        .iter()
        .filter(|r| r.function == name)
        .filter(|r| r.result.as_ref().is_ok_and(|i| i.version == version))
        .count()
}

fn versions_grid_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    versions: Option<&FunctionVersions>,
    cmds: &mut Vec<Command>,
) {
    let count = versions.map_or(0, |v| v.versions.len());
    ui.label(RichText::new(format!("Versions ({count})")).strong());
    egui::Grid::new("versions")
        .striped(true)
        .num_columns(8)
        .show(ui, |ui| {
            for h in [
                "Version",
                "Description",
                "CodeSha256",
                "Published",
                "Settings",
                "Environments",
                "Invocations",
                "",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            let latest = c.runtime.config(name);
            ui.label("$LATEST");
            ui.label(RichText::new("editable").weak());
            ui.label(
                c.runtime
                    .deploy_info(name)
                    .map(|i| short(&i.code_sha256_base64()))
                    .unwrap_or_default(),
            );
            ui.label("");
            ui.label(
                latest
                    .map(|l| format!("{} MB · {} s", l.memory_mb, l.timeout_s))
                    .unwrap_or_default(),
            );
            ui.label(c.runtime.environments(name).len().to_string());
            ui.label(invocations_of(c, name, "$LATEST").to_string());
            if ui
                .small_button("Use")
                .on_hover_text("View and invoke $LATEST")
                .clicked()
            {
                cmds.push(Command::SetQualifier(name.to_owned(), None));
            }
            ui.end_row();
            for v in versions.iter().flat_map(|f| f.versions.values()).rev() {
                let n = v.version.to_string();
                ui.label(&n);
                ui.label(elide(&v.description, 40))
                    .on_hover_text(&v.description);
                ui.label(RichText::new(short(&v.code_sha256_base64())).monospace())
                    .on_hover_text(format!("SHA-256 (hex) {}", v.code_sha256));
                ui.label(
                    v.created
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                );
                ui.label(format!(
                    "{} MB · {} s",
                    v.config.memory_mb, v.config.timeout_s
                ));
                ui.label(
                    c.runtime
                        .environments(&crate::runtime::version_key(name, &n))
                        .len()
                        .to_string(),
                );
                ui.label(invocations_of(c, name, &n).to_string());
                ui.horizontal(|ui| {
                    if ui
                        .small_button("Use")
                        .on_hover_text("View and invoke this version")
                        .clicked()
                    {
                        cmds.push(Command::SetQualifier(name.to_owned(), Some(n.clone())));
                    }
                    if ui
                        .small_button("Delete")
                        .on_hover_text("Refused while an alias points to it")
                        .clicked()
                    {
                        cmds.push(Command::DeleteVersion(name.to_owned(), v.version));
                    }
                });
                ui.end_row();
            }
        });
}

/// At most `n` characters, with an ellipsis when cut.
fn elide(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let head: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// The first 12 characters and an ellipsis.
fn short(s: &str) -> String {
    let head: String = s.chars().take(12).collect();
    format!("{head}…")
}

fn aliases_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    versions: Option<&FunctionVersions>,
    form: &mut VersionsForm,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let count = versions.map_or(0, |v| v.aliases.len());
        ui.label(RichText::new(format!("Aliases ({count})")).strong());
        if ui.button("Create alias…").clicked() {
            form.alias = Some(AliasForm::new(name, versions));
        }
    });
    egui::Grid::new("aliases")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in ["Alias", "Split", "Description", ""] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for a in versions.iter().flat_map(|f| f.aliases.values()) {
                ui.label(&a.name);
                ui.label(split_text(a));
                ui.label(elide(&a.description, 40))
                    .on_hover_text(&a.description);
                ui.horizontal(|ui| {
                    if ui
                        .small_button("Use")
                        .on_hover_text("View and invoke through this alias")
                        .clicked()
                    {
                        cmds.push(Command::SetQualifier(name.to_owned(), Some(a.name.clone())));
                    }
                    if ui.small_button("Edit").clicked() {
                        form.alias = Some(AliasForm::from_alias(name, a));
                    }
                    if ui.small_button("Delete").clicked() {
                        cmds.push(Command::DeleteAlias(name.to_owned(), a.name.clone()));
                    }
                });
                ui.end_row();
            }
        });
    let mut close = false;
    if let Some(f) = form.alias.as_mut().filter(|f| f.function == name) {
        ui.add_space(6.0);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            alias_editor_ui(ui, c, f, versions, cmds, &mut close);
        });
    }
    if close {
        form.alias = None;
    }
}

fn alias_editor_ui(
    ui: &mut Ui,
    _c: &Controller,
    f: &mut AliasForm,
    versions: Option<&FunctionVersions>,
    cmds: &mut Vec<Command>,
    close: &mut bool,
) {
    let numbers: Vec<String> = versions
        .iter()
        .flat_map(|v| v.versions.keys().map(u64::to_string))
        .collect();
    ui.label(RichText::new(if f.create { "New alias" } else { "Edit alias" }).strong());
    egui::Grid::new("alias-form").num_columns(2).show(ui, |ui| {
        let l = ui.label("Name");
        if f.create {
            ui.add(egui::TextEdit::singleline(&mut f.name).hint_text("live"))
                .labelled_by(l.id);
        } else {
            ui.label(&f.name);
        }
        ui.end_row();
        let l = ui.label("Version");
        egui::ComboBox::from_id_salt("alias-version")
            .selected_text(&f.version)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut f.version, "$LATEST".to_owned(), "$LATEST");
                for n in &numbers {
                    ui.selectable_value(&mut f.version, n.clone(), n);
                }
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
        ui.label("");
        ui.checkbox(
            &mut f.routed,
            "Send part of the invocations to another version",
        )
        .on_hover_text("Weighted alias: a canary or a blue/green shift (published versions only)");
        ui.end_row();
        if f.routed {
            let l = ui.label("Additional version");
            egui::ComboBox::from_id_salt("alias-routing")
                .selected_text(&f.routing_version)
                .show_ui(ui, |ui| {
                    for n in numbers.iter().filter(|n| **n != f.version) {
                        ui.selectable_value(&mut f.routing_version, n.clone(), n);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Weight");
            ui.add(egui::Slider::new(&mut f.percent, 0.0..=100.0).suffix(" %"))
                .labelled_by(l.id);
            ui.end_row();
        }
        let l = ui.label("Description");
        ui.add(egui::TextEdit::singleline(&mut f.description))
            .labelled_by(l.id);
        ui.end_row();
    });
    let split = if f.routed && !f.routing_version.is_empty() {
        format!(
            "{:.0} % of invocations run version {}, {:.0} % run version {}",
            100.0 - f.percent,
            f.version,
            f.percent,
            f.routing_version
        )
    } else {
        format!("Every invocation runs {}", f.version)
    };
    ui.label(split);
    let problem = if f.create {
        crate::model::versions::validate_alias_name(f.name.trim()).err()
    } else {
        None
    };
    if let Some(p) = &problem {
        ui.add(
            egui::Label::new(
                RichText::new(p.rsplit(": ").next().unwrap_or(p))
                    .color(theme::error(ui.visuals().dark_mode)),
            )
            .truncate(),
        );
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(problem.is_none(), egui::Button::new("Save"))
            .clicked()
        {
            cmds.push(Command::SaveAlias(f.to_edit()));
            *close = true;
        }
        if ui.button("Cancel").clicked() {
            *close = true;
        }
    });
}
