//! Triggers: the workspace's trigger host (started in the background),
//! applying a function's triggers on the trigger thread, and sending to
//! local queues and streams.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::TrySendError;

use chrono::Local;

use super::{Controller, Msg, Notice, Record, TriggerJob};
use crate::host::{HostOptions, TriggerHost};
use crate::model::{Trigger, TriggerSource};

impl Controller {
    /// Starts the trigger host on a thread (it reads the queues' folders and
    /// binds ports); [`Msg::HostStarted`] brings it back, and then every
    /// function's triggers are applied.
    pub(super) fn start_trigger_host(&mut self, dir: PathBuf) {
        let options = self.host_options(&dir);
        let (runtime, tx, wake) = (self.runtime.clone(), self.tx.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-trigger-host".to_owned())
            .spawn(move || {
                let result = crate::api::start_host(runtime, options)
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(Msg::HostStarted { dir, result });
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start the trigger host: {e}"));
        }
    }

    pub(super) fn on_host_started(&mut self, dir: &Path, result: Result<Arc<TriggerHost>, String>) {
        if dir != self.workspace_dir {
            // Another workspace was opened meanwhile: this host is dropped.
            return;
        }
        match result {
            Ok(host) => {
                self.triggers = Some(host);
                self.register_machines();
                // The queue may have brought back events from disk.
                self.host_changed
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            Err(e) => {
                let text =
                    format!("Triggers, the Lambda API and asynchronous invocation are off: {e}");
                self.triggers_error = Some(text.clone());
                self.error(text);
                return;
            }
        }
        for name in self.function_names() {
            self.apply_triggers(&name);
        }
    }

    pub(super) fn host_options(&self, dir: &Path) -> HostOptions {
        let mut options = HostOptions::new(dir.join("async-queue"));
        // Local queues and streams keep their messages in the workspace.
        options.state_dir = Some(dir.to_owned());
        // Another Lambdesk (or `lambdesk serve`) may have SAM's ports.
        options.port_fallback = true;
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        options.observer = Some(Arc::new(move |function, source, wall, result| {
            // A version's key (`name:3`) is its function's record.
            let function = function.split(':').next().unwrap_or(function);
            let record = Record {
                id: 0,
                function: function.to_owned(),
                at: Local::now() - chrono::Duration::from_std(wall).unwrap_or_default(),
                wall,
                result: result.clone(),
                source: Some(source.to_owned()),
                batch: None,
            };
            // A flood of trigger invocations may fill the channel; the
            // history then misses some (their logs are still complete).
            if tx.try_send(Msg::Fired(Box::new(record))).is_ok() {
                wake();
            }
        }));
        // Functions created, changed or deleted through the Lambda API join
        // the workspace (saved, listed) on the UI thread.
        let (tx2, wake2) = (self.tx.clone(), self.wake.clone());
        options.on_function_change = Some(Arc::new(move |change| {
            if tx2.try_send(Msg::FunctionChanged(change)).is_ok() {
                wake2();
            }
        }));
        // Statuses, queue contents and the asynchronous timeline: one wake
        // until the UI has looked (a wake takes egui's lock).
        let (changed, wake) = (self.host_changed.clone(), self.wake.clone());
        options.on_change = Some(Arc::new(move || {
            if !changed.swap(true, std::sync::atomic::Ordering::AcqRel) {
                wake();
            }
        }));
        options
    }

    /// Hands `name`'s triggers to the trigger thread.
    pub(super) fn apply_triggers(&mut self, name: &str) {
        let (Some(host), Some(jobs)) = (&self.triggers, &self.trigger_jobs) else {
            return;
        };
        let triggers = self
            .entry(name)
            .map(|f| f.triggers.clone())
            .unwrap_or_default();
        if let Err(e) = jobs.try_send((host.clone(), name.to_owned(), triggers)) {
            let text = match e {
                TrySendError::Full(_) => "the trigger thread is busy; try again",
                TrySendError::Disconnected(_) => "the trigger thread stopped",
            };
            self.error(format!("{name}: triggers not updated: {text}"));
        }
    }

    /// The status of a trigger.
    pub fn trigger_status(&self, id: &str) -> Option<crate::host::TriggerStatus> {
        self.triggers.as_ref()?.status(id)
    }

    /// Runs `job` with the trigger host on a named thread (sending and
    /// queueing store to disk and sync, which a frame must not wait for); its
    /// message comes back as a notice.
    pub(super) fn with_host(
        &mut self,
        thread: &str,
        job: impl FnOnce(&TriggerHost) -> Result<String, String> + Send + 'static,
    ) {
        let Some(host) = self.triggers.clone() else {
            self.error(
                "triggers and asynchronous invocation are off (see the earlier message)".into(),
            );
            return;
        };
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name(thread.to_owned())
            .spawn(move || {
                let notice = match job(&host) {
                    Ok(text) => Notice {
                        is_error: false,
                        text,
                    },
                    Err(text) => Notice {
                        is_error: true,
                        text,
                    },
                };
                let _ = tx.send(Msg::Notice(notice));
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start a thread: {e}"));
        }
    }

    pub(super) fn add_trigger(
        &mut self,
        name: &str,
        source: TriggerSource,
        qualifier: Option<String>,
    ) {
        if let Err(errors) = source.validate() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            self.error(format!("{name}: trigger not added: {}", text.join("; ")));
            return;
        }
        if let Some(f) = self.entry_mut(name) {
            f.triggers.push(Trigger {
                qualifier,
                ..Trigger::new(source)
            });
            self.dirty = true;
            self.apply_triggers(name);
        }
    }

    pub(super) fn update_trigger(&mut self, name: &str, trigger: Trigger) {
        if let Err(errors) = trigger.source.validate() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            self.error(format!("{name}: trigger not changed: {}", text.join("; ")));
            return;
        }
        if let Some(t) = self
            .entry_mut(name)
            .and_then(|f| f.triggers.iter_mut().find(|t| t.id == trigger.id))
        {
            // Editing settings leaves the trigger enabled or disabled.
            t.source = trigger.source;
            self.dirty = true;
            self.apply_triggers(name);
        }
    }

    pub(super) fn remove_trigger(&mut self, name: &str, id: &str) {
        if let Some(f) = self.entry_mut(name) {
            f.triggers.retain(|t| t.id != id);
            self.dirty = true;
            self.apply_triggers(name);
        }
    }

    pub(super) fn set_trigger_enabled(&mut self, name: &str, id: &str, enabled: bool) {
        if let Some(t) = self
            .entry_mut(name)
            .and_then(|f| f.triggers.iter_mut().find(|t| t.id == id))
        {
            t.enabled = enabled;
            self.dirty = true;
            self.apply_triggers(name);
        }
    }

    pub(super) fn send_message(&mut self, queue: String, body: String) {
        self.with_host("lambdesk-queue-send", move |host| {
            match host.send_message(&queue, body) {
                Ok(id) => Ok(format!("Message {id} sent to queue {queue}")),
                Err(e) => Err(format!("queue {queue}: {e}")),
            }
        });
    }

    pub(super) fn put_record(&mut self, stream: String, key: String, data: String) {
        self.with_host("lambdesk-stream-put", move |host| {
            let key = (!key.trim().is_empty()).then_some(key.trim());
            match host.put_record(&stream, key, data.into_bytes()) {
                Ok((shard, seq)) => Ok(format!("Record {seq} put on {stream} ({shard})")),
                Err(e) => Err(format!("stream {stream}: {e}")),
            }
        });
    }

    pub(super) fn set_clock_speed(&mut self, speed: f64) {
        if let Some(host) = &self.triggers {
            host.async_queue().set_speed(speed);
        }
    }

    /// Starts the thread that applies triggers; problems come back as notices.
    pub(super) fn start_trigger_worker(&mut self) -> anyhow::Result<()> {
        let (report, wake) = (self.tx.clone(), self.wake.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel::<TriggerJob>(64);
        std::thread::Builder::new()
            .name("lambdesk-triggers".to_owned())
            .spawn(move || {
                while let Ok((host, function, triggers)) = rx.recv() {
                    for problem in host.apply(&function, &triggers) {
                        let _ = report.send(Msg::Notice(Notice {
                            is_error: true,
                            text: format!("trigger {problem}"),
                        }));
                        wake();
                    }
                    wake();
                }
            })?;
        self.trigger_jobs = Some(tx);
        Ok(())
    }
}
