//! The Monitor tab's numbers, as CloudWatch keeps Lambda's: per function and
//! per 10-second period, Invocations, Errors, Throttles, Duration (as a
//! histogram, for p50/p90/p99 and max), ConcurrentExecutions, cold starts and
//! Init Duration. Bounded: at most [`MAX_PERIODS`] periods per function (24 h)
//! and a session total that is never dropped, so a long session does not grow
//! without limit; percentiles come from log-spaced buckets 1 % wide.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::runtime::{InvokeError, Outcome, StartKind};

/// Seconds per period (CloudWatch's high-resolution periods go down to 1 s;
/// Lambda publishes at one minute; 10 s keeps a 5-minute window readable).
pub const PERIOD_SECS: i64 = 10;
/// Periods kept per function: 24 hours.
pub const MAX_PERIODS: usize = 8_640;
/// Finished invocations remembered per function to work out concurrency.
const RECENT_INTERVALS: usize = 1_024;

/// Relative width of a duration bucket.
const BUCKET_RATIO: f64 = 1.01;
/// The smallest duration told apart, in ms (1 µs).
const BUCKET_FLOOR_MS: f64 = 0.001;

/// Durations as counts in log-spaced buckets (sparse), with the exact max.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    counts: BTreeMap<u16, u64>,
    count: u64,
    max_ms: f64,
    sum_ms: f64,
}

impl Histogram {
    fn index(ms: f64) -> u16 {
        if ms <= BUCKET_FLOOR_MS || !ms.is_finite() {
            return 0;
        }
        let i = ((ms / BUCKET_FLOOR_MS).ln() / BUCKET_RATIO.ln()).ceil();
        i.clamp(0.0, f64::from(u16::MAX)) as u16
    }

    /// The upper bound of bucket `i`, in ms.
    fn upper_ms(i: u16) -> f64 {
        BUCKET_FLOOR_MS * BUCKET_RATIO.powi(i32::from(i))
    }

    /// Adds one duration.
    pub fn add(&mut self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        *self.counts.entry(Self::index(ms)).or_default() += 1;
        self.count += 1;
        self.sum_ms += ms;
        self.max_ms = self.max_ms.max(ms);
    }

    /// Adds every duration of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (i, n) in &other.counts {
            *self.counts.entry(*i).or_default() += n;
        }
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The longest, exactly.
    pub fn max_ms(&self) -> f64 {
        self.max_ms
    }

    /// The mean (0 when empty).
    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ms / self.count as f64
        }
    }

    /// The nearest-rank percentile `p` (0–100), within 1 % of the true
    /// value (never above the max); 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Self::upper_ms(*i).min(self.max_ms);
            }
        }
        self.max_ms
    }
}

/// One period's numbers (or a window's, summed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Period {
    /// Start, in Unix seconds (a multiple of [`PERIOD_SECS`]).
    pub start: i64,
    /// Invocations that ran (successful or not; throttles are not invocations).
    pub invocations: u64,
    /// Invocations that ended in a function error (handled, unhandled, timeout).
    pub errors: u64,
    /// Invocations refused with `TooManyRequestsException`.
    pub throttles: u64,
    /// Cold starts.
    pub cold_starts: u64,
    /// Init Duration of the cold starts.
    pub init: Histogram,
    /// Duration of every invocation that ran.
    pub duration: Histogram,
    /// Most invocations running at once.
    pub concurrent: u32,
    /// Outbound requests the role's grants refused.
    pub denied: u64,
}

impl Period {
    fn merge(&mut self, other: &Period) {
        self.invocations += other.invocations;
        self.errors += other.errors;
        self.throttles += other.throttles;
        self.cold_starts += other.cold_starts;
        self.init.merge(&other.init);
        self.duration.merge(&other.duration);
        self.concurrent = self.concurrent.max(other.concurrent);
        self.denied += other.denied;
    }

    /// Success rate in percent (100 with no invocation, as the Lambda console shows).
    pub fn success_rate(&self) -> f64 {
        if self.invocations == 0 {
            100.0
        } else {
            100.0 * (self.invocations - self.errors) as f64 / self.invocations as f64
        }
    }
}

/// The window the Monitor shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Window {
    /// The last 5 minutes, in 10-second periods.
    #[default]
    Last5Minutes,
    /// The last hour, in 1-minute periods.
    LastHour,
    /// Everything since the app started (periods as wide as needed).
    Session,
}

impl Window {
    /// Every window, for a picker.
    pub const ALL: [Window; 3] = [Self::Last5Minutes, Self::LastHour, Self::Session];

    /// As the picker labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Last5Minutes => "5 min",
            Self::LastHour => "1 h",
            Self::Session => "Session",
        }
    }
}

