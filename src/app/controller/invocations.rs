//! Invocations: batches run on background threads, asynchronous invokes
//! through the queue, cancelling, and the records of finished invocations.

use std::sync::Arc;
use std::time::Instant;

use chrono::Local;

use super::{Controller, DeployState, MAX_RECORDS, Msg, Record, RunSummary, Running, TestNote};
use crate::runtime::{CancelToken, InvokeError, InvokeOptions};

impl Controller {
    pub(super) fn invoke(&mut self, name: &str, times: usize, parallel: usize) {
        let Some(entry) = self.entry(name) else {
            return;
        };
        let Some(event) = entry.events.get(entry.selected_event) else {
            self.error(format!("{name}: no test event to invoke with"));
            return;
        };
        let payload = event.body.clone().into_bytes();
        let batch = self.next_id;
        self.next_id += 1;
        let cancel = CancelToken::new();
        self.running.push(Running {
            function: name.to_owned(),
            started: Instant::now(),
            remaining: times * parallel,
            cancel: cancel.clone(),
            batch,
        });
        let workers = parallel.max(1);
        let total = times * workers;
        // Through a version or an alias: resolved per invocation (an alias
        // with routing draws each time), by the trigger host's versions.
        let qualifier = self.qualifiers.get(name).cloned();
        let versions = self.triggers.as_ref().map(|h| h.versions().clone());
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for w in 0..workers {
            let runtime = self.runtime.clone();
            let tx = self.tx.clone();
            let wake = self.wake.clone();
            let name = name.to_owned();
            let payload = payload.clone();
            let cancel = cancel.clone();
            let done = done.clone();
            let first_id = self.next_id;
            self.next_id += times as u64;
            let qualifier = qualifier.clone();
            let versions = versions.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lambdesk-invoke-{batch}-{w}"))
                .spawn(move || {
                    for i in 0..times {
                        if cancel.is_cancelled() {
                            break;
                        }
                        let at = Local::now();
                        let started = Instant::now();
                        let target = match (&qualifier, &versions) {
                            (Some(q), Some(v)) => v
                                .resolve(&name, Some(q))
                                .map(|r| (r.key, Some(Arc::from(r.invoked_arn.as_str())))),
                            (Some(q), None) => Err(crate::host::versions::VersionError::NotFound(
                                format!("{}:{q}", crate::runtime::function_arn(&name)),
                            )),
                            (None, _) => Ok((name.clone(), None)),
                        };
                        let result = match target {
                            Ok((key, invoked_arn)) => {
                                let options = InvokeOptions {
                                    cancel: Some(cancel.clone()),
                                    invoked_arn,
                                    ..InvokeOptions::default()
                                };
                                runtime.invoke_with(&key, &payload, &options)
                            }
                            Err(_) => Err(InvokeError::ResourceNotFound {
                                arn: format!(
                                    "{}:{}",
                                    crate::runtime::function_arn(&name),
                                    qualifier.as_deref().unwrap_or_default()
                                ),
                            }),
                        };
                        let record = Record {
                            id: first_id + i as u64,
                            function: name.clone(),
                            at,
                            wall: started.elapsed(),
                            result,
                            source: None,
                            batch: Some((batch, total)),
                        };
                        if tx
                            .send(Msg::Invoked {
                                batch,
                                record: Box::new(record),
                            })
                            .is_err()
                        {
                            return;
                        }
                        wake();
                    }
                    if done.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1 == workers {
                        let _ = tx.send(Msg::BatchDone(batch));
                        wake();
                    }
                });
            if let Err(e) = spawned {
                self.error(format!("cannot start an invocation thread: {e}"));
            }
        }
    }

    /// Queues the selected event as an `Event` invocation.
    pub(super) fn invoke_async(&mut self, name: &str) {
        let Some(body) = self
            .entry(name)
            .and_then(|f| f.events.get(f.selected_event))
            .map(|e| e.body.clone())
        else {
            self.error(format!("{name}: no test event to send"));
            return;
        };
        let note = if let Some(e) = crate::app::json::check(&body).err() {
            TestNote {
                after: self.next_id,
                ok: false,
                text: format!("Event: not sent; the event is not valid JSON ({e})"),
            }
        } else if body.len() > crate::host::async_queue::MAX_ASYNC_PAYLOAD {
            TestNote {
                after: self.next_id,
                ok: false,
                text: format!(
                    "Event: not sent; RequestTooLargeException: the payload is {} bytes, more than the {} an asynchronous invocation takes",
                    body.len(),
                    crate::host::async_queue::MAX_ASYNC_PAYLOAD
                ),
            }
        } else {
            TestNote {
                after: self.next_id,
                ok: true,
                text: "Event: sent to the asynchronous queue (202 Accepted). Its attempts, retries and destinations show in the Triggers tab under Asynchronous invocation, its result in Monitor and the logs".to_owned(),
            }
        };
        let send = note.ok;
        self.test_notes.insert(name.to_owned(), note);
        if !send {
            return;
        }
        let name = name.to_owned();
        self.with_host("lambdesk-async-accept", move |host| {
            match host
                .async_queue()
                .accept_from(&name, body.as_bytes(), "console")
            {
                Ok(id) => Ok(format!("{name}: event {id} queued (202 Accepted)")),
                Err(e) => Err(format!("{name}: event not queued: {e}")),
            }
        });
    }

