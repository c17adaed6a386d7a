//! Invoking on behalf of a trigger: an [`Invoker`] counts each firing in its
//! trigger's [`TriggerStatus`] and tells the [`Observer`] (the app's history)
//! of every invocation; a [`StopFlag`] tells a trigger's threads to stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub use super::notify::{Notifier, Notify};
use crate::runtime::{Invocation, InvokeError, InvokeOptions, Outcome, Runtime};

/// Tells a trigger's threads to stop.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag not set yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the threads to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether they should stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The last time a trigger fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// When.
    pub at: DateTime<Utc>,
    /// Whether it went well.
    pub ok: bool,
    /// What happened (`request …: 1.20 ms`, `queued as …`, the error).
    pub text: String,
}

/// How a trigger is doing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriggerStatus {
    /// Its threads or route are live.
    pub running: bool,
    /// Why it cannot run (a missing folder, a taken queue name, …).
    pub error: Option<String>,
    /// Where to send it something: a URL, or the watched folder.
    pub endpoint: Option<String>,
    /// Firings since it started.
    pub fired: u64,
    /// Firings that failed.
    pub failed: u64,
    /// The last firing.
    pub last: Option<Firing>,
    /// A schedule's next firings.
    pub next: Vec<DateTime<Utc>>,
    /// Messages or records waiting (queues and streams).
    pub waiting: Option<usize>,
}

pub(crate) type SharedStatus = Arc<Mutex<TriggerStatus>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hears of every invocation a trigger or the asynchronous queue makes:
/// function, source (trigger id or `async`), wall time, result.
pub type Observer =
    Arc<dyn Fn(&str, &str, Duration, &Result<Invocation, InvokeError>) + Send + Sync>;

/// Invokes functions on behalf of one trigger, counting its firings.
#[derive(Clone)]
pub struct Invoker {
    /// The runtime.
    pub runtime: Runtime,
    source: Arc<str>,
    pub(crate) status: Option<SharedStatus>,
    observer: Option<Observer>,
    notify: Notifier,
    versions: Option<Arc<super::versions::Versions>>,
}

impl Invoker {
    /// An invoker with no trigger and no observer.
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime,
            source: Arc::from("direct"),
            status: None,
            observer: None,
            notify: Notifier::default(),
            versions: None,
        }
    }

    pub(crate) fn with_observer(mut self, observer: Option<Observer>) -> Self {
        self.observer = observer;
        self
    }

    pub(crate) fn with_versions(mut self, versions: Arc<super::versions::Versions>) -> Self {
        self.versions = Some(versions);
        self
    }

    pub(crate) fn with_notify(mut self, notify: Option<Notify>) -> Self {
        self.notify = Notifier(notify);
        self
    }

    pub(crate) fn for_source(&self, source: &str, status: Option<SharedStatus>) -> Self {
        Self {
            runtime: self.runtime.clone(),
            source: Arc::from(source),
            status,
            observer: self.observer.clone(),
            notify: self.notify.clone(),
            versions: self.versions.clone(),
        }
    }

    /// The trigger id (or `async`, `direct`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Invokes, counts the firing and tells the observer.
    pub fn invoke(&self, function: &str, payload: &[u8]) -> Result<Invocation, InvokeError> {
        self.invoke_with(function, payload, &InvokeOptions::default())
    }

    /// [`Invoker::invoke`] with options (a request id, for one).
    pub fn invoke_with(
        &self,
        function: &str,
        payload: &[u8],
        options: &InvokeOptions,
    ) -> Result<Invocation, InvokeError> {
        let started = Instant::now();
        // `name:alias` (a trigger aimed at an alias) is drawn per invocation;
        // `name` and `name:N` are the runtime's own keys.
        let resolved = match (&self.versions, function.split_once(':')) {
            (Some(v), Some((name, q))) => v.resolve(name, Some(q)).ok(),
            _ => None,
        };
        let result = match resolved {
            Some(r) => {
                let options = InvokeOptions {
                    invoked_arn: Some(Arc::from(r.invoked_arn.as_str())),
                    ..options.clone()
                };
                self.runtime.invoke_with(&r.key, payload, &options)
            }
            None => self.runtime.invoke_with(function, payload, options),
        };
        let wall = started.elapsed();
        let (ok, text) = match &result {
            Ok(inv) => match &inv.outcome {
                Outcome::Response(_) => (
                    true,
                    format!(
                        "request {}: {:.2} ms",
                        inv.request_id, inv.report.duration_ms
                    ),
                ),
                Outcome::Error(e) => (
                    false,
                    format!("request {}: {}", inv.request_id, e.error_type),
                ),
            },
            Err(e) => (false, e.to_string()),
        };
        self.note(ok, text);
        if let Some(observer) = &self.observer {
            observer(function, &self.source, wall, &result);
        }
        result
    }

    /// Counts a firing that did not invoke directly (queued, refused).
    pub(crate) fn note(&self, ok: bool, text: String) {
        if let Some(status) = &self.status {
            let mut s = lock(status);
            s.fired += 1;
            s.failed += u64::from(!ok);
            s.last = Some(Firing {
                at: Utc::now(),
                ok,
                text,
            });
            drop(s);
            self.notify.changed();
        }
    }
}