/// One function's periods.
#[derive(Clone, Debug, Default)]
struct FunctionMetrics {
    periods: VecDeque<Period>,
    session: Period,
    first: Option<i64>,
    /// (start, end) in µs since the epoch of recent invocations.
    recent: VecDeque<(i64, i64)>,
    /// The latest denied outbound requests, newest last.
    denials: VecDeque<Denial>,
}

/// Denied outbound requests kept per function (the count is never dropped).
pub const RECENT_DENIALS: usize = 50;

/// One outbound request the role's grants refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Denial {
    /// When.
    pub at: DateTime<Utc>,
    /// The invocation that made it.
    pub request_id: std::sync::Arc<str>,
    /// The log line, `[DENIED] GET https://… not in the role's outbound grants`.
    pub text: String,
}

impl FunctionMetrics {
    /// The period holding `at_secs`, made if needed; `None` when it is
    /// older than every period kept and there is no room.
    fn period_mut(&mut self, at_secs: i64) -> Option<&mut Period> {
        let start = at_secs.div_euclid(PERIOD_SECS) * PERIOD_SECS;
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        // Periods are kept in order; late arrivals land in their own period.
        let pos = self.periods.partition_point(|p| p.start < start);
        if self.periods.get(pos).is_none_or(|p| p.start != start) {
            self.periods.insert(
                pos,
                Period {
                    start,
                    ..Period::default()
                },
            );
            while self.periods.len() > MAX_PERIODS {
                self.periods.pop_front();
            }
        }
        let pos = self.periods.partition_point(|p| p.start < start);
        self.periods.get_mut(pos).filter(|p| p.start == start)
    }

    /// Counts one interval and raises the concurrency of the periods where
    /// it overlapped others.
    fn add_interval(&mut self, start_us: i64, end_us: i64) {
        let horizon = start_us - 15 * 60 * 1_000_000;
        while self.recent.front().is_some_and(|(_, e)| *e < horizon)
            || self.recent.len() >= RECENT_INTERVALS
        {
            self.recent.pop_front();
        }
        self.recent.push_back((start_us, end_us));
        // Concurrency can only rise at an interval's start: look at this
        // one's start and the starts of the others inside it.
        let mut points = vec![start_us];
        points.extend(
            self.recent
                .iter()
                .filter(|(s, e)| *e > start_us && *s > start_us && *s < end_us)
                .map(|(s, _)| *s),
        );
        for t in points {
            let running = self
                .recent
                .iter()
                .filter(|(s, e)| *s <= t && t < *e.max(&(s + 1)))
                .count() as u32;
            if let Some(period) = self.period_mut(t.div_euclid(1_000_000)) {
                period.concurrent = period.concurrent.max(running);
            }
            self.session.concurrent = self.session.concurrent.max(running);
        }
    }
}

/// What one finished invocation adds.
pub struct Sample<'a> {
    /// The function.
    pub function: &'a str,
    /// When it started.
    pub at: DateTime<Utc>,
    /// Wall time it took.
    pub wall: std::time::Duration,
    /// What came of it.
    pub result: &'a Result<crate::runtime::Invocation, InvokeError>,
}

/// Every function's metrics.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    functions: BTreeMap<String, FunctionMetrics>,
}

impl Metrics {
    /// Counts one finished invocation (or throttle).
    pub fn record(&mut self, s: &Sample<'_>) {
        let f = self.functions.entry(s.function.to_owned()).or_default();
        let at = s.at.timestamp();
        let mut add = Period::default();
        match s.result {
            Ok(inv) => {
                add.invocations = 1;
                add.errors = u64::from(matches!(inv.outcome, Outcome::Error(_)));
                add.duration.add(inv.report.duration_ms);
                if inv.start == StartKind::Cold {
                    add.cold_starts = 1;
                    if let Some(init) = inv.report.init_duration_ms {
                        add.init.add(init);
                    }
                }
            }
            Err(InvokeError::TooManyRequests { .. }) => add.throttles = 1,
            // Refused before running (not found, too large, not JSON):
            // CloudWatch counts none of these for the function.
            Err(_) => return,
        }
        if let Some(period) = f.period_mut(at) {
            period.merge(&add);
        }
        f.session.merge(&add);
        if add.invocations > 0 {
            let start_us = s.at.timestamp_micros();
            let wall_us = i64::try_from(s.wall.as_micros()).unwrap_or(i64::MAX);
            f.add_interval(start_us, start_us.saturating_add(wall_us.max(1)));
        }
    }