    /// `InvocationType: DryRun`: whether Lambda would accept the request
    /// (204), checked as the Invoke API checks it, without running anything.
    pub(super) fn dry_run(&mut self, name: &str) {
        let after = self.next_id;
        let body = self
            .entry(name)
            .and_then(|f| f.events.get(f.selected_event))
            .map(|e| e.body.clone());
        let deployed = matches!(
            self.status.get(name).map(|s| &s.deploy),
            Some(DeployState::Ready(_))
        );
        let (ok, text) = match body {
            None => (false, "DryRun: no test event to check".to_owned()),
            Some(_) if !deployed => (
                false,
                format!(
                    "DryRun: ResourceNotFoundException: Function not found: {}",
                    crate::runtime::function_arn(name)
                ),
            ),
            Some(b) if b.len() > crate::runtime::MAX_REQUEST_BYTES => (
                false,
                format!("DryRun: {}", InvokeError::RequestTooLarge { size: b.len() }),
            ),
            Some(b) => match crate::app::json::check(&b) {
                Err(e) => (
                    false,
                    format!(
                        "DryRun: InvalidRequestContentException: Could not parse request body into json: {e}"
                    ),
                ),
                Ok(_) => (
                    true,
                    format!(
                        "DryRun: 204 No Content. The request would be accepted ({} bytes of payload); nothing ran",
                        b.len()
                    ),
                ),
            },
        };
        self.test_notes
            .insert(name.to_owned(), TestNote { after, ok, text });
    }

    pub(super) fn push_record(&mut self, record: Record) {
        // The editor marks where an error of $LATEST points in the code.
        if let Ok(inv) = &record.result
            && inv.version == "$LATEST"
            && self.code.contains_key(&record.function)
        {
            self.mark_code_error(&record.function, inv.error());
        }
        self.metrics.record(&crate::app::metrics::Sample {
            function: &record.function,
            at: record.at.with_timezone(&chrono::Utc),
            wall: record.wall,
            result: &record.result,
        });
        self.records.push(record);
        if self.records.len() > MAX_RECORDS {
            let excess = self.records.len() - MAX_RECORDS;
            self.records.drain(..excess);
        }
    }

    /// The last record of `name` started from the console (the Test tab),
    /// never one started by a trigger, the API or the queue; and how many of
    /// those came after it.
    pub fn last_console_record(
        &self,
        name: &str,
        start: Option<crate::runtime::StartKind>,
    ) -> (Option<&Record>, usize) {
        let mut others = 0;
        for r in self.records.iter().rev().filter(|r| r.function == name) {
            if r.source.is_some() {
                others += 1;
                continue;
            }
            let fits = match (&r.result, start) {
                (_, None) => true,
                (Ok(inv), Some(k)) => inv.start == k,
                (Err(_), Some(_)) => false,
            };
            if fits {
                return (Some(r), others);
            }
        }
        (None, others)
    }

    /// The summary of the console run `record` belongs to, when it has more
    /// than one invocation.
    pub fn run_summary(&self, record: &Record) -> Option<RunSummary> {
        let (batch, total) = record.batch.filter(|(_, n)| *n > 1)?;
        let runs: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.batch.is_some_and(|(b, _)| b == batch))
            .collect();
        let mut s = RunSummary {
            total,
            finished: runs.len(),
            ..RunSummary::default()
        };
        for r in &runs {
            match &r.result {
                Ok(inv) => {
                    if inv.error().is_some() {
                        s.failed += 1;
                        s.first_failure.get_or_insert(r.id);
                    } else {
                        s.succeeded += 1;
                        s.durations_ms.push(inv.report.duration_ms);
                    }
                    match inv.start {
                        crate::runtime::StartKind::Cold => s.cold += 1,
                        crate::runtime::StartKind::Warm => s.warm += 1,
                    }
                }
                Err(e) if e.error_type() == "TooManyRequestsException" => s.throttled += 1,
                Err(_) => {
                    s.failed += 1;
                    s.first_failure.get_or_insert(r.id);
                }
            }
        }
        s.durations_ms.sort_by(f64::total_cmp);
        Some(s)
    }

    pub(super) fn cancel(&mut self, name: &str) {
        for r in self.running.iter().filter(|r| r.function == name) {
            r.cancel.cancel();
        }
    }
}
