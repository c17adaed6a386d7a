//! Local streams with shards, in the Kinesis and DynamoDB Streams shapes:
//! records are routed to a shard by partition key (MD5, as Kinesis does),
//! processed in order per shard in batches, and a failed batch is retried as a
//! whole (blocking its shard) until it succeeds or runs out of retries. With
//! a store folder, each record is written there (one file, named by its
//! sequence number) before the put is answered and removed once its batch is
//! done, so a stream survives a restart.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::bail;
use base64::Engine;
use md5::Digest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::host::invoker::{Invoker, StopFlag};
use crate::model::TriggerSource;
use crate::runtime::Outcome;
use crate::store::file_store::FileStore;

pub use crate::model::trigger::StreamKind;

#[derive(Clone, Debug)]
struct Record {
    sequence: String,
    partition_key: String,
    /// Kinesis: the data; DynamoDB: the change (eventName, Keys, images) as JSON.
    data: Vec<u8>,
    arrival: SystemTime,
}

/// A record as its file holds it.
#[derive(Serialize, Deserialize)]
struct StoredRecord {
    sequence: String,
    partition_key: String,
    data_base64: String,
    arrival_ms: u64,
}

struct Shard {
    records: Mutex<VecDeque<Record>>,
    arrived: Condvar,
}

/// A stream mapped to a function.
pub struct LocalStream {
    /// Stream (or table) name.
    pub name: String,
    /// The function.
    pub function: String,
    /// Kinesis or DynamoDB.
    pub kind: StreamKind,
    /// Most records per batch (1–10,000; default 100).
    pub batch_size: usize,
    /// Retries of a failed batch before it is skipped (default 3).
    pub max_retries: u32,
    shards: Vec<Shard>,
    next_sequence: Mutex<u128>,
    store: Option<FileStore>,
    notify: super::invoker::Notifier,
}

