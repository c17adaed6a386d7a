//! Power tuning, as AWS Lambda Power Tuning does it, locally and in seconds:
//! a function runs a number of times at each of several memory sizes (each
//! size in environments of its own, with the CPU share on, so durations follow
//! Lambda's CPU allocation), and the sizes are compared by the trimmed average
//! duration and the average compute cost per invocation; a strategy (cost,
//! speed, or balanced with a weight) picks the recommended size.
//!
//! Costs are Lambda's duration charge (billed milliseconds, rounded up, × GB ×
//! the price per GB-second, x86 and arm64, Lambda's published us-east-1 prices
//! unless given); the per-request charge is the same
//! at every size and left out, as AWS Lambda Power Tuning does. The averages
//! drop the top and bottom 20 % of durations by default (its
//! `discardTopBottom`). A size at which an invocation fails is reported with
//! its errors (timeouts and out-of-memory marked) and never recommended.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::model::{CpuShare, FunctionConfig};
use crate::runtime::report::percentile;
use crate::runtime::{InvokeOptions, Outcome, Runtime};

/// AWS Lambda Power Tuning's default memory sizes.
pub const DEFAULT_SIZES: &[u32] = &[128, 256, 512, 1024, 1536, 1769, 3008];
/// Its default invocations per size.
pub const DEFAULT_INVOCATIONS: usize = 20;
/// Its least invocations per size.
pub const MIN_INVOCATIONS: usize = 5;

/// Lambda's duration price per GB-second in USD (us-east-1), by architecture.
pub const PRICE_X86_GB_S: f64 = 0.000_016_666_7;
/// The arm64 (Graviton) price.
pub const PRICE_ARM64_GB_S: f64 = 0.000_013_333_4;

/// How the recommended size is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// The lowest average cost.
    Cost,
    /// The lowest average duration.
    Speed,
    /// The lowest `weight × cost / max cost + (1 − weight) × duration / max duration`.
    Balanced(f64),
}

impl Strategy {
    /// `cost`, `speed` or `balanced` (with `weight`, 0–1: 1 is all cost).
    pub fn parse(name: &str, weight: f64) -> Result<Self, String> {
        match name {
            "cost" => Ok(Self::Cost),
            "speed" => Ok(Self::Speed),
            "balanced" if (0.0..=1.0).contains(&weight) => Ok(Self::Balanced(weight)),
            "balanced" => Err(format!(
                "balanced weight {weight} is out of range; allowed 0–1"
            )),
            other => Err(format!(
                "`{other}` is not a strategy; use cost, speed or balanced"
            )),
        }
    }

    /// Its name, as AWS Lambda Power Tuning spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cost => "cost",
            Self::Speed => "speed",
            Self::Balanced(_) => "balanced",
        }
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneOptions {
    /// Memory sizes, MB.
    pub sizes: Vec<u32>,
    /// Invocations per size (at least [`MIN_INVOCATIONS`]).
    pub invocations: usize,
    /// Events with weights; invocations are shared out by weight.
    pub events: Vec<(Vec<u8>, u32)>,
    /// Run each size's invocations at once (else one after another).
    pub parallel: bool,
    /// Every invocation a cold start.
    pub cold: bool,
    /// How the recommendation is chosen.
    pub strategy: Strategy,
    /// Fraction of durations dropped at each end before averaging.
    pub discard_top_bottom: f64,
    /// Duration price per GB-second on x86, USD (Lambda's published price by default).
    pub price_x86_gb_s: f64,
    /// The same on arm64.
    pub price_arm64_gb_s: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            sizes: DEFAULT_SIZES.to_vec(),
            invocations: DEFAULT_INVOCATIONS,
            events: vec![(b"{}".to_vec(), 1)],
            parallel: false,
            cold: false,
            strategy: Strategy::Cost,
            discard_top_bottom: 0.2,
            price_x86_gb_s: PRICE_X86_GB_S,
            price_arm64_gb_s: PRICE_ARM64_GB_S,
        }
    }
}

