//! Power tuning in the app: a run on a named background thread (the same
//! `host::tuning` as `lambdesk tune`), its progress read by the UI from
//! atomics, cancelling, the report kept per function, and applying the
//! recommended memory as a normal configuration change.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Controller, Msg, TuningRun};
use crate::host::tuning::{TuneOptions, TuneReport};

impl Controller {
    pub(super) fn start_tuning(&mut self, name: &str, options: TuneOptions) {
        if self.tuning.is_some() {
            self.error("a tuning run is in progress; cancel it first".into());
            return;
        }
        let Some(entry) = self.entry(name) else {
            return;
        };
        let code = self.code_path(entry);
        let config = entry.config.clone();
        let run = TuningRun {
            function: name.to_owned(),
            done: Arc::default(),
            total: options.sizes.len() * options.invocations,
            cancel: Arc::default(),
        };
        let (runtime, tx, wake) = (self.runtime.clone(), self.tx.clone(), self.wake.clone());
        let (done, cancel, function) = (run.done.clone(), run.cancel.clone(), name.to_owned());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-tune".to_owned())
            .spawn(move || {
                let progress = |n: usize, _total: usize| {
                    done.store(n, Ordering::Relaxed);
                    wake();
                };
                let result = crate::host::tuning::tune(
                    &runtime, &function, &code, &config, &options, &progress, &cancel,
                )
                .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Tuned { function, result });
                wake();
            });
        match spawned {
            Ok(_) => {
                self.tuning_results.remove(name);
                self.tuning = Some(run);
            }
            Err(e) => self.error(format!("cannot start tuning: {e}")),
        }
    }

    pub(super) fn cancel_tuning(&mut self) {
        if let Some(run) = &self.tuning {
            run.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn on_tuned(&mut self, function: String, result: Result<TuneReport, String>) {
        self.tuning = None;
        match result {
            Ok(report) => {
                self.tuning_results.insert(function, report);
            }
            Err(e) => self.error(format!("{function}: tuning stopped: {e}")),
        }
    }

    pub(super) fn apply_tuned_memory(&mut self, name: &str, memory_mb: u32) {
        if let Some(mut config) = self.entry(name).map(|e| e.config.clone()) {
            config.memory_mb = memory_mb;
            self.apply_config(name, config);
            self.info(format!(
                "{name}: memory set to {memory_mb} MB from power tuning"
            ));
        }
    }
}