impl LocalStream {
    /// Parses `NAME=FUNCTION[?kind=kinesis|dynamodb&shards=N&batch=N&retries=N]`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (function, source) =
            TriggerSource::parse_spec("stream", spec).map_err(anyhow::Error::msg)?;
        Self::new(&function, &source)
    }

    /// An empty stream from a stream trigger's settings.
    pub fn new(function: &str, source: &TriggerSource) -> anyhow::Result<Self> {
        let TriggerSource::Stream {
            stream,
            kind,
            shards,
            batch_size,
            max_retries,
        } = source
        else {
            bail!("not a stream trigger");
        };
        Ok(Self {
            name: stream.clone(),
            function: function.to_owned(),
            kind: *kind,
            batch_size: *batch_size as usize,
            max_retries: *max_retries,
            shards: (0..(*shards).max(1))
                .map(|_| Shard {
                    records: Mutex::new(VecDeque::new()),
                    arrived: Condvar::new(),
                })
                .collect(),
            next_sequence: Mutex::new(49_590_338_271_490_256_608_559_692_538_361_571_095),
            store: None,
            notify: super::invoker::Notifier::default(),
        })
    }

    /// Keeps the records in `dir` (one file each).
    pub fn with_store(mut self, dir: PathBuf) -> Self {
        self.store = Some(FileStore::new(dir));
        self
    }

    /// Tells `notify` when records arrive.
    pub fn with_notify(mut self, notify: Option<super::invoker::Notify>) -> Self {
        self.notify = super::invoker::Notifier(notify);
        self
    }

    /// Takes in the records of the store folder (after a restart), each into
    /// its key's shard in sequence order; returns how many.
    pub fn load(&self) -> usize {
        let Some(store) = &self.store else { return 0 };
        let mut stored: Vec<(u128, StoredRecord)> = store
            .load::<StoredRecord>()
            .into_iter()
            .filter_map(|r| Some((r.sequence.parse().ok()?, r)))
            .collect();
        stored.sort_by_key(|(seq, _)| *seq);
        let n = stored.len();
        for (seq, r) in stored {
            let Ok(data) = base64::engine::general_purpose::STANDARD.decode(&r.data_base64) else {
                continue;
            };
            let shard = &self.shards[self.shard_of(&r.partition_key)];
            shard
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(Record {
                    sequence: r.sequence,
                    partition_key: r.partition_key,
                    data,
                    arrival: SystemTime::UNIX_EPOCH + Duration::from_millis(r.arrival_ms),
                });
            shard.arrived.notify_all();
            let mut next = self.next_sequence.lock().unwrap_or_else(|e| e.into_inner());
            *next = (*next).max(seq);
        }
        n
    }

    fn write(&self, r: &Record) -> std::io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let stored = StoredRecord {
            sequence: r.sequence.clone(),
            partition_key: r.partition_key.clone(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(&r.data),
            arrival_ms: r
                .arrival
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        store.put(&r.sequence, &stored)
    }

    /// Takes over the records of `old` (the same stream with other settings),
    /// each into the shard its partition key picks now, in order.
    pub fn adopt(self: &std::sync::Arc<Self>, old: &LocalStream) {
        for shard in &old.shards {
            let taken: Vec<Record> = shard
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
                .collect();
            for r in taken {
                let target = &self.shards[self.shard_of(&r.partition_key)];
                target
                    .records
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(r);
                target.arrived.notify_all();
            }
        }
        let old_seq = *old.next_sequence.lock().unwrap_or_else(|e| e.into_inner());
        let mut seq = self.next_sequence.lock().unwrap_or_else(|e| e.into_inner());
        *seq = (*seq).max(old_seq);
    }

    /// The shard of a partition key: its MD5 as a 128-bit number, split into
    /// equal ranges as Kinesis does.
    pub fn shard_of(&self, partition_key: &str) -> usize {
        let hash = u128::from_be_bytes(md5::Md5::digest(partition_key.as_bytes()).into());
        let n = self.shards.len() as u128;
        (hash / (u128::MAX / n).max(1)).min(n - 1) as usize
    }

    /// Shard id as Kinesis names it.
    pub fn shard_id(i: usize) -> String {
        format!("shardId-{i:012}")
    }

    /// Adds a record; returns (shard id, sequence number). For DynamoDB the
    /// data is the change as JSON and the partition key is its `Keys`.
    pub fn put(
        &self,
        partition_key: Option<&str>,
        data: Vec<u8>,
    ) -> Result<(String, String), String> {
        let key = match (self.kind, partition_key) {
            (StreamKind::Kinesis, Some(k)) if !k.is_empty() => k.to_owned(),
            (StreamKind::Kinesis, _) => return Err("a Kinesis record needs a partitionKey".into()),
            (StreamKind::DynamoDb, _) => {
                let change: Value = serde_json::from_slice(&data)
                    .map_err(|e| format!("the change is not JSON: {e}"))?;
                if !matches!(
                    change.get("eventName").and_then(Value::as_str),
                    Some("INSERT" | "MODIFY" | "REMOVE")
                ) {
                    return Err("a DynamoDB change needs eventName INSERT, MODIFY or REMOVE".into());
                }
                change
                    .get("Keys")
                    .ok_or("a DynamoDB change needs Keys")?
                    .to_string()
            }
        };
        let sequence = {
            let mut s = self.next_sequence.lock().unwrap_or_else(|e| e.into_inner());
            *s += 1;
            s.to_string()
        };
        let i = self.shard_of(&key);
        let shard = &self.shards[i];
        let record = Record {
            sequence: sequence.clone(),
            partition_key: key,
            data,
            arrival: SystemTime::now(),
        };
        self.write(&record)
            .map_err(|e| format!("the stream cannot store the record: {e}"))?;
        shard
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(record);
        shard.arrived.notify_all();
        self.notify.changed();
        Ok((Self::shard_id(i), sequence))
    }

    fn record_json(&self, shard: usize, r: &Record) -> Value {
        let region = crate::model::REGION;
        let account = crate::model::ACCOUNT_ID;
        let arrival = r
            .arrival
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        match self.kind {
            StreamKind::Kinesis => json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence,
                    "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    // Milliseconds, as Kinesis reports them.
                    "approximateArrivalTimestamp": arrival.as_millis() as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{}:{}", Self::shard_id(shard), r.sequence),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": format!("arn:aws:iam::{account}:role/lambdesk"),
                "awsRegion": region,
                "eventSourceARN": format!("arn:aws:kinesis:{region}:{account}:stream/{}", self.name),
            }),
            StreamKind::DynamoDb => {
                let change: Value = serde_json::from_slice(&r.data).unwrap_or(Value::Null);
                let mut dynamodb = json!({
                    "ApproximateCreationDateTime": arrival.as_secs(),
                    "Keys": change.get("Keys").cloned().unwrap_or(Value::Null),
                    "SequenceNumber": r.sequence,
                    "SizeBytes": r.data.len(),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                });
                for image in ["NewImage", "OldImage"] {
                    if let Some(v) = change.get(image) {
                        dynamodb[image] = v.clone();
                    }
                }
                json!({
                    "eventID": crate::runtime::code::hex(&md5::Md5::digest(r.sequence.as_bytes())),
                    "eventName": change.get("eventName").cloned().unwrap_or(Value::Null),
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": region,
                    "dynamodb": dynamodb,
                    "eventSourceARN": format!("arn:aws:dynamodb:{region}:{account}:table/{}/stream/2025-01-01T00:00:00.000", self.name),
                })
            }
        }
    }

    /// Processes the shard's next batch (waiting up to `wait` for records).
    /// The batch leaves the shard only when it succeeded or ran out of retries.
    pub fn process_shard(&self, invoker: &Invoker, i: usize, wait: Duration, stop: &StopFlag) {
        let shard = &self.shards[i];
        let batch: Vec<Record> = {
            let mut q = shard.records.lock().unwrap_or_else(|e| e.into_inner());
            if q.is_empty() {
                let (g, _) = shard
                    .arrived
                    .wait_timeout(q, wait)
                    .unwrap_or_else(|e| e.into_inner());
                q = g;
            }
            q.iter().take(self.batch_size).cloned().collect()
        };
        if batch.is_empty() || stop.is_set() {
            return;
        }
        let event =
            json!({ "Records": batch.iter().map(|r| self.record_json(i, r)).collect::<Vec<_>>() });
        let mut attempt = 0;
        loop {
            let ok = invoker
                .invoke(&self.function, event.to_string().as_bytes())
                .is_ok_and(|inv| matches!(inv.outcome, Outcome::Response(_)));
            if !ok && stop.is_set() {
                // The mapping was disabled or changed: the batch stays for its successor.
                return;
            }
            if ok || attempt >= self.max_retries {
                if !ok {
                    eprintln!(
                        "[{}] stream {} {}: skipping a batch of {} after {} retries",
                        self.function,
                        self.name,
                        Self::shard_id(i),
                        batch.len(),
                        attempt
                    );
                }
                break;
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt.min(25))));
        }
        let mut q = shard.records.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..batch.len() {
            q.pop_front();
        }
        drop(q);
        if let Some(store) = &self.store {
            for r in &batch {
                store.remove(&r.sequence);
            }
        }
    }

    /// The event the shard's next batch would be delivered as, if any.
    pub fn peek_event(&self, shard: usize) -> Option<Value> {
        let q = self
            .shards
            .get(shard)?
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if q.is_empty() {
            return None;
        }
        let records: Vec<Value> = q
            .iter()
            .take(self.batch_size)
            .map(|r| self.record_json(shard, r))
            .collect();
        Some(json!({ "Records": records }))
    }

    /// Records waiting in all shards.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.records.lock().map_or(0, |q| q.len()))
            .sum()
    }

    /// Whether no record waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }
}