/// One size's results.
#[derive(Clone, Debug, Default)]
pub struct SizeStats {
    /// Memory size, MB.
    pub memory_mb: u32,
    /// Durations of the successful invocations, ms, in the order they ran.
    pub durations_ms: Vec<f64>,
    /// Of which cold starts.
    pub cold: usize,
    /// Mean duration of the cold starts, ms (0 when none).
    pub cold_average_ms: f64,
    /// Mean duration of the warm starts, ms (0 when none).
    pub warm_average_ms: f64,
    /// Failed invocations: (error type, message), in the order they failed.
    pub errors: Vec<(String, String)>,
    /// Trimmed average duration, ms (0 when nothing succeeded).
    pub average_ms: f64,
    /// Percentiles of the successful durations, ms.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Average duration cost per invocation, USD, x86.
    pub cost_x86: f64,
    /// The same on arm64.
    pub cost_arm64: f64,
}

impl SizeStats {
    /// Whether any invocation timed out.
    pub fn timed_out(&self) -> bool {
        self.errors
            .iter()
            .any(|(t, _)| t == crate::runtime::report::TIMEOUT_ERROR_TYPE)
    }

    /// Whether any invocation ran out of memory.
    pub fn out_of_memory(&self) -> bool {
        self.errors.iter().any(|(t, _)| t == "Runtime.OutOfMemory")
    }

    /// `None` when every invocation succeeded, else what went wrong, worst
    /// first: `out of memory`, `timed out` or `failed`.
    pub fn failure(&self) -> Option<&'static str> {
        if self.errors.is_empty() {
            None
        } else if self.out_of_memory() {
            Some("out of memory")
        } else if self.timed_out() {
            Some("timed out")
        } else {
            Some("failed")
        }
    }
}

/// A tuning run's results.
#[derive(Clone, Debug)]
pub struct TuneReport {
    /// Per size, in the order given.
    pub sizes: Vec<SizeStats>,
    /// The strategy used.
    pub strategy: Strategy,
    /// The recommended size (`None` when every size failed).
    pub recommended: Option<u32>,
}

/// A tuning run failed before it measured anything.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The code could not be deployed at a size.
    #[error("deploying at {memory_mb} MB: {message}")]
    Deploy {
        /// The size.
        memory_mb: u32,
        /// Why.
        message: String,
    },
    /// Cancelled.
    #[error("tuning was cancelled")]
    Cancelled,
}

