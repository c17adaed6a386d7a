//! Local queues with an SQS event source mapping: messages sent over HTTP wait
//! in a queue; a poller hands them to the function in batches (batch size,
//! batching window) as the SQS event; a failed batch comes back after the
//! visibility timeout, and a partial batch response (`batchItemFailures`)
//! returns only the failed messages. With a store folder, a message is written
//! there (one file each) before its send is answered and removed once it is
//! processed or dropped, so a queue survives a restart.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::bail;
use md5::Digest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::host::invoker::{Invoker, StopFlag};
use crate::model::TriggerSource;
use crate::runtime::Outcome;
use crate::store::file_store::FileStore;

#[derive(Clone, Debug)]
struct Message {
    id: String,
    body: String,
    sent_ms: u64,
    first_receive_ms: Option<u64>,
    receive_count: u32,
    visible_at: Instant,
}

/// A message as its file holds it.
#[derive(Serialize, Deserialize)]
struct StoredMessage {
    id: String,
    body: String,
    sent_ms: u64,
    first_receive_ms: Option<u64>,
    receive_count: u32,
}

/// A queue mapped to a function.
pub struct LocalQueue {
    /// Queue name.
    pub name: String,
    /// The function receiving its batches.
    pub function: String,
    /// Most messages per batch (1–10,000; default 10).
    pub batch_size: usize,
    /// How long to gather a batch (0–300 s; default 0).
    pub window: Duration,
    /// How long a failed message stays invisible before it is retried.
    pub visibility: Duration,
    /// Receives after which a message is dropped (and logged).
    pub max_receive: u32,
    messages: Mutex<VecDeque<Message>>,
    arrived: Condvar,
    store: Option<FileStore>,
    notify: super::invoker::Notifier,
    /// The queue that took this one's messages (new settings): a batch this
    /// one's last poller still held goes back there, not here.
    successor: Mutex<Option<std::sync::Arc<LocalQueue>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl LocalQueue {
    /// Parses `NAME=FUNCTION[?batch=N&window=S&visibility=S&max_receive=N]`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (function, source) =
            TriggerSource::parse_spec("queue", spec).map_err(anyhow::Error::msg)?;
        Self::new(&function, &source)
    }

    /// An empty queue from a queue trigger's settings.
    pub fn new(function: &str, source: &TriggerSource) -> anyhow::Result<Self> {
        let TriggerSource::Queue {
            queue,
            batch_size,
            window_s,
            visibility_timeout_s,
            max_receive,
        } = source
        else {
            bail!("not a queue trigger");
        };
        Ok(Self {
            name: queue.clone(),
            function: function.to_owned(),
            batch_size: *batch_size as usize,
            window: Duration::from_secs(u64::from(*window_s)),
            visibility: Duration::from_secs(u64::from(*visibility_timeout_s)),
            max_receive: *max_receive,
            messages: Mutex::new(VecDeque::new()),
            successor: Mutex::new(None),
            arrived: Condvar::new(),
            store: None,
            notify: super::invoker::Notifier::default(),
        })
    }

    /// Keeps the messages in `dir` (one file each).
    pub fn with_store(mut self, dir: PathBuf) -> Self {
        self.store = Some(FileStore::new(dir));
        self
    }

    /// Tells `notify` when messages arrive.
    pub fn with_notify(mut self, notify: Option<super::invoker::Notify>) -> Self {
        self.notify = super::invoker::Notifier(notify);
        self
    }

    /// Takes in the messages of the store folder (after a restart), oldest
    /// first; returns how many. Damaged files are left where they are.
    pub fn load(&self) -> usize {
        let Some(store) = &self.store else { return 0 };
        let mut stored: Vec<StoredMessage> = store.load();
        stored.sort_by_key(|m| m.sent_ms);
        let n = stored.len();
        let mut q = self.lock();
        for m in stored {
            q.push_back(Message {
                id: m.id,
                body: m.body,
                sent_ms: m.sent_ms,
                first_receive_ms: m.first_receive_ms,
                receive_count: m.receive_count,
                visible_at: Instant::now(),
            });
        }
        drop(q);
        self.arrived.notify_all();
        n
    }

