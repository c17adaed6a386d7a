//! Asynchronous invocation (`InvocationType: Event`): events are accepted into
//! a durable queue (one file each, written before the caller hears 202),
//! delivered by a dispatcher thread to a fixed pool of 16 workers, retried after a function error (1 minute
//! before the second attempt, 2 before the third) or a throttle (backoff), and
//! dropped when older than the function's maximum event age. Outcomes go to
//! the on-success / on-failure destinations (another function or a JSON-lines
//! file) as Lambda's invocation records; exhausted events go to the
//! dead-letter file. A clock with a speed factor fast-forwards the schedule.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::host::invoker::Invoker;
use crate::runtime::{InvokeError, Outcome, function_arn};
use crate::store::file_store::FileStore;

/// Lambda's payload limit for asynchronous invocation: 1 MB.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

/// Time as the queue sees it: real time, optionally sped up. The speed can
/// change while the queue runs (the app's fast-forward control); clock time
/// never jumps when it does.
#[derive(Clone, Debug)]
pub struct Clock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Clone, Copy, Debug)]
struct ClockState {
    origin_real: Instant,
    origin: DateTime<Utc>,
    speed: f64,
}

impl ClockState {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.origin_real.elapsed().as_secs_f64() * self.speed;
        self.origin + chrono::Duration::microseconds((elapsed * 1e6) as i64)
    }
}

fn valid_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

impl Clock {
    /// A clock running `speed` times faster than real time (1.0: real time).
    pub fn new(speed: f64) -> Self {
        Self {
            state: Arc::new(Mutex::new(ClockState {
                origin_real: Instant::now(),
                origin: Utc::now(),
                speed: valid_speed(speed),
            })),
        }
    }

    fn get(&self) -> ClockState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, on this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.get().now()
    }

    /// How many times faster than real time it runs.
    pub fn speed(&self) -> f64 {
        self.get().speed
    }

    /// Changes the speed from now on.
    pub fn set_speed(&self, speed: f64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = s.now();
        *s = ClockState {
            origin_real: Instant::now(),
            origin: now,
            speed: valid_speed(speed),
        };
    }

    /// The clock time `d` of real time from now.
    pub fn in_real(&self, d: Duration) -> DateTime<Utc> {
        let s = self.get();
        s.now() + chrono::Duration::microseconds((d.as_secs_f64() * s.speed * 1e6) as i64)
    }

    /// When clock time `t` comes, in real (wall-clock) time: what a person
    /// reads on a timeline or beside the logs.
    pub fn to_real(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let s = self.get();
        let ahead = (t - s.now()).num_microseconds().unwrap_or(i64::MAX) as f64 / s.speed;
        Utc::now() + chrono::Duration::microseconds(ahead as i64)
    }

    /// How far the clock is ahead of real time (zero at real time).
    pub fn offset(&self) -> chrono::Duration {
        self.now() - Utc::now()
    }

    /// How long to really wait for `d` of clock time.
    pub fn real(&self, d: chrono::Duration) -> Duration {
        d.to_std().unwrap_or_default().div_f64(self.get().speed)
    }
}

/// One accepted event, as stored on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// The request id returned to the caller.
    pub id: String,
    /// The function.
    pub function: String,
    /// The event.
    pub payload: String,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Throttled attempts so far (they do not count as retries).
    pub throttles: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
}

/// What happened to an event, step by step, for the app's timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum AsyncStep {
    /// Accepted into the queue, from this source (`Invoke API`, a trigger id, …).
    Accepted(String),
    /// Attempt `n` ran: its invocation's request id and whether it succeeded.
    Attempt {
        /// 1 for the first attempt.
        n: u32,
        /// The function returned a response.
        ok: bool,
        /// The error type, or the duration.
        detail: String,
    },
    /// Throttled; tried again after a backoff.
    Throttled,
    /// The next attempt is due then (real time).
    RetryAt(DateTime<Utc>),
    /// Done: the condition (`Success`, `RetriesExhausted`, `EventAgeExceeded`)
    /// and where the record went.
    Finished {
        /// Lambda's condition.
        condition: String,
        /// The destination and dead-letter file that received it.
        sent_to: Vec<String>,
    },
}