/// The mean after dropping `discard` of the values at each end.
fn trimmed_mean(sorted: &[f64], discard: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let drop = ((sorted.len() as f64) * discard).floor() as usize;
    let kept = if sorted.len() > 2 * drop {
        &sorted[drop..sorted.len() - drop]
    } else {
        sorted
    };
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// Duration cost of one invocation of `duration_ms` at `memory_mb`.
pub fn duration_cost(duration_ms: f64, memory_mb: u32, gb_second_usd: f64) -> f64 {
    duration_ms.ceil() / 1000.0 * f64::from(memory_mb) / 1024.0 * gb_second_usd
}

/// The events for `n` invocations, shared out by weight (in runs, so each
/// event's invocations are spread over the size's run).
fn schedule(events: &[(Vec<u8>, u32)], n: usize) -> Vec<usize> {
    let total: u64 = events.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return vec![0; n];
    }
    // Largest remainder, so the counts add up to n.
    let mut counts: Vec<(usize, usize, f64)> = events
        .iter()
        .enumerate()
        .map(|(i, (_, w))| {
            let exact = n as f64 * f64::from(*w) / total as f64;
            (i, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let mut left = n - counts.iter().map(|c| c.1).sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
    by_remainder.sort_by(|&a, &b| counts[b].2.total_cmp(&counts[a].2));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        counts[i].1 += 1;
        left -= 1;
    }
    let mut order = Vec::with_capacity(n);
    let mut remaining: Vec<usize> = counts.iter().map(|c| c.1).collect();
    while order.len() < n {
        for (i, r) in remaining.iter_mut().enumerate() {
            if *r > 0 {
                order.push(counts[i].0);
                *r -= 1;
            }
        }
    }
    order
}

/// Runs the tuning: `code` with `config` at every size. `progress` hears
/// (invocations done, in all); `cancel` stops it between invocations. The
/// runtime's CPU share is on for the run and restored afterwards.
pub fn tune(
    runtime: &Runtime,
    name: &str,
    code: &Path,
    config: &FunctionConfig,
    options: &TuneOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<TuneReport, TuneError> {
    if options.invocations < MIN_INVOCATIONS {
        return Err(TuneError::Invalid(format!(
            "{} invocations per size is too few; at least {MIN_INVOCATIONS}",
            options.invocations
        )));
    }
    if options.sizes.is_empty() {
        return Err(TuneError::Invalid("no memory sizes to try".into()));
    }
    for &mb in &options.sizes {
        crate::model::config::validate_memory_mb(mb)
            .map_err(|e| TuneError::Invalid(e.to_string()))?;
    }
    if options.events.is_empty() {
        return Err(TuneError::Invalid("no event to invoke with".into()));
    }
    let share = runtime.cpu_share();
    runtime.set_cpu_share(CpuShare::Lambda);
    let total = options.sizes.len() * options.invocations;
    let done = AtomicUsize::new(0);
    let mut sizes = Vec::with_capacity(options.sizes.len());
    let mut result = Ok(());
    for &mb in &options.sizes {
        match tune_size(
            runtime, name, code, config, options, mb, &done, total, progress, cancel,
        ) {
            Ok(stats) => sizes.push(stats),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    runtime.set_cpu_share(share);
    result?;
    let recommended = recommend(&sizes, options.strategy);
    Ok(TuneReport {
        sizes,
        strategy: options.strategy,
        recommended,
    })
}

/// One invocation's outcome: (duration ms, cold) or (error type, message).
type Attempt = Result<(f64, bool), (String, String)>;

#[allow(
    clippy::too_many_arguments,
    reason = "one size of `tune`, with its counters"
)]
fn tune_size(
    runtime: &Runtime,
    name: &str,
    code: &Path,
    config: &FunctionConfig,
    options: &TuneOptions,
    memory_mb: u32,
    done: &AtomicUsize,
    total: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<SizeStats, TuneError> {
    // Each size in environments of its own.
    let fname = format!("{name}-tune-{memory_mb}");
    let mut c = config.clone();
    c.memory_mb = memory_mb;
    runtime
        .deploy(&fname, code, c)
        .map_err(|e| TuneError::Deploy {
            memory_mb,
            message: e.to_string(),
        })?;
    let plan = schedule(&options.events, options.invocations);
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Attempt)>> = Mutex::new(Vec::with_capacity(plan.len()));
    let invoke_options = InvokeOptions {
        discard_environment: options.cold,
        ..InvokeOptions::default()
    };
    let worker = || {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&event) = plan.get(i) else { return };
            let outcome =
                match runtime.invoke_with(&fname, &options.events[event].0, &invoke_options) {
                    Ok(inv) => match &inv.outcome {
                        Outcome::Response(_) => Ok((
                            inv.report.duration_ms,
                            inv.start == crate::runtime::StartKind::Cold,
                        )),
                        Outcome::Error(e) => Err((e.error_type.clone(), e.error_message.clone())),
                    },
                    Err(e) => Err((e.error_type().to_owned(), e.to_string())),
                };
            if let Ok(mut o) = outcomes.lock() {
                o.push((i, outcome));
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        }
    };
    let threads = if options.parallel {
        options.invocations.min(16)
    } else {
        1
    };
    std::thread::scope(|scope| {
        for n in 1..threads {
            let worker = &worker;
            let _ = std::thread::Builder::new()
                .name(format!("lambdesk-tune-{n}"))
                .spawn_scoped(scope, worker);
        }
        worker();
    });
    runtime.remove(&fname);
    if cancel.load(Ordering::Relaxed) {
        return Err(TuneError::Cancelled);
    }
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|(i, _)| *i);
    let mut stats = SizeStats {
        memory_mb,
        ..SizeStats::default()
    };
    let (mut cold_sum, mut warm_sum) = (0.0, 0.0);
    for (_, o) in outcomes {
        match o {
            Ok((ms, cold)) => {
                stats.durations_ms.push(ms);
                stats.cold += usize::from(cold);
                if cold {
                    cold_sum += ms;
                } else {
                    warm_sum += ms;
                }
            }
            Err(e) => stats.errors.push(e),
        }
    }
    let warm = stats.durations_ms.len() - stats.cold;
    stats.cold_average_ms = if stats.cold > 0 {
        cold_sum / stats.cold as f64
    } else {
        0.0
    };
    stats.warm_average_ms = if warm > 0 {
        warm_sum / warm as f64
    } else {
        0.0
    };
    let mut sorted = stats.durations_ms.clone();
    sorted.sort_by(f64::total_cmp);
    stats.average_ms = trimmed_mean(&sorted, options.discard_top_bottom);
    stats.p50_ms = percentile(&sorted, 50.0);
    stats.p90_ms = percentile(&sorted, 90.0);
    stats.p99_ms = percentile(&sorted, 99.0);
    stats.max_ms = sorted.last().copied().unwrap_or(0.0);
    stats.cost_x86 = duration_cost(stats.average_ms, memory_mb, options.price_x86_gb_s);
    stats.cost_arm64 = duration_cost(stats.average_ms, memory_mb, options.price_arm64_gb_s);
    Ok(stats)
}

/// The size the strategy picks among those without errors.
pub fn recommend(sizes: &[SizeStats], strategy: Strategy) -> Option<u32> {
    let ok: Vec<&SizeStats> = sizes
        .iter()
        .filter(|s| s.errors.is_empty() && !s.durations_ms.is_empty())
        .collect();
    let max_cost = ok.iter().map(|s| s.cost_x86).fold(0.0, f64::max);
    let max_ms = ok.iter().map(|s| s.average_ms).fold(0.0, f64::max);
    let score = |s: &SizeStats| match strategy {
        Strategy::Cost => (s.cost_x86, s.average_ms),
        Strategy::Speed => (s.average_ms, s.cost_x86),
        Strategy::Balanced(w) => {
            let c = if max_cost > 0.0 {
                s.cost_x86 / max_cost
            } else {
                0.0
            };
            let d = if max_ms > 0.0 {
                s.average_ms / max_ms
            } else {
                0.0
            };
            (w * c + (1.0 - w) * d, s.cost_x86)
        }
    };
    ok.into_iter()
        .min_by(|a, b| {
            let (a1, a2) = score(a);
            let (b1, b2) = score(b);
            a1.total_cmp(&b1).then(a2.total_cmp(&b2))
        })
        .map(|s| s.memory_mb)
}

impl TuneReport {
    /// AWS Lambda Power Tuning's output: `power`, `cost`, `duration` of the
    /// recommended size and `stats` per size, plus what Lambdesk measured
    /// beyond it under `lambdesk`.
    pub fn to_json(&self) -> Value {
        let best = self
            .recommended
            .and_then(|mb| self.sizes.iter().find(|s| s.memory_mb == mb));
        json!({
            "power": best.map(|s| s.memory_mb),
            "cost": best.map(|s| s.cost_x86),
            "duration": best.map(|s| s.average_ms),
            "stats": self.sizes.iter().map(|s| json!({
                "value": s.memory_mb,
                "averagePrice": s.cost_x86,
                "averageDuration": s.average_ms,
            })).collect::<Vec<_>>(),
            "lambdesk": {
                "strategy": self.strategy.name(),
                "sizes": self.sizes.iter().map(|s| json!({
                    "memoryMB": s.memory_mb,
                    "invocations": s.durations_ms.len() + s.errors.len(),
                    "coldStarts": s.cold,
                    "coldAverageDuration": s.cold_average_ms,
                    "warmAverageDuration": s.warm_average_ms,
                    "errors": s.errors.iter().map(|(t, m)| json!({"errorType": t, "errorMessage": m})).collect::<Vec<_>>(),
                    "timedOut": s.timed_out(),
                    "outOfMemory": s.out_of_memory(),
                    "p50": s.p50_ms, "p90": s.p90_ms, "p99": s.p99_ms, "max": s.max_ms,
                    "averagePriceArm64": s.cost_arm64,
                })).collect::<Vec<_>>(),
            },
        })
    }

    /// A table for the terminal, with the recommendation.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:>7} {:>4} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9} {:>15} {:>15}\n",
            "memory",
            "n",
            "errors",
            "avg ms",
            "p50",
            "p90",
            "p99",
            "max",
            "$/inv x86",
            "$/inv arm64"
        );
        for s in &self.sizes {
            let mark = s.failure().map(|f| format!("  {f}")).unwrap_or_default();
            out.push_str(&format!(
                "{:>4} MB {:>4} {:>6} {:>10.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>15.10} {:>15.10}{mark}\n",
                s.memory_mb,
                s.durations_ms.len() + s.errors.len(),
                s.errors.len(),
                s.average_ms,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                s.cost_x86,
                s.cost_arm64
            ));
            if let Some((t, m)) = s.errors.first() {
                out.push_str(&format!(
                    "        first error at {} MB: {t}: {m}\n",
                    s.memory_mb
                ));
            }
        }
        match self
            .recommended
            .and_then(|mb| self.sizes.iter().find(|s| s.memory_mb == mb))
        {
            Some(s) => out.push_str(&format!(
                "recommended ({}): {} MB, {:.2} ms, ${:.10} per invocation (x86)\n",
                self.strategy.name(),
                s.memory_mb,
                s.average_ms,
                s.cost_x86
            )),
            None => out.push_str("no recommendation: every size failed\n"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_schedules() {
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert!((trimmed_mean(&v, 0.2) - 3.0).abs() < 1e-9);
        assert!((percentile(&v, 50.0) - 3.0).abs() < 1e-9);
        assert!((percentile(&v, 99.0) - 100.0).abs() < 1e-9);
        // 10 ms at 1,024 MB: 0.01 GB-s.
        assert!((duration_cost(9.2, 1024, 1.0) - 0.01).abs() < 1e-12);
        let events = vec![(b"a".to_vec(), 3), (b"b".to_vec(), 1)];
        let plan = schedule(&events, 8);
        assert_eq!(plan.iter().filter(|&&e| e == 0).count(), 6);
        assert_eq!(plan.len(), 8);
    }

    #[test]
    fn strategies_pick_as_aws_lambda_power_tuning() {
        let size = |mb, ms: f64| SizeStats {
            memory_mb: mb,
            durations_ms: vec![ms],
            average_ms: ms,
            cost_x86: duration_cost(ms, mb, PRICE_X86_GB_S),
            ..SizeStats::default()
        };
        let sizes = vec![size(128, 400.0), size(512, 100.0), size(1024, 60.0)];
        assert_eq!(recommend(&sizes, Strategy::Cost), Some(512));
        assert_eq!(recommend(&sizes, Strategy::Speed), Some(1024));
        assert_eq!(recommend(&sizes, Strategy::Balanced(0.5)), Some(512));
        let mut failed = sizes.clone();
        failed[1]
            .errors
            .push(("Sandbox.Timedout".into(), "x".into()));
        assert_eq!(recommend(&failed, Strategy::Cost), Some(128));
        assert!(Strategy::parse("balanced", 1.5).is_err());
    }
}
