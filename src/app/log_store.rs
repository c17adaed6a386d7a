//! The log lines the app keeps: a ring buffer with a user-set cap, and a
//! filtered index that is updated incrementally, so a view over a million
//! lines costs only the rows on screen.

use std::collections::VecDeque;

use crate::runtime::{LogKind, LogLine};

/// Default number of lines kept.
pub const DEFAULT_CAP: usize = 200_000;

/// One stored line: the runtime's line and a sequence number.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Sequence number (never reused).
    pub seq: u64,
    /// The line.
    pub line: LogLine,
}

impl std::ops::Deref for Entry {
    type Target = LogLine;
    fn deref(&self) -> &LogLine {
        &self.line
    }
}

impl Entry {
    /// The line's level: platform lines as such; a function's line by
    /// Lambda's formats (Node's `time\tid\tLEVEL\tmsg`, Python's
    /// `[LEVEL]\t…`) or, failing those, words that mark errors and warnings.
    pub fn level(&self) -> Level {
        match self.kind {
            LogKind::Start | LogKind::End | LogKind::Report => Level::Platform,
            LogKind::Platform => Level::Error,
            LogKind::Notice => Level::Info,
            LogKind::Denied => Level::Denied,
            LogKind::Function => function_level(&self.text),
        }
    }

    /// An error line (a platform error, or a function line at ERROR).
    pub fn is_error(&self) -> bool {
        self.level() == Level::Error
    }
}

/// How serious a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// START, END and REPORT.
    Platform,
    /// DEBUG or TRACE.
    Debug,
    /// The default.
    Info,
    /// WARN or WARNING.
    Warn,
    /// An outbound request the role's grants refused.
    Denied,
    /// ERROR, FATAL, a panic, an unhandled error.
    Error,
}

impl Level {
    /// As the log column shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Platform => "",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Denied => "DENIED",
            Self::Error => "ERROR",
        }
    }
}

fn level_word(word: &str) -> Option<Level> {
    match word.trim().trim_matches(|c| c == '[' || c == ']') {
        "ERROR" | "FATAL" | "CRITICAL" => Some(Level::Error),
        "WARN" | "WARNING" => Some(Level::Warn),
        "INFO" => Some(Level::Info),
        "DEBUG" | "TRACE" => Some(Level::Debug),
        _ => None,
    }
}

fn function_level(text: &str) -> Level {
    let mut fields = text.splitn(4, '\t');
    let first = fields.next().unwrap_or("");
    // Python: `[LEVEL]\t…`; Node: `<time>\t<request id>\tLEVEL\t…`.
    if first.starts_with('[')
        && let Some(l) = level_word(first)
    {
        return l;
    }
    if let Some(l) = fields.nth(1).and_then(level_word) {
        return l;
    }
    if text.contains("ERROR") || text.contains("panicked") || text.contains("Error:") {
        Level::Error
    } else if text.contains("WARN") {
        Level::Warn
    } else if text.contains("DEBUG") || text.contains("TRACE") {
        Level::Debug
    } else {
        Level::Info
    }
}

/// Which levels the viewer shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LevelFilter {
    /// Every line.
    #[default]
    All,
    /// Warnings and errors.
    WarnAndErrors,
    /// Errors only (timeouts, crashes, lines at ERROR).
    Errors,
    /// Outbound requests the role's grants refused.
    Denied,
}

impl LevelFilter {
    /// Every choice, for the picker.
    pub const ALL: [LevelFilter; 4] = [Self::All, Self::WarnAndErrors, Self::Errors, Self::Denied];

    /// As the picker and the chip say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::All => "All levels",
            Self::WarnAndErrors => "Warnings and errors",
            Self::Errors => "Errors only",
            Self::Denied => "Denied outbound requests",
        }
    }

    fn passes(self, level: Level) -> bool {
        match self {
            Self::All => true,
            Self::WarnAndErrors => level >= Level::Warn,
            Self::Errors => level == Level::Error,
            Self::Denied => level == Level::Denied,
        }
    }
}

/// What the viewer shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Only this function.
    pub function: Option<String>,
    /// Only this request.
    pub request_id: Option<String>,
    /// Only this log stream.
    pub log_stream: Option<String>,
    /// Only lines containing this text (case-insensitive).
    pub text: String,
    /// Only these levels.
    pub level: LevelFilter,
}