    /// Counts a denied outbound request (a `[DENIED]` log line) and keeps
    /// the latest [`RECENT_DENIALS`].
    pub fn record_denial(&mut self, function: &str, denial: Denial) {
        let f = self.functions.entry(function.to_owned()).or_default();
        let add = Period {
            denied: 1,
            ..Period::default()
        };
        if let Some(period) = f.period_mut(denial.at.timestamp()) {
            period.merge(&add);
        }
        f.session.merge(&add);
        if f.denials.len() >= RECENT_DENIALS {
            f.denials.pop_front();
        }
        f.denials.push_back(denial);
    }

    /// The latest denied outbound requests of `function`, newest last.
    pub fn denials(&self, function: &str) -> impl Iterator<Item = &Denial> {
        self.functions
            .get(function)
            .into_iter()
            .flat_map(|f| f.denials.iter())
    }

    /// Forgets a removed function.
    pub fn remove(&mut self, function: &str) {
        self.functions.remove(function);
    }

    /// Periods kept for `function`.
    pub fn periods_kept(&self, function: &str) -> usize {
        self.functions.get(function).map_or(0, |f| f.periods.len())
    }

    /// The totals of `window` ending at `now`.
    pub fn totals(&self, function: &str, window: Window, now: DateTime<Utc>) -> Period {
        let Some(f) = self.functions.get(function) else {
            return Period::default();
        };
        if window == Window::Session {
            return f.session.clone();
        }
        let mut total = Period::default();
        for p in self.series(function, window, now) {
            total.merge(&p);
        }
        total
    }

    /// The window as a series of periods ending at `now`, gaps filled with
    /// empty periods: 10 s wide for 5 minutes, 1 minute for an hour, and for
    /// the session as wide as keeps it within 120 points.
    pub fn series(&self, function: &str, window: Window, now: DateTime<Utc>) -> Vec<Period> {
        let now_s = now.timestamp();
        let Some(f) = self.functions.get(function) else {
            return Vec::new();
        };
        let (from, width) = match window {
            Window::Last5Minutes => (now_s - 300, PERIOD_SECS),
            Window::LastHour => (now_s - 3_600, 60),
            Window::Session => {
                let first = f.first.unwrap_or(now_s);
                let span = (now_s - first).max(PERIOD_SECS);
                let width =
                    ((span / 120).max(PERIOD_SECS) + PERIOD_SECS - 1) / PERIOD_SECS * PERIOD_SECS;
                (first, width)
            }
        };
        let from = from.div_euclid(width) * width;
        let slots = usize::try_from((now_s - from) / width + 1).unwrap_or(0);
        let mut out: Vec<Period> = (0..slots)
            .map(|i| Period {
                start: from + width * i as i64,
                ..Period::default()
            })
            .collect();
        for p in f.periods.iter().filter(|p| p.start >= from) {
            if let Some(slot) = usize::try_from((p.start - from) / width)
                .ok()
                .and_then(|i| out.get_mut(i))
            {
                slot.merge(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_one_percent_and_never_above_the_max() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(f64::from(i) * 0.1);
        }
        for (p, exact) in [(50.0, 50.0), (90.0, 90.0), (99.0, 99.0)] {
            let got = h.percentile(p);
            assert!(
                (got - exact).abs() / exact <= 0.011,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(h.percentile(100.0), 100.0);
        assert_eq!(h.max_ms(), 100.0);
        assert_eq!(h.count(), 1000);
        // Hostile values neither panic nor poison the numbers.
        h.add(f64::NAN);
        h.add(-5.0);
        h.add(1e300);
        assert_eq!(h.count(), 1003);
    }

    #[test]
    fn periods_are_bounded_and_the_session_total_is_kept() {
        let mut f = FunctionMetrics::default();
        for i in 0..(MAX_PERIODS as i64 + 100) {
            f.period_mut(i * PERIOD_SECS).unwrap().invocations += 1;
            f.session.invocations += 1;
        }
        assert_eq!(f.periods.len(), MAX_PERIODS);
        assert_eq!(f.session.invocations, MAX_PERIODS as u64 + 100);
        assert_eq!(
            f.periods[0].start,
            100 * PERIOD_SECS,
            "the oldest went first"
        );
    }

    #[test]
    fn concurrency_counts_overlapping_invocations() {
        let mut f = FunctionMetrics::default();
        let s = 1_000_000_000i64 * 1_000_000;
        // Three overlapping (arriving out of order), then one alone.
        f.add_interval(s + 10, s + 500_000);
        f.add_interval(s, s + 1_000_000);
        f.add_interval(s + 20, s + 300_000);
        f.add_interval(s + 2_000_000, s + 2_100_000);
        assert_eq!(f.session.concurrent, 3);
        let later = f.periods.iter().map(|p| p.concurrent).collect::<Vec<_>>();
        assert_eq!(later, vec![3], "all in one 10 s period");
    }
}