/// One step of one event.
#[derive(Clone, Debug, PartialEq)]
pub struct AsyncRecord {
    /// Increases by one per record, for fetching what is new.
    pub seq: u64,
    /// When, in real time (the clock's fast-forward only moves the retry
    /// schedule; a timeline reads beside the logs' real timestamps).
    pub at: DateTime<Utc>,
    /// The event's request id.
    pub id: String,
    /// The function.
    pub function: String,
    /// What happened.
    pub step: AsyncStep,
}

/// Records kept for the timeline.
const MAX_HISTORY: usize = 5_000;

/// A waiting event, as the app lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEvent {
    /// Request id.
    pub id: String,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Payload size in bytes.
    pub size: usize,
}

struct State {
    pending: BTreeMap<String, QueuedEvent>,
    in_flight: usize,
    history: VecDeque<AsyncRecord>,
    next_seq: u64,
}

/// The durable queue of asynchronous invocations.
pub struct AsyncQueue {
    invoker: Invoker,
    started: Instant,
    store: FileStore,
    /// Held while the queue is open: one process per queue folder.
    _lock: std::fs::File,
    clock: Clock,
    state: Mutex<State>,
    wake: Condvar,
    notify: std::sync::OnceLock<super::invoker::Notify>,
}

/// How long after the queue opens events for unknown functions are kept
/// (the functions may still be loading); later they are dropped.
const DEPLOY_GRACE: Duration = Duration::from_secs(120);

/// Takes the queue folder's lock file, waiting up to two seconds for a
/// queue of this process that is closing; another process's queue is refused.
fn lock_folder(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock)
                if started.elapsed() < Duration::from_secs(2) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "the asynchronous queue in {} is in use by another Lambdesk; \
                 give this one its own folder (--workspace or --queue-dir)",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                anyhow::bail!("locking {}: {e}", path.display())
            }
        }
    }
}

/// Most deliveries running at once.
const MAX_IN_FLIGHT: usize = 16;