impl Filter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &Entry, text_lower: &str) -> bool {
        if self.function.as_deref().is_some_and(|f| f != &*e.function)
            || self
                .request_id
                .as_deref()
                .is_some_and(|r| r != &*e.request_id)
            || self
                .log_stream
                .as_deref()
                .is_some_and(|s| s != &*e.log_stream)
            || !self.level.passes(e.level())
        {
            return false;
        }
        text_lower.is_empty() || contains_ignore_case(&e.text, text_lower)
    }

    /// No filter at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The ring buffer and its filtered index.
#[derive(Debug)]
pub struct LogStore {
    entries: VecDeque<Entry>,
    cap: usize,
    next_seq: u64,
    filter: Filter,
    filter_text_lower: String,
    /// Sequence numbers of entries that pass the filter, in order.
    matching: VecDeque<u64>,
    /// Lines dropped because the cap was reached.
    pub evicted: u64,
}

impl Default for LogStore {
    fn default() -> Self {
        Self::new(DEFAULT_CAP)
    }
}

impl LogStore {
    /// An empty store keeping at most `cap` lines.
    pub fn new(cap: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            cap: cap.max(1),
            next_seq: 0,
            filter: Filter::default(),
            filter_text_lower: String::new(),
            matching: VecDeque::new(),
            evicted: 0,
        }
    }

    /// Adds a line from the runtime.
    pub fn push(&mut self, line: LogLine) {
        let entry = Entry {
            seq: self.next_seq,
            line,
        };
        self.next_seq += 1;
        if self.filter.matches(&entry, &self.filter_text_lower) {
            self.matching.push_back(entry.seq);
        }
        self.entries.push_back(entry);
        while self.entries.len() > self.cap {
            self.evict_one();
        }
    }

    fn evict_one(&mut self) {
        if let Some(old) = self.entries.pop_front() {
            self.evicted += 1;
            if self.matching.front() == Some(&old.seq) {
                self.matching.pop_front();
            }
        }
    }

    /// Lines kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Changes the cap, dropping the oldest lines if needed.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        while self.entries.len() > self.cap {
            self.evict_one();
        }
    }

    /// Removes every line.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.matching.clear();
    }

    /// The current filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Sets the filter and rebuilds the index (once, not per frame). Typing
    /// more of the same text only narrows the lines already matching.
    pub fn set_filter(&mut self, filter: Filter) {
        if filter == self.filter {
            return;
        }
        let text_lower = filter.text.to_lowercase();
        let narrows = Filter {
            text: self.filter.text.clone(),
            ..filter.clone()
        } == self.filter
            && text_lower.contains(&self.filter_text_lower);
        self.filter_text_lower = text_lower;
        self.filter = filter;
        if narrows {
            let first = self.entries.front().map_or(0, |e| e.seq);
            let entries = &self.entries;
            let (filter, text) = (&self.filter, &self.filter_text_lower);
            self.matching.retain(|&seq| {
                usize::try_from(seq - first)
                    .ok()
                    .and_then(|i| entries.get(i))
                    .is_some_and(|e| filter.matches(e, text))
            });
        } else {
            self.matching = self
                .entries
                .iter()
                .filter(|e| self.filter.matches(e, &self.filter_text_lower))
                .map(|e| e.seq)
                .collect();
        }
    }

    /// Number of lines passing the filter.
    pub fn matching_len(&self) -> usize {
        self.matching.len()
    }

    /// The `i`-th line passing the filter.
    pub fn matching_entry(&self, i: usize) -> Option<&Entry> {
        let seq = *self.matching.get(i)?;
        let first = self.entries.front()?.seq;
        self.entries.get(usize::try_from(seq - first).ok()?)
    }

    /// The lines of one request, oldest first (at most `limit`, the newest
    /// kept), whatever the filter. Read from the newest line back to the
    /// request's START, so a recent request costs only its own lines, not
    /// the whole store (the Test tab asks every frame).
    pub fn request_lines(&self, request_id: &str, limit: usize) -> Vec<&Entry> {
        let mut out = Vec::new();
        for e in self.entries.iter().rev() {
            if &*e.request_id != request_id {
                continue;
            }
            if out.len() < limit {
                out.push(e);
            }
            if e.kind == LogKind::Start {
                break;
            }
        }
        out.reverse();
        out
    }

    /// Every line passing the filter, as text (for copying).
    pub fn matching_text(&self) -> String {
        let mut out = String::new();
        for i in 0..self.matching_len() {
            if let Some(e) = self.matching_entry(i) {
                out.push_str(&format!("{} {}\n", e.time.format("%H:%M:%S%.3f"), e.text));
            }
        }
        out
    }
}

