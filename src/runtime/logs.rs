//! Log lines as Lambda writes them: `START`, the function's own lines,
//! `END` and `REPORT`, each tagged with the function, log stream and request id.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Lambda splits log lines longer than this; so do we, which also bounds the
/// memory a guest can make the host hold for one unfinished line.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Where a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `START RequestId: …`
    Start,
    /// `END RequestId: …`
    End,
    /// `REPORT RequestId: …`
    Report,
    /// A line the function wrote to stderr.
    Function,
    /// A line from the runtime about the function (for example a timeout or
    /// an unhandled error), as Lambda prints for crashed runtimes.
    Platform,
    /// An informational line from the runtime (the handler it took from the
    /// module's exports, code reloaded after a change on disk).
    Notice,
    /// An outbound request the role does not grant: `[DENIED] GET https://…`.
    Denied,
}

impl LogKind {
    /// Lines written by the platform rather than the guest.
    pub fn is_platform(self) -> bool {
        !matches!(self, Self::Function)
    }
}

/// One log line.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// When it was written.
    pub time: DateTime<Utc>,
    /// The function's name.
    pub function: Arc<str>,
    /// The environment's log stream (`YYYY/MM/DD/[$LATEST]<32 hex>`).
    pub log_stream: Arc<str>,
    /// The invocation's request id.
    pub request_id: Arc<str>,
    /// What kind of line it is.
    pub kind: LogKind,
    /// The text, without the trailing newline.
    pub text: String,
}

/// Receives every log line as it is written. Called on the invoking thread:
/// it must not block for long (push into a bounded buffer or write to a stream).
pub type LogSink = Arc<dyn Fn(LogLine) + Send + Sync>;

/// Log group name for a function, as Lambda names it.
pub fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// A new log stream name in Lambda's form, with the version it runs.
pub fn new_log_stream_name(version: &str) -> String {
    let id = new_request_id().replace('-', "");
    format!("{}/[{version}]{id}", Utc::now().format("%Y/%m/%d"))
}

/// A new request id: a random (version 4) UUID. Drawn from a per-thread
/// generator seeded from the OS once, so the invoke path makes no syscall.
pub fn new_request_id() -> Arc<str> {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or([7; 8]),
        ));
    }
    // wyrand: fast, statistically good, not for secrets (request ids are not).
    let next = || {
        STATE.with(|s| {
            let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
            s.set(x);
            let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        })
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&next().to_le_bytes());
    bytes[8..].copy_from_slice(&next().to_le_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Arc::from(&*id.hyphenated().encode_lower(&mut buf))
}

/// Splits a byte stream into lines, keeping at most [`MAX_LINE_BYTES`] of an
/// unfinished line.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; calls `emit` with each complete line.
    pub fn push(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(String)) {
        while !bytes.is_empty() {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.append(&bytes[..i], emit);
                    self.flush(emit);
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.append(bytes, emit);
                    bytes = &[];
                }
            }
        }
    }

    fn append(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(String)) {
        while self.partial.len() + bytes.len() > MAX_LINE_BYTES {
            let room = MAX_LINE_BYTES - self.partial.len();
            self.partial.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
            self.flush(emit);
        }
        self.partial.extend_from_slice(bytes);
    }

    /// Emits the unfinished line, if any.
    pub fn flush(&mut self, emit: &mut dyn FnMut(String)) {
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        emit(String::from_utf8_lossy(&line).into_owned());
    }

    /// Emits the unfinished line only if it holds something.
    pub fn finish(&mut self, emit: &mut dyn FnMut(String)) {
        if !self.partial.is_empty() {
            self.flush(emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_caps_length() {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        s.push(b"one\ntw", &mut |l| lines.push(l));
        s.push(b"o\r\nthree", &mut |l| lines.push(l));
        s.finish(&mut |l| lines.push(l));
        assert_eq!(lines, ["one", "two", "three"]);

        let mut lines = Vec::new();
        s.push(&vec![b'x'; MAX_LINE_BYTES * 2 + 10], &mut |l| lines.push(l));
        s.finish(&mut |l| lines.push(l));
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[2].len(), 10);
    }

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }

    #[test]
    fn stream_names_look_like_lambdas() {
        let name = new_log_stream_name("$LATEST");
        assert!(new_log_stream_name("7").contains("/[7]"));
        let (date, rest) = name.split_once("/[$LATEST]").unwrap();
        assert_eq!(date.len(), 10);
        assert_eq!(rest.len(), 32);
        assert_eq!(log_group_name("hello"), "/aws/lambda/hello");
    }
}