impl AsyncQueue {
    /// Opens the queue stored in `dir` (events accepted before a restart are
    /// delivered) and starts its dispatcher thread.
    pub fn start(invoker: Invoker, dir: PathBuf, clock: Clock) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("creating the queue folder {}: {e}", dir.display()))?;
        let lock = lock_folder(&dir)?;
        let store = FileStore::new(dir);
        let pending: BTreeMap<String, QueuedEvent> = store
            .load::<QueuedEvent>()
            .into_iter()
            .map(|ev| (ev.id.clone(), ev))
            .collect();
        let queue = Arc::new(Self {
            invoker,
            started: Instant::now(),
            store,
            _lock: lock,
            clock,
            state: Mutex::new(State {
                pending,
                in_flight: 0,
                history: VecDeque::new(),
                next_seq: 1,
            }),
            wake: Condvar::new(),
            notify: std::sync::OnceLock::new(),
        });
        // Attempts run on a fixed pool of workers fed by a bounded channel;
        // the workers end when the dispatcher (the only sender) does.
        let (jobs, inbox) = std::sync::mpsc::sync_channel::<Job>(MAX_IN_FLIGHT);
        let inbox = Arc::new(Mutex::new(inbox));
        for i in 0..MAX_IN_FLIGHT {
            let inbox = inbox.clone();
            std::thread::Builder::new()
                .name(format!("lambdesk-async-{i}"))
                .spawn(move || work(&inbox))?;
        }
        let weak = Arc::downgrade(&queue);
        std::thread::Builder::new()
            .name("lambdesk-async".to_owned())
            .spawn(move || dispatch(&weak, &jobs))?;
        Ok(queue)
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Fast-forwards (or slows) the clock; waiting events are looked at again.
    pub fn set_speed(&self, speed: f64) {
        self.clock.set_speed(speed);
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts an event from the Invoke API: checks it, stores it durably,
    /// returns its request id.
    pub fn accept(&self, function: &str, payload: &[u8]) -> Result<String, InvokeError> {
        self.accept_from(function, payload, "Invoke API")
    }

    /// Accepts an event, saying where it came from (for the timeline).
    pub fn accept_from(
        &self,
        function: &str,
        payload: &[u8],
        source: &str,
    ) -> Result<String, InvokeError> {
        if payload.len() > MAX_ASYNC_PAYLOAD {
            return Err(InvokeError::RequestTooLarge {
                size: payload.len(),
            });
        }
        let text = std::str::from_utf8(payload)
            .map_err(|e| InvokeError::InvalidRequestContent(e.to_string()))?;
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_err(|e| InvokeError::InvalidRequestContent(e.to_string()))?;
        if self.invoker.runtime.config(function).is_none() {
            return Err(InvokeError::ResourceNotFound {
                arn: function_arn(function),
            });
        }
        let now = self.clock.now();
        let ev = QueuedEvent {
            id: crate::runtime::logs::new_request_id().to_string(),
            function: function.to_owned(),
            payload: text.to_owned(),
            accepted_at: now,
            attempts: 0,
            throttles: 0,
            next_attempt_at: now,
        };
        self.store(&ev).map_err(|e| {
            InvokeError::InvalidRequestContent(format!("the queue cannot store the event: {e}"))
        })?;
        let id = ev.id.clone();
        self.record(&ev, AsyncStep::Accepted(source.to_owned()));
        self.lock().pending.insert(id.clone(), ev);
        self.wake.notify_all();
        Ok(id)
    }

    fn record(&self, ev: &QueuedEvent, step: AsyncStep) {
        let at = Utc::now();
        // A retry's due time, in real time as well.
        let step = match step {
            AsyncStep::RetryAt(t) => AsyncStep::RetryAt(self.clock.to_real(t)),
            other => other,
        };
        let mut state = self.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        if state.history.len() >= MAX_HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(AsyncRecord {
            seq,
            at,
            id: ev.id.clone(),
            function: ev.function.clone(),
            step,
        });
        drop(state);
        if let Some(n) = self.notify.get() {
            n();
        }
    }

    /// Tells `notify` of every new timeline record (set once).
    pub fn set_notify(&self, notify: super::invoker::Notify) {
        let _ = self.notify.set(notify);
    }

    /// Records with a sequence number above `after`, oldest first.
    pub fn history_since(&self, after: u64) -> Vec<AsyncRecord> {
        let state = self.lock();
        let first = state.history.partition_point(|r| r.seq <= after);
        state.history.range(first..).cloned().collect()
    }

    /// Events waiting for `function`, oldest first, without their payloads.
    pub fn pending_of(&self, function: &str) -> Vec<PendingEvent> {
        let mut v: Vec<PendingEvent> = self
            .lock()
            .pending
            .values()
            .filter(|e| e.function == function)
            .map(|e| PendingEvent {
                id: e.id.clone(),
                accepted_at: e.accepted_at,
                attempts: e.attempts,
                next_attempt_at: e.next_attempt_at,
                size: e.payload.len(),
            })
            .collect();
        v.sort_by_key(|e| e.accepted_at);
        v
    }

    /// Events waiting, oldest first.
    pub fn pending(&self) -> Vec<QueuedEvent> {
        let mut v: Vec<QueuedEvent> = self.lock().pending.values().cloned().collect();
        v.sort_by_key(|e| e.accepted_at);
        v
    }

    fn store(&self, ev: &QueuedEvent) -> std::io::Result<()> {
        self.store.put(&ev.id, ev)
    }

    fn forget(&self, id: &str) {
        self.store.remove(id);
    }

    /// Runs one attempt and decides what happens next.
    fn attempt(&self, mut ev: QueuedEvent) {
        let Some(config) = self.invoker.runtime.config(&ev.function) else {
            if self.started.elapsed() < DEPLOY_GRACE {
                // Right after a start the app may still be loading the
                // function: keep the event and look again in a second.
                ev.next_attempt_at = self.clock.in_real(Duration::from_secs(1));
                self.lock().pending.insert(ev.id.clone(), ev);
                self.wake.notify_all();
                return;
            }
            // No such function here: keep the event on disk (it is
            // delivered when a run with that function opens this queue),
            // say so, and stop looking at it in this run.
            self.record(
                &ev,
                AsyncStep::Finished {
                    condition: "FunctionNotFound".into(),
                    sent_to: vec![format!("kept in {}", self.store.dir().display())],
                },
            );
            eprintln!(
                "lambdesk: event {} is for {}, which is not loaded; it is kept in {} and \
                 delivered when a run with that function opens this queue",
                ev.id,
                ev.function,
                self.store.dir().display()
            );
            return;
        };
        let a = config.async_invoke;
        let now = self.clock.now();
        if now - ev.accepted_at > chrono::Duration::seconds(i64::from(a.max_event_age_s)) {
            self.finish(&ev, &a, "EventAgeExceeded", None);
            return;
        }
        // Every attempt runs under the id the caller got with its 202.
        let options = crate::runtime::InvokeOptions {
            request_id: Some(Arc::from(ev.id.as_str())),
            ..crate::runtime::InvokeOptions::default()
        };
        let result = self
            .invoker
            .invoke_with(&ev.function, ev.payload.as_bytes(), &options);
        match result {
            Err(InvokeError::TooManyRequests { .. }) => {
                self.record(&ev, AsyncStep::Throttled);
                ev.throttles += 1;
                let backoff = (1i64 << ev.throttles.min(8)).min(300);
                ev.next_attempt_at = self.clock.now() + chrono::Duration::seconds(backoff);
                self.requeue(ev);
            }
            Err(e) => {
                // The function cannot be invoked at all (not found, too large).
                let outcome = json!({ "errorType": e.error_type(), "errorMessage": e.to_string() });
                ev.attempts += 1;
                let detail = e.error_type().to_owned();
                self.record(
                    &ev,
                    AsyncStep::Attempt {
                        n: ev.attempts,
                        ok: false,
                        detail,
                    },
                );
                self.finish(&ev, &a, "RetriesExhausted", Some((None, outcome)));
            }
            Ok(inv) => {
                ev.attempts += 1;
                let (ok, detail) = match &inv.outcome {
                    Outcome::Response(_) => (true, format!("{:.2} ms", inv.report.duration_ms)),
                    Outcome::Error(e) => (false, e.error_type.clone()),
                };
                self.record(
                    &ev,
                    AsyncStep::Attempt {
                        n: ev.attempts,
                        ok,
                        detail,
                    },
                );
                let payload: Value = serde_json::from_slice(&inv.payload()).unwrap_or(Value::Null);
                match &inv.outcome {
                    Outcome::Response(_) => self.finish(&ev, &a, "Success", Some((None, payload))),
                    Outcome::Error(_) if ev.attempts <= a.max_retry_attempts => {
                        // 1 minute before the second attempt, 2 before the third.
                        let delay = 60 * i64::from(ev.attempts);
                        ev.next_attempt_at = self.clock.now() + chrono::Duration::seconds(delay);
                        self.requeue(ev);
                    }
                    Outcome::Error(err) => {
                        let kind = err.kind.label();
                        self.finish(&ev, &a, "RetriesExhausted", Some((Some(kind), payload)));
                    }
                }
            }
        }
    }

    fn requeue(&self, ev: QueuedEvent) {
        self.record(&ev, AsyncStep::RetryAt(ev.next_attempt_at));
        let _ = self.store(&ev);
        self.lock().pending.insert(ev.id.clone(), ev);
        self.wake.notify_all();
    }

    fn finish(
        &self,
        ev: &QueuedEvent,
        a: &crate::model::AsyncInvokeConfig,
        condition: &str,
        response: Option<(Option<&str>, Value)>,
    ) {
        let success = condition == "Success";
        let record = invocation_record(ev, condition, &response, self.clock.now());
        let destination = if success {
            &a.on_success
        } else {
            &a.on_failure
        };
        let mut sent_to = Vec::new();
        if let Some(dest) = destination {
            self.deliver(dest, &record);
            sent_to.push(dest.clone());
        }
        if !success && let Some(dlq) = &a.dead_letter_file {
            sent_to.push(format!("dead-letter file {}", dlq.display()));
            let _ = append_line(
                dlq,
                &json!({
                    "requestId": ev.id,
                    "function": ev.function,
                    "condition": condition,
                    "approximateInvokeCount": ev.attempts,
                    "event": serde_json::from_str::<Value>(&ev.payload).unwrap_or(Value::Null),
                }),
            );
        }
        self.record(
            ev,
            AsyncStep::Finished {
                condition: condition.to_owned(),
                sent_to,
            },
        );
        self.forget(&ev.id);
    }

    fn deliver(&self, destination: &str, record: &Value) {
        if let Some(path) = destination.strip_prefix("file:") {
            if let Err(e) = append_line(Path::new(path), record) {
                eprintln!("lambdesk: writing the destination {path}: {e}");
            }
        } else if let Some(name) = destination.strip_prefix("function:")
            && let Err(e) = self.accept_from(name, record.to_string().as_bytes(), "destination")
        {
            eprintln!("lambdesk: sending to the destination function {name}: {e}");
        }
    }
}