    fn write(&self, m: &Message) -> std::io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let stored = StoredMessage {
            id: m.id.clone(),
            body: m.body.clone(),
            sent_ms: m.sent_ms,
            first_receive_ms: m.first_receive_ms,
            receive_count: m.receive_count,
        };
        store.put(&m.id, &stored)
    }

    fn forget(&self, id: &str) {
        if let Some(store) = &self.store {
            store.remove(id);
        }
    }

    /// Takes over the messages of `old` (the same queue with other settings).
    pub fn adopt(self: &std::sync::Arc<Self>, old: &LocalQueue) {
        // Messages the old queue's poller holds now come here when it lets go.
        *old.successor.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.clone());
        let taken: Vec<Message> = old.lock().drain(..).collect();
        self.lock().extend(taken);
        self.arrived.notify_all();
    }

    fn successor(&self) -> Option<std::sync::Arc<LocalQueue>> {
        self.successor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a message (stored first, when the queue has a store); returns its id.
    pub fn send(&self, body: String) -> Result<String, String> {
        let id = uuid::Uuid::new_v4().to_string();
        let m = Message {
            id: id.clone(),
            body,
            sent_ms: now_ms(),
            first_receive_ms: None,
            receive_count: 0,
            visible_at: Instant::now(),
        };
        self.write(&m)
            .map_err(|e| format!("the queue cannot store the message: {e}"))?;
        self.lock().push_back(m);
        self.arrived.notify_all();
        self.notify.changed();
        Ok(id)
    }

    /// Messages waiting (visible or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn arn(&self) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{}",
            crate::model::REGION,
            crate::model::ACCOUNT_ID,
            self.name
        )
    }

    /// Takes the next batch of visible messages, waiting for the first one
    /// (up to `wait`) and then up to the batching window for more.
    fn next_batch(&self, wait: Duration) -> Vec<Message> {
        let deadline = Instant::now() + wait;
        let mut q = self.lock();
        let visible =
            |q: &VecDeque<Message>, now: Instant| q.iter().filter(|m| m.visible_at <= now).count();
        while visible(&q, Instant::now()) == 0 {
            let now = Instant::now();
            if now >= deadline {
                return Vec::new();
            }
            let next_visible = q
                .iter()
                .map(|m| m.visible_at)
                .min()
                .unwrap_or(deadline)
                .min(deadline);
            let (g, _) = self
                .arrived
                .wait_timeout(
                    q,
                    next_visible
                        .saturating_duration_since(now)
                        .max(Duration::from_millis(1)),
                )
                .unwrap_or_else(|e| e.into_inner());
            q = g;
        }
        let window_end = Instant::now() + self.window;
        while visible(&q, Instant::now()) < self.batch_size && Instant::now() < window_end {
            let (g, _) = self
                .arrived
                .wait_timeout(q, window_end.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|e| e.into_inner());
            q = g;
        }
        let now = Instant::now();
        let mut batch = Vec::new();
        let mut rest = VecDeque::new();
        for mut m in q.drain(..) {
            if batch.len() < self.batch_size && m.visible_at <= now {
                m.receive_count += 1;
                m.first_receive_ms.get_or_insert_with(now_ms);
                batch.push(m);
            } else {
                rest.push_back(m);
            }
        }
        *q = rest;
        batch
    }

    fn event(&self, batch: &[Message]) -> Value {
        let records: Vec<Value> = batch
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.id,
                    "receiptHandle": format!("{}#{}", m.id, m.receive_count),
                    "body": m.body,
                    "attributes": {
                        "ApproximateReceiveCount": m.receive_count.to_string(),
                        "SentTimestamp": m.sent_ms.to_string(),
                        "SenderId": crate::model::ACCOUNT_ID,
                        "ApproximateFirstReceiveTimestamp": m.first_receive_ms.unwrap_or(m.sent_ms).to_string(),
                    },
                    "messageAttributes": {},
                    "md5OfBody": crate::runtime::code::hex(&md5::Md5::digest(m.body.as_bytes())),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn(),
                    "awsRegion": crate::model::REGION,
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Puts a batch back at the front as if it had not been received.
    fn unreceive(&self, batch: Vec<Message>) {
        if let Some(next) = self.successor() {
            return next.unreceive(batch);
        }
        let mut q = self.lock();
        for mut m in batch.into_iter().rev() {
            m.receive_count = m.receive_count.saturating_sub(1);
            if m.receive_count == 0 {
                m.first_receive_ms = None;
            }
            q.push_front(m);
        }
        drop(q);
        self.arrived.notify_all();
    }

    /// Hands messages back after a failure (invisible for the visibility
    /// timeout), dropping those received too often.
    fn give_back(&self, failed: Vec<Message>) {
        if let Some(next) = self.successor() {
            return next.give_back(failed);
        }
        let visible_at = Instant::now() + self.visibility;
        let mut q = self.lock();
        for mut m in failed {
            if m.receive_count >= self.max_receive {
                eprintln!(
                    "[{}] queue {}: dropping message {} after {} receives",
                    self.function, self.name, m.id, m.receive_count
                );
                self.forget(&m.id);
                continue;
            }
            // Its receive count survives a restart.
            let _ = self.write(&m);
            m.visible_at = visible_at;
            q.push_back(m);
        }
        drop(q);
        self.arrived.notify_all();
    }

    /// Delivers one batch if one is ready within `wait`. Returns the batch size.
    /// A batch taken as `stop` is set goes back untouched.
    pub fn poll_once(&self, invoker: &Invoker, wait: Duration, stop: &StopFlag) -> usize {
        let batch = self.next_batch(wait);
        if batch.is_empty() {
            return 0;
        }
        if stop.is_set() {
            self.unreceive(batch);
            return 0;
        }
        let n = batch.len();
        let event = self.event(&batch);
        let failed_ids: Option<Vec<String>> =
            match invoker.invoke(&self.function, event.to_string().as_bytes()) {
                Ok(inv) => match &inv.outcome {
                    Outcome::Error(_) => None,
                    Outcome::Response(bytes) => Some(
                        serde_json::from_slice::<Value>(bytes)
                            .ok()
                            .and_then(|v| {
                                v.get("batchItemFailures")
                                    .and_then(Value::as_array)
                                    .cloned()
                            })
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|f| {
                                f.get("itemIdentifier")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned)
                            })
                            .collect(),
                    ),
                },
                Err(_) => None,
            };
        let failed: Vec<Message> = match failed_ids {
            // The whole batch failed: every message comes back.
            None => batch,
            Some(ids) => {
                let (failed, done): (Vec<Message>, Vec<Message>) =
                    batch.into_iter().partition(|m| ids.contains(&m.id));
                for m in done {
                    self.forget(&m.id);
                }
                failed
            }
        };
        self.give_back(failed);
        n
    }
}