/// Whether `haystack` contains `needle_lower` (already lower case), ignoring
/// case, without allocating for ASCII needles.
fn contains_ignore_case(haystack: &str, needle_lower: &str) -> bool {
    if !needle_lower.bytes().any(|b| b.is_ascii_alphabetic()) {
        // Nothing to fold: the plain (SIMD) search is exact.
        haystack.contains(needle_lower)
    } else if needle_lower.is_ascii() {
        let needle = needle_lower.as_bytes();
        haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        haystack.to_lowercase().contains(needle_lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use std::sync::Arc;

    fn line(function: &str, request: &str, kind: LogKind, text: &str) -> LogLine {
        LogLine {
            time: Utc::now(),
            function: Arc::from(function),
            log_stream: Arc::from("s"),
            request_id: Arc::from(request),
            kind,
            text: text.to_owned(),
        }
    }

    #[test]
    fn cap_and_filter_stay_consistent() {
        let mut s = LogStore::new(3);
        s.set_filter(Filter {
            function: Some("a".into()),
            ..Default::default()
        });
        for i in 0..5 {
            let f = if i % 2 == 0 { "a" } else { "b" };
            s.push(line(f, "r", LogKind::Function, &format!("{i}")));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted, 2);
        let shown: Vec<&str> = (0..s.matching_len())
            .map(|i| s.matching_entry(i).unwrap().text.as_str())
            .collect();
        assert_eq!(shown, ["2", "4"]);
        s.set_filter(Filter {
            level: LevelFilter::Errors,
            ..Default::default()
        });
        assert_eq!(s.matching_len(), 0);
        s.push(line(
            "a",
            "r",
            LogKind::Platform,
            "Task timed out after 3.00 seconds",
        ));
        assert_eq!(s.matching_len(), 1);
    }

    #[test]
    fn request_lines_stop_at_the_requests_start() {
        let mut s = LogStore::new(100);
        s.push(line("f", "a", LogKind::Start, "START RequestId: a"));
        s.push(line("f", "a", LogKind::Function, "one"));
        s.push(line("f", "b", LogKind::Start, "START RequestId: b"));
        s.push(line("f", "a", LogKind::Function, "two"));
        s.push(line("f", "a", LogKind::End, "END RequestId: a"));
        let texts = |v: Vec<&Entry>| v.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
        assert_eq!(
            texts(s.request_lines("a", 10)),
            ["START RequestId: a", "one", "two", "END RequestId: a"]
        );
        assert_eq!(texts(s.request_lines("a", 2)), ["two", "END RequestId: a"]);
        assert!(s.request_lines("nobody", 10).is_empty());
    }

    #[test]
    fn levels_follow_lambdas_formats() {
        let level = |kind, text| {
            let mut s = LogStore::new(1);
            s.push(line("f", "r", kind, text));
            s.matching_entry(0).unwrap().level()
        };
        let node = "2026-12-07T10:00:00.000Z\tabc\tWARN\tdisk almost full";
        assert_eq!(level(LogKind::Function, node), Level::Warn);
        assert_eq!(
            level(
                LogKind::Function,
                "[ERROR]\t2026-12-07T10:00:00Z\tabc\tboom"
            ),
            Level::Error
        );
        assert_eq!(level(LogKind::Function, "[DEBUG]\tdetail"), Level::Debug);
        assert_eq!(
            level(LogKind::Function, "thread 'main' panicked at src/lib.rs"),
            Level::Error
        );
        assert_eq!(level(LogKind::Function, "hello"), Level::Info);
        assert_eq!(level(LogKind::Notice, "Code updated on disk"), Level::Info);
        assert_eq!(
            level(LogKind::Platform, "Task timed out after 1.00 seconds"),
            Level::Error
        );
        assert_eq!(
            level(LogKind::Report, "REPORT RequestId: r"),
            Level::Platform
        );
        // Hostile text: tabs, brackets, nothing at all.
        assert_eq!(level(LogKind::Function, "[\t\t\t]"), Level::Info);
        assert_eq!(level(LogKind::Function, ""), Level::Info);
    }
}
