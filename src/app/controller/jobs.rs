//! Background jobs that report to the UI thread: saving the workspace,
//! file dialogs, and taking guests' log lines from the inbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::time::Instant;

use poll_promise::Promise;

use super::{Command, Controller, DialogKind, DialogResult, Msg, NativeDialogs};
use crate::model::Workspace;
use crate::model::workspace::WORKSPACE_FILE;
use crate::runtime::{LogKind, LogLine};
use crate::store::WorkspaceError;

impl Controller {
    /// Moves guests' log lines from the inbox into the store until `until`;
    /// asks for another frame when some are left.
    pub fn take_log_lines(&mut self, until: Instant) {
        // Lines written from now on wake the UI again.
        self.log_wake_sent.store(false, Ordering::Release);
        let mut left = false;
        let mut taken: u32 = 0;
        while let Ok(line) = self.log_inbox.try_recv() {
            if line.kind == LogKind::Denied {
                self.metrics.record_denial(
                    &line.function,
                    super::super::metrics::Denial {
                        at: line.time,
                        request_id: line.request_id.clone(),
                        text: line.text.clone(),
                    },
                );
            }
            self.logs.push(line);
            taken = taken.wrapping_add(1);
            // Look at the clock once per 256 lines: it costs more than a push.
            if taken.is_multiple_of(256) && Instant::now() >= until {
                left = true;
                break;
            }
        }
        let dropped = self.log_dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            self.logs.push(LogLine {
                time: chrono::Utc::now(),
                function: Arc::from(""),
                log_stream: Arc::from(""),
                request_id: Arc::from(""),
                kind: LogKind::Platform,
                text: format!(
                    "{dropped} log line(s) were dropped: the console fell behind the functions writing them"
                ),
            });
        }
        if left {
            (self.wake)();
        }
    }

    pub(super) fn save(&mut self) {
        self.last_save = Instant::now();
        let Some(saver) = &self.saver else { return };
        match saver.try_send((
            self.workspace.clone(),
            self.workspace_dir.join(WORKSPACE_FILE),
        )) {
            Ok(()) => self.dirty = false,
            // The saver is busy with the previous version: try again next frame.
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => {
                self.saver = None;
                self.error("the workspace can no longer be saved (the save thread stopped)".into());
            }
        }
    }

    /// Saves synchronously (on exit).
    pub fn save_now(&mut self) -> Result<(), WorkspaceError> {
        self.dirty = false;
        self.workspace
            .save(&self.workspace_dir.join(WORKSPACE_FILE))
    }

    /// Opens the native file dialog on its own thread, or, where there is
    /// none (no portal), asks the app for its in-app file browser.
    pub(super) fn open_dialog(&mut self, kind: DialogKind) {
        if self.dialog.is_some() || self.in_app_dialog.is_some() {
            return;
        }
        let start = self.workspace_dir.clone();
        if self.native_dialogs == NativeDialogs::Missing {
            self.in_app_dialog = Some((kind, start));
            return;
        }
        let wake = self.wake.clone();
        let k = kind.clone();
        let promise = Promise::spawn_thread("lambdesk-file-dialog", move || {
            let result = pick(&k, &start);
            wake();
            result
        });
        self.dialog = Some((kind, Instant::now(), promise));
    }

    pub(super) fn on_dialog(&mut self, kind: DialogKind, result: DialogResult) {
        let Some(paths) = result else { return };
        match kind {
            DialogKind::AddFunctions => self.handle(Command::AddFunctions(paths)),
            DialogKind::ImportEvent(name) => {
                for path in paths {
                    match std::fs::read_to_string(&path) {
                        Ok(body) => {
                            let event_name = path.file_stem().map_or_else(
                                || "imported".to_owned(),
                                |s| s.to_string_lossy().into_owned(),
                            );
                            self.handle(Command::NewEvent(name.clone(), event_name, body));
                        }
                        Err(e) => self.error(format!("cannot read {}: {e}", path.display())),
                    }
                }
            }
            DialogKind::ExportEvent(name, index) => {
                let body = self
                    .entry(&name)
                    .and_then(|f| f.events.get(index))
                    .map(|e| e.body.clone());
                if let (Some(body), Some(path)) = (body, paths.first()) {
                    match crate::store::write_atomic(path, body.as_bytes()) {
                        Ok(()) => self.info(format!("Event saved to {}", path.display())),
                        Err(e) => self.error(format!("cannot write {}: {e}", path.display())),
                    }
                }
            }
            DialogKind::MountFolder(name, index) => {
                self.picked_mount = paths.into_iter().next().map(|p| (name, index, p));
            }
            DialogKind::TriggerFolder(name) => {
                self.picked_trigger_folder = paths.into_iter().next().map(|p| (name, p));
            }
            DialogKind::OpenWorkspace => {
                if let Some(dir) = paths.into_iter().next() {
                    if self.dirty {
                        let _ = self.save_now();
                    }
                    self.open_workspace(dir);
                }
            }
        }
    }

    /// Starts the thread that writes workspace snapshots; a bounded channel
    /// of one keeps only the newest pending snapshot waiting.
    pub(super) fn start_saver(&mut self) -> anyhow::Result<()> {
        let (report, wake) = (self.tx.clone(), self.wake.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Workspace, PathBuf)>(1);
        std::thread::Builder::new()
            .name("lambdesk-save".to_owned())
            .spawn(move || {
                while let Ok((ws, path)) = rx.recv() {
                    if let Err(e) = ws.save(&path) {
                        let _ = report.try_send(Msg::SaveFailed(e.to_string()));
                        wake();
                    }
                }
            })?;
        self.saver = Some(tx);
        Ok(())
    }
}

fn pick(kind: &DialogKind, start: &Path) -> DialogResult {
    let dialog = rfd::FileDialog::new().set_directory(start);
    match kind {
        DialogKind::AddFunctions => dialog
            .set_title("Add function")
            .add_filter(
                "Function code",
                &["wasm", "wat", "zip", "js", "mjs", "cjs", "py"],
            )
            .pick_files(),
        DialogKind::ImportEvent(_) => dialog
            .set_title("Import test event")
            .add_filter("JSON", &["json"])
            .pick_files(),
        DialogKind::ExportEvent(..) => dialog
            .set_title("Export test event")
            .add_filter("JSON", &["json"])
            .set_file_name("event.json")
            .save_file()
            .map(|p| vec![p]),
        DialogKind::OpenWorkspace => dialog
            .set_title("Open workspace")
            .pick_folder()
            .map(|p| vec![p]),
        DialogKind::MountFolder(..) => rfd::FileDialog::new()
            .set_title("Folder to mount")
            .pick_folder()
            .map(|p| vec![p]),
        DialogKind::TriggerFolder(..) => rfd::FileDialog::new()
            .set_title("Folder to watch as a bucket")
            .pick_folder()
            .map(|p| vec![p]),
    }
}