/// Starts one poller thread per shard; they end within a quarter second of
/// `stop` being set (or after the batch in hand).
pub fn start_pollers(
    s: &Arc<LocalStream>,
    invoker: &Invoker,
    stop: &StopFlag,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads = Vec::with_capacity(s.shard_count());
    for i in 0..s.shard_count() {
        let (s, invoker, stop) = (s.clone(), invoker.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("lambdesk-stream-{}-{i}", s.name))
                .spawn(move || {
                    while !stop.is_set() {
                        s.process_shard(&invoker, i, Duration::from_millis(250), &stop);
                    }
                })?,
        );
    }
    Ok(threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pick_stable_shards_and_records_have_aws_shapes() {
        let s = LocalStream::parse("clicks=f?shards=4").unwrap();
        assert_eq!(s.shard_of("user-1"), s.shard_of("user-1"));
        let (shard, seq) = s.put(Some("user-1"), b"hello".to_vec()).unwrap();
        assert!(shard.starts_with("shardId-"));
        let i = s.shard_of("user-1");
        let q = s.shards[i].records.lock().unwrap();
        let r = s.record_json(i, &q[0]);
        assert_eq!(r["kinesis"]["data"], "aGVsbG8=");
        assert_eq!(r["kinesis"]["sequenceNumber"], seq.as_str());
        assert!(s.put(None, b"x".to_vec()).is_err());

        let d = LocalStream::parse("orders=f?kind=dynamodb").unwrap();
        assert!(
            d.put(None, br#"{"eventName":"UPSERT","Keys":{}}"#.to_vec())
                .is_err()
        );
        d.put(
            None,
            br#"{"eventName":"INSERT","Keys":{"Id":{"N":"1"}},"NewImage":{"Id":{"N":"1"}}}"#
                .to_vec(),
        )
        .unwrap();
        let q = d.shards[0].records.lock().unwrap();
        let r = d.record_json(0, &q[0]);
        assert_eq!(r["eventSource"], "aws:dynamodb");
        assert_eq!(r["dynamodb"]["Keys"]["Id"]["N"], "1");
    }
}