/// Lambda's invocation record for destinations.
fn invocation_record(
    ev: &QueuedEvent,
    condition: &str,
    response: &Option<(Option<&str>, Value)>,
    now: DateTime<Utc>,
) -> Value {
    let mut response_context = json!({ "statusCode": 200, "executedVersion": "$LATEST" });
    if let Some((Some(kind), _)) = response {
        response_context["functionError"] = json!(kind);
    }
    let mut record = json!({
        "version": "1.0",
        "timestamp": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "requestContext": {
            "requestId": ev.id,
            "functionArn": format!("{}:$LATEST", function_arn(&ev.function)),
            "condition": condition,
            "approximateInvokeCount": ev.attempts,
        },
        "requestPayload": serde_json::from_str::<Value>(&ev.payload).unwrap_or(Value::Null),
        "responseContext": response_context,
    });
    if let Some((_, payload)) = response {
        record["responsePayload"] = payload.clone();
    }
    record
}

fn append_line(path: &Path, value: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut line = value.to_string();
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// One attempt for a worker: the queue it belongs to, and the event.
type Job = (Arc<AsyncQueue>, QueuedEvent);

/// A worker: runs attempts until the dispatcher goes.
fn work(inbox: &Mutex<std::sync::mpsc::Receiver<Job>>) {
    loop {
        let job = inbox.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((q, ev)) = job else { return };
        q.attempt(ev);
        q.lock().in_flight -= 1;
        q.wake.notify_all();
    }
}

fn dispatch(queue: &std::sync::Weak<AsyncQueue>, jobs: &std::sync::mpsc::SyncSender<Job>) {
    loop {
        let Some(q) = queue.upgrade() else { return };
        let now = q.clock.now();
        let mut state = q.lock();
        let due: Vec<String> = state
            .pending
            .values()
            .filter(|e| e.next_attempt_at <= now)
            .map(|e| e.id.clone())
            .take(MAX_IN_FLIGHT.saturating_sub(state.in_flight))
            .collect();
        for id in due {
            let Some(ev) = state.pending.remove(&id) else {
                continue;
            };
            // At most MAX_IN_FLIGHT are sent and unfinished, the channel's
            // capacity: the send does not wait. Should it fail, the event
            // waits for the next round.
            state.in_flight += 1;
            if let Err(e) = jobs.try_send((q.clone(), ev)) {
                state.in_flight -= 1;
                let (std::sync::mpsc::TrySendError::Full((_, ev))
                | std::sync::mpsc::TrySendError::Disconnected((_, ev))) = e;
                state.pending.insert(ev.id.clone(), ev);
                break;
            }
        }
        let next = state.pending.values().map(|e| e.next_attempt_at).min();
        let wait = next
            .map(|t| q.clock.real(t - q.clock.now()))
            .unwrap_or(Duration::from_millis(500))
            .clamp(Duration::from_millis(1), Duration::from_millis(500));
        let (guard, _) = q
            .wake
            .wait_timeout(state, wait)
            .unwrap_or_else(|e| e.into_inner());
        drop(guard);
        drop(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_changes_speed_without_jumping() {
        let clock = Clock::new(1.0);
        let before = clock.now();
        clock.set_speed(600.0);
        let after = clock.now();
        assert!(after >= before, "time never runs backwards");
        assert!(after - before < chrono::Duration::seconds(1), "no jump");
        assert_eq!(clock.speed(), 600.0);
        // A minute of clock time is a tenth of a second of real time.
        assert_eq!(
            clock.real(chrono::Duration::seconds(60)),
            Duration::from_millis(100)
        );
        clock.set_speed(f64::NAN);
        assert_eq!(clock.speed(), 1.0, "nonsense speeds fall back to real time");
    }
}
