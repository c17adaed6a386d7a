//! Functions: adding code, deploying it in the background, redeploying
//! when the file changes on disk, removing, duplicating, applying settings.

use std::path::Path;
use std::sync::Arc;

use super::{Controller, DeployState, FunctionStatus, Msg, Notice};
use crate::model::workspace::sanitize_name;
use crate::model::{FunctionConfig, FunctionEntry, TestEvent, Trigger};
use crate::runtime::{LogKind, LogLine};

impl Controller {
    pub(super) fn add_function(&mut self, path: &Path) {
        let language = crate::runtime::code::infer_language(path);
        let ok = language.is_source()
            || path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "wasm" | "wat" | "zip"));
        if !ok {
            self.error(format!(
                "{}: not a .wasm, .wat, .zip, .js/.mjs or .py file, nor a folder of JavaScript (with index.js or package.json) or Python (with .py files)",
                path.display()
            ));
            return;
        }
        let base = path.file_stem().map_or_else(
            || "function".to_owned(),
            |s| sanitize_name(&s.to_string_lossy()),
        );
        let name = self.workspace.unique_name(&base);
        let handler = if language.is_source() {
            crate::runtime::code::default_source_handler(path, language)
        } else {
            guess_handler_of(path).unwrap_or_else(|| "_start".to_owned())
        };
        let code = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        self.workspace.functions.push(FunctionEntry {
            name: name.clone(),
            code,
            config: FunctionConfig {
                runtime: language,
                handler,
                ..FunctionConfig::default()
            },
            events: vec![TestEvent {
                name: "empty".to_owned(),
                body: "{}".to_owned(),
            }],
            selected_event: 0,
            triggers: Vec::new(),
        });
        self.dirty = true;
        self.selected = Some(name.clone());
        self.deploy(&name);
    }

    /// A new function from blueprint `i`: its files in a folder of its own
    /// under the workspace's `functions/`, named after the blueprint (and
    /// numbered when taken), with the blueprint's test event; selected.
    pub(super) fn create_function(
        &mut self,
        i: usize,
        name: Option<String>,
        runtime_id: Option<String>,
    ) {
        let Some(b) = crate::model::function_blueprints::FUNCTION_BLUEPRINTS.get(i) else {
            return;
        };
        let name = match name {
            Some(name) => {
                if let Err(e) = crate::model::workspace::check_function_name(&name) {
                    self.error(e);
                    return;
                }
                if self.entry(&name).is_some() {
                    self.error(format!("Function already exist: {name}"));
                    return;
                }
                name
            }
            None => {
                // Python's are told apart from JavaScript's of the same blueprint.
                let suffix = if b.language == crate::model::Language::Python {
                    "-py"
                } else {
                    ""
                };
                self.workspace.unique_name(&format!("{}{suffix}", b.name))
            }
        };
        let runtime_id = runtime_id.unwrap_or_default();
        if !runtime_id.is_empty()
            && crate::model::config::language_of_runtime_id(&runtime_id) != Some(b.language)
        {
            self.error(format!(
                "{runtime_id} does not run the {} blueprint, which is {}",
                b.name,
                b.language.title()
            ));
            return;
        }
        let dir = self.workspace_dir.join("functions").join(&name);
        if let Err(e) = crate::store::scaffold::write(&dir, b) {
            self.error(format!("cannot create {name}: {e}"));
            return;
        }
        self.workspace.functions.push(FunctionEntry {
            name: name.clone(),
            code: dir,
            config: FunctionConfig {
                runtime: b.language,
                runtime_id,
                handler: b.handler.to_owned(),
                ..FunctionConfig::default()
            },
            events: vec![TestEvent {
                name: b.event_template.unwrap_or("hello-world").to_owned(),
                body: b.event().trim().to_owned(),
            }],
            selected_event: 0,
            triggers: Vec::new(),
        });
        self.dirty = true;
        self.selected = Some(name.clone());
        self.info(format!(
            "Created {name} from the {} blueprint in {}",
            b.name,
            self.workspace_dir.join("functions").join(&name).display()
        ));
        self.deploy(&name);
    }

    /// Deploys `name` on a background thread.
    pub(super) fn deploy(&mut self, name: &str) {
        let Some(entry) = self.entry(name).cloned() else {
            return;
        };
        let path = self.code_path(&entry);
        self.status.insert(
            name.to_owned(),
            FunctionStatus {
                deploy: DeployState::Deploying,
                code_mtime: None,
            },
        );
        let runtime = self.runtime.clone();
        let tx = self.tx.clone();
        let wake = self.wake.clone();
        let name = name.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("lambdesk-deploy-{name}"))
            .spawn(move || {
                let mtime = crate::runtime::code_modified(&path);
                let result = runtime
                    .deploy(&name, &path, entry.config)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Deployed {
                    name,
                    result,
                    mtime,
                });
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start a deploy thread: {e}"));
        }
    }

    pub(super) fn watch_code_files(&mut self) {
        let mut changed = Vec::new();
        for f in &self.workspace.functions {
            let Some(status) = self.status.get(&f.name) else {
                continue;
            };
            if matches!(status.deploy, DeployState::Deploying) {
                continue;
            }
            let mtime = crate::runtime::code_modified(&self.code_path(f));
            if mtime.is_some() && mtime != status.code_mtime {
                changed.push(f.name.clone());
            }
        }
        for name in changed {
            let line = LogLine {
                time: chrono::Utc::now(),
                function: Arc::from(name.as_str()),
                log_stream: Arc::from(""),
                request_id: Arc::from(""),
                kind: LogKind::Notice,
                text: "Code updated on disk: reloading; the next start is cold".to_owned(),
            };
            self.logs.push(line);
            self.deploy(&name);
            self.code_changed_on_disk(&name);
        }
    }

    /// Opens the code's folder in the file manager, on a thread of its own
    /// (the opener may wait for the desktop); a failure becomes a notice.
    pub(super) fn reveal_code(&mut self, name: &str) {
        let Some(entry) = self.entry(name) else {
            return;
        };
        let path = self.code_path(entry);
        let folder = path.parent().map(Path::to_path_buf).unwrap_or(path);
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-reveal".into())
            .spawn(move || {
                if let Err(e) = opener::open(&folder) {
                    let _ = tx.send(Msg::Notice(Notice {
                        is_error: true,
                        text: format!(
                            "cannot open the file manager ({e}); the code is in {}",
                            folder.display()
                        ),
                    }));
                    wake();
                }
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start a thread: {e}"));
        }
    }

    /// A change made through the Lambda API (already deployed by the host):
    /// the workspace follows it and saves it; the list shows it at once.
    pub(super) fn on_function_changed(&mut self, change: crate::host::functions::FunctionChange) {
        use crate::host::functions::FunctionChange;
        let name = match &change {
            FunctionChange::Created { name, .. }
            | FunctionChange::CodeUpdated { name, .. }
            | FunctionChange::ConfigUpdated { name, .. }
            | FunctionChange::Deleted { name } => name.clone(),
        };
        match change {
            FunctionChange::Created { name, code, config } => {
                if self.entry(&name).is_none() {
                    self.workspace.functions.push(FunctionEntry {
                        name: name.clone(),
                        code,
                        config,
                        events: vec![TestEvent {
                            name: "event".into(),
                            body: "{}".into(),
                        }],
                        ..FunctionEntry::default()
                    });
                }
                self.info(format!("{name} was created through the Lambda API"));
            }
            FunctionChange::CodeUpdated { name, code } => {
                if let Some(f) = self.entry_mut(&name) {
                    f.code = code;
                }
            }
            FunctionChange::ConfigUpdated { name, config } => {
                if let Some(f) = self.entry_mut(&name) {
                    f.config = config;
                }
            }
            FunctionChange::Deleted { name } => {
                self.remove_function(&name);
                self.info(format!("{name} was deleted through the Lambda API"));
                return;
            }
        }
        // Deployed already: ready, with the file's time, so the watcher does
        // not deploy it again.
        if let (Some(info), Some(entry)) = (self.runtime.deploy_info(&name), self.entry(&name)) {
            let code_mtime = crate::runtime::code_modified(&self.code_path(entry));
            self.status.insert(
                name,
                FunctionStatus {
                    deploy: DeployState::Ready(info),
                    code_mtime,
                },
            );
        }
        self.dirty = true;
    }

    pub(super) fn remove_function(&mut self, name: &str) {
        if let Some(f) = self.entry_mut(name) {
            f.triggers.clear();
        }
        self.apply_triggers(name);
        self.workspace.functions.retain(|f| f.name != name);
        self.runtime.remove(name);
        self.status.remove(name);
        self.code.remove(name);
        self.metrics.remove(name);
        // Its versions and aliases go with it, as with Lambda's DeleteFunction
        // (the store is written off the UI thread).
        if let Some(host) = self.triggers.clone() {
            let name = name.to_owned();
            let _ = std::thread::Builder::new()
                .name("lambdesk-versions".into())
                .spawn(move || {
                    let _ = host.versions().remove_function(&name);
                });
        }
        self.qualifiers.remove(name);
        if self.selected.as_deref() == Some(name) {
            self.selected = self.workspace.functions.first().map(|f| f.name.clone());
        }
        self.dirty = true;
    }

    pub(super) fn duplicate_function(&mut self, name: &str) {
        if let Some(mut copy) = self.entry(name).cloned() {
            copy.name = self.workspace.unique_name(&format!("{name}-copy"));
            // The copy's triggers start disabled: two functions
            // cannot take the same queue or route.
            for t in &mut copy.triggers {
                *t = Trigger {
                    enabled: false,
                    ..Trigger::new(t.source.clone())
                };
            }
            let new = copy.name.clone();
            self.workspace.functions.push(copy);
            self.deploy(&new);
            self.apply_triggers(&new);
            self.selected = Some(new);
            self.dirty = true;
        }
    }

    pub(super) fn apply_config(&mut self, name: &str, config: FunctionConfig) {
        if let Err(errors) = config.validate() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            self.error(text.join("; "));
            return;
        }
        if let Some(f) = self.entry_mut(name) {
            f.config = config;
            self.dirty = true;
            self.deploy(name);
        }
    }

    pub(super) fn set_cpu_share(&mut self, share: crate::model::CpuShare) {
        if self.workspace.cpu_share != share {
            self.workspace.cpu_share = share;
            self.runtime.set_cpu_share(share);
            self.dirty = true;
        }
    }

    pub(super) fn force_cold(&mut self, name: &str) {
        let n = self.runtime.drop_environments(name);
        self.info(format!(
            "{name}: dropped {n} idle environment(s); the next start is cold"
        ));
    }
}

/// Looks at a module's exports to pick its handler.
fn guess_handler_of(path: &Path) -> Option<String> {
    let bundle =
        crate::runtime::load_code(path, &std::env::temp_dir().join("lambdesk-inspect")).ok()?;
    let exports = crate::runtime::code::exported_functions(&bundle.wasm);
    crate::runtime::guess_handler(&exports)
}