/// Starts the queue's poller thread (its event source mapping); it ends
/// within a quarter second of `stop` being set.
pub fn start_poller(
    q: Arc<LocalQueue>,
    invoker: Invoker,
    stop: StopFlag,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("lambdesk-queue-{}", q.name))
        .spawn(move || {
            while !stop.is_set() {
                q.poll_once(&invoker, Duration::from_millis(250), &stop);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let q = LocalQueue::parse("jobs=worker?batch=3&window=2").unwrap();
        assert_eq!((q.batch_size, q.window), (3, Duration::from_secs(2)));
        assert!(LocalQueue::parse("jobs=worker?batch=0").is_err());
        assert!(LocalQueue::parse("jobs=worker?speed=1").is_err());
        assert!(LocalQueue::parse("bad name=worker").is_err());
    }

    #[test]
    fn batches_respect_size_and_carry_the_sqs_shape() {
        let q = LocalQueue::parse("jobs=worker?batch=2").unwrap();
        for b in ["a", "b", "c"] {
            q.send(b.to_owned()).unwrap();
        }
        let batch = q.next_batch(Duration::from_millis(10));
        assert_eq!(batch.len(), 2);
        let event = q.event(&batch);
        assert_eq!(event["Records"][0]["body"], "a");
        assert_eq!(
            event["Records"][0]["attributes"]["ApproximateReceiveCount"],
            "1"
        );
        assert_eq!(
            event["Records"][0]["eventSourceARN"],
            "arn:aws:sqs:us-east-1:123456789012:jobs"
        );
        assert_eq!(q.len(), 1);
    }
}
